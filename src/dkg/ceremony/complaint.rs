//! Evidence and failure (SPEC.md §9.4): what a member holds against a peer ([`Complaint`]),
//! why a proposal does not finalize ([`ProposalError`]), why a round failed ([`Reason`]), and
//! the [`Report`] a member that does not finish gives its operator. The `Display` of each is
//! what the CLI prints.

use super::{checked_logs, Ceremony, Effect, Out, Phase, PhaseKind};
use crate::dkg::{Pk, V};
use commonware_cryptography::bls12381::dkg::feldman_desmedt::{
    self, observe, DealerMessageError, Failure, FaultReason, FinalizeError,
};
use commonware_parallel::Sequential;
use commonware_utils::N3f1;
use curtain_crypto::KeyError;
use std::collections::BTreeMap;
use std::fmt;

/// What a member holds against a peer.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Complaint {
    /// A dealing failed its checks (no ack went back: the dealer must reveal it in its log).
    #[error("{}", bad_dealing(consensus, encryption))]
    BadDealing {
        consensus: Option<DealerMessageError>,
        encryption: Option<DealerMessageError>,
    },
    /// A log that is not its sender's, signed for this round, in both instances.
    #[error("log not signed by its dealer for this round")]
    UnsignedLog,
    /// The leader's proposal does not finalize here.
    #[error("invalid proposal: {0}")]
    InvalidProposal(ProposalError),
    /// A player's `x_i·G1` that fails the pairing check against its verification key.
    #[error("published x_i·G1 does not match its share")]
    WrongPublic,
    /// A fault the dealer's own signed log proves (commonware's verdict).
    #[error("{0}")]
    Proven(FaultReason),
}

fn bad_dealing(c: &Option<DealerMessageError>, e: &Option<DealerMessageError>) -> String {
    let mut why = Vec::new();
    if let Some(c) = c {
        why.push(format!("consensus dealing: {c}"));
    }
    if let Some(e) = e {
        why.push(format!("encryption dealing: {e}"));
    }
    why.join("; ")
}

/// commonware's `InsufficientLogs`, without the attribution (reported as complaints).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("insufficient usable dealer logs: required={required}, found={found}")]
pub struct InsufficientLogs {
    pub required: u32,
    pub found: u32,
}

impl From<Failure<Pk>> for InsufficientLogs {
    fn from(f: Failure<Pk>) -> Self {
        match f {
            Failure::InsufficientLogs {
                required, found, ..
            } => Self { required, found },
        }
    }
}

/// Why a proposal gives this member no output.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ProposalError {
    /// Some log is not signed by a distinct dealer of the round in both instances.
    #[error("a log is unsigned, mismatched or repeated")]
    BadLog,
    /// The logs select too few usable dealings.
    #[error(transparent)]
    Insufficient(#[from] InsufficientLogs),
    /// commonware refused this player's own state (e.g. a dealing it acked is missing).
    #[error("local state: {0}")]
    Local(feldman_desmedt::Error),
}

impl From<FinalizeError<Pk>> for ProposalError {
    fn from(e: FinalizeError<Pk>) -> Self {
        match e {
            FinalizeError::Error(e) => Self::Local(e),
            FinalizeError::Failure(f) => Self::Insufficient(f.into()),
        }
    }
}

impl From<Failure<Pk>> for ProposalError {
    fn from(f: Failure<Pk>) -> Self {
        Self::Insufficient(f.into())
    }
}

/// Why a round failed at this member.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Reason {
    /// No proposal by the agree deadline; `logs` is why the leader could not propose, as far
    /// as this member's logs tell (`None`: enough logs existed).
    #[error("{}", no_proposal(logs))]
    NoProposal { logs: Option<InsufficientLogs> },
    /// A proposal, but fewer than `quorum` echoes on it by the agree deadline.
    #[error("no certificate: {echoes} of {quorum} echoes on the leader's proposal")]
    NoCertificate { echoes: usize, quorum: usize },
    /// A certificate on a proposal that gives this member no output.
    #[error("cannot finalize the certified proposal: {0}")]
    Unfinalizable(ProposalError),
    /// Fewer than `needed` players published `x_i·G1` by the publish deadline.
    #[error("{}", too_few_publics(*published, *needed, missing))]
    TooFewPublics {
        published: usize,
        needed: usize,
        missing: Vec<Pk>,
    },
    /// The committee key does not follow from the outputs.
    #[error("committee key: {0}")]
    CommitteeKey(KeyError),
}

fn no_proposal(logs: &Option<InsufficientLogs>) -> String {
    match logs {
        Some(e) => format!("no proposal from the leader; {e}"),
        None => {
            "no proposal from the leader (enough logs existed: leader silent or cut off)".into()
        }
    }
}

fn too_few_publics(published: usize, needed: usize, missing: &[Pk]) -> String {
    let missing: Vec<String> = missing.iter().map(|p| p.to_string()).collect();
    format!(
        "only {published} of the {needed} x_i·G1 needed were published; missing players: {}",
        missing.join(", ")
    )
}

/// Why a round failed, and who was absent or faulty, as this member saw it.
#[derive(Clone, Debug)]
pub struct Report {
    pub round: u64,
    pub phase: PhaseKind,
    pub reason: Reason,
    pub leader: Pk,
    /// Dealers whose dealing or log never arrived (or was withheld).
    pub missing: Vec<Pk>,
    /// Dealers with evidence of misbehaviour, and what.
    pub faulty: Vec<(Pk, Complaint)>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "round {} failed in phase {:?}: {} (leader {})",
            self.round, self.phase, self.reason, self.leader
        )?;
        if !self.missing.is_empty() {
            let m: Vec<String> = self.missing.iter().map(|p| p.to_string()).collect();
            write!(f, "; missing: {}", m.join(", "))?;
        }
        for (p, why) in &self.faulty {
            write!(f, "; faulty {p}: {why}")?;
        }
        write!(f, "; run round {} next", self.round + 1)
    }
}

impl Ceremony {
    /// Records a complaint against `who` (the latest one about a peer stands).
    pub(super) fn complain(&mut self, who: Pk, why: Complaint) {
        self.complaints.insert(who, why);
    }

    /// Why the round did not agree by the agree deadline.
    pub(super) fn agreement_failure(&mut self) -> Reason {
        match &self.phase {
            Phase::Agree(a) => Reason::NoCertificate {
                echoes: self.inbox.echoes.get(&a.digest).map_or(0, BTreeMap::len),
                quorum: self.round.quorum,
            },
            _ => {
                // Why the leader could not propose, as far as our logs tell.
                let logs = checked_logs(
                    self.inbox.logs.values(),
                    |l| &l.consensus,
                    &self.round.cinfo,
                );
                Reason::NoProposal {
                    logs: observe::<V, Pk, N3f1>(&mut self.rng, logs, &Sequential)
                        .err()
                        .map(InsufficientLogs::from),
                }
            }
        }
    }

    /// Ends the round with a report (once: a finished round stays finished).
    pub(super) fn fail(&mut self, out: &mut Out, reason: Reason) {
        if self.phase.is_over() {
            return;
        }
        let phase = self.phase.kind();
        self.phase = Phase::Failed;
        let mut faulty = std::mem::take(&mut self.complaints);
        // Faults provable from the signed logs we hold.
        let logs = checked_logs(
            self.inbox.logs.values(),
            |l| &l.encryption,
            &self.round.einfo,
        );
        if let Err(Failure::InsufficientLogs { faults, .. }) =
            observe::<V, Pk, N3f1>(&mut self.rng, logs, &Sequential)
        {
            for (p, why) in faults.iter_pairs() {
                faulty.insert(p.clone(), Complaint::Proven(why.clone()));
            }
        }
        out.push(Effect::Failed(Report {
            round: self.round.cfg.round,
            phase,
            reason,
            leader: self.round.leader.clone(),
            missing: self.missing(),
            faulty: faulty.into_iter().collect(),
        }));
    }
}
