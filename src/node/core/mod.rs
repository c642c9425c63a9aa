//! The member's pure cores: deterministic state machines (inputs in, effects out; time and
//! randomness passed in), no IO. The mempool admits and holds ciphertexts (`mempool`), blocks
//! are built and checked against it (`chain`), finalized blocks are revealed and their shares
//! collected and combined (`reveal`), `inclusion` holds the
//! members' inclusion lists, `member` ties them into one member, `rln` is anonymous
//! admission and `epochs` the key-epoch table.

pub mod attest;
pub mod chain;
pub mod epochs;
pub mod evidence;
pub mod inclusion;
pub mod member;
pub mod mempool;
pub mod reveal;
pub mod rln;

#[cfg(test)]
mod chain_tests;
#[cfg(test)]
mod epoch_tests;
#[cfg(test)]
mod inclusion_tests;
#[cfg(test)]
mod member_tests;
#[cfg(test)]
mod mempool_tests;
#[cfg(test)]
mod reveal_tests;
#[cfg(test)]
mod rln_tests;
#[cfg(test)]
mod testkit;
