//! Groth16 pairing checks on blst.
//!
//! Measured on the 2-core machine, blst's Miller loop and final exponentiation are about 1.7×
//! arkworks', which is what single and batch verification spend their time on. Points cross
//! over through their standard uncompressed encoding (the same ZCash format in both libraries;
//! blst re-checks that they are on the curve), so no internal representation is relied on.
//! Everything reaching here is already in its prime-order subgroup (keys and proofs are
//! subgroup-checked when decoded).

use crate::{encoding::encode_uncompressed, ffi, Fr};
use ark_bls12_381::{G1Affine, G2Affine};
use ark_ff::{BigInteger, PrimeField};
use blst::{blst_fp12, blst_p1, blst_p1_affine, blst_p2_affine, MultiPoint};

/// An arkworks G1 point as a blst affine point.
pub(crate) fn g1(p: &G1Affine) -> blst_p1_affine {
    ffi::p1_deserialize(&encode_uncompressed(p)).expect("a valid point re-encodes")
}

/// An arkworks G2 point as a blst affine point.
pub(crate) fn g2(p: &G2Affine) -> blst_p2_affine {
    ffi::p2_deserialize(&encode_uncompressed(p)).expect("a valid point re-encodes")
}

/// Little-endian bytes of a scalar, as blst's multiplications take them.
pub(crate) fn scalar_le(x: &Fr) -> Vec<u8> {
    x.into_bigint().to_bytes_le()
}

/// Miller-loop lines of a fixed G2 point (no G2 arithmetic when pairing with it).
#[derive(Clone)]
pub(crate) struct Lines(Box<ffi::Lines>);

impl Lines {
    pub(crate) fn new(q: &G2Affine) -> Self {
        Self(ffi::precompute_lines(&g2(q)))
    }
}

/// A product of Miller loops, skipping pairs whose G1 point is the identity (`e(O, Q) = 1`;
/// blst's loop does not special-case it).
pub(crate) struct MillerProduct(Option<blst_fp12>);

impl MillerProduct {
    pub(crate) fn new() -> Self {
        Self(None)
    }

    fn mul(&mut self, f: blst_fp12) {
        self.0 = Some(match self.0 {
            None => f,
            Some(acc) => ffi::fp12_mul(&acc, &f),
        });
    }

    /// `× other`.
    pub(crate) fn merge(&mut self, other: MillerProduct) {
        if let Some(f) = other.0 {
            self.mul(f);
        }
    }

    /// `× e(p, q)` for a G2 point without precomputed lines.
    pub(crate) fn pair(&mut self, p: &blst_p1_affine, q: &blst_p2_affine) {
        if !ffi::p1_affine_is_inf(p) {
            self.mul(ffi::miller_loop(q, p));
        }
    }

    /// `× Π e(p_i, q_i)` in one multi-Miller loop (shared squarings).
    pub(crate) fn pairs(&mut self, ps: &[blst_p1_affine], qs: &[blst_p2_affine]) {
        let (ps, qs): (Vec<blst_p1_affine>, Vec<blst_p2_affine>) = ps
            .iter()
            .zip(qs)
            .filter(|(p, _)| !ffi::p1_affine_is_inf(p))
            .unzip();
        if ps.is_empty() {
            return;
        }
        self.mul(ffi::miller_loop_n(&ps, &qs));
    }

    /// `× e(p, Q)` for `Q` given by its lines.
    pub(crate) fn pair_lines(&mut self, p: &blst_p1_affine, lines: &Lines) {
        if !ffi::p1_affine_is_inf(p) {
            self.mul(ffi::miller_loop_lines(&lines.0, p));
        }
    }

    /// The final exponentiation (1 for an empty product).
    pub(crate) fn finish(self) -> Gt {
        Gt(match self.0 {
            Some(f) => ffi::final_exp(&f),
            None => ffi::fp12_one(),
        })
    }
}

/// An element of the target group.
#[derive(Clone, Copy)]
pub(crate) struct Gt(blst_fp12);

impl Gt {
    pub(crate) fn is_one(&self) -> bool {
        ffi::fp12_is_one(&self.0)
    }
}

impl PartialEq for Gt {
    fn eq(&self, other: &Self) -> bool {
        ffi::fp12_is_equal(&self.0, &other.0)
    }
}

/// Projective to affine.
pub(crate) fn affine(p: &blst_p1) -> blst_p1_affine {
    ffi::p1_to_affine(p)
}

/// `Σ s_i·P_i` (Pippenger) with scalars of at most `bits` bits.
pub(crate) fn msm(points: &[blst_p1_affine], scalars: &[Fr], bits: usize) -> blst_p1 {
    let bytes: Vec<u8> = scalars
        .iter()
        .flat_map(|s| scalar_le(s)[..bits.div_ceil(8)].to_vec())
        .collect();
    points.mult(&bytes, bits)
}

/// `s·P` for a scalar of at most `bits` bits.
pub(crate) fn mul(p: &blst_p1_affine, s: &Fr, bits: usize) -> blst_p1 {
    ffi::p1_mult(&ffi::p1_from_affine(p), &scalar_le(s), bits)
}
