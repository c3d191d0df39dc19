//! Tokens: who may change what. A token is `depot_` followed by 64 lowercase
//! hex digits (32 random bytes); a store keeps only its SHA-256, with the
//! namespaces it may write to (`*` for every one), whether it is the
//! operator's, and when it expires or was revoked. These are the rules every
//! store applies the same way.
//!
//! ```
//! use depot_protocol::token::{self, Access, Grant};
//!
//! let secret = token::format(&[7; 32]);
//! assert!(token::is_well_formed(&secret));
//! let grant = Grant { namespaces: &["example".to_string()], operator: false, expires: None, revoked: None };
//! assert!(token::check(&grant, Access::Write("example"), 0).is_ok());
//! assert!(token::check(&grant, Access::Write("other"), 0).is_err());
//! assert!(token::check(&grant, Access::Operator, 0).is_err());
//! ```

use sha2::{Digest as _, Sha256};

/// What every token starts with, so a leaked one is recognisable (and
/// scanners can find it).
pub const PREFIX: &str = "depot_";

/// The token `/v2/token` hands to clients without credentials (docker's
/// token flow): on a public registry it passes the read check of `/v2/`,
/// and a read carrying it is answered as one carrying nothing.
pub const ANONYMOUS: &str = "anonymous";

/// The namespace grant that covers every namespace.
pub const EVERY_NAMESPACE: &str = "*";

/// Random bytes in a token.
pub const SECRET_BYTES: usize = 32;

/// Random bytes in a token's id (12 hex digits: the handle `depot token
/// revoke` takes, which says nothing of the secret).
pub const ID_BYTES: usize = 6;

/// The label of the token a registry makes for its operator on first start.
pub const OPERATOR_LABEL: &str = "operator";

/// The token made of `secret`: `depot_` and its bytes in lowercase hex.
pub fn format(secret: &[u8; SECRET_BYTES]) -> String {
    let mut token = String::with_capacity(PREFIX.len() + 2 * SECRET_BYTES);
    token.push_str(PREFIX);
    for byte in secret {
        token.push_str(&format!("{byte:02x}"));
    }
    token
}

/// Whether `token` has a token's shape (it may still be unknown).
pub fn is_well_formed(token: &str) -> bool {
    token.strip_prefix(PREFIX).is_some_and(|hex| {
        hex.len() == 2 * SECRET_BYTES && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// What a store keeps instead of the token: its SHA-256 in lowercase hex.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The label of an operator's token that comes from an instance's
/// configuration (a Spin variable) rather than from the store.
pub const CONFIGURED_OPERATOR_LABEL: &str = "operator (configured)";

/// The SHA-256 (lowercase hex) of the operator's token a configuration
/// value names: the token itself (`depot_` and 64 hex digits), or its
/// SHA-256 as 64 hex digits, so a configuration need not hold the secret.
pub fn configured_hash(value: &str) -> Result<String, String> {
    let value = value.trim();
    if is_well_formed(value) {
        return Ok(hash(value));
    }
    if value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(value.to_ascii_lowercase());
    }
    Err(format!(
        "the configured operator's token is neither a token (`{PREFIX}` and 64 hex digits; \
         `depot token generate` makes one) nor a token's SHA-256 (64 hex digits)"
    ))
}

/// The id of the configured operator's token whose SHA-256 is `hash`: made
/// from the hash, so every instance sharing a database names it alike, and
/// saying nothing of the secret.
pub fn configured_id(hash: &str) -> String {
    let digest = Sha256::digest(format!("depot configured operator {hash}").as_bytes());
    digest[..ID_BYTES]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access<'a> {
    /// Read a private registry: any valid token.
    Read,
    /// Change packages of this namespace: publish, yank, annotate, push.
    Write(&'a str),
    /// What only the operator may do: take a release down, manage tokens.
    Operator,
}

/// What a stored token grants.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    /// Namespaces it may write to; `*` for every one.
    pub namespaces: &'a [String],
    /// Whether it is the operator's (it may then do anything).
    pub operator: bool,
    /// When it expires, in milliseconds since the Unix epoch.
    pub expires: Option<u64>,
    /// When it was revoked.
    pub revoked: Option<u64>,
}

/// Why a request may not go ahead; the message names what is missing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// No valid token: none, malformed, unknown, expired or revoked (HTTP 401).
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token that does not grant the access (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
}

/// The refusal for a request without a token.
pub fn missing() -> Denied {
    Denied::Unauthorized(
        "no token: pass --token or DEPOT_TOKEN to the CLI, or send `Authorization: Bearer \
         depot_…` (or Basic auth with the token as the password); the operator makes tokens \
         with `depot token create`"
            .to_string(),
    )
}

/// The refusal for a credential that is not a token at all.
pub fn malformed() -> Denied {
    Denied::Unauthorized(format!(
        "the credential is not a Depot token (`{PREFIX}` followed by {} lowercase hex \
         digits); pass the token exactly as `depot token create` printed it",
        2 * SECRET_BYTES
    ))
}

/// The refusal for a well-formed token this registry does not know.
pub fn unknown() -> Denied {
    Denied::Unauthorized(
        "unknown token: this registry issued no such token; check that it is for this \
         registry, or ask the operator for one"
            .to_string(),
    )
}

/// The credential a request carried, if it is shaped like a token: a
/// request without one, or with something else, is refused before any
/// lookup.
pub fn check_credential(credential: Option<&str>) -> Result<&str, Denied> {
    let credential = credential.ok_or_else(missing)?;
    if is_well_formed(credential) {
        Ok(credential)
    } else {
        Err(malformed())
    }
}

/// Checks what a new token is to grant, at time `now`: at least one
/// namespace unless it is the operator's, each a namespace or `*`, and an
/// expiry still to come.
pub fn check_new_grant(
    namespaces: &[String],
    operator: bool,
    expires: Option<u64>,
    now: u64,
) -> Result<(), String> {
    if namespaces.is_empty() && !operator {
        return Err(
            "a token needs at least one namespace to publish to (`*` for every one); give \
             `namespaces`, or `--namespace NS` to `depot token create`"
                .to_string(),
        );
    }
    for namespace in namespaces {
        check_namespace(namespace)?;
    }
    match expires {
        Some(expires) if expires <= now => Err(format!(
            "the expiry {} is already past; give a time to come",
            crate::rfc3339(expires)
        )),
        _ => Ok(()),
    }
}

/// Whether `grant` is an operator's token that still works at `now`: when a
/// registry has none, it makes one on start (and shows it once).
pub fn is_live_operator(grant: &Grant<'_>, now: u64) -> bool {
    grant.operator && grant.revoked.is_none() && grant.expires.is_none_or(|expires| expires > now)
}

/// The refusal for revoking a token that does not exist.
pub fn no_such_token(id: &str) -> String {
    format!("there is no token `{id}`; `depot token list` shows the tokens and their ids")
}

/// Whether `grant` allows `access` at time `now` (milliseconds since the
/// Unix epoch).
pub fn check(grant: &Grant<'_>, access: Access<'_>, now: u64) -> Result<(), Denied> {
    if let Some(revoked) = grant.revoked {
        return Err(Denied::Unauthorized(format!(
            "token revoked on {}; ask the operator for a new one",
            crate::rfc3339(revoked)
        )));
    }
    if let Some(expires) = grant.expires
        && expires <= now
    {
        return Err(Denied::Unauthorized(format!(
            "token expired on {}; ask the operator for a new one",
            crate::rfc3339(expires)
        )));
    }
    if grant.operator {
        return Ok(());
    }
    match access {
        Access::Read => Ok(()),
        Access::Write(namespace) => {
            if grant
                .namespaces
                .iter()
                .any(|granted| granted == EVERY_NAMESPACE || granted == namespace)
            {
                Ok(())
            } else {
                Err(Denied::Forbidden(format!(
                    "this token may publish to namespaces {}; not `{namespace}`; use a token \
                     granted `{namespace}` (`depot token create --namespace {namespace}`)",
                    grant.namespaces.join(", ")
                )))
            }
        }
        Access::Operator => Err(Denied::Forbidden(
            "only the operator's token may do this (take releases down, manage tokens); this \
             token may only publish to its namespaces"
                .to_string(),
        )),
    }
}

/// Checks a namespace to grant: `*`, or a namespace as in a package name
/// (lowercase kebab-case).
pub fn check_namespace(namespace: &str) -> Result<(), String> {
    if namespace == EVERY_NAMESPACE
        || format!("{namespace}:x")
            .parse::<crate::PackageName>()
            .is_ok()
    {
        Ok(())
    } else {
        Err(format!(
            "`{namespace}` is not a namespace: give a lowercase kebab-case namespace such as \
             `example`, or `*` for every namespace"
        ))
    }
}

/// The namespace of a package name as a request wrote it: the part before
/// the colon (the whole text when there is none).
pub fn namespace_of(package: &str) -> &str {
    package.split(':').next().unwrap_or(package)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_operator_is_named_by_the_token_or_its_hash() {
        let secret = format(&[9; SECRET_BYTES]);
        let by_token = configured_hash(&secret).unwrap();
        assert_eq!(by_token, hash(&secret));
        assert_eq!(configured_hash(&by_token.to_uppercase()).unwrap(), by_token);
        assert_eq!(configured_hash(&format!(" {secret}\n")).unwrap(), by_token);
        for bad in [
            "",
            "depot_12",
            &by_token[1..],
            "secret",
            &secret[PREFIX.len()..].replace('9', "g"),
        ] {
            let e = configured_hash(bad).unwrap_err();
            assert!(e.contains("depot token generate"), "{e}");
        }
        let id = configured_id(&by_token);
        assert_eq!(id.len(), 2 * ID_BYTES);
        assert_ne!(id, configured_id(&hash("another")));
        assert!(!by_token.contains(&id) && !secret.contains(&id));
    }

    fn grant(namespaces: &[String]) -> Grant<'_> {
        Grant {
            namespaces,
            operator: false,
            expires: None,
            revoked: None,
        }
    }

    #[test]
    fn tokens_are_the_prefix_and_64_hex_digits() {
        let token = format(&[0xab; SECRET_BYTES]);
        assert_eq!(token.len(), 70);
        assert!(token.starts_with("depot_abab"));
        assert!(is_well_formed(&token));
        for bad in ["", "depot_", "depot_AB", &token[1..], &token.to_uppercase()] {
            assert!(!is_well_formed(bad), "{bad}");
        }
        assert_eq!(hash(&token).len(), 64);
        assert_ne!(hash(&token), hash(&format(&[0; SECRET_BYTES])));
    }

    #[test]
    fn a_token_writes_to_its_namespaces_only_and_the_operator_everywhere() {
        let some = ["a".to_string(), "b".to_string()];
        let every = ["*".to_string()];
        assert!(check(&grant(&some), Access::Write("b"), 0).is_ok());
        assert!(check(&grant(&some), Access::Read, 0).is_ok());
        let Err(Denied::Forbidden(message)) = check(&grant(&some), Access::Write("c"), 0) else {
            panic!("namespace c was granted");
        };
        assert!(message.contains("namespaces a, b; not `c`"), "{message}");
        assert!(check(&grant(&every), Access::Write("c"), 0).is_ok());
        assert!(matches!(
            check(&grant(&every), Access::Operator, 0),
            Err(Denied::Forbidden(_))
        ));
        let operator = Grant {
            operator: true,
            ..grant(&[])
        };
        assert!(check(&operator, Access::Operator, 0).is_ok());
        assert!(check(&operator, Access::Write("c"), 0).is_ok());
    }

    #[test]
    fn expired_and_revoked_tokens_are_unauthorized() {
        let some = ["a".to_string()];
        let expiring = Grant {
            expires: Some(1000),
            ..grant(&some)
        };
        assert!(check(&expiring, Access::Write("a"), 999).is_ok());
        let Err(Denied::Unauthorized(message)) = check(&expiring, Access::Write("a"), 1000) else {
            panic!("expired token accepted");
        };
        assert!(message.starts_with("token expired on 1970-01-01T00:00:01.000Z"));
        let revoked = Grant {
            revoked: Some(5),
            operator: true,
            ..grant(&some)
        };
        assert!(matches!(
            check(&revoked, Access::Read, 0),
            Err(Denied::Unauthorized(m)) if m.starts_with("token revoked")
        ));
    }

    #[test]
    fn a_new_grant_needs_a_namespace_and_an_expiry_to_come() {
        let some = ["example".to_string()];
        assert!(check_new_grant(&some, false, None, 10).is_ok());
        assert!(check_new_grant(&some, false, Some(11), 10).is_ok());
        assert!(check_new_grant(&[], true, None, 10).is_ok());
        let none = check_new_grant(&[], false, None, 10).unwrap_err();
        assert!(none.contains("at least one namespace"), "{none}");
        let bad = check_new_grant(&["Ex".to_string()], false, None, 10).unwrap_err();
        assert!(bad.contains("`Ex` is not a namespace"), "{bad}");
        let past = check_new_grant(&some, false, Some(10), 10).unwrap_err();
        assert!(past.contains("already past"), "{past}");
    }

    #[test]
    fn a_credential_must_be_shaped_like_a_token() {
        let token = format(&[1; SECRET_BYTES]);
        assert_eq!(check_credential(Some(&token)), Ok(token.as_str()));
        assert_eq!(check_credential(None), Err(missing()));
        assert_eq!(check_credential(Some("hunter2")), Err(malformed()));
    }

    #[test]
    fn only_an_unrevoked_unexpired_operator_token_is_live() {
        let every = ["*".to_string()];
        let operator = Grant {
            operator: true,
            ..grant(&every)
        };
        assert!(is_live_operator(&operator, 5));
        assert!(!is_live_operator(&grant(&every), 5));
        let revoked = Grant {
            revoked: Some(1),
            ..operator
        };
        assert!(!is_live_operator(&revoked, 5));
        let expired = Grant {
            expires: Some(5),
            ..operator
        };
        assert!(!is_live_operator(&expired, 5));
        assert!(is_live_operator(&expired, 4));
    }

    #[test]
    fn namespaces_to_grant_are_kebab_case_or_every_one() {
        assert!(check_namespace("example").is_ok());
        assert!(check_namespace("my-org2").is_ok());
        assert!(check_namespace("*").is_ok());
        for bad in ["", "Example", "a:b", "a*", "-a"] {
            assert!(check_namespace(bad).is_err(), "{bad}");
        }
        assert_eq!(namespace_of("example:greet"), "example");
        assert_eq!(namespace_of("odd"), "odd");
    }
}
