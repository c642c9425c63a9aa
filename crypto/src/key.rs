//! Committee keys: the public committee key (encryption key in G1, public polynomial and
//! verification keys in G2), secret key shares, Lagrange weights, and a trusted dealer for
//! tests and dev. A Joint-Feldman DKG produces exactly `(public polynomial in G2, Fr share)`,
//! plus `x·G1` (which members publish and anyone checks by pairing), so its output feeds
//! [`CommitteeKey::from_polynomial`] and [`KeyShare::from_be_bytes`] unchanged.
//!
//! The encryption key is `PK1 = Δ·x·G1` with `Δ = (n-1)!` fixed when the key is created:
//! `Δ·λ_i` is then an integer of ~60 bits for committees of ~16 (see SPEC.md §Combine), which
//! makes combining shares 4x cheaper than with full-size Lagrange coefficients.

use crate::encoding::{serde_via_bytes, Reader};
use crate::error::{DecodeError, KeyError};
use crate::group::{self, FixedBase};
use crate::scalar::{Scalar, Transcript};
use blst::{blst_p1, blst_p1_affine, blst_p2, blst_p2_affine};
use rand_core::CryptoRng;
use rayon::prelude::*;
use std::sync::Arc;
use zeroize::{Zeroize, Zeroizing};

/// Largest committee this crate accepts (bounds decoding and key-load work).
pub const MAX_MEMBERS: usize = 1024;

const KEY_VERSION: u8 = 1;
const SHARE_VERSION: u8 = 1;
/// `version ‖ index(4) ‖ x_i(32)`.
const SHARE_LEN: usize = 37;
pub(crate) const DST_KEY_ID: &[u8] = b"curtain/v1/key-id";

/// The committee's public key material. Every value that exists passed the consistency
/// checks of its constructor or decoder.
#[derive(Clone)]
pub struct CommitteeKey {
    n: u32,
    t: u32,
    delta: Scalar,
    /// Public polynomial in G2, `commitments[k] = a_k·G2`, `commitments[0] = x·G2`.
    commitments: Vec<blst_p2_affine>,
    /// `Δ·x·G1`: what wallets encrypt to.
    pk1: blst_p1_affine,
    // derived
    /// Miller-loop lines of `PK2 = Δ·x·G2`, the pairing partner of every opening check.
    /// Lines of `h_eff·PK2` (openings are `[h_eff]·Δx·û`).
    opening_lines: group::PreparedG2,
    vks: Vec<blst_p2_affine>,
    encryption: EncryptionKey,
}

impl core::fmt::Debug for CommitteeKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CommitteeKey")
            .field("id", &hex::encode(self.id()))
            .field("n", &self.n)
            .field("t", &self.t)
            .finish()
    }
}

impl PartialEq for CommitteeKey {
    fn eq(&self, other: &Self) -> bool {
        self.to_bytes() == other.to_bytes()
    }
}
impl Eq for CommitteeKey {}

/// `(n-1)! mod r`: with member evaluation points 1..=n every `Δ·λ_i` is an integer.
pub fn default_delta(n: usize) -> Scalar {
    (1..n as u64).fold(Scalar::one(), |acc, k| acc.mul(&Scalar::from_u64(k)))
}

impl CommitteeKey {
    /// Builds the committee key from a public polynomial in G2 (compressed coefficients,
    /// `t = commitments.len()`) and `x·G1`, as a DKG outputs them. Checks
    /// `e(x·G1, G2) = e(G1, x·G2)`.
    pub fn from_polynomial(
        n: usize,
        commitments: &[[u8; 96]],
        x_g1: &[u8; 48],
    ) -> Result<Self, KeyError> {
        let t = commitments.len();
        check_params(n, t)?;
        let commitments = commitments
            .iter()
            .map(|c| group::g2_decompress(c).map_err(|_| KeyError::InconsistentKey))
            .collect::<Result<Vec<_>, _>>()?;
        let x_g1 = group::g1_decompress(x_g1).map_err(|_| KeyError::InconsistentKey)?;
        let delta = default_delta(n);
        let pk1 = group::p1_to_affine(&group::g1_mul_ct(&x_g1, &delta));
        Self::from_parts(n, delta, commitments, pk1)
    }

    /// Builds the committee key after a DKG from the public polynomial and the members'
    /// published `x_i·G1` (`partials`: 0-based member index, compressed point). Every partial
    /// is checked against `vk_i` by pairing; any `t` valid ones with distinct indices determine
    /// `x·G1` (Lagrange at 0), so every honest member gets the same key whichever it used.
    pub fn from_partials(
        n: usize,
        commitments: &[[u8; 96]],
        partials: &[([u8; 48], u32)],
    ) -> Result<Self, KeyError> {
        let t = commitments.len();
        check_params(n, t)?;
        let coeffs = commitments
            .iter()
            .map(|c| group::g2_decompress(c).map_err(|_| KeyError::InconsistentKey))
            .collect::<Result<Vec<_>, _>>()?;
        let mut members = Vec::with_capacity(t);
        let mut points = Vec::with_capacity(t);
        for (point, index) in partials {
            if members.len() == t {
                break;
            }
            if *index as usize >= n || members.contains(index) {
                continue;
            }
            let Ok(p) = group::g1_decompress(point) else {
                continue;
            };
            let vk = eval_commitments(&coeffs, *index as u64 + 1);
            if group::pairing_eq(&p, &group::g2_generator(), &group::g1_generator(), &vk) {
                members.push(*index);
                points.push(p);
            }
        }
        if members.len() < t {
            return Err(KeyError::NotEnoughPartials {
                valid: members.len(),
                needed: t,
            });
        }
        let delta = default_delta(n);
        let mut acc = blst_p1::default();
        for (l, p) in lagrange_at_zero(&members).iter().zip(&points) {
            acc = group::p1_add(&acc, &group::g1_mul_ct(p, &l.mul(&delta)));
        }
        Self::from_parts(n, delta, coeffs, group::p1_to_affine(&acc))
    }

    /// The same key shared among a new committee of `n` with the public polynomial
    /// `commitments` that a resharing produced: `PK1`, `Δ` and the key id stay, so ciphertexts
    /// made before the resharing are decrypted by the new members. Fails unless the new
    /// polynomial commits to the same secret (`C_0 = x·G2`).
    pub fn reshared(&self, n: usize, commitments: &[[u8; 96]]) -> Result<Self, KeyError> {
        check_params(n, commitments.len())?;
        let coeffs = commitments
            .iter()
            .map(|c| group::g2_decompress(c).map_err(|_| KeyError::InconsistentKey))
            .collect::<Result<Vec<_>, _>>()?;
        if !group::g2_eq(&coeffs[0], &self.commitments[0]) {
            return Err(KeyError::InconsistentKey);
        }
        Self::from_parts(n, self.delta, coeffs, self.pk1)
    }

    fn from_parts(
        n: usize,
        delta: Scalar,
        commitments: Vec<blst_p2_affine>,
        pk1: blst_p1_affine,
    ) -> Result<Self, KeyError> {
        let t = commitments.len();
        check_params(n, t)?;
        if delta.is_zero() {
            return Err(KeyError::InconsistentKey);
        }
        let pk2_proj = group::g2_mul_ct(&commitments[0], &delta);
        let pk2 = group::p2_to_affine(&pk2_proj);
        if !group::pairing_eq(&pk1, &group::g2_generator(), &group::g1_generator(), &pk2) {
            return Err(KeyError::InconsistentKey);
        }
        let vks = (1..=n as u64)
            .into_par_iter()
            .map(|alpha| eval_commitments(&commitments, alpha))
            .collect();
        Ok(Self {
            n: n as u32,
            t: t as u32,
            delta,
            commitments,
            pk1,
            opening_lines: group::PreparedG2::new(&group::p2_to_affine(&group::g2_mul_small(
                &pk2_proj,
                group::H_EFF,
            ))),
            vks,
            encryption: EncryptionKey::new(pk1),
        })
    }

    pub fn n(&self) -> usize {
        self.n as usize
    }
    pub fn t(&self) -> usize {
        self.t as usize
    }
    /// The key id that labels bind to: a digest of the encryption key.
    pub fn id(&self) -> [u8; 32] {
        self.encryption.id
    }
    pub fn encryption_key(&self) -> &EncryptionKey {
        &self.encryption
    }
    /// Member `i`'s verification key `x_i·G2` (compressed).
    pub fn verification_key(&self, member: u32) -> Option<[u8; 96]> {
        self.vks.get(member as usize).map(group::g2_compress)
    }
    pub(crate) fn vk(&self, member: u32) -> &blst_p2_affine {
        &self.vks[member as usize]
    }
    /// Miller-loop lines of `h_eff·PK2`, the G2 side of the opening check (SPEC §2.7).
    pub(crate) fn opening_lines(&self) -> &group::PreparedG2 {
        &self.opening_lines
    }

    /// Canonical encoding: version ‖ n(u32) ‖ t(u32) ‖ Δ(32) ‖ PK1(48) ‖ t × commitment(96).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 8 + 32 + 48 + 96 * self.commitments.len());
        out.push(KEY_VERSION);
        out.extend_from_slice(&self.n.to_be_bytes());
        out.extend_from_slice(&self.t.to_be_bytes());
        out.extend_from_slice(&self.delta.to_be_bytes());
        out.extend_from_slice(&group::g1_compress(&self.pk1));
        for c in &self.commitments {
            out.extend_from_slice(&group::g2_compress(c));
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.version("committee key", KEY_VERSION)?;
        let n = r.u32("committee key n")? as usize;
        let t = r.u32("committee key t")? as usize;
        check_params(n, t).map_err(|_| DecodeError::Invalid {
            field: "committee key n/t",
            reason: "need n <= MAX_MEMBERS and f+1 <= t <= n-f, f = (n-1)/3",
        })?;
        let delta = r.scalar("committee key delta")?;
        let pk1 = r.g1("committee key pk1")?;
        if r.remaining() != 96 * t {
            return Err(DecodeError::Length {
                field: "committee key commitments",
                len: r.remaining(),
                min: 96 * t,
                max: 96 * t,
            });
        }
        let commitments = (0..t)
            .map(|_| r.g2("committee key commitment"))
            .collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        Self::from_parts(n, delta, commitments, pk1).map_err(|_| DecodeError::Invalid {
            field: "committee key",
            reason: "PK1 does not match the public polynomial",
        })
    }

    /// Weights `Δ·λ_i(0)` for combining the shares of `members` (distinct, in range).
    pub(crate) fn combine_weights(&self, members: &[u32]) -> Vec<Scalar> {
        lagrange_at_zero(members)
            .into_iter()
            .map(|l| l.mul(&self.delta))
            .collect()
    }
}

serde_via_bytes!(CommitteeKey);

/// `Σ_k α^k·C_k`: a public polynomial with coefficients in G2 (constant term first) at a small
/// public point, by Horner (variable time). A member's verification key is its value at
/// `index + 1`; public so the node-free consensus-vote check (`curtain::ledger::votes`) gets
/// partial public keys without unsafe blst calls of its own.
pub fn eval_commitments(commitments: &[blst_p2_affine], alpha: u64) -> blst_p2_affine {
    let mut acc = blst_p2::default();
    for c in commitments.iter().rev() {
        acc = group::g2_mul_small(&acc, alpha);
        group::p2_add_affine_assign(&mut acc, c);
    }
    group::p2_to_affine(&acc)
}

/// Whether `x_i_g1` is the `x_i·G1` of the member whose verification key is `vk_i`
/// (`e(x_i·G1, G2) = e(G1, vk_i)`): how members check each other's published partials.
pub fn partial_g1_matches(vk_i: &[u8; 96], x_i_g1: &[u8; 48]) -> bool {
    match (group::g2_decompress(vk_i), group::g1_decompress(x_i_g1)) {
        (Ok(vk), Ok(p)) => {
            group::pairing_eq(&p, &group::g2_generator(), &group::g1_generator(), &vk)
        }
        _ => false,
    }
}

/// The thresholds the protocol's arguments admit for `n` members (SPEC.md §2.2), with
/// `f = ⌊(n − 1)/3⌋` the Byzantine members consensus tolerates: privacy needs `t > f` (the `f`
/// corrupt members alone cannot decrypt) and liveness needs `t ≤ n − f` (the honest members
/// alone can). The default `t = 2f + 1` is the consensus quorum. Empty for `n = 0`.
pub fn threshold_range(n: usize) -> std::ops::RangeInclusive<usize> {
    let f = n.saturating_sub(1) / 3;
    f + 1..=n - f
}

fn check_params(n: usize, t: usize) -> Result<(), KeyError> {
    if t == 0 || t > n || n > MAX_MEMBERS {
        return Err(KeyError::InvalidParameters {
            n,
            t,
            max: MAX_MEMBERS,
        });
    }
    let range = threshold_range(n);
    if !range.contains(&t) {
        return Err(KeyError::ThresholdOutOfRange {
            n,
            t,
            min: *range.start(),
            max: *range.end(),
        });
    }
    Ok(())
}

/// Lagrange coefficients at 0 for members (0-based) evaluated at `index + 1`.
pub(crate) fn lagrange_at_zero(members: &[u32]) -> Vec<Scalar> {
    let alphas: Vec<Scalar> = members
        .iter()
        .map(|&i| Scalar::from_u64(i as u64 + 1))
        .collect();
    let (nums, dens): (Vec<Scalar>, Vec<Scalar>) = alphas
        .iter()
        .enumerate()
        .map(|(i, ai)| {
            let mut num = Scalar::one();
            let mut den = Scalar::one();
            for (j, aj) in alphas.iter().enumerate() {
                if i != j {
                    num = num.mul(aj);
                    den = den.mul(&aj.sub(ai));
                }
            }
            (num, den)
        })
        .unzip();
    // Montgomery's trick: one inversion for all denominators (t inversions cost ~0.5 ms at t = 43).
    let mut prefix = Vec::with_capacity(dens.len());
    let mut acc = Scalar::one();
    for d in &dens {
        prefix.push(acc);
        acc = acc.mul(d);
    }
    let mut inv = acc.inverse().expect("distinct members");
    let mut out = vec![Scalar::zero(); dens.len()];
    for i in (0..dens.len()).rev() {
        out[i] = nums[i].mul(&inv.mul(&prefix[i]));
        inv = inv.mul(&dens[i]);
    }
    out
}

/// What a wallet needs to encrypt: `PK1`, its id, and a precomputed comb for `r·PK1`.
#[derive(Clone)]
pub struct EncryptionKey {
    pub(crate) pk1: blst_p1_affine,
    pub(crate) id: [u8; 32],
    pub(crate) comb: Arc<FixedBase>,
}

impl core::fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "EncryptionKey({})", hex::encode(self.id))
    }
}

impl EncryptionKey {
    fn new(pk1: blst_p1_affine) -> Self {
        let mut t = Transcript::new(DST_KEY_ID);
        t.append(&group::g1_compress(&pk1));
        Self {
            pk1,
            id: t.finalize_32(),
            comb: Arc::new(FixedBase::new(&pk1)),
        }
    }

    pub fn id(&self) -> [u8; 32] {
        self.id
    }

    /// Compressed `PK1` (48 bytes): what a wallet pins.
    pub fn to_bytes(&self) -> [u8; 48] {
        group::g1_compress(&self.pk1)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let pk1 = r.g1("encryption key")?;
        r.finish()?;
        Ok(Self::new(pk1))
    }
}

serde_via_bytes!(EncryptionKey);

/// A member's secret key share `x_i`. Zeroized on drop; `Debug` shows the index only.
pub struct KeyShare {
    index: u32,
    secret: Scalar,
}

impl Drop for KeyShare {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl core::fmt::Debug for KeyShare {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "KeyShare {{ index: {}, secret: <redacted> }}",
            self.index
        )
    }
}

impl KeyShare {
    /// From a DKG's output: the member's 0-based index and its Fr share (big-endian).
    pub fn from_be_bytes(index: u32, secret: &[u8; 32]) -> Result<Self, DecodeError> {
        let secret = Scalar::from_be_bytes(secret).ok_or(DecodeError::Scalar("key share"))?;
        Ok(Self { index, secret })
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    pub(crate) fn secret(&self) -> &Scalar {
        &self.secret
    }

    /// Checks that this share belongs to `key` (its `x_i·G2` equals the verification key).
    pub fn check(&self, key: &CommitteeKey) -> Result<(), KeyError> {
        if self.index >= key.n {
            return Err(KeyError::MemberOutOfRange {
                index: self.index,
                n: key.n(),
            });
        }
        let mine = group::p2_to_affine(&group::g2_mul_ct(&group::g2_generator(), &self.secret));
        if group::g2_eq(&mine, key.vk(self.index)) {
            Ok(())
        } else {
            Err(KeyError::ShareMismatch)
        }
    }

    /// `x_i·G1`, which members publish after a DKG so that `x·G1` can be interpolated.
    pub fn public_g1(&self) -> [u8; 48] {
        group::g1_compress(&group::p1_to_affine(&group::g1_mul_ct(
            &group::g1_generator(),
            &self.secret,
        )))
    }

    /// Secret encoding (for encrypted keystores only): version ‖ index(u32) ‖ x_i(32 BE).
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(SHARE_LEN));
        out.push(SHARE_VERSION);
        out.extend_from_slice(&self.index.to_be_bytes());
        let mut s = self.secret.to_be_bytes();
        out.extend_from_slice(&s);
        s.zeroize();
        out
    }

    /// [`Self::to_bytes`] as lowercase hex (what serde's human-readable formats carry), in a
    /// string that is wiped on drop (written in place: no reallocation leaves a copy behind).
    pub fn to_hex(&self) -> Zeroizing<String> {
        let bytes = self.to_bytes();
        let mut text = Zeroizing::new(vec![0u8; 2 * bytes.len()]);
        hex::encode_to_slice(bytes.as_slice(), &mut text).expect("twice the length");
        Zeroizing::new(String::from_utf8(std::mem::take(&mut *text)).expect("hex is ASCII"))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.version("key share", SHARE_VERSION)?;
        let index = r.u32("key share index")?;
        let mut s: [u8; 32] = r.array("key share secret")?;
        r.finish()?;
        let out = Self::from_be_bytes(index, &s);
        s.zeroize();
        out
    }
}

/// serde for the secret share: the canonical bytes (binary formats) or their lowercase hex
/// (human-readable ones), like every public type, but every buffer holding the secret, the
/// hex text included, is wiped when dropped.
impl serde::Serialize for KeyShare {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            s.serialize_bytes(&self.to_bytes())
        }
    }
}

impl<'de> serde::Deserialize<'de> for KeyShare {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let bytes = if d.is_human_readable() {
            let text = Zeroizing::new(<String as serde::Deserialize>::deserialize(d)?);
            if text.len() != 2 * SHARE_LEN {
                return Err(D::Error::custom(DecodeError::Hex(
                    "key share: wrong length",
                )));
            }
            let mut bytes = Zeroizing::new(vec![0u8; SHARE_LEN]);
            hex::decode_to_slice(text.as_bytes(), &mut bytes)
                .map_err(|_| D::Error::custom(DecodeError::Hex("key share")))?;
            bytes
        } else {
            let buf = crate::encoding::serde_bytes_buf::Buf::deserialize(d)?;
            Zeroizing::new(buf.0)
        };
        Self::from_bytes(&bytes).map_err(D::Error::custom)
    }
}

/// Trusted dealer, for tests and dev committees only: whoever runs it learns the secret.
pub fn deal<R: CryptoRng + ?Sized>(
    n: usize,
    t: usize,
    rng: &mut R,
) -> Result<(CommitteeKey, Vec<KeyShare>), KeyError> {
    check_params(n, t)?;
    let mut coeffs: Vec<Scalar> = (0..t).map(|_| Scalar::random(rng)).collect();
    let commitments: Vec<[u8; 96]> = coeffs
        .iter()
        .map(|a| {
            group::g2_compress(&group::p2_to_affine(&group::g2_mul_ct(
                &group::g2_generator(),
                a,
            )))
        })
        .collect();
    let x_g1 = group::g1_compress(&group::p1_to_affine(&group::g1_mul_ct(
        &group::g1_generator(),
        &coeffs[0],
    )));
    let shares = (1..=n as u64)
        .map(|alpha| {
            let a = Scalar::from_u64(alpha);
            let mut acc = Scalar::zero();
            for c in coeffs.iter().rev() {
                acc = acc.mul(&a).add(c);
            }
            KeyShare {
                index: (alpha - 1) as u32,
                secret: acc,
            }
        })
        .collect();
    coeffs.iter_mut().for_each(Zeroize::zeroize);
    let key = CommitteeKey::from_polynomial(n, &commitments, &x_g1)?;
    Ok((key, shares))
}

#[cfg(test)]
mod tests;
