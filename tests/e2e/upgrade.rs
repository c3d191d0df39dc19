//! Upgrades: a registry made by an earlier Depot, kept as a fixture
//! (`tests/fixtures/registry-before-migrations/`, made by the schema Depot
//! had before numbered migrations), is opened, migrated, served and verified
//! clean by this build; a database migrated by a newer Depot is refused.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::support::*;

/// The fixture: a registry's data directory, and its operator's token.
fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/registry-before-migrations")
}

/// Makes the fixture with the `depot` this test was built with:
/// `DEPOT_MAKE_FIXTURE=1 cargo test -p depot --test e2e -- --ignored
/// make_the_fixture`. It was made once, by the last build before numbered
/// migrations; it is kept as that build left it.
#[test]
#[ignore = "makes the committed fixture; run by hand"]
fn make_the_fixture() {
    assert!(
        std::env::var_os("DEPOT_MAKE_FIXTURE").is_some(),
        "set DEPOT_MAKE_FIXTURE=1 to overwrite the fixture"
    );
    let temp = tempfile::tempdir().unwrap();
    let data = temp.path().join("data");
    let server = Server::start_with(ServerOptions {
        data: Some(data.clone()),
        ..ServerOptions::default()
    });
    for (version, n) in [("1.0.0", 0), ("1.1.0", 1), ("2.0.0", 2)] {
        assert_eq!(
            server.publish("example:greet", version, &greeter_n(n)).0,
            201
        );
    }
    assert_eq!(
        server
            .post_json("/v1/packages/example:greet/versions/1.1.0/yank")
            .0,
        200
    );
    let (status, _) = server.post(
        "/v1/packages/example:greet/versions/1.0.0/annotations",
        &json!({"type": "review", "value": {"verdict": "ok"}}),
    );
    assert_eq!(status, 201);
    let (status, _) = server.post(
        "/v1/packages/example:greet/versions/2.0.0/takedown",
        &json!({"reason": "a fixture's takedown"}),
    );
    assert_eq!(status, 200);
    let key = temp.path().join("signing.key");
    let public = ok(server.cli(&["key", "new", key.to_str().unwrap()]));
    ok(server.cli(&["key", "grant", public.trim(), "--namespace", "example"]));
    let (_dir, wasm) = temp_file("signed.wasm", &greeter_n(3));
    ok(server.cli(&[
        "publish",
        "example:signed@1.0.0",
        wasm.to_str().unwrap(),
        "--sign",
        key.to_str().unwrap(),
    ]));
    let (status, made) = server.post(
        "/v1/tokens",
        &json!({"namespaces": ["example"], "label": "ci"}),
    );
    assert_eq!(status, 201, "{made}");
    let token = server.token.clone();
    server.stop();
    // Everything in the database file itself, none in a write-ahead log.
    rusqlite::Connection::open(data.join("registry.db"))
        .unwrap()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;")
        .unwrap();
    let fixture = fixture();
    let _ = std::fs::remove_dir_all(&fixture);
    copy_dir(&data, &fixture.join("data"));
    let _ = std::fs::remove_dir_all(fixture.join("data").join("cache"));
    std::fs::write(fixture.join("operator-token"), token).unwrap();
}

/// A copy of the fixture's data directory in `temp`, and its operator's token.
fn copy_of_fixture(temp: &Path) -> (PathBuf, String) {
    let data = temp.join("data");
    copy_dir(&fixture().join("data"), &data);
    let token = std::fs::read_to_string(fixture().join("operator-token")).unwrap();
    (data, token.trim().to_string())
}

#[test]
fn a_registry_made_before_migrations_is_migrated_served_and_verified() {
    let temp = tempfile::tempdir().unwrap();
    let (data, token) = copy_of_fixture(temp.path());
    let db = data.join("registry.db");
    assert!(
        sqlite_ints(
            &db,
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'schema_migrations'"
        ) == [0],
        "the fixture is from before migrations"
    );
    let server = Server::start_with(ServerOptions {
        data: Some(data.clone()),
        token: Some(token),
        ..ServerOptions::default()
    });
    // Migrated: every migration recorded once, in order.
    let versions = sqlite_ints(
        &db,
        "SELECT version FROM schema_migrations ORDER BY version",
    );
    assert_eq!(versions.first(), Some(&1));
    assert!(
        versions.windows(2).all(|w| w[1] == w[0] + 1),
        "{versions:?}"
    );

    // Served as it was: releases, the yank, the annotation, the takedown,
    // the signature, the content and the tokens.
    let (status, greet) = server.get_json("/v1/packages/example:greet");
    assert_eq!(status, 200, "{greet}");
    let versions = greet["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 3);
    let release = |v: &str| server.get_json(&format!("/v1/packages/example:greet/versions/{v}"));
    let (_, one) = release("1.0.0");
    assert_eq!(one["annotations"][0]["type"], "review");
    assert_eq!(one["annotations"][0]["value"], json!({"verdict": "ok"}));
    assert_eq!(release("1.1.0").1["yanked"], true);
    assert_eq!(
        server
            .get_bytes("/v1/packages/example:greet/versions/1.0.0/content")
            .1,
        greeter_n(0)
    );
    assert_eq!(
        server
            .get_bytes("/v1/packages/example:greet/versions/2.0.0/content")
            .0,
        451
    );
    let (status, signed) = server.get_json("/v1/packages/example:signed/versions/1.0.0");
    assert_eq!(status, 200, "{signed}");
    assert!(signed["signature"]["publicKey"].is_string(), "{signed}");
    let (status, tokens) = server.get_json("/v1/tokens");
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens.to_string().contains("\"ci\""), "{tokens}");

    // The log verifies clean against its checkpoints, and grows.
    let said = ok(server.cli(&["verify"]));
    assert!(said.contains("8 log entries match"), "{said}");
    assert_eq!(
        server.publish("example:greet", "3.0.0", &greeter_n(4)).0,
        201
    );
}

#[test]
fn a_database_migrated_by_a_newer_depot_is_refused_at_start_up() {
    let temp = tempfile::tempdir().unwrap();
    let (data, token) = copy_of_fixture(temp.path());
    drop(Server::start_with(ServerOptions {
        data: Some(data.clone()),
        token: Some(token),
        ..ServerOptions::default()
    }));
    Runtime::Native.tamper(
        &data,
        "INSERT INTO schema_migrations (version, applied, about) VALUES (999, 0, 'the future')",
    );
    let mut serve = std::process::Command::new(DEPOT)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = serve.kill();
            panic!("depot serve started on a database from a newer Depot");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut said = String::new();
    std::io::Read::read_to_string(&mut serve.stderr.take().unwrap(), &mut said).unwrap();
    assert!(
        said.contains("schema version 999") && said.contains("newer Depot"),
        "{said}"
    );
}
