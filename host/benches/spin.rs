//! The Spin build's speed beside the native server's, measured in one run on
//! one machine: publish p50 and GET throughput (release JSON, package JSON,
//! OCI manifest; `wrk -t2 -c16`) for `depot serve` and `depot serve
//! --spin-app`, each on embedded storage and on PostgreSQL + S3 (a Spin
//! build's GET figures also as a multiple of the native server's on the same
//! storage), and the server's resident memory after them (the native server without its
//! response cache, which a Spin build does not have). Run with
//! `scripts/with-services cargo bench -p depot --bench spin` (wrk from
//! Debian's package `wrk`; PostgreSQL and SeaweedFS as the tests use them).

#[macro_use]
mod common;
use depot_test_support as support;

use common::wrk::wrk;
use common::*;
use support::*;

/// Seconds each wrk run lasts.
const SECONDS: u32 = 6;

fn main() {
    start_figures("spin");
    // Each Spin build right after the native server on the same storage,
    // which its GET figures are compared with: the Spin build is meant to
    // serve them at half the native server's rate or better.
    let runtimes = [
        ("native, embedded", Runtime::Native),
        ("Spin build, SQLite + key-value", Runtime::Spin),
        ("native, PostgreSQL + S3", Runtime::Shared),
        ("Spin build, PostgreSQL + S3", Runtime::SpinShared),
    ];
    let paths = [
        ("release JSON", "/v1/packages/bench:publish/versions/1.0.7"),
        ("package JSON", "/v1/packages/bench:publish"),
        ("OCI manifest", "/v2/bench/publish/manifests/1.0.7"),
    ];
    let mut rows = Vec::new();
    // The last native server's GET req/s, path by path.
    let mut native: Vec<Option<f64>> = Vec::new();
    for (label, runtime) in runtimes {
        let spin = matches!(runtime, Runtime::Spin | Runtime::SpinShared);
        // The handlers' speed, not the response cache's (a Spin build has
        // none): the native server runs without it here.
        let server = Server::start_with(ServerOptions {
            runtime,
            args: vec!["--response-cache".into(), "0".into()],
            ..ServerOptions::default()
        });
        let (_, mut samples) = sequential_publishes(&server);
        let (p50, _) = percentiles(&mut samples);
        let mut row = vec![format!("{:.2} ms", ms(p50))];
        let mut measured = Vec::new();
        for (i, (what, path)) in paths.into_iter().enumerate() {
            let (status, _) = server.get_bytes(path);
            assert_eq!(status, 200, "{label}: {what} {path}");
            let load = wrk(&server.at(path), SECONDS).map(|load| load.requests_per_second);
            measured.push(load);
            row.push(match (load, native.get(i).copied().flatten()) {
                (Some(load), Some(base)) if spin => {
                    format!("{load:.0} ({:.2}× native)", load / base)
                }
                (Some(load), _) => format!("{load:.0}"),
                (None, _) => "wrk not installed".to_string(),
            });
        }
        if !spin {
            native = measured;
        }
        row.push(format!("{} MiB", rss_kib(server.pid()) / 1024));
        figure!(
            "{label}: publish p50 {}, GET req/s {:?}",
            row[0],
            &row[1..4]
        );
        rows.push((label, row));
    }
    figure!(
        "| | publish p50 | release JSON req/s | package JSON req/s | OCI manifest req/s | RSS after |"
    );
    figure!("|---|---|---|---|---|---|");
    for (label, row) in &rows {
        figure!("| {label} | {} |", row.join(" | "));
    }
}
