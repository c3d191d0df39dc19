//! Tokens in the registry's SQLite database, in a `tokens` table beside the
//! log (tokens are this registry's own; a mirror has its own): the SHA-256
//! of each token, never the token. Its own connection, as token writes are
//! rare and lookups are single-row.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::sqlite::{During, connect, lock};
use crate::store::StoreError;
use crate::store::TokenInfo;

/// `namespaces` is a JSON list; times are milliseconds since the Unix epoch.
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS tokens (
        id         TEXT PRIMARY KEY,
        hash       TEXT NOT NULL UNIQUE,
        label      TEXT,
        namespaces TEXT NOT NULL,
        operator   INTEGER NOT NULL,
        created    INTEGER NOT NULL,
        expires    INTEGER,
        revoked    INTEGER
    );
";

const COLUMNS: &str = "id, label, namespaces, operator, created, expires, revoked";

/// The tokens of one registry database.
#[derive(Debug)]
pub struct Tokens {
    conn: Mutex<Connection>,
}

impl Tokens {
    /// Opens the tokens of the database at `path`, creating the table if needed.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = connect(path)?;
        conn.execute_batch(SCHEMA)
            .during("opening the token table")?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        lock(&self.conn)
    }

    /// See [`crate::store::Backend::insert_token`].
    pub fn insert(&self, token: &TokenInfo, hash: &str) -> Result<(), StoreError> {
        const SAVING: &str = "saving a token";
        let namespaces = serde_json::to_string(&token.namespaces).during(SAVING)?;
        self.conn()
            .execute(
                "INSERT INTO tokens (id, hash, label, namespaces, operator, created, expires, \
                 revoked) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    token.id,
                    hash,
                    token.label,
                    namespaces,
                    token.operator,
                    token.created,
                    token.expires,
                    token.revoked
                ],
            )
            .during(SAVING)?;
        Ok(())
    }

    /// See [`crate::store::Backend::token_by_hash`].
    pub fn by_hash(&self, hash: &str) -> Result<Option<TokenInfo>, StoreError> {
        self.conn()
            .prepare_cached(&format!("SELECT {COLUMNS} FROM tokens WHERE hash = ?1"))
            .and_then(|mut stmt| stmt.query_row([hash], token_from_row).optional())
            .during("looking a token up")
    }

    /// See [`crate::store::Backend::list_tokens`].
    pub fn list(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.conn()
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM tokens ORDER BY created, id"
            ))
            .and_then(|mut stmt| {
                stmt.query_map([], token_from_row)?
                    .collect::<rusqlite::Result<_>>()
            })
            .during("listing tokens")
    }

    /// See [`crate::store::Backend::revoke_token`].
    pub fn revoke(&self, id: &str, time: u64) -> Result<Option<TokenInfo>, StoreError> {
        const REVOKING: &str = "revoking a token";
        let conn = self.conn();
        conn.execute(
            "UPDATE tokens SET revoked = ?2 WHERE id = ?1 AND revoked IS NULL",
            params![id, time],
        )
        .during(REVOKING)?;
        conn.query_row(
            &format!("SELECT {COLUMNS} FROM tokens WHERE id = ?1"),
            [id],
            token_from_row,
        )
        .optional()
        .during(REVOKING)
    }
}

fn token_from_row(row: &Row) -> rusqlite::Result<TokenInfo> {
    let namespaces: String = row.get(2)?;
    let namespaces = serde_json::from_str(&namespaces).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(TokenInfo {
        id: row.get(0)?,
        label: row.get(1)?,
        namespaces,
        operator: row.get(3)?,
        created: row.get(4)?,
        expires: row.get(5)?,
        revoked: row.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(id: &str, created: u64) -> TokenInfo {
        TokenInfo {
            id: id.to_string(),
            label: Some("ci".to_string()),
            namespaces: vec!["a".to_string(), "b".to_string()],
            operator: false,
            created,
            expires: Some(created + 1000),
            revoked: None,
        }
    }

    #[test]
    fn tokens_are_found_by_hash_listed_and_revoked_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.db");
        {
            let tokens = Tokens::open(&path).unwrap();
            tokens.insert(&token("t2", 20), "hash2").unwrap();
            tokens.insert(&token("t1", 10), "hash1").unwrap();
            assert!(tokens.insert(&token("t3", 30), "hash1").is_err());
        }
        let tokens = Tokens::open(&path).unwrap();
        assert_eq!(tokens.by_hash("hash2").unwrap(), Some(token("t2", 20)));
        assert_eq!(tokens.by_hash("nope").unwrap(), None);
        let ids: Vec<String> = tokens.list().unwrap().into_iter().map(|t| t.id).collect();
        assert_eq!(ids, ["t1", "t2"]);
        let revoked = tokens.revoke("t1", 50).unwrap().unwrap();
        assert_eq!(revoked.revoked, Some(50));
        // A second revocation keeps the first time.
        assert_eq!(tokens.revoke("t1", 60).unwrap().unwrap().revoked, Some(50));
        assert_eq!(tokens.revoke("t9", 60).unwrap(), None);
    }
}
