//! Search over the indexes: which packages have a release matching a query, ranked (an exact name,
//! then names starting with the text, then word matches in names and
//! descriptions), and their matching releases.
//!
//! Word matches use the FTS5 table `release_text` where the SQLite has FTS5
//! (Spin's own SQLite, a bundled rusqlite, does). Where it has none (the
//! table could not be created), each word must instead occur, in any case,
//! in the release's name or description: the same packages for whole words
//! and word prefixes, and a few more for a word inside another word.

use crate::db::Value;

use crate::db::{Db, Dialect};
use crate::entries::MAX_PAGE;
use crate::error::{During, StoreError};
use crate::log::{self, kind_name};
use crate::sql::RELEASE_COLUMNS;
use crate::types::{Release, SearchQuery};

/// The column of `release_interfaces` that matches `interface`: the full
/// name when it has a version, else the name without one.
fn interface_column(interface: &str) -> &'static str {
    if interface.contains('@') {
        "interface"
    } else {
        "base"
    }
}

/// The rows a search reads: releases `r`, or, when an interface filter is
/// given, that interface's index rows `x` joined to their releases, so the
/// search reads only the releases with that interface, in name order. The
/// SQL `FROM` clause and the column naming each row's package.
fn rows(query: &SearchQuery, params: &mut Vec<Value>) -> (String, &'static str) {
    let driving = [("export", &query.exports), ("import", &query.imports)]
        .into_iter()
        .find_map(|(direction, interface)| Some((direction, interface.as_deref()?)));
    match driving {
        Some((direction, interface)) => {
            params.push(Value::Text(interface.to_string()));
            let from = format!(
                "release_interfaces x JOIN releases r ON r.name = x.name AND r.version = x.version \
                 AND x.direction = '{direction}' AND x.{} = ?{}",
                interface_column(interface),
                params.len()
            );
            (from, "x.name")
        }
        None => ("releases r".to_string(), "r.name"),
    }
}

/// The SQL conditions on a release `r` every filter of `query` but the
/// text adds, with their parameters; `driven` leaves out the interface
/// [`rows`] already matches (the export when there is one, else the import).
fn release_filters(db: &Db, query: &SearchQuery, params: &mut Vec<Value>, driven: bool) -> String {
    let mut conditions = vec!["1 = 1".to_string()];
    let interfaces = [("export", &query.exports), ("import", &query.imports)];
    let skip = usize::from(driven && interfaces.iter().any(|(_, i)| i.is_some()));
    let checked = interfaces
        .iter()
        .filter_map(|(direction, interface)| Some((direction, interface.as_ref()?)))
        .skip(skip);
    for (direction, interface) in checked {
        params.push(Value::Text(interface.clone()));
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM release_interfaces i WHERE i.name = r.name \
             AND i.version = r.version AND i.direction = '{direction}' AND i.{} = ?{})",
            interface_column(interface),
            params.len()
        ));
    }
    if let Some(license) = &query.license {
        params.push(Value::Text(license.to_ascii_lowercase()));
        let n = params.len();
        // The identifier as a word of the expression, or the whole expression.
        let words = "' ' || lower(replace(replace(r.licenses, '(', ' '), ')', ' ')) || ' '";
        let word = format!("' ' || CAST(?{n} AS TEXT) || ' '");
        conditions.push(format!(
            "(lower(r.licenses) = ?{n} OR {} > 0)",
            position(db, words, &word)
        ));
    }
    if let Some(namespace) = &query.namespace {
        // A range of names, so the index on names serves it: `ns:` up to
        // `ns;`, the character after `:`.
        params.push(Value::Text(format!("{namespace}:")));
        let from = params.len();
        params.push(Value::Text(format!("{namespace};")));
        conditions.push(format!("r.name > ?{from} AND r.name < ?{}", params.len()));
    }
    if let Some(kind) = query.kind {
        params.push(Value::Text(kind_name(kind).to_string()));
        conditions.push(format!("r.kind = ?{}", params.len()));
    }
    if !query.include_yanked {
        conditions.push("r.yanked = 0".to_string());
    }
    if !query.include_taken_down {
        conditions.push("r.takedown_seq IS NULL".to_string());
    }
    conditions.join(" AND ")
}

/// The words of a text query, as FTS5 tokenizes them.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
}

/// The FTS5 query for `text`: each word, quoted, as a prefix; none when
/// `text` has no words.
fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = words(text)
        .map(|word| format!("\"{}\"*", word.replace('"', "\"\"")))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

/// The SQL condition for a word match of `text` on release `r`, with its
/// parameters; none when `text` has no words.
fn word_match(db: &Db, text: &str, params: &mut Vec<Value>) -> Option<String> {
    if db.text_index() {
        params.push(Value::Text(fts_query(text)?));
        return Some(format!(
            "r.rowid IN (SELECT rowid FROM release_text WHERE release_text MATCH ?{})",
            params.len()
        ));
    }
    // Without FTS5: every word in the name or the description. `lower` folds
    // ASCII only, so the words are lowercased here and the text there.
    let description = match db.dialect() {
        Dialect::Sqlite => "json_extract(r.metadata, '$.description')",
        Dialect::Postgres => "(CAST(r.metadata AS jsonb) ->> 'description')",
    };
    let haystack = format!("lower(r.name || ' ' || COALESCE({description}, ''))");
    let conditions: Vec<String> = words(text)
        .map(|word| {
            params.push(Value::Text(word.to_lowercase()));
            let needle = format!("CAST(?{} AS TEXT)", params.len());
            format!("{} > 0", position(db, &haystack, &needle))
        })
        .collect();
    (!conditions.is_empty()).then(|| format!("({})", conditions.join(" AND ")))
}

/// Where `needle` starts in `haystack`, from 1; 0 when it does not occur.
fn position(db: &Db, haystack: &str, needle: &str) -> String {
    match db.dialect() {
        Dialect::Sqlite => format!("instr({haystack}, {needle})"),
        Dialect::Postgres => format!("strpos({haystack}, {needle})"),
    }
}

/// Where a page starts: after this rank and name.
fn parse_after(after: Option<&str>) -> Result<(i64, String), StoreError> {
    let Some(after) = after else {
        return Ok((-1, String::new()));
    };
    after
        .split_once('/')
        .and_then(|(rank, name)| Some((rank.parse().ok()?, name.to_string())))
        .ok_or_else(|| {
            StoreError::BadRequest(format!(
                "`{after}` is not a search cursor; pass the `next` of the previous page as it was"
            ))
        })
}

/// See `store.search`: the releases of one page of packages, best first,
/// and the cursor of the next page.
pub fn search(db: &Db, query: &SearchQuery) -> Result<(Vec<Release>, Option<String>), StoreError> {
    let (names, next) = packages(db, query)?;
    let releases = releases_of(db, &names, query)?;
    Ok((releases, next))
}

/// The names of the packages of one page, best first, and the cursor of the
/// next page.
fn packages(db: &Db, query: &SearchQuery) -> Result<(Vec<String>, Option<String>), StoreError> {
    const SEARCHING: &str = "searching";
    let (after_rank, after_name) = parse_after(query.after.as_deref())?;
    let limit = query.limit.clamp(1, MAX_PAGE);
    let mut params = Vec::new();
    let (from, name) = rows(query, &mut params);
    let filters = release_filters(db, query, &mut params, true);
    let Some(text) = &query.text else {
        // One rank: packages in name order, read in that order from an
        // index and only as far as the page goes.
        params.push(Value::Text(after_name));
        let an = params.len();
        params.push(Value::Integer(limit.into()));
        let sql = format!(
            "SELECT {name} FROM {from} WHERE {filters} AND {name} > ?{an} \
             GROUP BY {name} ORDER BY {name} LIMIT ?{}",
            params.len()
        );
        let names = db
            .rows(&sql, &params, SEARCHING)?
            .iter()
            .map(|row| row.text(0))
            .collect::<Result<Vec<_>, _>>()?;
        let next = (names.len() == limit as usize)
            .then(|| names.last().map(|name| format!("0/{name}")))
            .flatten();
        return Ok((names, next));
    };
    // Ranks: the exact name, then names starting with the text, then words.
    params.push(Value::Text(text.clone()));
    let q = params.len();
    let length = format!("length(CAST(?{q} AS TEXT))");
    let prefix = format!(
        "(substr(r.name, 1, {length}) = ?{q} \
         OR substr(r.name, {} + 1, {length}) = ?{q})",
        position(db, "r.name", "':'")
    );
    let rank = format!("CASE WHEN r.name = ?{q} THEN 0 WHEN {prefix} THEN 1 ELSE 2 END");
    let words = word_match(db, text, &mut params)
        .map(|condition| format!(" OR {condition}"))
        .unwrap_or_default();
    let text_match = format!("(r.name = ?{q} OR {prefix}{words})");
    params.push(Value::Integer(after_rank));
    let ar = params.len();
    params.push(Value::Text(after_name));
    let an = params.len();
    params.push(Value::Integer(limit.into()));
    let lim = params.len();
    let sql = format!(
        "SELECT name, MIN(rank) AS best FROM \
           (SELECT r.name AS name, {rank} AS rank FROM {from} \
            WHERE {filters} AND {text_match}) AS hits \
         GROUP BY name HAVING MIN(rank) > ?{ar} OR (MIN(rank) = ?{ar} AND name > ?{an}) \
         ORDER BY best, name LIMIT ?{lim}"
    );
    let hits = db
        .rows(&sql, &params, SEARCHING)?
        .iter()
        .map(|row| Ok((row.text(0)?, row.i64(1)?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let next = (hits.len() == limit as usize)
        .then(|| hits.last().map(|(name, rank)| format!("{rank}/{name}")))
        .flatten();
    Ok((hits.into_iter().map(|(name, _)| name).collect(), next))
}

/// The releases of the packages `names` that pass `query`'s filters (all but
/// the text, which chose the packages), grouped by package in the order of
/// `names`, each package's in publish order.
///
/// Read package by package: each name's releases by the index on names, each
/// checked against the filters. On PostgreSQL the names drive a lateral join
/// whose subquery is kept apart (`OFFSET 0`), so the planner cannot start
/// from the interface filter instead: for an interface thousands of
/// releases export, that reads every one of them (over a second at a million
/// releases) where a page needs only its packages' few.
fn releases_of(db: &Db, names: &[String], query: &SearchQuery) -> Result<Vec<Release>, StoreError> {
    let listed = serde_json::to_string(names).during("searching")?;
    let mut params = vec![Value::Text(listed)];
    let filters = release_filters(db, query, &mut params, false);
    let columns = db.pick(&RELEASE_COLUMNS);
    let sql = match db.dialect() {
        Dialect::Sqlite => format!(
            "SELECT {columns} FROM releases r \
             WHERE r.name IN (SELECT value FROM json_each(?1)) AND {filters} ORDER BY r.seq"
        ),
        Dialect::Postgres => format!(
            "SELECT {columns} FROM jsonb_array_elements_text(CAST(?1 AS jsonb)) AS listed(package) \
             CROSS JOIN LATERAL (SELECT * FROM releases r \
               WHERE r.name = listed.package AND {filters} OFFSET 0) AS r \
             ORDER BY r.seq"
        ),
    };
    let mut releases = log::releases_from_rows(&db.rows(&sql, &params, "searching")?)?;
    // Stable: publish order stays within each package.
    releases.sort_by_key(|r| names.iter().position(|name| *name == r.name));
    Ok(releases)
}
