//! Figures for the foundation: publish latency, release-JSON GET throughput,
//! the web view's package page, download speed and memory while serving a
//! large blob, against a real
//! `depot serve` on loopback. Run with `cargo bench -p depot --bench registry`.
//! GET throughput uses `wrk` (Debian package `wrk`) when it is installed.

#[macro_use]
mod common;
use depot_test_support as support;

use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use support::*;

const MIB: usize = 1024 * 1024;

fn main() {
    start_figures("registry");
    let server = Server::start_with(ServerOptions {
        args: vec!["--max-content-size".into(), (200 * MIB).to_string()],
        ..ServerOptions::default()
    });
    let pid = server_pid(&server);
    figure!("depot bench on {} (pid {pid})", server.url);

    publish_latency(&server);
    signed_publish_latency(&server);
    get_throughput(&server);
    package_page(&server);
    download_speed(&server);
    memory_while_serving(&server, pid);
    drop(server);
    instantiation_cost();
}

/// What creating one request's instance of the composed handlers costs, as the
/// server itself times it (debug log), over sequential small GETs.
fn instantiation_cost() {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut server = Server::start_with(ServerOptions {
        env: vec![("RUST_LOG".into(), "info,depot::serve::http=debug".into())],
        log: Some(tx),
        ..ServerOptions::default()
    });
    let http = client();
    for _ in 0..1000 {
        let response = http.get(server.at("/v1/packages")).send().expect("GET");
        assert_eq!(response.status(), 200);
    }
    // Stopped as an operator would, so it writes out every line it logged.
    server.terminate(Duration::from_secs(60));
    drop(server);
    let mut samples: Vec<Duration> = rx
        .try_iter()
        .filter(|line| line.contains("instantiated the handlers"))
        .filter_map(|line| {
            let line = strip_ansi(&line);
            let micros = line.split("micros").nth(1)?;
            let digits: String = micros
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(char::is_ascii_digit)
                .collect();
            Some(Duration::from_micros(digits.parse().ok()?))
        })
        .collect();
    assert!(
        !samples.is_empty(),
        "the server logged no instantiation times"
    );
    let n = samples.len();
    let (p50, p99) = percentiles(&mut samples);
    figure!(
        "instantiation of the composed handlers per request (n={n}): p50 {} us, p99 {} us",
        p50.as_micros(),
        p99.as_micros()
    );
}

/// Sequential publishes of distinct ~50 KB components, from one client (as a
/// CI job or `wkg` pushing several releases would), timed from sending the
/// request to reading the response.
fn publish_latency(server: &Server) {
    let (size, mut samples) = sequential_publishes(server);
    let (p50, p99) = percentiles(&mut samples);
    figure!(
        "publish, sequential, {size} B component: p50 {:.2} ms, p99 {:.2} ms (target p50 <= 10 ms)",
        ms(p50),
        ms(p99)
    );
}

/// Sequential signed publishes through the two-phase publish (create the
/// unpublished release, upload, publish with the signature), the signature
/// made by the client and checked against a namespace requiring signatures:
/// the whole exchange, and its last step alone (verification, metadata,
/// policy, log append and checkpoint).
fn signed_publish_latency(server: &Server) {
    use depot_protocol::signing::SigningKey;
    let n = 200;
    let http = server.http();
    let key = SigningKey::from_seed([42; 32]);
    let public = key.public_key().to_string();
    let grant = serde_json::json!({"publicKey": public, "scope": "signed-bench"});
    assert_eq!(server.post("/v1/keys/grant", &grant).0, 201);
    let policy = serde_json::json!({"requireSignatures": true});
    let response = http
        .put(server.at("/v1/namespaces/signed-bench/policy"))
        .json(&policy)
        .send()
        .expect("PUT policy");
    assert_eq!(response.status(), 200);
    let (mut whole, mut last) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        let bytes = greeter(&Meta {
            description: Some(&format!("signed bench component {i}")),
            padding: 50_000,
            ..Meta::default()
        });
        let manifest = serde_json::json!({
            "packageType": "component",
            "name": "signed-bench:pkg",
            "version": format!("1.0.{i}"),
            "contentDigest": {"sha256": sha256_hex(&bytes)},
        })
        .to_string();
        let start = Instant::now();
        let created = http
            .post(server.at("/v1/releases"))
            .body(manifest.clone())
            .send()
            .expect("POST /v1/releases");
        let (status, unpublished) = status_json(created);
        assert_eq!(status, 201, "{unpublished}");
        let upload = server.at(unpublished["uploadUrl"].as_str().unwrap());
        let response = http.put(upload).body(bytes).send().expect("PUT content");
        assert_eq!(response.status(), 200);
        let signed = key.sign_release(manifest.as_bytes());
        let body = serde_json::json!({
            "releaseDigest": signed.release_digest,
            "releaseSignature": signed.signature,
            "publicKey": public,
        });
        let publish_start = Instant::now();
        let published = http
            .post(server.at(unpublished["publishUrl"].as_str().unwrap()))
            .json(&body)
            .send()
            .expect("POST publish");
        let (status, release) = status_json(published);
        last.push(publish_start.elapsed());
        whole.push(start.elapsed());
        assert_eq!(status, 201, "{release}");
    }
    let (p50, p99) = percentiles(&mut whole);
    let (last50, last99) = percentiles(&mut last);
    figure!(
        "signed publish, two-phase, sequential: whole exchange p50 {:.2} ms, p99 {:.2} ms; \
         the signed publish step p50 {:.2} ms, p99 {:.2} ms (target: within 2 ms of the publish p50)",
        ms(p50),
        ms(p99),
        ms(last50),
        ms(last99)
    );
}

/// Release-JSON GETs at 16 connections.
fn get_throughput(server: &Server) {
    let url = server.at("/v1/packages/bench:publish/versions/1.0.7");
    let wrk = Command::new("wrk")
        .args(["-t2", "-c16", "-d10s", "--latency", &url])
        .output();
    match wrk {
        Ok(out) if out.status.success() => {
            let text = String::from_utf8_lossy(&out.stdout);
            let rps = text
                .lines()
                .find(|l| l.starts_with("Requests/sec:"))
                .unwrap_or("Requests/sec: ?");
            let p50 = text
                .lines()
                .find(|l| l.trim_start().starts_with("50%"))
                .unwrap_or("50% ?");
            figure!(
                "release JSON GET, wrk 16 connections 10 s: {} (latency {}) (target >= 10000 req/s)",
                rps.trim(),
                p50.trim()
            );
        }
        _ => figure!("release JSON GET: wrk not installed (apt-get install wrk); skipped"),
    }
}

/// The web view's package page: time to the first byte (the response's
/// headers; the page is rendered whole before they are sent), sequential,
/// for a package of 10 versions and for one of 200.
fn package_page(server: &Server) {
    for i in 0..10 {
        let bytes = greeter(&Meta {
            description: Some(&format!("a package page with ten versions ({i})")),
            licenses: Some("Apache-2.0"),
            ..Meta::default()
        });
        let (status, body) = server.publish("bench:page", &format!("1.{i}.0"), &bytes);
        assert_eq!(status, 201, "{body}");
    }
    let http = client();
    for (path, versions) in [
        ("/packages/bench/page", 10),
        ("/packages/bench/publish", 200),
    ] {
        let mut samples = Vec::with_capacity(500);
        let mut size = 0;
        for _ in 0..500 {
            let start = Instant::now();
            let response = http.get(server.at(path)).send().expect("GET");
            samples.push(start.elapsed());
            assert_eq!(response.status(), 200);
            size = drain(response);
        }
        let (p50, p99) = percentiles(&mut samples);
        figure!(
            "package page, {versions} versions ({size} B of HTML), time to first byte: \
             p50 {:.2} ms, p99 {:.2} ms (target p50 <= 5 ms)",
            ms(p50),
            ms(p99)
        );
    }
}

/// Downloads of a 32 MiB release.
fn download_speed(server: &Server) {
    let bytes = greeter(&Meta {
        padding: 32 * MIB,
        ..Meta::default()
    });
    let (status, body) = server.publish("bench:large", "1.0.0", &bytes);
    assert_eq!(status, 201, "{body}");
    let url = server.at("/v1/packages/bench:large/versions/1.0.0/content");
    let http = client();
    let mut best = f64::MAX;
    let mut total = Duration::ZERO;
    let rounds = 5;
    for _ in 0..rounds {
        let start = Instant::now();
        let n = drain(http.get(&url).send().expect("GET"));
        let took = start.elapsed();
        assert_eq!(n, bytes.len());
        total += took;
        best = best.min(took.as_secs_f64());
    }
    let mb = bytes.len() as f64 / 1e6;
    figure!(
        "download, 32 MiB: mean {:.0} MB/s, best {:.0} MB/s (target >= 500 MB/s)",
        mb * rounds as f64 / total.as_secs_f64(),
        mb / best
    );
}

/// Resident memory of the server while it serves a 100 MiB blob, against idle.
fn memory_while_serving(server: &Server, pid: u32) {
    let bytes = greeter(&Meta {
        padding: 100 * MIB,
        ..Meta::default()
    });
    let (status, body) = server.publish("bench:huge", "1.0.0", &bytes);
    assert_eq!(status, 201, "{body}");
    drop(bytes);
    std::thread::sleep(Duration::from_millis(500));
    let idle = rss_kib(pid);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid));
                std::thread::sleep(Duration::from_millis(2));
            }
            peak
        })
    };
    let response = client()
        .get(server.at("/v1/packages/bench:huge/versions/1.0.0/content"))
        .send()
        .expect("GET");
    let n = drain(response);
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap();
    figure!(
        "memory serving a {} MiB blob: idle {} MiB, peak {} MiB, +{} MiB (target <= +64 MiB)",
        n / MIB,
        idle / 1024,
        peak / 1024,
        peak.saturating_sub(idle) / 1024
    );
}

/// `line` without terminal colour sequences (`ESC [ ... m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

fn drain(mut response: reqwest::blocking::Response) -> usize {
    assert_eq!(response.status(), 200);
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0;
    loop {
        match response.read(&mut buf) {
            Ok(0) => return n,
            Ok(k) => n += k,
            Err(e) => panic!("download failed: {e}"),
        }
    }
}

fn server_pid(server: &Server) -> u32 {
    server.pid()
}
