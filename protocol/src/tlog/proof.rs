//! RFC 9162 §2.1.3 inclusion proofs and §2.1.4 consistency proofs: which nodes
//! they are made of, and how to verify them.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use super::{Hash, TlogError, empty_root, node_hash, root};

/// A perfect subtree: the `2^level` leaves from `index * 2^level` up to (not
/// including) `(index + 1) * 2^level`. Level 0 nodes are the leaves themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves: the subtree has `2^level` leaves.
    pub level: u8,
    /// Position among the nodes of this level, counting from 0 at the left.
    pub index: u64,
}

impl NodeId {
    /// The leaf at `index`.
    pub fn leaf(index: u64) -> Self {
        Self { level: 0, index }
    }

    /// The leaves the node covers, `[begin, end)`, or `None` if that range does
    /// not fit in a `u64` (no tree has such a node).
    fn leaves(self) -> Option<(u64, u64)> {
        let width = 1u64.checked_shl(self.level.into())?;
        let begin = self.index.checked_mul(width)?;
        Some((begin, begin.checked_add(width)?))
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "level {} index {}", self.level, self.index)
    }
}

/// Where proof generation reads node hashes from.
///
/// The host implements this over its stored node hashes when reading node by
/// node is cheap; otherwise it fetches [`ProofPlan::nodes`] in one go and calls
/// [`ProofPlan::assemble`]. Maps of stored nodes and slices of leaf hashes are
/// sources already.
pub trait HashSource {
    /// Why a node hash could not be read.
    type Error;

    /// The hash of the perfect subtree `node`.
    fn node_hash(&self, node: NodeId) -> Result<Hash, Self::Error>;
}

/// Leaf hashes in log order. A node above the leaves is hashed from its leaves,
/// so a proof costs O(tree size): for tests and small trees.
impl HashSource for [Hash] {
    type Error = TlogError;

    fn node_hash(&self, node: NodeId) -> Result<Hash, TlogError> {
        let (begin, end) = node.leaves().ok_or(TlogError::MissingNode(node))?;
        let (begin, end) = (
            usize::try_from(begin).map_err(|_| TlogError::MissingNode(node))?,
            usize::try_from(end).map_err(|_| TlogError::MissingNode(node))?,
        );
        self.get(begin..end)
            .map(root)
            .ok_or(TlogError::MissingNode(node))
    }
}

impl HashSource for Vec<Hash> {
    type Error = TlogError;

    fn node_hash(&self, node: NodeId) -> Result<Hash, TlogError> {
        self.as_slice().node_hash(node)
    }
}

impl HashSource for BTreeMap<NodeId, Hash> {
    type Error = TlogError;

    fn node_hash(&self, node: NodeId) -> Result<Hash, TlogError> {
        self.get(&node).copied().ok_or(TlogError::MissingNode(node))
    }
}

impl<S: BuildHasher> HashSource for HashMap<NodeId, Hash, S> {
    type Error = TlogError;

    fn node_hash(&self, node: NodeId) -> Result<Hash, TlogError> {
        self.get(&node).copied().ok_or(TlogError::MissingNode(node))
    }
}

/// The perfect subtrees a proof is built from.
///
/// Each proof hash is the root of an RFC 9162 subtree of leaves `[begin, end)`,
/// where `begin` is a multiple of a power of two at least `end - begin`. That
/// range is a run of perfect subtrees of decreasing size (the set bits of
/// `end - begin`), and its root is their hashes folded from the right. Every node
/// a plan lists for a tree of size n is complete by the time the tree has n
/// leaves, so [`super::Frontier::append`] has reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofPlan {
    nodes: Vec<NodeId>,
    /// For each proof hash, where its nodes end in `nodes`.
    ends: Vec<usize>,
}

impl ProofPlan {
    /// The plan of the inclusion proof for the leaf at `index` in the tree of
    /// `tree_size` leaves (RFC 9162 §2.1.3.1, `PATH`).
    pub fn inclusion(index: u64, tree_size: u64) -> Result<Self, TlogError> {
        Ok(Self::from_ranges(&inclusion_ranges(index, tree_size)?))
    }

    /// The plan of the consistency proof from the tree of `old_size` leaves to
    /// the tree of `new_size` leaves (RFC 9162 §2.1.4.1, `PROOF`). It is empty
    /// when `old_size` is 0 or equals `new_size`.
    pub fn consistency(old_size: u64, new_size: u64) -> Result<Self, TlogError> {
        Ok(Self::from_ranges(&consistency_ranges(old_size, new_size)?))
    }

    /// The plan of the inclusion proof a registry serves for its log entry
    /// `seq` (leaf `seq - 1`; entries count from 1) in the tree of its first
    /// `tree_size` entries, when its tree has `current` entries. The error is
    /// the message for the client that asked.
    pub fn entry_inclusion(seq: u64, tree_size: u64, current: u64) -> Result<Self, String> {
        if seq == 0 || seq > tree_size || tree_size > current {
            return Err(format!(
                "no inclusion proof for entry {seq} in a tree of {tree_size}: entries run from 1 \
                 to the tree size, and the tree has {current} entries now"
            ));
        }
        Self::inclusion(seq - 1, tree_size).map_err(|e| e.to_string())
    }

    /// The plan of the consistency proof a registry serves from its tree of
    /// `old_size` entries to that of `new_size`, when its tree has `current`
    /// entries. The error is the message for the client that asked.
    pub fn consistency_within(old_size: u64, new_size: u64, current: u64) -> Result<Self, String> {
        if old_size > new_size || new_size > current {
            return Err(format!(
                "no consistency proof from {old_size} to {new_size} entries: the old size must be \
                 at most the new one, and the tree has {current} entries now"
            ));
        }
        Self::consistency(old_size, new_size).map_err(|e| e.to_string())
    }

    fn from_ranges(ranges: &[(u64, u64)]) -> Self {
        let mut nodes = Vec::new();
        let mut ends = Vec::with_capacity(ranges.len());
        for &(mut begin, end) in ranges {
            while begin < end {
                // The largest perfect subtree that starts at `begin` and fits.
                let level = begin.trailing_zeros().min((end - begin).ilog2());
                nodes.push(NodeId {
                    level: level as u8,
                    index: begin >> level,
                });
                begin += 1 << level;
            }
            ends.push(nodes.len());
        }
        Self { nodes, ends }
    }

    /// The nodes whose hashes the proof is built from, each listed once.
    pub fn nodes(&self) -> &[NodeId] {
        &self.nodes
    }

    /// How many hashes the proof has.
    pub fn proof_len(&self) -> usize {
        self.ends.len()
    }

    /// The proof, from the hashes of [`ProofPlan::nodes`] in the same order.
    pub fn assemble(&self, hashes: &[Hash]) -> Result<Vec<Hash>, TlogError> {
        if hashes.len() != self.nodes.len() {
            return Err(TlogError::NodeCount {
                expected: self.nodes.len(),
                actual: hashes.len(),
            });
        }
        Ok(self.fold(hashes))
    }

    /// The proof, reading each node's hash from `source`.
    pub fn resolve<S: HashSource + ?Sized>(&self, source: &S) -> Result<Vec<Hash>, S::Error> {
        let hashes = self
            .nodes
            .iter()
            .map(|&node| source.node_hash(node))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(self.fold(&hashes))
    }

    fn fold(&self, hashes: &[Hash]) -> Vec<Hash> {
        let mut begin = 0;
        self.ends
            .iter()
            .map(|&end| {
                let mut run = hashes[begin..end].iter().rev();
                begin = end;
                let last = *run
                    .next()
                    .expect("every proof hash covers at least one node");
                run.fold(last, |right, left| node_hash(left, &right))
            })
            .collect()
    }
}

/// The inclusion proof for the leaf at `index` in the tree of `tree_size` leaves,
/// reading node hashes from `source`.
pub fn inclusion_proof<S>(source: &S, index: u64, tree_size: u64) -> Result<Vec<Hash>, S::Error>
where
    S: HashSource + ?Sized,
    S::Error: From<TlogError>,
{
    ProofPlan::inclusion(index, tree_size)?.resolve(source)
}

/// The consistency proof from the tree of `old_size` leaves to the tree of
/// `new_size` leaves, reading node hashes from `source`.
pub fn consistency_proof<S>(source: &S, old_size: u64, new_size: u64) -> Result<Vec<Hash>, S::Error>
where
    S: HashSource + ?Sized,
    S::Error: From<TlogError>,
{
    ProofPlan::consistency(old_size, new_size)?.resolve(source)
}

/// The largest power of two smaller than `n` (for `n >= 2`): where RFC 9162
/// splits a tree of `n` leaves.
fn split(n: u64) -> u64 {
    1 << (n - 1).ilog2()
}

/// The leaf ranges of the subtrees whose roots make up `PATH(index, D[0:size])`,
/// in proof order (nearest the leaf first).
fn inclusion_ranges(index: u64, tree_size: u64) -> Result<Vec<(u64, u64)>, TlogError> {
    if index >= tree_size {
        return Err(TlogError::IndexOutOfRange {
            index,
            size: tree_size,
        });
    }
    let (mut lo, mut hi) = (0, tree_size);
    let mut ranges = Vec::new();
    while hi - lo > 1 {
        let mid = lo + split(hi - lo);
        if index < mid {
            ranges.push((mid, hi));
            hi = mid;
        } else {
            ranges.push((lo, mid));
            lo = mid;
        }
    }
    ranges.reverse();
    Ok(ranges)
}

/// The leaf ranges of the subtrees whose roots make up `PROOF(old, D[0:new])`,
/// in proof order.
fn consistency_ranges(old_size: u64, new_size: u64) -> Result<Vec<(u64, u64)>, TlogError> {
    if old_size > new_size {
        return Err(TlogError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        });
    }
    let mut ranges = Vec::new();
    if old_size == 0 {
        return Ok(ranges);
    }
    // SUBPROOF(m, D[lo:hi], whole_old_tree) with m = old_size - lo.
    let (mut lo, mut hi) = (0, new_size);
    let mut whole_old_tree = true;
    while old_size != hi {
        let mid = lo + split(hi - lo);
        if old_size <= mid {
            ranges.push((mid, hi));
            hi = mid;
        } else {
            ranges.push((lo, mid));
            lo = mid;
            whole_old_tree = false;
        }
    }
    if !whole_old_tree {
        ranges.push((lo, hi));
    }
    ranges.reverse();
    Ok(ranges)
}

fn check_len(proof: &[Hash], expected: usize) -> Result<(), TlogError> {
    if proof.len() == expected {
        Ok(())
    } else {
        Err(TlogError::ProofLength {
            expected,
            actual: proof.len(),
        })
    }
}

/// Checks that `proof` shows the leaf with hash `leaf_hash` at `index` in the tree
/// of `tree_size` leaves whose root is `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    tree_size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), TlogError> {
    check_len(proof, inclusion_ranges(index, tree_size)?.len())?;
    let mismatch = TlogError::InclusionMismatch {
        index,
        size: tree_size,
    };
    let (mut f_n, mut s_n) = (index, tree_size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if s_n == 0 {
            return Err(mismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if s_n == 0 && r == *root {
        Ok(())
    } else {
        Err(mismatch)
    }
}

/// Checks that `proof` shows the tree of `new_size` leaves with root `new_root`
/// extends the tree of `old_size` leaves with root `old_root` (RFC 9162
/// §2.1.4.2). Equal sizes need an empty proof and equal roots; old size 0 needs an
/// empty proof and the empty tree's root as `old_root`.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), TlogError> {
    check_len(proof, consistency_ranges(old_size, new_size)?.len())?;
    let mismatch = TlogError::ConsistencyMismatch {
        old: old_size,
        new: new_size,
    };
    if old_size == 0 {
        return if *old_root == empty_root() {
            Ok(())
        } else {
            Err(mismatch)
        };
    }
    if old_size == new_size {
        return if old_root == new_root {
            Ok(())
        } else {
            Err(mismatch)
        };
    }
    // When the old tree is a perfect subtree of the new one, the proof leaves out
    // its root, which the verifier has.
    let mut path = proof.iter();
    let first = if old_size.is_power_of_two() {
        old_root
    } else {
        path.next().ok_or_else(|| mismatch.clone())?
    };
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (*first, *first);
    for c in path {
        if s_n == 0 {
            return Err(mismatch);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    if f_r == *old_root && s_r == *new_root && s_n == 0 {
        Ok(())
    } else {
        Err(mismatch)
    }
}
