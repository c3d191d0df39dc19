//! The SIG-Registries two-phase publish, whose lifecycle this handler owns:
//! a release manifest makes an unpublished release (status `pending`, an
//! expiry); its content arrives by upload or from content sources fetched
//! here ([`crate::fetch`]); publishing it moves the status through
//! `processing` to `published`, or to `rejected` with a reason. An
//! unpublished release left alone expires. The HTTP front only maps requests
//! to these calls and decides who may make them.

use depot_protocol::now_millis;
use depot_protocol::signing::{self, PublicKey};

use crate::bindings::depot::registry::{blob_read, index, pending_read, pending_write};
use crate::fetch;
use depot_guest::manifest;
use depot_guest::types::{Error, PendingRelease, PendingStatus, Release, ReleaseSignature};

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

/// Where an unpublished release is, for messages.
fn unpublished_path(name: &str, version: &str) -> String {
    format!("/v1/packages/{name}/versions/{version}/unpublished")
}

/// Makes an unpublished release of `text`, a release manifest, for `creator`.
pub fn create(text: String, creator: String) -> Result<PendingRelease, Error> {
    let parsed = manifest::parse(&text)?;
    crate::check_new_release(&parsed.name, &parsed.version)?;
    let now = now_millis();
    if let Some(existing) = pending_read::get_pending(&parsed.name, &parsed.version)? {
        let live = matches!(
            existing.status,
            PendingStatus::Pending | PendingStatus::Processing
        ) && existing.expires > now;
        if live && existing.creator != creator {
            return Err(Error::Conflict(format!(
                "another publisher's unpublished release of `{}` {} is pending until {}; \
                 publish another version, or wait for it to expire",
                parsed.name,
                parsed.version,
                depot_protocol::rfc3339(existing.expires)
            )));
        }
    }
    let pending = PendingRelease {
        name: parsed.name,
        version: parsed.version,
        manifest: text,
        content_digest: parsed.content_digest.to_string(),
        kind: parsed.kind,
        creator,
        status: PendingStatus::Pending,
        reason: None,
        created: now,
        expires: now.saturating_add(ttl_ms()),
        content_sources: Vec::new(),
    };
    pending_write::put_pending(&pending)?;
    Ok(pending)
}

/// The unpublished release, refused unless it still takes content and a publish.
fn open(name: &str, version: &str) -> Result<PendingRelease, Error> {
    depot_guest::validate::name_and_version(name, version)?;
    let pending = pending_read::get_pending(name, version)?.ok_or_else(|| {
        Error::NotFound(format!(
            "`{name}` {version} has no unpublished release; create one with POST /v1/releases"
        ))
    })?;
    match pending.status {
        PendingStatus::Published => Err(Error::VersionExists(format!(
            "`{name}` {version} is already published; releases are immutable"
        ))),
        PendingStatus::Rejected => Err(Error::Conflict(format!(
            "`{name}` {version} was rejected ({}); create the release again with POST \
             /v1/releases",
            pending.reason.as_deref().unwrap_or("no reason given")
        ))),
        _ if pending.expires <= now_millis() => Err(Error::Expired(format!(
            "the unpublished release of `{name}` {version} expired at {} without being \
             published; create it again with POST /v1/releases",
            depot_protocol::rfc3339(pending.expires)
        ))),
        _ => Ok(pending),
    }
}

/// Checks the unpublished release takes content; the most bytes it may have.
pub fn open_for_content(name: &str, version: &str) -> Result<u64, Error> {
    open(name, version)?;
    crate::prepare(name, version)
}

/// Checks that the content uploaded as `digest` is what the manifest names.
pub fn content_uploaded(name: &str, version: &str, digest: &str) -> Result<PendingRelease, Error> {
    let pending = open(name, version)?;
    if digest != pending.content_digest {
        return Err(Error::InvalidDigest(format!(
            "the uploaded content is {digest}, but the release manifest names {}; upload the \
             content the manifest names",
            pending.content_digest
        )));
    }
    Ok(pending)
}

/// Adds `urls` to the release's content sources.
pub fn add_sources(name: &str, version: &str, urls: Vec<String>) -> Result<PendingRelease, Error> {
    let mut pending = open(name, version)?;
    for url in urls {
        fetch::check_url(&url).map_err(Error::BadRequest)?;
        if !pending.content_sources.contains(&url) {
            pending.content_sources.push(url);
        }
    }
    if pending.content_sources.len() > MAX_SOURCES {
        return Err(Error::BadRequest(format!(
            "a release may list at most {MAX_SOURCES} content sources"
        )));
    }
    pending_write::put_pending(&pending)?;
    Ok(pending)
}

/// What the publisher sent with the publish: the release digest it computed,
/// its signature, and the key that made it.
pub struct Signed {
    pub release_digest: Option<String>,
    pub release_signature: Option<String>,
    pub public_key: Option<String>,
}

/// Publishes the unpublished release, recording how it ended.
pub fn publish(name: &str, version: &str, signed: &Signed) -> Result<Release, Error> {
    let mut pending = open(name, version)?;
    if let Some(given) = &signed.release_digest {
        signing::check_release_digest(pending.manifest.as_bytes(), given)
            .map_err(|e| Error::InvalidSignature(e.to_string()))?;
    }
    let signature = match &signed.release_signature {
        None => None,
        Some(signature) => Some(signature_of(
            &pending,
            signed.public_key.as_deref(),
            signature,
        )?),
    };
    pending.status = PendingStatus::Processing;
    pending_write::put_pending(&pending)?;
    let outcome = content(&pending).and_then(|digest| {
        crate::publish(
            name,
            version,
            &digest,
            None,
            signature.as_ref(),
            Some(pending.kind),
        )
    });
    match &outcome {
        Ok(_) => pending.status = PendingStatus::Published,
        // The version was taken meanwhile: by a racing publish of this very
        // release (then it is published), or by another release.
        Err(Error::VersionExists(_))
            if crate::current_release(name, version)
                .is_ok_and(|release| release.digest == pending.content_digest) =>
        {
            pending.status = PendingStatus::Published;
        }
        // A failure that may pass on retry leaves the release pending.
        Err(
            Error::Storage(_)
            | Error::HeadMoved(_)
            | Error::Conflict(_)
            | Error::ContentMissing(_)
            | Error::ContentUnavailable(_),
        ) => pending.status = PendingStatus::Pending,
        // Anything else is a verdict on this release.
        Err(e) => {
            pending.status = PendingStatus::Rejected;
            pending.reason = Some(format!("{}: {}", e.code(), e.message()));
        }
    }
    pending_write::put_pending(&pending)?;
    outcome
}

/// The signature the publish carries, with the key that made it: `key`, or
/// else the first key granted on the package the signature verifies with.
fn signature_of(
    pending: &PendingRelease,
    key: Option<&str>,
    signature: &str,
) -> Result<ReleaseSignature, Error> {
    let release_digest = signing::release_digest_hex(pending.manifest.as_bytes());
    let make = |key: String| ReleaseSignature {
        key,
        manifest: pending.manifest.clone(),
        release_digest: release_digest.clone(),
        signature: signature.to_string(),
    };
    if let Some(key) = key {
        return Ok(make(key.to_string()));
    }
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
            Error::InvalidSignature(format!(
                "releaseSignature verifies with no key granted on `{}` or namespace \
                 `{namespace}`; sign with a granted key, or name yours as `publicKey`",
                pending.name
            ))
        })
}

/// The release's content in the store: already there (uploaded), or fetched
/// from its content sources, each checked against the manifest's digest.
fn content(pending: &PendingRelease) -> Result<String, Error> {
    let expected = &pending.content_digest;
    if blob_read::open_blob(expected, 0).is_ok() {
        return Ok(expected.clone());
    }
    if pending.content_sources.is_empty() {
        return Err(Error::ContentMissing(format!(
            "`{}` {} has no content yet: upload it to {}/content or add a content source, \
             then publish again",
            pending.name,
            pending.version,
            unpublished_path(&pending.name, &pending.version)
        )));
    }
    let limit = crate::prepare(&pending.name, &pending.version)?;
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
        Error::InvalidDigest(message)
    } else {
        Error::ContentUnavailable(message)
    })
}
