//! A committee member: pure cores (mempool, blocks, reveal/collect, release log) and, around
//! them, the IO shells that connect them to consensus, the network and storage.

pub mod chain;
pub mod config;
pub mod epochs;
pub mod member;
pub mod mempool;
pub mod reveal;
pub mod rln;
pub mod shell;
pub mod store;

// Blocks, envelopes and released batches are node-free (the SDK builds and verifies them);
// re-exported so the node's modules keep their paths.
pub use crate::ledger::{block, envelope, release, CtId, Digest};

#[cfg(test)]
mod epoch_tests;
#[cfg(test)]
mod rln_tests;
#[cfg(test)]
mod tests;
