//! What the committee orders and releases, as a third party sees it: blocks and their digests
//! (SPEC.md §5.2), released batches and their check (§5.4), the finality proof's check
//! (§5.4), the committee identity (§7.4), the envelopes blocks carry with their anonymous-admission (RLN) parts (§8.11), and evidence of consensus equivocation (`votes`).
//! Node-free (no commonware, no storage, no server): the node builds and serves these,
//! the wallet SDK verifies them, with one implementation.

pub mod block;
pub mod committee;
pub mod envelope;
pub mod evidence;
pub mod finality;
pub mod release;
pub mod rln;
pub mod signed;
pub mod votes;

pub use curtain_crypto::{KeyEpoch, Namespace};

curtain_crypto::u64_newtype! {
    /// A block height: genesis is 0, each block its parent's plus one. Released batches and
    /// the release log count in it too. (Not commonware's `types::Height`, the consensus
    /// layer's own counter: the node imports that one as `CwHeight` where both meet.)
    pub struct Height;
}

/// A height plus or minus a number of blocks is a height (overflow as for `u64`).
impl std::ops::Add<u64> for Height {
    type Output = Self;
    fn add(self, blocks: u64) -> Self {
        Self(self.0 + blocks)
    }
}

impl std::ops::AddAssign<u64> for Height {
    fn add_assign(&mut self, blocks: u64) {
        self.0 += blocks;
    }
}

impl std::ops::Sub<u64> for Height {
    type Output = Self;
    fn sub(self, blocks: u64) -> Self {
        Self(self.0 - blocks)
    }
}

impl Height {
    pub const fn saturating_add(self, blocks: u64) -> Self {
        Self(self.0.saturating_add(blocks))
    }

    pub const fn saturating_sub(self, blocks: u64) -> Self {
        Self(self.0.saturating_sub(blocks))
    }
}

/// A ciphertext's id (`Ciphertext::id`, the digest of its canonical encoding).
pub type CtId = [u8; 32];

/// A block digest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 32]);

/// Namespace of consensus signatures and p2p handshakes for curtain committees.
pub const CONSENSUS_NAMESPACE: &[u8] = b"curtain/v1/consensus";
