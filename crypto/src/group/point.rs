//! Points of G1 and G2: generators, identity and equality tests, projective and affine forms,
//! additions, and single scalar multiplications.

use crate::ffi;
use crate::scalar::Scalar;
use blst::{blst_p1, blst_p1_affine, blst_p2, blst_p2_affine};
use zeroize::Zeroize;

pub(crate) fn g1_generator() -> blst_p1_affine {
    ffi::p1_affine_generator()
}

pub(crate) fn g2_generator() -> blst_p2_affine {
    ffi::p2_affine_generator()
}

pub(crate) fn g1_is_inf(p: &blst_p1_affine) -> bool {
    ffi::p1_affine_is_inf(p)
}

pub(crate) fn p1_is_inf(p: &blst_p1) -> bool {
    ffi::p1_is_inf(p)
}

pub(crate) fn g1_eq(a: &blst_p1_affine, b: &blst_p1_affine) -> bool {
    ffi::p1_affine_is_equal(a, b)
}

pub(crate) fn g2_eq(a: &blst_p2_affine, b: &blst_p2_affine) -> bool {
    ffi::p2_affine_is_equal(a, b)
}

pub(crate) fn p1_eq(a: &blst_p1, b: &blst_p1) -> bool {
    ffi::p1_is_equal(a, b)
}

pub(crate) fn g1_in_subgroup(p: &blst_p1_affine) -> bool {
    ffi::p1_affine_in_g1(p)
}

#[cfg(test)]
pub(crate) fn p1_from_affine(p: &blst_p1_affine) -> blst_p1 {
    ffi::p1_from_affine(p)
}

pub(crate) fn p1_to_affine(p: &blst_p1) -> blst_p1_affine {
    ffi::p1_to_affine(p)
}

pub(crate) fn p2_to_affine(p: &blst_p2) -> blst_p2_affine {
    ffi::p2_to_affine(p)
}

/// Batch normalisation with one field inversion (Montgomery's trick in blst). Identity inputs
/// map to the identity (blst's trick would otherwise zero every output).
pub(crate) fn p1s_to_affine(points: &[blst_p1]) -> Vec<blst_p1_affine> {
    let gen = ffi::p1_generator();
    let inf: Vec<bool> = points.iter().map(ffi::p1_is_inf).collect();
    let fixed: Vec<blst_p1> = points
        .iter()
        .zip(&inf)
        .map(|(p, &i)| if i { gen } else { *p })
        .collect();
    let mut out = vec![blst_p1_affine::default(); points.len()];
    ffi::p1s_to_affine(&mut out, &fixed);
    for (o, &i) in out.iter_mut().zip(&inf) {
        if i {
            *o = blst_p1_affine::default();
        }
    }
    out
}

pub(crate) fn p1_add(a: &blst_p1, b: &blst_p1) -> blst_p1 {
    let mut o = blst_p1::default();
    ffi::p1_add_or_double(&mut o, a, b);
    o
}

pub(crate) fn p1_add_affine(a: &blst_p1, b: &blst_p1_affine) -> blst_p1 {
    let mut o = blst_p1::default();
    ffi::p1_add_or_double_affine(&mut o, a, b);
    o
}

pub(crate) fn p1_sub(a: &blst_p1, b: &blst_p1) -> blst_p1 {
    let mut neg = *b;
    ffi::p1_cneg(&mut neg, true);
    p1_add(a, &neg)
}

/// `acc ← acc + p` in G2.
pub(crate) fn p2_add_affine_assign(acc: &mut blst_p2, p: &blst_p2_affine) {
    ffi::p2_add_or_double_affine_assign(acc, p)
}

/// Constant-time G1 scalar multiplication (blst's GLV ladder).
pub(crate) fn g1_mul_ct(p: &blst_p1_affine, s: &Scalar) -> blst_p1 {
    let mut b = s.to_le_bytes();
    let out = ffi::p1_mult(&ffi::p1_from_affine(p), &b, 255);
    b.zeroize();
    out
}

/// Constant-time G2 scalar multiplication.
pub(crate) fn g2_mul_ct(p: &blst_p2_affine, s: &Scalar) -> blst_p2 {
    let mut b = s.to_le_bytes();
    let out = ffi::p2_mult(&ffi::p2_from_affine(p), &b, 255);
    b.zeroize();
    out
}

/// G2 multiplication by a small public integer (variable time).
pub(crate) fn g2_mul_small(p: &blst_p2, k: u64) -> blst_p2 {
    let b = k.to_le_bytes();
    ffi::p2_mult(p, &b, 64 - k.leading_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_normalisation_keeps_identity() {
        let g = ffi::p1_generator();
        let out = p1s_to_affine(&[g, blst_p1::default(), g]);
        assert!(g1_eq(&out[0], &g1_generator()));
        assert!(g1_is_inf(&out[1]));
        assert!(g1_eq(&out[2], &g1_generator()));
    }
}
