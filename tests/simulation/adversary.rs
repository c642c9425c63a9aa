//! The byzantine members: what each behaviour does on the wire. Every message a member sends
//! passes its forwarder, which withholds share batches, splits twins' traffic between their
//! two sides, and records what the invariant checker needs; a flooder sends share requests
//! at its quota besides.

use crate::committee::Committee;
use commonware_codec::Decode as _;
use commonware_consensus::simplex::types::Vote;
use commonware_cryptography::{ed25519, sha256};
use commonware_p2p::simulated::SplitOrigin;
use commonware_p2p::Recipients;
use commonware_runtime::{Clock as _, IoBuf, Spawner as _, Supervisor as _};
use curtain::node::{channel, core::member::ShareMessage, ConsensusScheme};
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
    /// Two copies with the same keys: one talks only to `primary`, the other to the rest.
    Twins {
        primary: Vec<Pk>,
    },
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
                Behaviour::Honest | Behaviour::Withholds | Behaviour::FloodsShareRequests
                    if id == channel::SHARES =>
                {
                    if let Ok(ShareMessage::Batch(b)) = ShareMessage::decode(msg.as_ref(), 1 << 16)
                    {
                        if matches!(behaviour, Behaviour::Withholds) {
                            return None;
                        }
                        let height = slot.lock().unwrap().as_ref().map(|h| h.finalized_height());
                        wire.lock().unwrap().shares.push((i, b.batch_id(), height));
                    }
                    return Some(to.clone());
                }
                Behaviour::Honest | Behaviour::Withholds | Behaviour::FloodsShareRequests => {
                    return Some(to.clone())
                }
                Behaviour::Twins { primary } => primary,
            };
            let is_primary = origin == SplitOrigin::Primary;
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
