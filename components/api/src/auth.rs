//! Who may do what, for every route in one place ([`access`]): the
//! credential a request carries (`Authorization: Bearer <token>`, or `Basic`
//! with the token as the password, so `wkg`'s and docker-style basic auth
//! work), checked by the store for every write before any of the body is
//! read, and for reads too on a private registry (`depot serve --private`).
//! How a refusal reads is each face's own: JSON for `/v1`, the OCI error
//! with its challenge for `/v2`, a page for the web view.

use base64::Engine as _;
use wasip2::http::types::IncomingRequest;

use crate::bindings::depot::registry::access;
use crate::error::ApiError;
use crate::request::header;
use crate::response::{Body, Response};
use crate::routes::oci::{Route as OciRoute, UploadStep};
use crate::routes::{Route, Target};
use depot_guest::types::{Access, TokenInfo};

/// What the host sets when reads need a token.
const PRIVATE_ENV: &str = "DEPOT_PRIVATE";

pub use depot_protocol::token::ANONYMOUS;

/// Whether reads need a token too.
pub fn private() -> bool {
    std::env::var_os(PRIVATE_ENV).is_some_and(|value| !value.is_empty() && value != "0")
}

/// The credential of `request`: the bearer token, or the password of basic
/// auth (any user name). Some malformed header gives an empty credential,
/// which the store refuses as not a token.
pub fn credential(request: &IncomingRequest) -> Option<String> {
    let value = header(request, "authorization")?;
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(rest.to_string())
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .unwrap_or_default();
        Some(
            decoded
                .split_once(':')
                .map_or("", |(_, password)| password)
                .to_string(),
        )
    } else {
        Some(String::new())
    }
}

/// Asks the store whether `request`'s credential grants `access`.
pub fn authorize(request: &IncomingRequest, access: &Access) -> Result<TokenInfo, ApiError> {
    Ok(access::authorize(credential(request).as_deref(), access)?)
}

/// The access `target` needs before it runs, if any. The one exception is
/// `POST /v1/releases`, whose package is in the body: [`write_access`] once
/// it is read.
pub fn access(target: &Target) -> Option<Access> {
    let read = || private().then_some(Access::Read);
    match target {
        Target::Api(route) => v1_access(route),
        Target::Oci(route) => oci_access(route),
        // The page of a private registry says how to sign in.
        Target::Page => read(),
        // The token endpoint checks the credential it is handed: that is
        // what it answers.
        Target::OciToken | Target::Discovery => None,
    }
}

/// The access a `/v1` route needs: writes name their package's namespace,
/// takedown, signing policy and tokens are the operator's, reads need a
/// token only on a private registry.
fn v1_access(route: &Route) -> Option<Access> {
    let write = |name: &str| Some(write_access(name));
    match route {
        Route::Publish { name, .. }
        | Route::Yank { name, .. }
        | Route::Unyank { name, .. }
        | Route::Annotate { name, .. }
        | Route::Unpublished { name, .. }
        | Route::UploadUnpublished { name, .. }
        | Route::AddContentSources { name, .. }
        | Route::PublishUnpublished { name, .. } => write(name),
        Route::Takedown { .. }
        | Route::NamespacePolicy { .. }
        | Route::GrantKey
        | Route::RevokeKey
        | Route::Tokens
        | Route::CreateToken
        | Route::RevokeToken { .. } => Some(Access::Operator),
        // The namespace is in the manifest: checked once it is read.
        Route::CreateRelease => None,
        // The description of the API is no secret, as discovery is not.
        Route::OpenApi => None,
        _ => private().then_some(Access::Read),
    }
}

/// The access a `/v2` route needs: pushes and deletes write the
/// repository's namespace; reads need a token only on a private registry.
/// `/v2/` always asks for one, as registries that take pushes do, so clients
/// know to log in before pushing (the anonymous token passes on a public
/// registry).
fn oci_access(route: &OciRoute) -> Option<Access> {
    match route {
        OciRoute::Base => Some(Access::Read),
        OciRoute::StartUpload { repository, .. }
        | OciRoute::Upload { repository, .. }
        | OciRoute::PutManifest { repository, .. }
        | OciRoute::DeleteManifest { repository, .. }
        | OciRoute::DeleteBlob { repository, .. } => Some(write_access(&repository.package)),
        OciRoute::Manifest { .. }
        | OciRoute::Blob { .. }
        | OciRoute::Tags { .. }
        | OciRoute::Referrers { .. } => private().then_some(Access::Read),
    }
}

/// Whether a refused `/v2` route asks the client for push rights (its
/// challenge's scope says `pull,push`): a write other than reading an
/// upload's status.
pub fn oci_push(route: &OciRoute) -> bool {
    matches!(oci_access(route), Some(Access::Write(_)))
        && !matches!(
            route,
            OciRoute::Upload {
                step: UploadStep::Status,
                ..
            }
        )
}

/// What changing the package (or scope) `name` needs: write access to its
/// namespace.
pub fn write_access(name: &str) -> Access {
    Access::Write(depot_protocol::token::namespace_of(name).into())
}

/// Checks the access `target` needs before it runs.
pub fn check(target: &Target, request: &IncomingRequest) -> Result<(), ApiError> {
    let Some(access) = access(target) else {
        return Ok(());
    };
    if matches!(access, Access::Read)
        && !private()
        && credential(request).as_deref() == Some(ANONYMOUS)
    {
        return Ok(());
    }
    authorize(request, &access).map(drop)
}

/// On a private registry, the web page for a request refused `e`: a small
/// HTML page saying so.
pub fn sign_in_page(e: &ApiError) -> Response {
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Depot: sign-in \
         needed</title></head><body><h1>This registry is private</h1><p>{}</p></body></html>",
        escape(&e.message)
    );
    Response::new(
        e.status,
        "text/html; charset=utf-8",
        Body::Bytes(page.into_bytes()),
    )
    .with_header("www-authenticate", "Basic realm=\"depot\"".to_string())
    .with_header("cache-control", "no-store".to_string())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_name_their_namespace_and_takedown_is_the_operators() {
        let publish = Route::Publish {
            name: "example:greet".into(),
            version: "1.0.0".into(),
        };
        assert!(matches!(v1_access(&publish), Some(Access::Write(ns)) if ns == "example"));
        let takedown = Route::Takedown {
            name: "example:greet".into(),
            version: "1.0.0".into(),
        };
        assert!(matches!(v1_access(&takedown), Some(Access::Operator)));
        assert!(v1_access(&Route::Stats).is_none());
        for tokens in [
            Route::Tokens,
            Route::CreateToken,
            Route::RevokeToken { id: "abc".into() },
        ] {
            assert!(matches!(v1_access(&tokens), Some(Access::Operator)));
        }
    }

    #[test]
    fn every_face_is_decided_here_oci_pushes_write_their_namespace() {
        let oci = |path: &str, method: &str| match crate::routes::target(method, path) {
            Ok(Target::Oci(route)) => route,
            other => panic!("{method} {path}: {other:?}"),
        };
        let push = oci("/v2/example/greet/blobs/uploads/", "POST");
        assert!(matches!(access(&Target::Oci(push)), Some(Access::Write(ns)) if ns == "example"));
        let manifest = oci("/v2/example/greet/manifests/1.0.0", "PUT");
        assert!(oci_push(&manifest));
        // Reading an upload's status needs write access, but asks only to pull.
        let status = oci("/v2/example/greet/blobs/uploads/abc", "GET");
        assert!(matches!(oci_access(&status), Some(Access::Write(_))));
        assert!(!oci_push(&status));
        // `/v2/` asks for a token even on a public registry; its reads do not.
        assert!(matches!(
            access(&Target::Oci(OciRoute::Base)),
            Some(Access::Read)
        ));
        let pull = oci("/v2/example/greet/manifests/1.0.0", "GET");
        assert!(access(&Target::Oci(pull)).is_none());
        assert!(access(&Target::Page).is_none());
        assert!(access(&Target::OciToken).is_none());
        assert!(access(&Target::Discovery).is_none());
    }
}
