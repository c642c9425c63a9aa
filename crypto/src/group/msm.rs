//! Variable-time multi-scalar multiplication `Σ k_i·P_i` for public data (batched validity,
//! opening and share-batch checks). [`msm_vartime`] picks blst's Pippenger for small inputs and,
//! from 64 points on, [`msm_batch_affine`]: Pippenger's bucket method with signed digits, where the
//! buckets are filled in **affine** coordinates with one shared field inversion per round
//! (Montgomery's trick).
//!
//! Why not blst's Pippenger: blst adds each point into its bucket with a mixed addition in
//! extended Jacobian (`xyzz`) coordinates, ~10 field multiplications; an affine addition whose
//! inversion is shared by a whole round costs ~6 (three for the batch inversion, two for the
//! slope and `y`, one squaring). Bucket filling is most of an MSM at the sizes of a block, so
//! this is ≈ 1.4× faster at 128-bit scalars (`benches/msm`), and splitting the windows (not the
//! points) across threads adds no work, where splitting the points repeats the bucket sums.
//!
//! Method. Window width `c` (chosen by a cost model from `n` and the scalar width), digits in
//! `(−2^(c−1), 2^(c−1)]`, so `2^(c−1)` buckets per window. Every (point, window) with a nonzero
//! digit becomes an entry `±P` keyed by (window, |digit|); a counting sort groups entries by key;
//! then rounds of pairwise additions halve every group (all pairs of a round share one
//! inversion) until each bucket holds one point. A window's sum `Σ_b b·B_b` is two running
//! sums (projective), and the windows are joined by Horner's rule.
//!
//! Exceptional cases are handled exactly, so the result equals the mathematical sum for any
//! points on the curve, in G1 or not (the callers' points may carry torsion, §2.5): a pair with
//! equal `x` is a doubling (`y₁ = y₂`, slope `3x²/2y`; `y ≠ 0` because `E(Fp)` has odd order)
//! or cancels to the identity (`y₁ = −y₂`); identity inputs and zero digits are skipped.

use super::field::finish;
use crate::ffi::{
    self, fp_add, fp_cneg, fp_eucl_inverse, fp_mul, fp_mul_assign, fp_mul_by_3_assign, fp_sqr,
    fp_sub,
};
use blst::{blst_fp, blst_p1, blst_p1_affine};
use rayon::prelude::*;

/// Entries per group of windows handled together (one counting sort, shared inversions):
/// bounds the working set (≈ 100 bytes per entry) while keeping rounds large.
const ENTRIES_PER_PASS: usize = 1 << 13;
/// Below this many entries the windows are not split across threads.
const PARALLEL_ENTRIES: usize = 1 << 12;

/// blst's Pippenger on the calling thread.
pub(crate) fn pippenger(points: &[blst_p1_affine], scalars: &[u8], nbits: usize) -> blst_p1 {
    ffi::p1s_mult_pippenger(points, scalars, nbits)
}

/// Variable-time multi-scalar multiplication. `scalars` holds `points.len()` little-endian
/// scalars of `(nbits + 7) / 8` bytes each. From 64 points on, curtain's batch-affine bucket
/// method ([`msm_batch_affine`], windows split across rayon threads); below, where it is no faster, blst's
/// Pippenger on the calling thread (`benches/msm`).
pub(crate) fn msm_vartime(points: &[blst_p1_affine], scalars: &[u8], nbits: usize) -> blst_p1 {
    let nbytes = nbits.div_ceil(8);
    assert_eq!(scalars.len(), points.len() * nbytes, "scalar buffer size");
    match points.len() {
        0 => blst_p1::default(),
        1..64 => pippenger(points, scalars, nbits),
        _ => msm_batch_affine(points, scalars, nbits),
    }
}

/// `Σ k_i·P_i`; `scalars` holds `points.len()` little-endian integers of `nbits.div_ceil(8)`
/// bytes (bits at and above `nbits` must be zero). Points must be on the curve (the identity is
/// allowed); variable time in everything.
pub(crate) fn msm_batch_affine(points: &[blst_p1_affine], scalars: &[u8], nbits: usize) -> blst_p1 {
    let nbytes = nbits.div_ceil(8);
    assert_eq!(scalars.len(), points.len() * nbytes, "scalar buffer size");
    assert!((1..=256).contains(&nbits), "scalar width");
    let live: Vec<usize> = (0..points.len())
        .filter(|&i| !ffi::p1_affine_is_inf(&points[i]))
        .collect();
    if live.is_empty() {
        return blst_p1::default();
    }
    let n = live.len();
    let c = window_bits(n, nbits);
    let windows = nbits / c + 1;
    let digits = Digits::new(&live, scalars, nbytes, c, windows);
    let pts: Vec<&blst_p1_affine> = live.iter().map(|&i| &points[i]).collect();

    // Windows in passes of bounded size; passes in parallel when there is enough work.
    let per_pass = (ENTRIES_PER_PASS / n).clamp(1, windows);
    let threads = rayon::current_num_threads().max(1);
    let per_pass = if n * windows >= PARALLEL_ENTRIES && threads > 1 {
        per_pass.min(windows.div_ceil(threads))
    } else {
        per_pass
    };
    let passes: Vec<(usize, usize)> = (0..windows)
        .step_by(per_pass)
        .map(|w0| (w0, (w0 + per_pass).min(windows)))
        .collect();
    let sums: Vec<Vec<blst_p1>> = if passes.len() > 1 && n * windows >= PARALLEL_ENTRIES {
        passes
            .par_iter()
            .map(|&(w0, w1)| window_sums(&pts, &digits, c, w0, w1))
            .collect()
    } else {
        passes
            .iter()
            .map(|&(w0, w1)| window_sums(&pts, &digits, c, w0, w1))
            .collect()
    };
    // Horner over the windows, most significant first.
    let mut acc = blst_p1::default();
    for s in sums.iter().flatten().rev() {
        for _ in 0..c {
            ffi::p1_double_assign(&mut acc);
        }
        ffi::p1_add_or_double_assign(&mut acc, s);
    }
    acc
}

/// The window width minimising a simple cost model in field multiplications: ~6 per entry
/// (batch-affine addition), ~24 per bucket for the two running sums, ~9 per Horner doubling.
fn window_bits(n: usize, nbits: usize) -> usize {
    (2..=16)
        .min_by_key(|&c| {
            let windows = nbits / c + 1;
            windows * (6 * n + 24 * (1usize << (c - 1)) + 9 * c)
        })
        .expect("nonempty range")
}

/// Signed digits, `digits[i * windows + w]` for live point `i`.
struct Digits {
    d: Vec<i32>,
    windows: usize,
}

impl Digits {
    fn new(live: &[usize], scalars: &[u8], nbytes: usize, c: usize, windows: usize) -> Self {
        let half = 1i32 << (c - 1);
        let mut d = Vec::with_capacity(live.len() * windows);
        for &i in live {
            let s = &scalars[i * nbytes..(i + 1) * nbytes];
            let mut carry = 0i32;
            for w in 0..windows {
                let mut v = bits(s, w * c, c) as i32 + carry;
                carry = 0;
                if v > half {
                    v -= 1 << c;
                    carry = 1;
                }
                d.push(v);
            }
            debug_assert_eq!(carry, 0, "the top window absorbs the carry");
        }
        Self { d, windows }
    }

    fn get(&self, i: usize, w: usize) -> i32 {
        self.d[i * self.windows + w]
    }
}

/// Bits `off .. off + c` of a little-endian integer (zero beyond its end), `c ≤ 16`.
fn bits(s: &[u8], off: usize, c: usize) -> u32 {
    let byte = off / 8;
    let mut v = 0u32;
    for k in 0..3 {
        if let Some(b) = s.get(byte + k) {
            v |= (*b as u32) << (8 * k);
        }
    }
    (v >> (off % 8)) & ((1 << c) - 1)
}

/// `S_w = Σ_b b·B_{w,b}` for windows `w0..w1`.
fn window_sums(
    pts: &[&blst_p1_affine],
    digits: &Digits,
    c: usize,
    w0: usize,
    w1: usize,
) -> Vec<blst_p1> {
    let buckets = 1usize << (c - 1);
    let keys = (w1 - w0) * buckets;
    // Counting sort of the entries by (window, |digit|).
    let mut start = vec![0u32; keys + 1];
    for i in 0..pts.len() {
        for w in w0..w1 {
            let d = digits.get(i, w);
            if d != 0 {
                start[(w - w0) * buckets + d.unsigned_abs() as usize] += 1;
            }
        }
    }
    for k in 0..keys {
        start[k + 1] += start[k];
    }
    let total = start[keys] as usize;
    let mut xs = vec![blst_fp::default(); total];
    let mut ys = vec![blst_fp::default(); total];
    let mut fill = start.clone();
    for (i, p) in pts.iter().enumerate() {
        for w in w0..w1 {
            let d = digits.get(i, w);
            if d == 0 {
                continue;
            }
            let k = (w - w0) * buckets + d.unsigned_abs() as usize - 1;
            let at = fill[k] as usize;
            fill[k] += 1;
            xs[at] = p.x;
            if d < 0 {
                fp_cneg(&mut ys[at], &p.y, true);
            } else {
                ys[at] = p.y;
            }
        }
    }
    let mut groups: Vec<(u32, u32)> = (0..keys).map(|k| (start[k], start[k + 1])).collect();
    reduce(&mut xs, &mut ys, &mut groups);

    (0..w1 - w0)
        .map(|wi| {
            let mut running = blst_p1::default();
            let mut sum = blst_p1::default();
            let mut started = false;
            for b in (0..buckets).rev() {
                let (s, e) = groups[wi * buckets + b];
                if e > s {
                    let p = blst_p1_affine {
                        x: xs[s as usize],
                        y: ys[s as usize],
                    };
                    ffi::p1_add_or_double_affine_assign(&mut running, &p);
                    started = true;
                }
                if started {
                    ffi::p1_add_or_double_assign(&mut sum, &running);
                }
            }
            sum
        })
        .collect()
}

/// How a pair of a round combines.
#[derive(Clone, Copy)]
enum Pair {
    /// Different `x`: slope `(y₂ − y₁)/(x₂ − x₁)`.
    Add,
    /// The same point: slope `3x²/(2y)`.
    Double,
    /// `P + (−P)`: nothing.
    Cancel,
}

/// Rounds of pairwise affine additions inside every group (`(start, end)` into `xs`/`ys`)
/// until each holds at most one point; afterwards a group's point, if any, is at its start.
fn reduce(xs: &mut [blst_fp], ys: &mut [blst_fp], groups: &mut [(u32, u32)]) {
    let mut kinds: Vec<Pair> = Vec::new();
    let mut den: Vec<blst_fp> = Vec::new();
    let mut num: Vec<blst_fp> = Vec::new();
    let mut pre: Vec<blst_fp> = Vec::new();
    loop {
        kinds.clear();
        den.clear();
        num.clear();
        for &(s, e) in groups.iter() {
            let (s, e) = (s as usize, e as usize);
            for a in (s..e.saturating_sub(1)).step_by(2) {
                let (x1, y1, x2, y2) = (&xs[a], &ys[a], &xs[a + 1], &ys[a + 1]);
                if x1.l != x2.l {
                    let (mut d, mut u) = (blst_fp::default(), blst_fp::default());
                    fp_sub(&mut d, x2, x1);
                    fp_sub(&mut u, y2, y1);
                    den.push(d);
                    num.push(u);
                    kinds.push(Pair::Add);
                } else if y1.l == y2.l {
                    let (mut d, mut u) = (blst_fp::default(), blst_fp::default());
                    fp_add(&mut d, y1, y1);
                    fp_sqr(&mut u, x1);
                    fp_mul_by_3_assign(&mut u);
                    den.push(d);
                    num.push(u);
                    kinds.push(Pair::Double);
                } else {
                    kinds.push(Pair::Cancel);
                }
            }
        }
        if kinds.is_empty() {
            return;
        }
        invert_all(&mut den, &mut pre);
        // Results go to the front of each group, followed by an odd one out.
        let (mut pair, mut inv) = (0usize, 0usize);
        for g in groups.iter_mut() {
            let (s, e) = (g.0 as usize, g.1 as usize);
            let mut out = s;
            let mut a = s;
            while a + 1 < e {
                match kinds[pair] {
                    Pair::Cancel => {}
                    Pair::Add | Pair::Double => {
                        let x2 = xs[a + 1];
                        let (x1, y1) = (xs[a], ys[a]);
                        finish(
                            &mut xs[out],
                            &mut ys[out],
                            &x1,
                            &y1,
                            &x2,
                            &num[inv],
                            &den[inv],
                        );
                        inv += 1;
                        out += 1;
                    }
                }
                pair += 1;
                a += 2;
            }
            if a < e {
                xs[out] = xs[a];
                ys[out] = ys[a];
                out += 1;
            }
            g.1 = out as u32;
        }
    }
}

/// Replaces every element by its inverse with one field inversion (Montgomery's trick). The
/// elements must be nonzero.
fn invert_all(v: &mut [blst_fp], pre: &mut Vec<blst_fp>) {
    let Some(last) = v.len().checked_sub(1) else {
        return;
    };
    pre.clear();
    pre.push(v[0]);
    for i in 1..v.len() {
        let mut p = blst_fp::default();
        fp_mul(&mut p, &pre[i - 1], &v[i]);
        pre.push(p);
    }
    let mut inv = blst_fp::default();
    fp_eucl_inverse(&mut inv, &pre[last]);
    for i in (1..v.len()).rev() {
        let mut this = blst_fp::default();
        fp_mul(&mut this, &inv, &pre[i - 1]);
        fp_mul_assign(&mut inv, &v[i]);
        v[i] = this;
    }
    v[0] = inv;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::cofactor::torsion_point;
    use crate::group::fixed_base::generator_table;
    use crate::group::point::{
        g1_generator, g1_mul_ct, p1_add, p1_add_affine, p1_eq, p1_to_affine,
    };
    use crate::scalar::Scalar;
    use rand_chacha::ChaCha20Rng;
    use rand_core::Rng as _;
    use rand_core::SeedableRng;

    /// blst's Pippenger: the reference.
    fn reference(points: &[blst_p1_affine], scalars: &[u8], nbits: usize) -> blst_p1 {
        let mut acc = blst_p1::default();
        let nbytes = nbits.div_ceil(8);
        for (p, s) in points.iter().zip(scalars.chunks(nbytes)) {
            let t = ffi::p1_mult(&ffi::p1_from_affine(p), s, nbits);
            ffi::p1_add_or_double_assign(&mut acc, &t);
        }
        acc
    }

    fn random_points(rng: &mut ChaCha20Rng, n: usize) -> Vec<blst_p1_affine> {
        (0..n)
            .map(|_| {
                let s = Scalar::random(rng);
                p1_to_affine(&generator_table().mul(&s))
            })
            .collect()
    }

    fn random_scalars(rng: &mut ChaCha20Rng, n: usize, nbits: usize) -> Vec<u8> {
        let nbytes = nbits.div_ceil(8);
        let mut out = vec![0u8; n * nbytes];
        rng.fill_bytes(&mut out);
        for s in out.chunks_mut(nbytes) {
            let extra = nbytes * 8 - nbits;
            if extra > 0 {
                s[nbytes - 1] &= 0xff >> extra;
            }
        }
        out
    }

    #[test]
    fn matches_blst_for_sizes_and_widths() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for &n in &[1usize, 2, 3, 7, 33, 200, 700] {
            let pts = random_points(&mut rng, n);
            for &nbits in &[1usize, 8, 64, 128, 129, 255] {
                let sc = random_scalars(&mut rng, n, nbits);
                assert!(
                    p1_eq(
                        &msm_batch_affine(&pts, &sc, nbits),
                        &reference(&pts, &sc, nbits)
                    ),
                    "n={n} nbits={nbits}"
                );
            }
        }
    }

    #[test]
    fn exceptional_inputs() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let p = random_points(&mut rng, 3);
        let neg = |q: &blst_p1_affine| {
            let mut o = *q;
            fp_cneg(&mut o.y, &q.y, true);
            o
        };
        let inf = blst_p1_affine::default();
        // Equal points with equal digits (doublings), opposite points with equal digits
        // (cancellations), identities, zero scalars, and a sum that is the identity.
        let cases: Vec<(Vec<blst_p1_affine>, Vec<u8>)> = vec![
            (vec![p[0]; 64], vec![5u8; 64]),
            (
                [vec![p[0]; 32], vec![neg(&p[0]); 32]].concat(),
                vec![9u8; 64],
            ),
            (vec![inf, p[1], inf, p[2]], vec![3, 4, 5, 6]),
            (vec![p[0], p[1], p[2]], vec![0, 0, 0]),
            (vec![p[0], neg(&p[0])], vec![77, 77]),
            (
                (0..300)
                    .map(|i| if i % 3 == 0 { p[i % 2] } else { neg(&p[1]) })
                    .collect(),
                (0..300).map(|i| (i % 7) as u8).collect(),
            ),
        ];
        for (i, (pts, sc)) in cases.iter().enumerate() {
            assert!(
                p1_eq(&msm_batch_affine(pts, sc, 8), &reference(pts, sc, 8)),
                "case {i}"
            );
        }
    }

    #[test]
    fn points_outside_g1() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let t = torsion_point();
        let mut pts = random_points(&mut rng, 50);
        for (i, p) in pts.iter_mut().enumerate() {
            if i % 2 == 0 {
                *p = p1_to_affine(&p1_add_affine(&ffi::p1_from_affine(p), &t));
            }
        }
        pts.push(t);
        pts.push(t);
        let sc = random_scalars(&mut rng, pts.len(), 128);
        assert!(p1_eq(
            &msm_batch_affine(&pts, &sc, 128),
            &reference(&pts, &sc, 128)
        ));
    }

    #[test]
    fn msm_matches_naive() {
        let mut r = ChaCha20Rng::seed_from_u64(7);
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
}
