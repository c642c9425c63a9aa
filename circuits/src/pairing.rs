//! Groth16 pairing checks on blst.
//!
//! Measured on the 2-core machine, blst's Miller loop and final exponentiation are about 1.7×
//! arkworks', which is what single and batch verification spend their time on. Points cross
//! over through their standard uncompressed encoding (the same ZCash format in both libraries;
//! blst re-checks that they are on the curve), so no internal representation is relied on.
//! Everything reaching here is already in its prime-order subgroup (keys and proofs are
//! subgroup-checked when decoded).

use crate::{encoding::encode_uncompressed, Fr};
use ark_bls12_381::{G1Affine, G2Affine};
use ark_ff::{BigInteger, PrimeField};
use blst::{
    blst_final_exp, blst_fp12, blst_fp12_is_equal, blst_fp12_is_one, blst_fp12_mul, blst_fp12_one,
    blst_fp6, blst_miller_loop, blst_miller_loop_lines, blst_miller_loop_n, blst_p1,
    blst_p1_affine, blst_p1_affine_is_inf, blst_p1_deserialize, blst_p1_from_affine, blst_p1_mult,
    blst_p1_to_affine, blst_p2_affine, blst_p2_deserialize, blst_precompute_lines, MultiPoint,
    BLST_ERROR,
};
use std::ptr;

/// An arkworks G1 point as a blst affine point.
pub(crate) fn g1(p: &G1Affine) -> blst_p1_affine {
    let mut out = blst_p1_affine::default();
    let err = unsafe { blst_p1_deserialize(&mut out, encode_uncompressed(p).as_ptr()) };
    assert_eq!(err, BLST_ERROR::BLST_SUCCESS, "a valid point re-encodes");
    out
}

/// An arkworks G2 point as a blst affine point.
pub(crate) fn g2(p: &G2Affine) -> blst_p2_affine {
    let mut out = blst_p2_affine::default();
    let err = unsafe { blst_p2_deserialize(&mut out, encode_uncompressed(p).as_ptr()) };
    assert_eq!(err, BLST_ERROR::BLST_SUCCESS, "a valid point re-encodes");
    out
}

/// Little-endian bytes of a scalar, as blst's multiplications take them.
pub(crate) fn scalar_le(x: &Fr) -> Vec<u8> {
    x.into_bigint().to_bytes_le()
}

/// Miller-loop lines of a fixed G2 point (no G2 arithmetic when pairing with it).
#[derive(Clone)]
pub(crate) struct Lines(Box<[blst_fp6; 68]>);

impl Lines {
    pub(crate) fn new(q: &G2Affine) -> Self {
        let mut lines = Box::new([blst_fp6::default(); 68]);
        unsafe { blst_precompute_lines(lines.as_mut_ptr(), &g2(q)) };
        Self(lines)
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
            Some(acc) => {
                let mut out = blst_fp12::default();
                unsafe { blst_fp12_mul(&mut out, &acc, &f) };
                out
            }
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
        if !unsafe { blst_p1_affine_is_inf(p) } {
            let mut f = blst_fp12::default();
            unsafe { blst_miller_loop(&mut f, q, p) };
            self.mul(f);
        }
    }

    /// `× Π e(p_i, q_i)` in one multi-Miller loop (shared squarings).
    pub(crate) fn pairs(&mut self, ps: &[blst_p1_affine], qs: &[blst_p2_affine]) {
        let (ps, qs): (Vec<_>, Vec<_>) = ps
            .iter()
            .zip(qs)
            .filter(|(p, _)| !unsafe { blst_p1_affine_is_inf(*p) })
            .unzip();
        if ps.is_empty() {
            return;
        }
        let (pp, qp) = ([ps.as_ptr(), ptr::null()], [qs.as_ptr(), ptr::null()]);
        let mut f = blst_fp12::default();
        unsafe { blst_miller_loop_n(&mut f, qp.as_ptr(), pp.as_ptr(), ps.len()) };
        self.mul(f);
    }

    /// `× e(p, Q)` for `Q` given by its lines.
    pub(crate) fn pair_lines(&mut self, p: &blst_p1_affine, lines: &Lines) {
        if !unsafe { blst_p1_affine_is_inf(p) } {
            let mut f = blst_fp12::default();
            unsafe { blst_miller_loop_lines(&mut f, lines.0.as_ptr(), p) };
            self.mul(f);
        }
    }

    /// The final exponentiation (1 for an empty product).
    pub(crate) fn finish(self) -> Gt {
        Gt(match self.0 {
            Some(f) => {
                let mut out = blst_fp12::default();
                unsafe { blst_final_exp(&mut out, &f) };
                out
            }
            None => unsafe { *blst_fp12_one() },
        })
    }
}

/// An element of the target group.
#[derive(Clone, Copy)]
pub(crate) struct Gt(blst_fp12);

impl Gt {
    pub(crate) fn is_one(&self) -> bool {
        unsafe { blst_fp12_is_one(&self.0) }
    }
}

impl PartialEq for Gt {
    fn eq(&self, other: &Self) -> bool {
        unsafe { blst_fp12_is_equal(&self.0, &other.0) }
    }
}

/// Projective to affine.
pub(crate) fn affine(p: &blst_p1) -> blst_p1_affine {
    let mut a = blst_p1_affine::default();
    unsafe { blst_p1_to_affine(&mut a, p) };
    a
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
    let mut proj = blst_p1::default();
    let mut out = blst_p1::default();
    unsafe {
        blst_p1_from_affine(&mut proj, p);
        blst_p1_mult(&mut out, &proj, scalar_le(s).as_ptr(), bits);
    }
    out
}
