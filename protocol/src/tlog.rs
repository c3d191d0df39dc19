//! The registry's transparency log: a Merkle tree over the append-only log of
//! entries, proofs that an entry is in it and that one tree extends another, and
//! signed checkpoints that commit the registry to a tree. Nothing here does I/O;
//! the host stores hashes and serves proofs, the CLI verifies them.
//!
//! # Formats
//!
//! - Tree hashing, inclusion proofs and consistency proofs are those of
//!   [RFC 9162 §2.1](https://www.rfc-editor.org/rfc/rfc9162#section-2.1) (the same
//!   tree as RFC 6962): `leaf_hash(d) = SHA-256(0x00 || d)`,
//!   `node_hash(l, r) = SHA-256(0x01 || l || r)`, and the empty tree's root is
//!   SHA-256 of the empty string.
//! - A checkpoint is a [C2SP checkpoint](https://c2sp.org/tlog-checkpoint): origin,
//!   tree size and base64 root hash, one per line, carried in a
//!   [C2SP signed note](https://c2sp.org/signed-note) with Ed25519 signatures. Key
//!   strings are those of Go's `golang.org/x/mod/sumdb/note`
//!   (`<name>+<hex key ID>+<base64(0x01 || public key)>`), so Go tooling can read
//!   Depot's checkpoints and keys.
//!
//! # How the host stores the tree
//!
//! Every proof hash is the root of a subtree whose leaves are a range
//! `[begin, end)`, and every such range splits into *perfect* subtrees (2^level
//! leaves, aligned to their size), each named by a [`NodeId`] `(level, index)`
//! covering leaves `index * 2^level .. (index + 1) * 2^level`. Leaf hashes are the
//! nodes at level 0. So the host keeps one table of node hashes keyed by
//! `(level, index)`:
//!
//! - On each commit it loads the [`Frontier`] of the previous tree (the O(log n)
//!   roots of the perfect subtrees that make up a tree of size n, serialized with
//!   [`Frontier::to_bytes`] or rebuilt from the table with [`Frontier::node_ids`]),
//!   calls [`Frontier::append`] with each new entry's [`leaf_hash`], stores every
//!   node `append` reports as completed (on average two per entry, so about 2n rows
//!   for n entries), and signs a [`Checkpoint`] of [`Frontier::root`]. Nothing
//!   reads the earlier leaves.
//! - For a proof it builds a [`ProofPlan`] ([`ProofPlan::inclusion`] or
//!   [`ProofPlan::consistency`]), fetches the nodes in [`ProofPlan::nodes`] (at
//!   most about 2 log2 n of them, all complete by the tree size asked about) in one
//!   query, and calls [`ProofPlan::assemble`]. At a million entries that is a few
//!   dozen indexed reads instead of hashing up to a million leaves. A
//!   [`HashSource`] does the same in one call where fetching node by node is
//!   cheap; a slice of leaf hashes is one (it hashes whole subtrees, so O(n)).
//! - The root of any earlier size m comes the same way: the nodes of
//!   `Frontier::node_ids(m)` and [`Frontier::from_parts`].
//!
//! # Example
//!
//! ```
//! use depot_protocol::tlog::{
//!     Checkpoint, Frontier, NoteSigner, ProofPlan, leaf_hash, verify_consistency,
//!     verify_inclusion,
//! };
//!
//! // The host appends entries and keeps the completed nodes.
//! let mut frontier = Frontier::new();
//! let mut nodes = std::collections::BTreeMap::new();
//! for entry in ["a", "b", "c", "d", "e"] {
//!     nodes.extend(frontier.append(leaf_hash(entry.as_bytes())).unwrap());
//! }
//! let root = frontier.root();
//!
//! // It signs a checkpoint with a key made from a caller-supplied seed.
//! let signer = NoteSigner::from_seed("depot.example/log", [7; 32]).unwrap();
//! let checkpoint = Checkpoint::new("depot.example/log", frontier.size(), root);
//! let note = checkpoint.sign(&signer).unwrap();
//!
//! // A client holding the verifier key opens it and checks an inclusion proof.
//! let opened = Checkpoint::open(&note, &signer.verifier()).unwrap();
//! let plan = ProofPlan::inclusion(2, opened.size).unwrap();
//! let proof = plan.resolve(&nodes).unwrap();
//! verify_inclusion(&leaf_hash(b"c"), 2, opened.size, &proof, &opened.root).unwrap();
//!
//! // And that the size-5 tree extends the size-3 one it saw before.
//! let old_nodes = Frontier::node_ids(3).iter().map(|id| nodes[id]).collect();
//! let old_root = Frontier::from_parts(3, old_nodes).unwrap().root();
//! let proof = ProofPlan::consistency(3, 5).unwrap().resolve(&nodes).unwrap();
//! verify_consistency(3, 5, &old_root, &root, &proof).unwrap();
//! ```

mod checkpoint;
mod entry;
mod frontier;
mod hash;
mod note;
mod proof;

pub use checkpoint::Checkpoint;
pub use entry::{LeafAction, LeafEntry, LeafSignature};
pub use frontier::Frontier;
pub use hash::{HASH_LEN, Hash, empty_root, leaf_hash, node_hash, root};
pub use note::{MAX_SIGNATURES, NoteSigner, NoteVerifier, key_id, open_note, sign_note};
pub use proof::{
    HashSource, NodeId, ProofPlan, consistency_proof, inclusion_proof, verify_consistency,
    verify_inclusion,
};

/// Why a tree operation, a proof, a checkpoint, a note or a key was refused. The
/// message says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlogError {
    /// An inclusion proof was asked about a leaf the tree does not have.
    #[error("leaf index {index} is outside a tree of size {size}: indexes run from 0 to size - 1")]
    IndexOutOfRange {
        /// The leaf index asked about.
        index: u64,
        /// The tree size asked about.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error(
        "old tree size {old} is larger than new tree size {new}: a log only grows, so the \
         old size must be at most the new one"
    )]
    SizesOutOfOrder {
        /// The older tree's size.
        old: u64,
        /// The newer tree's size.
        new: u64,
    },
    /// A proof has the wrong number of hashes for the sizes it is about.
    #[error("a proof for these tree sizes has {expected} hashes, but this one has {actual}")]
    ProofLength {
        /// How many hashes the proof must have.
        expected: usize,
        /// How many it has.
        actual: usize,
    },
    /// An inclusion proof does not lead from the leaf to the root.
    #[error(
        "inclusion proof does not verify: the leaf is not at index {index} of the tree of \
         size {size} with this root, or the proof was altered"
    )]
    InclusionMismatch {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof does not connect the two roots.
    #[error(
        "consistency proof does not verify: the tree of size {new} does not extend the tree \
         of size {old} with these roots (the log was rewritten or forked, or the proof was \
         altered)"
    )]
    ConsistencyMismatch {
        /// The older tree's size.
        old: u64,
        /// The newer tree's size.
        new: u64,
    },
    /// A proof needs a node hash that the source does not have.
    #[error("node hash at level {} index {} is needed but not available", .0.level, .0.index)]
    MissingNode(NodeId),
    /// [`ProofPlan::assemble`] was given a different number of hashes than the
    /// plan's nodes.
    #[error("the proof plan has {expected} nodes, but {actual} hashes were given")]
    NodeCount {
        /// How many nodes the plan lists.
        expected: usize,
        /// How many hashes were given.
        actual: usize,
    },
    /// The tree already holds the most leaves a `u64` size can count.
    #[error("the log is full: a tree holds at most 2^64 - 1 entries")]
    TreeFull,
    /// A registry log entry appended out of turn: entry `seq` is leaf
    /// `seq - 1`, so it follows a tree of `seq - 1` leaves.
    #[error("log entry {seq} does not follow the tree's {size} leaves")]
    EntryOutOfOrder {
        /// The entry's sequence number.
        seq: u64,
        /// The tree's size.
        size: u64,
    },
    /// Not a 32-byte hash in the expected encoding.
    #[error("malformed hash `{0}`: expected 32 bytes as standard base64 or as 64 hex digits")]
    MalformedHash(String),
    /// A serialized frontier that does not describe a tree.
    #[error("malformed frontier: {0}")]
    MalformedFrontier(String),
    /// Not a signed note, or a note text that cannot be signed.
    #[error("malformed note: {0}")]
    MalformedNote(String),
    /// A note text that is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(String),
    /// Not a key string, or one whose key ID does not match its key.
    #[error("malformed key: {0}")]
    MalformedKey(String),
    /// The note carries no signature by the key it was opened with.
    #[error(
        "the note has no signature by key {name}+{key_id:08x}: it was signed by another key, \
         or the wrong verifier key was given"
    )]
    NotSigned {
        /// The verifier key's name.
        name: String,
        /// The verifier key's ID.
        key_id: u32,
    },
    /// The note carries a signature by the key it was opened with, but it does not
    /// verify.
    #[error(
        "the signature by key {name}+{key_id:08x} does not verify: the note was altered after \
         signing"
    )]
    BadSignature {
        /// The verifier key's name.
        name: String,
        /// The verifier key's ID.
        key_id: u32,
    },
}

#[cfg(test)]
mod tests;
