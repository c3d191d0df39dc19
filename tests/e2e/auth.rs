//! Tokens: every write of `/v1` and `/v2` needs a token whose grants cover
//! the package's namespace; the operator's token (printed once) manages
//! tokens and takes releases down; `--private` makes reads need one too; OCI
//! clients log in the standard way (basic auth, the bearer token flow).

use std::process::Command;
use std::time::Duration;

use oci_client::Reference;
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use reqwest::Method;
use reqwest::blocking::Response;
use serde_json::{Value, json};

use crate::oci::{
    basic_auth, host, oci_client, oci_error, runtime, wasm_config, wasm_layer,
    wasm_pkg_client_with_token, wasm_pkg_fetch,
};
use crate::support::*;

// The store-level cases (who may do what, tokens kept as hashes) run against
// the Spin build's store too; the OCI login flows are the api handler's.
on_every_runtime!(
    every_v1_write_needs_a_token_granted_its_namespace,
    every_v2_write_needs_a_token_and_refusals_carry_the_token_challenge,
    tokens_are_managed_by_the_operator_only,
    the_cli_makes_lists_and_revokes_tokens_and_publishes_with_one,
    the_operator_token_is_printed_once_and_stored_only_as_a_hash,
    a_private_registry_needs_a_token_to_read_but_discovery_stays_public,
);

on_runtimes!(
    [spin_variables = Spin, spin_shared_variables = SpinShared]
        [a_spin_build_takes_the_operator_token_from_its_variable]
);

/// A token made by the operator over `POST /v1/tokens`.
fn create_token(server: &Server, body: Value) -> Value {
    let (status, made) = server.post("/v1/tokens", &body);
    assert_eq!(status, 201, "{made}");
    made
}

/// The credentials of the matrix that must fail, with the status and /v1
/// code each gets; the expired token expires a second after it is made.
struct Refused {
    cases: Vec<(&'static str, Option<String>, u16)>,
}

impl Refused {
    /// Makes the expired, revoked and wrong-namespace tokens; waits for the
    /// expired one to expire.
    fn make(server: &Server) -> Self {
        let expired = create_token(server, json!({"namespaces": ["example"], "expiresIn": 1}));
        let revoked = create_token(server, json!({"namespaces": ["example"]}));
        let id = revoked["id"].as_str().unwrap();
        let response = server
            .http()
            .delete(server.at(&format!("/v1/tokens/{id}")))
            .send()
            .unwrap();
        let (status, body) = status_json(response);
        assert_eq!(status, 200, "{body}");
        assert!(body["revokedAt"].is_string(), "{body}");
        let other = create_token(server, json!({"namespaces": ["other"], "label": "other"}));
        std::thread::sleep(Duration::from_millis(1100));
        let secret = |made: &Value| Some(made["token"].as_str().unwrap().to_string());
        // Shaped like a token, but never issued by this registry.
        let unknown = format!("depot_{}", "0123456789abcdef".repeat(4));
        assert_ne!(secret(&other).as_deref(), Some(unknown.as_str()));
        Self {
            cases: vec![
                ("no token", None, 401),
                ("malformed", Some("not-a-depot-token".to_string()), 401),
                ("unknown", Some(unknown), 401),
                ("expired", secret(&expired), 401),
                ("revoked", secret(&revoked), 401),
                ("wrong namespace", secret(&other), 403),
            ],
        }
    }
}

fn send(
    method: &Method,
    url: &str,
    token: Option<&str>,
    body: Option<(&str, Vec<u8>)>,
) -> Response {
    let mut request = client().request(method.clone(), url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some((content_type, body)) = body {
        request = request.header("content-type", content_type).body(body);
    }
    request.send().unwrap()
}

/// A request body and its content type.
type Body = Option<(&'static str, Vec<u8>)>;

/// One `/v1` write: method, path, JSON body (or content), and its success.
struct V1Write {
    method: Method,
    path: String,
    body: Body,
    ok: u16,
}

fn v1(method: Method, path: &str, body: Option<Value>, ok: u16) -> V1Write {
    V1Write {
        method,
        path: path.to_string(),
        body: body.map(|b| ("application/json", b.to_string().into_bytes())),
        ok,
    }
}

fn every_v1_write_needs_a_token_granted_its_namespace(runtime: Runtime) {
    let server = Server::start_on(runtime);
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(0)).0,
        201
    );
    let refused = Refused::make(&server);
    let valid = create_token(&server, json!({"namespaces": ["example"], "label": "ci"}));
    let valid = valid["token"].as_str().unwrap();
    let release = "/v1/packages/example:greet/versions/1.0.0";
    let writes = [
        V1Write {
            method: Method::PUT,
            path: "/v1/packages/example:greet/versions/2.0.0".into(),
            body: Some(("application/wasm", greeter_n(2))),
            ok: 201,
        },
        v1(Method::POST, &format!("{release}/yank"), None, 200),
        v1(Method::POST, &format!("{release}/unyank"), None, 200),
        v1(
            Method::POST,
            &format!("{release}/annotations"),
            Some(json!({"type": "review", "value": {"ok": true}})),
            201,
        ),
    ];
    for write in &writes {
        let url = server.at(&write.path);
        for (case, token, status) in &refused.cases {
            let response = send(&write.method, &url, token.as_deref(), write.body.clone());
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_string());
            let got = status_json(response);
            let code = if *status == 401 {
                "unauthorized"
            } else {
                "forbidden"
            };
            let message = assert_error(&got, *status, code);
            let what = format!("{} {} with {case}: {message}", write.method, write.path);
            assert_refusal_message(
                case,
                &message,
                "this token may publish to namespaces other; not `example`",
                &what,
            );
            assert_eq!(
                challenge.as_deref(),
                (*status == 401).then_some("Bearer realm=\"depot\""),
                "{what}"
            );
        }
        let response = send(&write.method, &url, Some(valid), write.body.clone());
        let (status, body) = status_json(response);
        assert_eq!(status, write.ok, "{} {}: {body}", write.method, write.path);
    }

    // Takedown is the operator's: a namespace token is forbidden.
    let takedown = server.at(&format!("{release}/takedown"));
    let reason = Some(("application/json", br#"{"reason": "malware"}"#.to_vec()));
    for (case, token, status) in &refused.cases {
        let got = status_json(send(
            &Method::POST,
            &takedown,
            token.as_deref(),
            reason.clone(),
        ));
        let code = if *status == 401 {
            "unauthorized"
        } else {
            "forbidden"
        };
        let message = assert_error(&got, *status, code);
        let what = format!("takedown with {case}: {message}");
        assert_refusal_message(case, &message, "only the operator", &what);
    }
    let by_publisher = status_json(send(&Method::POST, &takedown, Some(valid), reason.clone()));
    let message = assert_error(&by_publisher, 403, "forbidden");
    assert!(message.contains("only the operator"), "{message}");
    let by_operator = send(&Method::POST, &takedown, Some(&server.token), reason);
    assert_eq!(by_operator.status(), 200);
}

/// Checks that the message refusing a [`Refused`] case says what was wrong
/// with the credential; `wrong_namespace` is what the refusal of a valid
/// token without the grant says.
fn assert_refusal_message(case: &str, message: &str, wrong_namespace: &str, what: &str) {
    let expected = match case {
        "no token" => "no token: pass --token or DEPOT_TOKEN",
        "malformed" => "not a Depot token",
        "unknown" => "unknown token: this registry issued no such token",
        "expired" => "token expired on ",
        "revoked" => "token revoked",
        "wrong namespace" => wrong_namespace,
        _ => panic!("no expected message for the case {case}"),
    };
    assert!(message.contains(expected), "{what}");
}

/// Uploads `bytes` monolithically into `example/greet` with `token`.
fn upload(server: &Server, token: &str, bytes: &[u8]) -> String {
    let digest = format!("sha256:{}", sha256_hex(bytes));
    let url = server.at(&format!("/v2/example/greet/blobs/uploads/?digest={digest}"));
    let response = send(
        &Method::POST,
        &url,
        Some(token),
        Some(("application/octet-stream", bytes.to_vec())),
    );
    assert_eq!(response.status(), 201);
    digest
}

/// Starts a chunked upload into `example/greet`; returns its location.
fn start_upload(server: &Server, token: &str) -> String {
    let url = server.at("/v2/example/greet/blobs/uploads/");
    let response = send(&Method::POST, &url, Some(token), None);
    assert_eq!(response.status(), 202);
    server.at(response.headers()["location"].to_str().unwrap())
}

fn every_v2_write_needs_a_token_and_refusals_carry_the_token_challenge(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let refused = Refused::make(&server);
    let valid = create_token(&server, json!({"namespaces": ["example"]}));
    let valid = valid["token"].as_str().unwrap();

    let config = upload(&server, valid, b"{}");
    let data = b"some file".to_vec();
    let data_digest = format!("sha256:{}", sha256_hex(&data));
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "text/plain",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "text/plain", "digest": data_digest, "size": data.len()}],
    })
    .to_string()
    .into_bytes();
    let chunked = start_upload(&server, valid);
    let cancelled = start_upload(&server, valid);
    let repo = "/v2/example/greet";
    // In order: each valid request sets up the next.
    let writes: Vec<(Method, String, Body, u16)> = vec![
        (
            Method::POST,
            server.at(&format!("{repo}/blobs/uploads/")),
            None,
            202,
        ),
        (
            Method::PATCH,
            chunked.clone(),
            Some(("application/octet-stream", data.clone())),
            202,
        ),
        (
            Method::PUT,
            format!("{chunked}?digest={data_digest}"),
            None,
            201,
        ),
        (Method::DELETE, cancelled, None, 204),
        (
            Method::PUT,
            server.at(&format!("{repo}/manifests/files")),
            Some(("application/vnd.oci.image.manifest.v1+json", manifest)),
            201,
        ),
        (
            Method::DELETE,
            server.at(&format!("{repo}/manifests/files")),
            None,
            202,
        ),
        (
            Method::DELETE,
            server.at(&format!("{repo}/blobs/{data_digest}")),
            None,
            202,
        ),
    ];
    let realm = format!("Bearer realm=\"{}/v2/token\",service=\"depot\"", server.url);
    for (method, url, body, ok) in &writes {
        for (case, token, status) in &refused.cases {
            let response = send(method, url, token.as_deref(), body.clone());
            let challenge = response
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_string());
            let (got, code, _) = oci_error(response);
            let expected = if *status == 401 {
                "UNAUTHORIZED"
            } else {
                "DENIED"
            };
            assert_eq!(
                (got, code.as_str()),
                (*status, expected),
                "{method} {url} with {case}"
            );
            if *status == 401 {
                let challenge = challenge.expect("a challenge");
                assert!(challenge.starts_with(&realm), "{challenge}");
                assert!(
                    challenge.contains("scope=\"repository:example/greet:pull"),
                    "{challenge}"
                );
            } else {
                assert_eq!(challenge, None);
            }
        }
        let response = send(method, url, Some(valid), body.clone());
        assert_eq!(
            response.status().as_u16(),
            *ok,
            "{method} {url}: {:?}",
            response.text()
        );
    }
}

fn tokens_are_managed_by_the_operator_only(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let made = create_token(
        &server,
        json!({"namespaces": ["example", "acme"], "label": "ci"}),
    );
    let token = made["token"].as_str().unwrap();
    assert!(token.starts_with("depot_") && token.len() == 70, "{made}");
    assert_eq!(made["namespaces"], json!(["example", "acme"]));
    let as_publisher = client_with_token(token);
    let denied = status_json(
        as_publisher
            .post(server.at("/v1/tokens"))
            .json(&json!({"namespaces": ["*"]}))
            .send()
            .unwrap(),
    );
    assert_error(&denied, 403, "forbidden");
    let listed = status_json(as_publisher.get(server.at("/v1/tokens")).send().unwrap());
    assert_error(&listed, 403, "forbidden");
    let id = made["id"].as_str().unwrap();
    let revoke = as_publisher
        .delete(server.at(&format!("/v1/tokens/{id}")))
        .send()
        .unwrap();
    assert_error(&status_json(revoke), 403, "forbidden");

    // The list has no secrets.
    let (status, list) = server.get_json("/v1/tokens");
    assert_eq!(status, 200);
    assert!(!list.to_string().contains(token), "{list}");
    let ids: Vec<&str> = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{list}");
    assert_eq!(list["tokens"][0]["operator"], true);
    for bad in [
        json!({"namespaces": []}),
        json!({"namespaces": ["Bad:ns"]}),
        json!({"namespaces": ["a"], "expiresAt": "2000-01-01T00:00:00.000Z"}),
    ] {
        assert_error(&server.post("/v1/tokens", &bad), 400, "bad-request");
    }
}

fn the_cli_makes_lists_and_revokes_tokens_and_publishes_with_one(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let out = ok(server.cli(&[
        "token",
        "create",
        "--namespace",
        "example",
        "--expires",
        "30d",
        "--label",
        "ci",
    ]));
    let token = out.trim().to_string();
    assert!(token.starts_with("depot_"), "{out}");
    let list = ok(server.cli(&["token", "list"]));
    assert!(
        list.contains("example  ci") && list.contains("operator"),
        "{list}"
    );
    assert!(!list.contains(&token), "{list}");

    let (_dir, file) = temp_file("greet.wasm", &greeter_n(1));
    let file = file.to_str().unwrap();
    let publish = |token: &str| {
        std::process::Command::new(DEPOT)
            .args(["publish", "example:greet@1.0.0", file])
            .env("DEPOT_REGISTRY", &server.url)
            .env("DEPOT_TOKEN", token)
            .output()
            .unwrap()
    };
    let unauthenticated = std::process::Command::new(DEPOT)
        .args([
            "publish",
            "example:greet@1.0.0",
            file,
            "--registry",
            &server.url,
        ])
        .output()
        .unwrap();
    assert!(fails(unauthenticated).contains("pass --token or set DEPOT_TOKEN"));
    let other = std::process::Command::new(DEPOT)
        .args([
            "publish",
            "acme:greet@1.0.0",
            file,
            "--registry",
            &server.url,
            "--token",
            &token,
        ])
        .output()
        .unwrap();
    assert!(fails(other).contains("not `acme`"));
    assert!(ok(publish(&token)).contains("published example:greet@1.0.0"));

    let id = list
        .lines()
        .find(|l| l.contains(" ci "))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert!(ok(server.cli(&["token", "revoke", id])).contains("revoked"));
    let err = fails(
        std::process::Command::new(DEPOT)
            .args([
                "yank",
                "example:greet@1.0.0",
                "--registry",
                &server.url,
                "--token",
                &token,
            ])
            .output()
            .unwrap(),
    );
    assert!(err.contains("token revoked"), "{err}");
}

fn the_operator_token_is_printed_once_and_stored_only_as_a_hash(runtime: Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let options = || ServerOptions {
        data: Some(data.clone()),
        runtime,
        ..ServerOptions::default()
    };
    let server = Server::start_with(options());
    let token = server
        .printed_token
        .clone()
        .expect("a new registry prints its operator token");
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(0)).0,
        201
    );
    server.stop();

    let server = Server::start_with(ServerOptions {
        token: Some(token.clone()),
        ..options()
    });
    assert_eq!(server.printed_token, None, "a restart printed a token");
    assert_eq!(
        server.publish("example:greet", "1.1.0", &greeter_n(1)).0,
        201
    );
    server.stop();

    let mut files = vec![data.clone()];
    let mut checked = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            let secret = &token.as_bytes()["depot_".len()..];
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{} holds the token in clear",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 1);
}

/// The Spin build takes the operator's token from its `operator_token`
/// variable (the token or, here, its SHA-256): nothing is printed or made at
/// start-up, the token works from its first request, is then listed, and
/// revoking it holds although the configuration still names it.
fn a_spin_build_takes_the_operator_token_from_its_variable(runtime: Runtime) {
    let made = ok(Command::new(DEPOT)
        .args(["token", "generate", "--json"])
        .output()
        .unwrap());
    let made: Value = serde_json::from_str(&made).unwrap();
    let (token, sha256) = (
        made["token"].as_str().unwrap(),
        made["sha256"].as_str().unwrap(),
    );
    assert_eq!(sha256, sha256_hex(token.as_bytes()));
    let dir = tempfile::tempdir().unwrap();
    let options = || ServerOptions {
        runtime,
        data: Some(dir.path().join("data")),
        token: Some(token.to_string()),
        env: vec![("SPIN_VARIABLE_OPERATOR_TOKEN".into(), sha256.to_string())],
        ..ServerOptions::default()
    };
    let server = Server::start_with(options());
    assert_eq!(server.printed_token, None);
    let (status, _) = server.get_json("/v1/tokens");
    assert_eq!(status, 200);
    // Another well-formed token is not the operator's.
    let other = client_with_token(&generate_token())
        .get(server.at("/v1/tokens"))
        .send()
        .unwrap();
    assert_eq!(other.status(), 401);
    let listed = ok(server.cli(&["token", "list"]));
    assert!(
        listed.contains("operator  operator (configured)"),
        "{listed}"
    );
    let id = listed.split_whitespace().next().unwrap().to_string();
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(0)).0,
        201
    );

    // A restart (a new replica) knows it too, and a revocation holds.
    drop(server);
    let server = Server::start_with(options());
    assert_eq!(
        server.publish("example:greet", "1.1.0", &greeter_n(1)).0,
        201
    );
    ok(server.cli(&["token", "revoke", &id]));
    assert_eq!(
        server.publish("example:greet", "1.2.0", &greeter_n(2)).0,
        401
    );
    drop(server);
    let server = Server::start_with(options());
    assert_eq!(
        server.publish("example:greet", "1.2.0", &greeter_n(2)).0,
        401
    );
}

fn a_private_registry_needs_a_token_to_read_but_discovery_stays_public(runtime: Runtime) {
    let server = Server::start_with(ServerOptions {
        args: vec!["--private".into()],
        runtime,
        ..ServerOptions::default()
    });
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(0)).0,
        201
    );
    let anonymous = client();
    let got = status_json(
        anonymous
            .get(server.at("/v1/packages/example:greet"))
            .send()
            .unwrap(),
    );
    assert_error(&got, 401, "unauthorized");
    assert_eq!(server.get_json("/v1/packages/example:greet").0, 200);
    let page = anonymous
        .get(server.at("/packages/example/greet"))
        .send()
        .unwrap();
    assert_eq!(page.status(), 401);
    assert!(page.text().unwrap().contains("This registry is private"));
    assert_eq!(
        server
            .http()
            .get(server.at("/packages/example/greet"))
            .send()
            .unwrap()
            .status(),
        200
    );
    let tags = anonymous
        .get(server.at("/v2/example/greet/tags/list"))
        .send()
        .unwrap();
    assert!(
        tags.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("/v2/token")
    );
    assert_eq!(oci_error(tags).1, "UNAUTHORIZED");
    assert_eq!(
        anonymous
            .get(server.at("/.well-known/wasm-pkg/registry.json"))
            .send()
            .unwrap()
            .status(),
        200
    );
    let token = anonymous.get(server.at("/v2/token")).send().unwrap();
    assert_eq!(token.status(), 401);

    // The CLI reads with DEPOT_TOKEN; oci-client logs in with basic auth.
    assert!(ok(server.cli(&["list"])).contains("example:greet"));
    let reference: Reference = format!("{}/example/greet:1.0.0", host(&server))
        .parse()
        .unwrap();
    // `runtime` here is the registry's; this is tokio's.
    crate::oci::runtime().block_on(async {
        let client = oci_client();
        let anonymous = client
            .pull_image_manifest(&reference, &RegistryAuth::Anonymous)
            .await
            .unwrap_err();
        assert!(
            matches!(
                &anonymous,
                OciDistributionError::UnauthorizedError { url } if url.contains("/manifests/1.0.0")
            ),
            "{anonymous:?}"
        );
        let client = oci_client();
        let (manifest, _) = client
            .pull_image_manifest(&reference, &basic_auth(&server))
            .await
            .unwrap();
        let mut pulled = Vec::new();
        client
            .pull_blob(&reference, &manifest.layers[0], &mut pulled)
            .await
            .unwrap();
        assert_eq!(pulled, greeter_n(0));
    });
}

#[test]
fn oci_clients_log_in_through_the_token_endpoint() {
    let server = Server::start();
    let base = client().get(server.at("/v2/")).send().unwrap();
    assert_eq!(base.status(), 401);
    let challenge = base.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        challenge,
        format!("Bearer realm=\"{}/v2/token\",service=\"depot\"", server.url)
    );
    let made = create_token(&server, json!({"namespaces": ["example"]}));
    let token = made["token"].as_str().unwrap();
    let issued: Value = client()
        .get(server.at("/v2/token?service=depot&scope=repository:example/greet:pull,push"))
        .basic_auth("anyone", Some(token))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(issued["token"], token);
    assert_eq!(issued["access_token"], token);
    assert!(issued["expires_in"].as_u64().unwrap() > 0);
    let wrong = client()
        .get(server.at("/v2/token"))
        .basic_auth("anyone", Some("depot_nope"))
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let anonymous: Value = client()
        .get(server.at("/v2/token"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(anonymous["token"], "anonymous");

    // oci-client follows the challenge with basic auth, then pushes with the bearer token.
    let bytes = greeter_n(7);
    let reference: Reference = format!("{}/example/greet:1.0.0", host(&server))
        .parse()
        .unwrap();
    let other: Reference = format!("{}/acme/greet:1.0.0", host(&server))
        .parse()
        .unwrap();
    let auth = RegistryAuth::Basic("depot".into(), token.to_string());
    runtime().block_on(async {
        let config = wasm_config(&bytes, "2026-11-28T00:00:00Z");
        let Err(refused) = oci_client()
            .push(&other, &[wasm_layer(&bytes)], config, &auth, None)
            .await
        else {
            panic!("pushed to a namespace not granted");
        };
        assert!(
            matches!(
                &refused,
                OciDistributionError::ServerError { code: 403, message, .. }
                    if message.contains("DENIED")
                        && message.contains("use a token granted `acme`")
            ),
            "pushed to a namespace not granted: {refused:?}"
        );
        let config = wasm_config(&bytes, "2026-11-28T00:00:00Z");
        oci_client()
            .push(&reference, &[wasm_layer(&bytes)], config, &auth, None)
            .await
            .unwrap();
    });
    let (status, release) = server.get_json("/v1/packages/example:greet/versions/1.0.0");
    assert_eq!(status, 200, "{release}");
    // The refused push left nothing: no package, no tag, no blob.
    assert_error(
        &server.get_json("/v1/packages/acme:greet"),
        404,
        "not-found",
    );
    let tags = client()
        .get(server.at("/v2/acme/greet/tags/list"))
        .send()
        .unwrap();
    assert_eq!(oci_error(tags).1, "NAME_UNKNOWN");
    let digest = format!("sha256:{}", sha256_hex(&bytes));
    let blob = client()
        .head(server.at(&format!("/v2/acme/greet/blobs/{digest}")))
        .send()
        .unwrap();
    assert_eq!(blob.status(), 404);
}

#[test]
fn wkg_style_basic_auth_publishes_and_fetches_through_wasm_pkg_client() {
    use wasm_pkg_client::PublishOpts;
    let server = Server::start();
    let made = create_token(&server, json!({"namespaces": ["example"], "label": "wkg"}));
    let mapping = format!("[namespace_registries]\nexample = \"{}\"", host(&server));
    // wasm-pkg-client takes the name and version from a WIT package.
    let wit_package = |version: &str| {
        let mut resolve = wit_parser::Resolve::default();
        let wit = format!("package example:wkg@{version};\ninterface shapes {{ f: func(); }}\n");
        let id = resolve.push_source("wkg.wit", &wit).unwrap();
        wit_component::encode(&resolve, id).unwrap()
    };
    let wrong = wasm_pkg_client_with_token(&server, "depot_wrong", &mapping);
    let client = wasm_pkg_client_with_token(&server, made["token"].as_str().unwrap(), &mapping);
    runtime().block_on(async {
        let source = Box::pin(std::io::Cursor::new(wit_package("1.0.0")));
        let refused = wrong
            .publish_release_data(source, PublishOpts::default())
            .await
            .unwrap_err();
        let said = format!("{refused:#}");
        assert!(
            matches!(refused, wasm_pkg_client::Error::RegistryError(_))
                && said.contains("code: 401")
                && said.contains("UNAUTHORIZED"),
            "published with a wrong token: {said}"
        );
    });
    // The refused publish left nothing behind.
    assert_error(
        &server.get_json("/v1/packages/example:wkg"),
        404,
        "not-found",
    );
    runtime().block_on(async {
        let bytes = wit_package("1.0.0");
        let source = Box::pin(std::io::Cursor::new(bytes.clone()));
        client
            .publish_release_data(source, PublishOpts::default())
            .await
            .unwrap();
        assert_eq!(wasm_pkg_fetch(&client, "example:wkg", "1.0.0").await, bytes);
    });
}
