//! A committee member: pure cores (mempool, blocks, reveal/collect, release log) and, around
//! them, the IO shells that connect them to consensus, the network and storage.

pub mod block;
pub mod chain;
pub mod config;
pub mod envelope;
pub mod member;
pub mod mempool;
pub mod release;
pub mod reveal;
pub mod rln;
pub mod shell;
pub mod store;

/// A ciphertext's id (`Ciphertext::id`, the digest of its canonical encoding).
pub type CtId = [u8; 32];

/// A block digest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(pub [u8; 32]);

#[cfg(test)]
mod rln_tests;
#[cfg(test)]
mod tests;
