//! The Groth16 prover, with its multi-scalar multiplications on blst.
//!
//! arkworks' `create_proof_with_reduction` spends most of its time in five MSMs over the proving
//! key's queries; blst's Pippenger does them about twice as fast here (measured in the bench),
//! and skipping the identity points of the queries (a third of each B query: 1 929 of 5 859
//! at depth 20) shrinks them further.
//! The algebra is arkworks' (`create_proof_with_assignment`, libsnark reduction) unchanged; the
//! R1CS matrices are built once per key instead of once per proof.

use crate::{
    circuit::RlnCircuit,
    pairing::{g1, g2, scalar_le},
    params::CircuitParams,
    Fr, ProveError,
};
use ark_bls12_381::{Bls12_381, G1Affine, G1Projective, G2Affine, G2Projective};
use ark_ec::{AffineRepr, CurveGroup};
use ark_groth16::r1cs_to_qap::{LibsnarkReduction, R1CSToQAP};
use ark_poly::GeneralEvaluationDomain;
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, Matrix, OptimizationGoal, SynthesisError,
    SynthesisMode, R1CS_PREDICATE_LABEL,
};
use ark_serialize::CanonicalDeserialize;
use blst::{
    blst_p1, blst_p1_affine, blst_p1_affine_serialize, blst_p1_to_affine, blst_p2, blst_p2_affine,
    blst_p2_affine_serialize, blst_p2_to_affine, MultiPoint,
};

/// A curve group as both libraries see it (marker types: the arkworks affine types of G1 and
/// G2 are not distinguishable for trait coherence).
pub(crate) trait BlstCurve {
    type Ark: AffineRepr<ScalarField = Fr> + CanonicalDeserialize;
    type Affine;
    type Point;
    const UNCOMPRESSED: usize;
    fn to_blst(p: &Self::Ark) -> Self::Affine;
    fn msm(bases: &[Self::Affine], scalars: &[u8]) -> Self::Point;
    fn serialize(p: &Self::Point, out: &mut [u8]);
}

/// Implements [`BlstCurve`] for one group.
macro_rules! blst_curve {
    ($name:ident, $ark:ty, $affine:ty, $point:ty, $bytes:expr, $to_blst:path, $to_affine:path, $serialize:path) => {
        pub(crate) struct $name;

        impl BlstCurve for $name {
            type Ark = $ark;
            type Affine = $affine;
            type Point = $point;
            const UNCOMPRESSED: usize = $bytes;
            fn to_blst(p: &$ark) -> $affine {
                $to_blst(p)
            }
            fn msm(bases: &[$affine], scalars: &[u8]) -> $point {
                bases.mult(scalars, 255)
            }
            fn serialize(p: &$point, out: &mut [u8]) {
                let mut a = <$affine>::default();
                unsafe {
                    $to_affine(&mut a, p);
                    $serialize(out.as_mut_ptr(), &a);
                }
            }
        }
    };
}

blst_curve!(
    G1,
    G1Affine,
    blst_p1_affine,
    blst_p1,
    96,
    g1,
    blst_p1_to_affine,
    blst_p1_affine_serialize
);
blst_curve!(
    G2,
    G2Affine,
    blst_p2_affine,
    blst_p2,
    192,
    g2,
    blst_p2_to_affine,
    blst_p2_affine_serialize
);

/// The non-identity points of a query, with the positions of their scalars.
pub(crate) struct Bases<C: BlstCurve> {
    points: Vec<C::Affine>,
    positions: Vec<usize>,
}

impl<C: BlstCurve> Bases<C> {
    fn new(query: &[C::Ark]) -> Self {
        let (positions, points) = query
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.is_zero())
            .map(|(i, p)| (i, C::to_blst(p)))
            .unzip();
        Self { points, positions }
    }

    /// `Σ_i scalars[i]·query[i]`.
    fn msm(&self, scalars: &[Fr]) -> <C::Ark as AffineRepr>::Group {
        if self.points.is_empty() {
            return Default::default();
        }
        let bytes: Vec<u8> = self
            .positions
            .iter()
            .flat_map(|&i| scalar_le(&scalars[i]))
            .collect();
        let mut out = vec![0u8; C::UNCOMPRESSED];
        C::serialize(&C::msm(&self.points, &bytes), &mut out);
        C::Ark::deserialize_uncompressed_unchecked(&out[..])
            .expect("blst writes valid uncompressed points")
            .into_group()
    }
}

/// The proving key in the form the prover uses.
pub(crate) struct PreparedPk {
    a: Bases<G1>,
    b_g1: Bases<G1>,
    b_g2: Bases<G2>,
    h: Bases<G1>,
    l: Bases<G1>,
    /// The circuit's R1CS matrices (A, B, C).
    matrices: Vec<Matrix<Fr>>,
    num_instance: usize,
    num_constraints: usize,
}

impl PreparedPk {
    pub(crate) fn new(pk: &ark_groth16::ProvingKey<Bls12_381>, params: CircuitParams) -> Self {
        let cs = params.synthesize_blank();
        let mut matrices = cs.to_matrices().expect("setup mode builds matrices");
        Self {
            a: Bases::new(&pk.a_query),
            b_g1: Bases::new(&pk.b_g1_query),
            b_g2: Bases::new(&pk.b_g2_query),
            h: Bases::new(&pk.h_query),
            l: Bases::new(&pk.l_query),
            matrices: matrices
                .remove(R1CS_PREDICATE_LABEL)
                .expect("an R1CS predicate"),
            num_instance: cs.num_instance_variables(),
            num_constraints: cs.num_constraints(),
        }
    }
}

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
