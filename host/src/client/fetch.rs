//! Fetching a release's content: downloaded next to where it goes, hashed as
//! it arrives, and put in place only once every check has passed.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use depot_protocol::PackageName;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt;

use super::api::{Registry, Release};
use super::output::stdout_error;
use super::transparency;

/// Transfers larger than this show a progress bar on a terminal.
const PROGRESS_THRESHOLD: u64 = 1024 * 1024;

/// A progress bar for `len` bytes, shown on a terminal for large transfers.
pub fn progress_bar(len: u64, verb: &str) -> ProgressBar {
    if len < PROGRESS_THRESHOLD || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let template = format!("{verb} {{bar:40}} {{bytes}}/{{total_bytes}} {{bytes_per_sec}} {{eta}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style);
    }
    bar
}

/// The registry's log, checked against what this client saw before; says
/// so when the registry's key is trusted on first use.
pub async fn checked_log(registry: &Registry) -> Result<transparency::VerifiedLog> {
    let log = transparency::check_checkpoint(registry).await?;
    if log.first_use {
        eprintln!(
            "trusting {}'s log key on first use; later fetches refuse a log that goes back or forks",
            registry.base()
        );
    }
    Ok(log)
}

/// Where a release's content goes: `output` (`None` for `-`, stdout), else
/// `<name>-<version>.wasm`.
pub fn destination(output: Option<PathBuf>, name: &PackageName, version: &str) -> Option<PathBuf> {
    match output {
        Some(path) if path == Path::new("-") => None,
        Some(path) => Some(path),
        None => Some(format!("{}-{version}.wasm", name.name()).into()),
    }
}

/// A release's content, downloaded and hashed but not yet where it goes.
pub struct Download {
    /// The content's digest as this client computed it.
    pub digest: String,
    /// The bytes received.
    size: u64,
    held: Held,
}

pub enum Held {
    /// In a temporary file next to its destination, renamed once checked, so
    /// a corrupt or refused download never replaces a good file.
    File {
        temp: tempfile::NamedTempFile,
        path: PathBuf,
    },
    /// In memory, for stdout.
    Stdout(Vec<u8>),
}

/// Downloads `release`'s content, hashing it, for `destination` (`None`:
/// stdout).
pub async fn download(
    registry: &Registry,
    release: &Release,
    destination: Option<&Path>,
) -> Result<Download> {
    let mut stream = registry.content(&release.content_url).await?;
    let bar = progress_bar(release.size, "fetching");
    let mut hasher = Sha256::new();
    let mut received = Vec::new();
    let mut size = 0u64;
    let temp = match destination {
        None => None,
        Some(path) => {
            let dir = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            Some(
                tempfile::NamedTempFile::new_in(&dir)
                    .with_context(|| format!("cannot create a file in {}", dir.display()))?,
            )
        }
    };
    let mut file = match &temp {
        Some(t) => Some(tokio::fs::File::from_std(t.reopen()?)),
        None => None,
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        bar.inc(chunk.len() as u64);
        match &mut file {
            Some(f) => f.write_all(&chunk).await?,
            None => received.extend_from_slice(&chunk),
        }
    }
    bar.finish_and_clear();
    if let Some(f) = &mut file {
        f.flush().await?;
        f.sync_all().await?;
    }
    let held = match (temp, destination) {
        (Some(temp), Some(path)) => Held::File {
            temp,
            path: path.to_path_buf(),
        },
        _ => Held::Stdout(received),
    };
    Ok(Download {
        digest: format!("sha256:{}", hex::encode(hasher.finalize())),
        size,
        held,
    })
}

impl Download {
    /// Fails unless the content is `release`'s size and hashes to `digest`
    /// (the release's, or the one a lockfile pins).
    pub fn check(&self, release: &Release, digest: &str) -> Result<()> {
        if self.digest != digest || self.size != release.size {
            bail!(
                "the content of {}@{} does not match {}: expected {digest} ({} bytes), got {} \
                 ({} bytes); nothing was written — retry, and report it if it persists",
                release.name,
                release.version,
                if digest == release.digest {
                    "its release"
                } else {
                    "the digest locked for it"
                },
                release.size,
                self.digest,
                self.size
            );
        }
        Ok(())
    }

    /// Puts the checked content where it goes.
    pub fn finish(self, release: &Release) -> Result<()> {
        match self.held {
            Held::File { temp, path } => {
                temp.persist(&path)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!(
                    "fetched {}@{} ({} bytes, {}) to {}",
                    release.name,
                    release.version,
                    release.size,
                    release.digest,
                    path.display()
                );
            }
            Held::Stdout(bytes) => std::io::stdout().write_all(&bytes).map_err(stdout_error)?,
        }
        Ok(())
    }
}
