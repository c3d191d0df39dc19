//! Advisories as the CLI shows them: `depot info` and `depot audit` list the
//! advisories that concern a release.

use depot_protocol::{parse_requirement, parse_version};

/// Every advisory made on a release of `package` that concerns `version`
/// (its `affected` range holds it; one without a range concerns only its
/// own release), a line each: severity, summary, range, where it was made,
/// its id and link.
pub fn advisories(package: &depot_wire::Package, version: &str) -> Vec<String> {
    let parsed = parse_version(version).ok();
    package
        .versions
        .iter()
        .flat_map(|r| {
            r.annotations
                .iter()
                .filter(|a| a.type_ == "advisory")
                .map(move |a| (r, &a.value))
        })
        .filter_map(|(r, value)| {
            let text = |key: &str| value[key].as_str().map(str::to_string);
            let affected = text("affected");
            let concerns = match affected
                .as_deref()
                .and_then(|range| parse_requirement(range).ok())
            {
                Some(range) => parsed.as_ref().is_some_and(|v| range.matches(v)),
                None => r.version == version,
            };
            concerns.then(|| {
                let mut line = format!(
                    "{} {} (affects {}; made on {})",
                    text("severity").unwrap_or_default().to_uppercase(),
                    text("summary").unwrap_or_else(|| value.to_string()),
                    affected.unwrap_or_else(|| r.version.clone()),
                    r.version
                );
                for extra in [text("id"), text("link")].into_iter().flatten() {
                    line.push(' ');
                    line.push_str(&extra);
                }
                line
            })
        })
        .collect()
}
