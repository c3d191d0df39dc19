//! Tokens in the `tokens` table: the SHA-256 of each
//! token, never the token, beside the log rather than in it (tokens are this
//! registry's own). The rules are `depot_protocol::token`'s.

use depot_protocol::token::{self, Grant};

use crate::db::{Db, Row, params};
use crate::entries::now_millis;
use crate::error::{During, StoreError};
use crate::sql;
use crate::types::{Access, TokenGrant, TokenInfo};

/// See `store.create-token`.
pub fn create(db: &Db, grant: TokenGrant) -> Result<(TokenInfo, String), StoreError> {
    const SAVING: &str = "saving a token";
    let now = now_millis();
    token::check_new_grant(&grant.namespaces, grant.operator, grant.expires, now)
        .map_err(StoreError::BadRequest)?;
    let secret: [u8; token::SECRET_BYTES] = db
        .random(token::SECRET_BYTES)
        .try_into()
        .map_err(|_| StoreError::storage(SAVING, "too few random bytes"))?;
    let info = TokenInfo {
        id: hex::encode(db.random(token::ID_BYTES)),
        label: grant.label,
        namespaces: grant.namespaces,
        operator: grant.operator,
        created: now,
        expires: grant.expires,
        revoked: None,
    };
    let secret = token::format(&secret);
    let namespaces = serde_json::to_string(&info.namespaces).during(SAVING)?;
    db.execute(
        sql::INSERT_TOKEN,
        params![
            info.id,
            token::hash(&secret),
            info.label,
            namespaces,
            info.operator,
            info.created,
            info.expires,
            info.revoked
        ],
        SAVING,
    )?;
    Ok((info, secret))
}

/// See `store.authorize`: the token `credential` is, if it grants `access`.
///
/// `configured` is the SHA-256 of the operator's token the instance's
/// configuration names, if it names one ([`token::configured_hash`]): the
/// first time that token is used it is added to the store (see
/// [`add_configured_operator`]), so it is then listed, and revoked, as any
/// other.
pub fn authorize(
    db: &Db,
    credential: Option<&str>,
    access: &Access,
    configured: Option<&str>,
) -> Result<TokenInfo, StoreError> {
    let credential = token::check_credential(credential)?;
    let hash = token::hash(credential);
    let mut info = token_by_hash(db, &hash)?;
    if info.is_none() && configured == Some(hash.as_str()) {
        add_configured_operator(db, &hash)?;
        info = token_by_hash(db, &hash)?;
    }
    let info = info.ok_or_else(token::unknown)?;
    let access = match access {
        Access::Read => token::Access::Read,
        Access::Write(namespace) => token::Access::Write(namespace),
        Access::Operator => token::Access::Operator,
    };
    token::check(&grant(&info), access, now_millis())?;
    Ok(info)
}

/// See `store.list-tokens`.
pub fn list(db: &Db) -> Result<Vec<TokenInfo>, StoreError> {
    db.rows(sql::LIST_TOKENS, &[], "listing tokens")?
        .iter()
        .map(token_from_row)
        .collect()
}

/// See `store.revoke-token`.
pub fn revoke(db: &Db, id: &str) -> Result<TokenInfo, StoreError> {
    const REVOKING: &str = "revoking a token";
    db.transaction(REVOKING, |tx| {
        tx.execute(sql::REVOKE_TOKEN, params![id, now_millis()], REVOKING)?;
        tx.optional(sql::TOKEN_BY_ID, params![id], REVOKING)?
            .map(|row| token_from_row(&row))
            .transpose()?
            .ok_or_else(|| StoreError::NotFound(token::no_such_token(id)))
    })
}

/// On a registry's first start: makes the operator's token when there is no
/// operator token that still works, and returns its secret (to be shown
/// once); none when there is one. One transaction, so instances starting
/// together on one database make one token between them.
pub fn ensure_operator(db: &Db) -> Result<Option<String>, StoreError> {
    db.transaction("making the operator's token", |tx| {
        if has_live_operator(&list(tx)?) {
            return Ok(None);
        }
        let (_, secret) = create(tx, operator_grant())?;
        Ok(Some(secret))
    })
}

/// Adds the operator's token whose SHA-256 is `hash` (the one an instance's
/// configuration names) to the store, unless a token with that hash is
/// there already: revoking it stays revoked, and instances sharing a
/// database add it once between them (its id is made from the hash).
pub fn add_configured_operator(db: &Db, hash: &str) -> Result<(), StoreError> {
    let grant = operator_grant();
    let namespaces =
        serde_json::to_string(&grant.namespaces).during("adding the operator's token")?;
    db.execute(
        sql::INSERT_TOKEN_ONCE,
        params![
            token::configured_id(hash),
            hash,
            token::CONFIGURED_OPERATOR_LABEL,
            namespaces,
            true,
            now_millis(),
            None::<u64>,
            None::<u64>
        ],
        "adding the operator's token",
    )?;
    Ok(())
}

fn token_by_hash(db: &Db, hash: &str) -> Result<Option<TokenInfo>, StoreError> {
    db.optional(sql::TOKEN_BY_HASH, params![hash], "looking a token up")?
        .map(|row| token_from_row(&row))
        .transpose()
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

/// What `info` grants, for `depot_protocol::token`'s rules.
fn grant(info: &TokenInfo) -> Grant<'_> {
    Grant {
        namespaces: &info.namespaces,
        operator: info.operator,
        expires: info.expires,
        revoked: info.revoked,
    }
}

fn token_from_row(row: &Row) -> Result<TokenInfo, StoreError> {
    Ok(TokenInfo {
        id: row.text(0)?,
        label: row.opt_text(1)?,
        namespaces: row.json(2)?,
        operator: row.bool(3)?,
        created: row.u64(4)?,
        expires: row.opt_u64(5)?,
        revoked: row.opt_u64(6)?,
    })
}
