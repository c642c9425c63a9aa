//! Why a ceremony cannot be built or restored (a leaf: it names commonware's round error and
//! nothing of the ceremony). A round that runs and fails is not an error but a
//! [`Report`](super::Report).

use commonware_cryptography::bls12381::dkg::feldman_desmedt;

#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    /// commonware refused the round (member counts, previous output, a dealer or player not
    /// in the round).
    #[error("invalid round: {0}")]
    Round(#[from] feldman_desmedt::Error),
    #[error("this identity is neither a dealer nor a player of the round")]
    NotAMember,
    #[error("a dealer of a reshare needs its shares of the previous epoch")]
    MissingPreviousShare,
    #[error("journal does not match this round: {0}")]
    Journal(#[from] JournalMismatch),
}

/// A journal whose decisions this member could not have taken in this round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JournalMismatch {
    #[error("a proposal by a non-leader")]
    ProposalByNonLeader,
    #[error("two different echoes")]
    TwoEchoes,
    /// A decision that is not a log, a proposal or an echo.
    #[error("unexpected decision")]
    UnexpectedDecision,
}
