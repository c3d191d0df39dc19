//! The transparency log over the registry log: a Merkle tree (RFC 6962) with one leaf
//! per log entry, grown in the same transaction as the entry, and a checkpoint
//! signed after every commit.
//!
//! `tlog_nodes` keeps the hash of every complete subtree and `tlog_state` the
//! frontier of the current tree with its signed checkpoint. The signing key
//! lives in `tlog_key`: every instance (of every replica sharing the
//! database) must sign with one key. It is made from the driver's random on
//! first use and named `depot/<8 hex digits>`.

use std::collections::HashMap;

use depot_protocol::tlog::{
    Checkpoint, Frontier, Hash, LeafAction, LeafEntry, LeafSignature, NoteSigner, ProofPlan,
    TlogError,
};

use crate::db::{Db, params};
use crate::entries::{MAX_PAGE, read_log};
use crate::error::{During, StoreError};
use crate::sql;
use crate::types::{Action, LogEntry};

const GROWING: &str = "adding to the transparency log";
const KEY: &str = "reading the checkpoint key";

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
            annotator: annotation.annotator.as_deref(),
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

/// Sets up the transparency log and the tokens of a database that has none
/// (a new one, or one from before them), in one transaction: the tables, a
/// new key (or `key`) unless another instance set one first, the tree caught up to the
/// log and a checkpoint signed.
pub fn open(db: &Db, key: Option<&NoteSigner>) -> Result<(), StoreError> {
    const OPENING: &str = "opening the transparency log";
    db.transaction(OPENING, |tx| {
        for statement in sql::TLOG_SCHEMA {
            tx.create(statement, OPENING)?;
        }
        let key = match key {
            Some(key) => key.to_key_string(),
            None => new_key(tx)?,
        };
        tx.execute(sql::PUT_TLOG_KEY, params![key], OPENING)?;
        catch_up(tx)
    })
}

/// A new signer key string, `depot/<8 hex digits>`, from `db`'s random.
fn new_key(db: &Db) -> Result<String, StoreError> {
    let seed: [u8; 32] = db
        .random(32)
        .try_into()
        .map_err(|_| StoreError::storage(KEY, "too few random bytes"))?;
    let name = format!("depot/{}", hex::encode(db.random(4)));
    let signer = NoteSigner::from_seed(&name, seed).map_err(|e| StoreError::storage(KEY, e))?;
    Ok(signer.to_key_string())
}

/// The key that signs checkpoints, read from the database on first use.
pub fn signer(db: &Db) -> Result<&NoteSigner, StoreError> {
    if let Some(signer) = db.signer_cell().get() {
        return Ok(signer);
    }
    let signer = read_key(db)?;
    Ok(db.signer_cell().get_or_init(|| signer))
}

/// The key checkpoints are signed with (see [`signer`], which keeps it).
pub fn read_key(db: &Db) -> Result<NoteSigner, StoreError> {
    db.optional(sql::TLOG_KEY, &[], KEY)?
        .ok_or_else(|| StoreError::storage(KEY, "the database has no checkpoint key"))?
        .text(0)?
        .parse()
        .map_err(|e: TlogError| StoreError::storage(KEY, e))
}

/// The current tree's frontier, empty before the first entry.
fn frontier(db: &Db) -> Result<Frontier, StoreError> {
    match db.optional(sql::TLOG_FRONTIER, &[], GROWING)? {
        None => Ok(Frontier::new()),
        Some(row) => {
            Frontier::from_bytes(&row.bytes(0)?).map_err(|e| StoreError::storage(GROWING, e))
        }
    }
}

/// Adds `entries` (the next ones, in order) to the tree and signs the new
/// checkpoint, inside the caller's transaction.
pub fn grow(db: &Db, entries: &[LogEntry]) -> Result<(), StoreError> {
    let mut frontier = frontier(db)?;
    for logged in entries {
        let nodes = frontier
            .append_entry(&leaf(logged))
            .map_err(|e| StoreError::storage(GROWING, e))?;
        for (id, hash) in nodes {
            db.execute(
                sql::INSERT_TLOG_NODE,
                params![id.level, id.index, hash.as_bytes().as_slice()],
                GROWING,
            )?;
        }
    }
    sign(db, &frontier)
}

/// Signs a checkpoint of `frontier` and keeps it as the current state.
fn sign(db: &Db, frontier: &Frontier) -> Result<(), StoreError> {
    let signer = signer(db)?;
    let note = Checkpoint::new(signer.name(), frontier.size(), frontier.root())
        .sign(signer)
        .map_err(|e| StoreError::storage("signing a checkpoint", e))?;
    db.execute(
        sql::SET_TLOG_STATE,
        params![frontier.size(), frontier.to_bytes().as_slice(), note],
        GROWING,
    )
}

/// Brings the tree up to the log (a database from before the tree existed),
/// in pages, inside the caller's transaction; signs a checkpoint when there
/// is none by this key.
fn catch_up(db: &Db) -> Result<(), StoreError> {
    let mut size = frontier(db)?.size();
    let verifier = signer(db)?.verifier();
    let signed_by_us =
        checkpoint(db)?.is_some_and(|note| Checkpoint::open(&note, &verifier).is_ok());
    let mut grew = false;
    loop {
        let entries = read_log(db, size, MAX_PAGE)?;
        let Some(last) = entries.last() else { break };
        size = last.seq;
        grow(db, &entries)?;
        grew = true;
    }
    if !grew && !signed_by_us {
        sign(db, &frontier(db)?)?;
    }
    Ok(())
}

/// The current signed checkpoint; none before the log is set up.
pub fn checkpoint(db: &Db) -> Result<Option<String>, StoreError> {
    db.optional(sql::TLOG_CHECKPOINT, &[], "reading the checkpoint")?
        .map(|row| row.text(0))
        .transpose()
}

/// The tree's size now.
fn size(db: &Db) -> Result<u64, StoreError> {
    db.optional(sql::TLOG_SIZE, &[], "reading the tree size")?
        .map_or(Ok(0), |row| row.u64(0))
}

/// The hashes of a proof, read from the stored nodes in one statement.
fn resolve(db: &Db, plan: Result<ProofPlan, String>) -> Result<Vec<Hash>, StoreError> {
    const PROVING: &str = "reading a proof";
    let plan = plan.map_err(StoreError::BadRequest)?;
    let wanted: Vec<(u8, u64)> = plan.nodes().iter().map(|id| (id.level, id.index)).collect();
    let wanted_json = serde_json::to_string(&wanted).during(PROVING)?;
    let mut found = HashMap::with_capacity(wanted.len());
    for row in db.rows(db.pick(&sql::TLOG_NODES), params![wanted_json], PROVING)? {
        let level = u8::try_from(row.u64(0)?).map_err(|e| StoreError::storage(PROVING, e))?;
        let hash = Hash::try_from(row.bytes(2)?.as_slice())
            .map_err(|e| StoreError::storage(PROVING, e))?;
        found.insert((level, row.u64(1)?), hash);
    }
    let hashes = wanted
        .iter()
        .map(|node| {
            found.get(node).copied().ok_or_else(|| {
                StoreError::storage(PROVING, format!("node {node:?} of the tree is missing"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    plan.assemble(&hashes)
        .map_err(|e| StoreError::storage(PROVING, e))
}

/// See `store.log-inclusion`: that entry `seq` is in the tree of `tree_size`
/// leaves.
pub fn inclusion(db: &Db, seq: u64, tree_size: u64) -> Result<Vec<Hash>, StoreError> {
    resolve(db, ProofPlan::entry_inclusion(seq, tree_size, size(db)?))
}

/// See `store.log-consistency`: that the tree of `new_size` leaves extends
/// the one of `old_size`.
pub fn consistency(db: &Db, old_size: u64, new_size: u64) -> Result<Vec<Hash>, StoreError> {
    resolve(
        db,
        ProofPlan::consistency_within(old_size, new_size, size(db)?),
    )
}
