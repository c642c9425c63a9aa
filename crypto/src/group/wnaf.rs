//! Shared small weights in width-w NAF: combining decryption shares multiplies the shares of
//! every ciphertext of a batch by the same Lagrange weights `Δ·λ_i`, so their digits are
//! computed once and reused for every multi-scalar product (Straus, variable time: the
//! weights and the shares are public).

use super::point::{p1_add, p1s_to_affine};
use crate::ffi;
use crate::scalar::Scalar;
use blst::{blst_p1, blst_p1_affine};

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
    pub(crate) fn new(weights: &[Scalar]) -> Self {
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
    pub(crate) fn bits(&self) -> usize {
        self.len
    }

    /// Σ weight_i · points_i with shared doublings (Straus), variable time: for public data.
    pub(crate) fn msm_vartime(&self, points: &[blst_p1_affine]) -> blst_p1 {
        debug_assert_eq!(points.len(), self.digits.len());
        self.msm_range(points, 0)
    }

    /// As [`Self::msm_vartime`], with the points split across two rayon tasks: for batches
    /// too small to keep the threads busy with whole ciphertexts.
    pub(crate) fn msm_vartime_split(&self, points: &[blst_p1_affine]) -> blst_p1 {
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
                let base = ffi::p1_from_affine(p);
                let mut twice = blst_p1::default();
                ffi::p1_double(&mut twice, &base);
                proj.push(base);
                for _ in 1..per {
                    let mut next = blst_p1::default();
                    ffi::p1_add_or_double(&mut next, proj.last().expect("pushed"), &twice);
                    proj.push(next);
                }
            }
            p1s_to_affine(&proj)
        };
        let mut acc = blst_p1::default();
        let mut started = false;
        for k in (0..self.len).rev() {
            if started {
                ffi::p1_double_assign(&mut acc);
            }
            for (i, d) in digits.iter().enumerate() {
                let digit = d.get(k).copied().unwrap_or(0);
                if digit == 0 {
                    continue;
                }
                let mut p = table[i * per + (digit.unsigned_abs() as usize - 1) / 2];
                if digit < 0 {
                    let y = p.y;
                    ffi::fp_cneg(&mut p.y, &y, true);
                }
                ffi::p1_add_or_double_affine_assign(&mut acc, &p);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::point::{g1_generator, g1_mul_ct, p1_eq, p1_to_affine};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn shared_weights_msm_matches_naive() {
        let mut r = ChaCha20Rng::seed_from_u64(7);
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
}
