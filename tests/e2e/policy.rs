//! Swapping a handler: the example policy of examples/strict-policy, which
//! requires an SPDX license and a description, named by one line of a
//! handler manifest, in the native composition and in the Spin build.

use crate::support::*;

on_every_runtime!(the_swapped_in_strict_policy_wants_a_license_and_a_description);

fn the_swapped_in_strict_policy_wants_a_license_and_a_description(runtime: Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("handlers.toml");
    let policy = fixture_handler("strict_policy.wasm");
    std::fs::write(
        &manifest,
        format!("policy = {:?}\n", policy.display().to_string()),
    )
    .unwrap();
    let server = Server::start_with(ServerOptions {
        runtime,
        handlers: Some(manifest),
        ..ServerOptions::default()
    });

    let bare = greeter(&Meta::default());
    let message = assert_error(
        &server.publish("example:bare", "1.0.0", &bare),
        422,
        "policy-rejected",
    );
    assert!(
        message.contains("a license") && message.contains("a description"),
        "{message}"
    );
    let unlicensed = greeter(&Meta {
        description: Some("Says hello"),
        ..Meta::default()
    });
    let message = assert_error(
        &server.publish("example:bare", "1.0.0", &unlicensed),
        422,
        "policy-rejected",
    );
    assert!(
        message.contains("a license") && !message.contains("a description"),
        "{message}"
    );
    let (status, _) = server.get_json("/v1/packages/example:bare");
    assert_eq!(status, 404, "a refused release leaves nothing behind");

    let documented = greeter(&Meta {
        description: Some("Says hello"),
        licenses: Some("Apache-2.0 WITH LLVM-exception OR MIT"),
        ..Meta::default()
    });
    let (status, release) = server.publish("example:greet", "1.0.0", &documented);
    assert_eq!(status, 201, "{release}");
    assert_eq!(
        server
            .get_bytes("/v1/packages/example:greet/versions/1.0.0/content")
            .1,
        documented
    );
}
