//! Decryption shares for a committed batch: member i sends `x_i·u_j` for every ciphertext j
//! of the batch, in order. No proof object is needed: with the member's verification key
//! `x_i·G2`, anyone checks a whole batch with one randomised pairing equation
//! `e(Σρ_j·s_ij, G2) = e(Σρ_j·u_j, vk_i)` (two MSMs and two Miller loops, see `combine`).

use crate::ciphertext::VerifiedCiphertext;
use crate::encoding::{serde_via_bytes, Reader};
use crate::error::DecodeError;
use crate::group::{self, G1_UNCOMPRESSED};
use crate::key::KeyShare;
use blst::{blst_p1, blst_p1_affine};
use rayon::prelude::*;

const SHARE_BATCH_VERSION: u8 = 1;
/// Smallest batch for the lock-step multiplication (break-even ≈ 16 points on one thread,
/// measured; below 32 the per-point path also spreads better across threads).
const MIN_LOCKSTEP: usize = 32;
/// Smallest chunk per thread: the shared inversions are amortised over ≥ 64 points.
const LOCKSTEP_CHUNK: usize = 64;
/// Default cap on shares per batch when decoding without an explicit one.
pub const MAX_BATCH_LEN: usize = 1 << 16;

/// One member's decryption shares for one batch. Decoding checks that every share is a
/// canonical, on-curve, non-identity point; prime-order-subgroup membership is established by
/// `combine` only when the optimistic path fails (SPEC.md §Combine explains why that is safe).
#[derive(Clone, PartialEq, Eq)]
pub struct ShareBatch {
    pub(crate) batch_id: [u8; 32],
    pub(crate) member: u32,
    pub(crate) shares: Vec<blst_p1_affine>,
}

impl core::fmt::Debug for ShareBatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ShareBatch")
            .field("batch_id", &hex::encode(self.batch_id))
            .field("member", &self.member)
            .field("len", &self.shares.len())
            .finish()
    }
}

impl ShareBatch {
    pub fn batch_id(&self) -> [u8; 32] {
        self.batch_id
    }
    pub fn member(&self) -> u32 {
        self.member
    }
    pub fn len(&self) -> usize {
        self.shares.len()
    }
    pub fn is_empty(&self) -> bool {
        self.shares.is_empty()
    }

    /// version ‖ batch_id(32) ‖ member(u32) ‖ count(u32) ‖ count × uncompressed G1(96).
    /// Uncompressed on purpose: decoding a compressed point costs a square root (15 µs here),
    /// an uncompressed one only a curve-equation check, and the combiner decodes t·B of them.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(41 + G1_UNCOMPRESSED * self.shares.len());
        out.push(SHARE_BATCH_VERSION);
        out.extend_from_slice(&self.batch_id);
        out.extend_from_slice(&self.member.to_be_bytes());
        out.extend_from_slice(&(self.shares.len() as u32).to_be_bytes());
        for s in &self.shares {
            out.extend_from_slice(&group::g1_serialize(s));
        }
        out
    }

    /// Decodes with at most `max_len` shares.
    pub fn from_bytes_capped(bytes: &[u8], max_len: usize) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        r.version("share batch", SHARE_BATCH_VERSION)?;
        let batch_id = r.array("share batch id")?;
        let member = r.u32("share batch member")?;
        let count = r.len_u32("share batch count", 0, max_len)?;
        if r.remaining() != count * G1_UNCOMPRESSED {
            return Err(DecodeError::Length {
                field: "share batch body",
                len: r.remaining(),
                min: count * G1_UNCOMPRESSED,
                max: count * G1_UNCOMPRESSED,
            });
        }
        let body = r.take(count * G1_UNCOMPRESSED, "share batch body")?;
        let shares = body
            .par_chunks_exact(G1_UNCOMPRESSED)
            .map(|c| {
                group::g1_deserialize_on_curve(c.try_into().expect("exact chunk"))
                    .map_err(|error| crate::encoding::point("share", error))
            })
            .collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        Ok(Self {
            batch_id,
            member,
            shares,
        })
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::from_bytes_capped(bytes, MAX_BATCH_LEN)
    }
}

serde_via_bytes!(ShareBatch);

impl KeyShare {
    /// This member's decryption shares for a batch of verified ciphertexts, bound to
    /// `batch_id`. Constant time in the secret; parallel across ciphertexts.
    ///
    /// Callers must only pass ciphertexts whose order is final (the node enforces this with
    /// its `FinalizedBlock` type): a share is a partial decryption.
    ///
    /// Every point is multiplied by the same secret, so batches go through the lock-step
    /// batch-affine multiplication (`group::g1_mul_many_ct`, ~30 % less CPU per point than
    /// blst's per-point GLV from 64 points on), one chunk per rayon thread; below
    /// `MIN_LOCKSTEP` ciphertexts its ~170 shared inversions cost more than they save.
    pub fn decryption_shares(&self, batch_id: [u8; 32], cts: &[VerifiedCiphertext]) -> ShareBatch {
        // `u_hat` may still have to clear a cofactor: do that in parallel too.
        let points: Vec<blst_p1_affine> = cts.par_iter().map(|ct| *ct.u_hat()).collect();
        let shares = if points.len() < MIN_LOCKSTEP {
            let proj: Vec<blst_p1> = points
                .par_iter()
                .map(|u| group::g1_mul_ct(u, self.secret()))
                .collect();
            group::p1s_to_affine(&proj)
        } else {
            let threads = rayon::current_num_threads().max(1);
            let chunk = points.len().div_ceil(threads).max(LOCKSTEP_CHUNK);
            points
                .par_chunks(chunk)
                .flat_map_iter(|c| group::g1_mul_many_ct(c, self.secret()))
                .collect()
        };
        ShareBatch {
            batch_id,
            member: self.index(),
            shares,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ciphertext::verify;
    use crate::key::deal;
    use crate::label::Label;
    use crate::{KeyEpoch, Namespace};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    /// Both paths (per point below `MIN_LOCKSTEP`, lock-step chunks above, including a batch
    /// split into several chunks) give exactly `x_i·û_j`, in order.
    #[test]
    fn shares_are_the_secret_times_each_point() {
        let mut r = ChaCha20Rng::seed_from_u64(31);
        let (key, shares) = deal(4, 3, &mut r).unwrap();
        let l = Label::new(key.id(), KeyEpoch(0), Namespace(1), b"s").unwrap();
        let cts: Vec<VerifiedCiphertext> = (0..140)
            .map(|i| {
                let m = [i as u8; 3];
                let c = crate::encrypt(key.encryption_key(), &l, &m, crate::Padding::None, &mut r);
                verify(&key, c.unwrap()).unwrap()
            })
            .collect();
        let share = &shares[1];
        for n in [0, 5, MIN_LOCKSTEP, 140] {
            let batch = share.decryption_shares([3; 32], &cts[..n]);
            assert_eq!(batch.len(), n);
            for (ct, s) in cts.iter().zip(&batch.shares) {
                let want = group::p1_to_affine(&group::g1_mul_ct(ct.u_hat(), share.secret()));
                assert_eq!(group::g1_serialize(s), group::g1_serialize(&want));
            }
        }
    }
}
