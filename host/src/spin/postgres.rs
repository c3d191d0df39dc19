//! `spin:postgres/postgres@4.0.0` on the native PostgreSQL client, as Spin's
//! own `factor-outbound-pg` serves it: asynchronously, on the server's own
//! runtime (`tokio-postgres`); `open` takes a pooled connection to the
//! address the guest gives and holds it until the resource is dropped (so a
//! transaction's statements share one connection), each parameter is bound
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
use std::sync::{Arc, Mutex, PoisonError};

use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use tokio_postgres::{Client, NoTls, Statement};
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
pub struct Pool(Mutex<HashMap<String, Vec<Conn>>>);

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
    conn: Option<Conn>,
    pool: Arc<Pool>,
}

impl PgConnection {
    fn conn(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .expect("a connection is there until dropped")
    }
}

impl Drop for PgConnection {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.give_back(std::mem::take(&mut self.address), conn);
        }
    }
}

/// One connection: the client (its connection runs as a task of the
/// server's runtime) and the statements it has prepared.
struct Conn {
    client: Client,
    /// Statements prepared on this connection, kept for their next use
    /// (where Spin prepares each anew: the answers are the same, sooner).
    prepared: HashMap<String, Statement>,
    /// Whether the guest began a transaction it has not ended: the
    /// connection then ends it before going back to the pool, so a guest
    /// that trapped mid-transaction leaves no lock held.
    in_transaction: bool,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("prepared", &self.prepared.len())
            .field("in_transaction", &self.in_transaction)
            .finish_non_exhaustive()
    }
}

impl Conn {
    async fn connect(address: &str) -> Result<Self, Error> {
        let config: tokio_postgres::Config = address
            .parse()
            .map_err(|e| Error::ConnectionFailed(format!("parsing the address: {e}")))?;
        let (client, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| Error::ConnectionFailed(describe(&e)))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %describe(&e), "a spin:postgres connection ended");
            }
        });
        Ok(Self {
            client,
            prepared: HashMap::new(),
            in_transaction: false,
        })
    }

    /// `statement`, prepared on this connection once.
    async fn prepare(&mut self, statement: &str) -> Result<Statement, Error> {
        if let Some(prepared) = self.prepared.get(statement) {
            return Ok(prepared.clone());
        }
        let prepared = self
            .client
            .prepare(statement)
            .await
            .map_err(|e| query_failed(&e))?;
        if self.prepared.len() >= STATEMENT_CACHE {
            self.prepared.clear();
        }
        self.prepared
            .insert(statement.to_string(), prepared.clone());
        Ok(prepared)
    }

    /// Notes a transaction the guest begins or ends with `statement`.
    fn track(&mut self, statement: &str) {
        let verb = statement.split_whitespace().next().unwrap_or_default();
        let is = |word: &str| verb.eq_ignore_ascii_case(word);
        if is("BEGIN") || is("START") {
            self.in_transaction = true;
        } else if is("COMMIT") || is("ROLLBACK") || is("END") || is("ABORT") {
            self.in_transaction = false;
        }
    }

    /// Readies `statement` to run: notes a transaction it begins or ends,
    /// binds `params` as Spin binds them, and prepares it.
    async fn ready(
        &mut self,
        statement: &str,
        params: &[ParameterValue],
    ) -> Result<(Statement, Bound), Error> {
        self.track(statement);
        let bound = Bound(params.iter().map(parameter).collect::<Result<_, _>>()?);
        Ok((self.prepare(statement).await?, bound))
    }

    async fn execute(&mut self, statement: &str, params: &[ParameterValue]) -> Result<u64, Error> {
        let (prepared, bound) = self.ready(statement, params).await?;
        self.client
            .execute(&prepared, &bound.refs())
            .await
            .map_err(|e| query_failed(&e))
    }

    async fn query(&mut self, statement: &str, params: &[ParameterValue]) -> Result<RowSet, Error> {
        let (prepared, bound) = self.ready(statement, params).await?;
        let rows = self
            .client
            .query(&prepared, &bound.refs())
            .await
            .map_err(|e| query_failed(&e))?;
        // Spin's own host (4.0.2) never answers a query without rows: it waits
        // for the columns of a first row. Refused here, so a component that
        // sends one fails its tests instead of hanging under Spin.
        let Some(first) = rows.first() else {
            return Err(Error::QueryFailed(QueryError::Text(format!(
                "`{statement}` returned no rows, and Spin's spin:postgres never answers a query \
                 that returns none; send statements without rows with `execute`"
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
}

impl Pool {
    /// An idle connection to `address` that is still open.
    fn take(&self, address: &str) -> Option<Conn> {
        let mut idle = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let idle = idle.get_mut(address)?;
        while let Some(conn) = idle.pop() {
            if !conn.client.is_closed() {
                return Some(conn);
            }
        }
        None
    }

    /// Keeps `conn` for the next request, once any transaction the guest
    /// left open is rolled back (a connection that cannot roll back is
    /// closed).
    fn give_back(self: &Arc<Self>, address: String, mut conn: Conn) {
        if conn.in_transaction {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return;
            };
            let pool = self.clone();
            runtime.spawn(async move {
                if conn.client.batch_execute("ROLLBACK").await.is_ok() {
                    conn.in_transaction = false;
                    pool.keep(address, conn);
                }
            });
            return;
        }
        self.keep(address, conn);
    }

    fn keep(&self, address: String, conn: Conn) {
        if conn.client.is_closed() {
            return;
        }
        let mut idle = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let idle = idle.entry(address).or_default();
        if idle.len() < IDLE_PER_ADDRESS {
            idle.push(conn);
        }
    }
}

/// A PostgreSQL error as Spin words it: the server's own fields when the
/// server refused, the client's text otherwise.
fn query_failed(e: &tokio_postgres::Error) -> Error {
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

fn describe(e: &tokio_postgres::Error) -> String {
    match e.source() {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

/// A parameter as Spin binds it: as its own Rust type, which accepts only
/// the PostgreSQL types that type maps to.
fn parameter(value: &ParameterValue) -> Result<Box<dyn ToSql + Send + Sync>, Error> {
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
    row: &'a tokio_postgres::Row,
    i: usize,
    variant: impl Fn(T) -> DbValue,
) -> Result<DbValue, tokio_postgres::Error> {
    Ok(row
        .try_get::<_, Option<T>>(i)?
        .map_or(DbValue::DbNull, variant))
}

fn db_value(row: &tokio_postgres::Row, i: usize) -> Result<DbValue, tokio_postgres::Error> {
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

/// Parameters bound as Spin binds them.
struct Bound(Vec<Box<dyn ToSql + Send + Sync>>);

impl Bound {
    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

impl Host for SpinView<'_> {}

impl HostConnection for SpinView<'_> {
    async fn open(
        &mut self,
        address: String,
    ) -> wasmtime::Result<Result<Resource<PgConnection>, Error>> {
        let pool: Arc<Pool> = self.ctx.postgres.clone();
        let conn = match pool.take(&address) {
            Some(conn) => conn,
            None => match Conn::connect(&address).await {
                Ok(conn) => conn,
                Err(e) => return Ok(Err(e)),
            },
        };
        Ok(Ok(self.table.push(PgConnection {
            address,
            conn: Some(conn),
            pool,
        })?))
    }

    async fn query(
        &mut self,
        connection: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<RowSet, Error>> {
        let conn = self.table.get_mut(&connection)?.conn();
        Ok(conn.query(&statement, &params).await)
    }

    async fn execute(
        &mut self,
        connection: Resource<PgConnection>,
        statement: String,
        params: Vec<ParameterValue>,
    ) -> wasmtime::Result<Result<u64, Error>> {
        let conn = self.table.get_mut(&connection)?.conn();
        Ok(conn.execute(&statement, &params).await)
    }

    fn drop(&mut self, connection: Resource<PgConnection>) -> wasmtime::Result<()> {
        // Back to the pool (its `Drop`).
        self.table.delete(connection)?;
        Ok(())
    }
}
