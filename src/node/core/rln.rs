//! Anonymous admission's state, as a pure core (SPEC.md §8.11): the members' registry (a
//! Merkle tree every member builds identically from released registration transactions, in
//! release order), the per-epoch nullifiers of pending and ordered entries, and slashing
//! evidence. The mempool consults it on admission and when checking and building blocks. The
//! node-free parts (rejections, registry transactions, evidence, sealing) are in
//! `crate::ledger::rln`, re-exported here.

use crate::ledger::envelope::RlnProof;
use crate::ledger::CtId;
use curtain_circuits::{
    commitment, fr_from_be_bytes, fr_to_be_bytes, Fr, MerkleTree, Statement, VerifyingKey,
};
use curtain_crypto::{DecodeError, Namespace};
use std::collections::BTreeSet;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

pub use crate::ledger::rln::*;

/// A committee's RLN settings (the checked `rln` section of its committee file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RlnSettings {
    pub circuit_digest: [u8; 32],
    pub registry_namespace: Namespace,
    pub epoch_blocks: u64,
    pub root_window: usize,
    pub root_lag: u64,
    /// The anonymous namespaces.
    pub anonymous: BTreeSet<Namespace>,
}

/// The RLN rules of a committee with its pinned verifying key.
#[derive(Clone)]
pub struct RlnRules {
    pub(in crate::node::core) settings: RlnSettings,
    pub(in crate::node::core) vk: Arc<VerifyingKey>,
}

impl RlnRules {
    /// Refuses a verifying key whose digest is not the committee's.
    pub fn new(settings: RlnSettings, vk: VerifyingKey) -> Result<Self, RlnRulesError> {
        if settings.epoch_blocks == 0 || settings.root_window == 0 {
            return Err(RlnRulesError::ZeroPeriod);
        }
        if vk.digest() != settings.circuit_digest {
            return Err(RlnRulesError::CircuitDigest {
                key: vk.digest(),
                pinned: settings.circuit_digest,
            });
        }
        Ok(Self {
            settings,
            vk: Arc::new(vk),
        })
    }

    pub fn settings(&self) -> &RlnSettings {
        &self.settings
    }

    pub fn is_anonymous(&self, ns: Namespace) -> bool {
        self.settings.anonymous.contains(&ns)
    }

    /// The RLN epoch of a block at `height`.
    pub fn epoch_of(&self, height: u64) -> u64 {
        height / self.settings.epoch_blocks
    }

    /// A block at `height` may carry proofs for its epoch and the one before (a proof made
    /// just before a boundary stays usable for one epoch).
    pub fn block_epochs(&self, height: u64) -> std::ops::RangeInclusive<u64> {
        let e = self.epoch_of(height);
        e.saturating_sub(1)..=e
    }
}

/// Why RLN rules cannot be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RlnRulesError {
    #[error("rln: epoch_blocks and root_window must be at least 1")]
    ZeroPeriod,
    #[error(
        "RLN verifying key has circuit digest {}, the committee pins {}",
        hex::encode(.key),
        hex::encode(.pinned)
    )]
    CircuitDigest { key: [u8; 32], pinned: [u8; 32] },
}

/// Why a released registry transaction changed nothing (every member decides alike).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Ignored {
    #[error("undecodable: {0}")]
    Undecodable(DecodeError),
    #[error("commitment not below r")]
    CommitmentRange,
    #[error("zero commitment or limit out of range")]
    ZeroOrLimit,
    #[error("already registered")]
    AlreadyRegistered,
    #[error("tree: {0}")]
    Tree(curtain_circuits::TreeError),
    #[error("evidence: {0}")]
    Evidence(EvidenceError),
    #[error("no live member has that secret")]
    NoSuchMember,
}

/// What applying a released registry transaction did (for logs and the API).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryEvent {
    Registered {
        index: u64,
        commitment: [u8; 32],
    },
    Removed {
        index: u64,
        commitment: [u8; 32],
    },
    /// Ignored, deterministically (malformed, duplicate, full tree, evidence that fails).
    Ignored(Ignored),
}

/// The members' tree, built from released registry transactions in release order, and the
/// history of its roots by released height.
pub struct Registry {
    tree: MerkleTree,
    /// `(released height, root)` at every change, oldest first (the empty tree at 0).
    roots: VecDeque<(u64, Fr)>,
    /// Last height applied.
    released: u64,
    /// Leaf index and quota of every registered commitment (removed ones included, so a
    /// slashed commitment cannot register again).
    leaves: HashMap<[u8; 32], (u64, u32, bool)>,
}

impl Registry {
    pub fn new(depth: u8) -> Self {
        let tree = MerkleTree::new(depth).expect("depth checked by the verifying key");
        let root = tree.root();
        Self {
            tree,
            roots: VecDeque::from([(0, root)]),
            released: 0,
            leaves: HashMap::new(),
        }
    }

    pub fn released(&self) -> u64 {
        self.released
    }

    pub fn root(&self) -> Fr {
        self.tree.root()
    }

    pub fn tree(&self) -> &MerkleTree {
        &self.tree
    }

    /// `(index, limit, removed)` of a registered commitment.
    pub fn member(&self, commitment: &[u8; 32]) -> Option<(u64, u32, bool)> {
        self.leaves.get(commitment).copied()
    }

    /// Applies the registry namespace's plaintexts of released height `height` (heights in
    /// order; an already-applied height is ignored, as after a restart).
    pub fn apply<'a>(
        &mut self,
        rules: &RlnRules,
        height: u64,
        plaintexts: impl IntoIterator<Item = &'a [u8]>,
    ) -> Vec<RegistryEvent> {
        if height <= self.released && height != 0 {
            return Vec::new();
        }
        self.released = height;
        let events: Vec<RegistryEvent> = plaintexts
            .into_iter()
            .map(|p| self.apply_one(rules, p))
            .collect();
        let root = self.tree.root();
        if self.roots.back().map(|(_, r)| *r) != Some(root) {
            self.roots.push_back((height, root));
        }
        // keep what any future block may still accept: the last `root_window` roots at or
        // below `released - root_lag`, and everything newer
        let settled = self.released.saturating_sub(rules.settings.root_lag);
        while self.roots.iter().filter(|(h, _)| *h <= settled).count() > rules.settings.root_window
        {
            self.roots.pop_front();
        }
        events
    }

    fn apply_one(&mut self, rules: &RlnRules, plaintext: &[u8]) -> RegistryEvent {
        let max_limit = (1u64 << rules.vk.params().range_bits()).min(u32::MAX as u64);
        match RegistryTx::decode(plaintext) {
            Err(e) => RegistryEvent::Ignored(Ignored::Undecodable(e)),
            Ok(RegistryTx::Register { commitment, limit }) => {
                let Ok(leaf) = fr_from_be_bytes(&commitment) else {
                    return RegistryEvent::Ignored(Ignored::CommitmentRange);
                };
                if leaf == Fr::from(0u64) || limit == 0 || limit as u64 > max_limit {
                    return RegistryEvent::Ignored(Ignored::ZeroOrLimit);
                }
                if self.leaves.contains_key(&commitment) {
                    return RegistryEvent::Ignored(Ignored::AlreadyRegistered);
                }
                match self.tree.push(leaf) {
                    Ok(index) => {
                        self.leaves.insert(commitment, (index, limit, false));
                        RegistryEvent::Registered { index, commitment }
                    }
                    Err(e) => RegistryEvent::Ignored(Ignored::Tree(e)),
                }
            }
            Ok(RegistryTx::Slash(evidence)) => {
                let a0 = match evidence.verify(&rules.vk) {
                    Ok(a0) => a0,
                    Err(e) => return RegistryEvent::Ignored(Ignored::Evidence(e)),
                };
                // the quota is in the leaf: find the registered (commitment, limit) pair
                let found = self
                    .leaves
                    .iter()
                    .filter(|(_, (_, _, removed))| !removed)
                    .find(|(c, (_, limit, _))| fr_to_be_bytes(&commitment(&a0, *limit)) == **c)
                    .map(|(c, (i, _, _))| (*c, *i));
                let Some((c, index)) = found else {
                    return RegistryEvent::Ignored(Ignored::NoSuchMember);
                };
                self.tree
                    .set(index, Fr::from(0u64))
                    .expect("index of a registered leaf");
                if let Some(e) = self.leaves.get_mut(&c) {
                    e.2 = true;
                }
                RegistryEvent::Removed {
                    index,
                    commitment: c,
                }
            }
        }
    }

    /// Roots a block at `height` accepts: the last `root_window` roots of the registry as
    /// released up to `height - root_lag`. `None` if this member has not released that far.
    pub fn roots_for_block(&self, rules: &RlnRules, height: u64) -> Option<Vec<Fr>> {
        let settled = height.saturating_sub(rules.settings.root_lag);
        if self.released < settled {
            return None;
        }
        let mut out: Vec<Fr> = self
            .roots
            .iter()
            .filter(|(h, _)| *h <= settled)
            .map(|(_, r)| *r)
            .collect();
        let skip = out.len().saturating_sub(rules.settings.root_window);
        out.drain(..skip);
        Some(out)
    }

    /// Roots admission accepts: every root a current or future block may accept.
    pub fn admissible_roots(&self) -> impl Iterator<Item = &Fr> {
        self.roots.iter().map(|(_, r)| r)
    }
}

/// One use of a nullifier.
#[derive(Clone, Debug)]
struct Use {
    id: CtId,
    proof: Arc<RlnProof>,
    ordered: bool,
}

/// Nullifiers of pending and ordered anonymous entries, per RLN epoch.
#[derive(Default)]
pub struct Nullifiers {
    epochs: BTreeMap<u64, HashMap<[u8; 32], Use>>,
}

/// The outcome of recording a nullifier.
#[derive(Debug)]
pub enum Recorded {
    Fresh,
    /// Already recorded for this id.
    Same,
    /// Used by another entry: the sender is over quota. Carries the other use.
    Conflict {
        id: CtId,
        proof: Arc<RlnProof>,
        ordered: bool,
    },
}

impl Nullifiers {
    pub fn lookup(&self, s: &Statement) -> Option<(CtId, Arc<RlnProof>, bool)> {
        self.epochs
            .get(&s.epoch)?
            .get(&fr_to_be_bytes(&s.nullifier))
            .map(|u| (u.id, Arc::clone(&u.proof), u.ordered))
    }

    /// Records a pending use (admission); a conflict leaves the state unchanged.
    pub fn record_pending(&mut self, id: CtId, proof: &Arc<RlnProof>) -> Recorded {
        let slot = self
            .epochs
            .entry(proof.statement.epoch)
            .or_default()
            .entry(proof.nullifier());
        match slot {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Use {
                    id,
                    proof: Arc::clone(proof),
                    ordered: false,
                });
                Recorded::Fresh
            }
            std::collections::hash_map::Entry::Occupied(o) if o.get().id == id => Recorded::Same,
            std::collections::hash_map::Entry::Occupied(o) => Recorded::Conflict {
                id: o.get().id,
                proof: Arc::clone(&o.get().proof),
                ordered: o.get().ordered,
            },
        }
    }

    /// Records an ordered use (a finalized block); returns the pending entry it displaces,
    /// if another entry held the nullifier.
    pub fn record_ordered(
        &mut self,
        id: CtId,
        proof: &Arc<RlnProof>,
    ) -> Option<(CtId, Arc<RlnProof>)> {
        let slot = self
            .epochs
            .entry(proof.statement.epoch)
            .or_default()
            .entry(proof.nullifier())
            .or_insert_with(|| Use {
                id,
                proof: Arc::clone(proof),
                ordered: true,
            });
        let displaced = (slot.id != id).then(|| (slot.id, Arc::clone(&slot.proof)));
        *slot = Use {
            id,
            proof: Arc::clone(proof),
            ordered: true,
        };
        displaced
    }

    /// A pending entry left the mempool without being ordered.
    pub fn forget_pending(&mut self, id: &CtId, proof: &RlnProof) {
        if let Some(m) = self.epochs.get_mut(&proof.statement.epoch) {
            let n = proof.nullifier();
            if m.get(&n).is_some_and(|u| !u.ordered && u.id == *id) {
                m.remove(&n);
            }
        }
    }

    /// Forgets epochs below `min_epoch` (no block can carry them any more).
    pub fn prune_below(&mut self, min_epoch: u64) {
        self.epochs = self.epochs.split_off(&min_epoch);
    }

    pub fn epochs(&self) -> impl Iterator<Item = u64> + '_ {
        self.epochs.keys().copied()
    }

    /// Whether `nullifier` of `epoch` is used by an ordered entry.
    pub fn is_ordered(&self, epoch: u64, nullifier: &[u8; 32]) -> bool {
        self.epochs
            .get(&epoch)
            .and_then(|m| m.get(nullifier))
            .is_some_and(|u| u.ordered)
    }
}

/// Anonymous admission's whole state, held by the mempool.
pub struct RlnState {
    pub(in crate::node::core) rules: RlnRules,
    pub(in crate::node::core) registry: Registry,
    pub(in crate::node::core) nullifiers: Nullifiers,
    /// Evidence found and not yet taken by the actors (to persist and publish).
    new_evidence: Vec<SlashingEvidence>,
    /// Every piece of evidence held (served by the API), oldest first, bounded.
    evidence: VecDeque<SlashingEvidence>,
}

/// Most slashing evidence kept in memory (the slashing log on disk keeps everything).
pub const MAX_EVIDENCE: usize = 4096;

impl RlnState {
    pub fn new(rules: RlnRules) -> Self {
        let depth = rules.vk.params().depth();
        Self {
            rules,
            registry: Registry::new(depth),
            nullifiers: Nullifiers::default(),
            new_evidence: Vec::new(),
            evidence: VecDeque::new(),
        }
    }

    pub fn rules(&self) -> &RlnRules {
        &self.rules
    }

    /// The members' tree as released here.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Records evidence (found here or restored from the slashing log when `fresh` is false).
    pub fn add_evidence(&mut self, e: SlashingEvidence, fresh: bool) {
        if self.evidence.contains(&e) {
            return;
        }
        if self.evidence.len() == MAX_EVIDENCE {
            self.evidence.pop_front();
        }
        self.evidence.push_back(e.clone());
        if fresh {
            self.new_evidence.push(e);
        }
    }

    pub fn take_new_evidence(&mut self) -> Vec<SlashingEvidence> {
        std::mem::take(&mut self.new_evidence)
    }

    pub fn evidence(&self) -> impl Iterator<Item = &SlashingEvidence> {
        self.evidence.iter()
    }

    /// Admission's epoch window: a block at the next height accepts `e(h)-1 ..= e(h)`, and a
    /// wallet whose view is a little ahead may already prove for `e(h)+1`.
    pub fn admissible_epoch(&self, next_height: u64, epoch: u64) -> bool {
        let e = self.rules.epoch_of(next_height);
        epoch + 1 >= e && epoch <= e + 1
    }
}
