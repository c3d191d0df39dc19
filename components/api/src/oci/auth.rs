//! Authentication the way OCI clients expect it (the docker token flow): a
//! request without valid credentials gets 401 with `WWW-Authenticate: Bearer
//! realm="<origin>/v2/token",service="depot",scope="repository:ns/name:..."`;
//! the client asks `GET /v2/token` with basic auth (password: a Depot token)
//! and gets that same token back as its bearer token. `GET /v2/` without
//! credentials answers 401 with the challenge, as registries that take
//! pushes do, so clients (`oci-client`, `wkg`, docker) know to log in before
//! pushing; anonymous clients get an anonymous token that only reads a
//! public registry.

use depot_protocol::now_millis;
use serde_json::json;
use wasip2::http::types::IncomingRequest;

use crate::auth;
use crate::error::oci::OciError;
use crate::request::header;
use crate::response::Response;
use crate::routes::oci::{Repository, Route};
use depot_guest::types::Access;

/// The service name in challenges and token requests.
const SERVICE: &str = "depot";

/// How long a client may keep a token from `/v2/token` (the Depot token
/// itself) before asking again, when it does not expire sooner.
const TOKEN_LIFETIME_SECS: u64 = 3600;

/// `e`, refusing access to `route`, with the challenge on a 401: it names
/// the token endpoint, and the repository with the rights the route needs.
pub fn refusal(e: OciError, request: &IncomingRequest, route: &Route) -> OciError {
    if e.status != 401 {
        return e;
    }
    let mut challenge = format!(
        "Bearer realm=\"{}/v2/token\",service=\"{SERVICE}\"",
        origin(request)
    );
    if let Some(repository) = repository(route) {
        let actions = if auth::oci_push(route) {
            "pull,push"
        } else {
            "pull"
        };
        challenge.push_str(&format!(
            ",scope=\"repository:{}:{actions}\"",
            repository.path
        ));
    }
    OciError {
        challenge: Some(challenge),
        ..e
    }
}

/// The repository `route` is about; none for `/v2/`.
fn repository(route: &Route) -> Option<&Repository> {
    match route {
        Route::Base => None,
        Route::Manifest { repository, .. }
        | Route::Blob { repository, .. }
        | Route::Tags { repository, .. }
        | Route::PutManifest { repository, .. }
        | Route::DeleteManifest { repository, .. }
        | Route::DeleteBlob { repository, .. }
        | Route::StartUpload { repository, .. }
        | Route::Upload { repository, .. }
        | Route::Referrers { repository, .. } => Some(repository),
    }
}

/// Where the client reached the registry, as `scheme://host`: behind a TLS
/// proxy, the scheme it says it forwarded.
fn origin(request: &IncomingRequest) -> String {
    let scheme = header(request, "x-forwarded-proto").unwrap_or_else(|| "http".to_string());
    let host = crate::request::host(request).unwrap_or_else(|| "localhost".to_string());
    format!("{scheme}://{host}")
}

/// `GET /v2/token`: the Depot token the client authenticated with (basic
/// auth, password = the token, or a bearer token), checked, as its bearer
/// token; without credentials, an anonymous token on a public registry.
pub fn token(request: &IncomingRequest) -> Response {
    let (token, expires) = match auth::credential(request) {
        None if !auth::private() => (auth::ANONYMOUS.to_string(), None),
        credential => match auth::authorize(request, &Access::Read) {
            Ok(info) => (credential.unwrap_or_default(), info.expires),
            // Any refusal of a read is a 401: no, or no valid, token.
            Err(e) => {
                return super::error(&OciError::from(e))
                    .with_header("www-authenticate", "Basic realm=\"depot\"".to_string());
            }
        },
    };
    let now = now_millis();
    let expires_in = expires.map_or(TOKEN_LIFETIME_SECS, |at| {
        (at.saturating_sub(now) / 1000).min(TOKEN_LIFETIME_SECS)
    });
    Response::json(
        200,
        &json!({
            "token": token,
            "access_token": token,
            "expires_in": expires_in,
            "issued_at": depot_protocol::rfc3339(now),
        }),
    )
    .with_header("cache-control", "no-store".to_string())
}
