//! # curtain-crypto
//!
//! Threshold encryption for curtain's encrypted mempool, on BLS12-381 with blst:
//!
//! - [`key`]: committee keys (encryption key `Δ·x·G1`, public polynomial in G2), key shares,
//!   trusted dealer for tests and dev.
//! - [`label`]: what a ciphertext is bound to (key, epoch, namespace, sender), with the
//!   [`Namespace`] and [`KeyEpoch`] newtypes.
//! - [`ciphertext`]: labelled CCA2 encryption (signed-ElGamal KEM + ChaCha20-Poly1305), the
//!   public validity check, single and batched.
//! - [`share`]: a member's decryption shares for a committed batch.
//! - [`combine`]: optimistic combine, verifiable openings, fault evidence.
//!
//! Inside, `group` holds the curve algorithms (its `mod.rs` lists them), `scalar` the field
//! F_r and transcript hashing, and `ffi` every call into blst: the crate denies `unsafe`
//! everywhere else (but for one hash-state wipe in `scalar`).
//!
//! This crate does no IO and holds no clocks; every function is deterministic given its RNG.
//! SPEC.md at the repository root is the normative description of the scheme and encodings.

pub mod ciphertext;
pub mod combine;
pub mod encoding;
pub mod error;
mod ffi;
mod group;
pub mod key;
pub mod label;
mod newtype;
mod scalar;
pub mod share;

pub use ciphertext::{
    decode_all, encrypt, verify, verify_batch, Ciphertext, EncodedCiphertext, Padding, Rejected,
    VerifiedCiphertext,
};
pub use combine::{
    check_share_batch, combine, open, verify_openings, CombineError, Combined, Decryption,
    FaultEvidence, FaultReason, Opening, Undecryptable,
};
pub use error::{DecodeError, EncryptError, KeyError, PointError, ValidityError};
pub use key::{
    deal, eval_commitments, partial_g1_matches, threshold_range, CommitteeKey, EncryptionKey,
    KeyShare, MAX_MEMBERS,
};
pub use label::{Label, MAX_SENDER_LEN};
pub use newtype::{KeyEpoch, Namespace};

/// What [`u64_newtype!`] expands to refers to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use serde;
}
pub use share::ShareBatch;

/// Hooks for this crate's benchmarks; not part of the API.
#[doc(hidden)]
pub mod bench_api {
    use crate::group;
    use crate::scalar::Scalar;
    use blst::{blst_p1, blst_p1_affine};

    /// `n` pseudo-random G1 points (multiples of the generator by scalars derived from `seed`).
    pub fn points(n: usize, seed: u64) -> Vec<blst_p1_affine> {
        (0..n as u64)
            .map(|i| {
                let s = Scalar::from_wide_be(&[seed.to_be_bytes(), i.to_be_bytes()].concat());
                group::p1_to_affine(&group::FixedBase::mul(group::generator_table(), &s))
            })
            .collect()
    }

    /// A scalar reduced from `bytes` (big-endian).
    pub struct BenchScalar(Scalar);

    impl BenchScalar {
        pub fn new(bytes: &[u8; 64]) -> Self {
            Self(Scalar::from_wide_be(bytes))
        }
    }

    /// `s·P` for each point with blst's constant-time GLV, one at a time.
    pub fn mul_each(points: &[blst_p1_affine], s: &BenchScalar) -> Vec<blst_p1> {
        points.iter().map(|p| group::g1_mul_ct(p, &s.0)).collect()
    }

    /// `s·P` for each point with the lock-step batch-affine multiplication.
    pub fn mul_many(points: &[blst_p1_affine], s: &BenchScalar) -> Vec<blst_p1_affine> {
        group::g1_mul_many_ct(points, &s.0)
    }

    /// `Σ k_i·P_i` with blst's Pippenger on the calling thread.
    pub fn msm_blst(points: &[blst_p1_affine], scalars: &[u8], nbits: usize) -> blst_p1 {
        group::pippenger(points, scalars, nbits)
    }

    /// `Σ k_i·P_i` with curtain's batch-affine bucket method (threads: the current rayon pool).
    pub fn msm_affine(points: &[blst_p1_affine], scalars: &[u8], nbits: usize) -> blst_p1 {
        group::msm_batch_affine(points, scalars, nbits)
    }
}
