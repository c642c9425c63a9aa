//! The admission actor: client submissions, peers' gossip and this member's own slashing
//! transactions are admitted in batches (screened under the core's lock, checked outside it
//! with one batched validity check, inserted), made durable by the persist actor, and only
//! then acknowledged; what clients submitted is then gossiped to the other members
//! (SPEC.md §5.1). Inclusion lists travel here too: this member's list goes to every other
//! member on a fixed cadence with the listed bodies gossiped again, and peers' lists go to
//! the core (SPEC.md §5.7).

use super::persist;
use super::{index_of, unix_ms, SharedMember};
use crate::ledger::envelope::{Envelope, Verified};
use crate::node::consensus::PublicKey;
use crate::node::core::member::{decode_gossip, encode_gossip, MAX_GOSSIP_BATCH};
use crate::node::core::mempool::{Admission, Reject, Source};
use crate::node::core::rln::{SlashingEvidence, SLASH_TAG};
use crate::node::metrics::NodeMetrics;
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::{Clock, Handle, Spawner, Supervisor};
use commonware_utils::channel::{mpsc, oneshot};
use rand_core::CryptoRng;
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info, warn};

/// Submissions waiting for the admitter. `reply` gets the verdicts once what was accepted is
/// durable (gossip from peers needs no reply).
pub(crate) struct AdmitRequest {
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

/// The admission actor's mailbox.
#[derive(Clone)]
pub(crate) struct Mailbox(mpsc::Sender<AdmitRequest>);

impl Mailbox {
    /// Client submissions: one verdict each, once what was accepted is durable; every
    /// verdict [`Reject::Full`] when the queue is full or the actor is gone.
    pub(crate) async fn submit(&self, source: Source, cts: Vec<Envelope>) -> Vec<Admission> {
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
        if self.0.try_send(request).is_err() {
            return overloaded(&cts);
        }
        verdicts.await.unwrap_or_else(|_| overloaded(&cts))
    }

    /// Entries that need no answer (peers' gossip, this member's own); `false` if the queue
    /// is full and they were dropped.
    fn offer(&self, items: Vec<(Source, Envelope)>) -> bool {
        self.0.try_send(AdmitRequest { items, reply: None }).is_ok()
    }
}

/// Starts the admission actor's tasks: the admitter, the acknowledger, the gossip sender and
/// receiver, the slasher (fed by the persist actor with durable slashing evidence), and the
/// inclusion lists' sender and receiver.
#[allow(clippy::too_many_arguments)]
pub(crate) fn start<E, S, R>(
    context: &E,
    member: SharedMember,
    stats: NodeMetrics,
    persist: persist::Mailbox,
    (gossip_out, gossip_in): (S, R),
    (lists_out, lists_in): (S, R),
    peers: Vec<PublicKey>,
    slashes: mpsc::UnboundedReceiver<SlashingEvidence>,
) -> (Mailbox, Vec<Handle<()>>)
where
    E: Clock + CryptoRng + Spawner + Supervisor,
    S: Sender<PublicKey = PublicKey>,
    R: Receiver<PublicKey = PublicKey>,
{
    let (admit_tx, admit_rx) = mpsc::channel::<AdmitRequest>(ADMIT_QUEUE);
    let mailbox = Mailbox(admit_tx);
    let (ack_tx, ack_rx) = mpsc::unbounded_channel();
    let (gossip_tx, gossip_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let handles = vec![
        context
            .child("gossip_out")
            .spawn(move |_| gossip_sender(gossip_out, gossip_rx)),
        context.child("lister").spawn({
            let (member, stats, gossip) = (member.clone(), stats.clone(), gossip_tx.clone());
            move |ctx| lister(ctx, member, stats, lists_out, gossip)
        }),
        context.child("lists_in").spawn({
            let (member, stats, peers) = (member.clone(), stats.clone(), peers.clone());
            move |ctx| list_receiver(ctx, member, stats, peers, lists_in)
        }),
        context
            .child("acknowledger")
            .spawn(move |_| acknowledger(ack_rx, gossip_tx)),
        context.child("admitter").spawn({
            let member = member.clone();
            move |ctx| admitter(ctx, member, stats, admit_rx, persist, ack_tx)
        }),
        context.child("slasher").spawn({
            let admit = mailbox.clone();
            move |ctx| slasher(ctx, member, slashes, admit)
        }),
        context.child("gossip_in").spawn({
            let admit = mailbox.clone();
            move |_| gossip_receiver(peers, gossip_in, admit)
        }),
    ];
    (mailbox, handles)
}

async fn gossip_sender<S: Sender<PublicKey = PublicKey>>(
    mut tx: S,
    mut out: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    while let Some(bytes) = out.recv().await {
        tx.send(Recipients::All, bytes, false);
    }
}

/// Every list tick (`InclusionConfig::tick_ms`): this member's inclusion list to every other
/// member when it is due, and the listed bodies due to be gossiped again.
async fn lister<E: Clock, S: Sender<PublicKey = PublicKey>>(
    context: E,
    member: SharedMember,
    stats: NodeMetrics,
    mut tx: S,
    gossip: mpsc::UnboundedSender<Vec<u8>>,
) {
    let every = Duration::from_millis(member.with(|m| m.list_every_ms()).max(1));
    loop {
        context.sleep(every).await;
        let now_ms = unix_ms(&context);
        let tick = member.with(|m| m.list_tick(now_ms));
        stats.overdue.set(tick.overdue as i64);
        if let Some(list) = tick.list {
            tx.send(Recipients::All, list, false);
            stats.lists_sent.inc();
        }
        for chunk in tick.regossip.chunks(MAX_GOSSIP_BATCH) {
            if gossip.send(encode_gossip(chunk)).is_err() {
                return;
            }
        }
    }
}

/// Peers' inclusion lists, to the core (decoded there, bounded by its list size).
async fn list_receiver<E: Clock, R: Receiver<PublicKey = PublicKey>>(
    context: E,
    member: SharedMember,
    stats: NodeMetrics,
    participants: Vec<PublicKey>,
    mut rx: R,
) {
    while let Ok((from, bytes)) = rx.recv().await {
        let Some(from) = index_of(&participants, &from) else {
            continue;
        };
        let now_ms = unix_ms(&context);
        match member.with(|m| m.on_inclusion_list(now_ms, from, bytes.as_ref())) {
            Ok(true) => {
                stats.lists_received.inc();
            }
            Ok(false) => debug!(from, "inclusion list too soon after the last: ignored"),
            Err(e) => warn!(from, error = %e, "bad inclusion list"),
        }
    }
}

/// Passes peers' gossip to the admitter (structure checked here; points there). Under
/// overload gossip is dropped: the submission stays with the member that accepted it, which
/// orders it itself, and a block carrying it is checked body by body.
async fn gossip_receiver<R: Receiver<PublicKey = PublicKey>>(
    participants: Vec<PublicKey>,
    mut rx: R,
    admit: Mailbox,
) {
    while let Ok((from, bytes)) = rx.recv().await {
        let Some(from) = index_of(&participants, &from) else {
            continue;
        };
        match decode_gossip(bytes.as_ref()) {
            Ok(cts) => {
                let items = cts.into_iter().map(|c| (Source::Peer(from), c)).collect();
                if !admit.offer(items) {
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
    member: SharedMember,
    stats: NodeMetrics,
    mut rx: mpsc::Receiver<AdmitRequest>,
    persist: persist::Mailbox,
    acks: mpsc::UnboundedSender<Acknowledge>,
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
        stats.admit_batch.observe(count as f64);
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
        let screened = member.with(|m| m.screen(now_ms, items));
        let checked = screened.check(&mut context);
        let (mut verdicts, evidence) = member.with(|m| {
            let verdicts = m.insert(checked);
            stats.mempool_size.set(m.pending_len() as i64);
            (verdicts, m.take_new_evidence())
        });

        let (mut accepted, mut to_gossip) = (Vec::new(), Vec::new());
        for (a, client) in verdicts.iter().zip(&from_client) {
            if let Ok(ct) = &a.result {
                accepted.push(Arc::clone(ct));
                if *client {
                    to_gossip.push(Arc::clone(ct));
                }
            }
        }
        let mut acks_out = Vec::with_capacity(replies.len());
        for (len, reply) in replies.into_iter().rev() {
            let mine = verdicts.split_off(verdicts.len() - len);
            if let Some(reply) = reply {
                acks_out.push((reply, mine));
            }
        }
        let sync = !to_gossip.is_empty();
        let durable = if accepted.is_empty() && evidence.is_empty() {
            None
        } else {
            Some(persist.persist(accepted, sync, evidence))
        };
        let _ = acks.send(Acknowledge {
            durable,
            replies: acks_out,
            gossip: to_gossip,
        });
    }
}

/// Verdicts to send and entries to gossip once an admission batch is durable.
struct Acknowledge {
    durable: Option<oneshot::Receiver<()>>,
    replies: Vec<(oneshot::Sender<Vec<Admission>>, Vec<Admission>)>,
    gossip: Vec<Arc<Verified>>,
}

/// Answers submitters and gossips their entries once durable, batch after batch (the persist
/// actor writes them in order). If a write fails the node stops and submitters are not
/// answered: what was not acknowledged may be lost, nothing acknowledged is.
async fn acknowledger(
    mut rx: mpsc::UnboundedReceiver<Acknowledge>,
    gossip: mpsc::UnboundedSender<Vec<u8>>,
) {
    while let Some(a) = rx.recv().await {
        if let Some(durable) = a.durable {
            if durable.await.is_err() {
                continue;
            }
        }
        for (reply, verdicts) in a.replies {
            let _ = reply.send(verdicts);
        }
        for chunk in a.gossip.chunks(MAX_GOSSIP_BATCH) {
            let _ = gossip.send(encode_gossip(chunk));
        }
    }
}

/// Turns fresh slashing evidence (already durable) into a slashing transaction in the
/// registry namespace, submitted to this member's own admission: once ordered and released,
/// every member removes the double signaller's leaf (SPEC.md §8.11). Several members may
/// submit one piece of evidence; the registry ignores all but the first.
async fn slasher<E: CryptoRng>(
    mut rng: E,
    member: SharedMember,
    mut rx: mpsc::UnboundedReceiver<SlashingEvidence>,
    admit: Mailbox,
) {
    while let Some(e) = rx.recv().await {
        let sealed = member.with(|m| {
            let (Some(st), Some((epoch, key))) = (m.rln(), m.current_key()) else {
                return None;
            };
            let mut tx = vec![SLASH_TAG];
            tx.extend_from_slice(&e.to_bytes());
            curtain_crypto::Label::new(
                key.id(),
                epoch,
                st.rules().settings().registry_namespace,
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
        });
        let Some(ct) = sealed else {
            warn!("could not seal a slashing transaction");
            continue;
        };
        info!(
            id = hex::encode(ct.id()),
            "submitting a slashing transaction"
        );
        if !admit.offer(vec![(Source::Internal, ct.encoded().clone().into())]) {
            warn!("admission queue full: slashing transaction dropped (the evidence is kept)");
        }
    }
}
