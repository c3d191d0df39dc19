//! The routes that change the registry: each asks the publish handler (the
//! two-phase publish's lifecycle included) or the store, and shapes the
//! answer.
//! Built only with the `writes` feature; the read half of the front has none
//! of this, nor the imports it needs.

use depot_protocol::{check_content_size, now_millis};
use depot_wire::{
    AnnotationRequest, ContentSourcesRequest, KeyRequest, PolicyRequest, PublishRequest,
    TakedownRequest,
};
use wasip2::http::types::IncomingRequest;

use crate::auth;
use crate::bindings::depot::registry::{index, publish};
use crate::error::ApiError;
use crate::handlers::release;
use crate::json;
use crate::request::header;
use crate::response::Response;
use crate::routes::{self, Route};
use crate::tokens;
use crate::upload::{Upload, read_json};
use depot_guest::manifest;
use depot_guest::types::{PendingRelease, Release};

/// Answers a write route (any other route is a bug in the caller).
pub fn respond(route: Route, request: &IncomingRequest) -> Result<Response, ApiError> {
    let response = match route {
        Route::Publish { name, version } => publish(request, &name, &version)?,
        Route::Yank { name, version } => release(&publish::yank(&name, &version)?),
        Route::Unyank { name, version } => release(&publish::unyank(&name, &version)?),
        Route::Annotate { name, version } => {
            // Checked before the route ran; asked again for who is annotating.
            let annotator = auth::authorize(request, &auth::write_access(&name))?;
            let body: AnnotationRequest = read_json(request)?;
            let value = serde_json::to_string(&body.value).map_err(|e| {
                ApiError::bad_request(format!("the annotation value cannot be kept: {e}"))
            })?;
            let annotated = publish::annotate(&name, &version, &body.type_, &value, &annotator.id)?;
            Response::json(201, &json::release(&annotated))
        }
        Route::Takedown { name, version } => {
            let body: TakedownRequest = read_json(request)?;
            release(&publish::takedown(&name, &version, &body.reason)?)
        }
        Route::CreateRelease => create_release(request)?,
        Route::UploadUnpublished { name, version } => {
            let upload = Upload::open(request)?;
            let limit = publish::open_release(&name, &version)?;
            let digest = upload.write_to_blob(limit)?;
            unpublished(&publish::content_uploaded(&name, &version, &digest)?)
        }
        Route::AddContentSources { name, version } => {
            let body: ContentSourcesRequest = read_json(request)?;
            let urls: Vec<String> = body.content_sources.into_iter().map(|s| s.url).collect();
            unpublished(&publish::add_content_sources(&name, &version, &urls)?)
        }
        Route::PublishUnpublished { name, version } => {
            let body: PublishRequest = read_json(request)?;
            let release = publish::publish_release(
                &name,
                &version,
                body.release_digest.as_deref(),
                body.release_signature.as_deref(),
                body.public_key.as_deref(),
            )?;
            created(&release)
        }
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
            key_change(&body.scope, false)?
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
    Ok(created(&release))
}

/// 201 with the release, and where it is.
fn created(release: &Release) -> Response {
    let location = routes::release_path(&release.name, &release.version);
    Response::json(201, &json::release(release)).with_header("location", location)
}

/// `POST /v1/releases`: the body is the release manifest, kept byte for byte
/// (the publisher signs those bytes). Who may create it depends on the
/// package it names, so access is checked once the manifest is read.
fn create_release(request: &IncomingRequest) -> Result<Response, ApiError> {
    let upload = Upload::open(request)?;
    let bytes = upload.read_at_most(manifest::MAX_MANIFEST)?;
    drop(upload);
    let text = String::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("the release manifest is not UTF-8 JSON"))?;
    let parsed = manifest::parse(&text)?;
    let token = auth::authorize(request, &auth::write_access(&parsed.name))?;
    let pending = publish::create_release(&text, &token.id)?;
    let location = routes::unpublished_path(&pending.name, &pending.version);
    Ok(
        Response::json(201, &json::unpublished(&pending, now_millis()))
            .with_header("location", location),
    )
}

/// 200 with the unpublished release as it is now.
fn unpublished(pending: &PendingRelease) -> Response {
    Response::json(200, &json::unpublished(pending, now_millis()))
}

/// The namespace of `scope` after a key change: 201 when a grant was made,
/// 200 when nothing changed or a grant was revoked.
fn key_change(scope: &str, granted: bool) -> Result<Response, ApiError> {
    let namespace = depot_protocol::token::namespace_of(scope);
    let policy = index::namespace_trust(namespace)?;
    let status = if granted { 201 } else { 200 };
    Ok(Response::json(status, &json::namespace(namespace, &policy)))
}
