//! F_p helpers of the batch-affine methods (`msm`, `mul_many`): constant-time masks and
//! selection, value-returning arithmetic, and the last step of an affine addition or doubling
//! once its slope's denominator has been inverted (with many others, by Montgomery's trick).
//!
//! The in-place forms write each result straight to its destination: copying a 48-byte value
//! that blst's assembly has just written with 8-byte stores stalls on store forwarding, which
//! cost ~15 % of `mul_many`'s run time when these helpers returned values.

use crate::ffi::{
    fp_add, fp_cneg, fp_mul, fp_mul_assign, fp_mul_by_3, fp_rsub_assign, fp_sqr, fp_sub,
    fp_sub_assign,
};
use blst::blst_fp;
use core::hint::black_box;

/// All ones if `x == 0`, else zero, without branches.
#[inline(always)]
pub(crate) fn zero_mask(x: u64) -> u64 {
    black_box(((x | x.wrapping_neg()) >> 63).wrapping_sub(1))
}

/// All ones if `a == b` (blst keeps field elements fully reduced, so limbs compare values).
#[inline(always)]
pub(super) fn eq_mask(a: &blst_fp, b: &blst_fp) -> u64 {
    let mut d = 0;
    for i in 0..6 {
        d |= a.l[i] ^ b.l[i];
    }
    zero_mask(d)
}

/// `a` where `mask` is all ones, `b` where it is zero.
#[inline(always)]
pub(super) fn select(mask: u64, a: &blst_fp, b: &blst_fp) -> blst_fp {
    let mut o = blst_fp::default();
    for i in 0..6 {
        o.l[i] = (a.l[i] & mask) | (b.l[i] & !mask);
    }
    o
}

/// `out = −a` if `mask` is all ones, `a` if it is zero (blst's negation is masked internally).
#[inline(always)]
pub(crate) fn cneg_into(out: &mut blst_fp, a: &blst_fp, mask: u64) {
    fp_cneg(out, a, mask & 1 == 1)
}

/// The slope `l = num·inv` of an addition (`inv` the inverted denominator) and from it
/// `x = l² − x₁ − x₂`, `t = l·(x₁ − x)`; then `y₃ = t − y₁`.
#[inline(always)]
fn chord(
    x: &mut blst_fp,
    t: &mut blst_fp,
    x1: &blst_fp,
    x2: &blst_fp,
    num: &blst_fp,
    inv: &blst_fp,
) {
    let mut l = blst_fp::default();
    fp_mul(&mut l, num, inv);
    fp_sqr(x, &l);
    fp_sub_assign(x, x1);
    fp_sub_assign(x, x2);
    fp_sub(t, x1, x);
    fp_mul_assign(t, &l);
}

/// `(x₃, y₃) = (x₁, y₁) + (x₂, y₂)` from the slope `num · inv` (`inv` the inverted
/// denominator): `x₃ = λ² − x₁ − x₂`, `y₃ = λ·(x₁ − x₃) − y₁`; doubling is `x₂ = x₁`.
#[inline(always)]
pub(super) fn finish(
    x3: &mut blst_fp,
    y3: &mut blst_fp,
    x1: &blst_fp,
    y1: &blst_fp,
    x2: &blst_fp,
    num: &blst_fp,
    inv: &blst_fp,
) {
    let mut x = blst_fp::default();
    let mut t = blst_fp::default();
    chord(&mut x, &mut t, x1, x2, num, inv);
    fp_sub(y3, &t, y1);
    *x3 = x;
}

/// [`finish`] in place: `(x, y) ← (x, y) + (x₂, ·)`.
#[inline(always)]
pub(super) fn finish_assign(
    x: &mut blst_fp,
    y: &mut blst_fp,
    x2: &blst_fp,
    num: &blst_fp,
    inv: &blst_fp,
) {
    let mut x3 = blst_fp::default();
    let mut t = blst_fp::default();
    chord(&mut x3, &mut t, x, x2, num, inv);
    fp_rsub_assign(y, &t);
    *x = x3;
}

/// [`finish`] of a doubling in place: `(x, y) ← 2·(x, y)` (`num/inv` the tangent slope).
#[inline(always)]
pub(super) fn finish_double_assign(x: &mut blst_fp, y: &mut blst_fp, num: &blst_fp, inv: &blst_fp) {
    let mut x3 = blst_fp::default();
    let mut t = blst_fp::default();
    chord(&mut x3, &mut t, x, x, num, inv);
    fp_rsub_assign(y, &t);
    *x = x3;
}

/// `a·b`.
#[inline(always)]
pub(super) fn mul(a: &blst_fp, b: &blst_fp) -> blst_fp {
    let mut o = blst_fp::default();
    fp_mul(&mut o, a, b);
    o
}

/// `a²`.
#[inline(always)]
pub(super) fn sqr(a: &blst_fp) -> blst_fp {
    let mut o = blst_fp::default();
    fp_sqr(&mut o, a);
    o
}

/// `a + b`.
#[inline(always)]
pub(super) fn add(a: &blst_fp, b: &blst_fp) -> blst_fp {
    let mut o = blst_fp::default();
    fp_add(&mut o, a, b);
    o
}

/// `a − b`.
#[inline(always)]
pub(super) fn sub(a: &blst_fp, b: &blst_fp) -> blst_fp {
    let mut o = blst_fp::default();
    fp_sub(&mut o, a, b);
    o
}

/// `3·a`.
#[inline(always)]
pub(super) fn triple(a: &blst_fp) -> blst_fp {
    let mut o = blst_fp::default();
    fp_mul_by_3(&mut o, a);
    o
}

/// `−a` if `mask` is all ones, `a` if it is zero.
#[inline(always)]
pub(super) fn cneg(a: &blst_fp, mask: u64) -> blst_fp {
    let mut o = blst_fp::default();
    cneg_into(&mut o, a, mask);
    o
}
