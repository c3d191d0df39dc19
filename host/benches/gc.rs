//! Figures for garbage collection: `depot gc` on an embedded registry of (by
//! default) 100,000 releases, filled through the store's own write path, with
//! 10,000 orphan blobs (files of 20 KiB that nothing names): its time and
//! peak resident memory, a dry run, and a second run with nothing to remove.
//!
//! `cargo bench -p depot --bench gc` (the peak memory comes from GNU time,
//! `/usr/bin/time`, Debian's `time`). The filled registry is kept under
//! `target/bench-gc/` and copied for each run; `DEPOT_BENCH_RELEASES` and
//! `DEPOT_BENCH_ORPHANS` change its size.

#[allow(dead_code)] // what the other benches use of it
#[macro_use]
mod common;
use depot_test_support as support;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use common::*;
use depot::store::shared::{self, Location};
use depot::store::{Action, Backend, ContentKind, Entry, Metadata, ReleaseContent};
use support::*;

const VERSIONS: usize = 10;
const ORPHAN_SIZE: usize = 20 * 1024;

fn count(variable: &str, default: usize) -> usize {
    std::env::var(variable)
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn main() {
    start_figures("gc");
    let releases = count("DEPOT_BENCH_RELEASES", 100_000);
    let orphans = count("DEPOT_BENCH_ORPHANS", 10_000);
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-gc");
    let filled = root.join(format!("{releases}-{orphans}"));
    fill(&filled, releases, orphans);

    for (what, flags) in [
        ("dry run", &["--grace", "0", "--dry-run"][..]),
        ("collection", &["--grace", "0"][..]),
        ("collection with nothing to remove", &["--grace", "0"][..]),
    ] {
        let data = root.join("run");
        if what != "collection with nothing to remove" {
            let _ = std::fs::remove_dir_all(&data);
            copy_dir(&filled, &data);
        }
        let output = Command::new("/usr/bin/time")
            .args(["-f", "elapsed %e s, peak RSS %M KiB"])
            .arg(DEPOT.path())
            .args(["gc", "--json", "--data"])
            .arg(&data)
            .args(flags)
            .output()
            .expect("run depot gc under /usr/bin/time (apt-get install time)");
        assert!(output.status.success(), "{output:?}");
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let measured = stderr.lines().last().unwrap_or_default();
        figure!(
            "{what}: {measured}; blobs removed {} ({} bytes) of {} stored",
            report["blobs"]["count"],
            report["blobs"]["bytes"],
            report["blobs_seen"]
        );
    }
}

/// A registry of `releases` releases (small content, in the database) and
/// `orphans` blob files nothing names, at `data` unless it is there.
fn fill(data: &Path, releases: usize, orphans: usize) {
    let done = data.join("filled");
    if done.exists() {
        figure!("reusing the registry in {}", data.display());
        return;
    }
    let _ = std::fs::remove_dir_all(data);
    let store = shared::open(
        &Location {
            database: None,
            blobs: None,
        },
        data,
    )
    .expect("open the store");
    let start = Instant::now();
    let put = |bytes: &[u8]| {
        let mut blob = store.create_blob().expect("create a blob");
        for part in bytes.chunks(1 << 20) {
            blob.write(part).expect("write a blob");
        }
        blob.finish().expect("store a blob")
    };
    for r in 0..releases {
        let digest = put(format!("release {r}").as_bytes()).to_string();
        let metadata = Metadata {
            kind: ContentKind::Component,
            size: 10,
            digest: digest.clone(),
            name: None,
            description: None,
            authors: None,
            licenses: None,
            source: None,
            homepage: None,
            revision: None,
            version: None,
            imports: Vec::new(),
            exports: vec![format!("gc:iface{}/api@1.0.0", r % 100)],
            wit: None,
            worlds: None,
            registry: None,
        };
        let entry = Entry {
            name: format!("gc:pkg{}", r / VERSIONS),
            version: format!("1.{}.0", r % VERSIONS),
            action: Action::Release(ReleaseContent {
                digest,
                size: 10,
                metadata,
                oci: None,
                signature: None,
            }),
        };
        let head = store.package_head(&entry.name).expect("head");
        store.append(entry, head).expect("append");
    }
    for o in 0..orphans {
        let mut bytes = vec![0u8; ORPHAN_SIZE];
        bytes[..8].copy_from_slice(&(o as u64).to_le_bytes());
        put(&bytes);
    }
    std::fs::write(&done, b"").expect("mark the registry filled");
    figure!(
        "filled {releases} releases and {orphans} orphan blobs in {:.0} s",
        start.elapsed().as_secs_f64()
    );
}
