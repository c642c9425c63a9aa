//! Members' keystores (SPEC.md §9.6): a member's identity key and, after a ceremony, its
//! shares of both committee keys, in the passphrase-encrypted format of [`crate::secrets::sealed`].

use super::{Pk, Sk};
use crate::secrets::sealed::{self, Magic};
pub use crate::secrets::sealed::{KdfParams, KeystoreError, Passphrase};
use commonware_codec::{Copying, DecodeExt as _, EncodeSize as _, ReadExt as _, Write as _};
use commonware_cryptography::bls12381::primitives::group::Share;
use commonware_cryptography::Signer as _;
use rand_core::CryptoRng;
use std::path::Path;
use zeroize::Zeroizing;

/// The kind of a member's keystore (`crate::secrets::sealed`).
const MAGIC: &Magic = b"CURTAINK";

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

    /// The payload a keystore seals: `identity ‖ 0`, or `identity ‖ 1 ‖ key_epoch(8) ‖
    /// consensus share ‖ encryption share`.
    pub fn encode(&self) -> Zeroizing<Vec<u8>> {
        // written in place, at the exact size: no unwiped temporary or reallocation
        let size = self.identity.encode_size()
            + 1
            + self.shares.as_ref().map_or(0, |s| {
                8 + s.consensus.encode_size() + s.encryption.encode_size()
            });
        let mut out = Zeroizing::new(Vec::with_capacity(size));
        self.identity.write(&mut *out);
        match &self.shares {
            None => out.push(0),
            Some(s) => {
                out.push(1);
                out.extend_from_slice(&s.key_epoch.to_be_bytes());
                s.consensus.write(&mut *out);
                s.encryption.write(&mut *out);
            }
        }
        out
    }

    /// Decodes [`MemberSecrets::encode`] (what [`open`] does after decrypting).
    pub fn decode(bytes: &[u8]) -> Result<Self, KeystoreError> {
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

/// Seals `secrets` under `pass`.
pub fn seal<R: CryptoRng>(
    secrets: &MemberSecrets,
    pass: &Passphrase,
    kdf: KdfParams,
    rng: &mut R,
) -> Result<Vec<u8>, KeystoreError> {
    sealed::seal(MAGIC, &secrets.encode(), pass, kdf, rng)
}

/// Opens a member's keystore, with a typed error for each way it can fail.
pub fn open(bytes: &[u8], pass: &Passphrase) -> Result<MemberSecrets, KeystoreError> {
    MemberSecrets::decode(&sealed::open(MAGIC, bytes, pass)?)
}

/// Writes a keystore file with mode 0600 (atomically: temp file, then rename).
pub fn write(path: &Path, sealed: &[u8]) -> Result<(), KeystoreError> {
    sealed::write(path, sealed)
}

pub fn read(path: &Path, pass: &Passphrase) -> Result<MemberSecrets, KeystoreError> {
    MemberSecrets::decode(&sealed::read(MAGIC, path, pass)?)
}

/// The identity key of a hex file (the format before keystores), for migration and tests.
pub fn identity_from_hex(hex_text: &str) -> Option<Sk> {
    let bytes = Zeroizing::new(hex::decode(hex_text.trim()).ok()?);
    Sk::decode(Copying(bytes.as_slice())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::Encode as _;
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

    /// Secret encodings are built in place in one wiped allocation of their exact size (a
    /// grown buffer would free an unwiped copy), and equal commonware's encoding.
    #[test]
    fn secret_encodings_are_one_exact_wiped_allocation() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let s = secrets(&mut rng);
        let identity_only = MemberSecrets {
            identity: s.identity.clone(),
            shares: None,
        };
        for m in [&s, &identity_only] {
            let enc = m.encode();
            assert_eq!(enc.capacity(), enc.len());
            let back = MemberSecrets::decode(&enc).unwrap();
            assert_eq!(back.public_key(), m.public_key());
        }
        let shares = s.shares.as_ref().unwrap();
        for (enc, plain) in [
            (crate::dkg::encode_secret(&s.identity), s.identity.encode()),
            (
                crate::dkg::encode_secret(&shares.encryption),
                shares.encryption.encode(),
            ),
        ] {
            assert_eq!(enc.capacity(), enc.len());
            assert_eq!(&enc[..], &plain[..]);
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
        use crate::secrets::sealed::HEADER;
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
        t[crate::secrets::sealed::NONCE_AT] ^= 1;
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
