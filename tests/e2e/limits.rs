//! The sandbox's limits: content size, per-request deadline and memory, with
//! hostile handlers swapped in through the handler manifest.

use std::time::{Duration, Instant};

use crate::support::*;

/// A server whose policy role is filled by the fixture `file`.
fn server_with_policy(file: &str, extra: &[&str]) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("handlers.toml");
    std::fs::write(
        &manifest,
        format!(
            "policy = {:?}\n",
            fixture_handler(file).display().to_string()
        ),
    )
    .unwrap();
    let mut args = vec!["--handlers".to_string(), manifest.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    (
        Server::start_with(ServerOptions {
            args,
            ..ServerOptions::default()
        }),
        dir,
    )
}

#[test]
fn content_over_the_size_limit_is_refused_before_and_during_upload() {
    let server = Server::start_with(ServerOptions {
        args: vec!["--max-content-size".into(), "4096".into()],
        ..ServerOptions::default()
    });
    let big = greeter(&Meta {
        padding: 10_000,
        ..Meta::default()
    });
    // With a Content-Length: refused up front.
    let message = assert_error(
        &server.publish("example:big", "1.0.0", &big),
        413,
        "too-large",
    );
    assert!(message.contains("4096"), "{message}");
    // Chunked, without a Content-Length: refused while reading.
    let body = reqwest::blocking::Body::new(ChunkReader(big.clone(), 0));
    let response = server
        .http()
        .put(server.at("/v1/packages/example:big/versions/1.0.0"))
        .body(body)
        .send()
        .unwrap();
    assert_error(&status_json(response), 413, "too-large");
    assert_error(
        &server.get_json("/v1/packages/example:big"),
        404,
        "not-found",
    );
    // Under the limit is fine.
    assert_eq!(
        server.publish("example:small", "1.0.0", &greeter_n(1)).0,
        201
    );
}

/// A reader of unknown length, so reqwest sends the body chunked.
struct ChunkReader(Vec<u8>, usize);

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(1000).min(self.0.len() - self.1);
        buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
        self.1 += n;
        Ok(n)
    }
}

#[test]
fn a_handler_that_never_returns_is_stopped_at_the_deadline_while_others_are_served() {
    let (server, _dir) = server_with_policy("policy_endless.wasm", &["--request-deadline", "3s"]);
    let server = std::sync::Arc::new(server);
    let publisher = {
        let server = server.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            let got = server.publish("example:greet", "1.0.0", &greeter_n(1));
            (got, start.elapsed())
        })
    };
    // While the policy spins, reads keep being answered promptly.
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..5 {
        let start = Instant::now();
        let (status, _) = server.get_json("/v1/packages");
        assert_eq!(status, 200);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "a read waited {:?}",
            start.elapsed()
        );
    }
    let (got, elapsed) = publisher.join().unwrap();
    let message = assert_error(&got, 504, "deadline-exceeded");
    assert!(message.contains("--request-deadline"), "{message}");
    assert!(
        elapsed >= Duration::from_secs(3) && elapsed < Duration::from_secs(30),
        "{elapsed:?}"
    );
    assert_error(
        &server.get_json("/v1/packages/example:greet"),
        404,
        "not-found",
    );
}

#[test]
fn a_handler_that_allocates_without_bound_hits_the_memory_limit() {
    let (server, _dir) = server_with_policy("policy_greedy.wasm", &["--memory-limit", "64MiB"]);
    let message = assert_error(
        &server.publish("example:greet", "1.0.0", &greeter_n(1)),
        503,
        "memory-limit-exceeded",
    );
    assert!(message.contains("--memory-limit"), "{message}");
    // The server goes on serving.
    let (status, _) = server.get_json("/v1/packages");
    assert_eq!(status, 200);
    assert_error(
        &server.get_json("/v1/packages/example:greet"),
        404,
        "not-found",
    );
}

#[test]
fn a_bad_handler_manifest_stops_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("handlers.toml");
    let start_with = |contents: &str| {
        std::fs::write(&manifest, contents).unwrap();
        let out = std::process::Command::new(DEPOT)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .arg("--handlers")
            .arg(&manifest)
            .output()
            .unwrap();
        assert!(!out.status.success(), "started with {contents:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = start_with("policy = \"/no/such/policy.wasm\"\n");
    assert!(err.contains("/no/such/policy.wasm"), "{err}");
    let err = start_with("polcy = \"builtin\"\n");
    assert!(err.contains("polcy"), "{err}");
}
