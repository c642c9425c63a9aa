//! The Groth16 prover, with its multi-scalar multiplications on blst (over the proving key's
//! bases, `keys::prepared::PreparedPk`).
//!
//! arkworks' `create_proof_with_reduction` spends most of its time in five MSMs over the proving
//! key's queries; blst's Pippenger does them about twice as fast here (measured in the bench),
//! and skipping the identity points of the queries (a third of each B query: 1 929 of 5 859
//! at depth 20) shrinks them further.
//! The algebra is arkworks' (`create_proof_with_assignment`, libsnark reduction) unchanged; the
//! R1CS matrices are built once per key instead of once per proof.

use crate::{circuit::RlnCircuit, keys::prepared::PreparedPk, Fr, ProveError};
use ark_bls12_381::{Bls12_381, G1Projective, G2Projective};
use ark_ec::CurveGroup;
use ark_groth16::r1cs_to_qap::{LibsnarkReduction, R1CSToQAP};
use ark_poly::GeneralEvaluationDomain;
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisError, SynthesisMode,
};

/// A Groth16 proof of `circuit` with blinding `r`, `s`.
pub(crate) fn create_proof(
    pk: &ark_groth16::ProvingKey<Bls12_381>,
    prepared: &PreparedPk,
    circuit: RlnCircuit,
    r: Fr,
    s: Fr,
) -> Result<ark_groth16::Proof<Bls12_381>, ProveError> {
    let failed = |e: SynthesisError| ProveError::Synthesis(e.to_string());
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Prove {
        construct_matrices: false,
        generate_lc_assignments: false,
    });
    circuit.generate_constraints(cs.clone()).map_err(failed)?;
    cs.finalize();
    // [1, inputs…, witness…]
    let full = [
        cs.instance_assignment().map_err(failed)?,
        cs.witness_assignment().map_err(failed)?,
    ]
    .concat();
    let h = LibsnarkReduction::witness_map_from_matrices::<Fr, GeneralEvaluationDomain<Fr>>(
        &prepared.matrices,
        prepared.num_instance,
        prepared.num_constraints,
        &full,
    )
    .map_err(failed)?;
    let aux = &full[prepared.num_instance..];

    // Query element 0 multiplies the constant 1, so the full assignment is the scalar vector.
    // blst runs single-threaded in this workspace: the two halves (about equal work, the G2
    // MSM costing about three G1 ones) go to two threads.
    let p = prepared;
    let ((a, b2), (b1, (l, h))) = rayon::join(
        || (p.a.msm(&full), p.b_g2.msm(&full)),
        || (p.b_g1.msm(&full), (p.l.msm(aux), p.h.msm(&h))),
    );
    let g1_a = pk.vk.alpha_g1 + a + pk.delta_g1 * r;
    let g1_b = pk.beta_g1 + b1 + pk.delta_g1 * s;
    let g2_b: G2Projective = pk.vk.beta_g2 + b2 + pk.vk.delta_g2 * s;
    let g1_c: G1Projective = g1_a * s + g1_b * r - pk.delta_g1 * (r * s) + l + h;
    Ok(ark_groth16::Proof {
        a: g1_a.into_affine(),
        b: g2_b.into_affine(),
        c: g1_c.into_affine(),
    })
}
