//! The ordering actor: marshal (block dissemination, backfill, finalized blocks in height
//! order) and, through the orchestrator, the simplex engine of each key epoch. Proposals are
//! built and checked by the member core ([`App`]); finalized blocks go to the reveal actor.

mod orchestrator;

use super::{index_of, persist, unix_ms, SharedMember};
use crate::ledger::evidence::Evidence;
use crate::ledger::votes::Conflict;
use crate::ledger::{Height, KeyEpoch};
use crate::node::consensus::{ConsensusEpoch, ConsensusScheme, EpochSchemes, PublicKey, D};
use crate::node::core::chain::ChainBlock;
use crate::node::core::epochs::EpochTable;
use crate::node::core::member::Refusal;
use crate::node::metrics::{Leader, NodeMetrics};
use crate::node::timeouts::{Pacing, Timeouts};
use commonware_actor::Feedback;
use commonware_broadcast::buffered;
use commonware_consensus::{
    marshal::{
        self,
        ancestry::Ancestry,
        core::{Actor as MarshalActor, Mailbox as MarshalMailbox},
        resolver::p2p as marshal_resolver,
        standard::{Inline, Standard},
        Start, Update,
    },
    simplex::types::Context as SimplexContext,
    types::{Height as CwHeight, ViewDelta},
    Application, Reporter,
};
use commonware_cryptography::{Digested, Digestible as _};
use commonware_p2p::{
    utils::mux::{Builder as _, Muxer},
    Blocker, Provider as PeerProvider, Receiver, Sender,
};
use commonware_parallel::Sequential;
use commonware_runtime::{
    buffer::paged::CacheRef, Clock, Handle, Metrics, Spawner, Storage, Supervisor,
};
use commonware_storage::archive::immutable;
use commonware_utils::{channel::mpsc, NZDuration, NZUsize, NZU16, NZU64};
use futures::StreamExt as _;
use orchestrator::Orchestrator;
use rand_core::CryptoRng;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tracing::{debug, warn};

/// Write buffer of the small-record journals (keys, ordinals): commonware's paged writer raises
/// anything smaller to 8 KiB and logs a warning per journal at start.
const SMALL_WRITE_BUFFER: usize = 1 << 13;

/// The marshal mailbox the other actors read blocks and finalizations from.
pub(crate) type Marshal = MarshalMailbox<ConsensusScheme, Standard<ChainBlock>>;

/// What the ordering actor hands the others.
pub(crate) struct Ordering {
    pub(crate) marshal: Marshal,
    /// Marshal's finalized blocks, in height order (for the reveal actor).
    pub(crate) finalized: mpsc::UnboundedReceiver<Update<ChainBlock>>,
    /// The highest height marshal delivered and this member acknowledged before a restart.
    pub(crate) processed: u64,
    /// The key epoch whose engine runs first.
    pub(crate) epoch: u64,
    /// Tell it `(epoch, genesis)` to start that key epoch's engine.
    pub(crate) enter: mpsc::UnboundedSender<(u64, D)>,
    pub(crate) handles: Vec<Handle<()>>,
}

/// Consensus's three channel pairs and marshal's two.
pub(crate) struct ConsensusChannels<S, R> {
    pub(crate) vote: (S, R),
    pub(crate) certificate: (S, R),
    pub(crate) resolver: (S, R),
    pub(crate) backfill: (S, R),
    pub(crate) blocks: (S, R),
}

/// Starts marshal, the consensus muxers and the orchestrator.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn start<E, S, R, M, B>(
    context: &E,
    member: SharedMember,
    stats: NodeMetrics,
    participants: Vec<PublicKey>,
    me: PublicKey,
    epochs: Vec<ConsensusEpoch>,
    table: EpochTable,
    timeouts: Timeouts,
    prefix: &str,
    channels: ConsensusChannels<S, R>,
    peers: M,
    blocker: B,
    persist: persist::Mailbox,
) -> Ordering
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics + Supervisor,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    M: PeerProvider<PublicKey = PublicKey> + Clone,
    B: Blocker<PublicKey = PublicKey> + Clone,
{
    let limits = member.with(|m| *m.limits());
    let page_cache = CacheRef::new(NZU16!(4096), NZUsize!(64));
    let genesis = ChainBlock::genesis();
    let genesis_digest = genesis.digest();
    let marshal_cfg = marshal::Config {
        provider: EpochSchemes(Arc::new(
            epochs
                .iter()
                .map(|e| (e.epoch, Arc::new(e.scheme.clone())))
                .collect(),
        )),
        epocher: table.clone(),
        start: Start::Genesis(Digested::precomputed(genesis, genesis_digest)),
        mailbox_size: NZUsize!(1024),
        view_retention: ViewDelta::new(10),
        max_repair: NZUsize!(16),
        max_pending_acks: NZUsize!(1),
        block_codec_config: limits,
        partition_prefix: prefix.to_string(),
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
            public_key: me.clone(),
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
            public_key: me,
            mailbox_size: NZUsize!(1024),
            deque_size: 16,
            priority: false,
            codec_config: limits,
            peer_provider: peers,
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
    let (actor, marshal_mailbox, floor): (_, Marshal, _) =
        MarshalActor::init(context.child("marshal"), finalizations, blocks, marshal_cfg).await;
    let (fin_tx, fin_rx) = mpsc::unbounded_channel();
    handles.push(actor.start(Finalized(fin_tx), buffer, resolver));

    // Consensus.
    let app = App {
        member,
        stats,
        participants,
        pacing: timeouts.pacing,
        last_proposal: Arc::new(Mutex::new(None)),
    };
    let inline = Inline::new(
        context.child("inline"),
        app,
        marshal_mailbox.clone(),
        table.clone(),
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
    let current = table.epoch_at(Height(processed + 1)).get();
    let floor_digest = match table.activation(KeyEpoch(current)) {
        Some(a) if a > Height(0) => marshal_mailbox
            .get_block(CwHeight::new(a.get() - 1))
            .await
            .map(|b| b.digest()),
        _ => Some(genesis_digest),
    };
    let (enter_tx, enter_rx) = mpsc::unbounded_channel::<(u64, D)>();
    if let Some(d) = floor_digest {
        let _ = enter_tx.send((current, d));
    }
    let (conflicts_tx, conflicts_rx) = mpsc::channel(orchestrator::CONFLICT_QUEUE);
    let orchestrator = Orchestrator {
        epochs,
        table,
        inline,
        blocker,
        timeouts,
        page_cache,
        prefix: prefix.to_string(),
        marshal: marshal_mailbox.clone(),
        muxes: (vote_handle, cert_handle, res_handle),
        conflicts: conflicts_tx,
    };
    handles.push(
        context
            .child("conflicts")
            .spawn(move |ctx| conflict_checker(ctx, conflicts_rx, persist)),
    );
    handles.push(
        context
            .child("orchestrator")
            .spawn(move |ctx| orchestrator.run(ctx, enter_rx, vote_backup)),
    );
    Ordering {
        marshal: marshal_mailbox,
        finalized: fin_rx,
        processed,
        epoch: current,
        enter: enter_tx,
        handles,
    }
}

/// The marshal-facing application: builds and checks proposals with the member core.
#[derive(Clone)]
pub(crate) struct App {
    member: SharedMember,
    stats: NodeMetrics,
    /// The peer set, to number leaders in metrics.
    participants: Vec<PublicKey>,
    pacing: Pacing,
    /// When this member last saw a proposal (its own or one it verified): the pacing origin.
    last_proposal: Arc<Mutex<Option<SystemTime>>>,
}

impl App {
    /// Collects the ancestry (newest first) down to the last finalized block here.
    async fn ancestors(&self, mut ancestry: impl Ancestry<ChainBlock>) -> Vec<ChainBlock> {
        let finalized = self.member.with(|m| m.finalized_height());
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
            let block = self.member.with(|m| m.propose(&ancestors))?;
            let since = clock.current().duration_since(origin).unwrap_or_default();
            match self.pacing.wait(since, block.block().len()) {
                None => break block,
                Some(wait) => clock.sleep(wait).await,
            }
        };
        self.member.with(|m| m.proposed(&block));
        self.saw_proposal(clock.current());
        let digest = block.digest();
        debug!(
            height = block.block().height.get(),
            txs = block.block().len(),
            "proposing"
        );
        Some(Digested::precomputed(block, digest))
    }

    async fn verify(
        &mut self,
        (mut rng, context): (E, Self::Context),
        mut ancestry: impl Ancestry<ChainBlock>,
    ) -> bool {
        self.saw_proposal(rng.current());
        let Some(block) = ancestry.next().await else {
            return false;
        };
        let ancestors = self.ancestors(ancestry).await;
        let now_ms = unix_ms(&rng);
        let verdict = self
            .member
            .with(|m| m.verify(block.inner(), &ancestors, now_ms, &mut rng));
        let height = block.inner().block().height.get();
        let view = context.round.view().get();
        let leader = index_of(&self.participants, &context.leader);
        match verdict {
            Ok(()) => true,
            Err(e) => {
                if let (Refusal::Omits(_), Some(leader)) = (&e, leader) {
                    self.stats.omissions.get_or_create(&Leader { leader }).inc();
                }
                warn!(height, view, ?leader, error = %e, "rejecting proposal");
                false
            }
        }
    }
}

/// Verifies the conflicting votes simplex reported (simplex reports the second vote before
/// checking its signature) and makes the genuine ones evidence (SPEC.md §2.6).
async fn conflict_checker<E: CryptoRng>(
    mut rng: E,
    mut queue: mpsc::Receiver<orchestrator::Conflict>,
    persist: persist::Mailbox,
) {
    while let Some((scheme, activity)) = queue.recv().await {
        if !activity.verify(&mut rng, scheme.as_ref(), &Sequential) {
            debug!("a reported conflict does not verify: ignored");
            continue;
        }
        match Conflict::from_activity(&activity) {
            Some(c) => persist.evidence([Evidence::Equivocation(Box::new(c))]),
            None => warn!("a verified conflict has no evidence encoding"),
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
