//! `fermyon:spin/sqlite@2.0.0` on a local SQLite file, as Spin's own
//! `sqlite-inproc` serves it: a connection per `open`, one statement per
//! `execute`. Connections a request has dropped are kept for the next one
//! (with the statements they have prepared), so a request does not pay for
//! opening the file and parsing every statement again.

use std::sync::{Arc, Mutex, PoisonError};

use depot_store::rusqlite_driver::BUSY_TIMEOUT;
use rusqlite::types::{Value as SqlValue, ValueRef};
use wasmtime::component::Resource;

use super::wit_sqlite::{Error, Host, HostConnection, QueryResult, RowResult, Value};
use super::{LABEL, SpinView};

/// Connections kept for the next request.
const IDLE_CONNECTIONS: usize = 32;

/// An open connection to the `default` database.
pub struct SqliteConnection {
    /// Always there until dropped.
    connection: Option<rusqlite::Connection>,
    /// Where it goes back when the guest drops it or the request's instance
    /// goes (a guest keeps its connection for its whole life).
    idle: Idle,
}

/// Connections kept for later requests.
pub type Idle = Arc<Mutex<Vec<rusqlite::Connection>>>;

impl SqliteConnection {
    fn connection(&self) -> &rusqlite::Connection {
        self.connection
            .as_ref()
            .expect("a connection is there until dropped")
    }
}

impl Drop for SqliteConnection {
    fn drop(&mut self) {
        // One a request left inside a transaction (it trapped between BEGIN
        // and COMMIT) is closed, which rolls the transaction back.
        if let Some(connection) = self.connection.take()
            && connection.is_autocommit()
        {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < IDLE_CONNECTIONS {
                idle.push(connection);
            }
        }
    }
}

impl std::fmt::Debug for SqliteConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteConnection").finish_non_exhaustive()
    }
}

/// Spin's error for a failure of the database.
fn io(e: rusqlite::Error) -> Error {
    Error::Io(e.to_string())
}

fn to_sql(value: Value) -> SqlValue {
    match value {
        Value::Integer(i) => SqlValue::Integer(i),
        Value::Real(r) => SqlValue::Real(r),
        Value::Text(t) => SqlValue::Text(t),
        Value::Blob(b) => SqlValue::Blob(b),
        Value::Null => SqlValue::Null,
    }
}

fn from_sql(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(r) => Value::Real(r),
        // Checked whole first: text is UTF-8 but for a rare bad byte, and the
        // whole check reads ASCII a word at a time where the lossy scan goes
        // byte by byte (it showed in profiles of JSON-heavy reads).
        ValueRef::Text(t) => Value::Text(match std::str::from_utf8(t) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(t).into_owned(),
        }),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

/// Whether `statement` may wait for another connection's write lock: it
/// writes, or it is transaction control (`BEGIN IMMEDIATE` takes the lock,
/// though SQLite counts it as read-only). A read never waits in WAL mode,
/// nor does a `PRAGMA` that only sets the connection's own behaviour.
fn may_wait(statement: &rusqlite::Statement<'_>, text: &str) -> bool {
    const CONTROL: [&str; 6] = ["BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"];
    let verb = text.split_whitespace().next().unwrap_or_default();
    !statement.readonly() || CONTROL.iter().any(|c| verb.eq_ignore_ascii_case(c))
}

/// Runs one statement and collects its rows: where it is when it cannot wait
/// for a lock, else off the async workers (`block_in_place`). A statement
/// may wait (up to the busy timeout) for the write lock that another
/// request's transaction holds, and that request's handlers may be parked
/// between two statements (every epoch tick yields). Waiting on an async
/// worker could take every worker and leave the holder no thread to finish
/// on; waiting off the workers lets it commit. Handing the worker over costs
/// more than most reads, so reads stay where they are.
fn execute(
    connection: &rusqlite::Connection,
    text: &str,
    parameters: Vec<Value>,
) -> rusqlite::Result<QueryResult> {
    let mut statement = connection.prepare_cached(text)?;
    if may_wait(&statement, text) {
        tokio::task::block_in_place(|| collect(&mut statement, parameters))
    } else {
        collect(&mut statement, parameters)
    }
}

/// Runs the prepared `statement` and collects its rows.
fn collect(
    statement: &mut rusqlite::Statement<'_>,
    parameters: Vec<Value>,
) -> rusqlite::Result<QueryResult> {
    let columns: Vec<String> = statement
        .column_names()
        .into_iter()
        .map(str::to_string)
        .collect();
    let width = columns.len();
    let rows = statement
        .query_map(
            rusqlite::params_from_iter(parameters.into_iter().map(to_sql)),
            |row| {
                let values = (0..width)
                    .map(|i| row.get_ref(i).map(from_sql))
                    .collect::<rusqlite::Result<_>>()?;
                Ok(RowResult { values })
            },
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(QueryResult { columns, rows })
}

impl Host for SpinView<'_> {}

impl HostConnection for SpinView<'_> {
    fn open(
        &mut self,
        database: String,
    ) -> wasmtime::Result<Result<Resource<SqliteConnection>, Error>> {
        if database != LABEL {
            // As Spin answers a database the manifest does not grant.
            return Ok(Err(Error::AccessDenied));
        }
        let idle = self
            .ctx
            .idle_sqlite
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let connection = match idle {
            Some(connection) => connection,
            // A mirror's native writer shares the file: wait for its lock, as
            // the native store's connections do, rather than fail at once.
            None => match rusqlite::Connection::open(&self.ctx.sqlite)
                .and_then(|c| c.busy_timeout(BUSY_TIMEOUT).map(|()| c))
            {
                Ok(connection) => connection,
                Err(e) => return Ok(Err(io(e))),
            },
        };
        Ok(Ok(self.table.push(SqliteConnection {
            connection: Some(connection),
            idle: self.ctx.idle_sqlite.clone(),
        })?))
    }

    fn execute(
        &mut self,
        connection: Resource<SqliteConnection>,
        statement: String,
        parameters: Vec<Value>,
    ) -> wasmtime::Result<Result<QueryResult, Error>> {
        let connection = self.table.get(&connection)?.connection();
        Ok(execute(connection, &statement, parameters).map_err(io))
    }

    fn drop(&mut self, connection: Resource<SqliteConnection>) -> wasmtime::Result<()> {
        // Back to the idle connections (its `Drop`).
        self.table.delete(connection)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_writes_and_transaction_control_may_wait_for_the_lock() {
        let connection = rusqlite::Connection::open_in_memory().expect("in-memory database");
        connection
            .execute_batch("CREATE TABLE t (x INTEGER)")
            .expect("table");
        let waits = |text: &str| may_wait(&connection.prepare(text).expect(text), text);
        for read in [
            "SELECT 1",
            "  select x FROM t",
            "WITH q AS (SELECT x FROM t) SELECT * FROM q",
            "PRAGMA busy_timeout = 30000",
            "SELECT user_version FROM pragma_user_version",
        ] {
            assert!(!waits(read), "{read}");
        }
        for write in [
            "BEGIN IMMEDIATE",
            "begin",
            "COMMIT",
            "ROLLBACK",
            "INSERT INTO t VALUES (1)",
            "WITH q AS (SELECT 1) DELETE FROM t",
            "PRAGMA user_version = 3",
            "CREATE TABLE u (y INTEGER)",
        ] {
            assert!(waits(write), "{write}");
        }
    }
}
