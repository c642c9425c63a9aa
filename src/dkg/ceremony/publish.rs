//! Publish and done (SPEC.md §9.2 steps 7–8): after a fresh DKG each player publishes
//! `x_i·G1`, checked by pairing against its verification key, and `t` of them give the
//! committee key (`CommitteeKey::from_partials`); a reshare keeps the previous key
//! (`CommitteeKey::reshared`) and publishes nothing.

use super::complaint::{Complaint, Reason};
use super::{Ceremony, Effect, Out, Outcome, Phase};
use crate::dkg::msg::Msg;
use crate::dkg::{Pk, V};
use commonware_codec::Encode as _;
use commonware_cryptography::bls12381::dkg::feldman_desmedt::Output;
use commonware_utils::{Faults as _, N3f1, Participant};
use curtain_crypto::{partial_g1_matches, CommitteeKey};

impl Ceremony {
    /// A player's `x_i·G1`: checked against its verification key once this member has the
    /// outputs (kept unchecked until then, and checked when they come).
    pub(super) fn on_public(&mut self, out: &mut Out, from: Pk, p: [u8; 48]) {
        let Some(idx) = self.round.player_index(&from) else {
            return;
        };
        if self.inbox.publics.contains_key(&idx) {
            return;
        }
        let encryption = match &self.phase {
            Phase::Deal(_) => None,
            Phase::Agree(a) => a.outputs.as_ref().ok().map(|f| &f.encryption),
            Phase::Publish(f) => Some(&f.encryption),
            Phase::Done | Phase::Failed => return,
        };
        if encryption.is_some_and(|e| !public_matches(e, idx, &p)) {
            self.complain(from, Complaint::WrongPublic);
            return;
        }
        self.inbox.publics.insert(idx, p);
        self.record(out, &from, || Msg::Public(p));
        self.try_done(out);
    }

    /// After a fresh DKG, a player sends every participant its `x_i·G1`.
    pub(super) fn publish(&mut self, out: &mut Out) {
        let Phase::Publish(f) = &self.phase else {
            return;
        };
        if self.round.cfg.previous.is_some() {
            return;
        }
        if let Some(s) = &f.shares {
            let public = s.key_share().public_g1();
            self.broadcast(out, Msg::Public(public));
        }
    }

    /// Ends the round once the committee key follows: at once for a reshare, with `t` valid
    /// `x_i·G1` for a fresh DKG.
    pub(super) fn try_done(&mut self, out: &mut Out) {
        let Phase::Publish(f) = &self.phase else {
            return;
        };
        let n = self.round.cfg.players.len();
        let commitments = commitments(&f.encryption);
        let key = match &self.round.cfg.previous {
            Some(prev) => prev.key.reshared(n, &commitments),
            None => {
                if self.inbox.publics.len() < f.encryption.quorum::<N3f1>() as usize {
                    return;
                }
                let partials: Vec<([u8; 48], u32)> =
                    self.inbox.publics.iter().map(|(i, p)| (*p, *i)).collect();
                CommitteeKey::from_partials(n, &commitments, &partials)
            }
        };
        let key = match key {
            Ok(k) => k,
            Err(e) => {
                self.fail(out, Reason::CommitteeKey(e));
                return;
            }
        };
        let Phase::Publish(f) = std::mem::replace(&mut self.phase, Phase::Done) else {
            unreachable!("matched above")
        };
        let cfg = &self.round.cfg;
        out.push(Effect::Done(Box::new(Outcome {
            round: cfg.round,
            key_epoch: cfg.key_epoch(),
            players: cfg.players.clone(),
            consensus: f.consensus,
            encryption: f.encryption,
            key,
            transcript: f.digest,
            shares: f.shares,
        })));
    }

    /// Why the players' `x_i·G1` did not make the key by the publish deadline.
    pub(super) fn publication_failure(&self) -> Reason {
        let missing: Vec<Pk> = self
            .round
            .cfg
            .players
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.inbox.publics.contains_key(&(*i as u32)))
            .map(|(_, p)| p.clone())
            .collect();
        Reason::TooFewPublics {
            published: self.inbox.publics.len(),
            needed: N3f1::quorum(self.round.cfg.players.len()) as usize,
            missing,
        }
    }
}

/// The public polynomial's coefficients (compressed G2), as curtain-crypto takes them.
pub fn commitments(output: &Output<V, Pk>) -> Vec<[u8; 96]> {
    let sharing = output.public();
    let t = sharing.required() as usize;
    let bytes = sharing.encode();
    // The sharing encodes as mode ‖ total ‖ coefficients (length-prefixed); the last 96·t
    // bytes are the coefficients, checked below against the sharing's own evaluations.
    let tail = &bytes[bytes.len() - 96 * t..];
    tail.chunks_exact(96)
        .map(|c| c.try_into().expect("96-byte chunks"))
        .collect()
}

/// Whether `p` is `x_i·G1` for player `index`'s verification key in `output`.
pub(super) fn public_matches(output: &Output<V, Pk>, index: u32, p: &[u8; 48]) -> bool {
    let Ok(vk) = output.public().partial_public(Participant::new(index)) else {
        return false;
    };
    let vk: [u8; 96] = match vk.encode().as_ref().try_into() {
        Ok(v) => v,
        Err(_) => return false,
    };
    partial_g1_matches(&vk, p)
}
