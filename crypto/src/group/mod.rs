//! Group arithmetic on BLS12-381 over blst: checked encodings, a constant-time fixed-base comb
//! for encryption, constant-time multiplication of many points by one secret scalar,
//! variable-time multi-scalar multiplication for public data, pairing checks.
//!
//! Everything here that touches a secret scalar (`FixedBase::mul`, `g1_mul_ct`, `g2_mul_ct`,
//! `g1_mul_many_ct`) is constant time; functions named `*_vartime` or `msm` must only ever see
//! public scalars and points. The raw blst calls are in `crate::ffi`; this module holds the
//! algorithms and is safe code.
//!
//! - `point`: generators, equality, normalisation, additions, single multiplications.
//! - `encode`: compressed and uncompressed encodings, decoded with every check they need.
//! - `cofactor`: clearing G1's cofactor, torsion tests.
//! - `fixed_base`: the comb for multiples of a fixed point (the generator, a committee key).
//! - `wnaf`: shared small weights (Lagrange coefficients) in NAF, and their multi-products.
//! - `glv`: the endomorphism `φ` and the scalar split `s = q·z² + m`.
//! - `field`: F_p masks and the affine addition step of the batch-affine methods.
//! - `mul_many`: one secret scalar times many points, in lock step (decryption shares).
//! - `msm`: `Σ k_i·P_i` for public data (batched checks).
//! - `pairing`: pairing equations, with prepared G2 points.

mod cofactor;
mod encode;
mod field;
mod fixed_base;
mod glv;
mod msm;
mod mul_many;
mod pairing;
mod point;
mod wnaf;

#[cfg(test)]
pub(crate) use cofactor::torsion_point;
pub(crate) use cofactor::{
    clear_cofactor, clear_cofactor_affine, h_eff_squared, torsion_only, H_EFF,
};
pub(crate) use encode::{
    g1_compress, g1_decompress, g1_deserialize_on_curve, g1_serialize, g2_compress, g2_decompress,
    G1_UNCOMPRESSED,
};
pub(crate) use fixed_base::{generator_table, FixedBase};
pub(crate) use glv::{glv_split, phi};
pub(crate) use msm::{msm_batch_affine, msm_vartime, pippenger};
pub(crate) use mul_many::g1_mul_many_ct;
pub(crate) use pairing::{g2_generator_prepared, pairing_eq, pairing_eq_prepared, PreparedG2};
#[cfg(test)]
pub(crate) use point::p1_from_affine;
pub(crate) use point::{
    g1_eq, g1_generator, g1_in_subgroup, g1_is_inf, g1_mul_ct, g2_eq, g2_generator, g2_mul_ct,
    g2_mul_small, p1_add, p1_add_affine, p1_eq, p1_is_inf, p1_sub, p1_to_affine, p1s_to_affine,
    p2_add_affine_assign, p2_to_affine,
};
pub(crate) use wnaf::SharedWeights;
