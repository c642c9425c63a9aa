//! What the committee orders and releases, as a third party sees it: blocks and their digests
//! (SPEC.md §5.2), released batches and their check (§5.4), the finality proof's check
//! (§5.4), the committee identity (§7.4), and the envelopes blocks carry with their anonymous-admission (RLN) parts (§8.11).
//! Node-free (no commonware, no storage, no server): the node builds and serves these,
//! the wallet SDK verifies them, with one implementation.

pub mod block;
pub mod committee;
pub mod envelope;
pub mod finality;
pub mod release;
pub mod rln;

/// A ciphertext's id (`Ciphertext::id`, the digest of its canonical encoding).
pub type CtId = [u8; 32];

/// A block digest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 32]);

/// Namespace of consensus signatures and p2p handshakes for curtain committees.
pub const CONSENSUS_NAMESPACE: &[u8] = b"curtain/v1/consensus";
