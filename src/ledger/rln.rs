//! Anonymous admission's node-free parts (SPEC.md §8.11): why an anonymous entry is refused,
//! the statement's binding to its ciphertext, registry (registration and slashing)
//! transactions and slashing evidence anyone can check, and the wallet's side, sealing an
//! anonymous envelope. The members' registry and nullifier state live in the node
//! (`node::core::rln`), which re-exports these.

use super::envelope::{Envelope, RlnProof};
use super::CtId;
use curtain_circuits::{fr_to_be_bytes, recover_secret, signal_hash, Fr, MerkleTree, VerifyingKey};
use curtain_crypto::{encoding::Reader, DecodeError, KeyEpoch, Namespace};

/// Registration transaction (plaintext in the registry namespace):
/// `0x01 ‖ commitment(32) ‖ limit(4)`.
pub const REGISTER_TAG: u8 = 0x01;
/// Slashing transaction: `0x02 ‖ SlashingEvidence` (removes the recovered member's leaf).
pub const SLASH_TAG: u8 = 0x02;

/// Why an anonymous entry is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RlnReject {
    #[error("this namespace is anonymous: the envelope needs an RLN membership proof")]
    ProofRequired,
    #[error("this namespace is open: the envelope must not carry an RLN proof")]
    UnexpectedProof,
    #[error("the RLN statement is not bound to this ciphertext (x or nullifier)")]
    Unbound,
    #[error("the RLN proof does not verify")]
    InvalidProof,
    #[error("the RLN proof is for a members' root this committee does not accept")]
    UnknownRoot,
    #[error("RLN epoch {0} is outside the accepted window")]
    WrongEpoch(u64),
    #[error("over quota: this nullifier was already used in its epoch with another signal")]
    OverQuota,
}

/// Cheap checks of an anonymous entry's statement against its ciphertext: `x` is the signal
/// hash of the id and the nullifier is the label's sender tag.
pub fn check_binding(id: &CtId, sender: &[u8], rln: &RlnProof) -> Result<(), RlnReject> {
    if rln.statement.x != signal_hash(id) || sender != rln.nullifier().as_slice() {
        return Err(RlnReject::Unbound);
    }
    Ok(())
}

/// A registration or slashing transaction, decoded from a released plaintext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryTx {
    Register { commitment: [u8; 32], limit: u32 },
    Slash(Box<SlashingEvidence>),
}

impl RegistryTx {
    pub fn register(commitment: &Fr, limit: u32) -> Vec<u8> {
        let mut out = vec![REGISTER_TAG];
        out.extend_from_slice(&fr_to_be_bytes(commitment));
        out.extend_from_slice(&limit.to_be_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        match bytes.split_first() {
            Some((&REGISTER_TAG, rest)) => {
                let mut r = Reader::new(rest);
                let commitment = r.array("registration commitment")?;
                let limit = r.u32("registration limit")?;
                r.finish()?;
                Ok(Self::Register { commitment, limit })
            }
            Some((&SLASH_TAG, rest)) => {
                Ok(Self::Slash(Box::new(SlashingEvidence::from_bytes(rest)?)))
            }
            _ => Err(DecodeError::Invalid {
                field: "registry transaction",
                reason: "unknown tag",
            }),
        }
    }
}

/// Two valid signals with one nullifier and different signal hashes: the sender exceeded its
/// quota, and anyone can recover its secret from the two statements (SPEC.md §8.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlashingEvidence {
    /// The ciphertext ids the signals are bound to (`x = signal_hash(id)`).
    pub first: (CtId, RlnProof),
    pub second: (CtId, RlnProof),
}

impl SlashingEvidence {
    /// `id1(32) ‖ Statement ‖ Proof ‖ id2(32) ‖ Statement ‖ Proof`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (id, p) in [&self.first, &self.second] {
            out.extend_from_slice(id);
            out.extend_from_slice(&p.to_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let one = |r: &mut Reader| -> Result<(CtId, RlnProof), DecodeError> {
            let id = r.array("evidence id")?;
            let p = RlnProof::from_bytes(r.take(
                curtain_circuits::STATEMENT_BYTES + curtain_circuits::PROOF_BYTES,
                "evidence proof",
            )?)?;
            Ok((id, p))
        };
        let first = one(&mut r)?;
        let second = one(&mut r)?;
        r.finish()?;
        Ok(Self { first, second })
    }

    /// Anyone's check: both statements are bound to their ids, share the nullifier, differ
    /// in `x`, and both proofs verify. Returns the recovered secret `a0`.
    pub fn verify(&self, vk: &VerifyingKey) -> Result<Fr, EvidenceError> {
        let (s1, s2) = (&self.first.1.statement, &self.second.1.statement);
        for (id, p) in [&self.first, &self.second] {
            if p.statement.x != signal_hash(id) {
                return Err(EvidenceError::Unbound);
            }
            let proof = p.decode_proof()?;
            curtain_circuits::verify(vk, &p.statement, &proof)?;
        }
        Ok(recover_secret(s1, s2)?)
    }
}

/// Why slashing evidence does not hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("a statement is not bound to its ciphertext id")]
    Unbound,
    #[error("a proof does not decode: {0}")]
    Proof(#[from] curtain_circuits::DecodeError),
    #[error("a proof does not verify: {0}")]
    Verify(#[from] curtain_circuits::VerifyError),
    #[error("the two statements do not give the secret: {0}")]
    Recover(#[from] curtain_circuits::RecoverError),
}

/// Why an anonymous envelope could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the sender tag is too long for a label")]
    SenderTooLong,
    #[error("the identity does not decode: {0}")]
    Identity(#[from] curtain_circuits::DecodeError),
    #[error("encryption: {0}")]
    Encrypt(#[from] curtain_crypto::EncryptError),
    #[error("the identity's leaf is not in the tree: {0}")]
    Tree(#[from] curtain_circuits::TreeError),
    #[error("proving: {0}")]
    Prove(#[from] curtain_circuits::ProveError),
}

/// What a wallet needs to make an anonymous envelope, besides the plaintext.
pub struct Membership<'a> {
    pub identity: &'a curtain_circuits::Identity,
    /// The members' tree as the wallet rebuilt it (its root must be one the committee accepts).
    pub tree: &'a MerkleTree,
    /// The identity's leaf index in `tree`.
    pub index: u64,
    pub epoch: u64,
    /// Message index `k < limit` (one per message in an epoch; reusing one is a double signal).
    pub message_index: u32,
}

/// The nullifier of `(identity, epoch, k)`: what the envelope's label carries as its sender tag.
pub fn nullifier_of(identity: &curtain_circuits::Identity, epoch: u64, k: u32) -> [u8; 32] {
    // the nullifier does not depend on the signal: any x gives it
    let path = MerkleTree::new(1)
        .expect("depth 1")
        .path(0)
        .expect("index 0");
    let w = curtain_circuits::Witness {
        identity,
        path: &path,
        root: Fr::from(0u64),
        epoch,
        message_index: k,
        signal: Fr::from(0u64),
    };
    fr_to_be_bytes(&w.statement().nullifier)
}

/// Encrypts `payload` to an anonymous namespace and proves membership for it: the label's
/// sender is the nullifier, `x = signal_hash(ciphertext id)`. Proving takes ~0.5 s at depth
/// 20: call it off an async runtime.
#[allow(clippy::too_many_arguments)]
pub fn seal_anonymous<R: rand_core::CryptoRng + ?Sized>(
    key: &curtain_crypto::CommitteeKey,
    key_epoch: KeyEpoch,
    namespace: Namespace,
    payload: &[u8],
    m: &Membership<'_>,
    pk: &curtain_circuits::ProvingKey,
    rng: &mut R,
) -> Result<Envelope, SealError> {
    let sender = nullifier_of(m.identity, m.epoch, m.message_index);
    let label = curtain_crypto::Label::new(key.id(), key_epoch, namespace, &sender)
        .ok_or(SealError::SenderTooLong)?;
    let ct = curtain_crypto::encrypt(
        key.encryption_key(),
        &label,
        payload,
        curtain_crypto::Padding::Buckets,
        rng,
    )?;
    let path = m.tree.path(m.index)?;
    let witness = curtain_circuits::Witness {
        identity: m.identity,
        path: &path,
        root: m.tree.root(),
        epoch: m.epoch,
        message_index: m.message_index,
        signal: signal_hash(&ct.id()),
    };
    let proof = curtain_circuits::prove(pk, &witness, rng)?;
    Ok(Envelope::anonymous(
        ct.encoded().clone(),
        RlnProof::new(witness.statement(), &proof),
    ))
}
