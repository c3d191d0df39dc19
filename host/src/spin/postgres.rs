//! `spin:postgres/postgres@4.0.0` on the native PostgreSQL client, as Spin's
//! own `factor-outbound-pg` serves it: `open` takes a pooled connection to
//! the address the guest gives and holds it until the resource is dropped (so
//! a transaction's statements share one connection), each parameter is bound
//! as its own type only (an `int64` fits an `int8` place and nothing else),
//! and each column comes back in the variant of its type (`unsupported` for
//! the types Spin does not map). Spin checks the address against the
//! component's `allowed_outbound_hosts`; here any PostgreSQL address may be
//! opened, as by `depot serve --database`. Unlike Spin, a connection keeps the
//! statements it prepared for their next use: the same answers, sooner.

// The error is the interface's own variant, as large as WIT made it.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::error::Error as _;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};
use wasmtime::component::Resource;

use super::SpinView;
use super::wit_postgres::{
    Column, DbDataType, DbError, DbValue, Error, Host, HostConnection, ParameterValue, QueryError,
    RowSet,
};

/// Connections kept idle per address, as Spin's pool keeps them.
const IDLE_PER_ADDRESS: usize = 16;

/// Statements kept prepared per connection.
const STATEMENT_CACHE: usize = 256;

/// Idle connections by the address they were opened with.
#[derive(Default)]
pub struct Pool(Mutex<HashMap<String, Vec<Worker>>>);

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").finish_non_exhaustive()
    }
}

/// An open `connection` resource: a pooled connection, returned to the pool
/// when the guest drops it or the request's instance goes (a guest keeps its
/// connection for its whole life).
#[derive(Debug)]
pub struct PgConnection {
    address: String,
    /// Always there until dropped.
    worker: Option<Worker>,
    pool: Arc<Pool>,
}

impl PgConnection {
    fn worker(&mut self) -> &mut Worker {
        self.worker
            .as_mut()
            .expect("a connection is there until dropped")
    }
}

impl Drop for PgConnection {
    fn drop(&mut self) {
        if let Some(worker) = self.worker.take() {
            self.pool
                .give_back(std::mem::take(&mut self.address), worker);
        }
    }
}

/// Work for a connection's thread: it runs there with the client and its
/// prepared statements, and sends its answer back itself.
type Job = Box<dyn FnOnce(&mut Client, &mut Prepared) + Send>;

/// One connection, on a thread of its own (the `postgres` client runs its
/// own runtime, which may not block inside the host's).
#[derive(Debug)]
struct Worker {
    jobs: mpsc::Sender<Job>,
    /// Whether the guest began a transaction it has not ended: the
    /// connection then ends it before going back to the pool, so a guest
    /// that trapped mid-transaction leaves no lock held.
    in_transaction: bool,
}

impl Worker {
    fn connect(address: &str) -> Result<Self, Error> {
        let config: postgres::Config = address
            .parse()
            .map_err(|e| Error::ConnectionFailed(format!("parsing the address: {e}")))?;
        let (ready, started) = mpsc::sync_channel(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("spin-postgres".into())
            .spawn(move || {
                let mut client = match config.connect(NoTls) {
                    Ok(client) => {
                        let _ = ready.send(Ok(()));
                        client
                    }
                    Err(e) => {
                        let _ = ready.send(Err(Error::ConnectionFailed(describe(&e))));
                        return;
                    }
                };
                let mut prepared = Prepared::default();
                for job in queue {
                    job(&mut client, &mut prepared);
                }
            })
            .map_err(|e| Error::ConnectionFailed(format!("starting a connection thread: {e}")))?;
        started
            .recv()
            .map_err(|_| Error::ConnectionFailed("the connection thread stopped".into()))??;
        Ok(Self {
            jobs,
            in_transaction: false,
        })
    }

    /// Runs `statement` with `run` (`query` or `execute`) on the
    /// connection's thread and waits for its answer.
    fn run<T: Send + 'static>(
        &mut self,
        statement: String,
        params: Vec<ParameterValue>,
        run: fn(&mut Client, &mut Prepared, &str, &[ParameterValue]) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let verb = statement
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match verb.as_str() {
            "BEGIN" | "START" => self.in_transaction = true,
            "COMMIT" | "ROLLBACK" | "END" | "ABORT" => self.in_transaction = false,
            _ => {}
        }
        let (reply, answer) = mpsc::sync_channel(1);
        let stopped = || Error::ConnectionFailed("the connection was closed".into());
        self.jobs
            .send(Box::new(move |client, prepared| {
                let _ = reply.send(run(client, prepared, &statement, &params));
            }))
            .map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())?
    }
}

impl Pool {
    fn take(&self, address: &str) -> Option<Worker> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(address)?
            .pop()
    }

    fn give_back(&self, address: String, mut worker: Worker) {
        if worker.in_transaction
            && tokio::task::block_in_place(|| worker.run("ROLLBACK".into(), Vec::new(), execute))
                .is_err()
        {
            return;
        }
        let mut idle = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let idle = idle.entry(address).or_default();
        if idle.len() < IDLE_PER_ADDRESS {
            idle.push(worker);
        }
    }
}

/// A PostgreSQL error as Spin words it: the server's own fields when the
/// server refused, the client's text otherwise.
fn query_failed(e: &postgres::Error) -> Error {
    let text = describe(e);
    Error::QueryFailed(match e.as_db_error() {
        Some(db) => QueryError::DbError(DbError {
            as_text: text,
            severity: db.severity().to_string(),
            code: db.code().code().to_string(),
            message: db.message().to_string(),
            detail: db.detail().map(str::to_string),
            extras: Vec::new(),
        }),
        None => QueryError::Text(text),
    })
}

fn describe(e: &postgres::Error) -> String {
    match e.source() {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

/// A parameter as Spin binds it: as its own Rust type, which accepts only
/// the PostgreSQL types that type maps to.
fn parameter(value: &ParameterValue) -> Result<Box<dyn ToSql + Sync>, Error> {
    Ok(match value {
        ParameterValue::Boolean(v) => Box::new(*v),
        ParameterValue::Int8(v) => Box::new(*v),
        ParameterValue::Int16(v) => Box::new(*v),
        ParameterValue::Int32(v) => Box::new(*v),
        ParameterValue::Int64(v) => Box::new(*v),
        ParameterValue::Floating32(v) => Box::new(*v),
        ParameterValue::Floating64(v) => Box::new(*v),
        ParameterValue::Str(v) => Box::new(v.clone()),
        ParameterValue::Binary(v) => Box::new(v.clone()),
        ParameterValue::DbNull => Box::new(Null),
        other => {
            return Err(Error::BadParameter(format!(
                "`depot serve --spin-app` binds the parameter types the store uses; not {other:?}"
            )));
        }
    })
}

/// `NULL`, in a place of any type.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(
        &self,
        _: &Type,
        _: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(IsNull::Yes)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A column of a type Spin does not map: its raw bytes.
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Self(raw.to_vec()))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

fn data_type(ty: &Type) -> DbDataType {
    match *ty {
        Type::BOOL => DbDataType::Boolean,
        Type::BYTEA => DbDataType::Binary,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => DbDataType::Str,
        _ => DbDataType::Other(ty.name().to_string()),
    }
}

fn column<'a, T: FromSql<'a>>(
    row: &'a postgres::Row,
    i: usize,
    variant: impl Fn(T) -> DbValue,
) -> Result<DbValue, postgres::Error> {
    Ok(row
        .try_get::<_, Option<T>>(i)?
        .map_or(DbValue::DbNull, variant))
}

fn db_value(row: &postgres::Row, i: usize) -> Result<DbValue, postgres::Error> {
    match *row.columns()[i].type_() {
        Type::BOOL => column(row, i, DbValue::Boolean),
        Type::BYTEA => column(row, i, DbValue::Binary),
        Type::FLOAT4 => column(row, i, DbValue::Floating32),
        Type::FLOAT8 => column(row, i, DbValue::Floating64),
        Type::INT2 => column(row, i, DbValue::Int16),
        Type::INT4 => column(row, i, DbValue::Int32),
        Type::INT8 => column(row, i, DbValue::Int64),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => column(row, i, DbValue::Str),
        _ => column(row, i, |raw: Raw| DbValue::Unsupported(raw.0)),
    }
}

fn parameters(params: &[ParameterValue]) -> Result<Vec<Box<dyn ToSql + Sync>>, Error> {
    params.iter().map(parameter).collect()
}

/// Statements a connection has prepared, kept for their next use (where
/// Spin prepares each anew: the answers are the same, sooner).
#[derive(Default)]
struct Prepared(HashMap<String, Statement>);

impl Prepared {
    fn get(&mut self, client: &mut Client, statement: &str) -> Result<Statement, Error> {
        if let Some(prepared) = self.0.get(statement) {
            return Ok(prepared.clone());
        }
        let prepared = client.prepare(statement).map_err(|e| query_failed(&e))?;
        if self.0.len() >= STATEMENT_CACHE {
            self.0.clear();
        }
        self.0.insert(statement.to_string(), prepared.clone());
        Ok(prepared)
    }
}

fn execute(
    client: &mut Client,
    prepared: &mut Prepared,
    statement: &str,
    params: &[ParameterValue],
) -> Result<u64, Error> {
    let params = parameters(params)?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
    let statement = prepared.get(client, statement)?;
    client
        .execute(&statement, &refs)
        .map_err(|e| query_failed(&e))
}

fn query(
    client: &mut Client,
    prepared: &mut Prepared,
    statement: &str,
    params: &[ParameterValue],
) -> Result<RowSet, Error> {
    let params = parameters(params)?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
    let statement_text = statement;
    let statement = prepared.get(client, statement)?;
    let rows = client
        .query(&statement, &refs)
        .map_err(|e| query_failed(&e))?;
    // Spin's own host (4.0.2) never answers a query without rows: it waits
    // for the columns of a first row. Refused here, so a component that
    // sends one fails its tests instead of hanging under Spin.
    let Some(first) = rows.first() else {
        return Err(Error::QueryFailed(QueryError::Text(format!(
            "`{statement}` returned no rows, and Spin's spin:postgres never answers a query \
             that returns none; send statements without rows with `execute`",
            statement = statement_text
        ))));
    };
    let columns = first
        .columns()
        .iter()
        .map(|c| Column {
            name: c.name().to_string(),
            data_type: data_type(c.type_()),
        })
        .collect();
    let rows = rows
        .iter()
        .map(|row| (0..row.len()).map(|i| db_value(row, i)).collect())
        .collect::<Result<_, _>>()
        .map_err(|e| Error::QueryFailed(QueryError::Text(describe(&e))))?;
    Ok(RowSet { columns, rows })
}

impl SpinView<'_> {
    /// Runs `statement` on `connection` with `run` (`query` or `execute`),
    /// waiting for another connection's lock off the async workers, as the
    /// SQLite interface does.
    fn run<T: Send + 'static>(
        &mut self,
        connection: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
        run: fn(&mut Client, &mut Prepared, &str, &[ParameterValue]) -> Result<T, Error>,
    ) -> wasmtime::Result<Result<T, Error>> {
        let connection = self.table.get_mut(&connection)?;
        Ok(tokio::task::block_in_place(|| {
            connection.worker().run(statement, params, run)
        }))
    }
}

impl Host for SpinView<'_> {}

impl HostConnection for SpinView<'_> {
    fn open(&mut self, address: String) -> wasmtime::Result<Result<Resource<PgConnection>, Error>> {
        let pool: Arc<Pool> = self.ctx.postgres.clone();
        let worker = match pool.take(&address) {
            Some(worker) => worker,
            None => match tokio::task::block_in_place(|| Worker::connect(&address)) {
                Ok(worker) => worker,
                Err(e) => return Ok(Err(e)),
            },
        };
        Ok(Ok(self.table.push(PgConnection {
            address,
            worker: Some(worker),
            pool,
        })?))
    }

    fn query(
        &mut self,
        connection: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<RowSet, Error>> {
        self.run(connection, statement, params, query)
    }

    fn execute(
        &mut self,
        connection: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<u64, Error>> {
        self.run(connection, statement, params, execute)
    }

    fn drop(&mut self, connection: Resource<PgConnection>) -> wasmtime::Result<()> {
        // Back to the pool (its `Drop`).
        self.table.delete(connection)?;
        Ok(())
    }
}
