//! Unpublished releases (the two-phase publish) in the registry's SQLite
//! database, in a `pending_releases` table beside the log: the registry's
//! own bookkeeping, not part of the log, one JSON record per name and
//! version. Its own connection, as these writes are rare.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::sqlite::{During, connect, lock};
use crate::store::PendingRelease;
use crate::store::StoreError;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS pending_releases (
        name    TEXT NOT NULL,
        version TEXT NOT NULL,
        record  TEXT NOT NULL,
        PRIMARY KEY (name, version)
    );
";

/// The unpublished releases of one registry database.
#[derive(Debug)]
pub struct Pending {
    conn: Mutex<Connection>,
}

impl Pending {
    /// Opens the unpublished releases of the database at `path`, creating the table if needed.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = connect(path)?;
        conn.execute_batch(SCHEMA)
            .during("opening the unpublished releases")?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        lock(&self.conn)
    }

    /// See [`crate::store::Backend::put_pending`].
    pub fn put(&self, release: &PendingRelease) -> Result<(), StoreError> {
        const SAVING: &str = "saving an unpublished release";
        let record = serde_json::to_string(release).during(SAVING)?;
        self.conn()
            .execute(
                "INSERT INTO pending_releases (name, version, record) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (name, version) DO UPDATE SET record = excluded.record",
                params![release.name, release.version, record],
            )
            .during(SAVING)?;
        Ok(())
    }

    /// See [`crate::store::Backend::get_pending`].
    pub fn get(&self, name: &str, version: &str) -> Result<Option<PendingRelease>, StoreError> {
        const READING: &str = "reading an unpublished release";
        let record: Option<String> = self
            .conn()
            .prepare_cached("SELECT record FROM pending_releases WHERE name = ?1 AND version = ?2")
            .and_then(|mut stmt| stmt.query_row([name, version], |row| row.get(0)).optional())
            .during(READING)?;
        record
            .map(|record| serde_json::from_str(&record))
            .transpose()
            .during(READING)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ContentKind, PendingStatus};

    #[test]
    fn an_unpublished_release_is_replaced_and_survives_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.db");
        let mut release = PendingRelease {
            name: "a:b".into(),
            version: "1.0.0".into(),
            manifest: "{}".into(),
            content_digest: format!("sha256:{}", "0".repeat(64)),
            kind: ContentKind::Component,
            creator: "t1".into(),
            status: PendingStatus::Pending,
            reason: None,
            created: 1,
            expires: 2,
            content_sources: vec!["https://example.com/a.wasm".into()],
        };
        Pending::open(&path).unwrap().put(&release).unwrap();
        release.status = PendingStatus::Rejected;
        release.reason = Some("bad".into());
        Pending::open(&path).unwrap().put(&release).unwrap();
        let pending = Pending::open(&path).unwrap();
        assert_eq!(pending.get("a:b", "1.0.0").unwrap(), Some(release));
        assert_eq!(pending.get("a:b", "1.0.1").unwrap(), None);
    }
}
