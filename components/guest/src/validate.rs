//! Checks a request's names, versions and digests with depot-protocol's rules,
//! turning its messages into the WIT `error` cases a client acts on.

use crate::types::Error;
use depot_protocol::{PackageName, ParseError, Version};

impl From<ParseError> for Error {
    fn from(e: ParseError) -> Self {
        let message = e.to_string();
        match e {
            ParseError::Name(_) => Error::InvalidName(message),
            ParseError::Version(..) => Error::InvalidVersion(message),
            ParseError::Digest(_) => Error::InvalidDigest(message),
            ParseError::Requirement(..) => Error::InvalidRequirement(message),
        }
    }
}

/// Parses a package name and a version; `invalid-name` or `invalid-version` when
/// either is malformed.
pub fn name_and_version(name: &str, version: &str) -> Result<(PackageName, Version), Error> {
    Ok((name.parse()?, depot_protocol::parse_version(version)?))
}
