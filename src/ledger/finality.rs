//! The finality proof of a released batch, checked without commonware (SPEC.md §5.4).
//!
//! A proof is a commonware simplex `Finalization` under the committee's threshold BLS scheme
//! (`bls12381_threshold::standard`, variant MinSig: signatures in G1, the public key in G2).
//! This module decodes its encoding and checks the signature byte-exactly as commonware
//! =2026.10.0 does, on blst directly, so a wallet verifies finality without the node's
//! dependencies. A test with the node feature cross-checks it against commonware's verifier.
//!
//! Encoding (commonware codec): `epoch(varint u64) ‖ view(varint u64) ‖ parent view(varint
//! u64) ‖ payload(32) ‖ signature(48, compressed G1)`. Varints are LEB128, canonical (no
//! trailing zero group, no overflow). The signed message is
//! `union_unique(namespace ‖ "_FINALIZE", proposal)` = `varint(len(ns)) ‖ ns ‖ proposal`
//! (`proposal` = the first four fields, as encoded), hashed to G1 with the DST
//! `BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_`; it verifies against the constant term of
//! the committee's public polynomial (its "identity").

use super::{Digest, CONSENSUS_NAMESPACE};
use blst::min_sig::{PublicKey, Signature};
use blst::{blst_p2_affine, BLST_ERROR};

/// commonware's MinSig message DST (`G1_MESSAGE`).
pub(super) const DST: &[u8] = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_";
/// simplex's suffix for finalize votes and certificates.
pub(super) const FINALIZE_SUFFIX: &[u8] = b"_FINALIZE";
/// commonware's `Mode::NonZeroCounter`, the only sharing mode `ModeVersion::v0` accepts.
const MODE_NON_ZERO_COUNTER: u8 = 0;
pub(super) const G1_LEN: usize = 48;
const G2_LEN: usize = 96;
/// Longest encoded finalization: three 10-byte varints, the payload and the signature.
pub const MAX_FINALIZATION_LEN: usize = 3 * 10 + 32 + G1_LEN;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FinalityError {
    #[error("input truncated while reading {0}")]
    Truncated(&'static str),
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    #[error("non-canonical or overflowing varint in {0}")]
    Varint(&'static str),
    #[error("invalid {field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
    #[error("invalid point in {field}: {error:?}")]
    Point {
        field: &'static str,
        error: BLST_ERROR,
    },
    #[error("the threshold signature does not verify")]
    BadSignature,
}

/// A decoded (not yet verified) finalization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finalization {
    pub epoch: u64,
    pub view: u64,
    /// The parent's view.
    pub parent: u64,
    /// The finalized block's digest.
    pub payload: Digest,
    signature: [u8; G1_LEN],
}

impl Finalization {
    /// Decodes exactly one finalization (bounded, canonical; the signature must be a valid,
    /// non-identity G1 point in the subgroup).
    pub fn decode(bytes: &[u8]) -> Result<Self, FinalityError> {
        let mut r = Cursor(bytes);
        let epoch = r.varint("epoch")?;
        let view = r.varint("view")?;
        let parent = r.varint("parent view")?;
        let payload = Digest(r.array("payload")?);
        let signature = r.array::<G1_LEN>("signature")?;
        r.finish()?;
        g1(&signature)?;
        Ok(Self {
            epoch,
            view,
            parent,
            payload,
            signature,
        })
    }

    /// The proposal's commonware encoding (what the certificate signs, after the namespace).
    pub fn proposal_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(62);
        for v in [self.epoch, self.view, self.parent] {
            put_varint(&mut out, v);
        }
        out.extend_from_slice(&self.payload.0);
        out
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.proposal_bytes();
        out.extend_from_slice(&self.signature);
        out
    }
}

/// How far above a released height its finality proof may be: a member proves height `h`
/// with the first finalization it holds at `h ..= h + MAX_PROOF_DISTANCE` (of `h`'s block or
/// a descendant), and a verifier links the two through at most this many released batches
/// (SPEC.md §5.4), so a verifier accepts every proof a member makes.
pub const MAX_PROOF_DISTANCE: u64 = 4095;

/// Checks finality proofs of one committee: its threshold public key and signing namespace.
#[derive(Clone, Debug)]
pub struct FinalityVerifier {
    identity: PublicKey,
    /// `namespace ‖ "_FINALIZE"`.
    finalize_namespace: Vec<u8>,
}

/// The committee's consensus public polynomial, decoded once for both uses: its constant term
/// checks certificates ([`FinalityVerifier`]), its value at a member's evaluation point checks
/// that member's partial signatures (`super::votes`).
#[derive(Clone, Debug)]
pub struct ConsensusPublic {
    /// Coefficients, constant term first; each a valid, non-identity G2 point.
    coefficients: Vec<blst_p2_affine>,
    /// The sharing's participant count: partial keys exist for indices `0..total`.
    total: u32,
}

impl ConsensusPublic {
    /// Decodes the commonware `Sharing<MinSig>` encoding (as `GET /v1/committee` serves it) of
    /// a committee of `members` with commonware's bounds: `mode(1) = 0` (`NonZeroCounter`, the
    /// only mode `ModeVersion::v0` accepts) `‖ total(4, BE) ‖ varint(u32) coefficient count ‖
    /// coefficients(96 each, compressed G2)`, total and count in `1..=members`, every
    /// coefficient a G2 point in the subgroup and not the identity (as commonware's decoder).
    pub fn from_bytes(encoded: &[u8], members: usize) -> Result<Self, FinalityError> {
        let mut r = Cursor(encoded);
        if r.u8("sharing mode")? != MODE_NON_ZERO_COUNTER {
            return Err(FinalityError::Invalid {
                field: "sharing mode",
                reason: "unsupported",
            });
        }
        let total = u32::from_be_bytes(r.array("sharing total")?) as usize;
        if total == 0 || total > members {
            return Err(FinalityError::Invalid {
                field: "sharing total",
                reason: "not in 1..=members",
            });
        }
        let coefficients = r.varint_u32("polynomial length")? as usize;
        if coefficients == 0 || coefficients > members {
            return Err(FinalityError::Invalid {
                field: "polynomial length",
                reason: "not in 1..=members",
            });
        }
        let coefficients = (0..coefficients)
            .map(|_| g2(&r.array::<G2_LEN>("polynomial coefficient")?).map(Into::into))
            .collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        Ok(Self {
            coefficients,
            total: total as u32,
        })
    }

    /// The sharing's participant count `n`: signer indices `0..n` have partial keys.
    pub fn total(&self) -> u32 {
        self.total
    }

    /// The committee's threshold public key: the polynomial's constant term.
    pub fn identity(&self) -> PublicKey {
        self.coefficients[0].into()
    }

    /// A verifier of certificates under curtain's consensus namespace.
    pub fn verifier(&self) -> FinalityVerifier {
        FinalityVerifier::new(CONSENSUS_NAMESPACE, self.identity())
    }

    /// The public key of signer `index`'s share: the polynomial at `index + 1` (commonware's
    /// `Mode::NonZeroCounter`: `f(0)` is the secret, so participant `i` gets `f(i + 1)`).
    /// `None` for `index >= total`, as commonware's `Sharing::partial_public`.
    pub fn partial_key(&self, index: u32) -> Option<PublicKey> {
        (index < self.total).then(|| {
            curtain_crypto::eval_commitments(&self.coefficients, u64::from(index) + 1).into()
        })
    }
}

impl FinalityVerifier {
    /// A verifier for curtain's consensus namespace from the committee's public polynomial
    /// (commonware `Sharing<MinSig>` encoding) of a committee of `members`: see
    /// [`ConsensusPublic::from_bytes`].
    pub fn from_consensus_public(encoded: &[u8], members: usize) -> Result<Self, FinalityError> {
        Ok(ConsensusPublic::from_bytes(encoded, members)?.verifier())
    }

    /// A verifier for certificates signed under `namespace` by the key `identity`.
    pub fn new(namespace: &[u8], identity: PublicKey) -> Self {
        let mut finalize_namespace = namespace.to_vec();
        finalize_namespace.extend_from_slice(FINALIZE_SUFFIX);
        Self {
            identity,
            finalize_namespace,
        }
    }

    /// The committee's threshold public key (compressed G2).
    pub fn identity(&self) -> [u8; G2_LEN] {
        self.identity.compress()
    }

    /// What the committee signs to finalize `f`'s proposal.
    pub fn message(&self, f: &Finalization) -> Vec<u8> {
        union_unique(&self.finalize_namespace, &f.proposal_bytes())
    }

    /// Checks an encoded finalization; returns the digest of the block it finalizes.
    pub fn verify(&self, certificate: &[u8]) -> Result<Digest, FinalityError> {
        let f = Finalization::decode(certificate)?;
        self.verify_decoded(&f)?;
        Ok(f.payload)
    }

    pub fn verify_decoded(&self, f: &Finalization) -> Result<(), FinalityError> {
        let signature = g1(&f.signature)?;
        // Points were validated on decode (subgroup, not the identity), as commonware does.
        match signature.verify(false, &self.message(f), DST, &[], &self.identity, false) {
            BLST_ERROR::BLST_SUCCESS => Ok(()),
            _ => Err(FinalityError::BadSignature),
        }
    }
}

/// A signature as commonware decodes one: a valid G1 point in the subgroup, not the identity.
pub(super) fn g1(bytes: &[u8; G1_LEN]) -> Result<Signature, FinalityError> {
    let point = |error| FinalityError::Point {
        field: "signature",
        error,
    };
    let s = Signature::uncompress(bytes).map_err(point)?;
    s.validate(true).map_err(point)?;
    Ok(s)
}

fn g2(bytes: &[u8; G2_LEN]) -> Result<PublicKey, FinalityError> {
    let point = |error| FinalityError::Point {
        field: "polynomial coefficient",
        error,
    };
    let p = PublicKey::uncompress(bytes).map_err(point)?;
    p.validate().map_err(point)?;
    Ok(p)
}

/// commonware's `union_unique`: `varint(len(namespace)) ‖ namespace ‖ message`, what a
/// namespaced BLS signature signs.
pub(super) fn union_unique(namespace: &[u8], message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + namespace.len() + message.len());
    put_varint(&mut out, namespace.len() as u64);
    out.extend_from_slice(namespace);
    out.extend_from_slice(message);
    out
}

pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A bounded reader of commonware-encoded fields.
pub(super) struct Cursor<'a>(pub(super) &'a [u8]);

impl<'a> Cursor<'a> {
    /// The next `n` bytes.
    pub(super) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FinalityError> {
        if self.0.len() < n {
            return Err(FinalityError::Truncated(what));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, FinalityError> {
        Ok(self.array::<1>(what)?[0])
    }

    pub(super) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], FinalityError> {
        Ok(self.take(N, what)?.try_into().expect("took N"))
    }

    /// commonware's canonical LEB128 of a `bits`-bit unsigned integer: no zero byte after the
    /// first, no bits beyond `bits`.
    fn varint_bits(&mut self, what: &'static str, bits: u32) -> Result<u64, FinalityError> {
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            let byte = self.u8(what)?;
            if shift > 0 && byte == 0 {
                return Err(FinalityError::Varint(what));
            }
            if bits - shift <= 7 && 8 - byte.leading_zeros() > bits - shift {
                return Err(FinalityError::Varint(what));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
        }
    }

    pub(super) fn varint(&mut self, what: &'static str) -> Result<u64, FinalityError> {
        self.varint_bits(what, 64)
    }

    pub(super) fn varint_u32(&mut self, what: &'static str) -> Result<u32, FinalityError> {
        Ok(self.varint_bits(what, 32)? as u32)
    }

    pub(super) fn finish(self) -> Result<(), FinalityError> {
        match self.0.len() {
            0 => Ok(()),
            n => Err(FinalityError::TrailingBytes(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(bytes: &[u8], bits: u32) -> Result<u64, FinalityError> {
        let mut c = Cursor(bytes);
        let v = c.varint_bits("v", bits)?;
        c.finish()?;
        Ok(v)
    }

    #[test]
    fn varints_are_canonical_leb128() {
        for v in [0u64, 1, 127, 128, 300, 1 << 32, u64::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(varint(&out, 64), Ok(v));
        }
        // a trailing zero group, an overflowing last byte, a missing last byte
        assert!(varint(&[0x80, 0x00], 64).is_err());
        assert!(varint(
            &[0xff; 9].iter().copied().chain([0x02]).collect::<Vec<_>>(),
            64
        )
        .is_err());
        assert!(varint(
            &[0xff; 9].iter().copied().chain([0x01]).collect::<Vec<_>>(),
            64
        )
        .is_ok());
        assert!(varint(&[0x80], 64).is_err());
        assert!(varint(&[0xff, 0xff, 0xff, 0xff, 0x10], 32).is_err());
        assert_eq!(
            varint(&[0xff, 0xff, 0xff, 0xff, 0x0f], 32),
            Ok(u32::MAX as u64)
        );
    }

    #[test]
    fn hostile_finalizations_get_typed_errors() {
        assert_eq!(
            Finalization::decode(&[]),
            Err(FinalityError::Truncated("epoch"))
        );
        let mut bytes = vec![0, 1, 0];
        bytes.extend_from_slice(&[7; 32]);
        bytes.extend_from_slice(&[0; 48]);
        assert!(matches!(
            Finalization::decode(&bytes),
            Err(FinalityError::Point { .. })
        ));
        // the compressed identity is refused like commonware's G1 decoder does
        let mut inf = bytes.clone();
        inf[35] = 0xc0;
        assert!(matches!(
            Finalization::decode(&inf),
            Err(FinalityError::Point { .. })
        ));
        bytes.push(0);
        assert!(Finalization::decode(&bytes).is_err());
        assert!(FinalityVerifier::from_consensus_public(&[1, 0, 0, 0, 1, 1], 4).is_err());
        assert!(FinalityVerifier::from_consensus_public(&[0, 0, 0, 0, 5, 1], 4).is_err());
        assert!(FinalityVerifier::from_consensus_public(&[0, 0, 0, 0, 4, 0], 4).is_err());
    }
}
