//! `fermyon:spin/key-value@2.0.0` on a SQLite table, as Spin's own
//! `key-value-spin` keeps it.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use rusqlite::{Connection, OptionalExtension as _, params};
use wasmtime::component::Resource;

use super::wit_key_value::{Error, Host, HostStore};
use super::{LABEL, SpinView};

/// An open key-value store: the label it was opened with.
#[derive(Debug)]
pub struct KeyValueStore {
    label: String,
}

/// Opens the key-value database at `path`, with Spin's table.
pub fn open(path: &Path) -> anyhow::Result<rusqlite::Connection> {
    let connection = rusqlite::Connection::open(path)
        .with_context(|| format!("cannot open the key-value store {}", path.display()))?;
    connection
        .execute(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                store TEXT NOT NULL,
                key   TEXT NOT NULL,
                value BLOB NOT NULL,
                PRIMARY KEY (store, key)
            )",
            [],
        )
        .with_context(|| format!("cannot create the key-value table in {}", path.display()))?;
    Ok(connection)
}

fn get(db: &Connection, label: &str, key: &str) -> rusqlite::Result<Option<Vec<u8>>> {
    db.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
        .query_row(params![label, key], |row| row.get(0))
        .optional()
}

fn set(db: &Connection, label: &str, key: &str, value: &[u8]) -> rusqlite::Result<()> {
    db.prepare_cached(
        "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3) \
         ON CONFLICT (store, key) DO UPDATE SET value = ?3",
    )?
    .execute(params![label, key, value])
    .map(drop)
}

fn delete(db: &Connection, label: &str, key: &str) -> rusqlite::Result<()> {
    db.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
        .execute(params![label, key])
        .map(drop)
}

/// The `default` key-value store as the store's blob driver, for native
/// code running on a Spin build's data (a mirror).
pub struct NativeKv(pub Arc<Mutex<Connection>>);

impl NativeKv {
    fn with<R>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<R>) -> Result<R, String> {
        let db = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&db).map_err(|e| e.to_string())
    }
}

impl depot_store::blobs::Kv for NativeKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.with(|db| get(db, LABEL, key))
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.with(|db| set(db, LABEL, key, value))
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        self.with(|db| delete(db, LABEL, key))
    }
}

/// Spin's error for a failure of the backing database.
fn other(e: rusqlite::Error) -> Error {
    Error::Other(e.to_string())
}

impl SpinView<'_> {
    /// Runs `f` on the key-value database, for the store `store`.
    fn with_store<R>(
        &mut self,
        store: &Resource<KeyValueStore>,
        f: impl FnOnce(&rusqlite::Connection, &str) -> rusqlite::Result<R>,
    ) -> wasmtime::Result<Result<R, Error>> {
        let label = &self.table.get(store)?.label;
        // A panic elsewhere while holding the lock leaves the connection usable.
        let connection = self
            .ctx
            .key_value
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(f(&connection, label).map_err(other))
    }
}

impl Host for SpinView<'_> {}

impl HostStore for SpinView<'_> {
    fn open(&mut self, label: String) -> wasmtime::Result<Result<Resource<KeyValueStore>, Error>> {
        if label != LABEL {
            // As Spin answers a label the manifest does not grant.
            return Ok(Err(Error::AccessDenied));
        }
        Ok(Ok(self.table.push(KeyValueStore { label })?))
    }

    fn get(
        &mut self,
        store: Resource<KeyValueStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, Error>> {
        self.with_store(&store, |db, label| get(db, label, &key))
    }

    fn set(
        &mut self,
        store: Resource<KeyValueStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), Error>> {
        self.with_store(&store, |db, label| set(db, label, &key, &value))
    }

    fn delete(
        &mut self,
        store: Resource<KeyValueStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), Error>> {
        self.with_store(&store, |db, label| delete(db, label, &key))
    }

    fn exists(
        &mut self,
        store: Resource<KeyValueStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, Error>> {
        self.with_store(&store, |db, label| {
            db.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2)",
            )?
            .query_row(params![label, key], |row| row.get(0))
        })
    }

    fn get_keys(
        &mut self,
        store: Resource<KeyValueStore>,
    ) -> wasmtime::Result<Result<Vec<String>, Error>> {
        self.with_store(&store, |db, label| {
            db.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1")?
                .query_map(params![label], |row| row.get(0))?
                .collect()
        })
    }

    fn drop(&mut self, store: Resource<KeyValueStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}
