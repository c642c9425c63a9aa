//! The GLV endomorphism of G1 and the scalar decomposition it needs: `φ(x, y) = (β·x, y)` acts
//! as `[λ]` with `λ = z² − 1`, and a scalar `s = q·z² + m` with `q, m < 2^128` multiplies a
//! point as `s·P = q·φ(P) + (q + m)·P` (as `z² = λ + 1`). Used by the constant-time lock-step
//! multiplication (`mul_many`) and by the batched validity check (`ciphertext`).

use crate::ffi::fp_mul;
use crate::scalar::Scalar;
use blst::{blst_fp, blst_p1_affine};
use core::hint::black_box;
use zeroize::Zeroize;

/// `z²` for BLS12-381's `z = −0xd201000000010000`.
pub(super) const ZZ: u128 = 0xac45_a401_0001_a402_0000_0001_0000_0000;

/// `β` (a primitive cube root of unity in Fp) in Montgomery form, as in blst's e1.c:
/// `(β·x, y) = [λ]·(x, y)` on G1 with `λ = z² − 1`.
pub(super) const BETA: blst_fp = blst_fp {
    l: [
        0xcd03_c9e4_8671_f071,
        0x5dab_2246_1fcd_a5d2,
        0x5870_42af_d385_1b95,
        0x8eb6_0ebe_01ba_cb9e,
        0x03f9_7d6e_83d0_50d2,
        0x18f0_2065_5463_8741,
    ],
};

/// `φ(x, y) = (β·x, y)`: `[λ]` on G1 (variable time is fine: one field multiplication).
pub(crate) fn phi(p: &blst_p1_affine) -> blst_p1_affine {
    let mut o = *p;
    fp_mul(&mut o.x, &p.x, &BETA);
    o
}

/// `(q, m)` with `s = q·z² + m`, `m < z²`, by restoring long division with a fixed number of
/// iterations and masked subtractions. `q ≤ (r − 1) / z² < 2^127.5`.
pub(crate) fn glv_split(s: &Scalar) -> (u128, u128) {
    let mut bytes = s.to_le_bytes();
    let mut q = 0u128;
    let mut rem = 0u128;
    for i in (0..256).rev() {
        let bit = ((bytes[i / 8] >> (i % 8)) & 1) as u128;
        // `rem < z² < 2^128`, so `2·rem + bit` needs 129 bits: `top` is the 129th.
        let top = (rem >> 127) as u64;
        let shifted = (rem << 1) | bit;
        let (diff, borrow) = shifted.overflowing_sub(ZZ);
        let ge = top | (borrow as u64 ^ 1);
        let mask = black_box(0u64.wrapping_sub(ge)) as i64 as i128 as u128;
        rem = (diff & mask) | (shifted & !mask);
        // Quotient bits at and above 128 are zero because s < r < 2^128·z².
        if i < 128 {
            q |= (ge as u128) << i;
        }
    }
    bytes.zeroize();
    (q, rem)
}
