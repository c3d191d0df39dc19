//! The PostgreSQL SQL driver: one connection (the `postgres` crate) on a
//! thread of its own, which a store call hands each statement to and waits
//! on, so it can be called from any thread, inside an async runtime or not.
//!
//! Statements are the store's: `?N` placeholders become `$N`, parameters are
//! bound in the type PostgreSQL infers for them, and results come back in
//! the store's [`Value`]s (a boolean as 0 or 1, as SQLite gives it). A
//! connection that broke is made again on the next statement, so an instance
//! recovers by itself once the database is back.

use std::collections::HashMap;
use std::error::Error;
use std::sync::mpsc;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};

use crate::db::{Dialect, Sql, Value};

/// How long connecting may take before the statement fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a [`Listener`] runs to hear the store's notifications
/// (`sql::postgres::NOTIFY`).
const LISTEN: &str = "LISTEN depot_log";

/// Statements prepared per connection, kept for their next use.
const STATEMENT_CACHE: usize = 256;

type Reply = Result<Vec<Vec<Value>>, String>;

struct Job {
    statement: String,
    params: Vec<Value>,
    reply: mpsc::SyncSender<Reply>,
}

/// One connection to a PostgreSQL database.
#[derive(Debug)]
pub struct Postgres {
    jobs: mpsc::Sender<Job>,
}

impl Postgres {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`).
    /// Fails when the database cannot be reached now.
    pub fn connect(url: &str) -> Result<Self, String> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e| format!("`{}` is not a PostgreSQL URL: {e}", redact(url)))?;
        let (ready, started) = mpsc::sync_channel(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("depot-postgres".into())
            .spawn(move || {
                let mut conn = Connection::new(config);
                let _ = ready.send(conn.client().map(drop));
                for job in queue {
                    let _ = job.reply.send(conn.run(&job.statement, &job.params));
                }
            })
            .map_err(|e| format!("cannot start a database connection thread: {e}"))?;
        started
            .recv()
            .map_err(|_| "the database connection thread stopped".to_string())??;
        Ok(Self { jobs })
    }
}

impl Sql for Postgres {
    fn run(&self, statement: &str, params: &[Value]) -> Reply {
        let (reply, answer) = mpsc::sync_channel(1);
        self.jobs
            .send(Job {
                statement: statement.to_string(),
                params: params.to_vec(),
                reply,
            })
            .map_err(|_| "the database connection thread stopped".to_string())?;
        answer
            .recv()
            .map_err(|_| "the database connection thread stopped".to_string())?
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }
}

/// A connection of its own that waits for the store's notifications (each
/// append notifies at its commit), made again when it breaks.
pub struct Listener {
    config: postgres::Config,
    client: Option<Client>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("connected", &self.client.is_some())
            .finish()
    }
}

impl Listener {
    /// A listener on the database at `url`; it connects on its first wait.
    pub fn new(url: &str) -> Result<Self, String> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| format!("`{}` is not a PostgreSQL URL: {e}", redact(url)))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        Ok(Self {
            config,
            client: None,
        })
    }

    /// Returns true after a notification (taking every one that came), or
    /// false once `timeout` passed without one. With the database away it
    /// waits out `timeout` and tries again on the next call.
    pub fn wait(&mut self, timeout: Duration) -> bool {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            let listening = self.config.connect(NoTls).and_then(|mut client| {
                client.batch_execute(LISTEN)?;
                Ok(client)
            });
            match listening {
                Ok(client) => self.client = Some(client),
                Err(_) => {
                    self.client = None;
                    std::thread::sleep(timeout);
                    return false;
                }
            }
        }
        let client = self.client.as_mut().expect("connected above");
        let mut notifications = client.notifications();
        let first = notifications.timeout_iter(timeout).next();
        let woke = match first {
            Ok(Some(_)) => {
                // The rest already here: one read of the log covers them all.
                while let Ok(Some(_)) = notifications.iter().next() {}
                Some(true)
            }
            Ok(None) => Some(false),
            Err(_) => None,
        };
        drop(notifications);
        woke.unwrap_or_else(|| {
            // The connection broke: made again on the next wait.
            self.client = None;
            false
        })
    }
}

/// `url` (a PostgreSQL server's URL, naming any database) naming database
/// `name` instead, its options kept.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let server = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    if query.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{query}")
    }
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// The connection's thread's state.
struct Connection {
    config: postgres::Config,
    client: Option<Client>,
    statements: HashMap<String, Statement>,
    /// Between a `BEGIN` and its `COMMIT` or `ROLLBACK`.
    in_transaction: bool,
}

impl Connection {
    fn new(mut config: postgres::Config) -> Self {
        config.connect_timeout(CONNECT_TIMEOUT);
        Self {
            config,
            client: None,
            statements: HashMap::new(),
            in_transaction: false,
        }
    }

    /// The client, connecting again when there is none or it broke.
    fn client(&mut self) -> Result<&mut Client, String> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.statements.clear();
            self.client = None;
            self.in_transaction = false;
            let client = self
                .config
                .connect(NoTls)
                .map_err(|e| format!("cannot connect to the database: {}", describe(e)))?;
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }

    /// Runs `statement`. A connection found broken by a statement outside a
    /// transaction (the database went away and came back since its last
    /// use) is made again and the statement run once more; inside one, the
    /// transaction is lost with the connection, so the statement fails.
    fn run(&mut self, statement: &str, params: &[Value]) -> Reply {
        let outside = !self.in_transaction;
        match self.run_once(statement, params) {
            Err(e) if outside && self.client.as_ref().is_some_and(Client::is_closed) => {
                self.in_transaction = false;
                self.run_once(statement, params)
                    .map_err(|again| format!("{again} (and before reconnecting: {e})"))
            }
            result => result,
        }
    }

    fn run_once(&mut self, statement: &str, params: &[Value]) -> Reply {
        let text = crate::db::postgres_placeholders(statement, None);
        // Transaction control goes as it is: it takes no parameters and
        // returns no rows.
        if params.is_empty() && matches!(statement, "BEGIN" | "COMMIT" | "ROLLBACK") {
            let done = self
                .client()?
                .batch_execute(statement)
                .map(|()| Vec::new())
                .map_err(describe);
            self.in_transaction = statement == "BEGIN" && done.is_ok();
            return done;
        }
        // Connected first: a connection made again forgets the statements
        // prepared on the old one.
        self.client()?;
        let prepared = match self.statements.get(&text) {
            Some(prepared) => prepared.clone(),
            None => {
                let prepared = self.client()?.prepare(&text).map_err(describe)?;
                if self.statements.len() >= STATEMENT_CACHE {
                    self.statements.clear();
                }
                self.statements.insert(text, prepared.clone());
                prepared
            }
        };
        let bound: Vec<Param<'_>> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            bound.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = self.client()?.query(&prepared, &refs).map_err(describe)?;
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| value(row, i))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect()
    }
}

/// What went wrong, with the server's own message when it sent one (the
/// error's `Display` alone says only "db error").
fn describe(e: postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {} ({})", db.severity(), db.message(), db.code().code());
    }
    match std::error::Error::source(&e) {
        Some(source) => format!("{e}: {source}"),
        None => e.to_string(),
    }
}

/// Column `i` of `row` as a store value.
fn value(row: &postgres::Row, i: usize) -> Result<Value, String> {
    let ty = row.columns()[i].type_().clone();
    let fail = |e: postgres::Error| format!("column {i} ({ty}): {e}");
    Ok(match ty {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map_err(fail)?
            .map_or(Value::Null, Value::Integer),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map_err(fail)?
            .map_or(Value::Null, |n| Value::Integer(n.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map_err(fail)?
            .map_or(Value::Null, |n| Value::Integer(n.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map_err(fail)?
            .map_or(Value::Null, |b| Value::Integer(b.into())),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)
            .map_err(fail)?
            .map_or(Value::Null, Value::Real),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(i)
            .map_err(fail)?
            .map_or(Value::Null, Value::Blob),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => row
            .try_get::<_, Option<String>>(i)
            .map_err(fail)?
            .map_or(Value::Null, Value::Text),
        // What a function called for its effect returns (a lock taken).
        Type::VOID => Value::Null,
        other => {
            return Err(format!(
                "column {i} has type {other}, which the store does not read"
            ));
        }
    })
}

/// A store value bound as a parameter, in the type PostgreSQL inferred.
#[derive(Debug)]
struct Param<'a>(&'a Value);

impl ToSql for Param<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match (self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Integer(n), &Type::INT8) => n.to_sql(ty, out),
            (Value::Integer(n), &Type::INT4) => i32::try_from(*n)?.to_sql(ty, out),
            (Value::Integer(n), &Type::INT2) => i16::try_from(*n)?.to_sql(ty, out),
            (Value::Integer(n), &Type::BOOL) => (*n != 0).to_sql(ty, out),
            (Value::Integer(n), &Type::FLOAT8) => (*n as f64).to_sql(ty, out),
            (Value::Integer(n), &Type::TEXT | &Type::VARCHAR) => n.to_string().to_sql(ty, out),
            (Value::Real(x), &Type::FLOAT8) => x.to_sql(ty, out),
            // JSONB's binary form: a version byte, then the text.
            (Value::Text(text), &Type::JSONB) => {
                out.extend_from_slice(&[1]);
                out.extend_from_slice(text.as_bytes());
                Ok(IsNull::No)
            }
            (Value::Text(text), _) => text.as_str().to_sql(ty, out),
            (Value::Blob(bytes), &Type::BYTEA) => bytes.as_slice().to_sql(ty, out),
            (value, ty) => Err(format!("cannot bind {value:?} as {ty}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_another_database_keeping_its_options() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres?sslmode=disable", "x"),
            "postgres://u@h:5432/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h:5432", "x"),
            "postgres://u@h:5432/x"
        );
    }

    #[test]
    fn a_password_stays_out_of_messages() {
        assert_eq!(
            redact("postgres://depot:s3cret@db:5432/registry"),
            "postgres://depot:***@db:5432/registry"
        );
        assert_eq!(redact("postgres://db/registry"), "postgres://db/registry");
    }
}
