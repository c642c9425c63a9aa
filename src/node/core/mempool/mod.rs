//! The mempool core: admission of encrypted transactions and the choice of what the next
//! proposal carries. Pure: time comes in as milliseconds, randomness as an argument, and the
//! admission actor persists and gossips what `admit` accepted (before acknowledging it).
//!
//! Admission order, cheapest first: per-source token bucket → label (epoch known and not
//! ended, key id matches, namespace served) → duplicate (pending, already ordered, or twice in
//! the same call) → global caps → point decoding (subgroup checks) → one batched validity
//! check per key epoch. Everything before decoding works on the encoding alone, so a
//! duplicate or a flood costs a hash, not a decompression.

mod check;
mod rate;

use super::epochs::{EpochTable, LabelWindow};
use super::rln::{check_binding, Recorded, RlnReject, RlnState, SlashingEvidence};
use crate::ledger::block::{Block, BlockLimits, NamespaceBatch};
use crate::ledger::envelope::{admissions_digest, Envelope, RlnProof, Verified};
use crate::ledger::{CtId, Height};
use check::Candidate;
pub use check::{verify_rln_batch, Checked, Screened};
use curtain_circuits::{Proof, Statement, VerifyingKey};
use curtain_crypto::{
    decode_all, verify_batch, Ciphertext, CommitteeKey, DecodeError, EncodedCiphertext, KeyEpoch,
    Namespace,
};
use rand_core::CryptoRng;
use rate::{bucket_limits, refill, Bucket};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::Arc;

/// Who handed us a ciphertext; rate limits are per source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// A wallet or relayer, by network address.
    Client(IpAddr),
    /// Another committee member's gossip.
    Peer(u32),
    /// Bodies fetched for a proposal or replayed from storage: already bounded by the block
    /// limits or by what this node accepted before, so exempt from rate limits and caps.
    Internal,
}

#[derive(Clone, Debug)]
pub struct MempoolConfig {
    /// Pending ciphertexts, all namespaces.
    pub max_pending: usize,
    /// Pending bytes (encoded ciphertexts), all namespaces.
    pub max_pending_bytes: usize,
    /// Token bucket per client address: sustained rate and burst.
    pub client_rate_per_s: u64,
    pub client_burst: u64,
    /// Token bucket per peer (gossip carries every client's traffic, so it is larger).
    pub peer_rate_per_s: u64,
    pub peer_burst: u64,
    /// Bound on remembered sources; idle (full) buckets are forgotten first.
    pub max_sources: usize,
    /// Namespaces served; `None` serves all.
    pub namespaces: Option<BTreeSet<Namespace>>,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        Self {
            max_pending: 100_000,
            max_pending_bytes: 256 << 20,
            client_rate_per_s: 200,
            client_burst: 1_000,
            peer_rate_per_s: 50_000,
            peer_burst: 100_000,
            max_sources: 100_000,
            namespaces: None,
        }
    }
}

/// How many of a member's own proposals that lost their height to another finalized block a
/// pending entry may be carried in before it is dropped with [`Reject::NotOrdered`].
pub const NOT_ORDERED_STRIKES: u32 = 3;

/// Why a ciphertext was not admitted, or was dropped after admission.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("rate limit exceeded for this source; retry later")]
    RateLimited,
    #[error("mempool full; retry later")]
    Full,
    #[error("namespace {0} is not served by this committee")]
    UnknownNamespace(Namespace),
    #[error("key epoch {0} is not open")]
    UnknownEpoch(KeyEpoch),
    #[error("ciphertext is for another committee key")]
    WrongKey,
    #[error("already pending")]
    Duplicate,
    #[error("already ordered in a finalized block")]
    AlreadyOrdered,
    #[error("malformed ciphertext: {0}")]
    Malformed(DecodeError),
    #[error("invalid ciphertext: {0}")]
    Invalid(curtain_crypto::ValidityError),
    #[error("key epoch {0} ended before the ciphertext was ordered")]
    EpochEnded(KeyEpoch),
    /// Carried by [`NOT_ORDERED_STRIKES`] of this member's proposals that lost their height to
    /// another block (peers refused them, or they were late) and still not ordered: dropped
    /// rather than proposed forever (SPEC.md §5.1).
    #[error("left out by the committee from {0} of this member's proposals; resubmit")]
    NotOrdered(u32),
    #[error(transparent)]
    Rln(#[from] RlnReject),
}

/// The verdict for one submitted ciphertext.
#[derive(Clone, Debug)]
pub struct Admission {
    pub id: CtId,
    pub result: Result<Arc<Verified>, Reject>,
}

struct Entry {
    ct: Arc<Verified>,
    seq: u64,
    /// When this member admitted it (inclusion lists name what waited long enough).
    at_ms: u64,
}

pub struct Mempool {
    cfg: MempoolConfig,
    /// Open key epochs: the newest is current, older ones drain.
    keys: BTreeMap<KeyEpoch, Arc<CommitteeKey>>,
    entries: HashMap<CtId, Entry>,
    /// Per namespace, pending ids in arrival order.
    queues: BTreeMap<Namespace, BTreeMap<u64, CtId>>,
    /// All pending ids in arrival order.
    arrivals: BTreeMap<u64, CtId>,
    bytes: usize,
    next_seq: u64,
    /// Ids ordered in finalized blocks, with their key epoch (forgotten when the epoch ends:
    /// from then on its label is rejected anyway).
    ordered: HashMap<CtId, KeyEpoch>,
    buckets: HashMap<Source, Bucket>,
    /// Namespace the next proposal starts its round-robin after.
    rr_after: Option<Namespace>,
    /// Anonymous admission (registry, nullifiers, evidence), when a namespace is anonymous.
    rln: Option<RlnState>,
    /// Height of the last finalized block (RLN epochs are counted in heights).
    finalized: Height,
    /// Which label epochs a block at each height carries (SPEC.md §9.8).
    epochs: EpochTable,
    /// Key epochs whose drain window ended (their pending entries were dropped).
    closed: BTreeSet<KeyEpoch>,
}

impl Mempool {
    pub fn new(cfg: MempoolConfig, epoch: KeyEpoch, key: Arc<CommitteeKey>) -> Self {
        Self {
            cfg,
            keys: BTreeMap::from([(epoch, key)]),
            entries: HashMap::new(),
            queues: BTreeMap::new(),
            arrivals: BTreeMap::new(),
            bytes: 0,
            next_seq: 0,
            ordered: HashMap::new(),
            buckets: HashMap::new(),
            rr_after: None,
            rln: None,
            finalized: Height(0),
            epochs: EpochTable::single(epoch),
            closed: BTreeSet::new(),
        }
    }

    /// A mempool across key epochs: `keys` holds every epoch of `epochs` (a resharing keeps
    /// the encryption key, so all of them encrypt to one `PK1`); a label is admitted while a
    /// block at the next height may carry it.
    pub fn with_epochs(
        cfg: MempoolConfig,
        epochs: EpochTable,
        keys: BTreeMap<KeyEpoch, Arc<CommitteeKey>>,
    ) -> Self {
        let first = epochs.first_epoch();
        let mut pool = Self::new(cfg, first, Arc::clone(&keys[&first]));
        pool.keys = keys;
        pool.epochs = epochs;
        pool
    }

    pub fn epochs(&self) -> &EpochTable {
        &self.epochs
    }

    /// Enables anonymous admission for the namespaces `rln` names.
    pub fn with_rln(mut self, rln: RlnState) -> Self {
        self.rln = Some(rln);
        self
    }

    pub fn rln(&self) -> Option<&RlnState> {
        self.rln.as_ref()
    }

    pub fn rln_mut(&mut self) -> Option<&mut RlnState> {
        self.rln.as_mut()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    pub fn get(&self, id: &CtId) -> Option<&Arc<Verified>> {
        self.entries.get(id).map(|e| &e.ct)
    }
    pub fn is_ordered(&self, id: &CtId) -> bool {
        self.ordered.contains_key(id)
    }
    pub fn key(&self, epoch: KeyEpoch) -> Option<&Arc<CommitteeKey>> {
        self.keys.get(&epoch)
    }

    /// The key epoch active at the next height and its key (what new submissions are
    /// labelled with).
    pub fn current_key(&self) -> Option<(KeyEpoch, &Arc<CommitteeKey>)> {
        let e = self.epochs.epoch_at(self.finalized + 1);
        self.keys.get(&e).map(|k| (e, k))
    }

    /// Admits what it can of `cts` from one source; one verdict per input, in input order.
    pub fn admit<E: Into<Envelope>, R: CryptoRng + ?Sized>(
        &mut self,
        now_ms: u64,
        source: Source,
        cts: Vec<E>,
        rng: &mut R,
    ) -> Vec<Admission> {
        let screened = self.screen(
            now_ms,
            cts.into_iter().map(|c| (source, c.into())).collect(),
        );
        self.insert(screened.check(rng))
    }

    /// Admission's first step, on the encodings alone: rate limits, label, duplicates, caps.
    /// The costly step, [`Screened::check`], needs no access to the mempool, so the admission actor can
    /// run it without holding the mempool while it decodes; [`Mempool::insert`] finishes.
    pub fn screen(&mut self, now_ms: u64, items: Vec<(Source, Envelope)>) -> Screened {
        let mut verdicts = vec![None; items.len()];
        let mut ids = Vec::with_capacity(items.len());
        let mut passed = Vec::with_capacity(items.len());
        let mut in_call = HashSet::with_capacity(items.len());
        let (mut count, mut bytes) = (self.entries.len(), self.bytes);
        for (i, (source, ct)) in items.into_iter().enumerate() {
            ids.push(ct.id());
            match self.precheck(now_ms, source, &ct, &mut in_call, &mut count, &mut bytes) {
                Ok(key) => passed.push(Candidate {
                    at: i,
                    internal: source == Source::Internal,
                    ct,
                    key,
                }),
                Err(r) => verdicts[i] = Some(Err(r)),
            }
        }
        Screened {
            now_ms,
            ids,
            verdicts,
            passed,
            vk: self.rln.as_ref().map(|r| Arc::clone(&r.rules.vk)),
        }
    }

    /// Admission's last step: inserts what [`Screened::check`] verified, unless the same id
    /// arrived (or the mempool filled) in the meantime.
    pub fn insert(&mut self, checked: Checked) -> Vec<Admission> {
        let Checked {
            now_ms,
            ids,
            mut verdicts,
            verified,
        } = checked;
        for (at, internal, v) in verified {
            let id = v.id();
            verdicts[at] = Some(if self.ordered.contains_key(&id) {
                Err(Reject::AlreadyOrdered)
            } else if self.entries.contains_key(&id) {
                Err(Reject::Duplicate)
            } else if !internal
                && (self.entries.len() >= self.cfg.max_pending
                    || self.bytes + v.envelope_len() > self.cfg.max_pending_bytes)
            {
                Err(Reject::Full)
            } else if let Err(r) = self.record_nullifier(&v) {
                Err(r)
            } else {
                Ok(self.insert_one(v, now_ms))
            });
        }
        ids.into_iter()
            .zip(verdicts)
            .map(|(id, v)| Admission {
                id,
                result: v.expect("every input gets a verdict"),
            })
            .collect()
    }

    /// Everything that needs only the encoding; returns the key of the ciphertext's epoch.
    fn precheck(
        &mut self,
        now_ms: u64,
        source: Source,
        ct: &Envelope,
        in_call: &mut HashSet<CtId>,
        count: &mut usize,
        bytes: &mut usize,
    ) -> Result<Arc<CommitteeKey>, Reject> {
        if !self.take_token(now_ms, source) {
            return Err(Reject::RateLimited);
        }
        let label = ct.ciphertext().label();
        let epoch = label.key_epoch();
        let key = self.keys.get(&epoch).ok_or(Reject::UnknownEpoch(epoch))?;
        match self.epochs.admits(self.finalized + 1, epoch) {
            Ok(()) => {}
            Err(LabelWindow::Ended) => return Err(Reject::EpochEnded(epoch)),
            Err(_) => return Err(Reject::UnknownEpoch(epoch)),
        }
        if label.key_id() != &key.id() {
            return Err(Reject::WrongKey);
        }
        if let Some(ns) = &self.cfg.namespaces {
            if !ns.contains(&label.namespace()) {
                return Err(Reject::UnknownNamespace(label.namespace()));
            }
        }
        let id = ct.id();
        self.precheck_rln(&id, ct)?;
        if self.ordered.contains_key(&id) {
            return Err(Reject::AlreadyOrdered);
        }
        if self.entries.contains_key(&id) || !in_call.insert(id) {
            return Err(Reject::Duplicate);
        }
        let size = ct.encoded_len();
        if source != Source::Internal
            && (*count >= self.cfg.max_pending || *bytes + size > self.cfg.max_pending_bytes)
        {
            return Err(Reject::Full);
        }
        *count += 1;
        *bytes += size;
        Ok(Arc::clone(key))
    }

    fn take_token(&mut self, now_ms: u64, source: Source) -> bool {
        let Some((rate, cap)) = bucket_limits(&self.cfg, source) else {
            return true;
        };
        if !self.buckets.contains_key(&source) && self.buckets.len() >= self.cfg.max_sources {
            // Forget sources whose bucket has refilled: they hold no state worth keeping.
            let cfg = &self.cfg;
            self.buckets.retain(|s, b| {
                let (r, c) = bucket_limits(cfg, *s).expect("only limited sources have buckets");
                refill(b, now_ms, r, c) < c
            });
            if self.buckets.len() >= self.cfg.max_sources {
                return false;
            }
        }
        let b = self.buckets.entry(source).or_insert(Bucket {
            milli: cap,
            at_ms: now_ms,
        });
        if refill(b, now_ms, rate, cap) < 1000 {
            return false;
        }
        b.milli -= 1000;
        true
    }

    /// The RLN checks that need no proof verification: the envelope carries a proof iff its
    /// namespace is anonymous, the statement is bound to the ciphertext, its epoch and root
    /// are ones the next blocks accept.
    fn precheck_rln(&self, id: &CtId, ct: &Envelope) -> Result<(), Reject> {
        let label = ct.ciphertext().label();
        let anonymous = self
            .rln
            .as_ref()
            .is_some_and(|r| r.rules.is_anonymous(label.namespace()));
        let (st, p) = match (ct.rln(), anonymous) {
            (None, false) => return Ok(()),
            (None, true) => return Err(RlnReject::ProofRequired.into()),
            (Some(_), false) => return Err(RlnReject::UnexpectedProof.into()),
            (Some(p), true) => (self.rln.as_ref().expect("anonymous"), p),
        };
        check_binding(id, label.sender(), p)?;
        if !st.admissible_epoch((self.finalized + 1).get(), p.statement.epoch) {
            return Err(RlnReject::WrongEpoch(p.statement.epoch).into());
        }
        if !st
            .registry
            .admissible_roots()
            .any(|r| *r == p.statement.root)
        {
            return Err(RlnReject::UnknownRoot.into());
        }
        Ok(())
    }

    /// Records a verified entry's nullifier; a nullifier already used in its epoch by another
    /// entry (pending or ordered) is over quota, and the two proofs are slashing evidence.
    fn record_nullifier(&mut self, v: &Verified) -> Result<(), Reject> {
        let (Some(st), Some(p)) = (self.rln.as_mut(), v.rln()) else {
            return Ok(());
        };
        match st.nullifiers.record_pending(v.id(), p) {
            Recorded::Fresh | Recorded::Same => Ok(()),
            Recorded::Conflict { id, proof, .. } => {
                st.add_evidence(
                    SlashingEvidence {
                        first: (id, (*proof).clone()),
                        second: (v.id(), (**p).clone()),
                    },
                    true,
                );
                Err(RlnReject::OverQuota.into())
            }
        }
    }

    fn insert_one(&mut self, ct: Verified, at_ms: u64) -> Arc<Verified> {
        let ct = Arc::new(ct);
        let id = ct.id();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += ct.envelope_len();
        self.queues
            .entry(ct.label().namespace())
            .or_default()
            .insert(seq, id);
        self.arrivals.insert(seq, id);
        self.entries.insert(
            id,
            Entry {
                ct: Arc::clone(&ct),
                seq,
                at_ms,
            },
        );
        ct
    }

    fn remove(&mut self, id: &CtId) -> Option<Arc<Verified>> {
        let e = self.unqueue(id)?;
        if let (Some(st), Some(p)) = (self.rln.as_mut(), e.rln()) {
            st.nullifiers.forget_pending(id, p);
        }
        Some(e)
    }

    /// Removes a pending entry from the pending set and its queues (its nullifier stays
    /// recorded: see [`Mempool::remove`]).
    fn unqueue(&mut self, id: &CtId) -> Option<Arc<Verified>> {
        let e = self.entries.remove(id)?;
        self.bytes -= e.ct.envelope_len();
        self.arrivals.remove(&e.seq);
        let ns = e.ct.label().namespace();
        if let Some(q) = self.queues.get_mut(&ns) {
            q.remove(&e.seq);
            if q.is_empty() {
                self.queues.remove(&ns);
            }
        }
        Some(e.ct)
    }

    /// The next proposal on top of `parent`: pending ciphertexts not already in an
    /// unfinalized ancestor (`exclude`), oldest first within a namespace, namespaces taking
    /// turns so one busy rollup cannot starve the others.
    pub fn build(
        &mut self,
        parent: &Block,
        limits: &BlockLimits,
        exclude: &HashSet<CtId>,
    ) -> Block {
        self.build_with(parent, limits, exclude, &HashSet::new(), &[])
    }

    /// Whether a block at `height` may carry pending entry `v`: its key epoch is one the
    /// height admits and, if anonymous, its RLN epoch and root are in the block's windows and
    /// its nullifier is used neither in an unfinalized ancestor (`used`) nor by a finalized
    /// entry. The proposer and the inclusion rule use the same test (SPEC.md §5.7).
    pub fn eligible(&self, v: &Verified, height: Height, used: &HashSet<(u64, [u8; 32])>) -> bool {
        if self.epochs.admits(height, v.label().key_epoch()).is_err() {
            return false;
        }
        let (Some(st), Some(p)) = (self.rln.as_ref(), v.rln()) else {
            return true;
        };
        let s = &p.statement;
        st.rules.block_epochs(height.get()).contains(&s.epoch)
            && !used.contains(&(s.epoch, p.nullifier()))
            && !st.nullifiers.is_ordered(s.epoch, &p.nullifier())
            && st
                .registry
                .roots_for_block(&st.rules, height.get())
                .is_some_and(|roots| roots.contains(&s.root))
    }

    /// When this member admitted pending entry `id`.
    pub fn admitted_at(&self, id: &CtId) -> Option<u64> {
        self.entries.get(id).map(|e| e.at_ms)
    }

    /// Pending ids admitted at or before `cutoff_ms` that a block at the next height may
    /// carry, oldest first: what this member's inclusion list names (SPEC.md §5.7).
    pub fn waiting_since(&self, cutoff_ms: u64, max: usize) -> Vec<CtId> {
        let height = self.finalized + 1;
        let none = HashSet::new();
        self.arrivals
            .values()
            .map(|id| &self.entries[id])
            .take_while(|e| e.at_ms <= cutoff_ms)
            .filter(|e| self.eligible(&e.ct, height, &none))
            .take(max)
            .map(|e| e.ct.id())
            .collect()
    }

    /// [`Mempool::build`], leaving out the entries a block at this height must not carry
    /// (see [`Mempool::eligible`]; they wait or expire), and taking the pending ids of
    /// `first` (the ids other members' inclusion lists name) before any other.
    pub fn build_with(
        &mut self,
        parent: &Block,
        limits: &BlockLimits,
        exclude: &HashSet<CtId>,
        used: &HashSet<(u64, [u8; 32])>,
        first: &[CtId],
    ) -> Block {
        let height = parent.height + 1;
        let ok = |id: &CtId| {
            !exclude.contains(id)
                && self
                    .entries
                    .get(id)
                    .is_some_and(|e| self.eligible(&e.ct, height, used))
        };
        let mut picked: BTreeMap<Namespace, Vec<CtId>> = BTreeMap::new();
        let (mut count, mut bytes) = (0usize, 0usize);
        let mut taken = HashSet::new();
        for id in first {
            if count >= limits.max_ciphertexts || !ok(id) || !taken.insert(*id) {
                continue;
            }
            let ct = &self.entries[id].ct;
            let ns = ct.label().namespace();
            let size = ct.envelope_len();
            if bytes + size > limits.max_bytes
                || !picked.contains_key(&ns) && picked.len() >= limits.max_namespaces
            {
                continue;
            }
            bytes += size;
            count += 1;
            picked.entry(ns).or_default().push(*id);
        }
        let start = match self.rr_after {
            Some(ns) => self
                .queues
                .range((std::ops::Bound::Excluded(ns), std::ops::Bound::Unbounded))
                .chain(self.queues.range(..=ns))
                .collect::<Vec<_>>(),
            None => self.queues.iter().collect(),
        };
        let mut cursors: Vec<(Namespace, Box<dyn Iterator<Item = &CtId> + '_>)> = start
            .into_iter()
            .filter(|(ns, _)| picked.contains_key(ns) || picked.len() < limits.max_namespaces)
            .take(limits.max_namespaces)
            .map(|(ns, q)| {
                let it: Box<dyn Iterator<Item = &CtId>> =
                    Box::new(q.values().filter(|id| !taken.contains(*id) && ok(id)));
                (*ns, it)
            })
            .collect();
        let mut last = None;
        while count < limits.max_ciphertexts && !cursors.is_empty() {
            cursors.retain_mut(|(ns, it)| {
                if count >= limits.max_ciphertexts {
                    return true;
                }
                if !picked.contains_key(ns) && picked.len() >= limits.max_namespaces {
                    return false;
                }
                let Some(id) = it.next() else { return false };
                let size = self.entries[id].ct.envelope_len();
                if bytes + size > limits.max_bytes {
                    // Keep FIFO within the namespace: stop it rather than skip ahead.
                    return false;
                }
                bytes += size;
                count += 1;
                last = Some(*ns);
                picked.entry(*ns).or_default().push(*id);
                true
            });
        }
        // the cursors borrow the whole mempool (through `eligible`)
        drop(cursors);
        if last.is_some() {
            self.rr_after = last;
        }
        let batches: Vec<NamespaceBatch> = picked
            .into_iter()
            .map(|(namespace, ids)| NamespaceBatch { namespace, ids })
            .collect();
        let admissions = admissions_digest(
            batches
                .iter()
                .flat_map(|b| b.ids.iter())
                .map(|id| self.entries[id].ct.rln().map(|p| &**p)),
        );
        Block::with_admissions(parent.digest(), height, batches, admissions)
    }

    /// A block at `height` is final: its ciphertexts leave the pending set for good. Returns
    /// the pending entries this drops: anonymous ones whose nullifier the block used (over
    /// quota: evidence is recorded) or whose RLN epoch no later block accepts.
    pub fn on_finalized(&mut self, height: Height, cts: &[Arc<Verified>]) -> Vec<(CtId, Reject)> {
        self.finalized = self.finalized.max(height);
        let mut dropped = Vec::new();
        for ct in cts {
            let id = ct.id();
            self.remove(&id);
            self.ordered.insert(id, ct.label().key_epoch());
            let (Some(st), Some(p)) = (self.rln.as_mut(), ct.rln()) else {
                continue;
            };
            if let Some((other, proof)) = st.nullifiers.record_ordered(id, p) {
                st.add_evidence(
                    SlashingEvidence {
                        first: (id, (**p).clone()),
                        second: (other, (*proof).clone()),
                    },
                    true,
                );
                if self.entries.contains_key(&other) {
                    dropped.push((other, Reject::Rln(RlnReject::OverQuota)));
                }
            }
        }
        for (other, _) in &dropped {
            // its nullifier is now the ordered entry's: remove without forgetting it
            self.unqueue(other);
        }
        if let Some(st) = self.rln.as_mut() {
            // no block after this one accepts older epochs: forget them and drop their entries
            let min = *st.rules.block_epochs((self.finalized + 1).get()).start();
            st.nullifiers.prune_below(min);
            let expired: Vec<(CtId, u64)> = self
                .entries
                .iter()
                .filter_map(|(id, e)| Some((*id, e.ct.rln()?.statement.epoch)))
                .filter(|(_, epoch)| *epoch < min)
                .collect();
            for (id, epoch) in expired {
                self.remove(&id);
                dropped.push((id, Reject::Rln(RlnReject::WrongEpoch(epoch))));
            }
        }
        dropped.extend(self.close_drained());
        dropped
    }

    /// Key epochs whose drain window ended at the next height: no later block carries their
    /// labels, so their pending entries are dropped, each with its reason.
    fn close_drained(&mut self) -> Vec<(CtId, Reject)> {
        let next = self.finalized + 1;
        let ended: Vec<KeyEpoch> = self
            .keys
            .keys()
            .copied()
            .filter(|e| {
                !self.closed.contains(e) && self.epochs.admits(next, *e) == Err(LabelWindow::Ended)
            })
            .collect();
        let mut dropped = Vec::new();
        for e in ended {
            self.closed.insert(e);
            dropped.extend(self.drop_epoch(e));
        }
        dropped
    }

    /// Height of the last block finalized here.
    pub fn finalized_height(&self) -> Height {
        self.finalized
    }

    /// Removes a pending entry (the member gave up proposing it); `None` if not pending.
    pub fn evict(&mut self, id: &CtId) -> Option<Arc<Verified>> {
        self.remove(id)
    }

    /// Marks ids as ordered (restored from the release log after a restart).
    pub fn restore_ordered(&mut self, ids: impl IntoIterator<Item = (CtId, KeyEpoch)>) {
        for (id, epoch) in ids {
            self.remove(&id);
            self.ordered.insert(id, epoch);
        }
    }

    /// Opens a new key epoch; older epochs keep draining until [`Mempool::end_epoch`].
    pub fn open_epoch(&mut self, epoch: KeyEpoch, key: Arc<CommitteeKey>) {
        self.keys.insert(epoch, key);
    }

    /// Ends a key epoch: its pending ciphertexts can no longer be decrypted by this
    /// committee and are dropped, each with a reason for the submitter.
    pub fn end_epoch(&mut self, epoch: KeyEpoch) -> Vec<(CtId, Reject)> {
        self.keys.remove(&epoch);
        self.drop_epoch(epoch)
    }

    /// Drops an epoch's pending entries and forgets its ordered ids (its labels are refused
    /// from now on anyway).
    fn drop_epoch(&mut self, epoch: KeyEpoch) -> Vec<(CtId, Reject)> {
        self.ordered.retain(|_, e| *e != epoch);
        let ids: Vec<CtId> = self
            .entries
            .iter()
            .filter(|(_, e)| e.ct.label().key_epoch() == epoch)
            .map(|(id, _)| *id)
            .collect();
        ids.into_iter()
            .filter_map(|id| self.remove(&id).map(|_| (id, Reject::EpochEnded(epoch))))
            .collect()
    }
}
