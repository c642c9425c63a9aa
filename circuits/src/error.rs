//! Typed errors. Decoders never panic: every malformed input maps to one of these.

use thiserror::Error;

/// Malformed bytes (a field element, a statement, a proof).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The input has the wrong length.
    #[error("expected {expected} bytes, got {got}")]
    Length {
        /// Required length.
        expected: usize,
        /// Length received.
        got: usize,
    },
    /// A field element is not below the BLS12-381 scalar modulus `r`.
    #[error("field element not below the scalar modulus")]
    ScalarOutOfRange,
    /// A curve point is not a valid compressed encoding of a point of the prime-order subgroup.
    #[error("invalid curve point: {0}")]
    Point(String),
    /// A proof point is the identity (never produced by an honest prover).
    #[error("identity point in a proof")]
    Identity,
    /// A valid point whose bytes are not its canonical encoding.
    #[error("non-canonical point encoding")]
    NonCanonical,
}

/// Invalid circuit parameters.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ParamsError {
    /// Tree depth outside `1..=32`.
    #[error("tree depth {0} outside 1..=32")]
    Depth(u8),
    /// Range width outside `1..=32`.
    #[error("range bits {0} outside 1..=32")]
    RangeBits(u8),
}

/// Merkle tree misuse.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TreeError {
    /// Invalid depth.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// Every leaf position is taken.
    #[error("tree is full")]
    Full,
    /// Leaf index not below `2^depth`.
    #[error("leaf index {index} out of range for depth {depth}")]
    IndexOutOfRange {
        /// Index asked for.
        index: u64,
        /// Tree depth.
        depth: u8,
    },
}

/// A witness that cannot produce a valid proof (checked natively before proving).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WitnessError {
    /// The Merkle path has a different depth than the circuit.
    #[error("path depth {path} differs from circuit depth {circuit}")]
    PathDepth {
        /// Siblings in the path.
        path: usize,
        /// Circuit depth.
        circuit: u8,
    },
    /// The identity's limit is 0 or above `2^range_bits`.
    #[error("message limit {limit} outside 1..={max}")]
    Limit {
        /// The identity's limit.
        limit: u32,
        /// Largest limit the circuit accepts.
        max: u64,
    },
    /// The message index is not below the identity's limit.
    #[error("message index {index} not below the limit {limit}")]
    MessageIndex {
        /// Index asked for.
        index: u32,
        /// The identity's limit.
        limit: u32,
    },
    /// The path from the identity commitment does not lead to the given root.
    #[error("the Merkle path does not lead from the identity commitment to the root")]
    PathMismatch,
}

/// Proving failed.
#[derive(Debug, Error)]
pub enum ProveError {
    /// The witness is inconsistent; no proof was attempted.
    #[error(transparent)]
    Witness(#[from] WitnessError),
    /// The prover itself failed (a bug or a mismatched proving key).
    #[error("prover failed: {0}")]
    Synthesis(String),
}

/// A proof did not verify.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The pairing check failed: the proof is not for this statement under this key.
    #[error("invalid proof")]
    Invalid,
    /// A batch check failed; at least one proof is invalid (see `find_invalid`).
    #[error("batch contains an invalid proof")]
    BatchInvalid,
}

/// Two signals that do not reveal a secret.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RecoverError {
    /// Different nullifiers: different (identity, epoch, message index).
    #[error("signals have different nullifiers")]
    DifferentNullifiers,
    /// Same signal hash: a replay, which reveals nothing.
    #[error("signals have the same signal hash")]
    SameSignal,
}

/// A key file that must be refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// Shorter than its header or its declared body.
    #[error("truncated key file: {0}")]
    Truncated(&'static str),
    /// Bytes after the declared body.
    #[error("trailing bytes after the key body")]
    TrailingBytes,
    /// Not a curtain RLN key file.
    #[error("bad magic")]
    Magic,
    /// A format version this build does not read.
    #[error("unsupported key file version {0}")]
    Version(u16),
    /// A proving key where a verifying key was expected, or the reverse.
    #[error("wrong key kind {found}, expected {expected}")]
    Kind {
        /// Kind byte found.
        found: u8,
        /// Kind byte expected.
        expected: u8,
    },
    /// Header parameters out of range.
    #[error(transparent)]
    Params(#[from] ParamsError),
    /// The declared body exceeds the cap for this kind of key.
    #[error("key body of {len} bytes exceeds the cap of {cap}")]
    TooLarge {
        /// Declared body length.
        len: u64,
        /// Cap.
        cap: u64,
    },
    /// The body is not a valid canonical compressed key (bad point, wrong subgroup, bad length).
    #[error("malformed key body: {0}")]
    Body(String),
    /// The key's shape does not match the circuit its header names.
    #[error("key does not match the circuit: {0}")]
    Shape(&'static str),
    /// The digest in the header is not the digest of the key.
    #[error("circuit digest mismatch")]
    Digest,
    /// The key is valid but not the one the caller pinned.
    #[error("key is for another circuit (digest mismatch with the pinned one)")]
    Unexpected,
    /// Reading the file failed.
    #[error("reading key file: {0}")]
    Io(String),
}
