//! `depot gc`: garbage collection of a registry's storage, online (the
//! registry may serve meanwhile), on embedded storage or PostgreSQL + S3.
//! The store collects unpublished releases past their expiry, abandoned
//! uploads and blobs nothing names (`depot_store::host::gc`); this adds the
//! compile cache: compiled handlers no instance has loaded within the grace
//! period (`depot serve` touches the one it loads).

use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use depot_store::host::gc::{GcOptions, GcReport, Removed};
use serde::Serialize;

use crate::serve::{StorageArgs, open_native, parse_grace, show_size};

/// Remove what nothing uses: unpublished releases past their expiry,
/// uploads abandoned for the grace period, blobs no release, OCI manifest,
/// repository or unpublished release names (written before the grace
/// period), and compiled handlers no instance has loaded within it.
#[derive(Debug, clap::Args)]
pub struct GcArgs {
    #[command(flatten)]
    pub storage: StorageArgs,

    /// Anything written (or, for the compile cache, loaded) within this long
    /// is kept, whatever names it: an upload or publish in progress is never
    /// collected (e.g. 24h, 30m).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_grace)]
    pub grace: Duration,

    /// Say what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What `depot gc` removed: the store's report and the compile cache's.
#[derive(Debug, Serialize)]
struct Report {
    #[serde(flatten)]
    store: GcReport,
    compiled_handlers: Removed,
}

/// Runs `depot gc`.
pub fn run(args: &GcArgs) -> anyhow::Result<()> {
    if args.storage.database.is_none() && !args.storage.data.join("registry.db").is_file() {
        anyhow::bail!(
            "{} holds no registry database (registry.db); give the directory `depot serve \
             --data` uses, or --database and --blobs for a registry on PostgreSQL + S3",
            args.storage.data.display()
        );
    }
    let backend = open_native(&args.storage)?;
    let store = backend
        .gc(GcOptions {
            grace: args.grace,
            dry_run: args.dry_run,
        })
        .map_err(|e| {
            anyhow::anyhow!(
                "garbage collection failed: {}",
                crate::serve::startup_error(&e)
            )
        })?;
    let cache = args.storage.compile_cache();
    let compiled_handlers = collect_compile_cache(&cache, args.grace, args.dry_run)?;
    let report = Report {
        store,
        compiled_handlers,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", describe(&report));
    }
    Ok(())
}

/// The report for a person.
fn describe(report: &Report) -> String {
    let verb = if report.store.dry_run {
        "would remove"
    } else {
        "removed"
    };
    let line = |what: &str, removed: &Removed| {
        format!(
            "{verb} {} {what} ({})\n",
            removed.count,
            show_size(removed.bytes)
        )
    };
    let store = &report.store;
    let mut text = String::new();
    text += &line("expired unpublished releases", &store.expired_releases);
    text += &line("abandoned uploads", &store.abandoned_uploads);
    text += &line(
        &format!("unreferenced blobs of {} stored", store.blobs_seen),
        &store.blobs,
    );
    if store.spared > 0 {
        text += &format!(
            "kept {} blobs named or written again while the collection ran\n",
            store.spared
        );
    }
    text += &line("compiled handlers", &report.compiled_handlers);
    text
}

/// Removes the compile cache's files not loaded or written within `grace`
/// (compiled handlers, and temporary files a crash left).
pub fn collect_compile_cache(
    cache: &Path,
    grace: Duration,
    dry_run: bool,
) -> anyhow::Result<Removed> {
    let mut removed = Removed::default();
    let entries = match std::fs::read_dir(cache) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot read the compile cache {}", cache.display()));
        }
    };
    let cutoff = SystemTime::now()
        .checked_sub(grace)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    for entry in entries.flatten() {
        let path = entry.path();
        let ours = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".cwasm") || n.ends_with(".tmp"));
        let Ok(meta) = entry.metadata() else { continue };
        if !ours || !meta.is_file() || meta.modified().map_or(true, |t| t >= cutoff) {
            continue;
        }
        if !dry_run {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot remove {}", path.display()));
                }
            }
        }
        removed.count += 1;
        removed.bytes += meta.len();
    }
    Ok(removed)
}
