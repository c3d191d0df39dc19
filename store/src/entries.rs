//! The registry log itself, the `log` table: entries written and read in
//! order of their sequence numbers. What is derived from it (the indexes,
//! [`crate::log`]; the transparency log, [`crate::tlog`]) builds on this.

use crate::db::{Db, Row, params};
use crate::error::{During, StoreError};
use crate::sql;
use crate::types::{Entry, LogEntry};

/// The most entries or packages one listing returns, whatever is asked for.
pub const MAX_PAGE: u32 = 1000;

pub use depot_protocol::now_millis;

/// Writes `logged` to the log (inside the append's transaction).
pub fn insert_log(db: &Db, logged: &LogEntry) -> Result<(), StoreError> {
    const APPENDING: &str = "appending to the registry log";
    let action = serde_json::to_string(&logged.entry.action).during(APPENDING)?;
    db.execute(
        sql::INSERT_LOG,
        params![
            logged.seq,
            logged.time,
            logged.entry.name,
            logged.entry.version,
            action
        ],
        APPENDING,
    )
}

/// See `store.read-log`.
pub fn read_log(db: &Db, since: u64, limit: u32) -> Result<Vec<LogEntry>, StoreError> {
    db.rows(
        sql::READ_LOG,
        params![since, limit.min(MAX_PAGE)],
        "reading the registry log",
    )?
    .iter()
    .map(log_entry_from_row)
    .collect()
}

/// See `store.package-log`.
pub fn package_log(db: &Db, name: &str, until: u64) -> Result<Vec<LogEntry>, StoreError> {
    db.rows(
        sql::PACKAGE_LOG,
        params![name, until],
        "reading a package's registry log",
    )?
    .iter()
    .map(log_entry_from_row)
    .collect()
}

/// Whether the log has an entry after `since`.
pub fn has_entry_after(db: &Db, since: u64) -> Result<bool, StoreError> {
    db.one(
        sql::HAS_ENTRY_AFTER,
        params![since],
        "reading the registry log",
    )?
    .bool(0)
}

/// A log entry read from a `log` row (`seq, time, name, version, action`).
pub fn log_entry_from_row(row: &Row) -> Result<LogEntry, StoreError> {
    Ok(LogEntry {
        seq: row.u64(0)?,
        time: row.u64(1)?,
        entry: Entry {
            name: row.text(2)?,
            version: row.text(3)?,
            action: row.json(4)?,
        },
    })
}
