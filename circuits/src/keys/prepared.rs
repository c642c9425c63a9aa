//! The keys in the forms their users compute with, built once when a key is made or loaded:
//! the verifying key as blst points, G2 lines and `e(α, β)` for the pairing checks; the
//! proving key as blst MSM bases without identity points, with the circuit's R1CS matrices.

use crate::{
    ffi,
    pairing::{self, g1, g2, scalar_le, Gt, Lines, MillerProduct},
    params::CircuitParams,
    Fr,
};
use ark_bls12_381::{Bls12_381, G1Affine, G2Affine};
use ark_ec::AffineRepr;
use ark_relations::gr1cs::{Matrix, R1CS_PREDICATE_LABEL};
use ark_serialize::CanonicalDeserialize;
use blst::{blst_p1, blst_p1_affine, blst_p2, blst_p2_affine, MultiPoint};

/// The verifying key in the form the pairing checks use (blst points, G2 lines, `e(α, β)`).
#[derive(Clone)]
pub(crate) struct PreparedVk {
    ic: Vec<blst_p1_affine>,
    pub(crate) neg_alpha: blst_p1_affine,
    pub(crate) alpha_beta: Gt,
    pub(crate) beta: Lines,
    pub(crate) neg_gamma: Lines,
    pub(crate) neg_delta: Lines,
}

impl PreparedVk {
    pub(crate) fn new(vk: &ark_groth16::VerifyingKey<Bls12_381>) -> Self {
        let mut alpha_beta = MillerProduct::new();
        alpha_beta.pair(&g1(&vk.alpha_g1), &g2(&vk.beta_g2));
        Self {
            ic: vk.gamma_abc_g1.iter().map(g1).collect(),
            neg_alpha: g1(&-vk.alpha_g1),
            alpha_beta: alpha_beta.finish(),
            beta: Lines::new(&vk.beta_g2),
            neg_gamma: Lines::new(&-vk.gamma_g2),
            neg_delta: Lines::new(&-vk.delta_g2),
        }
    }

    /// `IC_0·s_0 + Σ_j IC_j·s_j`.
    pub(crate) fn inputs(&self, scalars: &[Fr; 6]) -> blst_p1 {
        pairing::msm(&self.ic, scalars, 255)
    }
}

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
                out.copy_from_slice(&$serialize(&$to_affine(p)));
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
    ffi::p1_to_affine,
    ffi::p1_affine_serialize
);
blst_curve!(
    G2,
    G2Affine,
    blst_p2_affine,
    blst_p2,
    192,
    g2,
    ffi::p2_to_affine,
    ffi::p2_affine_serialize
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
    pub(crate) fn msm(&self, scalars: &[Fr]) -> <C::Ark as AffineRepr>::Group {
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
    pub(crate) a: Bases<G1>,
    pub(crate) b_g1: Bases<G1>,
    pub(crate) b_g2: Bases<G2>,
    pub(crate) h: Bases<G1>,
    pub(crate) l: Bases<G1>,
    /// The circuit's R1CS matrices (A, B, C).
    pub(crate) matrices: Vec<Matrix<Fr>>,
    pub(crate) num_instance: usize,
    pub(crate) num_constraints: usize,
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
