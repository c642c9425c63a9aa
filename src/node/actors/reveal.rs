//! The reveal actor: marshal's finalized blocks go to the core's finalization path (this
//! member's shares), peers' share batches and requests to its collector, and what the core
//! returns is carried out: share batches to peers, releases and evidence to the persist actor
//! (SPEC.md §5.3, §5.9). Six tasks: the finalizer, the share receiver, the fallback tick, the
//! share retry, and the evidence exchange's relay and checker (`super::evidence`).

use super::evidence;
use super::ordering::Marshal;
use super::persist::{self, EvidenceHub, ReleaseLatency};
use super::{index_of, unix_ms, SharedMember};
use crate::ledger::committee::CheckedCommittee;
use crate::ledger::evidence::Evidence;
use crate::ledger::release::ReleasedBatch;
use crate::ledger::Height;
use crate::node::consensus::{PublicKey, D};
use crate::node::core::chain::ChainBlock;
use crate::node::core::epochs::EpochTable;
use crate::node::core::member::ShareMessage;
use crate::node::core::reveal::{Answer, Effect};
use crate::node::metrics::NodeMetrics;
use crate::node::timeouts::Timeouts;
use commonware_codec::Encode as _;
use commonware_consensus::{marshal::Update, types::Height as CwHeight};
use commonware_cryptography::Digestible as _;
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::{Clock, Handle, Spawner, Supervisor};
use commonware_utils::{channel::mpsc, Acknowledgement as _};
use rand_core::CryptoRng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info, warn};

/// The reveal actor: what its tasks share.
pub(crate) struct Reveal<S> {
    member: SharedMember,
    /// The shares channel's sender, used by the finalizer, the receiver (answers) and retries.
    share_out: Arc<futures::lock::Mutex<S>>,
    releases: mpsc::UnboundedSender<ReleasedBatch>,
    stats: NodeMetrics,
    mailbox: Marshal,
    persist: persist::Mailbox,
    latency: ReleaseLatency,
    /// Pieces of evidence peers sent, for the evidence checker.
    evidence_in: mpsc::Sender<evidence::Incoming>,
}

impl<S> Clone for Reveal<S> {
    fn clone(&self) -> Self {
        Self {
            member: self.member.clone(),
            share_out: self.share_out.clone(),
            releases: self.releases.clone(),
            stats: self.stats.clone(),
            mailbox: self.mailbox.clone(),
            persist: self.persist.clone(),
            latency: self.latency.clone(),
            evidence_in: self.evidence_in.clone(),
        }
    }
}

impl<S: Sender<PublicKey = PublicKey>> Reveal<S> {
    /// Carries out collector effects: shares to every member, releases to the log writer.
    pub(crate) async fn apply(&self, effects: Vec<Effect>) {
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
                Effect::Fault(evidence) => self.persist.evidence([evidence]),
            }
        }
    }

    async fn send(&self, to: Recipients<PublicKey>, msg: ShareMessage, priority: bool) {
        self.share_out.lock().await.send(to, msg.encode(), priority);
    }
}

impl<S: Sender<PublicKey = PublicKey>> Reveal<S> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        member: SharedMember,
        share_out: S,
        releases: mpsc::UnboundedSender<ReleasedBatch>,
        stats: NodeMetrics,
        mailbox: Marshal,
        persist: persist::Mailbox,
        latency: ReleaseLatency,
        evidence_in: mpsc::Sender<evidence::Incoming>,
    ) -> Self {
        Self {
            member,
            share_out: Arc::new(futures::lock::Mutex::new(share_out)),
            releases,
            stats,
            mailbox,
            persist,
            latency,
            evidence_in,
        }
    }

    /// Starts the four tasks, and the two of the evidence exchange (relaying `book`'s new
    /// pieces, checking peers' from `evidence_in` against `committees`). `updates` are
    /// marshal's; `enter` is told `(epoch, genesis)` when the last height of a key epoch is
    /// final here (the ordering actor starts the next epoch's engine on it).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start<E, R>(
        self,
        context: &E,
        updates: mpsc::UnboundedReceiver<Update<ChainBlock>>,
        shares_in: R,
        peers: Vec<PublicKey>,
        max_batch: usize,
        table: EpochTable,
        enter: mpsc::UnboundedSender<(u64, D)>,
        timeouts: &Timeouts,
        book: EvidenceHub,
        committees: Vec<CheckedCommittee>,
        evidence_in: mpsc::Receiver<evidence::Incoming>,
    ) -> Vec<Handle<()>>
    where
        E: Clock + CryptoRng + Spawner + Supervisor,
        R: Receiver<PublicKey = PublicKey>,
    {
        let (fallback, retry) = (timeouts.share_fallback_tick, timeouts.share_retry);
        vec![
            context.child("evidence_relay").spawn({
                let (io, book) = (self.clone(), book.clone());
                move |_| {
                    evidence::relay(book, move |piece| {
                        let io = io.clone();
                        async move {
                            io.send(Recipients::All, ShareMessage::Evidence(piece), false)
                                .await
                        }
                    })
                }
            }),
            context.child("evidence_check").spawn({
                let persist = self.persist.clone();
                move |ctx| evidence::check_incoming(ctx, book, persist, committees, evidence_in)
            }),
            context.child("finalizer").spawn({
                let io = self.clone();
                move |ctx| finalizer(ctx, io, updates, table, enter)
            }),
            context.child("shares").spawn({
                let io = self.clone();
                move |ctx| share_receiver(ctx, io, peers, max_batch, shares_in)
            }),
            context.child("share_fallback").spawn({
                let io = self.clone();
                move |ctx| share_fallback(ctx, io, fallback)
            }),
            context
                .child("share_retry")
                .spawn(move |ctx| share_retry(ctx, self, retry)),
        ]
    }
}

/// The finality proof of `height`: its own finalization, or for a block finalized through a
/// descendant's certificate, the lowest stored finalization above it (marshal stores it before
/// delivering the block).
pub(crate) async fn finality_proof(mailbox: &Marshal, height: u64) -> Vec<u8> {
    // as far as a verifier follows a proof (`ledger::finality`)
    for h in height..=height.saturating_add(crate::ledger::finality::MAX_PROOF_DISTANCE) {
        if let Some(f) = mailbox.get_finalization(CwHeight::new(h)).await {
            return f.encode().to_vec();
        }
    }
    warn!(height, "no finalization found for a finalized block");
    Vec::new()
}

async fn finalizer<E, S>(
    mut context: E,
    io: Reveal<S>,
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
        let height = block.block().height.get();
        let digest = block.digest();
        if height == 0 {
            ack.acknowledge();
            continue;
        }
        io.stats
            .block_ciphertexts
            .observe(block.block().len() as f64);
        let certificate = finality_proof(&io.mailbox, height).await;
        io.latency.finalized(height, context.current());
        let now_ms = unix_ms(&context);
        let (effects, evidence) = io.member.with(|m| {
            let fx = m.on_finalized(block, certificate, now_ms, &mut context);
            io.stats
                .finalized_height
                .set(m.finalized_height().get() as i64);
            io.stats.mempool_size.set(m.pending_len() as i64);
            for (id, reason) in m.take_dropped() {
                debug!(id = hex::encode(id), %reason, "pending entry dropped at finalization");
            }
            (fx, m.take_new_evidence())
        });
        io.persist
            .evidence(evidence.into_iter().map(Evidence::from));
        match effects {
            Ok(fx) => io.apply(fx).await,
            Err(e) => warn!(height, error = %e, "finalized block refused"),
        }
        // the last height of a key epoch is final: the next committee orders from here on
        let epoch = table.epoch_at(Height(height));
        if table.last_height(epoch) == Some(Height(height)) {
            let _ = enter.send((epoch.get() + 1, digest));
        }
        ack.acknowledge();
    }
}

/// Batches from peers go to the collector; a peer's request for a batch it lost is answered
/// from the pending slot, or recomputed from the finalized-block store.
async fn share_receiver<E, S, R>(
    mut context: E,
    io: Reveal<S>,
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
                    .member
                    .with(|m| m.on_share_batch(from, batch, now_ms, &mut context));
                match res {
                    Ok(fx) => io.apply(fx).await,
                    Err(e) => warn!(from, error = %e, "share batch refused"),
                }
            }
            Ok(ShareMessage::Request { height, batch_id }) => {
                // Peers ask only for heights stalled for `fallback_ms`, so a batch this member
                // never made is worth making now: without it the asker may never reach `t`.
                let now_ms = unix_ms(&context);
                let answer = io
                    .member
                    .with(|m| m.on_share_request(from, height, &batch_id, now_ms, &mut context));
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
                            if let Some(block) = io.mailbox.get_block(CwHeight::new(height)).await {
                                match resharer.reshare(block.inner(), &mut ctx) {
                                    Ok(b) => {
                                        io.member.with(|m| m.recomputed(height, b.clone()));
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
            Ok(ShareMessage::Evidence(piece)) => {
                if io.evidence_in.try_send((from, piece)).is_err() {
                    debug!(from, "evidence from a peer dropped: the checker is busy");
                }
            }
            Err(e) => warn!(from, error = %e, "bad share message"),
        }
    }
}

/// Ticks the collector: a height that waited too long for its designated members' shares
/// gets this member's.
async fn share_fallback<E, S>(mut context: E, io: Reveal<S>, every: Duration)
where
    E: Clock + CryptoRng,
    S: Sender<PublicKey = PublicKey>,
{
    loop {
        context.sleep(every).await;
        let now_ms = unix_ms(&context);
        let fx = io.member.with(|m| m.on_tick(now_ms, &mut context));
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
async fn share_retry<E, S>(context: E, io: Reveal<S>, every: Duration)
where
    E: Clock,
    S: Sender<PublicKey = PublicKey>,
{
    loop {
        context.sleep(every).await;
        let now_ms = unix_ms(&context);
        let waiting = io.member.with(|m| m.waiting_batches(now_ms));
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
