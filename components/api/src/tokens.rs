//! `/v1/tokens`: the operator makes, lists and revokes tokens (every token
//! route needs the operator's token: [`crate::auth::v1_access`]). A token's
//! secret is in the answer to its creation only.

use depot_protocol::rfc3339;
use depot_wire::{Token, TokenList};

use crate::bindings::depot::registry::access;
use crate::error::ApiError;
use crate::response::Response;
use depot_guest::types::TokenInfo;

/// `GET /v1/tokens`: every token, revoked ones included, never a secret.
pub fn list() -> Result<Response, ApiError> {
    let tokens = access::list_tokens()?;
    let tokens = TokenList {
        tokens: tokens.iter().map(token).collect(),
    };
    Ok(Response::json(200, &tokens))
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

#[cfg(feature = "writes")]
pub use manage::{create, revoke};

/// Making and revoking tokens: built only with the `writes` feature.
#[cfg(feature = "writes")]
mod manage {
    use depot_protocol::{now_millis, parse_rfc3339};
    use depot_wire::{CreateTokenRequest, Token};
    use wasip2::http::types::IncomingRequest;

    use super::token;
    use crate::bindings::depot::registry::tokens;
    use crate::error::ApiError;
    use crate::response::Response;
    use crate::upload::read_json;
    use depot_guest::types::TokenGrant;

    pub fn create(request: &IncomingRequest) -> Result<Response, ApiError> {
        let body: CreateTokenRequest = read_json(request)?;
        let expires = match (body.expires_in, body.expires_at) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "give `expiresIn` or `expiresAt`, not both",
                ));
            }
            (Some(seconds), None) => {
                Some(now_millis().saturating_add(seconds.saturating_mul(1000)))
            }
            (None, Some(at)) => Some(parse_rfc3339(&at).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "expiresAt `{at}` is not an RFC 3339 UTC time with milliseconds, such as \
                     2026-11-28T04:10:00.000Z"
                ))
            })?),
            (None, None) => None,
        };
        let (info, secret) = tokens::create_token(&TokenGrant {
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

    pub fn revoke(id: &str) -> Result<Response, ApiError> {
        Ok(Response::json(200, &token(&tokens::revoke_token(id)?)))
    }
}
