//! The ceremony journal (SPEC.md §9.5): append-only, each record encrypted and authenticated
//! with XChaCha20-Poly1305 under a key derived from the identity key and the round, bound to
//! its position. A torn last record (crash mid-write) is dropped; any other damage is an error.

use super::msg::Entry;
use super::Sk;
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use commonware_codec::{Copying, Decode as _};
use sha2::{Digest as _, Sha256};
use std::io::Write as _;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

const DST_KEY: &[u8] = b"curtain/v1/dkg-journal-key";
/// Largest record accepted.
const MAX_RECORD: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: record {index} is damaged or from another identity or round")]
    Damaged { path: PathBuf, index: u64 },
}

pub struct Journal {
    path: PathBuf,
    file: std::fs::File,
    key: Zeroizing<[u8; 32]>,
    next: u64,
}

impl Journal {
    /// Opens (or creates) the journal of `round` and returns the entries it holds.
    pub fn open(
        path: &Path,
        identity: &Sk,
        context: &[u8],
        max_participants: NonZeroU32,
    ) -> Result<(Self, Vec<Entry>), JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut h = Sha256::new();
        h.update(DST_KEY);
        h.update(super::encode_secret(identity));
        h.update(context);
        let key = Zeroizing::new(<[u8; 32]>::from(h.finalize()));
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(e)),
        };
        let aead = XChaCha20Poly1305::new(key.as_ref().into());
        let mut entries = Vec::new();
        let mut at = 0usize;
        let mut index = 0u64;
        let mut valid_len = 0usize;
        while at + 4 + 24 <= bytes.len() {
            let len = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4")) as usize;
            if len > MAX_RECORD || at + 4 + 24 + len > bytes.len() {
                break; // torn tail
            }
            let nonce = &bytes[at + 4..at + 28];
            let ct = &bytes[at + 28..at + 28 + len];
            let plain = aead
                .decrypt(
                    XNonce::from_slice(nonce),
                    Payload {
                        msg: ct,
                        aad: &index.to_be_bytes(),
                    },
                )
                .map(Zeroizing::new)
                .map_err(|_| JournalError::Damaged {
                    path: path.to_path_buf(),
                    index,
                })?;
            let entry =
                Entry::decode_cfg(Copying(plain.as_slice()), &max_participants).map_err(|_| {
                    JournalError::Damaged {
                        path: path.to_path_buf(),
                        index,
                    }
                })?;
            entries.push(entry);
            at += 28 + len;
            valid_len = at;
            index += 1;
        }
        #[cfg(unix)]
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        opts.mode(0o600);
        let file = opts.open(path).map_err(io)?;
        // Drop a torn tail so appends continue from the last whole record.
        file.set_len(valid_len as u64).map_err(io)?;
        Ok((
            Self {
                path: path.to_path_buf(),
                file,
                key,
                next: index,
            },
            entries,
        ))
    }

    /// Appends an entry durably (synced before returning).
    pub fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let plain = super::encode_secret(entry);
        let mut nonce = [0u8; 24];
        rand::fill(&mut nonce);
        let ct = XChaCha20Poly1305::new(self.key.as_ref().into())
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &self.next.to_be_bytes(),
                },
            )
            .expect("in-memory encryption");
        let mut rec = Vec::with_capacity(28 + ct.len());
        rec.extend_from_slice(&(ct.len() as u32).to_be_bytes());
        rec.extend_from_slice(&nonce);
        rec.extend_from_slice(&ct);
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(&rec).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.next += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dkg::msg::Msg;
    use commonware_cryptography::Signer as _;
    use commonware_math::algebra::Random as _;

    #[test]
    fn survives_restart_and_a_torn_tail() {
        let dir = std::env::temp_dir().join(format!("curtain-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j");
        let _ = std::fs::remove_file(&path);
        let sk = Sk::random(rand::rng());
        let max = NonZeroU32::new(4).unwrap();
        let (mut j, e) = Journal::open(&path, &sk, b"r0", max).unwrap();
        assert!(e.is_empty());
        let a = Entry::Received {
            from: sk.public_key(),
            msg: Msg::Public([7; 48]),
        };
        let b = Entry::Decided(Msg::Resync);
        j.append(&a).unwrap();
        j.append(&b).unwrap();
        drop(j);
        // a torn write at the end is dropped
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&[0, 0, 1, 0, 9, 9]).unwrap();
        drop(f);
        let (mut j, e) = Journal::open(&path, &sk, b"r0", max).unwrap();
        assert_eq!(e, vec![a.clone(), b.clone()]);
        j.append(&a).unwrap();
        drop(j);
        let (_, e) = Journal::open(&path, &sk, b"r0", max).unwrap();
        assert_eq!(e.len(), 3);
        // another identity or round cannot read it
        assert!(Journal::open(&path, &sk, b"r1", max).is_err());
        // nothing in the clear
        let raw = std::fs::read(&path).unwrap();
        assert!(!raw.windows(48).any(|w| w == [7u8; 48]));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
