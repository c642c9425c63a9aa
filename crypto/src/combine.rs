//! Combining decryption shares: optimistic first, attributable when something is wrong.
//!
//! 1. Take the first `t` well-formed share batches (by member index). For every ciphertext j,
//!    `Z_j = [h_eff]·Σ_i (Δ·λ_i)·s_ij` (small integer weights, shared doublings, parallel
//!    over j; clearing the cofactor puts `Z_j` in G1 whatever torsion a bad share carried,
//!    at half the cost of checking it).
//! 2. Check all `Z_j` at once: `e(Σρ_j·Z_j, G2) = e(Σρ_j·û_j, h_eff·PK2)` with fresh 64-bit
//!    weights ρ. This pins every `Z_j` to the unique correct value `h_eff·Δ·x·û_j`.
//!    (The AEAD tag alone is not enough: ChaCha20-Poly1305 is not key-committing, so a
//!    colluding sender and member could make two subsets of shares decrypt to two plaintexts.)
//! 3. If the check fails, verify members' batches one by one (subgroup checks and one pairing
//!    equation per member), record [`FaultEvidence`] for the bad ones, and recombine from `t`
//!    verified members.
//! 4. `open` each ciphertext with its `Z_j`: a plaintext, or an [`Undecryptable`] verdict that
//!    anyone can re-check from the ciphertext and the published opening `Z_j`.

use crate::ciphertext::{kdf, Ciphertext, VerifiedCiphertext};
use crate::encoding::{serde_via_bytes, Reader};
use crate::error::DecodeError;
use crate::group::{self, SharedWeights};
use crate::key::CommitteeKey;
use crate::scalar::Checker;
use crate::share::ShareBatch;
use blst::{blst_p1, blst_p1_affine};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::ChaCha20Poly1305;
use rand_core::CryptoRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

impl AsRef<Ciphertext> for Ciphertext {
    fn as_ref(&self) -> &Ciphertext {
        self
    }
}
impl AsRef<Ciphertext> for VerifiedCiphertext {
    fn as_ref(&self) -> &Ciphertext {
        self
    }
}

/// `Z_j = h_eff·Δ·x·û_j`, the KEM secret of one ciphertext, published with its release so
/// that anyone can check the decryption (`verify_openings`) without trusting the combiner.
/// Decoding checks that it is in G1 (a third party does not know how it was made).
#[derive(Clone, Copy)]
pub struct Opening(blst_p1_affine);

impl PartialEq for Opening {
    fn eq(&self, o: &Self) -> bool {
        group::g1_eq(&self.0, &o.0)
    }
}
impl Eq for Opening {}

impl core::fmt::Debug for Opening {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Opening({})", hex::encode(self.to_bytes()))
    }
}

impl Opening {
    pub fn to_bytes(&self) -> [u8; 48] {
        group::g1_compress(&self.0)
    }
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let p = r.g1("opening")?;
        r.finish()?;
        Ok(Self(p))
    }
}

serde_via_bytes!(Opening);

/// The outcome for one ciphertext.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decryption {
    Plaintext(Vec<u8>),
    Undecryptable(Undecryptable),
}

/// Why a correctly opened ciphertext has no plaintext: its sender made it so.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Undecryptable {
    #[error("the AEAD tag does not verify under the correct key")]
    AeadFailure,
    #[error("the decrypted frame is malformed (length or padding)")]
    BadFraming,
}

impl Undecryptable {
    /// Every verdict, in the order of their release encoding tags (`0x01`, `0x02`).
    pub const ALL: [Undecryptable; 2] = [Undecryptable::AeadFailure, Undecryptable::BadFraming];

    /// The stable name of the verdict (SPEC §2.7), what the client API reports as `reason`.
    pub const fn code(self) -> &'static str {
        match self {
            Undecryptable::AeadFailure => "aead_failure",
            Undecryptable::BadFraming => "bad_framing",
        }
    }

    /// The verdict of a stable name; `None` for any other text.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|u| u.code() == code)
    }
}

/// Why a member's share batch is wrong. Each is re-checkable by anyone from the batch bytes
/// and the ciphertexts. A batch is not signed: who sent it is known only to its receiver,
/// from the authenticated p2p channel (SPEC §2.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum FaultReason {
    #[error("batch has {got} shares for {expected} ciphertexts")]
    WrongLength { expected: u32, got: u32 },
    #[error("share {position} is not in the prime-order subgroup")]
    NotInSubgroup { position: u32 },
    #[error("shares do not match the member's verification key")]
    PairingMismatch,
    /// The batch names a member index the key does not have (`member ≥ n`): there is no
    /// verification key to check it against, and no member to blame.
    #[error("member {member} is out of range for n = {n}")]
    UnknownMember { member: u32, n: u32 },
}

/// Evidence that a member sent wrong shares for a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultEvidence {
    pub batch: ShareBatch,
    pub reason: FaultReason,
}

impl FaultEvidence {
    pub fn member(&self) -> u32 {
        self.batch.member
    }

    /// Re-checks the evidence: true iff the batch is indeed faulty for these ciphertexts (a
    /// batch from an index the key does not have is not evidence against anyone).
    pub fn verify<C: AsRef<Ciphertext> + Sync, R: CryptoRng + ?Sized>(
        &self,
        key: &CommitteeKey,
        cts: &[C],
        rng: &mut R,
    ) -> bool {
        (self.batch.member as usize) < key.n()
            && check_share_batch(key, cts, &self.batch, rng).is_err()
    }
}

/// Why combining could not finish, with the fault evidence gathered so far.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CombineError {
    #[error("{valid} usable share batches, {needed} needed")]
    NotEnoughShares {
        valid: usize,
        needed: usize,
        faults: Vec<FaultEvidence>,
    },
}

/// The result of combining one batch.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Combined {
    /// One per ciphertext, in batch order.
    pub decryptions: Vec<Decryption>,
    /// One per ciphertext: the verified KEM secret, for third-party checking.
    pub openings: Vec<Opening>,
    /// Members whose shares were combined.
    pub members: Vec<u32>,
    /// Faulty members found (only on the pessimistic path).
    pub faults: Vec<FaultEvidence>,
    /// Whether the first `t` batches were all correct.
    pub optimistic: bool,
}

/// Combines the share batches received so far for the ciphertexts of `batch_id`.
/// Batches for another batch id or from an unknown member index are ignored; a second batch
/// from the same member is ignored (the first one counts).
pub fn combine<R: CryptoRng + ?Sized>(
    key: &CommitteeKey,
    batch_id: [u8; 32],
    cts: &[VerifiedCiphertext],
    batches: &[ShareBatch],
    rng: &mut R,
) -> Result<Combined, CombineError> {
    let t = key.t();
    let mut faults = Vec::new();
    let mut by_member: BTreeMap<u32, &ShareBatch> = BTreeMap::new();
    for b in batches {
        if b.batch_id != batch_id
            || b.member as usize >= key.n()
            || by_member.contains_key(&b.member)
        {
            continue;
        }
        if b.shares.len() != cts.len() {
            faults.push(FaultEvidence {
                batch: b.clone(),
                reason: FaultReason::WrongLength {
                    expected: cts.len() as u32,
                    got: b.shares.len() as u32,
                },
            });
            continue;
        }
        by_member.insert(b.member, b);
    }
    let candidates: Vec<&ShareBatch> = by_member.into_values().collect();
    if candidates.len() < t {
        return Err(CombineError::NotEnoughShares {
            valid: candidates.len(),
            needed: t,
            faults,
        });
    }

    let optimistic = &candidates[..t];
    let zs = combine_points(key, cts.len(), optimistic);
    let (chosen, zs, was_optimistic) = if openings_hold(key, cts, &zs, Checker::Member, rng) {
        (optimistic.to_vec(), zs, true)
    } else {
        let mut good = Vec::with_capacity(t);
        for b in &candidates {
            match check_share_batch(key, cts, b, rng) {
                Ok(()) => good.push(*b),
                Err(reason) => faults.push(FaultEvidence {
                    batch: (*b).clone(),
                    reason,
                }),
            }
            if good.len() == t {
                break;
            }
        }
        if good.len() < t {
            return Err(CombineError::NotEnoughShares {
                valid: good.len(),
                needed: t,
                faults,
            });
        }
        let zs = combine_points(key, cts.len(), &good);
        (good, zs, false)
    };

    let decryptions = cts
        .par_iter()
        .zip(zs.par_iter())
        .map(|(ct, z)| open_point(ct, z))
        .collect();
    Ok(Combined {
        decryptions,
        openings: zs.into_iter().map(Opening).collect(),
        members: chosen.iter().map(|b| b.member).collect(),
        faults,
        optimistic: was_optimistic,
    })
}

fn combine_points(key: &CommitteeKey, len: usize, chosen: &[&ShareBatch]) -> Vec<blst_p1_affine> {
    let members: Vec<u32> = chosen.iter().map(|b| b.member).collect();
    let weights = SharedWeights::new(&key.combine_weights(&members));
    // Fewer ciphertexts than threads: split each product's points across threads instead.
    let split = len < rayon::current_num_threads();
    let proj: Vec<blst_p1> = (0..len)
        .into_par_iter()
        .with_min_len(8)
        .map_init(
            || Vec::with_capacity(chosen.len()),
            |pts, j| {
                pts.clear();
                pts.extend(chosen.iter().map(|b| b.shares[j]));
                group::clear_cofactor(&if split {
                    weights.msm_vartime_split(pts)
                } else {
                    weights.msm_vartime(pts)
                })
            },
        )
        .collect();
    proj.par_chunks(256)
        .flat_map_iter(group::p1s_to_affine)
        .collect()
}

/// Checks that every `Z_j` is the correct opening `h_eff·Δ·x·û_j` (one randomised pairing
/// equation, with `checker`'s weight width).
fn openings_hold<C: AsRef<Ciphertext> + Sync, R: CryptoRng + ?Sized>(
    key: &CommitteeKey,
    cts: &[C],
    zs: &[blst_p1_affine],
    checker: Checker,
    rng: &mut R,
) -> bool {
    if zs.len() != cts.len() {
        return false;
    }
    if cts.is_empty() {
        return true;
    }
    // every Z_j is in G1: cleared by `combine_points`, subgroup-checked by `Opening`'s decoder
    if zs.iter().any(group::g1_is_inf) {
        return false;
    }
    let us: Vec<blst_p1_affine> = cts.iter().map(|c| *c.as_ref().u_hat()).collect();
    let (sz, su) = random_combinations(zs, &us, checker, rng);
    group::pairing_eq_prepared(
        &sz,
        group::g2_generator_prepared(),
        &su,
        key.opening_lines(),
    )
}

/// `(Σρ_j·a_j, Σρ_j·b_j)` for fresh `ρ` of `checker`'s width `ℓ` (64 or 128 bits): checking
/// `e(Σρa, G2) = e(Σρb, q)` checks every `e(a_j, G2) = e(b_j, q)` except with probability
/// 2^-ℓ (SPEC §2.7, §2.8). All points must be in G1.
fn random_combinations<R: CryptoRng + ?Sized>(
    a: &[blst_p1_affine],
    b: &[blst_p1_affine],
    checker: Checker,
    rng: &mut R,
) -> (blst_p1_affine, blst_p1_affine) {
    // One equation needs no batching.
    if let ([a0], [b0]) = (a, b) {
        return (*a0, *b0);
    }
    let rho = checker.weights(a.len(), rng);
    let bits = checker.weight_bits();
    let (sa, sb) = rayon::join(
        || group::msm_vartime(a, &rho, bits),
        || group::msm_vartime(b, &rho, bits),
    );
    (group::p1_to_affine(&sa), group::p1_to_affine(&sb))
}

/// Verifies one member's batch against its verification key. A batch naming a member index
/// the key does not have is [`FaultReason::UnknownMember`].
pub fn check_share_batch<C: AsRef<Ciphertext> + Sync, R: CryptoRng + ?Sized>(
    key: &CommitteeKey,
    cts: &[C],
    batch: &ShareBatch,
    rng: &mut R,
) -> Result<(), FaultReason> {
    if batch.member as usize >= key.n() {
        return Err(FaultReason::UnknownMember {
            member: batch.member,
            n: key.n() as u32,
        });
    }
    if batch.shares.len() != cts.len() {
        return Err(FaultReason::WrongLength {
            expected: cts.len() as u32,
            got: batch.shares.len() as u32,
        });
    }
    if let Some(position) = batch
        .shares
        .par_iter()
        .position_first(|s| !group::g1_in_subgroup(s))
    {
        return Err(FaultReason::NotInSubgroup {
            position: position as u32,
        });
    }
    if cts.is_empty() {
        return Ok(());
    }
    let us: Vec<blst_p1_affine> = cts.iter().map(|c| *c.as_ref().u_hat()).collect();
    let (sz, su) = random_combinations(&batch.shares, &us, Checker::Member, rng);
    if group::pairing_eq(&sz, &group::g2_generator(), &su, key.vk(batch.member)) {
        Ok(())
    } else {
        Err(FaultReason::PairingMismatch)
    }
}

/// Third-party check of a released batch: every opening is correct for its ciphertext. This
/// is the observer's check (SPEC §2.8): its weights are 128 bits wide, where a member's
/// combine uses 64, because no other party's check backs an observer's verdict.
pub fn verify_openings<C: AsRef<Ciphertext> + Sync, R: CryptoRng + ?Sized>(
    key: &CommitteeKey,
    cts: &[C],
    openings: &[Opening],
    rng: &mut R,
) -> bool {
    let zs: Vec<blst_p1_affine> = openings.iter().map(|o| o.0).collect();
    openings_hold(key, cts, &zs, Checker::Observer, rng)
}

/// Decrypts one ciphertext with its opening. Only meaningful for a verified opening.
pub fn open(ct: &Ciphertext, opening: &Opening) -> Decryption {
    open_point(ct, &opening.0)
}

fn open_point(ct: &Ciphertext, z: &blst_p1_affine) -> Decryption {
    let key = kdf(ct.u(), z);
    let cipher = ChaCha20Poly1305::new(key.as_ref().into());
    let framed = match cipher.decrypt(
        &Default::default(),
        Payload {
            msg: ct.payload(),
            aad: &crate::ciphertext::aad(ct.label()),
        },
    ) {
        Ok(f) => zeroize::Zeroizing::new(f),
        Err(_) => return Decryption::Undecryptable(Undecryptable::AeadFailure),
    };
    let len = u32::from_be_bytes(framed[..4].try_into().expect("frame header")) as usize;
    match framed[4..].split_at_checked(len) {
        Some((msg, pad)) if pad.iter().all(|&b| b == 0) => Decryption::Plaintext(msg.to_vec()),
        _ => Decryption::Undecryptable(Undecryptable::BadFraming),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ciphertext::{encrypt_malformed, verify};
    use crate::key::deal;
    use crate::label::Label;
    use crate::{KeyEpoch, Namespace};
    use rand_chacha::ChaCha20Rng;
    use rand_core::{Rng, SeedableRng};

    /// A sender's garbage ends as a publicly checkable verdict, never silently dropped, and
    /// does not disturb the rest of the batch.
    #[test]
    fn malformed_senders_get_checkable_verdicts() {
        let mut r = ChaCha20Rng::seed_from_u64(21);
        let (key, shares) = deal(4, 3, &mut r).unwrap();
        let l = Label::new(key.id(), KeyEpoch(0), Namespace(3), b"s").unwrap();
        let ek = key.encryption_key();
        let mut long_len = 100u32.to_be_bytes().to_vec();
        long_len.extend_from_slice(b"short");
        let mut dirty_pad = 1u32.to_be_bytes().to_vec();
        dirty_pad.extend_from_slice(b"x\x01");
        let cts: Vec<VerifiedCiphertext> = [
            encrypt_malformed(ek, &l, b"", Some(vec![7u8; 40]), &mut r),
            encrypt_malformed(ek, &l, &long_len, None, &mut r),
            encrypt_malformed(ek, &l, &dirty_pad, None, &mut r),
            crate::encrypt(ek, &l, b"fine", crate::Padding::Buckets, &mut r).unwrap(),
        ]
        .into_iter()
        .map(|c| verify(&key, c).unwrap())
        .collect();
        let batches: Vec<ShareBatch> = shares
            .iter()
            .map(|s| s.decryption_shares([1; 32], &cts))
            .collect();
        let out = combine(&key, [1; 32], &cts, &batches, &mut r).unwrap();
        assert_eq!(
            out.decryptions,
            vec![
                Decryption::Undecryptable(Undecryptable::AeadFailure),
                Decryption::Undecryptable(Undecryptable::BadFraming),
                Decryption::Undecryptable(Undecryptable::BadFraming),
                Decryption::Plaintext(b"fine".to_vec()),
            ]
        );
        // anyone can check: the openings are correct, and opening gives the same verdicts
        assert!(verify_openings(&key, &cts, &out.openings, &mut r));
        for ((ct, o), d) in cts.iter().zip(&out.openings).zip(&out.decryptions) {
            assert_eq!(&open(ct, o), d);
        }
    }

    /// The verdicts' names are the SPEC §2.7 ones and parse back; nothing else parses.
    #[test]
    fn undecryptable_codes_are_stable() {
        let codes: Vec<&str> = Undecryptable::ALL.iter().map(|u| u.code()).collect();
        assert_eq!(codes, ["aead_failure", "bad_framing"]);
        for u in Undecryptable::ALL {
            assert_eq!(Undecryptable::from_code(u.code()), Some(u));
            assert_eq!(Undecryptable::from_code(&u.to_string()), None);
        }
    }

    /// An observer's opening check draws 128-bit weights. Openings forged against the 64-bit
    /// weights a given RNG state will produce pass a member's check from that state (what
    /// 64-bit weights allow, with probability 2^-64 when the weights are unknown) and fail an
    /// observer's from the same state.
    #[test]
    fn observer_weights_are_128_bits() {
        let mut r = ChaCha20Rng::seed_from_u64(24);
        let (key, shares) = deal(4, 3, &mut r).unwrap();
        let l = Label::new(key.id(), KeyEpoch(0), Namespace(3), b"s").unwrap();
        let cts: Vec<VerifiedCiphertext> = [b"a", b"b"]
            .iter()
            .map(|m| {
                let ct = crate::encrypt(key.encryption_key(), &l, *m, crate::Padding::None, &mut r);
                verify(&key, ct.unwrap()).unwrap()
            })
            .collect();
        let batches: Vec<ShareBatch> = shares
            .iter()
            .map(|s| s.decryption_shares([1; 32], &cts))
            .collect();
        let honest = combine(&key, [1; 32], &cts, &batches, &mut r)
            .unwrap()
            .openings;
        assert!(verify_openings(&key, &cts, &honest, &mut r.clone()));
        // ρ_1·δ_1 + ρ_2·δ_2 = 0 for δ_1 = ρ_2·g1, δ_2 = −ρ_1·g1 and the next two 64-bit draws
        let mut predicted = r.clone();
        let rho1 = crate::scalar::Scalar::from_u64(predicted.next_u64());
        let rho2 = crate::scalar::Scalar::from_u64(predicted.next_u64());
        let shift = |z: &Opening, k: &crate::scalar::Scalar| {
            let d = group::g1_mul_ct(&group::g1_generator(), k);
            Opening(group::p1_to_affine(&group::p1_add_affine(&d, &z.0)))
        };
        let forged = vec![shift(&honest[0], &rho2), shift(&honest[1], &rho1.neg())];
        assert_ne!(forged, honest);
        let zs: Vec<blst_p1_affine> = forged.iter().map(|o| o.0).collect();
        assert!(openings_hold(
            &key,
            &cts,
            &zs,
            Checker::Member,
            &mut r.clone()
        ));
        assert!(!verify_openings(&key, &cts, &forged, &mut r.clone()));
    }

    /// A batch decoded from untrusted bytes may name any member index: checking it is an
    /// error, not a panic, and it is no evidence against anyone.
    #[test]
    fn batch_from_an_unknown_member_is_an_error() {
        let mut r = ChaCha20Rng::seed_from_u64(23);
        let (key, shares) = deal(4, 3, &mut r).unwrap();
        let l = Label::new(key.id(), KeyEpoch(0), Namespace(3), b"s").unwrap();
        let ct = crate::encrypt(key.encryption_key(), &l, b"m", crate::Padding::None, &mut r);
        let cts = vec![verify(&key, ct.unwrap()).unwrap()];
        let mut bytes = shares[0].decryption_shares([1; 32], &cts).to_bytes();
        for member in [4u32, u32::MAX] {
            bytes[33..37].copy_from_slice(&member.to_be_bytes());
            let batch = ShareBatch::from_bytes(&bytes).unwrap();
            assert_eq!(
                check_share_batch(&key, &cts, &batch, &mut r),
                Err(FaultReason::UnknownMember { member, n: 4 })
            );
            let evidence = FaultEvidence {
                batch,
                reason: FaultReason::UnknownMember { member, n: 4 },
            };
            assert!(!evidence.verify(&key, &cts, &mut r));
        }
    }

    #[test]
    fn duplicate_foreign_and_short_batches() {
        let mut r = ChaCha20Rng::seed_from_u64(22);
        let (key, shares) = deal(4, 2, &mut r).unwrap();
        let l = Label::new(key.id(), KeyEpoch(0), Namespace(3), b"s").unwrap();
        let ct = verify(
            &key,
            crate::encrypt(key.encryption_key(), &l, b"m", crate::Padding::None, &mut r).unwrap(),
        )
        .unwrap();
        let cts = vec![ct];
        let good = shares[0].decryption_shares([1; 32], &cts);
        let foreign = shares[1].decryption_shares([2; 32], &cts);
        let short = shares[2].decryption_shares([1; 32], &[]);
        // duplicates of member 0 count once; the foreign batch is ignored; the short one is a fault
        let err = combine(
            &key,
            [1; 32],
            &cts,
            &[good.clone(), good.clone(), foreign, short],
            &mut r,
        )
        .unwrap_err();
        let CombineError::NotEnoughShares {
            valid,
            needed,
            faults,
        } = err;
        assert_eq!((valid, needed), (1, 2));
        assert_eq!(faults.len(), 1);
        assert_eq!(
            faults[0].reason,
            FaultReason::WrongLength {
                expected: 1,
                got: 0
            }
        );
        // an empty batch combines to nothing
        let out = combine(
            &key,
            [1; 32],
            &[],
            &[
                shares[0].decryption_shares([1; 32], &[]),
                shares[1].decryption_shares([1; 32], &[]),
            ],
            &mut r,
        )
        .unwrap();
        assert!(out.decryptions.is_empty());
    }
}
