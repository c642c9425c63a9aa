//! What consensus is to a member: the signing scheme, the p2p channel ids, and each key
//! epoch's committee (SPEC.md §5.5, §9.8). A leaf: the settings and the engine build on it.

use commonware_consensus::{
    simplex::scheme::bls12381_threshold::standard as threshold, types::Epoch,
};
use commonware_cryptography::{
    bls12381::primitives::variant::MinSig,
    certificate::{Provider, Scoped},
    ed25519, sha256,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Consensus signing: threshold BLS, so a finalization certificate is one signature that is the
/// same at every member (release logs stay byte-identical).
pub type ConsensusScheme = threshold::Scheme<ed25519::PublicKey, MinSig>;
pub type PublicKey = ed25519::PublicKey;
pub(crate) type D = sha256::Digest;

/// The p2p channels a member uses (ids are part of the protocol, see SPEC.md).
pub mod channel {
    pub const VOTE: u64 = 0;
    pub const CERTIFICATE: u64 = 1;
    pub const RESOLVER: u64 = 2;
    pub const BACKFILL: u64 = 3;
    pub const BLOCKS: u64 = 4;
    pub const SHARES: u64 = 5;
    pub const GOSSIP: u64 = 6;
    /// Inclusion lists (SPEC.md §5.7).
    pub const LISTS: u64 = 7;
}

/// One key epoch's committee as consensus sees it.
#[derive(Clone)]
pub struct ConsensusEpoch {
    pub epoch: u64,
    /// Its members' identities in index order.
    pub members: Vec<PublicKey>,
    /// This member's signer when it is a member of the epoch, else a verifier.
    pub scheme: ConsensusScheme,
}

impl ConsensusEpoch {
    pub(crate) fn signs(&self) -> bool {
        use commonware_cryptography::certificate::Scheme as _;
        self.scheme.me().is_some()
    }
}

/// The consensus scheme of each key epoch, for marshal (certificates of every epoch verify;
/// this member signs only in its own epochs).
#[derive(Clone)]
pub(crate) struct EpochSchemes(pub(crate) Arc<BTreeMap<u64, Arc<ConsensusScheme>>>);

impl Provider for EpochSchemes {
    type Scope = Epoch;
    type Scheme = ConsensusScheme;

    fn scoped(&self, epoch: Epoch) -> Option<Scoped<ConsensusScheme>> {
        use commonware_cryptography::certificate::Scheme as _;
        let s = self.0.get(&epoch.get())?;
        Some(if s.me().is_some() {
            Scoped::scheme(s.clone())
        } else {
            Scoped::verifier(s.clone())
        })
    }
}
