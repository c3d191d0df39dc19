//! Depot's domain rules, shared by the handler components, the host and the CLI:
//! what a package name, a version, a digest and a version requirement look like,
//! and which release a requirement resolves to; and, in [`tlog`], the
//! transparency log's Merkle tree, proofs and signed checkpoints. Nothing here
//! does I/O.
//!
//! ```
//! use depot_protocol::{PackageName, Candidate, resolve};
//!
//! let name: PackageName = "example:greet".parse().unwrap();
//! assert_eq!(name.namespace(), "example");
//!
//! let versions = [
//!     Candidate { version: "1.2.0".parse().unwrap(), yanked: false, taken_down: false },
//!     Candidate { version: "1.3.0".parse().unwrap(), yanked: true, taken_down: false },
//! ];
//! let req = "^1.2".parse().unwrap();
//! assert_eq!(resolve(&versions, &req).unwrap().to_string(), "1.2.0");
//! ```
#![deny(missing_docs)]

pub mod signing;
pub mod surrogate;
pub mod tlog;
pub mod token;

use std::fmt;
use std::str::FromStr;

pub use semver::{Version, VersionReq};

/// The longest package name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// The most content bytes a release may have unless the operator says otherwise
/// (100 MiB).
pub const DEFAULT_MAX_CONTENT_SIZE: u64 = 100 * 1024 * 1024;

/// The environment variable through which the host tells the default publish
/// policy the most content bytes a release may have (a decimal byte count).
pub const MAX_CONTENT_SIZE_ENV: &str = "DEPOT_MAX_CONTENT_SIZE";

/// Why a name, version, digest or requirement was refused. The message says what
/// was wrong and what a valid one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not `namespace:name` in lowercase kebab-case.
    #[error(
        "invalid package name `{0}`: expected `namespace:name`, each part lowercase kebab-case \
         starting with a letter (for example `example:greet`), at most 128 bytes"
    )]
    Name(String),
    /// Not a semver 2.0 version.
    #[error("invalid version `{0}`: expected a semver 2.0 version such as `1.2.0` ({1})")]
    Version(String, String),
    /// Not a digest Depot understands.
    #[error(
        "invalid digest `{0}`: expected `sha256:` followed by 64 lowercase hex digits \
         (or `sha512:` followed by 128)"
    )]
    Digest(String),
    /// Not a semver requirement.
    #[error(
        "invalid version requirement `{0}`: expected a semver requirement such as `^1.2`, \
         `~1.2.3`, `>=1, <2` or `=1.2.3` ({1})"
    )]
    Requirement(String, String),
}

/// The content size limit given as `value` (the host passes it to the
/// handlers in [`MAX_CONTENT_SIZE_ENV`]), or [`DEFAULT_MAX_CONTENT_SIZE`].
///
/// The host sets the variable from its own configuration, so a value that is not
/// a byte count is a host bug; the default limit is then the safe answer.
pub fn max_content_size(value: Option<&str>) -> u64 {
    value
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(DEFAULT_MAX_CONTENT_SIZE)
}

/// Content over the registry's size limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the content is {}over this registry's limit of {limit} bytes; publish smaller \
     content, or ask the operator to raise the limit (`depot serve --max-content-size`)",
    match .size { Some(size) => format!("{size} bytes, "), None => String::new() }
)]
pub struct ContentTooLarge {
    /// The content's size, when known (an upload is cut off once it passes the limit).
    pub size: Option<u64>,
    /// The most content bytes a release may have.
    pub limit: u64,
}

/// Refuses `size` content bytes when they are over `limit`.
pub fn check_content_size(size: u64, limit: u64) -> Result<(), ContentTooLarge> {
    if size > limit {
        return Err(ContentTooLarge {
            size: Some(size),
            limit,
        });
    }
    Ok(())
}

/// A package name: `namespace:name`, each part a lowercase kebab-case word list
/// (`[a-z][a-z0-9]*` words joined by `-`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageName {
    full: String,
    colon: usize,
}

impl PackageName {
    /// The part before the colon.
    pub fn namespace(&self) -> &str {
        &self.full[..self.colon]
    }

    /// The part after the colon.
    pub fn name(&self) -> &str {
        &self.full[self.colon + 1..]
    }

    /// The whole name, `namespace:name`.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The OCI repository path of this package, `namespace/name`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.namespace(), self.name())
    }
}

fn is_kebab(part: &str) -> bool {
    !part.is_empty()
        && part.split('-').all(|word| {
            let mut chars = word.chars();
            matches!(chars.next(), Some('a'..='z'))
                && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9'))
        })
}

impl FromStr for PackageName {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let invalid = || ParseError::Name(s.to_string());
        if s.len() > MAX_NAME_LEN {
            return Err(invalid());
        }
        let colon = s.find(':').ok_or_else(invalid)?;
        let (namespace, name) = (&s[..colon], &s[colon + 1..]);
        if !is_kebab(namespace) || !is_kebab(name) {
            return Err(invalid());
        }
        Ok(Self {
            full: s.to_string(),
            colon,
        })
    }
}

impl fmt::Display for PackageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

/// Parses a semver 2.0 version, with a message that says what is expected.
pub fn parse_version(s: &str) -> Result<Version, ParseError> {
    Version::parse(s).map_err(|e| ParseError::Version(s.to_string(), e.to_string()))
}

/// Parses a semver requirement, with a message that says what is expected.
pub fn parse_requirement(s: &str) -> Result<VersionReq, ParseError> {
    VersionReq::parse(s).map_err(|e| ParseError::Requirement(s.to_string(), e.to_string()))
}

/// A content digest, `sha256:<64 lowercase hex digits>` (what Depot names
/// content by) or `sha512:<128 lowercase hex digits>` (which OCI clients may
/// upload blobs as).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest(String);

/// The hash a [`Digest`] is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// SHA-256, 64 hex digits.
    Sha256,
    /// SHA-512, 128 hex digits.
    Sha512,
}

impl Algorithm {
    /// The name before the colon, `sha256` or `sha512`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
        }
    }

    fn hex_len(self) -> usize {
        match self {
            Self::Sha256 => 64,
            Self::Sha512 => 128,
        }
    }
}

impl Digest {
    /// The digest of `hex`, 64 lowercase hex digits of a SHA-256 hash.
    pub fn sha256(hex: &str) -> Result<Self, ParseError> {
        format!("sha256:{hex}").parse()
    }

    /// The hash the digest is made with.
    pub fn algorithm(&self) -> Algorithm {
        if self.0.starts_with("sha512:") {
            Algorithm::Sha512
        } else {
            Algorithm::Sha256
        }
    }

    /// The hex part, without the algorithm.
    pub fn hex(&self) -> &str {
        &self.0[self.algorithm().name().len() + 1..]
    }

    /// The whole digest, `<algorithm>:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Digest {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        let invalid = || ParseError::Digest(s.to_string());
        let (name, hex) = s.split_once(':').ok_or_else(invalid)?;
        let algorithm = [Algorithm::Sha256, Algorithm::Sha512]
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(invalid)?;
        if hex.len() != algorithm.hex_len()
            || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(invalid());
        }
        Ok(Self(s.to_string()))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One released version, as resolution sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The released version.
    pub version: Version,
    /// Whether its publisher yanked it.
    pub yanked: bool,
    /// Whether the operator took it down: it never resolves.
    pub taken_down: bool,
}

/// The version a package's listing calls its latest: the highest release that
/// is neither yanked nor taken down, preferring releases over pre-releases (a
/// `2.0.0-rc.1` is latest only while no stable release is available).
pub fn latest(candidates: &[Candidate]) -> Option<&Version> {
    candidates
        .iter()
        .filter(|c| !c.yanked && !c.taken_down)
        .map(|c| &c.version)
        .max_by(|a, b| {
            (a.pre.is_empty(), a)
                .partial_cmp(&(b.pre.is_empty(), b))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
}

/// Why a requirement matched no release.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The package has no releases at all.
    #[error("the package has no releases")]
    NoReleases,
    /// Nothing matches; `yanked` and `taken_down` list versions that would
    /// have matched but for that.
    #[error("{}", no_match_message(.requirement, .available, .yanked, .taken_down))]
    NoMatch {
        /// The requirement as given.
        requirement: String,
        /// Up to a few of the highest versions neither yanked nor taken down.
        available: Vec<Version>,
        /// Yanked versions that match the requirement.
        yanked: Vec<Version>,
        /// Versions taken down that match the requirement.
        taken_down: Vec<Version>,
    },
}

fn no_match_message(
    requirement: &str,
    available: &[Version],
    yanked: &[Version],
    taken_down: &[Version],
) -> String {
    let mut msg = format!("no release matches `{requirement}`");
    if !taken_down.is_empty() {
        msg.push_str(&format!(
            "; {} matches but was taken down by the operator",
            join(taken_down)
        ));
    }
    if let Some(v) = yanked.first() {
        msg.push_str(&format!(
            "; {} matches but is yanked (pin it with `={v}` to use it anyway)",
            join(yanked)
        ));
    }
    if available.is_empty() {
        msg.push_str("; every release is yanked");
    } else {
        msg.push_str(&format!("; available: {}", join(available)));
    }
    msg
}

fn join(versions: &[Version]) -> String {
    versions
        .iter()
        .map(Version::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `req` pins exactly one version (`=1.2.3`, with every part given).
pub fn pins_exactly(req: &VersionReq) -> Option<Version> {
    match req.comparators.as_slice() {
        [c] if c.op == semver::Op::Exact => Some(Version {
            major: c.major,
            minor: c.minor?,
            patch: c.patch?,
            pre: c.pre.clone(),
            build: semver::BuildMetadata::EMPTY,
        }),
        _ => None,
    }
}

/// The highest candidate matching `req` that is not yanked; a yanked one only
/// when `req` pins exactly it; one taken down never.
pub fn resolve<'a>(
    candidates: &'a [Candidate],
    req: &VersionReq,
) -> Result<&'a Version, ResolveError> {
    if candidates.is_empty() {
        return Err(ResolveError::NoReleases);
    }
    let pinned = pins_exactly(req);
    let best = candidates
        .iter()
        .filter(|c| req.matches(&c.version) && !c.taken_down)
        .filter(|c| {
            !c.yanked
                || pinned
                    .as_ref()
                    .is_some_and(|p| p.cmp_precedence(&c.version).is_eq())
        })
        .map(|c| &c.version)
        .max_by(|a, b| a.cmp_precedence(b).then_with(|| a.cmp(b)));
    best.ok_or_else(|| {
        // Highest first.
        let versions = |keep: &dyn Fn(&Candidate) -> bool| {
            let mut kept: Vec<Version> = candidates
                .iter()
                .filter(|c| keep(c))
                .map(|c| c.version.clone())
                .collect();
            kept.sort_by(|a, b| b.cmp(a));
            kept
        };
        let mut available = versions(&|c| !c.yanked && !c.taken_down);
        available.truncate(5);
        ResolveError::NoMatch {
            requirement: req.to_string(),
            available,
            yanked: versions(&|c| c.yanked && !c.taken_down && req.matches(&c.version)),
            taken_down: versions(&|c| c.taken_down && req.matches(&c.version)),
        }
    })
}

/// `millis` since the Unix epoch as RFC 3339 UTC with milliseconds, for example
/// `2026-11-28T04:10:00.123Z`.
pub fn rfc3339(millis: u64) -> String {
    let (days, millis_of_day) = (millis / 86_400_000, millis % 86_400_000);
    let (year, month, day) = civil_from_days(days);
    let seconds_of_day = millis_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60,
        millis_of_day % 1000
    )
}

/// A trust policy's `annotated` rule: `type` (an annotation of that type made
/// by anyone) or `type@annotator` (made with the token whose id is
/// `annotator`). Fails on an empty type or annotator.
pub fn annotation_rule(rule: &str) -> Result<(&str, Option<&str>), String> {
    let (type_, annotator) = match rule.split_once('@') {
        Some((type_, annotator)) => (type_, Some(annotator)),
        None => (rule, None),
    };
    if type_.is_empty() || annotator.is_some_and(|a| a.is_empty() || a.contains('@')) {
        return Err(format!(
            "annotated `{rule}` is not an annotation type, or a type and the id of the token \
             that made it (`review@5e1f0c9a2b7d`)"
        ));
    }
    Ok((type_, annotator))
}

/// Parses a duration: a number with a unit `ms`, `s`, `m`, `h` or `d`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let invalid = || {
        format!(
            "invalid duration `{text}`: expected a number with a unit, such as 60s, 500ms, 2m or 24h"
        )
    };
    let (number, unit) = number_and_unit(text).ok_or_else(invalid)?;
    let duration = match unit {
        "ms" => std::time::Duration::from_millis(number),
        "" | "s" => std::time::Duration::from_secs(number),
        "m" | "min" => std::time::Duration::from_secs(number.checked_mul(60).ok_or_else(invalid)?),
        "h" => std::time::Duration::from_secs(number.checked_mul(3600).ok_or_else(invalid)?),
        "d" => std::time::Duration::from_secs(number.checked_mul(86_400).ok_or_else(invalid)?),
        _ => return Err(invalid()),
    };
    if duration.is_zero() {
        return Err(format!("invalid duration `{text}`: it must be more than 0"));
    }
    Ok(duration)
}

/// The number a text starts with, and the rest trimmed (its unit): `24h`
/// is `(24, "h")`.
pub fn number_and_unit(text: &str) -> Option<(u64, &str)> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    Some((number.parse().ok()?, unit.trim()))
}

/// A duration for messages, in its two largest units: `3d 4h`, `2h 5m`,
/// `45s`, `300ms`.
pub fn format_duration_ms(ms: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
    ];
    let mut parts = Vec::new();
    let mut left = ms;
    for (unit, scale) in UNITS {
        if left >= scale && parts.len() < 2 {
            parts.push(format!("{}{unit}", left / scale));
            left %= scale;
        } else if !parts.is_empty() {
            break;
        }
    }
    if parts.is_empty() {
        format!("{ms}ms")
    } else {
        parts.join(" ")
    }
}

/// Milliseconds since the Unix epoch now, from the system's (or the
/// component runtime's) wall clock; 0 for a clock set before 1970.
pub fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Milliseconds since the Unix epoch of `text`, a time as [`rfc3339`] writes
/// it (`2026-11-28T04:10:00.123Z`); none for any other form.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let shape = b.len() == 24
        && [4, 7, 10, 13, 16, 19, 23]
            .iter()
            .zip(b"--T::.Z")
            .all(|(i, c)| b[*i] == *c);
    if !shape {
        return None;
    }
    let field = |range: std::ops::Range<usize>| -> Option<u64> {
        let digits = text.get(range)?;
        digits
            .bytes()
            .all(|d| d.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (year, month, day) = (field(0..4)?, field(5..7)?, field(8..10)?);
    let (hour, minute, second, milli) = (
        field(11..13)?,
        field(14..16)?,
        field(17..19)?,
        field(20..23)?,
    );
    if year < 1970
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let millis = ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + milli;
    // Refuses dates that do not exist (`02-30`): they do not come back the same.
    (rfc3339(millis) == text).then_some(millis)
}

/// Days from 1970-01-01 to the proleptic Gregorian date, on or after the
/// epoch: Howard Hinnant's `days_from_civil`, the inverse of [`civil_from_days`].
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year % 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date `days` after 1970-01-01: Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch. Eras are 400-year cycles
/// of 146 097 days, counted from 0000-03-01 so that the leap day ends a year.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // 719 468 days from 0000-03-01 to 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidates(list: &[(&str, bool)]) -> Vec<Candidate> {
        list.iter()
            .map(|(v, yanked)| Candidate {
                version: v.parse().unwrap(),
                yanked: *yanked,
                taken_down: false,
            })
            .collect()
    }

    fn resolved(list: &[(&str, bool)], req: &str) -> Result<String, ResolveError> {
        let c = candidates(list);
        resolve(&c, &req.parse().unwrap()).map(|v| v.to_string())
    }

    #[test]
    fn durations_read_with_units_and_print_in_their_two_largest() {
        let ms = |text: &str| parse_duration(text).map(|d| d.as_millis());
        assert_eq!(ms("72h"), Ok(72 * 3_600_000));
        assert_eq!(ms("7d"), Ok(7 * 86_400_000));
        assert_eq!(ms("90"), Ok(90_000));
        assert!(ms("0s").is_err() && ms("soon").is_err() && ms("3w").is_err());
        assert_eq!(format_duration_ms(300), "300ms");
        assert_eq!(format_duration_ms(45_000), "45s");
        assert_eq!(
            format_duration_ms(2 * 3_600_000 + 5 * 60_000 + 7_000),
            "2h 5m"
        );
        assert_eq!(format_duration_ms(3 * 86_400_000 + 4 * 3_600_000), "3d 4h");
        assert_eq!(format_duration_ms(86_400_000 + 30_000), "1d");
    }

    #[test]
    fn names_are_namespace_colon_name_in_kebab_case() {
        for ok in [
            "a:b",
            "example:greet",
            "wasi:http",
            "my-org:my-pkg2",
            "a1:b-c3",
        ] {
            let n: PackageName = ok.parse().unwrap();
            assert_eq!(n.to_string(), ok);
        }
        let n: PackageName = "my-org:greet".parse().unwrap();
        assert_eq!((n.namespace(), n.name()), ("my-org", "greet"));
        assert_eq!(n.repository(), "my-org/greet");
        for bad in [
            "",
            "greet",
            ":greet",
            "example:",
            "Example:greet",
            "example:Greet",
            "ex ample:g",
            "1ex:greet",
            "ex--a:greet",
            "ex-:greet",
            "a:b:c",
            "ex:gr/eet",
            "ex:-greet",
        ] {
            assert!(bad.parse::<PackageName>().is_err(), "{bad:?} was accepted");
        }
        let long = format!("a:{}", "b".repeat(MAX_NAME_LEN));
        assert!(long.parse::<PackageName>().is_err());
    }

    #[test]
    fn digests_are_sha256_or_sha512_with_lowercase_hex() {
        let hex = "ab".repeat(32);
        let d: Digest = format!("sha256:{hex}").parse().unwrap();
        assert_eq!((d.hex(), d.algorithm()), (hex.as_str(), Algorithm::Sha256));
        let long = "cd".repeat(64);
        let d: Digest = format!("sha512:{long}").parse().unwrap();
        assert_eq!((d.hex(), d.algorithm()), (long.as_str(), Algorithm::Sha512));
        for bad in [
            format!("sha256:{}", "AB".repeat(32)),
            format!("sha256:{}", "ab".repeat(31)),
            format!("sha256:{long}"),
            format!("sha512:{hex}"),
            format!("md5:{hex}"),
            hex.clone(),
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn resolution_picks_the_highest_matching_release_that_is_not_yanked() {
        let list = [
            ("1.0.0", false),
            ("1.2.0", false),
            ("1.3.0", true),
            ("2.0.0", false),
        ];
        assert_eq!(resolved(&list, "^1.2").unwrap(), "1.2.0");
        assert_eq!(resolved(&list, "*").unwrap(), "2.0.0");
        assert_eq!(resolved(&list, "^1").unwrap(), "1.2.0");
        assert_eq!(resolved(&list, "<1.2").unwrap(), "1.0.0");
    }

    #[test]
    fn a_yanked_release_resolves_only_when_pinned_exactly() {
        let list = [("1.2.0", false), ("1.3.0", true)];
        assert_eq!(resolved(&list, "=1.3.0").unwrap(), "1.3.0");
        let err = resolved(&list, "^1.3").unwrap_err().to_string();
        assert!(err.contains("1.3.0 matches but is yanked"), "{err}");
        assert_eq!(resolved(&list, "=1.2.0").unwrap(), "1.2.0");
    }

    #[test]
    fn prereleases_match_only_when_asked_for() {
        let list = [("1.0.0", false), ("1.1.0-rc.1", false)];
        assert_eq!(resolved(&list, "^1").unwrap(), "1.0.0");
        assert_eq!(resolved(&list, "^1.1.0-rc.1").unwrap(), "1.1.0-rc.1");
    }

    #[test]
    fn content_over_the_limit_is_refused_with_both_sizes() {
        assert_eq!(check_content_size(10, 10), Ok(()));
        let err = check_content_size(11, 10).unwrap_err().to_string();
        let expected = "the content is 11 bytes, over this registry's limit of 10 bytes;";
        assert!(err.starts_with(expected));
        assert!(err.contains("depot serve --max-content-size"));
        let cut_off = ContentTooLarge {
            size: None,
            limit: 10,
        };
        let err = cut_off.to_string();
        let expected = "the content is over this registry's limit of 10 bytes;";
        assert!(err.starts_with(expected));
    }

    #[test]
    fn latest_prefers_releases_over_prereleases_and_skips_yanked() {
        let latest_of = |list: &[(&str, bool)]| latest(&candidates(list)).map(|v| v.to_string());
        let list = [
            ("1.0.0", false),
            ("1.10.0", false),
            ("1.9.0", false),
            ("2.0.0-rc.1", false),
        ];
        assert_eq!(latest_of(&list).as_deref(), Some("1.10.0"));
        assert_eq!(
            latest_of(&[("1.0.0", true), ("1.1.0-rc.1", false)]).as_deref(),
            Some("1.1.0-rc.1")
        );
        assert_eq!(latest_of(&[("1.0.0", true)]), None);
        assert_eq!(latest_of(&[]), None);
    }

    #[test]
    fn no_match_says_what_exists() {
        let err = resolved(&[("1.0.0", false)], "^2").unwrap_err();
        assert_eq!(err.to_string(), "no release matches `^2`; available: 1.0.0");
        assert_eq!(resolved(&[], "*").unwrap_err(), ResolveError::NoReleases);
    }

    #[test]
    fn a_release_taken_down_never_resolves_and_is_never_latest() {
        let mut list = candidates(&[("1.0.0", false), ("1.1.0", false), ("2.0.0", false)]);
        for c in &mut list {
            c.taken_down = c.version.minor == 1 || c.version.major == 2;
        }
        assert_eq!(
            latest(&list).map(Version::to_string).as_deref(),
            Some("1.0.0")
        );
        let resolve_text = |req: &str| resolve(&list, &req.parse().unwrap()).map(|v| v.to_string());
        assert_eq!(resolve_text("^1").unwrap(), "1.0.0");
        let err = resolve_text("=1.1.0").unwrap_err();
        let ResolveError::NoMatch {
            available,
            taken_down,
            ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(taken_down, &[Version::new(1, 1, 0)]);
        assert_eq!(available, &[Version::new(1, 0, 0)]);
        assert_eq!(
            err.to_string(),
            "no release matches `=1.1.0`; 1.1.0 matches but was taken down by the operator; \
             available: 1.0.0"
        );
    }

    #[test]
    fn rfc3339_times_parse_back_to_the_same_milliseconds() {
        for millis in [
            0,
            951_782_400_000,
            951_868_799_999,
            1_795_839_000_123,
            4_107_542_400_000,
        ] {
            assert_eq!(parse_rfc3339(&rfc3339(millis)), Some(millis));
        }
        for bad in [
            "2026-11-28T04:10:00Z",
            "2026-02-30T00:00:00.000Z",
            "2026-11-28 04:10:00.000Z",
            "2026-13-01T00:00:00.000Z",
            "x026-11-28T04:10:00.000Z",
            "1969-12-31T23:59:59.999Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_milliseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(951_868_799_999), "2000-02-29T23:59:59.999Z");
        assert_eq!(rfc3339(1_795_839_000_123), "2026-11-28T04:10:00.123Z");
        assert_eq!(rfc3339(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
    }
}
