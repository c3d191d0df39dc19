//! `depot token create|list|revoke`: the operator's management of who may
//! publish, over `/v1/tokens` with the operator's token.

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;

use super::api::{CreateTokenRequest, Registry, Token};

/// What to do with tokens.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token that may publish to the namespaces given; its secret is
    /// printed once.
    Create {
        /// A namespace it may publish to (repeat for several; `*` for every one).
        #[arg(long = "namespace", value_name = "NS", required = true)]
        namespaces: Vec<String>,
        /// How long it works: e.g. 30d, 12h, 90m, 45s. Default: until revoked.
        #[arg(long, value_name = "DURATION", value_parser = parse_lifetime)]
        expires: Option<u64>,
        /// What it is for, shown by `depot token list`.
        #[arg(long)]
        label: Option<String>,
        /// Print the registry's JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the tokens (never their secrets).
    List {
        /// Print the registry's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token: it stops working at once.
    Revoke {
        /// The token's id, as `depot token list` shows it.
        id: String,
    },
    /// Make a new operator's token here, without asking a registry, for a
    /// registry's configuration to name (the `operator_token` variable of the
    /// Spin build): prints the token, and its SHA-256 to standard error (a
    /// configuration may give that instead of the secret).
    Generate {
        /// Print `{"token": …, "sha256": …}` instead.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a token command against `registry` (which carries the operator's token).
pub async fn run(registry: &Registry, command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Create {
            namespaces,
            expires,
            label,
            json,
        } => {
            let body = CreateTokenRequest {
                namespaces,
                label,
                expires_in: expires,
                expires_at: None,
            };
            let made = registry.create_token(&body).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&made)?);
            } else {
                let secret = made.token.as_deref().ok_or_else(|| {
                    anyhow!(
                        "the registry made token {} but did not send its secret",
                        made.id
                    )
                })?;
                outln!("{secret}");
                eprintln!(
                    "token {} may publish to {}{}; it is shown only now, store it",
                    made.id,
                    made.namespaces.join(", "),
                    made.expires_at
                        .map(|at| format!(" until {at}"))
                        .unwrap_or_default()
                );
            }
        }
        TokenCommand::List { json } => {
            let tokens = registry.tokens().await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&tokens)?);
            } else {
                for token in &tokens {
                    outln!("{}", describe(token));
                }
            }
        }
        TokenCommand::Revoke { id } => {
            let token = registry.revoke_token(&id).await?;
            outln!("{}", describe(&token));
        }
        TokenCommand::Generate { json } => {
            let secret: [u8; depot_protocol::token::SECRET_BYTES] =
                depot_store::host::embedded::random_bytes(depot_protocol::token::SECRET_BYTES)
                    .try_into()
                    .map_err(|_| anyhow!("the system gave too few random bytes"))?;
            let secret = depot_protocol::token::format(&secret);
            let sha256 = depot_protocol::token::hash(&secret);
            if json {
                outln!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "token": secret, "sha256": sha256 })
                    )?
                );
            } else {
                outln!("{secret}");
                eprintln!(
                    "a new operator's token; it is not stored anywhere: give it (or its SHA-256, \
                     {sha256}) to the registry's configuration, and keep it"
                );
            }
        }
    }
    Ok(())
}

/// One line per token: id, what it may do, label, state.
fn describe(token: &Token) -> String {
    let grants = if token.operator {
        "operator".to_string()
    } else {
        token.namespaces.join(",")
    };
    let state = match (&token.revoked_at, &token.expires_at) {
        (Some(at), _) => format!("revoked {at}"),
        (None, Some(at)) => format!("expires {at}"),
        (None, None) => "no expiry".to_string(),
    };
    let label = token.label.as_deref().unwrap_or("-");
    format!(
        "{}  {grants}  {label}  created {}  {state}",
        token.id, token.created_at
    )
}

/// Parses a token's lifetime, `30d`, `12h`, `90m` or `45s`, into seconds.
fn parse_lifetime(text: &str) -> Result<u64, String> {
    let invalid = || {
        format!(
            "invalid duration `{text}`: give a whole number with a unit d, h, m or s, such \
             as 30d, 12h or 90m"
        )
    };
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let number: u64 = text[..split].parse().map_err(|_| invalid())?;
    let scale = match &text[split..] {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => return Err(invalid()),
    };
    match number.checked_mul(scale) {
        Some(0) | None => Err(invalid()),
        Some(seconds) => Ok(seconds),
    }
}

/// Refuses a write without a token early, with the message that says how to
/// pass one (the registry would refuse it too, after the round trip).
pub fn require(token: Option<&str>, what: &str) -> Result<()> {
    if token.is_none() {
        bail!(
            "{what} needs a token: pass --token or set DEPOT_TOKEN (the operator makes one with \
             `depot token create`)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_take_days_hours_minutes_and_seconds() {
        assert_eq!(parse_lifetime("30d"), Ok(30 * 86_400));
        assert_eq!(parse_lifetime("12h"), Ok(12 * 3_600));
        assert_eq!(parse_lifetime("90m"), Ok(5_400));
        assert_eq!(parse_lifetime("1s"), Ok(1));
        for bad in ["", "d", "0d", "1w", "1.5h", "-1d"] {
            assert!(parse_lifetime(bad).is_err(), "{bad:?}");
        }
    }
}
