//! Uploads as the pull side sees them: where an upload is and how far it has
//! got (`GET blobs/uploads/<id>`), and the answers a push shares with it.

use crate::bindings::depot::registry::oci_read;
use crate::response::{Body, Response};
use depot_guest::types::Error;

use crate::error::oci::OciError;
use crate::routes::oci::Repository;

/// `GET blobs/uploads/<id>`: how much has arrived.
pub fn status(repository: &Repository, id: &str) -> Result<Response, OciError> {
    check_name(repository)?;
    let size = oci_read::upload_size(id).map_err(upload_error(id))?;
    Ok(upload_accepted(204, repository, id, size))
}

/// Checks that a repository can be pushed to: its package name is valid.
pub fn check_name(repository: &Repository) -> Result<(), OciError> {
    repository
        .package
        .parse::<depot_protocol::PackageName>()
        .map(drop)
        .map_err(|e| {
            OciError::new(400, "NAME_INVALID", e.to_string())
                .with_detail(serde_json::json!({ "name": repository.path }))
        })
}

pub fn upload_location(repository: &Repository, id: &str) -> String {
    format!("/v2/{}/blobs/uploads/{id}", repository.path)
}

/// `202` with where to send more and how much has arrived.
pub fn upload_accepted(status: u16, repository: &Repository, id: &str, size: u64) -> Response {
    Response::new(status, "application/json", Body::Empty)
        .with_header("location", upload_location(repository, id))
        .with_header("range", format!("0-{}", size.saturating_sub(1)))
        .with_header("docker-upload-uuid", id.to_string())
}

pub fn upload_unknown(id: &str) -> OciError {
    OciError::new(
        404,
        "BLOB_UPLOAD_UNKNOWN",
        format!(
            "there is no upload `{id}` (completed, cancelled or never started); start one with \
             POST /v2/<name>/blobs/uploads/"
        ),
    )
}

/// A store error about an upload: `not-found` is the upload's.
pub fn upload_error(id: &str) -> impl Fn(Error) -> OciError + '_ {
    move |e| match e {
        Error::NotFound(_) => upload_unknown(id),
        e => OciError::from(e),
    }
}
