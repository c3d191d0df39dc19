//! The embedded SQL driver: a SQLite database file in the process
//! (rusqlite, with its bundled SQLite, which is also what Spin's SQLite is).
//! Every connection is in WAL mode with `synchronous = FULL`, so a commit is
//! on disk before the call that made it returns.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::{Value as SqlValue, ValueRef};

use crate::db::{OPENING, Sql, Value};
use crate::error::{During, StoreError};

/// How long a statement waits for another connection's write lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// One connection to a SQLite database file.
#[derive(Debug)]
pub struct Sqlite(rusqlite::Connection);

impl Sqlite {
    /// Opens (creating if needed) the database at `path`. A `reader` refuses
    /// to write, so a bug cannot write outside the writer's transactions.
    pub fn open(path: &Path, reader: bool) -> Result<Self, StoreError> {
        let conn = rusqlite::Connection::open(path).during(OPENING)?;
        conn.busy_timeout(BUSY_TIMEOUT).during(OPENING)?;
        wal(&conn).during(OPENING)?;
        // FULL: a commit is on disk before `append` returns.
        conn.pragma_update(None, "synchronous", "FULL")
            .during(OPENING)?;
        if reader {
            conn.pragma_update(None, "query_only", true)
                .during(OPENING)?;
        }
        conn.set_prepared_statement_cache_capacity(128);
        Ok(Self(conn))
    }

    /// A connection as Spin's SQLite gives one: rusqlite's default busy
    /// timeout (5 s), the file's journal mode as it is.
    #[cfg(test)]
    pub(crate) fn bare(path: &Path) -> Self {
        Self(rusqlite::Connection::open(path).unwrap())
    }
}

/// Puts the database in WAL mode (kept in the file, so a no-op after the
/// first time). Connections opening a new database together may find the
/// switch refused at once as busy, without the busy timeout's wait (SQLite
/// does not wait where waiting could deadlock): retried here within that
/// timeout.
fn wal(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let started = std::time::Instant::now();
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            done => return done,
        }
    }
}

impl Sql for Sqlite {
    fn run(&self, statement: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, String> {
        let mut stmt = self
            .0
            .prepare_cached(statement)
            .map_err(|e| e.to_string())?;
        let columns = stmt.column_count();
        let params = params.iter().map(|value| match value {
            Value::Integer(n) => SqlValue::Integer(*n),
            Value::Real(x) => SqlValue::Real(*x),
            Value::Text(text) => SqlValue::Text(text.clone()),
            Value::Blob(bytes) => SqlValue::Blob(bytes.clone()),
            Value::Null => SqlValue::Null,
        });
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params))
            .map_err(|e| e.to_string())?;
        let mut all = Vec::new();
        while let Some(row) = rows.next().map_err(|e| e.to_string())? {
            let values = (0..columns)
                .map(|i| {
                    Ok(match row.get_ref(i)? {
                        ValueRef::Null => Value::Null,
                        ValueRef::Integer(n) => Value::Integer(n),
                        ValueRef::Real(x) => Value::Real(x),
                        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                    })
                })
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(|e| e.to_string())?;
            all.push(values);
        }
        Ok(all)
    }
}
