//! The store's logic against a real SQLite (rusqlite with its bundled
//! SQLite, which is what Spin's own SQLite is, run one statement at a time
//! as the SQL driver runs them) and a key-value store in memory.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Barrier};

use crate::db::Value;
use depot_protocol::tlog::{Checkpoint, root as tlog_root, verify_consistency, verify_inclusion};
use sha2::{Digest as _, Sha256, Sha512};

use crate::blobs::{self, KV_CHUNK, Kv, MAX_CHUNK, SMALL_BLOB};
use crate::db::{Db, Sql};
use crate::error::StoreError;
use crate::types::{
    Access, Action, AnnotationContent, Entry, LogEntry, OciManifest, ReleaseContent, TokenGrant,
};
use crate::types::{ContentKind, Metadata, OciArtifact, Release, SearchQuery};
use crate::{entries, log, oci, search, tlog, tokens};

/// The engines the store's tests run on, each test once on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    /// A SQLite file through the embedded driver, as Spin's SQLite runs it.
    Sqlite,
    /// A database of its own on the PostgreSQL server named by
    /// `DEPOT_TEST_DATABASE_URL` (`scripts/test` starts one when unset).
    Postgres,
}

/// Where a test's database is, removed when dropped.
enum TempDb {
    File(PathBuf),
    Postgres { admin: String, name: String },
}

/// The URL of the test server's database `name`.
fn postgres_url(name: &str) -> String {
    let url = std::env::var("DEPOT_TEST_DATABASE_URL").expect(
        "DEPOT_TEST_DATABASE_URL names no PostgreSQL server for the store's tests; run \
         ./scripts/test, which starts one, or set it (postgres://user@127.0.0.1:5432/postgres)",
    );
    crate::postgres_driver::with_database(&url, name)
}

impl TempDb {
    fn new(engine: Engine) -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("depot_store_test_{}_{n}", std::process::id());
        match engine {
            Engine::Sqlite => Self::File(std::env::temp_dir().join(format!("{name}.db"))),
            Engine::Postgres => {
                let admin = postgres_url("postgres");
                let server = crate::postgres_driver::Postgres::connect(&admin).unwrap();
                server
                    .run(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"), &[])
                    .unwrap();
                server.run(&format!("CREATE DATABASE {name}"), &[]).unwrap();
                Self::Postgres { admin, name }
            }
        }
    }

    fn engine(&self) -> Engine {
        match self {
            Self::File(_) => Engine::Sqlite,
            Self::Postgres { .. } => Engine::Postgres,
        }
    }

    /// A new connection through the engine's driver.
    fn connect(&self) -> Box<dyn Sql> {
        match self {
            Self::File(path) => {
                Box::new(crate::rusqlite_driver::Sqlite::open(path, false).unwrap())
            }
            Self::Postgres { name, .. } => {
                Box::new(crate::postgres_driver::Postgres::connect(&postgres_url(name)).unwrap())
            }
        }
    }

    /// A new connection, as each instance has.
    fn open(&self) -> Db {
        self.open_with(|_| true)
    }

    /// A new connection that refuses the statements `allowed` refuses.
    fn open_with(&self, allowed: fn(&str) -> bool) -> Db {
        let conn = self.connect();
        crate::open(Box::new(Refusing { conn, allowed }), not_so_random).unwrap()
    }

    /// Runs `sql` on the database behind the store's back.
    fn execute(&self, sql: &str, params: &[Value]) {
        self.connect().run(sql, params).unwrap();
    }

    /// The rows of `table`; PostgreSQL has no `release_text` (no FTS5).
    fn count(&self, table: &str) -> i64 {
        if self.engine() == Engine::Postgres && table == "release_text" {
            return 0;
        }
        match self
            .connect()
            .run(&format!("SELECT COUNT(*) FROM {table}"), &[])
            .unwrap()[0][0]
        {
            Value::Integer(n) => n,
            ref other => panic!("a count is {other:?}"),
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        match self {
            Self::File(path) => {
                for suffix in ["", "-journal", "-wal", "-shm"] {
                    let mut path = path.clone().into_os_string();
                    path.push(suffix);
                    let _ = std::fs::remove_file(path);
                }
            }
            Self::Postgres { admin, name } => {
                if let Ok(server) = crate::postgres_driver::Postgres::connect(admin) {
                    let _ =
                        server.run(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"), &[]);
                }
            }
        }
    }
}

/// Each test, once on each engine: `sqlite::name` and `postgres::name`.
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(super::Engine::Sqlite)
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                super::$name(super::Engine::Postgres)
            })*
        }
    };
}

/// Distinct bytes on every call (the component draws on WASI's random).
fn not_so_random(n: usize) -> Vec<u8> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut bytes = Vec::with_capacity(n);
    while bytes.len() < n {
        let draw = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes.extend_from_slice(&Sha256::digest(draw.to_le_bytes()));
    }
    bytes.truncate(n);
    bytes
}

/// A driver refusing the statements `allowed` refuses.
struct Refusing {
    conn: Box<dyn Sql>,
    allowed: fn(&str) -> bool,
}

impl Sql for Refusing {
    fn run(&self, statement: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, String> {
        if !(self.allowed)(statement) {
            return Err(format!("refused: {statement}"));
        }
        self.conn.run(statement, params)
    }

    fn dialect(&self) -> crate::db::Dialect {
        self.conn.dialect()
    }
}

/// A key-value store in memory, whose writes can be made to fail.
#[derive(Default)]
struct MemKv {
    map: RefCell<BTreeMap<String, Vec<u8>>>,
    /// Writes left before every write fails; none: never.
    writes_left: Cell<Option<u32>>,
    /// Whether `get` misses blob headers, as a writer that looked just before
    /// another one stored the same content does.
    late_headers: Cell<bool>,
}

impl MemKv {
    fn keys(&self) -> Vec<String> {
        self.map.borrow().keys().cloned().collect()
    }
}

impl Kv for MemKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        if self.late_headers.get() && key.starts_with("blob:") {
            return Ok(None);
        }
        Ok(self.map.borrow().get(key).cloned())
    }

    /// A conditional write, as S3's `If-None-Match: *`.
    fn set_new(&self, key: &str, value: &[u8]) -> Result<bool, String> {
        if self.map.borrow().contains_key(key) {
            return Ok(false);
        }
        self.set(key, value).map(|()| true)
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        match self.writes_left.get() {
            Some(0) => return Err("the disk is full".into()),
            Some(n) => self.writes_left.set(Some(n - 1)),
            None => {}
        }
        assert!(value.len() <= KV_CHUNK, "{key} holds {} bytes", value.len());
        self.map.borrow_mut().insert(key.into(), value.to_vec());
        Ok(())
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        self.map.borrow_mut().remove(key);
        Ok(())
    }
}

fn digest(n: u8) -> String {
    format!("sha256:{}", hex::encode([n; 32]))
}

fn metadata(n: u8, description: Option<&str>) -> Metadata {
    Metadata {
        kind: ContentKind::Component,
        size: 100 + u64::from(n),
        digest: digest(n),
        name: Some("greet".into()),
        description: description.map(Into::into),
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
    }
}

fn release_with(name: &str, version: &str, n: u8, description: Option<&str>) -> Entry {
    let metadata = metadata(n, description);
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

fn release(name: &str, version: &str, n: u8) -> Entry {
    release_with(name, version, n, None)
}

fn change(name: &str, version: &str, action: Action) -> Entry {
    Entry {
        name: name.into(),
        version: version.into(),
        action,
    }
}

/// Appends at the package's current head.
fn append(db: &Db, entry: Entry) -> Result<LogEntry, StoreError> {
    let head = log::package_head(db, &entry.name)?;
    log::append(db, entry, head)
}

fn all_releases(db: &Db) -> Vec<Release> {
    log::list_packages(db, None, 1000)
        .unwrap()
        .iter()
        .flat_map(|p| log::list_releases(db, &p.name).unwrap())
        .collect()
}

fn racing_appends_for_one_version_let_exactly_one_win(engine: Engine) {
    let file = Arc::new(TempDb::new(engine));
    file.open();
    let racers = 8;
    let barrier = Arc::new(Barrier::new(racers));
    let outcomes: Vec<_> = (0..racers)
        .map(|i| {
            let (file, barrier) = (file.clone(), barrier.clone());
            // Each racer is an instance with its own connection.
            std::thread::spawn(move || {
                let db = file.open();
                let head = log::package_head(&db, "example:greet").unwrap();
                barrier.wait();
                log::append(&db, release("example:greet", "1.0.0", i as u8), head)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    for outcome in outcomes.iter().filter(|o| o.is_err()) {
        assert_eq!(outcome, &Err(StoreError::HeadMoved { current: 1 }));
    }
    let db = file.open();
    assert_eq!(entries::read_log(&db, 0, 100).unwrap().len(), 1);
    assert_eq!(log::list_releases(&db, "example:greet").unwrap().len(), 1);
}

fn an_append_at_a_stale_head_is_refused_with_the_current_head(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    append(&db, release("example:greet", "1.0.0", 1)).unwrap();
    let err = log::append(&db, release("example:greet", "1.1.0", 2), 0).unwrap_err();
    assert_eq!(err, StoreError::HeadMoved { current: 1 });
    // Another package's head is independent.
    log::append(&db, release("example:other", "1.0.0", 3), 0).unwrap();
}

fn a_refused_release_leaves_nothing_behind(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    append(&db, release("example:greet", "1.0.0", 1)).unwrap();
    let before = ["log", "releases", "release_interfaces", "release_text"].map(|t| file.count(t));
    let err = append(&db, release("example:greet", "1.0.0", 2)).unwrap_err();
    assert!(matches!(err, StoreError::VersionExists { .. }), "{err:?}");
    let err = append(&db, change("example:greet", "2.0.0", Action::Yank)).unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let after = ["log", "releases", "release_interfaces", "release_text"].map(|t| file.count(t));
    assert_eq!(before, after);
    let kept = log::get_release(&db, "example:greet", "1.0.0")
        .unwrap()
        .unwrap();
    assert_eq!(kept.digest, digest(1));
    // The connection is usable after the rollback.
    append(&db, release("example:greet", "1.1.0", 3)).unwrap();
    assert_eq!(log::package_head(&db, "example:greet").unwrap(), 2);
}

fn a_failure_midway_through_an_append_rolls_it_back(engine: Engine) {
    let file = TempDb::new(engine);
    file.open();
    // The last write of an append (the log row) fails.
    let db = file.open_with(|statement| !statement.starts_with("INSERT INTO log"));
    let err = append(&db, release("example:greet", "1.0.0", 1)).unwrap_err();
    assert!(matches!(err, StoreError::Storage { .. }), "{err:?}");
    for table in [
        "log",
        "releases",
        "packages",
        "release_interfaces",
        "release_text",
    ] {
        assert_eq!(file.count(table), 0, "{table}");
    }
    append(&file.open(), release("example:greet", "1.0.0", 1)).unwrap();
}

fn the_log_numbers_entries_from_one_and_reads_in_pages(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    append(&db, release("example:greet", "1.0.0", 1)).unwrap();
    let _ = append(&db, release("example:greet", "1.0.0", 2));
    append(&db, change("example:greet", "1.0.0", Action::Yank)).unwrap();
    let seqs: Vec<u64> = entries::read_log(&db, 0, 100)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, [1, 2]);
    assert_eq!(entries::read_log(&db, 1, 100).unwrap()[0].seq, 2);
    assert_eq!(entries::read_log(&db, 0, 1).unwrap().len(), 1);
    assert!(entries::has_entry_after(&db, 1).unwrap());
    assert!(!entries::has_entry_after(&db, 2).unwrap());
    let entry = &entries::read_log(&db, 1, 1).unwrap()[0].entry;
    assert_eq!(entry.action, Action::Yank);
}

#[test]
fn log_entries_are_kept_as_the_native_store_keeps_them() {
    // The JSON of the native store's `action` column, so a log moves between them.
    let annotate = Action::Annotate(AnnotationContent {
        type_: "review".into(),
        value: "1".into(),
        annotator: Some("5e1f0c9a2b7d".into()),
    });
    assert_eq!(serde_json::to_string(&Action::Yank).unwrap(), "\"Yank\"");
    assert_eq!(
        serde_json::to_string(&annotate).unwrap(),
        r#"{"Annotate":{"type_":"review","value":"1","annotator":"5e1f0c9a2b7d"}}"#
    );
    // An entry logged before annotators were reads as one without.
    let old: Action =
        serde_json::from_str(r#"{"Annotate":{"type_":"review","value":"1"}}"#).unwrap();
    assert_eq!(
        old,
        Action::Annotate(AnnotationContent {
            type_: "review".into(),
            value: "1".into(),
            annotator: None,
        })
    );
}

fn a_release_is_found_up_to_build_metadata_only(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    append(&db, release("example:greet", "1.0.0+a", 1)).unwrap();
    append(&db, release("example:greet", "1.0.0-RC.1", 2)).unwrap();
    append(&db, release("example:greet", "1.0.10", 3)).unwrap();
    let found = |version: &str| {
        log::find_release(&db, "example:greet", version)
            .unwrap()
            .map(|release| release.version)
    };
    assert_eq!(found("1.0.0+b").as_deref(), Some("1.0.0+a"));
    assert_eq!(found("1.0.0").as_deref(), Some("1.0.0+a"));
    assert_eq!(found("1.0.1"), None);
    assert_eq!(found("1.0.0-rc.1"), None);
    assert_eq!(found("1.0.0-RC.1+x").as_deref(), Some("1.0.0-RC.1"));
}

fn the_package_summary_follows_releases_and_yanks(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    for (version, n) in [("1.0.0", 1), ("1.10.0", 2), ("1.9.0", 3), ("2.0.0-rc.1", 4)] {
        append(&db, release("example:greet", version, n)).unwrap();
    }
    let summary = || log::list_packages(&db, None, 10).unwrap().remove(0);
    assert_eq!(summary().latest.as_deref(), Some("1.10.0"));
    assert_eq!(summary().versions, 4);
    for version in ["1.10.0", "1.9.0", "1.0.0"] {
        append(&db, change("example:greet", version, Action::Yank)).unwrap();
    }
    assert_eq!(summary().latest.as_deref(), Some("2.0.0-rc.1"));
    let yank = append(&db, change("example:greet", "2.0.0-rc.1", Action::Yank)).unwrap();
    assert_eq!(summary().latest, None);
    assert_eq!(summary().updated_at, yank.time);
    assert_eq!(log::package_head(&db, "example:greet").unwrap(), yank.seq);
    append(&db, change("example:greet", "1.9.0", Action::Unyank)).unwrap();
    assert_eq!(summary().latest.as_deref(), Some("1.9.0"));
    for (name, n) in [("b:x", 5), ("a:x", 6)] {
        append(&db, release(name, "1.0.0", n)).unwrap();
    }
    let names = |after, limit| -> Vec<String> {
        log::list_packages(&db, after, limit)
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect()
    };
    assert_eq!(names(None, 2), ["a:x", "b:x"]);
    assert_eq!(names(Some("b:x"), 2), ["example:greet"]);
}

fn annotations_takedowns_and_digests_are_indexed(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    append(&db, release("example:greet", "1.0.0", 7)).unwrap();
    append(&db, release("example:copy", "1.0.0", 7)).unwrap();
    for (value, annotator) in [("1", None), ("\"two\"", Some("5e1f0c9a2b7d"))] {
        let annotate = Action::Annotate(AnnotationContent {
            type_: "review".into(),
            value: value.into(),
            annotator: annotator.map(str::to_string),
        });
        append(&db, change("example:greet", "1.0.0", annotate)).unwrap();
    }
    let greet = log::get_release(&db, "example:greet", "1.0.0")
        .unwrap()
        .unwrap();
    let values: Vec<(&str, Option<&str>)> = greet
        .annotations
        .iter()
        .map(|a| (a.value.as_str(), a.annotator.as_deref()))
        .collect();
    assert_eq!(values, [("1", None), ("\"two\"", Some("5e1f0c9a2b7d"))]);
    assert!(greet.annotations[0].seq < greet.annotations[1].seq);
    // Every read of a release carries its own annotations, and only its own
    // (the copy has the same content).
    let listed = log::list_releases(&db, "example:greet").unwrap();
    assert_eq!(listed[0].annotations, greet.annotations);
    let found = search::search(&db, &query(Some("example"))).unwrap().0;
    let annotated: Vec<(&str, usize)> = found
        .iter()
        .map(|r| (r.name.as_str(), r.annotations.len()))
        .collect();
    assert_eq!(annotated, [("example:copy", 0), ("example:greet", 2)]);
    assert_eq!(
        log::release_by_digest(&db, &digest(7))
            .unwrap()
            .unwrap()
            .name,
        "example:greet"
    );

    let takedown = Action::Takedown("malware".into());
    append(&db, change("example:greet", "1.0.0", takedown)).unwrap();
    let again = Action::Takedown("twice".into());
    append(&db, change("example:greet", "1.0.0", again)).unwrap();
    let down = log::get_release(&db, "example:greet", "1.0.0")
        .unwrap()
        .unwrap();
    assert_eq!(down.takedown.unwrap().reason, "malware");
    // A release still up comes first.
    assert_eq!(
        log::release_by_digest(&db, &digest(7))
            .unwrap()
            .unwrap()
            .name,
        "example:copy"
    );
    assert!(log::release_by_digest(&db, &digest(8)).unwrap().is_none());
}

fn indexes_rebuilt_from_the_log_equal_the_incremental_ones(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    append(
        &db,
        release_with("example:greet", "1.0.0", 1, Some("Says hello")),
    )
    .unwrap();
    append(&db, release("example:greet", "1.1.0", 2)).unwrap();
    append(&db, release("example:other", "0.1.0", 3)).unwrap();
    append(&db, change("example:greet", "1.1.0", Action::Yank)).unwrap();
    let annotate = Action::Annotate(AnnotationContent {
        type_: "review".into(),
        value: "1".into(),
        annotator: None,
    });
    append(&db, change("example:greet", "1.0.0", annotate)).unwrap();
    append(
        &db,
        change("example:other", "0.1.0", Action::Takedown("x".into())),
    )
    .unwrap();
    // Key entries name a namespace or a package and no version, and stay out
    // of the package summaries.
    for (scope, action) in [
        ("example", Action::GrantKey("ed25519:A".into())),
        ("example:greet", Action::GrantKey("ed25519:B".into())),
        ("example", Action::RevokeKey("ed25519:A".into())),
        ("example", Action::RequireSignatures(true)),
    ] {
        append(&db, change(scope, "", action)).unwrap();
    }
    let revoke_again = change("example", "", Action::RevokeKey("ed25519:A".into()));
    assert!(append(&db, revoke_again).is_err());
    let trust = log::namespace_trust(&db, "example").unwrap();
    assert!(trust.require_signatures);
    let keys: Vec<(&str, &str)> = trust
        .grants
        .iter()
        .map(|g| (g.scope.as_str(), g.key.as_str()))
        .collect();
    assert_eq!(keys, [("example:greet", "ed25519:B")]);
    let incremental = (
        log::list_packages(&db, None, 100).unwrap(),
        all_releases(&db),
    );
    match engine {
        Engine::Sqlite => db.execute("PRAGMA user_version = 0", &[], "test").unwrap(),
        Engine::Postgres => db
            .execute("UPDATE depot_meta SET index_version = 0", &[], "test")
            .unwrap(),
    }
    drop(db);
    let db = file.open();
    assert_eq!(
        (
            log::list_packages(&db, None, 100).unwrap(),
            all_releases(&db)
        ),
        incremental
    );
    let hello = query(Some("hello"));
    assert_eq!(search::search(&db, &hello).unwrap().0.len(), 1);
    assert_eq!(log::namespace_trust(&db, "example").unwrap(), trust);
}

fn search_by_namespace_finds_only_that_namespace(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    for (n, name) in ["acme:toml", "acme-extra:toml", "acmf:toml", "zed:toml"]
        .into_iter()
        .enumerate()
    {
        append(&db, release(name, "1.0.0", n as u8)).unwrap();
    }
    let mut in_acme = query(None);
    in_acme.namespace = Some("acme".into());
    assert_eq!(found(&db, &in_acme), ["acme:toml"]);
    in_acme.text = Some("toml".into());
    assert_eq!(found(&db, &in_acme), ["acme:toml"]);
}

fn stats_count_packages_releases_and_the_head(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    let empty = log::stats(&db).unwrap();
    assert_eq!((empty.packages, empty.releases, empty.head), (0, 0, 0));
    append(&db, release("example:greet", "1.0.0", 1)).unwrap();
    append(&db, release("example:greet", "1.1.0", 2)).unwrap();
    append(&db, release("example:other", "0.1.0", 3)).unwrap();
    append(&db, change("example:greet", "1.1.0", Action::Yank)).unwrap();
    let stats = log::stats(&db).unwrap();
    assert_eq!((stats.packages, stats.releases, stats.head), (2, 3, 4));
}

fn query(text: Option<&str>) -> SearchQuery {
    SearchQuery {
        text: text.map(Into::into),
        exports: None,
        imports: None,
        license: None,
        namespace: None,
        kind: None,
        include_yanked: false,
        include_taken_down: false,
        after: None,
        limit: 10,
    }
}

/// The packages of a search, in order.
fn found(db: &Db, query: &SearchQuery) -> Vec<String> {
    let (releases, _) = search::search(db, query).unwrap();
    let mut names: Vec<String> = releases.into_iter().map(|r| r.name).collect();
    names.dedup();
    names
}

/// Searches by text rank the exact name, then names starting with the text,
/// then word matches, with and without FTS5.
fn text_search_ranks_exact_names_then_prefixes_then_words(engine: Engine) {
    // PostgreSQL has no FTS5: it always searches words without it.
    let with_fts5: &[bool] = match engine {
        Engine::Sqlite => &[true, false],
        Engine::Postgres => &[false],
    };
    for &fts5 in with_fts5 {
        let file = TempDb::new(engine);
        let db = if fts5 {
            file.open()
        } else {
            file.open_with(|statement| !statement.contains("fts5"))
        };
        assert_eq!(db.text_index(), fts5);
        let packages = [
            ("acme:toml", "A parser for TOML documents"),
            ("acme:toml-edit", "Edits TOML and keeps its format"),
            ("zed:markdown", "Renders Markdown to HTML"),
            ("acme:web", "A small web server"),
            ("other:tomlish", "Almost TOML"),
        ];
        for (n, (name, description)) in packages.into_iter().enumerate() {
            append(&db, release_with(name, "1.0.0", n as u8, Some(description))).unwrap();
        }
        let by_text = |text| found(&db, &query(Some(text)));
        assert_eq!(
            by_text("acme:toml"),
            ["acme:toml", "acme:toml-edit"],
            "fts5: {fts5}"
        );
        assert_eq!(
            by_text("toml"),
            ["acme:toml", "acme:toml-edit", "other:tomlish"],
            "fts5: {fts5}"
        );
        assert_eq!(by_text("markdown"), ["zed:markdown"], "fts5: {fts5}");
        assert_eq!(by_text("web server"), ["acme:web"], "fts5: {fts5}");
        assert_eq!(by_text("TOML documents"), ["acme:toml"], "fts5: {fts5}");
        assert!(by_text("nothing").is_empty(), "fts5: {fts5}");

        // Pages, with the cursor the previous one ended at.
        let mut page = query(Some("toml"));
        page.limit = 2;
        let (first, next) = search::search(&db, &page).unwrap();
        assert_eq!(first.len(), 2);
        page.after = next;
        assert_eq!(found(&db, &page), ["other:tomlish"]);
        page.after = Some("nonsense".into());
        assert!(matches!(
            search::search(&db, &page),
            Err(StoreError::BadRequest(_))
        ));
    }
}

fn search_filters_by_interface_license_and_yank(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    append(&db, release("example:greet", "1.0.0", 1)).unwrap();
    let mut other = release("example:other", "1.0.0", 2);
    if let Action::Release(content) = &mut other.action {
        content.metadata.exports = vec!["example:other/api@1.0.0".into()];
        content.metadata.licenses = Some("(MIT OR Apache-2.0)".into());
    }
    append(&db, other).unwrap();
    let mut by_export = query(None);
    by_export.exports = Some("example:greet/greeter".into());
    assert_eq!(found(&db, &by_export), ["example:greet"]);
    by_export.exports = Some("example:other/api@1.0.0".into());
    assert_eq!(found(&db, &by_export), ["example:other"]);
    let mut by_license = query(None);
    by_license.license = Some("mit".into());
    assert_eq!(found(&db, &by_license), ["example:other"]);
    append(&db, change("example:other", "1.0.0", Action::Yank)).unwrap();
    assert!(found(&db, &by_license).is_empty());
    by_license.include_yanked = true;
    assert_eq!(found(&db, &by_license), ["example:other"]);
}

fn oci_manifests_are_kept_apart_from_the_log(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    let manifest = |n: u8, subject: Option<String>| OciManifest {
        repository: "example:greet".into(),
        digest: digest(n),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        size: 100,
        artifact_type: Some("application/vnd.example.sbom".into()),
        subject,
        references: vec![digest(n + 100)],
    };
    oci::put_manifest(&db, &manifest(1, None), Some("latest")).unwrap();
    oci::put_manifest(&db, &manifest(2, Some(digest(1))), None).unwrap();
    assert_eq!(
        oci::get_manifest(&db, "example:greet", "latest").unwrap(),
        Some(manifest(1, None))
    );
    assert_eq!(
        oci::get_manifest(&db, "example:greet", &digest(2)).unwrap(),
        Some(manifest(2, Some(digest(1))))
    );
    assert!(oci::references(&db, "example:greet", &digest(101)).unwrap());
    assert!(!oci::references(&db, "example:other", &digest(101)).unwrap());
    oci::link_blob(&db, "example:other", &digest(101)).unwrap();
    assert!(oci::references(&db, "example:other", &digest(101)).unwrap());
    assert!(oci::unlink_blob(&db, "example:other", &digest(101)).unwrap());
    assert!(!oci::unlink_blob(&db, "example:other", &digest(101)).unwrap());
    assert_eq!(
        oci::list_referrers(&db, "example:greet", &digest(1))
            .unwrap()
            .len(),
        1
    );
    assert!(entries::read_log(&db, 0, 10).unwrap().is_empty());
    assert_eq!(oci::list_tags(&db, "example:greet").unwrap(), ["latest"]);
    assert!(oci::delete_manifest(&db, "example:greet", &digest(1)).unwrap());
    assert!(oci::list_tags(&db, "example:greet").unwrap().is_empty());
    assert!(oci::has_content(&db, "example:greet").unwrap());
    assert!(!oci::delete_manifest(&db, "example:greet", "latest").unwrap());
}

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn store(db: &Db, kv: &MemKv, content: &[u8], chunk: usize) -> Result<String, StoreError> {
    let mut writer = blobs::BlobWriter::new(hex::encode(Sha256::digest(content))[..32].into());
    for part in content.chunks(chunk) {
        writer.write(kv, part)?;
    }
    Ok(writer.finish(db, kv)?.to_string())
}

fn read(db: &Db, kv: &MemKv, digest: &str, offset: u64, len: u32) -> Vec<u8> {
    let mut reader = blobs::open_blob(db, kv, digest, offset).unwrap();
    let mut all = Vec::new();
    loop {
        let chunk = reader.read(kv, len).unwrap();
        if chunk.is_empty() {
            return all;
        }
        assert!(chunk.len() <= len.min(MAX_CHUNK) as usize);
        all.extend(chunk);
    }
}

fn small_blobs_live_in_sqlite_and_large_ones_in_chunks(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    let kv = MemKv::default();
    let small = bytes(SMALL_BLOB, 1);
    let large = bytes(2 * KV_CHUNK + 12345, 2);
    let small_digest = store(&db, &kv, &small, 1000).unwrap();
    assert!(kv.keys().is_empty());
    assert_eq!(file.count("small_blobs"), 1);
    let large_digest = store(&db, &kv, &large, MAX_CHUNK as usize).unwrap();
    assert_eq!(small_digest, sha256(&small));
    assert_eq!(large_digest, sha256(&large));
    // Three chunks and the header.
    assert_eq!(kv.keys().len(), 4);

    for (digest, content) in [(&small_digest, &small), (&large_digest, &large)] {
        assert_eq!(
            blobs::open_blob(&db, &kv, digest, 0).unwrap().size(),
            content.len() as u64
        );
        for (offset, len) in [(0, 1000), (5, MAX_CHUNK), (KV_CHUNK - 1, u32::MAX)] {
            let offset = offset.min(content.len());
            assert_eq!(
                read(&db, &kv, digest, offset as u64, len),
                content[offset..]
            );
        }
        let end = content.len() as u64;
        assert!(read(&db, &kv, digest, end, 10).is_empty());
        assert!(matches!(
            blobs::open_blob(&db, &kv, digest, end + 1),
            Err(StoreError::BadRequest(_))
        ));
    }
    // The same content again keeps one copy.
    let again = {
        let mut writer = blobs::BlobWriter::new("another".into());
        writer.write(&kv, &large).unwrap();
        writer.finish(&db, &kv).unwrap().to_string()
    };
    assert_eq!(again, large_digest);
    assert_eq!(kv.keys().len(), 4);
    // A writer that found no copy because another stored it just after it
    // looked: the create-only header write keeps the first copy, and the
    // second writer's chunks go.
    let header = kv
        .map
        .borrow()
        .get(&format!("blob:{large_digest}"))
        .cloned();
    kv.late_headers.set(true);
    let raced = {
        let mut writer = blobs::BlobWriter::new("racing".into());
        writer.write(&kv, &large).unwrap();
        writer.finish(&db, &kv).unwrap().to_string()
    };
    kv.late_headers.set(false);
    assert_eq!(raced, large_digest);
    assert_eq!(kv.keys().len(), 4, "{:?}", kv.keys());
    assert_eq!(
        kv.map
            .borrow()
            .get(&format!("blob:{large_digest}"))
            .cloned(),
        header
    );
    assert_eq!(read(&db, &kv, &large_digest, 0, MAX_CHUNK), large);
    assert!(matches!(
        blobs::open_blob(&db, &kv, &sha256(b"never stored"), 0),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        blobs::open_blob(&db, &kv, "sha256:short", 0),
        Err(StoreError::InvalidDigest(_))
    ));
}

fn a_blob_is_whole_under_its_digest_or_absent(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    let kv = MemKv::default();
    let content = bytes(3 * KV_CHUNK, 3);
    // Every chunk is written, then the header write fails.
    kv.writes_left.set(Some(3));
    let err = store(&db, &kv, &content, MAX_CHUNK as usize).unwrap_err();
    assert!(matches!(err, StoreError::Storage { .. }), "{err:?}");
    assert!(kv.keys().is_empty(), "{:?}", kv.keys());
    assert!(matches!(
        blobs::open_blob(&db, &kv, &sha256(&content), 0),
        Err(StoreError::NotFound(_))
    ));
    // A chunk write fails: what was written goes, the writer is done.
    kv.writes_left.set(Some(1));
    let mut writer = blobs::BlobWriter::new("failing".into());
    let err = writer.write(&kv, &content).unwrap_err();
    assert!(matches!(err, StoreError::Storage { .. }), "{err:?}");
    assert!(kv.keys().is_empty(), "{:?}", kv.keys());
    assert!(writer.finish(&db, &kv).is_err());
}

fn an_unfinished_writer_leaves_nothing_and_a_finished_one_refuses_more(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    let kv = MemKv::default();
    let mut writer = blobs::BlobWriter::new("unfinished".into());
    writer.write(&kv, &bytes(KV_CHUNK + 1, 4)).unwrap();
    assert!(writer.wrote_chunks());
    writer.abandon(&kv);
    assert!(kv.keys().is_empty());

    let mut writer = blobs::BlobWriter::new("finished".into());
    writer.finish(&db, &kv).unwrap();
    assert!(matches!(
        writer.write(&kv, b"x"),
        Err(StoreError::BadRequest(_))
    ));
    assert!(matches!(
        writer.finish(&db, &kv),
        Err(StoreError::BadRequest(_))
    ));
    let oversized = vec![0; MAX_CHUNK as usize + 1];
    let mut writer = blobs::BlobWriter::new("oversized".into());
    assert!(matches!(
        writer.write(&kv, &oversized),
        Err(StoreError::BadRequest(_))
    ));
}

const UPLOAD: &str = "0123456789abcdef0123456789abcdef";

fn an_upload_spans_writers_and_becomes_the_blob_it_hashes_to(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    let kv = MemKv::default();
    let id = blobs::start_upload(&db, &kv, UPLOAD.into()).unwrap();
    let content = bytes(3 * KV_CHUNK + 17, 5);
    // Writes that straddle chunk boundaries, each from a fresh writer (a request).
    for part in content.chunks(100_003) {
        let mut writer = blobs::open_upload(&db, &kv, &id).unwrap();
        writer.write(&db, &kv, part).unwrap();
        writer.write(&db, &kv, &[]).unwrap();
    }
    assert_eq!(blobs::upload_size(&db, &id).unwrap(), content.len() as u64);
    let wrong = digest(0);
    assert!(matches!(
        blobs::complete_upload(&db, &kv, &id, &wrong),
        Err(StoreError::DigestMismatch { .. })
    ));
    // Kept after a mismatch.
    assert_eq!(blobs::upload_size(&db, &id).unwrap(), content.len() as u64);
    let expected = sha256(&content);
    let digest = blobs::complete_upload(&db, &kv, &id, &expected).unwrap();
    assert_eq!(digest.to_string(), expected);
    assert_eq!(read(&db, &kv, &expected, 0, MAX_CHUNK), content);
    assert!(matches!(
        blobs::upload_size(&db, &id),
        Err(StoreError::NotFound(_))
    ));

    let id = blobs::start_upload(&db, &kv, UPLOAD.replace('0', "1")).unwrap();
    let mut writer = blobs::open_upload(&db, &kv, &id).unwrap();
    writer.write(&db, &kv, b"long hash").unwrap();
    assert_eq!(writer.size(), 9);
    let sha512 = format!("sha512:{}", hex::encode(Sha512::digest(b"long hash")));
    blobs::complete_upload(&db, &kv, &id, &sha512).unwrap();
    assert_eq!(read(&db, &kv, &sha512, 0, 100), b"long hash");

    let cancelled = blobs::start_upload(&db, &kv, UPLOAD.replace('0', "2")).unwrap();
    blobs::open_upload(&db, &kv, &cancelled)
        .unwrap()
        .write(&db, &kv, &bytes(KV_CHUNK + 1, 6))
        .unwrap();
    let keys = kv.keys().len();
    blobs::cancel_upload(&db, &kv, &cancelled).unwrap();
    assert_eq!(kv.keys().len(), keys - 2);
    for id in [cancelled.as_str(), "chunk:x", "nonsense"] {
        assert!(
            matches!(
                blobs::open_upload(&db, &kv, id),
                Err(StoreError::NotFound(_))
            ),
            "{id}"
        );
        assert!(matches!(
            blobs::cancel_upload(&db, &kv, id),
            Err(StoreError::NotFound(_))
        ));
    }
}

fn a_write_to_an_upload_that_moved_on_is_refused(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    let kv = MemKv::default();
    let id = blobs::start_upload(&db, &kv, UPLOAD.into()).unwrap();
    let mut first = blobs::open_upload(&db, &kv, &id).unwrap();
    let mut second = blobs::open_upload(&db, &kv, &id).unwrap();
    first.write(&db, &kv, b"one").unwrap();
    assert!(matches!(
        second.write(&db, &kv, b"two"),
        Err(StoreError::BadRequest(_))
    ));
    // The refused write left what the first one wrote.
    let one = format!("sha256:{}", hex::encode(Sha256::digest(b"one")));
    let completed = blobs::complete_upload(&db, &kv, &id, &one).unwrap();
    assert_eq!(completed.to_string(), one);
    assert_eq!(read(&db, &kv, &one, 0, 10), b"one");

    let id = blobs::start_upload(&db, &kv, UPLOAD.into()).unwrap();
    let mut first = blobs::open_upload(&db, &kv, &id).unwrap();
    blobs::cancel_upload(&db, &kv, &id).unwrap();
    assert!(matches!(
        first.write(&db, &kv, b"three"),
        Err(StoreError::NotFound(_))
    ));
}

fn a_takedown_removes_content_no_release_still_up_has(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    let kv = MemKv::default();
    let content = bytes(KV_CHUNK + 1, 7);
    let shared = bytes(100, 8);
    let (digest, shared_digest) = (
        store(&db, &kv, &content, MAX_CHUNK as usize).unwrap(),
        store(&db, &kv, &shared, 100).unwrap(),
    );
    let with_content = |name: &str, digest: &str| {
        let mut entry = release(name, "1.0.0", 1);
        if let Action::Release(release) = &mut entry.action {
            release.digest = digest.into();
        }
        entry
    };
    append(&db, with_content("example:greet", &digest)).unwrap();
    append(&db, with_content("example:one", &shared_digest)).unwrap();
    append(&db, with_content("example:two", &shared_digest)).unwrap();
    for name in ["example:greet", "example:one"] {
        append(&db, change(name, "1.0.0", Action::Takedown("legal".into()))).unwrap();
        blobs::remove_taken_down(&db, &kv, name, "1.0.0").unwrap();
    }
    assert!(matches!(
        blobs::open_blob(&db, &kv, &digest, 0),
        Err(StoreError::NotFound(_))
    ));
    assert!(kv.keys().is_empty(), "{:?}", kv.keys());
    // example:two still has the shared content.
    assert_eq!(read(&db, &kv, &shared_digest, 0, 1000), shared);
}

/// The leaf hashes of every entry in the log.
fn leaf_hashes(db: &Db) -> Vec<depot_protocol::tlog::Hash> {
    entries::read_log(db, 0, 1000)
        .unwrap()
        .iter()
        .map(|logged| tlog::leaf(logged).leaf_hash())
        .collect()
}

/// The current checkpoint, opened with the database's own key.
fn opened_checkpoint(db: &Db) -> Checkpoint {
    let note = tlog::checkpoint(db).unwrap().expect("a checkpoint");
    Checkpoint::open(&note, &tlog::signer(db).unwrap().verifier()).unwrap()
}

fn every_append_signs_a_checkpoint_whose_proofs_verify(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    // A new database has a checkpoint of the empty tree at once.
    assert_eq!(opened_checkpoint(&db).size, 0);
    append(&db, release("example:greet", "1.0.0", 1)).unwrap();
    append(&db, change("example:greet", "1.0.0", Action::Yank)).unwrap();
    let annotation = AnnotationContent {
        type_: "review".into(),
        value: "{\"verdict\":\"ok\"}".into(),
        annotator: Some("5e1f0c9a2b7d".into()),
    };
    append(
        &db,
        change("example:greet", "1.0.0", Action::Annotate(annotation)),
    )
    .unwrap();
    append(&db, release("example:other", "0.1.0", 2)).unwrap();
    let early = tlog::checkpoint(&db).unwrap().unwrap();
    append(
        &db,
        change("example:other", "0.1.0", Action::Takedown("legal".into())),
    )
    .unwrap();

    let checkpoint = opened_checkpoint(&db);
    let leaves = leaf_hashes(&db);
    assert_eq!(checkpoint.size, 5);
    assert_eq!(checkpoint.root, tlog_root(&leaves));
    assert!(checkpoint.origin.starts_with("depot/"), "{checkpoint:?}");
    for (index, leaf) in leaves.iter().enumerate() {
        let seq = index as u64 + 1;
        let proof = tlog::inclusion(&db, seq, 5).unwrap();
        verify_inclusion(leaf, index as u64, 5, &proof, &checkpoint.root).unwrap();
    }
    let early = Checkpoint::open(&early, &tlog::signer(&db).unwrap().verifier()).unwrap();
    assert_eq!(early.size, 4);
    let proof = tlog::consistency(&db, 4, 5).unwrap();
    verify_consistency(4, 5, &early.root, &checkpoint.root, &proof).unwrap();
}

fn proofs_outside_the_tree_are_bad_requests(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    append(&db, release("example:greet", "1.0.0", 1)).unwrap();
    append(&db, release("example:greet", "1.1.0", 2)).unwrap();
    for (seq, size) in [(0, 2), (3, 2), (1, 3)] {
        let err = tlog::inclusion(&db, seq, size).unwrap_err();
        assert!(matches!(err, StoreError::BadRequest(_)), "{err:?}");
    }
    for (old, new) in [(2, 1), (1, 3)] {
        let err = tlog::consistency(&db, old, new).unwrap_err();
        assert!(matches!(err, StoreError::BadRequest(_)), "{err:?}");
    }
    assert!(tlog::consistency(&db, 0, 2).unwrap().is_empty());
}

fn a_failed_append_leaves_the_tree_and_checkpoint_as_they_were(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    append(&db, release("example:greet", "1.0.0", 1)).unwrap();
    let before = tlog::checkpoint(&db).unwrap();
    let nodes = file.count("tlog_nodes");
    // The last write of an append (the new checkpoint) fails.
    let failing = file.open_with(|statement| !statement.starts_with("INSERT INTO tlog_state"));
    let err = append(&failing, release("example:greet", "1.1.0", 2)).unwrap_err();
    assert!(matches!(err, StoreError::Storage { .. }), "{err:?}");
    assert_eq!(file.count("log"), 1);
    assert_eq!(file.count("tlog_nodes"), nodes);
    assert_eq!(tlog::checkpoint(&db).unwrap(), before);
    // A refused release (the version exists) changes nothing either.
    let err = append(&db, release("example:greet", "1.0.0", 3)).unwrap_err();
    assert!(matches!(err, StoreError::VersionExists { .. }), "{err:?}");
    assert_eq!(tlog::checkpoint(&db).unwrap(), before);
}

fn a_database_from_before_the_tree_is_caught_up_under_one_key(engine: Engine) {
    let file = Arc::new(TempDb::new(engine));
    let db = file.open();
    for n in 0..7 {
        append(&db, release("example:greet", &format!("1.{n}.0"), n)).unwrap();
    }
    let leaves = leaf_hashes(&db);
    drop(db);
    for table in ["tokens", "tlog_nodes", "tlog_state", "tlog_key"] {
        file.execute(&format!("DROP TABLE {table}"), &[]);
    }

    // Instances opening the database at once agree on one key.
    let barrier = Arc::new(Barrier::new(4));
    let keys: Vec<String> = (0..4)
        .map(|_| {
            let (file, barrier) = (file.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                tlog::signer(&file.open()).unwrap().verifier().to_string()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert!(keys.iter().all(|key| *key == keys[0]), "{keys:?}");
    let name = keys[0].split('+').next().unwrap();
    assert!(
        name.len() == "depot/".len() + 8 && name.starts_with("depot/"),
        "{name}"
    );

    let db = file.open();
    let checkpoint = opened_checkpoint(&db);
    assert_eq!(checkpoint.size, 7);
    assert_eq!(checkpoint.root, tlog_root(&leaves));
    let proof = tlog::inclusion(&db, 3, 7).unwrap();
    verify_inclusion(&leaves[2], 2, 7, &proof, &checkpoint.root).unwrap();
    // And the tree goes on growing with the log.
    append(&db, release("example:greet", "2.0.0", 9)).unwrap();
    assert_eq!(opened_checkpoint(&db).size, 8);
}

fn grant(namespaces: &[&str], operator: bool, expires: Option<u64>) -> TokenGrant {
    TokenGrant {
        label: Some("ci".into()),
        namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
        operator,
        expires,
    }
}

fn tokens_are_kept_as_hashes_and_grant_only_their_namespaces(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    let (info, secret) = tokens::create(&db, grant(&["example"], false, None)).unwrap();
    assert!(depot_protocol::token::is_well_formed(&secret), "{secret}");
    assert_eq!(info.id.len(), 12);
    let stored = file.connect().run("SELECT hash FROM tokens", &[]).unwrap();
    assert_eq!(
        stored,
        [[Value::Text(depot_protocol::token::hash(&secret))]]
    );

    let write = |namespace: &str| Access::Write(namespace.into());
    let authorized = tokens::authorize(&db, Some(&secret), &write("example"), None).unwrap();
    assert_eq!(authorized, info);
    assert!(tokens::authorize(&db, Some(&secret), &Access::Read, None).is_ok());
    for access in [write("other"), Access::Operator] {
        let err = tokens::authorize(&db, Some(&secret), &access, None).unwrap_err();
        assert!(matches!(err, StoreError::Forbidden(_)), "{err:?}");
    }
    let unknown = depot_protocol::token::format(&[9; 32]);
    for credential in [None, Some("hunter2"), Some(unknown.as_str())] {
        let err = tokens::authorize(&db, credential, &Access::Read, None).unwrap_err();
        assert!(matches!(err, StoreError::Unauthorized(_)), "{err:?}");
    }

    let (operator, operator_secret) = tokens::create(&db, grant(&["*"], true, None)).unwrap();
    assert!(tokens::authorize(&db, Some(&operator_secret), &Access::Operator, None).is_ok());
    let listed: Vec<String> = tokens::list(&db)
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    // In creation order; two made in the same millisecond, by id.
    let mut expected = [
        (info.created, info.id.clone()),
        (operator.created, operator.id.clone()),
    ];
    expected.sort();
    assert_eq!(listed, expected.map(|(_, id)| id));

    let revoked = tokens::revoke(&db, &info.id).unwrap();
    let when = revoked.revoked.expect("revoked");
    let err = tokens::authorize(&db, Some(&secret), &write("example"), None).unwrap_err();
    assert!(matches!(err, StoreError::Unauthorized(_)), "{err:?}");
    // Revoking again keeps the first time.
    assert_eq!(tokens::revoke(&db, &info.id).unwrap().revoked, Some(when));
    let err = tokens::revoke(&db, "nope").unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

/// An instance may open the database while another is setting it up: the
/// tables there, the index version not yet recorded. It takes the slow way
/// (under the write lock) instead of failing.
fn a_database_caught_mid_set_up_opens_the_slow_way(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    log::append(&db, release("example:greet", "1.0.0", 1), 0).unwrap();
    match engine {
        Engine::Postgres => file.execute("DELETE FROM depot_meta", &[]),
        Engine::Sqlite => file.execute("PRAGMA user_version = 0", &[]),
    }
    let again = file.open();
    assert!(
        log::get_release(&again, "example:greet", "1.0.0")
            .unwrap()
            .is_some()
    );
    // And the index version is recorded again, so the next open is quick.
    let row = again
        .one(again.pick(&crate::sql::READY_STATE), &[], "reading")
        .unwrap();
    assert_eq!(row.i64(1).unwrap(), crate::sql::INDEX_VERSION);
}

/// A driver recording every statement it runs.
struct Recording {
    conn: Box<dyn Sql>,
    seen: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Sql for Recording {
    fn run(&self, statement: &str, params: &[Value]) -> Result<Vec<Vec<Value>>, String> {
        self.seen.lock().unwrap().push(statement.to_string());
        self.conn.run(statement, params)
    }

    fn dialect(&self) -> crate::db::Dialect {
        self.conn.dialect()
    }
}

/// A database opened lazily (as the Spin build opens it on every request),
/// and the statements it ran.
fn open_lazily(file: &TempDb) -> (Db, Arc<std::sync::Mutex<Vec<String>>>) {
    open_lazily_on(file.connect())
}

/// [`open_lazily`] on the connection `conn`.
fn open_lazily_on(conn: Box<dyn Sql>) -> (Db, Arc<std::sync::Mutex<Vec<String>>>) {
    let seen = Arc::default();
    let conn = Recording {
        conn,
        seen: Arc::clone(&seen),
    };
    (crate::open_lazily(Box::new(conn), not_so_random), seen)
}

/// How many of the statements `seen` ran start with `prefix`.
fn ran(seen: &std::sync::Mutex<Vec<String>>, prefix: &str) -> usize {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|s| s.starts_with(prefix))
        .count()
}

/// On SQLite the busy timeout costs a statement, so it is set only where a
/// statement may wait: not for a read of an unlocked database; before the
/// first write; and when a read finds the database locked by a writer (in
/// rollback-journal mode, as a plain `spin up` keeps it), which then waits
/// for the writer's commit rather than failing.
#[test]
fn sqlite_sets_its_busy_timeout_where_a_statement_may_wait() {
    let file = TempDb::new(Engine::Sqlite);
    drop(file.open());
    let TempDb::File(path) = &file else {
        unreachable!("a SQLite database is a file")
    };
    // Connections as Spin's, but with no busy timeout of their own (Spin's
    // waits 5 s): a lock is found at once, as one held past 5 s is.
    let bare = || {
        let conn = Box::new(crate::rusqlite_driver::Sqlite::bare(path)) as Box<dyn Sql>;
        conn.run("PRAGMA busy_timeout = 0", &[]).unwrap();
        conn
    };
    let mode = bare().run("PRAGMA journal_mode = DELETE", &[]).unwrap();
    assert_eq!(mode, [[Value::Text("delete".into())]]);
    const PRAGMA: &str = "PRAGMA busy_timeout";

    let (db, seen) = open_lazily_on(bare());
    assert!(log::list_releases(&db, "example:greet").unwrap().is_empty());
    assert_eq!(ran(&seen, PRAGMA), 0, "{:?}", seen.lock().unwrap());

    let (db, seen) = open_lazily_on(bare());
    let writer = bare();
    writer.run("BEGIN EXCLUSIVE", &[]).unwrap();
    let held = std::time::Duration::from_millis(300);
    let waited = std::thread::scope(|scope| {
        scope.spawn(move || {
            std::thread::sleep(held);
            writer.run("COMMIT", &[]).unwrap();
        });
        let started = std::time::Instant::now();
        let found = log::list_releases(&db, "example:greet");
        (found, started.elapsed())
    });
    assert!(waited.0.unwrap().is_empty());
    assert!(waited.1 >= held / 2, "answered in {:?}", waited.1);
    assert_eq!(ran(&seen, PRAGMA), 1, "{:?}", seen.lock().unwrap());
    // The read, refused once, then the same again after the pragma.
    let statements = seen.lock().unwrap().clone();
    assert!(statements[1].starts_with(PRAGMA), "{statements:?}");
    assert_eq!(statements[0], statements[2], "{statements:?}");

    let (db, seen) = open_lazily_on(bare());
    append(&db, release("example:greet", "1.0.0", 1)).unwrap();
    let statements = seen.lock().unwrap().clone();
    let begin = statements
        .iter()
        .position(|s| s.starts_with("BEGIN"))
        .unwrap();
    assert!(
        statements[..begin].iter().any(|s| s.starts_with(PRAGMA)),
        "{statements:?}"
    );
    assert_eq!(ran(&seen, PRAGMA), 1, "{statements:?}");
}

/// Whether `seen` set the database up (took the write lock to migrate).
fn set_up(seen: &Arc<std::sync::Mutex<Vec<String>>>) -> bool {
    seen.lock()
        .unwrap()
        .iter()
        .any(|statement| statement.starts_with("BEGIN"))
}

/// A database opened lazily is checked with its first statement: set up
/// then when it is new or out of date, and read in the same statement as a
/// first `SELECT`, whose rows (none, or several in their order) come back as
/// they would alone.
fn a_lazily_opened_database_is_checked_by_its_first_statement(engine: Engine) {
    let file = TempDb::new(engine);
    // New: the first read sets it up, and finds nothing.
    let (db, seen) = open_lazily(&file);
    // Opening reads nothing (SQLite's connection only gets its busy timeout).
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|statement| statement.starts_with("PRAGMA busy_timeout")),
        "{:?}",
        seen.lock().unwrap()
    );
    assert!(log::list_releases(&db, "example:greet").unwrap().is_empty());
    assert!(set_up(&seen), "{:?}", seen.lock().unwrap());
    assert!(tlog::checkpoint(&db).unwrap().is_some());
    for version in ["1.0.0", "1.1.0", "2.0.0"] {
        append(&db, release("example:greet", version, 1)).unwrap();
    }
    drop(db);

    // What ran, besides SQLite's busy timeout.
    let statements = |seen: &std::sync::Mutex<Vec<String>>| -> Vec<String> {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|s| !s.starts_with("PRAGMA busy_timeout"))
            .cloned()
            .collect()
    };

    // Up to date: a first read returns its rows in order, no set-up, in one
    // statement.
    let (db, seen) = open_lazily(&file);
    let versions: Vec<String> = log::list_releases(&db, "example:greet")
        .unwrap()
        .into_iter()
        .map(|release| release.version)
        .collect();
    assert_eq!(versions, ["1.0.0", "1.1.0", "2.0.0"]);
    assert!(!set_up(&seen));
    assert_eq!(statements(&seen).len(), 1, "{:?}", statements(&seen));
    // A first read that finds nothing: in one statement on PostgreSQL; on
    // SQLite, whose rows carry the readiness, it is read alone and the
    // statement runs again.
    let (db, seen) = open_lazily(&file);
    assert!(
        log::get_release(&db, "example:greet", "9.0.0")
            .unwrap()
            .is_none()
    );
    assert!(!set_up(&seen));
    let expected = match engine {
        Engine::Postgres => 1,
        Engine::Sqlite => 3,
    };
    assert_eq!(statements(&seen).len(), expected, "{:?}", statements(&seen));
    assert!(
        log::get_release(&db, "example:greet", "2.0.0")
            .unwrap()
            .is_some()
    );
    // A first statement that writes (the append's head is known).
    let (db, seen) = open_lazily(&file);
    log::append(&db, release("example:greet", "3.0.0", 1), 3).unwrap();
    assert_eq!(log::list_releases(&db, "example:greet").unwrap().len(), 4);
    drop(db);
    assert_eq!(
        seen.lock()
            .unwrap()
            .iter()
            .filter(|s| s.starts_with("BEGIN"))
            .count(),
        1,
        "only the append's own transaction"
    );

    // Out of date (indexes derived by another version): set up first, then
    // answered.
    match engine {
        Engine::Postgres => file.execute("DELETE FROM depot_meta", &[]),
        Engine::Sqlite => file.execute("PRAGMA user_version = 0", &[]),
    }
    let (db, seen) = open_lazily(&file);
    assert_eq!(log::list_releases(&db, "example:greet").unwrap().len(), 4);
    assert!(set_up(&seen));
    let row = db
        .one(db.pick(&crate::sql::READY_STATE), &[], "reading")
        .unwrap();
    assert_eq!(row.i64(1).unwrap(), crate::sql::INDEX_VERSION);
}

fn a_configured_operator_token_is_added_once_on_first_use_and_revoking_it_holds(engine: Engine) {
    use depot_protocol::token;
    let file = TempDb::new(engine);
    let db = file.open();
    let secret = token::format(&[5; 32]);
    let configured = token::configured_hash(&secret).unwrap();
    // Nothing is added before the token is used, and another token does not
    // add it.
    let other = token::format(&[6; 32]);
    let err = tokens::authorize(&db, Some(&other), &Access::Read, Some(&configured)).unwrap_err();
    assert!(matches!(err, StoreError::Unauthorized(_)), "{err:?}");
    assert_eq!(file.count("tokens"), 0);
    // Two instances on one database: the first use by each adds it once.
    let second = file.open();
    let info = tokens::authorize(&db, Some(&secret), &Access::Operator, Some(&configured)).unwrap();
    let again =
        tokens::authorize(&second, Some(&secret), &Access::Operator, Some(&configured)).unwrap();
    assert_eq!(info, again);
    assert!(info.operator);
    assert_eq!(info.namespaces, ["*"]);
    assert_eq!(info.id, token::configured_id(&configured));
    assert_eq!(
        info.label.as_deref(),
        Some(token::CONFIGURED_OPERATOR_LABEL)
    );
    assert_eq!(file.count("tokens"), 1);
    assert_eq!(tokens::list(&db).unwrap(), std::slice::from_ref(&info));
    // Without the configuration the stored token still works; revoked, it
    // stays revoked even while the configuration names it.
    assert!(tokens::authorize(&db, Some(&secret), &Access::Operator, None).is_ok());
    tokens::revoke(&db, &info.id).unwrap();
    let err =
        tokens::authorize(&second, Some(&secret), &Access::Read, Some(&configured)).unwrap_err();
    assert!(matches!(err, StoreError::Unauthorized(_)), "{err:?}");
    assert_eq!(file.count("tokens"), 1);
}

fn a_token_needs_a_namespace_and_an_expiry_to_come_and_then_expires(engine: Engine) {
    let file = TempDb::new(engine);
    let db = file.open();
    for bad in [
        grant(&[], false, None),
        grant(&["Not-Kebab"], false, None),
        grant(&["example"], false, Some(1)),
    ] {
        let err = tokens::create(&db, bad).unwrap_err();
        assert!(matches!(err, StoreError::BadRequest(_)), "{err:?}");
    }
    assert_eq!(file.count("tokens"), 0);
    let in_an_hour = entries::now_millis() + 3_600_000;
    let (info, secret) = tokens::create(&db, grant(&["example"], false, Some(in_an_hour))).unwrap();
    assert!(tokens::authorize(&db, Some(&secret), &Access::Read, None).is_ok());
    // The hour passes: the expiry is now a millisecond ago.
    file.execute(
        "UPDATE tokens SET expires = ?1 WHERE id = ?2",
        &[
            Value::Integer(entries::now_millis() as i64 - 1),
            Value::Text(info.id.clone()),
        ],
    );
    let err = tokens::authorize(&db, Some(&secret), &Access::Read, None).unwrap_err();
    assert!(matches!(err, StoreError::Unauthorized(_)), "{err:?}");
}

on_every_engine!(
    migrations_run_once_each_in_order_even_for_instances_opening_together,
    a_database_a_newer_depot_migrated_is_refused,
    racing_appends_for_one_version_let_exactly_one_win,
    an_append_at_a_stale_head_is_refused_with_the_current_head,
    a_refused_release_leaves_nothing_behind,
    a_failure_midway_through_an_append_rolls_it_back,
    the_log_numbers_entries_from_one_and_reads_in_pages,
    a_release_is_found_up_to_build_metadata_only,
    the_package_summary_follows_releases_and_yanks,
    annotations_takedowns_and_digests_are_indexed,
    indexes_rebuilt_from_the_log_equal_the_incremental_ones,
    search_by_namespace_finds_only_that_namespace,
    stats_count_packages_releases_and_the_head,
    text_search_ranks_exact_names_then_prefixes_then_words,
    search_filters_by_interface_license_and_yank,
    oci_manifests_are_kept_apart_from_the_log,
    small_blobs_live_in_sqlite_and_large_ones_in_chunks,
    a_blob_is_whole_under_its_digest_or_absent,
    an_unfinished_writer_leaves_nothing_and_a_finished_one_refuses_more,
    an_upload_spans_writers_and_becomes_the_blob_it_hashes_to,
    a_write_to_an_upload_that_moved_on_is_refused,
    a_takedown_removes_content_no_release_still_up_has,
    every_append_signs_a_checkpoint_whose_proofs_verify,
    proofs_outside_the_tree_are_bad_requests,
    a_failed_append_leaves_the_tree_and_checkpoint_as_they_were,
    a_database_from_before_the_tree_is_caught_up_under_one_key,
    tokens_are_kept_as_hashes_and_grant_only_their_namespaces,
    a_configured_operator_token_is_added_once_on_first_use_and_revoking_it_holds,
    a_database_caught_mid_set_up_opens_the_slow_way,
    a_lazily_opened_database_is_checked_by_its_first_statement,
    a_token_needs_a_namespace_and_an_expiry_to_come_and_then_expires,
);

fn migrations_run_once_each_in_order_even_for_instances_opening_together(engine: Engine) {
    let file = TempDb::new(engine);
    // Four instances open the new database at once.
    let opened: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| crate::open(file.connect(), not_so_random).map(drop)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(opened.iter().all(Result::is_ok), "{opened:?}");
    let versions: Vec<i64> = file
        .connect()
        .run(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .unwrap()
        .into_iter()
        .map(|row| match row[0] {
            Value::Integer(n) => n,
            ref other => panic!("a version is {other:?}"),
        })
        .collect();
    let expected: Vec<i64> = (1..=crate::migrate::LATEST).collect();
    assert_eq!(versions, expected);
    // What the last migration made is there.
    let db = file.open();
    assert!(crate::migrate::migrate(&db).unwrap().is_empty());
    let index = match engine {
        Engine::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE name = 'uploads_by_touched'",
        Engine::Postgres => {
            "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'uploads_by_touched'"
        }
    };
    assert_eq!(
        file.connect().run(index, &[]).unwrap()[0][0],
        Value::Integer(1)
    );
}

fn a_database_a_newer_depot_migrated_is_refused(engine: Engine) {
    let file = TempDb::new(engine);
    drop(file.open());
    file.execute(
        "INSERT INTO schema_migrations (version, applied, about) VALUES (99, 0, 'the future')",
        &[],
    );
    let Err(refused) = crate::open(file.connect(), not_so_random) else {
        panic!("a database at schema version 99 was opened");
    };
    let message = refused.to_string();
    assert!(
        message.contains("schema version 99") && message.contains("newer Depot"),
        "{message}"
    );
}
