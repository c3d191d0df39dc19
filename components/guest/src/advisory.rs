//! The `advisory` annotation: a notice that some versions of a package should
//! not be used (a vulnerability, a data-loss bug), made by the operator or the
//! package's publishers on one of its releases. Its value is
//! `{"severity", "summary", "affected", "link"?, "id"?}`; `affected` is a
//! semver requirement naming every version it concerns, the annotated one
//! among them. Resolution with `exclude-advisories` leaves out every version
//! an advisory on any release of the package affects.

use depot_protocol::{Version, VersionReq};
use serde::Deserialize;

/// The annotation type of an advisory.
pub const TYPE: &str = "advisory";

/// The longest summary.
pub const MAX_SUMMARY: usize = 1000;

/// An advisory's value, checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Advisory {
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// What is wrong, in a sentence.
    pub summary: String,
    /// The versions it concerns, as a semver requirement (`>=1.0.0, <1.2.3`).
    pub affected: String,
    /// Where to read more (`https://…`).
    #[serde(default)]
    pub link: Option<String>,
    /// An identifier elsewhere (`CVE-2026-1234`, `GHSA-…`).
    #[serde(default)]
    pub id: Option<String>,
}

/// The severities, least first.
pub const SEVERITIES: [&str; 4] = ["low", "medium", "high", "critical"];

impl Advisory {
    /// The advisory in `value` (annotation JSON) made on `version`, or what is
    /// wrong with it.
    pub fn parse(value: &str, version: &str) -> Result<Self, String> {
        let advisory: Self = serde_json::from_str(value).map_err(|e| {
            format!(
                "an advisory's value is {{\"severity\", \"summary\", \"affected\", \"link\"?, \
                 \"id\"?}} ({e})"
            )
        })?;
        if !SEVERITIES.contains(&advisory.severity.as_str()) {
            return Err(format!(
                "advisory severity `{}` is not one of {}",
                advisory.severity,
                SEVERITIES.join(", ")
            ));
        }
        let summary = advisory.summary.trim();
        if summary.is_empty() || summary.len() > MAX_SUMMARY {
            return Err(format!(
                "an advisory needs a summary of 1 to {MAX_SUMMARY} bytes"
            ));
        }
        let affected = advisory.requirement()?;
        if let Ok(annotated) = version.parse::<Version>()
            && !affected.matches(&annotated)
        {
            return Err(format!(
                "the advisory's affected range `{}` leaves out {version}, the release it is \
                 made on; make it on an affected release",
                advisory.affected
            ));
        }
        if let Some(link) = &advisory.link
            && !(link.starts_with("https://") || link.starts_with("http://"))
        {
            return Err(format!("advisory link `{link}` is not an http(s) URL"));
        }
        Ok(advisory)
    }

    /// The versions it concerns.
    pub fn requirement(&self) -> Result<VersionReq, String> {
        depot_protocol::parse_requirement(&self.affected).map_err(|e| format!("advisory: {e}"))
    }

    /// Whether it concerns `version`.
    pub fn affects(&self, version: &Version) -> bool {
        self.requirement().is_ok_and(|r| r.matches(version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advisories_name_a_severity_a_summary_and_the_versions_they_affect() {
        let good = r#"{"severity":"high","summary":"RCE in parse","affected":">=1.0.0, <1.2.0",
                       "link":"https://example.com/a","id":"CVE-2026-1"}"#;
        let advisory = Advisory::parse(good, "1.1.0").unwrap();
        assert!(advisory.affects(&"1.0.5".parse().unwrap()));
        assert!(!advisory.affects(&"1.2.0".parse().unwrap()));
        for (value, said) in [
            (
                r#"{"severity":"dire","summary":"x","affected":"*"}"#,
                "severity",
            ),
            (
                r#"{"severity":"low","summary":" ","affected":"*"}"#,
                "summary",
            ),
            (
                r#"{"severity":"low","summary":"x","affected":"one"}"#,
                "advisory",
            ),
            (r#"{"severity":"low","summary":"x"}"#, "affected"),
            (
                r#"{"severity":"low","summary":"x","affected":"*","url":"x"}"#,
                "url",
            ),
            (
                r#"{"severity":"low","summary":"x","affected":"*","link":"ftp://x"}"#,
                "link",
            ),
            (
                r#"{"severity":"low","summary":"x","affected":"<1.0.0"}"#,
                "leaves out",
            ),
            ("\"bad\"", "value"),
        ] {
            let e = Advisory::parse(value, "1.1.0").unwrap_err();
            assert!(e.contains(said), "{value}: {e}");
        }
    }
}
