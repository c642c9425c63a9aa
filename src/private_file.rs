//! Files only their owner may read (mode 0600 on unix): the node's QUIC certificate key and a
//! wallet's RLN identity. Node-free, so the wallet library and the node share it.

use std::path::Path;

/// Creates or truncates `path` with owner-only permissions and writes `contents`.
pub fn write(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    opts.open(path).and_then(|mut f| f.write_all(contents))
}
