//! `depot backup` and `depot restore` for a registry on embedded storage.
//!
//! A backup is a folder: `registry.db`, a consistent snapshot of the
//! database taken with SQLite's online backup API in one step (so while the
//! registry serves, and at one point of its log); the checkpoint key
//! `log.key`; and under `blobs/` every blob file the snapshot's releases,
//! OCI manifests, linked blobs and unpublished releases name. Blobs never
//! change once written, so copying them after the snapshot copies what it
//! names (a blob the snapshot names is written before the entry that names
//! it). Blobs of at most 16 KiB are in the database itself.
//!
//! A restore copies a backup into a new data directory, which `depot serve
//! --data` then serves as the registry was at the snapshot.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};

/// Back up a registry on embedded storage while it serves.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The registry's data directory (what `depot serve --data` was given).
    #[arg(long, value_name = "DIR", default_value = "./depot-data")]
    pub data: PathBuf,

    /// Where the backup goes: a new or empty directory.
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
}

/// Make a registry's data directory from a backup.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup (what `depot backup --to` made).
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,

    /// The data directory to make: a new or empty directory.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
}

/// The files of a backup and of a data directory.
const DATABASE: &str = "registry.db";
const KEY: &str = "log.key";
const BLOBS: &str = "blobs";

/// Runs `depot backup`.
pub fn backup(args: &BackupArgs) -> anyhow::Result<()> {
    let source = args.data.join(DATABASE);
    if !source.is_file() {
        bail!(
            "{} holds no registry database ({DATABASE}); give the directory `depot serve \
             --data` uses. A registry on PostgreSQL + S3 is backed up with pg_dump and the \
             bucket's own tools (docs/operations.md)",
            args.data.display()
        );
    }
    empty_directory(&args.to)?;
    let target = args.to.join(DATABASE);
    snapshot(&source, &target)?;
    std::fs::copy(args.data.join(KEY), args.to.join(KEY)).with_context(|| {
        format!(
            "cannot copy the checkpoint key from {}",
            args.data.display()
        )
    })?;
    let named = named_blobs(&target)?;
    let (mut copied, mut bytes, mut in_database) = (0u64, 0u64, 0u64);
    for digest in &named {
        let Some(relative) = blob_path(digest) else {
            continue;
        };
        let from = args.data.join(&relative);
        if !from.exists() {
            // Small blobs live in the database (copied with it).
            in_database += 1;
            continue;
        }
        let to = args.to.join(&relative);
        std::fs::create_dir_all(to.parent().expect("a blob path has a folder"))?;
        bytes += std::fs::copy(&from, &to)
            .with_context(|| format!("cannot copy the blob {}", from.display()))?;
        copied += 1;
    }
    let head = log_head(&target)?;
    println!(
        "backed up {} at log entry {head}: the database, the checkpoint key and {copied} blob \
         files ({bytes} bytes; {in_database} more blobs are in the database) into {}",
        args.data.display(),
        args.to.display()
    );
    Ok(())
}

/// Runs `depot restore`.
pub fn restore(args: &RestoreArgs) -> anyhow::Result<()> {
    for file in [DATABASE, KEY] {
        if !args.from.join(file).is_file() {
            bail!(
                "{} is not a backup: it has no {file}; give a directory `depot backup --to` made",
                args.from.display()
            );
        }
    }
    empty_directory(&args.data)?;
    copy_tree(&args.from, &args.data)?;
    let head = log_head(&args.data.join(DATABASE))?;
    println!(
        "restored the registry at log entry {head} into {}; serve it with `depot serve --data {}`",
        args.data.display(),
        args.data.display()
    );
    Ok(())
}

/// Refuses `dir` unless it is new or empty; makes it.
fn empty_directory(dir: &Path) -> anyhow::Result<()> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty; give a new or empty directory, so that nothing in it is mixed with \
             or overwritten by the registry",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Copies the database `from` to `to` at one point in time, with SQLite's
/// online backup API in a single step, waiting while a writer holds it.
fn snapshot(from: &Path, to: &Path) -> anyhow::Result<()> {
    use rusqlite::backup::{Backup, StepResult};
    let source = rusqlite::Connection::open_with_flags(
        from,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("cannot open {}", from.display()))?;
    let mut target = rusqlite::Connection::open(to)
        .with_context(|| format!("cannot create {}", to.display()))?;
    {
        let backup = Backup::new(&source, &mut target)?;
        loop {
            match backup.step(-1).context("the database snapshot failed")? {
                StepResult::Done => break,
                StepResult::More | StepResult::Busy | StepResult::Locked => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
    // A backup is one file: no write-ahead log beside it.
    target
        .execute_batch("PRAGMA journal_mode = DELETE;")
        .context("cannot finish the database snapshot")?;
    Ok(())
}

/// Every blob the database snapshot at `db` names (what garbage collection
/// keeps: `depot_store::host::gc::live_blobs`).
fn named_blobs(db: &Path) -> anyhow::Result<BTreeSet<String>> {
    let sql = depot_store::rusqlite_driver::Sqlite::open(db, true)?;
    let db = depot_store::Db::new(Box::new(sql), depot_store::host::embedded::random_bytes);
    Ok(depot_store::host::gc::live_blobs(&db)?
        .into_iter()
        .collect())
}

/// Where the blob `digest` is under a data directory, if it is a digest.
fn blob_path(digest: &str) -> Option<PathBuf> {
    let (algorithm, hex) = digest.split_once(':')?;
    if !matches!(algorithm, "sha256" | "sha512")
        || hex.len() < 3
        || !hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    Some(Path::new(BLOBS).join(algorithm).join(&hex[..2]).join(hex))
}

/// The sequence number of the last log entry of the database `db`.
fn log_head(db: &Path) -> anyhow::Result<u64> {
    let conn = rusqlite::Connection::open(db)?;
    let head: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM log", [], |row| {
        row.get(0)
    })?;
    Ok(u64::try_from(head).unwrap_or(0))
}

/// Copies the directory `from`, and everything in it, into `to`.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("cannot copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_paths_follow_the_file_driver_and_refuse_anything_else() {
        assert_eq!(
            blob_path("sha256:abcdef"),
            Some(PathBuf::from("blobs/sha256/ab/abcdef"))
        );
        for bad in ["sha256:../x", "md5:abcd", "abcdef", "sha256:ab"] {
            assert_eq!(blob_path(bad), None, "{bad}");
        }
    }
}
