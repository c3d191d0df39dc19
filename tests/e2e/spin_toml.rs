//! The Spin app: `spin.toml` is a valid Spin manifest (version 2), and its
//! build's `depot compose` step composes what `spin-handlers.toml` names.
//! CI has no Spin binary, so the manifest is checked against the JSON schema
//! Spin generates from its manifest structs (`spin maintenance
//! generate-manifest-schema`), kept in tests/spin/.

use std::path::{Path, PathBuf};

use crate::support::*;

/// The repository's root.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `spin.toml`, as the JSON value Spin's schema describes.
fn spin_toml() -> serde_json::Value {
    let text = std::fs::read_to_string(repo().join("spin.toml")).expect("spin.toml");
    let manifest: toml::Value = toml::from_str(&text).expect("spin.toml is TOML");
    serde_json::to_value(manifest).expect("TOML as JSON")
}

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo().join("tests/spin/spin-manifest-v2.schema.json"))
        .expect("the schema");
    jsonschema::validator_for(&serde_json::from_str(&text).expect("schema JSON")).expect("schema")
}

/// Whether `manifest` is valid, with every reason it is not.
fn check(manifest: &serde_json::Value) -> Result<(), Vec<String>> {
    let errors: Vec<String> = schema()
        .iter_errors(manifest)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The app's two components: the front, and the whole composition it hands
/// writes to.
const COMPONENTS: [&str; 2] = ["depot", "depot-writes"];

#[test]
fn spin_toml_is_a_valid_spin_manifest_that_grants_the_default_stores() {
    let manifest = spin_toml();
    check(&manifest).unwrap_or_else(|errors| panic!("spin.toml: {errors:#?}"));
    for name in COMPONENTS {
        let component = &manifest["component"][name];
        assert_eq!(
            component["key_value_stores"],
            serde_json::json!(["default"]),
            "{name}"
        );
        assert_eq!(
            component["sqlite_databases"],
            serde_json::json!(["default"]),
            "{name}"
        );
    }
    // The front takes every request; the writes only what it hands on.
    let triggers = &manifest["trigger"]["http"];
    assert_eq!(triggers[0]["route"], "/...");
    assert_eq!(triggers[0]["component"], "depot");
    assert_eq!(triggers[1]["route"], serde_json::json!({ "private": true }));
    assert_eq!(triggers[1]["component"], "depot-writes");
    assert_eq!(triggers.as_array().map(Vec::len), Some(2));
    // By Spin's local service chaining, at the address the front uses.
    let front_hosts = manifest["component"]["depot"]["allowed_outbound_hosts"].to_string();
    assert!(
        front_hosts.contains("\"http://depot-writes.spin.internal\""),
        "{front_hosts}"
    );
    // Both run with the same settings.
    assert_eq!(
        manifest["component"]["depot"]["environment"],
        manifest["component"]["depot-writes"]["environment"]
    );

    // The schema does catch mistakes.
    let mut wrong = manifest.clone();
    wrong["component"]["depot"]["key_value_store"] = serde_json::json!(["default"]);
    assert!(check(&wrong).is_err(), "a misspelt field passed");
    let mut wrong = manifest;
    wrong["spin_manifest_version"] = serde_json::json!(3);
    assert!(check(&wrong).is_err(), "manifest version 3 passed");
}

#[test]
fn the_spin_build_composes_what_spin_handlers_toml_names_into_the_source_spin_serves() {
    let manifest = spin_toml();
    let component = &manifest["component"]["depot"];
    let writes_source = manifest["component"]["depot-writes"]["source"]
        .as_str()
        .expect("depot-writes has a source");
    let command = component["build"]["command"]
        .as_str()
        .expect("a build command");
    let source = component["source"].as_str().expect("a source");
    let (cargo, args) = command
        .split_once(" -- ")
        .expect("the build runs `cargo run … -- ARGS`");
    assert!(
        cargo.starts_with("cargo run") && cargo.contains("-p depot"),
        "{command}"
    );
    let args: Vec<&str> = args.split_whitespace().collect();
    assert_eq!(args[0], "compose", "{command}");
    let output = args
        .iter()
        .position(|a| *a == "--output")
        .expect("--output");
    assert_eq!(
        args[output + 1],
        source,
        "the build writes what spin.toml serves"
    );
    assert_eq!(
        writes_source,
        source.replace(".wasm", "-writes.wasm"),
        "the build writes the whole composition where depot-writes is served from"
    );

    // Run the same compose step, into a temporary file.
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("depot.wasm");
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args[output + 1] = app.display().to_string();
    let out = ok(std::process::Command::new(DEPOT)
        .args(&args)
        .current_dir(repo())
        .output()
        .unwrap());
    assert!(out.contains("spin_store.wasm"), "{out}");
    let front = std::fs::metadata(&app).unwrap().len();
    let whole = std::fs::metadata(dir.path().join("depot-writes.wasm"))
        .unwrap()
        .len();
    assert!(front > 100_000, "{front}");
    // The front holds no write handler.
    assert!(whole > front + 100_000, "whole {whole}, front {front}");
}

/// Every Spin variable the store reads (`variable("NAME")` in
/// `store/src/spin_variables.rs`, which spin-store reads them with)
/// is handed to the component, from an application variable of the same
/// name that has a default (so plain `spin up` needs none), and those that
/// carry credentials are secrets.
#[test]
fn spin_toml_hands_the_store_every_variable_it_reads() {
    let manifest = spin_toml();
    let source = std::fs::read_to_string(repo().join("store/src/spin_variables.rs")).unwrap();
    let read: Vec<&str> = source
        .split("variable(\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(name, _)| name))
        .collect();
    assert!(read.len() >= 8, "{read:?}");
    let declared = &manifest["variables"];
    for component in COMPONENTS {
        let handed = &manifest["component"][component]["variables"];
        for name in &read {
            assert_eq!(
                handed[name],
                format!("{{{{ {name} }}}}"),
                "{component}: {name}"
            );
            assert!(
                declared[name]["default"].is_string(),
                "{name} has no default"
            );
        }
    }
    for secret in [
        "operator_token",
        "database_url",
        "s3_access_key_id",
        "s3_secret_access_key",
    ] {
        assert!(read.contains(&secret), "{secret}");
        assert_eq!(declared[secret]["secret"], true, "{secret}");
    }
    // The database and the bucket the variables name may be reached.
    for component in COMPONENTS {
        let hosts = manifest["component"][component]["allowed_outbound_hosts"].to_string();
        assert!(
            hosts.contains("{{ database_host }}") && hosts.contains("{{ s3_endpoint }}"),
            "{component}: {hosts}"
        );
    }
}
