//! Signed releases through the SIG-Registries two-phase publish: keys made
//! with `depot key new` and granted by the operator (log entries), a release
//! manifest POSTed to `/v1/releases`, content uploaded or fetched from a
//! content source, and the publish with `releaseDigest` and
//! `releaseSignature`; bad, ungranted and missing signatures refused; an
//! unpublished release that expires.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use depot_protocol::signing::{SigningKey, verify_release};
use reqwest::Method;
use serde_json::{Value, json};

use crate::oci::{basic_auth, host, oci_client, wasm_config, wasm_layer};
use crate::support::*;

on_every_runtime!(
    a_release_signed_with_a_granted_key_is_published_verified_and_shown,
    bad_ungranted_and_missing_signatures_are_refused,
    content_sources_are_fetched_and_checked_against_the_manifest,
    an_unpublished_release_expires,
    the_two_phase_publish_and_key_management_need_the_right_token,
);

/// A key file made by `depot key new` in `dir`, and its public key.
fn new_key(server: &Server, dir: &Path, file: &str) -> (PathBuf, String) {
    let path = dir.join(file);
    let public = ok(server.cli(&["key", "new", path.to_str().unwrap()]));
    (path, public.trim().to_string())
}

/// The release manifest of `bytes` as `name@version`.
fn manifest(name: &str, version: &str, bytes: &[u8]) -> String {
    json!({
        "packageType": "component",
        "name": name,
        "version": version,
        "contentDigest": {"sha256": sha256_hex(bytes)},
    })
    .to_string()
}

/// `method` `path` with the operator's token and a raw body.
fn send(server: &Server, method: Method, path: &str, body: Vec<u8>) -> (u16, Value) {
    status_json(
        server
            .http()
            .request(method, server.at(path))
            .body(body)
            .send()
            .unwrap(),
    )
}

/// Creates the unpublished release of `manifest`; returns its JSON.
fn create(server: &Server, manifest: &str) -> Value {
    let got = send(
        server,
        Method::POST,
        "/v1/releases",
        manifest.as_bytes().to_vec(),
    );
    assert_eq!(got.0, 201, "{}", got.1);
    got.1
}

/// Creates the unpublished release of `manifest` and uploads `bytes` to it.
fn create_with(server: &Server, manifest: &str, bytes: Vec<u8>) -> Value {
    let unpublished = create(server, manifest);
    let upload = unpublished["uploadUrl"].as_str().unwrap();
    let got = send(server, Method::PUT, upload, bytes);
    assert_eq!(got.0, 200, "{}", got.1);
    unpublished
}

/// Publishes the unpublished release at `publish_url` with `body`.
fn publish(server: &Server, unpublished: &Value, body: &Value) -> (u16, Value) {
    server.post(unpublished["publishUrl"].as_str().unwrap(), body)
}

/// A publish body signed with `key`.
fn signed(key: &SigningKey, manifest: &str) -> Value {
    let signature = key.sign_release(manifest.as_bytes());
    json!({
        "releaseDigest": signature.release_digest,
        "releaseSignature": signature.signature,
        "publicKey": key.public_key().to_string(),
    })
}

fn key_from(path: &Path) -> SigningKey {
    SigningKey::from_file_text(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn a_release_signed_with_a_granted_key_is_published_verified_and_shown(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let dir = tempfile::tempdir().unwrap();
    let (key_file, public) = new_key(&server, dir.path(), "publisher.key");
    assert!(public.starts_with("ed25519:"), "{public}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key file is readable by others");
    }
    // A key file is never overwritten.
    let again = fails(server.cli(&["key", "new", key_file.to_str().unwrap()]));
    assert!(again.contains("never overwritten"), "{again}");
    assert_eq!(
        ok(server.cli(&["key", "public", key_file.to_str().unwrap()])).trim(),
        public
    );

    let granted = ok(server.cli(&["key", "grant", &public, "--namespace", "example"]));
    assert!(
        granted.contains(&format!("{public} may sign example")),
        "{granted}"
    );
    let (_, namespace) = server.get_json("/v1/namespaces/example");
    assert_eq!(namespace["requireSignatures"], false);
    assert_eq!(namespace["keys"][0]["publicKey"], public.as_str());
    assert_eq!(namespace["keys"][0]["scope"], "example");

    let bytes = greeter_n(1);
    let (_wasm_dir, wasm) = temp_file("greet.wasm", &bytes);
    let out = ok(server.cli(&[
        "publish",
        "example:greet@1.0.0",
        wasm.to_str().unwrap(),
        "--sign",
        key_file.to_str().unwrap(),
    ]));
    assert!(out.contains(&format!("signed by {public}")), "{out}");

    // The release carries the signature; anyone can check it with the key.
    let (status, release) = server.get_json("/v1/packages/example:greet/versions/1.0.0");
    assert_eq!(status, 200, "{release}");
    let signature = &release["signature"];
    assert_eq!(signature["publicKey"], public.as_str());
    let manifest_text = signature["manifest"].as_str().unwrap();
    let manifest: Value = serde_json::from_str(manifest_text).unwrap();
    assert_eq!(manifest["name"], "example:greet");
    assert_eq!(manifest["version"], "1.0.0");
    assert_eq!(manifest["contentDigest"]["sha256"], sha256_hex(&bytes));
    verify_release(
        &public.parse().unwrap(),
        manifest_text.as_bytes(),
        signature["releaseDigest"].as_str().unwrap(),
        signature["releaseSignature"].as_str().unwrap(),
    )
    .expect("the served signature verifies");
    let (_, unpublished) = server.get_json("/v1/packages/example:greet/versions/1.0.0/unpublished");
    assert_eq!(unpublished["status"], "published", "{unpublished}");

    // The feed carries the grant and the signature; the log proves both.
    let (_, feed) = server.get_json("/v1/feed?since=0");
    let entries = feed["entries"].as_array().unwrap();
    assert_eq!(entries[0]["kind"], "grant-key");
    assert_eq!(entries[0]["package"], "example");
    assert_eq!(entries[0]["key"], public.as_str());
    assert_eq!(
        entries[1]["release"]["signature"]["releaseSignature"],
        signature["releaseSignature"]
    );
    let info = ok(server.cli(&["info", "example:greet@1.0.0"]));
    assert!(info.contains(&format!("signed by:   {public}")), "{info}");
    let fetched = server.cli_in(dir.path(), &["get", "example:greet@1.0.0"]);
    let said = String::from_utf8_lossy(&fetched.stderr).to_string();
    assert!(fetched.status.success(), "{said}");
    assert!(
        said.contains(&format!("signature by {public} verified")),
        "{said}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("greet-1.0.0.wasm")).unwrap(),
        bytes
    );
    let verified = ok(server.cli(&["verify"]));
    assert!(verified.contains("2 log entries match"), "{verified}");

    // A WIT package is signed as one: the CLI reads its packageType off the bytes.
    let mut resolve = wit_parser::Resolve::default();
    let package = resolve
        .push_source(
            "types.wit",
            "package example:types@0.1.0;\ninterface t { type x = u32; }\n",
        )
        .unwrap();
    let wit = wit_component::encode(&resolve, package).unwrap();
    let (_wit_dir, wit_file) = temp_file("types.wasm", &wit);
    let key = key_file.to_str().unwrap();
    ok(server.cli(&[
        "publish",
        "example:types@0.1.0",
        wit_file.to_str().unwrap(),
        "--sign",
        key,
    ]));
    let (_, types) = server.get_json("/v1/packages/example:types/versions/0.1.0");
    assert_eq!(types["metadata"]["kind"], "wit-package");
    let signed_manifest: Value =
        serde_json::from_str(types["signature"]["manifest"].as_str().unwrap()).unwrap();
    assert_eq!(signed_manifest["packageType"], "wit-package");

    // The web view says who signed it.
    let (status, page) = server.get_bytes("/packages/example/greet");
    assert_eq!(status, 200);
    let page = String::from_utf8(page).unwrap();
    assert!(
        page.contains("Signed by the publisher"),
        "no signature on the page"
    );
    assert!(page.contains(&public), "the page does not name the key");
}

fn bad_ungranted_and_missing_signatures_are_refused(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let dir = tempfile::tempdir().unwrap();
    let (granted_file, granted) = new_key(&server, dir.path(), "granted.key");
    let (other_file, _) = new_key(&server, dir.path(), "other.key");
    let key = key_from(&granted_file);
    let other = key_from(&other_file);
    ok(server.cli(&["key", "grant", &granted, "--package", "example:greet"]));

    let bytes = greeter_n(2);
    let text = manifest("example:greet", "1.0.0", &bytes);
    let unpublished = create_with(&server, &text, bytes.clone());
    assert_eq!(unpublished["status"], "pending");

    // A digest of other bytes than the manifest sent.
    let mut wrong_digest = signed(&key, &text);
    wrong_digest["releaseDigest"] = json!("00".repeat(32));
    let message = assert_error(
        &publish(&server, &unpublished, &wrong_digest),
        400,
        "invalid-signature",
    );
    assert!(
        message.contains("WASM-COMPONENT-REGISTRY-RELEASE-V1"),
        "{message}"
    );
    // A signature of another manifest by the granted key.
    let mut forged = signed(&key, &text);
    forged["releaseSignature"] =
        signed(&key, &manifest("example:greet", "9.0.0", &bytes))["releaseSignature"].clone();
    let message = assert_error(
        &publish(&server, &unpublished, &forged),
        400,
        "invalid-signature",
    );
    assert!(message.contains("does not verify"), "{message}");
    // A good signature by a key not granted: the release is rejected.
    let unpublished = create(&server, &text);
    let message = assert_error(
        &publish(&server, &unpublished, &signed(&other, &text)),
        403,
        "forbidden",
    );
    assert!(
        message.contains("is not granted on `example:greet`"),
        "{message}"
    );
    let (_, status) = server.get_json("/v1/packages/example:greet/versions/1.0.0/unpublished");
    assert_eq!(status["status"], "rejected", "{status}");
    assert!(
        status["reason"].as_str().unwrap().contains("not granted"),
        "{status}"
    );
    let again = publish(&server, &unpublished, &signed(&key, &text));
    assert_error(&again, 409, "conflict");
    assert_eq!(
        server
            .get_json("/v1/packages/example:greet/versions/1.0.0")
            .0,
        404
    );

    // The granted key, on a fresh unpublished release: published.
    let unpublished = create(&server, &text);
    let (status, release) = publish(&server, &unpublished, &signed(&key, &text));
    assert_eq!(status, 201, "{release}");
    assert_eq!(release["signature"]["publicKey"], granted.as_str());

    // A namespace that requires signatures refuses unsigned releases, by
    // every route; the CLI says how to sign.
    ok(server.cli(&["namespace", "require-signatures", "example"]));
    let unsigned = assert_error(
        &server.publish("example:greet", "2.0.0", &greeter_n(3)),
        403,
        "signature-required",
    );
    assert!(unsigned.contains("depot publish --sign"), "{unsigned}");
    let bytes = greeter_n(4);
    let text = manifest("example:greet", "2.0.0", &bytes);
    let unpublished = create_with(&server, &text, bytes);
    assert_error(
        &publish(&server, &unpublished, &json!({})),
        403,
        "signature-required",
    );
    let (_wasm_dir, wasm) = temp_file("greet.wasm", &greeter_n(5));
    let refused = fails(server.cli(&["publish", "example:greet@3.0.0", wasm.to_str().unwrap()]));
    assert!(refused.contains("signature-required"), "{refused}");
    // An OCI push is a publish like any other: refused too.
    let oci_bytes = greeter_n(6);
    let reference: oci_client::Reference = format!("{}/example/greet:4.0.0", host(&server))
        .parse()
        .unwrap();
    let pushed = crate::oci::runtime().block_on(oci_client().push(
        &reference,
        &[wasm_layer(&oci_bytes)],
        wasm_config(&oci_bytes, "2026-11-28T00:00:00Z"),
        &basic_auth(&server),
        None,
    ));
    let Err(refused) = pushed else {
        panic!("an unsigned OCI push was accepted");
    };
    let refused = refused.to_string();
    assert!(refused.contains("requires signed releases"), "{refused}");
    assert_eq!(
        server
            .get_json("/v1/packages/example:greet/versions/4.0.0")
            .0,
        404
    );

    // A revoked key signs no more.
    ok(server.cli(&["key", "revoke", &granted, "--package", "example:greet"]));
    let refused = fails(server.cli(&[
        "publish",
        "example:greet@3.0.0",
        wasm.to_str().unwrap(),
        "--sign",
        granted_file.to_str().unwrap(),
    ]));
    assert!(refused.contains("not granted"), "{refused}");
    let (_, namespace) = server.get_json("/v1/namespaces/example");
    assert_eq!(namespace["requireSignatures"], true);
    assert_eq!(namespace["keys"], json!([]));
    let verified = ok(server.cli(&["verify"]));
    assert!(
        verified.contains("every package and release served matches"),
        "{verified}"
    );
}

/// Serves `files` (path → bytes) over HTTP on 127.0.0.1 until the process
/// ends; returns its base URL.
fn serve_files(files: HashMap<&'static str, Vec<u8>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let files = Arc::new(files);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let files = files.clone();
            std::thread::spawn(move || {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&request);
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let response = match files.get(path.as_str()) {
                    Some(bytes) => {
                        let mut head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/wasm\r\n\
                             content-length: {}\r\nconnection: close\r\n\r\n",
                            bytes.len()
                        )
                        .into_bytes();
                        head.extend_from_slice(bytes);
                        head
                    }
                    None => {
                        b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = stream.write_all(&response);
            });
        }
    });
    base
}

fn content_sources_are_fetched_and_checked_against_the_manifest(runtime: Runtime) {
    let good = greeter_n(10);
    let other = greeter_n(11);
    let base = serve_files(HashMap::from([
        ("/good.wasm", good.clone()),
        ("/other.wasm", other.clone()),
    ]));
    let server = Server::start_with(ServerOptions {
        args: [
            "--content-source",
            "http://127.0.0.1:",
            "--content-source",
            "https://127.0.0.1:",
        ]
        .map(String::from)
        .to_vec(),
        runtime,
        ..ServerOptions::default()
    });

    // By the CLI: the registry fetches the content, never uploaded.
    let dir = tempfile::tempdir().unwrap();
    let (_wasm_dir, wasm) = temp_file("good.wasm", &good);
    let out = ok(server.cli_in(
        dir.path(),
        &[
            "publish",
            "example:fetched@1.0.0",
            wasm.to_str().unwrap(),
            "--content-source",
            &format!("{base}/good.wasm"),
        ],
    ));
    assert!(out.contains("published example:fetched@1.0.0"), "{out}");
    let (_, content) = server.get_bytes("/v1/packages/example:fetched/versions/1.0.0/content");
    assert_eq!(content, good);

    // A source whose bytes are not the manifest's: rejected, with the reason.
    let text = manifest("example:fetched", "2.0.0", &greeter_n(12));
    let unpublished = create(&server, &text);
    let path = "/v1/packages/example:fetched/versions/2.0.0/unpublished/content-sources";
    let sources = json!({"contentSources": [{"url": format!("{base}/other.wasm")}]});
    let (status, added) = server.post(path, &sources);
    assert_eq!(status, 200, "{added}");
    assert_eq!(
        added["contentSources"][0]["url"],
        format!("{base}/other.wasm")
    );
    let message = assert_error(
        &publish(&server, &unpublished, &json!({})),
        400,
        "invalid-digest",
    );
    assert!(message.contains(&sha256_hex(&other)), "{message}");
    let (_, status) = server.get_json("/v1/packages/example:fetched/versions/2.0.0/unpublished");
    assert_eq!(status["status"], "rejected", "{status}");
    assert!(
        status["reason"].as_str().unwrap().contains("not sha256:"),
        "{status}"
    );
    assert_eq!(
        server
            .get_json("/v1/packages/example:fetched/versions/2.0.0")
            .0,
        404
    );

    // A source that is not there leaves the release pending, to retry.
    let text = manifest("example:fetched", "3.0.0", &greeter_n(13));
    let unpublished = create(&server, &text);
    let path = "/v1/packages/example:fetched/versions/3.0.0/unpublished/content-sources";
    let missing = json!({"contentSources": [{"url": format!("{base}/missing.wasm")}]});
    assert_eq!(server.post(path, &missing).0, 200);
    let message = assert_error(
        &publish(&server, &unpublished, &json!({})),
        502,
        "content-unavailable",
    );
    assert!(message.contains("HTTP 404"), "{message}");
    let (_, status) = server.get_json("/v1/packages/example:fetched/versions/3.0.0/unpublished");
    assert_eq!(status["status"], "pending", "{status}");

    // An https:// source whose server does not speak TLS: unavailable, not a crash.
    let text = manifest("example:fetched", "5.0.0", &greeter_n(15));
    let tls = create(&server, &text);
    let path5 = "/v1/packages/example:fetched/versions/5.0.0/unpublished/content-sources";
    let closer = TcpListener::bind("127.0.0.1:0").unwrap();
    let https = format!("https://{}", closer.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in closer.incoming() {
            drop(stream);
        }
    });
    let not_tls = json!({"contentSources": [{"url": format!("{https}/good.wasm")}]});
    assert_eq!(server.post(path5, &not_tls).0, 200);
    assert_error(
        &publish(&server, &tls, &json!({})),
        502,
        "content-unavailable",
    );

    // URLs outside the allowed prefixes are refused before anything is fetched.
    let elsewhere = json!({"contentSources": [{"url": "http://10.1.2.3/x.wasm"}]});
    let message = assert_error(&server.post(path, &elsewhere), 400, "bad-request");
    assert!(
        message.contains("http://127.0.0.1:, https://127.0.0.1:"),
        "{message}"
    );
    let (_, status) = server.get_json("/v1/packages/example:fetched/versions/3.0.0/unpublished");
    assert_eq!(status["contentSources"].as_array().unwrap().len(), 1);

    // Uploaded content that is not the manifest's is refused.
    let message = assert_error(
        &send(
            &server,
            Method::PUT,
            unpublished["uploadUrl"].as_str().unwrap(),
            other,
        ),
        400,
        "invalid-digest",
    );
    assert!(message.contains("the release manifest names"), "{message}");
    // Publishing before any content arrived says what to do.
    let text = manifest("example:fetched", "4.0.0", &greeter_n(14));
    let unpublished = create(&server, &text);
    let message = assert_error(
        &publish(&server, &unpublished, &json!({})),
        409,
        "content-missing",
    );
    assert!(message.contains("upload it to"), "{message}");
}

fn an_unpublished_release_expires(runtime: Runtime) {
    let server = Server::start_with(ServerOptions {
        args: vec!["--unpublished-ttl".into(), "1s".into()],
        runtime,
        ..ServerOptions::default()
    });
    let bytes = greeter_n(20);
    let text = manifest("example:late", "1.0.0", &bytes);
    let unpublished = create(&server, &text);
    assert_eq!(unpublished["status"], "pending");
    let created =
        depot_protocol::parse_rfc3339(unpublished["createdAt"].as_str().unwrap()).unwrap();
    let expires =
        depot_protocol::parse_rfc3339(unpublished["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!(expires - created, 1000);
    std::thread::sleep(Duration::from_millis(1300));
    let (_, status) = server.get_json("/v1/packages/example:late/versions/1.0.0/unpublished");
    assert_eq!(status["status"], "expired", "{status}");
    let upload = unpublished["uploadUrl"].as_str().unwrap();
    let message = assert_error(
        &send(&server, Method::PUT, upload, bytes.clone()),
        410,
        "expired",
    );
    assert!(
        message.contains("create it again with POST /v1/releases"),
        "{message}"
    );
    assert_error(&publish(&server, &unpublished, &json!({})), 410, "expired");
    assert_eq!(
        server
            .get_json("/v1/packages/example:late/versions/1.0.0")
            .0,
        404
    );
    // Created again, it publishes; of two racing publishes exactly one wins
    // and the status says published.
    let unpublished = create_with(&server, &text, bytes);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let racers: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| publish(&server, &unpublished, &json!({})).0))
            .collect();
        racers.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [201, 409], "{statuses:?}");
    let (_, status) = server.get_json("/v1/packages/example:late/versions/1.0.0/unpublished");
    assert_eq!(status["status"], "published", "{status}");
}

fn the_two_phase_publish_and_key_management_need_the_right_token(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let (status, made) = server.post("/v1/tokens", &json!({"namespaces": ["other"]}));
    assert_eq!(status, 201, "{made}");
    let other = made["token"].as_str().unwrap().to_string();
    let (status, made) = server.post("/v1/tokens", &json!({"namespaces": ["example"]}));
    assert_eq!(status, 201, "{made}");
    let publisher = made["token"].as_str().unwrap().to_string();
    let bytes = greeter_n(30);
    let text = manifest("example:guarded", "1.0.0", &bytes);
    let unpublished = create(&server, &text);
    let release = "/v1/packages/example:guarded/versions/1.0.0";
    let key = SigningKey::from_seed([7; 32]).public_key().to_string();
    let writes: Vec<(Method, String, Vec<u8>, u16)> = vec![
        (
            Method::POST,
            "/v1/releases".into(),
            text.clone().into_bytes(),
            403,
        ),
        (
            Method::GET,
            format!("{release}/unpublished"),
            Vec::new(),
            403,
        ),
        (
            Method::PUT,
            format!("{release}/unpublished/content"),
            bytes.clone(),
            403,
        ),
        (
            Method::POST,
            format!("{release}/unpublished/content-sources"),
            br#"{"contentSources": []}"#.to_vec(),
            403,
        ),
        (Method::POST, release.to_string(), b"{}".to_vec(), 403),
        (
            Method::POST,
            "/v1/keys/grant".into(),
            json!({"publicKey": key, "scope": "example"})
                .to_string()
                .into_bytes(),
            403,
        ),
        (
            Method::POST,
            "/v1/keys/revoke".into(),
            json!({"publicKey": key, "scope": "example"})
                .to_string()
                .into_bytes(),
            403,
        ),
        (
            Method::PUT,
            "/v1/namespaces/example/policy".into(),
            br#"{"requireSignatures": true}"#.to_vec(),
            403,
        ),
    ];
    for (method, path, body, status) in &writes {
        let url = server.at(path);
        let without = status_json(
            client()
                .request(method.clone(), &url)
                .body(body.clone())
                .send()
                .unwrap(),
        );
        assert_error(&without, 401, "unauthorized");
        let wrong = client_with_token(&other)
            .request(method.clone(), &url)
            .body(body.clone())
            .send()
            .unwrap();
        assert_error(&status_json(wrong), *status, "forbidden");
    }
    // A namespace token may publish, but not manage keys or policy.
    let as_publisher = client_with_token(&publisher);
    let upload = as_publisher
        .put(server.at(unpublished["uploadUrl"].as_str().unwrap()))
        .body(bytes)
        .send()
        .unwrap();
    assert_eq!(upload.status(), 200);
    let grant = as_publisher
        .post(server.at("/v1/keys/grant"))
        .json(&json!({"publicKey": key, "scope": "example"}))
        .send()
        .unwrap();
    let message = assert_error(&status_json(grant), 403, "forbidden");
    assert!(message.contains("operator"), "{message}");
    let published = as_publisher
        .post(server.at(release))
        .json(&json!({}))
        .send()
        .unwrap();
    assert_eq!(published.status(), 201);
}
