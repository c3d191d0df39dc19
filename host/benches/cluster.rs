//! Figures for Depot on shared storage: `depot serve` instances on one
//! PostgreSQL database and one S3 bucket (SeaweedFS), all on this machine.
//! Publish latency with one instance; publishes per second with 16
//! concurrent publishers over 1 and over 3 instances; release-JSON GET
//! throughput over 1 and 3 instances (wrk, Debian package `wrk`); 32 MiB
//! download speed; feed wake-up latency across instances.
//!
//! Run with `scripts/with-services cargo bench -p depot --bench cluster`
//! (it starts PostgreSQL and SeaweedFS unless DEPOT_TEST_DATABASE_URL and
//! DEPOT_TEST_S3_ENDPOINT name servers).

#[macro_use]
mod common;
use depot_test_support as support;

use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;
use support::*;

const MIB: usize = 1024 * 1024;

fn main() {
    start_figures("cluster");
    let shared = SharedStore::fresh();
    let start = |token: Option<String>| {
        Server::start_with(ServerOptions {
            runtime: Runtime::Shared,
            shared: Some(shared.clone()),
            token,
            args: vec!["--max-content-size".into(), (64 * MIB).to_string()],
            ..ServerOptions::default()
        })
    };
    let first = start(None);
    figure!(
        "depot on PostgreSQL + S3 (SeaweedFS), all on one 2-core machine: {}",
        first.url
    );
    publish_latency(&first);
    concurrent_publishes(&[&first], "1 instance");
    let token = Some(first.token.clone());
    let (second, third) = (start(token.clone()), start(token));
    concurrent_publishes(&[&first, &second, &third], "3 instances");
    get_throughput(&[&first]);
    get_throughput(&[&first, &second, &third]);
    download_speed(&first, &second);
    feed_wakeup(&first, &second);
    let rss: Vec<String> = [&first, &second, &third]
        .iter()
        .map(|server| format!("{} MiB", rss_kib(server.pid()) / 1024))
        .collect();
    figure!(
        "resident memory of each instance after the run: {}",
        rss.join(", ")
    );
}

fn publish_latency(server: &Server) {
    let (size, mut samples) = sequential_publishes(server);
    let (p50, p99) = percentiles(&mut samples);
    figure!(
        "publish, sequential, one instance, {size} B component: p50 {:.2} ms, p99 {:.2} ms",
        ms(p50),
        ms(p99)
    );
}

/// 16 publishers at once, spread over `servers`, each publishing versions of
/// a package of its own (as a registry's publishers do: racing publishes of
/// one package retry on its moved head): publishes per second over all.
fn concurrent_publishes(servers: &[&Server], label: &str) {
    let publishers = 16;
    let per_publisher = 40;
    let bytes = Arc::new(greeter(&Meta {
        padding: 10_000,
        ..Meta::default()
    }));
    let barrier = Arc::new(Barrier::new(publishers + 1));
    let over = ["", "one", "two", "three"][servers.len()];
    let threads: Vec<_> = (0..publishers)
        .map(|p| {
            let (url, token) = (
                servers[p % servers.len()].url.clone(),
                servers[0].token.clone(),
            );
            let (bytes, barrier) = (bytes.clone(), barrier.clone());
            let package = format!("bench:{over}-{}", (b'a' + p as u8) as char);
            std::thread::spawn(move || {
                let http = client_with_token(&token);
                barrier.wait();
                for i in 0..per_publisher {
                    let response = http
                        .put(format!("{url}/v1/packages/{package}/versions/{p}.{i}.0"))
                        .body(bytes.to_vec())
                        .send()
                        .expect("PUT");
                    let (status, body) = status_json(response);
                    assert_eq!(status, 201, "{body}");
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for thread in threads {
        thread.join().unwrap();
    }
    let took = start.elapsed();
    let total = publishers * per_publisher;
    figure!(
        "publishes, 16 concurrent publishers over {label}: {:.0} publishes/s ({total} in {:.1} s)",
        total as f64 / took.as_secs_f64(),
        took.as_secs_f64()
    );
}

/// Release-JSON GETs with wrk, 16 connections spread over `servers`, 10 s.
fn get_throughput(servers: &[&Server]) {
    let connections = 16 / servers.len();
    // All at once, so the instances serve side by side.
    let children: Result<Vec<_>, _> = servers
        .iter()
        .map(|server| {
            let url = server.at("/v1/packages/bench:publish/versions/1.0.7");
            Command::new("wrk")
                .args(["-t1", &format!("-c{connections}"), "-d10s", &url])
                .stdout(std::process::Stdio::piped())
                .spawn()
        })
        .collect();
    let Ok(children) = children else {
        figure!("release JSON GET: wrk not installed (apt-get install wrk); skipped");
        return;
    };
    let mut total = 0.0;
    for child in children {
        let out = child.wait_with_output().expect("wrk");
        let text = String::from_utf8_lossy(&out.stdout);
        total += text
            .lines()
            .find_map(|l| l.strip_prefix("Requests/sec:"))
            .and_then(|n| n.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
    }
    figure!(
        "release JSON GET, wrk 16 connections over {} instance(s), 10 s: {total:.0} req/s",
        servers.len()
    );
}

fn download_speed(publisher: &Server, reader: &Server) {
    let bytes = greeter(&Meta {
        padding: 32 * MIB,
        ..Meta::default()
    });
    let (status, body) = publisher.publish("bench:large", "1.0.0", &bytes);
    assert_eq!(status, 201, "{body}");
    let url = reader.at("/v1/packages/bench:large/versions/1.0.0/content");
    let http = client();
    let rounds = 5;
    let mut total = Duration::ZERO;
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let start = Instant::now();
        let got = http.get(&url).send().expect("GET").bytes().expect("body");
        let took = start.elapsed();
        assert_eq!(got.len(), bytes.len());
        total += took;
        best = best.min(took.as_secs_f64());
    }
    let mb = bytes.len() as f64 / 1e6;
    figure!(
        "download, 32 MiB from S3 through another instance: mean {:.0} MB/s, best {:.0} MB/s",
        mb * rounds as f64 / total.as_secs_f64(),
        mb / best
    );
}

/// How long after a publish at `publisher` returns a long poll at `waiter`
/// answers with it.
fn feed_wakeup(publisher: &Server, waiter: &Server) {
    let rounds = 50;
    let mut samples = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let (_, stats) = waiter.get_json("/v1/stats");
        let since = stats["head"].as_u64().expect("the log's head");
        let url = waiter.at(&format!("/v1/feed?since={since}&wait=30"));
        let poll = std::thread::spawn(move || {
            let response = client().get(url).send().expect("GET");
            let answered = Instant::now();
            (status_json(response), answered)
        });
        // Let the poll reach the server and wait.
        std::thread::sleep(Duration::from_millis(200));
        let (status, body) = publisher.publish("bench:wake", &format!("1.0.{i}"), &greeter_n(i));
        let published = Instant::now();
        assert_eq!(status, 201, "{body}");
        let ((status, page), answered) = poll.join().unwrap();
        assert_eq!(status, 200);
        assert_eq!(page["entries"][0]["version"], format!("1.0.{i}"), "{page}");
        samples.push(answered.saturating_duration_since(published));
    }
    let (p50, p99) = percentiles(&mut samples);
    figure!(
        "feed wake-up across instances (publish returned -> long poll at another answered): \
         p50 {:.1} ms, p99 {:.1} ms (target within 1 s)",
        ms(p50),
        ms(p99)
    );
}
