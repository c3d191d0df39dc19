//! Tokens over any [`Backend`]: making one (random, kept only as its
//! SHA-256), checking a request's credential, revoking. The rules are
//! `depot_protocol::token`'s; the backend only keeps rows.

use depot_protocol::token::{self, Grant};

use super::backend::Backend;
use crate::StoreError;
use crate::entries::now_millis;
use crate::types::{Access, TokenGrant, TokenInfo};

/// Makes a token with `grant`; returns it and its secret.
pub fn create(backend: &dyn Backend, grant: TokenGrant) -> Result<(TokenInfo, String), StoreError> {
    let now = now_millis();
    token::check_new_grant(&grant.namespaces, grant.operator, grant.expires, now)
        .map_err(StoreError::BadRequest)?;
    let secret = random_bytes::<{ token::SECRET_BYTES }>()?;
    let id = hex::encode(random_bytes::<{ token::ID_BYTES }>()?);
    let info = TokenInfo {
        id,
        label: grant.label,
        namespaces: grant.namespaces,
        operator: grant.operator,
        created: now,
        expires: grant.expires,
        revoked: None,
    };
    let secret = token::format(&secret);
    backend.insert_token(&info, &token::hash(&secret))?;
    Ok((info, secret))
}

fn random_bytes<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut bytes = [0; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::storage("drawing random bytes for a token", e.to_string()))?;
    Ok(bytes)
}

/// The token `credential` is, if it grants `access`.
pub fn authorize(
    backend: &dyn Backend,
    credential: Option<&str>,
    access: &Access,
) -> Result<TokenInfo, StoreError> {
    let credential = token::check_credential(credential)?;
    let info = backend
        .token_by_hash(&token::hash(credential))?
        .ok_or_else(token::unknown)?;
    let access = match access {
        Access::Read => token::Access::Read,
        Access::Write(namespace) => token::Access::Write(namespace),
        Access::Operator => token::Access::Operator,
    };
    token::check(&grant(&info), access, now_millis())?;
    Ok(info)
}

/// Revokes token `id`.
pub fn revoke(backend: &dyn Backend, id: &str) -> Result<TokenInfo, StoreError> {
    backend
        .revoke_token(id, now_millis())?
        .ok_or_else(|| StoreError::NotFound(token::no_such_token(id)))
}

/// What `info` grants, for `depot_protocol::token`'s rules.
fn grant(info: &TokenInfo) -> Grant<'_> {
    Grant {
        namespaces: &info.namespaces,
        operator: info.operator,
        expires: info.expires,
        revoked: info.revoked,
    }
}

/// Whether `tokens` include an operator's token that still works.
pub fn has_live_operator(tokens: &[TokenInfo]) -> bool {
    let now = now_millis();
    tokens
        .iter()
        .any(|info| token::is_live_operator(&grant(info), now))
}

/// What the operator's token grants: everything, until revoked.
pub fn operator_grant() -> TokenGrant {
    TokenGrant {
        label: Some(token::OPERATOR_LABEL.to_string()),
        namespaces: vec![token::EVERY_NAMESPACE.to_string()],
        operator: true,
        expires: None,
    }
}

/// On a registry's first start: makes the operator's token when there is
/// no operator token that still works, and returns its secret (to be shown
/// once). None when there is one.
pub fn ensure_operator(backend: &dyn Backend) -> Result<Option<String>, StoreError> {
    if has_live_operator(&backend.list_tokens()?) {
        return Ok(None);
    }
    let (_, secret) = create(backend, operator_grant())?;
    Ok(Some(secret))
}
