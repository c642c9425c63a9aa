//! Proofs: encoding, proving, single and batched verification.

use crate::{
    circuit::{Assignment, RlnCircuit, Witness},
    encoding::{decode_canonical, encode, random_fr},
    keys::{ProvingKey, VerifyingKey},
    pairing::{self, affine, g1, g2, MillerProduct},
    prover::create_proof,
    DecodeError, Fr, ProveError, Statement, VerifyError,
};
use ark_bls12_381::Bls12_381;
use ark_ec::AffineRepr;
use ark_ff::{One, Zero};
use blst::{blst_p1, blst_p1_affine, blst_p2_affine, p1_affines};
use rand_core::CryptoRng;
use rayon::prelude::*;
use zeroize::Zeroizing;

/// Length of a compressed proof: A (G1, 48) ‖ B (G2, 96) ‖ C (G1, 48).
pub const PROOF_BYTES: usize = 192;

/// A Groth16 proof for one [`Statement`].
#[derive(Clone, Debug, PartialEq)]
pub struct Proof(pub(crate) ark_groth16::Proof<Bls12_381>);

impl Proof {
    /// Canonical compressed encoding.
    pub fn to_bytes(&self) -> [u8; PROOF_BYTES] {
        encode(&self.0)
            .try_into()
            .expect("a compressed Groth16 proof over BLS12-381 is 192 bytes")
    }

    /// Decodes [`Proof::to_bytes`]: exact length, points on the curve and in their prime-order
    /// subgroups, not the identity, canonical encoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() != PROOF_BYTES {
            return Err(DecodeError::Length {
                expected: PROOF_BYTES,
                got: bytes.len(),
            });
        }
        let proof: ark_groth16::Proof<Bls12_381> = decode_canonical(bytes)
            .map_err(|e| e.map_or(DecodeError::NonCanonical, DecodeError::Point))?;
        // An honest proof has no identity point (each is blinded by the prover's randomness).
        if proof.a.is_zero() || proof.b.is_zero() || proof.c.is_zero() {
            return Err(DecodeError::Identity);
        }
        Ok(Self(proof))
    }
}

/// Proves `witness` (checked natively first). The statement is [`Witness::statement`].
pub fn prove<R: CryptoRng + ?Sized>(
    pk: &ProvingKey,
    witness: &Witness<'_>,
    rng: &mut R,
) -> Result<Proof, ProveError> {
    witness.check(pk.params())?;
    let circuit = RlnCircuit {
        params: pk.params(),
        values: Some(Assignment::new(witness, pk.params())),
    };
    // The blinding scalars hide the witness: zeroized after use.
    let (r, s) = (
        Zeroizing::new(random_fr(rng)),
        Zeroizing::new(random_fr(rng)),
    );
    create_proof(&pk.pk, &pk.prepared, circuit, *r, *s).map(Proof)
}

/// `[1, x_1, …, x_5]`: the IC scalars of one statement.
fn ic_scalars(statement: &Statement) -> [Fr; 6] {
    let mut out = [Fr::one(); 6];
    out[1..].copy_from_slice(&statement.public_inputs());
    out
}

/// Verifies one proof: `e(A, B)·e(L, −γ)·e(C, −δ) = e(α, β)`, `L = IC_0 + Σ_j x_j·IC_j`.
pub fn verify(vk: &VerifyingKey, statement: &Statement, proof: &Proof) -> Result<(), VerifyError> {
    let p = &vk.prepared;
    let mut m = MillerProduct::new();
    m.pair(&g1(&proof.0.a), &g2(&proof.0.b));
    m.pair_lines(&affine(&p.inputs(&ic_scalars(statement))), &p.neg_gamma);
    m.pair_lines(&g1(&proof.0.c), &p.neg_delta);
    if m.finish() == p.alpha_beta {
        Ok(())
    } else {
        Err(VerifyError::Invalid)
    }
}

/// Verifies a batch with one random linear combination: for independent 128-bit `r_i`,
///
/// `Π e(r_i·A_i, B_i) · e(Σ r_i·L_i, −γ) · e(Σ r_i·C_i, −δ) · e(−(Σ r_i)·α, β) = 1`
///
/// with `L_i = IC_0 + Σ_j x_ij·IC_j`, so `Σ r_i·L_i = (Σ r_i)·IC_0 + Σ_j (Σ_i r_i·x_ij)·IC_j`
/// is one 6-point MSM. One multi-Miller loop over the `n` proof pairs, three more with
/// precomputed lines, one final exponentiation. Accepts a batch containing an invalid proof
/// with probability at most 2^-128. An empty batch is valid.
pub fn verify_batch<R: CryptoRng + ?Sized>(
    vk: &VerifyingKey,
    batch: &[(Statement, Proof)],
    rng: &mut R,
) -> Result<(), VerifyError> {
    if batch.is_empty() {
        return Ok(());
    }
    let p = &vk.prepared;
    let mut rs = Vec::with_capacity(batch.len());
    let mut sums = [Fr::zero(); 6];
    for (statement, _) in batch {
        let r = Fr::from(random_nonzero_u128(rng));
        for (acc, x) in sums.iter_mut().zip(ic_scalars(statement)) {
            *acc += r * x;
        }
        rs.push(r);
    }
    // Per-proof work (a 128-bit multiplication, point conversions) and the Miller loops are
    // split over the threads; one final exponentiation at the end.
    let per_proof: Vec<(blst_p1, blst_p2_affine, blst_p1_affine)> = batch
        .par_iter()
        .zip(rs.par_iter())
        .map(|((_, proof), r)| {
            let a = pairing::mul(&g1(&proof.0.a), r, 128);
            (a, g2(&proof.0.b), g1(&proof.0.c))
        })
        .collect();
    let (scaled_a, (bs, cs)): (Vec<_>, (Vec<_>, Vec<_>)) =
        per_proof.into_iter().map(|(a, b, c)| (a, (b, c))).unzip();
    let scaled_a = p1_affines::from(&scaled_a);
    let half = batch.len().div_ceil(2);
    let (mut m, rest) = rayon::join(
        || {
            let mut m = MillerProduct::new();
            m.pairs(&scaled_a.as_slice()[..half], &bs[..half]);
            m
        },
        || {
            let mut m = MillerProduct::new();
            m.pairs(&scaled_a.as_slice()[half..], &bs[half..]);
            m.pair_lines(&affine(&p.inputs(&sums)), &p.neg_gamma);
            m.pair_lines(&affine(&pairing::msm(&cs, &rs, 128)), &p.neg_delta);
            m.pair_lines(&affine(&pairing::mul(&p.neg_alpha, &sums[0], 255)), &p.beta);
            m
        },
    );
    m.merge(rest);
    if m.finish().is_one() {
        Ok(())
    } else {
        Err(VerifyError::BatchInvalid)
    }
}

/// A uniform non-zero 128-bit weight (zero would drop its proof from the check).
fn random_nonzero_u128<R: CryptoRng + ?Sized>(rng: &mut R) -> u128 {
    loop {
        let mut r = [0u8; 16];
        rng.fill_bytes(&mut r);
        let r = u128::from_le_bytes(r);
        if r != 0 {
            return r;
        }
    }
}

/// The indices of the invalid proofs in `batch`, by single verification (the fallback after
/// [`verify_batch`] fails).
pub fn find_invalid(vk: &VerifyingKey, batch: &[(Statement, Proof)]) -> Vec<usize> {
    batch
        .iter()
        .enumerate()
        .filter(|(_, (s, p))| verify(vk, s, p).is_err())
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{circuit::TestMember, setup_dev, CircuitParams};
    use ark_groth16::{prepare_verifying_key, Groth16};
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    /// The blst checks give arkworks' verdicts, and points cross over unchanged.
    #[test]
    fn blst_verification_agrees_with_arkworks() {
        let params = CircuitParams::new(3, 4).unwrap();
        let (pk, vk) = setup_dev(params, [3; 32]);
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let member = TestMember::new(params.depth(), 5);
        let witness = member.witness(4, Fr::from(11u64));
        let proof = prove(&pk, &witness, &mut rng).unwrap();
        let pvk = prepare_verifying_key(&pk.pk.vk);
        let good = witness.statement();
        let bad = Statement {
            x: Fr::from(12u64),
            ..good
        };
        for statement in [good, bad] {
            let ark =
                Groth16::<Bls12_381>::verify_proof(&pvk, &proof.0, &statement.public_inputs())
                    .unwrap();
            assert_eq!(verify(&vk, &statement, &proof).is_ok(), ark);
            let batch = [(statement, proof.clone())];
            assert_eq!(verify_batch(&vk, &batch, &mut rng).is_ok(), ark);
        }

        let compressed = crate::ffi::p1_affine_compress(&g1(&proof.0.a));
        assert_eq!(compressed[..], encode(&proof.0.a)[..]);
        let compressed = crate::ffi::p2_affine_compress(&g2(&proof.0.b));
        assert_eq!(compressed[..], encode(&proof.0.b)[..]);
    }
}
