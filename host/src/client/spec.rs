//! Packages and releases as the command line names them:
//! `namespace:name`, `namespace:name@requirement`, `namespace:name@version`.

use anyhow::{Result, bail};
use depot_protocol::{PackageName, parse_version};

/// Splits `namespace:name@rest` and checks the name.
pub fn split_spec(spec: &str) -> Result<(PackageName, Option<&str>)> {
    let (name, rest) = match spec.split_once('@') {
        Some((name, rest)) => (name, Some(rest)),
        None => (spec, None),
    };
    Ok((name.parse()?, rest))
}

/// Parses `namespace:name@version`.
pub fn release_spec(spec: &str) -> Result<(PackageName, String)> {
    match split_spec(spec)? {
        (name, Some(version)) => {
            parse_version(version)?;
            Ok((name, version.to_string()))
        }
        (name, None) => {
            bail!("`{spec}` names no version: write `{name}@<version>`, e.g. `{name}@1.0.0`")
        }
    }
}
