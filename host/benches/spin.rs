//! The Spin build's speed beside the native server's, measured in one run on
//! one machine: publish p50 and GET throughput (release JSON, package JSON,
//! OCI manifest; `wrk -t2 -c16`) for `depot serve` and `depot serve
//! --spin-app`, each on embedded storage and on PostgreSQL + S3, and the
//! server's resident memory after them. Run with
//! `scripts/with-services cargo bench -p depot --bench spin` (wrk from
//! Debian's package `wrk`; PostgreSQL and SeaweedFS as the tests use them).

#[macro_use]
mod common;
use depot_test_support as support;

use std::process::Command;

use common::*;
use support::*;

/// Seconds each wrk run lasts.
const SECONDS: &str = "6";

fn main() {
    start_figures("spin");
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
    for (label, runtime) in runtimes {
        let server = Server::start_on(runtime);
        let (_, mut samples) = sequential_publishes(&server);
        let (p50, _) = percentiles(&mut samples);
        let mut row = vec![format!("{:.2} ms", ms(p50))];
        for (what, path) in paths {
            let (status, _) = server.get_bytes(path);
            assert_eq!(status, 200, "{label}: {what} {path}");
            row.push(match requests_per_second(&server.at(path)) {
                Some(rps) => format!("{rps:.0}"),
                None => "wrk not installed".to_string(),
            });
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

/// Requests per second `wrk -t2 -c16` sustains on `url`.
fn requests_per_second(url: &str) -> Option<f64> {
    let out = Command::new("wrk")
        .args(["-t2", "-c16", &format!("-d{SECONDS}s"), url])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|n| n.trim().parse().ok())
}
