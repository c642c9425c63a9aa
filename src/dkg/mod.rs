//! Committee key generation without a trusted dealer (SPEC.md §9): a Joint-Feldman DKG
//! (commonware `feldman_desmedt`, two instances: consensus key and encryption key) with an
//! agreement step on the dealer logs, resharing and refresh, an encrypted journal for restart
//! safety, and encrypted keystores for the output.
//!
//! `ceremony` is the pure state machine (messages and ticks in, effects out); `driver` runs
//! one member of it over a commonware p2p channel with its `journal`, on any commonware
//! runtime; `local` runs every member in one process without a network (tests and
//! simulations that need real keys); `msg` is the wire format; `keystore` the member's files.

pub mod ceremony;
pub mod driver;
pub mod journal;
pub mod keystore;
pub mod local;
pub mod msg;

use commonware_cryptography::bls12381::primitives::variant::MinSig;
use commonware_cryptography::ed25519;

/// Identities of members (p2p and signatures).
pub type Pk = ed25519::PublicKey;
pub type Sk = ed25519::PrivateKey;
pub type Sig = ed25519::Signature;
/// Both keys have their public polynomial in G2 (curtain-crypto's verification keys are in G2).
pub type V = MinSig;

/// `v`'s commonware encoding in a buffer wiped on drop, for secrets (identity keys, shares,
/// journal entries holding dealings): `Encode::encode` returns a `Bytes` that is freed
/// without being wiped. The buffer is allocated once at its exact size, so no reallocation
/// leaves a copy behind.
pub(crate) fn encode_secret<T: commonware_codec::Write + commonware_codec::EncodeSize + ?Sized>(
    v: &T,
) -> zeroize::Zeroizing<Vec<u8>> {
    let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(v.encode_size()));
    v.write(&mut *buf);
    buf
}

pub use ceremony::{
    Ceremony, CeremonyError, Complaint, Effect, MemberShares, Outcome, PhaseKind, Previous,
    Progress, Reason, Report, RoundConfig, Secrets, Timeouts,
};
#[cfg(test)]
mod tests;
