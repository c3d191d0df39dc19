//! The sandbox's limits: content size, per-request deadline and memory, with
//! hostile handlers swapped in through the handler manifest.

use std::time::{Duration, Instant};

use crate::support::*;

/// A server whose policy role is filled by the fixture `file`.
fn server_with_policy(file: &str, extra: &[&str]) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("handlers.toml");
    std::fs::write(
        &manifest,
        format!(
            "policy = {:?}\n",
            fixture_handler(file).display().to_string()
        ),
    )
    .unwrap();
    let mut args = vec!["--handlers".to_string(), manifest.display().to_string()];
    args.extend(extra.iter().map(|s| s.to_string()));
    (
        Server::start_with(ServerOptions {
            args,
            ..ServerOptions::default()
        }),
        dir,
    )
}

#[test]
fn content_over_the_size_limit_is_refused_before_and_during_upload() {
    let server = Server::start_with(ServerOptions {
        args: vec!["--max-content-size".into(), "4096".into()],
        ..ServerOptions::default()
    });
    let big = greeter(&Meta {
        padding: 10_000,
        ..Meta::default()
    });
    // With a Content-Length: refused up front.
    let message = assert_error(
        &server.publish("example:big", "1.0.0", &big),
        413,
        "too-large",
    );
    assert!(message.contains("4096"), "{message}");
    // Chunked, without a Content-Length: refused while reading.
    let body = reqwest::blocking::Body::new(ChunkReader(big.clone(), 0));
    let response = server
        .http()
        .put(server.at("/v1/packages/example:big/versions/1.0.0"))
        .body(body)
        .send()
        .unwrap();
    assert_error(&status_json(response), 413, "too-large");
    assert_error(
        &server.get_json("/v1/packages/example:big"),
        404,
        "not-found",
    );
    // Under the limit is fine.
    assert_eq!(
        server.publish("example:small", "1.0.0", &greeter_n(1)).0,
        201
    );
}

/// A reader of unknown length, so reqwest sends the body chunked.
struct ChunkReader(Vec<u8>, usize);

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(1000).min(self.0.len() - self.1);
        buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
        self.1 += n;
        Ok(n)
    }
}

#[test]
fn a_handler_that_never_returns_is_stopped_at_the_deadline_while_others_are_served() {
    // Long enough that the reads below all finish while the policy spins,
    // however loaded the machine: their answers, not a clock, are checked.
    let deadline = Duration::from_secs(15);
    let (server, _dir) = server_with_policy("policy_endless.wasm", &["--request-deadline", "15s"]);
    let server = std::sync::Arc::new(server);
    let publisher = {
        let server = server.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            let got = server.publish("example:greet", "1.0.0", &greeter_n(1));
            (got, start.elapsed())
        })
    };
    // While the policy spins, reads keep being answered.
    for _ in 0..5 {
        let (status, _) = server.get_json("/v1/packages");
        assert_eq!(status, 200);
    }
    assert!(
        !publisher.is_finished(),
        "the endless policy's publish ended before the reads did"
    );
    let (got, elapsed) = publisher.join().unwrap();
    let message = assert_error(&got, 504, "deadline-exceeded");
    assert!(message.contains("--request-deadline"), "{message}");
    // Stopped by the deadline, not by anything sooner.
    assert!(elapsed >= deadline, "{elapsed:?}");
    assert_error(
        &server.get_json("/v1/packages/example:greet"),
        404,
        "not-found",
    );
}

#[test]
fn a_handler_that_allocates_without_bound_hits_the_memory_limit() {
    let (server, _dir) = server_with_policy("policy_greedy.wasm", &["--memory-limit", "64MiB"]);
    let message = assert_error(
        &server.publish("example:greet", "1.0.0", &greeter_n(1)),
        503,
        "memory-limit-exceeded",
    );
    assert!(message.contains("--memory-limit"), "{message}");
    // The server goes on serving.
    let (status, _) = server.get_json("/v1/packages");
    assert_eq!(status, 200);
    assert_error(
        &server.get_json("/v1/packages/example:greet"),
        404,
        "not-found",
    );
}

#[test]
fn a_bad_handler_manifest_stops_start_up_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("handlers.toml");
    let start_with = |contents: &str| {
        std::fs::write(&manifest, contents).unwrap();
        let out = std::process::Command::new(DEPOT)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .arg("--handlers")
            .arg(&manifest)
            .output()
            .unwrap();
        assert!(!out.status.success(), "started with {contents:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = start_with("policy = \"/no/such/policy.wasm\"\n");
    assert!(err.contains("/no/such/policy.wasm"), "{err}");
    let err = start_with("polcy = \"builtin\"\n");
    assert!(err.contains("polcy"), "{err}");
}

#[test]
fn a_handler_importing_an_interface_its_role_does_not_grant_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    // A query handler that could append to the registry log.
    let sneaky = handler_component(
        "package fixture:handlers;
         world query {
           import depot:registry/log-read@0.1.0;
           import depot:registry/index@0.1.0;
           import depot:registry/log-append@0.1.0;
           export depot:registry/query@0.1.0;
         }",
        "query",
    );
    std::fs::write(dir.path().join("query.wasm"), sneaky).unwrap();
    let manifest = dir.path().join("handlers.toml");
    std::fs::write(&manifest, "query = \"query.wasm\"\n").unwrap();
    for spin in [false, true] {
        let mut command = std::process::Command::new(DEPOT);
        if spin {
            command
                .arg("compose")
                .arg("--store")
                .arg(fixture_handler("spin_store.wasm"))
                .arg("--output")
                .arg(dir.path().join("depot.wasm"));
        } else {
            command
                .args(["serve", "--listen", "127.0.0.1:0", "--data"])
                .arg(dir.path().join("data"));
        }
        let err = fails(command.arg("--handlers").arg(&manifest).output().unwrap());
        assert!(
            err.contains("the query handler")
                && err.contains(
                    "imports `depot:registry/log-append@0.1.0`, which the query role \
                     does not grant; a query handler may import `log-read`, `index`"
                ),
            "{err}"
        );
    }
    assert!(!dir.path().join("depot.wasm").exists());
}

/// Publishing hostile binaries: each is answered promptly with a clear error
/// (or, if it is within the caps, published), never a 500, and the server goes
/// on serving.
mod hostile {
    use wasm_encoder::{
        CodeSection, Component, ComponentImportSection, ComponentTypeRef, ComponentTypeSection,
        ComponentValType, ExportKind, ExportSection, Function, FunctionSection, InstanceType,
        Instruction, Module, NestedComponentSection, PrimitiveValType, TypeSection,
    };

    /// A component importing one instance whose type nests `depth` instance types.
    pub fn nested_instance_types(depth: usize) -> Vec<u8> {
        let mut inner = InstanceType::new();
        for _ in 0..depth {
            let mut outer = InstanceType::new();
            outer.ty().instance(&inner);
            outer.export("inner", ComponentTypeRef::Instance(0));
            inner = outer;
        }
        let mut types = ComponentTypeSection::new();
        types.instance(&inner);
        let mut imports = ComponentImportSection::new();
        imports.import("example:deep/nested", ComponentTypeRef::Instance(0));
        let mut component = Component::new();
        component.section(&types).section(&imports);
        component.finish()
    }

    /// A component with `depth` components nested one in the next.
    pub fn nested_components(depth: usize) -> Vec<u8> {
        let mut component = Component::new();
        for _ in 0..depth {
            let mut outer = Component::new();
            outer.section(&NestedComponentSection(&component));
            component = outer;
        }
        component.finish()
    }

    /// A component exporting a function type `depth` `list<…>`s deep.
    pub fn nested_lists(depth: u32) -> Vec<u8> {
        let mut types = ComponentTypeSection::new();
        types
            .defined_type()
            .list(ComponentValType::Primitive(PrimitiveValType::U8));
        for i in 0..depth {
            types.defined_type().list(ComponentValType::Type(i));
        }
        types
            .function()
            .params([("x", ComponentValType::Type(depth))])
            .result(None);
        let mut imports = ComponentImportSection::new();
        imports.import("f", ComponentTypeRef::Func(depth + 1));
        let mut component = Component::new();
        component.section(&types).section(&imports);
        component.finish()
    }

    /// A component importing `count` functions.
    pub fn many_imports(count: usize, name_len: usize) -> Vec<u8> {
        let mut types = ComponentTypeSection::new();
        let no_params: [(&str, ComponentValType); 0] = [];
        types.function().params(no_params).result(None);
        let mut imports = ComponentImportSection::new();
        for i in 0..count {
            let mut name = format!("f{i}");
            if name_len > name.len() {
                name.push('-');
                name.extend(std::iter::repeat_n('a', name_len - name.len()));
            }
            imports.import(&name, ComponentTypeRef::Func(0));
        }
        let mut component = Component::new();
        component.section(&types).section(&imports);
        component.finish()
    }

    /// A core module with `types` function types and `functions` exported functions.
    pub fn many_functions(types: u32, functions: u32) -> Vec<u8> {
        let mut type_section = TypeSection::new();
        for i in 0..types {
            // Distinct types, so none is deduplicated.
            let params = vec![wasm_encoder::ValType::I32; (i % 100) as usize];
            let results = vec![wasm_encoder::ValType::I64; (i / 100) as usize];
            type_section.ty().function(params, results);
        }
        let mut funcs = FunctionSection::new();
        let mut exports = ExportSection::new();
        let mut code = CodeSection::new();
        let mut body = Function::new([]);
        body.instruction(&Instruction::End);
        for i in 0..functions {
            funcs.function(0);
            exports.export(&format!("f{i}"), ExportKind::Func, i);
            code.function(&body);
        }
        let mut module = Module::new();
        module
            .section(&type_section)
            .section(&funcs)
            .section(&exports)
            .section(&code);
        module.finish()
    }
}

#[test]
fn a_valid_binary_too_big_to_describe_within_the_memory_limit_gets_503() {
    // The metadata handler holds the binary and the description it reads out
    // of it: with a 24 MiB description, at least 48 MiB against a 32 MiB
    // limit, so the limit must be hit whatever the allocator does.
    let server = Server::start_with(ServerOptions {
        args: vec!["--memory-limit".into(), "32MiB".into()],
        ..ServerOptions::default()
    });
    // Under the same limit, an ordinary release is described and published.
    assert_eq!(
        server.publish("example:small", "1.0.0", &greeter_n(1)).0,
        201
    );
    let description = "d".repeat(24 << 20);
    let big = greeter(&Meta {
        description: Some(&description),
        ..Meta::default()
    });
    let message = assert_error(
        &server.publish("example:big", "1.0.0", &big),
        503,
        "memory-limit-exceeded",
    );
    assert!(message.contains("--memory-limit"), "{message}");
    assert_error(
        &server.get_json("/v1/packages/example:big"),
        404,
        "not-found",
    );
    let (status, _) = server.get_json("/v1/packages/example:small");
    assert_eq!(status, 200);
}

/// The answers a case may get: status and error code (none for a publish).
type Answers<'a> = &'a [(u16, &'a str)];

#[test]
fn hostile_binaries_are_refused_cleanly_and_the_server_goes_on_serving() {
    let server = Server::start_with(ServerOptions {
        args: vec!["--request-deadline".into(), "20s".into()],
        ..ServerOptions::default()
    });
    let huge_description = "d".repeat(4 << 20);
    let invalid: Answers = &[(422, "invalid-content")];
    // Valid but big: published, or stopped by the memory limit.
    let bounded: Answers = &[(201, ""), (503, "memory-limit-exceeded")];
    // Over what the registry keeps of a release's metadata: refused naming
    // the limit (or stopped by the memory limit before that).
    let capped: Answers = &[(422, "policy-rejected"), (503, "memory-limit-exceeded")];
    let cases: Vec<(&str, Vec<u8>, Answers)> = vec![
        // wasmparser's own limits refuse these while validating.
        (
            "nested-instance-types",
            hostile::nested_instance_types(5_000),
            invalid,
        ),
        (
            "nested-components",
            hostile::nested_components(5_000),
            invalid,
        ),
        ("nested-lists", hostile::nested_lists(50_000), invalid),
        (
            "huge-import-name",
            hostile::many_imports(1, 5 << 20),
            invalid,
        ),
        (
            "many-functions",
            hostile::many_functions(1, 1_000_000),
            invalid,
        ),
        ("many-types", hostile::many_functions(100_000, 1), bounded),
        ("many-imports", hostile::many_imports(50_000, 0), capped),
        (
            "many-long-imports",
            hostile::many_imports(1_000, 50_000),
            bounded,
        ),
        (
            "huge-description",
            greeter(&Meta {
                description: Some(&huge_description),
                ..Meta::default()
            }),
            capped,
        ),
    ];
    for (name, bytes, expected) in cases {
        let start = Instant::now();
        let got = server.publish(&format!("example:{name}"), "1.0.0", &bytes);
        let elapsed = start.elapsed();
        let code = got.1["error"]["code"].as_str().unwrap_or_default();
        eprintln!(
            "{name}: {} bytes -> {} {code} in {elapsed:?}",
            bytes.len(),
            got.0
        );
        assert!(
            expected.contains(&(got.0, code)),
            "{name}: unexpected answer {} {}",
            got.0,
            got.1.to_string().chars().take(500).collect::<String>()
        );
        if got.0 != 201 {
            assert_error(&got, got.0, code);
        }
        assert!(elapsed < Duration::from_secs(20), "{name} took {elapsed:?}");
        let (status, _) = server.get_json("/v1/packages");
        assert_eq!(status, 200, "the server stopped serving after {name}");
    }
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(1)).0,
        201
    );
}
