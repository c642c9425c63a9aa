//! Files only their owner may read (mode 0600 on unix): keystores (members' and wallets') and
//! the node's QUIC certificate key. Node-free, so the wallet library and the node share it.

use std::path::Path;

/// Writes `contents` to `path` with owner-only permissions, atomically: a temporary file
/// next to it, synced, then renamed over `path` (a crash leaves the old file or the new one).
pub(crate) fn write(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(&tmp)?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}
