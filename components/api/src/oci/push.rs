//! The push side: blob uploads (monolithic, chunked in order, mounted from
//! another repository), manifest PUT and DELETE. A manifest whose tag is a
//! semver version and whose one layer is `application/wasm` becomes a release
//! through the publish handler — the same checks, metadata, policy and log
//! entry as a `/v1` publish — with the pushed manifest as the release's OCI
//! artifact. Other manifests (artifacts, indexes, tags that are not versions,
//! pushes by digest) are kept as any OCI registry keeps them, and may be
//! deleted; releases may not.

use serde::Deserialize;
use wasip2::http::types::IncomingRequest;

use crate::bindings::depot::registry::{
    blob_read, blob_write, oci_read, oci_write, publish, query, uploads,
};
use crate::request::header;
use crate::response::{Body, Response};
use crate::upload;
use depot_guest::types::{Error, OciArtifact, OciManifest};

use super::uploads::{check_name, status, upload_accepted, upload_error, upload_location};
use super::{artifacts, check_digest, releases};
use crate::error::oci::OciError;
use crate::routes::oci::{Repository, Route, UploadStep};

/// Answers a push route: a manifest or blob put, deleted or uploaded.
pub fn respond(route: Route, request: &IncomingRequest) -> Result<Response, OciError> {
    match route {
        Route::PutManifest {
            repository,
            reference,
        } => put_manifest(request, &repository, &reference),
        Route::DeleteManifest {
            repository,
            reference,
        } => delete_manifest(&repository, &reference),
        Route::DeleteBlob { repository, digest } => delete_blob(&repository, &digest),
        Route::StartUpload {
            repository,
            digest,
            mount,
            from,
        } => start_upload(
            request,
            &repository,
            digest.as_deref(),
            mount.as_deref(),
            from.as_deref(),
        ),
        Route::Upload {
            repository,
            id,
            step,
        } => upload(request, &repository, &id, step),
        read => Err(OciError::new(
            405,
            "UNSUPPORTED",
            format!("{read:?} is not a push; it is answered by the pull routes"),
        )),
    }
}

/// The largest manifest accepted (the spec asks for at least 4 MB).
const MAX_MANIFEST: usize = 4 * 1024 * 1024;

const IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const IMAGE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const WASM_LAYER: &str = "application/wasm";

/// The parts of an image manifest Depot reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    schema_version: Option<u32>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    /// An index's manifests.
    #[serde(default)]
    manifests: Vec<Descriptor>,
    subject: Option<Descriptor>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    size: u64,
}

/// The most bytes one uploaded blob may have: the operator's content size
/// limit (`depot serve --max-content-size`), so uploads cannot fill the disk
/// with what could never be released.
fn max_blob_size() -> u64 {
    depot_protocol::max_content_size(
        std::env::var(depot_protocol::MAX_CONTENT_SIZE_ENV)
            .ok()
            .as_deref(),
    )
}

/// The blob is now the repository's: linked, then `201`.
fn blob_created(repository: &Repository, digest: &str) -> Result<Response, OciError> {
    oci_write::link_oci_blob(&repository.package, digest)?;
    Ok(Response::new(201, "application/json", Body::Empty)
        .with_header(
            "location",
            format!("/v2/{}/blobs/{digest}", repository.path),
        )
        .with_header("docker-content-digest", digest.to_string()))
}

/// `POST blobs/uploads/`.
pub fn start_upload(
    request: &IncomingRequest,
    repository: &Repository,
    digest: Option<&str>,
    mount: Option<&str>,
    from: Option<&str>,
) -> Result<Response, OciError> {
    check_name(repository)?;
    if let (Some(mount), Some(from)) = (mount, from) {
        check_digest(mount)?;
        // A blob of one of `from`'s releases is mounted; anything else falls
        // back to a new upload, as the spec has it.
        if let Some(from) = crate::routes::oci::repository_from_path(from)
            && let Ok(from_releases) = releases(&from)
            && artifacts(&from_releases).any(|(release, oci)| {
                release.digest == mount || oci.config == mount || oci.manifest == mount
            })
        {
            return blob_created(repository, mount);
        }
    }
    match digest {
        Some(digest) => {
            // Through an upload, which the store hashes in the digest's own
            // algorithm (sha256 or sha512).
            check_digest(digest)?;
            let id = uploads::start_upload()?;
            let writer = uploads::open_upload(&id).map_err(upload_error(&id))?;
            let appended = upload::Upload::open(request)
                .and_then(|body| body.append_to(&writer, max_blob_size()));
            drop(writer);
            let completed = appended
                .map_err(OciError::from)
                .and_then(|()| uploads::complete_upload(&id, digest).map_err(upload_error(&id)));
            if let Err(e) = completed {
                // Best effort: the store also removes abandoned uploads.
                let _ = uploads::cancel_upload(&id);
                return Err(e);
            }
            blob_created(repository, digest)
        }
        None => {
            let id = uploads::start_upload()?;
            Ok(upload_accepted(202, repository, &id, 0))
        }
    }
}

/// `GET`, `PATCH`, `PUT` and `DELETE` of `blobs/uploads/<id>`.
pub fn upload(
    request: &IncomingRequest,
    repository: &Repository,
    id: &str,
    step: UploadStep,
) -> Result<Response, OciError> {
    check_name(repository)?;
    match step {
        UploadStep::Status => status(repository, id),
        UploadStep::Append => {
            check_chunk_start(request, repository, id)?;
            let writer = uploads::open_upload(id).map_err(upload_error(id))?;
            upload::Upload::open(request)?.append_to(&writer, max_blob_size())?;
            Ok(upload_accepted(202, repository, id, writer.size()))
        }
        UploadStep::Complete { digest } => {
            let digest = digest.ok_or_else(|| {
                OciError::new(
                    400,
                    "DIGEST_INVALID",
                    "finishing an upload needs the blob's digest: PUT ...?digest=sha256:<hex> (or sha512)",
                )
            })?;
            check_digest(&digest)?;
            // The closing PUT may carry the last chunk, which must come in
            // order like any other.
            check_chunk_start(request, repository, id)?;
            let writer = uploads::open_upload(id).map_err(upload_error(id))?;
            upload::Upload::open(request)?.append_to(&writer, max_blob_size())?;
            drop(writer);
            uploads::complete_upload(id, &digest).map_err(upload_error(id))?;
            blob_created(repository, &digest)
        }
        UploadStep::Cancel => {
            uploads::cancel_upload(id).map_err(upload_error(id))?;
            Ok(Response::new(204, "application/json", Body::Empty))
        }
    }
}

/// Refuses a chunk whose `Content-Range` does not start where the upload
/// ends, with `416` and the upload's location and range so the client can
/// resume (a chunk without a `Content-Range` is appended).
fn check_chunk_start(
    request: &IncomingRequest,
    repository: &Repository,
    id: &str,
) -> Result<(), OciError> {
    let Some(range) = header(request, "content-range") else {
        return Ok(());
    };
    let size = oci_read::upload_size(id).map_err(upload_error(id))?;
    let start = content_range_start(&range).ok_or_else(|| {
        OciError::new(
            400,
            "BLOB_UPLOAD_INVALID",
            format!("Content-Range `{range}` is not `<start>-<end>`"),
        )
    })?;
    if start == size {
        return Ok(());
    }
    let e = OciError::new(
        416,
        "BLOB_UPLOAD_INVALID",
        format!(
            "this chunk starts at byte {start}, but the upload has {size} bytes; chunks must \
             arrive in order: send the one starting at {size}"
        ),
    );
    Err(OciError {
        range: Some((upload_location(repository, id), size)),
        ..e
    })
}

/// The first byte of `Content-Range: <start>-<end>` (also with a `bytes `
/// prefix, which some clients send).
fn content_range_start(range: &str) -> Option<u64> {
    let range = range.trim();
    let range = range.strip_prefix("bytes ").unwrap_or(range);
    let (start, end) = range.split_once('-')?;
    let end = end.split('/').next()?;
    let (start, end): (u64, u64) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
    (start <= end).then_some(start)
}

/// `PUT manifests/<reference>`.
pub fn put_manifest(
    request: &IncomingRequest,
    repository: &Repository,
    reference: &str,
) -> Result<Response, OciError> {
    check_name(repository)?;
    let upload = upload::Upload::open(request)?;
    let too_large = || {
        OciError::new(
            413,
            "SIZE_INVALID",
            format!("a manifest may be at most {MAX_MANIFEST} bytes; push a smaller one"),
        )
    };
    let declared: Option<u64> =
        header(request, "content-length").and_then(|length| length.parse().ok());
    if declared.is_some_and(|length| length > MAX_MANIFEST as u64) {
        return Err(too_large());
    }
    let bytes = upload.read_at_most(MAX_MANIFEST)?;
    if bytes.len() > MAX_MANIFEST {
        return Err(too_large());
    }
    let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        manifest_invalid(format!("the manifest is not an OCI image manifest ({e})"))
    })?;
    let media_type = manifest
        .media_type
        .clone()
        .or_else(|| header(request, "content-type"))
        .unwrap_or_default();
    if manifest.schema_version != Some(2) {
        return Err(manifest_invalid(
            "the manifest's schemaVersion must be 2".into(),
        ));
    }
    if media_type != IMAGE_MANIFEST && media_type != IMAGE_INDEX {
        return Err(manifest_invalid(format!(
            "media type `{media_type}` is neither `{IMAGE_MANIFEST}` nor `{IMAGE_INDEX}`"
        )));
    }
    let by_digest = reference.contains(':');
    if by_digest {
        check_digest(reference)?;
    }
    let version = (!by_digest)
        .then(|| depot_protocol::parse_version(reference).ok())
        .flatten();
    // A version tag is a release; anything else is kept as any OCI registry
    // keeps it.
    let Some(version) = version else {
        return put_other(repository, reference, &media_type, &manifest, &bytes);
    };
    let ([layer], IMAGE_MANIFEST) = (manifest.layers.as_slice(), media_type.as_str()) else {
        return Err(unsupported(
            "a version tag is a release: push an image manifest whose one layer is \
             `application/wasm` (other artifacts go under tags that are not versions)",
        ));
    };
    if !layer.digest.starts_with("sha256:") {
        return Err(unsupported(
            "a release's content is named by its sha256 digest; upload the layer by its \
             sha256 digest",
        ));
    }
    if layer.media_type != WASM_LAYER {
        return Err(unsupported(&format!(
            "the layer's media type is `{}`; a release's one layer is `{WASM_LAYER}`",
            layer.media_type
        )));
    }
    let config = manifest
        .config
        .as_ref()
        .ok_or_else(|| manifest_invalid("the manifest has no config descriptor".into()))?;
    for descriptor in [config, layer] {
        check_digest(&descriptor.digest)?;
        let stored = blob_read::open_blob(&descriptor.digest, 0)
            .map_err(|e| missing(e, &descriptor.digest))?;
        if stored.size() != descriptor.size {
            return Err(manifest_invalid(format!(
                "blob {} has {} bytes, but the manifest says {}",
                descriptor.digest,
                stored.size(),
                descriptor.size
            )));
        }
    }

    let digest = store_manifest(&bytes)?;
    let name = &repository.package;
    let version = version.to_string();
    let existing = match query::get_release(name, &version) {
        Ok(release) => Some(release),
        Err(Error::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(existing) = existing {
        return match existing.oci {
            Some(oci) if oci.manifest == digest => Ok(manifest_created(repository, &digest)),
            _ => Err(version_tag_taken(repository, &version, &existing.digest)),
        };
    }
    let oci = OciArtifact {
        manifest: digest.clone(),
        config: config.digest.clone(),
    };
    match publish::publish(name, &version, &layer.digest, Some(&oci), None, None) {
        Ok(_) => Ok(manifest_created(repository, &digest)),
        Err(Error::VersionExists(m)) => Err(OciError::new(409, "DENIED", m)),
        Err(Error::InvalidContent(m)) => Err(manifest_invalid(m)),
        Err(e) => Err(e.into()),
    }
}

/// A manifest that is not a release: every blob (or, for an index, manifest)
/// it names must be in the store, then it is kept, tagged when `reference` is
/// a tag.
fn put_other(
    repository: &Repository,
    reference: &str,
    media_type: &str,
    manifest: &Manifest,
    bytes: &[u8],
) -> Result<Response, OciError> {
    let mut references = Vec::new();
    for descriptor in manifest.config.iter().chain(&manifest.layers) {
        check_digest(&descriptor.digest)?;
        // Non-distributable layers are fetched from elsewhere (their `urls`),
        // never pushed to a registry.
        if is_non_distributable(&descriptor.media_type) {
            continue;
        }
        if let Err(e) = blob_read::open_blob(&descriptor.digest, 0) {
            return Err(missing(e, &descriptor.digest));
        }
        references.push(descriptor.digest.clone());
    }
    for descriptor in &manifest.manifests {
        check_digest(&descriptor.digest)?;
        let known = oci_read::oci_references(&repository.package, &descriptor.digest)?
            || query::list_releases(&repository.package).is_ok_and(|releases| {
                artifacts(&releases).any(|(_, oci)| oci.manifest == descriptor.digest)
            });
        if !known {
            return Err(missing(Error::NotFound(String::new()), &descriptor.digest));
        }
        references.push(descriptor.digest.clone());
    }
    let by_digest = reference.contains(':');
    let digest = if by_digest {
        store_manifest_as(bytes, reference)?
    } else {
        store_manifest(bytes)?
    };
    let subject = manifest.subject.as_ref().map(|s| s.digest.clone());
    let artifact_type = manifest
        .artifact_type
        .clone()
        .or_else(|| manifest.config.as_ref().map(|c| c.media_type.clone()));
    let record = OciManifest {
        repository: repository.package.clone(),
        digest: digest.clone(),
        media_type: media_type.to_string(),
        size: bytes.len() as u64,
        artifact_type,
        subject: subject.clone(),
        references,
    };
    oci_write::put_oci_manifest(&record, (!by_digest).then_some(reference))?;
    let response = manifest_created(repository, &digest);
    Ok(match subject {
        Some(subject) => response.with_header("oci-subject", subject),
        None => response,
    })
}

/// `DELETE manifests/<reference>`: a tag, or a manifest and its tags, unless
/// it is a release's (releases are immutable).
pub fn delete_manifest(repository: &Repository, reference: &str) -> Result<Response, OciError> {
    check_name(repository)?;
    let releases = super::releases(repository)?;
    if artifacts(&releases)
        .any(|(release, oci)| release.version == reference || oci.manifest == reference)
    {
        return Err(OciError {
            allow: Some("GET, HEAD, PUT"),
            ..OciError::new(
                405,
                "UNSUPPORTED",
                format!(
                    "`{reference}` is a release of `{}`, and releases are immutable; yank it \
                     instead (POST /v1/packages/{}/versions/<version>/yank)",
                    repository.package, repository.package
                ),
            )
        });
    }
    if oci_write::delete_oci_manifest(&repository.package, reference)? {
        Ok(Response::new(202, "application/json", Body::Empty))
    } else {
        Err(OciError::manifest_unknown(
            &repository.path,
            reference,
            "list the tags at tags/list",
        ))
    }
}

/// `DELETE blobs/<digest>`: the repository forgets the blob (which other
/// repositories may hold), unless a release's artifact names it.
pub fn delete_blob(repository: &Repository, digest: &str) -> Result<Response, OciError> {
    check_name(repository)?;
    check_digest(digest)?;
    let releases = query::list_releases(&repository.package).unwrap_or_default();
    if artifacts(&releases).any(|(release, oci)| {
        release.digest == digest || oci.config == digest || oci.manifest == digest
    }) {
        return Err(OciError {
            allow: Some("GET, HEAD"),
            ..OciError::new(
                405,
                "UNSUPPORTED",
                format!(
                    "{digest} belongs to a release of `{}`, and releases are immutable",
                    repository.package
                ),
            )
        });
    }
    if oci_write::unlink_oci_blob(&repository.package, digest)? {
        Ok(Response::new(202, "application/json", Body::Empty))
    } else {
        Err(OciError::blob_unknown(&repository.path, digest))
    }
}

/// A blob a manifest names that the store does not have.
fn missing(e: Error, digest: &str) -> OciError {
    match e {
        Error::NotFound(_) => OciError::new(
            400,
            "MANIFEST_BLOB_UNKNOWN",
            format!("{digest}, which the manifest names, is not uploaded; push it first"),
        ),
        e => OciError::from(e),
    }
}

/// Stores the manifest's bytes as a blob; its digest.
fn store_manifest(bytes: &[u8]) -> Result<String, OciError> {
    let writer = blob_write::create_blob()?;
    for part in bytes.chunks(blob_write::max_chunk().max(1) as usize) {
        writer.write(part)?;
    }
    Ok(writer.finish()?)
}

/// Stores the manifest's bytes as the blob `digest` (sha256 or sha512, the
/// algorithm the client named it by): refused with `DIGEST_INVALID` when the
/// bytes hash to another digest.
fn store_manifest_as(bytes: &[u8], digest: &str) -> Result<String, OciError> {
    let id = uploads::start_upload()?;
    let stored = (|| {
        let writer = uploads::open_upload(&id)?;
        for part in bytes.chunks(blob_write::max_chunk().max(1) as usize) {
            writer.write(part)?;
        }
        drop(writer);
        uploads::complete_upload(&id, digest)
    })();
    match stored {
        Ok(stored) => Ok(stored),
        Err(Error::InvalidDigest(_)) => {
            let _ = uploads::cancel_upload(&id);
            Err(OciError::digest_invalid(digest))
        }
        Err(e) => {
            let _ = uploads::cancel_upload(&id);
            Err(e.into())
        }
    }
}

/// Whether a layer of `media_type` is non-distributable: its blob lives
/// elsewhere (the descriptor's `urls`) and is never pushed.
fn is_non_distributable(media_type: &str) -> bool {
    media_type.starts_with("application/vnd.oci.image.layer.nondistributable.")
        || media_type.starts_with("application/vnd.docker.image.rootfs.foreign.")
}

fn manifest_created(repository: &Repository, digest: &str) -> Response {
    Response::new(201, "application/json", Body::Empty)
        .with_header(
            "location",
            format!("/v2/{}/manifests/{digest}", repository.path),
        )
        .with_header("docker-content-digest", digest.to_string())
}

fn version_tag_taken(repository: &Repository, version: &str, content: &str) -> OciError {
    OciError::new(
        409,
        "DENIED",
        format!(
            "`{}` {version} is already released (content {content}) with another manifest; \
             version tags are immutable: push a new version",
            repository.package
        ),
    )
    .with_detail(serde_json::json!({ "name": repository.path, "tag": version }))
}

fn manifest_invalid(message: String) -> OciError {
    OciError::new(400, "MANIFEST_INVALID", message)
}

fn unsupported(message: &str) -> OciError {
    OciError::new(400, "UNSUPPORTED", message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_gives_where_a_chunk_starts() {
        assert_eq!(content_range_start("0-99"), Some(0));
        assert_eq!(content_range_start("bytes 100-199/*"), Some(100));
        assert_eq!(content_range_start("5-1"), None);
        assert_eq!(content_range_start("x-1"), None);
    }
}
