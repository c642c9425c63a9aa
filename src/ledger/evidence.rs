//! Evidence (SPEC.md §2.6): a fault a member (or an anonymous sender) committed, in a
//! canonical, versioned encoding that anyone holding the committee's public description
//! (what `GET /v1/committee` serves, pinned by its identity) checks without a node.
//!
//! Kinds, each proving what it says and nothing more:
//! - **wrong shares**: a share batch signed by member `i` for a block, the block, and its
//!   ciphertexts; the batch fails the check against `i`'s verification key.
//! - **equivocation**: two conflicting consensus votes of member `i` for one round (two
//!   notarizes or two finalizes of different proposals, or a nullify and a finalize), as
//!   commonware simplex reports them, checked against the consensus public polynomial
//!   ([`super::votes`]).
//! - **double signal** (RLN): two valid signals of one anonymous sender with one nullifier;
//!   it names the sender, not a member.
//!
//! Encoding: `version(1) ‖ kind(1) ‖ body`; the id is `SHA-256("curtain/v1/evidence" ‖
//! encoding)`, so the same fault seen by several members is one piece of evidence.

use super::block::{Block, BlockLimits};
use super::committee::CheckedCommittee;
use super::rln::{EvidenceError as RlnEvidenceError, SlashingEvidence};
use super::signed::SignedBatch;
use super::votes::{Conflict, VoteError};
use super::KeyEpoch;
use curtain_circuits::VerifyingKey;
use curtain_crypto::encoding::Reader;
use curtain_crypto::{check_share_batch, DecodeError, EncodedCiphertext, FaultReason};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub const EVIDENCE_VERSION: u8 = 1;
const DST_EVIDENCE_ID: &[u8] = b"curtain/v1/evidence";
/// Longest evidence accepted: a wrong batch for a block of the largest size, with its
/// ciphertexts (2 048 × 2 KiB bodies and 96-byte shares fit several times over).
pub const MAX_EVIDENCE_LEN: usize = 32 << 20;
/// Ciphertexts a block in evidence may hold (bounds allocation before anything is checked;
/// a committee's own limit is lower).
const MAX_EVIDENCE_CIPHERTEXTS: usize = 1 << 16;

/// What a piece of evidence is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    WrongShares,
    Equivocation,
    DoubleSignal,
}

impl EvidenceKind {
    pub const ALL: [Self; 3] = [Self::WrongShares, Self::Equivocation, Self::DoubleSignal];

    /// The kind byte of the encoding.
    pub const fn code(self) -> u8 {
        match self {
            Self::WrongShares => 1,
            Self::Equivocation => 2,
            Self::DoubleSignal => 4,
        }
    }

    /// Stable name (API query parameter, metric label).
    pub const fn name(self) -> &'static str {
        match self {
            Self::WrongShares => "wrong_shares",
            Self::Equivocation => "equivocation",
            Self::DoubleSignal => "double_signal",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// Whom a piece of evidence accuses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accused {
    /// Member `index` of the committee of key epoch `key_epoch`.
    Member { key_epoch: KeyEpoch, index: u32 },
    /// An anonymous sender, named by the nullifier it reused.
    Sender {
        #[serde(with = "hex32")]
        nullifier: [u8; 32],
    },
}

impl Accused {
    /// The member index, if a member is accused.
    pub fn member(&self) -> Option<u32> {
        match self {
            Self::Member { index, .. } => Some(*index),
            Self::Sender { .. } => None,
        }
    }
}

mod hex32 {
    use serde::{de::Error as _, Deserialize, Deserializer, Serializer};
    pub(super) fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(&text)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| D::Error::custom("not 32 hex bytes"))
    }
}

/// A signed share batch that fails the check against its member's verification key, with
/// the block it claims to be for and that block's ciphertexts in committed order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrongShares {
    signed: SignedBatch,
    block: Block,
    ciphertexts: Vec<EncodedCiphertext>,
}

impl WrongShares {
    /// `ciphertexts` must be the block's, in its order (checked by [`Self::verify`]).
    pub fn new(signed: SignedBatch, block: Block, ciphertexts: Vec<EncodedCiphertext>) -> Self {
        Self {
            signed,
            block,
            ciphertexts,
        }
    }

    pub fn signed(&self) -> &SignedBatch {
        &self.signed
    }
    pub fn block(&self) -> &Block {
        &self.block
    }
    pub fn ciphertexts(&self) -> &[EncodedCiphertext] {
        &self.ciphertexts
    }

    /// Checks it against the committee of its key epoch: the batch is signed by the member it
    /// names, for this block (digest, height, batch id), the ciphertexts are the block's, and
    /// the shares are wrong. Returns why they are wrong.
    pub fn verify<R: CryptoRng + ?Sized>(
        &self,
        committee: &CheckedCommittee,
        rng: &mut R,
    ) -> Result<FaultReason, EvidenceError> {
        let s = &self.signed;
        if s.key_epoch() != committee.key_epoch {
            return Err(EvidenceError::WrongCommittee {
                evidence: s.key_epoch(),
                committee: committee.key_epoch,
            });
        }
        let identity =
            committee
                .members
                .get(s.member() as usize)
                .ok_or(EvidenceError::UnknownMember {
                    index: s.member(),
                    n: committee.members.len() as u32,
                })?;
        if !s.verify(&committee.id, identity) {
            return Err(EvidenceError::BadSignature);
        }
        if self.block.digest() != s.block() || self.block.height != s.height() {
            return Err(EvidenceError::NotTheBlock);
        }
        if self.ciphertexts.len() != self.block.len() {
            return Err(EvidenceError::NotTheCiphertexts { position: None });
        }
        let mut cts = Vec::with_capacity(self.ciphertexts.len());
        for (position, (ct, id)) in self.ciphertexts.iter().zip(self.block.ids()).enumerate() {
            let wrong = EvidenceError::NotTheCiphertexts {
                position: Some(position as u32),
            };
            if ct.id() != *id {
                return Err(wrong);
            }
            cts.push(ct.decode().map_err(|_| wrong)?);
        }
        match check_share_batch(&committee.key, &cts, s.batch(), rng) {
            Ok(()) => Err(EvidenceError::NotWrong),
            Err(FaultReason::UnknownMember { member, n }) => {
                Err(EvidenceError::UnknownMember { index: member, n })
            }
            Err(reason) => Ok(reason),
        }
    }

    /// `len(4) ‖ SignedBatch ‖ len(4) ‖ Block ‖ count(4) ‖ count × (len(4) ‖ ciphertext)`.
    fn write(&self, out: &mut Vec<u8>) {
        put_bytes(out, &self.signed.to_bytes());
        put_bytes(out, &self.block.to_bytes());
        out.extend_from_slice(&(self.ciphertexts.len() as u32).to_be_bytes());
        for ct in &self.ciphertexts {
            put_bytes(out, ct.as_bytes());
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, EvidenceError> {
        let len = r.len_u32("evidence batch", 1, MAX_EVIDENCE_LEN)?;
        let signed = SignedBatch::from_bytes_capped(
            r.take(len, "evidence batch")?,
            MAX_EVIDENCE_CIPHERTEXTS,
        )?;
        let len = r.len_u32("evidence block", 1, MAX_EVIDENCE_LEN)?;
        let limits = BlockLimits {
            max_ciphertexts: MAX_EVIDENCE_CIPHERTEXTS,
            max_bytes: MAX_EVIDENCE_LEN,
            max_namespaces: MAX_EVIDENCE_CIPHERTEXTS,
        };
        let block = Block::from_bytes(r.take(len, "evidence block")?, &limits)
            .map_err(|_| EvidenceError::Malformed("evidence block"))?;
        let count = r.len_u32("evidence ciphertexts", 0, MAX_EVIDENCE_CIPHERTEXTS)?;
        let mut ciphertexts = Vec::with_capacity(count.min(r.remaining() / 4));
        for _ in 0..count {
            let len = r.len_u32("evidence ciphertext", 1, MAX_EVIDENCE_LEN)?;
            ciphertexts.push(EncodedCiphertext::parse(
                r.take(len, "evidence ciphertext")?,
            )?);
        }
        Ok(Self {
            signed,
            block,
            ciphertexts,
        })
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// One piece of evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    WrongShares(Box<WrongShares>),
    Equivocation(Box<Conflict>),
    DoubleSignal(Box<SlashingEvidence>),
}

impl From<SlashingEvidence> for Evidence {
    fn from(e: SlashingEvidence) -> Self {
        Self::DoubleSignal(Box::new(e))
    }
}

/// What evidence is checked against: the committees of the key epochs it may name, and the
/// RLN verifying key for anonymous senders' evidence.
#[derive(Clone, Copy)]
pub struct Judge<'a> {
    pub committees: &'a [CheckedCommittee],
    pub rln: Option<&'a VerifyingKey>,
}

impl Judge<'_> {
    fn committee(&self, epoch: KeyEpoch) -> Result<&CheckedCommittee, EvidenceError> {
        self.committees
            .iter()
            .find(|c| c.key_epoch == epoch)
            .ok_or(EvidenceError::NoCommittee(epoch))
    }
}

/// What a verified piece of evidence proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub accused: Accused,
    /// The fault, in words.
    pub fault: String,
}

impl Evidence {
    pub fn kind(&self) -> EvidenceKind {
        match self {
            Self::WrongShares(_) => EvidenceKind::WrongShares,
            Self::Equivocation(_) => EvidenceKind::Equivocation,
            Self::DoubleSignal(_) => EvidenceKind::DoubleSignal,
        }
    }

    /// Whom it names (before any check: [`Self::verify`] says whether it holds).
    pub fn accused(&self) -> Accused {
        match self {
            Self::WrongShares(w) => Accused::Member {
                key_epoch: w.signed.key_epoch(),
                index: w.signed.member(),
            },
            // consensus epochs are key epochs (SPEC.md §9.8)
            Self::Equivocation(c) => Accused::Member {
                key_epoch: KeyEpoch(c.first().round().0),
                index: c.first().signer,
            },
            Self::DoubleSignal(d) => Accused::Sender {
                nullifier: d.first.1.nullifier(),
            },
        }
    }

    /// The height it concerns, if any.
    pub fn height(&self) -> Option<super::Height> {
        match self {
            Self::WrongShares(w) => Some(w.signed.height()),
            Self::Equivocation(_) | Self::DoubleSignal(_) => None,
        }
    }

    /// Checks it; `Ok` says whom it proves faulty and of what.
    pub fn verify<R: CryptoRng + ?Sized>(
        &self,
        judge: &Judge<'_>,
        rng: &mut R,
    ) -> Result<Verdict, EvidenceError> {
        let fault = match self {
            Self::WrongShares(w) => {
                let committee = judge.committee(w.signed.key_epoch())?;
                format!("wrong share batch: {}", w.verify(committee, rng)?)
            }
            Self::Equivocation(c) => {
                let committee = judge.committee(KeyEpoch(c.first().round().0))?;
                let a = c.verify(&committee.consensus)?;
                format!(
                    "conflicting votes ({:?}) at epoch {} view {}",
                    c.kind(),
                    a.epoch,
                    a.view
                )
            }
            Self::DoubleSignal(d) => {
                let vk = judge.rln.ok_or(EvidenceError::NoRlnKey)?;
                d.verify(vk)?;
                "two signals with one nullifier (RLN quota exceeded)".to_owned()
            }
        };
        Ok(Verdict {
            accused: self.accused(),
            fault,
        })
    }

    /// `version(1) ‖ kind(1) ‖ body`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![EVIDENCE_VERSION, self.kind().code()];
        match self {
            Self::WrongShares(w) => w.write(&mut out),
            Self::Equivocation(c) => out.extend_from_slice(&c.to_bytes()),
            Self::DoubleSignal(d) => out.extend_from_slice(&d.to_bytes()),
        }
        out
    }

    /// Decodes exactly one piece of evidence (bounded; nothing is checked but the form).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EvidenceError> {
        if bytes.len() > MAX_EVIDENCE_LEN {
            return Err(EvidenceError::TooLong(bytes.len()));
        }
        let mut r = Reader::new(bytes);
        r.version("evidence", EVIDENCE_VERSION)?;
        let kind = r.u8("evidence kind")?;
        let evidence = match kind {
            k if k == EvidenceKind::WrongShares.code() => {
                Self::WrongShares(Box::new(WrongShares::read(&mut r)?))
            }
            k if k == EvidenceKind::Equivocation.code() => {
                let body = r.take(r.remaining(), "evidence body")?;
                Self::Equivocation(Box::new(Conflict::from_bytes(body)?))
            }
            k if k == EvidenceKind::DoubleSignal.code() => {
                let body = r.take(r.remaining(), "evidence body")?;
                Self::DoubleSignal(Box::new(SlashingEvidence::from_bytes(body)?))
            }
            _ => return Err(EvidenceError::UnknownKind(kind)),
        };
        r.finish()?;
        Ok(evidence)
    }

    /// `SHA-256("curtain/v1/evidence" ‖ encoding)`.
    pub fn id(&self) -> [u8; 32] {
        id_of(&self.to_bytes())
    }
}

/// The id of an encoded piece of evidence.
pub fn id_of(encoded: &[u8]) -> [u8; 32] {
    Sha256::new_with_prefix(DST_EVIDENCE_ID)
        .chain_update(encoded)
        .finalize()
        .into()
}

/// Why a piece of evidence does not hold (or cannot be checked here).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("malformed: {0}")]
    Decode(#[from] DecodeError),
    #[error("malformed: {0}")]
    Malformed(&'static str),
    #[error("{0} bytes is more than evidence may be")]
    TooLong(usize),
    #[error("unknown evidence kind {0}")]
    UnknownKind(u8),
    #[error(
        "evidence of key epoch {evidence} checked against the committee of key epoch {committee}"
    )]
    WrongCommittee {
        evidence: KeyEpoch,
        committee: KeyEpoch,
    },
    #[error("no committee of key epoch {0} was given")]
    NoCommittee(KeyEpoch),
    #[error("member {index} is not in a committee of {n}")]
    UnknownMember { index: u32, n: u32 },
    #[error("the signature is not the accused member's")]
    BadSignature,
    #[error("the block is not the one the batch was signed for")]
    NotTheBlock,
    #[error("the ciphertexts are not the block's (position {position:?})")]
    NotTheCiphertexts { position: Option<u32> },
    #[error("the share batch is correct: no fault")]
    NotWrong,
    #[error("equivocation: {0}")]
    Vote(#[from] VoteError),
    #[error("double signal: {0}")]
    DoubleSignal(#[from] RlnEvidenceError),
    #[error("anonymous senders' evidence needs the RLN verifying key")]
    NoRlnKey,
}
