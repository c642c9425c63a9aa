//! Group arithmetic on BLS12-381 over blst: checked encodings, a constant-time fixed-base comb
//! for encryption, variable-time multi-scalar multiplication for public data, pairing checks.
//!
//! Everything here that touches a secret scalar (`FixedBase::mul`, `mul_ct`) is constant time;
//! functions named `*_vartime` or `msm` must only ever see public scalars and points.

pub(crate) use crate::batch_mul::g1_mul_many_ct;
use crate::error::PointError;
use crate::scalar::Scalar;
use blst::*;

pub(crate) const G1_COMPRESSED: usize = 48;
pub(crate) const G1_UNCOMPRESSED: usize = 96;
pub(crate) const G2_COMPRESSED: usize = 96;

pub(crate) fn g1_generator() -> blst_p1_affine {
    unsafe { *blst_p1_affine_generator() }
}

pub(crate) fn g2_generator() -> blst_p2_affine {
    unsafe { *blst_p2_affine_generator() }
}

pub(crate) fn g1_is_inf(p: &blst_p1_affine) -> bool {
    unsafe { blst_p1_affine_is_inf(p) }
}

pub(crate) fn g1_eq(a: &blst_p1_affine, b: &blst_p1_affine) -> bool {
    unsafe { blst_p1_affine_is_equal(a, b) }
}

pub(crate) fn g2_eq(a: &blst_p2_affine, b: &blst_p2_affine) -> bool {
    unsafe { blst_p2_affine_is_equal(a, b) }
}

/// Decodes a compressed G1 point that must be canonical, on the curve, in the prime-order
/// subgroup and not the identity.
pub(crate) fn g1_decompress(bytes: &[u8; G1_COMPRESSED]) -> Result<blst_p1_affine, PointError> {
    let p = g1_decompress_on_curve(bytes)?;
    if !unsafe { blst_p1_affine_in_g1(&p) } {
        return Err(PointError::NotInSubgroup);
    }
    Ok(p)
}

/// Decodes a compressed point of E(Fp) that must be canonical, on the curve and not the
/// identity; subgroup membership is NOT checked (see `torsion_only`).
pub(crate) fn g1_decompress_on_curve(
    bytes: &[u8; G1_COMPRESSED],
) -> Result<blst_p1_affine, PointError> {
    let mut p = blst_p1_affine::default();
    match unsafe { blst_p1_uncompress(&mut p, bytes.as_ptr()) } {
        BLST_ERROR::BLST_SUCCESS => {}
        BLST_ERROR::BLST_POINT_NOT_ON_CURVE => return Err(PointError::NotOnCurve),
        _ => return Err(PointError::Encoding),
    }
    if g1_is_inf(&p) {
        return Err(PointError::Identity);
    }
    // blst already rejects x >= p; the round trip also pins the flag bits.
    if g1_compress(&p) != *bytes {
        return Err(PointError::NonCanonical);
    }
    Ok(p)
}

/// BLS12-381's effective G1 cofactor `h_eff = 1 − z = 0xd201000000010001`.
pub(crate) const H_EFF: u64 = 0xd201_0000_0001_0001;

/// `[h_eff]·p`: maps E(Fp) = G1 ⊕ T onto G1, killing the torsion part T (the exponent of T
/// divides `h_eff`, RFC 9380 §8.8.1) and multiplying the G1 part by `h_eff`, which is
/// invertible mod r. Public input, so a plain double-and-add over the 64-bit constant: 63
/// doublings and 5 additions (measured ≈ 0.5× a subgroup check, ≈ 0.7× blst's windowed
/// 64-bit multiplication).
pub(crate) fn clear_cofactor(p: &blst_p1) -> blst_p1 {
    let mut acc = *p;
    for bit in (0..63).rev() {
        unsafe { blst_p1_double(&mut acc, &acc) };
        if (H_EFF >> bit) & 1 == 1 {
            unsafe { blst_p1_add_or_double(&mut acc, &acc, p) };
        }
    }
    acc
}

/// `h_eff² mod r`: the wallet's KEM exponent factor (SPEC §2.4).
pub(crate) fn h_eff_squared() -> Scalar {
    let h = Scalar::from_u64(H_EFF);
    h.mul(&h)
}

/// [`clear_cofactor`] of an affine point, with mixed additions (every ciphertext's `u`).
pub(crate) fn clear_cofactor_affine(p: &blst_p1_affine) -> blst_p1 {
    let mut acc = blst_p1::default();
    unsafe { blst_p1_from_affine(&mut acc, p) };
    for bit in (0..63).rev() {
        unsafe { blst_p1_double(&mut acc, &acc) };
        if (H_EFF >> bit) & 1 == 1 {
            unsafe { blst_p1_add_or_double_affine(&mut acc, &acc, p) };
        }
    }
    acc
}

/// Whether a point of E(Fp) has no component in G1, i.e. lies in the torsion part T:
/// `[h_eff]·p = O` (see [`clear_cofactor`]).
pub(crate) fn torsion_only(p: &blst_p1) -> bool {
    unsafe { blst_p1_is_inf(&clear_cofactor(p)) }
}

pub(crate) fn g1_compress(p: &blst_p1_affine) -> [u8; G1_COMPRESSED] {
    let mut out = [0u8; G1_COMPRESSED];
    unsafe { blst_p1_affine_compress(out.as_mut_ptr(), p) };
    out
}

/// Decodes an uncompressed G1 point that must be canonical, on the curve and not the identity.
/// Subgroup membership is NOT checked here: decryption shares are decoded this way and their
/// membership is established lazily (see `combine`), because a subgroup check costs ~3x a
/// decompression and the optimistic path does not need it per share.
pub(crate) fn g1_deserialize_on_curve(
    bytes: &[u8; G1_UNCOMPRESSED],
) -> Result<blst_p1_affine, PointError> {
    let mut p = blst_p1_affine::default();
    match unsafe { blst_p1_deserialize(&mut p, bytes.as_ptr()) } {
        BLST_ERROR::BLST_SUCCESS => {}
        BLST_ERROR::BLST_POINT_NOT_ON_CURVE => return Err(PointError::NotOnCurve),
        _ => return Err(PointError::Encoding),
    }
    if g1_is_inf(&p) {
        return Err(PointError::Identity);
    }
    if g1_serialize(&p) != *bytes {
        return Err(PointError::NonCanonical);
    }
    Ok(p)
}

pub(crate) fn g1_serialize(p: &blst_p1_affine) -> [u8; G1_UNCOMPRESSED] {
    let mut out = [0u8; G1_UNCOMPRESSED];
    unsafe { blst_p1_affine_serialize(out.as_mut_ptr(), p) };
    out
}

pub(crate) fn g1_in_subgroup(p: &blst_p1_affine) -> bool {
    unsafe { blst_p1_affine_in_g1(p) }
}

/// Decodes a compressed G2 point: canonical, on the curve, in the subgroup, not the identity.
pub(crate) fn g2_decompress(bytes: &[u8; G2_COMPRESSED]) -> Result<blst_p2_affine, PointError> {
    let mut p = blst_p2_affine::default();
    match unsafe { blst_p2_uncompress(&mut p, bytes.as_ptr()) } {
        BLST_ERROR::BLST_SUCCESS => {}
        BLST_ERROR::BLST_POINT_NOT_ON_CURVE => return Err(PointError::NotOnCurve),
        _ => return Err(PointError::Encoding),
    }
    if unsafe { blst_p2_affine_is_inf(&p) } {
        return Err(PointError::Identity);
    }
    if g2_compress(&p) != *bytes {
        return Err(PointError::NonCanonical);
    }
    if !unsafe { blst_p2_affine_in_g2(&p) } {
        return Err(PointError::NotInSubgroup);
    }
    Ok(p)
}

pub(crate) fn g2_compress(p: &blst_p2_affine) -> [u8; G2_COMPRESSED] {
    let mut out = [0u8; G2_COMPRESSED];
    unsafe { blst_p2_affine_compress(out.as_mut_ptr(), p) };
    out
}

pub(crate) fn p1_to_affine(p: &blst_p1) -> blst_p1_affine {
    let mut a = blst_p1_affine::default();
    unsafe { blst_p1_to_affine(&mut a, p) };
    a
}

pub(crate) fn p2_to_affine(p: &blst_p2) -> blst_p2_affine {
    let mut a = blst_p2_affine::default();
    unsafe { blst_p2_to_affine(&mut a, p) };
    a
}

/// Constant-time G1 scalar multiplication (blst's GLV ladder).
pub(crate) fn g1_mul_ct(p: &blst_p1_affine, s: &Scalar) -> blst_p1 {
    let mut pp = blst_p1::default();
    let mut out = blst_p1::default();
    let mut b = s.to_le_bytes();
    unsafe {
        blst_p1_from_affine(&mut pp, p);
        blst_p1_mult(&mut out, &pp, b.as_ptr(), 255);
    }
    zeroize::Zeroize::zeroize(&mut b);
    out
}

/// Constant-time G2 scalar multiplication.
pub(crate) fn g2_mul_ct(p: &blst_p2_affine, s: &Scalar) -> blst_p2 {
    let mut pp = blst_p2::default();
    let mut out = blst_p2::default();
    let mut b = s.to_le_bytes();
    unsafe {
        blst_p2_from_affine(&mut pp, p);
        blst_p2_mult(&mut out, &pp, b.as_ptr(), 255);
    }
    zeroize::Zeroize::zeroize(&mut b);
    out
}

/// G2 multiplication by a small public integer (variable time).
pub(crate) fn g2_mul_small(p: &blst_p2, k: u64) -> blst_p2 {
    let b = k.to_le_bytes();
    let mut out = blst_p2::default();
    unsafe { blst_p2_mult(&mut out, p, b.as_ptr(), 64 - k.leading_zeros() as usize) };
    out
}

/// Batch normalisation with one field inversion (Montgomery's trick in blst). Identity inputs
/// map to the identity (blst's trick would otherwise zero every output).
pub(crate) fn p1s_to_affine(points: &[blst_p1]) -> Vec<blst_p1_affine> {
    let gen = unsafe { *blst_p1_generator() };
    let inf: Vec<bool> = points
        .iter()
        .map(|p| unsafe { blst_p1_is_inf(p) })
        .collect();
    let fixed: Vec<blst_p1> = points
        .iter()
        .zip(&inf)
        .map(|(p, &i)| if i { gen } else { *p })
        .collect();
    let mut out = vec![blst_p1_affine::default(); points.len()];
    if !points.is_empty() {
        let ptrs = [fixed.as_ptr(), core::ptr::null()];
        unsafe { blst_p1s_to_affine(out.as_mut_ptr(), ptrs.as_ptr(), fixed.len()) };
    }
    for (o, &i) in out.iter_mut().zip(&inf) {
        if i {
            *o = blst_p1_affine::default();
        }
    }
    out
}

/// Comb digit width: signed digits in `[−32, 31]`, so a window stores the 32 multiples
/// `j·64^k·B` for `j = 1..=32` and the sign is applied by a conditional negation.
const COMB_W: usize = 6;
const COMB_ENTRIES: usize = 1 << (COMB_W - 1);
/// 43 windows cover 258 bits: the top digit of a scalar below `2^255` plus a carry is at most 8.
const COMB_WINDOWS: usize = 256usize.div_ceil(COMB_W);

/// Fixed-base comb for constant-time multiplication of a fixed G1 point: 43 windows of signed
/// 6-bit digits, each with the 32 multiples `j·64^k·B`. A multiplication is 43 mixed additions,
/// a constant-time scan of each window and a constant-time negation (no doublings, no
/// secret-dependent memory access). Against 64 windows of unsigned 4-bit digits (16 entries)
/// this is a third fewer additions for a third more scanning, ≈ 25 % less time.
pub(crate) struct FixedBase {
    windows: Vec<[blst_p1_affine; COMB_ENTRIES]>,
}

impl FixedBase {
    pub fn new(base: &blst_p1_affine) -> Self {
        let mut proj = Vec::with_capacity(COMB_WINDOWS * COMB_ENTRIES);
        let mut b = blst_p1::default();
        unsafe { blst_p1_from_affine(&mut b, base) };
        for _ in 0..COMB_WINDOWS {
            let mut acc = b;
            proj.push(acc);
            for _ in 1..COMB_ENTRIES {
                unsafe { blst_p1_add_or_double(&mut acc, &acc, &b) };
                proj.push(acc);
            }
            // next window base = 64 * b
            for _ in 0..COMB_W {
                unsafe { blst_p1_double(&mut b, &b) };
            }
        }
        let aff = p1s_to_affine(&proj);
        let windows = aff
            .chunks_exact(COMB_ENTRIES)
            .map(|c| c.try_into().expect("COMB_ENTRIES per window"))
            .collect();
        Self { windows }
    }

    pub fn mul(&self, s: &Scalar) -> blst_p1 {
        let mut bytes = s.to_le_bytes();
        let mut limbs = [0u64; 5];
        for (l, c) in limbs.iter_mut().zip(bytes.chunks_exact(8)) {
            *l = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        }
        let mut acc = blst_p1::default();
        let mut carry = 0u64;
        let mut sel: blst_p1_affine;
        for (k, window) in self.windows.iter().enumerate() {
            // Signed recoding, branch-free: t ∈ [0, 64]; t ≥ 32 becomes t − 64 with a carry.
            let bit = k * COMB_W;
            let (i, sh) = (bit / 64, bit % 64);
            let mut raw = limbs[i] >> sh;
            if sh + COMB_W > 64 {
                raw |= limbs[i + 1] << (64 - sh);
            }
            let t = (raw & ((1 << COMB_W) - 1)) + carry;
            carry = (t + COMB_ENTRIES as u64) >> COMB_W;
            let d = t as i64 - (carry << COMB_W) as i64;
            let negative = (d >> 63) as u64; // all ones iff d < 0
            let abs = (d as u64 ^ negative).wrapping_sub(negative);
            // entry j holds (j+1)·64^k·B; |d| = 0 selects nothing, the all-zero point (O)
            sel = blst_p1_affine::default();
            for (j, entry) in window.iter().enumerate() {
                let hit = crate::batch_mul::zero_mask((j as u64 + 1) ^ abs);
                for l in 0..6 {
                    sel.x.l[l] |= entry.x.l[l] & hit;
                    sel.y.l[l] |= entry.y.l[l] & hit;
                }
            }
            let y = sel.y;
            unsafe { crate::batch_mul::raw::cneg(&mut sel.y, &y, negative) };
            // blst's mixed addition is constant time, including the identity and doubling cases.
            unsafe { blst_p1_add_or_double_affine(&mut acc, &acc, &sel) };
        }
        debug_assert_eq!(carry, 0, "a scalar below 2^255 leaves no carry");
        // the last selected entry reveals the top digit
        sel = blst_p1_affine::default();
        core::hint::black_box(&sel);
        zeroize::Zeroize::zeroize(&mut limbs);
        zeroize::Zeroize::zeroize(&mut bytes);
        acc
    }
}

/// The G1 generator's comb, built once per process.
pub(crate) fn generator_table() -> &'static FixedBase {
    static TABLE: std::sync::OnceLock<FixedBase> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| FixedBase::new(&g1_generator()))
}

/// A public scalar written as a signed integer of small magnitude, in non-adjacent form.
/// Combining decryption shares uses the same Lagrange weights for every ciphertext of a
/// batch, so their NAF digits are computed once and reused for every multi-scalar product.
#[derive(Clone, Debug)]
pub(crate) struct SharedWeights {
    /// `digits[i][k]` is digit k (least significant first) of weight i: zero or odd with
    /// `|d| < 2^(width-1)`.
    digits: Vec<Vec<i8>>,
    len: usize,
    width: u32,
}

/// Weights up to this many bits use plain NAF (no per-point table); wider ones use width-5 NAF
/// with a table of odd multiples. For 255-bit weights that is ~50 additions per point instead of
/// ~85; for the ≤64-bit weights of committees up to n ≈ 20 the table would cost more than it saves.
const PLAIN_NAF_MAX_BITS: usize = 96;
const WIDE_NAF_WIDTH: u32 = 5;

impl SharedWeights {
    /// Builds the NAF of each scalar, using whichever of `c` and `c - r` has the smaller
    /// magnitude, so small negative integers stay small.
    pub fn new(weights: &[Scalar]) -> Self {
        let mags: Vec<([u64; 5], i8)> = weights.iter().map(signed_magnitude).collect();
        let bits = mags.iter().map(|(m, _)| bit_len(m)).max().unwrap_or(0);
        // NAF has at most one digit more than the magnitude has bits.
        let width = if bits < PLAIN_NAF_MAX_BITS {
            2
        } else {
            WIDE_NAF_WIDTH
        };
        let digits: Vec<Vec<i8>> = mags
            .iter()
            .map(|(m, sign)| wnaf(*m, *sign, width))
            .collect();
        let len = digits.iter().map(Vec::len).max().unwrap_or(0);
        Self { digits, len, width }
    }

    /// Bit length of the largest weight (cost driver of `msm`).
    #[cfg(test)]
    pub fn bits(&self) -> usize {
        self.len
    }

    /// Σ weight_i · points_i with shared doublings (Straus), variable time: for public data.
    pub fn msm_vartime(&self, points: &[blst_p1_affine]) -> blst_p1 {
        debug_assert_eq!(points.len(), self.digits.len());
        self.msm_range(points, 0)
    }

    /// As [`Self::msm_vartime`], with the points split across two rayon tasks: for batches
    /// too small to keep the threads busy with whole ciphertexts.
    pub fn msm_vartime_split(&self, points: &[blst_p1_affine]) -> blst_p1 {
        debug_assert_eq!(points.len(), self.digits.len());
        let mid = points.len() / 2;
        let (a, b) = rayon::join(
            || self.msm_range(&points[..mid], 0),
            || self.msm_range(&points[mid..], mid),
        );
        p1_add(&a, &b)
    }

    /// Σ over `points`, which are the points `offset..offset + points.len()`.
    fn msm_range(&self, points: &[blst_p1_affine], offset: usize) -> blst_p1 {
        let digits = &self.digits[offset..offset + points.len()];
        // Odd multiples P, 3P, …, (2^(w-1) - 1)P of every point, normalised together.
        let per = 1usize << (self.width - 2);
        let table: Vec<blst_p1_affine> = if per == 1 {
            points.to_vec()
        } else {
            let mut proj = Vec::with_capacity(points.len() * per);
            for p in points {
                let mut base = blst_p1::default();
                let mut twice = blst_p1::default();
                unsafe {
                    blst_p1_from_affine(&mut base, p);
                    blst_p1_double(&mut twice, &base);
                }
                proj.push(base);
                for _ in 1..per {
                    let mut next = blst_p1::default();
                    unsafe {
                        blst_p1_add_or_double(&mut next, proj.last().expect("pushed"), &twice)
                    };
                    proj.push(next);
                }
            }
            p1s_to_affine(&proj)
        };
        let mut acc = blst_p1::default();
        let mut started = false;
        for k in (0..self.len).rev() {
            if started {
                unsafe { blst_p1_double(&mut acc, &acc) };
            }
            for (i, d) in digits.iter().enumerate() {
                let digit = d.get(k).copied().unwrap_or(0);
                if digit == 0 {
                    continue;
                }
                let mut p = table[i * per + (digit.unsigned_abs() as usize - 1) / 2];
                if digit < 0 {
                    let y = p.y;
                    unsafe { blst_fp_cneg(&mut p.y, &y, true) };
                }
                unsafe { blst_p1_add_or_double_affine(&mut acc, &acc, &p) };
                started = true;
            }
        }
        acc
    }
}

/// The representative of `s` with the smaller absolute value, as (little-endian limbs of the
/// magnitude, sign).
fn signed_magnitude(s: &Scalar) -> ([u64; 5], i8) {
    let pos = s.to_le_bytes();
    let neg = s.neg().to_le_bytes();
    let (mag, sign) = if le_less(&neg, &pos) {
        (neg, -1i8)
    } else {
        (pos, 1i8)
    };
    let mut limbs = [0u64; 5];
    for (i, chunk) in mag.chunks_exact(8).enumerate() {
        limbs[i] = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
    }
    (limbs, sign)
}

fn bit_len(limbs: &[u64; 5]) -> usize {
    limbs
        .iter()
        .rposition(|&l| l != 0)
        .map_or(0, |i| 64 * i + 64 - limbs[i].leading_zeros() as usize)
}

/// Width-`w` NAF of a signed magnitude (sign folded into the digits): digits are zero or odd
/// with `|d| < 2^(w-1)`, nonzero digits at least `w` apart. `w = 2` is plain NAF.
fn wnaf(mut limbs: [u64; 5], sign: i8, w: u32) -> Vec<i8> {
    let modulus = 1i64 << w;
    let mut out = Vec::with_capacity(257);
    while limbs.iter().any(|&l| l != 0) {
        let d: i64 = if limbs[0] & 1 == 1 {
            // the signed residue mod 2^w, so the remainder is divisible by 2^w
            let r = (limbs[0] & (modulus as u64 - 1)) as i64;
            if r >= modulus / 2 {
                r - modulus
            } else {
                r
            }
        } else {
            0
        };
        if d > 0 {
            sub_small(&mut limbs, d as u64);
        } else if d < 0 {
            add_small(&mut limbs, d.unsigned_abs());
        }
        out.push(d as i8 * sign);
        shr1(&mut limbs);
    }
    out
}

fn le_less(a: &[u8; 32], b: &[u8; 32]) -> bool {
    for i in (0..32).rev() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    false
}

fn add_small(l: &mut [u64; 5], v: u64) {
    let mut carry = v;
    for x in l.iter_mut() {
        let (s, c) = x.overflowing_add(carry);
        *x = s;
        carry = c as u64;
        if carry == 0 {
            break;
        }
    }
}

fn sub_small(l: &mut [u64; 5], v: u64) {
    let mut borrow = v;
    for x in l.iter_mut() {
        let (s, b) = x.overflowing_sub(borrow);
        *x = s;
        borrow = b as u64;
        if borrow == 0 {
            break;
        }
    }
}

fn shr1(l: &mut [u64; 5]) {
    for i in 0..5 {
        let hi = if i + 1 < 5 { l[i + 1] << 63 } else { 0 };
        l[i] = (l[i] >> 1) | hi;
    }
}

/// blst's Pippenger on the calling thread.
pub(crate) fn pippenger(points: &[blst_p1_affine], scalars: &[u8], nbits: usize) -> blst_p1 {
    let mut out = blst_p1::default();
    let p = [points.as_ptr(), core::ptr::null()];
    let s = [scalars.as_ptr(), core::ptr::null()];
    unsafe {
        let mut scratch =
            vec![0u64; blst_p1s_mult_pippenger_scratch_sizeof(points.len()).div_ceil(8)];
        blst_p1s_mult_pippenger(
            &mut out,
            p.as_ptr(),
            points.len(),
            s.as_ptr(),
            nbits,
            scratch.as_mut_ptr(),
        );
    }
    out
}

/// Variable-time multi-scalar multiplication. `scalars` holds `points.len()` little-endian
/// scalars of `(nbits + 7) / 8` bytes each. From 64 points on, curtain's batch-affine bucket
/// method (`msm`, windows split across rayon threads); below, where it is no faster, blst's
/// Pippenger on the calling thread (`benches/msm`).
pub(crate) fn msm_vartime(points: &[blst_p1_affine], scalars: &[u8], nbits: usize) -> blst_p1 {
    let nbytes = nbits.div_ceil(8);
    assert_eq!(scalars.len(), points.len() * nbytes, "scalar buffer size");
    match points.len() {
        0 => blst_p1::default(),
        1..64 => pippenger(points, scalars, nbits),
        _ => crate::msm::msm(points, scalars, nbits),
    }
}

pub(crate) fn p1_add(a: &blst_p1, b: &blst_p1) -> blst_p1 {
    let mut o = blst_p1::default();
    unsafe { blst_p1_add_or_double(&mut o, a, b) };
    o
}

pub(crate) fn p1_add_affine(a: &blst_p1, b: &blst_p1_affine) -> blst_p1 {
    let mut o = blst_p1::default();
    unsafe { blst_p1_add_or_double_affine(&mut o, a, b) };
    o
}

pub(crate) fn p1_sub(a: &blst_p1, b: &blst_p1) -> blst_p1 {
    let mut neg = *b;
    unsafe { blst_p1_cneg(&mut neg, true) };
    p1_add(a, &neg)
}

pub(crate) fn p1_eq(a: &blst_p1, b: &blst_p1) -> bool {
    unsafe { blst_p1_is_equal(a, b) }
}

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
    let mut ml1 = blst_fp12::default();
    let mut ml2 = blst_fp12::default();
    unsafe {
        blst_miller_loop(&mut ml1, q1, a);
        blst_miller_loop(&mut ml2, q2, b);
        blst_fp12_finalverify(&ml1, &ml2)
    }
}

/// Miller-loop lines of a fixed G2 point, computed once: a pairing with a prepared point skips
/// all G2 arithmetic (the committee's `PK2` and the generator are fixed for a key's lifetime).
#[derive(Clone)]
pub(crate) struct PreparedG2(Box<[blst_fp6; 68]>);

impl PreparedG2 {
    pub(crate) fn new(q: &blst_p2_affine) -> Self {
        let mut lines = Box::new([blst_fp6::default(); 68]);
        unsafe { blst_precompute_lines(lines.as_mut_ptr(), q) };
        Self(lines)
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
    let mut ml1 = blst_fp12::default();
    let mut ml2 = blst_fp12::default();
    unsafe {
        blst_miller_loop_lines(&mut ml1, q1.0.as_ptr(), a);
        blst_miller_loop_lines(&mut ml2, q2.0.as_ptr(), b);
        blst_fp12_finalverify(&ml1, &ml2)
    }
}

#[cfg(test)]
/// A point of E(Fp) of small order (no G1 component): `[r]·P` for a point P on the curve
/// outside G1.
pub(crate) fn torsion_point() -> blst_p1_affine {
    const R_LE: [u8; 32] = {
        let be: [u8; 32] = [
            0x73, 0xed, 0xa7, 0x53, 0x29, 0x9d, 0x7d, 0x48, 0x33, 0x39, 0xd8, 0x08, 0x09, 0xa1,
            0xd8, 0x05, 0x53, 0xbd, 0xa4, 0x02, 0xff, 0xfe, 0x5b, 0xfe, 0xff, 0xff, 0xff, 0xff,
            0x00, 0x00, 0x00, 0x01,
        ];
        let mut le = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            le[i] = be[31 - i];
            i += 1;
        }
        le
    };
    for x in 1u8.. {
        let mut enc = [0u8; 48];
        enc[0] = 0x80;
        enc[47] = x;
        let Ok(p) = g1_decompress_on_curve(&enc) else {
            continue;
        };
        let mut proj = blst_p1::default();
        let mut t = blst_p1::default();
        unsafe {
            blst_p1_from_affine(&mut proj, &p);
            blst_p1_mult(&mut t, &proj, R_LE.as_ptr(), 255);
        }
        if !unsafe { blst_p1_is_inf(&t) } {
            return p1_to_affine(&t);
        }
    }
    unreachable!()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn rng() -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(7)
    }

    #[test]
    fn cofactor_clearing_is_multiplication_by_h_eff() {
        // points of E(Fp), mostly outside G1: x = 1, 2, … with a square root
        let points: Vec<blst_p1_affine> = (1u8..40)
            .filter_map(|x| {
                let mut enc = [0u8; 48];
                enc[0] = 0x80;
                enc[47] = x;
                g1_decompress_on_curve(&enc).ok()
            })
            .collect();
        assert!(points.len() > 10);
        assert!(points.iter().any(|p| !g1_in_subgroup(p)));
        let h = H_EFF.to_le_bytes();
        for p in &points {
            let mut proj = blst_p1::default();
            let mut expect = blst_p1::default();
            unsafe {
                blst_p1_from_affine(&mut proj, p);
                blst_p1_mult(&mut expect, &proj, h.as_ptr(), 64);
            }
            assert!(p1_eq(&clear_cofactor(&proj), &expect));
            assert!(p1_eq(&clear_cofactor_affine(p), &expect));
            assert!(g1_in_subgroup(&p1_to_affine(&expect)));
        }
    }

    #[test]
    fn comb_matches_blst() {
        let mut r = rng();
        let base = p1_to_affine(&g1_mul_ct(&g1_generator(), &Scalar::random(&mut r)));
        let comb = FixedBase::new(&base);
        // digits at the recoding's edges (31, 32, 63 and the carries they make), the top of
        // the range, and random scalars
        let mut scalars = vec![Scalar::zero(), Scalar::one(), Scalar::one().neg()];
        for v in [
            31u64,
            32,
            33,
            63,
            64,
            65,
            2047,
            2048,
            u32::MAX as u64,
            u64::MAX,
        ] {
            scalars.push(Scalar::from_u64(v));
            scalars.push(Scalar::from_u64(v).neg());
        }
        for byte in [0x20u8, 0x1f, 0x3f, 0x7f, 0x82] {
            let mut be = [byte; 32];
            be[0] = 0x1f; // below r
            scalars.push(Scalar::from_be_bytes(&be).expect("below r"));
        }
        scalars.extend((0..64).map(|_| Scalar::random(&mut r)));
        for s in scalars {
            assert!(p1_eq(&comb.mul(&s), &g1_mul_ct(&base, &s)));
        }
    }

    #[test]
    fn shared_weights_msm_matches_naive() {
        let mut r = rng();
        for weights in [
            vec![
                Scalar::from_u64(18),
                Scalar::from_u64(18).neg(),
                Scalar::from_u64(6),
            ],
            vec![Scalar::random(&mut r), Scalar::random(&mut r)],
            // wide and small weights mixed: the width-5 path with a table per point
            vec![
                Scalar::random(&mut r),
                Scalar::from_u64(3),
                Scalar::random(&mut r).neg(),
                Scalar::from_u64(31).neg(),
                Scalar::zero(),
            ],
            vec![Scalar::zero(), Scalar::one()],
        ] {
            let points: Vec<_> = weights
                .iter()
                .map(|_| p1_to_affine(&g1_mul_ct(&g1_generator(), &Scalar::random(&mut r))))
                .collect();
            let sw = SharedWeights::new(&weights);
            let mut expect = blst_p1::default();
            for (p, w) in points.iter().zip(&weights) {
                expect = p1_add(&expect, &g1_mul_ct(p, w));
            }
            assert!(p1_eq(&sw.msm_vartime(&points), &expect));
        }
        // small negative weights stay small
        assert!(SharedWeights::new(&[Scalar::from_u64(5).neg()]).bits() <= 4);
    }

    #[test]
    fn msm_matches_naive() {
        let mut r = rng();
        let n = 200;
        let points: Vec<_> = (0..n)
            .map(|_| p1_to_affine(&g1_mul_ct(&g1_generator(), &Scalar::random(&mut r))))
            .collect();
        let scalars: Vec<Scalar> = (0..n).map(|_| Scalar::random(&mut r)).collect();
        let bytes: Vec<u8> = scalars.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut expect = blst_p1::default();
        for (p, s) in points.iter().zip(&scalars) {
            expect = p1_add(&expect, &g1_mul_ct(p, s));
        }
        assert!(p1_eq(&msm_vartime(&points, &bytes, 255), &expect));
    }

    #[test]
    fn batch_normalisation_keeps_identity() {
        let g = unsafe { *blst_p1_generator() };
        let out = p1s_to_affine(&[g, blst_p1::default(), g]);
        assert!(g1_eq(&out[0], &g1_generator()));
        assert!(g1_is_inf(&out[1]));
        assert!(g1_eq(&out[2], &g1_generator()));
    }

    #[test]
    fn decoders_reject_bad_points() {
        // identity
        let mut inf = [0u8; 48];
        inf[0] = 0xc0;
        assert_eq!(g1_decompress(&inf), Err(PointError::Identity));
        // garbage flags
        assert!(g1_decompress(&[0u8; 48]).is_err());
        // x not on curve: find one by scanning small x
        let mut found = false;
        for x in 1u8..50 {
            let mut b = [0u8; 48];
            b[0] = 0x80;
            b[47] = x;
            if let Err(e) = g1_decompress(&b) {
                if e == PointError::NotOnCurve {
                    found = true;
                    break;
                }
            }
        }
        assert!(found);
        // a point on the curve outside the subgroup (x = 4 gives y^2 = 68... scan)
        let mut outside = false;
        for x in 1u8..200 {
            let mut b = [0u8; 48];
            b[0] = 0x80;
            b[47] = x;
            if g1_decompress(&b) == Err(PointError::NotInSubgroup) {
                outside = true;
                break;
            }
        }
        assert!(outside);
    }
}
