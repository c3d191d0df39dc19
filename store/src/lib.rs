//! Depot's store (`depot:registry/store`), written once over two small
//! drivers: an SQL driver ([`db::Sql`]: run one statement, get its rows) and
//! a blob driver ([`blobs::Kv`]: get, set and delete a value by key). Over
//! them it holds the schema and its statements ([`sql`]), the registry log,
//! its indexes and the rule that appends check the package's head ([`log`]),
//! search ([`search`]), OCI manifests, tags and referrers ([`oci`]), blobs and
//! uploads ([`blobs`]), the transparency log grown and signed in each append's
//! transaction ([`tlog`]) and tokens kept only as their SHA-256 ([`tokens`]).
//!
//! Drivers never call back into the logic. `components/spin-store` plugs in
//! Spin's SQLite and key-value store; the tests plug in rusqlite and a map.
//!
//! ```ignore
//! let db = depot_store::Db::open(Box::new(my_sql_driver), random_bytes)?;
//! let logged = depot_store::log::append(&db, entry, expected_head)?;
//! ```

/// The WIT bindings of `depot:registry/store-provider`: the store's types,
/// and the export glue a component runs with
/// `depot_store::bindings::export!(MyStore with_types_in depot_store::bindings)`.
/// Generated, and `unsafe` by nature.
#[allow(unsafe_code, missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "depot:registry/store-provider",
        // The log keeps entries as JSON.
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
        pub_export_macro: true,
        default_bindings_module: "depot_store::bindings",
    });
}

pub mod blobs;
pub mod db;
pub mod error;
pub mod log;
pub mod oci;
pub mod search;
pub mod sql;
#[cfg(all(test, not(target_family = "wasm")))]
mod tests;
pub mod tlog;
pub mod tokens;

pub use db::{Db, Sql, Value};
pub use error::{During, StoreError};
