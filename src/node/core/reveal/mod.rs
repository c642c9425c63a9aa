//! Reveal and collect: a member's decryption shares exist only for a [`FinalizedBlock`], a
//! value only the finalization path can construct; the collector gathers every member's share
//! batches, combines them optimistically, names faulty members, and emits released batches in
//! height order.

use super::attest::Attestor;
use super::chain::{verify_ciphertexts, ChainBlock};
use super::epochs::EpochTable;
use crate::ledger::block::{Block, BlockError};
use crate::ledger::envelope::Verified;
use crate::ledger::evidence::{Evidence, WrongShares};
use crate::ledger::release::{ReleasedBatch, ReleasedEntry, ReleasedNamespace};
pub use crate::ledger::signed::batch_id;
use crate::ledger::signed::SignedBatch;
use crate::ledger::{CtId, Digest, Height, KeyEpoch};
use curtain_crypto::{
    combine, CombineError, CommitteeKey, KeyShare, Namespace, ShareBatch, VerifiedCiphertext,
};
use rand_core::CryptoRng;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

mod collector;

pub use collector::{Collector, CollectorConfig};

/// A block the consensus engine reported final, with its certificate and its ciphertexts in
/// committed order. The constructor is private to the node: only the finalization handler of
/// the ordering layer makes one, so shares cannot be produced for a merely proposed or
/// notarized block.
#[derive(Clone, Debug)]
pub struct FinalizedBlock {
    block: Block,
    certificate: Vec<u8>,
    cts: Vec<Arc<Verified>>,
}

impl FinalizedBlock {
    /// Only for [`super::member::Member::on_finalized`] (and the cores' tests).
    pub(in crate::node) fn new(
        block: Block,
        certificate: Vec<u8>,
        cts: Vec<Arc<Verified>>,
    ) -> Self {
        debug_assert!(block
            .ids()
            .eq(cts.iter().map(|c| c.id()).collect::<Vec<_>>().iter()));
        Self {
            block,
            certificate,
            cts,
        }
    }
    pub fn block(&self) -> &Block {
        &self.block
    }
    pub fn height(&self) -> u64 {
        self.block.height.get()
    }
    pub fn certificate(&self) -> &[u8] {
        &self.certificate
    }
    pub fn ciphertexts(&self) -> &[Arc<Verified>] {
        &self.cts
    }
}

/// This member's share batch for a finalized block decrypted by the committee of key epoch
/// `epoch` (the one active at its height), if it holds a share of that epoch.
pub fn reveal(
    shares: &BTreeMap<KeyEpoch, Arc<KeyShare>>,
    epoch: KeyEpoch,
    fin: &FinalizedBlock,
) -> Vec<ShareBatch> {
    groups(fin, epoch)
        .into_iter()
        .filter_map(|(epoch, (_, cts))| {
            let share = shares.get(&epoch)?;
            Some(share.decryption_shares(batch_id(&fin.block.digest(), epoch), &cts))
        })
        .collect()
}

/// The block's ciphertexts by the key epoch whose committee decrypts them: positions in block
/// order and the ciphertexts. A resharing keeps the encryption key, so the committee active at
/// the block's height (`epoch`) decrypts every ciphertext of the block, whatever its label's
/// epoch (SPEC.md §9.8): one group, or none for an empty block.
type Groups = BTreeMap<KeyEpoch, (Vec<usize>, Vec<VerifiedCiphertext>)>;

fn groups(fin: &FinalizedBlock, epoch: KeyEpoch) -> Groups {
    let mut g = Groups::new();
    for (i, ct) in fin.cts.iter().enumerate() {
        let e = g.entry(epoch).or_default();
        e.0.push(i);
        e.1.push(ct.ciphertext().clone());
    }
    g
}

/// Whether member `index` is one of the `t` members that share for `height` at once (SPEC
/// §5.3): a window of `t` consecutive indices that moves by one per height, so every member
/// shares for `t` heights out of `n`. The others share only when a height stalls.
pub fn designated(height: u64, index: u32, n: usize, t: usize) -> bool {
    let n = n as u64;
    (u64::from(index) + n - height % n) % n < t as u64
}

/// What the actors must do after a collector step.
#[derive(Clone, Debug)]
pub enum Effect {
    /// Send this member's batch to every other member.
    Broadcast(SignedBatch),
    /// Persist and publish, in this order (heights are consecutive).
    Release(ReleasedBatch),
    /// Persist and serve: a member signed a wrong batch (verified evidence).
    Fault(Evidence),
}

/// How [`Collector::on_request`] answers a peer's request for this member's batch.
#[derive(Debug)]
pub enum Answer {
    /// Send it to the asker.
    Batch(SignedBatch),
    /// Made now: the effects broadcast it (others at that height may wait too) and may
    /// release heights it completed here.
    Made(Vec<Effect>),
    /// A height released here lately whose batch this member no longer keeps: the actors
    /// fetches the block from the finalized-block store and recomputes the batch with this,
    /// outside the collector (and any lock around it), then hands it back with
    /// [`Collector::recomputed`].
    Recompute(Resharer),
    /// This member holds no share of the batch's key epoch.
    NoShare,
    /// Not answered (SPEC.md §5.3).
    Unanswered(Unanswered),
}

/// Why a peer's request for a batch is not answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unanswered {
    /// Not a batch of a height pending here or released in the last `RESHARE_WINDOW`
    /// heights (a random or stale id costs a lookup, nothing more).
    Unknown,
    /// The peer asked for more recomputations than its budget allows.
    RateLimited,
}

/// Heights below the next release whose batches a member still recomputes for a peer: a peer
/// asks only for heights it is stalled on, which are recent.
pub const RESHARE_WINDOW: u64 = 256;
/// Recomputed batches kept, so peers asking for the same height cost one recomputation.
const RESHARE_CACHE: usize = 16;
/// Each peer's recomputation budget: a token every `RESHARE_REFILL_MS`, at most
/// `RESHARE_BURST` saved.
const RESHARE_REFILL_MS: u64 = 500;
const RESHARE_BURST: u64 = 4;

/// What recomputing this member's batch for a released height needs, taken out of the
/// collector so the work (a batched validity check and one constant-time multiplication per
/// ciphertext) runs without holding it.
pub struct Resharer {
    height: u64,
    batch_id: [u8; 32],
    epoch: KeyEpoch,
    share: Arc<KeyShare>,
    keys: BTreeMap<KeyEpoch, Arc<CommitteeKey>>,
    attestor: Attestor,
}

impl std::fmt::Debug for Resharer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resharer")
            .field("height", &self.height)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// Why a recomputation produced nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReshareError {
    #[error("the block is not the one released at height {0}")]
    WrongBlock(u64),
    #[error("a body of the stored block does not verify: {0}")]
    Invalid(#[from] BlockError),
    #[error("no committee of key epoch {0} to sign for")]
    UnknownEpoch(KeyEpoch),
}

impl Resharer {
    pub fn height(&self) -> u64 {
        self.height
    }

    /// This member's batch for `block`, which must be the block released at the height (its
    /// batch id is checked against the one recorded at release, so any other block gets
    /// nothing). Its bodies are checked again: a share is made only for verified
    /// ciphertexts.
    pub fn reshare<R: CryptoRng + ?Sized>(
        &self,
        block: &ChainBlock,
        rng: &mut R,
    ) -> Result<SignedBatch, ReshareError> {
        let b = block.block();
        if b.height.get() != self.height || batch_id(&b.digest(), self.epoch) != self.batch_id {
            return Err(ReshareError::WrongBlock(self.height));
        }
        let cts = verify_ciphertexts(block.bodies(), &self.keys, rng)?;
        let mine = self.share.decryption_shares(self.batch_id, &cts);
        self.attestor
            .sign_batch(self.epoch, b.height, b.digest(), mine)
            .ok_or(ReshareError::UnknownEpoch(self.epoch))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    #[error("batch claims member {claimed} but came from member {from}")]
    Impersonation { from: u32, claimed: u32 },
    #[error("batch from member {from} is not signed by it for a committee known here")]
    BadSignature { from: u32 },
    #[error("batch from member {from} is signed for another height than its block's ({height})")]
    WrongHeight { from: u32, height: u64 },
    #[error("no open key epoch for this batch")]
    UnknownEpoch(KeyEpoch),
}
