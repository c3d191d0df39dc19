//! The client's side of the transparency log: it remembers, per registry,
//! the checkpoint key it trusted on first use and the newest checkpoint it
//! has seen, and it refuses a registry whose log went back (rollback), split
//! from what it saw (fork), or does not hold a release it serves.
//!
//! What it trusts lives in the user's config folder (`$DEPOT_CONFIG_DIR`, else
//! `$XDG_CONFIG_HOME/depot`, else `~/.config/depot`), one JSON file per
//! registry URL under `registries/`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use depot_protocol::parse_rfc3339;
use depot_protocol::tlog::{
    Checkpoint, Frontier, Hash, LeafAction, LeafEntry, LeafSignature, NoteVerifier,
    verify_consistency, verify_inclusion,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::api::{FeedEntry, Registry, Release, Signature};

/// What the client trusts about one registry.
#[derive(Debug, Serialize, Deserialize)]
struct Trusted {
    registry: String,
    /// The verifier key string, trusted on first use.
    key: String,
    /// The newest checkpoint seen, as the signed note.
    checkpoint: Option<String>,
}

/// Where the trust for `registry` is kept.
fn trust_file(registry: &str) -> Result<PathBuf> {
    let dir = match std::env::var_os("DEPOT_CONFIG_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("XDG_CONFIG_HOME") {
            Some(dir) => PathBuf::from(dir).join("depot"),
            None => PathBuf::from(std::env::var_os("HOME").context(
                "cannot find a config folder to keep the registry's checkpoint in; set \
                 DEPOT_CONFIG_DIR",
            )?)
            .join(".config/depot"),
        },
    };
    let id = hex::encode(&Sha256::digest(registry.as_bytes())[..8]);
    Ok(dir.join("registries").join(format!("{id}.json")))
}

/// A registry's log as this client has verified it.
#[derive(Debug)]
pub struct VerifiedLog {
    pub checkpoint: Checkpoint,
    /// The signed note of `checkpoint`.
    pub note: String,
    /// The verifier key string of the key trusted for the registry.
    pub key: String,
    /// Whether the key was trusted just now, on first use.
    pub first_use: bool,
}

/// Reads the registry's newest checkpoint and checks it against what this
/// client trusted before: signed by the same key, and a log that extends
/// the one it saw last (a consistency proof). Remembers it once checked.
pub async fn check_checkpoint(registry: &Registry) -> Result<VerifiedLog> {
    let file = trust_file(registry.base())?;
    let trusted: Option<Trusted> = match std::fs::read(&file) {
        Ok(bytes) => Some(
            serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a Depot trust file", file.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    };
    let first_use = trusted.is_none();
    let key = match &trusted {
        Some(trusted) => trusted.key.clone(),
        None => registry.log_key().await?,
    };
    let verifier: NoteVerifier = key
        .parse()
        .map_err(|e| anyhow!("the registry's log key `{key}` is malformed: {e}"))?;
    let note = registry.log_checkpoint().await?;
    let checkpoint = Checkpoint::open(&note, &verifier).map_err(|e| {
        anyhow!(
            "the registry's checkpoint is not signed by the key trusted for {} ({key}): {e}; \
             refusing it. If the registry's operator changed keys on purpose, remove {} to \
             trust the new one",
            registry.base(),
            file.display()
        )
    })?;
    if let Some(old) = trusted.as_ref().and_then(|t| t.checkpoint.as_deref()) {
        let old = Checkpoint::open(old, &verifier)
            .map_err(|e| anyhow!("the checkpoint kept in {} is damaged: {e}", file.display()))?;
        check_extends(registry, &old, &checkpoint, "this client saw before").await?;
    }
    let updated = Trusted {
        registry: registry.base().to_string(),
        key: key.clone(),
        checkpoint: Some(note.clone()),
    };
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&file, serde_json::to_vec_pretty(&updated)?)
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok(VerifiedLog {
        checkpoint,
        note,
        key,
        first_use,
    })
}

/// Opens the checkpoint a lockfile was locked at (the signed note `note`,
/// from `lockfile`) with the key trusted for the registry, and refuses the
/// registry unless its log (`log`, checked already) extends that one.
pub async fn check_locked(
    registry: &Registry,
    log: &VerifiedLog,
    note: &str,
    lockfile: &str,
) -> Result<Checkpoint> {
    let verifier: NoteVerifier = log
        .key
        .parse()
        .map_err(|e| anyhow!("the registry's log key `{}` is malformed: {e}", log.key))?;
    let locked = Checkpoint::open(note, &verifier).map_err(|e| {
        anyhow!(
            "the checkpoint {lockfile} was locked at is not signed by the log key trusted for \
             {} ({}): {e}; it was locked against another registry (pass its URL with \
             --registry), or this one changed keys",
            registry.base(),
            log.key
        )
    })?;
    let seen = format!("{lockfile} was locked at");
    check_extends(registry, &locked, &log.checkpoint, &seen).await?;
    Ok(locked)
}

/// Refuses `new` unless its log extends `old`'s (the log `seen` says who saw).
async fn check_extends(
    registry: &Registry,
    old: &Checkpoint,
    new: &Checkpoint,
    seen: &str,
) -> Result<()> {
    if new.size < old.size {
        bail!(
            "rollback: the registry at {} serves a log of {} entries, older than the log of {} \
             entries {seen}; refusing it (it may be serving stale or tampered data)",
            registry.base(),
            new.size,
            old.size
        );
    }
    let fork = || {
        anyhow!(
            "fork: the registry at {}'s log of {} entries does not extend the log of {} entries \
             {seen} (entries were changed or removed); refusing it",
            registry.base(),
            new.size,
            old.size
        )
    };
    if new.size == old.size {
        return if new.root == old.root {
            Ok(())
        } else {
            Err(fork())
        };
    }
    let proof = hashes(&registry.log_consistency(old.size, new.size).await?.proof)?;
    verify_consistency(old.size, new.size, &old.root, &new.root, &proof).map_err(|_| fork())
}

fn hashes(proof: &[String]) -> Result<Vec<Hash>> {
    proof
        .iter()
        .map(|h| Hash::from_base64(h).map_err(|e| anyhow!("the registry sent a bad proof: {e}")))
        .collect()
}

/// Checks that `release`, whose content this client hashed to `digest`, is
/// the entry the registry's signed log holds at its sequence number, in the
/// tree `checkpoint` (verified already) names.
pub async fn check_release(
    registry: &Registry,
    checkpoint: &Checkpoint,
    release: &Release,
    digest: &str,
) -> Result<()> {
    let size = checkpoint.size;
    let time = parse_rfc3339(&release.published_at).ok_or_else(|| {
        anyhow!(
            "the registry gave {}@{} a malformed publish time `{}`",
            release.name,
            release.version,
            release.published_at
        )
    })?;
    let leaf = LeafEntry {
        seq: release.seq,
        time,
        name: &release.name,
        version: &release.version,
        action: LeafAction::Release {
            digest,
            size: release.size,
            oci_manifest: release.oci_manifest.as_deref(),
            signature: release.signature.as_ref().map(leaf_signature),
        },
    };
    let missing = || {
        anyhow!(
            "{}@{} ({digest}) is not in the registry's signed log as entry {} of {size}: the \
             registry serves a release its log does not hold; refusing it",
            release.name,
            release.version,
            release.seq
        )
    };
    if release.seq == 0 || release.seq > size {
        return Err(missing());
    }
    let proof = hashes(&registry.log_inclusion(release.seq, size).await?.proof)?;
    verify_inclusion(
        &leaf.leaf_hash(),
        release.seq - 1,
        size,
        &proof,
        &checkpoint.root,
    )
    .map_err(|_| missing())
}

/// A signature as a leaf records it.
fn leaf_signature(signature: &Signature) -> LeafSignature<'_> {
    LeafSignature {
        key: &signature.public_key,
        release_digest: &signature.release_digest,
        signature: &signature.release_signature,
    }
}

/// The leaf of a feed entry; a description of what is wrong with it when it
/// cannot be one.
fn feed_leaf(entry: &FeedEntry) -> Result<Vec<u8>> {
    let time = parse_rfc3339(&entry.time)
        .ok_or_else(|| anyhow!("entry {} has a malformed time `{}`", entry.seq, entry.time))?;
    let value;
    let action = match entry.kind.as_str() {
        "release" => {
            let release = entry
                .release
                .as_ref()
                .context("a release without content")?;
            let digest = entry
                .digest
                .as_deref()
                .context("a release without a digest")?;
            LeafAction::Release {
                digest,
                size: release.size,
                oci_manifest: release.oci.as_ref().map(|oci| oci.manifest.as_str()),
                signature: release.signature.as_ref().map(leaf_signature),
            }
        }
        "grant-key" | "revoke-key" => {
            let key = entry
                .key
                .as_deref()
                .context("a key entry without its key")?;
            if entry.kind == "grant-key" {
                LeafAction::GrantKey { key }
            } else {
                LeafAction::RevokeKey { key }
            }
        }
        "require-signatures" => LeafAction::RequireSignatures {
            required: entry
                .required
                .context("a require-signatures entry without `required`")?,
        },
        "yank" => LeafAction::Yank,
        "unyank" => LeafAction::Unyank,
        "annotate" => {
            let annotation = entry
                .annotation
                .as_ref()
                .context("an annotation without one")?;
            value = serde_json::to_string(&annotation.value)?;
            LeafAction::Annotate {
                annotation_type: &annotation.type_,
                value: &value,
                annotator: annotation.annotator.as_deref(),
            }
        }
        "takedown" => LeafAction::Takedown {
            reason: entry
                .reason
                .as_deref()
                .context("a takedown without a reason")?,
        },
        other => bail!("entry {} is of unknown kind `{other}`", entry.seq),
    };
    let leaf = LeafEntry {
        seq: entry.seq,
        time,
        name: &entry.package,
        version: &entry.version,
        action,
    };
    Ok(leaf.to_bytes())
}

/// What the log says a release is.
#[derive(Debug, Default)]
struct Expected {
    digest: String,
    size: u64,
    yanked: bool,
    taken_down: bool,
    annotations: usize,
    seq: u64,
    /// The publisher's key, release digest and signature.
    signature: Option<(String, String, String)>,
}

/// What the log says a namespace's signing policy is.
#[derive(Debug, Default)]
struct ExpectedTrust {
    require_signatures: bool,
    /// Granted keys, as (scope, key).
    grants: std::collections::BTreeSet<(String, String)>,
}

fn signature_parts(signature: &Signature) -> (String, String, String) {
    (
        signature.public_key.clone(),
        signature.release_digest.clone(),
        signature.release_signature.clone(),
    )
}

/// Audits the registry: every log entry against the signed checkpoint, and
/// every package listing and release against what the log says. Returns the
/// problems found (none when the registry is sound) and the entries read.
pub async fn audit(registry: &Registry) -> Result<(Vec<String>, u64)> {
    let log = check_checkpoint(registry).await?;
    let size = log.checkpoint.size;
    let mut problems = Vec::new();
    let mut frontier = Frontier::new();
    let mut leaves: Vec<(u64, Hash)> = Vec::new();
    let mut releases: BTreeMap<(String, String), Expected> = BTreeMap::new();
    let mut trust: BTreeMap<String, ExpectedTrust> = BTreeMap::new();
    let mut since = 0;
    while since < size {
        let page = registry.feed(since, 1000, 0).await?;
        let Some(last) = page.entries.last() else {
            break;
        };
        since = last.seq;
        for entry in page.entries.iter().filter(|e| e.seq <= size) {
            if entry.seq != frontier.size() + 1 {
                bail!(
                    "the feed skipped from entry {} to {}; the log must have no gaps",
                    frontier.size(),
                    entry.seq
                );
            }
            let bytes = feed_leaf(entry).unwrap_or_else(|e| {
                problems.push(format!("log entry {}: {e}", entry.seq));
                Vec::new()
            });
            let hash = depot_protocol::tlog::leaf_hash(&bytes);
            frontier.push(hash)?;
            leaves.push((entry.seq, hash));
            // Key entries name a namespace or a package, not a release.
            let namespace = depot_protocol::token::namespace_of(&entry.package).to_string();
            let key = entry.key.clone().unwrap_or_default();
            match entry.kind.as_str() {
                "grant-key" => {
                    let policy = trust.entry(namespace).or_default();
                    policy.grants.insert((entry.package.clone(), key));
                    continue;
                }
                "revoke-key" => {
                    let policy = trust.entry(namespace).or_default();
                    policy.grants.remove(&(entry.package.clone(), key));
                    continue;
                }
                "require-signatures" => {
                    trust.entry(namespace).or_default().require_signatures =
                        entry.required.unwrap_or_default();
                    continue;
                }
                _ => {}
            }
            let key = (entry.package.clone(), entry.version.clone());
            let expected = releases.entry(key).or_default();
            match entry.kind.as_str() {
                "release" => {
                    expected.digest = entry.digest.clone().unwrap_or_default();
                    expected.size = entry.release.as_ref().map_or(0, |r| r.size);
                    expected.seq = entry.seq;
                    expected.signature = entry
                        .release
                        .as_ref()
                        .and_then(|r| r.signature.as_ref())
                        .map(signature_parts);
                }
                "yank" => expected.yanked = true,
                "unyank" => expected.yanked = false,
                "annotate" => expected.annotations += 1,
                "takedown" => expected.taken_down = true,
                _ => {}
            }
        }
    }
    if frontier.size() != size {
        bail!(
            "the feed has {} entries, but the signed checkpoint covers {size}",
            frontier.size()
        );
    }
    if frontier.root() != log.checkpoint.root {
        // Find the entries whose leaves the signed tree does not hold.
        for (seq, hash) in &leaves {
            let proof = hashes(&registry.log_inclusion(*seq, size).await?.proof)?;
            if verify_inclusion(hash, seq - 1, size, &proof, &log.checkpoint.root).is_err() {
                problems.push(format!(
                    "log entry {seq} does not match the signed log: it was changed after it \
                     was logged"
                ));
            }
        }
        if problems.is_empty() {
            problems.push("the log's entries do not hash to the signed checkpoint".into());
        }
    }
    audit_indexes(registry, &releases, &mut problems).await?;
    for (namespace, expected) in &trust {
        let served = registry.namespace(namespace).await?;
        let grants: std::collections::BTreeSet<(String, String)> = served
            .keys
            .iter()
            .map(|grant| (grant.scope.clone(), grant.public_key.clone()))
            .collect();
        if served.require_signatures != expected.require_signatures || grants != expected.grants {
            problems.push(format!(
                "index: namespace {namespace} is served with signatures {} and {} granted \
                 key(s), but its log entries say signatures {} and {} key(s)",
                if served.require_signatures {
                    "required"
                } else {
                    "optional"
                },
                grants.len(),
                if expected.require_signatures {
                    "required"
                } else {
                    "optional"
                },
                expected.grants.len()
            ));
        }
    }
    Ok((problems, size))
}

/// Compares what the registry lists and serves with what its log says.
async fn audit_indexes(
    registry: &Registry,
    releases: &BTreeMap<(String, String), Expected>,
    problems: &mut Vec<String>,
) -> Result<()> {
    let listed = registry.packages().await?;
    let mut names: Vec<&str> = releases.keys().map(|(name, _)| name.as_str()).collect();
    names.dedup();
    for summary in &listed {
        if !names.contains(&summary.name.as_str()) {
            problems.push(format!(
                "index: package {} is listed, but no log entry released it",
                summary.name
            ));
        }
    }
    for name in names {
        let package = registry.package(name).await?;
        for ((_, version), expected) in releases.iter().filter(|((n, _), _)| n == name) {
            let Some(served) = package.versions.iter().find(|r| &r.version == version) else {
                problems.push(format!(
                    "index: {name}@{version} was released in log entry {} but is not served",
                    expected.seq
                ));
                continue;
            };
            let mut differs = Vec::new();
            if served.digest != expected.digest {
                differs.push(format!(
                    "digest {} (log: {})",
                    served.digest, expected.digest
                ));
            }
            if served.size != expected.size {
                differs.push(format!("size {} (log: {})", served.size, expected.size));
            }
            if served.seq != expected.seq {
                differs.push(format!("entry {} (log: {})", served.seq, expected.seq));
            }
            if served.yanked != expected.yanked {
                differs.push(format!(
                    "yanked {} (log: {})",
                    served.yanked, expected.yanked
                ));
            }
            if served.takedown.is_some() != expected.taken_down {
                differs.push(format!(
                    "taken down {} (log: {})",
                    served.takedown.is_some(),
                    expected.taken_down
                ));
            }
            if served.signature.as_ref().map(signature_parts) != expected.signature {
                differs.push("a signature other than the one logged".to_string());
            }
            if served.annotations.len() != expected.annotations {
                differs.push(format!(
                    "{} annotations (log: {})",
                    served.annotations.len(),
                    expected.annotations
                ));
            }
            if !differs.is_empty() {
                problems.push(format!(
                    "index: {name}@{version} is served with {}",
                    differs.join(", ")
                ));
            }
        }
        for served in &package.versions {
            if !releases.contains_key(&(name.to_string(), served.version.clone())) {
                problems.push(format!(
                    "index: {name}@{} is served, but no log entry released it",
                    served.version
                ));
            }
        }
    }
    Ok(())
}
