//! The routes that change the registry: each asks the publish handler (or,
//! for the two-phase publish, [`crate::releases`]) and shapes the answer.
//! Built only with the `writes` feature; the read half of the front has none
//! of this, nor the imports it needs.

use depot_protocol::check_content_size;
use depot_wire::{AnnotationRequest, KeyRequest, PolicyRequest, TakedownRequest};
use wasip2::http::types::IncomingRequest;

use crate::bindings::depot::registry::{index, publish};
use crate::error::ApiError;
use crate::handlers::release;
use crate::json;
use crate::releases;
use crate::request::header;
use crate::response::Response;
use crate::routes::{self, Route};
use crate::tokens;
use crate::upload::{Upload, read_json};

/// Answers a write route (any other route is a bug in the caller).
pub fn respond(route: Route, request: &IncomingRequest) -> Result<Response, ApiError> {
    let response = match route {
        Route::Publish { name, version } => publish(request, &name, &version)?,
        Route::Yank { name, version } => release(&publish::yank(&name, &version)?),
        Route::Unyank { name, version } => release(&publish::unyank(&name, &version)?),
        Route::Annotate { name, version } => {
            let body: AnnotationRequest = read_json(request)?;
            let value = serde_json::to_string(&body.value).map_err(|e| {
                ApiError::bad_request(format!("the annotation value cannot be kept: {e}"))
            })?;
            let annotated = publish::annotate(&name, &version, &body.type_, &value)?;
            Response::json(201, &json::release(&annotated))
        }
        Route::Takedown { name, version } => {
            let body: TakedownRequest = read_json(request)?;
            release(&publish::takedown(&name, &version, &body.reason)?)
        }
        Route::CreateRelease => releases::create(request)?,
        Route::UploadUnpublished { name, version } => releases::upload(request, &name, &version)?,
        Route::AddContentSources { name, version } => {
            releases::add_sources(request, &name, &version)?
        }
        Route::PublishUnpublished { name, version } => releases::publish(request, &name, &version)?,
        Route::NamespacePolicy { namespace } => {
            let body: PolicyRequest = read_json(request)?;
            publish::require_signatures(&namespace, body.require_signatures)?;
            let policy = index::namespace_trust(&namespace)?;
            Response::json(200, &json::namespace(&namespace, &policy))
        }
        Route::GrantKey => {
            let body: KeyRequest = read_json(request)?;
            let entry = publish::grant_key(&body.scope, &body.public_key)?;
            key_change(&body.scope, entry.is_some())?
        }
        Route::RevokeKey => {
            let body: KeyRequest = read_json(request)?;
            publish::revoke_key(&body.scope, &body.public_key)?;
            key_change(&body.scope, true)?
        }
        Route::CreateToken => tokens::create(request)?,
        Route::RevokeToken { id } => tokens::revoke(&id)?,
        read => return Err(ApiError::not_served(&read)),
    };
    Ok(response)
}

/// `PUT`: the name and version are checked before any of the body is read, and
/// a declared length over the limit is refused without reading it (dropping
/// the upload drains a small remainder, so the client reads the answer).
fn publish(request: &IncomingRequest, name: &str, version: &str) -> Result<Response, ApiError> {
    let upload = Upload::open(request)?;
    let limit = publish::prepare(name, version)?;
    let declared = header(request, "content-length").and_then(|length| length.parse().ok());
    if let Some(length) = declared {
        check_content_size(length, limit).map_err(ApiError::too_large)?;
    }
    let digest = upload.write_to_blob(limit)?;
    let release = publish::publish(name, version, &digest, None, None, None)?;
    let location = routes::release_path(&release.name, &release.version);
    Ok(Response::json(201, &json::release(&release)).with_header("location", location))
}

/// The namespace of `scope` after a key change: 201 when a grant was made,
/// 200 when nothing changed or a grant was revoked.
fn key_change(scope: &str, granted: bool) -> Result<Response, ApiError> {
    let namespace = depot_protocol::token::namespace_of(scope);
    let policy = index::namespace_trust(namespace)?;
    let status = if granted { 201 } else { 200 };
    Ok(Response::json(status, &json::namespace(namespace, &policy)))
}
