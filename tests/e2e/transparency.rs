//! The transparency log: a signed checkpoint after every commit, inclusion
//! and consistency proofs that verify, `depot get` refusing a registry whose
//! log went back or forked, and `depot verify` finding a release altered in
//! the database behind the log's back.

use std::process::Output;

use depot_protocol::tlog::{
    Checkpoint, Hash, LeafAction, LeafEntry, NoteVerifier, verify_consistency, verify_inclusion,
};
use serde_json::Value;

use crate::support::*;

on_every_runtime!(
    every_commit_is_in_a_signed_checkpoint_with_proofs_that_verify,
    the_tree_survives_a_restart_and_the_key_stays,
    get_refuses_a_registry_whose_log_went_back_or_forked,
    verify_finds_a_release_or_log_entry_altered_in_the_database,
);

fn text(server: &Server, path: &str) -> String {
    let (status, bytes) = server.get_bytes(path);
    assert_eq!(status, 200, "{path}");
    String::from_utf8(bytes).unwrap()
}

fn checkpoint(server: &Server) -> Checkpoint {
    let key: NoteVerifier = text(server, "/v1/log/key").trim().parse().unwrap();
    Checkpoint::open(&text(server, "/v1/log/checkpoint"), &key).expect("a signed checkpoint")
}

fn proof(json: &Value) -> Vec<Hash> {
    json["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect()
}

/// Runs `depot get` against `server` in a fresh folder; returns its output
/// and the names of the files it left there.
fn get(server: &Server, spec: &str) -> (Output, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let output = server.cli_in(dir.path(), &["get", spec]);
    let files = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    (output, files)
}

/// Runs `depot get` that must fail; returns what it said, having checked it
/// left no file behind (neither the release nor a partial download).
fn get_refused(server: &Server, spec: &str) -> String {
    let (output, files) = get(server, spec);
    let said = fails(output);
    assert!(files.is_empty(), "a refused get wrote {files:?}: {said}");
    said
}

/// Runs `depot get` that must succeed; checks it wrote the release's file.
fn get_ok(server: &Server, spec: &str, file: &str) {
    let (output, files) = get(server, spec);
    ok(output);
    assert_eq!(files, [file]);
}

fn every_commit_is_in_a_signed_checkpoint_with_proofs_that_verify(runtime: Runtime) {
    let server = Server::start_on(runtime);
    assert_eq!(checkpoint(&server).size, 0);
    let bytes = greeter(&Meta::default());
    let mut releases = Vec::new();
    let mut seen = Vec::new();
    for version in ["1.0.0", "1.1.0", "2.0.0"] {
        let (status, release) = server.publish("example:greet", version, &bytes);
        assert_eq!(status, 201, "{release}");
        // Provable at once: the checkpoint already covers the new entry.
        let signed = checkpoint(&server);
        assert_eq!(signed.size, release["seq"].as_u64().unwrap());
        releases.push(release);
        seen.push(signed);
    }
    let (status, _) = server.post_json("/v1/packages/example:greet/versions/1.0.0/yank");
    assert_eq!(status, 200);
    let signed = checkpoint(&server);
    assert_eq!(signed.size, 4);

    for release in &releases {
        let seq = release["seq"].as_u64().unwrap();
        let leaf = LeafEntry {
            seq,
            time: depot_protocol::parse_rfc3339(release["publishedAt"].as_str().unwrap()).unwrap(),
            name: "example:greet",
            version: release["version"].as_str().unwrap(),
            action: LeafAction::Release {
                digest: release["digest"].as_str().unwrap(),
                size: release["size"].as_u64().unwrap(),
                oci_manifest: release["ociManifest"].as_str(),
                signature: None,
            },
        };
        let (status, json) = server.get_json(&format!(
            "/v1/log/proof/inclusion?seq={seq}&size={}",
            signed.size
        ));
        assert_eq!(status, 200, "{json}");
        verify_inclusion(
            &leaf.leaf_hash(),
            seq - 1,
            signed.size,
            &proof(&json),
            &signed.root,
        )
        .expect("the release's leaf is in the signed tree");
        // A leaf with another digest is not.
        let forged = LeafEntry {
            action: LeafAction::Release {
                digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                size: release["size"].as_u64().unwrap(),
                oci_manifest: release["ociManifest"].as_str(),
                signature: None,
            },
            ..leaf
        };
        assert!(
            verify_inclusion(
                &forged.leaf_hash(),
                seq - 1,
                signed.size,
                &proof(&json),
                &signed.root
            )
            .is_err()
        );
    }

    // Every tree a client saw on the way is a prefix of the newest.
    for old in &seen {
        let (status, json) = server.get_json(&format!(
            "/v1/log/proof/consistency?from={}&to={}",
            old.size, signed.size
        ));
        assert_eq!(status, 200, "{json}");
        let hashes = proof(&json);
        verify_consistency(old.size, signed.size, &old.root, &signed.root, &hashes)
            .expect("the newer tree extends the older");
        assert!(
            verify_consistency(old.size, signed.size, &signed.root, &signed.root, &hashes).is_err(),
            "a different old root must not verify"
        );
    }

    // Out-of-range questions are clear 400s.
    for path in [
        "/v1/log/proof/inclusion?seq=0&size=4",
        "/v1/log/proof/inclusion?seq=5&size=4",
        "/v1/log/proof/inclusion?seq=1&size=99",
        "/v1/log/proof/consistency?from=3&to=2",
        "/v1/log/proof/inclusion?size=4",
    ] {
        assert_error(&server.get_json(path), 400, "bad-request");
    }
    // Without a size: in the tree the newest checkpoint names.
    let (status, newest) = server.get_json("/v1/log/proof/inclusion?seq=1");
    assert_eq!(status, 200);
    assert_eq!(newest["treeSize"].as_u64(), Some(signed.size));
    let sized = server.get_json(&format!(
        "/v1/log/proof/inclusion?seq=1&size={}",
        signed.size
    ));
    assert_eq!(newest["proof"], sized.1["proof"]);
}

fn the_tree_survives_a_restart_and_the_key_stays(runtime: Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(ServerOptions {
        data: Some(dir.path().join("data")),
        runtime,
        ..ServerOptions::default()
    });
    let bytes = greeter(&Meta::default());
    assert_eq!(server.publish("example:greet", "1.0.0", &bytes).0, 201);
    let before = checkpoint(&server);
    let key = text(&server, "/v1/log/key");
    let token = server.token.clone();
    let data = server.stop();
    if runtime == Runtime::Native {
        // The Spin build keeps its key in its database.
        let key_file = std::fs::metadata(data.join("log.key")).unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(key_file.permissions().mode() & 0o777, 0o600);
    }

    let server = Server::start_with(ServerOptions {
        data: Some(data),
        token: Some(token),
        runtime,
        ..ServerOptions::default()
    });
    assert_eq!(text(&server, "/v1/log/key"), key);
    let after = checkpoint(&server);
    assert_eq!((after.size, after.root), (before.size, before.root));
    assert_eq!(server.publish("example:greet", "1.1.0", &bytes).0, 201);
    assert_eq!(checkpoint(&server).size, 2);
    get_ok(&server, "example:greet@1.1.0", "greet-1.1.0.wasm");
}

fn get_refuses_a_registry_whose_log_went_back_or_forked(runtime: Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("config");
    let bytes = greeter(&Meta::default());
    let start = |data: &std::path::Path, listen: Option<String>, token: Option<String>| {
        Server::start_with(ServerOptions {
            data: Some(data.to_path_buf()),
            listen,
            config: Some(config.clone()),
            token,
            runtime,
            ..ServerOptions::default()
        })
    };

    let server = start(&data, None, None);
    let token = Some(server.token.clone());
    let listen = server.url.trim_start_matches("http://").to_string();
    assert_eq!(server.publish("example:greet", "1.0.0", &bytes).0, 201);
    let data = server.stop();
    // A copy of the registry as it was after one entry, key and all.
    let old = dir.path().join("old");
    copy_dir(&data, &old);
    if runtime.is_shared() {
        SharedStore::of(&data).copy_into(&old);
    }

    let server = start(&data, Some(listen.clone()), token.clone());
    assert_eq!(server.publish("example:greet", "1.1.0", &bytes).0, 201);
    let (output, files) = get(&server, "example:greet@1.1.0");
    let said = String::from_utf8(output.stderr).unwrap();
    assert!(said.contains("trusting"), "{said}");
    assert_eq!(files, ["greet-1.1.0.wasm"]);
    get_ok(&server, "example:greet@1.0.0", "greet-1.1.0.wasm");
    drop(server);

    // The same registry, rolled back to its first entry.
    let server = start(&old, Some(listen.clone()), token.clone());
    let err = get_refused(&server, "example:greet@1.0.0");
    assert!(err.contains("rollback"), "{err}");
    assert!(
        err.contains("1 entries") && err.contains("2 entries"),
        "{err}"
    );

    // ...then grown apart from what the client saw: a fork.
    assert_eq!(server.publish("example:other", "1.0.0", &bytes).0, 201);
    assert_eq!(server.publish("example:other", "2.0.0", &bytes).0, 201);
    let err = get_refused(&server, "example:greet@1.0.0");
    assert!(err.contains("fork"), "{err}");
    drop(server);

    // The honest registry is still accepted.
    let server = start(&data, Some(listen), token);
    get_ok(&server, "example:greet@1.0.0", "greet-1.1.0.wasm");
}

fn verify_finds_a_release_or_log_entry_altered_in_the_database(runtime: Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(ServerOptions {
        data: Some(dir.path().join("data")),
        runtime,
        ..ServerOptions::default()
    });
    let bytes = greeter(&Meta::default());
    let other = greeter_n(3);
    assert_eq!(server.publish("example:greet", "1.0.0", &bytes).0, 201);
    assert_eq!(server.publish("example:greet", "1.1.0", &other).0, 201);
    assert_eq!(server.publish("example:other", "0.1.0", &other).0, 201);
    let (status, _) = server.post_json("/v1/packages/example:greet/versions/1.1.0/yank");
    assert_eq!(status, 200);
    let said = ok(server.cli(&["verify"]));
    assert!(said.contains("4 log entries match"), "{said}");

    // Someone with the database swaps a release's digest in the index.
    let config = server.config.clone();
    let token = server.token.clone();
    let data = server.stop();
    let forged = format!("sha256:{}", sha256_hex(b"forged"));
    let changed = runtime.tamper(
        &data,
        &format!(
            "UPDATE releases SET digest = '{forged}' WHERE name = 'example:greet' AND version = '1.0.0'"
        ),
    );
    assert_eq!(changed, 1);
    let server = Server::start_with(ServerOptions {
        data: Some(data),
        config: Some(config.clone()),
        token: Some(token.clone()),
        runtime,
        ..ServerOptions::default()
    });
    let err = fails(server.cli(&["verify"]));
    assert!(err.contains("1 problem"), "{err}");
    let out = String::from_utf8(server.cli(&["verify"]).stdout).unwrap();
    assert!(
        out.contains("index: example:greet@1.0.0 is served with digest") && out.contains(&forged),
        "{out}"
    );

    // And a log entry rewritten in place: its leaf no longer matches.
    let data = server.stop();
    runtime.tamper(&data, "UPDATE log SET version = '9.9.9' WHERE seq = 3");
    let server = Server::start_with(ServerOptions {
        data: Some(data),
        config: Some(config),
        token: Some(token),
        runtime,
        ..ServerOptions::default()
    });
    let out = String::from_utf8(server.cli(&["verify"]).stdout).unwrap();
    assert!(
        out.contains("log entry 3 does not match the signed log"),
        "{out}"
    );
}
