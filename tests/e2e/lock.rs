//! Lockfiles and trust policies in the CLI: `depot lock` pins releases as of
//! a signed checkpoint in `wkg.lock`, `depot get --locked` reproduces the
//! locked bytes after the registry moved on and refuses a registry rolled
//! back or forked behind the lock, `depot audit` reports exactly what
//! changed, `wkg`'s lock types and Depot read each other's lockfiles, and
//! `depot get`/`lock` follow `depot.policy.toml` and the policy flags,
//! checking the registry's choice themselves.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use wasm_pkg_core::lock::{LockFile, LockedPackage, LockedPackageVersion};

use crate::oci::{host, runtime, wasm_pkg_client, wasm_pkg_fetch};
use crate::support::*;

on_every_runtime!(
    a_lockfile_reproduces_its_releases_and_audit_reports_what_changed_since,
    get_locked_refuses_a_registry_rolled_back_or_forked_behind_the_lockfile,
    get_and_lock_follow_the_policy_file_and_flags_and_check_the_registry_s_choice,
);

#[test]
fn wkg_and_depot_read_each_other_s_lockfiles() {
    wkg_lockfiles(Runtime::Native);
}

/// Runs the CLI in `dir` against `registry` with the config folder `config`.
fn depot_in(dir: &Path, registry: &str, config: &Path, args: &[&str]) -> Output {
    Command::new(DEPOT)
        .args(args)
        .current_dir(dir)
        .env("DEPOT_REGISTRY", registry)
        .env("DEPOT_CONFIG_DIR", config)
        .env_remove("DEPOT_TOKEN")
        .output()
        .expect("run depot")
}

/// The names of the files in `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The log entry that released `name@version`.
fn seq_of(server: &Server, name: &str, version: &str) -> u64 {
    let (status, release) = server.get_json(&format!("/v1/packages/{name}/versions/{version}"));
    assert_eq!(status, 200, "{release}");
    release["seq"].as_u64().unwrap()
}

/// `(name, requirement, version, digest)` of every locked version, read
/// with `wkg`'s own lock types.
fn read_with_wkg(path: &Path) -> Vec<(String, String, String, String)> {
    let lock = runtime()
        .block_on(LockFile::load_from_path(path, true))
        .expect("wkg reads the lockfile");
    assert_eq!(lock.version, 1);
    lock.packages
        .iter()
        .flat_map(|p| {
            p.versions.iter().map(|v| {
                (
                    p.name.to_string(),
                    v.requirement.to_string(),
                    v.version.to_string(),
                    v.digest.to_string(),
                )
            })
        })
        .collect()
}

/// The finding kinds `depot audit --json` reports, per locked release.
fn audit_kinds(report: &Value) -> Vec<(String, Vec<String>)> {
    report["releases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                format!(
                    "{}@{}",
                    r["name"].as_str().unwrap(),
                    r["version"].as_str().unwrap()
                ),
                r["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["kind"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

fn a_lockfile_reproduces_its_releases_and_audit_reports_what_changed_since(on: Runtime) {
    let server = Server::start_on(on);
    let greet = [greeter_n(0), greeter_n(1), greeter_n(2)];
    let other = greeter_n(3);
    assert_eq!(server.publish("example:greet", "1.0.0", &greet[0]).0, 201);
    assert_eq!(server.publish("example:greet", "1.1.0", &greet[1]).0, 201);
    assert_eq!(server.publish("example:other", "2.0.0", &other).0, 201);
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();

    let said = ok(server.cli_in(dir, &["lock", "example:greet@^1.0", "example:other"]));
    assert!(
        said.contains("locked example:greet@^1.0 to 1.1.0"),
        "{said}"
    );
    assert!(said.contains("as of the signed log of 3 entries"), "{said}");
    let lockfile = dir.join("wkg.lock");
    // wkg reads what Depot wrote: the same requirements, versions and digests.
    assert_eq!(
        read_with_wkg(&lockfile),
        [
            (
                "example:greet".to_string(),
                "^1.0".to_string(),
                "1.1.0".to_string(),
                format!("sha256:{}", sha256_hex(&greet[1]))
            ),
            (
                "example:other".to_string(),
                "*".to_string(),
                "2.0.0".to_string(),
                format!("sha256:{}", sha256_hex(&other))
            ),
        ]
    );
    let text = std::fs::read_to_string(&lockfile).unwrap();
    let locked: toml::Value = toml::from_str(&text).unwrap();
    assert_eq!(
        locked["packages"][0]["versions"][0]["log-index"].as_integer(),
        Some(seq_of(&server, "example:greet", "1.1.0") as i64),
        "{text}"
    );
    assert_eq!(
        locked["depot"]["registry"].as_str(),
        Some(server.url.as_str())
    );
    assert!(
        locked["depot"]["checkpoint"]
            .as_str()
            .unwrap()
            .contains("\n3\n"),
        "the checkpoint of the 3-entry log: {text}"
    );
    let audit = ok(server.cli_in(dir, &["audit"]));
    assert!(audit.contains("example:greet@1.1.0: ok"), "{audit}");

    // The registry moves on: a newer release, a yank, an advisory over the
    // locked version, the other package taken down.
    assert_eq!(server.publish("example:greet", "1.2.0", &greet[2]).0, 201);
    ok(server.cli(&["yank", "example:greet@1.1.0"]));
    let advisory = json!({"type": "advisory", "value": {
        "severity": "high", "summary": "greets the wrong person", "affected": ">=1.0.0, <1.2.0"}});
    let path = "/v1/packages/example:greet/versions/1.0.0/annotations";
    assert_eq!(server.post(path, &advisory).0, 201);
    ok(server.cli(&["takedown", "example:other@2.0.0", "--reason", "malware"]));

    // get --locked fetches nothing when one locked release cannot be had...
    let out = tempfile::tempdir().unwrap();
    std::fs::copy(&lockfile, out.path().join("wkg.lock")).unwrap();
    let said = fails(server.cli_in(out.path(), &["get", "--locked"]));
    assert!(
        said.contains("example:other@2.0.0") && said.contains("malware"),
        "{said}"
    );
    assert_eq!(files(out.path()), ["wkg.lock"], "a refused get wrote files");
    // ...and reproduces the locked bytes, not the newest release's.
    let fetched = server.cli_in(out.path(), &["get", "--locked", "example:greet"]);
    let said = String::from_utf8_lossy(&fetched.stderr).into_owned();
    ok(fetched);
    assert!(said.contains("yanked"), "{said}");
    assert_eq!(
        std::fs::read(out.path().join("greet-1.1.0.wasm")).unwrap(),
        greet[1]
    );
    let said = fails(server.cli_in(out.path(), &["get", "--locked", "example:absent"]));
    assert!(
        said.contains("locks no release of example:absent"),
        "{said}"
    );

    // audit reports exactly what changed, and fails.
    let report = server.cli_in(dir, &["audit", "--json"]);
    assert!(!report.status.success());
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(
        audit_kinds(&report),
        [
            (
                "example:greet@1.1.0".to_string(),
                vec!["yanked".to_string(), "advisory".to_string()]
            ),
            (
                "example:other@2.0.0".to_string(),
                vec!["taken-down".to_string()]
            ),
        ]
    );
    assert_eq!(report["findings"], 3);
    assert_eq!(report["treeSize"], 7);
    let said = fails(server.cli_in(dir, &["audit"]));
    assert!(said.contains("3 finding(s)"), "{said}");
    let text_report = ok_or_stdout(server.cli_in(dir, &["audit"]));
    assert!(
        text_report.contains("example:greet@1.1.0: advisory: HIGH greets the wrong person"),
        "{text_report}"
    );
    assert!(
        text_report.contains("example:other@2.0.0: taken-down"),
        "{text_report}"
    );

    // Re-locking everything cannot lock the taken-down package, and leaves
    // the lockfile as it was.
    let said = fails(server.cli_in(dir, &["lock"]));
    assert!(said.contains("example:other"), "{said}");
    assert_eq!(std::fs::read_to_string(&lockfile).unwrap(), text);
    // Re-locking one requirement moves it to the newest release and keeps the rest.
    let said = ok(server.cli_in(dir, &["lock", "example:greet@^1.0"]));
    assert!(said.contains("to 1.2.0"), "{said}");
    let versions: Vec<String> = read_with_wkg(&lockfile).into_iter().map(|l| l.2).collect();
    assert_eq!(versions, ["1.2.0", "2.0.0"]);
    let report = server.cli_in(dir, &["audit", "--json"]);
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(
        audit_kinds(&report),
        [
            ("example:greet@1.2.0".to_string(), vec![]),
            (
                "example:other@2.0.0".to_string(),
                vec!["taken-down".to_string()]
            ),
        ]
    );
}

/// The stdout of a CLI run, whether it succeeded or not.
fn ok_or_stdout(output: Output) -> String {
    String::from_utf8(output.stdout).unwrap()
}

fn get_locked_refuses_a_registry_rolled_back_or_forked_behind_the_lockfile(runtime: Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let bytes = [greeter_n(0), greeter_n(1)];
    let start = |data: &Path, listen: Option<String>, token: Option<String>, config: PathBuf| {
        Server::start_with(ServerOptions {
            data: Some(data.to_path_buf()),
            listen,
            config: Some(config),
            token,
            runtime,
            ..ServerOptions::default()
        })
    };
    let config = dir.path().join("config");
    let server = start(&data, None, None, config.clone());
    let token = Some(server.token.clone());
    let listen = server.url.trim_start_matches("http://").to_string();
    assert_eq!(server.publish("example:greet", "1.0.0", &bytes[0]).0, 201);
    let data = server.stop();
    let old = dir.path().join("old");
    copy_dir(&data, &old);
    if runtime.is_shared() {
        SharedStore::of(&data).copy_into(&old);
    }

    let server = start(&data, Some(listen.clone()), token.clone(), config.clone());
    assert_eq!(server.publish("example:greet", "1.1.0", &bytes[1]).0, 201);
    let project = dir.path().join("project");
    std::fs::create_dir(&project).unwrap();
    ok(server.cli_in(&project, &["lock", "example:greet@=1.0.0"]));
    drop(server);

    // The registry rolled back to its first entry, met by a client that
    // never saw it before: only the lockfile's checkpoint can tell.
    let fresh = dir.path().join("fresh-config");
    let server = start(&old, Some(listen.clone()), token.clone(), fresh.clone());
    let said = fails(server.cli_in(&project, &["get", "--locked"]));
    assert!(
        said.contains("rollback") && said.contains("wkg.lock was locked at"),
        "{said}"
    );
    assert!(
        said.contains("1 entries") && said.contains("2 entries"),
        "{said}"
    );
    let said = fails(server.cli_in(&project, &["audit"]));
    assert!(said.contains("rollback"), "{said}");
    // ...then grown apart from the locked log: a fork.
    assert_eq!(server.publish("example:other", "1.0.0", &bytes[0]).0, 201);
    assert_eq!(server.publish("example:other", "2.0.0", &bytes[1]).0, 201);
    std::fs::remove_dir_all(&fresh).unwrap();
    let said = fails(server.cli_in(&project, &["get", "--locked"]));
    assert!(
        said.contains("fork") && said.contains("wkg.lock was locked at"),
        "{said}"
    );
    assert_eq!(files(&project), ["wkg.lock"], "a refused get wrote files");
    drop(server);

    // The honest registry still gives the locked bytes.
    let server = start(&data, Some(listen), token, config);
    ok(server.cli_in(&project, &["get", "--locked"]));
    assert_eq!(
        std::fs::read(project.join("greet-1.0.0.wasm")).unwrap(),
        bytes[0]
    );
}

fn get_and_lock_follow_the_policy_file_and_flags_and_check_the_registry_s_choice(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("a.key");
    let key = ok(server.cli(&["key", "new", key_file.to_str().unwrap()]));
    let key = key.trim();
    ok(server.cli(&["key", "grant", key, "--namespace", "example"]));
    let signed = greeter_n(0);
    let (_file_dir, file) = temp_file("c.wasm", &signed);
    ok(server.cli(&[
        "publish",
        "example:greet@1.0.0",
        file.to_str().unwrap(),
        "--sign",
        key_file.to_str().unwrap(),
    ]));
    assert_eq!(
        server.publish("example:greet", "1.1.0", &greeter_n(1)).0,
        201
    );

    // No policy: the newest release.
    let plain = tempfile::tempdir().unwrap();
    ok(server.cli_in(plain.path(), &["get", "example:greet"]));
    assert_eq!(files(plain.path()), ["greet-1.1.0.wasm"]);

    // depot.policy.toml in the folder: only releases signed by the key.
    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    std::fs::write(
        dir.join("depot.policy.toml"),
        format!("signed-by = [\"{key}\"]\n"),
    )
    .unwrap();
    ok(server.cli_in(dir, &["get", "example:greet"]));
    assert_eq!(std::fs::read(dir.join("greet-1.0.0.wasm")).unwrap(), signed);
    let said = ok(server.cli_in(dir, &["lock", "example:greet@^1"]));
    assert!(said.contains("to 1.0.0"), "{said}");

    // A flag adds a rule: nothing is reviewed, so nothing is chosen, and the
    // registry's answer says which rule left out which version.
    let said = fails(server.cli_in(dir, &["get", "example:greet", "--annotated", "review"]));
    assert!(said.contains("1.0.0") && said.contains("review"), "{said}");
    let said = fails(server.cli_in(dir, &["lock", "example:greet@^1", "--min-age", "1h"]));
    assert!(
        said.contains("under the trust policy") && said.contains("min-age"),
        "{said}"
    );
    // --policy names another file; a bad one is refused saying what is wrong.
    let other = dir.join("other.toml");
    std::fs::write(&other, "exclude-advisories = \"yes\"\n").unwrap();
    let said = fails(server.cli_in(dir, &["get", "example:greet", "--policy", "other.toml"]));
    assert!(
        said.contains("other.toml") && said.contains("exclude-advisories"),
        "{said}"
    );
    let said = fails(server.cli_in(dir, &["get", "--locked", "--signed-by", key]));
    assert!(said.contains("depot lock"), "{said}");

    // A registry that ignores the policy (here: a proxy that strips the
    // signature from the release it chose) is caught by the client's own check.
    let proxy = Proxy::start(&server.url, |_, path| {
        if path.contains("/resolve") {
            Proxied::Alter(|body| {
                let mut release: Value = serde_json::from_slice(&body).unwrap();
                release["signature"] = Value::Null;
                serde_json::to_vec(&release).unwrap()
            })
        } else {
            Proxied::Forward
        }
    });
    let config = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    std::fs::copy(
        dir.join("depot.policy.toml"),
        out.path().join("depot.policy.toml"),
    )
    .unwrap();
    let said = fails(depot_in(
        out.path(),
        &proxy.url,
        config.path(),
        &["get", "example:greet"],
    ));
    assert!(
        said.contains("refuses") && said.contains("not signed"),
        "{said}"
    );
    assert_eq!(files(out.path()), ["depot.policy.toml"]);
}

/// A `wkg.lock` written with wkg's own types from what `wasm-pkg-client`
/// resolved is fetched and audited by Depot; one with another digest is
/// refused.
fn wkg_lockfiles(on: Runtime) {
    let server = Server::start_on(on);
    let bytes = greeter_n(0);
    assert_eq!(server.publish("example:greet", "1.0.0", &bytes).0, 201);
    assert_eq!(
        server.publish("example:greet", "1.1.0", &greeter_n(1)).0,
        201
    );
    let project = tempfile::tempdir().unwrap();
    let lockfile = project.path().join("wkg.lock");
    let mapping = format!("default_registry = \"{}\"", host(&server));
    let client = wasm_pkg_client(&server, &mapping);
    let write_lock = |digest: wasm_pkg_client::ContentDigest| {
        let locked = LockedPackage {
            name: "example:greet".parse().unwrap(),
            registry: None,
            versions: vec![LockedPackageVersion {
                requirement: "=1.0.0".parse().unwrap(),
                version: "1.0.0".parse().unwrap(),
                digest,
            }],
        };
        runtime().block_on(async {
            let _ = std::fs::remove_file(&lockfile);
            let mut lock = LockFile::new_with_path([locked], &lockfile).await.unwrap();
            lock.write().await.unwrap();
        });
    };
    let release = runtime().block_on(async {
        assert_eq!(
            wasm_pkg_fetch(&client, "example:greet", "1.0.0").await,
            bytes
        );
        let package = "example:greet".parse().unwrap();
        client
            .get_release(&package, &"1.0.0".parse().unwrap())
            .await
            .unwrap()
    });
    write_lock(release.content_digest.clone());

    ok(server.cli_in(project.path(), &["get", "--locked"]));
    assert_eq!(
        std::fs::read(project.path().join("greet-1.0.0.wasm")).unwrap(),
        bytes
    );
    let said = ok(server.cli_in(project.path(), &["audit"]));
    assert!(said.contains("example:greet@1.0.0: ok"), "{said}");

    // Another digest locked: the registry's release is not the locked one.
    std::fs::remove_file(project.path().join("greet-1.0.0.wasm")).unwrap();
    let wrong = format!("sha256:{}", sha256_hex(b"something else"));
    write_lock(wrong.parse().unwrap());
    let said = fails(server.cli_in(project.path(), &["get", "--locked"]));
    assert!(said.contains("is not the one locked"), "{said}");
    assert_eq!(files(project.path()), ["wkg.lock"]);
    let said = ok_or_stdout(server.cli_in(project.path(), &["audit"]));
    assert!(said.contains("changed: served with digest"), "{said}");
}
