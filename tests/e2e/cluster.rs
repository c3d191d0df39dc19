//! Many `depot serve` instances on one PostgreSQL database and one S3 bucket
//! (SeaweedFS) answer as one registry: racing publishes spread over them,
//! an OCI upload that moves between them, the feed's long poll woken by
//! another instance's publish, a token revoked on one refused on all, an
//! instance killed mid-stream losing nothing acknowledged, and a mirror
//! following the cluster.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// `n` instances of `runtime` (`Shared`, or `SpinShared`: replicas of the
/// Spin build) on one new database and bucket. Native instances: the first
/// makes the operator's token, which the others share. Spin replicas: every
/// one is given the operator's token as its `operator_token` variable (a
/// token `depot token generate` made), as SpinKube hands each replica one
/// `Secret`, and none prints one.
fn cluster(runtime: Runtime, n: usize) -> Vec<Server> {
    let shared = SharedStore::fresh();
    let configured = (runtime == Runtime::SpinShared).then(generate_token);
    let start = |token: Option<String>| {
        Server::start_with(ServerOptions {
            runtime,
            shared: Some(shared.clone()),
            token,
            env: configured
                .iter()
                .map(|token| ("SPIN_VARIABLE_OPERATOR_TOKEN".to_string(), token.clone()))
                .collect(),
            ..ServerOptions::default()
        })
    };
    let first = start(configured.clone());
    assert_eq!(first.printed_token.is_some(), configured.is_none());
    let token = first.token.clone();
    let mut servers = vec![first];
    for _ in 1..n {
        let server = start(Some(token.clone()));
        // The database already has an operator's token: no second one.
        assert_eq!(server.printed_token, None);
        servers.push(server);
    }
    servers
}

on_runtimes!(
    [shared = Shared, spin_shared = SpinShared]
    [
        racing_publishes_over_three_instances_make_one_log,
        an_oci_upload_moves_between_instances,
        a_long_poll_on_one_instance_wakes_for_a_publish_on_another,
        a_token_revoked_on_one_instance_is_refused_by_all_at_once,
        an_instance_killed_mid_stream_loses_nothing_acknowledged,
        a_mirror_follows_the_cluster,
    ]
);

fn whole_feed(server: &Server) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut since = 0;
    loop {
        let (status, page) = server.get_json(&format!("/v1/feed?since={since}"));
        assert_eq!(status, 200, "{page}");
        let got = page["entries"].as_array().unwrap().clone();
        if got.is_empty() {
            return entries;
        }
        since = page["next"].as_u64().unwrap();
        entries.extend(got);
    }
}

fn racing_publishes_over_three_instances_make_one_log(runtime: Runtime) {
    let servers = Arc::new(cluster(runtime, 3));
    // Twelve publishers race for one version, four at each instance.
    let racers = 12;
    let barrier = Arc::new(Barrier::new(racers));
    let answers: Vec<(u16, Value)> = (0..racers)
        .map(|i| {
            let (servers, barrier) = (servers.clone(), barrier.clone());
            std::thread::spawn(move || {
                let server = &servers[i % 3];
                barrier.wait();
                server.publish("example:race", "1.0.0", &greeter_n(i))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let outcomes: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    assert_eq!(
        outcomes.iter().filter(|s| **s == 201).count(),
        1,
        "{answers:#?}"
    );
    assert_eq!(
        outcomes.iter().filter(|s| **s == 409).count(),
        racers - 1,
        "{answers:#?}"
    );

    // Distinct versions all land, spread over the instances at once.
    let barrier = Arc::new(Barrier::new(racers));
    let published: Vec<u16> = (0..racers)
        .map(|i| {
            let (servers, barrier) = (servers.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                servers[i % 3]
                    .publish("example:many", &format!("1.{i}.0"), &greeter_n(i))
                    .0
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert!(published.iter().all(|s| *s == 201), "{published:?}");

    // One log: every instance serves the same entries, numbered 1..=13
    // without a gap, and the same signed tree, which verifies.
    let feeds: Vec<Vec<Value>> = servers.iter().map(whole_feed).collect();
    let seqs: Vec<u64> = feeds[0]
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=13).collect::<Vec<_>>());
    assert!(feeds.iter().all(|feed| *feed == feeds[0]));
    let versions: BTreeSet<&str> = feeds[0]
        .iter()
        .filter(|e| e["package"] == "example:many")
        .map(|e| e["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions.len(), racers);
    for server in servers.iter() {
        let said = ok(server.cli(&["verify"]));
        assert!(said.contains("13 log entries match"), "{said}");
    }
}

fn an_oci_upload_moves_between_instances(runtime: Runtime) {
    let servers = cluster(runtime, 3);
    let http = servers[0].http();
    let bytes: Vec<u8> = (0..3 * 1024 * 1024 + 11).map(|i| (i % 239) as u8).collect();
    let digest = format!("sha256:{}", sha256_hex(&bytes));
    // POST at the first, a PATCH at each of the others, the closing PUT at the first.
    let start = http
        .post(servers[0].at("/v2/example/moving/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(start.status(), 202);
    let mut location = start.headers()["location"].to_str().unwrap().to_string();
    let (first, rest) = bytes.split_at(2 * 1024 * 1024);
    for (server, chunk, from) in [(&servers[1], first, 0), (&servers[2], rest, first.len())] {
        let patched = http
            .patch(server.at(&location))
            .header("content-type", "application/octet-stream")
            .header(
                "content-range",
                format!("{}-{}", from, from + chunk.len() - 1),
            )
            .body(chunk.to_vec())
            .send()
            .unwrap();
        assert_eq!(patched.status(), 202, "{:?}", patched.text());
        location = patched.headers()["location"].to_str().unwrap().to_string();
    }
    let separator = if location.contains('?') { '&' } else { '?' };
    let closed = http
        .put(servers[0].at(&format!("{location}{separator}digest={digest}")))
        .send()
        .unwrap();
    assert_eq!(closed.status(), 201, "{:?}", closed.text());
    for server in &servers {
        let (status, got) = server.get_bytes(&format!("/v2/example/moving/blobs/{digest}"));
        assert_eq!(status, 200);
        assert!(got == bytes, "instance {} serves other bytes", server.url);
    }
}

fn a_long_poll_on_one_instance_wakes_for_a_publish_on_another(runtime: Runtime) {
    let servers = cluster(runtime, 2);
    assert_eq!(
        servers[0]
            .publish("example:greet", "1.0.0", &greeter_n(0))
            .0,
        201
    );
    let url = servers[1].at("/v1/feed?since=1&wait=30");
    let poll = std::thread::spawn(move || {
        let started = std::time::Instant::now();
        let answer = status_json(client().get(url).send().unwrap());
        (answer, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        servers[0]
            .publish("example:greet", "1.1.0", &greeter_n(1))
            .0,
        201
    );
    let ((status, page), waited) = poll.join().unwrap();
    assert_eq!(status, 200);
    // A poll that ran out its 30 s would answer with no entries.
    assert_eq!(page["entries"][0]["version"], "1.1.0", "{page}");
    assert!(waited < Duration::from_secs(30), "{waited:?}");
}

fn a_token_revoked_on_one_instance_is_refused_by_all_at_once(runtime: Runtime) {
    let servers = cluster(runtime, 3);
    let (status, made) = servers[0].post(
        "/v1/tokens",
        &serde_json::json!({ "namespaces": ["example"], "label": "ci" }),
    );
    assert_eq!(status, 201, "{made}");
    let secret = made["token"].as_str().unwrap().to_string();
    let id = made["id"].as_str().unwrap().to_string();
    let with_token = |server: &Server, version: &str| {
        client_with_token(&secret)
            .put(server.at(&format!("/v1/packages/example:greet/versions/{version}")))
            .body(greeter_n(0))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(with_token(&servers[2], "1.0.0"), 201);
    let revoked = servers[1]
        .http()
        .delete(servers[1].at(&format!("/v1/tokens/{id}")))
        .send()
        .unwrap();
    assert_eq!(revoked.status(), 200);
    // The very next request, at either other instance, is refused.
    assert_eq!(with_token(&servers[0], "1.1.0"), 401);
    assert_eq!(with_token(&servers[2], "1.2.0"), 401);
}

fn an_instance_killed_mid_stream_loses_nothing_acknowledged(runtime: Runtime) {
    let mut servers = cluster(runtime, 3);
    let victim = servers.remove(1);
    let victim_url = victim.url.clone();
    let token = servers[0].token.clone();
    // A stream of publishes to the victim, from a thread, until it dies.
    let stream = std::thread::spawn(move || {
        let http = client_with_token(&token);
        let mut acknowledged = Vec::new();
        for i in 0..10_000 {
            let version = format!("1.0.{i}");
            let sent = http
                .put(format!(
                    "{victim_url}/v1/packages/example:stream/versions/{version}"
                ))
                .body(greeter_n(i % 7))
                .send();
            match sent {
                Ok(response) if response.status() == 201 => acknowledged.push(version),
                Ok(response) => panic!("publish {version}: {}", response.status()),
                Err(_) => break,
            }
        }
        acknowledged
    });
    // The others keep serving while it runs and when it is killed.
    for i in 0..5 {
        assert_eq!(
            servers[i % 2]
                .publish("example:other", &format!("2.0.{i}"), &greeter_n(i))
                .0,
            201
        );
    }
    // SIGKILL (Child::kill) mid-stream.
    drop(victim);
    let acknowledged = stream.join().unwrap();
    assert!(!acknowledged.is_empty());
    assert_eq!(
        servers[0]
            .publish("example:other", "3.0.0", &greeter_n(1))
            .0,
        201
    );
    for server in &servers {
        for version in &acknowledged {
            let (status, release) =
                server.get_json(&format!("/v1/packages/example:stream/versions/{version}"));
            assert_eq!(status, 200, "{version} at {}: {release}", server.url);
        }
        let said = ok(server.cli(&["verify"]));
        assert!(said.contains("log entries match"), "{said}");
    }
}

fn a_mirror_follows_the_cluster(runtime: Runtime) {
    let servers = cluster(runtime, 2);
    assert_eq!(
        servers[0]
            .publish("example:greet", "1.0.0", &greeter_n(0))
            .0,
        201
    );
    let mirror = Server::start_with(ServerOptions {
        mirror_of: Some(servers[1].url.clone()),
        ..ServerOptions::default()
    });
    // Published at the instance the mirror does not follow.
    assert_eq!(
        servers[0]
            .publish("example:greet", "1.1.0", &greeter_n(1))
            .0,
        201
    );
    let mut waited = 0;
    loop {
        let (status, _) = mirror.get_json("/v1/packages/example:greet/versions/1.1.0");
        if status == 200 {
            break;
        }
        waited += 1;
        assert!(waited < 600, "the mirror did not get 1.1.0 in 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, bytes) = mirror.get_bytes("/v1/packages/example:greet/versions/1.1.0/content");
    assert_eq!((status, bytes), (200, greeter_n(1)));
    assert_eq!(whole_feed(&mirror), whole_feed(&servers[0]));
}

/// A PostgreSQL server of this test's own (`scripts/postgres`), to take down
/// and bring back; removed when dropped.
struct OwnPostgres {
    url: String,
    dir: String,
}

impl OwnPostgres {
    fn script(args: &[&str]) -> String {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/postgres");
        let out = std::process::Command::new(script)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "scripts/postgres {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn start() -> Self {
        let said = Self::script(&["start"]);
        let value = |name: &str| {
            said.lines()
                .find_map(|line| line.strip_prefix(&format!("export {name}=")))
                .unwrap()
                .to_string()
        };
        Self {
            url: value("DEPOT_TEST_DATABASE_URL"),
            dir: value("DEPOT_TEST_PG_DIR"),
        }
    }

    fn down(&self) {
        Self::script(&["down", &self.dir]);
    }

    fn up(&self) {
        Self::script(&["up", &self.dir]);
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = std::panic::catch_unwind(|| Self::script(&["stop", &self.dir]));
    }
}

#[test]
fn a_database_that_goes_away_is_a_503_to_retry_and_the_instance_recovers() {
    let postgres = OwnPostgres::start();
    let server = Server::start_with(ServerOptions {
        runtime: Runtime::Shared,
        shared: Some(SharedStore::new_on(&postgres.url)),
        ..ServerOptions::default()
    });
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(0)).0,
        201
    );

    postgres.down();
    let release = "/v1/packages/example:greet/versions/1.0.0";
    for attempt in [
        server.http().get(server.at(release)).send().unwrap(),
        server
            .http()
            .put(server.at("/v1/packages/example:greet/versions/1.1.0"))
            .body(greeter_n(1))
            .send()
            .unwrap(),
    ] {
        assert_eq!(attempt.headers()["retry-after"], "1");
        let got = status_json(attempt);
        assert_error(&got, 503, "storage-unavailable");
    }
    let oci = server
        .http()
        .get(server.at("/v2/example/greet/tags/list"))
        .send()
        .unwrap();
    assert_eq!(oci.status(), 503);
    assert_eq!(oci.headers()["retry-after"], "1");

    // Back: the next requests reconnect, and nothing was half-done.
    postgres.up();
    assert_eq!(server.get_json(release).0, 200);
    assert_eq!(
        server.publish("example:greet", "1.1.0", &greeter_n(1)).0,
        201
    );
    let said = ok(server.cli(&["verify"]));
    assert!(said.contains("2 log entries match"), "{said}");
}

/// A TCP forwarder to the test S3 server that can be cut off: while cut,
/// its open connections are closed and new ones closed as they come, as a
/// bucket that became unreachable.
struct CuttableS3 {
    address: String,
    cut: Arc<AtomicBool>,
}

impl CuttableS3 {
    fn start() -> Self {
        let endpoint = std::env::var("DEPOT_TEST_S3_ENDPOINT").unwrap();
        let upstream = endpoint.trim_start_matches("http://").to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let cut = Arc::new(AtomicBool::new(false));
        let cutting = cut.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                if cutting.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let cutting = cutting.clone();
                    std::thread::spawn(move || pipe(from, to, &cutting));
                }
            }
        });
        Self { address, cut }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either ends or the forwarder is cut.
fn pipe(mut from: std::net::TcpStream, mut to: std::net::TcpStream, cut: &AtomicBool) {
    use std::io::{ErrorKind, Read, Write};
    from.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buffer = vec![0; 64 * 1024];
    while !cut.load(Ordering::SeqCst) {
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

#[test]
fn a_bucket_that_goes_away_is_a_503_to_retry_and_the_instance_recovers() {
    let s3 = CuttableS3::start();
    let mut shared = SharedStore::fresh();
    let endpoint = std::env::var("DEPOT_TEST_S3_ENDPOINT").unwrap();
    shared.blobs = shared
        .blobs
        .replace(&endpoint, &format!("http://{}", s3.address));
    let server = Server::start_with(ServerOptions {
        runtime: Runtime::Shared,
        shared: Some(shared),
        ..ServerOptions::default()
    });
    // Past the size kept in the database: the content is in the bucket.
    let big = big_greeter;
    assert_eq!(server.publish("example:big", "1.0.0", &big(0)).0, 201);

    s3.set_cut(true);
    let content = "/v1/packages/example:big/versions/1.0.0/content";
    // Answered while the bucket is away: a request retried for minutes (the
    // S3 client's defaults) outlasts the test client's 120 s timeout.
    for attempt in [
        server.http().get(server.at(content)).send().unwrap(),
        server
            .http()
            .put(server.at("/v1/packages/example:big/versions/1.1.0"))
            .body(big(1))
            .send()
            .unwrap(),
    ] {
        assert_eq!(attempt.headers()["retry-after"], "1");
        let got = status_json(attempt);
        assert_error(&got, 503, "storage-unavailable");
    }
    // The refused publish left nothing: no release, no log entry.
    let release = "/v1/packages/example:big/versions/1.1.0";
    assert_eq!(server.get_json(release).0, 404);
    // Readiness says why it cannot serve; the process is still up.
    let not_ready = assert_error(&server.get_json("/readyz"), 503, "not-ready");
    assert!(not_ready.contains("blob store"), "{not_ready}");
    assert_eq!(server.get_json("/healthz").0, 200);

    s3.set_cut(false);
    assert_eq!(server.get_json("/readyz").0, 200);
    assert_eq!(server.get_bytes(content), (200, big(0)));
    assert_eq!(server.publish("example:big", "1.1.0", &big(1)).0, 201);
    assert_eq!(
        server.get_bytes(&format!("{release}/content")),
        (200, big(1))
    );
    let said = ok(server.cli(&["verify"]));
    assert!(said.contains("2 log entries match"), "{said}");
}

#[test]
fn start_up_says_which_of_the_database_and_the_bucket_is_wrong() {
    let shared = SharedStore::fresh();
    let serve = |database: &str, blobs: &str| {
        let data = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(DEPOT)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .args(["--database", database, "--blobs", blobs])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // It must stop by itself: a server that started is stopped and fails the test.
        let mut waited = 0;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            waited += 1;
            if waited > 600 {
                let _ = child.kill();
                panic!("depot serve started with --database {database} --blobs {blobs}");
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(!status.success());
        let mut said = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut said).unwrap();
        said
    };
    // Nothing listens on port 1.
    let said = serve("postgres://postgres@127.0.0.1:1/depot", &shared.blobs);
    assert!(said.contains("cannot connect to the database"), "{said}");
    let said = serve("not a url", &shared.blobs);
    assert!(said.contains("is not a PostgreSQL URL"), "{said}");
    let missing = shared
        .blobs
        .replacen("s3://depot/", "s3://no-such-bucket/", 1);
    let said = serve(&shared.database, &missing);
    assert!(said.contains("cannot read bucket no-such-bucket"), "{said}");
    let said = serve(&shared.database, "s3:/x");
    assert!(said.contains("is not a bucket URL"), "{said}");
}
