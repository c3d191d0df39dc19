//! The default policy's rules for content. The policy fixtures and the
//! example strict policy use them too, so that everything but what they
//! change behaves exactly like the default policy.

use crate::types::{ContentKind, Error, Metadata};
use depot_protocol::MAX_CONTENT_SIZE_ENV;

/// The longest description a release may carry, in bytes: it is kept in the
/// registry log and shown on every page that lists the release.
pub const MAX_DESCRIPTION: usize = 64 * 1024;

/// The most interfaces (or functions) a release's world may list as imports,
/// and as exports: each is indexed for search.
pub const MAX_INTERFACES: usize = 10_000;

/// What every release must respect, whatever the policy: what the registry
/// keeps of its metadata is bounded. Checked by the publish handler before
/// the policy is asked.
pub fn check_metadata(metadata: &Metadata) -> Result<(), Error> {
    if let Some(description) = &metadata.description
        && description.len() > MAX_DESCRIPTION
    {
        return Err(Error::PolicyRejected(format!(
            "the description is {} bytes; a release's description may have at most \
             {MAX_DESCRIPTION} bytes: shorten it, and link to longer documentation",
            description.len()
        )));
    }
    for (what, list) in [
        ("imports", &metadata.imports),
        ("exports", &metadata.exports),
    ] {
        if list.len() > MAX_INTERFACES {
            return Err(Error::PolicyRejected(format!(
                "the component's world lists {} {what}; a release may list at most \
                 {MAX_INTERFACES}: group functions into interfaces",
                list.len()
            )));
        }
    }
    Ok(())
}

/// The limit the host passes in `DEPOT_MAX_CONTENT_SIZE`, or 100 MiB.
pub fn max_content_size() -> u64 {
    depot_protocol::max_content_size(std::env::var(MAX_CONTENT_SIZE_ENV).ok().as_deref())
}

/// Refuses content over the limit. Any of the three kinds is accepted; the match
/// is exhaustive so that a kind added to the WIT enum needs a decision here.
pub fn check_release(metadata: &Metadata) -> Result<(), Error> {
    depot_protocol::check_content_size(metadata.size, max_content_size())
        .map_err(|e| Error::TooLarge(e.to_string()))?;
    match metadata.kind {
        ContentKind::Component | ContentKind::WitPackage | ContentKind::CoreModule => Ok(()),
    }
}
