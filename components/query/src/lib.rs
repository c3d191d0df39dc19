//! Depot's query handler (`depot:registry/query`): packages, releases, version
//! resolution and lookup by digest, over the indexes the store keeps.

/// The WIT bindings and the export glue: generated, and `unsafe` by nature.
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "depot:registry/query-handler",
        with: { "depot:registry/types@0.1.0": depot_guest::types },
    });

    use super::QueryHandler;
    export!(QueryHandler);
}

use depot_guest::advisory::{self, Advisory};
use depot_guest::validate;

use std::cmp::Ordering;

use bindings::depot::registry::{index, log_read};
use bindings::exports::depot::registry::query::{Guest, PackagePage, SearchResults};
use depot_guest::types::{
    Action, Annotation, Error, LogEntry, RegistryStats, Release, ResolvePolicy, SearchQuery,
};
use depot_protocol::{Candidate, Digest, PackageName, ResolveError, Version};

/// The most packages one page holds.
const MAX_PAGE: u32 = 1000;

/// The query handler.
#[derive(Debug)]
struct QueryHandler;

impl Guest for QueryHandler {
    fn list_packages(after: Option<String>, limit: u32) -> Result<PackagePage, Error> {
        if let Some(after) = &after {
            after.parse::<PackageName>()?;
        }
        let limit = limit.clamp(1, MAX_PAGE);
        let packages = index::list_packages(after.as_deref(), limit)?;
        // A full page may have a successor; a short one is the last.
        let next = if packages.len() == limit as usize {
            packages.last().map(|summary| summary.name.clone())
        } else {
            None
        };
        Ok(PackagePage { packages, next })
    }

    fn list_releases(name: String) -> Result<Vec<Release>, Error> {
        Ok(highest_version_first(releases_of(&name.parse()?)?))
    }

    fn get_release(name: String, version: String) -> Result<Release, Error> {
        validate::name_and_version(&name, &version)?;
        match index::get_release(&name, &version)? {
            Some(release) => Ok(release),
            None if log_read::package_head(&name)? == 0 => Err(no_such_package(&name)),
            None => Err(Error::NotFound(format!(
                "`{name}` has no release {version}; list its releases to see which exist"
            ))),
        }
    }

    fn resolve(name: String, requirement: String) -> Result<Release, Error> {
        let name: PackageName = name.parse()?;
        let releases = releases_of(&name)?;
        let candidates = releases
            .into_iter()
            .filter_map(|release| Some((candidate(&release)?, release)))
            .collect();
        choose(&name, &requirement, candidates)
    }

    fn releases_at(name: String, at: u64) -> Result<Vec<Release>, Error> {
        let name: PackageName = name.parse()?;
        let (releases, _) = history(&name, at)?;
        Ok(highest_version_first(
            releases.into_iter().map(|(release, _)| release).collect(),
        ))
    }

    fn resolve_with(
        name: String,
        requirement: String,
        at: Option<u64>,
        policy: ResolvePolicy,
    ) -> Result<Release, Error> {
        let name: PackageName = name.parse()?;
        let (releases, now) = match at {
            Some(at) => history(&name, at)?,
            None => {
                let releases = releases_of(&name)?;
                let releases = releases
                    .into_iter()
                    .map(|release| {
                        let taken_down = release.takedown.is_some();
                        (release, taken_down)
                    })
                    .collect();
                (releases, depot_protocol::now_millis())
            }
        };
        let advisories = advisories(releases.iter().map(|(release, _)| release));
        let mut allowed = Vec::new();
        let mut excluded = Vec::new();
        for (release, taken_down) in releases {
            let Some(mut candidate) = candidate(&release) else {
                continue;
            };
            candidate.taken_down = taken_down;
            match left_out(&policy, &release, now, &advisories) {
                None => allowed.push((candidate, release)),
                Some(rule) => excluded.push((candidate.version, rule)),
            }
        }
        choose(&name, &requirement, allowed).map_err(|e| {
            let Ok(wanted) = depot_protocol::parse_requirement(&requirement) else {
                return e;
            };
            let reasons: Vec<String> = excluded
                .iter()
                .filter(|(version, _)| wanted.matches(version))
                .map(|(version, rule)| format!("{version} ({rule})"))
                .collect();
            if reasons.is_empty() {
                return e;
            }
            Error::NotFound(format!(
                "`{name}`: the policy leaves out every release that meets `{requirement}` and \
                 would be chosen: {}; relax the policy or require another version",
                reasons.join(", ")
            ))
        })
    }

    fn read_feed(since: u64, limit: u32, wait_ms: u32) -> Result<Vec<LogEntry>, Error> {
        let limit = limit.clamp(1, MAX_PAGE);
        let entries = log_read::read_log(since, limit)?;
        if !entries.is_empty() || wait_ms == 0 || !log_read::wait_log(since, wait_ms)? {
            return Ok(entries);
        }
        log_read::read_log(since, limit)
    }

    fn search(mut query: SearchQuery, version: Option<String>) -> Result<SearchResults, Error> {
        let requirement = version
            .as_deref()
            .map(depot_protocol::parse_requirement)
            .transpose()?;
        query.text = clean(query.text, "text")?;
        query.exports = clean(query.exports, "exports")?;
        query.imports = clean(query.imports, "imports")?;
        query.license = clean(query.license, "license")?;
        if let Some(license) = &query.license
            && !license
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " .-+:()".contains(c))
        {
            return Err(Error::BadRequest(format!(
                "license `{license}` is not an SPDX identifier or expression; use one such as \
                 MIT or Apache-2.0"
            )));
        }
        query.namespace = clean(query.namespace, "namespace")?;
        if let Some(namespace) = &query.namespace
            && format!("{namespace}:package")
                .parse::<PackageName>()
                .is_err()
        {
            return Err(Error::BadRequest(format!(
                "namespace `{namespace}` is not a namespace; use the part of a package name                  before the `:`, in lowercase kebab-case, such as `wasi`"
            )));
        }
        query.limit = query.limit.clamp(1, MAX_PAGE);
        let page = index::search(&query)?;
        // The store lists each package's matching releases together; keep
        // the highest that meets the requirement.
        let releases = page
            .releases
            .chunk_by(|a, b| a.name == b.name)
            .filter_map(|releases| {
                releases
                    .iter()
                    .filter_map(|release| {
                        let version = depot_protocol::parse_version(&release.version).ok()?;
                        let wanted = requirement.as_ref().is_none_or(|r| r.matches(&version));
                        wanted.then_some((version, release))
                    })
                    .max_by(|(a, _), (b, _)| a.cmp_precedence(b).then_with(|| a.cmp(b)))
                    .map(|(_, release)| release.clone())
            })
            .collect();
        Ok(SearchResults {
            releases,
            next: page.next,
        })
    }

    fn stats() -> Result<RegistryStats, Error> {
        index::stats()
    }

    fn release_by_digest(digest: String) -> Result<Release, Error> {
        let digest: Digest = digest.parse()?;
        index::release_by_digest(digest.as_str())?.ok_or_else(|| {
            Error::NotFound(format!(
                "no release has content {digest}; check the digest, or fetch by package name \
                 and version"
            ))
        })
    }
}

/// The release `requirement` picks among `candidates` (how resolution sees
/// each release, and the release), with the error resolution gives.
fn choose(
    name: &PackageName,
    requirement: &str,
    candidates: Vec<(Candidate, Release)>,
) -> Result<Release, Error> {
    let text = requirement;
    let requirement = depot_protocol::parse_requirement(text)?;
    let (candidates, releases): (Vec<Candidate>, Vec<Release>) = candidates.into_iter().unzip();
    let chosen = depot_protocol::resolve(&candidates, &requirement).map_err(|e| match &e {
        ResolveError::NoMatch { taken_down, .. } if !taken_down.is_empty() => {
            let reasons: Vec<String> = candidates
                .iter()
                .zip(&releases)
                .filter(|(candidate, _)| taken_down.contains(&candidate.version))
                .filter_map(|(_, release)| {
                    let reason = &release.takedown.as_ref()?.reason;
                    Some(format!("{} (reason: {reason})", release.version))
                })
                .collect();
            Error::TakenDown(format!(
                "`{name}`: only releases taken down by the operator match `{text}`: {}; \
                 require another version",
                reasons.join(", ")
            ))
        }
        _ => Error::NotFound(format!("`{name}`: {e}")),
    })?;
    candidates
        .iter()
        .zip(releases)
        .find(|(candidate, _)| &candidate.version == chosen)
        .map(|(_, release)| release)
        .ok_or_else(|| Error::NotFound(format!("`{name}`: no release matches")))
}

/// When log entry `at` was appended; `bad-request` when there is no such entry.
fn entry_time(at: u64) -> Result<u64, Error> {
    // The log reads entry `at` back after `at - 1`.
    let entry = match at.checked_sub(1) {
        Some(before) => log_read::read_log(before, 1)?.into_iter().next(),
        None => None,
    };
    match entry {
        Some(entry) if entry.seq == at => Ok(entry.time),
        _ => Err(Error::BadRequest(format!(
            "at={at} is not an entry of the registry log; give a sequence number from 1 to \
             the log's head (GET /v1/stats)"
        ))),
    }
}

/// The advisories made on `releases`, each with the version it was made on:
/// parsed, or none for one made before advisories were checked (it concerns
/// only its own release).
fn advisories<'a>(releases: impl Iterator<Item = &'a Release>) -> Vec<(String, Option<Advisory>)> {
    releases
        .flat_map(|release| {
            release
                .annotations
                .iter()
                .filter(|a| a.type_ == advisory::TYPE)
                .map(|a| {
                    let value = Advisory::parse(&a.value, &release.version).ok();
                    (release.version.clone(), value)
                })
        })
        .collect()
}

/// The advisory that concerns `release`, as a reason to leave it out.
fn advised(release: &Release, advisories: &[(String, Option<Advisory>)]) -> Option<String> {
    let version = depot_protocol::parse_version(&release.version).ok()?;
    advisories.iter().find_map(|(on, advisory)| match advisory {
        Some(advisory) if advisory.affects(&version) => Some(format!(
            "has an advisory ({}: {}, made on {on}, affects {})",
            advisory.severity, advisory.summary, advisory.affected
        )),
        None if on == &release.version => Some("has an advisory".to_string()),
        _ => None,
    })
}

/// Why `policy` leaves `release` out, if it does, at time `now` (ms), given
/// the package's `advisories`.
fn left_out(
    policy: &ResolvePolicy,
    release: &Release,
    now: u64,
    advisories: &[(String, Option<Advisory>)],
) -> Option<String> {
    let key = release.signature.as_ref().map(|signature| &signature.key);
    if !policy.signed_by.is_empty() && !key.is_some_and(|key| policy.signed_by.contains(key)) {
        return Some(match key {
            None => "not signed, and signed-by asks for a signature".to_string(),
            Some(key) => format!("signed by {key}, not a key signed-by names"),
        });
    }
    for rule in &policy.annotated {
        // The query string's rules are checked when it is read.
        let Ok((type_, annotator)) = depot_protocol::annotation_rule(rule) else {
            return Some(format!("`{rule}` is not an annotated rule"));
        };
        let made = |a: &Annotation| {
            a.type_ == type_ && annotator.is_none_or(|who| a.annotator.as_deref() == Some(who))
        };
        if !release.annotations.iter().any(made) {
            return Some(match annotator {
                Some(who) => format!("no `{type_}` annotation by {who}"),
                None => format!("no `{type_}` annotation"),
            });
        }
    }
    if policy.exclude_advisories
        && let Some(reason) = advised(release, advisories)
    {
        return Some(reason);
    }
    let age = now.saturating_sub(release.published_at);
    match policy.min_age_ms {
        Some(min_age) if age < min_age => Some(format!(
            "published {} ago, younger than min-age {}",
            depot_protocol::format_duration_ms(age),
            depot_protocol::format_duration_ms(min_age)
        )),
        _ => None,
    }
}

/// The releases of `name` as the registry had them right after log entry
/// `at`, each with whether it was taken down by then: published by then,
/// yanked as the last yank or unyank by then left it, annotated by then. A
/// takedown made later stays on the release (its content is gone) without
/// counting as one. Also when entry `at` was appended.
fn history(name: &PackageName, at: u64) -> Result<(Vec<(Release, bool)>, u64), Error> {
    let time = entry_time(at)?;
    let entries = log_read::package_log(name.as_str(), at)?;
    let mut releases: Vec<(Release, bool)> = releases_of(name)?
        .into_iter()
        .filter(|release| release.seq <= at)
        .map(|mut release| {
            release.yanked = false;
            release
                .annotations
                .retain(|annotation| annotation.seq <= at);
            (release, false)
        })
        .collect();
    for logged in &entries {
        let found = releases
            .iter_mut()
            .find(|(release, _)| release.version == logged.entry.version);
        let Some((release, taken_down)) = found else {
            continue;
        };
        match logged.entry.action {
            Action::Yank => release.yanked = true,
            Action::Unyank => release.yanked = false,
            Action::Takedown(_) => *taken_down = true,
            _ => {}
        }
    }
    if releases.is_empty() {
        return Err(Error::NotFound(format!(
            "`{name}` had no release yet right after log entry {at}; resolve without `at`, or \
             at a later entry"
        )));
    }
    Ok((releases, time))
}

/// The longest search text or filter.
const MAX_SEARCH_TEXT: usize = 256;

/// A search field trimmed, none when empty; `bad-request` when too long.
fn clean(field: Option<String>, what: &str) -> Result<Option<String>, Error> {
    let Some(field) = field else { return Ok(None) };
    let field = field.trim();
    if field.len() > MAX_SEARCH_TEXT {
        return Err(Error::BadRequest(format!(
            "the search {what} is {} bytes; use at most {MAX_SEARCH_TEXT}",
            field.len()
        )));
    }
    Ok((!field.is_empty()).then(|| field.to_string()))
}

/// How resolution sees `release`; none when its version does not parse.
fn candidate(release: &Release) -> Option<Candidate> {
    Some(Candidate {
        version: depot_protocol::parse_version(&release.version).ok()?,
        yanked: release.yanked,
        taken_down: release.takedown.is_some(),
    })
}

/// Every release of `name`; `not-found` when the package has none.
fn releases_of(name: &PackageName) -> Result<Vec<Release>, Error> {
    let releases = index::list_releases(name.as_str())?;
    if releases.is_empty() {
        return Err(no_such_package(name));
    }
    Ok(releases)
}

fn no_such_package(name: impl std::fmt::Display) -> Error {
    Error::NotFound(format!(
        "no package named `{name}`; check the name, or list the registry's packages"
    ))
}

/// `releases` in semver order, highest first.
fn highest_version_first(releases: Vec<Release>) -> Vec<Release> {
    let mut keyed: Vec<(Option<Version>, Release)> = releases
        .into_iter()
        .map(|release| {
            (
                depot_protocol::parse_version(&release.version).ok(),
                release,
            )
        })
        .collect();
    keyed.sort_by(|(a, _), (b, _)| highest_first(a.as_ref(), b.as_ref()));
    keyed.into_iter().map(|(_, release)| release).collect()
}

/// Semver order, highest first: precedence, then build metadata so the order is
/// total. A version that does not parse (none should) sorts last.
fn highest_first(a: Option<&Version>, b: Option<&Version>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => b.cmp_precedence(a).then_with(|| b.cmp(a)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}
