//! The byzantine members: what each behaviour does on the wire. Every message a member sends
//! passes its forwarder, which withholds share batches, splits twins' traffic between their
//! two sides, sends a list splitter's inclusion lists to one member only, and records what
//! the invariant checker needs; a flooder sends share requests at its quota besides. Every
//! message a member receives passes its [`Tap`], which keeps a censor's gossip from carrying
//! what it censors.

use crate::committee::Committee;
use commonware_codec::Decode as _;
use commonware_consensus::simplex::types::Vote;
use commonware_cryptography::{ed25519, sha256};
use commonware_p2p::simulated::SplitOrigin;
use commonware_p2p::Recipients;
use commonware_runtime::{Clock as _, IoBuf, Spawner as _, Supervisor as _};
use curtain::ledger::envelope::Envelope;
use curtain::ledger::Namespace;
use curtain::node::core::inclusion::encode_list;
use curtain::node::core::member::{decode_gossip, encode_envelopes};
use curtain::node::{channel, core::member::ShareMessage, ConsensusScheme};
use std::num::NonZeroUsize;
use std::time::Duration;

pub(crate) type Pk = ed25519::PublicKey;

/// What a member does besides following the protocol.
#[derive(Clone)]
pub(crate) enum Behaviour {
    Honest,
    /// Never sends a share batch (nor answers requests for one).
    Withholds,
    /// Follows the protocol and floods every peer with share requests (`Scenario::floods`).
    FloodsShareRequests,
    /// Two copies with the same keys: one talks only to `primary`, the other to the rest
    /// (its votes to everyone if `votes_to_all`).
    Twins {
        primary: Vec<Pk>,
        votes_to_all: bool,
    },
    /// Tries to keep accepted ciphertexts out of the chain (`Scenario::censors`).
    Censor(Censor),
}

/// The namespace a namespace censor leaves out.
pub(crate) const CENSORED_NAMESPACE: u64 = 1;
/// The sender a sender censor leaves out.
pub(crate) const CENSORED_SENDER: &[u8] = b"wallet1";

/// How a censoring member tries to keep accepted ciphertexts out of the chain. Each follows
/// the protocol otherwise (votes, shares, its own lists of what it holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Censor {
    /// As leader, leaves out one namespace: it never takes that namespace's ciphertexts from
    /// peers' gossip, so it neither proposes nor lists them.
    Namespace,
    /// The same for one sender (label sender [`CENSORED_SENDER`]).
    Sender,
    /// Proposes only what its own clients submit: it drops every peer's gossip.
    OwnOnly,
    /// Answers `202` and drops the ciphertext: the simulation's clients see it accept what
    /// they submit to it, and it never sees it (the wallet's resubmission rule must act).
    AcceptsAndDrops,
    /// Leaves out one namespace (as `Namespace`), sends its inclusion lists to one member only,
    /// and floods every member with lists of random ids.
    SplitsLists,
}

impl Censor {
    /// Whether this censor lets gossiped `e` into its mempool.
    fn admits(self, e: &Envelope) -> bool {
        let label = e.ciphertext().label();
        match self {
            Censor::Namespace | Censor::SplitsLists => {
                label.namespace() != Namespace(CENSORED_NAMESPACE)
            }
            Censor::Sender => label.sender() != CENSORED_SENDER,
            Censor::OwnOnly => false,
            Censor::AcceptsAndDrops => true,
        }
    }
}

/// A member's receiver: passes everything, except that a censor's gossip is rewritten
/// without what it censors.
#[derive(Debug)]
pub(crate) struct Tap<R> {
    pub(crate) inner: R,
    /// Set on a censor's gossip channel.
    pub(crate) censor: Option<Censor>,
}

impl<R: commonware_p2p::Receiver<PublicKey = Pk>> commonware_p2p::Receiver for Tap<R> {
    type Error = R::Error;
    type PublicKey = Pk;

    async fn recv(&mut self) -> Result<commonware_p2p::Message<Pk>, Self::Error> {
        loop {
            let (from, msg) = self.inner.recv().await?;
            let Some(censor) = self.censor else {
                return Ok((from, msg));
            };
            let Ok(envs) = decode_gossip(msg.as_ref()) else {
                return Ok((from, msg));
            };
            let kept: Vec<Envelope> = envs.into_iter().filter(|e| censor.admits(e)).collect();
            if kept.is_empty() {
                continue;
            }
            return Ok((from, IoBuf::from(encode_envelopes(kept))));
        }
    }

    fn capacity(&self) -> NonZeroUsize {
        self.inner.capacity()
    }
}

impl Committee {
    /// Sends share requests to every peer at 1 000 per second (the channel's quota) until the
    /// run ends: every other one names a released height with its real batch id, the rest
    /// random ids at recent heights.
    pub(crate) fn flood<S: commonware_p2p::Sender<PublicKey = Pk>>(&self, mut tx: S) {
        let wire = self.wire.clone();
        self.context
            .child("flooder")
            .spawn(move |mut ctx| async move {
                let mut k: u64 = 0;
                loop {
                    ctx.sleep(Duration::from_millis(10)).await;
                    let released = wire.lock().unwrap().released.clone();
                    let top = released.last().map_or(16, |&(h, _)| h);
                    for _ in 0..10 {
                        k += 1;
                        let (height, batch_id) = if k % 2 == 0 && !released.is_empty() {
                            released[(k / 2) as usize % released.len()]
                        } else {
                            let mut id = [0u8; 32];
                            rand_core::Rng::fill_bytes(&mut ctx, &mut id);
                            (top.saturating_sub(k % 8), id)
                        };
                        let msg = ShareMessage::Request { height, batch_id }.encode();
                        tx.send(Recipients::All, msg, false);
                    }
                    wire.lock().unwrap().flood_requests += 10;
                }
            });
    }

    /// Sends lists of 256 random ids to every member every 50 ms until the run ends (ids no
    /// member holds: they must cost nothing).
    pub(crate) fn flood_lists<S: commonware_p2p::Sender<PublicKey = Pk>>(&self, mut tx: S) {
        self.context
            .child("list_flooder")
            .spawn(move |mut ctx| async move {
                loop {
                    ctx.sleep(Duration::from_millis(50)).await;
                    let ids: Vec<[u8; 32]> = (0..256)
                        .map(|_| {
                            let mut id = [0u8; 32];
                            rand_core::Rng::fill_bytes(&mut ctx, &mut id);
                            id
                        })
                        .collect();
                    tx.send(Recipients::All, encode_list(&ids), false);
                }
            });
    }

    /// Who gets each message member `i` sends on channel `id`; also records what the
    /// invariant checker needs.
    pub(crate) fn forwarder(
        &self,
        i: usize,
        id: u64,
        behaviour: &Behaviour,
    ) -> impl Fn(SplitOrigin, &Recipients<Pk>, &IoBuf) -> Option<Recipients<Pk>>
           + Send
           + Sync
           + Clone
           + 'static {
        let behaviour = behaviour.clone();
        let wire = self.wire.clone();
        let slot = self.slots[i].clone();
        let pks = self.keys.pks.clone();
        move |origin, to: &Recipients<Pk>, msg: &IoBuf| {
            let primary = match &behaviour {
                Behaviour::Censor(Censor::SplitsLists) if id == channel::LISTS => {
                    // its real lists reach the next member only
                    let next = pks[(i + 1) % pks.len()].clone();
                    return Some(Recipients::One(next));
                }
                Behaviour::Honest
                | Behaviour::Withholds
                | Behaviour::FloodsShareRequests
                | Behaviour::Censor(_)
                    if id == channel::SHARES =>
                {
                    if let Ok(ShareMessage::Batch(b)) = ShareMessage::decode(msg.as_ref(), 1 << 16)
                    {
                        if matches!(behaviour, Behaviour::Withholds) {
                            return None;
                        }
                        let height = slot
                            .lock()
                            .unwrap()
                            .as_ref()
                            .map(|h| h.finalized_height().get());
                        wire.lock().unwrap().shares.push((i, b.batch_id(), height));
                    }
                    return Some(to.clone());
                }
                Behaviour::Honest
                | Behaviour::Withholds
                | Behaviour::FloodsShareRequests
                | Behaviour::Censor(_) => return Some(to.clone()),
                Behaviour::Twins { primary, .. } => primary,
            };
            let is_primary = origin == SplitOrigin::Primary;
            if !is_primary
                && id == channel::VOTE
                && matches!(
                    behaviour,
                    Behaviour::Twins {
                        votes_to_all: true,
                        ..
                    }
                )
            {
                return Some(to.clone());
            }
            // consensus messages travel on the key epoch's subchannel
            if id == channel::VOTE {
                let vote = commonware_p2p::utils::mux::parse(msg.clone())
                    .ok()
                    .and_then(|(_, m)| {
                        Vote::<ConsensusScheme, sha256::Digest>::decode_cfg(m, &()).ok()
                    });
                if let Some(Vote::Notarize(v)) = vote {
                    let view = v.proposal.round.view().get();
                    wire.lock()
                        .unwrap()
                        .twin_votes
                        .push((view, is_primary, v.proposal.payload.0));
                }
            }
            let side: Vec<Pk> = pks
                .iter()
                .filter(|p| primary.contains(p) == is_primary && **p != pks[i])
                .cloned()
                .collect();
            let kept: Vec<Pk> = match to {
                Recipients::All => side,
                Recipients::Some(v) => v.iter().filter(|p| side.contains(p)).cloned().collect(),
                Recipients::One(p) => side.into_iter().filter(|s| s == p).collect(),
            };
            (!kept.is_empty()).then_some(Recipients::Some(kept))
        }
    }
}
