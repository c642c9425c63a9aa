//! The orchestrator: runs the simplex engine of the key epoch being ordered (SPEC.md §9.8).

use super::{App, Marshal};
use crate::ledger::KeyEpoch;
use crate::node::consensus::{ConsensusEpoch, ConsensusScheme, PublicKey, D};
use crate::node::core::chain::ChainBlock;
use crate::node::core::epochs::EpochTable;
use crate::node::timeouts::Timeouts;
use commonware_actor::Feedback;
use commonware_consensus::{
    marshal::standard::Inline,
    simplex::{
        self,
        config::{Floor, ForwardPolicy, SkipPolicy},
        elector::RoundRobin,
        types::Activity,
    },
    types::{Epoch, Height as CwHeight, ViewDelta},
    Reporter, Reporters,
};
use commonware_cryptography::sha256::Sha256;
use commonware_p2p::{Blocker, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::{buffer::paged::CacheRef, Clock, Handle, Metrics, Spawner, Storage};
use commonware_utils::{channel::mpsc, vec::NonEmptyVec, NZDuration, NZUsize};
use futures::FutureExt as _;
use rand_core::CryptoRng;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

pub(super) type Engines<E> = Inline<E, ConsensusScheme, App, ChainBlock, EpochTable>;
pub(super) type Mux<S> = commonware_p2p::utils::mux::MuxHandle<S>;

/// Runs the simplex engine of the key epoch being ordered: when the last height of an epoch is
/// final here (the finalizer says so), the next epoch's engine starts from that block (its
/// genesis, as marshal's epoch boundaries have it) and the old engine stops. A member that is
/// not in an epoch runs no engine for it; while it waits for a boundary it has not seen, it
/// asks the epoch's members for that boundary's finalization (marshal then backfills below).
pub(super) struct Orchestrator<E, S, B>
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics,
    S: Sender<PublicKey = PublicKey>,
{
    pub(super) epochs: Vec<ConsensusEpoch>,
    pub(super) table: EpochTable,
    pub(super) inline: Engines<E>,
    pub(super) blocker: B,
    pub(super) timeouts: Timeouts,
    pub(super) page_cache: CacheRef,
    pub(super) prefix: String,
    pub(super) marshal: Marshal,
    pub(super) muxes: (Mux<S>, Mux<S>, Mux<S>),
    pub(super) conflicts: mpsc::Sender<Conflict>,
}

/// A fault simplex reported, with the scheme of the epoch it is of.
pub(super) type Conflict = (Arc<ConsensusScheme>, Activity<ConsensusScheme, D>);

/// Conflicts simplex reports wait here to be verified into evidence; a flood beyond this is
/// dropped (simplex blocks a peer once it caught it, so honest runs see a handful).
pub(super) const CONFLICT_QUEUE: usize = 64;

/// simplex's reports of conflicting votes (every other activity goes to marshal only), queued
/// for [`super::conflict_checker`]: verifying costs pairings, not to be spent on simplex's
/// task.
#[derive(Clone)]
struct Conflicts {
    scheme: Arc<ConsensusScheme>,
    queue: mpsc::Sender<Conflict>,
}

impl Reporter for Conflicts {
    type Activity = Activity<ConsensusScheme, D>;

    fn report(&mut self, activity: Self::Activity) -> Feedback {
        if matches!(
            activity,
            Activity::ConflictingNotarize(_)
                | Activity::ConflictingFinalize(_)
                | Activity::NullifyFinalize(_)
        ) {
            let _ = self.queue.try_send((self.scheme.clone(), activity));
        }
        Feedback::Ok
    }
}

/// How often a member that runs no engine asks for the boundary it waits for.
const BOUNDARY_HINT: Duration = Duration::from_secs(2);

impl<E, S, B> Orchestrator<E, S, B>
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics,
    S: Sender<PublicKey = PublicKey>,
    B: Blocker<PublicKey = PublicKey> + Clone,
{
    pub(super) async fn run(
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
                    let ours = current
                        .as_ref()
                        .map_or(self.table.first_epoch().get(), |(e, _)| *e);
                    if theirs > ours {
                        if let Some(h) = self.table.last_height(KeyEpoch(ours)) {
                            self.marshal.hint_finalized(CwHeight::new(h.get()), NonEmptyVec::new(from));
                        }
                    }
                }
                _ = hint.fuse() => {
                    if !waiting {
                        continue;
                    }
                    let ours = current
                        .as_ref()
                        .map_or(self.table.first_epoch().get(), |(e, _)| *e);
                    let (Some(h), Some(spec)) = (
                        self.table.last_height(KeyEpoch(ours)),
                        self.epochs.iter().find(|e| e.epoch == ours),
                    ) else {
                        continue;
                    };
                    if let Ok(targets) = NonEmptyVec::try_from(spec.members.clone()) {
                        self.marshal.hint_finalized(CwHeight::new(h.get()), targets);
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
        let partition = if KeyEpoch(epoch) == self.table.first_epoch() {
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
                reporter: Reporters::from((
                    self.inline.clone(),
                    Conflicts {
                        scheme: Arc::new(spec.scheme.clone()),
                        queue: self.conflicts.clone(),
                    },
                )),
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
                // conflicting votes of past views are reported too (SPEC.md §2.6)
                track_historical_votes: true,
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
