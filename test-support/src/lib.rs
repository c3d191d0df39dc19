//! What Depot's end-to-end tests (`tests/e2e`) and benches (`host/benches`)
//! share: a `depot serve` process on a free port (running the built-in
//! handlers, or the Spin build), the `depot` CLI, an HTTP client, and real
//! components built from WIT.
//!
//! The `depot` binary is the one cargo built beside the test or bench
//! running ([`DEPOT`]), as cargo's own `CARGO_BIN_EXE_depot` would name it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use serde_json::Value;

/// The `depot` binary under test: `Command::new(DEPOT)`.
pub const DEPOT: DepotBinary = DepotBinary;

/// The `depot` binary cargo built for the running test or bench: it sits in
/// the profile's folder (`target/debug`, `target/release`), one above the
/// `deps/` folder that holds the test or bench executable.
#[derive(Debug, Clone, Copy)]
pub struct DepotBinary;

impl DepotBinary {
    /// Where it is.
    pub fn path(self) -> &'static Path {
        static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
        PATH.get_or_init(|| {
            let exe = std::env::current_exe().expect("the running test's path");
            let profile = exe
                .parent()
                .filter(|dir| dir.ends_with("deps"))
                .and_then(Path::parent)
                .unwrap_or_else(|| panic!("{} is not in a cargo `deps/` folder", exe.display()));
            let depot = profile.join(format!("depot{}", std::env::consts::EXE_SUFFIX));
            assert!(
                depot.is_file(),
                "{} is missing: build the `depot` binary first (cargo builds it for the \
                 package's tests and benches)",
                depot.display()
            );
            depot
        })
    }
}

/// Cargo's scratch folder for tests (`target/tmp`, what `CARGO_TARGET_TMPDIR`
/// names for a test of the `depot` package), beside the binary's profile
/// folder.
pub fn target_tmpdir() -> PathBuf {
    let profile = DEPOT.path().parent().expect("the binary is in a folder");
    let tmp = profile
        .parent()
        .expect("the profile folder is in the target folder")
        .join("tmp");
    std::fs::create_dir_all(&tmp).expect("create target/tmp");
    tmp
}

impl AsRef<std::ffi::OsStr> for DepotBinary {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.path().as_os_str()
    }
}

/// Which composition of the handlers a test server runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Runtime {
    /// `depot serve`: the handlers, with the host's native store.
    #[default]
    Native,
    /// The Spin build: the handlers composed with spin-store by `depot
    /// compose` (what `spin up` serves), run by `depot serve --spin-app`
    /// with Spin's key-value store and SQLite database on local files.
    Spin,
    /// `depot serve` on shared storage: a PostgreSQL database and an S3
    /// bucket of the test's own (`--database`, `--blobs`), as many
    /// instances run.
    Shared,
    /// The Spin build on shared storage: `depot serve --spin-app` with the
    /// build's Spin variables (`SPIN_VARIABLE_DATABASE_URL`,
    /// `SPIN_VARIABLE_S3_*`) naming a PostgreSQL database and an S3 bucket
    /// of the test's own, as SpinKube replicas run.
    SpinShared,
}

impl Runtime {
    /// Whether it runs the Spin build (`--spin-app`).
    pub fn is_spin(self) -> bool {
        matches!(self, Self::Spin | Self::SpinShared)
    }

    /// Whether its data is in a PostgreSQL database and an S3 bucket
    /// ([`SharedStore`]).
    pub fn is_shared(self) -> bool {
        matches!(self, Self::Shared | Self::SpinShared)
    }
}

/// Copies the directory `from`, and everything in it, into `to`.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The first column of the rows `sql` gives on the SQLite database `db`,
/// as whole numbers.
pub fn sqlite_ints(db: &Path, sql: &str) -> Vec<i64> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut statement = conn.prepare(sql).unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

impl Runtime {
    /// Runs `sql` on the registry database of a registry whose `--data` is
    /// `data`, behind its back; returns how many rows it changed.
    pub fn tamper(self, data: &Path, sql: &str) -> u64 {
        let sqlite = |path: PathBuf| {
            rusqlite::Connection::open(path)
                .unwrap()
                .execute(sql, [])
                .unwrap() as u64
        };
        match self {
            Self::Native => sqlite(data.join("registry.db")),
            Self::Spin => sqlite(data.join("spin").join("sqlite_db.db")),
            Self::Shared | Self::SpinShared => {
                let store = SharedStore::of(data);
                postgres::Client::connect(&store.database, postgres::NoTls)
                    .unwrap()
                    .execute(sql, &[])
                    .unwrap()
            }
        }
    }
}

/// A PostgreSQL database and an S3 bucket of a test's own, on the servers
/// `scripts/test` starts (`DEPOT_TEST_DATABASE_URL`,
/// `DEPOT_TEST_S3_ENDPOINT`), which several `depot serve` instances share.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SharedStore {
    /// `--database`.
    pub database: String,
    /// `--blobs`.
    pub blobs: String,
    /// Drops the database when the last clone made by [`SharedStore::new`]
    /// goes; none for a store read back from a data directory, or kept.
    #[serde(skip)]
    dropped_with: Option<Arc<DropDatabase>>,
}

/// Drops a test's database when dropped.
#[derive(Debug)]
struct DropDatabase(String);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        drop_database(&self.0);
    }
}

impl SharedStore {
    /// A new, empty database, and a place in the bucket; the database is
    /// dropped when the last clone goes.
    pub fn fresh() -> Self {
        Self::new_on(&test_database_server())
    }

    /// [`SharedStore::fresh`], its database kept after the test (for a data
    /// directory a later start may use again; a later run's sweep drops it).
    pub fn new_kept() -> Self {
        Self::create(&test_database_server())
    }

    /// A new, empty database on the PostgreSQL server at `server`, and a
    /// place in the bucket; the database is dropped when the last clone goes.
    pub fn new_on(server: &str) -> Self {
        let mut store = Self::create(server);
        store.dropped_with = Some(Arc::new(DropDatabase(store.database.clone())));
        store
    }

    fn create(server: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("depot_e2e_{}_{n}", std::process::id());
        let endpoint = std::env::var("DEPOT_TEST_S3_ENDPOINT").expect(
            "DEPOT_TEST_S3_ENDPOINT names no S3 server; run ./scripts/test, which starts one",
        );
        let mut admin = postgres::Client::connect(server, postgres::NoTls).unwrap();
        sweep_databases(&mut admin);
        // One statement a call: neither may run inside a transaction.
        for statement in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin
                .batch_execute(&statement)
                .unwrap_or_else(|e| panic!("cannot make database {name}: {e:?}"));
        }
        Self {
            database: depot_store::postgres_driver::with_database(server, &name),
            // One bucket (`depot`, made by scripts/s3), a prefix per test:
            // each bucket costs SeaweedFS volumes of its own.
            blobs: format!("s3://depot/{name}?endpoint={endpoint}&region=us-east-1"),
            dropped_with: None,
        }
    }

    /// A copy of this store's database as it is now (the registry's state,
    /// key and all), on the same bucket (whose blobs are content-addressed),
    /// noted in `data` for a registry started there.
    pub fn copy_into(&self, data: &Path) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("depot_e2e_copy_{}_{n}", std::process::id());
        let (server, source) = self.database.rsplit_once('/').unwrap();
        let mut admin =
            postgres::Client::connect(&format!("{server}/postgres"), postgres::NoTls).unwrap();
        // The stopped server's connections may take a moment to go, and a
        // database is copied only with no one connected.
        let mut tries = 0;
        while let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {source}"))
        {
            tries += 1;
            assert!(tries < 50, "cannot copy database {source}: {e:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
        // Made for a kept data directory: a later run's sweep drops it.
        let copy = Self {
            database: format!("{server}/{name}"),
            blobs: self.blobs.clone(),
            dropped_with: None,
        };
        std::fs::write(
            data.join(SHARED_STORE_FILE),
            serde_json::to_vec(&copy).unwrap(),
        )
        .unwrap();
        copy
    }

    /// A new database loaded from `dump` (what `pg_dump --format=custom` made
    /// of this store's), on the same bucket: a registry restored the way
    /// docs/operations.md says. The database is dropped with the last clone.
    pub fn restore_dump(&self, dump: &Path) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("depot_e2e_restored_{}_{n}", std::process::id());
        let (server, _) = self.database.rsplit_once('/').unwrap();
        let mut admin =
            postgres::Client::connect(&format!("{server}/postgres"), postgres::NoTls).unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot make database {name}: {e:?}"));
        let database = format!("{server}/{name}");
        let restored = Command::new("pg_restore")
            .args(["--no-owner", "--exit-on-error", "--dbname", &database])
            .arg(dump)
            .output()
            .expect("run pg_restore (Debian: postgresql-client)");
        assert!(
            restored.status.success(),
            "pg_restore failed: {}",
            String::from_utf8_lossy(&restored.stderr)
        );
        Self {
            dropped_with: Some(Arc::new(DropDatabase(database.clone()))),
            database,
            blobs: self.blobs.clone(),
        }
    }

    /// The store a shared-runtime registry on `data` was started with.
    pub fn of(data: &Path) -> Self {
        let saved = std::fs::read(data.join(SHARED_STORE_FILE))
            .expect("a shared-runtime registry's data directory names its store");
        serde_json::from_slice(&saved).unwrap()
    }

    /// The Spin build's variables for this store, as `depot serve
    /// --spin-app` (and `spin up`) read them from the environment.
    pub fn spin_variables(&self) -> Vec<(String, String)> {
        let (place, query) = self
            .blobs
            .strip_prefix("s3://")
            .and_then(|rest| rest.split_once('?'))
            .expect("an s3:// URL with a query");
        let (bucket, prefix) = place.split_once('/').expect("a bucket and a prefix");
        let endpoint = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("endpoint="))
            .expect("the bucket's endpoint");
        let credential = |name: &str| std::env::var(name).unwrap_or_else(|_| "depot-test".into());
        [
            ("DATABASE_URL", self.database.clone()),
            ("S3_ENDPOINT", endpoint.to_string()),
            ("S3_BUCKET", bucket.to_string()),
            ("S3_PREFIX", format!("{prefix}/spin")),
            ("S3_REGION", "us-east-1".to_string()),
            ("S3_ACCESS_KEY_ID", credential("AWS_ACCESS_KEY_ID")),
            ("S3_SECRET_ACCESS_KEY", credential("AWS_SECRET_ACCESS_KEY")),
        ]
        .into_iter()
        .map(|(name, value)| (format!("SPIN_VARIABLE_{name}"), value))
        .collect()
    }

    /// The `depot serve` flags for this store.
    pub fn args(&self) -> [String; 4] {
        [
            "--database".into(),
            self.database.clone(),
            "--blobs".into(),
            self.blobs.clone(),
        ]
    }
}

/// Where the test harness notes, in a shared-runtime registry's data
/// directory, which database and bucket it uses (so a restart finds them).
const SHARED_STORE_FILE: &str = "test-shared-store.json";

/// A running `depot serve`, stopped (by its pid) when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The data directory (kept when `data` was passed in).
    pub data: PathBuf,
    /// The CLI's config folder (`DEPOT_CONFIG_DIR`: the checkpoints it trusts).
    pub config: PathBuf,
    /// The operator's token: the one this start printed, else
    /// `ServerOptions::token` (a restart prints none). Empty for a mirror.
    pub token: String,
    /// The token this start printed on stdout, if it printed one.
    pub printed_token: Option<String>,
    _temp: Option<tempfile::TempDir>,
    _config: Option<tempfile::TempDir>,
    /// The database and bucket of a shared-runtime server: its database is
    /// dropped once the last server and test holding it are done.
    _shared: Option<SharedStore>,
}

/// How to start a server.
#[derive(Debug, Default)]
pub struct ServerOptions {
    /// Reuse this data directory (to test restarts).
    pub data: Option<PathBuf>,
    /// Extra `depot serve` arguments.
    pub args: Vec<String>,
    /// Extra environment variables (e.g. `RUST_LOG`).
    pub env: Vec<(String, String)>,
    /// Every line the server logs is also sent here.
    pub log: Option<mpsc::Sender<String>>,
    /// Run `depot mirror --from` this registry's URL instead of `depot serve`.
    pub mirror_of: Option<String>,
    /// Which composition to serve.
    pub runtime: Runtime,
    /// A handler manifest: `depot serve --handlers` for the native runtime,
    /// `depot compose --handlers` for the Spin build.
    pub handlers: Option<PathBuf>,
    /// For the Spin build: serve this `depot compose` output instead of a
    /// fresh one (with its `-writes.wasm` beside it, or without).
    pub spin_app: Option<PathBuf>,
    /// Listen here instead of on a free port (to restart at the same URL).
    pub listen: Option<String>,
    /// The CLI's config folder, instead of a fresh one.
    pub config: Option<PathBuf>,
    /// The operator's token of a registry restarted on `data`, which prints
    /// none.
    pub token: Option<String>,
    /// For `Runtime::Shared`: the database and bucket, shared with other
    /// instances (default: the ones a restart's `data` names, else new ones).
    pub shared: Option<SharedStore>,
}

/// What `depot serve` prints before the operator's token, on stdout.
pub const OPERATOR_TOKEN_LINE: &str = "operator token (shown once, store it): ";

impl Server {
    /// A server with embedded storage in a fresh temporary directory.
    pub fn start() -> Self {
        Self::start_with(ServerOptions::default())
    }

    /// A server running `runtime`'s composition, with its data in a fresh
    /// temporary directory.
    pub fn start_on(runtime: Runtime) -> Self {
        Self::start_with(ServerOptions {
            runtime,
            ..ServerOptions::default()
        })
    }

    /// A server started with `options`.
    pub fn start_with(options: ServerOptions) -> Self {
        let (temp, data) = match options.data {
            Some(d) => (None, d),
            None => {
                let t = tempfile::tempdir().expect("temp dir");
                let d = t.path().join("data");
                (Some(t), d)
            }
        };
        let mut command = Command::new(DEPOT);
        match &options.mirror_of {
            None => command.arg("serve"),
            Some(origin) => command.args(["mirror", "--from", origin]),
        };
        match (options.runtime, &options.handlers) {
            (Runtime::Native | Runtime::Shared, None) => {}
            (Runtime::Native | Runtime::Shared, Some(handlers)) => {
                command.arg("--handlers").arg(handlers);
            }
            (Runtime::Spin | Runtime::SpinShared, handlers) => {
                let app = match &options.spin_app {
                    Some(app) => app.clone(),
                    None => spin_app(handlers.as_deref()),
                };
                command.arg("--spin-app").arg(app);
            }
        }
        let mut kept_shared = None;
        if options.runtime.is_shared() {
            let shared = match options.shared {
                Some(shared) => shared,
                None if data.join(SHARED_STORE_FILE).exists() => SharedStore::of(&data),
                // A data directory the test keeps may be started on again
                // after this server is gone: its database stays (until a
                // later run's sweep).
                None if temp.is_none() => SharedStore::new_kept(),
                None => SharedStore::fresh(),
            };
            std::fs::create_dir_all(&data).unwrap();
            std::fs::write(
                data.join(SHARED_STORE_FILE),
                serde_json::to_vec(&shared).unwrap(),
            )
            .unwrap();
            if options.runtime.is_spin() {
                command.envs(shared.spin_variables());
            } else {
                command.args(shared.args());
            }
            kept_shared = Some(shared);
        }
        let mut child = command
            .arg("--listen")
            .arg(options.listen.as_deref().unwrap_or("127.0.0.1:0"))
            .arg("--data")
            .arg(&data)
            // One compile cache for every server the tests start: each
            // compiles the same handlers, so only the first pays for it.
            .arg("--compile-cache")
            .arg(target_tmpdir().join("depot-compile-cache"))
            .args(&options.args)
            .envs(options.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start depot serve");
        let stdout = read_stdout(&mut child);
        let stderr = child.stderr.take().expect("stderr");
        let (said_tx, said) = mpsc::channel();
        let log = options.log;
        // Keep draining stderr so the server never blocks on a full pipe; keep
        // its first lines, to report why it did not start.
        let echo = std::env::var_os("DEPOT_TEST_LOG").is_some();
        std::thread::spawn(move || {
            let mut early = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(log) = &log {
                    let _ = log.send(line.clone());
                }
                if echo {
                    eprintln!("[depot] {line}");
                }
                if early.len() < 200 {
                    early.push(line);
                }
            }
            let _ = said_tx.send(early.join("\n"));
        });
        // The token, when this start makes one, comes before the address on
        // stdout: once the address shows, whether a token was printed is known.
        let mut printed_token = None;
        let url = loop {
            match stdout.recv_timeout(Duration::from_secs(180)) {
                Ok(Stdout::Token(token)) => printed_token = Some(token),
                Ok(Stdout::Listening(url)) => break url,
                Ok(Stdout::Closed) => {
                    let status = child.wait();
                    let said = said
                        .recv_timeout(Duration::from_secs(30))
                        .unwrap_or_default();
                    panic!("depot serve exited ({status:?}) before listening:\n{said}");
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("depot serve did not report its address in 180 s");
                }
            }
        };
        let (config_temp, config) = match options.config {
            Some(config) => (None, config),
            None => {
                let t = tempfile::tempdir().expect("temp dir");
                let config = t.path().to_path_buf();
                (Some(t), config)
            }
        };
        Server {
            child,
            url,
            data,
            config,
            token: printed_token.clone().or(options.token).unwrap_or_default(),
            printed_token,
            _temp: temp,
            _config: config_temp,
            _shared: kept_shared,
        }
    }

    /// An HTTP client that sends the operator's token with every request.
    pub fn http(&self) -> reqwest::blocking::Client {
        client_with_token(&self.token)
    }

    /// The server's process id (for the bench's memory figures).
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The absolute URL of `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// Sends the server SIGTERM, as a service manager stops it, and waits up
    /// to `within` for it to exit; its exit status, or none if it did not.
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill -TERM failed: {sent}");
        let start = std::time::Instant::now();
        while start.elapsed() < within {
            if let Some(status) = self.child.try_wait().expect("wait for depot serve") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Stops the server and waits for it to exit.
    pub fn stop(mut self) -> PathBuf {
        self.kill();
        self.data.clone()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Runs the `depot` CLI against this server.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_in(Path::new("."), args)
    }

    /// Runs the `depot` CLI against this server in `dir`.
    pub fn cli_in(&self, dir: &Path, args: &[&str]) -> Output {
        Command::new(DEPOT)
            .args(args)
            .current_dir(dir)
            .env("DEPOT_REGISTRY", &self.url)
            .env("DEPOT_CONFIG_DIR", &self.config)
            .env("DEPOT_TOKEN", &self.token)
            .output()
            .expect("run depot")
    }

    /// Publishes `bytes` as `name@version` over HTTP; returns status and JSON body.
    pub fn publish(&self, name: &str, version: &str, bytes: &[u8]) -> (u16, Value) {
        let response = self
            .http()
            .put(self.at(&format!("/v1/packages/{name}/versions/{version}")))
            .body(bytes.to_vec())
            .send()
            .expect("PUT");
        status_json(response)
    }

    /// GETs `path`; returns status and JSON body.
    pub fn get_json(&self, path: &str) -> (u16, Value) {
        status_json(self.http().get(self.at(path)).send().expect("GET"))
    }

    /// POSTs to `path`; returns status and JSON body.
    pub fn post_json(&self, path: &str) -> (u16, Value) {
        status_json(self.http().post(self.at(path)).send().expect("POST"))
    }

    /// POSTs `body` as JSON to `path`; returns status and JSON body.
    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        status_json(
            self.http()
                .post(self.at(path))
                .json(body)
                .send()
                .expect("POST"),
        )
    }

    /// GETs `path`; returns status and the raw bytes.
    pub fn get_bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let response = self.http().get(self.at(path)).send().expect("GET");
        let status = response.status().as_u16();
        (status, response.bytes().expect("body").to_vec())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Drops the database at `url`, if it is there; a failure only leaves it
/// for the next run's sweep ([`SharedStore::new_on`]).
fn drop_database(url: &str) {
    let Some((server, name)) = url.rsplit_once('/') else {
        return;
    };
    let dropped = postgres::Client::connect(&format!("{server}/postgres"), postgres::NoTls)
        .and_then(|mut admin| {
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        });
    if let Err(e) = dropped {
        eprintln!("cannot drop the test database {name}: {e}");
    }
}

/// The PostgreSQL server the tests make their databases on.
fn test_database_server() -> String {
    std::env::var("DEPOT_TEST_DATABASE_URL").expect(
        "DEPOT_TEST_DATABASE_URL names no PostgreSQL server; run ./scripts/test, which starts one",
    )
}

/// Drops the databases earlier runs' tests left on `admin`'s server (made
/// by a process that is gone: a registry restarted on a data directory its
/// test kept, or a run that was killed), once per run.
fn sweep_databases(admin: &mut postgres::Client) {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| {
        let rows = admin
            .query(
                "SELECT datname FROM pg_database WHERE datname LIKE 'depot\\_e2e\\_%'",
                &[],
            )
            .unwrap_or_default();
        for row in rows {
            let name: String = row.get(0);
            let rest = name.trim_start_matches("depot_e2e_");
            let rest = rest.strip_prefix("copy_").unwrap_or(rest);
            let pid = rest.split('_').next().unwrap_or_default();
            let gone = !pid.is_empty() && !Path::new("/proc").join(pid).exists();
            if gone
                && let Err(e) =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            {
                eprintln!("cannot drop the leftover test database {name}: {e}");
            }
        }
    });
}

/// The Spin build of the handlers `handlers` names (every handler built in
/// when none), composed with spin-store by `depot compose` into a fresh file:
/// the front, with the whole composition beside it (`<name>-writes.wasm`),
/// which `depot serve --spin-app` finds there.
pub fn spin_app(handlers: Option<&Path>) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = target_tmpdir().join("spin-apps");
    std::fs::create_dir_all(&dir).expect("spin-apps dir");
    let app = dir.join(format!(
        "depot-{}-{}.wasm",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let mut compose = Command::new(DEPOT);
    compose
        .arg("compose")
        .arg("--store")
        .arg(fixture_handler("spin_store.wasm"))
        .arg("--output")
        .arg(&app);
    if let Some(handlers) = handlers {
        compose.arg("--handlers").arg(handlers);
    }
    let out = ok(compose.output().expect("run depot compose"));
    assert!(out.contains("composed"), "{out}");
    app
}

/// A blocking HTTP client with a generous timeout.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client")
}

/// A blocking HTTP client that sends `token` as `Authorization: Bearer`
/// with every request (none when it is empty).
pub fn client_with_token(token: &str) -> reqwest::blocking::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if !token.is_empty() {
        let value = format!("Bearer {token}").parse().expect("token header");
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .default_headers(headers)
        .build()
        .expect("client")
}

/// What the server says on stdout.
enum Stdout {
    /// The operator's token, printed on the first start.
    Token(String),
    /// `http://ADDR`: the server answers there.
    Listening(String),
    /// Stdout closed: the server exited.
    Closed,
}

/// Reads the server's stdout for as long as it runs, sending what it says.
fn read_stdout(child: &mut Child) -> mpsc::Receiver<Stdout> {
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(token) = line.strip_prefix(OPERATOR_TOKEN_LINE) {
                let _ = tx.send(Stdout::Token(token.trim().to_string()));
            } else if let Some(url) = line.strip_prefix("Depot listening on ") {
                let _ = tx.send(Stdout::Listening(url.trim().to_string()));
            }
        }
        let _ = tx.send(Stdout::Closed);
    });
    rx
}

/// The status and JSON body of `response`; panics when the body is not JSON.
pub fn status_json(response: reqwest::blocking::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = response.text().expect("body");
    let json = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("HTTP {status} body is not JSON ({e}): {body}"));
    assert!(
        content_type.starts_with("application/json"),
        "HTTP {status} JSON body has content-type {content_type:?}"
    );
    (status, json)
}

/// Asserts `(status, body)` is the error `code` with `status`, and returns its message.
pub fn assert_error(got: &(u16, Value), status: u16, code: &str) -> String {
    assert_eq!(got.0, status, "unexpected status; body: {}", got.1);
    assert_eq!(got.1["error"]["code"], code, "unexpected error: {}", got.1);
    let message = got.1["error"]["message"]
        .as_str()
        .expect("message")
        .to_string();
    assert!(
        message.len() > 20,
        "message too thin to act on: {message:?}"
    );
    message
}

/// A new operator's token, made by `depot token generate` (for a
/// registry's configuration to name).
pub fn generate_token() -> String {
    let said = ok(Command::new(DEPOT)
        .args(["token", "generate"])
        .output()
        .expect("run depot token generate"));
    said.trim().to_string()
}

/// The stdout of a CLI run that must succeed.
pub fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "depot failed: {}\nstdout: {}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// The stderr of a CLI run that must fail.
pub fn fails(output: Output) -> String {
    assert!(
        !output.status.success(),
        "depot unexpectedly succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stderr).expect("utf-8")
}

/// `wasm-metadata` fields to stamp on a fixture.
#[derive(Debug, Default, Clone)]
pub struct Meta<'a> {
    pub description: Option<&'a str>,
    pub licenses: Option<&'a str>,
    pub authors: Option<&'a str>,
    pub source: Option<&'a str>,
    pub homepage: Option<&'a str>,
    /// Bytes of padding in a custom section, to reach a given size.
    pub padding: usize,
}

/// A greeter component of over 64 KiB, distinct for each `n`: past the 16
/// KiB a registry keeps in its database, so its content is a blob file (or
/// object) of its own.
pub fn big_greeter(n: usize) -> Vec<u8> {
    greeter(&Meta {
        description: Some(&format!("big {n}")),
        padding: 64 * 1024,
        ..Meta::default()
    })
}

/// A real component whose world is `world` in the WIT package `wit`.
pub fn component(wit: &str, world: &str, meta: &Meta) -> Vec<u8> {
    component_in(wit_parser::Resolve::default(), wit, world, meta)
}

/// A handler component whose world is `world` in the WIT package `wit`,
/// which may use Depot's own `depot:registry` package (`wit/`). Its
/// functions trap when called.
pub fn handler_component(wit: &str, world: &str) -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    resolve
        .push_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit"))
        .expect("Depot's WIT");
    component_in(resolve, wit, world, &Meta::default())
}

/// [`component`], with `resolve` holding the packages `wit` may use.
fn component_in(mut resolve: wit_parser::Resolve, wit: &str, world: &str, meta: &Meta) -> Vec<u8> {
    use wit_component::{ComponentEncoder, StringEncoding, dummy_module, embed_component_metadata};
    let package = resolve
        .push_source("fixture.wit", wit)
        .expect("fixture WIT");
    let world = resolve
        .select_world(&[package], Some(world))
        .expect("fixture world");
    let mut module = dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
    embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)
        .expect("embed WIT");
    let component = ComponentEncoder::default()
        .module(&module)
        .expect("module")
        .validate(true)
        .encode()
        .expect("encode component");
    stamp(&component, meta)
}

/// The greeter fixture: exports `example:greet/greeter@0.1.0`, imports
/// `example:greet/logger@0.1.0`.
pub fn greeter(meta: &Meta) -> Vec<u8> {
    component(
        r#"
        package example:greet@0.1.0;
        interface greeter { greet: func(name: string) -> string; }
        interface logger { log: func(message: string); }
        world greeter-world {
            import logger;
            export greeter;
        }
        "#,
        "greeter-world",
        meta,
    )
}

/// A greeter whose bytes differ by `n` (for distinct releases).
pub fn greeter_n(n: usize) -> Vec<u8> {
    greeter(&Meta {
        description: Some(&format!("greeter number {n}")),
        ..Meta::default()
    })
}

/// A core module with one exported function.
pub fn core_module(meta: &Meta) -> Vec<u8> {
    use wasm_encoder::{
        CodeSection, ExportKind, ExportSection, Function, FunctionSection, Instruction, Module,
        TypeSection, ValType,
    };
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], [ValType::I32]);
    module.section(&types);
    let mut funcs = FunctionSection::new();
    funcs.function(0);
    module.section(&funcs);
    let mut exports = ExportSection::new();
    exports.export("answer", ExportKind::Func, 0);
    module.section(&exports);
    let mut code = CodeSection::new();
    let mut f = Function::new([]);
    f.instruction(&Instruction::I32Const(42));
    f.instruction(&Instruction::End);
    code.function(&f);
    module.section(&code);
    stamp(&module.finish(), meta)
}

fn stamp(wasm: &[u8], meta: &Meta) -> Vec<u8> {
    use wasm_metadata::{
        AddMetadata, AddMetadataField, Authors, Description, Homepage, Licenses, Source,
    };
    fn field<T: std::fmt::Debug + Clone>(v: Option<T>) -> AddMetadataField<T> {
        v.map_or(AddMetadataField::Keep, AddMetadataField::Set)
    }
    let mut add = AddMetadata::default();
    add.description = field(meta.description.map(|d| Description::new(d.to_string())));
    add.licenses = field(
        meta.licenses
            .map(|l| Licenses::new(l).expect("SPDX expression")),
    );
    add.authors = field(meta.authors.map(|a| Authors::new(a.to_string())));
    add.source = field(meta.source.map(|s| Source::new(s).expect("source URL")));
    add.homepage = field(
        meta.homepage
            .map(|h| Homepage::new(h).expect("homepage URL")),
    );
    let mut out = add.to_wasm(wasm).expect("add metadata");
    if meta.padding > 0 {
        // A custom section is valid in both modules and components (id 0).
        let name = b"padding";
        let mut payload = vec![name.len() as u8];
        payload.extend_from_slice(name);
        payload.resize(payload.len() + meta.padding, 0xAB);
        out.push(0);
        leb128(&mut out, payload.len() as u64);
        out.extend_from_slice(&payload);
    }
    out
}

fn leb128(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Writes `bytes` to a file in a fresh temp dir; returns both (keep the dir alive).
pub fn temp_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write fixture");
    (dir, path)
}

/// The path of a test fixture handler built by host/build.rs.
pub fn fixture_handler(file: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/components/wasm32-wasip2/release");
    let path = dir.join(file);
    assert!(
        path.exists(),
        "fixture handler {} was not built",
        path.display()
    );
    path
}

/// The SHA-256 of `bytes` in lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// What a [`Proxy`] does with a request.
#[derive(Debug)]
pub enum Proxied {
    /// Passes it to the server and its answer back.
    Forward,
    /// Passes it on, and the answer's body back through this function.
    Alter(fn(Vec<u8>) -> Vec<u8>),
    /// Never answers (until the proxy is dropped): the client waits.
    Hold,
}

/// An HTTP proxy in front of a server, for what a client receives altered or
/// held back. Each answer closes its connection; requests with a body are
/// not supported (clients only read through it).
#[derive(Debug)]
pub struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The paths (with query) of the requests held so far.
    pub held: mpsc::Receiver<String>,
    /// Dropped with the proxy, which ends every held request.
    _release: mpsc::Sender<()>,
}

impl Proxy {
    /// Proxies to `upstream`, deciding by `rule(method, path with query)`.
    pub fn start(upstream: &str, rule: fn(&str, &str) -> Proxied) -> Self {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let (release, released) = mpsc::channel::<()>();
        let released = std::sync::Arc::new(std::sync::Mutex::new(released));
        let (held_tx, held) = mpsc::channel();
        let upstream = upstream.to_string();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let (upstream, released, held_tx) =
                    (upstream.clone(), released.clone(), held_tx.clone());
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).is_err() {
                        return;
                    }
                    let mut parts = request_line.split_whitespace();
                    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
                        return;
                    };
                    let mut headers = Vec::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).is_err() {
                            return;
                        }
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            headers.push((name.trim().to_string(), value.trim().to_string()));
                        }
                    }
                    let alter = match rule(method, path) {
                        Proxied::Forward => None,
                        Proxied::Alter(alter) => Some(alter),
                        Proxied::Hold => {
                            let _ = held_tx.send(path.to_string());
                            // Wait until the proxy is dropped, then hang up.
                            let _ = released.lock().map(|r| r.recv());
                            return;
                        }
                    };
                    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
                    let mut request = client().request(method, format!("{upstream}{path}"));
                    for (name, value) in &headers {
                        let skip = ["host", "connection", "content-length", "accept-encoding"];
                        if !skip.contains(&name.to_ascii_lowercase().as_str()) {
                            request = request.header(name, value);
                        }
                    }
                    let Ok(response) = request.send() else { return };
                    let status = response.status();
                    let mut head = format!(
                        "HTTP/1.1 {} {}\r\n",
                        status.as_u16(),
                        status.canonical_reason().unwrap_or("")
                    );
                    for (name, value) in response.headers() {
                        let skip = ["transfer-encoding", "content-length", "connection"];
                        if !skip.contains(&name.as_str()) {
                            let value = value.to_str().unwrap_or_default();
                            head.push_str(&format!("{name}: {value}\r\n"));
                        }
                    }
                    let Ok(body) = response.bytes() else { return };
                    let mut body = body.to_vec();
                    if let Some(alter) = alter {
                        body = alter(body);
                    }
                    head.push_str(&format!(
                        "content-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    ));
                    let _ = stream
                        .write_all(head.as_bytes())
                        .and_then(|()| stream.write_all(&body));
                });
            }
        });
        Proxy {
            url,
            held,
            _release: release,
        }
    }
}
