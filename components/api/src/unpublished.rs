//! Unpublished releases as the two-phase publish shows them: `GET
//! .../unpublished` (the publish handler makes and publishes them).

use depot_protocol::now_millis;

use crate::bindings::depot::registry::pending_read;
use crate::error::ApiError;
use crate::json;
use crate::response::Response;
use depot_guest::types::PendingRelease;

/// `GET .../unpublished`.
pub fn show(name: &str, version: &str) -> Result<Response, ApiError> {
    let pending = find(name, version)?;
    Ok(Response::json(
        200,
        &json::unpublished(&pending, now_millis()),
    ))
}

/// The unpublished release of `name` at `version`, whatever its status.
pub fn find(name: &str, version: &str) -> Result<PendingRelease, ApiError> {
    depot_guest::validate::name_and_version(name, version)?;
    pending_read::get_pending(name, version)?.ok_or_else(|| {
        ApiError::not_found(format!(
            "`{name}` {version} has no unpublished release; create one with POST /v1/releases"
        ))
    })
}
