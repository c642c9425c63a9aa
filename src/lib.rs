//! curtain: a threshold-encrypted mempool sequencer. See README.md and SPEC.md.
//!
//! Without the default `node` feature this is the wallet library: [`sdk`], [`wire`] and
//! [`ledger`] (node-free verification of released batches and their finality proofs).

#[cfg(feature = "node")]
pub mod api;
#[cfg(feature = "node")]
pub mod dkg;
pub mod keystore;
pub mod ledger;
#[cfg(feature = "node")]
pub mod node;
mod private_file;
pub mod quic;
pub mod sdk;
pub mod wire;
