//! What Depot's handler components share: the bindings of
//! `depot:registry/types`, generated once here, and the rules written
//! against those types. Each component generates the rest of its world with
//! `with: { "depot:registry/types": depot_guest::types }`, so a value of
//! these types means the same thing in every component and the rules are
//! compiled once:
//!
//! ```ignore
//! wit_bindgen::generate!({
//!     path: "../../wit",
//!     world: "depot:registry/query-handler",
//!     with: { "depot:registry/types@0.1.0": depot_guest::types },
//! });
//! ```

#![warn(missing_docs)]

/// The generated bindings: `unsafe` by nature.
#[allow(unsafe_code, missing_docs)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "depot:registry/types-only",
        // Routes carry WIT records (a search query) and are compared in tests.
        additional_derives: [PartialEq, Eq],
    });
}

pub use bindings::depot::registry::types;

pub mod advisory;
mod errors;
pub mod manifest;
pub mod policy_rules;
pub mod query_string;
pub mod validate;

/// The 64-bit FNV-1a hash: enough to tell versions of a file apart, and
/// computable at compile time.
pub const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// A 64-bit hash of a response body, for its `ETag`: eight bytes a step
/// (FxHash's mixing, then a final avalanche), as every answer hashes its
/// body and byte-wise FNV-1a took about 13 µs over a 10 KB release (its
/// share of a profile, not timed alone). Enough to tell
/// versions of a body apart; not a digest.
pub fn body_hash(bytes: &[u8]) -> u64 {
    const SEED: u64 = 0x517c_c1b7_2722_0a95;
    let step = |hash: u64, word: u64| (hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    let mut hash = step(0xcbf2_9ce4_8422_2325, bytes.len() as u64);
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut eight = [0; 8];
        eight.copy_from_slice(word);
        hash = step(hash, u64::from_le_bytes(eight));
    }
    for &byte in words.remainder() {
        hash = step(hash, u64::from(byte));
    }
    // The last words' bits reach every bit of the hash.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^ (hash >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_hash_changes_with_any_byte_and_with_the_length() {
        let body: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let hash = body_hash(&body);
        assert_eq!(hash, body_hash(&body.clone()), "not deterministic");
        let mut seen = std::collections::HashSet::from([hash]);
        for at in 0..body.len() {
            let mut changed = body.clone();
            changed[at] ^= 1;
            assert!(
                seen.insert(body_hash(&changed)),
                "byte {at} changed nothing"
            );
        }
        // Trailing zeros and a shorter body are other bodies.
        let mut longer = body.clone();
        longer.push(0);
        assert!(seen.insert(body_hash(&longer)));
        assert!(seen.insert(body_hash(&body[..999])));
        assert!(seen.insert(body_hash(b"")));
    }

    #[test]
    fn the_hash_is_fnv1a() {
        // Published test vectors of 64-bit FNV-1a.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
