//! Envelopes: what a wallet submits and what gossip, blocks, the mempool log and the release
//! log carry for each ordered entry. An *open* envelope is the ciphertext encoding itself
//! (its first byte is the ciphertext version, `0x02`), so the open path's bytes and cost are
//! unchanged; an *anonymous* envelope adds the RLN statement and proof (SPEC.md §3, §8.11):
//!
//! `0x81 ‖ Statement(136) ‖ Proof(192) ‖ Ciphertext`
//!
//! Parsing checks structure only (the statement's field elements are range-checked, the proof
//! is kept as bytes): decompressing and subgroup-checking the proof's points is admission's
//! costly step and runs where the ciphertext's points are decoded.

use super::CtId;
use curtain_circuits::{Proof, Statement, PROOF_BYTES, STATEMENT_BYTES};
use curtain_crypto::{DecodeError, EncodedCiphertext, VerifiedCiphertext};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;

/// First byte of an anonymous envelope (a ciphertext starts with its version, `0x02`).
pub const ANONYMOUS_TAG: u8 = 0x81;
/// Bytes an anonymous envelope adds to its ciphertext.
pub const RLN_BYTES: usize = 1 + STATEMENT_BYTES + PROOF_BYTES;
/// Largest envelope accepted anywhere (a maximal ciphertext with an admission proof).
pub const MAX_ENVELOPE_LEN: usize = curtain_crypto::ciphertext::MAX_PAYLOAD_LEN + 256 + RLN_BYTES;

const DST_RLN_DIGEST: &[u8] = b"curtain/v1/rln-admissions";

/// An RLN membership proof for one ciphertext: `statement.x` must be
/// `signal_hash(ciphertext id)` and `statement.nullifier` the label's sender tag.
#[derive(Clone, PartialEq, Eq)]
pub struct RlnProof {
    pub statement: Statement,
    /// The Groth16 proof's canonical encoding (decoded and checked by admission).
    pub proof: [u8; PROOF_BYTES],
}

impl std::fmt::Debug for RlnProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RlnProof")
            .field("epoch", &self.statement.epoch)
            .field(
                "nullifier",
                &hex::encode(curtain_circuits::fr_to_be_bytes(&self.statement.nullifier)),
            )
            .finish_non_exhaustive()
    }
}

impl RlnProof {
    pub fn new(statement: Statement, proof: &Proof) -> Self {
        Self {
            statement,
            proof: proof.to_bytes(),
        }
    }

    /// `Statement ‖ Proof` (328 bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(STATEMENT_BYTES + PROOF_BYTES);
        out.extend_from_slice(&self.statement.to_bytes());
        out.extend_from_slice(&self.proof);
        out
    }

    /// Decodes [`RlnProof::to_bytes`] (the statement's scalars range-checked, the proof kept
    /// as bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() != STATEMENT_BYTES + PROOF_BYTES {
            return Err(DecodeError::Invalid {
                field: "rln proof",
                reason: "wrong length",
            });
        }
        let statement =
            Statement::from_bytes(&bytes[..STATEMENT_BYTES]).map_err(|_| DecodeError::Invalid {
                field: "rln statement",
                reason: "not a canonical statement",
            })?;
        Ok(Self {
            statement,
            proof: bytes[STATEMENT_BYTES..].try_into().expect("length checked"),
        })
    }

    /// The proof's points, decoded and subgroup-checked.
    pub fn decode_proof(&self) -> Result<Proof, curtain_circuits::DecodeError> {
        Proof::from_bytes(&self.proof)
    }

    /// The nullifier as bytes (32, big-endian).
    pub fn nullifier(&self) -> [u8; 32] {
        curtain_circuits::fr_to_be_bytes(&self.statement.nullifier)
    }
}

/// One entry as submitted and ordered: a ciphertext, with an RLN proof in anonymous
/// namespaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    ct: EncodedCiphertext,
    rln: Option<Arc<RlnProof>>,
}

impl From<EncodedCiphertext> for Envelope {
    fn from(ct: EncodedCiphertext) -> Self {
        Self { ct, rln: None }
    }
}

impl Envelope {
    pub fn anonymous(ct: EncodedCiphertext, rln: RlnProof) -> Self {
        Self {
            ct,
            rln: Some(Arc::new(rln)),
        }
    }

    /// The id of the ciphertext (what blocks list and clients track).
    pub fn id(&self) -> CtId {
        self.ct.id()
    }

    pub fn ciphertext(&self) -> &EncodedCiphertext {
        &self.ct
    }

    pub fn rln(&self) -> Option<&Arc<RlnProof>> {
        self.rln.as_ref()
    }

    pub fn encoded_len(&self) -> usize {
        self.ct.encoded_len() + if self.rln.is_some() { RLN_BYTES } else { 0 }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        match &self.rln {
            None => self.ct.as_bytes().to_vec(),
            Some(rln) => {
                let mut out = Vec::with_capacity(self.encoded_len());
                out.push(ANONYMOUS_TAG);
                out.extend_from_slice(&rln.to_bytes());
                out.extend_from_slice(self.ct.as_bytes());
                out
            }
        }
    }

    /// Decodes an envelope (structure only; see the module documentation).
    pub fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        match bytes.first() {
            Some(&ANONYMOUS_TAG) => {
                let at = 1 + STATEMENT_BYTES + PROOF_BYTES;
                if bytes.len() <= at {
                    return Err(DecodeError::Truncated("anonymous envelope"));
                }
                let rln = RlnProof::from_bytes(&bytes[1..at])?;
                Ok(Self::anonymous(
                    EncodedCiphertext::parse(&bytes[at..])?,
                    rln,
                ))
            }
            _ => Ok(EncodedCiphertext::parse(bytes)?.into()),
        }
    }
}

/// A ciphertext that passed the validity check, with its RLN proof (verified by the same
/// admission step) in anonymous namespaces. Dereferences to the ciphertext.
#[derive(Clone, Debug)]
pub struct Verified {
    ct: VerifiedCiphertext,
    rln: Option<Arc<RlnProof>>,
}

impl std::ops::Deref for Verified {
    type Target = VerifiedCiphertext;
    fn deref(&self) -> &VerifiedCiphertext {
        &self.ct
    }
}

impl Verified {
    /// Pairs a verified ciphertext with its proof; the caller has verified the proof (or the
    /// namespace is open and there is none).
    // admission (in the node) is the only maker
    #[cfg_attr(not(feature = "node"), allow(dead_code))]
    pub(crate) fn new(ct: VerifiedCiphertext, rln: Option<Arc<RlnProof>>) -> Self {
        Self { ct, rln }
    }

    pub fn ciphertext(&self) -> &VerifiedCiphertext {
        &self.ct
    }

    pub fn rln(&self) -> Option<&Arc<RlnProof>> {
        self.rln.as_ref()
    }

    pub fn envelope(&self) -> Envelope {
        Envelope {
            ct: self.ct.encoded().clone(),
            rln: self.rln.clone(),
        }
    }

    /// Size of the envelope (what block and mempool byte limits count).
    pub fn envelope_len(&self) -> usize {
        self.ct.encoded_len() + if self.rln.is_some() { RLN_BYTES } else { 0 }
    }
}

/// The digest a block commits to for its anonymous entries' proofs (SPEC.md §5.2):
/// `SHA-256("curtain/v1/rln-admissions" ‖ for each anonymous entry in committed order:
/// position(4) ‖ Statement ‖ Proof)`; `None` when the block has no anonymous entry, so open
/// blocks keep their version-1 encoding and digest.
pub fn admissions_digest<'a>(
    proofs: impl IntoIterator<Item = Option<&'a RlnProof>>,
) -> Option<[u8; 32]> {
    let mut h = Sha256::new_with_prefix(DST_RLN_DIGEST);
    let mut any = false;
    for (i, p) in proofs.into_iter().enumerate() {
        if let Some(p) = p {
            any = true;
            h.update((i as u32).to_be_bytes());
            h.update(p.to_bytes());
        }
    }
    any.then(|| h.finalize().into())
}
