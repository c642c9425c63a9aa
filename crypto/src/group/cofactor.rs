//! G1's cofactor: mapping a point of E(Fp) = G1 ⊕ T onto G1, and telling torsion-only points.
//! Ciphertext points are not subgroup-checked (SPEC §2.5); clearing the cofactor is what makes
//! their G1 components the only thing that counts.

use crate::ffi;
use crate::scalar::Scalar;
use blst::{blst_p1, blst_p1_affine};

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
        ffi::p1_double_assign(&mut acc);
        if (H_EFF >> bit) & 1 == 1 {
            ffi::p1_add_or_double_assign(&mut acc, p);
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
    let mut acc = ffi::p1_from_affine(p);
    for bit in (0..63).rev() {
        ffi::p1_double_assign(&mut acc);
        if (H_EFF >> bit) & 1 == 1 {
            ffi::p1_add_or_double_affine_assign(&mut acc, p);
        }
    }
    acc
}

/// Whether a point of E(Fp) has no component in G1, i.e. lies in the torsion part T:
/// `[h_eff]·p = O` (see [`clear_cofactor`]).
pub(crate) fn torsion_only(p: &blst_p1) -> bool {
    ffi::p1_is_inf(&clear_cofactor(p))
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
        let Ok(p) = super::encode::g1_decompress_on_curve(&enc) else {
            continue;
        };
        let t = ffi::p1_mult(&ffi::p1_from_affine(&p), &R_LE, 255);
        if !ffi::p1_is_inf(&t) {
            return ffi::p1_to_affine(&t);
        }
    }
    unreachable!()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::group::encode::g1_decompress_on_curve;
    use crate::group::point::{g1_in_subgroup, p1_eq, p1_to_affine};

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
            let proj = ffi::p1_from_affine(p);
            let expect = ffi::p1_mult(&proj, &h, 64);
            assert!(p1_eq(&clear_cofactor(&proj), &expect));
            assert!(p1_eq(&clear_cofactor_affine(p), &expect));
            assert!(g1_in_subgroup(&p1_to_affine(&expect)));
        }
    }
}
