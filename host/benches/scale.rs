//! Figures for the query issue at scale: a registry of (by default) 100,000
//! packages × 10 versions, filled through the store's own write path
//! (`Backend::append`, one durable entry at a time), served by `depot serve`:
//! resolve, search by export, list-page latency, resident memory and
//! start-up; and publish-to-visible lag on a mirror.
//!
//! `cargo bench -p depot --bench scale`. The filled registry is kept under
//! `target/bench-scale/` and reused; `DEPOT_BENCH_PACKAGES` changes its size.
//! With `DEPOT_BENCH_DATABASE=postgres://...` (an empty database, kept and
//! reused likewise) the registry is on PostgreSQL instead of SQLite.

#[macro_use]
mod common;
use depot_test_support as support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use depot::store::shared::{self, Location};
use depot::store::{Action, Backend, ContentKind, Entry, Metadata, ReleaseContent};
use support::*;

const VERSIONS: usize = 10;
/// Distinct exported interfaces; every tenth package also exports wasi:http.
const INTERFACES: usize = 1000;
const WORDS: [&str; 8] = [
    "parser", "server", "codec", "logger", "image", "crypto", "queue", "render",
];
const LICENSES: [&str; 3] = ["MIT", "Apache-2.0", "MIT OR Apache-2.0"];

fn main() {
    start_figures("scale");
    let packages: usize = std::env::var("DEPOT_BENCH_PACKAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let database = std::env::var("DEPOT_BENCH_DATABASE").ok();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-scale");
    let data = match database {
        None => root.join(format!("{packages}x{VERSIONS}")),
        Some(_) => root.join(format!("{packages}x{VERSIONS}-postgres")),
    };
    let location = Location {
        database: database.clone(),
        blobs: None,
    };
    figure!(
        "registry database: {}",
        if database.is_some() {
            "PostgreSQL"
        } else {
            "SQLite (embedded)"
        }
    );
    fill(&data, &location, packages);

    let cache = root.join("compile-cache");
    start_server(&data, &cache, &location).kill_and_wait(); // warms the compile cache
    let (server, startup) = start_server(&data, &cache, &location).timed();
    figure!(
        "start-up with {packages} packages x {VERSIONS} versions: {:.0} ms (target <= 1000 ms)",
        ms(startup)
    );

    let http = client();
    // Each query is timed, and its answer checked: a fast empty answer is
    // not a figure.
    let get = |path: &str, answered: &dyn Fn(&serde_json::Value) -> bool| {
        let start = Instant::now();
        let response = http
            .get(format!("{}{path}", server.url))
            .send()
            .expect("GET");
        let status = response.status().as_u16();
        let body = response.bytes().expect("body");
        let elapsed = start.elapsed();
        assert_eq!(status, 200, "{path}");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("a JSON answer");
        assert!(answered(&json), "{path} answered {json}");
        elapsed
    };
    let nonempty = |key: &'static str| {
        move |json: &serde_json::Value| json[key].as_array().is_some_and(|a| !a.is_empty())
    };
    let report = |what: &str, target: f64, mut samples: Vec<Duration>| {
        let (p50, p99) = percentiles(&mut samples);
        figure!(
            "{what}: p50 {:.2} ms, p99 {:.2} ms (target p99 <= {target} ms)",
            ms(p50),
            ms(p99)
        );
    };
    let mut rng = Lcg(7);
    let resolve: Vec<Duration> = (0..2000)
        .map(|_| {
            get(
                &format!(
                    "/v1/packages/{}/resolve?req=%5E1.2",
                    name(rng.below(packages))
                ),
                &|json| json["version"] == format!("1.{}.0", VERSIONS - 1),
            )
        })
        .collect();
    report("resolve ^1.2", 2.0, resolve);
    // Issue 19: resolution as of a log position (the middle of the log,
    // with its inclusion proof), and with a trust policy: within 2x of
    // plain resolution at p99.
    let head = http
        .get(format!("{}/v1/stats", server.url))
        .send()
        .and_then(|r| r.json::<serde_json::Value>())
        .expect("stats")["head"]
        .as_u64()
        .expect("a head");
    let at: Vec<Duration> = (0..2000)
        .map(|_| {
            get(
                &format!(
                    "/v1/packages/{}/resolve?req=%5E1&at={}",
                    // Filled a package at a time: the first half is
                    // published by the log's middle.
                    name(rng.below(packages / 2)),
                    head / 2
                ),
                &|json| {
                    json["version"] == format!("1.{}.0", VERSIONS - 1)
                        && json["proof"]["hashes"].is_array()
                },
            )
        })
        .collect();
    report("resolve ^1 at the log's middle, with proof", 4.0, at);
    let policy: Vec<Duration> = (0..2000)
        .map(|_| {
            get(
                &format!(
                    "/v1/packages/{}/resolve?req=%5E1.2&min-age=1s&exclude-advisories=true",
                    name(rng.below(packages))
                ),
                &|json| json["version"] == format!("1.{}.0", VERSIONS - 1),
            )
        })
        .collect();
    report(
        "resolve ^1.2 with min-age and exclude-advisories",
        4.0,
        policy,
    );
    let search: Vec<Duration> = (0..500)
        .map(|i| {
            let interface = if i % 10 == 0 {
                "wasi%3Ahttp%2Fincoming-handler".to_string()
            } else {
                format!("scale%3Aiface{}%2Fapi", rng.below(INTERFACES))
            };
            get(
                &format!("/v1/search?exports={interface}&limit=20"),
                &nonempty("results"),
            )
        })
        .collect();
    report("search by export, 20 per page", 20.0, search);
    let list: Vec<Duration> = (0..2000)
        .map(|_| {
            get(
                &format!(
                    "/v1/packages?after={}&limit=100",
                    name(rng.below(packages - 1))
                ),
                &nonempty("packages"),
            )
        })
        .collect();
    report("list page of 100", 5.0, list);
    let rss = rss_kib(server.pid()) / 1024;
    figure!("server resident memory after the queries: {rss} MiB (target <= 300 MB)");
    drop(server);

    mirror_lag();
}

/// `scale:pkgNNNNNN`.
fn name(i: usize) -> String {
    format!("scale:pkg{i:06}")
}

/// Fills `data` with `packages` × [`VERSIONS`] releases through
/// `Backend::append`, unless a previous run completed it.
fn fill(data: &Path, location: &Location, packages: usize) {
    let done = data.join("filled");
    if done.exists() {
        figure!("reusing the registry in {}", data.display());
        return;
    }
    let _ = std::fs::remove_dir_all(data);
    // On PostgreSQL the fill commits without waiting for the WAL flush
    // (`synchronous_commit=off` on its own connections only): a million
    // appends otherwise take hours here, and the figures are of reads.
    let fill_location = Location {
        database: location.database.as_ref().map(|url| {
            let separator = if url.contains('?') { '&' } else { '?' };
            format!("{url}{separator}options=-c%20synchronous_commit%3Doff")
        }),
        blobs: location.blobs.clone(),
    };
    let store = shared::open(&fill_location, data).expect("open the store");
    let start = Instant::now();
    for i in 0..packages {
        for v in 0..VERSIONS {
            // The content is stored first: a release naming content that
            // is not stored is refused.
            let content = format!("{i}-{v}");
            let mut blob = store.create_blob().expect("create a blob");
            blob.write(content.as_bytes()).expect("write a blob");
            blob.finish().expect("store a blob");
            let digest = format!("sha256:{}", sha256_hex(content.as_bytes()));
            let mut exports = vec![format!("scale:iface{}/api@1.{v}.0", i % INTERFACES)];
            if i % 10 == 0 {
                exports.push("wasi:http/incoming-handler@0.2.0".into());
            }
            let metadata = Metadata {
                kind: ContentKind::Component,
                size: 50_000,
                digest: digest.clone(),
                name: Some(format!("pkg{i}")),
                description: Some(format!(
                    "a {} for {} number {i}",
                    WORDS[i % WORDS.len()],
                    WORDS[(i / 8) % WORDS.len()]
                )),
                authors: None,
                licenses: Some(LICENSES[i % LICENSES.len()].into()),
                source: None,
                homepage: None,
                revision: None,
                version: None,
                imports: vec![
                    "wasi:cli/environment@0.2.0".into(),
                    "wasi:io/streams@0.2.0".into(),
                ],
                exports,
                wit: None,
                worlds: None,
                registry: None,
            };
            let entry = Entry {
                name: name(i),
                version: format!("1.{v}.0"),
                action: Action::Release(ReleaseContent {
                    digest,
                    size: metadata.size,
                    metadata,
                    oci: None,
                    signature: None,
                }),
            };
            let head = store.package_head(&entry.name).expect("head");
            store.append(entry, head).expect("append");
        }
        if i % 10_000 == 9_999 {
            figure!(
                "filled {} packages in {:.0} s",
                i + 1,
                start.elapsed().as_secs_f64()
            );
        }
    }
    std::fs::write(&done, b"").expect("mark the registry filled");
    figure!(
        "filled {} releases in {:.0} s ({:.2} ms per durable append)",
        packages * VERSIONS,
        start.elapsed().as_secs_f64(),
        ms(start.elapsed()) / (packages * VERSIONS) as f64
    );
}

/// `depot serve` on `data`, not yet waited for.
fn start_server(data: &Path, cache: &Path, location: &Location) -> Starting {
    let child = Command::new(DEPOT)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .args(location.database.iter().flat_map(|url| ["--database", url]))
        .arg("--compile-cache")
        .arg(cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start depot serve");
    Starting {
        child,
        started: Instant::now(),
    }
}

struct Starting {
    child: std::process::Child,
    started: Instant,
}

impl Starting {
    /// Waits for the server to listen: it and how long that took.
    fn timed(mut self) -> (Running, Duration) {
        let stdout = self.child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines.next().expect("the server exited").expect("stdout");
            if let Some(rest) = line.split("Depot listening on ").nth(1) {
                break rest.trim().to_string();
            }
        };
        let elapsed = self.started.elapsed();
        // Keep draining stdout so the server never blocks on it.
        std::thread::spawn(move || lines.for_each(drop));
        (
            Running {
                child: self.child,
                url,
            },
            elapsed,
        )
    }

    fn kill_and_wait(self) {
        let (running, _) = self.timed();
        drop(running);
    }
}

struct Running {
    child: std::process::Child,
    url: String,
}

impl Running {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Publish-to-visible lag on a mirror: 100 releases published one by one on
/// an origin, each timed until the mirror serves it.
fn mirror_lag() {
    let origin = Server::start();
    let mirror = Server::start_with(ServerOptions {
        mirror_of: Some(origin.url.clone()),
        ..ServerOptions::default()
    });
    let http = origin.http();
    let mut samples = Vec::new();
    for i in 0..100 {
        let bytes = greeter_n(i);
        let version = format!("1.0.{i}");
        let (status, body) = origin.publish("lag:pkg", &version, &bytes);
        assert_eq!(status, 201, "{body}");
        let published = Instant::now();
        let url = mirror.at(&format!("/v1/packages/lag:pkg/versions/{version}"));
        loop {
            let status = http.get(&url).send().expect("GET").status().as_u16();
            if status == 200 {
                break;
            }
            assert!(
                published.elapsed() < Duration::from_secs(30),
                "never mirrored"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        samples.push(published.elapsed());
    }
    let (p50, p99) = percentiles(&mut samples);
    figure!(
        "publish-to-visible lag on a mirror: p50 {:.1} ms, p99 {:.1} ms (target p99 <= 1000 ms)",
        ms(p50),
        ms(p99)
    );
}

/// A small deterministic generator, so runs query the same names.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % n
    }
}
