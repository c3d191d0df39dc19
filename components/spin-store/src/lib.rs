//! Depot's store (every interface of `wit/store.wit`) as a component: the store crate
//! (`depot-store`, in `store/`) on Spin's drivers. Which ones, the
//! component's Spin variables say (see `spin.toml`):
//! - by default, the key-value store (blobs, in chunks) and the SQLite
//!   database (the registry log, its indexes, the transparency log and the
//!   tokens), both labelled `default`: `spin up` on a laptop;
//! - with `database_url` set, PostgreSQL through `spin:postgres@4.0.0` in
//!   place of SQLite, and with `s3_bucket` set, an S3 bucket in place of the
//!   key-value store (requests signed here, sent over `wasi:http`): many
//!   replicas on one database and one bucket.
//!
//! `operator_token` names the operator's token (the token, or its SHA-256),
//! which is added to the store the first time it is used, so `spin up` alone
//! serves a writable registry and every replica agrees on it.
//!
//! It imports only Spin's interfaces and WASI 0.2 (besides
//! `depot:registry/types`, which holds only types), so it runs on Spin
//! 3.4+/4.x and SpinKube; the Spin build composes it into the handlers in
//! place of the store `depot serve` implements natively. This crate is the
//! `Guest` glue and the drivers; the store's rules are the store crate's.
//!
//! Each request runs in a fresh instance, which opens the database and the
//! key-value store on first use, reading only the variables each needs (each
//! is a call to the host); whether the database is set up is read with its
//! first statement.

use std::cell::{OnceCell, RefCell};
use std::rc::Rc;
use std::time::Duration;

mod s3;
mod sigv4;

use depot_store::bindings::depot::registry::types::{
    Access, Action, Entry, Error, LogEntry, OciManifest, PackageSummary, PendingRelease,
    RegistryStats, Release, SearchPage, SearchQuery, SigningPolicy, TokenGrant, TokenInfo,
};
use depot_store::bindings::exports::depot::registry as exports;
use depot_store::blobs::{self, Kv};
use depot_store::db::{Dialect, SpinStatement, postgres_placeholders, spin_rows, spin_statement};
use depot_store::spin_variables::{SpinVariables, operator_hash};
use depot_store::{Db, During, Sql, StoreError, Value, entries, log, oci, search, tlog, tokens};
use exports::blob_read::GuestBlobReader;
use exports::blob_write::GuestBlobWriter;
use exports::uploads::GuestUploadWriter;
use spin_sdk::key_value::Store as KeyValue;
use spin_sdk::sqlite::Connection;

depot_store::bindings::export!(SpinStore with_types_in depot_store::bindings);

/// The Spin key-value store and SQLite database Depot uses; a manifest grants
/// them with `key_value_stores = ["default"]` and `sqlite_databases = ["default"]`.
const LABEL: &str = "default";

/// How often `wait-log` looks for a new entry: a new entry is seen within
/// this, at one small query per look.
const POLL: Duration = Duration::from_millis(40);

/// The store.
#[derive(Debug)]
struct SpinStore;

thread_local! {
    static DB: OnceCell<Rc<Db>> = const { OnceCell::new() };
    static KV: OnceCell<Rc<dyn Kv>> = const { OnceCell::new() };
}

/// The Spin variable `name`, unless undefined.
fn variable(name: &str) -> Option<String> {
    match spin_sdk::variables::get(name) {
        Ok(value) => Some(value),
        Err(spin_sdk::variables::Error::Undefined(_)) => None,
        Err(e) => {
            eprintln!("depot spin-store: cannot read the variable `{name}`: {e}");
            None
        }
    }
}

/// The SHA-256 of the operator's token the variable `operator_token` names;
/// none when it names none, or names it wrongly (said on stderr).
fn operator() -> Option<String> {
    operator_hash(SpinVariables::operator_token(&variable).as_deref())
        .inspect_err(|e| eprintln!("depot spin-store: `operator_token` is ignored: {e}"))
        .ok()
        .flatten()
}

/// The SQL driver: Spin's SQLite.
struct SpinSqlite(Connection);

impl Sql for SpinSqlite {
    fn run(&self, statement: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, String> {
        use spin_sdk::sqlite::Value as Spin;
        let params: Vec<Spin> = params
            .iter()
            .map(|value| match value {
                Value::Integer(i) => Spin::Integer(*i),
                Value::Real(r) => Spin::Real(*r),
                Value::Text(t) => Spin::Text(t.clone()),
                Value::Blob(b) => Spin::Blob(b.clone()),
                Value::Null => Spin::Null,
            })
            .collect();
        let result = self
            .0
            .execute(statement, &params)
            .map_err(|e| format!("{e:?}"))?;
        Ok(result
            .rows
            .into_iter()
            .map(|row| {
                row.values
                    .into_iter()
                    .map(|value| match value {
                        Spin::Integer(i) => Value::Integer(i),
                        Spin::Real(r) => Value::Real(r),
                        Spin::Text(t) => Value::Text(t),
                        Spin::Blob(b) => Value::Blob(b),
                        Spin::Null => Value::Null,
                    })
                    .collect()
            })
            .collect())
    }
}

/// The SQL driver: PostgreSQL through `spin:postgres@4.0.0` (one pooled
/// connection of the host's, held for the instance's life, so a transaction's
/// statements share it). Spin binds each parameter as its own type, so the
/// placeholders are cast to them ([`postgres_placeholders`]); and it never
/// answers a `query` without rows, so statements without rows are
/// `execute`d and the rest always return one ([`spin_statement`]).
struct SpinPostgres(spin_sdk::pg4::Connection);

impl Sql for SpinPostgres {
    fn run(&self, statement: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, String> {
        use spin_sdk::pg4::{DbValue, ParameterValue};
        let statement = postgres_placeholders(statement, Some(params));
        let params: Vec<ParameterValue> = params
            .iter()
            .map(|value| match value {
                Value::Integer(i) => ParameterValue::Int64(*i),
                Value::Real(r) => ParameterValue::Floating64(*r),
                Value::Text(t) => ParameterValue::Str(t.clone()),
                Value::Blob(b) => ParameterValue::Binary(b.clone()),
                Value::Null => ParameterValue::DbNull,
            })
            .collect();
        let result = match spin_statement(&statement) {
            SpinStatement::Execute(statement) => {
                self.0
                    .execute(&statement, &params)
                    .map_err(|e| format!("{e:?}"))?;
                return Ok(Vec::new());
            }
            SpinStatement::Query(statement) => self
                .0
                .query(&statement, &params)
                .map_err(|e| format!("{e:?}"))?,
        };
        let rows = result
            .rows
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|value| match value {
                        DbValue::Boolean(b) => Ok(Value::Integer(b.into())),
                        DbValue::Int8(i) => Ok(Value::Integer(i.into())),
                        DbValue::Int16(i) => Ok(Value::Integer(i.into())),
                        DbValue::Int32(i) => Ok(Value::Integer(i.into())),
                        DbValue::Int64(i) => Ok(Value::Integer(i)),
                        DbValue::Floating32(r) => Ok(Value::Real(r.into())),
                        DbValue::Floating64(r) => Ok(Value::Real(r)),
                        DbValue::Str(t) => Ok(Value::Text(t)),
                        DbValue::Binary(b) => Ok(Value::Blob(b)),
                        DbValue::DbNull => Ok(Value::Null),
                        other => Err(format!(
                            "a column of a type the store does not use: {other:?}"
                        )),
                    })
                    .collect()
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(spin_rows(rows))
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

/// The blob driver: Spin's key-value store.
struct SpinKv(KeyValue);

impl Kv for SpinKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.0.get(key).map_err(|e| format!("{e:?}"))
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        self.0.set(key, value).map_err(|e| format!("{e:?}"))
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        self.0.delete(key).map_err(|e| format!("{e:?}"))
    }
}

/// This instance's database, opened on first use (and checked to be set up
/// and up to date with its first statement: [`depot_store::open_lazily`]); a
/// failure to connect is not kept, so the next call tries again.
fn db() -> Result<Rc<Db>, StoreError> {
    DB.with(|cell| {
        if let Some(db) = cell.get() {
            return Ok(db.clone());
        }
        let sql: Box<dyn Sql> = match &SpinVariables::database_url(&variable) {
            Some(url) => Box::new(SpinPostgres(
                spin_sdk::pg4::Connection::open(url)
                    .map_err(|e| redact(&format!("{e:?}"), url))
                    .during("connecting to the registry database (PostgreSQL)")?,
            )),
            None => Box::new(SpinSqlite(
                Connection::open(LABEL).during("opening the registry database")?,
            )),
        };
        let db = Rc::new(depot_store::open_lazily(sql, random_bytes));
        Ok(cell.get_or_init(|| db).clone())
    })
}

/// `message` without `secret` (a database URL carries its password).
fn redact(message: &str, secret: &str) -> String {
    message.replace(secret, "<database_url>")
}

/// This instance's blob driver, opened on first use: the bucket the
/// configuration names, or Spin's key-value store.
fn kv() -> Result<Rc<dyn Kv>, StoreError> {
    KV.with(|cell| {
        if let Some(kv) = cell.get() {
            return Ok(kv.clone());
        }
        let kv: Rc<dyn Kv> = match &SpinVariables::s3(&variable) {
            Some(s3) => Rc::new(s3::S3::new(s3).during("opening the blob store (S3)")?),
            None => Rc::new(SpinKv(
                KeyValue::open(LABEL).during("opening the blob store")?,
            )),
        };
        Ok(cell.get_or_init(|| kv).clone())
    })
}

/// `n` bytes from WASI's cryptographically secure random.
fn random_bytes(n: usize) -> Vec<u8> {
    wasi::random::random::get_random_bytes(n as u64)
}

/// A new random id: 128 bits as 32 lowercase hex digits, safe in a URL path
/// and in a key.
fn new_id() -> String {
    hex::encode(random_bytes(16))
}

impl exports::blob_read::Guest for SpinStore {
    type BlobReader = BlobReader;

    fn max_chunk() -> u32 {
        blobs::MAX_CHUNK
    }

    fn open_blob(digest: String, offset: u64) -> Result<exports::blob_read::BlobReader, Error> {
        let reader = blobs::open_blob(&*db()?, kv()?.as_ref(), &digest, offset)?;
        Ok(exports::blob_read::BlobReader::new(BlobReader(
            RefCell::new(reader),
        )))
    }
}

impl exports::blob_write::Guest for SpinStore {
    type BlobWriter = BlobWriter;

    fn max_chunk() -> u32 {
        blobs::MAX_CHUNK
    }

    fn create_blob() -> Result<exports::blob_write::BlobWriter, Error> {
        let writer = blobs::BlobWriter::new(new_id());
        Ok(exports::blob_write::BlobWriter::new(BlobWriter(
            RefCell::new(writer),
        )))
    }
}

impl exports::uploads::Guest for SpinStore {
    type UploadWriter = UploadWriter;

    fn start_upload() -> Result<String, Error> {
        Ok(blobs::start_upload(&*db()?, kv()?.as_ref(), new_id())?)
    }

    fn open_upload(id: String) -> Result<exports::uploads::UploadWriter, Error> {
        let writer = blobs::open_upload(&*db()?, kv()?.as_ref(), &id)?;
        Ok(exports::uploads::UploadWriter::new(UploadWriter(
            RefCell::new(writer),
        )))
    }

    fn complete_upload(id: String, expected: String) -> Result<String, Error> {
        let digest = blobs::complete_upload(&*db()?, kv()?.as_ref(), &id, &expected)?;
        Ok(digest.to_string())
    }

    fn cancel_upload(id: String) -> Result<(), Error> {
        Ok(blobs::cancel_upload(&*db()?, kv()?.as_ref(), &id)?)
    }
}

impl exports::oci_read::Guest for SpinStore {
    fn get_oci_manifest(
        repository: String,
        reference: String,
    ) -> Result<Option<OciManifest>, Error> {
        Ok(oci::get_manifest(&*db()?, &repository, &reference)?)
    }

    fn list_oci_tags(repository: String) -> Result<Vec<String>, Error> {
        Ok(oci::list_tags(&*db()?, &repository)?)
    }

    fn has_oci_content(repository: String) -> Result<bool, Error> {
        Ok(oci::has_content(&*db()?, &repository)?)
    }

    fn oci_references(repository: String, digest: String) -> Result<bool, Error> {
        Ok(oci::references(&*db()?, &repository, &digest)?)
    }

    fn list_referrers(repository: String, subject: String) -> Result<Vec<OciManifest>, Error> {
        Ok(oci::list_referrers(&*db()?, &repository, &subject)?)
    }

    fn upload_size(id: String) -> Result<u64, Error> {
        Ok(blobs::upload_size(&*db()?, &id)?)
    }
}

impl exports::oci_write::Guest for SpinStore {
    fn put_oci_manifest(manifest: OciManifest, tag: Option<String>) -> Result<(), Error> {
        Ok(oci::put_manifest(&*db()?, &manifest, tag.as_deref())?)
    }

    fn link_oci_blob(repository: String, digest: String) -> Result<(), Error> {
        Ok(oci::link_blob(&*db()?, &repository, &digest)?)
    }

    fn unlink_oci_blob(repository: String, digest: String) -> Result<bool, Error> {
        Ok(oci::unlink_blob(&*db()?, &repository, &digest)?)
    }

    fn delete_oci_manifest(repository: String, reference: String) -> Result<bool, Error> {
        Ok(oci::delete_manifest(&*db()?, &repository, &reference)?)
    }
}

impl exports::log_read::Guest for SpinStore {
    fn package_head(name: String) -> Result<u64, Error> {
        Ok(log::package_head(&*db()?, &name)?)
    }

    fn read_log(since: u64, limit: u32) -> Result<Vec<LogEntry>, Error> {
        Ok(entries::read_log(&*db()?, since, limit)?)
    }

    fn package_log(name: String, until: u64) -> Result<Vec<LogEntry>, Error> {
        Ok(entries::package_log(&*db()?, &name, until)?)
    }

    fn wait_log(since: u64, timeout_ms: u32) -> Result<bool, Error> {
        use wasi::clocks::monotonic_clock;
        // Spin gives a component no deadline to wait for; the handler's
        // timeout bounds the wait.
        let db = db()?;
        let deadline = monotonic_clock::now() + u64::from(timeout_ms) * 1_000_000;
        loop {
            if entries::has_entry_after(&db, since)? {
                return Ok(true);
            }
            let now = monotonic_clock::now();
            if now >= deadline {
                return Ok(false);
            }
            let pause = (deadline - now).min(POLL.as_nanos() as u64);
            monotonic_clock::subscribe_duration(pause).block();
        }
    }
}

impl exports::log_append::Guest for SpinStore {
    fn append(entry: Entry, expected_head: u64) -> Result<LogEntry, Error> {
        let db = db()?;
        let logged = log::append(&db, entry, expected_head)?;
        if matches!(logged.entry.action, Action::Takedown(_)) {
            remove_taken_down_content(&db, &logged);
        }
        Ok(logged)
    }
}

impl exports::index::Guest for SpinStore {
    fn get_release(name: String, version: String) -> Result<Option<Release>, Error> {
        Ok(log::get_release(&*db()?, &name, &version)?)
    }

    fn find_release(name: String, version: String) -> Result<Option<Release>, Error> {
        Ok(log::find_release(&*db()?, &name, &version)?)
    }

    fn list_releases(name: String) -> Result<Vec<Release>, Error> {
        Ok(log::list_releases(&*db()?, &name)?)
    }

    fn list_packages(after: Option<String>, limit: u32) -> Result<Vec<PackageSummary>, Error> {
        Ok(log::list_packages(&*db()?, after.as_deref(), limit)?)
    }

    fn search(query: SearchQuery) -> Result<SearchPage, Error> {
        let (releases, next) = search::search(&*db()?, &query)?;
        Ok(SearchPage { releases, next })
    }

    fn stats() -> Result<RegistryStats, Error> {
        Ok(log::stats(&*db()?)?)
    }

    fn release_by_digest(digest: String) -> Result<Option<Release>, Error> {
        let digest: depot_protocol::Digest = digest.parse().map_err(StoreError::from)?;
        Ok(log::release_by_digest(&*db()?, digest.as_str())?)
    }

    fn namespace_trust(namespace: String) -> Result<SigningPolicy, Error> {
        Ok(log::namespace_trust(&*db()?, &namespace)?)
    }
}

impl exports::transparency::Guest for SpinStore {
    fn log_checkpoint() -> Result<String, Error> {
        let checkpoint = tlog::checkpoint(&*db()?)?;
        Ok(checkpoint
            .ok_or_else(|| StoreError::storage("reading the checkpoint", "none was signed"))?)
    }

    fn log_key() -> Result<String, Error> {
        Ok(tlog::signer(&*db()?)?.verifier().to_string())
    }

    fn log_inclusion(seq: u64, tree_size: u64) -> Result<Vec<String>, Error> {
        let proof = tlog::inclusion(&*db()?, seq, tree_size)?;
        Ok(proof.iter().map(|hash| hash.to_base64()).collect())
    }

    fn log_consistency(old_size: u64, new_size: u64) -> Result<Vec<String>, Error> {
        let proof = tlog::consistency(&*db()?, old_size, new_size)?;
        Ok(proof.iter().map(|hash| hash.to_base64()).collect())
    }
}

impl exports::pending_read::Guest for SpinStore {
    fn get_pending(name: String, version: String) -> Result<Option<PendingRelease>, Error> {
        Ok(log::get_pending(&*db()?, &name, &version)?)
    }
}

impl exports::pending_write::Guest for SpinStore {
    fn put_pending(release: PendingRelease) -> Result<(), Error> {
        Ok(log::put_pending(&*db()?, &release)?)
    }
}

impl exports::access::Guest for SpinStore {
    fn authorize(credential: Option<String>, access: Access) -> Result<TokenInfo, Error> {
        Ok(tokens::authorize(
            &*db()?,
            credential.as_deref(),
            &access,
            operator().as_deref(),
        )?)
    }

    fn list_tokens() -> Result<Vec<TokenInfo>, Error> {
        Ok(tokens::list(&*db()?)?)
    }
}

impl exports::tokens::Guest for SpinStore {
    fn create_token(grant: TokenGrant) -> Result<(TokenInfo, String), Error> {
        Ok(tokens::create(&*db()?, grant)?)
    }

    fn revoke_token(id: String) -> Result<TokenInfo, Error> {
        Ok(tokens::revoke(&*db()?, &id)?)
    }
}

/// Removes the content of the release `logged` took down (see
/// [`blobs::remove_taken_down`]); the takedown is durable by now, so a
/// failure is only logged.
fn remove_taken_down_content(db: &Db, logged: &LogEntry) {
    let Entry { name, version, .. } = &logged.entry;
    if let Err(e) = kv().and_then(|kv| blobs::remove_taken_down(db, kv.as_ref(), name, version)) {
        eprintln!(
            "depot spin-store: cannot remove the content of {name} {version}, taken down: {e}"
        );
    }
}

/// The guest side of a `blob-writer` resource.
#[derive(Debug)]
struct BlobWriter(RefCell<blobs::BlobWriter>);

impl GuestBlobWriter for BlobWriter {
    fn write(&self, chunk: Vec<u8>) -> Result<(), Error> {
        Ok(self.0.borrow_mut().write(kv()?.as_ref(), &chunk)?)
    }

    fn finish(&self) -> Result<String, Error> {
        let digest = self.0.borrow_mut().finish(&*db()?, kv()?.as_ref())?;
        Ok(digest.to_string())
    }
}

impl Drop for BlobWriter {
    /// A writer dropped unfinished leaves nothing behind.
    fn drop(&mut self) {
        let writer = self.0.get_mut();
        if writer.wrote_chunks()
            && let Ok(kv) = kv()
        {
            writer.abandon(kv.as_ref());
        }
    }
}

/// The guest side of a `blob-reader` resource.
#[derive(Debug)]
struct BlobReader(RefCell<blobs::BlobReader>);

impl GuestBlobReader for BlobReader {
    fn size(&self) -> u64 {
        self.0.borrow().size()
    }

    fn read(&self, len: u32) -> Result<Vec<u8>, Error> {
        Ok(self.0.borrow_mut().read(kv()?.as_ref(), len)?)
    }
}

/// The guest side of an `upload-writer` resource.
#[derive(Debug)]
struct UploadWriter(RefCell<blobs::UploadWriter>);

impl GuestUploadWriter for UploadWriter {
    fn write(&self, chunk: Vec<u8>) -> Result<(), Error> {
        Ok(self.0.borrow_mut().write(&*db()?, kv()?.as_ref(), &chunk)?)
    }

    fn size(&self) -> u64 {
        self.0.borrow().size()
    }
}
