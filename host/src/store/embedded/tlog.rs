//! The transparency log over the registry log: a Merkle tree (RFC 6962) with
//! one leaf per log entry, grown in the same transaction as the entry, and a
//! checkpoint signed with the registry's key after every commit — no timer, so
//! a publish is provable as soon as it is acknowledged.
//!
//! The tables keep the hash of every complete subtree (`tlog_nodes`, about two
//! rows per entry) and the frontier of the current tree with its signed
//! checkpoint (`tlog_state`, one row). A proof reads a few dozen nodes; nothing
//! re-reads the leaves. Like the indexes, the tree is derived from the log: a
//! database from before it existed is caught up at start-up.

use std::path::Path;

use depot_protocol::tlog::{
    Checkpoint, Frontier, Hash, LeafAction, LeafEntry, LeafSignature, NodeId, NoteSigner,
    ProofPlan, TlogError,
};
use rusqlite::{Connection, OptionalExtension, params};

use super::sqlite::{During, read_log};
use crate::store::StoreError;
use crate::store::{Action, LogEntry};

pub const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS tlog_nodes (
        level INTEGER NOT NULL,
        idx   INTEGER NOT NULL,
        hash  BLOB NOT NULL,
        PRIMARY KEY (level, idx)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS tlog_state (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        size       INTEGER NOT NULL,
        frontier   BLOB NOT NULL,
        checkpoint TEXT NOT NULL
    );
";

const GROWING: &str = "adding to the transparency log";

/// The leaf of a logged entry.
pub fn leaf(logged: &LogEntry) -> LeafEntry<'_> {
    let action = match &logged.entry.action {
        Action::Release(content) => LeafAction::Release {
            digest: &content.digest,
            size: content.size,
            oci_manifest: content.oci.as_ref().map(|oci| oci.manifest.as_str()),
            signature: content.signature.as_ref().map(|signed| LeafSignature {
                key: &signed.key,
                release_digest: &signed.release_digest,
                signature: &signed.signature,
            }),
        },
        Action::Yank => LeafAction::Yank,
        Action::Unyank => LeafAction::Unyank,
        Action::Annotate(annotation) => LeafAction::Annotate {
            annotation_type: &annotation.type_,
            value: &annotation.value,
        },
        Action::Takedown(reason) => LeafAction::Takedown { reason },
        Action::GrantKey(key) => LeafAction::GrantKey { key },
        Action::RevokeKey(key) => LeafAction::RevokeKey { key },
        Action::RequireSignatures(required) => LeafAction::RequireSignatures {
            required: *required,
        },
    };
    LeafEntry {
        seq: logged.seq,
        time: logged.time,
        name: &logged.entry.name,
        version: &logged.entry.version,
        action,
    }
}

/// The current tree's frontier, empty before the first entry.
fn frontier(conn: &Connection) -> Result<Frontier, StoreError> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT frontier FROM tlog_state WHERE id = 1")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)).optional())
        .during(GROWING)?;
    match bytes {
        None => Ok(Frontier::new()),
        Some(bytes) => Frontier::from_bytes(&bytes).map_err(|e| StoreError::storage(GROWING, e)),
    }
}

/// Adds `entries` (the next ones, in order) to the tree and signs the new
/// checkpoint, inside the caller's transaction.
pub fn grow(
    conn: &Connection,
    entries: &[LogEntry],
    signer: &NoteSigner,
) -> Result<(), StoreError> {
    let mut frontier = frontier(conn)?;
    let mut insert = conn
        .prepare_cached("INSERT INTO tlog_nodes (level, idx, hash) VALUES (?1, ?2, ?3)")
        .during(GROWING)?;
    for logged in entries {
        let nodes = frontier
            .append_entry(&leaf(logged))
            .map_err(|e| StoreError::storage(GROWING, e))?;
        for (id, hash) in nodes {
            insert
                .execute(params![id.level, id.index, hash.as_bytes().as_slice()])
                .during(GROWING)?;
        }
    }
    sign(conn, &frontier, signer)
}

/// Signs a checkpoint of `frontier` and keeps it as the current state.
fn sign(conn: &Connection, frontier: &Frontier, signer: &NoteSigner) -> Result<(), StoreError> {
    let note = Checkpoint::new(signer.name(), frontier.size(), frontier.root())
        .sign(signer)
        .map_err(|e| StoreError::storage("signing a checkpoint", e))?;
    conn.prepare_cached(
        "INSERT INTO tlog_state (id, size, frontier, checkpoint) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET size = excluded.size, frontier = excluded.frontier,
             checkpoint = excluded.checkpoint",
    )
    .and_then(|mut stmt| stmt.execute(params![frontier.size(), frontier.to_bytes(), note]))
    .during(GROWING)?;
    Ok(())
}

/// Brings the tree up to the log (a database from before the tree existed,
/// or a new key), in batches inside the caller's transaction.
pub fn catch_up(conn: &Connection, signer: &NoteSigner) -> Result<(), StoreError> {
    let mut size = frontier(conn)?.size();
    let signed_by_us =
        checkpoint(conn)?.is_some_and(|note| Checkpoint::open(&note, &signer.verifier()).is_ok());
    let mut grew = false;
    loop {
        let entries = read_log(conn, size, 1000)?;
        let Some(last) = entries.last() else { break };
        size = last.seq;
        grow(conn, &entries, signer)?;
        grew = true;
    }
    if !grew && !signed_by_us {
        sign(conn, &frontier(conn)?, signer)?;
    }
    Ok(())
}

/// The current signed checkpoint; none before the first start.
pub fn checkpoint(conn: &Connection) -> Result<Option<String>, StoreError> {
    conn.prepare_cached("SELECT checkpoint FROM tlog_state WHERE id = 1")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)).optional())
        .during("reading the checkpoint")
}

/// The tree's size now.
fn size(conn: &Connection) -> Result<u64, StoreError> {
    let size: Option<u64> = conn
        .prepare_cached("SELECT size FROM tlog_state WHERE id = 1")
        .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)).optional())
        .during("reading the tree size")?;
    Ok(size.unwrap_or(0))
}

/// The hashes of a proof, read from the stored nodes.
fn resolve(conn: &Connection, plan: Result<ProofPlan, String>) -> Result<Vec<Hash>, StoreError> {
    const PROVING: &str = "reading a proof";
    let plan = plan.map_err(StoreError::BadRequest)?;
    let mut select = conn
        .prepare_cached("SELECT hash FROM tlog_nodes WHERE level = ?1 AND idx = ?2")
        .during(PROVING)?;
    let hashes = plan
        .nodes()
        .iter()
        .map(|id: &NodeId| {
            let bytes: Vec<u8> = select
                .query_row(params![id.level, id.index], |row| row.get(0))
                .during(PROVING)?;
            Hash::try_from(bytes.as_slice()).map_err(|e| StoreError::storage(PROVING, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    plan.assemble(&hashes)
        .map_err(|e| StoreError::storage(PROVING, e))
}

/// That entry `seq` is in the tree of `tree_size` leaves.
pub fn inclusion(conn: &Connection, seq: u64, tree_size: u64) -> Result<Vec<Hash>, StoreError> {
    resolve(
        conn,
        ProofPlan::entry_inclusion(seq, tree_size, size(conn)?),
    )
}

/// That the tree of `new_size` leaves extends the one of `old_size`.
pub fn consistency(
    conn: &Connection,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, StoreError> {
    resolve(
        conn,
        ProofPlan::consistency_within(old_size, new_size, size(conn)?),
    )
}

/// The registry's checkpoint key in `data`, made on first use: a C2SP signer
/// key string, readable only by its owner.
pub fn load_or_create_key(data: &Path) -> Result<NoteSigner, StoreError> {
    const KEY: &str = "reading the checkpoint key";
    let path = data.join("log.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|e: TlogError| StoreError::storage(KEY, format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).map_err(|e| StoreError::storage(KEY, e.to_string()))?;
            let mut id = [0u8; 4];
            getrandom::fill(&mut id).map_err(|e| StoreError::storage(KEY, e.to_string()))?;
            let name = format!("depot/{}", hex::encode(id));
            let signer =
                NoteSigner::from_seed(&name, seed).map_err(|e| StoreError::storage(KEY, e))?;
            write_private(&path, &signer.to_key_string())
                .map_err(|e| StoreError::storage("writing the checkpoint key", e))?;
            Ok(signer)
        }
        Err(e) => Err(StoreError::storage(KEY, e)),
    }
}

/// Writes `text` to a new file only its owner may read, durably.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(format!("{text}\n").as_bytes())?;
    file.sync_all()
}
