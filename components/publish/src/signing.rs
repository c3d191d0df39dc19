//! Signed releases: a signature must name this very release in its manifest,
//! verify, and be made with a key the operator granted on the package or its
//! namespace; a namespace may require one.

use crate::bindings::depot::registry::index;
use depot_guest::manifest;
use depot_guest::types::{ContentKind, Error, ReleaseSignature};
use depot_protocol::Digest;
use depot_protocol::signing::{PublicKey, SignatureError, verify_release};

/// `key` in its canonical form, or `bad-request`.
pub fn parse_key(key: &str) -> Result<String, Error> {
    key.trim()
        .parse::<PublicKey>()
        .map(|key| key.to_string())
        .map_err(|e| Error::BadRequest(e.to_string()))
}

/// Checks that `scope` is a namespace or a package name, and returns its namespace.
pub fn check_scope(scope: &str) -> Result<&str, Error> {
    if scope.contains(':') {
        let _: depot_protocol::PackageName = scope.parse()?;
    } else {
        depot_protocol::token::check_namespace(scope).map_err(Error::BadRequest)?;
    }
    Ok(depot_protocol::token::namespace_of(scope))
}

/// Checks the signature of a release of `name` at `version` with content
/// `digest`, or its absence; returns the kind of content its manifest names.
pub fn check(
    name: &str,
    version: &str,
    digest: &Digest,
    signature: Option<&ReleaseSignature>,
) -> Result<Option<ContentKind>, Error> {
    let namespace = depot_protocol::token::namespace_of(name);
    let trust = index::namespace_trust(namespace)?;
    let Some(signature) = signature else {
        if trust.require_signatures {
            return Err(Error::SignatureRequired(format!(
                "namespace `{namespace}` requires signed releases; publish with \
                 `depot publish --sign KEY` (a key the operator granted on `{namespace}` or \
                 `{name}`)"
            )));
        }
        return Ok(None);
    };
    let manifest = manifest::parse(&signature.manifest)?;
    if manifest.name != name || manifest.version != version || &manifest.content_digest != digest {
        return Err(Error::InvalidSignature(format!(
            "the signed release manifest names {} {} with content {}, not {name} {version} with \
             content {digest}; sign a manifest of this release",
            manifest.name, manifest.version, manifest.content_digest
        )));
    }
    let key: PublicKey = signature
        .key
        .parse()
        .map_err(|e: SignatureError| Error::InvalidSignature(e.to_string()))?;
    verify_release(
        &key,
        signature.manifest.as_bytes(),
        &signature.release_digest,
        &signature.signature,
    )
    .map_err(|e| Error::InvalidSignature(e.to_string()))?;
    let key = key.to_string();
    let granted = trust
        .grants
        .iter()
        .any(|grant| grant.key == key && (grant.scope == namespace || grant.scope == name));
    if !granted {
        return Err(Error::Forbidden(format!(
            "key {key} is not granted on `{name}` or namespace `{namespace}`, so it may not sign \
             its releases; the operator grants it with `depot key grant {key} --package {name}`"
        )));
    }
    Ok(Some(manifest.kind))
}
