//! Identities, signal hashes, public statements and secret recovery (the RLN algebra).
//!
//! A member with secret `a0` and quota `limit` registers `H_leaf(a0, limit)`. Its `k`-th message
//! (`k < limit`) in `epoch` uses the line `y = a0 + a1·x` with slope `a1 = H_slope(a0, epoch, k)`:
//! it publishes one point `(x, y)` of the line, where `x` is the signal hash, and the nullifier
//! `H_nullifier(a1)`. One point reveals nothing about `a0`; two points with the same nullifier
//! (same slope) and different `x` determine the line, hence `a0`.

use crate::{
    encoding::{fr_from_be_bytes, fr_to_be_bytes, random_fr},
    poseidon::{hash, Domain},
    DecodeError, Fr, RecoverError,
};
use ark_ff::{Field, PrimeField};
use rand_core::CryptoRng;
use sha2::{Digest, Sha512};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Domain tag of [`signal_hash`].
pub const SIGNAL_DST: &[u8] = b"curtain/v1/rln-signal";

/// Hash to the field for the signal `x`: `SHA-512(len(dst) ‖ dst ‖ len(bytes) ‖ bytes)` (lengths
/// u64 big-endian, `dst` = [`SIGNAL_DST`]) reduced modulo `r` (bias below 2^-128); the same
/// construction as curtain's other hashes to `F_r`. The caller binds what the signal is for
/// (the ciphertext id, which commits to its label).
pub fn signal_hash(bytes: &[u8]) -> Fr {
    let mut h = Sha512::new();
    h.update((SIGNAL_DST.len() as u64).to_be_bytes());
    h.update(SIGNAL_DST);
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
    Fr::from_be_bytes_mod_order(&h.finalize())
}

/// A member's secret identity: `a0` and its per-epoch message limit. Zeroized on drop; `Debug`
/// shows only the public commitment.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Identity {
    secret: Fr,
    limit: u32,
}

impl Identity {
    /// A fresh identity with a uniformly random secret.
    pub fn random<R: CryptoRng + ?Sized>(limit: u32, rng: &mut R) -> Self {
        Self {
            secret: random_fr(rng),
            limit,
        }
    }

    /// An identity from its 32-byte big-endian secret (must be below `r`).
    pub fn from_secret_bytes(secret: &[u8; 32], limit: u32) -> Result<Self, DecodeError> {
        Ok(Self {
            secret: fr_from_be_bytes(secret)?,
            limit,
        })
    }

    /// The secret's 32-byte big-endian encoding (for an encrypted keystore).
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(fr_to_be_bytes(&self.secret))
    }

    /// The per-epoch message limit fixed at registration.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// The identity commitment (the Merkle leaf): `H_leaf(a0, limit)`.
    pub fn commitment(&self) -> Fr {
        commitment(&self.secret, self.limit)
    }

    pub(crate) fn secret(&self) -> &Fr {
        &self.secret
    }

    /// `a1 = H_slope(a0, epoch, k)`.
    pub(crate) fn slope(&self, epoch: u64, k: u32) -> Zeroizing<Fr> {
        Zeroizing::new(hash(
            Domain::Slope,
            &[self.secret, Fr::from(epoch), Fr::from(k)],
        ))
    }
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("commitment", &self.commitment())
            .finish_non_exhaustive()
    }
}

/// `H_leaf(a0, limit)`: the identity commitment of a secret, e.g. of one that
/// [`recover_secret`] revealed, to find (and remove) the member's leaf.
pub fn commitment(secret: &Fr, limit: u32) -> Fr {
    hash(Domain::Leaf, &[*secret, Fr::from(limit)])
}

/// Length of [`Statement::to_bytes`].
pub const STATEMENT_BYTES: usize = 32 + 8 + 32 + 32 + 32;

/// The public statement of one signal: "a member of the tree with this `root` sent its message
/// with this `nullifier` in `epoch`, and `(x, y)` is a point of its line for this epoch and
/// message index".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Statement {
    /// Root of the members' tree.
    pub root: Fr,
    /// Epoch (rate-limit period).
    pub epoch: u64,
    /// `H_nullifier(a1)`: one per (member, epoch, message index).
    pub nullifier: Fr,
    /// Signal hash (see [`signal_hash`]).
    pub x: Fr,
    /// Share `a0 + a1·x`.
    pub y: Fr,
}

impl Statement {
    /// The Groth16 public inputs, in the circuit's order.
    pub fn public_inputs(&self) -> [Fr; 5] {
        [
            self.root,
            Fr::from(self.epoch),
            self.nullifier,
            self.x,
            self.y,
        ]
    }

    /// Canonical encoding: `root ‖ epoch (u64 BE) ‖ nullifier ‖ x ‖ y`, field elements as 32
    /// bytes big-endian below `r`.
    pub fn to_bytes(&self) -> [u8; STATEMENT_BYTES] {
        let mut out = [0u8; STATEMENT_BYTES];
        out[..32].copy_from_slice(&fr_to_be_bytes(&self.root));
        out[32..40].copy_from_slice(&self.epoch.to_be_bytes());
        out[40..72].copy_from_slice(&fr_to_be_bytes(&self.nullifier));
        out[72..104].copy_from_slice(&fr_to_be_bytes(&self.x));
        out[104..].copy_from_slice(&fr_to_be_bytes(&self.y));
        out
    }

    /// Decodes [`Statement::to_bytes`]; rejects any other length and unreduced field elements.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let b: &[u8; STATEMENT_BYTES] = bytes.try_into().map_err(|_| DecodeError::Length {
            expected: STATEMENT_BYTES,
            got: bytes.len(),
        })?;
        let fr = |at: usize| fr_from_be_bytes(b[at..at + 32].try_into().expect("32 bytes"));
        Ok(Self {
            root: fr(0)?,
            epoch: u64::from_be_bytes(b[32..40].try_into().expect("8 bytes")),
            nullifier: fr(40)?,
            x: fr(72)?,
            y: fr(104)?,
        })
    }
}

/// Recovers `a0` from two statements with the same nullifier and different signal hashes (a
/// member that exceeded its quota): `a0 = (y1·x2 − y2·x1) / (x2 − x1)`. The statements must be
/// verified first; the result is only meaningful for valid proofs.
pub fn recover_secret(s1: &Statement, s2: &Statement) -> Result<Fr, RecoverError> {
    if s1.nullifier != s2.nullifier {
        return Err(RecoverError::DifferentNullifiers);
    }
    let inv = (s2.x - s1.x).inverse().ok_or(RecoverError::SameSignal)?;
    Ok((s1.y * s2.x - s2.y * s1.x) * inv)
}
