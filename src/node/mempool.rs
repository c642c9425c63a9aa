//! The mempool core: admission of encrypted transactions and the choice of what the next
//! proposal carries. Pure: time comes in as milliseconds, randomness as an argument, and the
//! shell persists and gossips what `admit` accepted (before acknowledging it).
//!
//! Admission order, cheapest first: per-source token bucket → label (epoch known and not
//! ended, key id matches, namespace served) → duplicate (pending, already ordered, or twice in
//! the same call) → global caps → point decoding (subgroup checks) → one batched validity
//! check per key epoch. Everything before decoding works on the encoding alone, so a
//! duplicate or a flood costs a hash, not a decompression.

use super::block::{Block, BlockLimits, NamespaceBatch};
use super::CtId;
use curtain_crypto::{
    decode_all, verify_batch, Ciphertext, CommitteeKey, DecodeError, EncodedCiphertext, Namespace,
    VerifiedCiphertext,
};
use rand_core::CryptoRng;
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
    UnknownEpoch(u64),
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
    EpochEnded(u64),
}

/// The verdict for one submitted ciphertext.
#[derive(Clone, Debug)]
pub struct Admission {
    pub id: CtId,
    pub result: Result<Arc<VerifiedCiphertext>, Reject>,
}

struct Candidate {
    /// Position in the submitted list.
    at: usize,
    internal: bool,
    ct: EncodedCiphertext,
    key: Arc<CommitteeKey>,
}

type Verdicts = Vec<Option<Result<Arc<VerifiedCiphertext>, Reject>>>;

/// Submissions past [`Mempool::screen`], to be decoded and checked.
pub struct Screened {
    ids: Vec<CtId>,
    verdicts: Verdicts,
    passed: Vec<Candidate>,
}

/// Submissions past [`Screened::check`], to be inserted by [`Mempool::insert`].
pub struct Checked {
    ids: Vec<CtId>,
    verdicts: Verdicts,
    /// (position, exempt from caps, ciphertext)
    verified: Vec<(usize, bool, VerifiedCiphertext)>,
}

impl Screened {
    /// Decodes the points (in parallel) and checks validity with one batched check per key
    /// epoch. Needs no access to the mempool.
    pub fn check<R: CryptoRng + ?Sized>(self, rng: &mut R) -> Checked {
        let Screened {
            ids,
            mut verdicts,
            passed,
        } = self;
        let encoded: Vec<EncodedCiphertext> = passed.iter().map(|c| c.ct.clone()).collect();
        let mut by_epoch: BTreeMap<u64, Vec<(Candidate, Ciphertext)>> = BTreeMap::new();
        for (c, ct) in passed.into_iter().zip(decode_all(&encoded)) {
            match ct {
                Ok(ct) => by_epoch
                    .entry(ct.label().key_epoch())
                    .or_default()
                    .push((c, ct)),
                Err(e) => verdicts[c.at] = Some(Err(Reject::Malformed(e))),
            }
        }
        let mut verified = Vec::new();
        for group in by_epoch.into_values() {
            let key = Arc::clone(&group[0].0.key);
            let (cands, cts): (Vec<Candidate>, Vec<Ciphertext>) = group.into_iter().unzip();
            for (c, res) in cands.into_iter().zip(verify_batch(&key, cts, rng)) {
                match res {
                    Ok(v) => verified.push((c.at, c.internal, v)),
                    Err(rej) => verdicts[c.at] = Some(Err(Reject::Invalid(rej.reason))),
                }
            }
        }
        Checked {
            ids,
            verdicts,
            verified,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Thousandths of a token, so refill is exact integer arithmetic.
    milli: u64,
    at_ms: u64,
}

struct Entry {
    ct: Arc<VerifiedCiphertext>,
    seq: u64,
}

pub struct Mempool {
    cfg: MempoolConfig,
    /// Open key epochs: the newest is current, older ones drain.
    keys: BTreeMap<u64, Arc<CommitteeKey>>,
    entries: HashMap<CtId, Entry>,
    /// Per namespace, pending ids in arrival order.
    queues: BTreeMap<Namespace, BTreeMap<u64, CtId>>,
    bytes: usize,
    next_seq: u64,
    /// Ids ordered in finalized blocks, with their key epoch (forgotten when the epoch ends:
    /// from then on its label is rejected anyway).
    ordered: HashMap<CtId, u64>,
    buckets: HashMap<Source, Bucket>,
    /// Namespace the next proposal starts its round-robin after.
    rr_after: Option<Namespace>,
}

impl Mempool {
    pub fn new(cfg: MempoolConfig, epoch: u64, key: Arc<CommitteeKey>) -> Self {
        Self {
            cfg,
            keys: BTreeMap::from([(epoch, key)]),
            entries: HashMap::new(),
            queues: BTreeMap::new(),
            bytes: 0,
            next_seq: 0,
            ordered: HashMap::new(),
            buckets: HashMap::new(),
            rr_after: None,
        }
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
    pub fn get(&self, id: &CtId) -> Option<&Arc<VerifiedCiphertext>> {
        self.entries.get(id).map(|e| &e.ct)
    }
    pub fn is_ordered(&self, id: &CtId) -> bool {
        self.ordered.contains_key(id)
    }
    pub fn key(&self, epoch: u64) -> Option<&Arc<CommitteeKey>> {
        self.keys.get(&epoch)
    }

    /// Admits what it can of `cts` from one source; one verdict per input, in input order.
    pub fn admit<R: CryptoRng + ?Sized>(
        &mut self,
        now_ms: u64,
        source: Source,
        cts: Vec<EncodedCiphertext>,
        rng: &mut R,
    ) -> Vec<Admission> {
        let screened = self.screen(now_ms, cts.into_iter().map(|c| (source, c)).collect());
        self.insert(screened.check(rng))
    }

    /// Admission's first step, on the encodings alone: rate limits, label, duplicates, caps.
    /// The costly step, [`Screened::check`], needs no access to the mempool, so a shell can
    /// run it without holding the mempool while it decodes; [`Mempool::insert`] finishes.
    pub fn screen(&mut self, now_ms: u64, items: Vec<(Source, EncodedCiphertext)>) -> Screened {
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
            ids,
            verdicts,
            passed,
        }
    }

    /// Admission's last step: inserts what [`Screened::check`] verified, unless the same id
    /// arrived (or the mempool filled) in the meantime.
    pub fn insert(&mut self, checked: Checked) -> Vec<Admission> {
        let Checked {
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
                    || self.bytes + v.encoded_len() > self.cfg.max_pending_bytes)
            {
                Err(Reject::Full)
            } else {
                Ok(self.insert_one(v))
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
        ct: &EncodedCiphertext,
        in_call: &mut HashSet<CtId>,
        count: &mut usize,
        bytes: &mut usize,
    ) -> Result<Arc<CommitteeKey>, Reject> {
        if !self.take_token(now_ms, source) {
            return Err(Reject::RateLimited);
        }
        let label = ct.label();
        let epoch = label.key_epoch();
        let key = self.keys.get(&epoch).ok_or(Reject::UnknownEpoch(epoch))?;
        if label.key_id() != &key.id() {
            return Err(Reject::WrongKey);
        }
        if let Some(ns) = &self.cfg.namespaces {
            if !ns.contains(&label.namespace()) {
                return Err(Reject::UnknownNamespace(label.namespace()));
            }
        }
        let id = ct.id();
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

    fn insert_one(&mut self, ct: VerifiedCiphertext) -> Arc<VerifiedCiphertext> {
        let ct = Arc::new(ct);
        let id = ct.id();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += ct.encoded_len();
        self.queues
            .entry(ct.label().namespace())
            .or_default()
            .insert(seq, id);
        self.entries.insert(
            id,
            Entry {
                ct: Arc::clone(&ct),
                seq,
            },
        );
        ct
    }

    fn remove(&mut self, id: &CtId) -> Option<Arc<VerifiedCiphertext>> {
        let e = self.entries.remove(id)?;
        self.bytes -= e.ct.encoded_len();
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
            .take(limits.max_namespaces)
            .map(|(ns, q)| {
                let it: Box<dyn Iterator<Item = &CtId>> =
                    Box::new(q.values().filter(|id| !exclude.contains(*id)));
                (*ns, it)
            })
            .collect();
        let mut picked: BTreeMap<Namespace, Vec<CtId>> = BTreeMap::new();
        let (mut count, mut bytes) = (0usize, 0usize);
        let mut last = None;
        while count < limits.max_ciphertexts && !cursors.is_empty() {
            cursors.retain_mut(|(ns, it)| {
                if count >= limits.max_ciphertexts {
                    return true;
                }
                let Some(id) = it.next() else { return false };
                let size = self.entries[id].ct.encoded_len();
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
        if last.is_some() {
            self.rr_after = last;
        }
        let batches = picked
            .into_iter()
            .map(|(namespace, ids)| NamespaceBatch { namespace, ids })
            .collect();
        Block::new(parent.digest(), parent.height + 1, batches)
    }

    /// A block is final: its ciphertexts leave the pending set for good.
    pub fn on_finalized(&mut self, cts: &[Arc<VerifiedCiphertext>]) {
        for ct in cts {
            let id = ct.id();
            self.remove(&id);
            self.ordered.insert(id, ct.label().key_epoch());
        }
    }

    /// Marks ids as ordered (restored from the release log after a restart).
    pub fn restore_ordered(&mut self, ids: impl IntoIterator<Item = (CtId, u64)>) {
        for (id, epoch) in ids {
            self.remove(&id);
            self.ordered.insert(id, epoch);
        }
    }

    /// Opens a new key epoch; older epochs keep draining until [`Mempool::end_epoch`].
    pub fn open_epoch(&mut self, epoch: u64, key: Arc<CommitteeKey>) {
        self.keys.insert(epoch, key);
    }

    /// Ends a key epoch: its pending ciphertexts can no longer be decrypted by this
    /// committee and are dropped, each with a reason for the submitter.
    pub fn end_epoch(&mut self, epoch: u64) -> Vec<(CtId, Reject)> {
        self.keys.remove(&epoch);
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

/// A source's token rate (per second) and bucket capacity (thousandths of a token); `None`
/// for sources that are not rate-limited.
fn bucket_limits(cfg: &MempoolConfig, source: Source) -> Option<(u64, u64)> {
    let (rate, burst) = match source {
        Source::Internal => return None,
        Source::Client(_) => (cfg.client_rate_per_s, cfg.client_burst),
        Source::Peer(_) => (cfg.peer_rate_per_s, cfg.peer_burst),
    };
    Some((rate, burst.saturating_mul(1000)))
}

/// Refills a bucket to `now_ms` and returns its level in thousandths of a token.
fn refill(b: &mut Bucket, now_ms: u64, rate_per_s: u64, cap_milli: u64) -> u64 {
    let elapsed = now_ms.saturating_sub(b.at_ms);
    b.milli = b
        .milli
        .saturating_add(elapsed.saturating_mul(rate_per_s))
        .min(cap_milli);
    b.at_ms = b.at_ms.max(now_ms);
    b.milli
}
