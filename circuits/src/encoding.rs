//! Canonical encodings shared by the public types.
//!
//! Field elements: 32 bytes big-endian, below `r` (curtain's scalar convention). Curve points
//! and keys: ark-serialize compressed (ZCash flag conventions for BLS12-381, the same bytes as
//! blst), decoded with subgroup checks and re-encoded to reject any second encoding.

use crate::{DecodeError, Fr};
use ark_ff::{BigInteger, PrimeField};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

/// A uniform field element: 64 random bytes reduced modulo `r` (bias below 2^-128).
pub(crate) fn random_fr<R: CryptoRng + ?Sized>(rng: &mut R) -> Fr {
    let mut wide = Zeroizing::new([0u8; 64]);
    rng.fill_bytes(wide.as_mut());
    Fr::from_be_bytes_mod_order(wide.as_ref())
}

/// 32-byte big-endian encoding of a field element.
pub fn fr_to_be_bytes(x: &Fr) -> [u8; 32] {
    x.into_bigint()
        .to_bytes_be()
        .try_into()
        .expect("Fr is 32 bytes")
}

/// Decodes [`fr_to_be_bytes`]; values `≥ r` are rejected, not reduced.
pub fn fr_from_be_bytes(bytes: &[u8; 32]) -> Result<Fr, DecodeError> {
    let mut le = *bytes;
    le.reverse();
    Fr::deserialize_with_mode(&le[..], Compress::Yes, Validate::Yes)
        .map_err(|_| DecodeError::ScalarOutOfRange)
}

/// Decodes exactly `bytes` as a compressed, validated value and checks that re-encoding gives
/// the same bytes. `Err(None)` means non-canonical; `Err(Some(e))` is ark-serialize's complaint.
pub(crate) fn decode_canonical<T: CanonicalDeserialize + CanonicalSerialize>(
    bytes: &[u8],
) -> Result<T, Option<String>> {
    let mut reader = bytes;
    let value = T::deserialize_with_mode(&mut reader, Compress::Yes, Validate::Yes)
        .map_err(|e| Some(e.to_string()))?;
    if !reader.is_empty() {
        return Err(Some(format!("{} trailing bytes", reader.len())));
    }
    if encode(&value) != bytes {
        return Err(None);
    }
    Ok(value)
}

/// Uncompressed encoding (for handing points to blst).
pub(crate) fn encode_uncompressed<T: CanonicalSerialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.uncompressed_size());
    value
        .serialize_uncompressed(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}

/// Compressed encoding.
pub(crate) fn encode<T: CanonicalSerialize>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.compressed_size());
    value
        .serialize_compressed(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{One, Zero};

    #[test]
    fn scalars_round_trip_and_reject_unreduced() {
        for x in [Fr::zero(), Fr::one(), -Fr::one(), Fr::from(0x0102_0304u64)] {
            assert_eq!(fr_from_be_bytes(&fr_to_be_bytes(&x)).unwrap(), x);
        }
        assert_eq!(fr_to_be_bytes(&Fr::one())[31], 1);
        // r itself and 2^256 - 1 are not canonical encodings.
        let r: [u8; 32] = Fr::MODULUS.to_bytes_be().try_into().unwrap();
        assert_eq!(fr_from_be_bytes(&r), Err(DecodeError::ScalarOutOfRange));
        assert_eq!(
            fr_from_be_bytes(&[0xff; 32]),
            Err(DecodeError::ScalarOutOfRange)
        );
    }
}
