//! The blst boundary: every call into blst's C and assembly, each behind a safe function.
//!
//! This is the only module of the crate that may use `unsafe` (the crate denies `unsafe_code`;
//! the one other exception is `scalar::Transcript`, which wipes a hash state in place). It
//! computes nothing itself: callers in `group` and `scalar` hold the algorithms, and this
//! module only turns Rust references into the raw pointers blst takes.
//!
//! What every `// SAFETY:` below relies on:
//! - **Pointers.** A wrapper takes references, fixed-size arrays and slices, so each pointer
//!   blst receives is non-null, aligned, points to an initialised value of the type blst
//!   expects (the bindings' `#[repr(C)]` structs) and, for an output, is exclusive. Where
//!   blst reads a count of elements or bytes, the wrapper checks the count against the slice.
//! - **Outputs.** blst writes every output in full before returning (on an error return a
//!   decoder's output may be partial; callers discard it), and never reads an output that is
//!   not also an input, so zeroed (`Default`) outputs are fine.
//! - **Aliasing.** An output may be one of the inputs: blst reads its operands before it
//!   stores the result, and calls its own routines that way (`mul_fp(ret, ret, a)` in
//!   `exp.c`, `POINTonE1_dadd(ret, ret, …)` in `multi_scalar.c`). The `*_assign` wrappers pass
//!   one pointer as output and input.
//! - **Values.** blst's arithmetic reads and writes a fixed number of limbs whatever their
//!   values, so no bit pattern makes a call touch memory outside its operands. Whether a result
//!   *means* anything (points on the curve or in G1, reduced field elements) is the callers'
//!   concern, a matter of correctness, never of memory safety.
//!
//! blst is thread-safe: it keeps no global mutable state, and its constants (`blst_*_generator`,
//! `blst_fp12_one`) are immutable statics.

#![allow(unsafe_code)]

use blst::*;
use core::ptr;

// --- F_p (coordinates of G1 points: the batch-affine multiplications) ---

/// `out = a·b`.
#[inline(always)]
pub(crate) fn fp_mul(out: &mut blst_fp, a: &blst_fp, b: &blst_fp) {
    // SAFETY: valid field elements, `out` exclusive (module header: pointers, outputs).
    unsafe { blst_fp_mul(out, a, b) }
}

/// `a = a·b`.
#[inline(always)]
pub(crate) fn fp_mul_assign(a: &mut blst_fp, b: &blst_fp) {
    let a: *mut blst_fp = a;
    // SAFETY: `a` is valid for reads and writes and is both output and first input, which
    // blst allows (module header: aliasing).
    unsafe { blst_fp_mul(a, a, b) }
}

/// `out = a²`.
#[inline(always)]
pub(crate) fn fp_sqr(out: &mut blst_fp, a: &blst_fp) {
    // SAFETY: valid field elements, `out` exclusive.
    unsafe { blst_fp_sqr(out, a) }
}

/// `out = a + b`.
#[inline(always)]
pub(crate) fn fp_add(out: &mut blst_fp, a: &blst_fp, b: &blst_fp) {
    // SAFETY: valid field elements, `out` exclusive.
    unsafe { blst_fp_add(out, a, b) }
}

/// `out = a − b`.
#[inline(always)]
pub(crate) fn fp_sub(out: &mut blst_fp, a: &blst_fp, b: &blst_fp) {
    // SAFETY: valid field elements, `out` exclusive.
    unsafe { blst_fp_sub(out, a, b) }
}

/// `a = a − b`.
#[inline(always)]
pub(crate) fn fp_sub_assign(a: &mut blst_fp, b: &blst_fp) {
    let a: *mut blst_fp = a;
    // SAFETY: `a` is valid for reads and writes; output aliasing the first input is allowed.
    unsafe { blst_fp_sub(a, a, b) }
}

/// `a = b − a`.
#[inline(always)]
pub(crate) fn fp_rsub_assign(a: &mut blst_fp, b: &blst_fp) {
    let a: *mut blst_fp = a;
    // SAFETY: `a` is valid for reads and writes; output aliasing the second input is allowed.
    unsafe { blst_fp_sub(a, b, a) }
}

/// `out = 3·a`.
#[inline(always)]
pub(crate) fn fp_mul_by_3(out: &mut blst_fp, a: &blst_fp) {
    // SAFETY: valid field elements, `out` exclusive.
    unsafe { blst_fp_mul_by_3(out, a) }
}

/// `a = 3·a`.
#[inline(always)]
pub(crate) fn fp_mul_by_3_assign(a: &mut blst_fp) {
    let a: *mut blst_fp = a;
    // SAFETY: `a` is valid for reads and writes; output aliasing the input is allowed.
    unsafe { blst_fp_mul_by_3(a, a) }
}

/// `out = −a` if `negate`, else `a`, in constant time (blst masks internally).
#[inline(always)]
pub(crate) fn fp_cneg(out: &mut blst_fp, a: &blst_fp, negate: bool) {
    // SAFETY: valid field elements, `out` exclusive.
    unsafe { blst_fp_cneg(out, a, negate) }
}

/// `out = 1/a` in constant time (0 for 0).
#[inline]
pub(crate) fn fp_inverse(out: &mut blst_fp, a: &blst_fp) {
    // SAFETY: valid field elements, `out` exclusive.
    unsafe { blst_fp_inverse(out, a) }
}

/// `out = 1/a`, variable time (public data only).
#[inline]
pub(crate) fn fp_eucl_inverse(out: &mut blst_fp, a: &blst_fp) {
    // SAFETY: valid field elements, `out` exclusive.
    unsafe { blst_fp_eucl_inverse(out, a) }
}

/// The field element of a small integer (`limbs` little-endian, converted to Montgomery form).
pub(crate) fn fp_from_u64(limbs: &[u64; 6]) -> blst_fp {
    let mut out = blst_fp::default();
    // SAFETY: blst reads exactly six limbs, which `limbs` has; `out` is a local.
    unsafe { blst_fp_from_uint64(&mut out, limbs.as_ptr()) };
    out
}

// --- F_r (scalars) ---

/// The scalar of a small integer (`limbs` little-endian).
pub(crate) fn fr_from_u64(limbs: &[u64; 4]) -> blst_fr {
    let mut out = blst_fr::default();
    // SAFETY: blst reads exactly four limbs, which `limbs` has; `out` is a local.
    unsafe { blst_fr_from_uint64(&mut out, limbs.as_ptr()) };
    out
}

/// `a + b`.
pub(crate) fn fr_add(a: &blst_fr, b: &blst_fr) -> blst_fr {
    let mut out = blst_fr::default();
    // SAFETY: valid scalars; `out` is a local.
    unsafe { blst_fr_add(&mut out, a, b) };
    out
}

/// `a − b`.
pub(crate) fn fr_sub(a: &blst_fr, b: &blst_fr) -> blst_fr {
    let mut out = blst_fr::default();
    // SAFETY: valid scalars; `out` is a local.
    unsafe { blst_fr_sub(&mut out, a, b) };
    out
}

/// `a·b`.
pub(crate) fn fr_mul(a: &blst_fr, b: &blst_fr) -> blst_fr {
    let mut out = blst_fr::default();
    // SAFETY: valid scalars; `out` is a local.
    unsafe { blst_fr_mul(&mut out, a, b) };
    out
}

/// `1/a` (0 for 0).
pub(crate) fn fr_eucl_inverse(a: &blst_fr) -> blst_fr {
    let mut out = blst_fr::default();
    // SAFETY: a valid scalar; `out` is a local.
    unsafe { blst_fr_eucl_inverse(&mut out, a) };
    out
}

/// A scalar out of Montgomery form, as canonical little-endian bytes (in `blst_scalar`).
pub(crate) fn scalar_from_fr(a: &blst_fr) -> blst_scalar {
    let mut out = blst_scalar::default();
    // SAFETY: a valid scalar; `out` is a local.
    unsafe { blst_scalar_from_fr(&mut out, a) };
    out
}

/// Big-endian bytes as a `blst_scalar` (no reduction, no check).
pub(crate) fn scalar_from_bendian(bytes: &[u8; 32]) -> blst_scalar {
    let mut out = blst_scalar::default();
    // SAFETY: blst reads exactly 32 bytes, which `bytes` has; `out` is a local.
    unsafe { blst_scalar_from_bendian(&mut out, bytes.as_ptr()) };
    out
}

/// Big-endian bytes of any length reduced modulo r.
pub(crate) fn scalar_from_be_bytes(bytes: &[u8]) -> blst_scalar {
    let mut out = blst_scalar::default();
    // SAFETY: blst reads `bytes.len()` bytes from `bytes`; `out` is a local. The returned
    // flag (whether the input was already below r) is not needed: the result is reduced.
    unsafe { blst_scalar_from_be_bytes(&mut out, bytes.as_ptr(), bytes.len()) };
    out
}

/// Whether a `blst_scalar` is below r.
pub(crate) fn scalar_fr_check(s: &blst_scalar) -> bool {
    // SAFETY: reads the 32 bytes of `s`.
    unsafe { blst_scalar_fr_check(s) }
}

/// A `blst_scalar` (below r, see [`scalar_fr_check`]) in Montgomery form.
pub(crate) fn fr_from_scalar(s: &blst_scalar) -> blst_fr {
    let mut out = blst_fr::default();
    // SAFETY: reads the 32 bytes of `s`; `out` is a local.
    unsafe { blst_fr_from_scalar(&mut out, s) };
    out
}

// --- G1 ---

/// The generator of G1 (affine).
pub(crate) fn p1_affine_generator() -> blst_p1_affine {
    // SAFETY: blst returns a pointer to its immutable static generator, valid for the whole
    // program; it is copied out.
    unsafe { *blst_p1_affine_generator() }
}

/// The generator of G1 (projective).
pub(crate) fn p1_generator() -> blst_p1 {
    // SAFETY: as for `p1_affine_generator`: an immutable static, copied out.
    unsafe { *blst_p1_generator() }
}

/// Whether `p` is the identity (all-zero coordinates).
#[inline]
pub(crate) fn p1_affine_is_inf(p: &blst_p1_affine) -> bool {
    // SAFETY: reads a valid affine point.
    unsafe { blst_p1_affine_is_inf(p) }
}

/// Whether `p` is the identity (`Z = 0`).
#[inline]
pub(crate) fn p1_is_inf(p: &blst_p1) -> bool {
    // SAFETY: reads a valid projective point.
    unsafe { blst_p1_is_inf(p) }
}

pub(crate) fn p1_affine_is_equal(a: &blst_p1_affine, b: &blst_p1_affine) -> bool {
    // SAFETY: reads two valid affine points.
    unsafe { blst_p1_affine_is_equal(a, b) }
}

pub(crate) fn p1_is_equal(a: &blst_p1, b: &blst_p1) -> bool {
    // SAFETY: reads two valid projective points.
    unsafe { blst_p1_is_equal(a, b) }
}

/// Whether a point of E(Fp) is in the prime-order subgroup G1.
pub(crate) fn p1_affine_in_g1(p: &blst_p1_affine) -> bool {
    // SAFETY: reads a valid affine point.
    unsafe { blst_p1_affine_in_g1(p) }
}

/// Decodes a compressed point: on the curve, `x < p`, flags well-formed (not a subgroup check).
pub(crate) fn p1_uncompress(bytes: &[u8; 48]) -> Result<blst_p1_affine, BLST_ERROR> {
    let mut p = blst_p1_affine::default();
    // SAFETY: blst reads exactly 48 bytes, which `bytes` has; `p` is a local, used only on
    // success.
    match unsafe { blst_p1_uncompress(&mut p, bytes.as_ptr()) } {
        BLST_ERROR::BLST_SUCCESS => Ok(p),
        e => Err(e),
    }
}

/// Decodes an uncompressed (or compressed, by its flag bits) point: on the curve, coordinates
/// below p (not a subgroup check).
pub(crate) fn p1_deserialize(bytes: &[u8; 96]) -> Result<blst_p1_affine, BLST_ERROR> {
    let mut p = blst_p1_affine::default();
    // SAFETY: blst reads at most 96 bytes (48 when the compressed flag is set), and `bytes`
    // has 96; `p` is a local, used only on success.
    match unsafe { blst_p1_deserialize(&mut p, bytes.as_ptr()) } {
        BLST_ERROR::BLST_SUCCESS => Ok(p),
        e => Err(e),
    }
}

pub(crate) fn p1_affine_compress(p: &blst_p1_affine) -> [u8; 48] {
    let mut out = [0u8; 48];
    // SAFETY: blst writes exactly 48 bytes, which `out` has.
    unsafe { blst_p1_affine_compress(out.as_mut_ptr(), p) };
    out
}

pub(crate) fn p1_affine_serialize(p: &blst_p1_affine) -> [u8; 96] {
    let mut out = [0u8; 96];
    // SAFETY: blst writes exactly 96 bytes, which `out` has.
    unsafe { blst_p1_affine_serialize(out.as_mut_ptr(), p) };
    out
}

#[inline]
pub(crate) fn p1_from_affine(p: &blst_p1_affine) -> blst_p1 {
    let mut out = blst_p1::default();
    // SAFETY: reads a valid affine point; `out` is a local.
    unsafe { blst_p1_from_affine(&mut out, p) };
    out
}

#[inline]
pub(crate) fn p1_to_affine(p: &blst_p1) -> blst_p1_affine {
    let mut out = blst_p1_affine::default();
    // SAFETY: reads a valid projective point; `out` is a local.
    unsafe { blst_p1_to_affine(&mut out, p) };
    out
}

/// `out[i] = points[i]` in affine coordinates with one shared inversion.
pub(crate) fn p1s_to_affine(out: &mut [blst_p1_affine], points: &[blst_p1]) {
    assert_eq!(out.len(), points.len(), "one output per point");
    if points.is_empty() {
        return;
    }
    // A null-terminated list holding one pointer: blst reads the points contiguously from it.
    let list = [points.as_ptr(), ptr::null()];
    // SAFETY: blst reads `points.len()` points from `points` and writes as many to `out`,
    // which has the same length; both are live slices that do not overlap (`&mut` is
    // exclusive).
    unsafe { blst_p1s_to_affine(out.as_mut_ptr(), list.as_ptr(), points.len()) }
}

/// `out = 2·a`.
#[inline]
pub(crate) fn p1_double(out: &mut blst_p1, a: &blst_p1) {
    // SAFETY: a valid point, `out` exclusive.
    unsafe { blst_p1_double(out, a) }
}

/// `a = 2·a`.
#[inline]
pub(crate) fn p1_double_assign(a: &mut blst_p1) {
    let a: *mut blst_p1 = a;
    // SAFETY: `a` is valid for reads and writes; output aliasing the input is allowed.
    unsafe { blst_p1_double(a, a) }
}

/// `out = a + b`, complete (doubling and identity included).
#[inline]
pub(crate) fn p1_add_or_double(out: &mut blst_p1, a: &blst_p1, b: &blst_p1) {
    // SAFETY: valid points, `out` exclusive.
    unsafe { blst_p1_add_or_double(out, a, b) }
}

/// `a = a + b`, complete.
#[inline]
pub(crate) fn p1_add_or_double_assign(a: &mut blst_p1, b: &blst_p1) {
    let a: *mut blst_p1 = a;
    // SAFETY: `a` is valid for reads and writes; output aliasing the first input is allowed.
    unsafe { blst_p1_add_or_double(a, a, b) }
}

/// `out = a + b` with `b` affine, complete; constant time.
#[inline]
pub(crate) fn p1_add_or_double_affine(out: &mut blst_p1, a: &blst_p1, b: &blst_p1_affine) {
    // SAFETY: valid points, `out` exclusive.
    unsafe { blst_p1_add_or_double_affine(out, a, b) }
}

/// `a = a + b` with `b` affine, complete; constant time.
#[inline]
pub(crate) fn p1_add_or_double_affine_assign(a: &mut blst_p1, b: &blst_p1_affine) {
    let a: *mut blst_p1 = a;
    // SAFETY: `a` is valid for reads and writes; output aliasing the first input is allowed.
    unsafe { blst_p1_add_or_double_affine(a, a, b) }
}

/// `p = −p` if `negate`.
pub(crate) fn p1_cneg(p: &mut blst_p1, negate: bool) {
    // SAFETY: `p` is valid for reads and writes (blst negates in place).
    unsafe { blst_p1_cneg(p, negate) }
}

/// `k·p` for the little-endian integer made of the low `nbits` bits of `scalar`. Constant time
/// in the scalar for a fixed `nbits` (blst's GLV from 176 bits on, a fixed window below).
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

/// `Σ k_i·P_i` with blst's Pippenger on the calling thread; `scalars` holds `points.len()`
/// little-endian integers of `nbits.div_ceil(8)` bytes. Variable time.
pub(crate) fn p1s_mult_pippenger(
    points: &[blst_p1_affine],
    scalars: &[u8],
    nbits: usize,
) -> blst_p1 {
    assert_eq!(
        scalars.len(),
        points.len() * nbits.div_ceil(8),
        "scalar buffer size"
    );
    let mut out = blst_p1::default();
    if points.is_empty() {
        // blst needs at least one point; the empty sum is the identity.
        return out;
    }
    // Null-terminated lists holding one pointer each: blst reads the points and the scalars
    // contiguously from them.
    let p = [points.as_ptr(), ptr::null()];
    let s = [scalars.as_ptr(), ptr::null()];
    // SAFETY: a function of the count only (no pointers): the scratch size in bytes.
    let scratch_bytes = unsafe { blst_p1s_mult_pippenger_scratch_sizeof(points.len()) };
    // In whole `u64` limbs, blst's word size and alignment.
    let mut scratch = vec![0u64; scratch_bytes.div_ceil(8)];
    // SAFETY: blst reads `points.len()` points and `points.len()` scalars of
    // `nbits.div_ceil(8)` bytes (the buffer size is checked above), and uses `scratch`, at
    // least the size blst asked for, as working memory; `points` is not empty; `out` is a
    // local.
    unsafe {
        blst_p1s_mult_pippenger(
            &mut out,
            p.as_ptr(),
            points.len(),
            s.as_ptr(),
            nbits,
            scratch.as_mut_ptr(),
        )
    };
    out
}

// --- G2 ---

/// The generator of G2 (affine).
pub(crate) fn p2_affine_generator() -> blst_p2_affine {
    // SAFETY: blst returns a pointer to its immutable static generator, valid for the whole
    // program; it is copied out.
    unsafe { *blst_p2_affine_generator() }
}

pub(crate) fn p2_affine_is_inf(p: &blst_p2_affine) -> bool {
    // SAFETY: reads a valid affine point.
    unsafe { blst_p2_affine_is_inf(p) }
}

pub(crate) fn p2_affine_is_equal(a: &blst_p2_affine, b: &blst_p2_affine) -> bool {
    // SAFETY: reads two valid affine points.
    unsafe { blst_p2_affine_is_equal(a, b) }
}

/// Whether a point of E'(Fp²) is in the prime-order subgroup G2.
pub(crate) fn p2_affine_in_g2(p: &blst_p2_affine) -> bool {
    // SAFETY: reads a valid affine point.
    unsafe { blst_p2_affine_in_g2(p) }
}

/// Decodes a compressed point: on the curve, coordinates below p, flags well-formed (not a
/// subgroup check).
pub(crate) fn p2_uncompress(bytes: &[u8; 96]) -> Result<blst_p2_affine, BLST_ERROR> {
    let mut p = blst_p2_affine::default();
    // SAFETY: blst reads exactly 96 bytes, which `bytes` has; `p` is a local, used only on
    // success.
    match unsafe { blst_p2_uncompress(&mut p, bytes.as_ptr()) } {
        BLST_ERROR::BLST_SUCCESS => Ok(p),
        e => Err(e),
    }
}

pub(crate) fn p2_affine_compress(p: &blst_p2_affine) -> [u8; 96] {
    let mut out = [0u8; 96];
    // SAFETY: blst writes exactly 96 bytes, which `out` has.
    unsafe { blst_p2_affine_compress(out.as_mut_ptr(), p) };
    out
}

pub(crate) fn p2_from_affine(p: &blst_p2_affine) -> blst_p2 {
    let mut out = blst_p2::default();
    // SAFETY: reads a valid affine point; `out` is a local.
    unsafe { blst_p2_from_affine(&mut out, p) };
    out
}

pub(crate) fn p2_to_affine(p: &blst_p2) -> blst_p2_affine {
    let mut out = blst_p2_affine::default();
    // SAFETY: reads a valid projective point; `out` is a local.
    unsafe { blst_p2_to_affine(&mut out, p) };
    out
}

/// `a = a + b` with `b` affine, complete.
pub(crate) fn p2_add_or_double_affine_assign(a: &mut blst_p2, b: &blst_p2_affine) {
    let a: *mut blst_p2 = a;
    // SAFETY: `a` is valid for reads and writes; output aliasing the first input is allowed.
    unsafe { blst_p2_add_or_double_affine(a, a, b) }
}

/// `k·p` for the low `nbits` bits of the little-endian `scalar` (see [`p1_mult`]).
pub(crate) fn p2_mult(p: &blst_p2, scalar: &[u8], nbits: usize) -> blst_p2 {
    assert!(
        nbits.div_ceil(8) <= scalar.len(),
        "scalar shorter than nbits"
    );
    let mut out = blst_p2::default();
    // SAFETY: blst reads `nbits.div_ceil(8)` bytes of `scalar`, which has at least that many
    // (checked above), and a valid point; `out` is a local.
    unsafe { blst_p2_mult(&mut out, p, scalar.as_ptr(), nbits) };
    out
}

// --- pairing ---

/// Miller-loop lines of a G2 point: 68 elements of F_p⁶.
pub(crate) type Lines = [blst_fp6; 68];

/// The Miller loop of `e(p, q)` (no final exponentiation).
pub(crate) fn miller_loop(q: &blst_p2_affine, p: &blst_p1_affine) -> blst_fp12 {
    let mut out = blst_fp12::default();
    // SAFETY: reads two valid affine points; `out` is a local.
    unsafe { blst_miller_loop(&mut out, q, p) };
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

/// The Miller loop of `e(p, Q)` for `Q` given by its lines.
pub(crate) fn miller_loop_lines(lines: &Lines, p: &blst_p1_affine) -> blst_fp12 {
    let mut out = blst_fp12::default();
    // SAFETY: blst reads exactly 68 line elements, which `lines` has, and a valid affine
    // point; `out` is a local.
    unsafe { blst_miller_loop_lines(&mut out, lines.as_ptr(), p) };
    out
}

/// Whether `FE(a) = FE(b)` for the final exponentiation `FE`, i.e. `e(a) = e(b)` for Miller
/// loop outputs.
pub(crate) fn fp12_finalverify(a: &blst_fp12, b: &blst_fp12) -> bool {
    // SAFETY: reads two valid F_p¹² elements.
    unsafe { blst_fp12_finalverify(a, b) }
}
