//! Encrypted keystores (SPEC.md §9.6): a member's identity key and, after a ceremony, its
//! shares of both committee keys, sealed with XChaCha20-Poly1305 under a key derived from a
//! passphrase with Argon2id. The header (format version, KDF parameters, salt, nonce) is
//! authenticated as associated data; a key-check value tells a wrong passphrase from a
//! damaged file.

use super::{Pk, Sk};
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use commonware_codec::{Copying, DecodeExt as _, Encode as _, ReadExt as _};
use commonware_cryptography::bls12381::primitives::group::Share;
use commonware_cryptography::Signer as _;
use rand_core::CryptoRng;
use sha2::{Digest as _, Sha256};
use std::path::Path;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

const MAGIC: &[u8; 8] = b"CURTAINK";
const VERSION: u8 = 1;
const SALT: usize = 16;
const NONCE: usize = 24;
const CHECK: usize = 16;
/// magic ‖ version ‖ m_kib ‖ t ‖ p ‖ salt ‖ nonce ‖ check ‖ ciphertext length
const HEADER: usize = 8 + 1 + 4 + 4 + 4 + SALT + NONCE + CHECK + 4;
const DST_CHECK: &[u8] = b"curtain/v1/keystore-check";
/// Largest payload accepted (bounds reads of hostile files).
const MAX_PAYLOAD: usize = 4096;

/// Argon2id cost. Decoding bounds each field so a hostile file cannot demand unbounded work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
}

impl KdfParams {
    /// RFC 9106's second recommended option (64 MiB, 3 passes), one lane.
    pub const STRONG: Self = Self {
        m_kib: 64 * 1024,
        t: 3,
        p: 1,
    };
    /// For tests and throwaway devnets only: cheap, and says so in its name.
    pub const INSECURE_FAST: Self = Self {
        m_kib: 64,
        t: 1,
        p: 1,
    };
    const MAX_M_KIB: u32 = 4 * 1024 * 1024;
    const MAX_T: u32 = 64;
    const MAX_P: u32 = 16;

    fn valid(&self) -> bool {
        self.m_kib >= 8 * self.p.max(1)
            && self.m_kib <= Self::MAX_M_KIB
            && (1..=Self::MAX_T).contains(&self.t)
            && (1..=Self::MAX_P).contains(&self.p)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("not a curtain keystore (bad magic)")]
    NotAKeystore,
    #[error("keystore format version {0} is not supported (this build reads version 1)")]
    UnsupportedVersion(u8),
    #[error("keystore is truncated: {len} bytes, expected {expected}")]
    Truncated { len: usize, expected: usize },
    #[error("keystore is corrupt: {0}")]
    Corrupt(&'static str),
    #[error("wrong passphrase (or the keystore's KDF header was altered)")]
    WrongPassphrase,
    #[error("no passphrase: set CURTAIN_PASSPHRASE, pass --passphrase-file, or run on a terminal")]
    NoPassphrase,
}

/// A passphrase, zeroized on drop, never printed.
#[derive(Clone)]
pub struct Passphrase(Zeroizing<String>);

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(<redacted>)")
    }
}

impl Passphrase {
    pub fn new(s: impl Into<String>) -> Self {
        Self(Zeroizing::new(s.into()))
    }

    /// From `file` (first line), else `CURTAIN_PASSPHRASE`, else a terminal prompt.
    pub fn obtain(file: Option<&Path>, prompt: &str) -> Result<Self, KeystoreError> {
        if let Some(path) = file {
            let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
                KeystoreError::Io {
                    path: path.display().to_string(),
                    source,
                }
            })?);
            let line = text.lines().next().unwrap_or("");
            return Ok(Self::new(line));
        }
        if let Ok(p) = std::env::var("CURTAIN_PASSPHRASE") {
            return Ok(Self::new(p));
        }
        use std::io::IsTerminal as _;
        if std::io::stdin().is_terminal() {
            let p = rpassword::prompt_password(prompt).map_err(|source| KeystoreError::Io {
                path: "terminal".into(),
                source,
            })?;
            return Ok(Self::new(p));
        }
        Err(KeystoreError::NoPassphrase)
    }
}

/// A member's shares of one key epoch.
pub struct EpochShares {
    pub key_epoch: u64,
    pub consensus: Share,
    pub encryption: Share,
}

/// What a keystore holds.
pub struct MemberSecrets {
    pub identity: Sk,
    pub shares: Option<EpochShares>,
}

impl std::fmt::Debug for MemberSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberSecrets")
            .field("identity", &self.identity.public_key())
            .field("key_epoch", &self.shares.as_ref().map(|s| s.key_epoch))
            .finish_non_exhaustive()
    }
}

impl MemberSecrets {
    pub fn public_key(&self) -> Pk {
        self.identity.public_key()
    }

    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(128));
        out.extend_from_slice(&self.identity.encode());
        match &self.shares {
            None => out.push(0),
            Some(s) => {
                out.push(1);
                out.extend_from_slice(&s.key_epoch.to_be_bytes());
                out.extend_from_slice(&s.consensus.encode());
                out.extend_from_slice(&s.encryption.encode());
            }
        }
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, KeystoreError> {
        let bad = |_| KeystoreError::Corrupt("payload does not decode");
        let mut buf = Copying(bytes);
        let identity = Sk::read(&mut buf).map_err(bad)?;
        let shares = match u8::read(&mut buf).map_err(bad)? {
            0 => None,
            1 => {
                let key_epoch = u64::from_be_bytes(<[u8; 8]>::read(&mut buf).map_err(bad)?);
                let consensus = Share::read(&mut buf).map_err(bad)?;
                let encryption = Share::read(&mut buf).map_err(bad)?;
                Some(EpochShares {
                    key_epoch,
                    consensus,
                    encryption,
                })
            }
            _ => return Err(KeystoreError::Corrupt("payload does not decode")),
        };
        if !buf.0.is_empty() {
            return Err(KeystoreError::Corrupt("trailing bytes in payload"));
        }
        Ok(Self { identity, shares })
    }
}

fn derive(
    pass: &Passphrase,
    salt: &[u8],
    kdf: KdfParams,
) -> Result<(Zeroizing<[u8; 32]>, [u8; CHECK]), KeystoreError> {
    let params = Params::new(kdf.m_kib, kdf.t, kdf.p, Some(64))
        .map_err(|_| KeystoreError::Corrupt("KDF parameters out of range"))?;
    let mut okm = Zeroizing::new([0u8; 64]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(pass.0.as_bytes(), salt, okm.as_mut())
        .map_err(|_| KeystoreError::Corrupt("KDF failed"))?;
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&okm[..32]);
    let mut h = Sha256::new();
    h.update(DST_CHECK);
    h.update(&okm[32..]);
    let mut check = [0u8; CHECK];
    check.copy_from_slice(&h.finalize()[..CHECK]);
    Ok((key, check))
}

/// Seals `secrets` under `pass`.
pub fn seal<R: CryptoRng>(
    secrets: &MemberSecrets,
    pass: &Passphrase,
    kdf: KdfParams,
    rng: &mut R,
) -> Result<Vec<u8>, KeystoreError> {
    if !kdf.valid() {
        return Err(KeystoreError::Corrupt("KDF parameters out of range"));
    }
    let mut salt = [0u8; SALT];
    let mut nonce = [0u8; NONCE];
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut nonce);
    let (key, check) = derive(pass, &salt, kdf)?;
    let plain = secrets.encode();
    let ct_len = plain.len() + 16;
    let mut out = Vec::with_capacity(HEADER + ct_len);
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&kdf.m_kib.to_be_bytes());
    out.extend_from_slice(&kdf.t.to_be_bytes());
    out.extend_from_slice(&kdf.p.to_be_bytes());
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&check);
    out.extend_from_slice(&(ct_len as u32).to_be_bytes());
    let ct = XChaCha20Poly1305::new(key.as_ref().into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: &out,
            },
        )
        .map_err(|_| KeystoreError::Corrupt("encryption failed"))?;
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens a keystore, with a typed error for each way it can fail.
pub fn open(bytes: &[u8], pass: &Passphrase) -> Result<MemberSecrets, KeystoreError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) {
            KeystoreError::Truncated {
                len: bytes.len(),
                expected: HEADER,
            }
        } else {
            KeystoreError::NotAKeystore
        });
    }
    if bytes.len() > MAGIC.len() && bytes[8] != VERSION {
        return Err(KeystoreError::UnsupportedVersion(bytes[8]));
    }
    if bytes.len() < HEADER {
        return Err(KeystoreError::Truncated {
            len: bytes.len(),
            expected: HEADER,
        });
    }
    let u32_at = |o: usize| u32::from_be_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
    let kdf = KdfParams {
        m_kib: u32_at(9),
        t: u32_at(13),
        p: u32_at(17),
    };
    let salt = &bytes[21..21 + SALT];
    let nonce = &bytes[21 + SALT..21 + SALT + NONCE];
    let check = &bytes[21 + SALT + NONCE..21 + SALT + NONCE + CHECK];
    let ct_len = u32_at(HEADER - 4) as usize;
    if !(16..=MAX_PAYLOAD + 16).contains(&ct_len) {
        return Err(KeystoreError::Corrupt("ciphertext length out of range"));
    }
    if bytes.len() < HEADER + ct_len {
        return Err(KeystoreError::Truncated {
            len: bytes.len(),
            expected: HEADER + ct_len,
        });
    }
    if bytes.len() > HEADER + ct_len {
        return Err(KeystoreError::Corrupt("trailing bytes"));
    }
    if !kdf.valid() {
        return Err(KeystoreError::Corrupt("KDF parameters out of range"));
    }
    let (key, expected) = derive(pass, salt, kdf)?;
    if !bool::from(expected.ct_eq(check)) {
        return Err(KeystoreError::WrongPassphrase);
    }
    let plain = XChaCha20Poly1305::new(key.as_ref().into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: &bytes[HEADER..],
                aad: &bytes[..HEADER],
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| KeystoreError::Corrupt("authentication failed (file altered)"))?;
    MemberSecrets::decode(&plain)
}

/// Writes a keystore file with mode 0600 (atomically: temp file, then rename).
pub fn write(path: &Path, sealed: &[u8]) -> Result<(), KeystoreError> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    let io = |source| KeystoreError::Io {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts.open(&tmp).map_err(io)?;
    f.write_all(sealed).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

pub fn read(path: &Path, pass: &Passphrase) -> Result<MemberSecrets, KeystoreError> {
    let bytes = std::fs::read(path).map_err(|source| KeystoreError::Io {
        path: path.display().to_string(),
        source,
    })?;
    open(&bytes, pass)
}

/// The identity key of a hex file (the format before keystores), for migration and tests.
pub fn identity_from_hex(hex_text: &str) -> Option<Sk> {
    let bytes = Zeroizing::new(hex::decode(hex_text.trim()).ok()?);
    Sk::decode(Copying(bytes.as_slice())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::bls12381::primitives::group::{Private, Scalar};
    use commonware_math::algebra::Random as _;
    use commonware_utils::Participant;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    fn secrets(rng: &mut ChaCha20Rng) -> MemberSecrets {
        MemberSecrets {
            identity: Sk::random(&mut *rng),
            shares: Some(EpochShares {
                key_epoch: 3,
                consensus: Share::new(Participant::new(2), Private::new(Scalar::random(&mut *rng))),
                encryption: Share::new(
                    Participant::new(2),
                    Private::new(Scalar::random(&mut *rng)),
                ),
            }),
        }
    }

    #[test]
    fn round_trip_and_typed_errors() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let s = secrets(&mut rng);
        let pass = Passphrase::new("correct horse");
        let sealed = seal(&s, &pass, KdfParams::INSECURE_FAST, &mut rng).unwrap();
        let back = open(&sealed, &pass).unwrap();
        assert_eq!(back.public_key(), s.public_key());
        let (a, b) = (back.shares.as_ref().unwrap(), s.shares.as_ref().unwrap());
        assert_eq!(a.key_epoch, 3);
        assert_eq!(a.consensus, b.consensus);
        assert_eq!(a.encryption, b.encryption);

        let wrong = open(&sealed, &Passphrase::new("wrong horse"));
        assert!(
            matches!(wrong, Err(KeystoreError::WrongPassphrase)),
            "{wrong:?}"
        );
        for cut in [0, 5, 20, HEADER - 1, HEADER, sealed.len() - 1] {
            let e = open(&sealed[..cut], &pass);
            assert!(
                matches!(e, Err(KeystoreError::Truncated { .. })),
                "{cut}: {e:?}"
            );
        }
        let mut t = sealed.clone();
        let last = t.len() - 3;
        t[last] ^= 1;
        assert!(matches!(open(&t, &pass), Err(KeystoreError::Corrupt(_))));
        // the nonce is authenticated too
        let mut t = sealed.clone();
        t[21 + SALT] ^= 1;
        assert!(matches!(open(&t, &pass), Err(KeystoreError::Corrupt(_))));
        let mut t = sealed.clone();
        t[8] = 2;
        assert!(matches!(
            open(&t, &pass),
            Err(KeystoreError::UnsupportedVersion(2))
        ));
        let mut t = sealed.clone();
        t[0] = b'X';
        assert!(matches!(open(&t, &pass), Err(KeystoreError::NotAKeystore)));
        // hostile KDF cost is refused before any work
        let mut t = sealed.clone();
        t[9..13].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(open(&t, &pass), Err(KeystoreError::Corrupt(_))));
        let mut t = sealed.clone();
        t.push(0);
        assert!(matches!(open(&t, &pass), Err(KeystoreError::Corrupt(_))));
        // nothing secret in Debug output or error messages
        let shown = format!("{back:?} {pass:?} {}", KeystoreError::WrongPassphrase);
        assert!(!shown.contains("correct horse"));
        assert!(!shown.contains(&hex::encode(s.identity.encode())));
        let identity_only = MemberSecrets {
            identity: s.identity.clone(),
            shares: None,
        };
        let sealed = seal(&identity_only, &pass, KdfParams::INSECURE_FAST, &mut rng).unwrap();
        assert!(open(&sealed, &pass).unwrap().shares.is_none());
    }
}
