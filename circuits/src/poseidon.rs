//! Poseidon over the BLS12-381 scalar field, natively and as an R1CS gadget.
//!
//! Parameters: state width 3 (rate 2, capacity 1), S-box x^5, 8 full rounds and 57 partial rounds:
//! the 128-bit-security row for t = 3, alpha = 5 and a 255-bit prime of Grassi, Khovratovich,
//! Rechberger, Roy, Schofnegger, "Poseidon: A New Hash Function for Zero-Knowledge Proof
//! Systems" (USENIX Security 2021, Table 2). Round constants and the MDS matrix come from
//! ark-crypto-primitives' `find_poseidon_ark_and_mds` (the paper's Grain LFSR; the first
//! matrix drawn passes the reference generator's subspace-trail checks, so none is skipped).
//!
//! Every use of the hash has its own domain tag, written into the capacity element before
//! absorbing (the paper's §4.2 domain separation): a leaf, a Merkle node, `a1` and a nullifier
//! can never be confused, and inputs of different lengths never collide through zero padding.
//! Each hash absorbs its fixed number of inputs and squeezes one element.

use crate::{encoding::fr_to_be_bytes, Fr};
use ark_crypto_primitives::sponge::{
    constraints::CryptographicSpongeVar,
    poseidon::PoseidonSponge,
    poseidon::{constraints::PoseidonSpongeVar, find_poseidon_ark_and_mds, PoseidonConfig},
    CryptographicSponge,
};
use ark_ff::PrimeField;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Sponge rate (field elements absorbed per permutation).
pub const RATE: usize = 2;
/// Sponge capacity.
pub const CAPACITY: usize = 1;
/// S-box exponent.
pub const ALPHA: u64 = 5;
/// Full rounds (half before, half after the partial rounds).
pub const FULL_ROUNDS: usize = 8;
/// Partial rounds.
pub const PARTIAL_ROUNDS: usize = 57;

/// What a hash is used for; the tag is the initial capacity element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// Identity commitment (Merkle leaf): `H(a0, limit)`.
    Leaf = 1,
    /// Merkle node: `H(left, right)`.
    Node = 2,
    /// Per-message secret slope: `a1 = H(a0, epoch, k)`.
    Slope = 3,
    /// Nullifier: `H(a1)`.
    Nullifier = 4,
}

/// The Poseidon configuration (computed once).
pub fn config() -> &'static PoseidonConfig<Fr> {
    static CONFIG: OnceLock<PoseidonConfig<Fr>> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let (ark, mds) = find_poseidon_ark_and_mds::<Fr>(
            u64::from(Fr::MODULUS_BIT_SIZE),
            RATE,
            FULL_ROUNDS as u64,
            PARTIAL_ROUNDS as u64,
            0,
        );
        PoseidonConfig::new(FULL_ROUNDS, PARTIAL_ROUNDS, ALPHA, mds, ark, RATE, CAPACITY)
    })
}

/// SHA-256 over this Poseidon instance (part of every circuit digest, `crate::circuit_digest`): `rate, capacity (u8) ‖ alpha, full, partial rounds (u64)
/// ‖ round constants ‖ MDS` (field elements 32 bytes big-endian, row by row).
pub fn digest() -> [u8; 32] {
    static DIGEST: OnceLock<[u8; 32]> = OnceLock::new();
    *DIGEST.get_or_init(|| {
        let c = config();
        let mut h = Sha256::new();
        h.update([c.rate as u8, c.capacity as u8]);
        for n in [c.alpha, c.full_rounds as u64, c.partial_rounds as u64] {
            h.update(n.to_be_bytes());
        }
        for x in c.ark.iter().chain(&c.mds).flatten() {
            h.update(fr_to_be_bytes(x));
        }
        h.finalize().into()
    })
}

/// Native hash of `inputs` under `domain`.
pub fn hash(domain: Domain, inputs: &[Fr]) -> Fr {
    let mut sponge = PoseidonSponge::new(config());
    sponge.state[0] = Fr::from(domain as u64);
    sponge.absorb(&inputs);
    sponge.squeeze_field_elements::<Fr>(1)[0]
}

/// In-circuit hash of `inputs` under `domain`; equal to [`hash`] on the same values.
pub fn hash_var(
    cs: ConstraintSystemRef<Fr>,
    domain: Domain,
    inputs: &[FpVar<Fr>],
) -> Result<FpVar<Fr>, SynthesisError> {
    let mut sponge = PoseidonSpongeVar::new(cs, config());
    sponge.state[0] = FpVar::Constant(Fr::from(domain as u64));
    sponge.absorb(&inputs)?;
    Ok(sponge.squeeze_field_elements(1)?.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{One, Zero};
    use ark_r1cs_std::{alloc::AllocVar, GR1CSVar};
    use ark_relations::gr1cs::ConstraintSystem;
    use ark_std::UniformRand;
    use rand_chacha_03::{rand_core::SeedableRng, ChaCha20Rng};

    #[test]
    fn gadget_equals_native() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for (domain, arity) in [
            (Domain::Leaf, 2),
            (Domain::Node, 2),
            (Domain::Slope, 3),
            (Domain::Nullifier, 1),
        ] {
            let values: Vec<Fr> = (0..arity).map(|_| Fr::rand(&mut rng)).collect();
            let cs = ConstraintSystem::<Fr>::new_ref();
            let vars: Vec<FpVar<Fr>> = values
                .iter()
                .map(|v| FpVar::new_witness(cs.clone(), || Ok(*v)).unwrap())
                .collect();
            let out = hash_var(cs.clone(), domain, &vars).unwrap();
            assert_eq!(out.value().unwrap(), hash(domain, &values), "{domain:?}");
            assert!(cs.is_satisfied().unwrap());
        }
    }

    #[test]
    fn domains_and_lengths_separate() {
        let a = Fr::from(7u64);
        let zero = Fr::from(0u64);
        assert_ne!(hash(Domain::Leaf, &[a, a]), hash(Domain::Node, &[a, a]));
        assert_ne!(
            hash(Domain::Nullifier, &[a]),
            hash(Domain::Node, &[a, zero])
        );
    }

    type Mat = Vec<Vec<Fr>>;

    fn mat_mul(a: &Mat, b: &Mat) -> Mat {
        (0..3)
            .map(|i| {
                (0..3)
                    .map(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum())
                    .collect()
            })
            .collect()
    }

    fn apply(m: &Mat, v: &[Fr; 3]) -> [Fr; 3] {
        std::array::from_fn(|i| (0..3).map(|k| m[i][k] * v[k]).sum())
    }

    fn det(c: [[Fr; 3]; 3]) -> Fr {
        c[0][0] * (c[1][1] * c[2][2] - c[1][2] * c[2][1])
            - c[0][1] * (c[1][0] * c[2][2] - c[1][2] * c[2][0])
            + c[0][2] * (c[1][0] * c[2][1] - c[1][1] * c[2][0])
    }

    fn parallel(u: &[Fr; 3], v: &[Fr; 3]) -> bool {
        (0..3).all(|i| u[i] * v[(i + 1) % 3] == u[(i + 1) % 3] * v[i])
    }

    /// The checks of the Poseidon reference generator (`generate_parameters_grain.sage`,
    /// algorithms 1–3 of Grassi, Rechberger, Schofnegger, "Proving resistance against infinitely
    /// long subspace trails", ToSC 2021), specialised to t = 3 with the S-box on element 0:
    /// - algorithm 1: neither `M` nor `M^2` is scalar, and no non-zero state that keeps the
    ///   partial-round S-box inactive for one round (`x_0 = (Mx)_0 = 0`, i.e. `x ∥ w` with
    ///   `w = (0, M_02, −M_01)`) spans an invariant subspace of `M` or `M^2`;
    /// - algorithms 2 and 3: for `A = M^r`, `r = 1..=12` (= 4t), the S-box output reaches the
    ///   whole state (`e_0, A·e_0, A^2·e_0` are independent).
    ///
    /// The reference regenerates the matrix until all hold; the first matrix (`skip_matrices
    /// = 0`) passes, so these are the parameters the reference generator outputs.
    #[test]
    fn mds_passes_the_reference_subspace_trail_checks() {
        let m = &config().mds;
        let m2 = mat_mul(m, m);
        let one = Fr::one();
        let scalar = |a: &Mat| {
            (0..3).all(|i| (0..3).all(|j| i == j || a[i][j].is_zero()))
                && a[0][0] == a[1][1]
                && a[1][1] == a[2][2]
        };
        assert!(!scalar(m) && !scalar(&m2));
        let w = [Fr::zero(), m[0][2], -m[0][1]];
        assert!(!w.iter().all(|x| x.is_zero()));
        assert!(!parallel(&apply(m, &w), &w) && !parallel(&apply(&m2, &w), &w));
        let mut a = m.clone();
        for r in 1..=12 {
            let e0 = [one, Fr::zero(), Fr::zero()];
            let a_e0 = apply(&a, &e0);
            let a2_e0 = apply(&a, &a_e0);
            assert!(!det([e0, a_e0, a2_e0]).is_zero(), "M^{r}");
            a = mat_mul(&a, m);
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Pins the instance: any change of constants, tags or sponge use changes these.
    #[test]
    fn known_answers() {
        assert_eq!(
            hex(&digest()),
            "37d37bb08cd92aa7752d23b04639fe8a9a799a7fe093155d4bf3c9fec9c3a5f4"
        );
        let z1 = hash(Domain::Node, &[Fr::zero(), Fr::zero()]);
        assert_eq!(
            hex(&fr_to_be_bytes(&z1)),
            "423955422452a99c402555c56874db60d75b7dc998b3c95c8c66282e6ae48a98"
        );
    }

    #[test]
    fn parameters_are_the_documented_ones() {
        let c = config();
        assert_eq!((c.rate, c.capacity, c.alpha), (2, 1, 5));
        assert_eq!((c.full_rounds, c.partial_rounds), (8, 57));
        assert_eq!(c.ark.len(), 65);
        assert!(c.ark.iter().all(|r| r.len() == 3));
        assert_eq!(c.mds.len(), 3);
    }
}
