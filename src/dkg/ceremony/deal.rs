//! Deal and ack (SPEC.md §9.2 steps 1–3): a dealer's two commonware `Dealer`s, the dealings it
//! sends, the acks it collects and the log it signs; a player's two commonware `Player`s and
//! the dealings it checks and acks (a missing ack is the complaint).

use super::complaint::Complaint;
use super::error::CeremonyError;
use super::round::{Round, Secrets, CONSENSUS_NAMESPACE, ENCRYPTION_NAMESPACE};
use super::{Ceremony, Out, Phase};
use crate::dkg::msg::{DealerLogs, Dealing, Entry, Msg};
use crate::dkg::{Pk, Sk, V};
use commonware_codec::Encode as _;
use commonware_cryptography::bls12381::dkg::feldman_desmedt::{Dealer, Info, Player, PlayerAck};
use commonware_cryptography::bls12381::primitives::group::Share;
use commonware_utils::N3f1;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng as _;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};

const DST_SEED: &[u8] = b"curtain/v1/dkg/dealer-seed";

/// The Deal phase: no proposal held yet. A player's instances live here until the proposal
/// consumes them.
pub(super) struct Deal {
    /// `None` for members that only deal.
    pub(super) player: Option<Box<Players>>,
}

/// A player's commonware state of both instances.
pub(super) struct Players {
    pub(super) consensus: Player<V, Sk>,
    pub(super) encryption: Player<V, Sk>,
}

/// A dealer's side of the round; it outlives the Deal phase only as the ack count.
pub(super) enum DealerState {
    /// Collecting acks until every player acked or the deal timeout.
    Acking {
        consensus: Box<Dealer<V, Sk>>,
        encryption: Box<Dealer<V, Sk>>,
        acks: BTreeSet<Pk>,
    },
    /// The log is signed (a decision, journaled before it is sent).
    Signed { acks: usize },
}

impl DealerState {
    pub(super) fn acks(&self) -> usize {
        match self {
            Self::Acking { acks, .. } => acks.len(),
            Self::Signed { acks } => *acks,
        }
    }
}

/// The dealer's randomness of one instance: `ChaCha20(SHA-256(DST ‖ identity ‖ namespace ‖
/// round ‖ dealers ‖ players ‖ previous outputs))`, so a restarted dealer deals again exactly
/// what it dealt, and no dealing repeats across rounds or member sets.
fn dealer_rng(round: &Round, identity: &Sk, ns: &[u8]) -> ChaCha20Rng {
    let cfg = &round.cfg;
    let mut h = Sha256::new();
    h.update(DST_SEED);
    h.update(crate::dkg::encode_secret(identity));
    h.update(ns);
    h.update(cfg.round.to_be_bytes());
    h.update(cfg.dealers.encode());
    h.update(cfg.players.encode());
    if let Some(p) = &cfg.previous {
        h.update(p.consensus.encode());
        h.update(p.encryption.encode());
    }
    ChaCha20Rng::from_seed(h.finalize().into())
}

/// Starts the dealer of both instances; returns its state and each player's dealing.
pub(super) fn start_dealer(
    round: &Round,
    secrets: Secrets,
) -> Result<(DealerState, BTreeMap<Pk, Dealing>), CeremonyError> {
    if round.cfg.previous.is_some() && (secrets.consensus.is_none() || secrets.encryption.is_none())
    {
        return Err(CeremonyError::MissingPreviousShare);
    }
    let start = |ns, info: &Info<V, Pk>, share: Option<Share>| {
        Dealer::<V, Sk>::start::<N3f1>(
            dealer_rng(round, &secrets.identity, ns),
            info.clone(),
            secrets.identity.clone(),
            share,
        )
    };
    let (cd, cpub, cprivs) = start(CONSENSUS_NAMESPACE, &round.cinfo, secrets.consensus)?;
    let (ed, epub, eprivs) = start(ENCRYPTION_NAMESPACE, &round.einfo, secrets.encryption)?;
    let deals = cprivs
        .into_iter()
        .zip(eprivs)
        .map(|((p, cp), (_, ep))| {
            (
                p,
                Dealing {
                    consensus: (cpub.clone(), cp),
                    encryption: (epub.clone(), ep),
                },
            )
        })
        .collect();
    let state = DealerState::Acking {
        consensus: Box::new(cd),
        encryption: Box::new(ed),
        acks: BTreeSet::new(),
    };
    Ok((state, deals))
}

/// A player's state of both instances.
pub(super) fn start_player(round: &Round) -> Result<Players, CeremonyError> {
    Ok(Players {
        consensus: Player::new(round.cinfo.clone(), round.sk.clone())?,
        encryption: Player::new(round.einfo.clone(), round.sk.clone())?,
    })
}

impl Ceremony {
    /// A dealing to this player: checked in both instances and answered with an ack (`None`
    /// for an instance whose dealing failed: the complaint).
    pub(super) fn on_deal(&mut self, out: &mut Out, from: Pk, d: Dealing) {
        let Phase::Deal(Deal {
            player: Some(players),
        }) = &mut self.phase
        else {
            return;
        };
        if self.inbox.dealt.contains(&from) || self.round.cfg.dealers.position(&from).is_none() {
            return;
        }
        let c = players.consensus.dealer_message::<N3f1>(
            from.clone(),
            d.consensus.0.clone(),
            d.consensus.1.clone(),
        );
        let e = players.encryption.dealer_message::<N3f1>(
            from.clone(),
            d.encryption.0.clone(),
            d.encryption.1.clone(),
        );
        let (consensus, cerr) = split(c);
        let (encryption, eerr) = split(e);
        if cerr.is_some() || eerr.is_some() {
            // A complaint: no ack, so an honest dealer must reveal this dealing in its log;
            // one that does not cannot be selected.
            let why = Complaint::BadDealing {
                consensus: cerr,
                encryption: eerr,
            };
            tracing::warn!(dealer = %from, reason = %why, "bad dealing");
            self.complain(from.clone(), why);
        }
        self.inbox.dealt.insert(from.clone());
        self.record(out, &from, || Msg::Deal(Box::new(d)));
        self.send(
            out,
            from,
            Msg::Ack {
                consensus,
                encryption,
            },
        );
    }

    /// A player's acks of this dealer's dealings; with every player's, the dealer signs.
    pub(super) fn on_ack(
        &mut self,
        out: &mut Out,
        from: Pk,
        consensus: Option<PlayerAck<Pk>>,
        encryption: Option<PlayerAck<Pk>>,
    ) {
        let Some(DealerState::Acking {
            consensus: cd,
            encryption: ed,
            acks,
        }) = self.dealer.as_mut()
        else {
            return;
        };
        if self.round.cfg.players.position(&from).is_none() || !acks.insert(from.clone()) {
            return;
        }
        let mut ok = false;
        if let Some(a) = consensus.clone() {
            ok |= cd.receive_player_ack(from.clone(), a).is_ok();
        }
        if let Some(a) = encryption.clone() {
            ok |= ed.receive_player_ack(from.clone(), a).is_ok();
        }
        let all = acks.len() == self.round.cfg.players.len();
        if ok {
            self.record(out, &from, || Msg::Ack {
                consensus,
                encryption,
            });
        }
        if all {
            self.sign_log(out);
        }
    }

    /// Signs this dealer's logs (once) and sends them to the leader: players that did not
    /// ack get their share revealed in them.
    pub(super) fn sign_log(&mut self, out: &mut Out) {
        let (consensus, encryption) = match self.dealer.take() {
            Some(DealerState::Acking {
                consensus,
                encryption,
                acks,
            }) => {
                self.dealer = Some(DealerState::Signed { acks: acks.len() });
                (consensus, encryption)
            }
            other => {
                self.dealer = other;
                return;
            }
        };
        let logs = DealerLogs {
            consensus: consensus.finalize::<N3f1>(),
            encryption: encryption.finalize::<N3f1>(),
        };
        let msg = Msg::Log(Box::new(logs));
        self.persist(out, Entry::Decided(msg.clone()));
        // Only the leader needs logs (each carries t G2 points; n² copies cost decoding).
        let leader = self.round.leader.clone();
        self.send(out, leader, msg);
    }

    /// Replays a signed log from the journal: exactly the log signed then (the acks replayed
    /// so far may differ), sent to the leader again.
    pub(super) fn restore_log(&mut self, out: &mut Out, logs: Box<DealerLogs>) {
        if matches!(self.dealer, Some(DealerState::Signed { .. })) {
            return;
        }
        let acks = self.dealer.as_ref().map_or(0, DealerState::acks);
        self.dealer = Some(DealerState::Signed { acks });
        let leader = self.round.leader.clone();
        self.send(out, leader, Msg::Log(logs));
    }
}

/// An instance's answer to a dealing: the ack, or why there is none.
fn split<E>(r: Result<Option<PlayerAck<Pk>>, E>) -> (Option<PlayerAck<Pk>>, Option<E>) {
    match r {
        Ok(a) => (a, None),
        Err(e) => (None, Some(e)),
    }
}
