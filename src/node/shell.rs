//! The IO shell around [`Member`]: commonware simplex orders [`ChainBlock`]s through marshal
//! (block dissemination, backfill, finalized delivery in height order), and three tasks carry
//! out what the member core returns: the finalization task (marshal's finalized blocks →
//! shares → releases), the share receiver and the gossip receiver.
//!
//! Generic over the runtime (deterministic in simulation, tokio in the binary) and over the
//! p2p network (simulated or authenticated), which the caller builds and passes in as channels.

use super::core::chain::ChainBlock;
use super::core::epochs::EpochTable;
use super::core::member::{decode_gossip, encode_gossip, Member, ShareMessage, MAX_GOSSIP_BATCH};
use super::core::mempool::{Admission, Reject, Source};
use super::core::reveal::{Answer, Effect};
use super::core::rln::SlashingEvidence;
use super::store::RecordLog;
use crate::ledger::envelope::{Envelope, Verified};
use crate::ledger::release::ReleasedBatch;
use crate::ledger::CtId;
use crate::protocol::json::TxStatus;
use bytes::Bytes;
use commonware_actor::Feedback;
use commonware_broadcast::buffered;
use commonware_codec::Encode as _;
use commonware_consensus::{
    marshal::{
        self,
        ancestry::Ancestry,
        core::{Actor as MarshalActor, Mailbox as MarshalMailbox},
        resolver::p2p as marshal_resolver,
        standard::{Inline, Standard},
        Start, Update,
    },
    simplex::{
        self,
        config::{Floor, ForwardPolicy, SkipPolicy},
        elector::RoundRobin,
        scheme::bls12381_threshold::standard as threshold,
        types::Context as SimplexContext,
    },
    types::{Epoch, Height, ViewDelta},
    Application, Reporter,
};
use commonware_cryptography::{
    bls12381::primitives::variant::MinSig,
    certificate::{Provider, Scoped},
    ed25519,
    sha256::{self, Sha256},
    Digested, Digestible as _,
};
use commonware_p2p::{
    utils::mux::{Builder as _, Muxer},
    Blocker, Provider as PeerProvider, Receiver, Recipients, Sender,
};
use commonware_parallel::Sequential;
use commonware_runtime::{
    buffer::paged::CacheRef,
    telemetry::metrics::{self, MetricsExt as _},
    Clock, Handle, Metrics, Spawner, Storage, Supervisor,
};
use commonware_storage::archive::immutable;
use commonware_utils::{
    channel::{mpsc, oneshot},
    Acknowledgement as _, NZDuration, NZUsize, NZU16, NZU64,
};

use commonware_utils::vec::NonEmptyVec;
use futures::{FutureExt as _, StreamExt as _};
use rand_core::CryptoRng;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tracing::{debug, info, warn};

/// curtain's own Prometheus metrics (commonware's consensus, marshal and p2p metrics are
/// registered by those components on the same registry).
#[derive(Clone)]
struct NodeMetrics {
    finalized_height: metrics::Gauge,
    next_release: metrics::Gauge,
    mempool_size: metrics::Gauge,
    shares_sent: metrics::Counter,
    shares_received: metrics::Counter,
    /// Share batches that failed verification, by the member that sent them.
    faults: metrics::CounterFamily<FaultyMember>,
    release_latency: metrics::Histogram,
    /// Ciphertexts per finalized block.
    block_ciphertexts: metrics::Histogram,
    /// Ciphertexts per batched admission check (the validity MSM's size drives its cost).
    admit_batch: metrics::Histogram,
}

/// Write buffer of the small-record journals (keys, ordinals): commonware's paged writer raises
/// anything smaller to 8 KiB and logs a warning per journal at start.
const SMALL_WRITE_BUFFER: usize = 1 << 13;

/// Buckets for counts of ciphertexts.
const COUNT_BUCKETS: [f64; 11] = [
    1.0, 4.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, metrics::EncodeLabelSet)]
struct FaultyMember {
    member: u32,
}

impl NodeMetrics {
    fn new(context: &impl Metrics) -> Self {
        Self {
            finalized_height: context
                .gauge("finalized_height", "height of the last finalized block"),
            next_release: context.gauge("next_release", "first height not yet released"),
            mempool_size: context.gauge("mempool_size", "pending ciphertexts"),
            shares_sent: context.counter("shares_sent", "share batches sent"),
            shares_received: context.counter("shares_received", "share batches received"),
            faults: context.family("faults", "wrong share batches, by sending member"),
            release_latency: context.histogram(
                "release_latency_seconds",
                "finalization delivered to durable release, per height",
                metrics::histogram::Buckets::LOCAL,
            ),
            block_ciphertexts: context.histogram(
                "block_ciphertexts",
                "ciphertexts per finalized block",
                COUNT_BUCKETS,
            ),
            admit_batch: context.histogram(
                "admit_batch_ciphertexts",
                "ciphertexts per batched admission check",
                COUNT_BUCKETS,
            ),
        }
    }
}

/// Consensus signing: threshold BLS, so a finalization certificate is one signature that is the
/// same at every member (release logs stay byte-identical).
pub type ConsensusScheme = threshold::Scheme<ed25519::PublicKey, MinSig>;
pub type PublicKey = ed25519::PublicKey;
type D = sha256::Digest;

/// The p2p channels a member uses (ids are part of the protocol, see SPEC.md).
pub mod channel {
    pub const VOTE: u64 = 0;
    pub const CERTIFICATE: u64 = 1;
    pub const RESOLVER: u64 = 2;
    pub const BACKFILL: u64 = 3;
    pub const BLOCKS: u64 = 4;
    pub const SHARES: u64 = 5;
    pub const GOSSIP: u64 = 6;
}

/// Consensus timers (simplex requires `certification > leader > 0`).
#[derive(Clone)]
pub struct Timeouts {
    pub leader: Duration,
    pub certification: Duration,
    pub timeout_retry: Duration,
    /// How often to ask peers again for share batches of heights still waiting.
    pub share_retry: Duration,
    /// How often the collector checks for heights stalled on their designated members' shares
    /// (the stall itself is `CollectorConfig::fallback_ms`).
    pub share_fallback_tick: Duration,
    /// Block pacing of a leader (see [`Pacing`]).
    pub pacing: Pacing,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            leader: Duration::from_secs(1),
            certification: Duration::from_secs(2),
            timeout_retry: Duration::from_secs(5),
            share_retry: Duration::from_secs(1),
            share_fallback_tick: Duration::from_millis(100),
            pacing: Pacing::default(),
        }
    }
}

/// When a leader proposes. Every block costs each member about the same consensus work
/// (threshold-BLS partial signatures, their checks, certificate recovery and fsyncs), whatever
/// it carries: unpaced, four idle members finalized ~35 blocks/s and burnt ~1.1 cores of this
/// 2-core machine on empty blocks, and under load the same per-block cost crowded out
/// decryption. A leader therefore waits until `min_interval` has passed since it saw the
/// parent, and proposes an empty block only once `idle_interval` has passed (it proposes as soon
/// as something is pending). `idle_interval` must stay well below the leader timeout, or idle
/// views would be nullified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pacing {
    pub min_interval: Duration,
    pub idle_interval: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            min_interval: Duration::from_millis(100),
            idle_interval: Duration::from_millis(500),
        }
    }
}

/// How often a leader with nothing to propose looks at its mempool again.
const PACING_POLL: Duration = Duration::from_millis(5);

impl Pacing {
    /// How long a leader that saw the parent `since_parent` ago waits before looking again,
    /// given the size of the block it could build now; `None`: propose now.
    pub fn wait(&self, since_parent: Duration, block_len: usize) -> Option<Duration> {
        if since_parent < self.min_interval {
            return Some(self.min_interval - since_parent);
        }
        if block_len == 0 && since_parent < self.idle_interval {
            return Some(PACING_POLL.min(self.idle_interval - since_parent));
        }
        None
    }
}

/// One key epoch's committee as consensus sees it.
#[derive(Clone)]
pub struct ConsensusEpoch {
    pub epoch: u64,
    /// Its members' identities in index order.
    pub members: Vec<PublicKey>,
    /// This member's signer when it is a member of the epoch, else a verifier.
    pub scheme: ConsensusScheme,
}

impl ConsensusEpoch {
    fn signs(&self) -> bool {
        use commonware_cryptography::certificate::Scheme as _;
        self.scheme.me().is_some()
    }
}

/// Everything the shell needs besides the network.
pub struct ShellConfig {
    pub me: PublicKey,
    /// Every member of every key epoch in `epochs`, sorted: the p2p peer set, and how the
    /// share and gossip channels number senders.
    pub peers: Vec<PublicKey>,
    /// The key epochs of `table`, oldest first.
    pub epochs: Vec<ConsensusEpoch>,
    /// Which key epoch orders each height (SPEC.md §9.8).
    pub table: EpochTable,
    pub member: Member,
    pub timeouts: Timeouts,
    /// Storage partition prefix (unique per member).
    pub partition: String,
}

impl ShellConfig {
    /// A committee that never switches key epochs: key epoch `epoch` from genesis on.
    pub fn single(
        me: PublicKey,
        epoch: u64,
        participants: Vec<PublicKey>,
        scheme: ConsensusScheme,
        member: Member,
        timeouts: Timeouts,
        partition: String,
    ) -> Self {
        Self {
            me,
            peers: participants.clone(),
            epochs: vec![ConsensusEpoch {
                epoch,
                members: participants,
                scheme,
            }],
            table: EpochTable::single(epoch),
            member,
            timeouts,
            partition,
        }
    }

    /// Per key epoch, the peer number (position in `peers`) of each member index.
    pub fn roster(&self) -> BTreeMap<u64, Vec<u32>> {
        self.epochs
            .iter()
            .map(|e| {
                let r = e
                    .members
                    .iter()
                    .filter_map(|pk| index_of(&self.peers, pk))
                    .collect();
                (e.epoch, r)
            })
            .collect()
    }
}

/// The consensus scheme of each key epoch, for marshal (certificates of every epoch verify;
/// this member signs only in its own epochs).
#[derive(Clone)]
struct EpochSchemes(Arc<BTreeMap<u64, Arc<ConsensusScheme>>>);

impl Provider for EpochSchemes {
    type Scope = Epoch;
    type Scheme = ConsensusScheme;

    fn scoped(&self, epoch: Epoch) -> Option<Scoped<ConsensusScheme>> {
        use commonware_cryptography::certificate::Scheme as _;
        let s = self.0.get(&epoch.get())?;
        Some(if s.me().is_some() {
            Scoped::scheme(s.clone())
        } else {
            Scoped::verifier(s.clone())
        })
    }
}

/// What the outside world holds of a running member.
#[derive(Clone)]
pub struct NodeHandle {
    member: Arc<Mutex<Member>>,
    admit: mpsc::Sender<AdmitRequest>,
    latencies: Latencies,
}

/// Submissions waiting for the admitter. `reply` gets the verdicts once what was accepted is
/// durable (gossip from peers needs no reply).
struct AdmitRequest {
    items: Vec<(Source, Envelope)>,
    reply: Option<oneshot::Sender<Vec<Admission>>>,
}

/// Admission requests queued before submitters are told the node is overloaded.
const ADMIT_QUEUE: usize = 16_384;
/// Most ciphertexts the admitter screens, decodes and checks together.
const MAX_ADMIT_BATCH: usize = 4096;
/// Admission batches smaller than this wait [`ADMIT_LINGER`] once for more requests.
const ADMIT_LINGER_BELOW: usize = 256;
const ADMIT_LINGER: Duration = Duration::from_millis(10);

/// Finalization-to-durable-release latency (ms) of the last heights that held ciphertexts.
type Latencies = Arc<Mutex<VecDeque<f64>>>;

/// How many heights [`NodeHandle::release_latencies_ms`] remembers.
const LATENCY_WINDOW: usize = 4096;

/// Accepted entries to make durable; `then` runs once they are synced.
struct Persist {
    cts: Vec<Arc<Verified>>,
    /// Whether `then` needs them synced: client submissions (acknowledged as durable) do;
    /// peers' gossip does not (its origin member holds it durably and orders it itself), so
    /// gossip-only groups skip the sync (half of a member's syncs at low rates) and become
    /// durable with the next synced group.
    sync: bool,
    /// Slashing evidence found meanwhile (appended to the slashing log).
    evidence: Vec<SlashingEvidence>,
    then: Box<dyn FnOnce() + Send>,
}

impl NodeHandle {
    /// Admits client submissions; what was accepted is durable when this returns, and is
    /// gossiped to the other members. Submissions are admitted in batches with whatever else
    /// is queued (one batched validity check); a full queue answers [`Reject::Full`].
    pub async fn submit(&self, source: Source, cts: Vec<Envelope>) -> Vec<Admission> {
        let overloaded = |cts: &[Envelope]| {
            cts.iter()
                .map(|c| Admission {
                    id: c.id(),
                    result: Err(Reject::Full),
                })
                .collect()
        };
        let (reply, verdicts) = oneshot::channel();
        let request = AdmitRequest {
            items: cts.iter().map(|c| (source, c.clone())).collect(),
            reply: Some(reply),
        };
        if self.admit.try_send(request).is_err() {
            return overloaded(&cts);
        }
        verdicts.await.unwrap_or_else(|_| overloaded(&cts))
    }

    pub fn finalized_height(&self) -> u64 {
        self.member.lock().expect("member lock").finalized_height()
    }

    /// The committee of the key epoch wallets label with now, the one active at the next
    /// height: its members, n and t (a resharing keeps the key and its id).
    pub fn committee_now(
        &self,
        infos: &crate::protocol::json::CommitteeInfos,
    ) -> crate::protocol::json::CommitteeInfo {
        let current = self
            .member
            .lock()
            .expect("member lock")
            .mempool
            .current_key()
            .map(|(epoch, _)| epoch);
        match current {
            Some(epoch) => {
                let mut info = infos.at(epoch).clone();
                info.key_epoch = epoch;
                info
            }
            None => infos.newest().clone(),
        }
    }

    /// The next height to be released here (released heights are below it).
    pub fn next_release(&self) -> u64 {
        self.member
            .lock()
            .expect("member lock")
            .collector
            .next_release()
    }

    /// Where a ciphertext stands here short of its release (which the release stream
    /// reports): pending, or in a block final here; `None` if not known here (never seen,
    /// released, or rejected).
    pub fn tx_status(&self, id: &CtId) -> Option<TxStatus> {
        let m = self.member.lock().expect("member lock");
        if m.mempool.get(id).is_some() {
            return Some(TxStatus::Pending);
        }
        let (height, namespace, position) = m.collector.ordered_at(id)?;
        Some(TxStatus::Ordered {
            height,
            namespace,
            position,
        })
    }

    /// Finalization-to-durable-release latencies (ms) of recent heights with ciphertexts.
    pub fn release_latencies_ms(&self) -> Vec<f64> {
        self.latencies
            .lock()
            .expect("latencies")
            .iter()
            .copied()
            .collect()
    }

    /// Slashing evidence held here (double signals in anonymous namespaces), oldest first.
    pub fn slashing_evidence(&self) -> Vec<SlashingEvidence> {
        let m = self.member.lock().expect("member lock");
        m.mempool
            .rln()
            .map(|st| st.evidence().cloned().collect())
            .unwrap_or_default()
    }

    /// The members' registry as released here: `(released height, leaves, current root,
    /// roots the next block accepts)`; `None` without anonymous namespaces.
    pub fn rln_registry(&self) -> Option<crate::protocol::json::RlnRegistry> {
        let m = self.member.lock().expect("member lock");
        let st = m.mempool.rln()?;
        let next = m.finalized_height() + 1;
        let hex = |r: &curtain_circuits::Fr| hex::encode(curtain_circuits::fr_to_be_bytes(r));
        Some(crate::protocol::json::RlnRegistry {
            released_height: st.registry.released(),
            leaves: st.registry.tree().next_index(),
            root: hex(&st.registry.root()),
            accepted_roots: st
                .registry
                .roots_for_block(&st.rules, next)
                .unwrap_or_default()
                .iter()
                .map(hex)
                .collect(),
            epoch: st.rules.epoch_of(next),
            next_height: next,
        })
    }

    /// The leaves of the members' tree in index order (hex; `0` for a removed member), so a
    /// wallet can rebuild the tree and its own path.
    pub fn rln_leaves(&self) -> Option<Vec<String>> {
        let m = self.member.lock().expect("member lock");
        let st = m.mempool.rln()?;
        let tree = st.registry.tree();
        Some(
            (0..tree.next_index())
                .map(|i| {
                    hex::encode(curtain_circuits::fr_to_be_bytes(
                        &tree.leaf(i).expect("below next index"),
                    ))
                })
                .collect(),
        )
    }

    /// `(key epoch, member)` of every member caught sending wrong shares.
    pub fn faulty_members(&self) -> Vec<(u64, u32)> {
        self.member
            .lock()
            .expect("member lock")
            .collector
            .faulty_members()
            .copied()
            .collect()
    }
}

/// The marshal-facing application: builds and checks proposals with the member core.
#[derive(Clone)]
struct App {
    member: Arc<Mutex<Member>>,
    pacing: Pacing,
    /// When this member last saw a proposal (its own or one it verified): the pacing origin.
    last_proposal: Arc<Mutex<Option<SystemTime>>>,
}

impl App {
    /// Collects the ancestry (newest first) down to the last finalized block here.
    async fn ancestors(&self, mut ancestry: impl Ancestry<ChainBlock>) -> Vec<ChainBlock> {
        let finalized = self.member.lock().expect("member lock").finalized_height();
        let mut out = Vec::new();
        while let Some(b) = ancestry.next().await {
            let h = b.inner().block().height;
            out.push(b.inner().clone());
            if h <= finalized {
                break;
            }
        }
        out
    }
}

impl App {
    fn saw_proposal(&self, at: SystemTime) {
        *self.last_proposal.lock().expect("pacing lock") = Some(at);
    }
}

impl<E> Application<E> for App
where
    E: Clock + CryptoRng + Send + 'static,
{
    type SigningScheme = ConsensusScheme;
    type Context = SimplexContext<D, PublicKey>;
    type Block = ChainBlock;
    type Input = ();

    async fn propose(
        &mut self,
        (clock, _context): (E, Self::Context),
        ancestry: impl Ancestry<ChainBlock>,
        _input: (),
    ) -> Option<Digested<ChainBlock>> {
        let ancestors = self.ancestors(ancestry).await;
        let origin = self
            .last_proposal
            .lock()
            .expect("pacing lock")
            .unwrap_or_else(|| clock.current());
        let block = loop {
            let block = self
                .member
                .lock()
                .expect("member lock")
                .propose(&ancestors)?;
            let since = clock.current().duration_since(origin).unwrap_or_default();
            match self.pacing.wait(since, block.block().len()) {
                None => break block,
                Some(wait) => clock.sleep(wait).await,
            }
        };
        self.member.lock().expect("member lock").proposed(&block);
        self.saw_proposal(clock.current());
        let digest = block.digest();
        debug!(
            height = block.block().height,
            txs = block.block().len(),
            "proposing"
        );
        Some(Digested::precomputed(block, digest))
    }

    async fn verify(
        &mut self,
        (mut rng, _context): (E, Self::Context),
        mut ancestry: impl Ancestry<ChainBlock>,
    ) -> bool {
        self.saw_proposal(rng.current());
        let Some(block) = ancestry.next().await else {
            return false;
        };
        let ancestors = self.ancestors(ancestry).await;
        let verdict =
            self.member
                .lock()
                .expect("member lock")
                .verify(block.inner(), &ancestors, &mut rng);
        match verdict {
            Ok(()) => true,
            Err(e) => {
                warn!(height = block.inner().block().height, error = %e, "rejecting proposal");
                false
            }
        }
    }
}

/// Marshal's finalized blocks, forwarded to the finalization task.
#[derive(Clone)]
struct Finalized(mpsc::UnboundedSender<Update<ChainBlock>>);

impl Reporter for Finalized {
    type Activity = Update<ChainBlock>;
    fn report(&mut self, activity: Self::Activity) -> Feedback {
        if self.0.send(activity).is_err() {
            return Feedback::Closed;
        }
        Feedback::Ok
    }
}

/// The channel pairs of one member's p2p network.
pub struct Channels<S, R> {
    pub vote: (S, R),
    pub certificate: (S, R),
    pub resolver: (S, R),
    pub backfill: (S, R),
    pub blocks: (S, R),
    pub shares: (S, R),
    pub gossip: (S, R),
}

/// Starts a member; released batches are sent on `releases` in height order, from height 1
/// (after a restart, the logged ones first).
pub async fn start<E, S, R, M, B>(
    context: E,
    cfg: ShellConfig,
    channels: Channels<S, R>,
    peers: M,
    blocker: B,
    releases: mpsc::UnboundedSender<ReleasedBatch>,
) -> (NodeHandle, Vec<Handle<()>>)
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    M: PeerProvider<PublicKey = PublicKey> + Clone,
    B: Blocker<PublicKey = PublicKey> + Clone,
{
    let limits = *cfg.member.limits();
    let prefix = cfg.partition.clone();
    let roster = cfg.roster();
    let mut member = cfg.member;
    member.collector.set_epochs(cfg.table.clone(), roster);

    // Durable state: the release log and the accepted mempool entries.
    let (release_log, logged) =
        RecordLog::open(context.child("release_log"), &format!("{prefix}-releases"))
            .await
            .expect("release log");
    let released: Vec<ReleasedBatch> = logged
        .iter()
        .map(|r| ReleasedBatch::from_bytes(r).expect("own release log decodes"))
        .collect();
    member.restore(&released);
    // The release stream always starts at height 1: a restarted member first replays its log.
    for batch in &released {
        let _ = releases.send(batch.clone());
    }
    let (mempool_log, accepted) =
        RecordLog::open(context.child("mempool_log"), &format!("{prefix}-mempool"))
            .await
            .expect("mempool log");
    // every replayed record stays until its entry leaves the mempool (see mempool_writer);
    // positions count every record, decodable or not
    let replayed: Vec<(u64, Envelope)> = (mempool_log.bounds().start..)
        .zip(&accepted)
        .filter_map(|(p, r)| Some((p, Envelope::parse(r).ok()?)))
        .collect();
    let logged: VecDeque<(u64, CtId)> = replayed.iter().map(|(p, ct)| (*p, ct.id())).collect();
    let cts: Vec<Envelope> = replayed.into_iter().map(|(_, ct)| ct).collect();
    // slashing evidence found before the restart
    let (slash_log, slashes) =
        RecordLog::open(context.child("slashing_log"), &format!("{prefix}-slashing"))
            .await
            .expect("slashing log");
    if let Some(st) = member.mempool.rln_mut() {
        for r in &slashes {
            if let Ok(e) = SlashingEvidence::from_bytes(r) {
                st.add_evidence(e, false);
            }
        }
    }
    let mut restore_rng = context.child("restore");
    let restored = member
        .mempool
        .admit(0, Source::Internal, cts, &mut restore_rng)
        .iter()
        .filter(|a| a.result.is_ok())
        .count();
    info!(released = released.len(), pending = restored, "restored");
    let member = Arc::new(Mutex::new(member));
    let stats = NodeMetrics::new(&context.child("curtain"));
    let page_cache = CacheRef::new(NZU16!(4096), NZUsize!(64));
    let genesis = ChainBlock::genesis();
    let genesis_digest = genesis.digest();

    // Marshal: block dissemination, backfill, finalized blocks in order.
    let marshal_cfg = marshal::Config {
        provider: EpochSchemes(Arc::new(
            cfg.epochs
                .iter()
                .map(|e| (e.epoch, Arc::new(e.scheme.clone())))
                .collect(),
        )),
        epocher: cfg.table.clone(),
        start: Start::Genesis(Digested::precomputed(genesis, genesis_digest)),
        mailbox_size: NZUsize!(1024),
        view_retention: ViewDelta::new(10),
        max_repair: NZUsize!(16),
        max_pending_acks: NZUsize!(1),
        block_codec_config: limits,
        partition_prefix: prefix.clone(),
        prunable_items_per_section: NZU64!(64),
        replay_buffer: NZUsize!(1 << 16),
        key_write_buffer: NZUsize!(SMALL_WRITE_BUFFER),
        value_write_buffer: NZUsize!(1 << 16),
        page_cache: page_cache.clone(),
        strategy: Sequential,
    };
    let resolver = marshal_resolver::init(
        context.child("resolver"),
        marshal_resolver::Config {
            public_key: cfg.me.clone(),
            peer_provider: peers.clone(),
            blocker: blocker.clone(),
            mailbox_size: NZUsize!(1024),
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(100),
            priority_requests: false,
            priority_responses: false,
        },
        channels.backfill,
    );
    let (broadcast_engine, buffer) = buffered::Engine::new(
        context.child("broadcast"),
        buffered::Config {
            public_key: cfg.me.clone(),
            mailbox_size: NZUsize!(1024),
            deque_size: 16,
            priority: false,
            codec_config: limits,
            peer_provider: peers.clone(),
            strategy: Sequential,
        },
    );
    let mut handles = vec![broadcast_engine.start(channels.blocks)];
    let finalizations = immutable::Archive::init(
        context.child("finalizations"),
        // Threshold certificates have a unit codec config (fixed size).
        archive_config(&format!("{prefix}-finalizations"), &page_cache, ()),
    )
    .await
    .expect("finalizations archive");
    let blocks = immutable::Archive::init(
        context.child("blocks"),
        archive_config(&format!("{prefix}-blocks"), &page_cache, limits),
    )
    .await
    .expect("blocks archive");
    let (actor, marshal_mailbox, floor): (
        _,
        MarshalMailbox<ConsensusScheme, Standard<ChainBlock>>,
        _,
    ) = MarshalActor::init(context.child("marshal"), finalizations, blocks, marshal_cfg).await;
    let (fin_tx, fin_rx) = mpsc::unbounded_channel();
    handles.push(actor.start(Finalized(fin_tx), buffer, resolver));

    // Consensus.
    let app = App {
        member: member.clone(),
        pacing: cfg.timeouts.pacing,
        last_proposal: Arc::new(Mutex::new(None)),
    };
    let inline = Inline::new(
        context.child("inline"),
        app,
        marshal_mailbox.clone(),
        cfg.table.clone(),
    );
    // One simplex engine per key epoch, each on its own subchannel (the epoch) of the three
    // consensus channels; the orchestrator runs the engine of the epoch being ordered.
    let (vote_mux, vote_handle, vote_backup) =
        Muxer::builder(context.child("vote_mux"), channels.vote.0, channels.vote.1)
            .with_backup()
            .build();
    let (cert_mux, cert_handle) = Muxer::new(
        context.child("certificate_mux"),
        channels.certificate.0,
        channels.certificate.1,
    );
    let (res_mux, res_handle) = Muxer::new(
        context.child("resolver_mux"),
        channels.resolver.0,
        channels.resolver.1,
    );
    vote_mux.start();
    cert_mux.start();
    res_mux.start();
    let processed = floor.processed().map_or(0, |p| p.height().get());
    let current = cfg.table.epoch_at(processed + 1);
    let floor_digest = match cfg.table.activation(current) {
        Some(a) if a > 0 => marshal_mailbox
            .get_block(Height::new(a - 1))
            .await
            .map(|b| b.digest()),
        _ => Some(genesis_digest),
    };
    let (enter_tx, enter_rx) = mpsc::unbounded_channel::<(u64, D)>();
    if let Some(d) = floor_digest {
        let _ = enter_tx.send((current, d));
    }
    let orchestrator = Orchestrator {
        epochs: cfg.epochs.clone(),
        table: cfg.table.clone(),
        inline,
        blocker: blocker.clone(),
        timeouts: cfg.timeouts.clone(),
        page_cache: page_cache.clone(),
        prefix: prefix.clone(),
        marshal: marshal_mailbox.clone(),
        muxes: (vote_handle, cert_handle, res_handle),
    };
    handles.push(
        context
            .child("orchestrator")
            .spawn(move |ctx| orchestrator.run(ctx, enter_rx, vote_backup)),
    );

    // Releases are persisted (synced) before they are published.
    let (release_tx, release_rx) = mpsc::unbounded_channel::<ReleasedBatch>();
    let finalized_at: FinalizedAt = Arc::default();
    let latencies: Latencies = Arc::default();
    handles.push(context.child("release_writer").spawn({
        let finalized_at = finalized_at.clone();
        let stats = stats.clone();
        let latencies = latencies.clone();
        move |ctx| {
            release_writer(
                ctx,
                stats,
                release_log,
                (release_rx, releases),
                finalized_at,
                latencies,
            )
        }
    }));
    let releases = release_tx;
    let (persist_tx, persist_rx) = mpsc::unbounded_channel::<Persist>();
    let (slash_tx, slash_rx) = mpsc::unbounded_channel::<SlashingEvidence>();
    handles.push(context.child("mempool_writer").spawn({
        let member = member.clone();
        move |_| mempool_writer(mempool_log, slash_log, logged, member, persist_rx, slash_tx)
    }));

    // After a restart: heights marshal already delivered (and we acknowledged) but that were
    // not released yet are finalized again here, which recomputes this member's shares.
    let first = member.lock().expect("member lock").collector.next_release();
    let mut resumed = Vec::new();
    for h in first..=processed {
        if let Some(block) = marshal_mailbox.get_block(Height::new(h)).await {
            let proof = finality_proof(&marshal_mailbox, h).await;
            let fx = member.lock().expect("member lock").on_finalized(
                block.inner().clone(),
                proof,
                unix_ms(&context),
                &mut restore_rng,
            );
            match fx {
                Ok(fx) => resumed.extend(fx),
                Err(e) => warn!(height = h, error = %e, "finalized block refused"),
            }
        }
    }

    // The finalization path and the share exchange.
    let (share_tx, share_rx) = channels.shares;
    let mempool_size = stats.mempool_size.clone();
    let admit_batch = stats.admit_batch.clone();
    let io = Io {
        member: member.clone(),
        share_out: Arc::new(futures::lock::Mutex::new(share_tx)),
        releases,
        stats,
        mailbox: marshal_mailbox.clone(),
        persist: persist_tx.clone(),
    };
    handles.push(context.child("finalizer").spawn({
        let io = io.clone();
        let finalized_at = finalized_at.clone();
        let table = cfg.table.clone();
        move |ctx| finalizer(ctx, io, finalized_at, fin_rx, table, enter_tx)
    }));
    io.apply(resumed).await;
    handles.push(context.child("shares").spawn({
        let io = io.clone();
        let participants = cfg.peers.clone();
        move |ctx| share_receiver(ctx, io, participants, limits.max_ciphertexts, share_rx)
    }));
    handles.push(context.child("share_fallback").spawn({
        let io = io.clone();
        let every = cfg.timeouts.share_fallback_tick;
        move |ctx| share_fallback(ctx, io, every)
    }));
    handles.push(context.child("share_retry").spawn({
        let every = cfg.timeouts.share_retry;
        move |ctx| share_retry(ctx, io, every)
    }));
    let (gossip_tx, gossip_rx) = channels.gossip;
    let (gossip_out, gossip_in) = mpsc::unbounded_channel::<Vec<u8>>();
    handles.push(
        context
            .child("gossip_out")
            .spawn(move |_| gossip_sender(gossip_tx, gossip_in)),
    );
    let (admit_tx, admit_rx) = mpsc::channel::<AdmitRequest>(ADMIT_QUEUE);
    handles.push(context.child("admitter").spawn({
        let member = member.clone();
        move |ctx| {
            admitter(
                ctx,
                member,
                mempool_size,
                admit_batch,
                admit_rx,
                persist_tx,
                gossip_out,
            )
        }
    }));
    handles.push(context.child("slasher").spawn({
        let member = member.clone();
        let admit = admit_tx.clone();
        move |ctx| slasher(ctx, member, slash_rx, admit)
    }));
    let participants = cfg.peers.clone();
    handles.push(context.child("gossip_in").spawn({
        let admit = admit_tx.clone();
        move |_| gossip_receiver(participants, gossip_rx, admit)
    }));
    info!(epoch = current, "member started");
    (
        NodeHandle {
            member,
            admit: admit_tx,
            latencies,
        },
        handles,
    )
}

type Engines<E> = Inline<E, ConsensusScheme, App, ChainBlock, EpochTable>;
type Mux<S> = commonware_p2p::utils::mux::MuxHandle<S>;

/// Runs the simplex engine of the key epoch being ordered: when the last height of an epoch is
/// final here (the finalizer says so), the next epoch's engine starts from that block (its
/// genesis, as marshal's epoch boundaries have it) and the old engine stops. A member that is
/// not in an epoch runs no engine for it; while it waits for a boundary it has not seen, it
/// asks the epoch's members for that boundary's finalization (marshal then backfills below).
struct Orchestrator<E, S, B>
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics,
    S: Sender<PublicKey = PublicKey>,
{
    epochs: Vec<ConsensusEpoch>,
    table: EpochTable,
    inline: Engines<E>,
    blocker: B,
    timeouts: Timeouts,
    page_cache: CacheRef,
    prefix: String,
    marshal: MarshalMailbox<ConsensusScheme, Standard<ChainBlock>>,
    muxes: (Mux<S>, Mux<S>, Mux<S>),
}

/// How often a member that runs no engine asks for the boundary it waits for.
const BOUNDARY_HINT: Duration = Duration::from_secs(2);

impl<E, S, B> Orchestrator<E, S, B>
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics,
    S: Sender<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey> + Clone,
{
    async fn run(
        mut self,
        context: E,
        mut enter: mpsc::UnboundedReceiver<(u64, D)>,
        mut backup: mpsc::Receiver<(u64, (PublicKey, commonware_runtime::IoBuf))>,
    ) {
        let mut current: Option<(u64, Option<Handle<()>>)> = None;
        let mut backup_open = true;
        loop {
            let waiting = current.as_ref().is_none_or(|(_, h)| h.is_none());
            let hint = context.sleep(BOUNDARY_HINT);
            futures::select_biased! {
                next = enter.recv().fuse() => {
                    let Some((epoch, genesis)) = next else { return };
                    if current.as_ref().is_some_and(|(e, _)| *e >= epoch) {
                        continue;
                    }
                    if let Some((old, Some(engine))) = current.take() {
                        engine.abort();
                        info!(epoch = old, "key epoch over: its engine stopped");
                    }
                    let engine = self.start_engine(&context, epoch, genesis).await;
                    current = Some((epoch, engine));
                }
                msg = async {
                    if backup_open { backup.recv().await } else { futures::future::pending().await }
                }.fuse() => {
                    // a peer votes in a later epoch than ours: fetch the boundary from it
                    let Some((theirs, (from, _))) = msg else {
                        backup_open = false;
                        continue;
                    };
                    let ours = current.as_ref().map_or(self.table.first_epoch(), |(e, _)| *e);
                    if theirs > ours {
                        if let Some(h) = self.table.last_height(ours) {
                            self.marshal.hint_finalized(Height::new(h), NonEmptyVec::new(from));
                        }
                    }
                }
                _ = hint.fuse() => {
                    if !waiting {
                        continue;
                    }
                    let ours = current.as_ref().map_or(self.table.first_epoch(), |(e, _)| *e);
                    let (Some(h), Some(spec)) = (
                        self.table.last_height(ours),
                        self.epochs.iter().find(|e| e.epoch == ours),
                    ) else {
                        continue;
                    };
                    if let Ok(targets) = NonEmptyVec::try_from(spec.members.clone()) {
                        self.marshal.hint_finalized(Height::new(h), targets);
                    }
                }
            }
        }
    }

    /// Starts `epoch`'s engine on `genesis` (the previous epoch's last block), if this member
    /// is in the epoch.
    async fn start_engine(&mut self, context: &E, epoch: u64, genesis: D) -> Option<Handle<()>> {
        let spec = self.epochs.iter().find(|e| e.epoch == epoch)?.clone();
        if !spec.signs() {
            info!(epoch, "not a member of this key epoch: following only");
            return None;
        }
        // the first epoch keeps the partition name of a member that never switched
        let partition = if epoch == self.table.first_epoch() {
            format!("{}-simplex", self.prefix)
        } else {
            format!("{}-simplex-epoch{epoch}", self.prefix)
        };
        let engine = simplex::Engine::new(
            context.child("simplex").with_attribute("epoch", epoch),
            simplex::config::Config {
                scheme: spec.scheme.clone(),
                elector: RoundRobin::<Sha256>::default(),
                blocker: self.blocker.clone(),
                automaton: self.inline.clone(),
                relay: self.inline.clone(),
                reporter: self.inline.clone(),
                strategy: Sequential,
                partition,
                mailbox_size: NZUsize!(1024),
                epoch: Epoch::new(epoch),
                floor: Floor::Genesis(genesis),
                replay_buffer: NZUsize!(1 << 20),
                write_buffer: NZUsize!(1 << 20),
                page_cache: self.page_cache.clone(),
                leader_timeout: self.timeouts.leader,
                certification_timeout: self.timeouts.certification,
                timeout_retry: self.timeouts.timeout_retry,
                view_retention: ViewDelta::new(10),
                skip: SkipPolicy::Disabled,
                fetch_timeout: NZDuration!(Duration::from_secs(1)),
                fetch_retry_delay: Duration::from_millis(100),
                forward: ForwardPolicy::Disabled,
                track_historical_votes: false,
            },
        );
        let (v, c, r) = &mut self.muxes;
        let (Ok(vote), Ok(cert), Ok(res)) = (
            v.register(epoch).await,
            c.register(epoch).await,
            r.register(epoch).await,
        ) else {
            warn!(epoch, "consensus subchannels unavailable");
            return None;
        };
        info!(epoch, genesis = ?genesis, "key epoch: engine started");
        Some(engine.start(vote, cert, res))
    }
}

fn archive_config<C>(name: &str, page_cache: &CacheRef, codec_config: C) -> immutable::Config<C> {
    immutable::Config {
        metadata_partition: format!("{name}-metadata"),
        freezer_table_partition: format!("{name}-freezer-table"),
        freezer_table_initial_size: 64,
        freezer_table_resize_frequency: 10,
        freezer_table_resize_chunk_size: 10,
        freezer_key_partition: format!("{name}-freezer-key"),
        freezer_key_page_cache: page_cache.clone(),
        freezer_value_partition: format!("{name}-freezer-value"),
        freezer_value_target_size: 1 << 20,
        freezer_value_compression: None,
        ordinal_partition: format!("{name}-ordinal"),
        items_per_section: NZU64!(64),
        codec_config,
        replay_buffer: NZUsize!(1 << 16),
        freezer_key_write_buffer: NZUsize!(SMALL_WRITE_BUFFER),
        freezer_value_write_buffer: NZUsize!(1 << 16),
        ordinal_write_buffer: NZUsize!(SMALL_WRITE_BUFFER),
    }
}

fn index_of(participants: &[PublicKey], pk: &PublicKey) -> Option<u32> {
    participants.iter().position(|p| p == pk).map(|i| i as u32)
}

/// What the member's tasks share.
struct Io<S> {
    member: Arc<Mutex<Member>>,
    /// The shares channel's sender, used by the finalizer, the receiver (answers) and retries.
    share_out: Arc<futures::lock::Mutex<S>>,
    releases: mpsc::UnboundedSender<ReleasedBatch>,
    stats: NodeMetrics,
    mailbox: MarshalMailbox<ConsensusScheme, Standard<ChainBlock>>,
    persist: mpsc::UnboundedSender<Persist>,
}

impl<S> Clone for Io<S> {
    fn clone(&self) -> Self {
        Self {
            member: self.member.clone(),
            share_out: self.share_out.clone(),
            releases: self.releases.clone(),
            stats: self.stats.clone(),
            mailbox: self.mailbox.clone(),
            persist: self.persist.clone(),
        }
    }
}

impl<S: Sender<PublicKey = PublicKey>> Io<S> {
    /// Carries out collector effects: shares to every member, releases to the log writer.
    async fn apply(&self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Broadcast(batch) => {
                    self.send(Recipients::All, ShareMessage::Batch(batch), true)
                        .await;
                    self.stats.shares_sent.inc();
                }
                Effect::Release(batch) => {
                    let _ = self.releases.send(batch);
                }
                Effect::Fault(evidence) => {
                    self.stats
                        .faults
                        .get_or_create(&FaultyMember {
                            member: evidence.member(),
                        })
                        .inc();
                    warn!(member = evidence.member(), "faulty share batch");
                }
            }
        }
    }

    async fn send(&self, to: Recipients<PublicKey>, msg: ShareMessage, priority: bool) {
        self.share_out.lock().await.send(to, msg.encode(), priority);
    }

    fn member(&self) -> std::sync::MutexGuard<'_, Member> {
        self.member.lock().expect("member lock")
    }
}

/// The finality proof of `height`: its own finalization, or for a block finalized through a
/// descendant's certificate, the lowest stored finalization above it (marshal stores it before
/// delivering the block).
async fn finality_proof(
    mailbox: &MarshalMailbox<ConsensusScheme, Standard<ChainBlock>>,
    height: u64,
) -> Vec<u8> {
    // as far as a verifier follows a proof (`ledger::finality`)
    for h in height..=height.saturating_add(crate::ledger::finality::MAX_PROOF_DISTANCE) {
        if let Some(f) = mailbox.get_finalization(Height::new(h)).await {
            return f.encode().to_vec();
        }
    }
    warn!(height, "no finalization found for a finalized block");
    Vec::new()
}

/// When each height became final here, for the finalization-to-release latency.
type FinalizedAt = Arc<Mutex<std::collections::BTreeMap<u64, std::time::SystemTime>>>;

async fn release_writer<C: Clock, E: Storage + Clock + Metrics>(
    clock: C,
    stats: NodeMetrics,
    mut log: RecordLog<E>,
    (mut rx, out): (
        mpsc::UnboundedReceiver<ReleasedBatch>,
        mpsc::UnboundedSender<ReleasedBatch>,
    ),
    finalized_at: FinalizedAt,
    latencies: Latencies,
) {
    while let Some(batch) = rx.recv().await {
        log.append([batch.to_bytes().into()])
            .await
            .expect("release log write (a storage failure is fatal)");
        let since = finalized_at
            .lock()
            .expect("finalized_at")
            .remove(&batch.height);
        let latency_ms = since
            .and_then(|t| clock.current().duration_since(t).ok())
            .map(|d| d.as_secs_f64() * 1e3);
        let txs: usize = batch.namespaces.iter().map(|n| n.entries.len()).sum();
        stats.next_release.set(batch.height as i64 + 1);
        if let Some(ms) = latency_ms {
            stats.release_latency.observe(ms / 1e3);
            if txs > 0 {
                let mut l = latencies.lock().expect("latencies");
                if l.len() == LATENCY_WINDOW {
                    l.pop_front();
                }
                l.push_back(ms);
            }
        }
        info!(
            height = batch.height,
            txs, latency_ms, "released (finalized -> durable release)"
        );
        let _ = out.send(batch);
    }
}

/// Most submissions made durable by one sync.
const MAX_GROUP_COMMIT: usize = 1024;

/// Check for prunable mempool records after this many appends (cheap: the check stops at the
/// first entry still pending, and the journal drops whole sections only).
const PRUNE_EVERY: usize = 32;

/// Makes accepted entries durable, many submissions per sync, and prunes the records of
/// entries that left the mempool: once final, an entry is in marshal's finalized-block store
/// (a restart finalizes it again from there); once rejected (its epoch ended) it is not needed.
async fn mempool_writer<E: Storage + Clock + Metrics>(
    mut log: RecordLog<E>,
    mut slash_log: RecordLog<E>,
    mut logged: VecDeque<(u64, CtId)>,
    member: Arc<Mutex<Member>>,
    mut rx: mpsc::UnboundedReceiver<Persist>,
    slasher: mpsc::UnboundedSender<SlashingEvidence>,
) {
    let mut since_prune = 0;
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP_COMMIT {
            match rx.try_recv() {
                Ok(p) => group.push(p),
                Err(_) => break,
            }
        }
        let mut records: Vec<Bytes> = Vec::new();
        let mut ids: Vec<CtId> = Vec::new();
        for ct in group.iter().flat_map(|p| p.cts.iter()) {
            records.push(ct.envelope().to_bytes().into());
            ids.push(ct.id());
        }
        let evidence: Vec<Bytes> = group
            .iter()
            .flat_map(|p| p.evidence.iter())
            .map(|e| e.to_bytes().into())
            .collect();
        if !evidence.is_empty() {
            for e in group.iter().flat_map(|p| p.evidence.iter()) {
                warn!(
                    first = hex::encode(e.first.0),
                    second = hex::encode(e.second.0),
                    "rln slashing evidence: a double signal"
                );
            }
            slash_log
                .append(evidence)
                .await
                .expect("slashing log write (a storage failure is fatal)");
            for e in group.iter().flat_map(|p| p.evidence.iter()) {
                let _ = slasher.send(e.clone());
            }
        }
        if records.is_empty() {
            for p in group {
                (p.then)();
            }
            continue;
        }
        let position = if group.iter().any(|p| p.sync) {
            log.append(records).await
        } else {
            log.append_unsynced(records).await
        }
        .expect("mempool log write (a storage failure is fatal)");
        since_prune += ids.len();
        logged.extend((position..).zip(ids));
        for p in group {
            (p.then)();
        }
        if since_prune >= PRUNE_EVERY {
            since_prune = 0;
            {
                let m = member.lock().expect("member lock");
                while logged
                    .front()
                    .is_some_and(|(_, id)| m.mempool.get(id).is_none())
                {
                    logged.pop_front();
                }
            }
            let keep_from = logged.front().map_or(log.bounds().end, |(p, _)| *p);
            log.prune(keep_from)
                .await
                .expect("mempool log prune (a storage failure is fatal)");
        }
    }
}

async fn finalizer<E, S>(
    mut context: E,
    io: Io<S>,
    finalized_at: FinalizedAt,
    mut updates: mpsc::UnboundedReceiver<Update<ChainBlock>>,
    table: EpochTable,
    enter: mpsc::UnboundedSender<(u64, D)>,
) where
    E: CryptoRng + Clock,
    S: Sender<PublicKey = PublicKey>,
{
    while let Some(update) = updates.recv().await {
        let Update::Block(block, ack) = update else {
            continue;
        };
        let block: ChainBlock = block.inner().clone();
        let height = block.block().height;
        let digest = block.digest();
        if height == 0 {
            ack.acknowledge();
            continue;
        }
        io.stats
            .block_ciphertexts
            .observe(block.block().len() as f64);
        let certificate = finality_proof(&io.mailbox, height).await;
        finalized_at
            .lock()
            .expect("finalized_at")
            .insert(height, context.current());
        let effects = {
            let mut m = io.member();
            let now_ms = unix_ms(&context);
            let fx = m.on_finalized(block, certificate, now_ms, &mut context);
            io.stats.finalized_height.set(m.finalized_height() as i64);
            io.stats.mempool_size.set(m.mempool.len() as i64);
            for (id, reason) in m.take_dropped() {
                debug!(id = hex::encode(id), %reason, "pending entry dropped at finalization");
            }
            let evidence = m
                .mempool
                .rln_mut()
                .map(|st| st.take_new_evidence())
                .unwrap_or_default();
            if !evidence.is_empty() {
                let _ = io.persist.send(Persist {
                    cts: Vec::new(),
                    sync: true,
                    evidence,
                    then: Box::new(|| {}),
                });
            }
            fx
        };
        match effects {
            Ok(fx) => io.apply(fx).await,
            Err(e) => warn!(height, error = %e, "finalized block refused"),
        }
        // the last height of a key epoch is final: the next committee orders from here on
        let epoch = table.epoch_at(height);
        if table.last_height(epoch) == Some(height) {
            let _ = enter.send((epoch + 1, digest));
        }
        ack.acknowledge();
    }
}

/// Batches from peers go to the collector; a peer's request for a batch it lost is answered
/// from the pending slot, or recomputed from the finalized-block store.
async fn share_receiver<E, S, R>(
    mut context: E,
    io: Io<S>,
    participants: Vec<PublicKey>,
    max_batch: usize,
    mut rx: R,
) where
    E: Clock + CryptoRng + Spawner + Supervisor,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
{
    let resharing = Arc::new(AtomicBool::new(false));
    while let Ok((peer, bytes)) = rx.recv().await {
        let Some(from) = index_of(&participants, &peer) else {
            continue;
        };
        match ShareMessage::decode(bytes.as_ref(), max_batch) {
            Ok(ShareMessage::Batch(batch)) => {
                io.stats.shares_received.inc();
                let now_ms = unix_ms(&context);
                let res = io
                    .member()
                    .on_share_batch(from, batch, now_ms, &mut context);
                match res {
                    Ok(fx) => io.apply(fx).await,
                    Err(e) => warn!(from, error = %e, "share batch refused"),
                }
            }
            Ok(ShareMessage::Request { height, batch_id }) => {
                // Peers ask only for heights stalled for `fallback_ms`, so a batch this member
                // never made is worth making now: without it the asker may never reach `t`.
                let now_ms = unix_ms(&context);
                let answer =
                    io.member()
                        .on_share_request(from, height, &batch_id, now_ms, &mut context);
                match answer {
                    Answer::Batch(b) => {
                        io.send(Recipients::One(peer), ShareMessage::Batch(b), false)
                            .await
                    }
                    Answer::Made(fx) => io.apply(fx).await,
                    Answer::NoShare => {}
                    Answer::Unanswered(why) => {
                        debug!(from, height, ?why, "share request not answered")
                    }
                    // released here: recomputed from the finalized-block store, off this task
                    // and outside the member lock, one at a time (a request never delays the
                    // share batches queued behind it)
                    Answer::Recompute(resharer) => {
                        if resharing.swap(true, Ordering::AcqRel) {
                            debug!(from, height, "share request dropped: a recomputation runs");
                            continue;
                        }
                        let (io, resharing) = (io.clone(), resharing.clone());
                        context.child("reshare").spawn(move |mut ctx| async move {
                            let height = resharer.height();
                            if let Some(block) = io.mailbox.get_block(Height::new(height)).await {
                                match resharer.reshare(block.inner(), &mut ctx) {
                                    Ok(b) => {
                                        io.member().collector.recomputed(height, b.clone());
                                        io.send(
                                            Recipients::One(peer),
                                            ShareMessage::Batch(b),
                                            false,
                                        )
                                        .await;
                                    }
                                    Err(e) => warn!(height, error = %e, "recomputing a batch"),
                                }
                            }
                            resharing.store(false, Ordering::Release);
                        });
                    }
                }
            }
            Err(e) => warn!(from, error = %e, "bad share message"),
        }
    }
}

/// The shell's clock in ms since the Unix epoch (what the cores take as `now_ms`).
fn unix_ms(context: &impl Clock) -> u64 {
    context
        .current()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Ticks the collector: a height that waited too long for its designated members' shares
/// gets this member's.
async fn share_fallback<E, S>(mut context: E, io: Io<S>, every: Duration)
where
    E: Clock + CryptoRng,
    S: Sender<PublicKey = PublicKey>,
{
    loop {
        context.sleep(every).await;
        let now_ms = unix_ms(&context);
        let fx = io.member().on_tick(now_ms, &mut context);
        let sent = fx
            .iter()
            .filter(|e| matches!(e, Effect::Broadcast(_)))
            .count();
        if sent > 0 {
            info!(
                batches = sent,
                "fallback: sharing for heights stalled on designated members"
            );
        }
        io.apply(fx).await;
    }
}

/// Asks every peer again for the batches of heights still waiting here (lost messages, a
/// restart): answering is idempotent, duplicates are ignored.
async fn share_retry<E, S>(context: E, io: Io<S>, every: Duration)
where
    E: Clock,
    S: Sender<PublicKey = PublicKey>,
{
    loop {
        context.sleep(every).await;
        let waiting = io.member().collector.waiting_batches(unix_ms(&context));
        for (height, batch_id) in waiting {
            debug!(height, "asking again for share batches");
            io.send(
                Recipients::All,
                ShareMessage::Request { height, batch_id },
                false,
            )
            .await;
        }
    }
}

async fn gossip_sender<S: Sender<PublicKey = PublicKey>>(
    mut tx: S,
    mut out: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    while let Some(bytes) = out.recv().await {
        tx.send(Recipients::All, bytes, false);
    }
}

/// Passes peers' gossip to the admitter (structure checked here; points there). Under
/// overload gossip is dropped: the submission stays with the member that accepted it, which
/// orders it itself, and a block carrying it is checked body by body.
async fn gossip_receiver<R: Receiver<PublicKey = PublicKey>>(
    participants: Vec<PublicKey>,
    mut rx: R,
    admit: mpsc::Sender<AdmitRequest>,
) {
    while let Ok((from, bytes)) = rx.recv().await {
        let Some(from) = index_of(&participants, &from) else {
            continue;
        };
        match decode_gossip(bytes.as_ref()) {
            Ok(cts) => {
                let items = cts.into_iter().map(|c| (Source::Peer(from), c)).collect();
                if admit.try_send(AdmitRequest { items, reply: None }).is_err() {
                    debug!(from, "admission queue full: gossip dropped");
                }
            }
            Err(e) => warn!(from, error = %e, "bad gossip message"),
        }
    }
}

/// Admits submissions in batches: everything queued is screened under the member's lock,
/// decoded and checked without it (one batched validity check, points decoded in parallel),
/// inserted, made durable (one sync), and only then acknowledged; what clients submitted is
/// gossiped to the other members in one message per batch.
async fn admitter<E: Clock + CryptoRng>(
    mut context: E,
    member: Arc<Mutex<Member>>,
    mempool_size: metrics::Gauge,
    batch_size: metrics::Histogram,
    mut rx: mpsc::Receiver<AdmitRequest>,
    persist: mpsc::UnboundedSender<Persist>,
    gossip: mpsc::UnboundedSender<Vec<u8>>,
) {
    while let Some(first) = rx.recv().await {
        let mut requests = vec![first];
        let mut count = requests[0].items.len();
        let mut lingered = false;
        while count < MAX_ADMIT_BATCH {
            match rx.try_recv() {
                Ok(r) => {
                    count += r.items.len();
                    requests.push(r);
                }
                // A small batch waits once for more: the batched validity check costs
                // ~2.5x per ciphertext at 50 than at 600 (fixed cofactor clearing, Pippenger).
                Err(_) if !lingered && count < ADMIT_LINGER_BELOW => {
                    lingered = true;
                    context.sleep(ADMIT_LINGER).await;
                }
                Err(_) => break,
            }
        }
        batch_size.observe(count as f64);
        let now_ms = unix_ms(&context);
        let mut items = Vec::with_capacity(count);
        let mut replies = Vec::with_capacity(requests.len());
        for r in requests {
            replies.push((r.items.len(), r.reply));
            items.extend(r.items);
        }
        let from_client: Vec<bool> = items
            .iter()
            .map(|(s, _)| matches!(s, Source::Client(_)))
            .collect();
        let screened = member
            .lock()
            .expect("member lock")
            .mempool
            .screen(now_ms, items);
        let checked = screened.check(&mut context);
        let verdicts = {
            let mut m = member.lock().expect("member lock");
            let verdicts = m.mempool.insert(checked);
            mempool_size.set(m.mempool.len() as i64);
            let evidence = m
                .mempool
                .rln_mut()
                .map(|st| st.take_new_evidence())
                .unwrap_or_default();
            (verdicts, evidence)
        };
        let (mut verdicts, evidence) = verdicts;

        let (mut accepted, mut to_gossip) = (Vec::new(), Vec::new());
        for (a, client) in verdicts.iter().zip(&from_client) {
            if let Ok(ct) = &a.result {
                accepted.push(Arc::clone(ct));
                if *client {
                    to_gossip.push(Arc::clone(ct));
                }
            }
        }
        let mut acks = Vec::with_capacity(replies.len());
        for (len, reply) in replies.into_iter().rev() {
            let mine = verdicts.split_off(verdicts.len() - len);
            if let Some(reply) = reply {
                acks.push((reply, mine));
            }
        }
        let sync = !to_gossip.is_empty();
        let gossip = gossip.clone();
        let then = move || {
            for (reply, mine) in acks {
                let _ = reply.send(mine);
            }
            for chunk in to_gossip.chunks(MAX_GOSSIP_BATCH) {
                let _ = gossip.send(encode_gossip(chunk));
            }
        };
        if accepted.is_empty() && evidence.is_empty() {
            then();
        } else {
            let _ = persist.send(Persist {
                cts: accepted,
                sync,
                evidence,
                then: Box::new(then),
            });
        }
    }
}

/// Turns fresh slashing evidence (already durable) into a slashing transaction in the
/// registry namespace, submitted to this member's own admission: once ordered and released,
/// every member removes the double signaller's leaf (SPEC.md §8.11). Several members may
/// submit one piece of evidence; the registry ignores all but the first.
async fn slasher<E: CryptoRng>(
    mut rng: E,
    member: Arc<Mutex<Member>>,
    mut rx: mpsc::UnboundedReceiver<SlashingEvidence>,
    admit: mpsc::Sender<AdmitRequest>,
) {
    while let Some(e) = rx.recv().await {
        let sealed = {
            let m = member.lock().expect("member lock");
            let (Some(st), Some((epoch, key))) = (m.mempool.rln(), m.mempool.current_key()) else {
                continue;
            };
            let mut tx = vec![super::core::rln::SLASH_TAG];
            tx.extend_from_slice(&e.to_bytes());
            curtain_crypto::Label::new(
                key.id(),
                epoch,
                st.rules.settings.registry_namespace,
                b"curtain/slasher",
            )
            .and_then(|label| {
                curtain_crypto::encrypt(
                    key.encryption_key(),
                    &label,
                    &tx,
                    curtain_crypto::Padding::None,
                    &mut rng,
                )
                .ok()
            })
        };
        let Some(ct) = sealed else {
            warn!("could not seal a slashing transaction");
            continue;
        };
        info!(
            id = hex::encode(ct.id()),
            "submitting a slashing transaction"
        );
        let request = AdmitRequest {
            items: vec![(Source::Internal, ct.encoded().clone().into())],
            reply: None,
        };
        if admit.try_send(request).is_err() {
            warn!("admission queue full: slashing transaction dropped (the evidence is kept)");
        }
    }
}
