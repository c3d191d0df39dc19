//! `/v1/tokens`: the operator makes, lists and revokes tokens. Every route
//! needs the operator's token; a token's secret is in the answer to its
//! creation only.

use depot_protocol::now_millis;
use depot_protocol::{parse_rfc3339, rfc3339};
use depot_wire::{CreateTokenRequest, Token, TokenList};
use wasip2::http::types::IncomingRequest;

use crate::auth;
use crate::bindings::depot::registry::store::{self, Access, TokenGrant, TokenInfo};
use crate::error::ApiError;
use crate::handlers::read_json;
use crate::response::Response;
use crate::routes::percent_decode;

/// Whether `path` is a token route.
pub fn handles(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    path == "/v1/tokens" || path.starts_with("/v1/tokens/")
}

/// Answers a token route.
pub fn respond(method: &str, path: &str, request: &IncomingRequest) -> Response {
    route(method, path, request).unwrap_or_else(|e| Response::error(&e))
}

fn route(method: &str, path: &str, request: &IncomingRequest) -> Result<Response, ApiError> {
    let path = path.split('?').next().unwrap_or(path);
    let id = match path.strip_prefix("/v1/tokens/") {
        Some(id) => Some(percent_decode(id, false)?),
        None => None,
    };
    match (method, id) {
        ("POST", None) => {
            auth::authorize(request, &Access::Operator)?;
            create(request)
        }
        ("GET" | "HEAD", None) => {
            auth::authorize(request, &Access::Operator)?;
            let tokens = store::list_tokens()?;
            let tokens = TokenList {
                tokens: tokens.iter().map(token).collect(),
            };
            Ok(Response::json(200, &tokens))
        }
        ("DELETE", Some(id)) if !id.is_empty() && !id.contains('/') => {
            auth::authorize(request, &Access::Operator)?;
            Ok(Response::json(200, &token(&store::revoke_token(&id)?)))
        }
        (_, None) => Err(ApiError::method_not_allowed(method, "GET, HEAD, POST")),
        (_, Some(id)) if !id.is_empty() && !id.contains('/') => {
            Err(ApiError::method_not_allowed(method, "DELETE"))
        }
        _ => Err(ApiError::not_found(format!(
            "there is no route for {method} {path}; the token routes are POST and GET \
             /v1/tokens, DELETE /v1/tokens/{{id}}"
        ))),
    }
}

fn create(request: &IncomingRequest) -> Result<Response, ApiError> {
    let body: CreateTokenRequest = read_json(request)?;
    let expires = match (body.expires_in, body.expires_at) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give `expiresIn` or `expiresAt`, not both",
            ));
        }
        (Some(seconds), None) => Some(now_millis().saturating_add(seconds.saturating_mul(1000))),
        (None, Some(at)) => Some(parse_rfc3339(&at).ok_or_else(|| {
            ApiError::bad_request(format!(
                "expiresAt `{at}` is not an RFC 3339 UTC time with milliseconds, such as \
                 2026-11-28T04:10:00.000Z"
            ))
        })?),
        (None, None) => None,
    };
    let (info, secret) = store::create_token(&TokenGrant {
        label: body.label,
        namespaces: body.namespaces,
        operator: false,
        expires,
    })?;
    let created = Token {
        token: Some(secret),
        ..token(&info)
    };
    Ok(Response::json(201, &created).with_header("cache-control", "no-store".to_string()))
}

/// A token as the API shows it: never its secret.
fn token(token: &TokenInfo) -> Token {
    Token {
        id: token.id.clone(),
        label: token.label.clone(),
        namespaces: token.namespaces.clone(),
        operator: token.operator,
        created_at: rfc3339(token.created),
        expires_at: token.expires.map(rfc3339),
        revoked_at: token.revoked.map(rfc3339),
        token: None,
    }
}
