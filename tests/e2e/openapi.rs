//! The description of `/v1` (docs/openapi.yaml) as every Depot serves it at
//! `/v1/openapi.json`: public, JSON, and true of the bodies the server writes
//! and the CLI reads (the wire types' golden files, and live answers).
//! `scripts/api-check` runs schemathesis over every operation with it.

use std::path::Path;

use serde_json::{Value, json};

use crate::support::*;

/// A validator of `schema` (a name under `components/schemas`) against the
/// served description's components.
fn validator(description: &Value, schema: &str) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": format!("#/components/schemas/{schema}"),
        "components": description["components"],
    });
    jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("schema {schema}: {e}"))
}

/// Every way `value` is not a `schema`.
fn violations(description: &Value, schema: &str, value: &Value) -> Vec<String> {
    validator(description, schema)
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[track_caller]
fn assert_valid(description: &Value, schema: &str, value: &Value) {
    let errors = violations(description, schema, value);
    assert!(errors.is_empty(), "not a {schema}: {errors:#?}\n{value:#}");
}

fn description_is_public_json(runtime: Runtime) {
    let server = Server::start_with(ServerOptions {
        runtime,
        args: vec!["--private".into()],
        ..ServerOptions::default()
    });
    // No token: a private registry's description is no secret.
    let response = client().get(server.at("/v1/openapi.json")).send().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let description: Value = response.json().unwrap();
    assert_eq!(description["openapi"], "3.1.0");
    let release = &description["paths"]["/v1/packages/{name}/versions/{version}"];
    assert_eq!(release["put"]["operationId"], "publish");
    let head = client().head(server.at("/v1/openapi.json")).send().unwrap();
    assert_eq!(head.status(), 200);
    // Every other read of a private registry still needs a token.
    let stats = client().get(server.at("/v1/stats")).send().unwrap();
    assert_eq!(stats.status(), 401);
}

on_every_runtime!(description_is_public_json);

#[test]
fn every_wire_body_is_what_the_description_says() {
    let server = Server::start();
    let (status, description) = server.get_json("/v1/openapi.json");
    assert_eq!(status, 200);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wire/tests/golden");
    let schemas = [
        ("release", "Release"),
        ("release-taken-down", "Release"),
        ("release-at", "Release"),
        ("package", "Package"),
        ("packages", "PackagePage"),
        ("search", "SearchPage"),
        ("stats", "Stats"),
        ("inclusion-proof", "InclusionProof"),
        ("consistency-proof", "ConsistencyProof"),
        ("error", "Error"),
        ("unpublished", "Unpublished"),
        ("namespace", "NamespaceInfo"),
        ("token", "Token"),
        ("token-created", "Token"),
        ("tokens", "TokenList"),
        ("feed", "FeedPage"),
        ("annotation-request", "AnnotationRequest"),
        ("content-sources-request", "ContentSourcesRequest"),
        ("create-token-request", "CreateTokenRequest"),
        ("key-request", "KeyRequest"),
        ("policy-request", "PolicyRequest"),
        ("publish-request", "PublishRequest"),
        ("takedown-request", "TakedownRequest"),
    ];
    let files = std::fs::read_dir(&golden).unwrap().count();
    assert_eq!(
        files,
        schemas.len(),
        "a golden file without its schema here"
    );
    for (file, schema) in schemas {
        let text = std::fs::read_to_string(golden.join(format!("{file}.json"))).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_valid(&description, schema, &value);
    }

    // The schemas say no to what is not the body.
    let text = std::fs::read_to_string(golden.join("release.json")).unwrap();
    let mut release: Value = serde_json::from_str(&text).unwrap();
    release.as_object_mut().unwrap().remove("digest");
    assert!(!violations(&description, "Release", &release).is_empty());
    release["digest"] = json!("md5:abc");
    assert!(!violations(&description, "Release", &release).is_empty());
    let bad_code = json!({"error": {"code": "oops", "message": "x"}});
    assert!(!violations(&description, "Error", &bad_code).is_empty());
}

#[test]
fn live_answers_are_what_the_description_says() {
    let server = Server::start();
    let (_, description) = server.get_json("/v1/openapi.json");
    let (status, release) = server.publish("example:greet", "1.0.0", &greeter_n(0));
    assert_eq!(status, 201);
    assert_valid(&description, "Release", &release);
    let module = core_module(&Meta::default());
    assert_eq!(server.publish("example:core", "0.1.0", &module).0, 201);
    let (status, annotated) = server.post(
        "/v1/packages/example:greet/versions/1.0.0/annotations",
        &json!({"type": "review", "value": {"verdict": "ok"}}),
    );
    assert_eq!(status, 201);
    assert_valid(&description, "Release", &annotated);
    let (status, gone) = server.post(
        "/v1/packages/example:core/versions/0.1.0/takedown",
        &json!({"reason": "a test"}),
    );
    assert_eq!(status, 200);
    assert_valid(&description, "Release", &gone);

    // A grant that changes nothing, and a revocation, are 200; a new grant 201.
    let key = "ed25519:sO0zII8aQpN7F1Vqbwug/dg25x6V5iEusHd4n0EJRPs=";
    let key = json!({"publicKey": key, "scope": "example"});
    let (status, namespace) = server.post("/v1/keys/grant", &key);
    assert_eq!(status, 201);
    assert_valid(&description, "NamespaceInfo", &namespace);
    assert_eq!(server.post("/v1/keys/grant", &key).0, 200);
    let (status, namespace) = server.post("/v1/keys/revoke", &key);
    assert_eq!(status, 200);
    assert_valid(&description, "NamespaceInfo", &namespace);

    for (path, schema) in [
        ("/v1/packages", "PackagePage"),
        ("/v1/packages/example:greet", "Package"),
        ("/v1/packages/example:greet/resolve?req=%5E1", "Release"),
        ("/v1/packages/example:greet/resolve?at=1", "Release"),
        ("/v1/packages/example:greet?at=1", "Package"),
        ("/v1/search?q=greet", "SearchPage"),
        ("/v1/stats", "Stats"),
        ("/v1/feed?since=0", "FeedPage"),
        ("/v1/log/proof/inclusion?seq=1&size=3", "InclusionProof"),
        ("/v1/log/proof/consistency?from=1&to=3", "ConsistencyProof"),
        ("/v1/namespaces/example", "NamespaceInfo"),
        ("/v1/tokens", "TokenList"),
        ("/v1/packages/example:nothing", "Error"),
        ("/v1/packages?limit=0", "Error"),
    ] {
        let (_, body) = server.get_json(path);
        assert_valid(&description, schema, &body);
    }
}
