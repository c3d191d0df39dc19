//! Who may do what: the credential a request carries (`Authorization:
//! Bearer <token>`, or `Basic` with the token as the password, so `wkg`'s
//! and docker-style basic auth work), checked by the store for every write
//! before any of the body is read, and for reads too on a private registry
//! (`depot serve --private`).

use base64::Engine as _;
use wasip2::http::types::IncomingRequest;

use crate::bindings::depot::registry::access;
use crate::error::ApiError;
use crate::request::header;
use crate::response::{Body, Response};
use crate::routes::Route;
use depot_guest::types::{Access, TokenInfo};

/// What the host sets when reads need a token.
const PRIVATE_ENV: &str = "DEPOT_PRIVATE";

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

/// The access a `/v1` route needs, if any: writes name their package's
/// namespace, takedown, signing policy and tokens are the operator's, reads
/// need a token only on a private registry.
pub fn v1_access(route: &Route) -> Option<Access> {
    let write = |name: &str| {
        Some(Access::Write(
            depot_protocol::token::namespace_of(name).into(),
        ))
    };
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
        _ => private().then_some(Access::Read),
    }
}

/// Checks a `/v1` route's access before it runs.
pub fn check_v1(route: &Route, request: &IncomingRequest) -> Result<(), ApiError> {
    match v1_access(route) {
        Some(access) => authorize(request, &access).map(drop),
        None => Ok(()),
    }
}

/// On a private registry, a web page for a request without a valid token:
/// a small HTML page saying so.
pub fn check_page(request: &IncomingRequest) -> Option<Response> {
    if !private() {
        return None;
    }
    let e = authorize(request, &Access::Read).err()?;
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Depot: sign-in \
         needed</title></head><body><h1>This registry is private</h1><p>{}</p></body></html>",
        escape(&e.message)
    );
    Some(
        Response::new(
            e.status,
            "text/html; charset=utf-8",
            Body::Bytes(page.into_bytes()),
        )
        .with_header("www-authenticate", "Basic realm=\"depot\"".to_string())
        .with_header("cache-control", "no-store".to_string()),
    )
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
}
