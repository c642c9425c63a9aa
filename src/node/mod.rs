//! A committee member: pure cores (`core`: mempool, blocks, reveal/collect, the member) and,
//! around them, actors (`actors`: ordering, reveal, admission, persist) that connect them to
//! consensus, the network and storage; `engine` wires them, `handle` is what the client API
//! holds of a running member.

mod actors;
mod consensus;
pub mod core;
mod engine;
mod handle;
mod metrics;
pub mod settings;
mod timeouts;

pub use actors::persist::EvidenceHub;
pub(crate) use consensus::D;
pub use consensus::{channel, ConsensusEpoch, ConsensusScheme, PublicKey};
pub use engine::{start, Channels, EngineConfig};
pub use handle::NodeHandle;
pub use timeouts::{Pacing, Timeouts};
