//! The blst boundary of the circuits crate: every call into blst's C and assembly behind a safe
//! function. The only module here that may use `unsafe` (the crate denies `unsafe_code`).
//!
//! What every `// SAFETY:` below relies on (as in curtain-crypto's `ffi`):
//! - **Pointers.** A wrapper takes references, fixed-size arrays and slices, so each pointer
//!   blst receives is non-null, aligned, points to an initialised value of the type blst
//!   expects (the bindings' `#[repr(C)]` structs) and, for an output, is exclusive. Where blst
//!   reads a number of elements or bytes, the wrapper checks it against the slice.
//! - **Outputs.** blst writes every output in full (a decoder's output only on success, and
//!   callers use it only then) and never reads an output that is not also an input, so zeroed
//!   (`Default`) outputs are fine.
//! - **Values.** blst's arithmetic reads and writes a fixed number of limbs whatever their
//!   values, so no bit pattern makes a call touch memory outside its operands. Whether a result
//!   means anything (points in their subgroups, as the decoders of keys and proofs ensure) is a
//!   matter of correctness, not of memory safety.

#![allow(unsafe_code)]

use blst::*;
use core::ptr;

/// Miller-loop lines of a G2 point: 68 elements of F_p⁶.
pub(crate) type Lines = [blst_fp6; 68];

/// Decodes a 96-byte uncompressed G1 point (on the curve, coordinates below p; not a subgroup
/// check).
pub(crate) fn p1_deserialize(bytes: &[u8]) -> Result<blst_p1_affine, BLST_ERROR> {
    let bytes: &[u8; 96] = bytes
        .try_into()
        .expect("an uncompressed G1 point is 96 bytes");
    let mut out = blst_p1_affine::default();
    // SAFETY: blst reads at most 96 bytes, which `bytes` has; `out` is a local, used only on
    // success.
    match unsafe { blst_p1_deserialize(&mut out, bytes.as_ptr()) } {
        BLST_ERROR::BLST_SUCCESS => Ok(out),
        e => Err(e),
    }
}

/// Decodes a 192-byte uncompressed G2 point (on the curve, coordinates below p; not a subgroup
/// check).
pub(crate) fn p2_deserialize(bytes: &[u8]) -> Result<blst_p2_affine, BLST_ERROR> {
    let bytes: &[u8; 192] = bytes
        .try_into()
        .expect("an uncompressed G2 point is 192 bytes");
    let mut out = blst_p2_affine::default();
    // SAFETY: blst reads at most 192 bytes, which `bytes` has; `out` is a local, used only on
    // success.
    match unsafe { blst_p2_deserialize(&mut out, bytes.as_ptr()) } {
        BLST_ERROR::BLST_SUCCESS => Ok(out),
        e => Err(e),
    }
}

pub(crate) fn p1_affine_serialize(p: &blst_p1_affine) -> [u8; 96] {
    let mut out = [0u8; 96];
    // SAFETY: blst writes exactly 96 bytes, which `out` has, and reads a valid affine point.
    unsafe { blst_p1_affine_serialize(out.as_mut_ptr(), p) };
    out
}

pub(crate) fn p2_affine_serialize(p: &blst_p2_affine) -> [u8; 192] {
    let mut out = [0u8; 192];
    // SAFETY: blst writes exactly 192 bytes, which `out` has, and reads a valid affine point.
    unsafe { blst_p2_affine_serialize(out.as_mut_ptr(), p) };
    out
}

#[cfg(test)]
pub(crate) fn p1_affine_compress(p: &blst_p1_affine) -> [u8; 48] {
    let mut out = [0u8; 48];
    // SAFETY: blst writes exactly 48 bytes, which `out` has, and reads a valid affine point.
    unsafe { blst_p1_affine_compress(out.as_mut_ptr(), p) };
    out
}

#[cfg(test)]
pub(crate) fn p2_affine_compress(p: &blst_p2_affine) -> [u8; 96] {
    let mut out = [0u8; 96];
    // SAFETY: blst writes exactly 96 bytes, which `out` has, and reads a valid affine point.
    unsafe { blst_p2_affine_compress(out.as_mut_ptr(), p) };
    out
}

pub(crate) fn p1_affine_is_inf(p: &blst_p1_affine) -> bool {
    // SAFETY: reads a valid affine point.
    unsafe { blst_p1_affine_is_inf(p) }
}

pub(crate) fn p1_from_affine(p: &blst_p1_affine) -> blst_p1 {
    let mut out = blst_p1::default();
    // SAFETY: reads a valid affine point; `out` is a local.
    unsafe { blst_p1_from_affine(&mut out, p) };
    out
}

pub(crate) fn p1_to_affine(p: &blst_p1) -> blst_p1_affine {
    let mut out = blst_p1_affine::default();
    // SAFETY: reads a valid projective point; `out` is a local.
    unsafe { blst_p1_to_affine(&mut out, p) };
    out
}

pub(crate) fn p2_to_affine(p: &blst_p2) -> blst_p2_affine {
    let mut out = blst_p2_affine::default();
    // SAFETY: reads a valid projective point; `out` is a local.
    unsafe { blst_p2_to_affine(&mut out, p) };
    out
}

/// `k·p` for the little-endian integer made of the low `nbits` bits of `scalar`.
pub(crate) fn p1_mult(p: &blst_p1, scalar: &[u8], nbits: usize) -> blst_p1 {
    assert!(
        nbits.div_ceil(8) <= scalar.len(),
        "scalar shorter than nbits"
    );
    let mut out = blst_p1::default();
    // SAFETY: blst reads `nbits.div_ceil(8)` bytes of `scalar`, which has at least that many
    // (checked above), and a valid point; `out` is a local.
    unsafe { blst_p1_mult(&mut out, p, scalar.as_ptr(), nbits) };
    out
}

/// The lines of `q` for [`miller_loop_lines`].
pub(crate) fn precompute_lines(q: &blst_p2_affine) -> Box<Lines> {
    let mut lines = Box::new([blst_fp6::default(); 68]);
    // SAFETY: blst writes exactly 68 line elements, the length of `Lines`, and reads a valid
    // affine point.
    unsafe { blst_precompute_lines(lines.as_mut_ptr(), q) };
    lines
}

/// The Miller loop of `e(p, q)` (no final exponentiation).
pub(crate) fn miller_loop(q: &blst_p2_affine, p: &blst_p1_affine) -> blst_fp12 {
    let mut out = blst_fp12::default();
    // SAFETY: reads two valid affine points; `out` is a local.
    unsafe { blst_miller_loop(&mut out, q, p) };
    out
}

/// The product of the Miller loops of `e(ps[i], qs[i])`, with shared squarings.
pub(crate) fn miller_loop_n(ps: &[blst_p1_affine], qs: &[blst_p2_affine]) -> blst_fp12 {
    assert_eq!(ps.len(), qs.len(), "one G2 point per G1 point");
    assert!(!ps.is_empty(), "blst writes nothing for an empty product");
    // Null-terminated lists holding one pointer each: blst reads the points contiguously.
    let (pp, qp) = ([ps.as_ptr(), ptr::null()], [qs.as_ptr(), ptr::null()]);
    let mut out = blst_fp12::default();
    // SAFETY: blst reads `ps.len()` points from each list, which both slices have (checked
    // above), and writes `out` (a local) in full as `ps` is not empty.
    unsafe { blst_miller_loop_n(&mut out, qp.as_ptr(), pp.as_ptr(), ps.len()) };
    out
}

/// The Miller loop of `e(p, Q)` for `Q` given by its lines.
pub(crate) fn miller_loop_lines(lines: &Lines, p: &blst_p1_affine) -> blst_fp12 {
    let mut out = blst_fp12::default();
    // SAFETY: blst reads exactly 68 line elements, which `lines` has, and a valid affine point;
    // `out` is a local.
    unsafe { blst_miller_loop_lines(&mut out, lines.as_ptr(), p) };
    out
}

pub(crate) fn fp12_mul(a: &blst_fp12, b: &blst_fp12) -> blst_fp12 {
    let mut out = blst_fp12::default();
    // SAFETY: reads two valid F_p¹² elements; `out` is a local.
    unsafe { blst_fp12_mul(&mut out, a, b) };
    out
}

pub(crate) fn final_exp(f: &blst_fp12) -> blst_fp12 {
    let mut out = blst_fp12::default();
    // SAFETY: reads a valid F_p¹² element; `out` is a local.
    unsafe { blst_final_exp(&mut out, f) };
    out
}

pub(crate) fn fp12_one() -> blst_fp12 {
    // SAFETY: blst returns a pointer to its immutable static one, valid for the whole program;
    // it is copied out.
    unsafe { *blst_fp12_one() }
}

pub(crate) fn fp12_is_one(f: &blst_fp12) -> bool {
    // SAFETY: reads a valid F_p¹² element.
    unsafe { blst_fp12_is_one(f) }
}

pub(crate) fn fp12_is_equal(a: &blst_fp12, b: &blst_fp12) -> bool {
    // SAFETY: reads two valid F_p¹² elements.
    unsafe { blst_fp12_is_equal(a, b) }
}
