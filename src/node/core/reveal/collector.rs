//! The collector: gathers every member's share batches for final blocks, combines them
//! optimistically, names faulty members, answers peers' requests, and emits released batches
//! in height order.

use super::*;

/// A peer's recomputation budget.
#[derive(Clone, Copy, Debug)]
struct RequestBudget {
    tokens: u64,
    at_ms: u64,
}

struct Group {
    epoch: KeyEpoch,
    batch_id: [u8; 32],
    positions: Vec<usize>,
    cts: Vec<VerifiedCiphertext>,
    batches: BTreeMap<u32, SignedBatch>,
    /// Whether this member's batch is in `batches` (it holds a share of the epoch and made it).
    mine: bool,
    done: Option<curtain_crypto::Combined>,
}

struct Slot {
    fin: FinalizedBlock,
    groups: Vec<Group>,
    /// When the block became final here (the actors' clock, ms).
    final_at_ms: u64,
}

#[derive(Clone, Copy, Debug)]
pub struct CollectorConfig {
    /// Share batches kept per member for blocks not yet final here (a member ahead of us).
    pub max_early_per_member: usize,
    /// A final block whose designated members' batches are missing gets every member's once
    /// one of the missing has been silent this long (no batch at all from it, for any height)
    /// or has sent a batch for a later height; an alive member working through a backlog
    /// keeps sending batches, so overload alone does not trigger it. Whatever the reason, a
    /// block incomplete after `HARD_FALLBACK` times this gets every member's batch.
    pub fallback_ms: u64,
    /// After a fallback, every member shares at once for this many heights past the stalled
    /// one (a designated member is likely down; waiting `fallback_ms` at each height would
    /// cost latency).
    pub eager_heights: u64,
}

impl Default for CollectorConfig {
    fn default() -> Self {
        Self {
            max_early_per_member: 32,
            fallback_ms: 1_000,
            eager_heights: 64,
        }
    }
}

pub struct Collector {
    cfg: CollectorConfig,
    keys: BTreeMap<KeyEpoch, Arc<CommitteeKey>>,
    /// This member's shares, signer and recent batches.
    mine: Mine,
    next_release: u64,
    slots: BTreeMap<u64, Slot>,
    /// batch id → (height, group index) for slots held.
    index: HashMap<[u8; 32], (u64, usize)>,
    /// Batches that arrived before their block was final here, oldest first per member.
    early: BTreeMap<u32, VecDeque<SignedBatch>>,
    /// Members caught sending a wrong batch, per key epoch: their later batches are ignored.
    faulty: BTreeSet<(KeyEpoch, u32)>,
    /// (height, batch id) of recently released heights: late batches for them are dropped,
    /// not buffered, and peers' requests for them may be recomputed.
    released: VecDeque<(u64, [u8; 32])>,
    /// Batches recomputed for peers, newest last.
    recomputed: VecDeque<(u64, SignedBatch)>,
    /// Each peer's recomputation budget.
    reshare_budget: HashMap<u32, RequestBudget>,
    /// Every member shares at once for heights up to this one (set by a fallback).
    eager_until: u64,
    /// Per (epoch, member index): its last batch for a block final here.
    heard: HashMap<(KeyEpoch, u32), Heard>,
    /// Which committee decrypts each height, and how long old shares are kept.
    epochs: EpochTable,
    /// Per key epoch, the peer (as the actors number authenticated senders) of each member
    /// index; an epoch not listed numbers its members as the peers.
    roster: BTreeMap<KeyEpoch, Vec<u32>>,
}

/// How many of its own batches a member keeps to answer peers that lost them.
const SENT_MEMORY: usize = 64;

/// A block incomplete after this many `fallback_ms` gets every member's batch regardless.
const HARD_FALLBACK: u64 = 5;

/// The last batch heard from a member of a key epoch.
#[derive(Clone, Copy, Debug)]
struct Heard {
    at_ms: u64,
    height: u64,
}

/// How many released batch ids are remembered to drop late batches.
const RELEASED_MEMORY: usize = 4096;

impl Collector {
    /// `next_release`: the first height not yet in the release log.
    pub fn new(
        cfg: CollectorConfig,
        keys: BTreeMap<KeyEpoch, Arc<CommitteeKey>>,
        my_shares: BTreeMap<KeyEpoch, KeyShare>,
        next_release: Height,
        attestor: Attestor,
    ) -> Self {
        let epochs = EpochTable::single(keys.keys().next().copied().unwrap_or_default());
        let my_shares = my_shares
            .into_iter()
            .map(|(e, s)| (e, Arc::new(s)))
            .collect();
        let next_release = next_release.get();
        Self {
            cfg,
            keys,
            mine: Mine {
                attestor,
                shares: my_shares,
                sent: VecDeque::new(),
            },
            next_release,
            slots: BTreeMap::new(),
            index: HashMap::new(),
            early: BTreeMap::new(),
            faulty: BTreeSet::new(),
            released: VecDeque::new(),
            recomputed: VecDeque::new(),
            reshare_budget: HashMap::new(),
            eager_until: 0,
            heard: HashMap::new(),
            epochs,
            roster: BTreeMap::new(),
        }
    }

    /// Across key epochs: `keys` must hold every epoch of `epochs`, `my_shares` this member's
    /// shares of the epochs it is a member of, `roster` each epoch's members as peers.
    pub fn with_epochs(mut self, epochs: EpochTable, roster: BTreeMap<KeyEpoch, Vec<u32>>) -> Self {
        self.set_epochs(epochs, roster);
        self
    }

    /// [`Collector::with_epochs`] in place.
    pub fn set_epochs(&mut self, epochs: EpochTable, roster: BTreeMap<KeyEpoch, Vec<u32>>) {
        self.epochs = epochs;
        self.roster = roster;
        self.drop_spent_shares();
    }

    /// The key epochs this member still holds a share of.
    pub fn share_epochs(&self) -> impl Iterator<Item = KeyEpoch> + '_ {
        self.mine.shares.keys().copied()
    }

    /// The peer that member `index` of key epoch `epoch` is.
    fn peer_of(&self, epoch: KeyEpoch, index: u32) -> Option<u32> {
        match self.roster.get(&epoch) {
            Some(r) => r.get(index as usize).copied(),
            None => Some(index),
        }
    }

    /// Drops (and so zeroizes) the shares of epochs whose heights are all released here,
    /// drain included: nobody can need a batch of them any more (SPEC.md §9.8).
    fn drop_spent_shares(&mut self) {
        let (epochs, next) = (&self.epochs, self.next_release);
        self.mine
            .shares
            .retain(|e, _| epochs.shares_needed(*e, Height(next)));
    }

    pub fn next_release(&self) -> u64 {
        self.next_release
    }

    /// Continues after `height`, already released (restored from the release log).
    pub fn resume_after(&mut self, height: u64) {
        self.next_release = self.next_release.max(height + 1);
        self.slots.retain(|h, _| *h > height);
        self.drop_spent_shares();
    }

    /// Finalized heights still waiting for shares.
    pub fn waiting(&self) -> impl Iterator<Item = u64> + '_ {
        self.slots.keys().copied()
    }

    /// Where a ciphertext final here but not yet released was ordered: (height, namespace,
    /// position in the namespace's list).
    pub fn ordered_at(&self, id: &CtId) -> Option<(u64, Namespace, u32)> {
        self.slots.iter().find_map(|(h, slot)| {
            slot.fin.block.batches.iter().find_map(|b| {
                let p = b.ids.iter().position(|x| x == id)?;
                Some((*h, b.namespace, p as u32))
            })
        })
    }

    /// `(height, batch id)` of every share batch still being collected `fallback_ms` after
    /// its block became final here: what to ask peers for again when their batches may have
    /// been lost (asking sooner only makes peers answer for heights that are merely busy).
    pub fn waiting_batches(&self, now_ms: u64) -> Vec<(u64, [u8; 32])> {
        self.slots
            .iter()
            .filter(|(_, s)| now_ms.saturating_sub(s.final_at_ms) >= self.cfg.fallback_ms)
            .flat_map(|(h, s)| {
                s.groups
                    .iter()
                    .filter(|g| g.done.is_none())
                    .map(move |g| (*h, g.batch_id))
            })
            .collect()
    }

    pub fn faulty_members(&self) -> impl Iterator<Item = &(KeyEpoch, u32)> {
        self.faulty.iter()
    }

    /// A block became final here at `now_ms`: if this member is designated for it (or the
    /// collector is eager), produce and send its shares; then use any shares that arrived
    /// early.
    pub fn on_finalized<R: CryptoRng + ?Sized>(
        &mut self,
        fin: FinalizedBlock,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Effect>, ShareError> {
        let h = fin.height();
        if h < self.next_release || self.slots.contains_key(&h) {
            return Ok(Vec::new());
        }
        let digest = fin.block.digest();
        let mut effects = Vec::new();
        let mut slot_groups = Vec::new();
        for (epoch, (positions, cts)) in groups(&fin, self.epochs.epoch_at(Height(h))) {
            if !self.keys.contains_key(&epoch) {
                return Err(ShareError::UnknownEpoch(epoch));
            }
            let mut g = Group {
                epoch,
                batch_id: batch_id(&digest, epoch),
                positions,
                cts,
                batches: BTreeMap::new(),
                mine: false,
                done: None,
            };
            if self.shares_at_once(h, &g) {
                self.mine.share(h, digest, &mut g, &mut effects);
            }
            slot_groups.push(g);
        }
        for (gi, g) in slot_groups.iter().enumerate() {
            self.index.insert(g.batch_id, (h, gi));
        }
        self.slots.insert(
            h,
            Slot {
                fin,
                groups: slot_groups,
                final_at_ms: now_ms,
            },
        );
        // Adopt early batches for this block.
        let ids: BTreeMap<[u8; 32], KeyEpoch> = self.slots[&h]
            .groups
            .iter()
            .map(|g| (g.batch_id, g.epoch))
            .collect();
        let mut adopted: Vec<(u32, KeyEpoch, SignedBatch)> = Vec::new();
        for (from, q) in self.early.iter_mut() {
            q.retain(|b| match ids.get(&b.batch_id()) {
                Some(epoch) => {
                    adopted.push((*from, *epoch, b.clone()));
                    false
                }
                None => true,
            });
        }
        let adopted: Vec<SignedBatch> = adopted
            .into_iter()
            .filter(|(from, epoch, b)| self.peer_of(*epoch, b.member()) == Some(*from))
            .map(|(_, _, b)| b)
            .collect();
        for b in adopted {
            self.store(b, now_ms);
        }
        self.progress(h, rng, &mut effects);
        Ok(effects)
    }

    /// Whether this member shares for group `g` of height `h` as soon as it is final: it is
    /// designated, or the collector is eager after a fallback, or a member of the epoch has
    /// been caught lying (the designated ones may then not be enough).
    fn shares_at_once(&self, h: u64, g: &Group) -> bool {
        let Some(share) = self.mine.shares.get(&g.epoch) else {
            return false;
        };
        let key = &self.keys[&g.epoch];
        h <= self.eager_until
            || designated(h, share.index(), key.n(), key.t())
            || self
                .faulty
                .range((g.epoch, 0)..=(g.epoch, u32::MAX))
                .next()
                .is_some()
    }

    /// The clock moved to `now_ms`: every height still incomplete `fallback_ms` after it
    /// became final gets this member's batch, and the collector turns eager for the next
    /// `eager_heights` heights (also if it had shared already: it is as likely to need the
    /// others at the next heights as they are to need it).
    pub fn on_tick<R: CryptoRng + ?Sized>(&mut self, now_ms: u64, rng: &mut R) -> Vec<Effect> {
        let stalled: Vec<u64> = self
            .slots
            .iter()
            .filter(|(h, s)| self.stalled(**h, s, now_ms))
            .map(|(h, _)| *h)
            .collect();
        let mut effects = Vec::new();
        for h in stalled {
            self.eager_until = self.eager_until.max(h + self.cfg.eager_heights);
            let slot = self.slots.get_mut(&h).expect("listed");
            let digest = slot.fin.block.digest();
            for g in &mut slot.groups {
                self.mine.share(h, digest, g, &mut effects);
            }
            self.progress(h, rng, &mut effects);
        }
        effects
    }

    /// Whether height `h` waits on a designated member that looks down (see
    /// [`CollectorConfig::fallback_ms`]).
    fn stalled(&self, h: u64, slot: &Slot, now_ms: u64) -> bool {
        let waited = now_ms.saturating_sub(slot.final_at_ms);
        if waited < self.cfg.fallback_ms {
            return false;
        }
        slot.groups.iter().filter(|g| g.done.is_none()).any(|g| {
            if waited >= HARD_FALLBACK * self.cfg.fallback_ms {
                return true;
            }
            let key = &self.keys[&g.epoch];
            (0..key.n() as u32)
                .filter(|m| designated(h, *m, key.n(), key.t()) && !g.batches.contains_key(m))
                .any(|m| match self.heard.get(&(g.epoch, m)) {
                    None => true,
                    Some(last) => {
                        last.height > h || now_ms.saturating_sub(last.at_ms) >= self.cfg.fallback_ms
                    }
                })
        })
    }

    /// A share batch arrived from peer `from` (authenticated by the p2p layer) at `now_ms`.
    /// It must be signed by the member of its key epoch it names, and that member must be
    /// `from`: a batch kept here is one its member can be held to (SPEC.md §2.6).
    pub fn on_shares<R: CryptoRng + ?Sized>(
        &mut self,
        from: u32,
        batch: SignedBatch,
        now_ms: u64,
        rng: &mut R,
    ) -> Result<Vec<Effect>, ShareError> {
        let claimed = batch.member();
        if self.peer_of(batch.key_epoch(), claimed) != Some(from) {
            return Err(ShareError::Impersonation { from, claimed });
        }
        if !self.mine.attestor.check_batch(&batch) {
            return Err(ShareError::BadSignature { from });
        }
        let mut effects = Vec::new();
        match self.index.get(&batch.batch_id()) {
            Some(&(h, _)) if batch.height().get() != h => {
                return Err(ShareError::WrongHeight { from, height: h });
            }
            Some(&(h, _)) => {
                self.store(batch, now_ms);
                self.progress(h, rng, &mut effects);
            }
            None if self.released.iter().any(|(_, id)| *id == batch.batch_id()) => {}
            None => {
                let q = self.early.entry(from).or_default();
                if !q.iter().any(|b| b.batch_id() == batch.batch_id()) {
                    if q.len() >= self.cfg.max_early_per_member {
                        q.pop_front();
                    }
                    q.push_back(batch);
                }
            }
        }
        Ok(effects)
    }

    /// This member's batch `batch_id`, if it made it recently (for a peer that asks again).
    pub fn my_batch(&self, batch_id: &[u8; 32]) -> Option<&SignedBatch> {
        self.mine
            .sent
            .iter()
            .rev()
            .map(|(_, b)| b)
            .find(|b| b.batch_id() == *batch_id)
    }

    /// Peer `peer` asks for this member's batch `batch_id` of `height`: that height has
    /// waited `fallback_ms` there. Answered from the batches sent lately; for a height still
    /// pending here, from the group's verified ciphertexts (made now if this member never
    /// made it: it was not designated, and without it the asker may never reach `t`); for a
    /// height released here in the last `RESHARE_WINDOW` heights, from the recomputed batches
    /// or by a recomputation within the peer's budget. Anything else is not answered, at the
    /// cost of a lookup (SPEC.md §5.3).
    pub fn on_request<R: CryptoRng + ?Sized>(
        &mut self,
        peer: u32,
        height: u64,
        batch_id: &[u8; 32],
        now_ms: u64,
        rng: &mut R,
    ) -> Answer {
        if let Some(b) = self.my_batch(batch_id) {
            return Answer::Batch(b.clone());
        }
        let Some(&(h, gi)) = self.index.get(batch_id) else {
            return self.on_released_request(peer, height, batch_id, now_ms);
        };
        let slot = self.slots.get_mut(&h).expect("indexed");
        let digest = slot.fin.block.digest();
        let g = &mut slot.groups[gi];
        let Some(share) = self.mine.shares.get(&g.epoch) else {
            return Answer::NoShare;
        };
        if let Some(b) = g.batches.get(&share.index()) {
            return Answer::Batch(b.clone());
        }
        if g.done.is_some() {
            // combined here without it: the asker alone needs it
            let mine = share.decryption_shares(g.batch_id, &g.cts);
            return match self
                .mine
                .attestor
                .sign_batch(g.epoch, Height(h), digest, mine)
            {
                Some(b) => Answer::Batch(b),
                None => Answer::NoShare,
            };
        }
        let mut effects = Vec::new();
        self.mine.share(h, digest, g, &mut effects);
        self.progress(h, rng, &mut effects);
        Answer::Made(effects)
    }

    fn on_released_request(
        &mut self,
        peer: u32,
        height: u64,
        batch_id: &[u8; 32],
        now_ms: u64,
    ) -> Answer {
        let recent = height + RESHARE_WINDOW >= self.next_release;
        if !recent || !self.released.contains(&(height, *batch_id)) {
            return Answer::Unanswered(Unanswered::Unknown);
        }
        if let Some((_, b)) = self.recomputed.iter().find(|(h, _)| *h == height) {
            return Answer::Batch(b.clone());
        }
        let epoch = self.epochs.epoch_at(Height(height));
        let Some(share) = self.mine.shares.get(&epoch) else {
            return Answer::NoShare;
        };
        let budget = self.reshare_budget.entry(peer).or_insert(RequestBudget {
            tokens: RESHARE_BURST,
            at_ms: now_ms,
        });
        let earned = now_ms.saturating_sub(budget.at_ms) / RESHARE_REFILL_MS;
        if earned > 0 {
            budget.tokens = (budget.tokens + earned).min(RESHARE_BURST);
            budget.at_ms += earned * RESHARE_REFILL_MS;
        }
        if budget.tokens == 0 {
            return Answer::Unanswered(Unanswered::RateLimited);
        }
        budget.tokens -= 1;
        Answer::Recompute(Resharer {
            height,
            batch_id: *batch_id,
            epoch,
            share: share.clone(),
            keys: self.keys.clone(),
            attestor: self.mine.attestor.clone(),
        })
    }

    /// Keeps a batch recomputed for a peer (a [`Resharer`]'s result), for the next peer that
    /// asks for the same height.
    pub fn recomputed(&mut self, height: u64, batch: SignedBatch) {
        if self.recomputed.iter().any(|(h, _)| *h == height) {
            return;
        }
        if self.recomputed.len() >= RESHARE_CACHE {
            self.recomputed.pop_front();
        }
        self.recomputed.push_back((height, batch));
    }

    fn store(&mut self, batch: SignedBatch, now_ms: u64) {
        let Some(&(h, gi)) = self.index.get(&batch.batch_id()) else {
            return;
        };
        let g = &mut self.slots.get_mut(&h).expect("indexed").groups[gi];
        let heard = self
            .heard
            .entry((g.epoch, batch.member()))
            .or_insert(Heard {
                at_ms: now_ms,
                height: h,
            });
        heard.at_ms = heard.at_ms.max(now_ms);
        heard.height = heard.height.max(h);
        if g.done.is_none() && !self.faulty.contains(&(g.epoch, batch.member())) {
            g.batches.entry(batch.member()).or_insert(batch);
        }
    }

    /// Combines what can be combined at height `h`, then releases every complete height in
    /// order.
    fn progress<R: CryptoRng + ?Sized>(&mut self, h: u64, rng: &mut R, effects: &mut Vec<Effect>) {
        let slot = self.slots.get_mut(&h).expect("slot exists");
        let fin = &slot.fin;
        let digest = fin.block.digest();
        for g in slot.groups.iter_mut().filter(|g| g.done.is_none()) {
            let key = &self.keys[&g.epoch];
            while g.done.is_none() && g.batches.len() >= key.t() {
                let batches: Vec<ShareBatch> =
                    g.batches.values().map(|b| b.batch().clone()).collect();
                let faults = match combine(key, g.batch_id, &g.cts, &batches, rng) {
                    Ok(c) => {
                        let f = c.faults.clone();
                        g.done = Some(c);
                        f
                    }
                    Err(CombineError::NotEnoughShares { faults, .. }) => faults,
                };
                let caught = !faults.is_empty();
                for f in faults {
                    let Some(signed) = g.batches.remove(&f.member()) else {
                        continue;
                    };
                    if self.faulty.insert((g.epoch, f.member())) {
                        effects.push(Effect::Fault(Evidence::WrongShares(Box::new(
                            WrongShares::new(
                                signed,
                                fin.block.clone(),
                                fin.cts.iter().map(|ct| ct.encoded().clone()).collect(),
                            ),
                        ))));
                    }
                }
                // A designated member lied: this member's batch may be needed now, and
                // with it the group may combine.
                if !(caught && self.mine.share(h, digest, g, effects)) {
                    break;
                }
            }
        }
        while let Some(entry) = self.slots.first_entry() {
            if *entry.key() != self.next_release
                || entry.get().groups.iter().any(|g| g.done.is_none())
            {
                break;
            }
            let slot_height = *entry.key();
            let slot = entry.remove();
            for g in &slot.groups {
                self.index.remove(&g.batch_id);
                if self.released.len() >= RELEASED_MEMORY {
                    self.released.pop_front();
                }
                self.released.push_back((slot_height, g.batch_id));
            }
            effects.push(Effect::Release(release(slot)));
            self.next_release += 1;
        }
        self.drop_spent_shares();
    }
}

/// This member's part: its key shares, what it signs with, and the batches it made lately.
struct Mine {
    /// Signs this member's batches and checks peers'.
    attestor: Attestor,
    /// Shared with a [`Resharer`] while it works; zeroized when the last holder drops it.
    shares: BTreeMap<KeyEpoch, Arc<KeyShare>>,
    /// Its last `SENT_MEMORY` batches with their heights, oldest first.
    sent: VecDeque<(u64, SignedBatch)>,
}

impl Mine {
    /// Makes, signs, keeps and sends this member's batch for `g` at height `h` (block
    /// `digest`), once; false if it had made it already, the group is done, or this member
    /// holds no share of the epoch.
    fn share(&mut self, h: u64, digest: Digest, g: &mut Group, effects: &mut Vec<Effect>) -> bool {
        if g.mine || g.done.is_some() {
            return false;
        }
        let Some(share) = self.shares.get(&g.epoch) else {
            return false;
        };
        let Some(mine) = self.attestor.sign_batch(
            g.epoch,
            Height(h),
            digest,
            share.decryption_shares(g.batch_id, &g.cts),
        ) else {
            return false;
        };
        g.batches.insert(mine.member(), mine.clone());
        g.mine = true;
        if self.sent.len() >= SENT_MEMORY {
            self.sent.pop_front();
        }
        self.sent.push_back((h, mine.clone()));
        effects.push(Effect::Broadcast(mine));
        true
    }
}

/// Assembles the released batch: entries in block order, grouped by namespace as the block is.
fn release(slot: Slot) -> ReleasedBatch {
    let n = slot.fin.cts.len();
    let mut outcome = vec![None; n];
    for g in slot.groups {
        let c = g.done.expect("complete");
        for ((pos, d), o) in g.positions.into_iter().zip(c.decryptions).zip(c.openings) {
            outcome[pos] = Some((d, o));
        }
    }
    let mut it = slot.fin.cts.iter().zip(outcome);
    let namespaces = slot
        .fin
        .block
        .batches
        .iter()
        .map(|nb| ReleasedNamespace {
            namespace: nb.namespace,
            entries: it
                .by_ref()
                .take(nb.ids.len())
                .map(|(ct, o)| {
                    let (outcome, opening) = o.expect("every position combined");
                    ReleasedEntry {
                        ciphertext: ct.encoded().clone(),
                        rln: ct.rln().cloned(),
                        opening,
                        outcome,
                    }
                })
                .collect(),
        })
        .collect();
    ReleasedBatch {
        height: slot.fin.block.height,
        parent: slot.fin.block.parent,
        block: slot.fin.block.digest(),
        certificate: slot.fin.certificate,
        namespaces,
    }
}
