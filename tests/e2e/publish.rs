//! Publishing, fetching, metadata and the errors bad input gets.

use std::sync::{Arc, Barrier};

use crate::support::*;

on_every_runtime!(
    published_and_fetched_bytes_are_identical,
    publishing_same_version_twice_is_a_conflict_and_keeps_the_first_content,
    concurrent_publishes_of_one_version_have_exactly_one_winner,
    concurrent_publishes_of_many_packages_all_land,
    a_restarted_registry_still_has_everything,
);

/// Whether `path` is a request for release content (`/v1/content/…` or a
/// version's `/content`).
fn is_content(method: &str, path: &str) -> bool {
    method == "GET" && (path.starts_with("/v1/content/") || path.ends_with("/content"))
}

#[test]
fn get_refuses_content_that_does_not_match_the_release_and_writes_nothing() {
    let server = Server::start();
    let bytes = greeter_n(1);
    assert_eq!(server.publish("example:greet", "1.0.0", &bytes).0, 201);
    let digest = format!("sha256:{}", sha256_hex(&bytes));
    // Bytes altered on the way: one flipped (same size), or one more.
    let flipped = Proxy::start(&server.url, |method, path| {
        if is_content(method, path) {
            Proxied::Alter(|mut body| {
                let middle = body.len() / 2;
                body[middle] ^= 1;
                body
            })
        } else {
            Proxied::Forward
        }
    });
    let longer = Proxy::start(&server.url, |method, path| {
        if is_content(method, path) {
            Proxied::Alter(|mut body| {
                body.push(0);
                body
            })
        } else {
            Proxied::Forward
        }
    });
    for (proxy, size) in [(&flipped, bytes.len()), (&longer, bytes.len() + 1)] {
        let work = tempfile::tempdir().unwrap();
        for output in [None, Some("copy.wasm")] {
            let mut args = vec!["--registry", proxy.url.as_str(), "get", "example:greet"];
            args.extend(output.iter().flat_map(|file| ["-o", *file]));
            let said = fails(server.cli_in(work.path(), &args));
            assert!(
                said.contains("does not match its release")
                    && said.contains(&digest)
                    && said.contains(&format!("({size} bytes)"))
                    && said.contains("nothing was written"),
                "{said}"
            );
            let left: Vec<_> = std::fs::read_dir(work.path()).unwrap().collect();
            assert!(left.is_empty(), "a refused get left {left:?}");
        }
    }
    // A good file already there is not replaced by a refused download.
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("greet-1.0.0.wasm"), b"mine").unwrap();
    fails(server.cli_in(
        work.path(),
        &["--registry", flipped.url.as_str(), "get", "example:greet"],
    ));
    assert_eq!(
        std::fs::read(work.path().join("greet-1.0.0.wasm")).unwrap(),
        b"mine"
    );
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 1);
    // Through a proxy that alters nothing, the same get succeeds.
    let honest = Proxy::start(&server.url, |_, _| Proxied::Forward);
    let work = tempfile::tempdir().unwrap();
    ok(server.cli_in(
        work.path(),
        &["--registry", honest.url.as_str(), "get", "example:greet"],
    ));
    assert_eq!(
        std::fs::read(work.path().join("greet-1.0.0.wasm")).unwrap(),
        bytes
    );
}

#[test]
fn the_cli_stops_quietly_when_its_reader_goes_away() {
    use std::process::{Command, Stdio};
    let server = Server::start();
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(1)).0,
        201
    );
    for args in [
        &["info", "example:greet@1.0.0"][..],
        &["list"],
        &["get", "example:greet", "-o", "-"],
    ] {
        let mut child = Command::new(DEPOT)
            .args(args)
            .env("DEPOT_REGISTRY", &server.url)
            .env("DEPOT_CONFIG_DIR", &server.config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // As `depot info … | head -c0` does: the reader closes the pipe
        // before the CLI has asked the registry anything.
        drop(child.stdout.take());
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && !stderr.contains("panicked"),
            "depot {args:?} with stdout closed: {:?}\n{stderr}",
            output.status
        );
    }
}

fn published_and_fetched_bytes_are_identical(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let bytes = greeter(&Meta {
        description: Some("Says hello"),
        licenses: Some("Apache-2.0"),
        authors: Some("Depot Tests"),
        source: Some("https://example.com/greet"),
        ..Meta::default()
    });
    let (_dir, file) = temp_file("greet.wasm", &bytes);
    let out = ok(server.cli(&["publish", "example:greet@1.0.0", file.to_str().unwrap()]));
    assert!(out.contains("published example:greet@1.0.0"), "{out}");

    // The CLI fetches, checks the digest and writes the file.
    let work = tempfile::tempdir().unwrap();
    ok(server.cli_in(work.path(), &["get", "example:greet"]));
    assert_eq!(
        std::fs::read(work.path().join("greet-1.0.0.wasm")).unwrap(),
        bytes
    );
    ok(server.cli_in(
        work.path(),
        &["get", "example:greet@=1.0.0", "-o", "copy.wasm"],
    ));
    assert_eq!(std::fs::read(work.path().join("copy.wasm")).unwrap(), bytes);

    // The release says what the binary says about itself.
    let (status, release) = server.get_json("/v1/packages/example:greet/versions/1.0.0");
    assert_eq!(status, 200);
    let digest = release["digest"].as_str().unwrap().to_string();
    assert_eq!(digest, format!("sha256:{}", sha256_hex(&bytes)));
    assert_eq!(release["size"], bytes.len() as u64);
    assert_eq!(release["yanked"], false);
    assert!(release["publishedAt"].as_str().unwrap().ends_with('Z'));
    let meta = &release["metadata"];
    assert_eq!(meta["kind"], "component");
    assert_eq!(meta["description"], "Says hello");
    assert_eq!(meta["licenses"], "Apache-2.0");
    assert_eq!(meta["authors"], "Depot Tests");
    assert_eq!(meta["source"], "https://example.com/greet");
    assert_eq!(
        meta["exports"],
        serde_json::json!(["example:greet/greeter@0.1.0"])
    );
    assert_eq!(
        meta["imports"],
        serde_json::json!(["example:greet/logger@0.1.0"])
    );

    // Both content URLs serve the same bytes, with an ETag that revalidates.
    for path in [
        "/v1/packages/example:greet/versions/1.0.0/content".to_string(),
        "/v1/packages/example%3Agreet/versions/1.0.0/content".to_string(),
        format!("/v1/content/{digest}"),
    ] {
        let response = client().get(server.at(&path)).send().unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "application/wasm");
        let etag = response.headers()["etag"].to_str().unwrap().to_string();
        assert_eq!(etag, format!("\"{digest}\""));
        assert_eq!(
            response.bytes().unwrap().as_ref(),
            bytes.as_slice(),
            "{path}"
        );
        let again = client()
            .get(server.at(&path))
            .header("if-none-match", &etag)
            .send()
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
}

#[test]
fn cli_info_and_list_show_what_was_published() {
    let server = Server::start();
    let (_dir, file) = temp_file(
        "g.wasm",
        &greeter(&Meta {
            description: Some("A friendly greeter"),
            ..Meta::default()
        }),
    );
    let path = file.to_str().unwrap();
    ok(server.cli(&["publish", "example:greet@1.0.0", path]));
    let (_dir2, module) = temp_file("m.wasm", &core_module(&Meta::default()));
    ok(server.cli(&["publish", "other:answer@0.1.0", module.to_str().unwrap()]));

    let info = ok(server.cli(&["info", "example:greet@1.0.0"]));
    assert!(info.contains("A friendly greeter"), "{info}");
    assert!(info.contains("example:greet/greeter@0.1.0"), "{info}");
    let info = ok(server.cli(&["info", "other:answer@0.1.0", "--json"]));
    let json: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(json["metadata"]["kind"], "core-module");

    let list = ok(server.cli(&["list"]));
    assert!(
        list.contains("example:greet") && list.contains("other:answer"),
        "{list}"
    );
    let list: serde_json::Value =
        serde_json::from_str(&ok(server.cli(&["list", "--json"]))).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["example:greet", "other:answer"]);
}

#[test]
fn a_wit_package_is_recognised_as_one() {
    let server = Server::start();
    // A WIT package encoded as a component, as `wasm-tools component wit --wasm` makes it.
    let mut resolve = wit_parser::Resolve::default();
    let package = resolve
        .push_source(
            "types.wit",
            "package example:types@0.2.0;\ninterface shapes { record point { x: s32, y: s32 } }\n",
        )
        .unwrap();
    let bytes = wit_component::encode(&resolve, package).unwrap();
    let (status, release) = server.publish("example:types", "0.2.0", &bytes);
    assert_eq!(status, 201, "{release}");
    assert_eq!(release["metadata"]["kind"], "wit-package");
    assert_eq!(
        release["metadata"]["exports"],
        serde_json::json!(["example:types/shapes@0.2.0"])
    );
}

fn publishing_same_version_twice_is_a_conflict_and_keeps_the_first_content(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let first = greeter_n(1);
    let second = greeter_n(2);
    assert_eq!(server.publish("example:greet", "1.0.0", &first).0, 201);
    let message = assert_error(
        &server.publish("example:greet", "1.0.0", &second),
        409,
        "version-exists",
    );
    assert!(message.contains("1.0.0"), "{message}");
    // The same bytes again are refused too: a version is released once.
    assert_error(
        &server.publish("example:greet", "1.0.0", &first),
        409,
        "version-exists",
    );
    let (status, content) = server.get_bytes("/v1/packages/example:greet/versions/1.0.0/content");
    assert_eq!((status, content), (200, first));

    // The CLI exits non-zero with the server's message.
    let (_dir, file) = temp_file("g.wasm", &second);
    let err = fails(server.cli(&["publish", "example:greet@1.0.0", file.to_str().unwrap()]));
    assert!(
        err.contains("version-exists") && err.contains("1.0.0"),
        "{err}"
    );
}

#[test]
fn bad_input_gets_a_clear_error_and_writes_nothing() {
    let server = Server::start();
    let good = greeter_n(1);
    assert_error(
        &server.publish("example:greet", "1.0.0", b"definitely not wasm"),
        422,
        "invalid-content",
    );
    assert_error(
        &server.publish("example:greet", "1.0.0", &good[..good.len() / 2]),
        422,
        "invalid-content",
    );
    assert_error(
        &server.publish("example:greet", "1.0.0", b""),
        422,
        "invalid-content",
    );
    assert_error(
        &server.publish("Example:Greet", "1.0.0", &good),
        400,
        "invalid-name",
    );
    assert_error(
        &server.publish("greet", "1.0.0", &good),
        400,
        "invalid-name",
    );
    assert_error(
        &server.publish("example:greet", "1.0", &good),
        400,
        "invalid-version",
    );
    assert_error(
        &server.publish("example:greet", "one", &good),
        400,
        "invalid-version",
    );

    // Nothing above left a release behind.
    assert_error(
        &server.get_json("/v1/packages/example:greet"),
        404,
        "not-found",
    );
    let (status, list) = server.get_json("/v1/packages");
    assert_eq!(status, 200);
    assert_eq!(list["packages"], serde_json::json!([]));

    // Reads of unknown things, bad digests and unknown routes.
    assert_error(
        &server.get_json("/v1/packages/example:nothing/versions/1.0.0"),
        404,
        "not-found",
    );
    assert_error(
        &server.get_json("/v1/content/sha256:nothex"),
        400,
        "invalid-digest",
    );
    let absent = format!("/v1/content/sha256:{}", "0".repeat(64));
    assert_error(&server.get_json(&absent), 404, "not-found");
    assert_error(&server.get_json("/v1/nowhere"), 404, "not-found");
    assert_error(
        &server.post_json("/v1/packages/example:greet/versions/9.9.9/yank"),
        404,
        "not-found",
    );
    let response = client()
        .delete(server.at("/v1/packages/example:greet"))
        .send()
        .unwrap();
    assert_error(&status_json(response), 405, "method-not-allowed");

    // The server is still healthy and the first good publish works.
    assert_eq!(server.publish("example:greet", "1.0.0", &good).0, 201);
}

fn concurrent_publishes_of_one_version_have_exactly_one_winner(runtime: Runtime) {
    let server = Arc::new(Server::start_on(runtime));
    let contenders = 20;
    let barrier = Arc::new(Barrier::new(contenders));
    let handles: Vec<_> = (0..contenders)
        .map(|i| {
            let server = server.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let bytes = greeter_n(i);
                barrier.wait();
                let (status, body) = server.publish("example:race", "1.0.0", &bytes);
                (status, body, bytes)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners: Vec<_> = results.iter().filter(|(s, _, _)| *s == 201).collect();
    assert_eq!(
        winners.len(),
        1,
        "statuses: {:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    for (status, body, _) in &results {
        if *status != 201 {
            assert_error(&(*status, body.clone()), 409, "version-exists");
        }
    }
    let (_, content) = server.get_bytes("/v1/packages/example:race/versions/1.0.0/content");
    assert_eq!(content, winners[0].2);
    let (_, package) = server.get_json("/v1/packages/example:race");
    assert_eq!(package["versions"].as_array().unwrap().len(), 1);
}

/// Many publishes at once, each of its own package, so each takes the write
/// lock: every one lands. (On Spin's SQLite a transaction spans several of
/// the handler's calls; requests waiting for its lock once took every async
/// worker while the holder, parked between two statements, had none left to
/// commit on: they failed after the busy timeout and the deadline.)
fn concurrent_publishes_of_many_packages_all_land(runtime: Runtime) {
    let server = Arc::new(Server::start_on(runtime));
    let publishers = 40;
    let barrier = Arc::new(Barrier::new(publishers));
    let bytes = Arc::new(greeter_n(1));
    let handles: Vec<_> = (0..publishers)
        .map(|i| {
            let (server, barrier, bytes) = (server.clone(), barrier.clone(), bytes.clone());
            std::thread::spawn(move || {
                barrier.wait();
                server
                    .publish(&format!("example:many{i}"), "1.0.0", &bytes)
                    .0
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == 201), "statuses: {statuses:?}");
    let (_, stats) = server.get_json("/v1/stats");
    assert_eq!(stats["packages"], publishers);
}

fn a_restarted_registry_still_has_everything(runtime: Runtime) {
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path().join("data");
    let server = Server::start_with(ServerOptions {
        data: Some(data.clone()),
        runtime,
        ..ServerOptions::default()
    });
    let one = greeter_n(1);
    // Large enough to be kept in chunks, not in the database.
    let two = greeter(&Meta {
        padding: 700_000,
        ..Meta::default()
    });
    assert_eq!(server.publish("example:greet", "1.0.0", &one).0, 201);
    assert_eq!(server.publish("example:greet", "1.1.0", &two).0, 201);
    assert_eq!(
        server
            .post_json("/v1/packages/example:greet/versions/1.1.0/yank")
            .0,
        200
    );
    let (_, before) = server.get_json("/v1/packages/example:greet");
    let token = server.token.clone();
    server.stop();

    let server = Server::start_with(ServerOptions {
        data: Some(data),
        runtime,
        token: Some(token),
        ..ServerOptions::default()
    });
    let (status, after) = server.get_json("/v1/packages/example:greet");
    assert_eq!(status, 200);
    assert_eq!(before, after);
    assert_eq!(
        server
            .get_bytes("/v1/packages/example:greet/versions/1.0.0/content")
            .1,
        one
    );
    assert_eq!(
        server
            .get_bytes("/v1/packages/example:greet/versions/1.1.0/content")
            .1,
        two
    );
    assert_error(
        &server.publish("example:greet", "1.0.0", &two),
        409,
        "version-exists",
    );
    assert_eq!(server.publish("example:greet", "1.2.0", &two).0, 201);
}

#[test]
fn info_shows_a_components_wit_and_a_wit_packages_worlds() {
    let server = Server::start();
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(0)).0,
        201
    );
    let (_, release) = server.get_json("/v1/packages/example:greet/versions/1.0.0");
    let wit = release["metadata"]["wit"].as_str().unwrap();
    for expected in [
        "import example:greet/logger@0.1.0;",
        "export example:greet/greeter@0.1.0;",
        "greet: func(name: string) -> string;",
    ] {
        assert!(wit.contains(expected), "{expected} not in:\n{wit}");
    }
    assert!(release["metadata"]["worlds"].is_null());
    let out = ok(server.cli(&["info", "example:greet@1.0.0"]));
    assert!(out.contains("export example:greet/greeter@0.1.0;"), "{out}");

    let mut resolve = wit_parser::Resolve::default();
    let package = resolve
        .push_source(
            "types.wit",
            "package example:types@0.2.0;
             interface names { type name = string; }
             world user { import names; }
             world provider { export names; }",
        )
        .unwrap();
    let bytes = wit_component::encode(&resolve, package).unwrap();
    assert_eq!(server.publish("example:types", "0.2.0", &bytes).0, 201);
    let (_, release) = server.get_json("/v1/packages/example:types/versions/0.2.0");
    let metadata = &release["metadata"];
    assert_eq!(metadata["kind"], "wit-package");
    assert_eq!(
        metadata["exports"],
        serde_json::json!(["example:types/names@0.2.0"])
    );
    assert_eq!(
        metadata["worlds"],
        serde_json::json!(["example:types/provider@0.2.0", "example:types/user@0.2.0"])
    );
    assert!(
        metadata["wit"]
            .as_str()
            .unwrap()
            .contains("world provider {")
    );
}
