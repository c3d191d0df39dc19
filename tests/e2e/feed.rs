//! Annotations, takedown and the publish-stream (long-poll and server-sent
//! events).

use std::io::{BufRead, BufReader};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const ANNOTATIONS: &str = "/v1/packages/example:greet/versions/1.0.0/annotations";

#[test]
fn annotations_are_kept_in_order_and_listed_with_the_release() {
    let server = Server::start();
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(0)).0,
        201
    );
    let values = [
        json!({"reviewer": "ana", "verdict": "ok"}),
        json!("green"),
        json!([1, 2, 3]),
    ];
    for (i, value) in values.iter().enumerate() {
        let kind = if i == 1 { "ci" } else { "review" };
        let (status, release) = server.post(ANNOTATIONS, &json!({"type": kind, "value": value}));
        assert_eq!(status, 201, "{release}");
        assert_eq!(release["annotations"].as_array().unwrap().len(), i + 1);
    }
    // The CLI appends one more.
    ok(server.cli(&[
        "annotate",
        "example:greet@1.0.0",
        "--type",
        "sbom",
        "--value",
        r#"{"url": "https://example.com/sbom.json"}"#,
    ]));

    let (status, release) = server.get_json("/v1/packages/example:greet/versions/1.0.0");
    assert_eq!(status, 200);
    let annotations = release["annotations"].as_array().unwrap();
    let types: Vec<&str> = annotations
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["review", "ci", "review", "sbom"]);
    for (annotation, value) in annotations.iter().zip(&values) {
        assert_eq!(&annotation["value"], value);
    }
    let seqs: Vec<u64> = annotations
        .iter()
        .map(|a| a["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // The package listing shows them too.
    let (_, package) = server.get_json("/v1/packages/example:greet");
    assert_eq!(
        package["versions"][0]["annotations"],
        release["annotations"]
    );

    // Bad annotations change nothing.
    let bad_type = server.post(ANNOTATIONS, &json!({"type": "Not Allowed", "value": 1}));
    assert!(assert_error(&bad_type, 400, "bad-request").contains("lowercase"));
    let no_value = server.post(ANNOTATIONS, &json!({"type": "review"}));
    assert_error(&no_value, 400, "bad-request");
    let unknown = server.post(
        "/v1/packages/example:greet/versions/9.0.0/annotations",
        &json!({"type": "review", "value": 1}),
    );
    assert_error(&unknown, 404, "not-found");
    let (_, after) = server.get_json("/v1/packages/example:greet/versions/1.0.0");
    assert_eq!(after["annotations"].as_array().unwrap().len(), 4);
}

#[test]
fn a_release_taken_down_keeps_a_tombstone_and_its_content_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start_with(ServerOptions {
        data: Some(data.clone()),
        ..ServerOptions::default()
    });
    let bytes = greeter_n(1);
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(0)).0,
        201
    );
    assert_eq!(server.publish("example:greet", "1.1.0", &bytes).0, 201);
    let digest = format!("sha256:{}", sha256_hex(&bytes));

    let out = ok(server.cli(&[
        "takedown",
        "example:greet@1.1.0",
        "--reason",
        "court order 42",
    ]));
    assert!(out.contains("court order 42"), "{out}");

    // The tombstone: the release is still listed, with why and when.
    let (status, release) = server.get_json("/v1/packages/example:greet/versions/1.1.0");
    assert_eq!(status, 200);
    assert_eq!(release["takedown"]["reason"], "court order 42");
    assert!(release["takedown"]["time"].is_string());

    // Content requests get 451 with the reason, by version and by digest.
    for path in [
        "/v1/packages/example:greet/versions/1.1.0/content".to_string(),
        format!("/v1/content/{digest}"),
    ] {
        let response = client().get(server.at(&path)).send().unwrap();
        let message = assert_error(&status_json(response), 451, "taken-down");
        assert!(message.contains("court order 42"), "{message}");
    }
    // So do OCI pulls of its manifest.
    let response = client()
        .get(server.at("/v2/example/greet/manifests/1.1.0"))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 451);

    // Resolution skips it; a requirement only it satisfies says so.
    let (status, resolved) = server.get_json("/v1/packages/example:greet/resolve?req=%5E1");
    assert_eq!((status, resolved["version"].as_str()), (200, Some("1.0.0")));
    let only = server.get_json("/v1/packages/example:greet/resolve?req=%3D1.1.0");
    let message = assert_error(&only, 451, "taken-down");
    assert!(
        message.contains("taken down") && message.contains("court order 42"),
        "{message}"
    );
    // The latest version is no longer the one taken down.
    let (_, package) = server.get_json("/v1/packages/example:greet");
    assert_eq!(package["latest"], "1.0.0");

    // A second takedown changes nothing; the version stays used.
    let again = server.post(
        "/v1/packages/example:greet/versions/1.1.0/takedown",
        &json!({"reason": "other"}),
    );
    assert_eq!(again.0, 200);
    assert_eq!(again.1["takedown"]["reason"], "court order 42");
    assert_error(
        &server.publish("example:greet", "1.1.0", &bytes),
        409,
        "version-exists",
    );
    // A takedown needs a reason.
    let no_reason = server.post(
        "/v1/packages/example:greet/versions/1.0.0/takedown",
        &json!({"reason": "  "}),
    );
    assert_error(&no_reason, 400, "bad-request");

    // The content stays gone after a restart.
    server.stop();
    let server = Server::start_with(ServerOptions {
        data: Some(data),
        ..ServerOptions::default()
    });
    let gone = server.get_json(&format!("/v1/content/{digest}"));
    assert_error(&gone, 451, "taken-down");
    let (status, kept) = server.get_bytes("/v1/packages/example:greet/versions/1.0.0/content");
    assert_eq!((status, kept), (200, greeter_n(0)));
}

/// The feed page after `since`, waiting up to `wait` seconds.
fn feed(server: &Server, since: u64, wait: u32) -> Value {
    let (status, page) = server.get_json(&format!("/v1/feed?since={since}&wait={wait}"));
    assert_eq!(status, 200, "{page}");
    page
}

#[test]
fn the_feed_lists_every_change_and_a_long_poll_returns_when_one_lands() {
    let server = Server::start();
    let bytes = greeter_n(0);
    assert_eq!(server.publish("example:greet", "1.0.0", &bytes).0, 201);
    assert_eq!(
        server
            .post_json("/v1/packages/example:greet/versions/1.0.0/yank")
            .0,
        200
    );
    let page = feed(&server, 0, 0);
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{page}");
    assert_eq!(entries[0]["kind"], "release");
    assert_eq!(entries[0]["seq"], 1);
    assert_eq!(entries[0]["package"], "example:greet");
    assert_eq!(entries[0]["version"], "1.0.0");
    let digest = format!("sha256:{}", sha256_hex(&bytes));
    assert_eq!(entries[0]["digest"], digest.as_str());
    assert_eq!(entries[0]["release"]["size"], bytes.len());
    assert_eq!(entries[1]["kind"], "yank");
    assert_eq!(entries[1]["digest"], digest.as_str());
    assert_eq!(page["next"], 2);

    // Nothing new: a poll without wait answers at once, empty.
    assert_eq!(feed(&server, 2, 0)["entries"], json!([]));

    // A long poll returns the next entry when it lands: a poll that ran out
    // its wait would answer with no entries.
    let url = server.at("/v1/feed?since=2&wait=30");
    let poll = std::thread::spawn(move || status_json(client().get(url).send().unwrap()));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        server.publish("example:greet", "1.1.0", &greeter_n(1)).0,
        201
    );
    let (status, page) = poll.join().unwrap();
    assert_eq!(status, 200);
    assert_eq!(page["entries"][0]["version"], "1.1.0", "{page}");

    // Bad cursors and waits are refused.
    assert_error(&server.get_json("/v1/feed?since=x"), 400, "bad-request");
    assert_error(&server.get_json("/v1/feed?wait=3600"), 400, "bad-request");
}

#[test]
fn the_event_stream_delivers_entries_in_order_as_they_land() {
    let server = Server::start();
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(0)).0,
        201
    );
    let response = client()
        .get(server.at("/v1/feed/stream?since=0"))
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let writer = std::thread::spawn({
        let url = server.url.clone();
        let http = server.http();
        move || {
            for i in 1..=3 {
                std::thread::sleep(Duration::from_millis(200));
                let response = http
                    .put(format!("{url}/v1/packages/example:greet/versions/1.{i}.0"))
                    .body(greeter_n(i))
                    .send()
                    .unwrap();
                assert_eq!(response.status().as_u16(), 201);
            }
        }
    });
    let mut events: Vec<(u64, Value)> = Vec::new();
    let mut id = None;
    for line in BufReader::new(response).lines() {
        let line = line.unwrap();
        if let Some(value) = line.strip_prefix("id: ") {
            id = Some(value.parse::<u64>().unwrap());
        } else if let Some(data) = line.strip_prefix("data: ") {
            events.push((id.take().unwrap(), serde_json::from_str(data).unwrap()));
            if events.len() == 4 {
                break;
            }
        }
    }
    writer.join().unwrap();
    let versions: Vec<&str> = events
        .iter()
        .map(|(_, e)| e["version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]);
    for (i, (id, entry)) in events.iter().enumerate() {
        assert_eq!(*id, i as u64 + 1);
        assert_eq!(entry["seq"], *id);
    }

    // Reconnecting with Last-Event-ID resumes after it.
    let response = client()
        .get(server.at("/v1/feed/stream"))
        .header("last-event-id", "3")
        .send()
        .unwrap();
    let first = BufReader::new(response)
        .lines()
        .map(Result::unwrap)
        .find(|line| line.starts_with("id: "))
        .unwrap();
    assert_eq!(first, "id: 4");
}
