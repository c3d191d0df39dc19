//! Known answers and reference checks for tree hashing and proofs.

use std::collections::BTreeMap;

use super::*;

/// transparency-dev/merkle's `testonly.LeafInputs`, hex.
const KNOWN_LEAF_INPUTS: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// transparency-dev/merkle's `testonly.NodeHashes`: every perfect subtree of the
/// tree of the eight known leaves, by level then index.
const KNOWN_NODE_HASHES: [&[&str]; 4] = [
    &[
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    &[
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    &[
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    &["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
];

/// transparency-dev/merkle's `testonly.RootHashes`: the root of the tree of the
/// first n known leaves, for n from 0 to 8.
const KNOWN_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// transparency-dev/merkle's inclusion proof vectors over the known leaves, as
/// (0-based leaf index, tree size, proof). (The Go table counts leaves from 1.)
const KNOWN_INCLUSION_PROOFS: [(u64, u64, &[&str]); 5] = [
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// transparency-dev/merkle's consistency proof vectors over the known leaves, as
/// (old size, new size, proof).
const KNOWN_CONSISTENCY_PROOFS: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn hex(text: &str) -> Hash {
    Hash::from_hex(text).unwrap()
}

fn hexes(texts: &[&str]) -> Vec<Hash> {
    texts.iter().map(|t| hex(t)).collect()
}

/// The known hash of the perfect subtree at `(level, index)`.
pub(super) fn nh(level: usize, index: usize) -> Hash {
    hex(KNOWN_NODE_HASHES[level][index])
}

/// The leaf hashes of the eight known leaves.
pub(super) fn known_leaf_hashes() -> Vec<Hash> {
    KNOWN_LEAF_INPUTS
        .iter()
        .map(|input| {
            let bytes: Vec<u8> = (0..input.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&input[i..i + 2], 16).unwrap())
                .collect();
            leaf_hash(&bytes)
        })
        .collect()
}

fn test_leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

fn split(n: usize) -> usize {
    n.next_power_of_two() / 2
}

/// MTH straight from RFC 9162 §2.1.1, recursively.
pub(super) fn naive_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]) straight from RFC 9162 §2.1.3.1.
fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut path = naive_path(m, &leaves[..k]);
        path.push(naive_root(&leaves[k..]));
        path
    } else {
        let mut path = naive_path(m - k, &leaves[k..]);
        path.push(naive_root(&leaves[..k]));
        path
    }
}

/// SUBPROOF(m, D[n], b) straight from RFC 9162 §2.1.4.1.
fn naive_subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if whole {
            Vec::new()
        } else {
            vec![naive_root(leaves)]
        };
    }
    let k = split(n);
    if m <= k {
        let mut proof = naive_subproof(m, &leaves[..k], whole);
        proof.push(naive_root(&leaves[k..]));
        proof
    } else {
        let mut proof = naive_subproof(m - k, &leaves[k..], false);
        proof.push(naive_root(&leaves[..k]));
        proof
    }
}

#[test]
fn leaf_hashes_and_roots_match_the_known_answers() {
    let leaves = known_leaf_hashes();
    assert_eq!(leaves, hexes(KNOWN_NODE_HASHES[0]));
    for (size, want) in KNOWN_ROOTS.iter().enumerate() {
        assert_eq!(root(&leaves[..size]), hex(want), "size {size}");
        assert_eq!(naive_root(&leaves[..size]), hex(want), "size {size}");
    }
    assert_eq!(
        node_hash(&nh(0, 0), &nh(0, 1)),
        nh(1, 0),
        "interior nodes are SHA-256(0x01 || left || right)"
    );
}

#[test]
fn inclusion_proofs_match_the_known_answers() {
    let leaves = known_leaf_hashes();
    for (index, size, want) in KNOWN_INCLUSION_PROOFS {
        let want = hexes(want);
        let proof = inclusion_proof(&leaves, index, size).unwrap();
        assert_eq!(proof, want, "index {index} size {size}");
        let root = hex(KNOWN_ROOTS[size as usize]);
        verify_inclusion(&leaves[index as usize], index, size, &proof, &root).unwrap();
    }
}

#[test]
fn consistency_proofs_match_the_known_answers() {
    let leaves = known_leaf_hashes();
    for (old, new, want) in KNOWN_CONSISTENCY_PROOFS {
        let want = hexes(want);
        let proof = consistency_proof(&leaves, old, new).unwrap();
        assert_eq!(proof, want, "{old} -> {new}");
        let (old_root, new_root) = (
            hex(KNOWN_ROOTS[old as usize]),
            hex(KNOWN_ROOTS[new as usize]),
        );
        verify_consistency(old, new, &old_root, &new_root, &proof).unwrap();
    }
}

#[test]
fn every_inclusion_proof_is_the_rfc_path_and_verifies() {
    let leaves = test_leaves(100);
    for size in (1..=33).chain([64, 65, 100]) {
        let tree = &leaves[..size];
        let root = naive_root(tree);
        for index in 0..size {
            let proof = inclusion_proof(tree, index as u64, size as u64).unwrap();
            assert_eq!(proof, naive_path(index, tree), "index {index} size {size}");
            verify_inclusion(&tree[index], index as u64, size as u64, &proof, &root).unwrap();
        }
    }
}

#[test]
fn every_consistency_proof_is_the_rfc_proof_and_verifies() {
    let leaves = test_leaves(100);
    let pairs = (0..=33)
        .flat_map(|new| (0..=new).map(move |old| (old, new)))
        .chain((0..=100).map(|old| (old, 100)));
    for (old, new) in pairs {
        let proof = consistency_proof(&leaves[..], old as u64, new as u64).unwrap();
        let want = if old == 0 {
            Vec::new()
        } else {
            naive_subproof(old, &leaves[..new], true)
        };
        assert_eq!(proof, want, "{old} -> {new}");
        let (old_root, new_root) = (naive_root(&leaves[..old]), naive_root(&leaves[..new]));
        verify_consistency(old as u64, new as u64, &old_root, &new_root, &proof).unwrap();
    }
}

#[test]
fn proofs_from_stored_nodes_equal_proofs_from_leaves_at_every_size() {
    // The nodes a plan names for size n have all been reported by `append` by
    // the time the tree has n leaves: the host can serve every proof from them.
    let leaves = test_leaves(70);
    let mut frontier = Frontier::new();
    let mut stored = BTreeMap::new();
    for (n, leaf) in leaves.iter().enumerate() {
        stored.extend(frontier.append(*leaf).unwrap());
        let size = n as u64 + 1;
        let tree = &leaves[..=n];
        for index in 0..size {
            assert_eq!(
                inclusion_proof(&stored, index, size).unwrap(),
                inclusion_proof(tree, index, size).unwrap()
            );
        }
        for old in 0..=size {
            let plan = ProofPlan::consistency(old, size).unwrap();
            let hashes: Vec<Hash> = plan.nodes().iter().map(|id| stored[id]).collect();
            assert_eq!(
                plan.assemble(&hashes).unwrap(),
                consistency_proof(tree, old, size).unwrap()
            );
        }
        let old_frontier: Vec<Hash> = Frontier::node_ids(size)
            .iter()
            .map(|id| stored[id])
            .collect();
        assert_eq!(
            Frontier::from_parts(size, old_frontier).unwrap().root(),
            naive_root(tree)
        );
    }
}

#[test]
fn proof_plans_at_a_million_leaves_need_few_nodes() {
    let size = 1_000_000u64;
    for index in [0, 1, 524_287, 524_288, 999_998, size - 1] {
        let plan = ProofPlan::inclusion(index, size).unwrap();
        assert!(plan.proof_len() <= 20, "{index}: {}", plan.proof_len());
        assert!(plan.nodes().len() <= 40, "{index}: {}", plan.nodes().len());
    }
    for old in [1, 2, 3, 500_000, 524_288, 999_999] {
        let plan = ProofPlan::consistency(old, size).unwrap();
        assert!(plan.nodes().len() <= 40, "{old}: {}", plan.nodes().len());
    }
}

fn flipped(proof: &[Hash], at: usize) -> Vec<Hash> {
    let mut proof = proof.to_vec();
    proof[at].0[0] ^= 8;
    proof
}

#[test]
fn tampered_inclusion_proofs_fail() {
    let leaves = test_leaves(20);
    let other = leaf_hash(b"not in the log");
    for size in 1..=20u64 {
        let tree = &leaves[..size as usize];
        let root = naive_root(tree);
        for index in 0..size {
            let leaf = tree[index as usize];
            let proof = inclusion_proof(tree, index, size).unwrap();
            let mut probes: Vec<(String, u64, u64, Hash, Vec<Hash>, Hash)> = vec![
                (
                    "index + 1".into(),
                    index + 1,
                    size,
                    leaf,
                    proof.clone(),
                    root,
                ),
                (
                    "index ^ 1".into(),
                    index ^ 1,
                    size,
                    leaf,
                    proof.clone(),
                    root,
                ),
                (
                    "index ^ 2".into(),
                    index ^ 2,
                    size,
                    leaf,
                    proof.clone(),
                    root,
                ),
                (
                    "size * 2".into(),
                    index,
                    size * 2,
                    leaf,
                    proof.clone(),
                    root,
                ),
                (
                    "size / 2".into(),
                    index,
                    size / 2,
                    leaf,
                    proof.clone(),
                    root,
                ),
                ("other leaf".into(), index, size, other, proof.clone(), root),
                (
                    "empty root".into(),
                    index,
                    size,
                    leaf,
                    proof.clone(),
                    empty_root(),
                ),
                ("other root".into(), index, size, leaf, proof.clone(), other),
                (
                    "extra".into(),
                    index,
                    size,
                    leaf,
                    [&proof[..], &[root]].concat(),
                    root,
                ),
                (
                    "leading".into(),
                    index,
                    size,
                    leaf,
                    [&[root], &proof[..]].concat(),
                    root,
                ),
            ];
            if index > 0 {
                probes.push((
                    "index - 1".into(),
                    index - 1,
                    size,
                    leaf,
                    proof.clone(),
                    root,
                ));
            }
            if !proof.is_empty() {
                probes.push((
                    "truncated".into(),
                    index,
                    size,
                    leaf,
                    proof[..proof.len() - 1].to_vec(),
                    root,
                ));
            }
            for at in 0..proof.len() {
                probes.push((
                    format!("flipped {at}"),
                    index,
                    size,
                    leaf,
                    flipped(&proof, at),
                    root,
                ));
            }
            for (what, index2, size2, leaf2, proof2, root2) in probes {
                assert!(
                    verify_inclusion(&leaf2, index2, size2, &proof2, &root2).is_err(),
                    "{what}: index {index} size {size} verified"
                );
            }
        }
    }
}

#[test]
fn tampered_consistency_proofs_fail() {
    let leaves = test_leaves(20);
    for new in 2..=20u64 {
        let new_root = naive_root(&leaves[..new as usize]);
        for old in 1..new {
            let old_root = naive_root(&leaves[..old as usize]);
            let proof = consistency_proof(&leaves[..], old, new).unwrap();
            let mut probes: Vec<(String, u64, u64, Hash, Hash, Vec<Hash>)> = vec![
                (
                    "old - 1".into(),
                    old - 1,
                    new,
                    old_root,
                    new_root,
                    proof.clone(),
                ),
                (
                    "old + 1".into(),
                    old + 1,
                    new,
                    old_root,
                    new_root,
                    proof.clone(),
                ),
                (
                    "old ^ 2".into(),
                    old ^ 2,
                    new,
                    old_root,
                    new_root,
                    proof.clone(),
                ),
                (
                    "new * 2".into(),
                    old,
                    new * 2,
                    old_root,
                    new_root,
                    proof.clone(),
                ),
                (
                    "new / 2".into(),
                    old,
                    new / 2,
                    old_root,
                    new_root,
                    proof.clone(),
                ),
                (
                    "swapped roots".into(),
                    old,
                    new,
                    new_root,
                    old_root,
                    proof.clone(),
                ),
                (
                    "wrong old root".into(),
                    old,
                    new,
                    empty_root(),
                    new_root,
                    proof.clone(),
                ),
                (
                    "wrong new root".into(),
                    old,
                    new,
                    old_root,
                    empty_root(),
                    proof.clone(),
                ),
                (
                    "empty proof".into(),
                    old,
                    new,
                    old_root,
                    new_root,
                    Vec::new(),
                ),
                (
                    "extra".into(),
                    old,
                    new,
                    old_root,
                    new_root,
                    [&proof[..], &[new_root]].concat(),
                ),
                (
                    "leading".into(),
                    old,
                    new,
                    old_root,
                    new_root,
                    [&[proof[0]], &proof[..]].concat(),
                ),
                (
                    "truncated".into(),
                    old,
                    new,
                    old_root,
                    new_root,
                    proof[..proof.len() - 1].to_vec(),
                ),
            ];
            for at in 0..proof.len() {
                probes.push((
                    format!("flipped {at}"),
                    old,
                    new,
                    old_root,
                    new_root,
                    flipped(&proof, at),
                ));
            }
            for (what, old2, new2, old_root2, new_root2, proof2) in probes {
                assert!(
                    verify_consistency(old2, new2, &old_root2, &new_root2, &proof2).is_err(),
                    "{what}: {old} -> {new} verified"
                );
            }
        }
    }
}

#[test]
fn a_forked_log_fails_consistency() {
    // Same first five entries, then different histories.
    let mut honest = test_leaves(9);
    let proof = consistency_proof(&honest, 7, 9).unwrap();
    let old_root = naive_root(&honest[..7]);
    honest[6] = leaf_hash(b"rewritten");
    let forked_root = naive_root(&honest);
    assert_eq!(
        verify_consistency(7, 9, &old_root, &forked_root, &proof),
        Err(TlogError::ConsistencyMismatch { old: 7, new: 9 })
    );
    let forked_proof = consistency_proof(&honest, 7, 9).unwrap();
    assert!(verify_consistency(7, 9, &old_root, &forked_root, &forked_proof).is_err());
}

#[test]
fn edge_sizes_are_handled_or_refused() {
    let leaves = test_leaves(4);
    let some = leaf_hash(b"x");
    assert_eq!(
        inclusion_proof(&leaves, 4, 4),
        Err(TlogError::IndexOutOfRange { index: 4, size: 4 })
    );
    assert_eq!(
        ProofPlan::inclusion(0, 0),
        Err(TlogError::IndexOutOfRange { index: 0, size: 0 })
    );
    assert!(verify_inclusion(&some, 0, 0, &[], &empty_root()).is_err());
    assert_eq!(
        consistency_proof(&leaves, 3, 2),
        Err(TlogError::SizesOutOfOrder { old: 3, new: 2 })
    );
    assert!(verify_consistency(3, 2, &some, &some, &[]).is_err());
    // A one-leaf tree's root is its leaf hash and the proof is empty.
    verify_inclusion(&some, 0, 1, &[], &some).unwrap();
    // Anything extends the empty tree, and a tree extends itself, with empty proofs.
    verify_consistency(0, 4, &empty_root(), &some, &[]).unwrap();
    verify_consistency(0, 0, &empty_root(), &empty_root(), &[]).unwrap();
    verify_consistency(3, 3, &some, &some, &[]).unwrap();
    assert!(verify_consistency(0, 4, &some, &some, &[]).is_err());
    assert!(verify_consistency(3, 3, &some, &empty_root(), &[]).is_err());
    assert_eq!(
        verify_consistency(3, 3, &some, &some, &[some]),
        Err(TlogError::ProofLength {
            expected: 0,
            actual: 1
        })
    );
    assert!(verify_consistency(0, 4, &empty_root(), &some, &[some]).is_err());
}

#[test]
fn missing_nodes_and_wrong_hash_counts_are_errors() {
    let leaves = test_leaves(4);
    assert_eq!(
        inclusion_proof(&leaves, 0, 8),
        Err(TlogError::MissingNode(NodeId { level: 2, index: 1 }))
    );
    let empty: BTreeMap<NodeId, Hash> = BTreeMap::new();
    assert_eq!(
        inclusion_proof(&empty, 0, 2),
        Err(TlogError::MissingNode(NodeId::leaf(1)))
    );
    let plan = ProofPlan::inclusion(0, 4).unwrap();
    assert_eq!(
        plan.assemble(&leaves[..1]),
        Err(TlogError::NodeCount {
            expected: 2,
            actual: 1
        })
    );
}

#[test]
fn proof_plans_name_the_subtrees_of_partial_ranges() {
    // The tree of 7 leaves: leaf 0's path is leaf 1, node [2,4), and the partial
    // subtree [4,7), which is node [4,6) then leaf 6.
    let plan = ProofPlan::inclusion(0, 7).unwrap();
    assert_eq!(
        plan.nodes(),
        [
            NodeId::leaf(1),
            NodeId { level: 1, index: 1 },
            NodeId { level: 1, index: 2 },
            NodeId::leaf(6),
        ]
    );
    assert_eq!(plan.proof_len(), 3);
}

#[test]
fn a_registry_serves_proofs_only_within_its_tree() {
    // Entry `seq` is leaf `seq - 1`.
    assert_eq!(
        ProofPlan::entry_inclusion(3, 5, 7).unwrap(),
        ProofPlan::inclusion(2, 5).unwrap()
    );
    for (seq, size, current) in [(0, 5, 7), (6, 5, 7), (1, 8, 7)] {
        let message = ProofPlan::entry_inclusion(seq, size, current).unwrap_err();
        assert!(message.contains("the tree has 7 entries now"), "{message}");
    }
    assert_eq!(
        ProofPlan::consistency_within(2, 5, 5).unwrap(),
        ProofPlan::consistency(2, 5).unwrap()
    );
    for (old, new) in [(3, 2), (1, 6)] {
        let message = ProofPlan::consistency_within(old, new, 5).unwrap_err();
        assert!(
            message.contains("the old size must be at most"),
            "{message}"
        );
    }
}

#[test]
fn log_entries_join_the_tree_in_order_only() {
    let entry = |seq| LeafEntry {
        seq,
        time: 0,
        name: "a:b",
        version: "1.0.0",
        action: LeafAction::Yank,
    };
    let mut frontier = Frontier::new();
    assert_eq!(
        frontier.append_entry(&entry(2)),
        Err(TlogError::EntryOutOfOrder { seq: 2, size: 0 })
    );
    let nodes = frontier.append_entry(&entry(1)).unwrap();
    assert_eq!(nodes, [(NodeId::leaf(0), entry(1).leaf_hash())]);
    assert!(frontier.append_entry(&entry(1)).is_err());
    assert_eq!(frontier.append_entry(&entry(2)).unwrap().len(), 2);
    assert_eq!(frontier.size(), 2);
}
