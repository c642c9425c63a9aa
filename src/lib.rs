//! curtain: a threshold-encrypted mempool sequencer. See README.md and SPEC.md.

pub mod api;
pub mod dkg;
pub mod node;
pub mod sdk;
pub mod wire;
