//! Poseidon over the BLS12-381 scalar field, natively and as an R1CS gadget.
//!
//! Parameters: state width 3 (rate 2, capacity 1), S-box x^5, 8 full rounds and 57 partial rounds:
//! the 128-bit-security row for t = 3, alpha = 5 and a 255-bit prime of Grassi, Khovratovich,
//! Rechberger, Roy, Schofnegger, "Poseidon: A New Hash Function for Zero-Knowledge Proof
//! Systems" (USENIX Security 2021, Table 2). Round constants and the MDS matrix come from
//! ark-crypto-primitives' `find_poseidon_ark_and_mds` (the paper's Grain LFSR, no matrix
//! skipped).
//!
//! Every use of the hash has its own domain tag, written into the capacity element before
//! absorbing (the paper's §4.2 domain separation): a leaf, a Merkle node, `a1` and a nullifier
//! can never be confused, and inputs of different lengths never collide through zero padding.
//! Each hash absorbs its fixed number of inputs and squeezes one element.

use crate::Fr;
use ark_crypto_primitives::sponge::{
    constraints::CryptographicSpongeVar,
    poseidon::{constraints::PoseidonSpongeVar, find_poseidon_ark_and_mds, PoseidonConfig},
    poseidon::PoseidonSponge,
    CryptographicSponge,
};
use ark_ff::PrimeField;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::gr1cs::{ConstraintSystemRef, SynthesisError};
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
        assert_ne!(hash(Domain::Nullifier, &[a]), hash(Domain::Node, &[a, zero]));
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
