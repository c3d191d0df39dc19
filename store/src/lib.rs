//! Depot's store (the store interfaces of `wit/store.wit`), written once over two small
//! drivers: an SQL driver ([`db::Sql`]: run one statement, get its rows) and
//! a blob driver ([`blobs::Kv`]: get, set and delete a value by key). Over
//! them it holds the schema and its statements (`sql`), the registry log,
//! its indexes and the rule that appends check the package's head ([`log`]),
//! search ([`search`]), OCI manifests, tags and referrers ([`oci`]), blobs and
//! uploads ([`blobs`]), the transparency log grown and signed in each append's
//! transaction ([`tlog`]) and tokens kept only as their SHA-256 ([`tokens`]).
//!
//! Drivers never call back into the logic. `components/spin-store` plugs in
//! Spin's SQLite and key-value store; the tests plug in rusqlite and a map.
//!
//! With the `wasmtime` feature the crate is also the host's side of the
//! store: its WIT types come from wasmtime's bindings (the same names and
//! fields as wit-bindgen's, so the logic compiles against either), and
//! `host` implements the store interfaces for `depot serve` over a
//! native `host::Backend`.
//!
//! ```ignore
//! let db = depot_store::open(Box::new(my_sql_driver), random_bytes)?;
//! let logged = depot_store::log::append(&db, entry, expected_head)?;
//! ```

#![warn(missing_docs)]

/// The WIT bindings of `depot:registry/store-provider`: the store's types,
/// and the export glue a component runs with
/// `depot_store::bindings::export!(MyStore with_types_in depot_store::bindings)`.
/// Generated, and `unsafe` by nature. (With the `wasmtime` feature the types
/// come from wasmtime's bindings instead: `host`.)
#[cfg(not(feature = "wasmtime"))]
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

/// The WIT types the store works with, from whichever bindings this build
/// generates: wit-bindgen's for a component (spin-store), wasmtime's for the
/// host (the `wasmtime` feature). Both generators give the same names and
/// fields, so the logic is written once against these.
pub mod types {
    #[cfg(not(feature = "wasmtime"))]
    use crate::bindings::depot::registry::types as wit_types;
    #[cfg(feature = "wasmtime")]
    use crate::host::generated::depot::registry::types as wit_types;

    pub use wit_types::{
        Access, Action, Annotation, AnnotationContent, ContentKind, CustomLicense, Entry, Error,
        KeyGrant, Link, LogEntry, Metadata, OciArtifact, OciManifest, PackageSummary,
        PendingRelease, PendingStatus, RegistryMetadata, RegistryStats, Release, ReleaseContent,
        ReleaseSignature, SearchPage, SearchQuery, SigningPolicy, Takedown, TokenGrant, TokenInfo,
    };
}

/// The store as a wasmtime host capability: the store interfaces
/// implemented natively over a [`host::Backend`], added to a linker with
/// [`host::add_to_linker`].
#[cfg(feature = "wasmtime")]
pub mod host;

pub mod blobs;
pub mod db;
pub mod entries;
pub mod error;
pub mod log;
pub mod migrate;
pub mod oci;
#[cfg(any(feature = "postgres", all(test, not(target_family = "wasm"))))]
pub mod postgres_driver;
#[cfg(any(feature = "rusqlite", all(test, not(target_family = "wasm"))))]
pub mod rusqlite_driver;
pub mod search;
pub mod spin_variables;
pub(crate) mod sql;
#[cfg(all(test, not(target_family = "wasm")))]
mod tests;
pub mod tlog;
pub mod tokens;

pub use db::{Db, Random, Sql, Value};
use depot_protocol::tlog::NoteSigner;
pub use error::{During, StoreError};

/// Opens the registry database behind `sql`: its schema migrated
/// ([`migrate`]), its indexes rebuilt first if they were derived by another version of
/// [`log`]'s rules, and its transparency log set up if it is not yet (a
/// database from before it, or a new one) with a new checkpoint key. Keys and
/// token secrets are drawn from `random`.
pub fn open(sql: Box<dyn Sql>, random: Random) -> Result<Db, StoreError> {
    open_with_key(sql, random, None)
}

/// [`open`], with the checkpoint key given by the operator (a key file)
/// rather than made by the first instance: a database set up with another
/// key is refused, so instances never sign one tree with two keys.
pub fn open_with_key(
    sql: Box<dyn Sql>,
    random: Random,
    key: Option<&NoteSigner>,
) -> Result<Db, StoreError> {
    let db = Db::new(sql, random);
    // An instance opening a database already set up reads that in one
    // statement, and takes no write lock.
    if key.is_none() && db.ready_alone() {
        return Ok(db);
    }
    set_up(&db, key)?;
    Ok(db)
}

/// [`open`] for an instance that lives for one request (every request of
/// the Spin build opens the database anew): whether the database is set up
/// and up to date is read with the first statement rather than before it
/// (with a first `SELECT`, in the same statement), and it is set up then if
/// it is not.
pub fn open_lazily(sql: Box<dyn Sql>, random: Random) -> Db {
    let db = Db::new(sql, random);
    db.defer_set_up(|db| set_up(db, None));
    db
}

/// Sets up a database that is not up to date (no tables yet, another
/// instance setting it up at this moment, an older schema), under the
/// write lock: its schema migrated, its indexes rebuilt if another version
/// of [`log`]'s rules derived them, its transparency log set up with `key`
/// (or a new key), and `key` checked against the one it was set up with.
fn set_up(db: &Db, key: Option<&NoteSigner>) -> Result<(), StoreError> {
    migrate::migrate(db)?;
    let (version, text_index, tlog_ready) = db.open_state()?;
    db.set_text_index(text_index);
    if version != sql::INDEX_VERSION {
        log::rebuild_indexes(db)?;
    }
    if !tlog_ready {
        tlog::open(db, key)?;
    }
    if let Some(key) = key {
        let kept = tlog::signer(db)?;
        if kept.to_key_string() != key.to_key_string() {
            return Err(StoreError::BadRequest(format!(
                "the database's checkpoint key is {}, not the key given ({}); give the key the \
                 registry was set up with",
                kept.verifier(),
                key.verifier()
            )));
        }
    }
    Ok(())
}

/// Another connection to a database [`open`] has set up, for reading.
pub fn open_reader(sql: Box<dyn Sql>, random: Random) -> Result<Db, StoreError> {
    let db = Db::new(sql, random);
    let (_, text_index, _) = db.open_state()?;
    db.set_text_index(text_index);
    Ok(db)
}
