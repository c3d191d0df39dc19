//! `depot mirror`: a copy that follows its origin's feed, survives being
//! killed mid-stream, ends identical, and refuses writes, on every runtime
//! (a Spin build's mirror copies into the build's own database and
//! key-value store or bucket, which its handlers then serve).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

/// The sequence number of the last entry of `server`'s log.
fn head(server: &Server) -> u64 {
    let (status, page) = server.get_json("/v1/feed?since=0&limit=1000");
    assert_eq!(status, 200, "{page}");
    page["entries"]
        .as_array()
        .unwrap()
        .last()
        .map_or(0, |e| e["seq"].as_u64().unwrap())
}

/// Waits up to a minute for `done`.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Status and body of `path`, for comparing two registries.
fn fetch(server: &Server, path: &str) -> (u16, Vec<u8>) {
    server.get_bytes(path)
}

on_every_runtime!(a_mirror_killed_mid_stream_and_restarted_ends_identical_to_its_origin);

fn a_mirror_killed_mid_stream_and_restarted_ends_identical_to_its_origin(runtime: Runtime) {
    let origin = Server::start_on(runtime);
    for i in 0..100 {
        let (name, version) = (format!("mirror:pkg{}", i % 10), format!("1.{}.0", i / 10));
        assert_eq!(origin.publish(&name, &version, &greeter_n(i)).0, 201);
    }
    assert_eq!(
        origin
            .post_json("/v1/packages/mirror:pkg1/versions/1.0.0/yank")
            .0,
        200
    );
    let note = json!({"type": "review", "value": {"ok": true, "by": "ana"}});
    assert_eq!(
        origin
            .post("/v1/packages/mirror:pkg2/versions/1.1.0/annotations", &note)
            .0,
        201
    );
    let reason = json!({"reason": "malware"});
    assert_eq!(
        origin
            .post("/v1/packages/mirror:pkg3/versions/1.9.0/takedown", &reason)
            .0,
        200
    );

    // A granted key and a release it signed are copied like any entry.
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("mirror.key");
    let key = ok(origin.cli(&["key", "new", key_file.to_str().unwrap()]));
    ok(origin.cli(&["key", "grant", key.trim(), "--namespace", "mirror"]));
    let (_wasm_dir, wasm) = temp_file("signed.wasm", &greeter_n(300));
    let wasm = wasm.to_str().unwrap();
    let key_file = key_file.to_str().unwrap();
    ok(origin.cli(&["publish", "mirror:signed@1.0.0", wasm, "--sign", key_file]));
    // Content of several key-value chunks, as a Spin build keeps large blobs.
    let big = greeter(&Meta {
        description: Some("big"),
        padding: 600 * 1024,
        ..Meta::default()
    });
    assert_eq!(origin.publish("mirror:big", "1.0.0", &big).0, 201);

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("mirror");
    let options = |from: &str| ServerOptions {
        data: Some(data.clone()),
        args: vec!["--batch".into(), "5".into()],
        mirror_of: Some(from.to_string()),
        runtime,
        ..ServerOptions::default()
    };
    // The first run reaches the origin through a proxy that never answers
    // the feed page after entry 20: the mirror stops there, mid-stream,
    // however fast it is, and is killed while it waits.
    let proxy = Proxy::start(&origin.url, |_, path| {
        if path.starts_with("/v1/feed?since=20&") {
            Proxied::Hold
        } else {
            Proxied::Forward
        }
    });
    let mirror = Server::start_with(options(&proxy.url));
    let asked = proxy
        .held
        .recv_timeout(Duration::from_secs(120))
        .expect("the mirror to ask for the entries after 20");
    assert!(asked.contains("limit=5"), "{asked}");
    assert_eq!(head(&mirror), 20, "the mirror's log when it asked for more");
    mirror.stop();
    drop(proxy);

    // The origin moves on while the mirror is down.
    for i in 100..105 {
        assert_eq!(
            origin
                .publish("mirror:late", &format!("0.{i}.0"), &greeter_n(i))
                .0,
            201
        );
    }
    let mirror = Server::start_with(options(&origin.url));
    let total = head(&origin);
    wait_until("the mirror to catch up", || head(&mirror) == total);

    // Identical: the feed, the listing, every package, every content.
    let feed = "/v1/feed?since=0&limit=1000";
    assert_eq!(fetch(&mirror, feed), fetch(&origin, feed));
    let (_, listing) = origin.get_json("/v1/packages?limit=1000");
    assert_eq!(mirror.get_json("/v1/packages?limit=1000").1, listing);
    let mut contents = 0;
    for package in listing["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        let path = format!("/v1/packages/{name}");
        let (status, releases) = origin.get_json(&path);
        assert_eq!(
            (status, &releases),
            (200, &mirror.get_json(&path).1),
            "{name}"
        );
        for release in releases["versions"].as_array().unwrap() {
            let content = release["contentUrl"].as_str().unwrap();
            let from_origin = fetch(&origin, content);
            assert_eq!(fetch(&mirror, content), from_origin, "{content}");
            contents += usize::from(from_origin.0 == 200);
            let version = release["version"].as_str().unwrap();
            let manifest = format!("/v2/{}/manifests/{version}", name.replace(':', "/"));
            assert_eq!(
                fetch(&mirror, &manifest),
                fetch(&origin, &manifest),
                "{manifest}"
            );
        }
    }
    assert_eq!(contents, 106, "every release but the one taken down");
    let namespace = "/v1/namespaces/mirror";
    assert_eq!(mirror.get_json(namespace), origin.get_json(namespace));
    let (_, signed) = mirror.get_json("/v1/packages/mirror:signed/versions/1.0.0");
    assert!(
        signed["signature"]["releaseSignature"].is_string(),
        "{signed}"
    );
    // The copy's log holds the same leaves: `depot verify` passes against it.
    ok(mirror.cli(&["verify"]));
    let (_, taken_down) = mirror.get_json("/v1/packages/mirror:pkg3/versions/1.9.0");
    assert_eq!(taken_down["takedown"]["reason"], "malware");
    let (_, annotated) = mirror.get_json("/v1/packages/mirror:pkg2/versions/1.1.0");
    assert_eq!(
        annotated["annotations"][0]["value"],
        json!({"ok": true, "by": "ana"})
    );

    // A new release shows up on the mirror once it lands (how soon is the
    // scale bench's mirror-lag figure).
    assert_eq!(
        origin.publish("mirror:late", "1.0.0", &greeter_n(200)).0,
        201
    );
    wait_until("the new release on the mirror", || {
        fetch(&mirror, "/v1/packages/mirror:late/versions/1.0.0").0 == 200
    });

    // Writes are refused, in each API's error form.
    let refused = mirror.publish("mirror:new", "1.0.0", &greeter_n(300));
    let message = assert_error(&refused, 405, "read-only-mirror");
    assert!(message.contains(&origin.url), "{message}");
    let push = client()
        .post(mirror.at("/v2/mirror/new/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(push.status().as_u16(), 405);
    let body: Value = push.json().unwrap();
    assert_eq!(body["errors"][0]["code"], "DENIED");
    assert_eq!(head(&mirror), head(&origin));
}
