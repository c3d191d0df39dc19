//! The SQL text of the store: its schema and statements, as constants, one
//! source for every driver.
//!
//! Spin's `execute` runs one statement per call, so each schema statement is
//! its own constant.

/// Version of the index derivation, kept in SQLite's `PRAGMA user_version`
/// (PostgreSQL: the `depot_meta` table): when it differs the index tables are
/// dropped, created afresh and rebuilt from the log.
pub const INDEX_VERSION: i64 = 7;

/// The log, the truth, and what is kept outside it (OCI manifests that are
/// not releases, blobs linked into repositories, small blobs, tags, and
/// uploads in progress): never rebuilt. `refs` is a JSON list of the digests
/// a manifest names.
pub const LOG_SCHEMA: [&str; 8] = [
    "CREATE TABLE IF NOT EXISTS log (
        seq     INTEGER PRIMARY KEY,
        time    INTEGER NOT NULL,
        name    TEXT NOT NULL,
        version TEXT NOT NULL,
        action  TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS oci_manifests (
        repository    TEXT NOT NULL,
        digest        TEXT NOT NULL,
        media_type    TEXT NOT NULL,
        size          INTEGER NOT NULL,
        artifact_type TEXT,
        subject       TEXT,
        refs          TEXT NOT NULL,
        PRIMARY KEY (repository, digest)
    )",
    "CREATE INDEX IF NOT EXISTS oci_manifests_by_subject ON oci_manifests (repository, subject)",
    "CREATE TABLE IF NOT EXISTS oci_blobs (
        repository TEXT NOT NULL,
        digest     TEXT NOT NULL,
        PRIMARY KEY (repository, digest)
    )",
    "CREATE TABLE IF NOT EXISTS small_blobs (
        digest TEXT PRIMARY KEY,
        bytes  BLOB NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS oci_tags (
        repository TEXT NOT NULL,
        tag        TEXT NOT NULL,
        digest     TEXT NOT NULL,
        PRIMARY KEY (repository, tag)
    )",
    // Uploads whose bytes are in a key-value store (the file driver keeps
    // them as files). `touched` (ms since the epoch) lets an abandoned upload
    // be found and removed.
    "CREATE TABLE IF NOT EXISTS uploads (
        id      TEXT PRIMARY KEY,
        size    INTEGER NOT NULL,
        touched INTEGER NOT NULL
    )",
    // Unpublished releases: one JSON record per name and version.
    "CREATE TABLE IF NOT EXISTS pending_releases (
        name    TEXT NOT NULL,
        version TEXT NOT NULL,
        record  TEXT NOT NULL,
        PRIMARY KEY (name, version)
    )",
];

/// The indexes derived from the log, but the text index ([`TEXT_INDEX`]).
/// `metadata` and `oci` are JSON (`oci` is `null` for a release without an
/// OCI artifact); the `takedown_*` columns are set once the release is taken
/// down.
pub const INDEX_SCHEMA: [&str; 12] = [
    "CREATE TABLE IF NOT EXISTS releases (
        name         TEXT NOT NULL,
        version      TEXT NOT NULL,
        digest       TEXT NOT NULL,
        size         INTEGER NOT NULL,
        published_at INTEGER NOT NULL,
        yanked       INTEGER NOT NULL,
        seq          INTEGER NOT NULL,
        metadata     TEXT NOT NULL,
        oci          TEXT NOT NULL,
        takedown_reason TEXT,
        takedown_time   INTEGER,
        takedown_seq    INTEGER,
        kind         TEXT NOT NULL,
        licenses     TEXT,
        signature    TEXT,
        UNIQUE (name, version)
    )",
    "CREATE TABLE IF NOT EXISTS release_interfaces (
        name      TEXT NOT NULL,
        version   TEXT NOT NULL,
        direction TEXT NOT NULL,
        interface TEXT NOT NULL,
        base      TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS interfaces_by_base ON release_interfaces (direction, base, name)",
    "CREATE INDEX IF NOT EXISTS interfaces_by_interface
        ON release_interfaces (direction, interface, name)",
    "CREATE INDEX IF NOT EXISTS interfaces_by_release ON release_interfaces (name, version)",
    "CREATE INDEX IF NOT EXISTS releases_by_digest ON releases (digest, seq)",
    "CREATE TABLE IF NOT EXISTS annotations (
        seq     INTEGER PRIMARY KEY,
        name    TEXT NOT NULL,
        version TEXT NOT NULL,
        type    TEXT NOT NULL,
        value   TEXT NOT NULL,
        time    INTEGER NOT NULL,
        annotator TEXT
    )",
    "CREATE INDEX IF NOT EXISTS annotations_by_release ON annotations (name, version, seq)",
    "CREATE TABLE IF NOT EXISTS packages (
        name       TEXT PRIMARY KEY,
        versions   INTEGER NOT NULL,
        latest     TEXT,
        updated_at INTEGER NOT NULL,
        head       INTEGER NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS key_grants (
        scope     TEXT NOT NULL,
        key       TEXT NOT NULL,
        namespace TEXT NOT NULL,
        seq       INTEGER NOT NULL,
        time      INTEGER NOT NULL,
        PRIMARY KEY (scope, key)
    )",
    "CREATE INDEX IF NOT EXISTS key_grants_by_namespace ON key_grants (namespace, seq)",
    "CREATE TABLE IF NOT EXISTS namespace_policy (
        namespace          TEXT PRIMARY KEY,
        require_signatures INTEGER NOT NULL
    )",
];

/// The FTS5 text index over release names and descriptions. Its own
/// statement because a SQLite built without FTS5 refuses it: the store then
/// searches text without it (see `search`).
pub const TEXT_INDEX: &str =
    "CREATE VIRTUAL TABLE IF NOT EXISTS release_text USING fts5 (name, description)";

/// Drops the index tables before a rebuild, one statement each.
pub const DROP_INDEXES: [&str; 7] = [
    "DROP TABLE IF EXISTS releases",
    "DROP TABLE IF EXISTS packages",
    "DROP TABLE IF EXISTS annotations",
    "DROP TABLE IF EXISTS release_interfaces",
    "DROP TABLE IF EXISTS release_text",
    "DROP TABLE IF EXISTS key_grants",
    "DROP TABLE IF EXISTS namespace_policy",
];

/// Tokens and the transparency log, and the key checkpoints are signed with
/// (the embedded store also keeps it in `<data>/log.key`, from which it is
/// copied here; a Spin app can keep it only here). `crate::tlog::open` creates them all in one
/// transaction with the key, the tree caught up to the log and its first
/// checkpoint, so the presence of `tlog_key` says all of it is there.
/// `namespaces` is a JSON list; times are milliseconds since the Unix epoch.
pub const TLOG_SCHEMA: [&str; 4] = [
    "CREATE TABLE IF NOT EXISTS tokens (
        id         TEXT PRIMARY KEY,
        hash       TEXT NOT NULL UNIQUE,
        label      TEXT,
        namespaces TEXT NOT NULL,
        operator   INTEGER NOT NULL,
        created    INTEGER NOT NULL,
        expires    INTEGER,
        revoked    INTEGER
    )",
    "CREATE TABLE IF NOT EXISTS tlog_nodes (
        level INTEGER NOT NULL,
        idx   INTEGER NOT NULL,
        hash  BLOB NOT NULL,
        PRIMARY KEY (level, idx)
    ) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS tlog_state (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        size       INTEGER NOT NULL,
        frontier   BLOB NOT NULL,
        checkpoint TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS tlog_key (
        id  INTEGER PRIMARY KEY CHECK (id = 1),
        key TEXT NOT NULL
    )",
];

/// The index version, whether the FTS5 text index exists, and whether the
/// transparency log and tokens are set up ([`TLOG_SCHEMA`]): what an instance
/// reads once when it first opens the database.
pub const OPEN_STATE: Dialects = Dialects {
    sqlite: "SELECT (SELECT user_version FROM pragma_user_version), \
     EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'release_text'), \
     EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'tlog_key')",
    // No text index: PostgreSQL searches words without one (see `search`).
    postgres: "SELECT COALESCE((SELECT index_version FROM depot_meta WHERE id = 1), 0), \
     false, to_regclass('tlog_key') IS NOT NULL",
};

/// [`READY_STATE`]'s columns on SQLite, which need no `FROM`.
macro_rules! ready_columns_sqlite {
    () => {
        "(SELECT COALESCE(MAX(version), 0) FROM schema_migrations), \
         (SELECT user_version FROM pragma_user_version), \
         EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'release_text'), \
         EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'tlog_key')"
    };
}

/// [`READY_STATE`]'s columns on SQLite, to put before a statement's own.
pub const READY_COLUMNS_SQLITE: &str = ready_columns_sqlite!();

/// What an instance opening a database that is up to date needs to know, in
/// one statement (it fails on a database not set up yet): the last
/// migration applied, then [`OPEN_STATE`]'s columns.
pub const READY_STATE: Dialects = Dialects {
    sqlite: concat!("SELECT ", ready_columns_sqlite!()),
    postgres: "SELECT (SELECT COALESCE(MAX(version), 0) FROM schema_migrations), \
     COALESCE((SELECT index_version FROM depot_meta WHERE id = 1), 0), \
     false, to_regclass('tlog_key') IS NOT NULL",
};

/// A statement whose text differs between the dialects ([`crate::db::Dialect`]).
#[derive(Debug)]
pub struct Dialects {
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// The columns a release `r` is read from (`release_from_row`): its own,
/// then its annotations as a JSON list of `[type, value, time, seq,
/// annotator]` (SQL
/// `NULL` or `[]` when it has none), so one statement reads both.
macro_rules! release_columns {
    (sqlite) => {
        release_columns!(
            "json_group_array(json_array(a.type, a.value, a.time, a.seq, a.annotator))"
        )
    };
    (postgres) => {
        release_columns!(
            "CAST(json_agg(json_build_array(a.type, a.value, a.time, a.seq, a.annotator)) AS TEXT)"
        )
    };
    // `$aggregate`: the dialect's JSON list of the annotations `a`.
    ($aggregate:literal) => {
        concat!(
            "r.name, r.version, r.digest, r.size, r.published_at, r.yanked, r.seq, r.metadata, \
             r.oci, r.takedown_reason, r.takedown_time, r.takedown_seq, r.signature, (SELECT ",
            $aggregate,
            " FROM annotations a WHERE a.name = r.name AND a.version = r.version)"
        )
    };
}

/// A statement reading releases `r` with their annotations, in each
/// dialect: `SELECT` the release columns `FROM releases r`, then `$rest`.
macro_rules! select_releases {
    ($rest:literal) => {
        Dialects {
            sqlite: concat!(
                "SELECT ",
                release_columns!(sqlite),
                " FROM releases r ",
                $rest
            ),
            postgres: concat!(
                "SELECT ",
                release_columns!(postgres),
                " FROM releases r ",
                $rest
            ),
        }
    };
}

/// The columns an OCI manifest is read from (`oci_manifest_from_row`).
macro_rules! oci_columns {
    () => {
        "repository, digest, media_type, size, artifact_type, subject, refs"
    };
}

/// The columns of a release `r` with its annotations (see `release_from_row`).
pub const RELEASE_COLUMNS: Dialects = Dialects {
    sqlite: release_columns!(sqlite),
    postgres: release_columns!(postgres),
};

// The registry log.
pub const LAST_SEQ: &str = "SELECT COALESCE(MAX(seq), 0) FROM log";
pub const PACKAGE_HEAD: &str = "SELECT head FROM packages WHERE name = ?1";
pub const INSERT_LOG: &str =
    "INSERT INTO log (seq, time, name, version, action) VALUES (?1, ?2, ?3, ?4, ?5)";
pub const READ_LOG: &str =
    "SELECT seq, time, name, version, action FROM log WHERE seq > ?1 ORDER BY seq LIMIT ?2";
pub const PACKAGE_LOG: &str = "SELECT seq, time, name, version, action FROM log \
                               WHERE name = ?1 AND seq <= ?2 ORDER BY seq";
/// Spin only: what `wait-log` polls.
pub const HAS_ENTRY_AFTER: &str = "SELECT EXISTS (SELECT 1 FROM log WHERE seq > ?1)";

// Indexing one entry (`apply`).
pub const INSERT_RELEASE: &str = "INSERT INTO releases (name, version, digest, size, published_at, yanked, seq, \
     metadata, oci, kind, licenses, signature) \
     VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?8, ?9, ?10, ?11)";
pub const INSERT_KEY_GRANT: &str = "INSERT INTO key_grants (scope, key, namespace, seq, time) \
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (scope, key) DO NOTHING";
/// Spin's `execute` returns no change count: the deletion returns its rows.
pub const DELETE_KEY_GRANT: &str =
    "DELETE FROM key_grants WHERE scope = ?1 AND key = ?2 RETURNING key";
pub const SET_REQUIRE_SIGNATURES: &str = "INSERT INTO namespace_policy (namespace, require_signatures) \
     VALUES (?1, ?2) ON CONFLICT (namespace) DO UPDATE SET \
     require_signatures = excluded.require_signatures";
pub const REQUIRE_SIGNATURES: &str =
    "SELECT require_signatures FROM namespace_policy WHERE namespace = ?1";
pub const KEY_GRANTS: &str =
    "SELECT key, scope, seq, time FROM key_grants WHERE namespace = ?1 ORDER BY seq";
pub const PUT_PENDING: &str = "INSERT INTO pending_releases (name, version, record) \
     VALUES (?1, ?2, ?3) ON CONFLICT (name, version) DO UPDATE SET record = excluded.record";
pub const GET_PENDING: &str =
    "SELECT record FROM pending_releases WHERE name = ?1 AND version = ?2";
/// The native store inserts with `rowid = last_insert_rowid()`, which Spin's
/// `fermyon:spin/sqlite@2.0.0` does not return; selecting the rowid is the
/// same.
pub const INSERT_RELEASE_TEXT: &str = "INSERT INTO release_text (rowid, name, description) \
     SELECT rowid, name, ?3 FROM releases WHERE name = ?1 AND version = ?2";
pub const INSERT_INTERFACE: &str = "INSERT INTO release_interfaces (name, version, direction, interface, base) \
     VALUES (?1, ?2, ?3, ?4, ?5)";
/// `RETURNING` stands in for rusqlite's changed-row count, which Spin's
/// `fermyon:spin/sqlite@2.0.0` does not return (so do the other updates and
/// deletes here).
pub const SET_YANKED: &str =
    "UPDATE releases SET yanked = ?3 WHERE name = ?1 AND version = ?2 RETURNING seq";
pub const INSERT_ANNOTATION: &str = "INSERT INTO annotations (seq, name, version, type, value, time, \
     annotator) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
/// A second takedown keeps the first one's reason and time.
pub const SET_TAKEDOWN: &str = "UPDATE releases SET takedown_reason = ?3, takedown_time = ?4, \
     takedown_seq = ?5 WHERE name = ?1 AND version = ?2 \
     AND takedown_seq IS NULL RETURNING seq";
pub const RELEASE_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM releases WHERE name = ?1 AND version = ?2)";
pub const PACKAGE_RELEASES: &str =
    "SELECT version, yanked, takedown_seq IS NOT NULL FROM releases WHERE name = ?1";
pub const UPSERT_PACKAGE: &str = "INSERT INTO packages (name, versions, latest, updated_at, head)
     VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (name) DO UPDATE SET versions = excluded.versions,
         latest = excluded.latest, updated_at = excluded.updated_at, head = excluded.head";

// Reading the indexes.
pub const GET_RELEASE: Dialects = select_releases!("WHERE r.name = ?1 AND r.version = ?2");
/// The version itself, or it with build metadata (`+...`).
pub const FIND_RELEASE: Dialects = select_releases!(
    "WHERE r.name = ?1 AND (r.version = ?2 OR \
     substr(r.version, 1, length(CAST(?2 AS TEXT)) + 1) = CAST(?2 AS TEXT) || '+') LIMIT 1"
);
pub const LIST_RELEASES: Dialects = select_releases!("WHERE r.name = ?1 ORDER BY r.seq");
pub const RELEASE_BY_DIGEST: Dialects =
    select_releases!("WHERE r.digest = ?1 ORDER BY r.takedown_seq IS NOT NULL, r.seq LIMIT 1");
pub const LIST_PACKAGES: &str = "SELECT name, versions, latest, updated_at FROM packages
     WHERE name > ?1 ORDER BY name LIMIT ?2";
pub const STATS: &str = "SELECT (SELECT COUNT(*) FROM packages), (SELECT COUNT(*) FROM releases), \
     (SELECT COALESCE(MAX(seq), 0) FROM log)";
pub const CONTENT_IN_USE: &str = "SELECT EXISTS (SELECT 1 FROM releases WHERE digest = ?1 \
     AND takedown_seq IS NULL)";

// Small blobs.
/// A write of content already stored moves its `touched` time on, so garbage
/// collection counts it as new (a publish is about to name it).
pub const PUT_SMALL_BLOB: &str = "INSERT INTO small_blobs (digest, bytes, touched) \
     VALUES (?1, ?2, ?3) ON CONFLICT (digest) DO UPDATE SET touched = excluded.touched";
pub const GET_SMALL_BLOB: &str = "SELECT bytes FROM small_blobs WHERE digest = ?1";
#[cfg(feature = "wasmtime")]
pub const SMALL_BLOB_STORED: &str = "SELECT 1 FROM small_blobs WHERE digest = ?1";
pub const REMOVE_SMALL_BLOB: &str = "DELETE FROM small_blobs WHERE digest = ?1";

// Garbage collection (the native store's): what names blobs, and what may go.
#[cfg(feature = "wasmtime")]
/// The blobs releases still up name: their content and, as JSON (`null`
/// without one), their OCI artifact.
pub const LIVE_RELEASE_BLOBS: &str = "SELECT digest, oci FROM releases WHERE takedown_seq IS NULL";
#[cfg(feature = "wasmtime")]
/// OCI manifests and the digests they name (JSON).
pub const OCI_MANIFEST_BLOBS: &str = "SELECT digest, refs FROM oci_manifests";
#[cfg(feature = "wasmtime")]
pub const OCI_LINKED_BLOBS: &str = "SELECT DISTINCT digest FROM oci_blobs";
#[cfg(feature = "wasmtime")]
pub const PENDING_RECORDS: &str = "SELECT name, version, record FROM pending_releases";
#[cfg(feature = "wasmtime")]
/// Removes an unpublished release only as it was read.
pub const REMOVE_PENDING: &str =
    "DELETE FROM pending_releases WHERE name = ?1 AND version = ?2 AND record = ?3 RETURNING name";
#[cfg(feature = "wasmtime")]
pub const LIST_SMALL_BLOBS: &str = "SELECT digest, length(bytes), touched FROM small_blobs";
#[cfg(feature = "wasmtime")]
/// Removes a small blob unless it was written again since `?2`.
pub const REMOVE_UNTOUCHED_SMALL_BLOB: &str =
    "DELETE FROM small_blobs WHERE digest = ?1 AND touched < ?2 RETURNING length(bytes)";

// OCI manifests that are not releases.
pub const PUT_OCI_MANIFEST: &str = concat!(
    "INSERT INTO oci_manifests (",
    oci_columns!(),
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (repository, digest) DO UPDATE SET \
     media_type = excluded.media_type, size = excluded.size, \
     artifact_type = excluded.artifact_type, subject = excluded.subject, refs = excluded.refs"
);
pub const GET_OCI_MANIFEST: &str = concat!(
    "SELECT ",
    oci_columns!(),
    " FROM oci_manifests WHERE repository = ?1 AND digest = \
     COALESCE((SELECT digest FROM oci_tags WHERE repository = ?1 AND tag = ?2), ?2)"
);
pub const LIST_REFERRERS: &str = concat!(
    "SELECT ",
    oci_columns!(),
    " FROM oci_manifests WHERE repository = ?1 AND subject = ?2 ORDER BY digest"
);
pub const PUT_OCI_TAG: &str = "INSERT INTO oci_tags (repository, tag, digest) VALUES (?1, ?2, ?3) \
     ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest";
pub const LIST_OCI_TAGS: &str = "SELECT tag FROM oci_tags WHERE repository = ?1 ORDER BY tag";
pub const HAS_OCI_CONTENT: &str = "SELECT EXISTS (SELECT 1 FROM oci_manifests WHERE repository = ?1) \
     OR EXISTS (SELECT 1 FROM oci_blobs WHERE repository = ?1)";
pub const LINK_OCI_BLOB: &str =
    "INSERT INTO oci_blobs (repository, digest) VALUES (?1, ?2) ON CONFLICT DO NOTHING";
pub const UNLINK_OCI_BLOB: &str =
    "DELETE FROM oci_blobs WHERE repository = ?1 AND digest = ?2 RETURNING digest";
pub const OCI_REFERENCES: Dialects = Dialects {
    sqlite: "SELECT EXISTS (SELECT 1 FROM oci_blobs WHERE repository = ?1 AND digest = ?2) \
     OR EXISTS (SELECT 1 FROM oci_manifests WHERE repository = ?1 AND \
     (digest = ?2 OR EXISTS (SELECT 1 FROM json_each(refs) WHERE value = ?2)))",
    postgres: "SELECT EXISTS (SELECT 1 FROM oci_blobs WHERE repository = ?1 AND digest = ?2) \
     OR EXISTS (SELECT 1 FROM oci_manifests WHERE repository = ?1 AND \
     (digest = ?2 OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(CAST(refs AS jsonb)) \
     WHERE value = ?2)))",
};
pub const DELETE_OCI_TAG: &str =
    "DELETE FROM oci_tags WHERE repository = ?1 AND tag = ?2 RETURNING tag";
pub const DELETE_OCI_MANIFEST: &str =
    "DELETE FROM oci_manifests WHERE repository = ?1 AND digest = ?2 RETURNING digest";
pub const DELETE_OCI_TAGS_OF: &str = "DELETE FROM oci_tags WHERE repository = ?1 AND digest = ?2";

// Uploads (Spin only).
pub const START_UPLOAD: &str = "INSERT INTO uploads (id, size, touched) VALUES (?1, 0, ?2)";
pub const UPLOAD_SIZE: &str = "SELECT size FROM uploads WHERE id = ?1";
/// Moves the upload's size on only if no other write moved it meanwhile.
pub const GROW_UPLOAD: &str =
    "UPDATE uploads SET size = ?3, touched = ?4 WHERE id = ?1 AND size = ?2 RETURNING id";
pub const END_UPLOAD: &str = "DELETE FROM uploads WHERE id = ?1 RETURNING size";
pub const RESTORE_UPLOAD: &str =
    "INSERT INTO uploads (id, size, touched) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
pub const STALE_UPLOADS: &str =
    "SELECT id, size FROM uploads WHERE touched < ?1 ORDER BY touched LIMIT ?2";

// The transparency log.
pub const TLOG_FRONTIER: &str = "SELECT frontier FROM tlog_state WHERE id = 1";
pub const TLOG_SIZE: &str = "SELECT size FROM tlog_state WHERE id = 1";
pub const TLOG_CHECKPOINT: &str = "SELECT checkpoint FROM tlog_state WHERE id = 1";
pub const INSERT_TLOG_NODE: &str = "INSERT INTO tlog_nodes (level, idx, hash) VALUES (?1, ?2, ?3)";
pub const SET_TLOG_STATE: &str = "INSERT INTO tlog_state (id, size, frontier, checkpoint) \
     VALUES (1, ?1, ?2, ?3) \
     ON CONFLICT (id) DO UPDATE SET size = excluded.size, frontier = excluded.frontier, \
         checkpoint = excluded.checkpoint";
/// The nodes of a proof, `?1` a JSON list of `[level, index]` pairs: one
/// statement where the native store reads node by node, as each statement
/// here is a call out of the component.
pub const TLOG_NODES: Dialects = Dialects {
    sqlite: "SELECT level, idx, hash FROM tlog_nodes \
     WHERE (level, idx) IN \
     (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1))",
    postgres: "SELECT level, idx, hash FROM tlog_nodes \
     WHERE (level, idx) IN \
     (SELECT CAST(value ->> 0 AS BIGINT), CAST(value ->> 1 AS BIGINT) \
      FROM jsonb_array_elements(CAST(?1 AS jsonb)))",
};
pub const TLOG_KEY: &str = "SELECT key FROM tlog_key WHERE id = 1";
/// The first key kept stays: a second instance opening a new database at
/// once keeps the key the first one made.
pub const PUT_TLOG_KEY: &str =
    "INSERT INTO tlog_key (id, key) VALUES (1, ?1) ON CONFLICT DO NOTHING";

// Tokens.
macro_rules! token_columns {
    () => {
        "id, label, namespaces, operator, created, expires, revoked"
    };
}
pub const INSERT_TOKEN: &str = "INSERT INTO tokens (id, hash, label, namespaces, operator, \
     created, expires, revoked) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
/// The configured operator's token: added once, whoever adds it first.
pub const INSERT_TOKEN_ONCE: &str = "INSERT INTO tokens (id, hash, label, namespaces, operator, \
     created, expires, revoked) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING";
pub const TOKEN_BY_HASH: &str =
    concat!("SELECT ", token_columns!(), " FROM tokens WHERE hash = ?1");
pub const LIST_TOKENS: &str = concat!(
    "SELECT ",
    token_columns!(),
    " FROM tokens ORDER BY created, id"
);
/// A second revocation keeps the first one's time.
pub const REVOKE_TOKEN: &str = "UPDATE tokens SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL";
pub const TOKEN_BY_ID: &str = concat!("SELECT ", token_columns!(), " FROM tokens WHERE id = ?1");

/// What PostgreSQL needs beside the statements above.
pub mod postgres {
    use std::borrow::Cow;

    /// Where the index version is kept (SQLite keeps it in `user_version`).
    pub const META_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS depot_meta (
        id            BIGINT PRIMARY KEY CHECK (id = 1),
        index_version BIGINT NOT NULL
    )";

    /// Records the index version once the indexes are rebuilt.
    pub const SET_INDEX_VERSION: &str = "INSERT INTO depot_meta (id, index_version) \
         VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET index_version = excluded.index_version";

    /// What an append notifies at its commit, which every instance's
    /// follower listens for (`LISTEN depot_log`, in the PostgreSQL driver).
    ///
    /// Both this and [`WRITE_LOCK`] answer a count rather than the `void` their
    /// function returns, which not every driver can read (Spin's reads it as an
    /// unsupported type).
    pub const NOTIFY: &str = "SELECT count(*) FROM (SELECT pg_notify('depot_log', '')) AS notified";

    /// Taken by every write transaction, held until it ends: writes of all
    /// instances run one after the other, as under SQLite's write lock, so
    /// appends are totally ordered and each reads the head it extends.
    pub const WRITE_LOCK: &str =
        "SELECT count(*) FROM (SELECT pg_advisory_xact_lock(7240100113)) AS locked";

    /// A schema statement of the store (in SQLite's types) in PostgreSQL's:
    /// 64-bit integers (sequence numbers and milliseconds do not fit in 32
    /// bits), `BYTEA` for blobs, and no `WITHOUT ROWID`.
    pub fn ddl(statement: &str) -> Cow<'_, str> {
        if !statement.contains("INTEGER")
            && !statement.contains("BLOB")
            && !statement.contains("ROWID")
        {
            return Cow::Borrowed(statement);
        }
        Cow::Owned(
            statement
                .replace("INTEGER", "BIGINT")
                .replace("BLOB", "BYTEA")
                .replace(") WITHOUT ROWID", ")"),
        )
    }
}
