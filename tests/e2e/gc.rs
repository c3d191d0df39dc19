//! `depot gc` against a registry that serves meanwhile: it removes what
//! nothing names, and never what an acknowledged publish or push names.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::durability::publish_one;
use crate::support::*;

/// `depot gc` on `server`'s storage, with `flags`; its JSON report.
fn gc(server: &Server, runtime: Runtime, flags: &[&str]) -> Value {
    let mut command = Command::new(DEPOT);
    command
        .arg("gc")
        .arg("--data")
        .arg(&server.data)
        .arg("--json");
    if runtime == Runtime::Shared {
        command.args(SharedStore::of(&server.data).args());
    }
    let said = ok(command.args(flags).output().expect("run depot gc"));
    serde_json::from_str(&said).unwrap_or_else(|e| panic!("{e}: {said}"))
}

/// Uploads `bytes` as a blob of OCI repository `repository`, then deletes
/// the link: the blob is stored and nothing names it. Whether it was: with
/// no grace period a collection may remove the upload while it is written,
/// or the blob between the upload's last byte and its link into the
/// repository, and the upload is refused.
fn orphan(server: &Server, repository: &str, bytes: &[u8]) -> bool {
    let digest = format!("sha256:{}", sha256_hex(bytes));
    let http = server.http();
    let uploaded = http
        .post(server.at(&format!("/v2/{repository}/blobs/uploads/?digest={digest}")))
        .body(bytes.to_vec())
        .send()
        .unwrap();
    if uploaded.status().as_u16() != 201 {
        return false;
    }
    let unlinked = http
        .delete(server.at(&format!("/v2/{repository}/blobs/{digest}")))
        .send()
        .unwrap();
    assert_eq!(unlinked.status().as_u16(), 202);
    true
}

fn removed(report: &Value, kind: &str) -> u64 {
    report[kind]["count"].as_u64().unwrap()
}

/// Publishes and OCI pushes (each of the three kinds, some of content just
/// left unreferenced, which a collection may be removing at that moment)
/// while `depot gc --grace 0` runs in a loop: every publish the registry
/// acknowledged is there afterwards with its bytes, every other one is
/// absent, and the log verifies.
fn a_collection_racing_publishes_never_loses_an_acknowledged_one(runtime: Runtime) {
    let server = Arc::new(Server::start_on(runtime));
    let done = Arc::new(AtomicBool::new(false));
    let collector = {
        let (server, done) = (server.clone(), done.clone());
        std::thread::spawn(move || {
            let (mut runs, mut blobs) = (0, 0);
            while !done.load(Ordering::Relaxed) || runs < 3 {
                blobs += removed(&gc(&server, runtime, &["--grace", "0"]), "blobs");
                runs += 1;
            }
            (runs, blobs)
        })
    };
    let names = ["example:one", "example:two", "example:oci"];
    let (mut acknowledged, mut refused) = (Vec::new(), Vec::new());
    for i in 0..45 {
        let kind = i % 3;
        // Every other publish is of content stored a moment ago and left
        // unreferenced: a collection may be removing it as it is written again.
        let bytes = if i % 2 == 1 {
            // Small ones (kept in the database) and large ones (files, objects).
            let bytes = if i % 4 == 1 {
                big_greeter(10_000 + i)
            } else {
                greeter_n(10_000 + i)
            };
            orphan(&server, "example/junk", &bytes);
            bytes
        } else {
            greeter_n(i)
        };
        let version = format!("1.0.{i}");
        let sent = (names[kind], version, bytes);
        if publish_one(&server.url, &server.token, kind, sent.0, &sent.1, &sent.2) {
            acknowledged.push(sent);
        } else {
            refused.push(sent);
        }
    }
    done.store(true, Ordering::Relaxed);
    let (runs, collected) = collector.join().unwrap();
    // One more, with nothing else running.
    gc(&server, runtime, &["--grace", "0"]);
    for (name, version, bytes) in &acknowledged {
        let path = format!("/v1/packages/{name}/versions/{version}/content");
        assert_eq!(
            server.get_bytes(&path),
            (200, bytes.clone()),
            "{name} {version} was acknowledged"
        );
    }
    for (name, version, bytes) in &refused {
        let path = format!("/v1/packages/{name}/versions/{version}/content");
        let (status, got) = server.get_bytes(&path);
        assert!(
            status == 404 || (status == 200 && got == *bytes),
            "{name} {version} was refused, yet is half there ({status})"
        );
    }
    let said = ok(server.cli(&["verify"]));
    assert!(said.contains("log entries match"), "{said}");
    // The collections ran, removed the unreferenced blobs, and most
    // publishes landed all the same.
    assert!(
        collected > 0,
        "no collection removed anything in {runs} runs"
    );
    assert!(
        acknowledged.len() >= 15,
        "only {} of 45 publishes were acknowledged ({runs} collections)",
        acknowledged.len()
    );
    eprintln!(
        "{runtime:?}: {} publishes acknowledged, {} refused, {runs} collections removed \
         {collected} blobs",
        acknowledged.len(),
        refused.len()
    );
}

#[test]
fn native_a_collection_racing_publishes_never_loses_an_acknowledged_one() {
    a_collection_racing_publishes_never_loses_an_acknowledged_one(Runtime::Native);
}

#[test]
fn shared_a_collection_racing_publishes_never_loses_an_acknowledged_one() {
    a_collection_racing_publishes_never_loses_an_acknowledged_one(Runtime::Shared);
}

/// What `depot gc` reports, what a dry run leaves, the grace period, and
/// the compile cache.
fn gc_reports_what_it_removes_and_spares_the_grace_period(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let live = greeter_n(1);
    assert_eq!(server.publish("example:kept", "1.0.0", &live).0, 201);
    let junk = big_greeter(1);
    assert!(orphan(&server, "example/junk", &junk));

    // Within the default grace period (24 h) nothing is removed.
    let report = gc(&server, runtime, &[]);
    assert_eq!(removed(&report, "blobs"), 0, "{report}");

    let report = gc(&server, runtime, &["--grace", "0", "--dry-run"]);
    assert_eq!(report["dry_run"], true);
    assert_eq!(removed(&report, "blobs"), 1, "{report}");
    assert_eq!(report["blobs"]["bytes"], junk.len() as u64);

    let mut text = Command::new(DEPOT);
    text.args(["gc", "--grace", "0", "--dry-run", "--data"])
        .arg(&server.data);
    if runtime == Runtime::Shared {
        text.args(SharedStore::of(&server.data).args());
    }
    let said = ok(text.output().unwrap());
    assert!(said.contains("would remove 1 unreferenced blobs"), "{said}");

    // The compile cache: what was not loaded within the grace period goes.
    let cache = tempfile::tempdir().unwrap();
    let (stale, fresh) = (cache.path().join("a.cwasm"), cache.path().join("b.cwasm"));
    std::fs::write(&stale, b"old").unwrap();
    std::fs::write(&fresh, b"new").unwrap();
    let file = std::fs::File::options().write(true).open(&stale).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(48 * 3600))
        .unwrap();
    let cache_flag = cache.path().to_str().unwrap();
    let report = gc(
        &server,
        runtime,
        &["--grace", "1h", "--compile-cache", cache_flag],
    );
    assert_eq!(removed(&report, "compiled_handlers"), 1, "{report}");
    assert!(!stale.exists() && fresh.exists());

    let report = gc(&server, runtime, &["--grace", "0"]);
    assert_eq!(removed(&report, "blobs"), 1, "{report}");
    let digest = format!("sha256:{}", sha256_hex(&junk));
    let (status, _) = server.get_bytes(&format!("/v2/example/junk/blobs/{digest}"));
    assert_eq!(status, 404);
    assert_eq!(
        server.get_bytes("/v1/packages/example:kept/versions/1.0.0/content"),
        (200, live)
    );
    let said = ok(server.cli(&["verify"]));
    assert!(said.contains("log entries match"), "{said}");
}

#[test]
fn native_gc_reports_what_it_removes_and_spares_the_grace_period() {
    gc_reports_what_it_removes_and_spares_the_grace_period(Runtime::Native);
}

#[test]
fn shared_gc_reports_what_it_removes_and_spares_the_grace_period() {
    gc_reports_what_it_removes_and_spares_the_grace_period(Runtime::Shared);
}

#[test]
fn gc_refuses_a_bad_grace_period() {
    let data = tempfile::tempdir().unwrap();
    let said = fails(
        Command::new(DEPOT)
            .args(["gc", "--grace", "soon", "--data"])
            .arg(data.path())
            .output()
            .unwrap(),
    );
    assert!(said.contains("invalid duration `soon`"), "{said}");
    // A directory with no registry is not made into one.
    let said = fails(
        Command::new(DEPOT)
            .args(["gc", "--data"])
            .arg(data.path().join("none"))
            .output()
            .unwrap(),
    );
    assert!(said.contains("holds no registry database"), "{said}");
    assert!(!data.path().join("none").exists());
}
