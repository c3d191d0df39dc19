//! A publish is acknowledged only once it is durable. Killing the server
//! cannot show that (the kernel keeps unsynced writes of a killed process),
//! so `depot serve` is traced with `strace` (Debian package `strace`): for
//! every acknowledged publish, the fsync of its blob, the fsync of the
//! folder the blob was renamed into, and the fsync of the database's commit
//! all come before the `201` is written to the socket.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::*;

/// A completed system call of the trace, in the order they completed.
#[derive(Debug)]
struct Call {
    name: String,
    /// The arguments and result, with `-y` paths (`12</path/to/file>`).
    text: String,
}

/// Reads an `strace -f -y` output file into completed calls, joining
/// `<unfinished ...>` calls to their `resumed` halves (a call counts where it
/// completed).
fn read_trace(path: &Path) -> Vec<Call> {
    let trace = std::fs::read_to_string(path).expect("the trace");
    let mut pending: HashMap<String, (String, String)> = HashMap::new();
    let mut calls = Vec::new();
    for line in trace.lines() {
        let Some((pid, rest)) = line.split_once(' ') else {
            continue;
        };
        let rest = rest.trim_start();
        if let Some(start) = rest.strip_suffix(" <unfinished ...>") {
            if let Some((name, args)) = start.split_once('(') {
                pending.insert(pid.to_string(), (name.to_string(), args.to_string()));
            }
        } else if let Some(resumed) = rest.strip_prefix("<... ") {
            let Some((name, tail)) = resumed.split_once(" resumed>") else {
                continue;
            };
            let (_, args) = pending.remove(pid).unwrap_or_default();
            calls.push(Call {
                name: name.to_string(),
                text: format!("{args}{tail}"),
            });
        } else if let Some((name, args)) = rest.split_once('(') {
            calls.push(Call {
                name: name.to_string(),
                text: args.to_string(),
            });
        }
    }
    calls
}

impl Call {
    fn succeeded(&self) -> bool {
        self.text.trim_end().ends_with("= 0")
    }

    /// Whether this is a successful fsync or fdatasync of the file at a path
    /// `matches` accepts.
    fn syncs(&self, matches: impl Fn(&str) -> bool) -> bool {
        (self.name == "fsync" || self.name == "fdatasync")
            && self.succeeded()
            && self
                .text
                .split_once('<')
                .and_then(|(_, rest)| rest.split_once('>'))
                .is_some_and(|(path, _)| matches(path))
    }

    /// The paths of a successful rename: (from, to).
    fn renamed(&self) -> Option<(String, String)> {
        if !self.name.starts_with("rename") || !self.succeeded() {
            return None;
        }
        let quoted: Vec<&str> = self.text.split('"').skip(1).step_by(2).collect();
        match quoted[..] {
            [from, to] => Some((from.to_string(), to.to_string())),
            _ => None,
        }
    }

    /// Whether this is a write to a socket that starts a `201` response.
    fn acknowledges(&self) -> bool {
        ["write", "writev", "sendto", "sendmsg"].contains(&self.name.as_str())
            && self.text.contains("socket:[")
            && self.text.contains("HTTP/1.1 201")
    }
}

#[test]
fn every_acknowledged_publish_was_fsynced_before_its_response() {
    assert!(
        Command::new("strace").arg("-V").output().is_ok(),
        "strace is missing: this test traces depot serve's fsyncs (apt-get install strace)"
    );
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace");
    // Attach to the running server (every thread, and the ones it starts).
    let mut strace = Command::new("strace")
        .args(["-f", "-y", "-s", "256", "-o"])
        .arg(&trace)
        .args([
            "-e",
            "trace=fsync,fdatasync,rename,renameat,renameat2,write,writev,sendto,sendmsg",
            "-p",
        ])
        .arg(server.pid().to_string())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start strace");
    // strace says on stderr once it is attached.
    let stderr = strace.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let said = lines
        .next()
        .expect("strace to say it attached")
        .expect("strace's stderr");
    assert!(said.contains("attached"), "{said}");
    std::thread::spawn(move || lines.for_each(drop));

    // Content over 16 KiB: kept as a file in the blob folder, not inline.
    let data = server.data.clone();
    let mut digests = Vec::new();
    for i in 0..3 {
        let bytes = big_greeter(i);
        let (status, body) = server.publish("example:durable", &format!("1.{i}.0"), &bytes);
        assert_eq!(status, 201, "{body}");
        digests.push(sha256_hex(&bytes));
    }
    // Stop tracing (strace detaches), then read what it saw.
    let _ = Command::new("kill")
        .args(["-INT", &strace.id().to_string()])
        .status();
    strace.wait().unwrap();
    let calls = read_trace(&trace);

    let acks: Vec<usize> = (0..calls.len())
        .filter(|&i| calls[i].acknowledges())
        .collect();
    assert_eq!(acks.len(), digests.len(), "one 201 per publish");
    let database = data.join("registry.db");
    let database = database.to_str().unwrap();
    let is_database = |path: &str| path == database || path == format!("{database}-wal");
    for (n, hex) in digests.iter().enumerate() {
        // This publish's calls: after the previous acknowledgement, up to its own.
        let from = if n == 0 { 0 } else { acks[n - 1] + 1 };
        let calls = &calls[from..acks[n]];
        let (placed, (temp, blob)) = calls
            .iter()
            .enumerate()
            .find_map(|(i, call)| {
                call.renamed()
                    .filter(|(_, to)| to.ends_with(&format!("/{hex}")))
                    .map(|paths| (i, paths))
            })
            .unwrap_or_else(|| panic!("publish {n}: its blob was not renamed into place"));
        assert!(
            blob.starts_with(data.to_str().unwrap()),
            "publish {n}: {blob}"
        );
        assert!(
            calls[..placed].iter().any(|call| call.syncs(|p| p == temp)),
            "publish {n}: the blob {temp} was not fsynced before it was renamed to {blob}"
        );
        let folder = Path::new(&blob).parent().unwrap().to_str().unwrap();
        assert!(
            calls[placed..]
                .iter()
                .any(|call| call.syncs(|p| p == folder)),
            "publish {n}: the folder {folder} was not fsynced after the rename, before the 201"
        );
        assert!(
            calls[placed..].iter().any(|call| call.syncs(is_database)),
            "publish {n}: the database ({database}) was not fsynced after the blob was placed, \
             before the 201"
        );
    }
}

/// One publish of the crash test's stream: how it was sent, and what.
#[derive(Debug, Clone)]
struct Sent {
    name: &'static str,
    version: String,
    bytes: Vec<u8>,
}

/// Publishes `bytes` as `name@version` at `url` with `token` in one of the
/// three ways a release arrives (`kind` 0: one PUT; 1: the two-phase
/// publish; 2: an OCI push); whether it was acknowledged. A connection cut
/// off (the server was killed) is not an acknowledgement.
pub(crate) fn publish_one(
    url: &str,
    token: &str,
    kind: usize,
    name: &str,
    version: &str,
    bytes: &[u8],
) -> bool {
    use serde_json::json;
    let http = client_with_token(token);
    let ok = |response: reqwest::Result<reqwest::blocking::Response>, want: u16| {
        response.is_ok_and(|r| r.status().as_u16() == want)
    };
    let digest = format!("sha256:{}", sha256_hex(bytes));
    match kind {
        0 => ok(
            http.put(format!("{url}/v1/packages/{name}/versions/{version}"))
                .body(bytes.to_vec())
                .send(),
            201,
        ),
        1 => {
            let manifest = json!({
                "packageType": "component",
                "name": name,
                "version": version,
                "contentDigest": {"sha256": sha256_hex(bytes)},
            });
            let release = format!("{url}/v1/packages/{name}/versions/{version}");
            ok(
                http.post(format!("{url}/v1/releases"))
                    .body(manifest.to_string())
                    .send(),
                201,
            ) && ok(
                http.put(format!("{release}/unpublished/content"))
                    .body(bytes.to_vec())
                    .send(),
                200,
            ) && ok(http.post(release).json(&json!({})).send(), 201)
        }
        _ => {
            let repository = name.replace(':', "/");
            let config = serde_json::to_vec(&json!({
                "created": "2026-01-01T00:00:00Z",
                "architecture": "wasm",
                "os": "wasip2",
                "layerDigests": [digest],
            }))
            .unwrap();
            let config_digest = format!("sha256:{}", sha256_hex(&config));
            let upload = |blob: &[u8], digest: &str| {
                ok(
                    http.post(format!(
                        "{url}/v2/{repository}/blobs/uploads/?digest={digest}"
                    ))
                    .body(blob.to_vec())
                    .send(),
                    201,
                )
            };
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.wasm.config.v0+json",
                    "digest": config_digest,
                    "size": config.len(),
                },
                "layers": [{
                    "mediaType": "application/wasm",
                    "digest": digest,
                    "size": bytes.len(),
                }],
            });
            upload(&config, &config_digest)
                && upload(bytes, &digest)
                && ok(
                    http.put(format!("{url}/v2/{repository}/manifests/{version}"))
                        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
                        .body(serde_json::to_vec(&manifest).unwrap())
                        .send(),
                    201,
                )
        }
    }
}

/// The crash test: a stream of publishes of all three kinds, the server
/// SIGKILLed at a random moment, twenty times in a row (more, up to forty,
/// until each kind was acknowledged five times: on a loaded machine a round
/// may end before a slow kind's publish does). After each restart
/// every acknowledged publish is there with its bytes, every publish that
/// was cut off is there whole or not at all, `depot verify` is clean and the
/// signed checkpoint extends the one seen before the kill.
fn killed_twenty_times_it_loses_nothing_acknowledged(runtime: Runtime) {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let config = temp.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let names = ["example:one", "example:two", "example:oci"];
    let mut acknowledged: Vec<Sent> = Vec::new();
    let mut cut_off: Vec<Sent> = Vec::new();
    let mut token = None;
    // A fixed sequence of pauses: the test is the same on every run.
    let mut seed: u64 = 0x5eed;
    let mut kills = 0;
    let acknowledged_of =
        |sent: &[Sent], name: &str| sent.iter().filter(|s| s.name == name).count();
    for round in 0..40 {
        if round >= 20
            && names
                .iter()
                .all(|name| acknowledged_of(&acknowledged, name) >= 5)
        {
            break;
        }
        let server = Server::start_with(ServerOptions {
            runtime,
            data: Some(data.clone()),
            config: Some(config.clone()),
            token: token.clone(),
            ..ServerOptions::default()
        });
        token = Some(server.token.clone());
        // What was acknowledged is there, byte for byte; what was cut off
        // is whole or absent.
        for sent in &acknowledged {
            let path = format!(
                "/v1/packages/{}/versions/{}/content",
                sent.name, sent.version
            );
            assert_eq!(
                server.get_bytes(&path),
                (200, sent.bytes.clone()),
                "round {round}: acknowledged {sent:?}"
            );
        }
        for sent in cut_off.drain(..) {
            let path = format!(
                "/v1/packages/{}/versions/{}/content",
                sent.name, sent.version
            );
            let (status, bytes) = server.get_bytes(&path);
            assert!(
                status == 404 || (status == 200 && bytes == sent.bytes),
                "round {round}: a publish cut off is half there: {status} for {sent:?}"
            );
            if status == 200 {
                acknowledged.push(sent);
            }
        }
        // Every entry against its checkpoint, and the checkpoint against
        // the one this client saw before the kill.
        let said = ok(server.cli(&["verify"]));
        assert!(said.contains("log entries match"), "round {round}: {said}");

        let (url, secret) = (server.url.clone(), server.token.clone());
        let first = round * 1000;
        let stream = std::thread::spawn(move || {
            let mut sent = Vec::new();
            for i in 0.. {
                let kind = i % 3;
                let release = Sent {
                    name: names[kind],
                    version: format!("1.0.{}", first + i),
                    bytes: greeter_n(first + i),
                };
                let done = publish_one(
                    &url,
                    &secret,
                    kind,
                    release.name,
                    &release.version,
                    &release.bytes,
                );
                sent.push((release, done));
                if !done {
                    break;
                }
            }
            sent
        });
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        std::thread::sleep(Duration::from_millis(100 + (seed >> 33) % 400));
        drop(server); // SIGKILL
        kills += 1;
        for (release, done) in stream.join().unwrap() {
            if done {
                acknowledged.push(release);
            } else {
                cut_off.push(release);
            }
        }
    }
    // Every kind of publish was acknowledged, many times over.
    for name in names {
        let n = acknowledged_of(&acknowledged, name);
        assert!(n >= 5, "{name}: {n} acknowledged");
    }
    eprintln!(
        "{runtime:?}: {} publishes acknowledged over {kills} kills",
        acknowledged.len()
    );
}

on_every_runtime!(killed_twenty_times_it_loses_nothing_acknowledged);

#[test]
fn a_backup_taken_while_serving_restores_a_registry_that_verifies_clean() {
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let server = Server::start_with(ServerOptions {
        data: Some(data.clone()),
        ..ServerOptions::default()
    });
    // Content past the database's 16 KiB, so blob files are backed up too.
    let big = big_greeter;
    for i in 0..5 {
        assert_eq!(
            server
                .publish("example:big", &format!("1.0.{i}"), &big(i))
                .0,
            201
        );
        assert_eq!(
            server
                .publish("example:small", &format!("1.0.{i}"), &greeter_n(i))
                .0,
            201
        );
    }
    // Publishes keep landing while the backup is taken.
    let (url, token) = (server.url.clone(), server.token.clone());
    let stream = std::thread::spawn(move || {
        let http = client_with_token(&token);
        for i in 5..40 {
            let response = http
                .put(format!("{url}/v1/packages/example:small/versions/1.0.{i}"))
                .body(greeter_n(i))
                .send()
                .unwrap();
            assert_eq!(response.status(), 201);
        }
    });
    let backup = temp.path().join("backup");
    let said = ok(Command::new(DEPOT)
        .args(["backup", "--data"])
        .arg(&data)
        .arg("--to")
        .arg(&backup)
        .output()
        .unwrap());
    assert!(said.contains("backed up"), "{said}");
    stream.join().unwrap();
    // A second backup into the same place is refused, not mixed in.
    let refused = fails(
        Command::new(DEPOT)
            .args(["backup", "--data"])
            .arg(&data)
            .arg("--to")
            .arg(&backup)
            .output()
            .unwrap(),
    );
    assert!(refused.contains("not empty"), "{refused}");

    let restored_data = temp.path().join("restored");
    ok(Command::new(DEPOT)
        .args(["restore", "--from"])
        .arg(&backup)
        .arg("--data")
        .arg(&restored_data)
        .output()
        .unwrap());
    let restored = Server::start_with(ServerOptions {
        data: Some(restored_data),
        token: Some(server.token.clone()),
        ..ServerOptions::default()
    });
    let said = ok(restored.cli(&["verify"]));
    assert!(said.contains("log entries match"), "{said}");
    // The same feed as the origin's, up to where the snapshot was taken,
    // and the same bytes.
    let (_, feed) = restored.get_json("/v1/feed?since=0&limit=1000");
    let entries = feed["entries"].as_array().unwrap();
    assert!(entries.len() >= 10, "{} entries", entries.len());
    let (_, origin) = server.get_json(&format!("/v1/feed?since=0&limit={}", entries.len()));
    assert_eq!(feed["entries"], origin["entries"]);
    for i in 0..5 {
        assert_eq!(
            restored.get_bytes(&format!(
                "/v1/packages/example:big/versions/1.0.{i}/content"
            )),
            (200, big(i))
        );
    }
    let (_, checkpoint) = restored.get_bytes("/v1/log/checkpoint");
    let text = String::from_utf8(checkpoint).unwrap();
    assert!(
        text.lines().nth(1) == Some(&entries.len().to_string()),
        "the restored checkpoint is not at the snapshot's head:\n{text}"
    );
}

/// The PostgreSQL + S3 backup of docs/operations.md: `pg_dump` taken while
/// publishes land, then the bucket (which blobs are only ever added to, so
/// the live one stands for its copy). A database loaded from the dump, on
/// that bucket, is a registry that verifies clean and serves the same feed,
/// bytes and checkpoint as the original did at the dump.
#[test]
fn a_pg_dump_taken_while_serving_restores_a_registry_that_verifies_clean() {
    let server = Server::start_on(Runtime::Shared);
    for i in 0..5 {
        let version = format!("1.0.{i}");
        assert_eq!(
            server.publish("example:big", &version, &big_greeter(i)).0,
            201
        );
        assert!(publish_one(
            &server.url,
            &server.token,
            2,
            "example:oci",
            &version,
            &greeter_n(100 + i),
        ));
    }
    let (url, token) = (server.url.clone(), server.token.clone());
    let stream = std::thread::spawn(move || {
        let http = client_with_token(&token);
        for i in 5..30 {
            let response = http
                .put(format!("{url}/v1/packages/example:small/versions/1.0.{i}"))
                .body(greeter_n(i))
                .send()
                .unwrap();
            assert_eq!(response.status(), 201);
        }
    });
    let store = SharedStore::of(&server.data);
    let temp = tempfile::tempdir().unwrap();
    let dump = temp.path().join("registry.dump");
    let dumped = Command::new("pg_dump")
        .args(["--format=custom", "--serializable-deferrable", "--file"])
        .arg(&dump)
        .arg(&store.database)
        .output()
        .expect("run pg_dump (Debian: postgresql-client)");
    assert!(
        dumped.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&dumped.stderr)
    );
    stream.join().unwrap();

    let restored = Server::start_with(ServerOptions {
        runtime: Runtime::Shared,
        shared: Some(store.restore_dump(&dump)),
        token: Some(server.token.clone()),
        ..ServerOptions::default()
    });
    let said = ok(restored.cli(&["verify"]));
    assert!(said.contains("log entries match"), "{said}");
    let (_, feed) = restored.get_json("/v1/feed?since=0&limit=1000");
    let entries = feed["entries"].as_array().unwrap();
    assert!(entries.len() >= 10, "{} entries", entries.len());
    let (_, origin) = server.get_json(&format!("/v1/feed?since=0&limit={}", entries.len()));
    assert_eq!(feed["entries"], origin["entries"]);
    for i in 0..5 {
        let version = format!("1.0.{i}");
        assert_eq!(
            restored.get_bytes(&format!(
                "/v1/packages/example:big/versions/{version}/content"
            )),
            (200, big_greeter(i))
        );
        assert_eq!(
            restored.get_bytes(&format!(
                "/v1/packages/example:oci/versions/{version}/content"
            )),
            (200, greeter_n(100 + i))
        );
    }
    let (_, checkpoint) = restored.get_bytes("/v1/log/checkpoint");
    let text = String::from_utf8(checkpoint).unwrap();
    assert!(
        text.lines().nth(1) == Some(&entries.len().to_string()),
        "the restored checkpoint is not at the dump's head:\n{text}"
    );
}
