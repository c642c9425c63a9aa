//! The members' tree: a sparse Poseidon Merkle tree of fixed depth.
//!
//! Leaves are identity commitments; an empty leaf is `0` (no identity commitment is 0 except
//! with negligible probability: it would be a Poseidon preimage of 0). A node is
//! `H_node(left, right)`; the empty subtree of height `h` hashes to `Z_h` with `Z_0 = 0`,
//! `Z_{h+1} = H_node(Z_h, Z_h)`. Only non-empty nodes are stored, so a depth-20 tree costs
//! memory per member (depth + 1 nodes), not per leaf position.

use crate::{
    params::CircuitParams,
    poseidon::{hash, Domain},
    Fr, TreeError,
};
use ark_ff::Zero;
use std::collections::HashMap;

/// Roots of the empty subtrees: `zero_hashes(d)[h]` is `Z_h` for `h = 0..=d`.
pub fn zero_hashes(depth: u8) -> Vec<Fr> {
    let mut zeros = Vec::with_capacity(usize::from(depth) + 1);
    zeros.push(Fr::zero());
    for h in 0..usize::from(depth) {
        zeros.push(hash(Domain::Node, &[zeros[h], zeros[h]]));
    }
    zeros
}

/// An authentication path: the sibling at each level from the leaf up, and the leaf index
/// (bit `h` of the index is 1 when the node at height `h` is a right child).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerklePath {
    /// Siblings, leaf level first.
    pub siblings: Vec<Fr>,
    /// Leaf position.
    pub index: u64,
}

impl MerklePath {
    /// The root this path leads to from `leaf`.
    pub fn root(&self, leaf: Fr) -> Fr {
        self.siblings
            .iter()
            .enumerate()
            .fold(leaf, |node, (h, sibling)| {
                if self.is_right(h) {
                    hash(Domain::Node, &[*sibling, node])
                } else {
                    hash(Domain::Node, &[node, *sibling])
                }
            })
    }

    /// Whether the node at height `h` is a right child.
    pub fn is_right(&self, h: usize) -> bool {
        h < 64 && (self.index >> h) & 1 == 1
    }
}

/// Sparse Poseidon Merkle tree with a fixed depth.
#[derive(Clone, Debug)]
pub struct MerkleTree {
    depth: u8,
    zeros: Vec<Fr>,
    /// `levels[h]` maps a position at height `h` to its node, for non-empty subtrees only.
    levels: Vec<HashMap<u64, Fr>>,
    next: u64,
}

impl MerkleTree {
    /// An empty tree of the given depth (`1..=32`).
    pub fn new(depth: u8) -> Result<Self, TreeError> {
        CircuitParams::check_depth(depth)?;
        Ok(Self {
            depth,
            zeros: zero_hashes(depth),
            levels: vec![HashMap::new(); usize::from(depth) + 1],
            next: 0,
        })
    }

    /// Tree depth.
    pub fn depth(&self) -> u8 {
        self.depth
    }

    /// Number of leaf positions, `2^depth`.
    pub fn capacity(&self) -> u64 {
        1 << self.depth
    }

    /// The position [`MerkleTree::push`] fills next.
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// Current root.
    pub fn root(&self) -> Fr {
        self.node(self.depth.into(), 0)
    }

    /// Leaf at `index` (0 when empty).
    pub fn leaf(&self, index: u64) -> Result<Fr, TreeError> {
        self.check_index(index)?;
        Ok(self.node(0, index))
    }

    /// Appends a leaf at [`MerkleTree::next_index`] and returns its index.
    pub fn push(&mut self, leaf: Fr) -> Result<u64, TreeError> {
        let index = self.next;
        if index >= self.capacity() {
            return Err(TreeError::Full);
        }
        self.set(index, leaf)?;
        Ok(index)
    }

    /// Sets the leaf at `index` (`0` removes a member, e.g. a slashed one). Costs `depth`
    /// hashes.
    pub fn set(&mut self, index: u64, leaf: Fr) -> Result<(), TreeError> {
        self.check_index(index)?;
        let mut node = leaf;
        let mut pos = index;
        for h in 0..usize::from(self.depth) {
            self.store(h, pos, node);
            let sibling = self.node(h, pos ^ 1);
            node = if pos & 1 == 1 {
                hash(Domain::Node, &[sibling, node])
            } else {
                hash(Domain::Node, &[node, sibling])
            };
            pos >>= 1;
        }
        self.store(self.depth.into(), 0, node);
        self.next = self.next.max(index + 1);
        Ok(())
    }

    /// The authentication path of the leaf at `index`.
    pub fn path(&self, index: u64) -> Result<MerklePath, TreeError> {
        self.check_index(index)?;
        let siblings = (0..usize::from(self.depth))
            .map(|h| self.node(h, (index >> h) ^ 1))
            .collect();
        Ok(MerklePath { siblings, index })
    }

    fn node(&self, h: usize, pos: u64) -> Fr {
        self.levels[h].get(&pos).copied().unwrap_or(self.zeros[h])
    }

    /// Empty subtrees are not stored, so removing members frees memory.
    fn store(&mut self, h: usize, pos: u64, node: Fr) {
        if node == self.zeros[h] {
            self.levels[h].remove(&pos);
        } else {
            self.levels[h].insert(pos, node);
        }
    }

    fn check_index(&self, index: u64) -> Result<(), TreeError> {
        if index < self.capacity() {
            Ok(())
        } else {
            Err(TreeError::IndexOutOfRange {
                index,
                depth: self.depth,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Root of a full tree over `leaves` (padded with 0), computed level by level.
    fn dense_root(depth: u8, leaves: &[Fr]) -> Fr {
        let mut level: Vec<Fr> = leaves.to_vec();
        level.resize(1 << depth, Fr::zero());
        while level.len() > 1 {
            level = level
                .chunks(2)
                .map(|p| hash(Domain::Node, &[p[0], p[1]]))
                .collect();
        }
        level[0]
    }

    #[test]
    fn sparse_tree_matches_dense_and_paths_verify() {
        let mut tree = MerkleTree::new(4).unwrap();
        assert_eq!(tree.root(), dense_root(4, &[]));
        assert_eq!(tree.root(), zero_hashes(4)[4]);
        let leaves: Vec<Fr> = (1..=5u64).map(Fr::from).collect();
        for (i, leaf) in leaves.iter().enumerate() {
            assert_eq!(tree.push(*leaf).unwrap(), i as u64);
        }
        assert_eq!(tree.root(), dense_root(4, &leaves));
        for (i, leaf) in leaves.iter().enumerate() {
            let path = tree.path(i as u64).unwrap();
            assert_eq!(path.root(*leaf), tree.root());
            assert_ne!(path.root(*leaf + Fr::from(1u64)), tree.root());
        }
        // An empty position has a path too (to leaf 0).
        assert_eq!(tree.path(9).unwrap().root(Fr::zero()), tree.root());
        // Removing a member restores the root without it and frees its nodes.
        tree.set(4, Fr::zero()).unwrap();
        assert_eq!(tree.root(), dense_root(4, &leaves[..4]));
        assert!(!tree.levels[0].contains_key(&4));
    }

    #[test]
    fn depth_20_without_materialising_leaves() {
        let mut tree = MerkleTree::new(20).unwrap();
        let far = (1 << 20) - 1;
        tree.set(far, Fr::from(42u64)).unwrap();
        tree.push(Fr::from(7u64)).unwrap_err(); // next is past the last position
        assert_eq!(tree.path(far).unwrap().root(Fr::from(42u64)), tree.root());
        assert_eq!(
            tree.leaf(1 << 20),
            Err(TreeError::IndexOutOfRange {
                index: 1 << 20,
                depth: 20
            })
        );
        assert_eq!(tree.levels.iter().map(HashMap::len).sum::<usize>(), 21);
    }

    #[test]
    fn rejects_bad_depths() {
        assert!(MerkleTree::new(0).is_err());
        assert!(MerkleTree::new(33).is_err());
    }
}
