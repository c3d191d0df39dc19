//! The SIG-Registries two-phase publish: `POST /v1/releases` with a release
//! manifest makes an unpublished release (status `pending`, an `expiresAt`, an
//! `uploadUrl`); its content arrives by upload to that URL or from
//! `contentSources` the registry fetches; `POST` to the release's path with
//! `releaseDigest` and `releaseSignature` publishes it. The status moves
//! through `processing` to `published`, or to `rejected` with a reason; an
//! unpublished release left alone expires. (Showing one is a read:
//! [`crate::unpublished`].) Built only with the `writes` feature.

use depot_protocol::now_millis;
use depot_protocol::signing::{self, PublicKey};
use serde::{Deserialize, Serialize};
use wasip2::http::types::IncomingRequest;

use crate::auth;
use crate::bindings::depot::registry::{
    blob_read, index, pending_read, pending_write, publish, query,
};
use crate::error::ApiError;
use crate::fetch;
use crate::json;
use crate::response::Response;
use crate::routes;
use crate::unpublished;
use crate::upload::{Upload, read_json};
use depot_guest::manifest;
use depot_guest::types::{Access, Error, PendingRelease, PendingStatus, ReleaseSignature};

/// Where the host says how long an unpublished release lives, in milliseconds.
const TTL_ENV: &str = "DEPOT_UNPUBLISHED_TTL_MS";

/// How long an unpublished release lives unless the operator says otherwise: an hour.
const DEFAULT_TTL_MS: u64 = 60 * 60 * 1000;

/// The most content sources one release may list.
const MAX_SOURCES: usize = 8;

fn ttl_ms() -> u64 {
    std::env::var(TTL_ENV)
        .ok()
        .and_then(|ms| ms.parse().ok())
        .filter(|ms| *ms > 0)
        .unwrap_or(DEFAULT_TTL_MS)
}

/// `POST /v1/releases`: the body is the release manifest, kept byte for byte
/// (the publisher signs those bytes).
pub fn create(request: &IncomingRequest) -> Result<Response, ApiError> {
    let upload = Upload::open(request)?;
    let bytes = upload.read_at_most(manifest::MAX_MANIFEST)?;
    drop(upload);
    let text = String::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("the release manifest is not UTF-8 JSON"))?;
    let parsed = manifest::parse(&text)?;
    let namespace = depot_protocol::token::namespace_of(&parsed.name);
    let token = auth::authorize(request, &Access::Write(namespace.to_string()))?;
    publish::prepare(&parsed.name, &parsed.version)?;
    let now = now_millis();
    if let Some(existing) = pending_read::get_pending(&parsed.name, &parsed.version)? {
        let live = matches!(
            existing.status,
            PendingStatus::Pending | PendingStatus::Processing
        ) && existing.expires > now;
        if live && existing.creator != token.id {
            return Err(ApiError::conflict(format!(
                "another publisher's unpublished release of `{}` {} is pending until {}; \
                 publish another version, or wait for it to expire",
                parsed.name,
                parsed.version,
                depot_protocol::rfc3339(existing.expires)
            )));
        }
    }
    let pending = PendingRelease {
        name: parsed.name.clone(),
        version: parsed.version.clone(),
        manifest: text,
        content_digest: parsed.content_digest.to_string(),
        kind: parsed.kind,
        creator: token.id.clone(),
        status: PendingStatus::Pending,
        reason: None,
        created: now,
        expires: now.saturating_add(ttl_ms()),
        content_sources: Vec::new(),
    };
    pending_write::put_pending(&pending)?;
    let location = routes::unpublished_path(&pending.name, &pending.version);
    Ok(Response::json(201, &json::unpublished(&pending, now)).with_header("location", location))
}

/// The unpublished release, refused unless it still takes content and a publish.
fn open(name: &str, version: &str) -> Result<PendingRelease, ApiError> {
    let pending = unpublished::find(name, version)?;
    match pending.status {
        PendingStatus::Published => Err(ApiError::from(Error::VersionExists(format!(
            "`{name}` {version} is already published; releases are immutable"
        )))),
        PendingStatus::Rejected => Err(ApiError::conflict(format!(
            "`{name}` {version} was rejected ({}); create the release again with POST \
             /v1/releases",
            pending.reason.as_deref().unwrap_or("no reason given")
        ))),
        _ if pending.expires <= now_millis() => Err(ApiError::from(Error::Expired(format!(
            "the unpublished release of `{name}` {version} expired at {} without being \
             published; create it again with POST /v1/releases",
            depot_protocol::rfc3339(pending.expires)
        )))),
        _ => Ok(pending),
    }
}

/// `PUT` (or `POST`) `.../unpublished/content`: the content, which must be what
/// the manifest names.
pub fn upload(request: &IncomingRequest, name: &str, version: &str) -> Result<Response, ApiError> {
    let upload = Upload::open(request)?;
    let pending = open(name, version)?;
    let limit = publish::prepare(name, version)?;
    let digest = upload.write_to_blob(limit)?;
    if digest != pending.content_digest {
        return Err(ApiError::from(Error::InvalidDigest(format!(
            "the uploaded content is {digest}, but the release manifest names {}; upload the \
             content the manifest names",
            pending.content_digest
        ))));
    }
    Ok(Response::json(
        200,
        &json::unpublished(&pending, now_millis()),
    ))
}

/// The body of `POST .../unpublished/content-sources`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SourcesBody {
    content_sources: Vec<SourceBody>,
}

#[derive(Debug, Deserialize, Serialize)]
struct SourceBody {
    url: String,
}

/// `POST .../unpublished/content-sources`: URLs the content may be fetched from.
pub fn add_sources(
    request: &IncomingRequest,
    name: &str,
    version: &str,
) -> Result<Response, ApiError> {
    let body: SourcesBody = read_json(request)?;
    let mut pending = open(name, version)?;
    for source in body.content_sources {
        fetch::check_url(&source.url).map_err(ApiError::bad_request)?;
        if !pending.content_sources.contains(&source.url) {
            pending.content_sources.push(source.url);
        }
    }
    if pending.content_sources.len() > MAX_SOURCES {
        return Err(ApiError::bad_request(format!(
            "a release may list at most {MAX_SOURCES} content sources"
        )));
    }
    pending_write::put_pending(&pending)?;
    Ok(Response::json(
        200,
        &json::unpublished(&pending, now_millis()),
    ))
}

/// The body of the publish `POST`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublishBody {
    release_digest: Option<String>,
    release_signature: Option<String>,
    /// The key that made the signature; when absent, the keys granted on the
    /// package are tried.
    public_key: Option<String>,
}

/// `POST /v1/packages/{name}/versions/{version}`: publishes the unpublished release.
pub fn publish(request: &IncomingRequest, name: &str, version: &str) -> Result<Response, ApiError> {
    let body: PublishBody = read_json(request)?;
    let mut pending = open(name, version)?;
    if let Some(given) = &body.release_digest {
        signing::check_release_digest(pending.manifest.as_bytes(), given)
            .map_err(|e| ApiError::from(Error::InvalidSignature(e.to_string())))?;
    }
    let signature = match &body.release_signature {
        None => None,
        Some(signature) => Some(signature_of(&pending, &body, signature)?),
    };
    pending.status = PendingStatus::Processing;
    pending_write::put_pending(&pending)?;
    let outcome = content(&pending).and_then(|digest| {
        publish::publish(
            name,
            version,
            &digest,
            None,
            signature.as_ref(),
            Some(pending.kind),
        )
        .map_err(ApiError::from)
    });
    match outcome {
        Ok(release) => {
            pending.status = PendingStatus::Published;
            pending_write::put_pending(&pending)?;
            let location = routes::release_path(&release.name, &release.version);
            Ok(Response::json(201, &json::release(&release)).with_header("location", location))
        }
        // The version was taken meanwhile: by a racing publish of this very
        // release (then it is published), or by another release.
        Err(e) if e.code == "version-exists" => {
            let released = query::get_release(name, version)
                .is_ok_and(|release| release.digest == pending.content_digest);
            if released {
                pending.status = PendingStatus::Published;
            } else {
                pending.status = PendingStatus::Rejected;
                pending.reason = Some(format!("{}: {}", e.code, e.message));
            }
            pending_write::put_pending(&pending)?;
            Err(e)
        }
        Err(e) => {
            // A failure that may pass on retry leaves the release pending;
            // anything else is a verdict on this release.
            if e.status >= 500 || e.code == "content-missing" || e.code == "conflict" {
                pending.status = PendingStatus::Pending;
            } else {
                pending.status = PendingStatus::Rejected;
                pending.reason = Some(format!("{}: {}", e.code, e.message));
            }
            pending_write::put_pending(&pending)?;
            Err(e)
        }
    }
}

/// The signature the publish body carries, with the key that made it.
fn signature_of(
    pending: &PendingRelease,
    body: &PublishBody,
    signature: &str,
) -> Result<ReleaseSignature, ApiError> {
    let release_digest = signing::release_digest_hex(pending.manifest.as_bytes());
    let make = |key: String| ReleaseSignature {
        key,
        manifest: pending.manifest.clone(),
        release_digest: release_digest.clone(),
        signature: signature.to_string(),
    };
    if let Some(key) = &body.public_key {
        return Ok(make(key.clone()));
    }
    // No key named: the first granted key the signature verifies with.
    let namespace = depot_protocol::token::namespace_of(&pending.name);
    let policy = index::namespace_trust(namespace)?;
    policy
        .grants
        .iter()
        .filter(|grant| grant.scope == namespace || grant.scope == pending.name)
        .find(|grant| {
            grant.key.parse::<PublicKey>().is_ok_and(|key| {
                signing::verify_release(
                    &key,
                    pending.manifest.as_bytes(),
                    &release_digest,
                    signature,
                )
                .is_ok()
            })
        })
        .map(|grant| make(grant.key.clone()))
        .ok_or_else(|| {
            ApiError::from(Error::InvalidSignature(format!(
                "releaseSignature verifies with no key granted on `{}` or namespace \
                 `{namespace}`; sign with a granted key, or name yours as `publicKey`",
                pending.name
            )))
        })
}

/// The release's content in the store: already there (uploaded), or fetched
/// from its content sources, each checked against the manifest's digest.
fn content(pending: &PendingRelease) -> Result<String, ApiError> {
    let expected = &pending.content_digest;
    if blob_read::open_blob(expected, 0).is_ok() {
        return Ok(expected.clone());
    }
    if pending.content_sources.is_empty() {
        return Err(ApiError::content_missing(format!(
            "`{}` {} has no content yet: upload it to {}/content or add a content source, \
             then publish again",
            pending.name,
            pending.version,
            routes::unpublished_path(&pending.name, &pending.version)
        )));
    }
    let limit = publish::prepare(&pending.name, &pending.version)?;
    let mut failures = Vec::new();
    let mut mismatched = false;
    for url in &pending.content_sources {
        match fetch::fetch_to_blob(url, limit) {
            Ok(digest) if &digest == expected => return Ok(digest),
            Ok(digest) => {
                mismatched = true;
                failures.push(format!(
                    "the content at {url} is {digest}, not {expected} as the release manifest \
                     says"
                ));
            }
            Err(e) => failures.push(e),
        }
    }
    let message = format!(
        "no content source gave the content the release manifest names: {}",
        failures.join("; ")
    );
    // Content that is not what was signed is a verdict; a source that cannot
    // be reached may be tried again.
    Err(if mismatched {
        ApiError::from(Error::InvalidDigest(message))
    } else {
        ApiError::content_unavailable(message)
    })
}
