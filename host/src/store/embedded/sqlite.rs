//! The registry log and its indexes in SQLite.
//!
//! The `log` table is the truth; `releases` and `packages` are derived from it
//! by [`apply`], one entry at a time, in the same transaction as the append, and
//! can be rebuilt from the log at any time ([`rebuild_indexes`]). One writer
//! connection sits behind a mutex; a few reader connections let reads run in
//! parallel with each other and with the writer (WAL).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use depot_protocol::tlog::{Hash, NoteSigner};
use depot_protocol::{Candidate, Digest, Version};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use tokio::sync::watch;

use super::cache::ReleaseCache;
use super::{search, tlog};
use crate::store::StoreError;
use crate::store::{
    Action, Annotation, Entry, KeyGrant, LogEntry, OciManifest, PackageSummary, RegistryStats,
    Release, SearchQuery, SigningPolicy, Takedown,
};

/// Reader connections: enough for the reads of concurrent requests to overlap.
const READERS: usize = 4;

/// How long a connection waits for another process's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Version of the index derivation, kept in `PRAGMA user_version`. Bump it
/// when [`apply`] or the index tables change: the index tables are then
/// dropped, created afresh and rebuilt from the log at start-up.
const INDEX_VERSION: i64 = 6;

/// The log, the truth, and the OCI manifests that are not releases (kept as
/// any OCI registry keeps them, outside the log), with the blobs uploaded or
/// mounted into each repository, and the blobs small enough to keep here
/// (`small_blobs`): never rebuilt. `refs` is a JSON list of the digests a
/// manifest names.
const LOG_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS log (
        seq     INTEGER PRIMARY KEY,
        time    INTEGER NOT NULL,
        name    TEXT NOT NULL,
        version TEXT NOT NULL,
        action  TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS oci_manifests (
        repository    TEXT NOT NULL,
        digest        TEXT NOT NULL,
        media_type    TEXT NOT NULL,
        size          INTEGER NOT NULL,
        artifact_type TEXT,
        subject       TEXT,
        refs          TEXT NOT NULL,
        PRIMARY KEY (repository, digest)
    );
    CREATE INDEX IF NOT EXISTS oci_manifests_by_subject ON oci_manifests (repository, subject);
    CREATE TABLE IF NOT EXISTS oci_blobs (
        repository TEXT NOT NULL,
        digest     TEXT NOT NULL,
        PRIMARY KEY (repository, digest)
    );
    CREATE TABLE IF NOT EXISTS small_blobs (
        digest TEXT PRIMARY KEY,
        bytes  BLOB NOT NULL
    );
    CREATE TABLE IF NOT EXISTS oci_tags (
        repository TEXT NOT NULL,
        tag        TEXT NOT NULL,
        digest     TEXT NOT NULL,
        PRIMARY KEY (repository, tag)
    );
";

const OCI_COLUMNS: &str = "repository, digest, media_type, size, artifact_type, subject, refs";

/// The indexes derived from the log. `metadata` and `oci` are JSON (`oci` is
/// `null` for a release without an OCI artifact); the `takedown_*` columns are
/// set once the release is taken down.
const INDEX_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS releases (
        name         TEXT NOT NULL,
        version      TEXT NOT NULL,
        digest       TEXT NOT NULL,
        size         INTEGER NOT NULL,
        published_at INTEGER NOT NULL,
        yanked       INTEGER NOT NULL,
        seq          INTEGER NOT NULL,
        metadata     TEXT NOT NULL,
        oci          TEXT NOT NULL,
        takedown_reason TEXT,
        takedown_time   INTEGER,
        takedown_seq    INTEGER,
        kind         TEXT NOT NULL,
        licenses     TEXT,
        signature    TEXT,
        UNIQUE (name, version)
    );
    CREATE TABLE IF NOT EXISTS release_interfaces (
        name      TEXT NOT NULL,
        version   TEXT NOT NULL,
        direction TEXT NOT NULL,
        interface TEXT NOT NULL,
        base      TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS interfaces_by_base ON release_interfaces (direction, base, name);
    CREATE INDEX IF NOT EXISTS interfaces_by_interface
        ON release_interfaces (direction, interface, name);
    CREATE INDEX IF NOT EXISTS interfaces_by_release ON release_interfaces (name, version);
    CREATE VIRTUAL TABLE IF NOT EXISTS release_text USING fts5 (name, description);
    CREATE INDEX IF NOT EXISTS releases_by_digest ON releases (digest, seq);
    CREATE TABLE IF NOT EXISTS annotations (
        seq     INTEGER PRIMARY KEY,
        name    TEXT NOT NULL,
        version TEXT NOT NULL,
        type    TEXT NOT NULL,
        value   TEXT NOT NULL,
        time    INTEGER NOT NULL
    );
    CREATE INDEX IF NOT EXISTS annotations_by_release ON annotations (name, version, seq);
    CREATE TABLE IF NOT EXISTS key_grants (
        scope     TEXT NOT NULL,
        key       TEXT NOT NULL,
        namespace TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        time      INTEGER NOT NULL,
        PRIMARY KEY (scope, key)
    );
    CREATE INDEX IF NOT EXISTS key_grants_by_namespace ON key_grants (namespace, seq);
    CREATE TABLE IF NOT EXISTS namespace_policy (
        namespace          TEXT PRIMARY KEY,
        require_signatures INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS packages (
        name       TEXT PRIMARY KEY,
        versions   INTEGER NOT NULL,
        latest     TEXT,
        updated_at INTEGER NOT NULL,
        head       INTEGER NOT NULL
    );
";

pub(super) const RELEASE_COLUMNS: &str = "name, version, digest, size, published_at, yanked, seq, metadata, \
                               oci, takedown_reason, takedown_time, takedown_seq, signature";

/// The registry log and indexes of one SQLite database.
#[derive(Debug)]
pub struct SqliteLog {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    releases: ReleaseCache,
    /// The sequence number of the last entry, for those waiting for the next.
    head: watch::Sender<u64>,
    /// Signs a checkpoint of the transparency log after each commit.
    signer: NoteSigner,
}

/// Turns a SQLite or JSON failure into [`StoreError::Storage`].
pub(super) trait During<T> {
    fn during(self, action: &'static str) -> Result<T, StoreError>;
}

impl<T, E: std::error::Error + Send + Sync + 'static> During<T> for Result<T, E> {
    fn during(self, action: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::storage(action, e))
    }
}

pub(super) fn lock(mutex: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding a connection leaves no transaction open (a
    // `Transaction` rolls back on drop), so the connection is still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A connection to the registry database, set up as every one of its users needs.
pub(super) fn connect(path: &Path) -> Result<Connection, StoreError> {
    const OPENING: &str = "opening the registry database";
    let conn = Connection::open(path).during(OPENING)?;
    conn.busy_timeout(BUSY_TIMEOUT).during(OPENING)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .during(OPENING)?;
    // FULL: a commit is on disk before `append` returns.
    conn.pragma_update(None, "synchronous", "FULL")
        .during(OPENING)?;
    Ok(conn)
}

impl SqliteLog {
    /// Opens (creating if needed) the database at `path`, rebuilding the
    /// indexes if they were derived by another version of [`apply`] and
    /// bringing the transparency log, whose checkpoints `signer` signs, up to
    /// the registry log.
    pub fn open(path: &Path, signer: NoteSigner) -> Result<Self, StoreError> {
        let mut writer = connect(path)?;
        writer
            .execute_batch(LOG_SCHEMA)
            .and_then(|()| writer.execute_batch(INDEX_SCHEMA))
            .and_then(|()| writer.execute_batch(tlog::SCHEMA))
            .during("creating the registry tables")?;
        let version: i64 = writer
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .during("reading the index version")?;
        if version != INDEX_VERSION {
            rebuild_indexes(&mut writer)?;
        }
        let tx = writer
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during("opening the transparency log")?;
        tlog::catch_up(&tx, &signer)?;
        tx.commit().during("opening the transparency log")?;
        let head: u64 = writer
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM log", [], |row| {
                row.get(0)
            })
            .during("reading the log head")?;
        let readers = (0..READERS)
            .map(|_| {
                let conn = connect(path)?;
                conn.pragma_update(None, "query_only", true)
                    .during("opening the registry database")?;
                Ok(Mutex::new(conn))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Self {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            releases: ReleaseCache::default(),
            head: watch::Sender::new(head),
            signer,
        })
    }

    /// A free reader connection, or the next one in turn if all are busy.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.readers.len() {
            match self.readers[(start + i) % self.readers.len()].try_lock() {
                Ok(conn) => return conn,
                Err(TryLockError::Poisoned(e)) => return e.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        lock(&self.readers[start % self.readers.len()])
    }

    /// See [`crate::store::Backend::package_head`].
    pub fn package_head(&self, name: &str) -> Result<u64, StoreError> {
        package_head(&self.reader(), name)
    }

    /// See [`crate::store::Backend::append`].
    pub fn append(&self, entry: Entry, expected_head: u64) -> Result<LogEntry, StoreError> {
        self.commit(|tx, last| {
            let current = package_head(tx, &entry.name)?;
            if current != expected_head {
                return Err(StoreError::HeadMoved { current });
            }
            Ok(LogEntry {
                seq: last + 1,
                time: now_millis(),
                entry,
            })
        })
    }

    /// See [`crate::store::Backend::replicate`].
    pub fn replicate(&self, logged: LogEntry) -> Result<LogEntry, StoreError> {
        self.commit(|_, last| {
            if logged.seq == last + 1 {
                Ok(logged)
            } else {
                Err(StoreError::BadRequest(format!(
                    "entry {} does not follow this log's last entry, {last}; replicate the \
                     entries after {last} in order",
                    logged.seq
                )))
            }
        })
    }

    /// Adds the entry `make` returns (given the transaction and the last
    /// sequence number) to the log and the indexes, in one transaction.
    fn commit(
        &self,
        make: impl FnOnce(&Connection, u64) -> Result<LogEntry, StoreError>,
    ) -> Result<LogEntry, StoreError> {
        const APPENDING: &str = "appending to the registry log";
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(APPENDING)?;
        let last: u64 = tx
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM log", [], |row| {
                row.get(0)
            })
            .during(APPENDING)?;
        let logged = make(&tx, last)?;
        apply(&tx, &logged)?;
        let action = serde_json::to_string(&logged.entry.action).during(APPENDING)?;
        tx.execute(
            "INSERT INTO log (seq, time, name, version, action) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                logged.seq,
                logged.time,
                logged.entry.name,
                logged.entry.version,
                action
            ],
        )
        .during(APPENDING)?;
        tlog::grow(&tx, std::slice::from_ref(&logged), &self.signer)?;
        tx.commit().during(APPENDING)?;
        // Still holding the writer, so no later write's forgetting comes first.
        self.releases.forget(&logged.entry.name);
        self.head.send_replace(logged.seq);
        Ok(logged)
    }

    /// Stores a small blob, durably; storing one already there changes nothing.
    pub fn put_small_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<(), StoreError> {
        lock(&self.writer)
            .prepare_cached("INSERT OR IGNORE INTO small_blobs (digest, bytes) VALUES (?1, ?2)")
            .and_then(|mut stmt| stmt.execute(params![digest.as_str(), bytes]))
            .during("storing a small blob")?;
        Ok(())
    }

    /// The small blob `digest`, if it is stored here.
    pub fn get_small_blob(&self, digest: &Digest) -> Result<Option<Vec<u8>>, StoreError> {
        self.reader()
            .prepare_cached("SELECT bytes FROM small_blobs WHERE digest = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([digest.as_str()], |row| row.get(0))
                    .optional()
            })
            .during("reading a small blob")
    }

    /// The sequence number of the last log entry, changing as entries land.
    pub fn watch_head(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    /// Whether a release not taken down has content `digest`.
    pub fn content_in_use(&self, digest: &str) -> Result<bool, StoreError> {
        self.reader()
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM releases WHERE digest = ?1 \
                 AND takedown_seq IS NULL)",
            )
            .and_then(|mut stmt| stmt.query_row([digest], |row| row.get(0)))
            .during("checking whether content is in use")
    }

    /// Removes the small blob `digest`, if it is one.
    pub fn remove_small_blob(&self, digest: &Digest) -> Result<(), StoreError> {
        lock(&self.writer)
            .prepare_cached("DELETE FROM small_blobs WHERE digest = ?1")
            .and_then(|mut stmt| stmt.execute([digest.as_str()]))
            .during("removing a small blob")?;
        Ok(())
    }

    /// See [`crate::store::Backend::read_log`].
    pub fn read_log(&self, since: u64, limit: u32) -> Result<Vec<LogEntry>, StoreError> {
        read_log(&self.reader(), since, limit)
    }

    /// See [`crate::store::Backend::get_release`].
    pub fn get_release(&self, name: &str, version: &str) -> Result<Option<Release>, StoreError> {
        let generation = match self.releases.get(name, version) {
            Ok(release) => return Ok(Some(release)),
            Err(generation) => generation,
        };
        let conn = self.reader();
        let release = conn
            .prepare_cached(&format!(
                "SELECT {RELEASE_COLUMNS} FROM releases WHERE name = ?1 AND version = ?2"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![name, version], release_from_row)
                    .optional()
            })
            .during("reading a release")?;
        let release = with_annotations(&conn, Vec::from_iter(release))?.pop();
        if let Some(release) = &release {
            self.releases.insert(generation, release);
        }
        Ok(release)
    }

    /// See [`crate::store::Backend::search`].
    pub fn search(
        &self,
        query: &SearchQuery,
    ) -> Result<(Vec<Release>, Option<String>), StoreError> {
        let conn = self.reader();
        let (names, next) = search::packages(&conn, query)?;
        let releases = search::releases_of(&conn, &names, query)?;
        Ok((with_annotations(&conn, releases)?, next))
    }

    /// See [`crate::store::Backend::log_checkpoint`].
    pub fn log_checkpoint(&self) -> Result<String, StoreError> {
        tlog::checkpoint(&self.reader())?
            .ok_or_else(|| StoreError::storage("reading the checkpoint", "none was signed"))
    }

    /// See [`crate::store::Backend::log_key`].
    pub fn log_key(&self) -> String {
        self.signer.verifier().to_string()
    }

    /// See [`crate::store::Backend::log_inclusion`].
    pub fn log_inclusion(&self, seq: u64, tree_size: u64) -> Result<Vec<Hash>, StoreError> {
        tlog::inclusion(&self.reader(), seq, tree_size)
    }

    /// See [`crate::store::Backend::log_consistency`].
    pub fn log_consistency(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, StoreError> {
        tlog::consistency(&self.reader(), old_size, new_size)
    }

    /// See [`crate::store::Backend::stats`].
    pub fn stats(&self) -> Result<RegistryStats, StoreError> {
        self.reader()
            .prepare_cached(
                "SELECT (SELECT COUNT(*) FROM packages), (SELECT COUNT(*) FROM releases), \
                 (SELECT COALESCE(MAX(seq), 0) FROM log)",
            )
            .and_then(|mut stmt| {
                stmt.query_row([], |row| {
                    Ok(RegistryStats {
                        packages: row.get(0)?,
                        releases: row.get(1)?,
                        head: row.get(2)?,
                    })
                })
            })
            .during("counting packages and releases")
    }

    /// See [`crate::store::Backend::namespace_trust`].
    pub fn namespace_trust(&self, namespace: &str) -> Result<SigningPolicy, StoreError> {
        namespace_trust(&self.reader(), namespace)
    }

    /// See [`crate::store::Backend::find_release`].
    pub fn find_release(&self, name: &str, version: &str) -> Result<Option<Release>, StoreError> {
        // Semver versions hold only ASCII letters, digits, `-`, `.` and `+`, so
        // the case-sensitive GLOB sees no wildcard in them.
        let without_build = version.split_once('+').map_or(version, |(v, _)| v);
        let conn = self.reader();
        let release = conn
            .prepare_cached(&format!(
                "SELECT {RELEASE_COLUMNS} FROM releases \
                 WHERE name = ?1 AND (version = ?2 OR version GLOB ?2 || '+*') LIMIT 1"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![name, without_build], release_from_row)
                    .optional()
            })
            .during("finding a release")?;
        Ok(with_annotations(&conn, Vec::from_iter(release))?.pop())
    }

    /// See [`crate::store::Backend::list_releases`].
    pub fn list_releases(&self, name: &str) -> Result<Vec<Release>, StoreError> {
        let conn = self.reader();
        let releases = conn
            .prepare_cached(&format!(
                "SELECT {RELEASE_COLUMNS} FROM releases WHERE name = ?1 ORDER BY seq"
            ))
            .and_then(|mut stmt| stmt.query_map([name], release_from_row)?.collect())
            .during("listing releases")?;
        with_annotations(&conn, releases)
    }

    /// See [`crate::store::Backend::list_packages`].
    pub fn list_packages(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<PackageSummary>, StoreError> {
        list_packages(&self.reader(), after, limit)
    }

    /// See [`crate::store::Backend::release_by_digest`].
    pub fn release_by_digest(&self, digest: &Digest) -> Result<Option<Release>, StoreError> {
        let conn = self.reader();
        let release = conn
            .prepare_cached(&format!(
                "SELECT {RELEASE_COLUMNS} FROM releases WHERE digest = ?1 \
                 ORDER BY takedown_seq IS NOT NULL, seq LIMIT 1"
            ))
            .and_then(|mut stmt| {
                stmt.query_row([digest.as_str()], release_from_row)
                    .optional()
            })
            .during("finding a release by digest")?;
        Ok(with_annotations(&conn, Vec::from_iter(release))?.pop())
    }
}

impl SqliteLog {
    /// See [`crate::store::Backend::put_oci_manifest`].
    pub fn put_oci_manifest(
        &self,
        manifest: &OciManifest,
        tag: Option<&str>,
    ) -> Result<(), StoreError> {
        const STORING: &str = "storing an OCI manifest";
        let refs = serde_json::to_string(&manifest.references).during(STORING)?;
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(STORING)?;
        tx.execute(
            &format!("INSERT OR REPLACE INTO oci_manifests ({OCI_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
            params![
                manifest.repository,
                manifest.digest,
                manifest.media_type,
                manifest.size,
                manifest.artifact_type,
                manifest.subject,
                refs
            ],
        )
        .during(STORING)?;
        if let Some(tag) = tag {
            tx.execute(
                "INSERT OR REPLACE INTO oci_tags (repository, tag, digest) VALUES (?1, ?2, ?3)",
                params![manifest.repository, tag, manifest.digest],
            )
            .during(STORING)?;
        }
        tx.commit().during(STORING)
    }

    /// See [`crate::store::Backend::get_oci_manifest`].
    pub fn get_oci_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<OciManifest>, StoreError> {
        self.reader()
            .prepare_cached(&format!(
                "SELECT {OCI_COLUMNS} FROM oci_manifests WHERE repository = ?1 AND digest = \
                 COALESCE((SELECT digest FROM oci_tags WHERE repository = ?1 AND tag = ?2), ?2)"
            ))
            .and_then(|mut stmt| {
                stmt.query_row(params![repository, reference], oci_manifest_from_row)
                    .optional()
            })
            .during("reading an OCI manifest")
    }

    /// See [`crate::store::Backend::list_oci_tags`].
    pub fn list_oci_tags(&self, repository: &str) -> Result<Vec<String>, StoreError> {
        self.reader()
            .prepare_cached("SELECT tag FROM oci_tags WHERE repository = ?1 ORDER BY tag")
            .and_then(|mut stmt| stmt.query_map([repository], |row| row.get(0))?.collect())
            .during("listing OCI tags")
    }

    /// See [`crate::store::Backend::has_oci_content`].
    pub fn has_oci_content(&self, repository: &str) -> Result<bool, StoreError> {
        self.reader()
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM oci_manifests WHERE repository = ?1) \
                 OR EXISTS (SELECT 1 FROM oci_blobs WHERE repository = ?1)",
            )
            .and_then(|mut stmt| stmt.query_row([repository], |row| row.get(0)))
            .during("reading OCI manifests")
    }

    /// See [`crate::store::Backend::link_oci_blob`].
    pub fn link_oci_blob(&self, repository: &str, digest: &str) -> Result<(), StoreError> {
        lock(&self.writer)
            .execute(
                "INSERT OR IGNORE INTO oci_blobs (repository, digest) VALUES (?1, ?2)",
                [repository, digest],
            )
            .map(drop)
            .during("linking a blob to a repository")
    }

    /// See [`crate::store::Backend::unlink_oci_blob`].
    pub fn unlink_oci_blob(&self, repository: &str, digest: &str) -> Result<bool, StoreError> {
        lock(&self.writer)
            .execute(
                "DELETE FROM oci_blobs WHERE repository = ?1 AND digest = ?2",
                [repository, digest],
            )
            .map(|deleted| deleted > 0)
            .during("unlinking a blob from a repository")
    }

    /// See [`crate::store::Backend::oci_references`].
    pub fn oci_references(&self, repository: &str, digest: &str) -> Result<bool, StoreError> {
        self.reader()
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM oci_blobs WHERE repository = ?1 AND digest = ?2) \
                 OR EXISTS (SELECT 1 FROM oci_manifests WHERE repository = ?1 AND \
                 (digest = ?2 OR EXISTS (SELECT 1 FROM json_each(refs) WHERE value = ?2)))",
            )
            .and_then(|mut stmt| stmt.query_row([repository, digest], |row| row.get(0)))
            .during("reading OCI manifests")
    }

    /// See [`crate::store::Backend::delete_oci_manifest`].
    pub fn delete_oci_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<bool, StoreError> {
        const DELETING: &str = "deleting an OCI manifest";
        let mut conn = lock(&self.writer);
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(DELETING)?;
        let untagged = tx
            .execute(
                "DELETE FROM oci_tags WHERE repository = ?1 AND tag = ?2",
                [repository, reference],
            )
            .during(DELETING)?;
        let deleted = tx
            .execute(
                "DELETE FROM oci_manifests WHERE repository = ?1 AND digest = ?2",
                [repository, reference],
            )
            .during(DELETING)?;
        tx.execute(
            "DELETE FROM oci_tags WHERE repository = ?1 AND digest = ?2",
            [repository, reference],
        )
        .during(DELETING)?;
        tx.commit().during(DELETING)?;
        Ok(untagged + deleted > 0)
    }

    /// See [`crate::store::Backend::list_referrers`].
    pub fn list_referrers(
        &self,
        repository: &str,
        subject: &str,
    ) -> Result<Vec<OciManifest>, StoreError> {
        self.reader()
            .prepare_cached(&format!(
                "SELECT {OCI_COLUMNS} FROM oci_manifests WHERE repository = ?1 AND subject = ?2 \
                 ORDER BY digest"
            ))
            .and_then(|mut stmt| {
                stmt.query_map([repository, subject], oci_manifest_from_row)?
                    .collect()
            })
            .during("listing referrers")
    }
}

fn oci_manifest_from_row(row: &Row) -> rusqlite::Result<OciManifest> {
    Ok(OciManifest {
        repository: row.get(0)?,
        digest: row.get(1)?,
        media_type: row.get(2)?,
        size: row.get(3)?,
        artifact_type: row.get(4)?,
        subject: row.get(5)?,
        references: json_column(row, 6)?,
    })
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn package_head(conn: &Connection, name: &str) -> Result<u64, StoreError> {
    conn.prepare_cached("SELECT head FROM packages WHERE name = ?1")
        .and_then(|mut stmt| stmt.query_row([name], |row| row.get(0)).optional())
        .map(Option::unwrap_or_default)
        .during("reading a package's head")
}

pub(super) fn read_log(
    conn: &Connection,
    since: u64,
    limit: u32,
) -> Result<Vec<LogEntry>, StoreError> {
    conn.prepare_cached(
        "SELECT seq, time, name, version, action FROM log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )
    .and_then(|mut stmt| {
        stmt.query_map(params![since, limit], log_entry_from_row)?
            .collect()
    })
    .during("reading the registry log")
}

fn list_packages(
    conn: &Connection,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<PackageSummary>, StoreError> {
    conn.prepare_cached(
        "SELECT name, versions, latest, updated_at FROM packages
         WHERE name > ?1 ORDER BY name LIMIT ?2",
    )
    .and_then(|mut stmt| {
        stmt.query_map(params![after.unwrap_or(""), limit], |row| {
            Ok(PackageSummary {
                name: row.get(0)?,
                versions: row.get(1)?,
                latest: row.get(2)?,
                updated_at: row.get(3)?,
            })
        })?
        .collect()
    })
    .during("listing packages")
}

/// Parses a JSON column, reporting a malformed one as a conversion failure.
fn json_column<T: serde::de::DeserializeOwned>(row: &Row, index: usize) -> rusqlite::Result<T> {
    let text: String = row.get(index)?;
    serde_json::from_str(&text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// A release from a row of [`RELEASE_COLUMNS`], without its annotations
/// ([`with_annotations`] adds them).
pub(super) fn release_from_row(row: &Row) -> rusqlite::Result<Release> {
    let takedown = match row.get::<_, Option<String>>(9)? {
        Some(reason) => Some(Takedown {
            reason,
            time: row.get(10)?,
            seq: row.get(11)?,
        }),
        None => None,
    };
    Ok(Release {
        name: row.get(0)?,
        version: row.get(1)?,
        digest: row.get(2)?,
        size: row.get(3)?,
        published_at: row.get(4)?,
        yanked: row.get(5)?,
        seq: row.get(6)?,
        metadata: json_column(row, 7)?,
        oci: json_column(row, 8)?,
        annotations: Vec::new(),
        takedown,
        signature: row
            .get::<_, Option<String>>(12)?
            .map(|text| {
                serde_json::from_str(&text).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        12,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })
            })
            .transpose()?,
    })
}

/// `releases` with their annotations filled in, read in one query.
fn with_annotations(
    conn: &Connection,
    mut releases: Vec<Release>,
) -> Result<Vec<Release>, StoreError> {
    const READING: &str = "reading annotations";
    if releases.is_empty() {
        return Ok(releases);
    }
    let mut names: Vec<&str> = releases.iter().map(|r| r.name.as_str()).collect();
    names.dedup();
    let names = serde_json::to_string(&names).during(READING)?;
    let annotations: Vec<(String, String, Annotation)> = conn
        .prepare_cached(
            "SELECT name, version, type, value, time, seq FROM annotations \
             WHERE name IN (SELECT value FROM json_each(?1)) ORDER BY seq",
        )
        .and_then(|mut stmt| {
            stmt.query_map([names], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    Annotation {
                        type_: row.get(2)?,
                        value: row.get(3)?,
                        time: row.get(4)?,
                        seq: row.get(5)?,
                    },
                ))
            })?
            .collect()
        })
        .during(READING)?;
    for (name, version, annotation) in annotations {
        if let Some(release) = releases
            .iter_mut()
            .find(|r| r.name == name && r.version == version)
        {
            release.annotations.push(annotation);
        }
    }
    Ok(releases)
}

fn log_entry_from_row(row: &Row) -> rusqlite::Result<LogEntry> {
    Ok(LogEntry {
        seq: row.get(0)?,
        time: row.get(1)?,
        entry: Entry {
            name: row.get(2)?,
            version: row.get(3)?,
            action: json_column(row, 4)?,
        },
    })
}

/// Derives the indexes from one log entry: the single definition of what an
/// entry means, used both when appending and when rebuilding. Refuses an
/// entry that does not fit the indexes as they are (`version-exists`,
/// `not-found`), which leaves the enclosing transaction to roll back.
fn apply(conn: &Connection, logged: &LogEntry) -> Result<(), StoreError> {
    const INDEXING: &str = "updating the registry indexes";
    let Entry {
        name,
        version,
        action,
    } = &logged.entry;
    match action {
        Action::Release(content) => {
            if release_exists(conn, name, version)? {
                return Err(StoreError::VersionExists {
                    name: name.clone(),
                    version: version.clone(),
                });
            }
            let metadata = serde_json::to_string(&content.metadata).during(INDEXING)?;
            let oci = serde_json::to_string(&content.oci).during(INDEXING)?;
            let signature = content
                .signature
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .during(INDEXING)?;
            conn.prepare_cached(
                "INSERT INTO releases (name, version, digest, size, published_at, yanked, seq, \
                 metadata, oci, kind, licenses, signature) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    name,
                    version,
                    content.digest,
                    content.size,
                    logged.time,
                    logged.seq,
                    metadata,
                    oci,
                    search::kind_name(content.metadata.kind),
                    content.metadata.licenses,
                    signature
                ])
            })
            .during(INDEXING)?;
            search::index_release(conn, name, version, &content.metadata)?;
        }
        Action::Yank | Action::Unyank => {
            let yanked = matches!(action, Action::Yank);
            let changed = conn
                .prepare_cached("UPDATE releases SET yanked = ?3 WHERE name = ?1 AND version = ?2")
                .and_then(|mut stmt| stmt.execute(params![name, version, yanked]))
                .during(INDEXING)?;
            if changed == 0 {
                return Err(never_released(name, version));
            }
        }
        Action::Annotate(annotation) => {
            if !release_exists(conn, name, version)? {
                return Err(never_released(name, version));
            }
            conn.prepare_cached(
                "INSERT INTO annotations (seq, name, version, type, value, time) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    logged.seq,
                    name,
                    version,
                    annotation.type_,
                    annotation.value,
                    logged.time
                ])
            })
            .during(INDEXING)?;
        }
        Action::Takedown(reason) => {
            // A second takedown keeps the first one's reason and time.
            let changed = conn
                .prepare_cached(
                    "UPDATE releases SET takedown_reason = ?3, takedown_time = ?4, \
                     takedown_seq = ?5 WHERE name = ?1 AND version = ?2 \
                     AND takedown_seq IS NULL",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![name, version, reason, logged.time, logged.seq])
                })
                .during(INDEXING)?;
            if changed == 0 && !release_exists(conn, name, version)? {
                return Err(never_released(name, version));
            }
        }
        // Key entries name a namespace or a package, not a release, and are
        // not in the package summary.
        Action::GrantKey(key) => {
            let namespace = name.split(':').next().unwrap_or(name);
            conn.prepare_cached(
                "INSERT INTO key_grants (scope, key, namespace, seq, time) \
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (scope, key) DO NOTHING",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![name, key, namespace, logged.seq, logged.time])
            })
            .during(INDEXING)?;
            return Ok(());
        }
        Action::RevokeKey(key) => {
            let changed = conn
                .prepare_cached("DELETE FROM key_grants WHERE scope = ?1 AND key = ?2")
                .and_then(|mut stmt| stmt.execute(params![name, key]))
                .during(INDEXING)?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!(
                    "{key} is not granted on {name}, so there is nothing to revoke; list the \
                     grants with GET /v1/namespaces/{{namespace}}"
                )));
            }
            return Ok(());
        }
        Action::RequireSignatures(required) => {
            conn.prepare_cached(
                "INSERT INTO namespace_policy (namespace, require_signatures) VALUES (?1, ?2) \
                 ON CONFLICT (namespace) DO UPDATE SET \
                 require_signatures = excluded.require_signatures",
            )
            .and_then(|mut stmt| stmt.execute(params![name, required]))
            .during(INDEXING)?;
            return Ok(());
        }
    }
    refresh_package(conn, name, logged)
}

/// See [`crate::store::Backend::namespace_trust`].
fn namespace_trust(conn: &Connection, namespace: &str) -> Result<SigningPolicy, StoreError> {
    const READING: &str = "reading a namespace's signing keys";
    let require_signatures = conn
        .prepare_cached("SELECT require_signatures FROM namespace_policy WHERE namespace = ?1")
        .and_then(|mut stmt| stmt.query_row([namespace], |row| row.get(0)).optional())
        .during(READING)?
        .unwrap_or(false);
    let grants = conn
        .prepare_cached(
            "SELECT key, scope, seq, time FROM key_grants WHERE namespace = ?1 ORDER BY seq",
        )
        .and_then(|mut stmt| {
            stmt.query_map([namespace], |row| {
                Ok(KeyGrant {
                    key: row.get(0)?,
                    scope: row.get(1)?,
                    seq: row.get(2)?,
                    time: row.get(3)?,
                })
            })?
            .collect()
        })
        .during(READING)?;
    Ok(SigningPolicy {
        require_signatures,
        grants,
    })
}

fn release_exists(conn: &Connection, name: &str, version: &str) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM releases WHERE name = ?1 AND version = ?2)")
        .and_then(|mut stmt| stmt.query_row([name, version], |row| row.get(0)))
        .during("updating the registry indexes")
}

fn never_released(name: &str, version: &str) -> StoreError {
    StoreError::NotFound(format!(
        "{name} {version} was never released, so it cannot be changed; check the name and \
         version"
    ))
}

/// Recomputes the summary of package `name` after `logged` changed it.
fn refresh_package(conn: &Connection, name: &str, logged: &LogEntry) -> Result<(), StoreError> {
    const INDEXING: &str = "updating the package index";
    let releases: Vec<(String, bool, bool)> = conn
        .prepare_cached(
            "SELECT version, yanked, takedown_seq IS NOT NULL FROM releases WHERE name = ?1",
        )
        .and_then(|mut stmt| {
            stmt.query_map([name], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                .collect()
        })
        .during(INDEXING)?;
    let candidates: Vec<Candidate> = releases
        .iter()
        .filter_map(|(text, yanked, taken_down)| {
            Some(Candidate {
                version: Version::parse(text).ok()?,
                yanked: *yanked,
                taken_down: *taken_down,
            })
        })
        .collect();
    let latest = depot_protocol::latest(&candidates).map(Version::to_string);
    conn.prepare_cached(
        "INSERT INTO packages (name, versions, latest, updated_at, head)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (name) DO UPDATE SET versions = excluded.versions,
             latest = excluded.latest, updated_at = excluded.updated_at, head = excluded.head",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            name,
            releases.len(),
            latest,
            logged.time,
            logged.seq
        ])
    })
    .during(INDEXING)?;
    Ok(())
}

/// Rebuilds `releases` and `packages` from the log, in one transaction; the
/// tables are created afresh, so a change of their columns takes effect.
fn rebuild_indexes(conn: &mut Connection) -> Result<(), StoreError> {
    const REBUILDING: &str = "rebuilding the registry indexes from the log";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .during(REBUILDING)?;
    tx.execute_batch(
        "DROP TABLE IF EXISTS releases; DROP TABLE IF EXISTS packages; \
         DROP TABLE IF EXISTS annotations; DROP TABLE IF EXISTS release_interfaces; \
         DROP TABLE IF EXISTS release_text; DROP TABLE IF EXISTS key_grants; \
         DROP TABLE IF EXISTS namespace_policy;",
    )
    .and_then(|()| tx.execute_batch(INDEX_SCHEMA))
    .during(REBUILDING)?;
    let mut since = 0;
    loop {
        let page = read_log(&tx, since, 1000)?;
        let Some(last) = page.last() else { break };
        since = last.seq;
        for logged in &page {
            apply(&tx, logged).map_err(|e| {
                StoreError::storage(
                    REBUILDING,
                    format!("log entry {} does not apply: {e}", logged.seq),
                )
            })?;
        }
    }
    tx.pragma_update(None, "user_version", INDEX_VERSION)
        .during(REBUILDING)?;
    tx.commit().during(REBUILDING)?;
    if since > 0 {
        tracing::info!(entries = since, "registry indexes rebuilt from the log");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OciManifest;
    use crate::store::{AnnotationContent, ReleaseContent};
    use crate::store::{ContentKind, Metadata, OciArtifact};
    use std::sync::{Arc, Barrier};

    fn open(dir: &Path) -> SqliteLog {
        let signer = NoteSigner::from_seed("depot/test", [7; 32]).unwrap();
        SqliteLog::open(&dir.join("registry.db"), signer).unwrap()
    }

    fn digest(n: u8) -> String {
        format!("sha256:{}", hex::encode([n; 32]))
    }

    fn release(name: &str, version: &str, n: u8) -> Entry {
        let metadata = Metadata {
            kind: ContentKind::Component,
            size: 100 + u64::from(n),
            digest: digest(n),
            name: Some("greet".into()),
            description: None,
            authors: None,
            licenses: Some("Apache-2.0".into()),
            source: None,
            homepage: None,
            revision: None,
            version: None,
            imports: vec!["wasi:cli/environment@0.2.0".into()],
            exports: vec!["example:greet/greeter@0.1.0".into()],
            wit: None,
            worlds: None,
            registry: None,
        };
        Entry {
            name: name.into(),
            version: version.into(),
            action: Action::Release(ReleaseContent {
                digest: digest(n),
                size: metadata.size,
                metadata,
                oci: Some(OciArtifact {
                    manifest: digest(n.wrapping_add(100)),
                    config: digest(n.wrapping_add(200)),
                }),
                signature: None,
            }),
        }
    }

    fn change(name: &str, version: &str, action: Action) -> Entry {
        Entry {
            name: name.into(),
            version: version.into(),
            action,
        }
    }

    /// Appends at the package's current head.
    fn append(log: &SqliteLog, entry: Entry) -> Result<LogEntry, StoreError> {
        let head = log.package_head(&entry.name)?;
        log.append(entry, head)
    }

    fn indexes(log: &SqliteLog) -> (Vec<PackageSummary>, Vec<Release>) {
        let packages = log.list_packages(None, 1000).unwrap();
        let releases = packages
            .iter()
            .flat_map(|p| log.list_releases(&p.name).unwrap())
            .collect();
        (packages, releases)
    }

    #[test]
    fn racing_appends_for_one_version_let_exactly_one_win() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(open(dir.path()));
        let racers = 16;
        let barrier = Arc::new(Barrier::new(racers));
        let outcomes: Vec<_> = (0..racers)
            .map(|i| {
                let (log, barrier) = (log.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let head = log.package_head("example:greet").unwrap();
                    barrier.wait();
                    log.append(release("example:greet", "1.0.0", i as u8), head)
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        let winners = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(winners, 1, "{outcomes:?}");
        for outcome in outcomes.iter().filter(|o| o.is_err()) {
            assert!(
                matches!(
                    outcome,
                    Err(StoreError::HeadMoved { current: 1 } | StoreError::VersionExists { .. })
                ),
                "{outcome:?}"
            );
        }
        assert_eq!(log.read_log(0, 100).unwrap().len(), 1);
        assert_eq!(log.list_releases("example:greet").unwrap().len(), 1);
    }

    #[test]
    fn an_append_at_a_stale_head_is_refused_with_the_current_head() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        append(&log, release("example:greet", "1.0.0", 1)).unwrap();
        let err = log
            .append(release("example:greet", "1.1.0", 2), 0)
            .unwrap_err();
        assert!(
            matches!(err, StoreError::HeadMoved { current: 1 }),
            "{err:?}"
        );
        // Another package's head is independent.
        log.append(release("example:other", "1.0.0", 3), 0).unwrap();
    }

    #[test]
    fn releasing_a_version_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        append(&log, release("example:greet", "1.0.0", 1)).unwrap();
        let err = append(&log, release("example:greet", "1.0.0", 2)).unwrap_err();
        assert!(matches!(err, StoreError::VersionExists { .. }), "{err:?}");
        assert_eq!(log.read_log(0, 100).unwrap().len(), 1);
        let kept = log.get_release("example:greet", "1.0.0").unwrap().unwrap();
        assert_eq!(kept.digest, digest(1));
    }

    #[test]
    fn a_release_is_found_up_to_build_metadata_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        append(&log, release("example:greet", "1.0.0+a", 1)).unwrap();
        append(&log, release("example:greet", "1.0.0-RC.1", 2)).unwrap();
        append(&log, release("example:greet", "1.0.10", 3)).unwrap();
        append(&log, release("example:other", "2.0.0", 4)).unwrap();
        let found = |name: &str, version: &str| {
            log.find_release(name, version)
                .unwrap()
                .map(|release| release.version)
        };
        assert_eq!(
            found("example:greet", "1.0.0+b").as_deref(),
            Some("1.0.0+a")
        );
        assert_eq!(found("example:greet", "1.0.0").as_deref(), Some("1.0.0+a"));
        assert_eq!(found("example:greet", "1.0.1"), None);
        assert_eq!(found("example:greet", "1.0.0-rc.1"), None);
        assert_eq!(
            found("example:greet", "1.0.0-RC.1+x").as_deref(),
            Some("1.0.0-RC.1")
        );
        assert_eq!(found("example:greet", "2.0.0"), None);
        assert_eq!(found("example:other", "2.0.0").as_deref(), Some("2.0.0"));
    }

    #[test]
    fn a_release_read_before_a_yank_is_read_yanked_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        append(&log, release("example:greet", "1.0.0", 1)).unwrap();
        let yanked = |log: &SqliteLog| {
            log.get_release("example:greet", "1.0.0")
                .unwrap()
                .unwrap()
                .yanked
        };
        // Read twice: the second read is served from memory.
        assert!(!yanked(&log));
        assert!(!yanked(&log));
        append(&log, change("example:greet", "1.0.0", Action::Yank)).unwrap();
        assert!(yanked(&log));
        append(&log, change("example:greet", "1.0.0", Action::Unyank)).unwrap();
        assert!(!yanked(&log));
        assert_eq!(log.get_release("example:greet", "2.0.0").unwrap(), None);
    }

    #[test]
    fn replicated_entries_keep_their_sequence_and_time_and_come_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        let logged = |seq, entry| LogEntry {
            seq,
            time: 1_000 + seq,
            entry,
        };
        log.replicate(logged(1, release("example:greet", "1.0.0", 1)))
            .unwrap();
        let gap = log.replicate(logged(3, change("example:greet", "1.0.0", Action::Yank)));
        assert!(matches!(gap, Err(StoreError::BadRequest(_))), "{gap:?}");
        let again = log.replicate(logged(1, release("example:greet", "1.0.0", 1)));
        assert!(again.is_err(), "{again:?}");
        log.replicate(logged(2, change("example:greet", "1.0.0", Action::Yank)))
            .unwrap();
        let entries = log.read_log(0, 10).unwrap();
        let kept: Vec<(u64, u64)> = entries.iter().map(|e| (e.seq, e.time)).collect();
        assert_eq!(kept, [(1, 1_001), (2, 1_002)]);
        let release = log.get_release("example:greet", "1.0.0").unwrap().unwrap();
        assert!(release.yanked);
        assert_eq!(release.published_at, 1_001);
    }

    #[test]
    fn yanking_an_unknown_version_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        let err = append(&log, change("example:greet", "1.0.0", Action::Yank)).unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
        append(&log, release("example:greet", "1.0.0", 1)).unwrap();
        let err = append(&log, change("example:greet", "2.0.0", Action::Unyank)).unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
        assert_eq!(log.read_log(0, 100).unwrap().len(), 1);
    }

    #[test]
    fn the_log_numbers_entries_from_one_without_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        append(&log, release("example:greet", "1.0.0", 1)).unwrap();
        let _ = append(&log, release("example:greet", "1.0.0", 2));
        append(&log, change("example:greet", "1.0.0", Action::Yank)).unwrap();
        let seqs: Vec<u64> = log
            .read_log(0, 100)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, [1, 2]);
        assert_eq!(log.read_log(1, 100).unwrap()[0].seq, 2);
        assert_eq!(log.read_log(0, 1).unwrap().len(), 1);
    }

    #[test]
    fn the_package_summary_follows_releases_and_yanks() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        for (version, n) in [("1.0.0", 1), ("1.10.0", 2), ("1.9.0", 3), ("2.0.0-rc.1", 4)] {
            append(&log, release("example:greet", version, n)).unwrap();
        }
        let summary = |log: &SqliteLog| log.list_packages(None, 10).unwrap().remove(0);
        assert_eq!(summary(&log).latest.as_deref(), Some("1.10.0"));
        assert_eq!(summary(&log).versions, 4);
        append(&log, change("example:greet", "1.10.0", Action::Yank)).unwrap();
        append(&log, change("example:greet", "1.9.0", Action::Yank)).unwrap();
        append(&log, change("example:greet", "1.0.0", Action::Yank)).unwrap();
        assert_eq!(summary(&log).latest.as_deref(), Some("2.0.0-rc.1"));
        let yank = append(&log, change("example:greet", "2.0.0-rc.1", Action::Yank)).unwrap();
        assert_eq!(summary(&log).latest.as_deref(), None);
        assert_eq!(summary(&log).updated_at, yank.time);
        assert_eq!(log.package_head("example:greet").unwrap(), yank.seq);
        assert!(
            log.get_release("example:greet", "2.0.0-rc.1")
                .unwrap()
                .unwrap()
                .yanked
        );
        append(&log, change("example:greet", "1.9.0", Action::Unyank)).unwrap();
        assert_eq!(summary(&log).latest.as_deref(), Some("1.9.0"));
    }

    #[test]
    fn packages_are_listed_in_name_order_in_pages() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        for (name, n) in [("b:x", 1), ("a:x", 2), ("c:x", 3)] {
            append(&log, release(name, "1.0.0", n)).unwrap();
        }
        let names =
            |page: Vec<PackageSummary>| page.into_iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(names(log.list_packages(None, 2).unwrap()), ["a:x", "b:x"]);
        assert_eq!(names(log.list_packages(Some("b:x"), 2).unwrap()), ["c:x"]);
    }

    #[test]
    fn a_release_is_found_by_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        append(&log, release("example:greet", "1.0.0", 7)).unwrap();
        append(&log, release("example:copy", "1.0.0", 7)).unwrap();
        let found = log
            .release_by_digest(&digest(7).parse().unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(found.name, "example:greet");
        assert!(
            log.release_by_digest(&digest(8).parse().unwrap())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn oci_manifests_are_kept_apart_from_the_log_and_survive_a_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        let manifest = |n: u8, subject: Option<String>| OciManifest {
            repository: "example:greet".into(),
            digest: digest(n),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            size: 100,
            artifact_type: Some("application/vnd.example.sbom".into()),
            subject,
            references: vec![digest(n + 100)],
        };
        log.put_oci_manifest(&manifest(1, None), Some("latest"))
            .unwrap();
        log.put_oci_manifest(&manifest(2, Some(digest(1))), None)
            .unwrap();
        assert_eq!(
            log.get_oci_manifest("example:greet", "latest").unwrap(),
            Some(manifest(1, None))
        );
        assert_eq!(
            log.get_oci_manifest("example:greet", &digest(2)).unwrap(),
            Some(manifest(2, Some(digest(1))))
        );
        assert!(log.oci_references("example:greet", &digest(101)).unwrap());
        assert!(!log.oci_references("example:other", &digest(101)).unwrap());
        log.link_oci_blob("example:other", &digest(101)).unwrap();
        assert!(log.oci_references("example:other", &digest(101)).unwrap());
        assert!(log.unlink_oci_blob("example:other", &digest(101)).unwrap());
        assert!(!log.unlink_oci_blob("example:other", &digest(101)).unwrap());
        assert_eq!(
            log.list_referrers("example:greet", &digest(1))
                .unwrap()
                .len(),
            1
        );
        assert!(log.read_log(0, 10).unwrap().is_empty());

        rebuild_indexes(&mut lock(&log.writer)).unwrap();
        assert_eq!(log.list_oci_tags("example:greet").unwrap(), ["latest"]);

        assert!(
            log.delete_oci_manifest("example:greet", &digest(1))
                .unwrap()
        );
        assert!(log.list_oci_tags("example:greet").unwrap().is_empty());
        assert!(log.has_oci_content("example:greet").unwrap());
        assert!(!log.delete_oci_manifest("example:greet", "latest").unwrap());
    }

    #[test]
    fn everything_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        append(&log, release("example:greet", "1.0.0", 1)).unwrap();
        append(&log, change("example:greet", "1.0.0", Action::Yank)).unwrap();
        let before = (log.read_log(0, 100).unwrap(), indexes(&log));
        drop(log);
        let log = open(dir.path());
        assert_eq!((log.read_log(0, 100).unwrap(), indexes(&log)), before);
        assert_eq!(log.package_head("example:greet").unwrap(), 2);
    }

    #[test]
    fn indexes_rebuilt_from_the_log_equal_the_incremental_ones() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path());
        for (name, version, n) in [
            ("example:greet", "1.0.0", 1),
            ("example:greet", "1.1.0", 2),
            ("example:other", "0.1.0", 3),
            ("example:greet", "2.0.0", 4),
        ] {
            append(&log, release(name, version, n)).unwrap();
        }
        append(&log, change("example:greet", "2.0.0", Action::Yank)).unwrap();
        append(&log, change("example:greet", "1.1.0", Action::Yank)).unwrap();
        append(&log, change("example:greet", "1.1.0", Action::Unyank)).unwrap();
        for value in ["1", "\"two\""] {
            let annotate = Action::Annotate(AnnotationContent {
                type_: "review".into(),
                value: value.into(),
            });
            append(&log, change("example:greet", "1.0.0", annotate)).unwrap();
        }
        let takedown = Action::Takedown("malware".into());
        append(&log, change("example:greet", "1.1.0", takedown)).unwrap();
        // Key entries name a namespace or a package and no version, and stay
        // out of the package summaries.
        for (scope, action) in [
            ("example", Action::GrantKey("ed25519:A".into())),
            ("example:greet", Action::GrantKey("ed25519:B".into())),
            ("example", Action::GrantKey("ed25519:C".into())),
            ("example", Action::RevokeKey("ed25519:A".into())),
            ("example", Action::RequireSignatures(true)),
        ] {
            append(&log, change(scope, "", action)).unwrap();
        }
        let revoke_again = change("example", "", Action::RevokeKey("ed25519:A".into()));
        assert!(matches!(
            append(&log, revoke_again),
            Err(StoreError::NotFound(_))
        ));
        let trust = log.namespace_trust("example").unwrap();
        assert!(trust.require_signatures);
        let keys: Vec<(&str, &str)> = trust
            .grants
            .iter()
            .map(|g| (g.scope.as_str(), g.key.as_str()))
            .collect();
        assert_eq!(
            keys,
            [("example:greet", "ed25519:B"), ("example", "ed25519:C")]
        );
        assert!(!log.namespace_trust("other").unwrap().require_signatures);
        let incremental = indexes(&log);
        let (packages, releases) = &incremental;
        let annotated = releases.iter().find(|r| r.version == "1.0.0").unwrap();
        let values: Vec<&str> = annotated
            .annotations
            .iter()
            .map(|a| a.value.as_str())
            .collect();
        assert_eq!(values, ["1", "\"two\""]);
        let down = releases.iter().find(|r| r.version == "1.1.0").unwrap();
        assert_eq!(down.takedown.as_ref().unwrap().reason, "malware");
        // 2.0.0 is yanked and 1.1.0 taken down: 1.0.0 is the latest.
        let greet = packages.iter().find(|p| p.name == "example:greet").unwrap();
        assert_eq!(greet.latest.as_deref(), Some("1.0.0"));
        let heads = ["example:greet", "example:other"].map(|n| log.package_head(n).unwrap());

        rebuild_indexes(&mut lock(&log.writer)).unwrap();
        assert_eq!(indexes(&log), incremental);
        assert_eq!(log.namespace_trust("example").unwrap(), trust);
        assert_eq!(
            ["example:greet", "example:other"].map(|n| log.package_head(n).unwrap()),
            heads
        );

        // An index version change at start-up rebuilds too.
        lock(&log.writer)
            .execute_batch("DELETE FROM packages; PRAGMA user_version = 0;")
            .unwrap();
        drop(log);
        assert_eq!(indexes(&open(dir.path())), incremental);
    }
}
