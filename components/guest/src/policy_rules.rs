//! The default policy's rules for content. The policy fixtures and the
//! example strict policy use them too, so that everything but what they
//! change behaves exactly like the default policy.

use crate::types::{ContentKind, Error, Metadata};
use depot_protocol::MAX_CONTENT_SIZE_ENV;

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
