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
