//! Anonymous rate-limited admission for curtain: a rate-limiting-nullifier (RLN) circuit.
//!
//! A sender proves in zero knowledge that it is a registered member (its identity commitment
//! is a leaf of the members' Merkle tree) and that this is one of at most `limit` messages it
//! sends in an epoch; reusing a message index with a different signal reveals its secret, so
//! it can be slashed. Groth16 over BLS12-381 (arkworks 0.6), Poseidon for every in-circuit
//! hash. SPEC.md §8 at the repository root is the specification.
//!
//! Flow: [`Identity::commitment`] is registered in a [`MerkleTree`]; the sender builds a
//! [`Witness`] (signal `x` = [`signal_hash`] of the ciphertext id), calls [`prove`], and sends
//! [`Witness::statement`] with the [`Proof`]; verifiers check the root is one they accept,
//! the nullifier is new for the epoch, and call [`verify`] or [`verify_batch`]. Two valid
//! statements with one nullifier and different `x` give the secret ([`recover_secret`]).
//!
//! Inside: `params` (the circuit's shape, a leaf), `circuit` (the constraints), `keys` (key
//! files and the keys' prepared forms), `prover` and `proof` (proving and verifying), and
//! `pairing` over `ffi`, the one module that calls blst's raw functions (the crate denies
//! `unsafe` everywhere else).

mod circuit;
mod encoding;
mod error;
mod ffi;
mod keys;
mod merkle;
mod pairing;
mod params;
pub mod poseidon;
mod proof;
mod prover;
mod signal;

pub use ark_bls12_381::Fr;
pub use circuit::Witness;
pub use encoding::{fr_from_be_bytes, fr_to_be_bytes};
pub use error::{
    DecodeError, KeyError, ParamsError, ProveError, RecoverError, TreeError, VerifyError,
    WitnessError,
};
pub use keys::{
    circuit_digest, setup_dev, CircuitDigest, ProvingKey, VerifyingKey, DIGEST_DST,
    KEY_FORMAT_VERSION, KEY_MAGIC, MAX_PROVING_KEY_BODY, MAX_VERIFYING_KEY_BODY,
};
pub use merkle::{zero_hashes, MerklePath, MerkleTree};
pub use params::{CircuitParams, DEFAULT_DEPTH, DEFAULT_RANGE_BITS};
#[doc(inline)]
pub use poseidon::digest as poseidon_digest;
pub use proof::{find_invalid, prove, verify, verify_batch, Proof, PROOF_BYTES};
pub use signal::{
    commitment, recover_secret, signal_hash, Identity, Statement, SIGNAL_DST, STATEMENT_BYTES,
};
