//! Agreement on the dealer logs (SPEC.md §9.2 steps 3–6): the leader collects logs and
//! proposes; a player checks the proposal, finalizes its outputs from it and echoes its digest
//! (at most one per round); `q` echoes make a certificate, which finalizes anyone who holds it
//! and moves the round to the Publish phase.

use super::complaint::{Complaint, ProposalError, Reason};
use super::deal::Players;
use super::error::JournalMismatch;
use super::round::ECHO_NAMESPACE;
use super::{checked_logs, public_matches, Ceremony, MemberShares, Out, Phase};
use crate::dkg::msg::{DealerLogs, Entry, Msg, Proposal};
use crate::dkg::{Pk, Sig, V};
use commonware_cryptography::bls12381::dkg::feldman_desmedt::{observe, Output};
use commonware_cryptography::{Signer as _, Verifier as _};
use commonware_parallel::Sequential;
use commonware_utils::N3f1;
use std::collections::{BTreeMap, BTreeSet};

/// The Agree phase: the leader's proposal is held, waiting for a certificate on it.
pub(super) struct Agree {
    pub(super) digest: [u8; 32],
    pub(super) proposal: Proposal,
    /// Whether this member echoed `digest` (a persisted decision).
    pub(super) echoed: bool,
    /// This member's outputs from the proposal, computed when it arrived.
    pub(super) outputs: Result<Finalized, ProposalError>,
}

/// Both instances' outputs from an agreed proposal, and a player's shares.
pub(super) struct Finalized {
    pub(super) digest: [u8; 32],
    pub(super) consensus: Output<V, Pk>,
    pub(super) encryption: Output<V, Pk>,
    /// `None` for members that only deal.
    pub(super) shares: Option<MemberShares>,
}

impl Ceremony {
    /// A dealer's signed logs (the leader collects them until it proposes).
    pub(super) fn on_log(&mut self, out: &mut Out, from: Pk, l: DealerLogs) {
        if self.inbox.logs.contains_key(&from) || !matches!(self.phase, Phase::Deal(_)) {
            return;
        }
        // Only the dealer's own logs, correctly signed for this round.
        let c = l.consensus.clone().check(&self.round.cinfo);
        let e = l.encryption.clone().check(&self.round.einfo);
        match (c, e) {
            (Some((cd, _)), Some((ed, _))) if cd == from && ed == from => {}
            _ => {
                self.complain(from, Complaint::UnsignedLog);
                return;
            }
        }
        self.inbox.logs.insert(from.clone(), l.clone());
        self.record(out, &from, || Msg::Log(Box::new(l)));
        if self.round.is_leader() && self.inbox.logs.len() == self.round.cfg.dealers.len() {
            self.propose(out);
        }
    }

    /// The leader proposes the logs it holds, if they let both instances finalize (otherwise
    /// members time out with the report). Never while replaying: a proposal is restored from
    /// the journal, not taken again.
    pub(super) fn propose(&mut self, out: &mut Out) {
        if !self.round.is_leader() || !matches!(self.phase, Phase::Deal(_)) || self.replaying {
            return;
        }
        let p = Proposal {
            logs: self.inbox.logs.values().cloned().collect(),
        };
        let elogs = checked_logs(&p.logs, |l| &l.encryption, &self.round.einfo);
        let clogs = checked_logs(&p.logs, |l| &l.consensus, &self.round.cinfo);
        let ok = observe::<V, Pk, N3f1>(&mut self.rng, elogs, &Sequential).is_ok()
            && observe::<V, Pk, N3f1>(&mut self.rng, clogs, &Sequential).is_ok();
        if !ok {
            tracing::warn!(
                logs = self.inbox.logs.len(),
                "not enough usable dealer logs to propose"
            );
            return;
        }
        let msg = Msg::Propose(Box::new(p));
        self.persist(out, Entry::Decided(msg.clone()));
        self.broadcast(out, msg);
    }

    /// Replays the leader's proposal from the journal: sent again, never taken anew.
    pub(super) fn restore_proposal(
        &mut self,
        out: &mut Out,
        p: Box<Proposal>,
    ) -> Result<(), JournalMismatch> {
        if !self.round.is_leader() {
            return Err(JournalMismatch::ProposalByNonLeader);
        }
        if matches!(self.phase, Phase::Deal(_)) {
            self.broadcast(out, Msg::Propose(p));
        }
        Ok(())
    }

    /// Replays an echo decision: the proposal replayed before it made the same echo.
    pub(super) fn restore_echo(&self, digest: [u8; 32]) -> Result<(), JournalMismatch> {
        let echoed = match &self.phase {
            Phase::Agree(a) if a.echoed => Some(a.digest),
            Phase::Publish(f) => Some(f.digest),
            _ => None,
        };
        match echoed {
            Some(d) if d != digest => Err(JournalMismatch::TwoEchoes),
            _ => Ok(()),
        }
    }

    /// The leader's (first) proposal: a player that finalizes from it echoes its digest.
    pub(super) fn on_propose(&mut self, out: &mut Out, from: Pk, p: Proposal) {
        if from != self.round.leader {
            return;
        }
        let Phase::Deal(deal) = &mut self.phase else {
            return;
        };
        let player = deal.player.take();
        let digest = self.round.digest(&p);
        self.record(out, &from, || Msg::Propose(Box::new(p.clone())));
        let outputs = self.finalize(digest, &p, player);
        let echo = match &outputs {
            Ok(_) => self.round.is_player(),
            Err(why) => {
                if self.round.is_player() {
                    tracing::warn!(leader = %self.round.leader, reason = %why, "rejected proposal");
                    self.complain(
                        self.round.leader.clone(),
                        Complaint::InvalidProposal(why.clone()),
                    );
                }
                false
            }
        };
        self.phase = Phase::Agree(Box::new(Agree {
            digest,
            proposal: p,
            echoed: echo,
            outputs,
        }));
        if echo {
            let sig = self
                .round
                .sk
                .sign(ECHO_NAMESPACE, &self.round.echo_message(&digest));
            let msg = Msg::Echo { digest, sig };
            self.persist(out, Entry::Decided(msg.clone()));
            self.broadcast(out, msg);
        }
        self.try_commit(out);
    }

    /// A player's echo on a digest (kept whether or not this member holds that proposal yet).
    pub(super) fn on_echo(&mut self, out: &mut Out, from: Pk, digest: [u8; 32], sig: Sig) {
        let Some(idx) = self.round.player_index(&from) else {
            return;
        };
        if !matches!(self.phase, Phase::Deal(_) | Phase::Agree(_)) {
            return;
        }
        if !from.verify(ECHO_NAMESPACE, &self.round.echo_message(&digest), &sig) {
            return;
        }
        let set = self.inbox.echoes.entry(digest).or_default();
        if set.insert(idx, sig.clone()).is_none() {
            self.record(out, &from, || Msg::Echo { digest, sig });
        }
        self.try_commit(out);
    }

    /// A certificate: `q` valid echoes on `digest`, for the proposal this member holds or with
    /// the proposal (which a member without one adopts).
    pub(super) fn on_commit(
        &mut self,
        out: &mut Out,
        from: Pk,
        digest: [u8; 32],
        proposal: Option<Proposal>,
        echoes: Vec<(u32, Sig)>,
    ) {
        let held = match &self.phase {
            Phase::Deal(_) => None,
            Phase::Agree(a) => Some(a.digest),
            _ => return,
        };
        match (&proposal, held) {
            (Some(p), _) if self.round.digest(p) == digest => {}
            (None, Some(d)) if d == digest => {}
            _ => return,
        }
        let msg = self.round.echo_message(&digest);
        let players = &self.round.cfg.players;
        let valid: BTreeMap<u32, Sig> = echoes
            .iter()
            .filter(|(i, s)| {
                players
                    .get(*i as usize)
                    .is_some_and(|p| p.verify(ECHO_NAMESPACE, &msg, s))
            })
            .cloned()
            .collect();
        if valid.len() < self.round.quorum {
            return;
        }
        self.record(out, &from, || Msg::Commit {
            digest,
            proposal: proposal.clone(),
            echoes,
        });
        if let (Phase::Deal(deal), Some(p)) = (&mut self.phase, proposal) {
            let player = deal.player.take();
            let outputs = self.finalize(digest, &p, player);
            self.phase = Phase::Agree(Box::new(Agree {
                digest,
                proposal: p,
                echoed: false,
                outputs,
            }));
        }
        self.inbox.echoes.entry(digest).or_default().extend(valid);
        self.try_commit(out);
    }

    /// Checks a proposal (each log signed by a distinct dealer of the round, both instances
    /// finalize) and computes this member's outputs and shares from it.
    fn finalize(
        &mut self,
        digest: [u8; 32],
        p: &Proposal,
        player: Option<Box<Players>>,
    ) -> Result<Finalized, ProposalError> {
        let mut seen = BTreeSet::new();
        for l in &p.logs {
            let c = l.consensus.clone().check(&self.round.cinfo).map(|(d, _)| d);
            let e = l
                .encryption
                .clone()
                .check(&self.round.einfo)
                .map(|(d, _)| d);
            match (c, e) {
                (Some(c), Some(e)) if c == e && seen.insert(c.clone()) => {}
                _ => return Err(ProposalError::BadLog),
            }
        }
        let clogs = checked_logs(&p.logs, |l| &l.consensus, &self.round.cinfo);
        let elogs = checked_logs(&p.logs, |l| &l.encryption, &self.round.einfo);
        let finalized = match player {
            Some(players) => {
                let Players {
                    consensus,
                    encryption,
                } = *players;
                let (co, cs) = consensus.finalize::<N3f1>(&mut self.rng, clogs, &Sequential)?;
                let (eo, es) = encryption.finalize::<N3f1>(&mut self.rng, elogs, &Sequential)?;
                Finalized {
                    digest,
                    consensus: co,
                    encryption: eo,
                    shares: Some(MemberShares {
                        index: cs.index.get(),
                        consensus: cs,
                        encryption: es,
                    }),
                }
            }
            None => Finalized {
                digest,
                consensus: observe::<V, Pk, N3f1>(&mut self.rng, clogs, &Sequential)?,
                encryption: observe::<V, Pk, N3f1>(&mut self.rng, elogs, &Sequential)?,
                shares: None,
            },
        };
        // Publics that arrived early are checked now.
        self.inbox
            .publics
            .retain(|i, p| public_matches(&finalized.encryption, *i, p));
        Ok(finalized)
    }

    /// With `q` echoes on the proposal held: finalize, send the certificate to every peer
    /// (with the proposal to peers whose echo is missing) and publish.
    pub(super) fn try_commit(&mut self, out: &mut Out) {
        let Phase::Agree(a) = &self.phase else {
            return;
        };
        let echoes = self
            .inbox
            .echoes
            .get(&a.digest)
            .cloned()
            .unwrap_or_default();
        if echoes.len() < self.round.quorum {
            return;
        }
        if let Err(why) = &a.outputs {
            let why = Reason::Unfinalizable(why.clone());
            self.fail(out, why);
            return;
        }
        let Phase::Agree(a) = std::mem::replace(&mut self.phase, Phase::Done) else {
            unreachable!("matched above")
        };
        let Agree {
            digest,
            proposal,
            outputs: Ok(finalized),
            ..
        } = *a
        else {
            unreachable!("checked above")
        };
        self.phase = Phase::Publish(Box::new(finalized));
        // Peers whose echo we hold have the proposal: they get the certificate alone.
        let echoed: BTreeSet<u32> = echoes.keys().copied().collect();
        let cert: Vec<(u32, Sig)> = echoes.into_iter().take(self.round.quorum).collect();
        let peers: Vec<Pk> = self.round.peers().cloned().collect();
        for p in peers {
            let has = self
                .round
                .player_index(&p)
                .is_some_and(|i| echoed.contains(&i));
            let msg = Msg::Commit {
                digest,
                proposal: (!has).then(|| proposal.clone()),
                echoes: cert.clone(),
            };
            self.send(out, p, msg);
        }
        self.publish(out);
        self.try_done(out);
    }
}
