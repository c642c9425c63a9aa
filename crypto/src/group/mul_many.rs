//! Constant-time multiplication of many G1 points by one secret scalar, in lock step.
//!
//! A member's decryption shares are `x_i·û_j` for every ciphertext of a batch: one secret
//! scalar, many public points. [`g1_mul_many_ct`] computes them all at once, bit-identical to
//! `group::g1_mul_ct` point by point, in affine coordinates with one shared field inversion per
//! step (Montgomery's trick), which makes an addition ~6 field multiplications instead of ~16.
//!
//! Method (GLV). `s = q·z² + m` by a fixed-iteration long division by the public `z²`, with
//! `q, m < 2^128`. As `λ = z² − 1` satisfies `λ² + λ + 1 ≡ 0 (mod r)`, `s ≡ λ²·(m·λ − q)`, so
//! `s·P = ψ(q·(−P) + m·φ(P))` with `φ(x, y) = (β·x, y)` acting as `[λ]` on G1 and
//! `ψ(x, y) = (β²·x, y)` as `[λ²]` (blst's `β`, the same decomposition as blst's GLV). `q` and
//! `m` are made odd (`k | 1`; the dropped one is added back at the end under a mask) and
//! written with 26 signed odd digits `±{1, 3, …, 31}` in base 32 (regular recoding: no digit is
//! ever zero). Per point: the 16 odd multiples `T[j] = (2j+1)·(−P)` (those of `φ(P)` are
//! `(β·x, −y)` of the same entries), then per window `E = T[d_q] + φT[d_m]`, five doublings of
//! the accumulator and `acc ← acc + E`: 126 doublings and 68 additions per point in all.
//!
//! Why constant time. The field operations, their order and every memory address depend only
//! on the number of points, never on the scalar or the points: the decomposition and recoding
//! are fixed-iteration integer arithmetic; a digit picks its table entry by a scan of the whole
//! table with masks, and its sign by `blst_fp_cneg`; the one inversion per step is blst's
//! constant-time `blst_fp_inverse`; the exceptional cases of the affine formulas are resolved
//! by masks inside a formula that runs the same operations in every case (see [`Work::add_acc`]).
//!
//! Exceptional cases. `E = d_q·(−P) + d_m·λ·P` with odd `|d_q|, |d_m| ≤ 31` is never the
//! identity and its two terms are never equal or opposite: that would need `d_m·λ ≡ ±d_q
//! (mod r)`, but `31·λ < r` and `λ > 31`. The table additions `T[j−1] + 2T[0]` would need
//! `2j − 1 ≡ ±2`. The accumulator, however, is `(−a + b·λ)·P` for partial digit sums `a, b`
//! when `E = (−d_q + d_m·λ)·P` is added, so a collision is a vector of the lattice
//! `{(x, y): x + y·λ ≡ 0 (mod r)}`. Its basis `(−λ, 1)`, `(1, z²)` is almost orthogonal with
//! both vectors ≈ 2^127.4 long, so no nonzero vector has both coordinates below 2^126; the
//! partial sums stay below 2^124 before the last window, so collisions can only happen in the
//! last addition and the two parity corrections (the tests exercise scalars that hit them).
//! A collision depends only on the scalar, so
//! it is the same for every point; the accumulator addition is therefore complete: it computes
//! the tangent slope when `x₁ = x₂` (doubling), flags the identity when `acc = −E`, and takes
//! `E` when the accumulator is the identity, all selected with masks. Every point of G1 but the
//! identity has `y ≠ 0` (odd order), so no denominator of a valid input is zero; a zero
//! denominator (only from a point outside G1) is replaced by 1 before the batch inversion so
//! it cannot spoil the other points' results.

use super::field::{
    add, cneg, cneg_into, eq_mask, finish, finish_assign, finish_double_assign, mul, select, sqr,
    sub, triple, zero_mask,
};
use super::glv::{glv_split, BETA};
use crate::ffi::{self, fp_add, fp_inverse, fp_mul, fp_mul_by_3_assign, fp_sqr, fp_sub};
use crate::scalar::Scalar;
use blst::{blst_fp, blst_p1_affine};
use core::hint::black_box;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Window width: 16 table entries per point.
const W: u32 = 5;
const ENTRIES: usize = 1 << (W - 1);
/// Digits of a 128-bit odd integer in base 2^W: the top one is odd and below 2^3.
const DIGITS: usize = 128usize.div_ceil(W as usize);
/// Points processed together: large enough to amortise the inversions, small enough for the
/// tables (1.5 KiB per point) to stay in L2.
const CHUNK: usize = 256;

/// `s·P` for every point: the same values as `group::g1_mul_ct`, as affine points (the identity
/// for an identity input or `s = 0`). Constant time in `s`; the points are public and must be in
/// G1. Single-threaded: callers split large batches across threads.
pub(crate) fn g1_mul_many_ct(points: &[blst_p1_affine], s: &Scalar) -> Vec<blst_p1_affine> {
    let mut out = Vec::with_capacity(points.len());
    if points.is_empty() {
        return out;
    }
    let digits = Digits::new(s);
    // equal chunks: 300 points as 150 + 150, not 256 + 44 (which pays 170 inversions for 44)
    let chunk = points.len().div_ceil(points.len().div_ceil(CHUNK));
    let mut work = Work::new(chunk);
    for chunk in points.chunks(chunk) {
        work.run(chunk, &digits, &mut out);
    }
    out
}

/// The secret scalar as two sequences of signed odd digits, least significant first, and the
/// two parity corrections.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Digits {
    /// `(|d| − 1) / 2`, the table index, for `q` (`[0]`) and `m` (`[1]`).
    index: [[u64; DIGITS]; 2],
    /// All ones where the digit is negative.
    negative: [[u64; DIGITS]; 2],
    /// All ones where `q` (`[0]`) or `m` (`[1]`) was even, so 1 was added to make it odd.
    fixed: [u64; 2],
}

impl Digits {
    fn new(s: &Scalar) -> Self {
        let (mut q, mut m) = glv_split(s);
        let mut digits = Digits {
            index: [[0; DIGITS]; 2],
            negative: [[0; DIGITS]; 2],
            fixed: [0; 2],
        };
        for (half, k) in [&mut q, &mut m].into_iter().enumerate() {
            let even = (*k as u64 & 1) ^ 1;
            digits.fixed[half] = black_box(0u64.wrapping_sub(even));
            *k |= 1;
            recode(*k, &mut digits.index[half], &mut digits.negative[half]);
        }
        q.zeroize();
        m.zeroize();
        digits
    }
}

/// Regular signed-odd recoding of an odd `k < 2^128 − 32`: `k = Σ d_i·32^i` with every
/// `d_i ∈ ±{1, 3, …, 31}` and the top digit positive. Each step keeps the remainder odd:
/// `d = (k mod 64) − 32` is odd and `(k − d) / 32` is odd and smaller than `2^(128 − 5(i+1))`.
fn recode(mut k: u128, index: &mut [u64; DIGITS], negative: &mut [u64; DIGITS]) {
    let mut put = |i: usize, d: i64| {
        let sign = d >> 63;
        let abs = (d ^ sign) - sign;
        index[i] = ((abs - 1) >> 1) as u64;
        negative[i] = sign as u64;
    };
    for i in 0..DIGITS - 1 {
        let d = (k & 63) as i64 - 32;
        k = k.wrapping_sub(d as i128 as u128) >> W;
        put(i, d);
    }
    put(DIGITS - 1, k as i64);
    k.zeroize();
}

/// Structure-of-arrays state of one chunk of points.
struct Work {
    n: usize,
    one: blst_fp,
    /// The input points (identity inputs replaced by the generator).
    px: Vec<blst_fp>,
    py: Vec<blst_fp>,
    /// `identity[p]`: the input was the identity (public).
    identity: Vec<bool>,
    /// Entry `j` of point `p` at `p·ENTRIES + j`: `(2j+1)·(−P)`.
    tx: Vec<blst_fp>,
    ty: Vec<blst_fp>,
    /// Accumulator and its identity flag (all ones when it is the identity).
    ax: Vec<blst_fp>,
    ay: Vec<blst_fp>,
    ainf: Vec<u64>,
    /// Operands: `E` (and the first selected entry) in `e`, the second entry in `f`.
    ex: Vec<blst_fp>,
    ey: Vec<blst_fp>,
    fx: Vec<blst_fp>,
    fy: Vec<blst_fp>,
    /// Slope numerators and denominators (then their inverses) of one step, and the prefix
    /// products of the batch inversion; `2n` long so a doubling and an addition share a step.
    num: Vec<blst_fp>,
    den: Vec<blst_fp>,
    pre: Vec<blst_fp>,
    /// Per-point `x₁ == x₂` masks of a complete addition.
    eqx: Vec<u64>,
}

impl Work {
    fn new(cap: usize) -> Self {
        let z = || vec![blst_fp::default(); cap];
        Work {
            n: 0,
            one: ffi::fp_from_u64(&[1, 0, 0, 0, 0, 0]),
            px: z(),
            py: z(),
            identity: vec![false; cap],
            tx: vec![blst_fp::default(); cap * ENTRIES],
            ty: vec![blst_fp::default(); cap * ENTRIES],
            ax: z(),
            ay: z(),
            ainf: vec![0; cap],
            ex: z(),
            ey: z(),
            fx: z(),
            fy: z(),
            num: vec![blst_fp::default(); 2 * cap],
            den: vec![blst_fp::default(); 2 * cap],
            pre: vec![blst_fp::default(); 2 * cap],
            eqx: vec![0; cap],
        }
    }

    fn run(&mut self, points: &[blst_p1_affine], digits: &Digits, out: &mut Vec<blst_p1_affine>) {
        let n = points.len();
        self.n = n;
        let gen = ffi::p1_affine_generator();
        for (i, p) in points.iter().enumerate() {
            // Whether an input is the identity is public.
            self.identity[i] = ffi::p1_affine_is_inf(p);
            let p = if self.identity[i] { &gen } else { p };
            self.px[i] = p.x;
            self.py[i] = p.y;
        }
        self.build_tables();

        // Top window: the accumulator starts at E (never the identity).
        self.select(digits, DIGITS - 1);
        self.step_add_e(0);
        self.ax[..n].copy_from_slice(&self.ex[..n]);
        self.ay[..n].copy_from_slice(&self.ey[..n]);
        self.ainf[..n].fill(0);

        for w in (0..DIGITS - 1).rev() {
            self.select(digits, w);
            // The first doubling shares its inversion with E = T[d_q] + φT[d_m].
            self.prepare_double(0);
            self.prepare_add(n);
            self.invert(2 * n);
            self.finish_double();
            self.finish_add_e(n);
            for _ in 1..W {
                self.prepare_double(0);
                self.invert(n);
                self.finish_double();
            }
            self.add_acc(!0);
        }

        // Parity corrections: `+P` if q was even, `−φ(P)` if m was even.
        for i in 0..n {
            self.ex[i] = self.px[i];
            self.ey[i] = self.py[i];
        }
        self.add_acc(digits.fixed[0]);
        for i in 0..n {
            self.ex[i] = mul(&self.px[i], &BETA);
            self.ey[i] = cneg(&self.py[i], !0);
        }
        self.add_acc(digits.fixed[1]);

        // ψ(acc) = (β²·x, y).
        let beta2 = sqr(&BETA);
        for i in 0..n {
            let x = mul(&self.ax[i], &beta2);
            let inf = self.ainf[i] | 0u64.wrapping_sub(self.identity[i] as u64);
            let zero = blst_fp::default();
            out.push(blst_p1_affine {
                x: select(inf, &zero, &x),
                y: select(inf, &zero, &self.ay[i]),
            });
        }
        self.wipe();
    }

    /// `T[0] = −P`, `D = 2·T[0]`, `T[j] = T[j−1] + D`.
    fn build_tables(&mut self) {
        let n = self.n;
        for i in 0..n {
            self.tx[i * ENTRIES] = self.px[i];
            self.ty[i * ENTRIES] = cneg(&self.py[i], !0);
        }
        for i in 0..n {
            let (x, y) = (self.tx[i * ENTRIES], self.ty[i * ENTRIES]);
            self.num[i] = triple(&sqr(&x));
            self.den[i] = add(&y, &y);
        }
        self.invert(n);
        for i in 0..n {
            let (x, y) = (&self.tx[i * ENTRIES], &self.ty[i * ENTRIES]);
            finish(
                &mut self.fx[i],
                &mut self.fy[i],
                x,
                y,
                x,
                &self.num[i],
                &self.den[i],
            );
        }
        for j in 1..ENTRIES {
            for i in 0..n {
                let k = i * ENTRIES + j - 1;
                self.num[i] = sub(&self.fy[i], &self.ty[k]);
                self.den[i] = sub(&self.fx[i], &self.tx[k]);
            }
            self.invert(n);
            for i in 0..n {
                // Entry j is written from entry j − 1 of the same point's table.
                let k = i * ENTRIES + j - 1;
                let (tx_done, tx_next) = self.tx.split_at_mut(k + 1);
                let (ty_done, ty_next) = self.ty.split_at_mut(k + 1);
                finish(
                    &mut tx_next[0],
                    &mut ty_next[0],
                    &tx_done[k],
                    &ty_done[k],
                    &self.fx[i],
                    &self.num[i],
                    &self.den[i],
                );
            }
        }
    }

    /// Loads `T[d_q]` into `e` and `φT[d_m]` into `f` for window `w`, scanning every entry.
    fn select(&mut self, digits: &Digits, w: usize) {
        let mut mq = [0u64; ENTRIES];
        let mut mm = [0u64; ENTRIES];
        for j in 0..ENTRIES {
            mq[j] = zero_mask(j as u64 ^ digits.index[0][w]);
            mm[j] = zero_mask(j as u64 ^ digits.index[1][w]);
        }
        let (nq, nm) = (digits.negative[0][w], digits.negative[1][w]);
        for i in 0..self.n {
            let tx = &self.tx[i * ENTRIES..(i + 1) * ENTRIES];
            let ty = &self.ty[i * ENTRIES..(i + 1) * ENTRIES];
            let mut qx = [0u64; 6];
            let mut qy = [0u64; 6];
            let mut mx = [0u64; 6];
            let mut my = [0u64; 6];
            for j in 0..ENTRIES {
                for l in 0..6 {
                    qx[l] |= tx[j].l[l] & mq[j];
                    qy[l] |= ty[j].l[l] & mq[j];
                    mx[l] |= tx[j].l[l] & mm[j];
                    my[l] |= ty[j].l[l] & mm[j];
                }
            }
            let (qy, mx, my) = (blst_fp { l: qy }, blst_fp { l: mx }, blst_fp { l: my });
            self.ex[i] = blst_fp { l: qx };
            // d·(−P) for d = ±(2j+1): negate for negative digits.
            cneg_into(&mut self.ey[i], &qy, nq);
            // d·φ(P) = φ(−d·(−P)) = (β·x, ∓y): negate for positive digits.
            fp_mul(&mut self.fx[i], &mx, &BETA);
            cneg_into(&mut self.fy[i], &my, !nm);
        }
    }

    /// Slope parts of doubling the accumulator, at `num/den[off..off + n]`.
    fn prepare_double(&mut self, off: usize) {
        for i in 0..self.n {
            let (num, ay) = (&mut self.num[off + i], &self.ay[i]);
            fp_sqr(num, &self.ax[i]);
            fp_mul_by_3_assign(num);
            fp_add(&mut self.den[off + i], ay, ay);
        }
    }

    fn finish_double(&mut self) {
        let n = self.n;
        let acc = self.ax[..n].iter_mut().zip(&mut self.ay[..n]);
        for ((x, y), (num, den)) in acc.zip(self.num[..n].iter().zip(&self.den[..n])) {
            finish_double_assign(x, y, num, den);
        }
    }

    /// Slope parts of `e + f` (never exceptional, see the module comment) at `off`.
    fn prepare_add(&mut self, off: usize) {
        for i in 0..self.n {
            fp_sub(&mut self.num[off + i], &self.fy[i], &self.ey[i]);
            fp_sub(&mut self.den[off + i], &self.fx[i], &self.ex[i]);
        }
    }

    /// `e ← e + f` from the inverted step at `off`.
    fn finish_add_e(&mut self, off: usize) {
        let n = self.n;
        let e = self.ex[..n].iter_mut().zip(&mut self.ey[..n]);
        let slopes = self.num[off..off + n].iter().zip(&self.den[off..off + n]);
        for (((x, y), x2), (num, den)) in e.zip(&self.fx[..n]).zip(slopes) {
            finish_assign(x, y, x2, num, den);
        }
    }

    /// `e ← e + f` as a step of its own.
    fn step_add_e(&mut self, off: usize) {
        self.prepare_add(off);
        self.invert(off + self.n);
        self.finish_add_e(off);
    }

    /// Complete addition `acc ← acc + e` where `apply` is all ones (kept as is where zero);
    /// `e` is never the identity. The same operations run in every case:
    /// - `x_acc == x_e` (acc = ±e): the tangent slope `3x²/2y` replaces the chord slope, which
    ///   gives `2·acc` for acc = e; for acc = −e the result is flagged as the identity and its
    ///   coordinates hold `2·acc`, a valid point with `y ≠ 0` for the doublings that follow;
    /// - acc is the identity: the result is `e`.
    fn add_acc(&mut self, apply: u64) {
        let n = self.n;
        for i in 0..n {
            let (ax, ay, ex, ey) = (&self.ax[i], &self.ay[i], &self.ex[i], &self.ey[i]);
            let eqx = eq_mask(ax, ex);
            self.eqx[i] = eqx;
            self.num[i] = select(eqx, &triple(&sqr(ax)), &sub(ey, ay));
            self.den[i] = select(eqx, &add(ay, ay), &sub(ex, ax));
        }
        self.invert(n);
        for i in 0..n {
            let (ax, ay, ex, ey) = (self.ax[i], self.ay[i], self.ex[i], self.ey[i]);
            let mut x3 = blst_fp::default();
            let mut y3 = blst_fp::default();
            finish(&mut x3, &mut y3, &ax, &ay, &ex, &self.num[i], &self.den[i]);
            let inf = self.ainf[i];
            let cancels = !inf & self.eqx[i] & !eq_mask(&ay, &ey);
            let x = select(inf, &ex, &x3);
            let y = select(inf, &ey, &y3);
            self.ax[i] = select(apply, &x, &ax);
            self.ay[i] = select(apply, &y, &ay);
            self.ainf[i] = (apply & cancels) | (!apply & inf);
            #[cfg(test)]
            if i == 0 {
                EXCEPTIONS.with(|e| {
                    let (c, t) = e.get();
                    e.set((c + (cancels & 1) as usize, t + (self.eqx[0] & 1) as usize));
                });
            }
        }
    }

    /// Replaces `den[..len]` by the inverses (zero denominators by 1 first, so an invalid
    /// point cannot zero the others): Montgomery's trick with one constant-time inversion.
    fn invert(&mut self, len: usize) {
        let (den, pre) = (&mut self.den[..len], &mut self.pre[..len]);
        let one = self.one;
        let mut inv = [blst_fp::default(); 2];
        // pre[i] = den[0]·…·den[i], each written from the one before it.
        let mut prev: Option<&blst_fp> = None;
        for (d, p) in den.iter_mut().zip(pre.iter_mut()) {
            let mut z = 0;
            for l in d.l {
                z |= l;
            }
            *d = select(zero_mask(z), &one, d);
            match prev {
                None => *p = *d,
                Some(q) => fp_mul(p, q, d),
            }
            prev = Some(p);
        }
        fp_inverse(&mut inv[0], &pre[len - 1]);
        // inv[k] = 1 / (den[0]·…·den[i]); ping-pong so no result is copied.
        let mut k = 0;
        for i in (1..len).rev() {
            let (cur, next) = if k == 0 {
                let (a, b) = inv.split_at_mut(1);
                (&a[0], &mut b[0])
            } else {
                let (a, b) = inv.split_at_mut(1);
                (&b[0], &mut a[0])
            };
            fp_mul(next, cur, &den[i]);
            fp_mul(&mut den[i], cur, &pre[i - 1]);
            k ^= 1;
        }
        den[0] = inv[k];
    }

    /// Clears everything derived from the scalar.
    fn wipe(&mut self) {
        for v in [
            &mut self.tx,
            &mut self.ty,
            &mut self.ax,
            &mut self.ay,
            &mut self.ex,
            &mut self.ey,
            &mut self.fx,
            &mut self.fy,
            &mut self.num,
            &mut self.den,
            &mut self.pre,
        ] {
            for e in v.iter_mut() {
                e.l.zeroize();
            }
        }
        self.ainf.as_mut_slice().zeroize();
        self.eqx.as_mut_slice().zeroize();
    }
}

#[cfg(test)]
thread_local! {
    /// (additions that cancelled to the identity, additions that took the tangent) of point 0,
    /// so tests can tell that a scalar drives the exceptional cases.
    static EXCEPTIONS: core::cell::Cell<(usize, usize)> = const { core::cell::Cell::new((0, 0)) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::encode::g1_serialize;
    use crate::group::glv::ZZ;
    use crate::group::point::{g1_generator, g1_mul_ct, p1_to_affine};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn rng(seed: u64) -> ChaCha20Rng {
        ChaCha20Rng::seed_from_u64(seed)
    }

    fn random_points(n: usize, r: &mut ChaCha20Rng) -> Vec<blst_p1_affine> {
        (0..n)
            .map(|_| p1_to_affine(&g1_mul_ct(&g1_generator(), &Scalar::random(r))))
            .collect()
    }

    fn check(points: &[blst_p1_affine], s: &Scalar) {
        let got = g1_mul_many_ct(points, s);
        assert_eq!(got.len(), points.len());
        for (p, g) in points.iter().zip(&got) {
            let want = p1_to_affine(&g1_mul_ct(p, s));
            assert_eq!(g1_serialize(g), g1_serialize(&want));
        }
    }

    fn from_u128(v: u128) -> Scalar {
        let mut be = [0u8; 32];
        be[16..].copy_from_slice(&v.to_be_bytes());
        Scalar::from_be_bytes(&be).unwrap()
    }

    fn lambda() -> Scalar {
        from_u128(ZZ - 1)
    }

    #[test]
    fn beta_acts_as_lambda() {
        let p = random_points(1, &mut rng(1))[0];
        let lp = p1_to_affine(&g1_mul_ct(&p, &lambda()));
        assert!(eq_mask(&lp.x, &mul(&p.x, &BETA)) == !0);
        assert!(eq_mask(&lp.y, &p.y) == !0);
        // λ² + λ + 1 = 0
        let l = lambda();
        assert!(l.mul(&l).add(&l).add(&Scalar::one()).is_zero());
    }

    #[test]
    fn split_and_recode_reconstruct() {
        let mut r = rng(2);
        let zz = from_u128(ZZ);
        for s in [Scalar::zero(), Scalar::one().neg(), Scalar::random(&mut r)] {
            let (q, m) = glv_split(&s);
            assert!(m < ZZ);
            assert_eq!(from_u128(q).mul(&zz).add(&from_u128(m)), s);
            let d = Digits::new(&s);
            for (half, k) in [q, m].into_iter().enumerate() {
                // Σ d_i·32^i = k | 1, with k | 1 − k given by `fixed`.
                let mut acc = Scalar::zero();
                for i in (0..DIGITS).rev() {
                    let mag = Scalar::from_u64(2 * d.index[half][i] + 1);
                    let digit = if d.negative[half][i] == !0 {
                        mag.neg()
                    } else {
                        mag
                    };
                    acc = acc.mul(&Scalar::from_u64(32)).add(&digit);
                }
                assert_eq!(acc, from_u128(k | 1));
                assert_eq!(d.fixed[half] == !0, k & 1 == 0);
                assert_eq!(d.negative[half][DIGITS - 1], 0);
            }
        }
    }

    #[test]
    fn matches_blst_for_batch_sizes() {
        let mut r = rng(3);
        let points = random_points(257, &mut r);
        for n in [0, 1, 2, 3, 17, 64, 257] {
            check(&points[..n], &Scalar::random(&mut r));
        }
    }

    #[test]
    fn matches_blst_for_edge_scalars() {
        let mut r = rng(4);
        let points = random_points(3, &mut r);
        let one = Scalar::one();
        let l = lambda();
        let mut edge = vec![
            Scalar::zero(),
            one,
            Scalar::from_u64(2),
            Scalar::from_u64(3),
            Scalar::from_u64(31),
            Scalar::from_u64(32),
            Scalar::from_u64(33),
            one.neg(),
            Scalar::from_u64(2).neg(),
            l,
            l.add(&one),
            l.neg(),
            l.mul(&l),
            from_u128(u128::MAX),
            from_u128(u128::MAX).add(&one),
            from_u128(ZZ),
            from_u128(ZZ).sub(&one).neg(),
        ];
        // Every q/m digit the same: all-zero bytes, all-0xff below r, and repeated patterns.
        for byte in [0x00u8, 0xff, 0x84, 0x21, 0x7b] {
            let mut be = [byte; 32];
            be[0] &= 0x3f;
            edge.push(Scalar::from_be_bytes(&be).unwrap());
        }
        // Scalars whose halves q, m are each all-max or all-min digits: q·z² + m.
        let zz = from_u128(ZZ);
        for (q, m) in [
            (0u128, ZZ - 1),
            ((1u128 << 127) - 1, 0),
            ((1u128 << 127) - 1, ZZ - 1),
            (1, 1),
            (
                0x8421_0842_1084_2108_4210_8421_0842_1084,
                0x7bde_f7bd_ef7b_def7_bdef_7bde_f7bd_ef7b,
            ),
        ] {
            edge.push(from_u128(q).mul(&zz).add(&from_u128(m)));
        }
        for s in &edge {
            check(&points, s);
        }
    }

    /// Scalars that drive the complete addition through its exceptional cases. With
    /// `c = −q' + m'·λ` the accumulator's multiple of P after the main loop:
    /// - `s = r − 1` (q = λ, m = 0) and `s = r − z²` (q = λ − 1, m = 1): `q' = λ`, `m' = 1`, so
    ///   the last addition is `acc + E = O` and a parity correction then starts from O;
    /// - `s = (λ − 62)·z² + 63`: the last window's `acc = E` (both equal `31·(λ + 1)·P`), a
    ///   doubling;
    /// - `s = 0`: the second correction cancels (`λ·P − λ·P`).
    #[test]
    fn matches_blst_when_accumulator_collides() {
        let mut r = rng(5);
        let points = random_points(2, &mut r);
        let zz = from_u128(ZZ);
        for (s, cancels, tangents) in [
            (Scalar::one().neg(), 1, 1),
            (zz.neg(), 1, 1),
            (from_u128(ZZ - 63).mul(&zz).add(&Scalar::from_u64(63)), 0, 1),
            (Scalar::zero(), 1, 1),
        ] {
            EXCEPTIONS.with(|e| e.set((0, 0)));
            check(&points, &s);
            let (c, t) = EXCEPTIONS.with(|e| e.get());
            assert!(c >= cancels && t >= tangents, "{c} {t}");
        }
        // Random scalars never meet them.
        EXCEPTIONS.with(|e| e.set((0, 0)));
        check(&points, &Scalar::random(&mut r));
        assert_eq!(EXCEPTIONS.with(|e| e.get()), (0, 0));
    }

    #[test]
    fn identity_input_maps_to_identity() {
        let mut r = rng(6);
        let mut points = random_points(3, &mut r);
        points[1] = blst_p1_affine::default();
        let s = Scalar::random(&mut r);
        let got = g1_mul_many_ct(&points, &s);
        assert!(ffi::p1_affine_is_inf(&got[1]));
        check(&points, &s);
    }
}
