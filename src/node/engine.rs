//! Starts a member: opens its logs, restores its core, and wires the actors (ordering,
//! reveal, admission, persist) with their channels. Nothing else lives here.
//!
//! Generic over the runtime (deterministic in simulation, tokio in the binary) and over the
//! p2p network (simulated or authenticated), which the caller builds and passes in as channels.

use super::actors::{
    admission, index_of, ordering, persist, reveal::Reveal, unix_ms, SharedMember,
};
use super::consensus::{ConsensusEpoch, ConsensusScheme, PublicKey};
use super::core::epochs::EpochTable;
use super::core::member::Member;
use super::handle::NodeHandle;
use super::metrics::NodeMetrics;
use super::timeouts::Timeouts;
use crate::ledger::committee::CheckedCommittee;
use crate::ledger::release::ReleasedBatch;
use crate::ledger::KeyEpoch;
use commonware_consensus::types::Height as CwHeight;
use commonware_p2p::{Blocker, Provider as PeerProvider, Receiver, Sender};
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage, Supervisor};
use commonware_utils::channel::mpsc;
use rand_core::CryptoRng;
use std::collections::BTreeMap;
use tracing::{info, warn};

/// Everything a member needs besides the network.
pub struct EngineConfig {
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
    /// The committees of the key epochs in `epochs`, as evidence is checked against them
    /// (SPEC.md §2.6): what a peer's evidence must hold under.
    pub committees: Vec<CheckedCommittee>,
}

impl EngineConfig {
    /// A committee that never switches key epochs: `committee`'s key epoch from genesis on.
    pub fn single(
        me: PublicKey,
        participants: Vec<PublicKey>,
        scheme: ConsensusScheme,
        member: Member,
        timeouts: Timeouts,
        partition: String,
        committee: CheckedCommittee,
    ) -> Self {
        let epoch = committee.key_epoch;
        Self {
            me,
            peers: participants.clone(),
            epochs: vec![ConsensusEpoch {
                epoch: epoch.get(),
                members: participants,
                scheme,
            }],
            table: EpochTable::single(epoch),
            member,
            timeouts,
            partition,
            committees: vec![committee],
        }
    }

    /// Per key epoch, the peer number (position in `peers`) of each member index.
    pub fn roster(&self) -> BTreeMap<KeyEpoch, Vec<u32>> {
        self.epochs
            .iter()
            .map(|e| {
                let r = e
                    .members
                    .iter()
                    .filter_map(|pk| index_of(&self.peers, pk))
                    .collect();
                (KeyEpoch(e.epoch), r)
            })
            .collect()
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
    pub lists: (S, R),
}

/// Starts a member; released batches are sent on `releases` in height order, from height 1
/// (after a restart, the logged ones first).
pub async fn start<E, S, R, M, B>(
    context: E,
    cfg: EngineConfig,
    channels: Channels<S, R>,
    peers: M,
    blocker: B,
    releases: mpsc::UnboundedSender<ReleasedBatch>,
) -> (NodeHandle, Vec<Handle<()>>)
where
    E: Clock + CryptoRng + Spawner + Storage + Metrics + Supervisor,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
    M: PeerProvider<PublicKey = PublicKey> + Clone,
    B: Blocker<PublicKey = PublicKey> + Clone,
{
    let roster = cfg.roster();
    let EngineConfig {
        me,
        peers: peer_set,
        epochs,
        table,
        mut member,
        timeouts,
        partition: prefix,
        committees,
    } = cfg;
    let limits = *member.limits();
    member.set_epochs(table.clone(), roster);

    // Durable state first: a restarted member resumes from its logs.
    let evidence = persist::EvidenceHub::default();
    let (logs, restored) = persist::Actor::open(&context, &prefix, evidence.clone()).await;
    member.restore(&restored.released);
    // The release stream always starts at height 1: a restarted member first replays its log.
    for batch in &restored.released {
        let _ = releases.send(batch.clone());
    }
    let mut restore_rng = context.child("restore");
    let pending = member.restore_pending(restored.pending, restored.evidence, &mut restore_rng);
    info!(released = restored.released.len(), pending, "restored");
    let member = SharedMember::new(member);
    let stats = NodeMetrics::new(&context.child("curtain"));
    let latency = persist::ReleaseLatency::default();
    let (slash_tx, slash_rx) = mpsc::unbounded_channel();
    let (persist, release_tx, mut handles) = logs.start(
        &context,
        member.clone(),
        stats.clone(),
        latency.clone(),
        releases,
        slash_tx,
    );

    let ordering = ordering::start(
        &context,
        member.clone(),
        stats.clone(),
        peer_set.clone(),
        me,
        epochs,
        table.clone(),
        timeouts.clone(),
        &prefix,
        ordering::ConsensusChannels {
            vote: channels.vote,
            certificate: channels.certificate,
            resolver: channels.resolver,
            backfill: channels.backfill,
            blocks: channels.blocks,
        },
        peers,
        blocker,
        persist.clone(),
    )
    .await;
    handles.extend(ordering.handles);

    // After a restart: heights marshal already delivered (and this member acknowledged) but
    // that were not released yet are finalized again here, which recomputes its shares.
    let first = member.with(|m| m.next_release());
    let mut resumed = Vec::new();
    for h in first.get()..=ordering.processed {
        if let Some(block) = ordering.marshal.get_block(CwHeight::new(h)).await {
            let proof = super::actors::reveal::finality_proof(&ordering.marshal, h).await;
            let now_ms = unix_ms(&context);
            let fx = member
                .with(|m| m.on_finalized(block.inner().clone(), proof, now_ms, &mut restore_rng));
            match fx {
                Ok(fx) => resumed.extend(fx),
                Err(e) => warn!(height = h, error = %e, "finalized block refused"),
            }
        }
    }

    let (share_out, share_in) = channels.shares;
    let (evidence_tx, evidence_rx) = mpsc::channel(super::actors::evidence::INBOX);
    let reveal = Reveal::new(
        member.clone(),
        share_out,
        release_tx,
        stats.clone(),
        ordering.marshal.clone(),
        persist.clone(),
        latency.clone(),
        evidence_tx,
    );
    reveal.apply(resumed).await;
    handles.extend(reveal.start(
        &context,
        ordering.finalized,
        share_in,
        peer_set.clone(),
        limits.max_ciphertexts,
        table,
        ordering.enter,
        &timeouts,
        evidence.clone(),
        committees,
        evidence_rx,
    ));
    let (admit, admission_handles) = admission::start(
        &context,
        member.clone(),
        stats,
        persist,
        channels.gossip,
        channels.lists,
        peer_set,
        slash_rx,
    );
    handles.extend(admission_handles);
    info!(epoch = ordering.epoch, "member started");
    (NodeHandle::new(member, admit, latency, evidence), handles)
}
