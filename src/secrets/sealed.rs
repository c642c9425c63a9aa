//! Passphrase-encrypted secret files (SPEC.md §9.6), node-free so wallets use them too: a
//! payload sealed with XChaCha20-Poly1305 under a key derived from a passphrase with
//! Argon2id. The header (magic naming the kind of secret, format version, KDF parameters,
//! salt, nonce) is authenticated as associated data; a key-check value tells a wrong
//! passphrase from a damaged file. Members' keystores (`dkg::keystore`) and wallets' RLN
//! identities (`sdk::rln`) are both this format with their own magic.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::CryptoRng;
use sha2::{Digest as _, Sha256};
use std::path::Path;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// Eight bytes naming what a keystore holds; opening one kind as another is `NotAKeystore`.
pub type Magic = [u8; 8];

const VERSION: u8 = 1;
const SALT: usize = 16;
pub(crate) const NONCE: usize = 24;
const CHECK: usize = 16;
/// magic ‖ version ‖ m_kib ‖ t ‖ p ‖ salt ‖ nonce ‖ check ‖ ciphertext length
pub(crate) const HEADER: usize = 8 + 1 + 4 + 4 + 4 + SALT + NONCE + CHECK + 4;
/// Where the nonce starts (tests maul it).
#[cfg(test)]
pub(crate) const NONCE_AT: usize = 21 + SALT;
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

/// Seals `plain` under `pass` as a keystore of kind `magic`.
pub fn seal<R: CryptoRng + ?Sized>(
    magic: &Magic,
    plain: &[u8],
    pass: &Passphrase,
    kdf: KdfParams,
    rng: &mut R,
) -> Result<Vec<u8>, KeystoreError> {
    if !kdf.valid() {
        return Err(KeystoreError::Corrupt("KDF parameters out of range"));
    }
    if plain.len() > MAX_PAYLOAD {
        return Err(KeystoreError::Corrupt("payload too large"));
    }
    let mut salt = [0u8; SALT];
    let mut nonce = [0u8; NONCE];
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut nonce);
    let (key, check) = derive(pass, &salt, kdf)?;
    let ct_len = plain.len() + 16;
    let mut out = Vec::with_capacity(HEADER + ct_len);
    out.extend_from_slice(magic);
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
                msg: plain,
                aad: &out,
            },
        )
        .map_err(|_| KeystoreError::Corrupt("encryption failed"))?;
    out.extend_from_slice(&ct);
    Ok(out)
}

/// A keystore's fields as [`parse`] reads them: structure and bounds checked, nothing
/// derived or decrypted yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed<'a> {
    pub magic: Magic,
    pub kdf: KdfParams,
    pub salt: &'a [u8; SALT],
    pub nonce: &'a [u8; NONCE],
    pub check: &'a [u8; CHECK],
    /// The AEAD ciphertext (payload and tag).
    pub ciphertext: &'a [u8],
}

impl Sealed<'_> {
    /// The header the ciphertext authenticates (everything before it).
    fn header(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER);
        out.extend_from_slice(&self.magic);
        out.push(VERSION);
        out.extend_from_slice(&self.kdf.m_kib.to_be_bytes());
        out.extend_from_slice(&self.kdf.t.to_be_bytes());
        out.extend_from_slice(&self.kdf.p.to_be_bytes());
        out.extend_from_slice(self.salt);
        out.extend_from_slice(self.nonce);
        out.extend_from_slice(self.check);
        out.extend_from_slice(&(self.ciphertext.len() as u32).to_be_bytes());
        out
    }

    /// The file's bytes (the encoding is canonical: `parse` then `to_bytes` is the identity).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.header();
        out.extend_from_slice(self.ciphertext);
        out
    }
}

/// Checks a keystore of kind `magic` for structure and bounds (magic, version, lengths, KDF
/// cost) without deriving the key: what [`open`] does before any costly work.
pub fn parse<'a>(magic: &Magic, bytes: &'a [u8]) -> Result<Sealed<'a>, KeystoreError> {
    if bytes.len() < magic.len() || &bytes[..magic.len()] != magic {
        return Err(if bytes.len() < magic.len() && magic.starts_with(bytes) {
            KeystoreError::Truncated {
                len: bytes.len(),
                expected: HEADER,
            }
        } else {
            KeystoreError::NotAKeystore
        });
    }
    if bytes.len() > magic.len() && bytes[8] != VERSION {
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
    let field = |o: usize, n: usize| &bytes[o..o + n];
    let salt = field(21, SALT).try_into().expect("SALT bytes");
    let nonce = field(21 + SALT, NONCE).try_into().expect("NONCE bytes");
    let check = field(21 + SALT + NONCE, CHECK)
        .try_into()
        .expect("CHECK bytes");
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
    Ok(Sealed {
        magic: *magic,
        kdf,
        salt,
        nonce,
        check,
        ciphertext: &bytes[HEADER..],
    })
}

/// Opens a keystore of kind `magic`, with a typed error for each way it can fail.
pub fn open(
    magic: &Magic,
    bytes: &[u8],
    pass: &Passphrase,
) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
    let sealed = parse(magic, bytes)?;
    let (key, expected) = derive(pass, sealed.salt, sealed.kdf)?;
    if !bool::from(expected.ct_eq(sealed.check)) {
        return Err(KeystoreError::WrongPassphrase);
    }
    let plain = XChaCha20Poly1305::new(key.as_ref().into())
        .decrypt(
            XNonce::from_slice(sealed.nonce),
            Payload {
                msg: sealed.ciphertext,
                aad: &bytes[..HEADER],
            },
        )
        .map(Zeroizing::new)
        .map_err(|_| KeystoreError::Corrupt("authentication failed (file altered)"))?;
    Ok(plain)
}

/// Writes a keystore file with mode 0600 (atomically: temp file, then rename).
pub fn write(path: &Path, sealed: &[u8]) -> Result<(), KeystoreError> {
    crate::secrets::private_file::write(path, sealed).map_err(|source| KeystoreError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Reads and opens a keystore file of kind `magic`.
pub fn read(
    magic: &Magic,
    path: &Path,
    pass: &Passphrase,
) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
    let bytes = std::fs::read(path).map_err(|source| KeystoreError::Io {
        path: path.display().to_string(),
        source,
    })?;
    open(magic, &bytes, pass)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng as _;

    #[test]
    fn kinds_do_not_mix_and_payloads_are_bounded() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let pass = Passphrase::new("p");
        let fast = KdfParams::INSECURE_FAST;
        let sealed = seal(b"CURTAINA", b"secret a", &pass, fast, &mut rng).unwrap();
        assert_eq!(
            open(b"CURTAINA", &sealed, &pass).unwrap().as_slice(),
            b"secret a"
        );
        assert!(matches!(
            open(b"CURTAINB", &sealed, &pass),
            Err(KeystoreError::NotAKeystore)
        ));
        assert!(!sealed.windows(8).any(|w| w == b"secret a"));
        assert!(seal(b"CURTAINA", &[0; MAX_PAYLOAD + 1], &pass, fast, &mut rng).is_err());
        let weak = KdfParams {
            m_kib: 1,
            t: 1,
            p: 1,
        };
        assert!(seal(b"CURTAINA", b"x", &pass, weak, &mut rng).is_err());
    }
}
