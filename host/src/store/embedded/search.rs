//! Search over the indexes: which packages have a release matching a query,
//! ranked (an exact name, then names starting with the text, then word
//! matches in names and descriptions), and their matching releases.
//!
//! The tables (`release_interfaces`, the FTS5 table `release_text`, and the
//! `kind` and `licenses` columns of `releases`) are derived from the log by
//! [`index_release`], like every other index.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, params, params_from_iter};

use super::sqlite::{During, RELEASE_COLUMNS, release_from_row};
use crate::store::StoreError;
use crate::store::{ContentKind, Metadata};
use crate::store::{Release, SearchQuery};

/// The most packages one page holds.
const MAX_PAGE: u32 = 1000;

/// How a content kind is kept in the `kind` column.
pub fn kind_name(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Component => "component",
        ContentKind::WitPackage => "wit-package",
        ContentKind::CoreModule => "core-module",
    }
}

/// Indexes a new release's interfaces and text.
pub fn index_release(
    conn: &Connection,
    name: &str,
    version: &str,
    metadata: &Metadata,
) -> Result<(), StoreError> {
    const INDEXING: &str = "updating the search index";
    let rowid = conn.last_insert_rowid();
    conn.prepare_cached("INSERT INTO release_text (rowid, name, description) VALUES (?1, ?2, ?3)")
        .and_then(|mut stmt| stmt.execute(params![rowid, name, metadata.description]))
        .during(INDEXING)?;
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO release_interfaces (name, version, direction, interface, base) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .during(INDEXING)?;
    for (direction, interfaces) in [("import", &metadata.imports), ("export", &metadata.exports)] {
        for interface in interfaces {
            let base = interface
                .split_once('@')
                .map_or(interface.as_str(), |(b, _)| b);
            insert
                .execute(params![name, version, direction, interface, base])
                .during(INDEXING)?;
        }
    }
    Ok(())
}

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
fn rows(query: &SearchQuery, params: &mut Vec<SqlValue>) -> (String, &'static str) {
    let driving = [("export", &query.exports), ("import", &query.imports)]
        .into_iter()
        .find_map(|(direction, interface)| Some((direction, interface.as_deref()?)));
    match driving {
        Some((direction, interface)) => {
            params.push(SqlValue::Text(interface.to_string()));
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
fn release_filters(query: &SearchQuery, params: &mut Vec<SqlValue>, driven: bool) -> String {
    let mut conditions = vec!["1".to_string()];
    let interfaces = [("export", &query.exports), ("import", &query.imports)];
    let skip = usize::from(driven && interfaces.iter().any(|(_, i)| i.is_some()));
    let checked = interfaces
        .iter()
        .filter_map(|(direction, interface)| Some((direction, interface.as_ref()?)))
        .skip(skip);
    for (direction, interface) in checked {
        params.push(SqlValue::Text(interface.clone()));
        conditions.push(format!(
            "EXISTS (SELECT 1 FROM release_interfaces i WHERE i.name = r.name \
             AND i.version = r.version AND i.direction = '{direction}' AND i.{} = ?{})",
            interface_column(interface),
            params.len()
        ));
    }
    if let Some(license) = &query.license {
        params.push(SqlValue::Text(license.to_ascii_lowercase()));
        let n = params.len();
        // The identifier as a word of the expression, or the whole expression.
        conditions.push(format!(
            "(lower(r.licenses) = ?{n} OR instr(' ' || lower(replace(replace(r.licenses, '(', ' '), \
             ')', ' ')) || ' ', ' ' || ?{n} || ' ') > 0)"
        ));
    }
    if let Some(namespace) = &query.namespace {
        // A range of names, so the index on names serves it: `ns:` up to
        // `ns;`, the character after `:`.
        params.push(SqlValue::Text(format!("{namespace}:")));
        let from = params.len();
        params.push(SqlValue::Text(format!("{namespace};")));
        conditions.push(format!("r.name > ?{from} AND r.name < ?{}", params.len()));
    }
    if let Some(kind) = query.kind {
        params.push(SqlValue::Text(kind_name(kind).to_string()));
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

/// The FTS5 query for `text`: each word, quoted, as a prefix; none when
/// `text` has no words.
fn fts_query(text: &str) -> Option<String> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| format!("\"{}\"*", word.replace('"', "\"\"")))
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
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

/// The names of the packages of one page, best first, and the cursor of the
/// next page.
pub fn packages(
    conn: &Connection,
    query: &SearchQuery,
) -> Result<(Vec<String>, Option<String>), StoreError> {
    let (after_rank, after_name) = parse_after(query.after.as_deref())?;
    let limit = query.limit.clamp(1, MAX_PAGE);
    let mut params = Vec::new();
    let (from, name) = rows(query, &mut params);
    let filters = release_filters(query, &mut params, true);
    let Some(text) = &query.text else {
        // One rank: packages in name order, read in that order from an
        // index and only as far as the page goes.
        params.push(SqlValue::Text(after_name));
        let an = params.len();
        params.push(SqlValue::Integer(limit.into()));
        let sql = format!(
            "SELECT {name} FROM {from} WHERE {filters} AND {name} > ?{an} \
             GROUP BY {name} ORDER BY {name} LIMIT ?{}",
            params.len()
        );
        let names: Vec<String> = conn
            .prepare(&sql)
            .and_then(|mut stmt| {
                stmt.query_map(params_from_iter(params), |row| row.get(0))?
                    .collect()
            })
            .during("searching")?;
        let next = (names.len() == limit as usize)
            .then(|| names.last().map(|name| format!("0/{name}")))
            .flatten();
        return Ok((names, next));
    };
    // Ranks: the exact name, then names starting with the text, then words.
    params.push(SqlValue::Text(text.clone()));
    let q = params.len();
    let prefix = format!(
        "(substr(r.name, 1, length(?{q})) = ?{q} \
         OR substr(r.name, instr(r.name, ':') + 1, length(?{q})) = ?{q})"
    );
    let rank = format!("CASE WHEN r.name = ?{q} THEN 0 WHEN {prefix} THEN 1 ELSE 2 END");
    let words = match fts_query(text) {
        Some(fts) => {
            params.push(SqlValue::Text(fts));
            format!(
                " OR r.rowid IN (SELECT rowid FROM release_text WHERE release_text MATCH ?{})",
                params.len()
            )
        }
        None => String::new(),
    };
    let text_match = format!("(r.name = ?{q} OR {prefix}{words})");
    params.push(SqlValue::Integer(after_rank));
    let ar = params.len();
    params.push(SqlValue::Text(after_name));
    let an = params.len();
    params.push(SqlValue::Integer(limit.into()));
    let lim = params.len();
    let sql = format!(
        "SELECT name, MIN(rank) AS best FROM \
           (SELECT r.name AS name, {rank} AS rank FROM {from} \
            WHERE {filters} AND {text_match}) \
         GROUP BY name HAVING best > ?{ar} OR (best = ?{ar} AND name > ?{an}) \
         ORDER BY best, name LIMIT ?{lim}"
    );
    let hits: Vec<(String, i64)> = conn
        .prepare(&sql)
        .and_then(|mut stmt| {
            stmt.query_map(params_from_iter(params), |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?
            .collect()
        })
        .during("searching")?;
    let next = (hits.len() == limit as usize)
        .then(|| hits.last().map(|(name, rank)| format!("{rank}/{name}")))
        .flatten();
    Ok((hits.into_iter().map(|(name, _)| name).collect(), next))
}

/// The releases of the packages `names` that pass `query`'s filters (all but
/// the text, which chose the packages), grouped by package in the order of
/// `names`, each package's in publish order.
pub fn releases_of(
    conn: &Connection,
    names: &[String],
    query: &SearchQuery,
) -> Result<Vec<Release>, StoreError> {
    let listed = serde_json::to_string(names).during("searching")?;
    let mut params = vec![SqlValue::Text(listed)];
    let filters = release_filters(query, &mut params, false);
    let sql = format!(
        "SELECT {RELEASE_COLUMNS} FROM releases r \
         WHERE r.name IN (SELECT value FROM json_each(?1)) AND {filters} ORDER BY r.seq"
    );
    let mut releases: Vec<Release> = conn
        .prepare(&sql)
        .and_then(|mut stmt| {
            stmt.query_map(params_from_iter(params), release_from_row)?
                .collect()
        })
        .during("searching")?;
    // Stable: publish order stays within each package.
    releases.sort_by_key(|r| names.iter().position(|name| *name == r.name));
    Ok(releases)
}
