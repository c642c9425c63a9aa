//! Pairing equations `e(a, q1) = e(b, q2)` for G1 points in the subgroup and non-identity G2
//! points, with Miller-loop lines precomputed for fixed G2 points.

use super::point::{g1_is_inf, g2_generator};
use crate::ffi;
use blst::{blst_p1_affine, blst_p2_affine};

/// In prime-order groups e(P, Q) = 1 iff P or Q is the identity: with non-identity G2 points,
/// an identity on either G1 side decides the equation without a Miller loop.
fn identity_verdict(a: &blst_p1_affine, b: &blst_p1_affine) -> Option<bool> {
    match (g1_is_inf(a), g1_is_inf(b)) {
        (false, false) => None,
        (x, y) => Some(x == y),
    }
}

/// Checks e(a, q1) == e(b, q2) for G1 points in the subgroup and non-identity G2 points.
pub(crate) fn pairing_eq(
    a: &blst_p1_affine,
    q1: &blst_p2_affine,
    b: &blst_p1_affine,
    q2: &blst_p2_affine,
) -> bool {
    if let Some(verdict) = identity_verdict(a, b) {
        return verdict;
    }
    let ml1 = ffi::miller_loop(q1, a);
    let ml2 = ffi::miller_loop(q2, b);
    ffi::fp12_finalverify(&ml1, &ml2)
}

/// Miller-loop lines of a fixed G2 point, computed once: a pairing with a prepared point skips
/// all G2 arithmetic (the committee's `PK2` and the generator are fixed for a key's lifetime).
#[derive(Clone)]
pub(crate) struct PreparedG2(Box<ffi::Lines>);

impl PreparedG2 {
    pub(crate) fn new(q: &blst_p2_affine) -> Self {
        Self(ffi::precompute_lines(q))
    }
}

/// The G2 generator's lines, built once per process.
pub(crate) fn g2_generator_prepared() -> &'static PreparedG2 {
    static LINES: std::sync::OnceLock<PreparedG2> = std::sync::OnceLock::new();
    LINES.get_or_init(|| PreparedG2::new(&g2_generator()))
}

/// `e(a, q1) == e(b, q2)` for prepared `q1`, `q2`; `a`, `b` must be in G1.
pub(crate) fn pairing_eq_prepared(
    a: &blst_p1_affine,
    q1: &PreparedG2,
    b: &blst_p1_affine,
    q2: &PreparedG2,
) -> bool {
    if let Some(verdict) = identity_verdict(a, b) {
        return verdict;
    }
    let ml1 = ffi::miller_loop_lines(&q1.0, a);
    let ml2 = ffi::miller_loop_lines(&q2.0, b);
    ffi::fp12_finalverify(&ml1, &ml2)
}
