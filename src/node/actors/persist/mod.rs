//! The member's durable logs: released batches (synced before they are published), accepted
//! mempool entries (synced before a client's submission is acknowledged) and evidence
//! (SPEC.md §2.6); and what a restarted member reads back from them (SPEC.md §5.6).

pub(crate) mod evidence;
pub(crate) mod store;

pub use evidence::EvidenceHub;

use super::SharedMember;
use crate::ledger::envelope::{Envelope, Verified};
use crate::ledger::evidence::{id_of, Evidence};
use crate::ledger::release::ReleasedBatch;
use crate::ledger::CtId;
use crate::node::core::rln::SlashingEvidence;
use crate::node::metrics::{EvidenceLabels, NodeMetrics};
use bytes::Bytes;
use commonware_runtime::{Clock, Handle, Metrics, Spawner, Storage, Supervisor};
use commonware_utils::channel::{mpsc, oneshot};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use store::RecordLog;
use tracing::{info, warn};

/// Accepted entries and evidence to make durable.
pub(crate) struct Persist {
    cts: Vec<Arc<Verified>>,
    /// Whether they must be synced before `durable` is told: client submissions (acknowledged
    /// as durable) must; peers' gossip need not (its origin member holds it durably and
    /// orders it itself), so gossip-only groups skip the sync (half of a member's syncs at low
    /// rates) and become durable with the next synced group.
    sync: bool,
    /// Evidence found meanwhile (appended to the evidence log, always synced).
    evidence: Vec<Evidence>,
    /// Told once written; dropped unanswered if the write fails (the node then stops).
    durable: Option<oneshot::Sender<()>>,
}

impl Persist {
    fn done(self) {
        if let Some(d) = self.durable {
            let _ = d.send(());
        }
    }
}

/// The persist actor's mailbox.
#[derive(Clone)]
pub(crate) struct Mailbox(mpsc::UnboundedSender<Persist>);

impl Mailbox {
    /// Makes `cts` and `evidence` durable; the answer comes once they are written (synced if
    /// `sync`).
    pub(crate) fn persist(
        &self,
        cts: Vec<Arc<Verified>>,
        sync: bool,
        evidence: Vec<SlashingEvidence>,
    ) -> oneshot::Receiver<()> {
        let (durable, written) = oneshot::channel();
        let _ = self.0.send(Persist {
            cts,
            sync,
            evidence: evidence.into_iter().map(Evidence::from).collect(),
            durable: Some(durable),
        });
        written
    }

    /// Makes verified `evidence` durable, then adds it to the book (and hands double signals
    /// to the slasher).
    pub(crate) fn evidence(&self, evidence: impl IntoIterator<Item = Evidence>) {
        let evidence: Vec<Evidence> = evidence.into_iter().collect();
        if !evidence.is_empty() {
            let _ = self.0.send(Persist {
                cts: Vec::new(),
                sync: true,
                evidence,
                durable: None,
            });
        }
    }
}

/// Finalization-to-durable-release latency: when each height became final here (the
/// reveal actor notes it), and the latencies (ms) of the last heights that held ciphertexts.
#[derive(Clone, Default)]
pub(crate) struct ReleaseLatency {
    finalized_at: Arc<Mutex<BTreeMap<u64, SystemTime>>>,
    recent: Arc<Mutex<VecDeque<f64>>>,
}

/// How many heights [`ReleaseLatency::recent_ms`] remembers.
const LATENCY_WINDOW: usize = 4096;

impl ReleaseLatency {
    pub(crate) fn finalized(&self, height: u64, at: SystemTime) {
        self.finalized_at
            .lock()
            .expect("finalized_at")
            .insert(height, at);
    }

    pub(crate) fn recent_ms(&self) -> Vec<f64> {
        self.recent
            .lock()
            .expect("latencies")
            .iter()
            .copied()
            .collect()
    }
}

/// What a member finds in its logs at start.
pub(crate) struct Restored {
    pub(crate) released: Vec<ReleasedBatch>,
    pub(crate) pending: Vec<Envelope>,
    pub(crate) evidence: Vec<SlashingEvidence>,
}

/// The persist actor: the three logs and the tasks that write them.
pub(crate) struct Actor<E: Storage + Clock + Metrics> {
    releases: RecordLog<E>,
    mempool: RecordLog<E>,
    evidence: RecordLog<E>,
    book: EvidenceHub,
    /// `(position, id)` of every mempool record not pruned yet.
    logged: VecDeque<(u64, CtId)>,
}

impl<E: Storage + Clock + Metrics + Spawner + Supervisor> Actor<E> {
    /// Opens the logs under `prefix` and reads them back (the evidence into `book`). Storage
    /// failures are fatal.
    pub(crate) async fn open(context: &E, prefix: &str, book: EvidenceHub) -> (Self, Restored) {
        let (releases, logged) =
            RecordLog::open(context.child("release_log"), &format!("{prefix}-releases"))
                .await
                .expect("release log");
        let released = logged
            .iter()
            .map(|r| ReleasedBatch::from_bytes(r).expect("own release log decodes"))
            .collect();
        let (mempool, accepted) =
            RecordLog::open(context.child("mempool_log"), &format!("{prefix}-mempool"))
                .await
                .expect("mempool log");
        // every replayed record stays until its entry leaves the mempool (see
        // mempool_writer); positions count every record, decodable or not
        let replayed: Vec<(u64, Envelope)> = (mempool.bounds().start..)
            .zip(&accepted)
            .filter_map(|(p, r)| Some((p, Envelope::parse(r).ok()?)))
            .collect();
        let logged = replayed.iter().map(|(p, ct)| (*p, ct.id())).collect();
        let pending = replayed.into_iter().map(|(_, ct)| ct).collect();
        let (evidence_log, pieces) =
            RecordLog::open(context.child("evidence_log"), &format!("{prefix}-evidence"))
                .await
                .expect("evidence log");
        let mut evidence = Vec::new();
        // a damaged record loses that piece here (peers hold it too), not the member
        for (piece, bytes) in pieces.iter().filter_map(|r| match Evidence::from_bytes(r) {
            Ok(e) => Some((e, Arc::<[u8]>::from(&r[..]))),
            Err(error) => {
                warn!(%error, "an evidence log record does not decode: skipped");
                None
            }
        }) {
            let _ = book.insert(&piece, bytes);
            if let Evidence::DoubleSignal(d) = piece {
                evidence.push(*d);
            }
        }
        let actor = Self {
            releases,
            mempool,
            evidence: evidence_log,
            book,
            logged,
        };
        (
            actor,
            Restored {
                released,
                pending,
                evidence,
            },
        )
    }

    /// Starts the writers. Releases sent to the returned sender are appended in order and
    /// then published on `published`; fresh slashing evidence goes to `slasher` once durable.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start(
        self,
        context: &E,
        member: SharedMember,
        stats: NodeMetrics,
        latency: ReleaseLatency,
        published: mpsc::UnboundedSender<ReleasedBatch>,
        slasher: mpsc::UnboundedSender<SlashingEvidence>,
    ) -> (
        Mailbox,
        mpsc::UnboundedSender<ReleasedBatch>,
        Vec<Handle<()>>,
    ) {
        let (release_tx, release_rx) = mpsc::unbounded_channel();
        let (persist_tx, persist_rx) = mpsc::unbounded_channel();
        let Self {
            releases,
            mempool,
            evidence,
            book,
            logged,
        } = self;
        let handles = vec![
            context.child("release_writer").spawn({
                let stats = stats.clone();
                move |ctx| release_writer(ctx, stats, releases, release_rx, published, latency)
            }),
            context.child("mempool_writer").spawn(move |_| {
                let evidence = EvidenceWriter {
                    log: evidence,
                    book,
                    stats,
                    slasher,
                };
                mempool_writer(mempool, evidence, logged, member, persist_rx)
            }),
        ];
        (Mailbox(persist_tx), release_tx, handles)
    }
}

/// Appends each release (synced) to the log, then publishes it.
async fn release_writer<E: Storage + Clock + Metrics>(
    clock: E,
    stats: NodeMetrics,
    mut log: RecordLog<E>,
    mut rx: mpsc::UnboundedReceiver<ReleasedBatch>,
    out: mpsc::UnboundedSender<ReleasedBatch>,
    latency: ReleaseLatency,
) {
    while let Some(batch) = rx.recv().await {
        log.append([batch.to_bytes().into()])
            .await
            .expect("release log write (a storage failure is fatal)");
        let since = latency
            .finalized_at
            .lock()
            .expect("finalized_at")
            .remove(&batch.height.get());
        let latency_ms = since
            .and_then(|t| clock.current().duration_since(t).ok())
            .map(|d| d.as_secs_f64() * 1e3);
        let txs: usize = batch.namespaces.iter().map(|n| n.entries.len()).sum();
        stats.next_release.set(batch.height.get() as i64 + 1);
        if let Some(ms) = latency_ms {
            stats.release_latency.observe(ms / 1e3);
            if txs > 0 {
                let mut l = latency.recent.lock().expect("latencies");
                if l.len() == LATENCY_WINDOW {
                    l.pop_front();
                }
                l.push_back(ms);
            }
        }
        info!(
            height = batch.height.get(),
            txs, latency_ms, "released (finalized -> durable release)"
        );
        let _ = out.send(batch);
    }
}

/// The evidence log, the book it feeds and who else learns of new pieces.
struct EvidenceWriter<E: Storage + Clock + Metrics> {
    log: RecordLog<E>,
    book: EvidenceHub,
    stats: NodeMetrics,
    slasher: mpsc::UnboundedSender<SlashingEvidence>,
}

impl<E: Storage + Clock + Metrics> EvidenceWriter<E> {
    /// Appends (synced) the pieces the book does not have yet, then adds them to it: a piece
    /// served is a piece that survives a crash.
    async fn write(&mut self, pieces: Vec<Evidence>) {
        // each piece is encoded once: its id, the log record and the book's copy
        let mut fresh: Vec<(Evidence, Arc<[u8]>, [u8; 32])> = Vec::new();
        for e in pieces {
            let bytes: Arc<[u8]> = e.to_bytes().into();
            let id = id_of(&bytes);
            if self.book.admits(&id, &e).is_ok() && fresh.iter().all(|(_, _, f)| *f != id) {
                fresh.push((e, bytes, id));
            }
        }
        if fresh.is_empty() {
            return;
        }
        let records: Vec<Bytes> = fresh
            .iter()
            .map(|(_, b, _)| Bytes::copy_from_slice(b))
            .collect();
        self.log
            .append(records)
            .await
            .expect("evidence log write (a storage failure is fatal)");
        for (e, bytes, id) in fresh {
            let accused = e.accused();
            warn!(
                kind = e.kind().name(),
                ?accused,
                height = ?e.height(),
                id = hex::encode(id),
                "evidence"
            );
            self.stats
                .evidence
                .get_or_create(&EvidenceLabels {
                    kind: e.kind().name().to_owned(),
                    accused: accused
                        .member()
                        .map_or_else(|| "sender".to_owned(), |m| m.to_string()),
                })
                .inc();
            let _ = self.book.insert(&e, bytes);
            if let Evidence::DoubleSignal(d) = e {
                let _ = self.slasher.send(*d);
            }
        }
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
    mut evidence_writer: EvidenceWriter<E>,
    mut logged: VecDeque<(u64, CtId)>,
    member: SharedMember,
    mut rx: mpsc::UnboundedReceiver<Persist>,
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
        let pieces: Vec<Evidence> = group
            .iter_mut()
            .flat_map(|p| std::mem::take(&mut p.evidence))
            .collect();
        evidence_writer.write(pieces).await;
        if records.is_empty() {
            group.into_iter().for_each(Persist::done);
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
        group.into_iter().for_each(Persist::done);
        if since_prune >= PRUNE_EVERY {
            since_prune = 0;
            member.with(|m| {
                while logged.front().is_some_and(|(_, id)| !m.is_pending(id)) {
                    logged.pop_front();
                }
            });
            let keep_from = logged.front().map_or(log.bounds().end, |(p, _)| *p);
            log.prune(keep_from)
                .await
                .expect("mempool log prune (a storage failure is fatal)");
        }
    }
}
