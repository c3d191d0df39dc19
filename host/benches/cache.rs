//! Hot reads with the response cache on and off, side by side in one run,
//! with CNCF distribution (`docker-registry`) on the OCI routes: release
//! JSON, package JSON, an OCI manifest by tag, a 50 KB blob and the log's
//! checkpoint, each under `wrk -t2 -c16 --latency` (requests per second and
//! p99). The goal: 40,000 req/s or more with the cache on, p99 under 2 ms,
//! and a miss no slower than the cache off. Run with
//! `cargo bench -p depot --bench cache` (wrk and docker-registry from
//! Debian's packages of those names).

#[allow(dead_code)]
#[macro_use]
mod common;
use depot_test_support as support;

use common::oci::{Distribution, push};
use common::wrk::{Load, wrk, wrk_with};
use common::*;
use oci_client::secrets::RegistryAuth;
use support::*;

/// Seconds each wrk run lasts.
const SECONDS: u32 = 5;

/// The size of the blob read.
const BLOB: usize = 50 * 1000;

fn main() {
    start_figures("cache");
    let component = greeter(&Meta {
        description: Some("a hot release"),
        padding: BLOB - 2400,
        ..Meta::default()
    });
    let on = Server::start();
    let off = Server::start_with(ServerOptions {
        args: vec!["--response-cache".into(), "0".into()],
        ..ServerOptions::default()
    });
    for server in [&on, &off] {
        assert_eq!(server.publish("bench:hot", "1.0.0", &component).0, 201);
    }
    let (_, release) = on.get_json("/v1/packages/bench:hot/versions/1.0.0");
    let digest = release["digest"].as_str().expect("a digest").to_string();
    let distribution = Distribution::start();
    if let Some(distribution) = &distribution {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let pushed = runtime.block_on(push(
            &distribution.host,
            &RegistryAuth::Anonymous,
            "bench/hot",
            "1.0.0",
            &component,
        ));
        assert_eq!(pushed, digest);
    }
    let paths = [
        (
            "release JSON",
            "/v1/packages/bench:hot/versions/1.0.0".to_string(),
            false,
        ),
        ("package JSON", "/v1/packages/bench:hot".to_string(), false),
        (
            "OCI manifest by tag",
            "/v2/bench/hot/manifests/1.0.0".to_string(),
            true,
        ),
        ("50 KB blob", format!("/v2/bench/hot/blobs/{digest}"), true),
        ("log checkpoint", "/v1/log/checkpoint".to_string(), false),
    ];
    figure!("| GET | cache on req/s | p99 | cache off req/s | p99 | distribution req/s | p99 |");
    figure!("|---|---|---|---|---|---|---|");
    let show = |load: Option<Load>| match load {
        Some(load) => (
            format!("{:.0}", load.requests_per_second),
            format!("{:.2} ms", ms(load.p99)),
        ),
        None => ("wrk not installed".to_string(), String::new()),
    };
    for (what, path, oci) in &paths {
        // Each answered once first (without a token, which the cache
        // passes by), so the cache holds it.
        for server in [&on, &off] {
            let first = client().get(server.at(path)).send().expect("GET");
            assert_eq!(first.status(), 200, "{what}: {path}");
        }
        let cached = client().get(on.at(path)).send().expect("GET");
        assert_eq!(cached.headers()["depot-cache"], "hit", "{what}");
        let with_cache = show(wrk(&on.at(path), SECONDS));
        let without = show(wrk(&off.at(path), SECONDS));
        let theirs = match (&distribution, oci) {
            (Some(distribution), true) => {
                show(wrk(&format!("http://{}{path}", distribution.host), SECONDS))
            }
            _ => ("—".to_string(), String::new()),
        };
        figure!(
            "| {what} | {} | {} | {} | {} | {} | {} |",
            with_cache.0,
            with_cache.1,
            without.0,
            without.1,
            theirs.0,
            theirs.1
        );
    }

    // A miss: every request purged first would need a write per read; a
    // request asking for a fresh answer takes the miss path instead (lookup,
    // handlers, and the offer to keep the answer).
    let path = "/v1/packages/bench:hot/versions/1.0.0";
    let miss = wrk_with(&on.at(path), SECONDS, &["-H", "Cache-Control: no-cache"]);
    let baseline = wrk(&off.at(path), SECONDS);
    figure!(
        "release JSON, every request a miss (Cache-Control: no-cache): {} req/s, p99 {}; cache \
         off: {} req/s, p99 {}",
        show(miss).0,
        show(miss).1,
        show(baseline).0,
        show(baseline).1
    );
    figure!(
        "server RSS after: cache on {} MiB, cache off {} MiB",
        rss_kib(on.pid()) / 1024,
        rss_kib(off.pid()) / 1024
    );
}
