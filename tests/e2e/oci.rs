//! The OCI face: discovery, pulls with real OCI clients (`oci-client`, and
//! `wasm-pkg-client`, the code inside `wkg`), and the spec's errors.

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client as OciClient, Reference};
use serde_json::{Value, json};

use crate::support::*;

/// The registry's `host:port`, as OCI references name it.
fn host(server: &Server) -> String {
    server.url.trim_start_matches("http://").to_string()
}

fn oci_client() -> OciClient {
    OciClient::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("tokio runtime")
}

/// Publishes a described greeter with the CLI; returns its bytes.
fn publish_greeter(server: &Server, version: &str) -> Vec<u8> {
    let bytes = greeter(&Meta {
        description: Some(&format!("Says hello, version {version}")),
        licenses: Some("Apache-2.0"),
        authors: Some("Depot Tests"),
        source: Some("https://example.com/greet"),
        ..Meta::default()
    });
    let (_dir, file) = temp_file("greet.wasm", &bytes);
    ok(server.cli(&[
        "publish",
        &format!("example:greet@{version}"),
        file.to_str().unwrap(),
    ]));
    bytes
}

/// Status, headers and the spec's error code of a `/v2` request.
fn oci_error(response: reqwest::blocking::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let (_, body) = status_json(response);
    let error = &body["errors"][0];
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.len() > 20, "message too thin: {body}");
    (status, error["code"].as_str().unwrap().to_string(), body)
}

#[test]
fn discovery_points_wasm_pkg_tools_at_this_registry_over_oci() {
    let server = Server::start();
    let (status, body) = server.get_json("/.well-known/wasm-pkg/registry.json");
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"preferredProtocol": "oci", "oci": {"registry": host(&server), "namespacePrefix": ""}})
    );
    let base = client().get(server.at("/v2/")).send().unwrap();
    assert_eq!(base.status(), 200);
    assert_eq!(
        base.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );
    assert_eq!(base.json::<Value>().unwrap(), json!({}));
}

#[test]
fn a_cli_published_release_pulls_with_oci_client() {
    let server = Server::start();
    let bytes = publish_greeter(&server, "1.0.0");
    publish_greeter(&server, "1.1.0");
    let (_, release) = server.get_json("/v1/packages/example:greet/versions/1.0.0");
    let reference: Reference = format!("{}/example/greet:1.0.0", host(&server))
        .parse()
        .unwrap();
    let client = oci_client();
    let auth = RegistryAuth::Anonymous;
    runtime().block_on(async {
        let (manifest, digest) = client.pull_image_manifest(&reference, &auth).await.unwrap();
        assert_eq!(
            manifest.media_type.as_deref(),
            Some("application/vnd.oci.image.manifest.v1+json")
        );
        assert_eq!(
            manifest.artifact_type.as_deref(),
            Some("application/vnd.wasm.config.v0+json")
        );
        assert_eq!(manifest.layers.len(), 1);
        let layer = &manifest.layers[0];
        assert_eq!(layer.media_type, "application/wasm");
        assert_eq!(layer.digest, release["digest"].as_str().unwrap());
        assert_eq!(layer.size, bytes.len() as i64);
        let annotations = manifest.annotations.clone().unwrap();
        assert_eq!(annotations["org.opencontainers.image.version"], "1.0.0");
        assert_eq!(
            annotations["org.opencontainers.image.description"],
            "Says hello, version 1.0.0"
        );
        assert_eq!(
            annotations["org.opencontainers.image.licenses"],
            "Apache-2.0"
        );
        assert_eq!(
            annotations["org.opencontainers.image.authors"],
            "Depot Tests"
        );

        let mut content = Vec::new();
        client
            .pull_blob(&reference, layer, &mut content)
            .await
            .unwrap();
        assert_eq!(content, bytes);

        let mut config = Vec::new();
        client
            .pull_blob(&reference, &manifest.config, &mut config)
            .await
            .unwrap();
        let config: Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(config["architecture"], "wasm");
        assert_eq!(config["os"], "wasip2");
        assert_eq!(config["layerDigests"], json!([layer.digest]));
        assert_eq!(
            config["component"]["exports"],
            json!(["example:greet/greeter@0.1.0"])
        );
        assert_eq!(
            config["component"]["imports"],
            json!(["example:greet/logger@0.1.0"])
        );

        // The same manifest by digest.
        let by_digest: Reference = format!("{}/example/greet@{digest}", host(&server))
            .parse()
            .unwrap();
        let (again, digest_again) = client.pull_image_manifest(&by_digest, &auth).await.unwrap();
        assert_eq!(
            (again.layers[0].digest.clone(), digest_again),
            (layer.digest.clone(), digest)
        );

        let tags = client
            .list_tags(&reference, &auth, None, None)
            .await
            .unwrap();
        assert_eq!(tags.name, "example/greet");
        assert_eq!(tags.tags, ["1.0.0", "1.1.0"]);
        let page = client
            .list_tags(&reference, &auth, Some(1), None)
            .await
            .unwrap();
        assert_eq!(page.tags, ["1.0.0"]);
        let page = client
            .list_tags(&reference, &auth, Some(1), Some("1.0.0"))
            .await
            .unwrap();
        assert_eq!(page.tags, ["1.1.0"]);
    });
}

#[test]
fn wasm_pkg_client_gets_a_cli_published_release_through_discovery() {
    use futures::TryStreamExt;
    use wasm_pkg_client::{Client, Config, PackageRef};

    let server = Server::start();
    let bytes = publish_greeter(&server, "1.0.0");
    publish_greeter(&server, "1.2.0");
    // What a user puts in ~/.config/wasm-pkg/config.toml (see the README).
    let config = Config::from_toml(&format!(
        r#"
        default_registry = "{host}"
        [registry."{host}".oci]
        protocol = "http"
        "#,
        host = host(&server)
    ))
    .unwrap();
    let client = Client::new(config);
    let package: PackageRef = "example:greet".parse().unwrap();
    runtime().block_on(async {
        let mut versions: Vec<String> = client
            .list_all_versions(&package)
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.version.to_string())
            .collect();
        versions.sort();
        assert_eq!(versions, ["1.0.0", "1.2.0"]);
        let release = client
            .get_release(&package, &"1.0.0".parse().unwrap())
            .await
            .unwrap();
        let chunks: Vec<bytes::Bytes> = client
            .stream_content(&package, &release)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(chunks.concat(), bytes);
        let missing = client
            .get_release(
                &"example:absent".parse().unwrap(),
                &"1.0.0".parse().unwrap(),
            )
            .await;
        assert!(missing.is_err());
    });
}

#[test]
fn blobs_serve_byte_ranges_and_only_their_repositorys_releases() {
    let server = Server::start();
    let bytes = publish_greeter(&server, "1.0.0");
    let other = greeter_n(7);
    assert_eq!(server.publish("example:other", "1.0.0", &other).0, 201);
    let digest = format!("sha256:{}", sha256_hex(&bytes));
    let path = format!("/v2/example/greet/blobs/{digest}");

    let whole = client().get(server.at(&path)).send().unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["docker-content-digest"], digest.as_str());
    assert_eq!(whole.bytes().unwrap().as_ref(), bytes.as_slice());

    let head = client().head(server.at(&path)).send().unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        bytes.len().to_string().as_str()
    );

    let part = client()
        .get(server.at(&path))
        .header("range", "bytes=10-19")
        .send()
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(
        part.headers()["content-range"],
        format!("bytes 10-19/{}", bytes.len()).as_str()
    );
    assert_eq!(part.bytes().unwrap().as_ref(), &bytes[10..20]);

    let past = client()
        .get(server.at(&path))
        .header("range", format!("bytes={}-", bytes.len() + 5))
        .send()
        .unwrap();
    assert_eq!(
        past.headers()["content-range"],
        format!("bytes */{}", bytes.len()).as_str()
    );
    assert_eq!(oci_error(past).0, 416);

    // Another package's content is not this repository's blob.
    let foreign = format!("/v2/example/greet/blobs/sha256:{}", sha256_hex(&other));
    let got = oci_error(client().get(server.at(&foreign)).send().unwrap());
    assert_eq!((got.0, got.1.as_str()), (404, "BLOB_UNKNOWN"));
}

#[test]
fn oci_errors_use_the_specs_codes() {
    let server = Server::start();
    publish_greeter(&server, "1.0.0");
    let zeros = format!("sha256:{}", "0".repeat(64));
    for (method, path, status, code) in [
        (
            "GET",
            "/v2/example/absent/manifests/1.0.0",
            404,
            "NAME_UNKNOWN",
        ),
        ("GET", "/v2/example/absent/tags/list", 404, "NAME_UNKNOWN"),
        (
            "GET",
            "/v2/example/greet/manifests/9.9.9",
            404,
            "MANIFEST_UNKNOWN",
        ),
        (
            "GET",
            "/v2/example/greet/manifests/latest",
            404,
            "MANIFEST_UNKNOWN",
        ),
        (
            "HEAD",
            &format!("/v2/example/greet/manifests/{zeros}"),
            404,
            "MANIFEST_UNKNOWN",
        ),
        (
            "GET",
            &format!("/v2/example/greet/blobs/{zeros}"),
            404,
            "BLOB_UNKNOWN",
        ),
        (
            "GET",
            "/v2/example/greet/blobs/sha256:nothex",
            400,
            "DIGEST_INVALID",
        ),
        (
            "GET",
            "/v2/example/greet/manifests/md5:abc",
            400,
            "DIGEST_INVALID",
        ),
        (
            "GET",
            "/v2/Example/Greet/manifests/1.0.0",
            400,
            "NAME_INVALID",
        ),
        ("GET", "/v2/a/b/c/manifests/1.0.0", 400, "NAME_INVALID"),
        ("DELETE", "/v2/example/greet/tags/list", 405, "UNSUPPORTED"),
        ("GET", "/v2/example/greet/nothing", 404, "UNSUPPORTED"),
    ] {
        let response = client()
            .request(method.parse().unwrap(), server.at(path))
            .send()
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        if method == "HEAD" {
            continue;
        }
        let (_, got, body) = oci_error(response);
        assert_eq!(got, code, "{method} {path}: {body}");
    }
}
