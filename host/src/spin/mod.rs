//! Spin's key-value, SQLite, variables and PostgreSQL interfaces
//! (`fermyon:spin/key-value@2.0.0`, `fermyon:spin/sqlite@2.0.0`,
//! `fermyon:spin/variables@2.0.0` and `spin:postgres/postgres@4.0.0`, copied
//! from spin-sdk 5.2 into `wit/` by `scripts/spin-wit`, which CI runs to check
//! the copy), implemented on local SQLite files, the environment and the
//! native PostgreSQL client, so that `depot serve --spin-app` runs
//! the Spin build of Depot (the handlers composed with spin-store by `depot
//! compose`) without a Spin binary: the test suite's way to check the
//! composition `spin up` serves.
//!
//! It behaves as `spin up` does with no runtime config (Spin's
//! `sqlite-inproc` and `key-value-spin` crates): the `default` database is
//! `sqlite_db.db` in the state folder and each `open` a connection to it (one
//! an earlier request dropped, when there is one); the `default` key-value store is the table `spin_key_value` of
//! `sqlite_key_value.db`, behind one shared connection. The files are laid
//! out as in Spin's `.spin/` folder. Only the label `default` is granted, as
//! Depot's `spin.toml` grants it.
//!
//! Shaped like the store capability ([`crate::store`]): a [`SpinCtx`] per
//! server, a borrowed [`SpinView`] implementing the generated host traits, and
//! [`add_to_linker`].

mod key_value;
mod postgres;
mod sqlite;
mod variables;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use depot_store::StoreError;
use depot_store::host::SqlBackend;
use depot_store::host::embedded::random_bytes;
use depot_store::host::kv_blobs::{KvBlobs, SharedKv};
use depot_store::host::s3::{BucketUrl, S3Kv};
use depot_store::rusqlite_driver::Sqlite;
use depot_store::spin_variables::SpinVariables;
use wasmtime::component::{HasData, Linker, ResourceTable};

pub use self::key_value::KeyValueStore;
pub use self::postgres::PgConnection;
pub use self::sqlite::SqliteConnection;
pub use self::variables::environment_name;

mod generated {
    wasmtime::component::bindgen!({
        path: "src/spin/wit",
        world: "depot:spin-host/spin-storage",
        imports: {
            // PostgreSQL is asked asynchronously, on the server's runtime,
            // as Spin asks it; the rest answers at once.
            "spin:postgres/postgres.[static]connection.open": async | trappable,
            "spin:postgres/postgres.[method]connection.query": async | trappable,
            "spin:postgres/postgres.[method]connection.execute": async | trappable,
            default: trappable,
        },
        with: {
            "fermyon:spin/key-value.store": super::KeyValueStore,
            "fermyon:spin/sqlite.connection": super::SqliteConnection,
            "spin:postgres/postgres.connection": super::PgConnection,
        },
    });
}

use self::generated::fermyon::spin::{
    key_value as wit_key_value, sqlite as wit_sqlite, variables as wit_variables,
};
use self::generated::spin::postgres::postgres as wit_postgres;

/// The one label a Spin build of Depot asks for, for both its key-value
/// store and its database.
const LABEL: &str = "default";

/// The file of the `default` database, as Spin names it.
const SQLITE_FILE: &str = "sqlite_db.db";

/// The file of the `default` key-value store, as Spin names it.
const KEY_VALUE_FILE: &str = "sqlite_key_value.db";

/// Reader connections of a native backend on the build's data.
const READERS: usize = 2;

/// The state of the Spin interfaces, shared by every request.
#[derive(Clone)]
pub struct SpinCtx {
    /// The `default` key-value store's database.
    key_value: Arc<Mutex<rusqlite::Connection>>,
    /// The `default` database.
    sqlite: PathBuf,
    /// Connections to the `default` database that requests dropped.
    idle_sqlite: sqlite::Idle,
    /// Idle PostgreSQL connections.
    postgres: Arc<postgres::Pool>,
    /// What the build's Spin variables configure, read from the environment
    /// as its `variables` interface reads them: the native code here works on
    /// the data the build's handlers do.
    config: Arc<SpinVariables>,
}

/// The build's Spin variables, read from the environment as its
/// `variables` interface reads them.
fn spin_variables() -> anyhow::Result<SpinVariables> {
    let variables = SpinVariables::read(|name| std::env::var(environment_name(name)).ok());
    // A token spin-store could not use is refused at start-up.
    variables
        .operator_hash()
        .map_err(|e| anyhow::anyhow!("{}: {e}", environment_name("operator_token")))?;
    Ok(variables)
}

impl SpinCtx {
    /// Opens (creating them if need be) the key-value store and database in
    /// `dir`.
    ///
    /// The build's Spin variables (`SPIN_VARIABLE_*` in the environment) may
    /// move its data to PostgreSQL (`database_url`) and an S3 bucket
    /// (`s3_bucket`); the native code here then opens the database there.
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let config = spin_variables()?;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the Spin state folder {}", dir.display()))?;
        let key_value = key_value::open(&dir.join(KEY_VALUE_FILE))?;
        Ok(Self {
            key_value: Arc::new(Mutex::new(key_value)),
            sqlite: dir.join(SQLITE_FILE),
            idle_sqlite: Arc::default(),
            postgres: Arc::default(),
            config: Arc::new(config),
        })
    }

    /// On the Spin build's first start (or when the last one was revoked),
    /// makes the operator's token in the build's store and returns its
    /// secret: the store's own rule ([`depot_store::tokens::ensure_operator`])
    /// run natively on the file that is the build's `default` database, as
    /// spin-store opens it, before any request runs.
    ///
    /// When the build's `operator_token` variable names the operator's
    /// token, none is made: spin-store adds that one on its first use, as
    /// under `spin up`, which runs nothing at start-up.
    pub fn ensure_operator(&self) -> Result<Option<String>, StoreError> {
        if self.config.operator_token.is_some() {
            return Ok(None);
        }
        depot_store::tokens::ensure_operator(&depot_store::open(
            self.connect(false)?,
            random_bytes,
        )?)
    }

    /// The store's native backend on this build's data: its logic on the
    /// build's database and, for content, the key-value store's (or the
    /// bucket's) chunks as spin-store lays them out, so native code (a
    /// mirror) writes what the build's handlers read.
    pub fn backend(&self) -> Result<SqlBackend, StoreError> {
        let writer = depot_store::open(self.connect(false)?, random_bytes)?;
        let readers = (0..READERS)
            .map(|_| depot_store::open_reader(self.connect(true)?, random_bytes))
            .collect::<Result<_, _>>()?;
        let kv: SharedKv = match &self.config.s3 {
            Some(s3) => Arc::new(S3Kv::open(
                &BucketUrl {
                    bucket: s3.bucket.clone(),
                    prefix: Some(s3.prefix.clone()),
                    endpoint: Some(s3.endpoint.clone()),
                    region: Some(s3.region.clone()),
                },
                &s3.access_key,
                &s3.secret_key,
            )?),
            None => Arc::new(key_value::NativeKv(self.key_value.clone())),
        };
        let blobs = KvBlobs::new(
            depot_store::open_reader(self.connect(false)?, random_bytes)?,
            kv,
        );
        SqlBackend::new(writer, readers, Arc::new(blobs))
    }

    /// A native connection to the build's `default` database.
    /// Whether the build's database and key-value store answer a trivial
    /// query (`/readyz`); the reason when not.
    pub fn ready(&self) -> Result<(), String> {
        depot_store::open_reader(self.connect(true).map_err(|e| e.to_string())?, random_bytes)
            .map_err(|e| format!("the database does not answer ({e})"))?;
        if self.config.s3.is_some() {
            // The bucket is the build's to reach, over its own outgoing HTTP.
            return Ok(());
        }
        let kv = self
            .key_value
            .lock()
            .map_err(|_| "the key-value store's connection was poisoned".to_string())?;
        kv.query_row("SELECT 1", [], |_| Ok(()))
            .map_err(|e| format!("the key-value store does not answer ({e})"))
    }

    fn connect(&self, reader: bool) -> Result<Box<dyn depot_store::Sql>, StoreError> {
        match &self.config.database_url {
            Some(url) => Ok(Box::new(
                depot_store::postgres_driver::Postgres::connect(url).map_err(|e| {
                    StoreError::storage("connecting to the Spin build's database", e)
                })?,
            )),
            None => Ok(Box::new(Sqlite::open(&self.sqlite, reader)?)),
        }
    }
}

/// A view of a [`SpinCtx`] and the request's resource table.
pub struct SpinView<'a> {
    ctx: &'a SpinCtx,
    table: &'a mut ResourceTable,
}

impl<'a> SpinView<'a> {
    /// A view of `ctx`, with resources kept in `table`.
    pub fn new(ctx: &'a SpinCtx, table: &'a mut ResourceTable) -> Self {
        Self { ctx, table }
    }
}

impl std::fmt::Debug for SpinCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpinCtx")
            .field("sqlite", &self.sqlite)
            .field("postgres", &self.config.database_url.is_some())
            .field("s3", &self.config.s3.is_some())
            .finish_non_exhaustive()
    }
}

struct HasSpin;

impl HasData for HasSpin {
    type Data<'a> = SpinView<'a>;
}

/// Adds the Spin interfaces spin-store imports to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    f: fn(&mut T) -> SpinView<'_>,
) -> wasmtime::Result<()> {
    wit_key_value::add_to_linker::<_, HasSpin>(linker, f)?;
    wit_sqlite::add_to_linker::<_, HasSpin>(linker, f)?;
    wit_variables::add_to_linker::<_, HasSpin>(linker, f)?;
    wit_postgres::add_to_linker::<_, HasSpin>(linker, f)?;
    Ok(())
}
