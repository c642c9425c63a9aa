//! Proofs: encoding, proving, single and batched verification.

use crate::{
    circuit::{Assignment, RlnCircuit, Witness},
    encoding::{decode_canonical, encode},
    keys::{ProvingKey, VerifyingKey},
    DecodeError, Fr, ProveError, Statement, VerifyError,
};
use ark_bls12_381::{Bls12_381, G1Affine, G1Projective};
use ark_ec::{
    pairing::{Pairing, PairingOutput},
    CurveGroup, VariableBaseMSM,
};
use ark_groth16::Groth16;
use rand_chacha_03::{rand_core::SeedableRng, ChaCha20Rng};
use rand_core::CryptoRng;
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
    /// subgroups, canonical encoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() != PROOF_BYTES {
            return Err(DecodeError::Length {
                expected: PROOF_BYTES,
                got: bytes.len(),
            });
        }
        decode_canonical(bytes)
            .map(Self)
            .map_err(|e| e.map_or(DecodeError::NonCanonical, DecodeError::Point))
    }
}

/// Arkworks draws randomness through rand_core 0.6: a ChaCha20 stream keyed from the caller's RNG.
fn ark_rng<R: CryptoRng + ?Sized>(rng: &mut R) -> ChaCha20Rng {
    let mut seed = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(seed.as_mut());
    ChaCha20Rng::from_seed(*seed)
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
    Groth16::<Bls12_381>::create_random_proof_with_reduction(circuit, &pk.pk, &mut ark_rng(rng))
        .map(Proof)
        .map_err(|e| ProveError::Synthesis(e.to_string()))
}

/// `IC_0 + Σ_j s_j·IC_j` for the statement's inputs `s`.
fn prepared_inputs(vk: &VerifyingKey, statement: &Statement) -> G1Projective {
    let ic = &vk.pvk.vk.gamma_abc_g1;
    ic[0] + G1Projective::msm(&ic[1..], &statement.public_inputs()).expect("5 bases, 5 scalars")
}

/// Verifies one proof.
pub fn verify(vk: &VerifyingKey, statement: &Statement, proof: &Proof) -> Result<(), VerifyError> {
    let inputs = prepared_inputs(vk, statement);
    match Groth16::<Bls12_381>::verify_proof_with_prepared_inputs(&vk.pvk, &proof.0, &inputs) {
        Ok(true) => Ok(()),
        _ => Err(VerifyError::Invalid),
    }
}

/// Verifies a batch with one random linear combination: for independent 128-bit `r_i`,
///
/// `Π e(r_i·A_i, B_i) · e(Σ r_i·L_i, −γ) · e(Σ r_i·C_i, −δ) = e(α, β)^(Σ r_i)`
///
/// with `L_i = IC_0 + Σ_j x_ij·IC_j`, so `Σ r_i·L_i = (Σ r_i)·IC_0 + Σ_j (Σ_i r_i·x_ij)·IC_j`
/// is one 6-point MSM. One multi-Miller loop over `n + 2` pairs and one final exponentiation.
/// Accepts an invalid batch with probability at most 2^-128. An empty batch is valid.
pub fn verify_batch<R: CryptoRng + ?Sized>(
    vk: &VerifyingKey,
    batch: &[(Statement, Proof)],
    rng: &mut R,
) -> Result<(), VerifyError> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut rs = Vec::with_capacity(batch.len());
    let mut ic_scalars = [Fr::from(0u64); 6];
    for (statement, _) in batch {
        let mut r = [0u8; 16];
        rng.fill_bytes(&mut r);
        let r = Fr::from(u128::from_le_bytes(r));
        ic_scalars[0] += r;
        for (acc, x) in ic_scalars[1..].iter_mut().zip(statement.public_inputs()) {
            *acc += r * x;
        }
        rs.push(r);
    }
    let r_sum = ic_scalars[0];
    let l = G1Projective::msm(&vk.pvk.vk.gamma_abc_g1, &ic_scalars).expect("6 bases, 6 scalars");
    let cs: Vec<G1Affine> = batch.iter().map(|(_, p)| p.0.c).collect();
    let c = G1Projective::msm(&cs, &rs).expect("equal lengths");
    let mut g1: Vec<G1Projective> = batch
        .iter()
        .zip(&rs)
        .map(|((_, p), r)| p.0.a * r)
        .collect();
    g1.push(l);
    g1.push(c);
    let g1 = G1Projective::normalize_batch(&g1);
    let g2 = batch
        .iter()
        .map(|(_, p)| p.0.b.into())
        .chain([vk.pvk.gamma_g2_neg_pc.clone(), vk.pvk.delta_g2_neg_pc.clone()]);
    let g1 = g1.into_iter().map(<Bls12_381 as Pairing>::G1Prepared::from);
    let lhs = Bls12_381::final_exponentiation(Bls12_381::multi_miller_loop(g1, g2));
    let rhs = PairingOutput(vk.pvk.alpha_g1_beta_g2) * r_sum;
    if lhs == Some(rhs) {
        Ok(())
    } else {
        Err(VerifyError::BatchInvalid)
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
