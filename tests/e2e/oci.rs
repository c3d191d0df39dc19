//! The OCI face: discovery, pulls with real OCI clients (`oci-client`, and
//! `wasm-pkg-client`, the code inside `wkg`), and the spec's errors.

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client as OciClient, Reference};
use serde_json::{Value, json};

use crate::support::*;

/// The registry's `host:port`, as OCI references name it.
pub fn host(server: &Server) -> String {
    server.url.trim_start_matches("http://").to_string()
}

/// Depot's token the way `wkg` and docker send one: basic auth, any user,
/// the token as the password.
pub fn basic_auth(server: &Server) -> RegistryAuth {
    RegistryAuth::Basic("depot".into(), server.token.clone())
}

pub fn oci_client() -> OciClient {
    OciClient::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    })
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("tokio runtime")
}

/// A wasm-pkg client configured as a user would in
/// `~/.config/wasm-pkg/config.toml` (see the README): `mapping` points
/// packages at the server, which is plain HTTP; the operator's token is the
/// basic auth password, as `wkg` sends it.
pub fn wasm_pkg_client(server: &Server, mapping: &str) -> wasm_pkg_client::Client {
    wasm_pkg_client_with_token(server, &server.token, mapping)
}

/// [`wasm_pkg_client`] with `token` as the password.
pub fn wasm_pkg_client_with_token(
    server: &Server,
    token: &str,
    mapping: &str,
) -> wasm_pkg_client::Client {
    let config = wasm_pkg_client::Config::from_toml(&format!(
        r#"
        {mapping}
        [registry."{host}".oci]
        protocol = "http"
        auth = {{ username = "depot", password = "{token}" }}
        "#,
        host = host(server),
    ))
    .unwrap();
    wasm_pkg_client::Client::new(config)
}

/// Fetches `package@version` with the wasm-pkg client, digest checked.
pub async fn wasm_pkg_fetch(
    client: &wasm_pkg_client::Client,
    package: &str,
    version: &str,
) -> Vec<u8> {
    use futures::TryStreamExt;
    let package: wasm_pkg_client::PackageRef = package.parse().unwrap();
    let release = client
        .get_release(&package, &version.parse().unwrap())
        .await
        .unwrap();
    let chunks: Vec<bytes::Bytes> = client
        .stream_content(&package, &release)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    chunks.concat()
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
pub fn oci_error(response: reqwest::blocking::Response) -> (u16, String, Value) {
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
    let base = server.http().get(server.at("/v2/")).send().unwrap();
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
    use wasm_pkg_client::PackageRef;

    let server = Server::start();
    let bytes = publish_greeter(&server, "1.0.0");
    publish_greeter(&server, "1.2.0");
    let mapping = format!("default_registry = \"{}\"", host(&server));
    let client = wasm_pkg_client(&server, &mapping);
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
        assert_eq!(
            wasm_pkg_fetch(&client, "example:greet", "1.0.0").await,
            bytes
        );
        let missing = client
            .get_release(
                &"example:absent".parse().unwrap(),
                &"1.0.0".parse().unwrap(),
            )
            .await
            .unwrap_err();
        // The registry's OCI error, as oci-client read it: the repository is unknown.
        let wasm_pkg_client::Error::RegistryError(error) = &missing else {
            panic!("{missing:?}");
        };
        assert!(
            matches!(
                error.downcast_ref::<oci_client::errors::OciDistributionError>(),
                Some(oci_client::errors::OciDistributionError::RegistryError { envelope, .. })
                    if envelope.errors.len() == 1
                        && envelope.errors[0].code
                            == oci_client::errors::OciErrorCode::NameUnknown
            ),
            "{missing:?}"
        );
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

    let whole = server.http().get(server.at(&path)).send().unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["docker-content-digest"], digest.as_str());
    assert_eq!(whole.bytes().unwrap().as_ref(), bytes.as_slice());

    let head = server.http().head(server.at(&path)).send().unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        bytes.len().to_string().as_str()
    );

    let part = server
        .http()
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

    let past = server
        .http()
        .get(server.at(&path))
        .header("range", format!("bytes={}-", bytes.len() + 5))
        .send()
        .unwrap();
    assert_eq!(
        past.headers()["content-range"],
        format!("bytes */{}", bytes.len()).as_str()
    );
    assert_eq!(oci_error(past).0, 416);

    // A release's blobs cannot be deleted.
    let got = oci_error(server.http().delete(server.at(&path)).send().unwrap());
    assert_eq!((got.0, got.1.as_str()), (405, "UNSUPPORTED"));

    // Another package's content is not this repository's blob.
    let foreign = format!("/v2/example/greet/blobs/sha256:{}", sha256_hex(&other));
    let got = oci_error(server.http().get(server.at(&foreign)).send().unwrap());
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
        let response = server
            .http()
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

/// A wasm config blob for `bytes`, as `wkg` writes it.
pub fn wasm_config(bytes: &[u8], created: &str) -> oci_client::client::Config {
    let config = json!({
        "created": created,
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [format!("sha256:{}", sha256_hex(bytes))],
        "component": {"imports": ["example:greet/logger@0.1.0"], "exports": ["example:greet/greeter@0.1.0"]},
    });
    oci_client::client::Config {
        data: serde_json::to_vec(&config).unwrap().into(),
        media_type: "application/vnd.wasm.config.v0+json".into(),
        annotations: None,
    }
}

pub fn wasm_layer(bytes: &[u8]) -> oci_client::client::ImageLayer {
    oci_client::client::ImageLayer {
        data: bytes.to_vec().into(),
        media_type: "application/wasm".into(),
        annotations: None,
    }
}

/// Pushes one layer and its config under `reference`, then pulls the layer back.
async fn push_and_pull(
    client: &OciClient,
    auth: &RegistryAuth,
    reference: &Reference,
    layer: oci_client::client::ImageLayer,
    config: oci_client::client::Config,
) -> Vec<u8> {
    client
        .push(reference, &[layer], config, auth, None)
        .await
        .unwrap();
    let (manifest, _) = client.pull_image_manifest(reference, auth).await.unwrap();
    let mut pulled = Vec::new();
    client
        .pull_blob(reference, &manifest.layers[0], &mut pulled)
        .await
        .unwrap();
    pulled
}

#[test]
fn oci_client_pushes_a_release_monolithic_and_chunked_visible_everywhere() {
    let server = Server::start();
    let auth = basic_auth(&server);
    // 9 MiB goes up in three PATCHes of oci-client's 4 MiB chunks.
    for (monolithic, package, padding) in [
        (true, "example:mono", 0),
        (false, "example:chunked", 9 * 1024 * 1024),
    ] {
        let bytes = greeter(&Meta {
            description: Some(package),
            padding,
            ..Meta::default()
        });
        let client = OciClient::new(ClientConfig {
            protocol: ClientProtocol::Http,
            use_monolithic_push: monolithic,
            ..ClientConfig::default()
        });
        let repository = package.replace(':', "/");
        let reference: Reference = format!("{}/{repository}:1.0.0", host(&server))
            .parse()
            .unwrap();
        runtime().block_on(async {
            let config = wasm_config(&bytes, "2026-11-28T00:00:00Z");
            let pulled =
                push_and_pull(&client, &auth, &reference, wasm_layer(&bytes), config).await;
            assert_eq!(pulled, bytes, "{package}");
            // The same push again is a no-op.
            let config = wasm_config(&bytes, "2026-11-28T00:00:00Z");
            client
                .push(&reference, &[wasm_layer(&bytes)], config, &auth, None)
                .await
                .unwrap();
            // Another manifest under the released version is refused.
            let config = wasm_config(&bytes, "2026-11-29T00:00:00Z");
            let Err(refused) = client
                .push(&reference, &[wasm_layer(&bytes)], config, &auth, None)
                .await
            else {
                panic!("{package}: another manifest under 1.0.0 was accepted");
            };
            assert!(refused.to_string().contains("immutable"), "{refused}");
        });

        // A release like any other: /v1, the CLI, metadata read from the binary.
        let (status, release) = server.get_json(&format!("/v1/packages/{package}/versions/1.0.0"));
        assert_eq!(status, 200, "{release}");
        assert_eq!(release["digest"], format!("sha256:{}", sha256_hex(&bytes)));
        assert_eq!(release["metadata"]["description"], package);
        assert_eq!(
            release["metadata"]["exports"],
            json!(["example:greet/greeter@0.1.0"])
        );
        let info = ok(server.cli(&["info", &format!("{package}@1.0.0")]));
        assert!(info.contains("example:greet/greeter@0.1.0"), "{info}");
        let (_, log) = server.get_json(&format!("/v1/packages/{package}"));
        assert_eq!(log["versions"].as_array().unwrap().len(), 1);
    }
}

#[test]
fn a_different_manifest_under_a_released_version_is_refused_and_the_same_one_accepted() {
    let server = Server::start();
    publish_greeter(&server, "1.0.0");
    let path = "/v2/example/greet/manifests/1.0.0";
    let manifest = server
        .http()
        .get(server.at(path))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let put = |body: Vec<u8>| {
        server
            .http()
            .put(server.at(path))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(body)
            .send()
            .unwrap()
    };
    let same = put(manifest.to_vec());
    assert_eq!(same.status(), 201);
    let mut changed: Value = serde_json::from_slice(&manifest).unwrap();
    changed["annotations"]["org.opencontainers.image.description"] = json!("rewritten");
    let got = oci_error(put(serde_json::to_vec(&changed).unwrap()));
    assert_eq!((got.0, got.1.as_str()), (409, "DENIED"), "{}", got.2);
    let (_, release) = server.get_json("/v1/packages/example:greet/versions/1.0.0");
    assert_eq!(
        release["metadata"]["description"],
        "Says hello, version 1.0.0"
    );
}

#[test]
fn uploads_go_in_order_and_end_as_the_digest_they_hash_to() {
    let server = Server::start();
    let http = server.http();
    let start = http
        .post(server.at("/v2/example/raw/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(start.status(), 202);
    assert_eq!(start.headers()["range"], "0-0");
    let location = server.at(start.headers()["location"].to_str().unwrap());
    let patch = |range: &str, body: &'static [u8]| {
        http.patch(&location)
            .header("content-range", range)
            .body(body)
            .send()
            .unwrap()
    };
    let first = patch("0-4", b"hello");
    assert_eq!(first.status(), 202);
    assert_eq!(first.headers()["range"], "0-4");
    let out_of_order = patch("10-14", b"later");
    assert_eq!(out_of_order.headers()["range"], "0-4");
    let got = oci_error(out_of_order);
    assert_eq!((got.0, got.1.as_str()), (416, "BLOB_UPLOAD_INVALID"));
    let status = http.get(&location).send().unwrap();
    assert_eq!(status.status(), 204);
    assert_eq!(status.headers()["range"], "0-4");

    let wrong = format!("sha256:{}", sha256_hex(b"hello"));
    let got = oci_error(
        http.put(format!("{location}?digest={wrong}"))
            .body(" world")
            .send()
            .unwrap(),
    );
    assert_eq!((got.0, got.1.as_str()), (400, "DIGEST_INVALID"));
    // The refused PUT appended " world"; the upload is kept.
    let right = format!("sha256:{}", sha256_hex(b"hello world"));
    let done = http
        .put(format!("{location}?digest={right}"))
        .send()
        .unwrap();
    assert_eq!(done.status(), 201);
    assert_eq!(done.headers()["docker-content-digest"], right.as_str());
    let got = oci_error(http.get(&location).send().unwrap());
    assert_eq!((got.0, got.1.as_str()), (404, "BLOB_UPLOAD_UNKNOWN"));
    // The uploaded blob is the repository's until it is deleted there.
    let blob = server.at(&format!("/v2/example/raw/blobs/{right}"));
    assert_eq!(http.head(&blob).send().unwrap().status(), 200);
    assert_eq!(http.delete(&blob).send().unwrap().status(), 202);
    assert_eq!(http.head(&blob).send().unwrap().status(), 404);

    // Cancelled uploads are gone.
    let start = http
        .post(server.at("/v2/example/raw/blobs/uploads/"))
        .send()
        .unwrap();
    let location = server.at(start.headers()["location"].to_str().unwrap());
    assert_eq!(http.delete(&location).send().unwrap().status(), 204);
    let got = oci_error(patch_at(&http, &location));
    assert_eq!((got.0, got.1.as_str()), (404, "BLOB_UPLOAD_UNKNOWN"));

    // Monolithic: the digest must match what arrives.
    let got = oci_error(
        http.post(server.at(&format!("/v2/example/raw/blobs/uploads/?digest={wrong}")))
            .body("not hello")
            .send()
            .unwrap(),
    );
    assert_eq!((got.0, got.1.as_str()), (400, "DIGEST_INVALID"));
    // sha512 works too, monolithic and chunked.
    let sha512 = {
        use sha2::Digest;
        format!(
            "sha512:{}",
            hex::encode(sha2::Sha512::digest(b"hello world"))
        )
    };
    let monolithic = http
        .post(server.at(&format!("/v2/example/raw/blobs/uploads/?digest={sha512}")))
        .body("hello world")
        .send()
        .unwrap();
    assert_eq!(monolithic.status(), 201);
    assert_eq!(
        monolithic.headers()["docker-content-digest"],
        sha512.as_str()
    );
    let location = upload_first_chunk(&server, "hello ");
    let done = http
        .put(format!("{location}?digest={sha512}"))
        .body("world")
        .send()
        .unwrap();
    assert_eq!(done.status(), 201);

    let got = oci_error(
        http.post(server.at("/v2/Bad/Name/blobs/uploads/"))
            .send()
            .unwrap(),
    );
    assert_eq!((got.0, got.1.as_str()), (400, "NAME_INVALID"));
}

/// Starts a chunked upload into `example/raw` and sends `chunk` as its first
/// chunk; returns the upload's location.
fn upload_first_chunk(server: &Server, chunk: &'static str) -> String {
    let http = server.http();
    let start = http
        .post(server.at("/v2/example/raw/blobs/uploads/"))
        .send()
        .unwrap();
    let location = server.at(start.headers()["location"].to_str().unwrap());
    let first = http
        .patch(&location)
        .header("content-range", format!("0-{}", chunk.len() - 1))
        .body(chunk)
        .send()
        .unwrap();
    assert_eq!(first.status(), 202);
    location
}

fn patch_at(http: &reqwest::blocking::Client, location: &str) -> reqwest::blocking::Response {
    http.patch(location).body("x").send().unwrap()
}

#[test]
fn manifests_are_checked_before_they_become_releases() {
    let server = Server::start();
    let bytes = publish_greeter(&server, "1.0.0");
    let http = server.http();
    let put = |path: &str, manifest: &Value| {
        http.put(server.at(path))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(serde_json::to_vec(manifest).unwrap())
            .send()
            .unwrap()
    };
    let (_, release) = server.get_json("/v1/packages/example:greet/versions/1.0.0");
    let manifest: Value = server
        .http()
        .get(server.at("/v2/example/greet/manifests/1.0.0"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let zeros = format!("sha256:{}", "0".repeat(64));

    // Mount the release's blobs into a new repository, then release it there
    // with a large (over 1 MB, under 4 MB) annotation.
    for digest in [
        release["digest"].as_str().unwrap(),
        manifest["config"]["digest"].as_str().unwrap(),
    ] {
        let mount = http
            .post(server.at(&format!(
                "/v2/example/copy/blobs/uploads/?mount={digest}&from=example/greet"
            )))
            .send()
            .unwrap();
        assert_eq!(mount.status(), 201, "{digest}");
        let mounted = http
            .head(server.at(&format!("/v2/example/copy/blobs/{digest}")))
            .send()
            .unwrap();
        assert_eq!(mounted.status(), 200, "{digest}");
    }
    let mut large = manifest.clone();
    large["annotations"]["org.example.padding"] = json!("x".repeat(3 * 1024 * 1024));
    assert_eq!(
        put("/v2/example/copy/manifests/2.0.0", &large).status(),
        201
    );
    let (status, copy) = server.get_json("/v1/packages/example:copy/versions/2.0.0");
    assert_eq!(
        (status, copy["size"].as_u64()),
        (200, Some(bytes.len() as u64))
    );

    let mut unknown_layer = manifest.clone();
    unknown_layer["layers"][0]["digest"] = json!(zeros);
    let mut two_layers = manifest.clone();
    two_layers["layers"] = json!([manifest["layers"][0], manifest["layers"][0]]);
    let mut not_wasm = manifest.clone();
    not_wasm["layers"][0]["mediaType"] = json!("application/octet-stream");
    for (path, body, status, code) in [
        (
            "/v2/example/greet/manifests/3.0.0",
            &unknown_layer,
            400,
            "MANIFEST_BLOB_UNKNOWN",
        ),
        (
            "/v2/example/greet/manifests/3.0.0",
            &two_layers,
            400,
            "UNSUPPORTED",
        ),
        (
            "/v2/example/greet/manifests/3.0.0",
            &not_wasm,
            400,
            "UNSUPPORTED",
        ),
        (
            "/v2/example/greet/manifests/3.0.0",
            &json!({"schemaVersion": 1}),
            400,
            "MANIFEST_INVALID",
        ),
    ] {
        let got = oci_error(put(path, body));
        assert_eq!((got.0, got.1.as_str()), (status, code), "{path}: {}", got.2);
    }
    let mut huge = manifest.clone();
    huge["annotations"]["org.example.padding"] = json!("x".repeat(4 * 1024 * 1024));
    let got = oci_error(put("/v2/example/greet/manifests/3.0.0", &huge));
    assert_eq!((got.0, got.1.as_str()), (413, "SIZE_INVALID"));
    assert_error(
        &server.get_json("/v1/packages/example:greet/versions/3.0.0"),
        404,
        "not-found",
    );

    // Referrers: releases have no subject, so the index is empty.
    let referrers = http
        .get(server.at(&format!(
            "/v2/example/greet/referrers/{}?artifactType=application/example",
            release["digest"].as_str().unwrap()
        )))
        .send()
        .unwrap();
    assert_eq!(referrers.status(), 200);
    assert_eq!(referrers.headers()["oci-filters-applied"], "artifactType");
    let index: Value = referrers.json().unwrap();
    assert_eq!(index["manifests"], json!([]));
}

#[test]
fn wasm_pkg_client_publishes_through_discovery_and_gets_it_back() {
    use wasm_pkg_client::PublishOpts;

    let server = Server::start();
    // wasm-pkg-client 0.16 takes the name and version from the binary's WIT
    // package (a component's synthesized world package has no version), so
    // what `wkg publish` sends here is a WIT package.
    let mut resolve = wit_parser::Resolve::default();
    let wit = "package example:wkg@1.0.0;\ninterface shapes { record point { x: s32, y: s32 } }\n";
    let id = resolve.push_source("wkg.wit", wit).unwrap();
    let bytes = wit_component::encode(&resolve, id).unwrap();
    let mapping = format!("[namespace_registries]\nexample = \"{}\"", host(&server));
    let client = wasm_pkg_client(&server, &mapping);
    runtime().block_on(async {
        let source = Box::pin(std::io::Cursor::new(bytes.clone()));
        let (package, version) = client
            .publish_release_data(source, PublishOpts::default())
            .await
            .unwrap();
        assert_eq!(
            (package.to_string(), version.to_string()),
            ("example:wkg".to_string(), "1.0.0".to_string())
        );
        assert_eq!(wasm_pkg_fetch(&client, "example:wkg", "1.0.0").await, bytes);
    });
    let (status, release) = server.get_json("/v1/packages/example:wkg/versions/1.0.0");
    assert_eq!(status, 200, "{release}");
    assert_eq!(release["metadata"]["kind"], "wit-package");
    let info = ok(server.cli(&["info", "example:wkg@1.0.0"]));
    assert!(info.contains("example:wkg/shapes@1.0.0"), "{info}");
}

#[test]
fn uploads_stop_at_the_content_size_limit() {
    let server = Server::start_with(ServerOptions {
        args: vec!["--max-content-size".into(), "4096".into()],
        ..ServerOptions::default()
    });
    let http = server.http();
    let big = vec![7u8; 10_000];
    let digest = format!("sha256:{}", sha256_hex(&big));
    let got = oci_error(
        http.post(server.at(&format!("/v2/example/big/blobs/uploads/?digest={digest}")))
            .body(big.clone())
            .send()
            .unwrap(),
    );
    assert_eq!((got.0, got.1.as_str()), (413, "SIZE_INVALID"), "{}", got.2);
    let start = http
        .post(server.at("/v2/example/big/blobs/uploads/"))
        .send()
        .unwrap();
    let location = server.at(start.headers()["location"].to_str().unwrap());
    let first = http.patch(&location).body(vec![7u8; 4000]).send().unwrap();
    assert_eq!(first.status(), 202);
    let got = oci_error(http.patch(&location).body(vec![7u8; 4000]).send().unwrap());
    assert_eq!((got.0, got.1.as_str()), (413, "SIZE_INVALID"), "{}", got.2);
}

#[test]
fn other_artifacts_are_kept_as_any_oci_registry_keeps_them() {
    let server = Server::start();
    publish_greeter(&server, "1.0.0");
    let http = server.http();
    let release = server
        .http()
        .get(server.at("/v2/example/greet/manifests/1.0.0"))
        .send()
        .unwrap();
    let release_digest = release.headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_string();
    let release_size = release.bytes().unwrap().len();
    let upload = |bytes: &'static [u8]| {
        let digest = format!("sha256:{}", sha256_hex(bytes));
        let response = http
            .post(server.at(&format!("/v2/example/greet/blobs/uploads/?digest={digest}")))
            .body(bytes)
            .send()
            .unwrap();
        assert_eq!(response.status(), 201);
        digest
    };
    let (empty, hello) = (upload(b"{}"), upload(b"hello"));
    let sbom = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.sbom",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "text/plain", "digest": hello, "size": 5}],
        "subject": {
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": release_digest,
            "size": release_size,
        },
    });
    let body = serde_json::to_vec(&sbom).unwrap();
    let put = |path: &str, body: &[u8], media_type: &str| {
        http.put(server.at(path))
            .header("content-type", media_type)
            .body(body.to_vec())
            .send()
            .unwrap()
    };
    const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    let created = put("/v2/example/greet/manifests/sbom", &body, MANIFEST);
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["oci-subject"], release_digest.as_str());
    let sbom_digest = created.headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_string();

    let got = http
        .get(server.at("/v2/example/greet/manifests/sbom"))
        .send()
        .unwrap();
    assert_eq!(got.headers()["content-type"], MANIFEST);
    assert_eq!(got.bytes().unwrap().as_ref(), body.as_slice());
    let (_, blob) = server.get_bytes(&format!("/v2/example/greet/blobs/{hello}"));
    assert_eq!(blob, b"hello");
    let (_, tags) = server.get_json("/v2/example/greet/tags/list");
    assert_eq!(tags["tags"], json!(["1.0.0", "sbom"]));

    let referrers = |filter: &str| {
        let response = http
            .get(server.at(&format!(
                "/v2/example/greet/referrers/{release_digest}{filter}"
            )))
            .send()
            .unwrap();
        let filtered = response.headers().get("oci-filters-applied").is_some();
        (
            filtered,
            response.json::<Value>().unwrap()["manifests"].clone(),
        )
    };
    let (filtered, all) = referrers("");
    assert!(!filtered);
    assert_eq!(all[0]["digest"], sbom_digest.as_str());
    assert_eq!(all[0]["artifactType"], "application/vnd.example.sbom");
    assert_eq!(
        referrers("?artifactType=application/vnd.example.sbom").1,
        all
    );
    assert_eq!(
        referrers("?artifactType=application/other"),
        (true, json!([]))
    );

    // An index of the release and the SBOM.
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": MANIFEST, "digest": release_digest, "size": release_size},
            {"mediaType": MANIFEST, "digest": sbom_digest, "size": body.len()},
        ],
    });
    const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    let index = serde_json::to_vec(&index).unwrap();
    assert_eq!(
        put("/v2/example/greet/manifests/all", &index, INDEX).status(),
        201
    );
    let got = http
        .get(server.at("/v2/example/greet/manifests/all"))
        .send()
        .unwrap();
    assert_eq!(got.headers()["content-type"], INDEX);

    // Tags and manifests that are not releases can be deleted; releases cannot.
    let delete = |path: &str| http.delete(server.at(path)).send().unwrap();
    assert_eq!(delete("/v2/example/greet/manifests/sbom").status(), 202);
    let got = oci_error(
        http.get(server.at("/v2/example/greet/manifests/sbom"))
            .send()
            .unwrap(),
    );
    assert_eq!((got.0, got.1.as_str()), (404, "MANIFEST_UNKNOWN"));
    let by_digest = format!("/v2/example/greet/manifests/{sbom_digest}");
    assert_eq!(
        http.get(server.at(&by_digest)).send().unwrap().status(),
        200
    );
    assert_eq!(delete(&by_digest).status(), 202);
    assert_eq!(
        oci_error(http.get(server.at(&by_digest)).send().unwrap()).0,
        404
    );
    let got = oci_error(delete("/v2/example/greet/manifests/1.0.0"));
    assert_eq!((got.0, got.1.as_str()), (405, "UNSUPPORTED"));

    // A repository of artifacts only, pushed and pulled with oci-client.
    let client = oci_client();
    let reference: Reference = format!("{}/example/files:latest", host(&server))
        .parse()
        .unwrap();
    let layer = oci_client::client::ImageLayer {
        data: b"some file".to_vec().into(),
        media_type: "text/plain".into(),
        annotations: None,
    };
    let config = oci_client::client::Config {
        data: b"{}".to_vec().into(),
        media_type: "application/vnd.oci.empty.v1+json".into(),
        annotations: None,
    };
    runtime().block_on(async {
        let auth = basic_auth(&server);
        let pulled = push_and_pull(&client, &auth, &reference, layer, config).await;
        assert_eq!(pulled, b"some file");
        let tags = client
            .list_tags(&reference, &auth, None, None)
            .await
            .unwrap();
        assert_eq!(tags.tags, ["latest"]);
    });
}

// The OCI distribution-spec conformance suite's cases, on both runtimes.
on_every_runtime!(
    referrers_answer_an_empty_index_for_nothing_known_and_carry_each_referrers_annotations,
    an_out_of_order_last_chunk_on_the_closing_put_is_416_and_the_upload_resumes,
    a_manifest_with_non_distributable_layers_is_kept_without_their_blobs,
    manifests_are_pushed_and_pulled_by_sha512_digests_too,
);

const IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const IMAGE_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Uploads `bytes` monolithically into `repository` under the digest
/// `algorithm` gives (sha256 or sha512); returns the digest.
fn upload_as(server: &Server, repository: &str, bytes: &[u8], algorithm: &str) -> String {
    use sha2::Digest as _;
    let digest = match algorithm {
        "sha512" => format!("sha512:{}", hex::encode(sha2::Sha512::digest(bytes))),
        _ => format!("sha256:{}", sha256_hex(bytes)),
    };
    let response = server
        .http()
        .post(server.at(&format!("/v2/{repository}/blobs/uploads/?digest={digest}")))
        .body(bytes.to_vec())
        .send()
        .unwrap();
    assert_eq!(response.status(), 201, "{digest}");
    digest
}

/// PUTs `manifest` at `/v2/{repository}/manifests/{reference}`.
fn put_manifest(
    server: &Server,
    repository: &str,
    reference: &str,
    manifest: &Value,
) -> reqwest::blocking::Response {
    let media_type = manifest["mediaType"].as_str().unwrap().to_string();
    server
        .http()
        .put(server.at(&format!("/v2/{repository}/manifests/{reference}")))
        .header("content-type", media_type)
        .body(serde_json::to_vec(manifest).unwrap())
        .send()
        .unwrap()
}

fn referrers_answer_an_empty_index_for_nothing_known_and_carry_each_referrers_annotations(
    runtime: Runtime,
) {
    let server = Server::start_on(runtime);
    let http = server.http();
    let zeros = format!("sha256:{}", "0".repeat(64));
    // An unknown repository, and a known one whose subject nobody refers to:
    // 200 with an empty image index, not 404.
    publish_greeter(&server, "1.0.0");
    for repository in ["example/never-pushed", "example/greet"] {
        let response = http
            .get(server.at(&format!("/v2/{repository}/referrers/{zeros}")))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "{repository}");
        assert_eq!(response.headers()["content-type"], IMAGE_INDEX);
        let index: Value = response.json().unwrap();
        assert_eq!(
            index,
            json!({"schemaVersion": 2, "mediaType": IMAGE_INDEX, "manifests": []})
        );
    }

    // A referrer with annotations, one without: each descriptor is the
    // referrer's media type, digest, size, artifactType and annotations.
    let repository = "example/signed";
    let empty = upload_as(&server, repository, b"{}", "sha256");
    let image = json!({
        "schemaVersion": 2,
        "mediaType": IMAGE_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [],
    });
    let response = put_manifest(&server, repository, "image", &image);
    assert_eq!(response.status(), 201);
    let subject = response.headers()["docker-content-digest"]
        .to_str()
        .unwrap()
        .to_string();
    let subject_size = serde_json::to_vec(&image).unwrap().len();
    let mut pushed = Vec::new();
    for (tag, annotations) in [
        (
            "signature",
            Some(
                json!({"org.example.signer": "ana", "org.opencontainers.image.created": "2026-12-03T00:00:00Z"}),
            ),
        ),
        ("sbom", None),
    ] {
        let mut referrer = json!({
            "schemaVersion": 2,
            "mediaType": IMAGE_MANIFEST,
            "artifactType": format!("application/vnd.example.{tag}"),
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
            "layers": [],
            "subject": {"mediaType": IMAGE_MANIFEST, "digest": subject, "size": subject_size},
        });
        if let Some(annotations) = &annotations {
            referrer["annotations"] = annotations.clone();
        }
        let response = put_manifest(&server, repository, tag, &referrer);
        assert_eq!(response.status(), 201, "{tag}");
        let digest = response.headers()["docker-content-digest"]
            .to_str()
            .unwrap()
            .to_string();
        let mut descriptor = json!({
            "mediaType": IMAGE_MANIFEST,
            "digest": digest,
            "size": serde_json::to_vec(&referrer).unwrap().len(),
            "artifactType": format!("application/vnd.example.{tag}"),
        });
        if let Some(annotations) = annotations {
            descriptor["annotations"] = annotations;
        }
        pushed.push(descriptor);
    }
    let response = http
        .get(server.at(&format!("/v2/{repository}/referrers/{subject}")))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let index: Value = response.json().unwrap();
    let mut listed = index["manifests"].as_array().unwrap().clone();
    listed.sort_by_key(|d| d["digest"].as_str().unwrap().to_string());
    pushed.sort_by_key(|d| d["digest"].as_str().unwrap().to_string());
    assert_eq!(listed, pushed);
}

fn an_out_of_order_last_chunk_on_the_closing_put_is_416_and_the_upload_resumes(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let http = server.http();
    let location = upload_first_chunk(&server, "hello");
    let digest = format!("sha256:{}", sha256_hex(b"hello world"));
    // The closing PUT carries a chunk that skips ahead: refused, nothing
    // appended, and the answer says where the upload is.
    let skipped = http
        .put(format!("{location}?digest={digest}"))
        .header("content-range", "7-11")
        .body("world")
        .send()
        .unwrap();
    assert_eq!(skipped.headers()["range"], "0-4");
    assert!(skipped.headers().contains_key("location"));
    let got = oci_error(skipped);
    assert_eq!((got.0, got.1.as_str()), (416, "BLOB_UPLOAD_INVALID"));
    assert!(
        got.2["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("starting at 5"),
        "{}",
        got.2
    );
    // The right last chunk then completes it.
    let done = http
        .put(format!("{location}?digest={digest}"))
        .header("content-range", "5-10")
        .body(" world")
        .send()
        .unwrap();
    assert_eq!(done.status(), 201);
    let (status, bytes) = server.get_bytes(&format!("/v2/example/raw/blobs/{digest}"));
    assert_eq!((status, bytes.as_slice()), (200, b"hello world".as_slice()));
}

fn a_manifest_with_non_distributable_layers_is_kept_without_their_blobs(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let repository = "example/windows";
    let config = upload_as(&server, repository, br#"{"os":"windows"}"#, "sha256");
    let foreign = format!("sha256:{}", sha256_hex(b"never pushed"));
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": IMAGE_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 16},
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            "digest": foreign,
            "size": 12,
            "urls": ["https://example.com/layer.tar.gz"],
        }],
    });
    let body = serde_json::to_vec(&manifest).unwrap();
    let digest = format!("sha256:{}", sha256_hex(&body));
    for reference in [digest.as_str(), "v1"] {
        let response = put_manifest(&server, repository, reference, &manifest);
        assert_eq!(response.status(), 201, "{reference}");
        assert_eq!(response.headers()["docker-content-digest"], digest.as_str());
        for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
            let got = server
                .http()
                .request(
                    method.clone(),
                    server.at(&format!("/v2/{repository}/manifests/{reference}")),
                )
                .send()
                .unwrap();
            assert_eq!(got.status(), 200, "{method} {reference}");
            assert_eq!(got.headers()["content-type"], IMAGE_MANIFEST);
            assert_eq!(got.headers()["docker-content-digest"], digest.as_str());
            if method == reqwest::Method::GET {
                assert_eq!(got.bytes().unwrap().as_ref(), body.as_slice());
            }
        }
    }
    let (_, tags) = server.get_json(&format!("/v2/{repository}/tags/list"));
    assert_eq!(tags["tags"], json!(["v1"]));
    // The registry does not have the foreign layer, and does not pretend to.
    let got = oci_error(
        server
            .http()
            .get(server.at(&format!("/v2/{repository}/blobs/{foreign}")))
            .send()
            .unwrap(),
    );
    assert_eq!((got.0, got.1.as_str()), (404, "BLOB_UNKNOWN"));
    // A distributable layer that was never pushed is still refused.
    let mut missing = manifest.clone();
    missing["layers"][0]["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip");
    let got = oci_error(put_manifest(&server, repository, "v2", &missing));
    assert_eq!((got.0, got.1.as_str()), (400, "MANIFEST_BLOB_UNKNOWN"));
}

fn manifests_are_pushed_and_pulled_by_sha512_digests_too(runtime: Runtime) {
    use sha2::Digest as _;
    let server = Server::start_on(runtime);
    let repository = "example/sha512";
    let config = upload_as(&server, repository, b"{}", "sha512");
    let layer = upload_as(&server, repository, b"layer", "sha512");
    let image = json!({
        "schemaVersion": 2,
        "mediaType": IMAGE_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/octet-stream", "digest": layer, "size": 5}],
    });
    let body = serde_json::to_vec(&image).unwrap();
    let digest = format!("sha512:{}", hex::encode(sha2::Sha512::digest(&body)));
    let response = put_manifest(&server, repository, &digest, &image);
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["docker-content-digest"], digest.as_str());
    assert_eq!(
        response.headers()["location"],
        format!("/v2/{repository}/manifests/{digest}").as_str()
    );
    let path = format!("/v2/{repository}/manifests/{digest}");
    let got = server.http().get(server.at(&path)).send().unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["docker-content-digest"], digest.as_str());
    assert_eq!(got.headers()["content-type"], IMAGE_MANIFEST);
    assert_eq!(got.bytes().unwrap().as_ref(), body.as_slice());
    let head = server.http().head(server.at(&path)).send().unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        body.len().to_string().as_str()
    );

    // An index that names it by its sha512 digest, pushed by its own.
    let index = json!({
        "schemaVersion": 2,
        "mediaType": IMAGE_INDEX,
        "manifests": [{"mediaType": IMAGE_MANIFEST, "digest": digest, "size": body.len()}],
    });
    let index_body = serde_json::to_vec(&index).unwrap();
    let index_digest = format!("sha512:{}", hex::encode(sha2::Sha512::digest(&index_body)));
    assert_eq!(
        put_manifest(&server, repository, &index_digest, &index).status(),
        201
    );
    let got = server
        .http()
        .get(server.at(&format!("/v2/{repository}/manifests/{index_digest}")))
        .send()
        .unwrap();
    assert_eq!(got.headers()["content-type"], IMAGE_INDEX);
    assert_eq!(got.bytes().unwrap().as_ref(), index_body.as_slice());

    // Bytes that do not hash to the digest in the path are refused, and
    // nothing is kept under it.
    let wrong = format!("sha512:{}", "ab".repeat(64));
    let got = oci_error(put_manifest(&server, repository, &wrong, &image));
    assert_eq!((got.0, got.1.as_str()), (400, "DIGEST_INVALID"));
    let got = oci_error(
        server
            .http()
            .get(server.at(&format!("/v2/{repository}/manifests/{wrong}")))
            .send()
            .unwrap(),
    );
    assert_eq!((got.0, got.1.as_str()), (404, "MANIFEST_UNKNOWN"));
}
