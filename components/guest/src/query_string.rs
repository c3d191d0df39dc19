//! Reads a request's query string: percent-decoding, parameters, and the
//! search query that `/v1/search` and the web view's search page share.

use crate::types::{ContentKind, ResolvePolicy, SearchQuery};

/// The search `query` asks for, pages of `default_limit` unless it says; and
/// the semver requirement (`version=`) releases must meet.
pub fn search_query(
    query: &str,
    default_limit: u32,
) -> Result<(SearchQuery, Option<String>), String> {
    let param = |key| Ok::<_, String>(query_param(query, key)?.filter(|v| !v.trim().is_empty()));
    let kind = match param("kind")?.as_deref() {
        None => None,
        Some(name) => Some(content_kind(name).ok_or_else(|| {
            format!(
                "kind `{name}` is not a content kind; use component, wit-package or core-module"
            )
        })?),
    };
    let mut include_yanked = false;
    let mut include_taken_down = false;
    for what in param("include")?.iter().flat_map(|i| i.split(',')) {
        match what.trim() {
            "yanked" => include_yanked = true,
            "taken-down" => include_taken_down = true,
            other => {
                return Err(format!(
                    "include=`{other}` is not known; include `yanked`, `taken-down` or both, \
                     comma-separated"
                ));
            }
        }
    }
    let search = SearchQuery {
        text: param("q")?,
        exports: param("exports")?,
        imports: param("imports")?,
        license: param("license")?,
        namespace: param("namespace")?,
        kind,
        include_yanked,
        include_taken_down,
        after: param("after")?,
        limit: limit(query_param(query, "limit")?, default_limit)?,
    };
    Ok((search, param("version")?))
}

/// The content kind named `name` as the API spells it.
pub fn content_kind(name: &str) -> Option<ContentKind> {
    match name {
        "component" => Some(ContentKind::Component),
        "wit-package" => Some(ContentKind::WitPackage),
        "core-module" => Some(ContentKind::CoreModule),
        _ => None,
    }
}

/// The resolution policy a query string asks for: `signed-by` (keys,
/// comma-separated), `annotated` (annotation types, comma-separated),
/// `min-age` (a duration such as `72h`) and `exclude-advisories`
/// (`true` or `false`). Empty parameters ask for nothing.
pub fn resolve_policy(query: &str) -> Result<ResolvePolicy, String> {
    let param = |key| Ok::<_, String>(query_param(query, key)?.filter(|v| !v.trim().is_empty()));
    let list = |value: Option<String>| -> Vec<String> {
        value
            .iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .collect()
    };
    let min_age_ms = match param("min-age")? {
        None => None,
        Some(age) => {
            let age = depot_protocol::parse_duration(&age).map_err(|e| format!("min-age: {e}"))?;
            Some(u64::try_from(age.as_millis()).unwrap_or(u64::MAX))
        }
    };
    let exclude_advisories = match param("exclude-advisories")?.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(format!("exclude-advisories=`{other}` is not true or false"));
        }
    };
    let annotated = list(param("annotated")?);
    for rule in &annotated {
        depot_protocol::annotation_rule(rule)?;
    }
    Ok(ResolvePolicy {
        signed_by: list(param("signed-by")?),
        annotated,
        min_age_ms,
        exclude_advisories,
    })
}

/// The most a page may hold.
pub const MAX_LIMIT: u32 = 1000;

/// A page size from `value`, from 1 to [`MAX_LIMIT`]; `default` when absent.
pub fn limit(value: Option<String>, default: u32) -> Result<u32, String> {
    let Some(value) = value else {
        return Ok(default);
    };
    value
        .parse()
        .ok()
        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
        .ok_or_else(|| {
            format!("limit `{value}` is not a page size; give a whole number from 1 to {MAX_LIMIT}")
        })
}

/// The first value of `key` in a form-encoded query string, decoded.
pub fn query_param(query: &str, key: &str) -> Result<Option<String>, String> {
    for pair in query.split('&') {
        let (k, value) = pair.split_once('=').unwrap_or((pair, ""));
        if percent_decode(k, true)? == key {
            return percent_decode(value, true).map(Some);
        }
    }
    Ok(None)
}

/// Decodes `%XX` escapes (and, in a query string, `+` as a space); the result
/// must be UTF-8.
pub fn percent_decode(text: &str, plus_is_space: bool) -> Result<String, String> {
    let invalid = || {
        format!(
            "`{text}` is not valid percent-encoded UTF-8; encode each byte that is not \
             allowed in a URL as %XX"
        )
    };
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let high = bytes.get(i + 1).and_then(|b| hex_value(*b));
                let low = bytes.get(i + 2).and_then(|b| hex_value(*b));
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(invalid());
                };
                decoded.push(high << 4 | low);
                i += 3;
            }
            b'+' if plus_is_space => {
                decoded.push(b' ');
                i += 1;
            }
            b => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded).map_err(|_| invalid())
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}
