//! Released batches and the release log: what a member publishes for every finalized height,
//! in height order. The content of a released batch is determined by the finalized block (the
//! openings are unique), so all honest members write byte-identical content; each batch also
//! carries a finality proof (a finalization certificate of the block or of a descendant, which
//! the log's parent links connect), which may differ between members. A third party checks a
//! batch without trusting the member.

use super::block::{Block, NamespaceBatch};
use super::envelope::{admissions_digest, Envelope, RlnProof, MAX_ENVELOPE_LEN};
use super::{Digest, Height, KeyEpoch};
use curtain_crypto::{
    encoding::Reader, open, verify_openings, Ciphertext, CommitteeKey, DecodeError, Decryption,
    EncodedCiphertext, Namespace, Opening, Undecryptable,
};
use rand_core::CryptoRng;
use std::collections::BTreeMap;

const RELEASE_VERSION: u8 = 1;
/// Caps for decoding a released batch from untrusted bytes.
pub const MAX_RELEASE_CIPHERTEXTS: usize = 1 << 16;
pub const MAX_CERTIFICATE_LEN: usize = 1 << 12;
const MAX_CT_LEN: usize = MAX_ENVELOPE_LEN;

/// One ciphertext's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleasedEntry {
    /// The ciphertext as ordered (its encoding; a verifier decodes it).
    pub ciphertext: EncodedCiphertext,
    /// The RLN proof it was admitted with (anonymous namespaces): public, and linked to the
    /// sender only through the nullifier.
    pub rln: Option<std::sync::Arc<RlnProof>>,
    /// The verified KEM secret: anyone can re-open the ciphertext with it.
    pub opening: Opening,
    pub outcome: Decryption,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleasedNamespace {
    pub namespace: Namespace,
    pub entries: Vec<ReleasedEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleasedBatch {
    pub height: Height,
    pub parent: Digest,
    pub block: Digest,
    /// Finality proof: a consensus finalization certificate of `block` or of a descendant
    /// (checked by the ordering layer's verifier; opaque here). Not part of the content.
    pub certificate: Vec<u8>,
    pub namespaces: Vec<ReleasedNamespace>,
}

impl ReleasedBatch {
    /// The block this batch releases, rebuilt from its contents.
    pub fn rebuild_block(&self) -> Block {
        Block::with_admissions(
            self.parent,
            self.height,
            self.namespaces
                .iter()
                .map(|ns| NamespaceBatch {
                    namespace: ns.namespace,
                    ids: ns.entries.iter().map(|e| e.ciphertext.id()).collect(),
                })
                .collect(),
            admissions_digest(self.entries().map(|e| e.rln.as_deref())),
        )
    }

    /// Every entry, in committed order.
    pub fn entries(&self) -> impl Iterator<Item = &ReleasedEntry> {
        self.namespaces.iter().flat_map(|n| n.entries.iter())
    }

    /// The entry of ciphertext `id`, if this batch released it.
    pub fn entry(&self, id: &[u8; 32]) -> Option<&ReleasedEntry> {
        self.entries().find(|e| e.ciphertext.id() == *id)
    }

    /// Third-party check: the entries are exactly the block's ciphertexts in order, every
    /// opening is correct for its ciphertext under the key of its epoch, and every outcome is
    /// what the opening gives. The certificate is checked by `certificate_ok`. The opening
    /// check is the observer's (`verify_openings`, 128-bit weights, SPEC §2.8).
    pub fn verify<R: CryptoRng + ?Sized>(
        &self,
        key_for_epoch: impl Fn(KeyEpoch) -> Option<std::sync::Arc<CommitteeKey>>,
        certificate_ok: impl FnOnce(Height, &Digest, &[u8]) -> bool,
        rng: &mut R,
    ) -> Result<(), ReleaseError> {
        if self.rebuild_block().digest() != self.block {
            return Err(ReleaseError::BlockMismatch);
        }
        if !certificate_ok(self.height, &self.block, &self.certificate) {
            return Err(ReleaseError::BadCertificate);
        }
        let mut by_epoch: BTreeMap<KeyEpoch, (Vec<Ciphertext>, Vec<Opening>)> = BTreeMap::new();
        for ns in &self.namespaces {
            for e in &ns.entries {
                if e.ciphertext.label().namespace() != ns.namespace {
                    return Err(ReleaseError::BlockMismatch);
                }
                let ct = e
                    .ciphertext
                    .decode()
                    .map_err(|_| ReleaseError::Malformed(e.ciphertext.id()))?;
                if open(&ct, &e.opening) != e.outcome {
                    return Err(ReleaseError::WrongOutcome(ct.id()));
                }
                let g = by_epoch.entry(ct.label().key_epoch()).or_default();
                g.0.push(ct);
                g.1.push(e.opening);
            }
        }
        for (epoch, (cts, openings)) in by_epoch {
            let key = key_for_epoch(epoch).ok_or(ReleaseError::UnknownEpoch(epoch))?;
            if cts.iter().any(|c| c.label().key_id() != &key.id())
                || !verify_openings(&key, &cts, &openings, rng)
            {
                return Err(ReleaseError::BadOpenings(epoch));
            }
        }
        Ok(())
    }

    /// The encoding with the finality proof (what the log stores and serves).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode_with(&self.certificate)
    }

    /// The encoding without the finality proof: identical at every honest member.
    pub fn content_bytes(&self) -> Vec<u8> {
        self.encode_with(&[])
    }

    fn encode_with(&self, certificate: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.push(RELEASE_VERSION);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&self.parent.0);
        out.extend_from_slice(&self.block.0);
        out.extend_from_slice(&(certificate.len() as u32).to_be_bytes());
        out.extend_from_slice(certificate);
        out.extend_from_slice(&(self.namespaces.len() as u32).to_be_bytes());
        for ns in &self.namespaces {
            out.extend_from_slice(&ns.namespace.to_be_bytes());
            out.extend_from_slice(&(ns.entries.len() as u32).to_be_bytes());
            for e in &ns.entries {
                let ct = match &e.rln {
                    None => e.ciphertext.as_bytes().to_vec(),
                    Some(p) => Envelope::anonymous(e.ciphertext.clone(), (**p).clone()).to_bytes(),
                };
                out.extend_from_slice(&(ct.len() as u32).to_be_bytes());
                out.extend_from_slice(&ct);
                out.extend_from_slice(&e.opening.to_bytes());
                match &e.outcome {
                    Decryption::Plaintext(p) => {
                        out.push(0);
                        out.extend_from_slice(&(p.len() as u32).to_be_bytes());
                        out.extend_from_slice(p);
                    }
                    Decryption::Undecryptable(Undecryptable::AeadFailure) => out.push(1),
                    Decryption::Undecryptable(Undecryptable::BadFraming) => out.push(2),
                }
            }
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.version("released batch", RELEASE_VERSION)?;
        let height = Height(r.u64("released height")?);
        let parent = Digest(r.array("released parent")?);
        let block = Digest(r.array("released block")?);
        let cert_len = r.len_u32("released certificate", 0, MAX_CERTIFICATE_LEN)?;
        let certificate = r.take(cert_len, "released certificate")?.to_vec();
        let n_ns = r.len_u32("released namespaces", 0, MAX_RELEASE_CIPHERTEXTS)?;
        let mut namespaces = Vec::new();
        let mut total = 0;
        for _ in 0..n_ns {
            let namespace = Namespace(r.u64("released namespace")?);
            let count = r.len_u32("released entries", 1, MAX_RELEASE_CIPHERTEXTS - total)?;
            total += count;
            let mut entries = Vec::new();
            for _ in 0..count {
                let len = r.len_u32("released ciphertext", 1, MAX_CT_LEN)?;
                let envelope = Envelope::parse(r.take(len, "released ciphertext")?)?;
                let rln = envelope.rln().cloned();
                let ciphertext = envelope.ciphertext().clone();
                let opening = Opening::from_bytes(r.take(48, "released opening")?)?;
                let outcome = match r.u8("released outcome")? {
                    0 => {
                        let len = r.len_u32(
                            "released plaintext",
                            0,
                            curtain_crypto::ciphertext::MAX_PLAINTEXT_LEN,
                        )?;
                        Decryption::Plaintext(r.take(len, "released plaintext")?.to_vec())
                    }
                    1 => Decryption::Undecryptable(Undecryptable::AeadFailure),
                    2 => Decryption::Undecryptable(Undecryptable::BadFraming),
                    _ => {
                        return Err(DecodeError::Invalid {
                            field: "released outcome",
                            reason: "unknown tag",
                        })
                    }
                };
                entries.push(ReleasedEntry {
                    ciphertext,
                    rln,
                    opening,
                    outcome,
                });
            }
            namespaces.push(ReleasedNamespace { namespace, entries });
        }
        r.finish()?;
        Ok(Self {
            height,
            parent,
            block,
            certificate,
            namespaces,
        })
    }
}

/// The append-only release log's in-memory head: enforces height order and chaining. The
/// persist actor writes each appended batch before publishing it.
#[derive(Clone, Debug)]
pub struct ReleaseLog {
    next_height: Height,
    last_block: Digest,
}

impl ReleaseLog {
    /// A log that has released everything up to and including `last` (genesis: height 0).
    pub fn after(last: &Block) -> Self {
        Self {
            next_height: last.height + 1,
            last_block: last.digest(),
        }
    }

    pub fn next_height(&self) -> Height {
        self.next_height
    }

    pub fn append(&mut self, batch: &ReleasedBatch) -> Result<(), ReleaseError> {
        if batch.height != self.next_height {
            return Err(ReleaseError::OutOfOrder {
                expected: self.next_height,
                got: batch.height,
            });
        }
        if batch.parent != self.last_block {
            return Err(ReleaseError::BlockMismatch);
        }
        self.next_height += 1;
        self.last_block = batch.block;
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    #[error("released batch does not match its block")]
    BlockMismatch,
    #[error("released ciphertext {} does not decode", hex::encode(.0))]
    Malformed([u8; 32]),
    #[error("finalization certificate rejected")]
    BadCertificate,
    #[error("outcome of {} differs from what its opening gives", hex::encode(.0))]
    WrongOutcome([u8; 32]),
    #[error("openings for key epoch {0} are not correct")]
    BadOpenings(KeyEpoch),
    #[error("key epoch {0} unknown")]
    UnknownEpoch(KeyEpoch),
    #[error("expected height {expected}, got {got}")]
    OutOfOrder { expected: Height, got: Height },
}
