//! The RLN circuit.
//!
//! Public inputs (in this order): `root`, `epoch`, `nullifier`, `x`, `y`.
//! Private: `a0`, the bits of `k` and of `d = limit − 1 − k` (`range_bits` each), the path's
//! siblings and direction bits. Constraints:
//! - `k = Σ k_i·2^i`, `d = Σ d_i·2^i` with boolean `k_i`, `d_i`, and `limit := d + k + 1`: so
//!   `0 ≤ k < limit ≤ 2^(range_bits+1) − 1`, with no wrap-around since `2^33 ≪ r`;
//! - `leaf = H_leaf(a0, limit)`; at each height, with boolean `b`, `left = b ? sibling : node`
//!   (one constraint), `right = node + sibling − left` (free), `node = H_node(left, right)`;
//!   the last node equals `root`;
//! - `a1 = H_slope(a0, epoch, k)`, `a1·x = y − a0`, `H_nullifier(a1) = nullifier`.

use crate::{
    merkle::MerklePath,
    params::CircuitParams,
    poseidon::{hash_var, Domain},
    signal::{Identity, Statement},
    Fr, WitnessError,
};
use ark_ff::One;
use ark_r1cs_std::{
    alloc::AllocVar, boolean::Boolean, eq::EqGadget, fields::fp::FpVar, fields::FieldVar,
    select::CondSelectGadget,
};
use ark_relations::gr1cs::{
    ConstraintSynthesizer, ConstraintSystem, ConstraintSystemRef, OptimizationGoal, SynthesisError,
    SynthesisMode,
};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The sizes of the circuit for given parameters, found by synthesising it.
impl CircuitParams {
    /// Number of R1CS constraints (synthesised without values).
    pub fn num_constraints(&self) -> usize {
        self.shape().constraints
    }

    /// Sizes of the constraint system, as a Groth16 key for it has them.
    pub(crate) fn shape(&self) -> Shape {
        let cs = self.synthesize_blank();
        Shape {
            constraints: cs.num_constraints(),
            instance: cs.num_instance_variables(),
            witness: cs.num_witness_variables(),
        }
    }

    /// The constraint system without values, as key generation sees it (with its matrices).
    pub(crate) fn synthesize_blank(&self) -> ConstraintSystemRef<Fr> {
        let cs = ConstraintSystem::<Fr>::new_ref();
        cs.set_optimization_goal(OptimizationGoal::Constraints);
        cs.set_mode(SynthesisMode::Setup);
        RlnCircuit::blank(*self)
            .generate_constraints(cs.clone())
            .expect("the circuit synthesises without values in setup mode");
        cs.finalize();
        cs
    }
}

/// Sizes of the synthesised constraint system.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub(crate) constraints: usize,
    pub(crate) instance: usize,
    pub(crate) witness: usize,
}

/// What a member needs to prove one signal.
pub struct Witness<'a> {
    /// The member's identity.
    pub identity: &'a Identity,
    /// Path of the member's leaf in the tree with `root`.
    pub path: &'a MerklePath,
    /// Root the proof is for (one the verifiers accept).
    pub root: Fr,
    /// Epoch.
    pub epoch: u64,
    /// Message index `k` in this epoch (`k < limit`; reusing one reveals the secret).
    pub message_index: u32,
    /// Signal hash `x` (see [`crate::signal_hash`]).
    pub signal: Fr,
}

impl Witness<'_> {
    /// The public statement this witness proves (computed natively).
    pub fn statement(&self) -> Statement {
        let a1 = self.identity.slope(self.epoch, self.message_index);
        Statement {
            root: self.root,
            epoch: self.epoch,
            nullifier: crate::poseidon::hash(Domain::Nullifier, &[*a1]),
            x: self.signal,
            y: *self.identity.secret() + *a1 * self.signal,
        }
    }

    /// Checks natively what the circuit checks, so an inconsistent witness gives an error
    /// instead of an unsatisfiable proving run.
    pub fn check(&self, params: CircuitParams) -> Result<(), WitnessError> {
        if self.path.siblings.len() != usize::from(params.depth()) {
            return Err(WitnessError::PathDepth {
                path: self.path.siblings.len(),
                circuit: params.depth(),
            });
        }
        let limit = self.identity.limit();
        if limit == 0 || u64::from(limit) > params.max_limit() {
            return Err(WitnessError::Limit {
                limit,
                max: params.max_limit(),
            });
        }
        if self.message_index >= limit {
            return Err(WitnessError::MessageIndex {
                index: self.message_index,
                limit,
            });
        }
        if self.path.root(self.identity.commitment()) != self.root {
            return Err(WitnessError::PathMismatch);
        }
        Ok(())
    }
}

/// Values of every variable (absent during key generation). Tests build inconsistent ones.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Assignment {
    #[zeroize(skip)]
    pub statement: Statement,
    pub a0: Fr,
    pub k: u64,
    /// `limit − 1 − k`, reduced to `range_bits` bits (an out-of-range value makes the
    /// constraint system unsatisfiable, as it must).
    pub d: u64,
    pub siblings: Vec<Fr>,
    pub right: Vec<bool>,
}

impl Assignment {
    pub(crate) fn new(witness: &Witness<'_>, params: CircuitParams) -> Self {
        let mask = (1u64 << params.range_bits()) - 1;
        let limit = u64::from(witness.identity.limit());
        let k = u64::from(witness.message_index);
        Self {
            statement: witness.statement(),
            a0: *witness.identity.secret(),
            k,
            d: limit.wrapping_sub(1).wrapping_sub(k) & mask,
            siblings: witness.path.siblings.clone(),
            right: (0..witness.path.siblings.len())
                .map(|h| witness.path.is_right(h))
                .collect(),
        }
    }
}

/// The circuit for one signal.
pub(crate) struct RlnCircuit {
    pub(crate) params: CircuitParams,
    pub(crate) values: Option<Assignment>,
}

impl RlnCircuit {
    pub(crate) fn blank(params: CircuitParams) -> Self {
        Self {
            params,
            values: None,
        }
    }
}

fn missing() -> SynthesisError {
    SynthesisError::AssignmentMissing
}

/// `bits` little-endian boolean witnesses and their value as a linear combination (no
/// constraint beyond the booleanity of each bit).
fn bits_var(
    cs: &ConstraintSystemRef<Fr>,
    value: Option<u64>,
    bits: u8,
) -> Result<FpVar<Fr>, SynthesisError> {
    let vars = (0..bits)
        .map(|i| {
            Boolean::new_witness(cs.clone(), || {
                value.map(|v| (v >> i) & 1 == 1).ok_or_else(missing)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Boolean::le_bits_to_fp(&vars)
}

impl ConstraintSynthesizer<Fr> for RlnCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let v = self.values.as_ref();
        let input = |f: fn(&Statement) -> Fr| {
            FpVar::new_input(cs.clone(), || {
                v.map(|v| f(&v.statement)).ok_or_else(missing)
            })
        };
        let root = input(|s| s.root)?;
        let epoch = input(|s| Fr::from(s.epoch))?;
        let nullifier = input(|s| s.nullifier)?;
        let x = input(|s| s.x)?;
        let y = input(|s| s.y)?;

        let a0 = FpVar::new_witness(cs.clone(), || v.map(|v| v.a0).ok_or_else(missing))?;
        let k = bits_var(&cs, v.map(|v| v.k), self.params.range_bits())?;
        let d = bits_var(&cs, v.map(|v| v.d), self.params.range_bits())?;
        let limit = &d + &k + Fr::one();

        let mut node = hash_var(cs.clone(), Domain::Leaf, &[a0.clone(), limit])?;
        for h in 0..usize::from(self.params.depth()) {
            let sibling =
                FpVar::new_witness(cs.clone(), || v.map(|v| v.siblings[h]).ok_or_else(missing))?;
            let right =
                Boolean::new_witness(cs.clone(), || v.map(|v| v.right[h]).ok_or_else(missing))?;
            let left = FpVar::conditionally_select(&right, &sibling, &node)?;
            let other = &node + &sibling - &left;
            node = hash_var(cs.clone(), Domain::Node, &[left, other])?;
        }
        node.enforce_equal(&root)?;

        let a1 = hash_var(cs.clone(), Domain::Slope, &[a0.clone(), epoch, k])?;
        a1.mul_equals(&x, &(y - a0))?;
        hash_var(cs, Domain::Nullifier, &[a1])?.enforce_equal(&nullifier)
    }
}

/// Synthesises `circuit` with values and tells whether every constraint holds.
#[cfg(test)]
pub(crate) fn is_satisfied(circuit: RlnCircuit) -> bool {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    circuit.generate_constraints(cs.clone()).unwrap();
    cs.finalize();
    cs.is_satisfied().unwrap()
}

/// A test member: index 5 of a tree of depth `depth` holding a few other leaves.
#[cfg(test)]
pub(crate) struct TestMember {
    pub identity: Identity,
    pub tree: crate::merkle::MerkleTree,
    pub path: MerklePath,
}

#[cfg(test)]
impl TestMember {
    pub(crate) fn new(depth: u8, limit: u32) -> Self {
        use rand_core::SeedableRng;
        let identity = Identity::random(limit, &mut rand_chacha::ChaCha20Rng::seed_from_u64(7));
        let mut tree = crate::merkle::MerkleTree::new(depth).unwrap();
        for i in 0..8u64 {
            let other = Fr::from(1000 + i);
            tree.push(if i == 5 { identity.commitment() } else { other })
                .unwrap();
        }
        let path = tree.path(5).unwrap();
        Self {
            identity,
            tree,
            path,
        }
    }

    /// The witness for message `k` of epoch 1 700 000 000, signal `x`.
    pub(crate) fn witness(&self, k: u32, x: Fr) -> Witness<'_> {
        Witness {
            identity: &self.identity,
            path: &self.path,
            root: self.tree.root(),
            epoch: 1_700_000_000,
            message_index: k,
            signal: x,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::DEFAULT_RANGE_BITS;

    /// The test member's assignment for message `k`.
    fn honest(params: CircuitParams, limit: u32, k: u32) -> Assignment {
        let member = TestMember::new(params.depth(), limit);
        Assignment::new(&member.witness(k, Fr::from(99u64)), params)
    }

    fn satisfied(params: CircuitParams, values: Assignment) -> bool {
        is_satisfied(RlnCircuit {
            params,
            values: Some(values),
        })
    }

    #[test]
    fn constraint_count() {
        let params = CircuitParams::default();
        let n = params.num_constraints();
        // 24 permutations (leaf, 20 nodes, 2 for the 3-input slope, nullifier) of 3·(8·3 + 57)
        // = 243 constraints, less 3 for each first-round S-box on a constant (the capacity tag
        // in 23 first permutations, the nullifier's empty rate slot); 2 per level (direction
        // bit, select); 2·16 range bits; root, y and nullifier equalities.
        assert_eq!(n, 24 * 243 - 24 * 3 + 2 * 20 + 2 * 16 + 3);
        assert_eq!(n, 5835);
    }

    #[test]
    fn honest_witnesses_satisfy() {
        let params = CircuitParams::default();
        assert!(satisfied(params, honest(params, 10, 0)));
        assert!(satisfied(params, honest(params, 10, 9)));
        // Largest limit, last index.
        let max = params.max_limit() as u32;
        assert!(satisfied(params, honest(params, max, max - 1)));
        let small = CircuitParams::new(3, 32).unwrap();
        assert!(satisfied(small, honest(small, u32::MAX, u32::MAX - 1)));
    }

    #[test]
    fn tampered_witnesses_do_not_satisfy() {
        let params = CircuitParams::new(4, DEFAULT_RANGE_BITS).unwrap();
        type Tamper = fn(&mut Assignment);
        let tampers: [(&str, Tamper); 10] = [
            ("root", |a| a.statement.root += Fr::one()),
            ("epoch", |a| a.statement.epoch += 1),
            ("nullifier", |a| a.statement.nullifier += Fr::one()),
            ("x", |a| a.statement.x += Fr::one()),
            ("y", |a| a.statement.y += Fr::one()),
            ("a0", |a| a.a0 += Fr::one()),
            ("k", |a| a.k += 1),
            ("d (claimed limit)", |a| a.d += 1),
            ("sibling", |a| a.siblings[2] += Fr::one()),
            ("direction", |a| a.right[0] = !a.right[0]),
        ];
        for (what, tamper) in tampers {
            let mut values = honest(params, 10, 3);
            tamper(&mut values);
            assert!(!satisfied(params, values), "tampered {what} satisfied");
        }
    }

    #[test]
    fn message_index_at_or_above_limit_does_not_satisfy() {
        // The statement is honestly computed for k = limit (and beyond); only the range check
        // can reject it.
        let params = CircuitParams::new(4, 8).unwrap();
        for (limit, k) in [(10, 10), (10, 11), (10, 255), (256, 256), (1, 300)] {
            assert!(!satisfied(params, honest(params, limit, k)), "{limit} {k}");
        }
    }
}
