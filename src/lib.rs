//! curtain: a threshold-encrypted mempool sequencer. See README.md and SPEC.md.
//!
//! Without the default `node` feature this is the wallet library: [`sdk`], [`protocol`] and
//! [`ledger`] (node-free verification of released batches and their finality proofs).

#[cfg(feature = "node")]
pub mod api;
#[cfg(feature = "node")]
pub mod dkg;
pub mod ledger;
#[cfg(feature = "node")]
pub mod node;
pub mod protocol;
pub mod sdk;
pub mod secrets;
