//! The SQL driver: one call, run one statement with parameters and get its
//! rows (all that Spin's `fermyon:spin/sqlite@2.0.0` has). Typed rows,
//! transactions and the schema are built on that, once for every driver.

use std::cell::{Cell, OnceCell};

use depot_protocol::tlog::NoteSigner;
use serde::de::DeserializeOwned;

use crate::error::{During, StoreError};
use crate::sql;

/// How long a statement waits for another connection's lock before failing.
const BUSY_TIMEOUT: &str = "PRAGMA busy_timeout = 30000";

/// One database connection: runs one statement, returning its rows.
///
/// Every statement of a transaction must go through the same connection
/// (`BEGIN` ... `COMMIT` are statements like the others).
pub trait Sql: Send {
    /// Runs `statement` with `params` bound to `?1`, `?2`, ... (a driver whose
    /// engine numbers them otherwise renames them).
    fn run(&self, statement: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, String>;

    /// The SQL the engine speaks: the store picks the few statements that
    /// differ by it.
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
}

/// The SQL dialects the store speaks. Most statements are the same text in
/// both; `crate::sql` gives the others per dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: the embedded store and Spin.
    Sqlite,
    /// PostgreSQL: many instances on one database. A boolean result reads
    /// as an integer (0 or 1), as in SQLite.
    Postgres,
}

/// A parameter or column value, in SQLite's types.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A 64-bit integer (booleans are 0 and 1).
    Integer(i64),
    /// A double.
    Real(f64),
    /// UTF-8 text (JSON documents too).
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
    /// SQL `NULL`.
    Null,
}

/// How a driver on Spin's `spin:postgres@4.0.0` sends a statement, which
/// Spin (4.0.2 and since) never answers when a `query` returns no rows: its
/// host waits for the columns of a first row that never comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpinStatement {
    /// No rows come back (a transaction's `BEGIN`, an `INSERT`): `execute`.
    Execute(String),
    /// `query` the statement as wrapped here, which always returns a row; the
    /// rows that come back go through [`spin_rows`].
    Query(String),
}

/// The first column of every row [`SpinStatement::Query`] returns: `1` for
/// the statement's own rows, `NULL` for the one row standing in for none.
const SPIN_PRESENT: &str = "depot_present";

/// How to send `statement` (placeholders already PostgreSQL's) through
/// Spin's `spin:postgres`: statements that may return rows (`SELECT`,
/// anything with `RETURNING`) wrapped so that they always return one.
pub fn spin_statement(statement: &str) -> SpinStatement {
    let head = statement.trim_start().to_ascii_uppercase();
    let rows = head.starts_with("SELECT") || head.contains(" RETURNING ");
    if rows {
        // One outer row joined laterally to the statement's: its rows in
        // its order, or one row of NULLs when it has none. A data-changing
        // statement may stand in a top-level `WITH`.
        SpinStatement::Query(format!(
            "WITH depot_q AS ({statement}) SELECT depot_r.* FROM (SELECT 1) AS depot_one \
             LEFT JOIN LATERAL (SELECT 1 AS {SPIN_PRESENT}, depot_q.* FROM depot_q) AS depot_r \
             ON true"
        ))
    } else {
        SpinStatement::Execute(statement.to_string())
    }
}

/// The statement's own rows from what a [`SpinStatement::Query`] returned:
/// the stand-in row dropped, the marker column taken off.
pub fn spin_rows(rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    rows.into_iter()
        .filter_map(|mut row| match row.first() {
            Some(Value::Null) | None => None,
            Some(_) => {
                row.remove(0);
                Some(row)
            }
        })
        .collect()
}

/// `statement` with the store's `?N` placeholders as PostgreSQL's `$N`. The
/// store's statements have no `?` elsewhere (no string holds one).
///
/// With `typed`, the statement's parameters, each placeholder is also cast to
/// its parameter's type (`$N::int8`, `::float8`, `::text`, `::bytea`; a
/// `NULL` takes whatever type its place needs), for a driver that binds a
/// parameter only as its own type rather than as the type PostgreSQL infers
/// for its place: Spin's `spin:postgres` binds an integer as `int8` alone.
pub fn postgres_placeholders(statement: &str, typed: Option<&[Value]>) -> String {
    let mut out = String::with_capacity(statement.len() + 8 * typed.map_or(0, <[_]>::len));
    let mut rest = statement;
    while let Some(at) = rest.find('?') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            out.push('?');
            rest = after;
            continue;
        }
        out.push('$');
        out.push_str(&after[..digits]);
        let cast = typed
            .zip(after[..digits].parse::<usize>().ok())
            .and_then(|(params, n)| params.get(n.checked_sub(1)?))
            .and_then(|value| match value {
                Value::Integer(_) => Some("::int8"),
                Value::Real(_) => Some("::float8"),
                Value::Text(_) => Some("::text"),
                Value::Blob(_) => Some("::bytea"),
                Value::Null => None,
            });
        out.push_str(cast.unwrap_or_default());
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

/// A statement parameter.
pub trait Param {
    /// The parameter as a [`Value`].
    fn value(&self) -> Value;
}

impl Param for str {
    fn value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl Param for String {
    fn value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl Param for [u8] {
    fn value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl Param for u64 {
    fn value(&self) -> Value {
        // SQLite integers are i64; no size or sequence number comes near.
        Value::Integer(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl Param for u8 {
    fn value(&self) -> Value {
        Value::Integer((*self).into())
    }
}

impl Param for u32 {
    fn value(&self) -> Value {
        Value::Integer((*self).into())
    }
}

impl Param for usize {
    fn value(&self) -> Value {
        Value::Integer(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl Param for i64 {
    fn value(&self) -> Value {
        Value::Integer(*self)
    }
}

impl Param for bool {
    fn value(&self) -> Value {
        Value::Integer((*self).into())
    }
}

impl<T: Param + ?Sized> Param for &T {
    fn value(&self) -> Value {
        (**self).value()
    }
}

impl<T: Param> Param for Option<T> {
    fn value(&self) -> Value {
        self.as_ref().map_or(Value::Null, Param::value)
    }
}

impl Param for Value {
    fn value(&self) -> Value {
        self.clone()
    }
}

/// The parameters of a statement, in order.
macro_rules! params {
    ($($param:expr),* $(,)?) => {
        &[$($crate::db::Param::value(&$param)),*]
    };
}
pub(crate) use params;

/// One row of a result, read column by column.
#[derive(Debug)]
pub struct Row {
    values: Vec<Value>,
    action: &'static str,
}

impl Row {
    fn column(&self, index: usize) -> Result<&Value, StoreError> {
        self.values
            .get(index)
            .ok_or_else(|| StoreError::storage(self.action, format!("no column {index}")))
    }

    fn mismatch(&self, index: usize, wanted: &str) -> StoreError {
        StoreError::storage(
            self.action,
            format!(
                "column {index} is not {wanted}: {:?}",
                self.values.get(index)
            ),
        )
    }

    /// Column `index` as text.
    pub fn text(&self, index: usize) -> Result<String, StoreError> {
        match self.column(index)? {
            Value::Text(text) => Ok(text.clone()),
            _ => Err(self.mismatch(index, "text")),
        }
    }

    /// Column `index` as text, or none when it is `NULL`.
    pub fn opt_text(&self, index: usize) -> Result<Option<String>, StoreError> {
        match self.column(index)? {
            Value::Null => Ok(None),
            _ => self.text(index).map(Some),
        }
    }

    /// Column `index` as an integer.
    pub fn i64(&self, index: usize) -> Result<i64, StoreError> {
        match self.column(index)? {
            Value::Integer(n) => Ok(*n),
            _ => Err(self.mismatch(index, "an integer")),
        }
    }

    /// Column `index` as a count (an integer that is not negative).
    pub fn u64(&self, index: usize) -> Result<u64, StoreError> {
        let n = self.i64(index)?;
        u64::try_from(n).map_err(|_| self.mismatch(index, "a count"))
    }

    /// Column `index` as a count, or none when it is `NULL`.
    pub fn opt_u64(&self, index: usize) -> Result<Option<u64>, StoreError> {
        match self.column(index)? {
            Value::Null => Ok(None),
            _ => self.u64(index).map(Some),
        }
    }

    /// Column `index` as a count that fits 32 bits.
    pub fn u32(&self, index: usize) -> Result<u32, StoreError> {
        let n = self.i64(index)?;
        u32::try_from(n).map_err(|_| self.mismatch(index, "a small count"))
    }

    /// Column `index` as a boolean (an integer, 0 being false).
    pub fn bool(&self, index: usize) -> Result<bool, StoreError> {
        Ok(self.i64(index)? != 0)
    }

    /// Column `index` as bytes (a blob, or text's UTF-8).
    pub fn bytes(&self, index: usize) -> Result<Vec<u8>, StoreError> {
        match self.column(index)? {
            Value::Blob(bytes) => Ok(bytes.clone()),
            Value::Text(text) => Ok(text.as_bytes().to_vec()),
            _ => Err(self.mismatch(index, "a blob")),
        }
    }

    /// A JSON column.
    pub fn json<T: DeserializeOwned>(&self, index: usize) -> Result<T, StoreError> {
        serde_json::from_str(&self.text(index)?).during(self.action)
    }
}

/// Where random bytes come from: `n` of them.
pub type Random = fn(n: usize) -> Vec<u8>;

/// The registry database of one instance.
pub struct Db {
    sql: Box<dyn Sql>,
    /// Whether the FTS5 text index exists (a SQLite without FTS5 has none).
    text_index: Cell<bool>,
    /// For checkpoint keys and token secrets: WASI's random in the component.
    random: Random,
    /// The key that signs checkpoints, read once from the database.
    signer: OnceCell<NoteSigner>,
    /// How a database opened lazily ([`crate::open_lazily`]) is set up, until
    /// its first statement has checked whether it needs to be.
    set_up: Cell<Option<SetUp>>,
    /// Whether SQLite's busy timeout is still to be set on the connection
    /// ([`Db::run_sql`]).
    busy_timeout_pending: Cell<bool>,
}

/// Sets a database up (migrations, indexes, the transparency log): what
/// [`crate::open`] does to a database that is not up to date.
pub type SetUp = fn(&Db) -> Result<(), StoreError>;

/// The columns of [`sql::READY_STATE`].
const READY_COLUMNS: usize = 4;

/// Whether a row of [`sql::READY_STATE`] says the database is up to date:
/// then whether it has the text index.
fn ready(row: &Row) -> Option<bool> {
    (row.i64(0).ok() == Some(crate::migrate::LATEST)
        && row.i64(1).ok() == Some(sql::INDEX_VERSION)
        && row.bool(3).ok() == Some(true))
    .then(|| row.bool(2).ok())
    .flatten()
}

/// Whether a SQLite error is `SQLITE_BUSY`: another connection holds the
/// lock the statement needs.
fn is_locked(error: &str) -> bool {
    error.contains("database is locked")
}

/// Whether `statement` is a `SELECT`.
fn is_select(statement: &str) -> bool {
    statement
        .trim_start()
        .get(..6)
        .is_some_and(|verb| verb.eq_ignore_ascii_case("SELECT"))
}

/// The first statement's own rows from what it returned with the readiness
/// columns: those taken off, then on PostgreSQL (joined to the readiness
/// row) the marker and the one row of NULLs that stands for none, as
/// [`spin_rows`] takes them.
fn own_rows(dialect: Dialect, rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    let rows = rows
        .into_iter()
        .map(|mut row| row.split_off(READY_COLUMNS.min(row.len())))
        .collect();
    match dialect {
        Dialect::Postgres => spin_rows(rows),
        Dialect::Sqlite => rows,
    }
}

/// What opening the database is called in its errors.
pub(crate) const OPENING: &str = "opening the registry database";

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("text_index", &self.text_index.get())
            .finish_non_exhaustive()
    }
}

impl Db {
    /// The database behind `sql`, as it is: [`crate::open`] also brings its
    /// schema up to date. Keys and token secrets are drawn from `random`.
    pub fn new(sql: Box<dyn Sql>, random: Random) -> Self {
        // Concurrent publishes queue on the write lock (`BEGIN IMMEDIATE`); a
        // local Spin database waits 5 s for it by default, too short for a
        // burst of them on a busy machine.
        let busy_timeout_pending = Cell::new(sql.dialect() == Dialect::Sqlite);
        Self {
            sql,
            text_index: Cell::new(false),
            random,
            signer: OnceCell::new(),
            set_up: Cell::new(None),
            busy_timeout_pending,
        }
    }

    /// Runs one statement on the connection. On SQLite the busy timeout is
    /// set first (one statement more) before the first statement that may
    /// take a lock, anything but a `SELECT`, or once a `SELECT` found the
    /// database locked, which then runs again and waits: a Spin request runs
    /// on a connection of its own, most requests only read, and a read waits
    /// only for a writer's commit in rollback-journal mode. A backend without
    /// the pragma (libSQL over the network) keeps its own behaviour.
    fn run_sql(&self, statement: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, String> {
        if self.busy_timeout_pending.get() {
            if !is_select(statement) {
                self.set_busy_timeout();
            } else {
                match self.sql.run(statement, params) {
                    Err(e) if is_locked(&e) => self.set_busy_timeout(),
                    done => return done,
                }
            }
        }
        self.sql.run(statement, params)
    }

    fn set_busy_timeout(&self) {
        self.busy_timeout_pending.set(false);
        drop(self.sql.run(BUSY_TIMEOUT, &[]));
    }

    /// Defers the check that the database is set up and up to date to its
    /// first statement, and `set_up` to when that check fails
    /// ([`crate::open_lazily`]).
    pub(crate) fn defer_set_up(&self, set_up: SetUp) {
        self.set_up.set(Some(set_up));
    }

    /// Finishes a lazy open before `first` (the first statement, with its
    /// parameters) runs: reads whether the database is up to date and sets it
    /// up if not. A first `SELECT` carries that read with it, saving a
    /// statement (on PostgreSQL, a round trip): its rows then come back.
    fn finish_opening(
        &self,
        set_up: SetUp,
        first: Option<(&str, &[Value])>,
    ) -> Result<Option<Vec<Vec<Value>>>, StoreError> {
        let select = first.filter(|(statement, _)| is_select(statement));
        if let Some((statement, params)) = select {
            let together = match self.dialect() {
                // The readiness row joined to the statement's rows, marked so
                // that none (one row of NULLs) tells from a row of NULLs.
                Dialect::Postgres => format!(
                    "SELECT depot_ready.*, depot_rows.* FROM ({ready}) AS depot_ready \
                     LEFT JOIN LATERAL (SELECT 1 AS depot_first, depot_s.* FROM ({statement}) \
                     AS depot_s) AS depot_rows ON true",
                    ready = sql::READY_STATE.postgres
                ),
                // SQLite has no LATERAL, and drops a subquery's ORDER BY
                // under a join: the readiness columns (computed once) go in
                // front of each of the statement's own rows instead, so none
                // come back when it has none.
                Dialect::Sqlite => format!(
                    "SELECT {ready}, depot_s.* FROM ({statement}) AS depot_s",
                    ready = sql::READY_COLUMNS_SQLITE
                ),
            };
            match self.run_sql(&together, params) {
                Ok(rows) => {
                    let readiness = rows.first().and_then(|row| {
                        ready(&Row {
                            values: row.get(..READY_COLUMNS)?.to_vec(),
                            action: OPENING,
                        })
                    });
                    if let Some(text_index) = readiness {
                        self.set_text_index(text_index);
                        return Ok(Some(own_rows(self.dialect(), rows)));
                    }
                    // No rows to read it from (SQLite): read it alone, then
                    // run the statement again on a database known to be up
                    // to date.
                    if rows.is_empty() && self.ready_alone() {
                        return Ok(None);
                    }
                }
                // No tables yet, or the statement's own failure: which one,
                // the readiness alone says.
                Err(_) if self.ready_alone() => return Ok(None),
                Err(_) => {}
            }
        } else if self.ready_alone() {
            return Ok(None);
        }
        set_up(self)?;
        Ok(None)
    }

    /// Whether the database is up to date, read alone (its text index noted
    /// when it is).
    pub(crate) fn ready_alone(&self) -> bool {
        let readiness = self
            .one(self.pick(&sql::READY_STATE), &[], OPENING)
            .ok()
            .and_then(|row| ready(&row));
        if let Some(text_index) = readiness {
            self.set_text_index(text_index);
        }
        readiness.is_some()
    }

    /// The SQL this database speaks.
    pub fn dialect(&self) -> Dialect {
        self.sql.dialect()
    }

    /// `statement` in this database's dialect.
    pub fn pick(&self, statement: &sql::Dialects) -> &'static str {
        match self.dialect() {
            Dialect::Sqlite => statement.sqlite,
            Dialect::Postgres => statement.postgres,
        }
    }

    /// The index version, whether the text index exists and whether the
    /// transparency log is set up.
    pub fn open_state(&self) -> Result<(i64, bool, bool), StoreError> {
        let row = self.one(self.pick(&sql::OPEN_STATE), &[], OPENING)?;
        Ok((row.i64(0)?, row.bool(1)?, row.bool(2)?))
    }

    /// Runs the schema statement `ddl` (written in SQLite's types), in this
    /// database's types.
    pub fn create(&self, ddl: &str, action: &'static str) -> Result<(), StoreError> {
        match self.dialect() {
            Dialect::Sqlite => self.execute(ddl, &[], action),
            Dialect::Postgres => self.execute(&sql::postgres::ddl(ddl), &[], action),
        }
    }

    /// `n` random bytes.
    pub fn random(&self, n: usize) -> Vec<u8> {
        (self.random)(n)
    }

    /// Where the key that signs checkpoints is kept once read
    /// ([`crate::tlog::signer`]).
    pub fn signer_cell(&self) -> &OnceCell<NoteSigner> {
        &self.signer
    }

    /// Whether text search has the FTS5 index.
    pub fn text_index(&self) -> bool {
        self.text_index.get()
    }

    /// Records whether the FTS5 text index exists.
    pub fn set_text_index(&self, exists: bool) {
        self.text_index.set(exists);
    }

    /// Runs `statement`, returning its rows.
    pub fn rows(
        &self,
        statement: &str,
        params: &[Value],
        action: &'static str,
    ) -> Result<Vec<Row>, StoreError> {
        let first = match self.set_up.take() {
            Some(set_up) => self.finish_opening(set_up, Some((statement, params)))?,
            None => None,
        };
        let rows = match first {
            Some(rows) => rows,
            None => self.run_sql(statement, params).during(action)?,
        };
        Ok(rows
            .into_iter()
            .map(|values| Row { values, action })
            .collect())
    }

    /// Runs `statement`, which returns at most one row.
    pub fn optional(
        &self,
        statement: &str,
        params: &[Value],
        action: &'static str,
    ) -> Result<Option<Row>, StoreError> {
        Ok(self.rows(statement, params, action)?.into_iter().next())
    }

    /// Runs `statement`, which returns exactly one row.
    pub fn one(
        &self,
        statement: &str,
        params: &[Value],
        action: &'static str,
    ) -> Result<Row, StoreError> {
        self.optional(statement, params, action)?
            .ok_or_else(|| StoreError::storage(action, "the statement returned no row"))
    }

    /// Runs `statement`, ignoring any rows.
    pub fn execute(
        &self,
        statement: &str,
        params: &[Value],
        action: &'static str,
    ) -> Result<(), StoreError> {
        if let Some(set_up) = self.set_up.take() {
            self.finish_opening(set_up, None)?;
        }
        self.run_sql(statement, params).during(action).map(drop)
    }

    /// Runs `body` in one transaction: committed when it returns `Ok`, rolled
    /// back when it returns an error (or the commit fails), so nothing of a
    /// failed change is ever visible.
    ///
    /// The transaction takes the database's write lock at once (SQLite's
    /// `BEGIN IMMEDIATE`; on PostgreSQL one advisory lock, held until the
    /// transaction ends), so write transactions of concurrent instances
    /// (each with its own connection) run one after the other, and what
    /// `body` reads stays true until it commits.
    pub fn transaction<T>(
        &self,
        action: &'static str,
        body: impl FnOnce(&Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match self.dialect() {
            Dialect::Sqlite => self.execute("BEGIN IMMEDIATE", &[], action)?,
            Dialect::Postgres => {
                self.execute("BEGIN", &[], action)?;
                if let Err(e) = self.execute(sql::postgres::WRITE_LOCK, &[], action) {
                    let _ = self.execute("ROLLBACK", &[], action);
                    return Err(e);
                }
            }
        }
        let result = body(self).and_then(|value| {
            self.execute("COMMIT", &[], action)?;
            Ok(value)
        });
        if result.is_err()
            && let Err(e) = self.execute("ROLLBACK", &[], action)
        {
            // A failed COMMIT may have ended the transaction already; any
            // other failure leaves it to end with the connection.
            eprintln!("depot store: rollback after a failure: {e:?}");
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_gets_rows_only_from_statements_that_always_return_one() {
        for execute in [
            "BEGIN",
            "COMMIT",
            "INSERT INTO t VALUES ($1)",
            "UPDATE t SET a = 1",
        ] {
            assert_eq!(
                spin_statement(execute),
                SpinStatement::Execute(execute.to_string())
            );
        }
        for query in [
            "SELECT a FROM t WHERE b = $1",
            "  select count(*) from t",
            "DELETE FROM t WHERE a = $1 RETURNING a",
        ] {
            let SpinStatement::Query(wrapped) = spin_statement(query) else {
                panic!("{query} is not a query");
            };
            assert!(wrapped.contains(query), "{wrapped}");
            assert!(wrapped.contains("LEFT JOIN LATERAL"), "{wrapped}");
        }
        // The stand-in row for none is dropped; the marker column comes off.
        assert!(spin_rows(vec![vec![Value::Null, Value::Null]]).is_empty());
        assert_eq!(
            spin_rows(vec![
                vec![Value::Integer(1), Value::Text("a".into())],
                vec![Value::Integer(1), Value::Null],
            ]),
            vec![vec![Value::Text("a".into())], vec![Value::Null]]
        );
    }

    #[test]
    fn placeholders_are_numbered_as_postgresql_numbers_them() {
        assert_eq!(
            postgres_placeholders("SELECT a FROM t WHERE b = ?1 AND c = ?12 LIMIT ?2", None),
            "SELECT a FROM t WHERE b = $1 AND c = $12 LIMIT $2"
        );
        assert_eq!(
            postgres_placeholders("SELECT '?', ?", None),
            "SELECT '?', ?"
        );
    }

    #[test]
    fn typed_placeholders_are_cast_to_their_parameters_types() {
        let params = [
            Value::Integer(1),
            Value::Text("x".into()),
            Value::Blob(vec![1]),
            Value::Real(0.5),
            Value::Null,
        ];
        assert_eq!(
            postgres_placeholders(
                "INSERT INTO t VALUES (?1, ?2, CAST(?2 AS jsonb), ?3, ?4, ?5) LIMIT ?1",
                Some(&params)
            ),
            "INSERT INTO t VALUES ($1::int8, $2::text, CAST($2::text AS jsonb), $3::bytea, \
             $4::float8, $5) LIMIT $1::int8"
        );
        // A placeholder with no parameter is left for the database to refuse.
        assert_eq!(
            postgres_placeholders("SELECT ?7", Some(&params)),
            "SELECT $7"
        );
    }
}
