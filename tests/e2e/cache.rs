//! The response cache (`depot serve --response-cache`): repeated public reads
//! are answered from memory (`Depot-Cache: hit`), with `ETag`s and 304s;
//! every kind of write is seen by the very next read; what a token unlocked
//! is never kept; on several instances a write on one reaches the others'
//! caches with the log follower.

use std::time::{Duration, Instant};

use reqwest::blocking::Response;
use serde_json::{Value, json};

use crate::support::*;

on_runtimes!(
    [native = Native, shared = Shared]
    [
        repeated_reads_are_answered_from_the_cache,
        every_write_is_seen_by_the_next_read,
        a_private_registry_keeps_nothing,
    ]
);

on_runtime!(
    shared_instances,
    Shared,
    [a_yank_on_one_instance_reaches_another_instances_cache]
);

on_runtime!(spin, Spin, [a_spin_build_is_served_without_the_cache]);

const RELEASE: &str = "/v1/packages/example:greet/versions/1.0.0";

/// `Depot-Cache` of `response`: `hit`, `miss`, or empty when the cache was
/// not asked.
fn cache_of(response: &Response) -> String {
    response
        .headers()
        .get("depot-cache")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// GETs `path` without a token: status, `Depot-Cache`, body.
fn get(server: &Server, path: &str) -> (u16, String, Vec<u8>) {
    let response = client().get(server.at(path)).send().unwrap();
    let status = response.status().as_u16();
    let cache = cache_of(&response);
    (status, cache, response.bytes().unwrap().to_vec())
}

/// GETs `path` until the cache answers it, and returns what it answers. On
/// shared storage a fill may be dropped once: the log follower's purge for a
/// write this instance made itself can land just after a read began, and a
/// read that raced a purge keeps nothing.
fn warm(server: &Server, path: &str) -> Vec<u8> {
    let (status, _, first) = get(server, path);
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&first));
    for _ in 0..20 {
        let (status, cache, again) = get(server, path);
        assert_eq!(status, 200, "{path}");
        if cache == "hit" {
            assert_eq!(again, first, "{path}: the cache answered something else");
            return again;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{path}: twenty reads in a row missed the cache");
}

/// Publishes `example:greet` 1.0.0.
fn publish_one(server: &Server) {
    assert_eq!(
        server
            .publish("example:greet", "1.0.0", &greeter(&Meta::default()))
            .0,
        201
    );
}

/// GETs the release twice without a token; the cache answers neither.
fn uncached_twice(server: &Server) -> Response {
    let first = client().get(server.at(RELEASE)).send().unwrap();
    assert_eq!(
        (first.status().as_u16(), cache_of(&first).as_str()),
        (200, "")
    );
    let again = client().get(server.at(RELEASE)).send().unwrap();
    assert_eq!(
        (again.status().as_u16(), cache_of(&again).as_str()),
        (200, "")
    );
    again
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

/// The digest of the content of `example:greet` 1.0.0.
fn content_digest(server: &Server) -> String {
    let (_, release) = server.get_json(RELEASE);
    release["digest"].as_str().unwrap().to_string()
}

fn repeated_reads_are_answered_from_the_cache(runtime: Runtime) {
    let server = Server::start_on(runtime);
    publish_one(&server);
    let digest = content_digest(&server);
    for path in [
        RELEASE.to_string(),
        "/v1/packages/example:greet".to_string(),
        "/v2/example/greet/manifests/1.0.0".to_string(),
        format!("/v2/example/greet/blobs/{digest}"),
        "/v1/log/checkpoint".to_string(),
        "/packages/example/greet".to_string(),
    ] {
        let first = client().get(server.at(&path)).send().unwrap();
        assert_eq!(
            (first.status().as_u16(), cache_of(&first).as_str()),
            (200, "miss"),
            "{path}"
        );
        let etag = header(&first, "etag");
        assert!(!etag.is_empty(), "{path} has no ETag");
        assert!(header(&first, "cache-control").contains("public"), "{path}");
        assert!(!header(&first, "surrogate-key").is_empty(), "{path}");
        let body = first.bytes().unwrap();

        let again = client().get(server.at(&path)).send().unwrap();
        assert_eq!(
            (again.status().as_u16(), cache_of(&again).as_str()),
            (200, "hit"),
            "{path}"
        );
        assert_eq!(header(&again, "etag"), etag, "{path}");
        assert_eq!(
            header(&again, "content-length"),
            body.len().to_string(),
            "{path}"
        );
        assert_eq!(again.bytes().unwrap(), body, "{path}");

        // A client holding it is told so, from the cache.
        let current = client()
            .get(server.at(&path))
            .header("if-none-match", &etag)
            .send()
            .unwrap();
        assert_eq!(
            (current.status().as_u16(), cache_of(&current).as_str()),
            (304, "hit"),
            "{path}"
        );
        assert!(current.bytes().unwrap().is_empty());
        let stale = client()
            .get(server.at(&path))
            .header("if-none-match", "\"something-else\"")
            .send()
            .unwrap();
        assert_eq!(stale.status(), 200, "{path}");

        // HEAD: the same headers, no body.
        let head = client().head(server.at(&path)).send().unwrap();
        assert_eq!(
            (head.status().as_u16(), cache_of(&head).as_str()),
            (200, "hit"),
            "{path}"
        );
        assert_eq!(
            header(&head, "content-length"),
            body.len().to_string(),
            "{path}"
        );

        // The anonymous token OCI clients are handed unlocks nothing: the
        // same answer, from the cache.
        let anonymous = client_with_token("anonymous")
            .get(server.at(&path))
            .send()
            .unwrap();
        assert_eq!(cache_of(&anonymous), "hit", "{path}");
        assert_eq!(anonymous.bytes().unwrap(), body, "{path}");

        // With a token, or for a part, the handlers answer.
        let with_token = server.http().get(server.at(&path)).send().unwrap();
        assert_eq!(
            (with_token.status().as_u16(), cache_of(&with_token).as_str()),
            (200, ""),
            "{path}"
        );
        assert_eq!(with_token.bytes().unwrap(), body, "{path}");
        let part = client()
            .get(server.at(&path))
            .header("range", "bytes=0-3")
            .send()
            .unwrap();
        assert_eq!(cache_of(&part), "", "{path}");
    }

    // The feed is never kept: it waits for, and streams, what is new.
    let (status, cache, _) = get(&server, "/v1/feed?since=0");
    assert_eq!((status, cache.as_str()), (200, "miss"));
    let (_, cache, _) = get(&server, "/v1/feed?since=0");
    assert_eq!(cache, "miss");

    // Turned off, the cache answers nothing.
    let off = Server::start_with(ServerOptions {
        runtime,
        args: vec!["--response-cache".into(), "0".into()],
        ..ServerOptions::default()
    });
    publish_one(&off);
    uncached_twice(&off);
}

fn every_write_is_seen_by_the_next_read(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let dir = tempfile::tempdir().unwrap();
    let v1_0 = greeter(&Meta::default());
    assert_eq!(server.publish("example:greet", "1.0.0", &v1_0).0, 201);
    let digest = content_digest(&server);
    let package = "/v1/packages/example:greet";
    let resolve = "/v1/packages/example:greet/resolve?req=%5E1";
    let tags = "/v2/example/greet/tags/list";
    let search = "/v1/search?q=greet";
    let checkpoint = "/v1/log/checkpoint";
    let page = "/packages/example/greet";
    let namespace = "/v1/namespaces/example";
    let content = format!("{RELEASE}/content");
    let blob = format!("/v2/example/greet/blobs/{digest}");
    let manifest = "/v2/example/greet/manifests/1.0.0";
    let every = [
        RELEASE, package, resolve, tags, search, checkpoint, page, namespace, &content, &blob,
        manifest,
    ];
    let warm_all = || {
        for path in every {
            warm(&server, path);
        }
    };
    let now = |path: &str| {
        let (status, _, body) = get(&server, path);
        (status, body)
    };
    let now_json = |path: &str| {
        let (status, body) = now(path);
        assert_eq!(status, 200, "{path}");
        json_of(&body)
    };

    // A new release.
    warm_all();
    let old_checkpoint = now(checkpoint).1;
    let v1_1 = greeter_n(1);
    assert_eq!(server.publish("example:greet", "1.1.0", &v1_1).0, 201);
    let versions: Vec<Value> = now_json(package)["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].clone())
        .collect();
    assert!(versions.contains(&json!("1.1.0")), "{versions:?}");
    assert_eq!(now_json(resolve)["version"], "1.1.0");
    assert!(
        now_json(tags)["tags"]
            .as_array()
            .unwrap()
            .contains(&json!("1.1.0"))
    );
    assert!(String::from_utf8(now(search).1).unwrap().contains("1.1.0"));
    assert_ne!(now(checkpoint).1, old_checkpoint);
    assert!(String::from_utf8(now(page).1).unwrap().contains("1.1.0"));

    // A yank, and its undoing.
    warm_all();
    let yank = "/v1/packages/example:greet/versions/1.1.0";
    warm(&server, yank);
    assert_eq!(server.post_json(&format!("{yank}/yank")).0, 200);
    assert_eq!(now_json(yank)["yanked"], true);
    assert_eq!(now_json(resolve)["version"], "1.0.0");
    warm_all();
    warm(&server, yank);
    assert_eq!(server.post_json(&format!("{yank}/unyank")).0, 200);
    assert_eq!(now_json(yank)["yanked"], false);
    assert_eq!(now_json(resolve)["version"], "1.1.0");

    // An annotation.
    warm_all();
    let note = json!({"type": "review", "value": {"verdict": "ok"}});
    assert_eq!(server.post(&format!("{RELEASE}/annotations"), &note).0, 201);
    assert_eq!(now_json(RELEASE)["annotations"][0]["type"], "review");

    // A key granted and withdrawn, and signatures required.
    let key = dir.path().join("signer.key");
    let public = ok(server.cli(&["key", "new", key.to_str().unwrap()]));
    let public = public.trim();
    warm_all();
    ok(server.cli(&["key", "grant", public, "--namespace", "example"]));
    assert!(now_json(namespace).to_string().contains(public));
    warm_all();
    ok(server.cli(&["namespace", "require-signatures", "example"]));
    assert_eq!(now_json(namespace)["requireSignatures"], true);
    warm_all();
    ok(server.cli(&["key", "revoke", public, "--namespace", "example"]));
    assert!(!now_json(namespace).to_string().contains(public));

    // A takedown: its content is never served again, from any cache.
    warm_all();
    let reason = json!({"reason": "malware"});
    assert_eq!(server.post(&format!("{RELEASE}/takedown"), &reason).0, 200);
    for path in [content.as_str(), blob.as_str(), manifest] {
        let (status, body) = now(path);
        assert_ne!(status, 200, "{path} still served after its takedown");
        assert_ne!(body, v1_0, "{path}");
    }
    assert!(now_json(RELEASE)["takedown"].is_object());
}

fn a_private_registry_keeps_nothing(runtime: Runtime) {
    let server = Server::start_with(ServerOptions {
        runtime,
        args: vec!["--private".into()],
        ..ServerOptions::default()
    });
    publish_one(&server);
    let (status, reader) = server.post("/v1/tokens", &json!({"namespaces": ["example"]}));
    assert_eq!(status, 201, "{reader}");
    let (id, secret) = (
        reader["id"].as_str().unwrap(),
        reader["token"].as_str().unwrap(),
    );
    for _ in 0..3 {
        let response = client_with_token(secret)
            .get(server.at(RELEASE))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(cache_of(&response), "");
        let cache_control = header(&response, "cache-control");
        assert!(cache_control.contains("private"), "{cache_control}");
        assert!(!cache_control.contains("public"), "{cache_control}");
    }
    // Without a token: refused, whatever was read with one.
    assert_eq!(
        client().get(server.at(RELEASE)).send().unwrap().status(),
        401
    );
    ok(server.cli(&["token", "revoke", id]));
    let revoked = client_with_token(secret)
        .get(server.at(RELEASE))
        .send()
        .unwrap();
    assert_eq!(revoked.status(), 401);
}

/// A yank on instance A is seen in a cached read on instance B within the
/// bound of the feed's wake-up (a notification, else one follower poll).
fn a_yank_on_one_instance_reaches_another_instances_cache(runtime: Runtime) {
    let shared = SharedStore::fresh();
    let a = Server::start_with(ServerOptions {
        runtime,
        shared: Some(shared.clone()),
        ..ServerOptions::default()
    });
    let b = Server::start_with(ServerOptions {
        runtime,
        shared: Some(shared),
        token: Some(a.token.clone()),
        ..ServerOptions::default()
    });
    publish_one(&a);
    assert_eq!(json_of(&warm(&b, RELEASE))["yanked"], false);
    let (_, before) = b.get_json("/v1/feed?since=0");
    let head = before["entries"].as_array().unwrap().len();
    assert_eq!(a.post_json(&format!("{RELEASE}/yank")).0, 200);
    let yanked = Instant::now();
    // B's feed wakes for the entry: the event B's cache is purged on too.
    let (status, woke) = b.get_json(&format!("/v1/feed?since={head}&wait=30"));
    assert_eq!(status, 200);
    assert_eq!(woke["entries"][0]["kind"], "yank", "{woke}");
    // The purge follows the same wake-up within moments; the deadline is
    // only a safety net against a purge that never comes.
    loop {
        let (status, _, body) = get(&b, RELEASE);
        assert_eq!(status, 200);
        if json_of(&body)["yanked"] == true {
            break;
        }
        assert!(
            yanked.elapsed() < Duration::from_secs(60),
            "instance B still serves the release unyanked after {:?}",
            yanked.elapsed()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    eprintln!(
        "the yank on A reached B's cache {:?} after it was acknowledged",
        yanked.elapsed()
    );
    // And B caches the new state again.
    assert_eq!(json_of(&warm(&b, RELEASE))["yanked"], true);
}

/// The Spin build's store runs in its component, out of the host's hearing:
/// `--spin-app` keeps nothing, and its handlers still say what a CDN may.
fn a_spin_build_is_served_without_the_cache(runtime: Runtime) {
    let server = Server::start_on(runtime);
    publish_one(&server);
    let response = uncached_twice(&server);
    assert!(header(&response, "cache-control").contains("public"));
    assert!(header(&response, "surrogate-key").contains("package/example:greet"));
    assert_eq!(server.post_json(&format!("{RELEASE}/yank")).0, 200);
    let (_, _, body) = get(&server, RELEASE);
    assert_eq!(json_of(&body)["yanked"], true);
}
