//! Encryption (wallet side), the ciphertext encoding, and the public validity check.
//!
//! Scheme (SPEC.md §Scheme): signed ElGamal / TDH0 KEM on G1 + ChaCha20-Poly1305 DEM.
//! `u = r·G1`, `Z = r·PK1`, `key = KDF(u, Z)`, `payload = AEAD(key, label, frame(m))`, and a
//! Schnorr proof of knowledge of `r`: `w = s·G1`, `e = H(label, u, w, payload)`, `f = s + e·r`.
//! Valid iff `f·G1 = w + e·u`. Batched: `Σρ_j·w_j + Σ(ρ_j e_j)·u_j − (Σρ_j f_j)·G1 = 0`.

use crate::encoding::{serde_via_bytes, Reader};
use crate::error::{DecodeError, EncryptError, ValidityError};
use crate::group::{self, generator_table};
use crate::key::{CommitteeKey, EncryptionKey};
use crate::label::Label;
use crate::scalar::{Scalar, Transcript};
use blst::{blst_p1, blst_p1_affine};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use rand_core::CryptoRng;
use std::sync::Arc;
use zeroize::{Zeroize, Zeroizing};

const CT_VERSION: u8 = 2;
/// Largest plaintext a ciphertext may carry.
pub const MAX_PLAINTEXT_LEN: usize = 128 * 1024;
const FRAME_LEN: usize = 4;
const TAG_LEN: usize = 16;
const MIN_PAYLOAD: usize = FRAME_LEN + TAG_LEN;
/// Largest payload (framed, padded plaintext plus tag) a ciphertext may carry.
pub const MAX_PAYLOAD_LEN: usize = MAX_PLAINTEXT_LEN + FRAME_LEN + TAG_LEN;
/// Padding buckets for [`Padding::Buckets`] (sizes of the framed plaintext).
pub const BUCKETS: [usize; 7] = [
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    MAX_PLAINTEXT_LEN + FRAME_LEN,
];

pub(crate) const DST_POK: &[u8] = b"curtain/v1/tdh0-pok";
pub(crate) const DST_KDF: &[u8] = b"curtain/v1/kem-kdf";
pub(crate) const DST_ID: &[u8] = b"curtain/v1/ciphertext-id";
const DST_HEDGE_R: &[u8] = b"curtain/v1/hedge-r";
const DST_HEDGE_S: &[u8] = b"curtain/v1/hedge-s";
const DST_AAD: &[u8] = b"curtain/v1/dem-aad";

/// How much the plaintext's length is hidden (FIELD attack 7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Padding {
    /// Exact length.
    #[default]
    None,
    /// Pad to the smallest of [`BUCKETS`] that fits.
    Buckets,
}

/// A ciphertext's canonical encoding, parsed for structure only: version, label, lengths and
/// the scalar are checked, the points are not decoded yet. This is what blocks carry, store
/// and hash: reading a stored or relayed block costs a hash per ciphertext, not two point
/// decompressions and subgroup checks. [`EncodedCiphertext::decode`] is the full check.
#[derive(Clone)]
pub struct EncodedCiphertext {
    bytes: Arc<[u8]>,
    label: Label,
    /// Offset of `u` in `bytes` (after the version and the label).
    points_at: usize,
    id: [u8; 32],
}

impl core::fmt::Debug for EncodedCiphertext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EncodedCiphertext")
            .field("id", &hex::encode(self.id))
            .field("namespace", &self.label.namespace())
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl PartialEq for EncodedCiphertext {
    fn eq(&self, o: &Self) -> bool {
        self.id == o.id
    }
}
impl Eq for EncodedCiphertext {}

impl EncodedCiphertext {
    /// Checks everything but the points: version, label, `f < r`, the payload length within
    /// its bounds and equal to what follows, no trailing bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.version("ciphertext", CT_VERSION)?;
        let label = Label::read(&mut r)?;
        let points_at = bytes.len() - r.remaining();
        r.take(2 * G1_LEN, "ciphertext.u, ciphertext.w")?;
        r.scalar("ciphertext.f")?;
        let len = r.len_u32("ciphertext.payload", MIN_PAYLOAD, MAX_PAYLOAD_LEN)?;
        r.take(len, "ciphertext.payload")?;
        r.finish()?;
        Ok(Self {
            id: ciphertext_id(bytes),
            bytes: Arc::from(bytes),
            label,
            points_at,
        })
    }

    /// The full decoder: both points canonical, on the curve and not the identity, and `u`
    /// with a G1 component. Neither point is subgroup-checked (SPEC §2.5): validity only
    /// constrains their G1 components, and shares are computed on `û = [h_eff]·u`, which is
    /// in G1 whatever torsion `u` carries. Clearing the cofactor costs about half a subgroup
    /// check, at every member for every ciphertext.
    pub fn decode(&self) -> Result<Ciphertext, DecodeError> {
        let (ct, u_hat) = self.decode_projective()?;
        ct.u_hat
            .set(group::p1_to_affine(&u_hat))
            .expect("decode_projective leaves u_hat unset");
        Ok(ct)
    }

    /// [`Self::decode`] without the last step: `û` is returned projective (with `u_hat` unset)
    /// so that [`decode_all`] can normalise many with one field inversion.
    fn decode_projective(&self) -> Result<(Ciphertext, blst_p1), DecodeError> {
        let mut r = Reader::new(&self.bytes[self.points_at..]);
        let u = r.g1_uncompressed_on_curve("ciphertext.u")?;
        let w = r.g1_uncompressed_on_curve("ciphertext.w")?;
        let f = r.scalar("ciphertext.f")?;
        let u_hat = group::clear_cofactor_affine(&u);
        if group::p1_is_inf(&u_hat) {
            return Err(DecodeError::Point {
                field: "ciphertext.u",
                error: crate::error::PointError::NoG1Component,
            });
        }
        let ct = Ciphertext {
            u_hat: std::sync::OnceLock::new(),
            e: challenge(
                self.label_bytes(),
                self.u_bytes(),
                self.w_bytes(),
                self.payload(),
            ),
            enc: self.clone(),
            u,
            w,
            f,
        };
        Ok((ct, u_hat))
    }

    pub fn label(&self) -> &Label {
        &self.label
    }
    /// Digest of the canonical encoding; unique per valid ciphertext (no malleability).
    pub fn id(&self) -> [u8; 32] {
        self.id
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// Encoded size in bytes.
    pub fn encoded_len(&self) -> usize {
        self.bytes.len()
    }
    pub fn payload_len(&self) -> usize {
        self.bytes.len() - self.points_at - POINTS_LEN
    }
    fn label_bytes(&self) -> &[u8] {
        &self.bytes[1..self.points_at]
    }
    fn u_bytes(&self) -> &[u8] {
        &self.bytes[self.points_at..self.points_at + G1_LEN]
    }
    fn w_bytes(&self) -> &[u8] {
        &self.bytes[self.points_at + G1_LEN..self.points_at + 2 * G1_LEN]
    }
    fn payload(&self) -> &[u8] {
        &self.bytes[self.points_at + POINTS_LEN..]
    }
}

/// Decodes many encodings in parallel (each is independent; decoding is the costly part of
/// admission). The `û` of each chunk of 64 share one field inversion (one inversion per ciphertext cost
/// ≈ 1.5 % of a member's CPU at saturation).
pub fn decode_all(encoded: &[EncodedCiphertext]) -> Vec<Result<Ciphertext, DecodeError>> {
    use rayon::prelude::*;
    encoded
        .par_chunks(64)
        .flat_map_iter(|chunk| {
            let decoded: Vec<_> = chunk
                .iter()
                .map(EncodedCiphertext::decode_projective)
                .collect();
            let proj: Vec<blst_p1> = decoded.iter().flatten().map(|(_, p)| *p).collect();
            let mut affine = group::p1s_to_affine(&proj).into_iter();
            decoded.into_iter().map(move |d| {
                d.map(|(ct, _)| {
                    let u_hat = affine.next().expect("one per decoded ciphertext");
                    ct.u_hat.set(u_hat).expect("unset");
                    ct
                })
            })
        })
        .collect()
}

/// Points travel uncompressed: decoding one costs a curve-equation check instead of a square
/// root (≈ 15 µs), at every member for every ciphertext, for 96 more bytes per ciphertext.
const G1_LEN: usize = group::G1_UNCOMPRESSED;
/// `u ‖ w ‖ f ‖ payload_len`.
const POINTS_LEN: usize = 2 * G1_LEN + 32 + 4;

fn ciphertext_id(bytes: &[u8]) -> [u8; 32] {
    let mut t = Transcript::new(DST_ID);
    t.append(bytes);
    t.finalize_32()
}

/// A decoded ciphertext: its points are canonical, on the curve and not the identity, `u` in G1;
/// its scalar is
/// canonical; its lengths are within the caps. Validity (the proof) is checked separately and
/// yields a [`VerifiedCiphertext`].
#[derive(Clone)]
pub struct Ciphertext {
    enc: EncodedCiphertext,
    u: blst_p1_affine,
    /// `û = [h_eff]·u ∈ G1 \ {O}`, what shares and openings are computed on: set by the
    /// decoder (which must reject a `u` without a G1 component), computed on first use for
    /// a ciphertext built by `encrypt` (a wallet never needs it).
    u_hat: std::sync::OnceLock<blst_p1_affine>,
    w: blst_p1_affine,
    f: Scalar,
    /// The proof's challenge, derived from the encoding.
    e: Scalar,
}

impl core::fmt::Debug for Ciphertext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ciphertext")
            .field("id", &hex::encode(self.enc.id))
            .field("namespace", &self.label().namespace())
            .field("payload_len", &self.payload_len())
            .finish()
    }
}

impl PartialEq for Ciphertext {
    fn eq(&self, o: &Self) -> bool {
        self.enc.id == o.enc.id
    }
}
impl Eq for Ciphertext {}

impl Ciphertext {
    /// Builds a ciphertext from its parts; `e` is [`challenge_for`] of them.
    fn assemble(
        label: &Label,
        u: &blst_p1_affine,
        w: &blst_p1_affine,
        f: Scalar,
        e: Scalar,
        payload: &[u8],
    ) -> Self {
        let mut out =
            Vec::with_capacity(1 + 49 + label.sender().len() + POINTS_LEN + payload.len());
        out.push(CT_VERSION);
        label.write(&mut out);
        out.extend_from_slice(&group::g1_serialize(u));
        out.extend_from_slice(&group::g1_serialize(w));
        out.extend_from_slice(&f.to_be_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(payload);
        let points_at = out.len() - POINTS_LEN - payload.len();
        let enc = EncodedCiphertext {
            id: ciphertext_id(&out),
            bytes: Arc::from(out),
            label: label.clone(),
            points_at,
        };
        Self {
            enc,
            u: *u,
            u_hat: std::sync::OnceLock::new(),
            w: *w,
            f,
            e,
        }
    }

    pub fn label(&self) -> &Label {
        &self.enc.label
    }
    /// Digest of the canonical encoding; unique per valid ciphertext (no malleability).
    pub fn id(&self) -> [u8; 32] {
        self.enc.id
    }
    pub fn payload_len(&self) -> usize {
        self.enc.payload_len()
    }
    /// `u` as encoded (the KDF input).
    pub(crate) fn u(&self) -> &blst_p1_affine {
        &self.u
    }
    /// `û = [h_eff]·u` (see the field).
    pub(crate) fn u_hat(&self) -> &blst_p1_affine {
        self.u_hat
            .get_or_init(|| group::p1_to_affine(&group::clear_cofactor_affine(&self.u)))
    }
    pub(crate) fn payload(&self) -> &[u8] {
        self.enc.payload()
    }
    /// The canonical encoding (shared, not copied).
    pub fn encoded(&self) -> &EncodedCiphertext {
        &self.enc
    }

    /// Encoded size in bytes.
    pub fn encoded_len(&self) -> usize {
        self.enc.encoded_len()
    }

    /// version ‖ label ‖ u(48) ‖ w(48) ‖ f(32) ‖ payload_len(u32) ‖ payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.enc.bytes.to_vec()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        EncodedCiphertext::parse(bytes)?.decode()
    }
}

serde_via_bytes!(Ciphertext);

/// The proof's Fiat–Shamir challenge over the encoded label, points and payload.
fn challenge(label: &[u8], u: &[u8], w: &[u8], payload: &[u8]) -> Scalar {
    let mut t = Transcript::new(DST_POK);
    t.append(label).append(u).append(w).append(payload);
    t.challenge_scalar()
}

fn challenge_for(label: &Label, u: &blst_p1_affine, w: &blst_p1_affine, payload: &[u8]) -> Scalar {
    challenge(
        &label.to_bytes(),
        &group::g1_serialize(u),
        &group::g1_serialize(w),
        payload,
    )
}

/// `KDF(u, Z)`: the DEM key. SHA-512 based, domain separated, truncated to 32 bytes.
pub(crate) fn kdf(u: &blst_p1_affine, z: &blst_p1_affine) -> Zeroizing<[u8; 32]> {
    let z = Zeroizing::new(group::g1_compress(z));
    let mut t = Transcript::new(DST_KDF);
    t.append(&group::g1_compress(u)).append(z.as_ref());
    Zeroizing::new(t.finalize_32())
}

pub(crate) fn aad(label: &Label) -> Vec<u8> {
    let mut a = DST_AAD.to_vec();
    label.write(&mut a);
    a
}

/// `[u, w, Z]` for randomness `r`, `s`: `u = r·g1`, `w = s·g1` and the KEM secret, which the
/// committee's opening reproduces as `[h_eff]·Δx·û` with `û = [h_eff]·u` (SPEC §2.4), i.e.
/// `(r·h_eff²)·PK1`. Constant time (combs).
fn kem(key: &EncryptionKey, r: &Scalar, s: &Scalar) -> [blst_p1_affine; 3] {
    let g = generator_table();
    let mut z_exp = r.mul(&group::h_eff_squared());
    let mut proj = [g.mul(r), g.mul(s), key.comb.mul(&z_exp)];
    z_exp.zeroize();
    let aff = group::p1s_to_affine(&proj)
        .try_into()
        .expect("three points in, three out");
    for c in [&mut proj[2].x, &mut proj[2].y, &mut proj[2].z] {
        c.l.zeroize();
    }
    aff
}

/// Hedged encryption randomness (SPEC §2.4): `r = H_hedge-r(seed, enc(L), m)` and
/// `s = H_hedge-s(seed, be32(r))`. Both depend on the seed, the label and the message, so a
/// weak or repeated seed alone exposes neither: `w = s·g1` is public and `f = s + e·r`, so an
/// `s` guessable from the seed alone would give `r = (f − s)/e`, hence `Z`.
fn hedge(seed: &[u8; 32], label: &Label, msg: &[u8]) -> (Scalar, Scalar) {
    let r = {
        let mut t = Transcript::new(DST_HEDGE_R);
        t.append(seed).append(&label.to_bytes()).append(msg);
        t.challenge_scalar()
    };
    let s = {
        let r_be = Zeroizing::new(r.to_be_bytes());
        let mut t = Transcript::new(DST_HEDGE_S);
        t.append(seed).append(r_be.as_ref());
        t.challenge_scalar()
    };
    (r, s)
}

/// Encrypts `msg` to the committee under `label`.
pub fn encrypt<R: CryptoRng + ?Sized>(
    key: &EncryptionKey,
    label: &Label,
    msg: &[u8],
    padding: Padding,
    rng: &mut R,
) -> Result<Ciphertext, EncryptError> {
    if label.key_id() != &key.id {
        return Err(EncryptError::WrongKey);
    }
    if msg.len() > MAX_PLAINTEXT_LEN {
        return Err(EncryptError::PlaintextTooLong {
            len: msg.len(),
            max: MAX_PLAINTEXT_LEN,
        });
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(seed.as_mut());
    let (mut r, mut s) = hedge(&seed, label, msg);
    let mut aff = kem(key, &r, &s);
    let (u, w) = (aff[0], aff[1]);
    let dem_key = kdf(&u, &aff[2]);
    aff[2].x.l.zeroize();
    aff[2].y.l.zeroize();

    let framed_len = match padding {
        Padding::None => FRAME_LEN + msg.len(),
        Padding::Buckets => *BUCKETS
            .iter()
            .find(|&&b| b >= FRAME_LEN + msg.len())
            .expect("the last bucket fits MAX_PLAINTEXT_LEN"),
    };
    let mut framed = Zeroizing::new(Vec::with_capacity(framed_len));
    framed.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    framed.extend_from_slice(msg);
    framed.resize(framed_len, 0);
    let cipher = ChaCha20Poly1305::new(dem_key.as_ref().into());
    // A fresh key per ciphertext, so the all-zero nonce is never reused with one key.
    let payload = cipher
        .encrypt(
            &Default::default(),
            Payload {
                msg: &framed,
                aad: &aad(label),
            },
        )
        .expect("ChaCha20-Poly1305 encryption of a bounded message cannot fail");

    let e = challenge_for(label, &u, &w, &payload);
    let f = s.add(&e.mul(&r));
    r.zeroize();
    s.zeroize();
    Ok(Ciphertext::assemble(label, &u, &w, f, e, &payload))
}

/// A ciphertext that passed the public validity check for a given committee key. Only the
/// functions of this module construct it; only it can be given to share production.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedCiphertext(Ciphertext);

impl core::ops::Deref for VerifiedCiphertext {
    type Target = Ciphertext;
    fn deref(&self) -> &Ciphertext {
        &self.0
    }
}

impl VerifiedCiphertext {
    pub fn into_inner(self) -> Ciphertext {
        self.0
    }
}

/// A ciphertext that failed validity, returned with the reason.
#[derive(Clone, Debug)]
pub struct Rejected {
    pub ciphertext: Box<Ciphertext>,
    pub reason: ValidityError,
}

/// The public validity check for one ciphertext (no secret involved).
pub fn verify(key: &CommitteeKey, ct: Ciphertext) -> Result<VerifiedCiphertext, Rejected> {
    let reason = if ct.label().key_id() != &key.id() {
        ValidityError::WrongKey
    } else if proof_holds(&ct) {
        return Ok(VerifiedCiphertext(ct));
    } else {
        ValidityError::InvalidProof
    };
    Err(Rejected {
        ciphertext: Box::new(ct),
        reason,
    })
}

/// `f·g1 = w + e·u` in G1: the difference may only be torsion (from `u` and `w`, whose
/// torsion parts the proof does not constrain).
fn proof_holds(ct: &Ciphertext) -> bool {
    let lhs = generator_table().mul(&ct.f);
    let rhs = group::p1_add_affine(&group::g1_mul_ct(&ct.u, &ct.e), &ct.w);
    group::p1_eq(&lhs, &rhs) || group::torsion_only(&group::p1_sub(&lhs, &rhs))
}

/// Batched validity: one random linear combination over all proofs (two multi-scalar
/// multiplications); on failure, bisects to find exactly the invalid ones. The verdict for each
/// ciphertext equals that of [`verify`] except with probability 2^-64 per check (SPEC §2.5).
pub fn verify_batch<R: CryptoRng + ?Sized>(
    key: &CommitteeKey,
    cts: Vec<Ciphertext>,
    rng: &mut R,
) -> Vec<Result<VerifiedCiphertext, Rejected>> {
    let id = key.id();
    let mut ok = vec![true; cts.len()];
    let candidates: Vec<usize> = (0..cts.len())
        .filter(|&i| cts[i].label().key_id() == &id)
        .collect();
    mark_invalid(&cts, &candidates, &mut ok, rng);
    cts.into_iter()
        .zip(ok)
        .map(|(ct, good)| {
            if ct.label().key_id() != &id {
                Err(Rejected {
                    ciphertext: Box::new(ct),
                    reason: ValidityError::WrongKey,
                })
            } else if good {
                Ok(VerifiedCiphertext(ct))
            } else {
                Err(Rejected {
                    ciphertext: Box::new(ct),
                    reason: ValidityError::InvalidProof,
                })
            }
        })
        .collect()
}

fn mark_invalid<R: CryptoRng + ?Sized>(
    cts: &[Ciphertext],
    idx: &[usize],
    ok: &mut [bool],
    rng: &mut R,
) {
    match idx.len() {
        0 => {}
        1 => ok[idx[0]] = proof_holds(&cts[idx[0]]),
        _ => {
            if !batch_holds(cts, idx, rng) {
                let (a, b) = idx.split_at(idx.len() / 2);
                mark_invalid(cts, a, ok, rng);
                mark_invalid(cts, b, ok, rng);
            }
        }
    }
}

fn batch_holds<R: CryptoRng + ?Sized>(cts: &[Ciphertext], idx: &[usize], rng: &mut R) -> bool {
    // Σρ_j·w_j + Σ(ρ_j·e_j)·u_j − (Σρ_j·f_j)·g1 as one MSM with ≤ 129-bit scalars: each
    // full-width scalar s = q·z² + m (q, m < 2^128) multiplies P as q·φ(P) + (q + m)·P, since
    // φ(x, y) = (β·x, y) is [λ] = [z² − 1] on G1. On a point's torsion part φ is some other
    // endomorphism of the torsion, so the G1 components of the sum are exactly those of the
    // plain combination and the final cofactor clearing gives the same verdict (§2.5).
    let k = idx.len();
    let mut points = Vec::with_capacity(3 * k + 2);
    let mut scalars = Vec::with_capacity((3 * k + 2) * GLV_BYTES);
    let mut push = |p: blst_p1_affine, v: u128, carry: bool| {
        points.push(p);
        scalars.extend_from_slice(&v.to_le_bytes());
        scalars.push(carry as u8);
    };
    let mut push_full = |p: &blst_p1_affine, s: &Scalar| {
        let (q, m) = group::glv_split(s);
        let (sum, carry) = q.overflowing_add(m);
        push(*p, sum, carry);
        push(group::phi(p), q, false);
    };
    let mut f_sum = Scalar::zero();
    let mut rhos = Vec::with_capacity(k);
    for &i in idx {
        let ct = &cts[i];
        let weight = Scalar::batch_weight(rng);
        let rho = Scalar::from_u64(weight);
        push_full(&ct.u, &rho.mul(&ct.e));
        f_sum = f_sum.add(&rho.mul(&ct.f));
        rhos.push(weight);
    }
    push_full(&group::g1_generator(), &f_sum.neg());
    for (&i, &rho) in idx.iter().zip(&rhos) {
        push(cts[i].w, rho.into(), false);
    }
    group::torsion_only(&group::msm_vartime(&points, &scalars, GLV_BITS))
}

/// Scalars of the split validity MSM: `q + m < 2^129`.
const GLV_BITS: usize = 129;
const GLV_BYTES: usize = 17;

/// Builds a ciphertext with a valid proof around an arbitrary framed plaintext (or, with
/// `raw_payload`, arbitrary payload bytes): what a malicious sender can do. Tests only.
#[cfg(test)]
pub(crate) fn encrypt_malformed<R: CryptoRng + ?Sized>(
    key: &EncryptionKey,
    label: &Label,
    framed: &[u8],
    raw_payload: Option<Vec<u8>>,
    rng: &mut R,
) -> Ciphertext {
    let r = Scalar::random(rng);
    let s = Scalar::random(rng);
    let aff = kem(key, &r, &s);
    let payload = raw_payload.unwrap_or_else(|| {
        let k = kdf(&aff[0], &aff[2]);
        ChaCha20Poly1305::new(k.as_ref().into())
            .encrypt(
                &Default::default(),
                Payload {
                    msg: framed,
                    aad: &aad(label),
                },
            )
            .unwrap()
    });
    let e = challenge_for(label, &aff[0], &aff[1], &payload);
    Ciphertext::assemble(label, &aff[0], &aff[1], s.add(&e.mul(&r)), e, &payload)
}

#[cfg(test)]
mod tests;
