//! One committee member's protocol state, as a deterministic core: the actors (consensus,
//! network and storage actors) calls these methods and carries out what they return.
//!
//! The finalization path is [`Member::on_finalized`]: it is the only place a
//! [`FinalizedBlock`] is made, so it is the only way to decryption shares. The reveal actor calls it
//! only for blocks the consensus engine reported finalized, with the finalization certificate.

use super::chain::{verify_chain_block, verify_unheld, ChainBlock};
use super::epochs::EpochTable;
use super::inclusion::{decode_list, list_quorum, Inclusion, InclusionConfig};
use super::mempool::{Admission, Checked, Mempool, Reject, Screened, Source, NOT_ORDERED_STRIKES};
use super::reveal::{Answer, Collector, Effect, FinalizedBlock, ShareError};
use super::rln::{RlnState, SlashingEvidence};
use crate::ledger::block::{Block, BlockError, BlockLimits};
use crate::ledger::envelope::{Envelope, Verified, MAX_ENVELOPE_LEN};
use crate::ledger::evidence::MAX_EVIDENCE_LEN;
use crate::ledger::release::ReleasedBatch;
use crate::ledger::signed::SignedBatch;
use crate::ledger::{CtId, Digest, Height};
use curtain_crypto::{
    encoding::Reader, CommitteeKey, DecodeError, Decryption, KeyEpoch, Namespace,
};
use rand_core::CryptoRng;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Most accepted proposals whose verified bodies are kept for the finalization path.
const MAX_VOTED_CACHE: usize = 64;

/// Most own proposals remembered while their height is not final.
const MAX_OWN_PROPOSALS: usize = 64;

/// Most ciphertexts in one gossip message.
pub const MAX_GOSSIP_BATCH: usize = 1024;
const GOSSIP_VERSION: u8 = 1;

pub struct Member {
    // Visible to the cores' tests, never to the actors: they go through the methods.
    pub(in crate::node::core) mempool: Mempool,
    pub(in crate::node::core) collector: Collector,
    limits: BlockLimits,
    /// Height of the last block finalized here.
    finalized_height: Height,
    /// Verified ciphertexts of the proposals this member accepted, by block digest, so the
    /// finalization path does not check again the bodies it checked to vote (kept until
    /// their height is final).
    voted: HashMap<Digest, (Height, Vec<Arc<Verified>>)>,
    /// Pending entries finalization dropped, until the actors take them.
    dropped: Vec<(CtId, Reject)>,
    /// This member's proposals whose height is not final yet: (height, digest, ids).
    own: Vec<(Height, Digest, Vec<CtId>)>,
    /// Pending ids, with how many of this member's proposals carrying them lost their height.
    strikes: HashMap<CtId, u32>,
    /// Members' inclusion lists and this member's own (SPEC.md §5.7).
    inclusion: Inclusion,
    /// Per key epoch, the peer number of each member: whose lists count at a height.
    roster: BTreeMap<KeyEpoch, Vec<u32>>,
}

/// Why this member does not vote for a proposal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Invalid(#[from] BlockError),
    /// The block leaves out a ciphertext f + 1 members' inclusion lists have named for Δ'
    /// that it had room for (SPEC.md §5.7).
    #[error("leaves out {} (named by f + 1 inclusion lists, and the block has room)", hex::encode(.0))]
    Omits(CtId),
}

/// What this member's inclusion-list tick asks the actors to send.
#[derive(Debug, Default)]
pub struct ListTick {
    /// This member's list, encoded, for every other member (if due).
    pub list: Option<Vec<u8>>,
    /// How many ids the list names (this member's overdue entries).
    pub overdue: usize,
    /// Listed bodies to gossip again to every other member.
    pub regossip: Vec<Arc<Verified>>,
}

impl Member {
    pub fn new(mempool: Mempool, collector: Collector, limits: BlockLimits) -> Self {
        Self {
            mempool,
            collector,
            limits,
            finalized_height: Height(0),
            voted: HashMap::new(),
            dropped: Vec::new(),
            own: Vec::new(),
            strikes: HashMap::new(),
            inclusion: Inclusion::new(InclusionConfig::default()),
            roster: BTreeMap::new(),
        }
    }

    /// Inclusion lists with other timing or sizes than the defaults (committee-wide values).
    pub fn with_inclusion(mut self, cfg: InclusionConfig) -> Self {
        self.inclusion = Inclusion::new(cfg);
        self
    }

    pub fn limits(&self) -> &BlockLimits {
        &self.limits
    }

    pub fn finalized_height(&self) -> Height {
        self.finalized_height
    }

    /// Pending ciphertexts here.
    pub fn pending_len(&self) -> usize {
        self.mempool.len()
    }

    pub fn is_pending(&self, id: &CtId) -> bool {
        self.mempool.get(id).is_some()
    }

    /// `(height, namespace, position)` of a ciphertext in a block final here and not yet
    /// released.
    pub fn ordered_at(&self, id: &CtId) -> Option<(Height, Namespace, u32)> {
        let (height, namespace, position) = self.collector.ordered_at(id)?;
        Some((Height(height), namespace, position))
    }

    /// The next height to be released here.
    pub fn next_release(&self) -> Height {
        Height(self.collector.next_release())
    }

    /// The key epoch wallets label with now (the one active at the next height) and its key.
    pub fn current_key(&self) -> Option<(KeyEpoch, &Arc<CommitteeKey>)> {
        self.mempool.current_key()
    }

    /// Anonymous admission's state (registry, rules, evidence); `None` without anonymous
    /// namespaces.
    pub fn rln(&self) -> Option<&RlnState> {
        self.mempool.rln()
    }

    /// Slashing evidence found since the last call (to persist, then act on).
    pub fn take_new_evidence(&mut self) -> Vec<SlashingEvidence> {
        self.mempool
            .rln_mut()
            .map(|st| st.take_new_evidence())
            .unwrap_or_default()
    }

    /// `(key epoch, member)` of every member caught sending wrong shares.
    pub fn faulty_members(&self) -> impl Iterator<Item = &(KeyEpoch, u32)> {
        self.collector.faulty_members()
    }

    /// The key-epoch table and, per epoch, the peer number of each member index.
    pub fn set_epochs(&mut self, table: EpochTable, roster: BTreeMap<KeyEpoch, Vec<u32>>) {
        self.roster = roster.clone();
        self.collector.set_epochs(table, roster);
    }

    /// The members whose inclusion lists count at `height` and how many must name an id
    /// (f + 1 of that height's committee); `None` before the roster is known.
    fn list_authors(&self, height: Height) -> Option<(&[u32], usize)> {
        let epoch = self.mempool.epochs().epoch_at(height);
        let r = self.roster.get(&epoch)?;
        Some((r.as_slice(), list_quorum(r.len())))
    }

    /// How often the actors call [`Member::list_tick`].
    pub fn list_every_ms(&self) -> u64 {
        self.inclusion.config().tick_ms
    }

    /// Member `from`'s inclusion list arrived (on the authenticated lists channel); `Ok(false)`
    /// if it came too soon after the author's previous one and was ignored.
    pub fn on_inclusion_list(
        &mut self,
        now_ms: u64,
        from: u32,
        bytes: &[u8],
    ) -> Result<bool, DecodeError> {
        if !self.inclusion.takes_list(now_ms, from) {
            return Ok(false);
        }
        let ids = decode_list(bytes, self.inclusion.config().max_list)?;
        self.inclusion.on_list(now_ms, from, ids);
        Ok(true)
    }

    /// The clock moved: this member's list (the entries it has held pending for Δ, oldest
    /// first) if due, and the listed bodies due to be gossiped again.
    pub fn list_tick(&mut self, now_ms: u64) -> ListTick {
        let cfg = *self.inclusion.config();
        self.inclusion.expire(now_ms);
        let overdue = self
            .mempool
            .waiting_since(now_ms.saturating_sub(cfg.list_after_ms), cfg.max_list);
        let tick = self.inclusion.tick(now_ms, overdue);
        ListTick {
            overdue: self.inclusion.own_len(),
            list: tick.list.map(|l| super::inclusion::encode_list(&l)),
            regossip: tick
                .regossip
                .iter()
                .filter_map(|id| self.mempool.get(id).cloned())
                .collect(),
        }
    }

    /// Pending ids f + 1 members' lists name for a block at `height`, oldest here first: a
    /// proposal takes them before anything else, so an honest leader satisfies every voter.
    fn listed_first(&self, height: Height) -> Vec<CtId> {
        let Some((authors, quorum)) = self.list_authors(height) else {
            return Vec::new();
        };
        let mut ids: Vec<(u64, CtId)> = self
            .inclusion
            .named(authors, quorum)
            .into_iter()
            .filter_map(|(id, _)| Some((self.mempool.admitted_at(&id)?, id)))
            .collect();
        ids.sort_unstable();
        ids.into_iter().map(|(_, id)| id).collect()
    }

    /// The inclusion rule (SPEC.md §5.7): `block` must carry every pending entry held here that
    /// f + 1 members' current lists have named for Δ', that a block at its height may carry
    /// and that no unfinalized ancestor carries, unless the block is full for it (no room for
    /// one more ciphertext, for its bytes, or for its namespace).
    fn check_inclusion(
        &self,
        block: &ChainBlock,
        exclude: &HashSet<CtId>,
        used: &HashSet<(u64, [u8; 32])>,
        now_ms: u64,
    ) -> Result<(), Refusal> {
        let b = block.block();
        let Some((authors, quorum)) = self.list_authors(b.height) else {
            return Ok(());
        };
        let after = self.inclusion.config().enforce_after_ms;
        let in_block: HashSet<&CtId> = b.ids().collect();
        let namespaces: HashSet<Namespace> = b.batches.iter().map(|nb| nb.namespace).collect();
        let bytes: usize = block.bodies().iter().map(|e| e.encoded_len()).sum();
        // an entry whose nullifier the block itself uses cannot be carried beside it
        let mut used = used.clone();
        used.extend(
            block
                .bodies()
                .iter()
                .filter_map(|e| e.rln().map(|p| (p.statement.epoch, p.nullifier()))),
        );
        let limits = &self.limits;
        for (id, since) in self.inclusion.named(authors, quorum) {
            if since.saturating_add(after) > now_ms
                || in_block.contains(&id)
                || exclude.contains(&id)
            {
                continue;
            }
            let Some(v) = self.mempool.get(&id) else {
                continue;
            };
            if !self.mempool.eligible(v, b.height, &used) {
                continue;
            }
            let ns = v.label().namespace();
            let full = b.len() >= limits.max_ciphertexts
                || bytes + v.envelope_len() > limits.max_bytes
                || !namespaces.contains(&ns) && namespaces.len() >= limits.max_namespaces;
            if !full {
                return Err(Refusal::Omits(id));
            }
        }
        Ok(())
    }

    /// After a restart: the durable pending entries and slashing evidence; returns how many
    /// entries are pending again.
    pub fn restore_pending<R: CryptoRng + ?Sized>(
        &mut self,
        entries: Vec<Envelope>,
        evidence: impl IntoIterator<Item = SlashingEvidence>,
        rng: &mut R,
    ) -> usize {
        if let Some(st) = self.mempool.rln_mut() {
            for e in evidence {
                st.add_evidence(e, false);
            }
        }
        self.mempool
            .admit(0, Source::Internal, entries, rng)
            .iter()
            .filter(|a| a.result.is_ok())
            .count()
    }

    /// Admission's first phase (under the caller's lock): what the batched check must look at.
    pub fn screen(&mut self, now_ms: u64, items: Vec<(Source, Envelope)>) -> Screened {
        self.mempool.screen(now_ms, items)
    }

    /// Admission's last phase: inserts what passed the check; one verdict per item screened.
    pub fn insert(&mut self, checked: Checked) -> Vec<Admission> {
        self.mempool.insert(checked)
    }

    /// Heights waiting for peers' share batches, with their batch ids, to ask again for.
    pub fn waiting_batches(&self, now_ms: u64) -> Vec<(u64, [u8; 32])> {
        self.collector.waiting_batches(now_ms)
    }

    /// A batch recomputed for a released height (see [`Answer::Recompute`]), kept to answer
    /// the next request for it.
    pub fn recomputed(&mut self, height: u64, batch: SignedBatch) {
        self.collector.recomputed(height, batch);
    }

    /// Ids ordered in `ancestors` (newest first, starting with the parent) that are not final
    /// yet: they must not be ordered again.
    fn unfinalized_ids<'a>(
        &self,
        ancestors: impl IntoIterator<Item = &'a ChainBlock>,
    ) -> HashSet<CtId> {
        ancestors
            .into_iter()
            .take_while(|b| b.block().height > self.finalized_height)
            .flat_map(|b| b.block().ids().copied())
            .collect()
    }

    /// `(epoch, nullifier)` of the anonymous entries in `ancestors` not final yet.
    fn unfinalized_nullifiers<'a>(
        &self,
        ancestors: impl IntoIterator<Item = &'a ChainBlock>,
    ) -> HashSet<(u64, [u8; 32])> {
        ancestors
            .into_iter()
            .take_while(|b| b.block().height > self.finalized_height)
            .flat_map(|b| b.bodies().iter())
            .filter_map(|e| e.rln().map(|p| (p.statement.epoch, p.nullifier())))
            .collect()
    }

    /// A proposal on `ancestors[0]` (the parent), `ancestors` newest first down to at least
    /// the last finalized block.
    pub fn propose(&mut self, ancestors: &[ChainBlock]) -> Option<ChainBlock> {
        let parent = ancestors.first()?;
        let exclude = self.unfinalized_ids(ancestors);
        let used = self.unfinalized_nullifiers(ancestors);
        let first = self.listed_first(parent.block().height + 1);
        let block = self
            .mempool
            .build_with(parent.block(), &self.limits, &exclude, &used, &first);
        let bodies = block
            .ids()
            .map(|id| {
                self.mempool
                    .get(id)
                    .expect("built from pending entries")
                    .envelope()
            })
            .collect();
        Some(ChainBlock::new(block, bodies).expect("built from its own bodies"))
    }

    /// The ordering actor proposed `block` (built by [`Member::propose`]) to the committee. If another
    /// block is finalized at its height, its entries still pending get a strike; an entry
    /// with [`NOT_ORDERED_STRIKES`] is dropped ([`Reject::NotOrdered`]) so that an entry
    /// peers refuse (their check disagrees with this member's) does not sink this member's
    /// proposals forever.
    pub fn proposed(&mut self, block: &ChainBlock) {
        let b = block.block();
        if b.is_empty() || b.height <= self.finalized_height || self.own.len() >= MAX_OWN_PROPOSALS
        {
            return;
        }
        let digest = b.digest();
        if self.own.iter().any(|(_, d, _)| *d == digest) {
            return;
        }
        self.own
            .push((b.height, digest, b.ids().copied().collect()));
    }

    /// Strikes for the entries of own proposals at `height` other than `winner`, now that
    /// `winner` is final there (after its entries left the pending set).
    fn strike_losers(&mut self, height: Height, winner: &Digest) {
        let mut lost = Vec::new();
        self.own.retain(|(h, d, ids)| {
            if *h == height && d != winner {
                lost.extend(ids.iter().copied());
            }
            *h > height
        });
        for id in lost {
            if self.mempool.get(&id).is_none() {
                continue;
            }
            let n = self.strikes.entry(id).or_insert(0);
            *n += 1;
            if *n >= NOT_ORDERED_STRIKES {
                let n = *n;
                self.mempool.evict(&id);
                self.dropped.push((id, Reject::NotOrdered(n)));
            }
        }
        let pool = &self.mempool;
        self.strikes.retain(|id, _| pool.get(id).is_some());
    }

    /// Checks `block` proposed on `ancestors[0]` (`ancestors` newest first) at `now_ms`: its
    /// validity, then the inclusion rule.
    pub fn verify<R: CryptoRng + ?Sized>(
        &mut self,
        block: &ChainBlock,
        ancestors: &[ChainBlock],
        now_ms: u64,
        rng: &mut R,
    ) -> Result<(), Refusal> {
        let parent: &Block = ancestors.first().ok_or(BlockError::WrongParent)?.block();
        let exclude = self.unfinalized_ids(ancestors);
        let used = self.unfinalized_nullifiers(ancestors);
        let verified = verify_chain_block(
            block,
            parent,
            &self.limits,
            &exclude,
            &self.mempool,
            &used,
            rng,
        )?;
        self.check_inclusion(block, &exclude, &used, now_ms)?;
        // Bounded: while finality stalls, views keep proposing at the same heights; past the
        // cap the finalization path simply checks the bodies again.
        if !verified.is_empty() && self.voted.len() < MAX_VOTED_CACHE {
            self.voted
                .insert(block.block().digest(), (block.block().height, verified));
        }
        Ok(())
    }

    /// Restores what the release log says after a restart: released ids count as ordered, and
    /// release continues after the last logged height.
    pub fn restore(&mut self, released: &[ReleasedBatch]) {
        for b in released {
            let ids: Vec<(CtId, KeyEpoch)> = b
                .entries()
                .map(|e| (e.ciphertext.id(), e.ciphertext.label().key_epoch()))
                .collect();
            self.mempool.restore_ordered(ids);
            if let Some(st) = self.mempool.rln_mut() {
                for e in b.entries() {
                    if let Some(p) = &e.rln {
                        st.nullifiers.record_ordered(e.ciphertext.id(), p);
                    }
                }
            }
            self.apply_registry(b);
            self.finalized_height = self.finalized_height.max(b.height);
            self.collector.resume_after(b.height.get());
        }
        let h = self.finalized_height;
        if h > Height(0) {
            // epochs, pruning: as if the last released height was just finalized
            self.mempool.on_finalized(h, &[]);
        }
    }

    /// Applies a released batch's registry transactions (release order is final and the
    /// same at every member, so every member builds the same tree).
    fn apply_registry(&mut self, b: &ReleasedBatch) {
        let Some(st) = self.mempool.rln_mut() else {
            return;
        };
        let ns = st.rules.settings.registry_namespace;
        let rules = st.rules.clone();
        let plaintexts: Vec<&[u8]> = b
            .namespaces
            .iter()
            .filter(|n| n.namespace == ns)
            .flat_map(|n| n.entries.iter())
            .filter_map(|e| match &e.outcome {
                Decryption::Plaintext(p) => Some(p.as_slice()),
                Decryption::Undecryptable(_) => None,
            })
            .collect();
        for event in st.registry.apply(&rules, b.height.get(), plaintexts) {
            tracing::info!(height = b.height.get(), ?event, "rln registry");
        }
    }

    /// Applies the registry transactions of the releases among `effects`.
    fn on_effects(&mut self, effects: &[Effect]) {
        for e in effects {
            if let Effect::Release(b) = e {
                self.apply_registry(b);
            }
        }
    }

    /// Pending entries dropped by finalization (over quota, expired RLN epoch), for logs.
    pub fn take_dropped(&mut self) -> Vec<(CtId, Reject)> {
        std::mem::take(&mut self.dropped)
    }

    /// The consensus engine finalized `block` (in height order; a height may come again after
    /// a restart and is then ignored by the collector).
    pub fn on_finalized<R: CryptoRng + ?Sized>(
        &mut self,
        block: ChainBlock,
        certificate: Vec<u8>,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Effect>, FinalizeError> {
        // The chain position was checked when the block was voted on; here only validity
        // matters: a share is never produced for a ciphertext that fails it.
        let verified = match self.voted.remove(&block.block().digest()) {
            Some((_, verified)) => verified,
            None => self.verified_bodies(&block, rng)?,
        };
        let dropped = self.mempool.on_finalized(block.block().height, &verified);
        self.dropped.extend(dropped);
        self.strike_losers(block.block().height, &block.block().digest());
        self.finalized_height = self.finalized_height.max(block.block().height);
        let finalized = self.finalized_height;
        self.voted.retain(|_, (h, _)| *h > finalized);
        let (b, _) = block.into_parts();
        let fin = FinalizedBlock::new(b, certificate, verified);
        let effects = self.collector.on_finalized(fin, now_ms, rng)?;
        self.on_effects(&effects);
        Ok(effects)
    }

    /// The clock moved: heights that waited too long for their designated members' shares
    /// get this member's (see [`super::reveal::Collector::on_tick`]).
    pub fn on_tick<R: CryptoRng + ?Sized>(&mut self, now_ms: u64, rng: &mut R) -> Vec<Effect> {
        let effects = self.collector.on_tick(now_ms, rng);
        self.on_effects(&effects);
        effects
    }

    fn verified_bodies<R: CryptoRng + ?Sized>(
        &self,
        block: &ChainBlock,
        rng: &mut R,
    ) -> Result<Vec<Arc<Verified>>, FinalizeError> {
        let mut fresh = verify_unheld(block.bodies(), &self.mempool, false, rng)?;
        Ok(block
            .bodies()
            .iter()
            .map(|ct| {
                let id = ct.id();
                fresh
                    .remove(&id)
                    .or_else(|| self.mempool.get(&id).cloned())
                    .expect("held or just verified")
            })
            .collect())
    }

    /// A share batch arrived on the shares channel from authenticated member `from`.
    pub fn on_share_batch<R: CryptoRng + ?Sized>(
        &mut self,
        from: u32,
        batch: SignedBatch,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Effect>, MessageError> {
        let effects = self.collector.on_shares(from, batch, now_ms, rng)?;
        self.on_effects(&effects);
        Ok(effects)
    }

    /// Decodes a message of the shares channel.
    pub fn decode_share_message(&self, bytes: &[u8]) -> Result<ShareMessage, DecodeError> {
        ShareMessage::decode(bytes, self.limits.max_ciphertexts)
    }

    /// Peer `peer` asks for this member's batch `batch_id` of `height` (see
    /// [`Collector::on_request`]).
    pub fn on_share_request<R: CryptoRng + ?Sized>(
        &mut self,
        peer: u32,
        height: u64,
        batch_id: &[u8; 32],
        now_ms: u64,
        rng: &mut R,
    ) -> Answer {
        let answer = self
            .collector
            .on_request(peer, height, batch_id, now_ms, rng);
        if let Answer::Made(effects) = &answer {
            self.on_effects(effects);
        }
        answer
    }
}

/// What travels on the shares channel: `0x00 ‖ SignedBatch`, a request for a batch lost on
/// the way, `0x01 ‖ height(8) ‖ batch_id(32)`, or a piece of evidence, `0x02 ‖ Evidence`
/// (SPEC.md §2.6; checked by its receiver, not here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShareMessage {
    Batch(SignedBatch),
    Request { height: u64, batch_id: [u8; 32] },
    Evidence(Vec<u8>),
}

impl ShareMessage {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Batch(b) => {
                let mut out = vec![0];
                out.extend_from_slice(&b.to_bytes());
                out
            }
            Self::Request { height, batch_id } => {
                let mut out = vec![1];
                out.extend_from_slice(&height.to_be_bytes());
                out.extend_from_slice(batch_id);
                out
            }
            Self::Evidence(e) => [&[2u8][..], e].concat(),
        }
    }

    pub fn decode(bytes: &[u8], max_batch: usize) -> Result<Self, DecodeError> {
        match bytes.split_first() {
            Some((0, rest)) => Ok(Self::Batch(SignedBatch::from_bytes_capped(
                rest, max_batch,
            )?)),
            Some((1, rest)) => {
                let mut r = Reader::new(rest);
                let height = r.u64("share request height")?;
                let batch_id = r.array("share request batch id")?;
                r.finish()?;
                Ok(Self::Request { height, batch_id })
            }
            Some((2, rest)) if rest.len() <= MAX_EVIDENCE_LEN => Ok(Self::Evidence(rest.to_vec())),
            Some((2, rest)) => Err(DecodeError::Length {
                field: "evidence",
                len: rest.len(),
                min: 0,
                max: MAX_EVIDENCE_LEN,
            }),
            _ => Err(DecodeError::Invalid {
                field: "share message",
                reason: "unknown tag",
            }),
        }
    }
}

/// `version ‖ count(4) ‖ count × (len(4) ‖ Envelope)`.
pub fn encode_gossip(cts: &[Arc<Verified>]) -> Vec<u8> {
    encode_envelopes(cts.iter().map(|ct| ct.envelope()))
}

/// The gossip encoding of envelopes: `version ‖ count(4) ‖ count × (len(4) ‖ envelope)` (what
/// [`decode_gossip`] reads back).
pub fn encode_envelopes<I>(envelopes: I) -> Vec<u8>
where
    I: IntoIterator<Item = Envelope>,
    I::IntoIter: ExactSizeIterator,
{
    let envelopes = envelopes.into_iter();
    let mut out = vec![GOSSIP_VERSION];
    out.extend_from_slice(&(envelopes.len() as u32).to_be_bytes());
    for e in envelopes {
        let b = e.to_bytes();
        out.extend_from_slice(&(b.len() as u32).to_be_bytes());
        out.extend_from_slice(&b);
    }
    out
}

/// Parses a gossip message; the points are decoded by admission, and only for ciphertexts
/// not already held.
pub fn decode_gossip(bytes: &[u8]) -> Result<Vec<Envelope>, DecodeError> {
    let mut r = Reader::new(bytes);
    r.version("gossip", GOSSIP_VERSION)?;
    let count = r.len_u32("gossip count", 0, MAX_GOSSIP_BATCH)?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len = r.len_u32("gossip ciphertext", 1, MAX_ENVELOPE_LEN)?;
        out.push(Envelope::parse(r.take(len, "gossip ciphertext")?)?);
    }
    r.finish()?;
    Ok(out)
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FinalizeError {
    /// A finalized block with a body that fails validity (or is for a key epoch not open
    /// here) means more than f members are faulty; no share is produced for it.
    #[error("finalized block refused: {0}")]
    Body(#[from] BlockError),
    #[error(transparent)]
    Share(#[from] ShareError),
    #[error("height {0} is not final here")]
    NotFinal(u64),
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("malformed message: {0}")]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Share(#[from] ShareError),
}
