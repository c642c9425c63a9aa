//! Point encodings: compressed (48 and 96 bytes) and uncompressed G1 (96 bytes), decoded with
//! every check their use needs and re-encoded to reject a second encoding of the same point.

use super::point::{g1_in_subgroup, g1_is_inf};
use crate::error::PointError;
use crate::ffi;
use blst::{blst_p1_affine, blst_p2_affine, BLST_ERROR};

pub(crate) const G1_COMPRESSED: usize = 48;
pub(crate) const G1_UNCOMPRESSED: usize = 96;
pub(crate) const G2_COMPRESSED: usize = 96;

/// What a blst decoder's failure means for the caller.
fn point_error(e: BLST_ERROR) -> PointError {
    match e {
        BLST_ERROR::BLST_POINT_NOT_ON_CURVE => PointError::NotOnCurve,
        _ => PointError::Encoding,
    }
}

/// Decodes a compressed G1 point that must be canonical, on the curve, in the prime-order
/// subgroup and not the identity.
pub(crate) fn g1_decompress(bytes: &[u8; G1_COMPRESSED]) -> Result<blst_p1_affine, PointError> {
    let p = g1_decompress_on_curve(bytes)?;
    if !g1_in_subgroup(&p) {
        return Err(PointError::NotInSubgroup);
    }
    Ok(p)
}

/// Decodes a compressed point of E(Fp) that must be canonical, on the curve and not the
/// identity; subgroup membership is NOT checked (see `torsion_only`).
pub(crate) fn g1_decompress_on_curve(
    bytes: &[u8; G1_COMPRESSED],
) -> Result<blst_p1_affine, PointError> {
    let p = ffi::p1_uncompress(bytes).map_err(point_error)?;
    if g1_is_inf(&p) {
        return Err(PointError::Identity);
    }
    // blst already rejects x >= p; the round trip also pins the flag bits.
    if g1_compress(&p) != *bytes {
        return Err(PointError::NonCanonical);
    }
    Ok(p)
}

pub(crate) fn g1_compress(p: &blst_p1_affine) -> [u8; G1_COMPRESSED] {
    ffi::p1_affine_compress(p)
}

/// Decodes an uncompressed G1 point that must be canonical, on the curve and not the identity.
/// Subgroup membership is NOT checked here: decryption shares are decoded this way and their
/// membership is established lazily (see `combine`), because a subgroup check costs ~3x a
/// decompression and the optimistic path does not need it per share.
pub(crate) fn g1_deserialize_on_curve(
    bytes: &[u8; G1_UNCOMPRESSED],
) -> Result<blst_p1_affine, PointError> {
    let p = ffi::p1_deserialize(bytes).map_err(point_error)?;
    if g1_is_inf(&p) {
        return Err(PointError::Identity);
    }
    if g1_serialize(&p) != *bytes {
        return Err(PointError::NonCanonical);
    }
    Ok(p)
}

pub(crate) fn g1_serialize(p: &blst_p1_affine) -> [u8; G1_UNCOMPRESSED] {
    ffi::p1_affine_serialize(p)
}

/// Decodes a compressed G2 point: canonical, on the curve, in the subgroup, not the identity.
pub(crate) fn g2_decompress(bytes: &[u8; G2_COMPRESSED]) -> Result<blst_p2_affine, PointError> {
    let p = ffi::p2_uncompress(bytes).map_err(point_error)?;
    if ffi::p2_affine_is_inf(&p) {
        return Err(PointError::Identity);
    }
    if g2_compress(&p) != *bytes {
        return Err(PointError::NonCanonical);
    }
    if !ffi::p2_affine_in_g2(&p) {
        return Err(PointError::NotInSubgroup);
    }
    Ok(p)
}

pub(crate) fn g2_compress(p: &blst_p2_affine) -> [u8; G2_COMPRESSED] {
    ffi::p2_affine_compress(p)
}

#[cfg(test)]
mod tests {
    use super::*;

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
