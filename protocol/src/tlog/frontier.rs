//! The compact range of a whole tree: enough to append and to compute the root.

use super::{Hash, LeafEntry, NodeId, TlogError, empty_root, node_hash};

/// The roots of the perfect subtrees that make up a tree of some size, left to
/// right: one per set bit of the size, largest first, so at most 64 hashes. It
/// is all that is needed to append leaves and compute the root, in O(log n) per
/// leaf, without the earlier leaves.
///
/// Store it between commits with [`Frontier::to_bytes`], or rebuild it from
/// stored node hashes with [`Frontier::node_ids`] and [`Frontier::from_parts`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The frontier of a tree of `size` leaves from the hashes of the nodes
    /// [`Frontier::node_ids`]`(size)` lists, in that order.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Result<Self, TlogError> {
        let expected = size.count_ones() as usize;
        if hashes.len() != expected {
            return Err(TlogError::MalformedFrontier(format!(
                "a tree of size {size} has {expected} perfect subtrees, but {} hashes were given",
                hashes.len()
            )));
        }
        Ok(Self { size, hashes })
    }

    /// The perfect subtrees that make up a tree of `size` leaves, left to right.
    pub fn node_ids(size: u64) -> Vec<NodeId> {
        let mut begin = 0u64;
        (0..64u8)
            .rev()
            .filter(|level| size & (1 << level) != 0)
            .map(|level| {
                let id = NodeId {
                    level,
                    index: begin >> level,
                };
                begin += 1 << level;
                id
            })
            .collect()
    }

    /// The number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The hashes of the nodes [`Frontier::node_ids`]`(self.size())` lists.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The tree's root (Merkle Tree Hash).
    pub fn root(&self) -> Hash {
        let mut hashes = self.hashes.iter().rev();
        match hashes.next() {
            None => empty_root(),
            Some(last) => hashes.fold(*last, |right, left| node_hash(left, &right)),
        }
    }

    /// Appends a leaf (the [`super::leaf_hash`] of the next entry) and returns
    /// every node it completes, the leaf itself first and then its ancestors
    /// that became perfect subtrees. Stored, these are all the nodes any later
    /// proof needs.
    pub fn append(&mut self, leaf: Hash) -> Result<Vec<(NodeId, Hash)>, TlogError> {
        let mut completed = Vec::with_capacity(1 + self.size.trailing_ones() as usize);
        self.append_with(leaf, |id, hash| completed.push((id, hash)))?;
        Ok(completed)
    }

    /// Appends the leaf of registry log entry `entry` like [`Frontier::append`],
    /// checking that it is the next one: entry `seq` is leaf `seq - 1`.
    pub fn append_entry(
        &mut self,
        entry: &LeafEntry<'_>,
    ) -> Result<Vec<(NodeId, Hash)>, TlogError> {
        if Some(entry.seq) != self.size.checked_add(1) {
            return Err(TlogError::EntryOutOfOrder {
                seq: entry.seq,
                size: self.size,
            });
        }
        self.append(entry.leaf_hash())
    }

    /// Appends a leaf like [`Frontier::append`], for a caller that does not store
    /// the completed nodes.
    pub fn push(&mut self, leaf: Hash) -> Result<(), TlogError> {
        self.append_with(leaf, |_, _| ())
    }

    fn append_with(
        &mut self,
        leaf: Hash,
        mut completed: impl FnMut(NodeId, Hash),
    ) -> Result<(), TlogError> {
        let new_size = self.size.checked_add(1).ok_or(TlogError::TreeFull)?;
        let mut id = NodeId::leaf(self.size);
        let mut hash = leaf;
        completed(id, hash);
        // A right child completes its parent: merge with the left sibling, which
        // is the last frontier hash, for as long as the node is a right child.
        while id.index & 1 == 1 {
            let left = self
                .hashes
                .pop()
                .expect("a right child's left sibling is on the frontier");
            hash = node_hash(&left, &hash);
            id = NodeId {
                level: id.level + 1,
                index: id.index >> 1,
            };
            completed(id, hash);
        }
        self.hashes.push(hash);
        self.size = new_size;
        Ok(())
    }

    /// The frontier as bytes: the size as 8 big-endian bytes, then the hashes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(8 + 32 * self.hashes.len());
        bytes.extend_from_slice(&self.size.to_be_bytes());
        for hash in &self.hashes {
            bytes.extend_from_slice(hash.as_bytes());
        }
        bytes
    }

    /// Reads what [`Frontier::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TlogError> {
        let Some((size, hashes)) = bytes.split_first_chunk::<8>() else {
            return Err(TlogError::MalformedFrontier(format!(
                "{} bytes is too short to hold the 8-byte tree size",
                bytes.len()
            )));
        };
        let size = u64::from_be_bytes(*size);
        let (hashes, rest) = hashes.as_chunks::<32>();
        if !rest.is_empty() {
            return Err(TlogError::MalformedFrontier(format!(
                "{} bytes after the size is not a whole number of 32-byte hashes",
                hashes.len() * 32 + rest.len()
            )));
        }
        Self::from_parts(size, hashes.iter().map(|h| Hash(*h)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{known_leaf_hashes, naive_root, nh};
    use super::*;

    /// transparency-dev/merkle's `testonly.CompactTrees`: the frontier of each
    /// tree of the known leaves, written as `(level, index)` into its node table.
    const KNOWN_FRONTIERS: [&[(usize, usize)]; 9] = [
        &[],
        &[(0, 0)],
        &[(1, 0)],
        &[(1, 0), (0, 2)],
        &[(2, 0)],
        &[(2, 0), (0, 4)],
        &[(2, 0), (1, 2)],
        &[(2, 0), (1, 2), (0, 6)],
        &[(3, 0)],
    ];

    #[test]
    fn frontier_holds_the_known_perfect_subtrees() {
        let mut frontier = Frontier::new();
        for (size, known) in KNOWN_FRONTIERS.iter().enumerate() {
            if size > 0 {
                frontier.push(known_leaf_hashes()[size - 1]).unwrap();
            }
            let want: Vec<Hash> = known.iter().map(|&(l, i)| nh(l, i)).collect();
            assert_eq!(frontier.hashes(), want, "size {size}");
            let ids: Vec<NodeId> = known
                .iter()
                .map(|&(level, index)| NodeId {
                    level: level as u8,
                    index: index as u64,
                })
                .collect();
            assert_eq!(Frontier::node_ids(size as u64), ids, "size {size}");
        }
    }

    #[test]
    fn append_reports_every_completed_node_with_its_known_hash() {
        let mut frontier = Frontier::new();
        let mut reported = Vec::new();
        for leaf in known_leaf_hashes() {
            reported.extend(frontier.append(leaf).unwrap());
        }
        // All 15 nodes of the perfect 8-leaf tree, each once.
        assert_eq!(reported.len(), 15);
        for (id, hash) in reported {
            assert_eq!(hash, nh(id.level.into(), id.index as usize), "{id:?}");
        }
    }

    #[test]
    fn frontier_of_100_000_leaves_has_the_naive_root() {
        let leaves: Vec<Hash> = (0u32..100_000)
            .map(|i| super::super::leaf_hash(&i.to_be_bytes()))
            .collect();
        let mut frontier = Frontier::new();
        for leaf in &leaves {
            frontier.push(*leaf).unwrap();
        }
        assert_eq!(frontier.size(), 100_000);
        assert_eq!(frontier.hashes().len(), 100_000u32.count_ones() as usize);
        assert_eq!(frontier.root(), naive_root(&leaves));
    }

    #[test]
    fn frontier_round_trips_through_bytes() {
        let mut frontier = Frontier::new();
        for size in 0..40u32 {
            let bytes = frontier.to_bytes();
            assert_eq!(bytes.len(), 8 + 32 * size.count_ones() as usize);
            assert_eq!(Frontier::from_bytes(&bytes).unwrap(), frontier);
            frontier
                .push(super::super::leaf_hash(&size.to_be_bytes()))
                .unwrap();
        }
    }

    #[test]
    fn malformed_frontiers_are_refused() {
        let mut frontier = Frontier::new();
        for leaf in known_leaf_hashes().into_iter().take(7) {
            frontier.push(leaf).unwrap();
        }
        let bytes = frontier.to_bytes();
        assert!(Frontier::from_bytes(&bytes[..7]).is_err());
        assert!(Frontier::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(Frontier::from_bytes(&bytes[..bytes.len() - 32]).is_err());
        let mut wrong_size = bytes.clone();
        wrong_size[7] = 8;
        assert!(Frontier::from_bytes(&wrong_size).is_err());
        assert!(Frontier::from_parts(3, vec![Hash::default()]).is_err());
    }

    #[test]
    fn a_full_tree_refuses_another_leaf() {
        let mut frontier = Frontier::from_parts(u64::MAX, vec![Hash::default(); 64]).unwrap();
        assert_eq!(frontier.push(Hash::default()), Err(TlogError::TreeFull));
        assert_eq!(frontier.size(), u64::MAX);
    }
}
