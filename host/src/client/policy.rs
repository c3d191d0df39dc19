//! The client's trust policy for resolution: the rules in `depot.policy.toml`
//! (or the file `--policy` names) and on the command line. The registry
//! applies them (as the query parameters of `GET …/resolve`), and the client
//! checks the release it is given against the rules it can check itself, so a
//! registry that ignores them is caught.
//!
//! ```toml
//! # depot.policy.toml
//! signed-by = ["ed25519:…"]      # only releases signed by one of these keys
//! annotated = ["review@5e1f0c9a2b7d"]  # only releases carrying each: a type, made by that token
//! min-age = "72h"                # only releases published at least this long ago
//! exclude-advisories = true      # leave out releases an advisory concerns
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use depot_protocol::{
    annotation_rule, format_duration_ms, now_millis, parse_duration, parse_rfc3339,
};
use serde::Deserialize;

use super::api::Release;

/// The file read when `--policy` names none and it exists in the current folder.
pub const POLICY_FILE: &str = "depot.policy.toml";

/// The trust policy's command-line flags; each adds to the policy file's rules.
#[derive(Debug, Default, Args)]
pub struct PolicyArgs {
    /// Read the policy from this TOML file instead of `./depot.policy.toml`.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Only releases signed by this key (repeatable: one of them).
    #[arg(long, value_name = "KEY")]
    pub signed_by: Vec<String>,
    /// Only releases carrying an annotation of this type (repeatable: each);
    /// `TYPE@ANNOTATOR`: one made with the token whose id is ANNOTATOR.
    #[arg(long, value_name = "TYPE")]
    pub annotated: Vec<String>,
    /// Only releases published at least this long ago (`72h`, `7d`).
    #[arg(long, value_name = "DURATION")]
    pub min_age: Option<String>,
    /// Leave out releases an `advisory` annotation concerns.
    #[arg(long)]
    pub exclude_advisories: bool,
}

impl PolicyArgs {
    /// Whether any flag (or `--policy`) is given.
    pub fn any(&self) -> bool {
        self.policy.is_some()
            || !self.signed_by.is_empty()
            || !self.annotated.is_empty()
            || self.min_age.is_some()
            || self.exclude_advisories
    }
}

/// The rules of a policy file.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    signed_by: Vec<String>,
    #[serde(default)]
    annotated: Vec<String>,
    min_age: Option<String>,
    #[serde(default)]
    exclude_advisories: bool,
}

/// A trust policy: every rule given must hold for a release to be chosen.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Policy {
    pub signed_by: Vec<String>,
    pub annotated: Vec<String>,
    pub min_age_ms: Option<u64>,
    pub exclude_advisories: bool,
    /// Where the file's rules came from, for messages.
    pub file: Option<PathBuf>,
}

impl Policy {
    /// The policy `args` ask for: the file's rules (`--policy`, else
    /// `depot.policy.toml` in `dir` when it exists) with the flags' added.
    pub fn load(args: &PolicyArgs, dir: &Path) -> Result<Self> {
        let (file, rules) = match &args.policy {
            Some(path) => (Some(path.clone()), read(path)?),
            None => {
                let path = dir.join(POLICY_FILE);
                if path.exists() {
                    let rules = read(&path)?;
                    (Some(path), rules)
                } else {
                    (None, PolicyFile::default())
                }
            }
        };
        let mut signed_by = rules.signed_by;
        signed_by.extend(args.signed_by.iter().cloned());
        let mut annotated = rules.annotated;
        annotated.extend(args.annotated.iter().cloned());
        for key in &signed_by {
            key.parse::<depot_protocol::signing::PublicKey>()
                .map_err(|e| anyhow::anyhow!("signed-by `{key}` is not a public key: {e}"))?;
        }
        for rule in &annotated {
            if rule.contains(',') {
                bail!("annotated `{rule}` holds a comma: give one rule per entry");
            }
            annotation_rule(rule).map_err(anyhow::Error::msg)?;
        }
        let min_age = args.min_age.as_ref().or(rules.min_age.as_ref());
        let min_age_ms = match min_age {
            None => None,
            Some(age) => {
                let age = parse_duration(age).map_err(|e| anyhow::anyhow!("min-age: {e}"))?;
                Some(u64::try_from(age.as_millis()).unwrap_or(u64::MAX))
            }
        };
        signed_by.dedup();
        annotated.dedup();
        Ok(Self {
            signed_by,
            annotated,
            min_age_ms,
            exclude_advisories: rules.exclude_advisories || args.exclude_advisories,
            file,
        })
    }

    /// Whether the policy has no rule.
    pub fn is_empty(&self) -> bool {
        self.signed_by.is_empty()
            && self.annotated.is_empty()
            && self.min_age_ms.is_none()
            && !self.exclude_advisories
    }

    /// The policy as `GET …/resolve` query parameters.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if !self.signed_by.is_empty() {
            query.push(("signed-by", self.signed_by.join(",")));
        }
        if !self.annotated.is_empty() {
            query.push(("annotated", self.annotated.join(",")));
        }
        if let Some(ms) = self.min_age_ms {
            query.push(("min-age", format!("{ms}ms")));
        }
        if self.exclude_advisories {
            query.push(("exclude-advisories", "true".to_string()));
        }
        query
    }

    /// Checks the release the registry chose against the rules a client can
    /// check alone: its signer (whose signature the client verifies), its
    /// annotations and its age. The age is measured now: a release old
    /// enough at a past log position is older now, so this never refuses
    /// what the registry rightly chose. Advisories may be made on other
    /// releases of the package, so that rule is the registry's.
    pub fn check(&self, release: &Release) -> Result<()> {
        let now_ms = now_millis();
        let refuse = |why: String| {
            anyhow::anyhow!(
                "the registry chose {}@{}, which the trust policy{} refuses: {why}; refusing it",
                release.name,
                release.version,
                self.file
                    .as_ref()
                    .map(|f| format!(" ({})", f.display()))
                    .unwrap_or_default()
            )
        };
        if !self.signed_by.is_empty() {
            match &release.signature {
                Some(s) if self.signed_by.contains(&s.public_key) => {}
                Some(s) => return Err(refuse(format!("it is signed by {}", s.public_key))),
                None => return Err(refuse("it is not signed".to_string())),
            }
        }
        for rule in &self.annotated {
            let (type_, annotator) = annotation_rule(rule).map_err(anyhow::Error::msg)?;
            let made = |a: &super::api::Annotation| {
                a.type_ == type_ && annotator.is_none_or(|who| a.annotator.as_deref() == Some(who))
            };
            if !release.annotations.iter().any(made) {
                return Err(refuse(match annotator {
                    Some(who) => format!("it has no `{type_}` annotation by {who}"),
                    None => format!("it has no `{type_}` annotation"),
                }));
            }
        }
        if let Some(min_age) = self.min_age_ms {
            let published = parse_rfc3339(&release.published_at).unwrap_or(u64::MAX);
            let age = now_ms.saturating_sub(published);
            if published > now_ms || age < min_age {
                return Err(refuse(format!(
                    "it was published {} before, younger than min-age {}",
                    format_duration_ms(age),
                    format_duration_ms(min_age)
                )));
            }
        }
        Ok(())
    }

    /// The rules, for messages: `signed by K, annotated review, at least 72h old`.
    pub fn describe(&self) -> String {
        let mut rules = Vec::new();
        if !self.signed_by.is_empty() {
            rules.push(format!("signed by {}", self.signed_by.join(" or ")));
        }
        if !self.annotated.is_empty() {
            rules.push(format!("annotated {}", self.annotated.join(" and ")));
        }
        if let Some(ms) = self.min_age_ms {
            rules.push(format!("at least {} old", format_duration_ms(ms)));
        }
        if self.exclude_advisories {
            rules.push("without advisories".to_string());
        }
        rules.join(", ")
    }
}

fn read(path: &Path) -> Result<PolicyFile> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the policy file {}", path.display()))?;
    toml::from_str(&text).with_context(|| {
        format!(
            "{} is not a Depot policy file: it takes `signed-by` and `annotated` (lists of \
             strings), `min-age` (a duration such as \"72h\") and `exclude-advisories` \
             (true or false)",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) {
        std::fs::write(dir.join(POLICY_FILE), text).unwrap();
    }

    #[test]
    fn the_file_and_the_flags_add_up() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "annotated = [\"review\"]\nmin-age = \"72h\"\nexclude-advisories = true\n",
        );
        let args = PolicyArgs {
            annotated: vec!["audit".into()],
            min_age: Some("1d".into()),
            ..PolicyArgs::default()
        };
        let policy = Policy::load(&args, dir.path()).unwrap();
        assert_eq!(policy.annotated, ["review", "audit"]);
        assert_eq!(policy.min_age_ms, Some(86_400_000), "the flag wins");
        assert!(policy.exclude_advisories);
        assert_eq!(
            policy.query(),
            [
                ("annotated", "review,audit".to_string()),
                ("min-age", "86400000ms".to_string()),
                ("exclude-advisories", "true".to_string()),
            ]
        );
        assert_eq!(
            Policy::load(&PolicyArgs::default(), Path::new("/nonexistent")).unwrap(),
            Policy::default()
        );
    }

    #[test]
    fn a_bad_policy_file_or_rule_is_refused_saying_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "min-ages = \"72h\"\n");
        let err = format!(
            "{:#}",
            Policy::load(&PolicyArgs::default(), dir.path()).unwrap_err()
        );
        assert!(err.contains("min-ages") && err.contains("min-age"), "{err}");
        write(dir.path(), "min-age = \"soon\"\n");
        let err = format!(
            "{:#}",
            Policy::load(&PolicyArgs::default(), dir.path()).unwrap_err()
        );
        assert!(err.contains("min-age") && err.contains("soon"), "{err}");
        write(dir.path(), "signed-by = [\"not-a-key\"]\n");
        let err = format!(
            "{:#}",
            Policy::load(&PolicyArgs::default(), dir.path()).unwrap_err()
        );
        assert!(err.contains("not-a-key"), "{err}");
        let args = PolicyArgs {
            policy: Some(dir.path().join("missing.toml")),
            ..PolicyArgs::default()
        };
        let err = format!("{:#}", Policy::load(&args, dir.path()).unwrap_err());
        assert!(err.contains("missing.toml"), "{err}");
    }
}
