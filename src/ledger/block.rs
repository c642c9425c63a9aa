//! Blocks: what the committee orders. A block lists ciphertext ids (not bodies) grouped by
//! namespace; bodies travel through the mempool and are fetched before voting.
//!
//! Canonical encoding (SPEC.md §Blocks): `version ‖ parent(32) ‖ height(u64) ‖ n_ns(u32) ‖
//! n_ns × (namespace(u64) ‖ count(u32) ‖ count × id(32))`, namespaces strictly increasing,
//! every group non-empty, no id twice. The digest is SHA-256 over a DST and the encoding.

use super::envelope::Verified;
use super::rln::RlnReject;
use super::{CtId, Digest, Height, KeyEpoch};
use curtain_crypto::{encoding::Reader, DecodeError, Namespace};
use sha2::{Digest as _, Sha256};
use std::collections::HashSet;
use std::sync::Arc;

const BLOCK_VERSION: u8 = 1;
/// A block with anonymous entries: version 1's layout followed by the digest of their RLN
/// proofs (see [`super::envelope::admissions_digest`]).
const BLOCK_VERSION_RLN: u8 = 2;
const DST_BLOCK: &[u8] = b"curtain/v1/block";

/// Upper bounds a block must respect; part of the committee's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockLimits {
    /// Ciphertexts per block.
    pub max_ciphertexts: usize,
    /// Sum of the encoded sizes of the block's ciphertexts.
    pub max_bytes: usize,
    /// Distinct namespaces per block.
    pub max_namespaces: usize,
}

impl Default for BlockLimits {
    fn default() -> Self {
        Self {
            max_ciphertexts: 2048,
            max_bytes: 4 << 20,
            max_namespaces: 256,
        }
    }
}

/// The ids of one namespace's ciphertexts in a block, in their committed order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceBatch {
    pub namespace: Namespace,
    pub ids: Vec<CtId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub parent: Digest,
    pub height: Height,
    pub batches: Vec<NamespaceBatch>,
    /// Digest of the anonymous entries' RLN proofs, so the block commits to them too.
    pub admissions: Option<[u8; 32]>,
    digest: Digest,
}

impl Block {
    /// Height 0, no parent, no ciphertexts: the root every chain starts from.
    pub fn genesis() -> Self {
        Self::new(Digest::default(), Height(0), Vec::new())
    }

    /// Builds a block; callers pass canonical batches (see [`Block::check_shape`]).
    pub fn new(parent: Digest, height: Height, batches: Vec<NamespaceBatch>) -> Self {
        Self::with_admissions(parent, height, batches, None)
    }

    /// A block whose anonymous entries' proofs digest to `admissions`.
    pub fn with_admissions(
        parent: Digest,
        height: Height,
        batches: Vec<NamespaceBatch>,
        admissions: Option<[u8; 32]>,
    ) -> Self {
        let mut b = Self {
            parent,
            height,
            batches,
            admissions,
            digest: Digest::default(),
        };
        b.digest = Digest(
            Sha256::new_with_prefix(DST_BLOCK)
                .chain_update(b.to_bytes())
                .finalize()
                .into(),
        );
        b
    }

    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// Ciphertext ids in committed order: namespaces ascending, each in its listed order.
    pub fn ids(&self) -> impl Iterator<Item = &CtId> {
        self.batches.iter().flat_map(|b| b.ids.iter())
    }

    pub fn len(&self) -> usize {
        self.batches.iter().map(|b| b.ids.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.batches.is_empty()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(77 + 12 * self.batches.len() + 32 * self.len());
        out.push(if self.admissions.is_some() {
            BLOCK_VERSION_RLN
        } else {
            BLOCK_VERSION
        });
        out.extend_from_slice(&self.parent.0);
        out.extend_from_slice(&self.height.to_be_bytes());
        out.extend_from_slice(&(self.batches.len() as u32).to_be_bytes());
        for b in &self.batches {
            out.extend_from_slice(&b.namespace.to_be_bytes());
            out.extend_from_slice(&(b.ids.len() as u32).to_be_bytes());
            for id in &b.ids {
                out.extend_from_slice(id);
            }
        }
        if let Some(a) = &self.admissions {
            out.extend_from_slice(a);
        }
        out
    }

    /// Decodes and checks the shape against `limits` (counts are capped before allocation).
    pub fn from_bytes(bytes: &[u8], limits: &BlockLimits) -> Result<Self, BlockError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("block version")?;
        if version != BLOCK_VERSION && version != BLOCK_VERSION_RLN {
            return Err(DecodeError::Invalid {
                field: "block version",
                reason: "unknown version",
            }
            .into());
        }
        let parent = Digest(r.array("block parent")?);
        let height = Height(r.u64("block height")?);
        let n_ns = r.len_u32("block namespaces", 0, limits.max_namespaces)?;
        let mut batches = Vec::with_capacity(n_ns);
        let mut total = 0usize;
        for _ in 0..n_ns {
            let namespace = Namespace(r.u64("block namespace")?);
            let count = r.len_u32("block namespace ids", 1, limits.max_ciphertexts - total)?;
            total += count;
            let ids = (0..count)
                .map(|_| r.array::<32>("block ciphertext id"))
                .collect::<Result<Vec<_>, _>>()?;
            batches.push(NamespaceBatch { namespace, ids });
        }
        let admissions = if version == BLOCK_VERSION_RLN {
            Some(r.array("block admissions")?)
        } else {
            None
        };
        r.finish()?;
        let block = Self::with_admissions(parent, height, batches, admissions);
        block.check_shape(limits)?;
        Ok(block)
    }

    /// Canonical form and counts: namespaces strictly increasing, groups non-empty, no
    /// duplicate id, within the count limits.
    pub fn check_shape(&self, limits: &BlockLimits) -> Result<(), BlockError> {
        if self.batches.len() > limits.max_namespaces {
            return Err(BlockError::TooManyNamespaces(self.batches.len()));
        }
        if self.len() > limits.max_ciphertexts {
            return Err(BlockError::TooManyCiphertexts(self.len()));
        }
        if self.batches.iter().any(|b| b.ids.is_empty()) {
            return Err(BlockError::EmptyNamespace);
        }
        if self
            .batches
            .windows(2)
            .any(|w| w[0].namespace >= w[1].namespace)
        {
            return Err(BlockError::NamespacesNotSorted);
        }
        let mut seen = HashSet::with_capacity(self.len());
        if let Some(id) = self.ids().find(|id| !seen.insert(**id)) {
            return Err(BlockError::Duplicate(*id));
        }
        Ok(())
    }
}

/// Where a ciphertext id stands, as far as the checking member knows.
pub enum Lookup {
    /// Admitted and not yet in a finalized block.
    Pending(Arc<Verified>),
    /// Already in a finalized block.
    Finalized,
    /// Not known here: fetch it before voting.
    Unknown,
}

/// Full check of a proposal against its parent: shape, chain position, and every ciphertext
/// known, valid (mempool entries are verified on admission), in its namespace, not already
/// finalized and not in an unfinalized ancestor. Returns the ciphertexts in committed order.
pub fn check_proposal(
    block: &Block,
    parent: &Block,
    limits: &BlockLimits,
    in_ancestors: &HashSet<CtId>,
    lookup: impl Fn(&CtId) -> Lookup,
) -> Result<Vec<Arc<Verified>>, BlockError> {
    block.check_shape(limits)?;
    if block.parent != parent.digest() || block.height != parent.height + 1 {
        return Err(BlockError::WrongParent);
    }
    let mut out = Vec::with_capacity(block.len());
    let mut missing = Vec::new();
    let mut bytes = 0usize;
    for batch in &block.batches {
        for id in &batch.ids {
            if in_ancestors.contains(id) {
                return Err(BlockError::AlreadyOrdered(*id));
            }
            match lookup(id) {
                Lookup::Pending(ct) => {
                    if ct.label().namespace() != batch.namespace {
                        return Err(BlockError::WrongNamespace(*id));
                    }
                    bytes += ct.envelope_len();
                    out.push(ct);
                }
                Lookup::Finalized => return Err(BlockError::AlreadyOrdered(*id)),
                Lookup::Unknown => missing.push(*id),
            }
        }
    }
    if !missing.is_empty() {
        return Err(BlockError::Missing(missing));
    }
    if bytes > limits.max_bytes {
        return Err(BlockError::TooLarge(bytes));
    }
    Ok(out)
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    #[error("malformed block: {0}")]
    Decode(#[from] DecodeError),
    #[error("{0} namespaces exceed the limit")]
    TooManyNamespaces(usize),
    #[error("{0} ciphertexts exceed the limit")]
    TooManyCiphertexts(usize),
    #[error("{0} bytes of ciphertexts exceed the limit")]
    TooLarge(usize),
    #[error("a namespace group is empty")]
    EmptyNamespace,
    #[error("namespaces are not strictly increasing")]
    NamespacesNotSorted,
    #[error("ciphertext {} listed twice", hex::encode(.0))]
    Duplicate(CtId),
    #[error("parent digest or height does not follow the parent")]
    WrongParent,
    #[error("ciphertext {} is listed under another namespace than its label's", hex::encode(.0))]
    WrongNamespace(CtId),
    #[error("ciphertext {} is already ordered", hex::encode(.0))]
    AlreadyOrdered(CtId),
    #[error("{} ciphertexts unknown here", .0.len())]
    Missing(Vec<CtId>),
    #[error("the block's bodies are not its listed ciphertexts")]
    BodiesMismatch,
    #[error("a body is for key epoch {0}, which is not open here")]
    UnknownEpoch(KeyEpoch),
    #[error(
        "a body is labelled for key epoch {epoch}, which a block at height {height} does not carry"
    )]
    LabelEpoch { epoch: KeyEpoch, height: Height },
    #[error("ciphertext {} fails the validity check", hex::encode(.0))]
    InvalidCiphertext(CtId),
    #[error("anonymous entry {}: {}", hex::encode(.0), .1)]
    Rln(CtId, RlnReject),
    #[error("the members' registry here is not released up to height {0} yet")]
    RegistryBehind(Height),
    #[error("the block's admissions digest does not match its bodies' proofs")]
    AdmissionsMismatch,
}
