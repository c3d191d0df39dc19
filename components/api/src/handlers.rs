//! The routes that read: each asks the query handler or the store, and
//! shapes the answer. (The routes that change the registry are `writes`.)

use wasip2::http::types::IncomingRequest;

use crate::bindings::depot::registry::{blob_read, index, query, transparency};
use crate::error::ApiError;
use crate::feed;
use crate::json;
use crate::request::header;
use crate::response::{Body, Response};
use crate::routes::Route;
use crate::tokens;
use crate::unpublished;
use depot_guest::types::{Error, Release};

/// `docs/openapi.yaml` as JSON (made by `build.rs`).
pub const OPENAPI_JSON: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/openapi.json"));

pub fn respond(route: Route, request: &IncomingRequest) -> Result<Response, ApiError> {
    let response = match route {
        Route::ListPackages { after, limit } => {
            let page = query::list_packages(after.as_deref(), limit)?;
            Response::json(200, &json::page(&page))
        }
        Route::Package { name, at } => {
            let releases = match at {
                Some(at) => query::releases_at(&name, at)?,
                None => query::list_releases(&name)?,
            };
            Response::json(200, &json::package(&name, &releases))
        }
        Route::Release { name, version } => release(&query::get_release(&name, &version)?),
        Route::ReleaseContent { name, version } => {
            content(request, &query::get_release(&name, &version)?)?
        }
        Route::Content { digest } => content(request, &query::release_by_digest(&digest)?)?,
        Route::Resolve {
            name,
            requirement,
            at,
            policy,
        } => {
            let plain = at.is_none()
                && policy.signed_by.is_empty()
                && policy.annotated.is_empty()
                && policy.min_age_ms.is_none()
                && !policy.exclude_advisories;
            if plain {
                release(&query::resolve(&name, &requirement)?)
            } else {
                let resolved = query::resolve_with(&name, &requirement, at, &policy)?;
                let answer = depot_wire::Release {
                    proof: at.map(|_| proof(resolved.seq)).transpose()?,
                    ..json::release(&resolved)
                };
                Response::json(200, &answer)
            }
        }
        Route::Feed { since, limit, wait } => {
            let entries = query::read_feed(since, limit, wait.saturating_mul(1000))?;
            Response::json(200, &feed::page(since, &entries))
        }
        Route::Stats => Response::json(200, &json::stats(&query::stats()?)),
        Route::LogCheckpoint => text(transparency::log_checkpoint()?),
        Route::LogKey => text(transparency::log_key()?),
        Route::LogInclusion { seq, size } => {
            let size = match size {
                Some(size) => size,
                None => tree_size(&transparency::log_checkpoint()?)?,
            };
            Response::json(
                200,
                &depot_wire::InclusionProof {
                    seq,
                    tree_size: size,
                    proof: transparency::log_inclusion(seq, size)?,
                },
            )
        }
        Route::LogConsistency { from, to } => Response::json(
            200,
            &depot_wire::ConsistencyProof {
                from,
                to,
                proof: transparency::log_consistency(from, to)?,
            },
        ),
        Route::Search(query, version) => {
            let results = query::search(&query, version.as_deref())?;
            Response::json(200, &json::search(&results))
        }
        Route::Unpublished { name, version } => unpublished::show(&name, &version)?,
        Route::Namespace { namespace } => {
            depot_protocol::token::check_namespace(&namespace).map_err(ApiError::bad_request)?;
            let policy = index::namespace_trust(&namespace)?;
            Response::json(200, &json::namespace(&namespace, &policy))
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
        Route::Tokens => tokens::list()?,
        Route::OpenApi => {
            Response::new(200, "application/json", Body::Bytes(OPENAPI_JSON.to_vec()))
        }
        write => return Err(ApiError::not_served(&write)),
    };
    Ok(response)
}

/// That log entry `seq` is in the transparency log: its inclusion proof
/// against the newest signed checkpoint, which it names.
fn proof(seq: u64) -> Result<depot_wire::LogProof, ApiError> {
    let checkpoint = transparency::log_checkpoint()?;
    let tree_size = tree_size(&checkpoint)?;
    Ok(depot_wire::LogProof {
        hashes: transparency::log_inclusion(seq, tree_size)?,
        checkpoint,
        tree_size,
        leaf_index: seq.saturating_sub(1),
    })
}

/// The tree size a signed checkpoint names: its second line (C2SP
/// tlog-checkpoint).
fn tree_size(checkpoint: &str) -> Result<u64, ApiError> {
    checkpoint
        .lines()
        .nth(1)
        .and_then(|size| size.parse().ok())
        .ok_or_else(|| ApiError::handler_failed("the log's checkpoint has no tree size"))
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

pub fn release(release: &Release) -> Response {
    Response::json(200, &json::release(release))
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
            let reader = blob_read::open_blob(&release.digest, 0)?;
            Response::new(200, "application/wasm", Body::blob(reader))
        };
    Ok(response
        .with_header("etag", etag)
        .with_header("cache-control", crate::cache::IMMUTABLE.to_string()))
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
