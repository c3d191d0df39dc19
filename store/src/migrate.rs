//! Numbered, forward-only schema migrations of what is not derived from the
//! log: the log itself and what is kept beside it (OCI manifests, blobs
//! linked into repositories, small blobs, tags, uploads, unpublished
//! releases). The indexes derived from the log are rebuilt from it instead
//! when their rules change ([`crate::log::rebuild_indexes`]), and the
//! transparency log and tokens are set up with their key
//! ([`crate::tlog::open`]).
//!
//! Each migration runs once, in order, in one write transaction with the
//! ones before it that are due, recorded in `schema_migrations`; the write
//! lock that transaction takes (SQLite's, or PostgreSQL's advisory lock) makes
//! instances that start together apply each one once. A database migrated
//! by a newer Depot than this one is refused: this build would not know what
//! the newer migrations changed.

use crate::db::{Db, Dialect, params};
use crate::entries::now_millis;
use crate::{StoreError, sql};

/// One change to the schema.
#[derive(Debug)]
pub struct Migration {
    /// Its number: one more than the one before.
    pub version: i64,
    /// What it does, kept with the record that it ran.
    pub about: &'static str,
    /// Its statements, in SQLite's types (translated for PostgreSQL).
    pub statements: &'static [&'static str],
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        about: "the schema before numbered migrations: the log, OCI manifests, blobs linked into \
                repositories, small blobs, tags, uploads and unpublished releases",
        statements: &sql::LOG_SCHEMA,
    },
    Migration {
        version: 2,
        about: "uploads by when they were last written to, to find abandoned ones",
        statements: &["CREATE INDEX IF NOT EXISTS uploads_by_touched ON uploads (touched)"],
    },
    Migration {
        version: 3,
        about: "when each small blob was last written, so garbage collection spares content a \
                publish has just written again",
        statements: &["ALTER TABLE small_blobs ADD COLUMN touched INTEGER NOT NULL DEFAULT 0"],
    },
    Migration {
        version: 4,
        about: "the log by package, to answer as of a log position (resolution with `at`)",
        statements: &["CREATE INDEX IF NOT EXISTS log_by_name ON log (name, seq)"],
    },
];

/// The schema version this build brings a database to.
pub const LATEST: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

const MIGRATING: &str = "migrating the registry database";

/// Where the migrations that ran are recorded.
const SCHEMA_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    applied INTEGER NOT NULL,
    about   TEXT NOT NULL
)";

const CURRENT: &str = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";

const RECORD: &str = "INSERT INTO schema_migrations (version, applied, about) VALUES (?1, ?2, ?3)";

/// Brings `db` to [`LATEST`], applying the migrations it has not had; the
/// versions applied. Refuses a database a newer Depot migrated.
pub fn migrate(db: &Db) -> Result<Vec<i64>, StoreError> {
    db.transaction(MIGRATING, |tx| {
        tx.create(SCHEMA_TABLE, MIGRATING)?;
        if tx.dialect() == Dialect::Postgres {
            // Where PostgreSQL keeps the index version (SQLite's
            // `user_version`), made before anything reads it.
            tx.execute(sql::postgres::META_SCHEMA, &[], MIGRATING)?;
        }
        let current = tx.one(CURRENT, &[], MIGRATING)?.i64(0)?;
        if current > LATEST {
            return Err(StoreError::BadRequest(newer(current)));
        }
        let mut applied = Vec::new();
        for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
            for statement in migration.statements {
                tx.create(statement, MIGRATING)?;
            }
            tx.execute(
                RECORD,
                params![migration.version, now_millis(), migration.about],
                MIGRATING,
            )?;
            applied.push(migration.version);
        }
        Ok(applied)
    })
}

fn newer(current: i64) -> String {
    format!(
        "the registry database is at schema version {current}, made by a newer Depot; this \
         depot understands versions up to {LATEST}: run the newer depot (migrations only go \
         forward), or restore a backup made before the upgrade"
    )
}
