//! An example publish policy for Depot: the default policy's rules (name and
//! version syntax, content kind and size), plus two of its own: every release
//! must say under which license it is published, as a valid SPDX expression
//! (`MIT`, `Apache-2.0 WITH LLVM-exception OR MIT`), and describe itself. Both
//! come from the binary's `wasm-metadata` fields, which `wasm-tools metadata
//! add --licenses … --description …` or `cargo component` set.
//!
//! Swap it in with one line of a handler manifest:
//!
//! ```toml
//! policy = "target/components/wasm32-wasip2/release/strict_policy.wasm"
//! ```

/// The WIT bindings and the export glue: generated, and `unsafe` by nature.
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "depot:registry/policy-handler",
        with: { "depot:registry/types@0.1.0": depot_guest::types },
    });

    use super::StrictPolicy;
    export!(StrictPolicy);
}

// The default policy's rules, compiled here too, so that everything but the
// two extra rules behaves exactly as the default policy does.
use depot_guest::policy_rules as rules;
use depot_guest::validate;

use bindings::exports::depot::registry::policy::Guest;
use depot_guest::types::{Error, Metadata};

/// The strict policy.
#[derive(Debug)]
struct StrictPolicy;

impl Guest for StrictPolicy {
    fn max_content_size() -> u64 {
        rules::max_content_size()
    }

    fn check_name(name: String, version: String) -> Result<(), Error> {
        validate::name_and_version(&name, &version).map(drop)
    }

    fn check_release(_name: String, _version: String, metadata: Metadata) -> Result<(), Error> {
        rules::check_release(&metadata)?;
        check_documented(&metadata).map_err(Error::PolicyRejected)
    }
}

/// Refuses a release without an SPDX license expression or a description,
/// saying what to add and how.
fn check_documented(metadata: &Metadata) -> Result<(), String> {
    let mut missing = Vec::new();
    match metadata.licenses.as_deref().map(str::trim) {
        None | Some("") => missing.push(
            "a license: set the `licenses` metadata field to an SPDX expression, e.g. \
             `wasm-tools metadata add --licenses MIT`"
                .to_string(),
        ),
        Some(licenses) => {
            if let Err(e) = spdx::Expression::parse(licenses) {
                missing.push(format!(
                    "a valid license: `{licenses}` is not an SPDX expression ({}); use \
                     identifiers from https://spdx.org/licenses/, e.g. `MIT OR Apache-2.0`",
                    e.reason
                ));
            }
        }
    }
    if metadata
        .description
        .as_deref()
        .is_none_or(|d| d.trim().is_empty())
    {
        missing.push(
            "a description: set the `description` metadata field, e.g. `wasm-tools metadata \
             add --description \"What it does\"`"
                .to_string(),
        );
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "this registry requires every release to have {}",
            missing.join(", and ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use depot_guest::types::ContentKind;

    fn metadata(licenses: Option<&str>, description: Option<&str>) -> Metadata {
        Metadata {
            kind: ContentKind::Component,
            size: 100,
            digest: format!("sha256:{}", "0".repeat(64)),
            name: None,
            description: description.map(Into::into),
            authors: None,
            licenses: licenses.map(Into::into),
            source: None,
            homepage: None,
            revision: None,
            version: None,
            imports: Vec::new(),
            exports: Vec::new(),
            wit: None,
            worlds: None,
            registry: None,
        }
    }

    #[test]
    fn a_release_with_an_spdx_license_and_a_description_is_accepted() {
        let documented = metadata(
            Some("Apache-2.0 WITH LLVM-exception OR MIT"),
            Some("Greets"),
        );
        assert_eq!(check_documented(&documented), Ok(()));
    }

    #[test]
    fn a_release_without_license_or_description_is_told_what_to_add() {
        let err = check_documented(&metadata(None, Some("  "))).unwrap_err();
        assert!(err.contains("a license"), "{err}");
        assert!(err.contains("a description"), "{err}");
        let err = check_documented(&metadata(Some("MIT"), None)).unwrap_err();
        assert!(!err.contains("license"), "{err}");
    }

    #[test]
    fn a_license_that_is_not_spdx_is_refused() {
        let err = check_documented(&metadata(Some("Do what you like"), Some("x"))).unwrap_err();
        assert!(err.contains("not an SPDX expression"), "{err}");
    }
}
