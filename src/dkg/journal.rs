//! The ceremony journal (SPEC.md §9.5): append-only, each record encrypted and authenticated
//! with XChaCha20-Poly1305 under a key derived from the identity key and the round, bound to
//! its position. A torn last record (crash mid-write) is dropped; any other damage is an error.
//!
//! The records live in a [`Store`]: a file of its own (mode 0600) for `curtain dkg`, or a blob
//! of any commonware runtime's storage (the deterministic runtime's in simulation, where a
//! member restarted after a crash finds what it had synced).

use super::msg::Entry;
use super::Sk;
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use commonware_codec::{Copying, Decode as _};
use commonware_runtime::{Blob, ReadOptions, Storage, WriteOptions};
use sha2::{Digest as _, Sha256};
use std::future::Future;
use std::io::{Read as _, Seek as _, Write as _};
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

const DST_KEY: &[u8] = b"curtain/v1/dkg-journal-key";
/// Largest record accepted.
const MAX_RECORD: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{at}: {source}")]
    Store { at: String, source: StoreError },
    #[error("{at}: record {index} is damaged or from another identity or round")]
    Damaged { at: String, index: u64 },
}

/// Why a [`Store`] could not read or write.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Runtime(#[from] commonware_runtime::Error),
}

/// Where a journal's bytes live: an append-only byte log whose appends are durable once they
/// return.
pub trait Store: Send + 'static {
    /// Where it is (errors name it).
    fn location(&self) -> String;
    /// Every byte appended so far.
    fn read_all(&mut self) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;
    /// Drops every byte from `len` on.
    fn truncate(&mut self, len: u64) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Appends `bytes` and makes them durable.
    fn append(&mut self, bytes: Vec<u8>) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A journal in a file of its own, readable by its owner only.
pub struct FileStore {
    path: PathBuf,
    file: std::fs::File,
}

impl FileStore {
    /// Opens (or creates, mode 0600) the file at `path`.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        #[cfg(unix)]
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true).create(true).append(true);
        #[cfg(unix)]
        opts.mode(0o600);
        let file = opts.open(path).map_err(|e| JournalError::Store {
            at: path.display().to_string(),
            source: e.into(),
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }
}

impl Store for FileStore {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    async fn read_all(&mut self) -> Result<Vec<u8>, StoreError> {
        let mut bytes = Vec::new();
        self.file.seek(std::io::SeekFrom::Start(0))?;
        self.file.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    async fn truncate(&mut self, len: u64) -> Result<(), StoreError> {
        Ok(self.file.set_len(len)?)
    }

    async fn append(&mut self, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.file.write_all(&bytes)?;
        Ok(self.file.sync_data()?)
    }
}

/// A journal in a blob of a commonware runtime's storage.
pub struct BlobStore<B: Blob> {
    blob: B,
    len: u64,
    at: String,
}

impl<B: Blob> BlobStore<B> {
    /// Opens (or creates) blob `name` in `partition`.
    pub async fn open<S: Storage<Blob = B>>(
        storage: &S,
        partition: &str,
        name: &[u8],
    ) -> Result<Self, JournalError> {
        let at = format!("{partition}/{}", hex::encode(name));
        let (blob, len) = storage
            .open(partition, name)
            .await
            .map_err(|e| JournalError::Store {
                at: at.clone(),
                source: e.into(),
            })?;
        Ok(Self { blob, len, at })
    }
}

impl<B: Blob> Store for BlobStore<B> {
    fn location(&self) -> String {
        self.at.clone()
    }

    async fn read_all(&mut self) -> Result<Vec<u8>, StoreError> {
        if self.len == 0 {
            return Ok(Vec::new());
        }
        let bufs = self
            .blob
            .read_at(0, self.len as usize, ReadOptions::default())
            .await?;
        Ok(bufs.coalesce().as_ref().to_vec())
    }

    async fn truncate(&mut self, len: u64) -> Result<(), StoreError> {
        if len != self.len {
            self.blob.resize(len).await?;
            self.blob.sync().await?;
            self.len = len;
        }
        Ok(())
    }

    async fn append(&mut self, bytes: Vec<u8>) -> Result<(), StoreError> {
        let n = bytes.len() as u64;
        self.blob
            .write_at(self.len, bytes, WriteOptions::default())
            .await?;
        self.blob.sync().await?;
        self.len += n;
        Ok(())
    }
}

pub struct Journal<S: Store = FileStore> {
    store: S,
    key: Zeroizing<[u8; 32]>,
    next: u64,
}

impl<S: Store> Journal<S> {
    /// Opens the journal of `context` (kind, key epoch, round) in `store` and returns the
    /// entries it holds; a torn tail is cut off so appends continue from the last whole record.
    pub async fn open(
        mut store: S,
        identity: &Sk,
        context: &[u8],
        max_participants: NonZeroU32,
    ) -> Result<(Self, Vec<Entry>), JournalError> {
        let at = store.location();
        let failed = |source| JournalError::Store {
            at: at.clone(),
            source,
        };
        let damaged = |index| JournalError::Damaged {
            at: at.clone(),
            index,
        };
        let mut h = Sha256::new();
        h.update(DST_KEY);
        h.update(super::encode_secret(identity));
        h.update(context);
        let key = Zeroizing::new(<[u8; 32]>::from(h.finalize()));
        let bytes = store.read_all().await.map_err(failed)?;
        let aead = XChaCha20Poly1305::new(key.as_ref().into());
        let mut entries = Vec::new();
        let mut at = 0usize;
        let mut index = 0u64;
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
                .map_err(|_| damaged(index))?;
            let entry = Entry::decode_cfg(Copying(plain.as_slice()), &max_participants)
                .map_err(|_| damaged(index))?;
            entries.push(entry);
            at += 28 + len;
            index += 1;
        }
        if at as u64 != bytes.len() as u64 {
            store.truncate(at as u64).await.map_err(failed)?;
        }
        Ok((
            Self {
                store,
                key,
                next: index,
            },
            entries,
        ))
    }

    /// Appends an entry durably (synced before returning).
    pub async fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
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
        self.store
            .append(rec)
            .await
            .map_err(|source| JournalError::Store {
                at: self.store.location(),
                source,
            })?;
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
    use futures::executor::block_on;

    fn open(
        path: &Path,
        sk: &Sk,
        context: &[u8],
        max: NonZeroU32,
    ) -> Result<(Journal, Vec<Entry>), JournalError> {
        block_on(Journal::open(FileStore::open(path)?, sk, context, max))
    }

    #[test]
    fn survives_restart_and_a_torn_tail() {
        let dir = std::env::temp_dir().join(format!("curtain-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j");
        let _ = std::fs::remove_file(&path);
        let sk = Sk::random(rand::rng());
        let max = NonZeroU32::new(4).unwrap();
        let (mut j, e) = open(&path, &sk, b"r0", max).unwrap();
        assert!(e.is_empty());
        let a = Entry::Received {
            from: sk.public_key(),
            msg: Msg::Public([7; 48]),
        };
        let b = Entry::Decided(Msg::Resync);
        block_on(j.append(&a)).unwrap();
        block_on(j.append(&b)).unwrap();
        drop(j);
        // a torn write at the end is dropped
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&[0, 0, 1, 0, 9, 9]).unwrap();
        drop(f);
        let (mut j, e) = open(&path, &sk, b"r0", max).unwrap();
        assert_eq!(e, vec![a.clone(), b.clone()]);
        block_on(j.append(&a)).unwrap();
        drop(j);
        let (_, e) = open(&path, &sk, b"r0", max).unwrap();
        assert_eq!(e.len(), 3);
        // another identity or round cannot read it
        assert!(open(&path, &sk, b"r1", max).is_err());
        // nothing in the clear
        let raw = std::fs::read(&path).unwrap();
        assert!(!raw.windows(48).any(|w| w == [7u8; 48]));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
