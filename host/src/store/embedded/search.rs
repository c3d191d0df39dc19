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
use crate::store::backend::StoreError;
use crate::store::generated::depot::registry::types::{ContentKind, Metadata};
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

/// The SQL conditions on a release `r` every filter of `query` but the
/// text adds, with their parameters.
fn release_filters(query: &SearchQuery, params: &mut Vec<SqlValue>) -> String {
    let mut conditions = vec!["1".to_string()];
    for (direction, interface) in [("import", &query.imports), ("export", &query.exports)] {
        if let Some(interface) = interface {
            params.push(SqlValue::Text(interface.clone()));
            let n = params.len();
            conditions.push(format!(
                "EXISTS (SELECT 1 FROM release_interfaces i WHERE i.name = r.name \
                 AND i.version = r.version AND i.direction = '{direction}' \
                 AND (i.base = ?{n} OR i.interface = ?{n}))"
            ));
        }
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
    let filters = release_filters(query, &mut params);
    let (rank, text_match) = match &query.text {
        Some(text) => {
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
                        " OR r.rowid IN (SELECT rowid FROM release_text WHERE release_text MATCH \
                         ?{})",
                        params.len()
                    )
                }
                None => String::new(),
            };
            (rank, format!("(r.name = ?{q} OR {prefix}{words})"))
        }
        None => ("0".to_string(), "1".to_string()),
    };
    params.push(SqlValue::Integer(after_rank));
    let ar = params.len();
    params.push(SqlValue::Text(after_name));
    let an = params.len();
    params.push(SqlValue::Integer(limit.into()));
    let lim = params.len();
    let sql = format!(
        "SELECT name, MIN(rank) AS best FROM \
           (SELECT r.name AS name, {rank} AS rank FROM releases r \
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
    let filters = release_filters(query, &mut params);
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
