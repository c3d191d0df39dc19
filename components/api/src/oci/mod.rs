//! The OCI face of the registry: the distribution spec's routes under `/v2`
//! (pull here, push in `push`, built with the `writes` feature; routed by
//! [`crate::routes::target`], their access decided by [`crate::auth`]), and
//! `/.well-known/wasm-pkg/registry.json`, which tells `wkg` and
//! `wasm-pkg-client` to reach this registry's packages over OCI.
//!
//! One registry, two faces: the repository `namespace/name` is the package
//! `namespace:name`, a tag is a version, and a version's manifest is the one
//! the publish handler wrote for the release. A repository serves the blobs of
//! its own releases only (content, config and manifest).

mod auth;
#[cfg(feature = "writes")]
mod push;
mod range;
mod uploads;

use serde_json::json;
use wasip2::http::types::IncomingRequest;

use crate::bindings::depot::registry::{blob_read, oci_read, query};
use crate::error::ApiError;
use crate::request::header;
use crate::response::{Body, Response};
use depot_guest::types::{Error, OciArtifact, Release};

use crate::error::oci::OciError;
use crate::routes::oci::{Repository, Route, UploadStep};

/// Every `/v2` response says which protocol it speaks.
const API_VERSION: (&str, &str) = ("docker-distribution-api-version", "registry/2.0");

/// The media type of the manifests Depot writes for releases.
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

pub use self::auth::token;

/// Answers an OCI route whose access was checked; every failure is the
/// spec's JSON error body.
pub fn respond(route: Route, request: &IncomingRequest) -> Response {
    let response = match route {
        Route::Base => Ok(Response::json(200, &json!({}))),
        Route::Manifest {
            repository,
            reference,
        } => manifest(&repository, &reference),
        Route::Blob { repository, digest } => blob(request, &repository, &digest),
        Route::Tags {
            repository,
            n,
            last,
        } => tags(&repository, n, last.as_deref()),
        Route::Referrers {
            repository,
            digest,
            artifact_type,
        } => referrers(&repository, &digest, artifact_type.as_deref()),
        Route::Upload {
            repository,
            id,
            step: UploadStep::Status,
        } => uploads::status(&repository, &id),
        #[cfg(feature = "writes")]
        write => push::respond(write, request),
        #[cfg(not(feature = "writes"))]
        write => Err(OciError::new(
            405,
            "UNSUPPORTED",
            format!(
                "this part of the registry's front does not serve {write:?}; send the \
                 request to the registry's own address"
            ),
        )),
    };
    response.unwrap_or_else(|e| error(&e))
}

/// The answer to a `/v2` request `route` refused access: a 401 carries the
/// challenge that sends the client to the token endpoint.
pub fn refused(e: ApiError, request: &IncomingRequest, route: &Route) -> Response {
    error(&auth::refusal(e.into(), request, route))
}

/// Every `/v2` response says which protocol it speaks.
pub fn with_version(response: Response) -> Response {
    response.with_header(API_VERSION.0, API_VERSION.1.to_string())
}

pub fn error(e: &OciError) -> Response {
    let mut response = Response::json(e.status, &e.body());
    if let Some(allow) = e.allow {
        response = response.with_header("allow", allow.to_string());
    }
    if let Some(size) = e.size {
        response = response.with_header("content-range", format!("bytes */{size}"));
    }
    if let Some(challenge) = &e.challenge {
        response = response.with_header("www-authenticate", challenge.clone());
    }
    if e.status == 503 {
        let wait = crate::error::RETRY_AFTER_SECONDS.to_string();
        response = response.with_header("retry-after", wait);
    }
    if let Some((location, size)) = &e.range {
        response = response
            .with_header("location", location.clone())
            .with_header("range", format!("0-{}", size.saturating_sub(1)));
    }
    response
}

/// `/.well-known/wasm-pkg/registry.json`: the registry is reached at the host
/// the client used, and serves every namespace over OCI without a prefix.
pub fn discovery(request: &IncomingRequest) -> Response {
    let Some(host) = crate::request::host(request) else {
        return Response::error(&ApiError::bad_request(
            "the request names no host; send a `Host` header",
        ));
    };
    Response::json(
        200,
        &json!({
            "preferredProtocol": "oci",
            "oci": { "registry": host, "namespacePrefix": "" },
        }),
    )
}

/// The releases of the repository's package; `NAME_UNKNOWN` when it has none.
/// A repository known only for its other OCI manifests has none.
fn releases(repository: &Repository) -> Result<Vec<Release>, OciError> {
    match query::list_releases(&repository.package) {
        Ok(releases) => Ok(releases),
        Err(Error::NotFound(_)) if oci_read::has_oci_content(&repository.package)? => {
            Ok(Vec::new())
        }
        Err(Error::NotFound(_)) => Err(OciError::name_unknown(&repository.path)),
        Err(e) => Err(e.into()),
    }
}

/// The OCI artifact a release has, with the release.
fn artifacts(releases: &[Release]) -> impl Iterator<Item = (&Release, &OciArtifact)> {
    releases
        .iter()
        .filter_map(|release| Some((release, release.oci.as_ref()?)))
}

/// 451 for a release the operator took down.
fn check_not_taken_down(release: &Release) -> Result<(), OciError> {
    match &release.takedown {
        None => Ok(()),
        Some(_) => Err(crate::handlers::taken_down(release).into()),
    }
}

/// `manifests/<reference>`: by tag (a version) or by digest.
fn manifest(repository: &Repository, reference: &str) -> Result<Response, OciError> {
    let by_digest = reference.contains(':');
    if by_digest {
        check_digest(reference)?;
    }
    let releases = releases(repository)?;
    let found = artifacts(&releases).find(|(release, oci)| {
        if by_digest {
            oci.manifest == reference
        } else {
            release.version == reference
        }
    });
    let Some((release, oci)) = found else {
        if let Some(other) = oci_read::get_oci_manifest(&repository.package, reference)? {
            let reader = blob_read::open_blob(&other.digest, 0)?;
            // Pushed outside the log, which is how instances hear of
            // changes: caches ask again each time (see `cache`).
            return Ok(Response::new(200, &other.media_type, Body::blob(reader))
                .with_header("docker-content-digest", other.digest.clone())
                .with_header("etag", format!("\"{}\"", other.digest))
                .with_header("cache-control", "no-cache".to_string()));
        }
        let why = if by_digest {
            "no release of it has that manifest digest"
        } else if releases.iter().any(|r| r.version == reference) {
            "that version was published before this registry wrote OCI manifests; fetch it \
             through /v1"
        } else {
            "list the tags at tags/list"
        };
        return Err(OciError::manifest_unknown(&repository.path, reference, why));
    };
    check_not_taken_down(release)?;
    let reader = blob_read::open_blob(&oci.manifest, 0)?;
    Ok(Response::new(200, MANIFEST_MEDIA_TYPE, Body::blob(reader))
        .with_header("docker-content-digest", oci.manifest.clone())
        .with_header("etag", format!("\"{}\"", oci.manifest)))
}

/// `blobs/<digest>`: the content, config or manifest of one of the
/// repository's releases, whole or the byte range asked for.
fn blob(
    request: &IncomingRequest,
    repository: &Repository,
    digest: &str,
) -> Result<Response, OciError> {
    check_digest(digest)?;
    let releases = releases(repository)?;
    let mut owners = artifacts(&releases).filter(|(release, oci)| {
        release.digest == digest || oci.config == digest || oci.manifest == digest
    });
    let belongs = match owners.next() {
        // Served while any release that holds it is up.
        Some((first, _)) => match owners.find(|(release, _)| release.takedown.is_none()) {
            Some(_) => true,
            None => {
                check_not_taken_down(first)?;
                true
            }
        },
        None => false,
    };
    if !belongs && !oci_read::oci_references(&repository.package, digest)? {
        return Err(OciError::blob_unknown(&repository.path, digest));
    }
    let whole = blob_read::open_blob(digest, 0)?;
    let size = whole.size();
    let response = match header(request, "range") {
        None => Response::new(200, "application/octet-stream", Body::blob(whole)),
        Some(range) => {
            let (start, end) = range::parse(&range, size)
                .ok_or_else(|| OciError::range_not_satisfiable(&range, size))?;
            drop(whole);
            let reader = blob_read::open_blob(digest, start)?;
            Response::new(
                206,
                "application/octet-stream",
                Body::Blob(reader, end - start + 1),
            )
            .with_header("content-range", format!("bytes {start}-{end}/{size}"))
        }
    };
    let response = response
        .with_header("docker-content-digest", digest.to_string())
        .with_header("accept-ranges", "bytes".to_string())
        .with_header("etag", format!("\"{digest}\""));
    // A blob the repository holds only by a link made outside the log (an
    // artifact's layer): caches ask again each time (see `cache`).
    Ok(if belongs {
        response
    } else {
        response.with_header("cache-control", "no-cache".to_string())
    })
}

/// `tags/list`: the released versions that have a manifest, in lexical order,
/// `n` at a time after `last`, with a `Link` to the next page.
fn tags(
    repository: &Repository,
    n: Option<usize>,
    last: Option<&str>,
) -> Result<Response, OciError> {
    let releases = releases(repository)?;
    let others = oci_read::list_oci_tags(&repository.package)?;
    let mut tags: Vec<&str> = artifacts(&releases)
        .map(|(release, _)| release.version.as_str())
        .chain(others.iter().map(String::as_str))
        .filter(|tag| last.is_none_or(|last| *tag > last))
        .collect();
    tags.sort_unstable();
    let mut response_tags = tags.as_slice();
    let mut link = None;
    if let Some(n) = n
        && n < tags.len()
    {
        response_tags = &tags[..n];
        if let Some(last) = response_tags.last() {
            link = Some(format!(
                "</v2/{}/tags/list?n={n}&last={last}>; rel=\"next\"",
                repository.path
            ));
        }
    }
    let response = Response::json(
        200,
        &json!({ "name": repository.path, "tags": response_tags }),
    );
    Ok(match link {
        Some(link) => response.with_header("link", link),
        None => response,
    })
}

/// `referrers/<digest>`: the manifests whose `subject` is `digest` (releases
/// have none, so these are other artifacts pushed with a subject), filtered
/// by `artifactType` when asked. Each descriptor carries the referrer's
/// `artifactType` and `annotations`, as the spec asks. A repository or
/// subject nobody refers to has an empty list, not a 404: the spec's answer
/// for a registry that supports the referrers API.
fn referrers(
    repository: &Repository,
    digest: &str,
    artifact_type: Option<&str>,
) -> Result<Response, OciError> {
    check_digest(digest)?;
    let mut manifests = Vec::new();
    for m in oci_read::list_referrers(&repository.package, digest)? {
        if artifact_type.is_some_and(|wanted| m.artifact_type.as_deref() != Some(wanted)) {
            continue;
        }
        let mut descriptor = serde_json::Map::new();
        descriptor.insert("mediaType".into(), json!(m.media_type));
        descriptor.insert("digest".into(), json!(m.digest));
        descriptor.insert("size".into(), json!(m.size));
        if let Some(artifact_type) = &m.artifact_type {
            descriptor.insert("artifactType".into(), json!(artifact_type));
        }
        if let Some(annotations) = annotations_of(&m.digest)? {
            descriptor.insert("annotations".into(), annotations);
        }
        manifests.push(serde_json::Value::Object(descriptor));
    }
    const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    let index = json!({ "schemaVersion": 2, "mediaType": INDEX, "manifests": manifests });
    let response = Response::new(200, INDEX, Body::Bytes(index.to_string().into_bytes()));
    Ok(match artifact_type {
        Some(_) => response.with_header("oci-filters-applied", "artifactType".to_string()),
        None => response,
    })
}

/// The `annotations` of the stored manifest `digest`, if it has any: read
/// from the manifest itself, which the store keeps whole.
fn annotations_of(digest: &str) -> Result<Option<serde_json::Value>, OciError> {
    let reader = blob_read::open_blob(digest, 0)?;
    let mut bytes = Vec::new();
    while (bytes.len() as u64) < reader.size() {
        let chunk = reader.read(blob_read::max_chunk())?;
        if chunk.is_empty() {
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    Ok(manifest
        .get("annotations")
        .filter(|annotations| annotations.as_object().is_some_and(|a| !a.is_empty()))
        .cloned())
}

fn check_digest(digest: &str) -> Result<(), OciError> {
    digest
        .parse::<depot_protocol::Digest>()
        .map(drop)
        .map_err(|_| OciError::digest_invalid(digest))
}
