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

use super::error::OciError;
use super::routes::{Repository, Route, UploadStep};
use crate::auth;
use crate::request::header;
use crate::response::Response;
use depot_guest::types::Access;

/// The service name in challenges and token requests.
const SERVICE: &str = "depot";

/// The token handed to clients without credentials: good for reading a
/// public registry only (reads there ignore credentials).
const ANONYMOUS: &str = "anonymous";

/// How long a client may keep a token from `/v2/token` (the Depot token
/// itself) before asking again, when it does not expire sooner.
const TOKEN_LIFETIME_SECS: u64 = 3600;

/// Whether `path` is the token endpoint.
pub fn is_token_endpoint(path: &str) -> bool {
    path.split('?').next() == Some("/v2/token")
}

/// Checks the access `route` needs before it runs; a refusal carries the
/// challenge.
pub fn check(route: &Route, request: &IncomingRequest) -> Result<(), OciError> {
    let (access, repository) = match route {
        Route::Base => return check_base(request),
        Route::StartUpload { repository, .. }
        | Route::Upload { repository, .. }
        | Route::PutManifest { repository, .. }
        | Route::DeleteManifest { repository, .. }
        | Route::DeleteBlob { repository, .. } => (
            Access::Write(depot_protocol::token::namespace_of(&repository.package).into()),
            Some(repository),
        ),
        Route::Manifest { repository, .. }
        | Route::Blob { repository, .. }
        | Route::Tags { repository, .. }
        | Route::Referrers { repository, .. } => {
            if !auth::private() {
                return Ok(());
            }
            (Access::Read, Some(repository))
        }
    };
    let push = matches!(access, Access::Write(_))
        && !matches!(
            route,
            Route::Upload {
                step: UploadStep::Status,
                ..
            }
        );
    auth::authorize(request, &access)
        .map(drop)
        .map_err(|e| refusal(e.into(), request, repository, push))
}

/// `/v2/`: 200 with valid credentials (or the anonymous token on a public
/// registry), else 401 with the challenge.
fn check_base(request: &IncomingRequest) -> Result<(), OciError> {
    let credential = auth::credential(request);
    if credential.as_deref() == Some(ANONYMOUS) && !auth::private() {
        return Ok(());
    }
    auth::authorize(request, &Access::Read)
        .map(drop)
        .map_err(|e| refusal(e.into(), request, None, false))
}

/// The OCI error for a refusal, with the challenge on a 401.
fn refusal(
    e: OciError,
    request: &IncomingRequest,
    repository: Option<&Repository>,
    push: bool,
) -> OciError {
    if e.status != 401 {
        return e;
    }
    let mut challenge = format!(
        "Bearer realm=\"{}/v2/token\",service=\"{SERVICE}\"",
        origin(request)
    );
    if let Some(repository) = repository {
        let actions = if push { "pull,push" } else { "pull" };
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

/// Where the client reached the registry, as `scheme://host`: behind a TLS
/// proxy, the scheme it says it forwarded.
fn origin(request: &IncomingRequest) -> String {
    let scheme = header(request, "x-forwarded-proto").unwrap_or_else(|| "http".to_string());
    let host = header(request, "host")
        .or_else(|| request.authority())
        .unwrap_or_else(|| "localhost".to_string());
    format!("{scheme}://{host}")
}

/// `GET /v2/token`: the Depot token the client authenticated with (basic
/// auth, password = the token, or a bearer token), checked, as its bearer
/// token; without credentials, an anonymous token on a public registry.
pub fn token(method: &str, request: &IncomingRequest) -> Response {
    if method != "GET" && method != "HEAD" {
        return super::error(&OciError {
            allow: Some("GET, HEAD"),
            ..OciError::new(
                405,
                "UNSUPPORTED",
                format!("the token endpoint does not accept {method}; it accepts GET, HEAD"),
            )
        });
    }
    let (token, expires) = match auth::credential(request) {
        None if !auth::private() => (ANONYMOUS.to_string(), None),
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
