//! The registry log and its indexes, over the SQL driver ([`crate::db`]).
//!
//! The `log` table is the truth; `releases`, `packages`, `annotations` and the
//! search tables are derived from it by `apply`, one entry at a time, in the
//! same transaction as the append, and can be rebuilt from the log at any time
//! ([`rebuild_indexes`]).

use depot_protocol::{Candidate, Version};

use crate::db::{Db, Dialect, Row, params};
use crate::entries::{MAX_PAGE, insert_log, now_millis, read_log};
use crate::error::{During, StoreError};
use crate::sql;
use crate::types::{Action, Entry, KeyGrant, LogEntry, PendingRelease, SigningPolicy};
use crate::types::{
    Annotation, ContentKind, Metadata, PackageSummary, RegistryStats, Release, Takedown,
};

/// See `store.package-head`.
pub fn package_head(db: &Db, name: &str) -> Result<u64, StoreError> {
    db.optional(sql::PACKAGE_HEAD, params![name], "reading a package's head")?
        .map_or(Ok(0), |row| row.u64(0))
}

/// See `store.append`: the head check, the entry, its index rows and its
/// leaf of the transparency log, with a new signed checkpoint, in one
/// transaction.
pub fn append(db: &Db, entry: Entry, expected_head: u64) -> Result<LogEntry, StoreError> {
    append_checked(db, entry, expected_head, |_, _| Ok(()))
}

/// [`append`], with `check` run on the entry inside its transaction, once
/// the database's write lock is held: what it finds (the content a release
/// names is stored, say) stays true until the entry has landed.
pub fn append_checked(
    db: &Db,
    entry: Entry,
    expected_head: u64,
    check: impl FnOnce(&Db, &Entry) -> Result<(), StoreError>,
) -> Result<LogEntry, StoreError> {
    commit(db, |tx, last| {
        let current = package_head(tx, &entry.name)?;
        if current != expected_head {
            return Err(StoreError::HeadMoved { current });
        }
        check(tx, &entry)?;
        Ok(LogEntry {
            seq: last + 1,
            time: now_millis(),
            entry,
        })
    })
}

/// Appends `logged`, an entry of another registry's log (a mirror's origin),
/// with its own sequence number and time, which must follow this log's last
/// entry; its index rows and transparency-log leaf come with it as in
/// [`append`].
pub fn replicate(db: &Db, logged: LogEntry) -> Result<LogEntry, StoreError> {
    commit(db, |_, last| {
        if logged.seq == last + 1 {
            Ok(logged)
        } else {
            Err(StoreError::BadRequest(format!(
                "entry {} does not follow this log's last entry, {last}; replicate the \
                 entries after {last} in order",
                logged.seq
            )))
        }
    })
}

/// Adds the entry `make` returns (given the transaction and the last
/// sequence number) to the log, the indexes and the transparency log, in one
/// transaction.
fn commit(
    db: &Db,
    make: impl FnOnce(&Db, u64) -> Result<LogEntry, StoreError>,
) -> Result<LogEntry, StoreError> {
    const APPENDING: &str = "appending to the registry log";
    db.transaction(APPENDING, |tx| {
        let last = tx.one(sql::LAST_SEQ, &[], APPENDING)?.u64(0)?;
        let logged = make(tx, last)?;
        apply(tx, &logged)?;
        insert_log(tx, &logged)?;
        crate::tlog::grow(tx, std::slice::from_ref(&logged))?;
        if tx.dialect() == Dialect::Postgres {
            // Delivered to the other instances' followers at the commit.
            tx.execute(sql::postgres::NOTIFY, &[], APPENDING)?;
        }
        Ok(logged)
    })
}

/// See `store.get-release`.
pub fn get_release(db: &Db, name: &str, version: &str) -> Result<Option<Release>, StoreError> {
    let rows = db.rows(
        db.pick(&sql::GET_RELEASE),
        params![name, version],
        "reading a release",
    )?;
    Ok(releases_from_rows(&rows)?.pop())
}

/// See `store.find-release`.
pub fn find_release(db: &Db, name: &str, version: &str) -> Result<Option<Release>, StoreError> {
    let without_build = version.split_once('+').map_or(version, |(v, _)| v);
    let rows = db.rows(
        db.pick(&sql::FIND_RELEASE),
        params![name, without_build],
        "finding a release",
    )?;
    Ok(releases_from_rows(&rows)?.pop())
}

/// See `store.list-releases`.
pub fn list_releases(db: &Db, name: &str) -> Result<Vec<Release>, StoreError> {
    let rows = db.rows(
        db.pick(&sql::LIST_RELEASES),
        params![name],
        "listing releases",
    )?;
    releases_from_rows(&rows)
}

/// See `store.list-packages`.
pub fn list_packages(
    db: &Db,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<PackageSummary>, StoreError> {
    db.rows(
        sql::LIST_PACKAGES,
        params![after.unwrap_or(""), limit.min(MAX_PAGE)],
        "listing packages",
    )?
    .iter()
    .map(|row| {
        Ok(PackageSummary {
            name: row.text(0)?,
            versions: row.u32(1)?,
            latest: row.opt_text(2)?,
            updated_at: row.u64(3)?,
        })
    })
    .collect()
}

/// See `store.release-by-digest`.
pub fn release_by_digest(db: &Db, digest: &str) -> Result<Option<Release>, StoreError> {
    let rows = db.rows(
        db.pick(&sql::RELEASE_BY_DIGEST),
        params![digest],
        "finding a release by digest",
    )?;
    Ok(releases_from_rows(&rows)?.pop())
}

/// See `store.stats`.
pub fn stats(db: &Db) -> Result<RegistryStats, StoreError> {
    let row = db.one(sql::STATS, &[], "counting packages and releases")?;
    Ok(RegistryStats {
        packages: row.u64(0)?,
        releases: row.u64(1)?,
        head: row.u64(2)?,
    })
}

/// Whether a release not taken down has content `digest`.
pub fn content_in_use(db: &Db, digest: &str) -> Result<bool, StoreError> {
    db.one(
        sql::CONTENT_IN_USE,
        params![digest],
        "checking whether content is in use",
    )?
    .bool(0)
}

/// A release from a row of `sql::RELEASE_COLUMNS`, its annotations
/// included.
pub fn release_from_row(row: &Row) -> Result<Release, StoreError> {
    let takedown = match row.opt_text(9)? {
        Some(reason) => Some(Takedown {
            reason,
            time: row.u64(10)?,
            seq: row.u64(11)?,
        }),
        None => None,
    };
    Ok(Release {
        name: row.text(0)?,
        version: row.text(1)?,
        digest: row.text(2)?,
        size: row.u64(3)?,
        published_at: row.u64(4)?,
        yanked: row.bool(5)?,
        seq: row.u64(6)?,
        metadata: row.json(7)?,
        oci: row.json(8)?,
        annotations: annotations(row.opt_text(13)?.as_deref())?,
        takedown,
        signature: match row.opt_text(12)? {
            Some(text) => Some(serde_json::from_str(&text).during("reading a release")?),
            None => None,
        },
    })
}

/// A release's annotations from their JSON column (see `sql::RELEASE_COLUMNS`),
/// in log order.
fn annotations(json: Option<&str>) -> Result<Vec<Annotation>, StoreError> {
    let listed: Vec<(String, String, u64, u64, Option<String>)> = match json {
        Some(json) => serde_json::from_str(json).during("reading annotations")?,
        None => Vec::new(),
    };
    let mut annotations: Vec<Annotation> = listed
        .into_iter()
        .map(|(type_, value, time, seq, annotator)| Annotation {
            type_,
            value,
            time,
            seq,
            annotator,
        })
        .collect();
    annotations.sort_by_key(|a| a.seq);
    Ok(annotations)
}

/// Releases from rows of `sql::RELEASE_COLUMNS`.
pub fn releases_from_rows(rows: &[Row]) -> Result<Vec<Release>, StoreError> {
    rows.iter().map(release_from_row).collect()
}

/// How a content kind is kept in the `kind` column.
pub fn kind_name(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Component => "component",
        ContentKind::WitPackage => "wit-package",
        ContentKind::CoreModule => "core-module",
    }
}

/// Derives the indexes from one log entry: the single definition of what an
/// entry means, used both when appending and when rebuilding. Refuses an
/// entry that does not fit the indexes as they are (`version-exists`,
/// `not-found`), which leaves the enclosing transaction to roll back.
fn apply(db: &Db, logged: &LogEntry) -> Result<(), StoreError> {
    const INDEXING: &str = "updating the registry indexes";
    let Entry {
        name,
        version,
        action,
    } = &logged.entry;
    match action {
        Action::Release(content) => {
            if release_exists(db, name, version)? {
                return Err(StoreError::VersionExists {
                    name: name.clone(),
                    version: version.clone(),
                });
            }
            let metadata = serde_json::to_string(&content.metadata).during(INDEXING)?;
            let oci = serde_json::to_string(&content.oci).during(INDEXING)?;
            let signature = content
                .signature
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .during(INDEXING)?;
            db.execute(
                sql::INSERT_RELEASE,
                params![
                    name,
                    version,
                    content.digest,
                    content.size,
                    logged.time,
                    logged.seq,
                    metadata,
                    oci,
                    kind_name(content.metadata.kind),
                    content.metadata.licenses,
                    signature
                ],
                INDEXING,
            )?;
            index_release(db, name, version, &content.metadata)?;
        }
        Action::Yank | Action::Unyank => {
            let yanked = matches!(action, Action::Yank);
            let changed = db.rows(sql::SET_YANKED, params![name, version, yanked], INDEXING)?;
            if changed.is_empty() {
                return Err(never_released(name, version));
            }
        }
        Action::Annotate(annotation) => {
            if !release_exists(db, name, version)? {
                return Err(never_released(name, version));
            }
            db.execute(
                sql::INSERT_ANNOTATION,
                params![
                    logged.seq,
                    name,
                    version,
                    annotation.type_,
                    annotation.value,
                    logged.time,
                    annotation.annotator
                ],
                INDEXING,
            )?;
        }
        Action::Takedown(reason) => {
            let changed = db.rows(
                sql::SET_TAKEDOWN,
                params![name, version, reason, logged.time, logged.seq],
                INDEXING,
            )?;
            if changed.is_empty() && !release_exists(db, name, version)? {
                return Err(never_released(name, version));
            }
        }
        // Key entries name a namespace or a package, not a release, and are
        // not in the package summary.
        Action::GrantKey(key) => {
            let namespace = name.split(':').next().unwrap_or(name);
            return db.execute(
                sql::INSERT_KEY_GRANT,
                params![name, key, namespace, logged.seq, logged.time],
                INDEXING,
            );
        }
        Action::RevokeKey(key) => {
            if db
                .rows(sql::DELETE_KEY_GRANT, params![name, key], INDEXING)?
                .is_empty()
            {
                return Err(StoreError::NotFound(format!(
                    "{key} is not granted on {name}, so there is nothing to revoke; list the \
                     grants with GET /v1/namespaces/{{namespace}}"
                )));
            }
            return Ok(());
        }
        Action::RequireSignatures(required) => {
            return db.execute(
                sql::SET_REQUIRE_SIGNATURES,
                params![name, required],
                INDEXING,
            );
        }
    }
    refresh_package(db, name, logged)
}

/// Whether `namespace` requires signed releases, and the keys granted on it
/// or its packages.
pub fn namespace_trust(db: &Db, namespace: &str) -> Result<SigningPolicy, StoreError> {
    const READING: &str = "reading a namespace's signing keys";
    let require_signatures =
        match db.optional(sql::REQUIRE_SIGNATURES, params![namespace], READING)? {
            Some(row) => row.bool(0)?,
            None => false,
        };
    let grants = db
        .rows(sql::KEY_GRANTS, params![namespace], READING)?
        .iter()
        .map(|row| {
            Ok(KeyGrant {
                key: row.text(0)?,
                scope: row.text(1)?,
                seq: row.u64(2)?,
                time: row.u64(3)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(SigningPolicy {
        require_signatures,
        grants,
    })
}

/// Records an unpublished release, replacing one of the same name and version.
pub fn put_pending(db: &Db, release: &PendingRelease) -> Result<(), StoreError> {
    const SAVING: &str = "saving an unpublished release";
    let record = serde_json::to_string(release).during(SAVING)?;
    db.execute(
        sql::PUT_PENDING,
        params![release.name, release.version, record],
        SAVING,
    )
}

/// The unpublished release of `name` at `version`, if any.
pub fn get_pending(
    db: &Db,
    name: &str,
    version: &str,
) -> Result<Option<PendingRelease>, StoreError> {
    const READING: &str = "reading an unpublished release";
    match db.optional(sql::GET_PENDING, params![name, version], READING)? {
        Some(row) => Ok(Some(serde_json::from_str(&row.text(0)?).during(READING)?)),
        None => Ok(None),
    }
}

/// Indexes a new release's interfaces and text (search.rs in the native store).
fn index_release(
    db: &Db,
    name: &str,
    version: &str,
    metadata: &Metadata,
) -> Result<(), StoreError> {
    const INDEXING: &str = "updating the search index";
    if db.text_index() {
        db.execute(
            sql::INSERT_RELEASE_TEXT,
            params![name, version, metadata.description],
            INDEXING,
        )?;
    }
    for (direction, interfaces) in [("import", &metadata.imports), ("export", &metadata.exports)] {
        for interface in interfaces {
            let base = interface
                .split_once('@')
                .map_or(interface.as_str(), |(b, _)| b);
            db.execute(
                sql::INSERT_INTERFACE,
                params![name, version, direction, interface, base],
                INDEXING,
            )?;
        }
    }
    Ok(())
}

fn release_exists(db: &Db, name: &str, version: &str) -> Result<bool, StoreError> {
    db.one(
        sql::RELEASE_EXISTS,
        params![name, version],
        "updating the registry indexes",
    )?
    .bool(0)
}

fn never_released(name: &str, version: &str) -> StoreError {
    StoreError::NotFound(format!(
        "{name} {version} was never released, so it cannot be changed; check the name and \
         version"
    ))
}

/// Recomputes the summary of package `name` after `logged` changed it.
fn refresh_package(db: &Db, name: &str, logged: &LogEntry) -> Result<(), StoreError> {
    const INDEXING: &str = "updating the package index";
    let releases = db.rows(sql::PACKAGE_RELEASES, params![name], INDEXING)?;
    let mut candidates = Vec::with_capacity(releases.len());
    for row in &releases {
        if let Ok(version) = Version::parse(&row.text(0)?) {
            candidates.push(Candidate {
                version,
                yanked: row.bool(1)?,
                taken_down: row.bool(2)?,
            });
        }
    }
    let latest = depot_protocol::latest(&candidates).map(Version::to_string);
    db.execute(
        sql::UPSERT_PACKAGE,
        params![name, releases.len(), latest, logged.time, logged.seq],
        INDEXING,
    )
}

/// Creates the tables and rebuilds the indexes from the log, in one
/// transaction, unless another instance did it first; records in `db`
/// whether the FTS5 text index exists.
pub fn rebuild_indexes(db: &Db) -> Result<(), StoreError> {
    const REBUILDING: &str = "rebuilding the registry indexes from the log";
    db.transaction(REBUILDING, |tx| {
        for statement in sql::LOG_SCHEMA {
            tx.create(statement, REBUILDING)?;
        }
        let (version, text_index, _) = tx.open_state()?;
        tx.set_text_index(text_index);
        if version == sql::INDEX_VERSION {
            return Ok(());
        }
        for statement in sql::DROP_INDEXES {
            tx.execute(statement, &[], REBUILDING)?;
        }
        for statement in sql::INDEX_SCHEMA {
            tx.create(statement, REBUILDING)?;
        }
        // A SQLite without FTS5 refuses the table, and PostgreSQL has no
        // FTS5; text search then reads the releases themselves (see `search`).
        tx.set_text_index(
            tx.dialect() == Dialect::Sqlite && tx.execute(sql::TEXT_INDEX, &[], REBUILDING).is_ok(),
        );
        let mut since = 0;
        loop {
            let page = read_log(tx, since, MAX_PAGE)?;
            let Some(last) = page.last() else { break };
            since = last.seq;
            for logged in &page {
                apply(tx, logged).map_err(|e| {
                    StoreError::storage(
                        REBUILDING,
                        format!("log entry {} does not apply: {e}", logged.seq),
                    )
                })?;
            }
        }
        match tx.dialect() {
            Dialect::Sqlite => {
                // PRAGMA takes no parameters.
                let set_version = format!("PRAGMA user_version = {}", sql::INDEX_VERSION);
                tx.execute(&set_version, &[], REBUILDING)
            }
            Dialect::Postgres => tx.execute(
                sql::postgres::SET_INDEX_VERSION,
                params![sql::INDEX_VERSION],
                REBUILDING,
            ),
        }
    })
}
