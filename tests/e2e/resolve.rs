//! Listing, resolution, yank and unyank.

use crate::support::*;

on_every_runtime!(
    resolution_picks_the_highest_release_that_is_not_yanked,
    cli_yank_and_get_follow_resolution,
);

fn resolution_picks_the_highest_release_that_is_not_yanked(runtime: Runtime) {
    let server = Server::start_on(runtime);
    for (i, version) in ["1.0.0", "1.2.0", "1.3.0", "2.0.0", "2.1.0-rc.1"]
        .iter()
        .enumerate()
    {
        assert_eq!(
            server.publish("example:greet", version, &greeter_n(i)).0,
            201
        );
    }
    let resolve = |req: &str| {
        let (status, body) = server.get_json(&format!(
            "/v1/packages/example:greet/resolve?req={}",
            urlencode(req)
        ));
        assert_eq!(status, 200, "{req}: {body}");
        body["version"].as_str().unwrap().to_string()
    };
    assert_eq!(resolve("^1.2"), "1.3.0");
    assert_eq!(resolve("*"), "2.0.0");

    let (status, yanked) = server.post_json("/v1/packages/example:greet/versions/1.3.0/yank");
    assert_eq!((status, yanked["yanked"].clone()), (200, true.into()));
    assert_eq!(resolve("^1.2"), "1.2.0");
    assert_eq!(
        resolve("=1.3.0"),
        "1.3.0",
        "an exact pin still resolves a yanked release"
    );
    assert_eq!(resolve(">=2.1.0-rc.1"), "2.1.0-rc.1");

    // Yanked content stays fetchable, and the package lists it as yanked.
    let (status, _) = server.get_bytes("/v1/packages/example:greet/versions/1.3.0/content");
    assert_eq!(status, 200);
    let (_, package) = server.get_json("/v1/packages/example:greet");
    let versions: Vec<(String, bool)> = package["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["version"].as_str().unwrap().to_string(),
                r["yanked"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            ("2.1.0-rc.1".to_string(), false),
            ("2.0.0".into(), false),
            ("1.3.0".into(), true),
            ("1.2.0".into(), false),
            ("1.0.0".into(), false)
        ]
    );
    assert_eq!(package["latest"], "2.0.0");

    // Only a yanked release matches: the message says so.
    let message = assert_error(
        &server.get_json("/v1/packages/example:greet/resolve?req=~1.3"),
        404,
        "not-found",
    );
    assert!(message.contains("yanked"), "{message}");

    // Unyank restores it; both are idempotent.
    assert_eq!(
        server
            .post_json("/v1/packages/example:greet/versions/1.3.0/unyank")
            .0,
        200
    );
    assert_eq!(
        server
            .post_json("/v1/packages/example:greet/versions/1.3.0/unyank")
            .0,
        200
    );
    assert_eq!(resolve("^1.2"), "1.3.0");

    assert_error(
        &server.get_json("/v1/packages/example:greet/resolve?req=%5E9"),
        404,
        "not-found",
    );
    assert_error(
        &server.get_json("/v1/packages/example:greet/resolve?req=banana"),
        400,
        "invalid-requirement",
    );
    assert_error(
        &server.get_json("/v1/packages/example:none/resolve?req=*"),
        404,
        "not-found",
    );
}

fn cli_yank_and_get_follow_resolution(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let v1 = greeter_n(1);
    let v2 = greeter_n(2);
    assert_eq!(server.publish("example:greet", "1.0.0", &v1).0, 201);
    assert_eq!(server.publish("example:greet", "1.1.0", &v2).0, 201);
    let work = tempfile::tempdir().unwrap();

    let out = ok(server.cli(&["yank", "example:greet@1.1.0"]));
    assert!(out.contains("yanked"), "{out}");
    ok(server.cli_in(work.path(), &["get", "example:greet@^1", "-o", "got.wasm"]));
    assert_eq!(std::fs::read(work.path().join("got.wasm")).unwrap(), v1);
    let info = ok(server.cli(&["info", "example:greet"]));
    assert!(
        info.contains("1.1.0") && info.contains("(yanked)"),
        "{info}"
    );

    ok(server.cli(&["unyank", "example:greet@1.1.0"]));
    ok(server.cli_in(work.path(), &["get", "example:greet@^1", "-o", "got.wasm"]));
    assert_eq!(std::fs::read(work.path().join("got.wasm")).unwrap(), v2);

    let err = fails(server.cli(&["yank", "example:greet@7.0.0"]));
    assert!(err.contains("not-found"), "{err}");
    let err = fails(server.cli(&["get", "example:greet@^5"]));
    assert!(err.contains("^5"), "{err}");
    let err = fails(server.cli(&["yank", "example:greet"]));
    assert!(err.contains("version"), "{err}");
}

#[test]
fn package_listing_pages_through_every_package_once() {
    let server = Server::start();
    let names = ["a:one", "a:two", "b:three", "c:four", "c:five"];
    for (i, name) in names.iter().enumerate() {
        assert_eq!(server.publish(name, "0.1.0", &greeter_n(i)).0, 201);
    }
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..10 {
        let path = match &after {
            Some(a) => format!("/v1/packages?limit=2&after={a}"),
            None => "/v1/packages?limit=2".to_string(),
        };
        let (status, page) = server.get_json(&path);
        assert_eq!(status, 200, "{page}");
        let packages = page["packages"].as_array().unwrap();
        assert!(packages.len() <= 2);
        for p in packages {
            assert_eq!(p["versions"], 1);
            assert_eq!(p["latest"], "0.1.0");
            seen.push(p["name"].as_str().unwrap().to_string());
        }
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => break,
        }
    }
    let mut expected: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(seen, expected);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'*' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
