//! Typed errors of curtain-crypto: bad input bytes and misuse. A leaf: it imports nothing of
//! the crate. Peer faults (someone else's bad data) are values in `combine::FaultEvidence`, and
//! `combine::CombineError` carries them.

use thiserror::Error;

/// Why a curve point was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum PointError {
    #[error("malformed point encoding")]
    Encoding,
    #[error("non-canonical point encoding")]
    NonCanonical,
    #[error("point is not on the curve")]
    NotOnCurve,
    #[error("point is not in the prime-order subgroup")]
    NotInSubgroup,
    #[error("point is the identity")]
    Identity,
    #[error("point has no component in the prime-order subgroup (torsion only)")]
    NoG1Component,
}

/// Why bytes could not be decoded into a value. Decoding never panics and never allocates
/// more than the caps of the type being decoded.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("input truncated while reading {0}")]
    Truncated(&'static str),
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
    #[error("unsupported encoding version {found} for {what}")]
    UnsupportedVersion { what: &'static str, found: u8 },
    #[error("invalid point in {field}: {error}")]
    Point {
        field: &'static str,
        error: PointError,
    },
    #[error("non-canonical scalar in {0}")]
    Scalar(&'static str),
    #[error("{field} length {len} outside the allowed range {min}..={max}")]
    Length {
        field: &'static str,
        len: usize,
        min: usize,
        max: usize,
    },
    #[error("invalid value for {field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
    #[error("invalid hex: {0}")]
    Hex(&'static str),
}

/// Errors of key generation and committee-key construction.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("invalid committee size n={n}, threshold t={t} (need 1 <= t <= n <= {max})")]
    InvalidParameters { n: usize, t: usize, max: usize },
    #[error(
        "threshold t={t} outside {min}..={max} for n={n}: privacy needs t > f, liveness t <= n - f"
    )]
    ThresholdOutOfRange {
        n: usize,
        t: usize,
        min: usize,
        max: usize,
    },
    #[error("the G1 encryption key does not match the G2 public key")]
    InconsistentKey,
    #[error("member index {index} out of range for n={n}")]
    MemberOutOfRange { index: u32, n: usize },
    #[error("key share does not match the member's verification key")]
    ShareMismatch,
    #[error("only {valid} valid published x_i·G1 of the {needed} needed")]
    NotEnoughPartials { valid: usize, needed: usize },
}

/// Errors of encryption (wallet side).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum EncryptError {
    #[error("plaintext of {len} bytes exceeds the maximum of {max}")]
    PlaintextTooLong { len: usize, max: usize },
    #[error("label was made for another committee key")]
    WrongKey,
}

/// Why a ciphertext failed the public validity check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ValidityError {
    #[error("ciphertext is labelled for another committee key")]
    WrongKey,
    #[error("proof of knowledge of the encryption randomness does not verify")]
    InvalidProof,
}
