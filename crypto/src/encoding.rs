//! Bounded, canonical binary encoding helpers. Every length read from input is checked against
//! a cap before anything is allocated.

use crate::error::{DecodeError, PointError};
use crate::group;
use crate::scalar::Scalar;
use blst::{blst_p1_affine, blst_p2_affine};

/// A bounded reader over untrusted bytes: every read is length-checked, every length is capped
/// before allocation, and [`Reader::finish`] rejects trailing bytes.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    /// Reads a u32 length and checks it against `min..=max` before use.
    pub fn len_u32(
        &mut self,
        field: &'static str,
        min: usize,
        max: usize,
    ) -> Result<usize, DecodeError> {
        let len = self.u32(field)? as usize;
        if len < min || len > max {
            return Err(DecodeError::Length {
                field,
                len,
                min,
                max,
            });
        }
        Ok(len)
    }

    pub fn version(&mut self, what: &'static str, expected: u8) -> Result<(), DecodeError> {
        let v = self.u8(what)?;
        if v != expected {
            return Err(DecodeError::UnsupportedVersion { what, found: v });
        }
        Ok(())
    }

    pub fn scalar(&mut self, field: &'static str) -> Result<Scalar, DecodeError> {
        Scalar::from_be_bytes(&self.array(field)?).ok_or(DecodeError::Scalar(field))
    }

    pub fn g1(&mut self, field: &'static str) -> Result<blst_p1_affine, DecodeError> {
        group::g1_decompress(&self.array(field)?).map_err(|error| point(field, error))
    }

    /// An uncompressed point of E(Fp): canonical, on the curve, not the identity, possibly
    /// outside G1. Costs a curve-equation check where a compressed point costs a square root.
    pub(crate) fn g1_uncompressed_on_curve(
        &mut self,
        field: &'static str,
    ) -> Result<blst_p1_affine, DecodeError> {
        group::g1_deserialize_on_curve(&self.array(field)?).map_err(|error| point(field, error))
    }

    pub fn g2(&mut self, field: &'static str) -> Result<blst_p2_affine, DecodeError> {
        group::g2_decompress(&self.array(field)?).map_err(|error| point(field, error))
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes(self.buf.len()))
        }
    }
}

pub(crate) fn point(field: &'static str, error: PointError) -> DecodeError {
    DecodeError::Point { field, error }
}

/// Implements serde for a type with canonical `to_bytes` / `from_bytes`: raw bytes for binary
/// formats, lowercase hex for human-readable ones. Deserialisation runs the full decoder.
#[macro_export]
macro_rules! serde_via_bytes {
    ($ty:ty) => {
        impl $crate::encoding::__serde::Serialize for $ty {
            fn serialize<S: $crate::encoding::__serde::Serializer>(
                &self,
                s: S,
            ) -> Result<S::Ok, S::Error> {
                let bytes = self.to_bytes();
                if s.is_human_readable() {
                    s.serialize_str(&$crate::encoding::__hex::encode(bytes))
                } else {
                    s.serialize_bytes(&bytes)
                }
            }
        }

        impl<'de> $crate::encoding::__serde::Deserialize<'de> for $ty {
            fn deserialize<D: $crate::encoding::__serde::Deserializer<'de>>(
                d: D,
            ) -> Result<Self, D::Error> {
                use $crate::encoding::__serde::de::Error;
                if d.is_human_readable() {
                    let s = <std::borrow::Cow<'de, str> as $crate::encoding::__serde::Deserialize>::deserialize(d)?;
                    let bytes =
                        $crate::encoding::__hex::decode(s.as_bytes()).map_err(D::Error::custom)?;
                    <$ty>::from_bytes(&bytes).map_err(D::Error::custom)
                } else {
                    let bytes = <$crate::encoding::serde_bytes_buf::Buf as $crate::encoding::__serde::Deserialize>::deserialize(d)?;
                    <$ty>::from_bytes(&bytes.0).map_err(D::Error::custom)
                }
            }
        }
    };
}
#[doc(hidden)]
pub use hex as __hex;
#[doc(hidden)]
pub use serde as __serde;
pub use serde_via_bytes;

/// Minimal owned byte buffer that accepts both `bytes` and `seq` forms from deserializers.
#[doc(hidden)]
pub mod serde_bytes_buf {
    pub struct Buf(pub Vec<u8>);

    impl<'de> serde::Deserialize<'de> for Buf {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Buf;
                fn expecting(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_bytes<E>(self, v: &[u8]) -> Result<Buf, E> {
                    Ok(Buf(v.to_vec()))
                }
                fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Buf, E> {
                    Ok(Buf(v))
                }
                fn visit_seq<A: serde::de::SeqAccess<'de>>(
                    self,
                    mut a: A,
                ) -> Result<Buf, A::Error> {
                    // Cap the pre-allocation: the hint comes from untrusted input.
                    let mut v = Vec::with_capacity(a.size_hint().unwrap_or(0).min(4096));
                    while let Some(b) = a.next_element::<u8>()? {
                        v.push(b);
                    }
                    Ok(Buf(v))
                }
            }
            d.deserialize_bytes(V)
        }
    }
}
