//! A committee member: pure cores (mempool, blocks, reveal/collect, release log) and, around
//! them, the IO shells that connect them to consensus, the network and storage.

pub mod core;
pub mod settings;
pub mod shell;
pub mod store;
