//! One function per route: asks the publish or query handler, shapes the
//! answer.

use depot_protocol::check_content_size;
use depot_wire::{AnnotationRequest, KeyRequest, PolicyRequest, TakedownRequest};
use wasip2::http::types::IncomingRequest;

use crate::bindings::depot::registry::types::{Error, Release};
use crate::bindings::depot::registry::{publish, query, store};
use crate::body;
use crate::error::ApiError;
use crate::feed;
use crate::json;
use crate::releases;
use crate::response::{Body, Response};
use crate::routes::{self, Route};

/// A version's content never changes, so caches may keep it for good.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub fn respond(route: Route, request: &IncomingRequest) -> Result<Response, ApiError> {
    let response = match route {
        Route::ListPackages { after, limit } => {
            let page = query::list_packages(after.as_deref(), limit)?;
            Response::json(200, &json::page(&page))
        }
        Route::Package { name } => {
            let releases = query::list_releases(&name)?;
            Response::json(200, &json::package(&name, &releases))
        }
        Route::Release { name, version } => release(&query::get_release(&name, &version)?),
        Route::Publish { name, version } => publish(request, &name, &version)?,
        Route::ReleaseContent { name, version } => {
            content(request, &query::get_release(&name, &version)?)?
        }
        Route::Content { digest } => content(request, &query::release_by_digest(&digest)?)?,
        Route::Resolve { name, requirement } => release(&query::resolve(&name, &requirement)?),
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
        Route::Feed { since, limit, wait } => {
            let entries = query::read_feed(since, limit, wait.saturating_mul(1000))?;
            Response::json(200, &feed::page(since, &entries))
        }
        Route::Stats => Response::json(200, &json::stats(&query::stats()?)),
        Route::LogCheckpoint => text(store::log_checkpoint()?),
        Route::LogKey => text(store::log_key()?),
        Route::LogInclusion { seq, size } => Response::json(
            200,
            &depot_wire::InclusionProof {
                seq,
                tree_size: size,
                proof: store::log_inclusion(seq, size)?,
            },
        ),
        Route::LogConsistency { from, to } => Response::json(
            200,
            &depot_wire::ConsistencyProof {
                from,
                to,
                proof: store::log_consistency(from, to)?,
            },
        ),
        Route::Search(query, version) => {
            let results = query::search(&query, version.as_deref())?;
            Response::json(200, &json::search(&results))
        }
        Route::CreateRelease => releases::create(request)?,
        Route::Unpublished { name, version } => releases::show(&name, &version)?,
        Route::UploadUnpublished { name, version } => releases::upload(request, &name, &version)?,
        Route::AddContentSources { name, version } => {
            releases::add_sources(request, &name, &version)?
        }
        Route::PublishUnpublished { name, version } => releases::publish(request, &name, &version)?,
        Route::Namespace { namespace } => {
            depot_protocol::token::check_namespace(&namespace).map_err(ApiError::bad_request)?;
            let policy = store::namespace_trust(&namespace)?;
            Response::json(200, &json::namespace(&namespace, &policy))
        }
        Route::NamespacePolicy { namespace } => {
            let body: PolicyRequest = read_json(request)?;
            publish::require_signatures(&namespace, body.require_signatures)?;
            let policy = store::namespace_trust(&namespace)?;
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
        Route::FeedStream { since } => {
            let since = match since {
                Some(since) => since,
                None => header(request, "last-event-id")
                    .and_then(|id| id.trim().parse().ok())
                    .unwrap_or(0),
            };
            Response::new(200, "text/event-stream", Body::Events(since))
                .with_header("cache-control", "no-store".to_string())
        }
    };
    Ok(response)
}

/// The namespace of `scope` after a key change: 201 when a grant was made,
/// 200 when nothing changed or a grant was revoked.
fn key_change(scope: &str, granted: bool) -> Result<Response, ApiError> {
    let namespace = depot_protocol::token::namespace_of(scope);
    let policy = store::namespace_trust(namespace)?;
    let status = if granted { 201 } else { 200 };
    Ok(Response::json(status, &json::namespace(namespace, &policy)))
}

/// The most bytes of JSON a write request's body may have.
const MAX_JSON_BODY: usize = 128 * 1024;

/// The request body as JSON of type `T`.
pub fn read_json<T: serde::de::DeserializeOwned>(request: &IncomingRequest) -> Result<T, ApiError> {
    let upload = body::Upload::open(request)?;
    let bytes = upload.read_at_most(MAX_JSON_BODY)?;
    if bytes.len() > MAX_JSON_BODY {
        return Err(ApiError::bad_request(format!(
            "the request body is over {MAX_JSON_BODY} bytes; send a smaller JSON object"
        )));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "the request body is not the JSON object this route takes ({e}); see \
             docs/http-api.md"
        ))
    })
}

/// The error for content of a release the operator took down.
pub fn taken_down(release: &Release) -> ApiError {
    let reason = release.takedown.as_ref().map_or("", |t| t.reason.as_str());
    ApiError::from(Error::TakenDown(format!(
        "`{}` {} was taken down by the registry's operator: {reason}. Its content is no \
         longer served; use another version",
        release.name, release.version
    )))
}

fn release(release: &Release) -> Response {
    Response::json(200, &json::release(release))
}

/// `PUT`: the name and version are checked before any of the body is read, and
/// a declared length over the limit is refused without reading it (dropping
/// the upload drains a small remainder, so the client reads the answer).
fn publish(request: &IncomingRequest, name: &str, version: &str) -> Result<Response, ApiError> {
    let upload = body::Upload::open(request)?;
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

/// A release's content, or 304 when the client already has it.
fn content(request: &IncomingRequest, release: &Release) -> Result<Response, ApiError> {
    if release.takedown.is_some() {
        return Err(taken_down(release));
    }
    let etag = format!("\"{}\"", release.digest);
    let response =
        if header(request, "if-none-match").is_some_and(|tags| matches_etag(&tags, &etag)) {
            Response::new(304, "application/wasm", Body::Empty)
        } else {
            let reader = store::open_blob(&release.digest, 0)?;
            Response::new(200, "application/wasm", Body::blob(reader))
        };
    Ok(response
        .with_header("etag", etag)
        .with_header("cache-control", IMMUTABLE.to_string()))
}

/// Whether an `If-None-Match` list names `etag` (weak or strong) or is `*`.
fn matches_etag(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// A request header's values joined as one list; none when absent or not UTF-8.
/// A plain-text body that changes with every log entry.
fn text(text: String) -> Response {
    Response::new(
        200,
        "text/plain; charset=utf-8",
        Body::Bytes(text.into_bytes()),
    )
    .with_header("cache-control", "no-cache".to_string())
}

pub fn header(request: &IncomingRequest, name: &str) -> Option<String> {
    let values = request.headers().get(name);
    let values: Vec<&str> = values
        .iter()
        .filter_map(|value| std::str::from_utf8(value).ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_matches_the_digest_weak_strong_or_any() {
        let etag = "\"sha256:ab\"";
        assert!(matches_etag("\"sha256:ab\"", etag));
        assert!(matches_etag("\"x\", W/\"sha256:ab\"", etag));
        assert!(matches_etag("*", etag));
        assert!(!matches_etag("\"sha256:cd\"", etag));
        assert!(!matches_etag("sha256:ab", etag));
    }
}
