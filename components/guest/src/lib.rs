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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_fnv1a() {
        // Published test vectors of 64-bit FNV-1a.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
