//! The Spin build is two Spin components (spin.toml): the front answers GET
//! and HEAD with only the handlers a read reaches, and hands every other
//! request to the whole composition (`depot-writes`) by Spin's local service
//! chaining, which `depot serve --spin-app` answers in process as `spin up`
//! does. Every other Spin case goes through that split too; these are about
//! the hand-over itself.

use serde_json::Value;

use crate::support::*;

on_runtimes!(
    [spin_handed_on = Spin, spin_shared_handed_on = SpinShared]
        [a_publish_of_many_chunks_is_handed_on_whole_and_read_back_the_same]
);

on_every_runtime!(a_write_refused_names_the_host_the_client_used_not_one_it_claims);

on_runtimes!(
    [spin_front_alone = Spin][a_front_without_its_writes_serves_reads_and_says_why_writes_fail]
);

/// A publish body many times the front's 64 KiB copy chunk, and an OCI blob
/// pushed in one go, reach the writes component byte for byte; the answers
/// come back with their status and headers.
fn a_publish_of_many_chunks_is_handed_on_whole_and_read_back_the_same(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let big = greeter(&Meta {
        description: Some("handed on"),
        padding: 3 * 1024 * 1024 + 12_345,
        ..Meta::default()
    });
    let (status, published) = server.publish("example:big", "1.0.0", &big);
    assert_eq!(status, 201, "{published}");
    let (status, content) = server.get_bytes("/v1/packages/example:big/versions/1.0.0/content");
    assert_eq!(status, 200);
    assert!(
        content == big,
        "the content read back differs from what was published"
    );

    // An OCI push: the upload's `Location` and the blob's digest come back
    // from the writes component as it sent them.
    let blob = vec![7u8; 300 * 1024];
    let digest = format!("sha256:{}", sha256_hex(&blob));
    let pushed = server
        .http()
        .post(server.at(&format!("/v2/example/big/blobs/uploads/?digest={digest}")))
        .header("content-type", "application/octet-stream")
        .body(blob.clone())
        .send()
        .unwrap();
    assert_eq!(pushed.status(), 201);
    let location = pushed.headers()["location"].to_str().unwrap().to_string();
    assert!(location.ends_with(&digest), "{location}");
    assert_eq!(
        pushed.headers()["docker-content-digest"].to_str().unwrap(),
        digest
    );
    let (status, read) = server.get_bytes(&format!("/v2/example/big/blobs/{digest}"));
    assert_eq!(status, 200);
    assert!(read == blob, "the pushed blob read back differs");

    // A body cut short of its content-length (the client stops sending) is
    // not stored: whatever answer comes back is not a success.
    let answer = cut_short_publish(&server, "example:big", "2.0.0", &big);
    assert!(
        !answer.starts_with("HTTP/1.1 2"),
        "a cut-short publish was answered {answer:?}"
    );
    let (status, _) = server.get_json("/v1/packages/example:big/versions/2.0.0");
    assert_eq!(status, 404);
}

/// The OCI challenge of a refused write names the registry at the host the
/// client reached: on a Spin build, the one the front passed on to the
/// writes component. A client's own `x-forwarded-host` changes nothing: only
/// a request handed on inside the app is trusted to carry one.
fn a_write_refused_names_the_host_the_client_used_not_one_it_claims(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let refused = client()
        .post(server.at("/v2/example/greet/blobs/uploads/"))
        .header("x-forwarded-host", "attacker.example")
        .send()
        .unwrap();
    assert_eq!(refused.status(), 401);
    let challenge = refused.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.contains(&format!("realm=\"{}/v2/token\"", server.url)),
        "{challenge}"
    );
    assert!(!challenge.contains("attacker"), "{challenge}");
    assert!(!challenge.contains("spin.internal"), "{challenge}");
}

/// A Spin build's front served without `depot-writes` (its file missing
/// beside it) still answers reads; a write is answered 502 with a code and a
/// message that say what is missing, under `/v1` and in the OCI form under
/// `/v2`.
fn a_front_without_its_writes_serves_reads_and_says_why_writes_fail(runtime: Runtime) {
    let app = spin_app(None);
    let writes = app.with_file_name(format!(
        "{}-writes.wasm",
        app.file_stem().unwrap().to_string_lossy()
    ));
    assert!(
        writes.is_file(),
        "depot compose wrote no {}",
        writes.display()
    );
    std::fs::remove_file(&writes).unwrap();
    let server = Server::start_with(ServerOptions {
        runtime,
        spin_app: Some(app),
        ..ServerOptions::default()
    });

    let (status, _) = server.get_json("/v1/packages?limit=1");
    assert_eq!(status, 200);
    let (status, body) = server.publish("example:greet", "1.0.0", &greeter_n(0));
    let message = assert_error(&(status, body), 502, "writes-unavailable");
    assert!(message.contains("depot-writes"), "{message}");

    let pushed = server
        .http()
        .post(server.at("/v2/example/greet/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(pushed.status(), 502);
    let body: Value = pushed.json().unwrap();
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("depot-writes"), "{body}");

    // Nothing was written.
    let (status, _) = server.get_json("/v1/packages/example:greet");
    assert_eq!(status, 404);
}

/// Sends a publish of `bytes` whose `Content-Length` says 10 bytes more, then
/// closes the sending half; returns the status line answered, if any.
fn cut_short_publish(server: &Server, name: &str, version: &str, bytes: &[u8]) -> String {
    use std::io::{Read as _, Write as _};
    let address = server.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let head = format!(
        "PUT /v1/packages/{name}/versions/{version} HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
        server.token,
        bytes.len() + 10
    );
    stream.write_all(head.as_bytes()).unwrap();
    // The server may answer and close before taking everything.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}
