//! Scalars of BLS12-381's prime-order groups (the field F_r), and hashing into them.
//!
//! `Scalar` is `Copy` for arithmetic convenience; values that are secrets (key shares, encryption
//! randomness) are held in wrappers that zeroize on drop (see `key::KeyShare`) or wiped explicitly.

use crate::ffi;
use blst::blst_fr;
use rand_core::CryptoRng;
use sha2::{Digest, Sha512};
use zeroize::Zeroize;

/// An element of F_r, in blst's Montgomery representation.
#[derive(Clone, Copy, Default)]
pub struct Scalar(pub(crate) blst_fr);

impl PartialEq for Scalar {
    fn eq(&self, other: &Self) -> bool {
        self.0.l == other.0.l
    }
}
impl Eq for Scalar {}

impl Zeroize for Scalar {
    fn zeroize(&mut self) {
        self.0.l.zeroize();
    }
}

impl core::fmt::Debug for Scalar {
    // Scalars may be secrets: never print them.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Scalar(..)")
    }
}

impl Scalar {
    pub fn zero() -> Self {
        Self(blst_fr::default())
    }

    pub fn from_u64(v: u64) -> Self {
        Self(ffi::fr_from_u64(&[v, 0, 0, 0]))
    }

    pub fn one() -> Self {
        Self::from_u64(1)
    }

    pub fn is_zero(&self) -> bool {
        self.0.l == [0u64; 4]
    }

    pub fn add(&self, o: &Self) -> Self {
        Self(ffi::fr_add(&self.0, &o.0))
    }

    pub fn sub(&self, o: &Self) -> Self {
        Self(ffi::fr_sub(&self.0, &o.0))
    }

    pub fn mul(&self, o: &Self) -> Self {
        Self(ffi::fr_mul(&self.0, &o.0))
    }

    pub fn neg(&self) -> Self {
        Self::zero().sub(self)
    }

    /// Multiplicative inverse; `None` for zero. Constant time in blst.
    pub fn inverse(&self) -> Option<Self> {
        if self.is_zero() {
            return None;
        }
        Some(Self(ffi::fr_eucl_inverse(&self.0)))
    }

    /// Canonical little-endian bytes (the form blst's scalar multiplications take).
    pub fn to_le_bytes(self) -> [u8; 32] {
        ffi::scalar_from_fr(&self.0).b
    }

    /// Canonical big-endian bytes (the wire form).
    pub fn to_be_bytes(self) -> [u8; 32] {
        let mut b = self.to_le_bytes();
        b.reverse();
        b
    }

    /// Parses canonical big-endian bytes; `None` if the value is not below r.
    pub fn from_be_bytes(bytes: &[u8; 32]) -> Option<Self> {
        let mut s = ffi::scalar_from_bendian(bytes);
        if !ffi::scalar_fr_check(&s) {
            return None;
        }
        let out = ffi::fr_from_scalar(&s);
        s.b.zeroize();
        Some(Self(out))
    }

    /// Reduces arbitrary big-endian bytes modulo r (64 uniform bytes give a bias below 2^-256).
    pub fn from_wide_be(bytes: &[u8]) -> Self {
        let mut s = ffi::scalar_from_be_bytes(bytes);
        let out = ffi::fr_from_scalar(&s);
        s.b.zeroize();
        Self(out)
    }

    /// A uniformly random scalar.
    pub fn random<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut wide = [0u8; 64];
        rng.fill_bytes(&mut wide);
        let s = Self::from_wide_be(&wide);
        wide.zeroize();
        s
    }

    /// A uniformly random weight for a random linear combination in a batch check (SPEC §2.5,
    /// §2.7): a combination containing a false equation passes with probability ≤ 2^-64 per
    /// draw. The verifier draws it privately after the inputs are fixed, so it cannot be ground.
    pub(crate) fn batch_weight<R: CryptoRng + ?Sized>(rng: &mut R) -> u64 {
        rng.next_u64()
    }
}

/// Who runs a batch check of openings or shares, which sets its random weights' width
/// (SPEC §2.8, *Randomness in checks*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Checker {
    /// A committee member: 64-bit weights. What its check lets through still needs `f + 1`
    /// honest members' independent checks (or costs the sender its epoch).
    Member,
    /// A third party checking a release on its own (a rollup, the SDK): 128-bit weights,
    /// since nobody else's check stands behind its verdict.
    Observer,
}

impl Checker {
    /// Width of each weight in bits (a multiple of 8).
    pub(crate) fn weight_bits(self) -> usize {
        match self {
            Checker::Member => 64,
            Checker::Observer => 128,
        }
    }

    /// `count` fresh weights, each `weight_bits() / 8` bytes little-endian (the MSM's form).
    pub(crate) fn weights<R: CryptoRng + ?Sized>(self, count: usize, rng: &mut R) -> Vec<u8> {
        let mut out = Vec::with_capacity(count * self.weight_bits() / 8);
        for _ in 0..count {
            match self {
                Checker::Member => out.extend_from_slice(&Scalar::batch_weight(rng).to_le_bytes()),
                Checker::Observer => {
                    let mut w = [0u8; 16];
                    rng.fill_bytes(&mut w);
                    out.extend_from_slice(&w);
                }
            }
        }
        out
    }
}

/// A domain-separated transcript hash (SHA-512). Every item is length-prefixed so that the
/// encoding of the hashed sequence is injective.
pub(crate) struct Transcript(Sha512);

impl Transcript {
    pub(crate) fn new(dst: &[u8]) -> Self {
        let mut h = Sha512::new();
        h.update((dst.len() as u64).to_be_bytes());
        h.update(dst);
        Self(h)
    }

    pub(crate) fn append(&mut self, item: &[u8]) -> &mut Self {
        self.0.update((item.len() as u64).to_be_bytes());
        self.0.update(item);
        self
    }

    /// The digest read as a big-endian integer, reduced modulo r.
    pub(crate) fn challenge_scalar(mut self) -> Scalar {
        let mut out = self.0.finalize_reset();
        let s = Scalar::from_wide_be(&out);
        out.as_mut_slice().zeroize();
        s
    }

    /// The first 32 bytes of the digest.
    pub(crate) fn finalize_32(mut self) -> [u8; 32] {
        let mut out = self.0.finalize_reset();
        let mut b = [0u8; 32];
        b.copy_from_slice(&out[..32]);
        out.as_mut_slice().zeroize();
        b
    }

    /// Overwrites the hash state (chaining value, length counter, buffered input) with zeros.
    /// The crate's one `unsafe` outside `ffi`: sha2 0.10 has no safe way to wipe its state.
    #[allow(unsafe_code)]
    fn wipe(&mut self) {
        // SAFETY: sha2 0.10's `Sha512` (built without its `zeroize` feature, which it does
        // not have) is flat: the chaining value `[u64; 8]`, a `u128` block count, the block
        // buffer `[u8; 128]` with a `u8` position and `PhantomData`s. All-zero bytes are a
        // valid value of each (an empty buffer, position 0), nothing in it has a `Drop`, and
        // `&mut self.0` is exclusive.
        unsafe { zeroize::zeroize_flat_type(&mut self.0 as *mut Sha512) }
    }
}

/// Transcripts hash secrets (the hedging seed, the message, `r`, the KEM value `Z`): the
/// state that absorbed them is wiped when the transcript goes away.
impl Drop for Transcript {
    fn drop(&mut self) {
        self.wipe();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_roundtrip_and_rejection() {
        let s = Scalar::from_u64(123456789);
        assert_eq!(Scalar::from_be_bytes(&s.to_be_bytes()), Some(s));
        // r itself is not canonical.
        let r_be: [u8; 32] =
            hex_literal("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001");
        assert!(Scalar::from_be_bytes(&r_be).is_none());
        assert!(Scalar::from_be_bytes(&[0xff; 32]).is_none());
        let mut r_minus_1 = r_be;
        r_minus_1[31] = 0;
        assert!(Scalar::from_be_bytes(&r_minus_1).is_some());
    }

    #[test]
    fn field_arithmetic() {
        let a = Scalar::from_u64(7);
        let b = Scalar::from_u64(5);
        assert_eq!(a.mul(&b), Scalar::from_u64(35));
        assert_eq!(a.sub(&b), Scalar::from_u64(2));
        assert_eq!(a.mul(&a.inverse().unwrap()), Scalar::one());
        assert!(Scalar::zero().inverse().is_none());
        assert_eq!(a.add(&a.neg()), Scalar::zero());
    }

    /// The hash state that absorbed a secret holds nothing of it once wiped (what `Drop`
    /// does): neither the buffered bytes nor the chaining value.
    #[test]
    #[allow(unsafe_code)]
    fn transcript_state_is_wiped() {
        let secret = [0xa5u8; 200];
        let mut t = Transcript::new(b"curtain/v1/test");
        t.append(&secret);
        t.wipe();
        // SAFETY: the bytes of a live value, every one of them (padding included) written by
        // `zeroize_flat_type` (reading them before the wipe could touch uninitialised padding).
        let state = unsafe {
            std::slice::from_raw_parts(
                &t.0 as *const Sha512 as *const u8,
                std::mem::size_of::<Sha512>(),
            )
        };
        assert!(state.iter().all(|&b| b == 0));
    }

    fn hex_literal(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }
}
