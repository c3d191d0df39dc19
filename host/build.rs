//! Builds the handler components (the `components/` workspace, for
//! wasm32-wasip2) and generates `$OUT_DIR/handlers.rs`: the built-in handlers
//! embedded in the `depot` binary, and the paths of every built component
//! (the end-to-end tests use them, the fixtures included).
//!
//! Follows wasmtime's `crates/test-programs/artifacts/build.rs`: a nested
//! `cargo build` with its own target directory and none of the outer build's
//! flags.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The built-in handlers: (constant prefix, file stem).
const HANDLERS: [(&str, &str); 6] = [
    ("API", "depot_api"),
    ("WEB", "depot_web"),
    ("PUBLISH", "depot_publish"),
    ("QUERY", "depot_query"),
    ("METADATA", "depot_metadata"),
    ("POLICY", "depot_policy"),
];

/// Components not embedded in the binary: the Spin store, the example
/// policy, and fixtures for the tests.
const FIXTURES: [(&str, &str); 4] = [
    ("SPIN_STORE", "spin_store"),
    ("STRICT_POLICY", "strict_policy"),
    ("POLICY_ENDLESS", "policy_endless"),
    ("POLICY_GREEDY", "policy_greedy"),
];

/// Environment of the outer build that must not reach the nested one: its
/// flags are for the host, and a clippy wrapper would change the components'
/// fingerprints (and rebuild them) on every switch between build and clippy.
const REMOVED_ENV: [&str; 4] = [
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "CLIPPY_ARGS",
];

/// Prefixes of outer-build settings: profile, target (`CARGO_TARGET_DIR`,
/// linkers) and build (`CARGO_BUILD_TARGET`) settings are the host's.
const REMOVED_ENV_PREFIXES: [&str; 3] = ["CARGO_PROFILE_", "CARGO_BUILD_", "CARGO_TARGET_"];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let repo = manifest_dir
        .parent()
        .expect("host/ is inside the repository");
    let components = repo.join("components");
    // One target directory for every host profile, so the components are
    // built once whether the host is built for dev, test or release.
    let target_dir = repo.join("target").join("components");

    for dir in ["components", "examples", "wit", "protocol", "store", "wire"] {
        watch(&repo.join(dir));
    }
    // The api component serves the description of its routes.
    println!(
        "cargo:rerun-if-changed={}",
        repo.join("docs").join("openapi.yaml").display()
    );

    if !components.join("Cargo.toml").is_file() {
        panic!(
            "\n\nThe handler components are missing: expected a cargo workspace at {}.\n\
             The `depot` binary embeds them, so they must exist before the host builds.\n\n",
            components.join("Cargo.toml").display()
        );
    }

    ensure_wasm_target();
    build_components(&components, &target_dir, &["--release", "--workspace"]);
    // The read half of the HTTP front: the api crate without its `writes`
    // feature. Then the read front of a Spin build split in two: the read
    // half that hands every other method on to the whole front (`forward`).
    let read_half = build_api_variant(&components, &target_dir, READ_HALF_PROFILE, &[]);
    let spin_front = build_api_variant(
        &components,
        &target_dir,
        SPIN_FRONT_PROFILE,
        &["--features", "forward"],
    );

    let release = target_dir.join("wasm32-wasip2").join("release");
    let missing: Vec<String> = HANDLERS
        .iter()
        .chain(&FIXTURES)
        .map(|(_, stem)| release.join(format!("{stem}.wasm")))
        .filter(|path| !path.is_file())
        .map(|path| path.display().to_string())
        .collect();
    if !missing.is_empty() {
        panic!(
            "\n\nThe components workspace built, but these components are missing:\n  {}\n\
             Each must be a `cdylib` crate of the workspace in {}.\n\n",
            missing.join("\n  "),
            components.display()
        );
    }

    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    fs::write(
        out_dir.join("handlers.rs"),
        generate(&release, &read_half, &spin_front),
    )
    .expect("cannot write $OUT_DIR/handlers.rs");
}

/// Builds the api crate without its default `writes` feature, with `extra`
/// arguments, in `profile` (components/Cargo.toml), a profile of its own so
/// its `depot_api.wasm` does not replace the whole front's; returns where it
/// is.
fn build_api_variant(
    components: &Path,
    target_dir: &Path,
    profile: &str,
    extra: &[&str],
) -> PathBuf {
    let mut args = vec![
        "--profile",
        profile,
        "-p",
        "depot-api",
        "--no-default-features",
    ];
    args.extend_from_slice(extra);
    build_components(components, target_dir, &args);
    let built = target_dir
        .join(WASM_TARGET)
        .join(profile)
        .join("depot_api.wasm");
    if !built.is_file() {
        panic!(
            "\n\nThe api component built in profile `{profile}` is missing: expected {}\n\n",
            built.display()
        );
    }
    built
}

/// The cargo profile (components/Cargo.toml) the read half of the HTTP
/// front is built in.
const READ_HALF_PROFILE: &str = "read-half";

/// The cargo profile the read front of a split Spin build is built in.
const SPIN_FRONT_PROFILE: &str = "spin-front";

/// The target the handler components are built for.
const WASM_TARGET: &str = "wasm32-wasip2";

/// Makes sure the toolchain has the standard library for [`WASM_TARGET`]
/// before the nested build starts. `rust-toolchain.toml` lists the target, but
/// rustup adds listed targets only when it installs the toolchain itself: on a
/// machine that already had the toolchain the target is missing, and the
/// nested build would fail only after minutes. With rustup, add it; without,
/// stop at once and say what to run.
fn ensure_wasm_target() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    let installed = |sysroot: &Path| sysroot.join("lib/rustlib").join(WASM_TARGET).is_dir();
    if sysroot.as_deref().is_some_and(installed) {
        return;
    }
    // Under rustup, cargo runs with RUSTUP_TOOLCHAIN naming the toolchain in
    // use (the one rust-toolchain.toml pins): add the target to that one.
    let rustup = env::var_os("RUSTUP_TOOLCHAIN").and_then(|toolchain| {
        println!("cargo:warning=adding the {WASM_TARGET} target to the Rust toolchain (rustup target add {WASM_TARGET}), for the handler components");
        Command::new("rustup")
            .args(["target", "add", WASM_TARGET, "--toolchain"])
            .arg(toolchain)
            .status()
            .ok()
    });
    match rustup {
        Some(status) if status.success() => {}
        Some(status) => panic!(
            "\n\n`rustup target add {WASM_TARGET}` failed ({status}). The handler components \
             are built for {WASM_TARGET}: add the target (`rustup target add {WASM_TARGET}`) \
             and build again.\n\n"
        ),
        None => panic!(
            "\n\nThe Rust toolchain at {} has no standard library for {WASM_TARGET}, which the \
             handler components are built for, and rustup is not there to add it.\n\
             Install rustup (https://rustup.rs) and run `rustup target add {WASM_TARGET}`, or \
             install your distribution's {WASM_TARGET} standard library for this rustc, then \
             build again.\n\n",
            sysroot.map_or_else(|| "(unknown)".to_owned(), |s| s.display().to_string()),
        ),
    }
}

/// Runs `cargo build` with `args` in `components`, failing the build with
/// the nested cargo's output if it fails.
fn build_components(components: &Path, target_dir: &Path, args: &[&str]) {
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build").args(args).current_dir(components);
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if REMOVED_ENV.contains(&key) || REMOVED_ENV_PREFIXES.iter().any(|p| key.starts_with(p)) {
            cmd.env_remove(key);
        }
    }
    cmd.env("CARGO_TARGET_DIR", target_dir);
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the components: {e}"));
    if !output.status.success() {
        panic!(
            "\n\nBuilding the handler components failed ({}), in {}:\n\n{}\n{}\n",
            output.status,
            components.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
    }
}

/// Emits `rerun-if-changed` for every file under `dir`, skipping target
/// directories (a component build must not retrigger itself) and `.git`.
fn watch(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        // Not there yet: rerun when it appears.
        println!("cargo:rerun-if-changed={}", dir.display());
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != ".git" {
                watch(&path);
            }
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

fn generate(release: &Path, read_half: &Path, spin_front: &Path) -> String {
    let mut code = String::from(
        "// Generated by host/build.rs: the handler components built from components/.\n\n",
    );
    let path_of = |stem: &str| release.join(format!("{stem}.wasm"));
    for (name, stem) in HANDLERS.iter().chain(&FIXTURES) {
        let path = path_of(stem);
        writeln!(
            code,
            "/// Path of the built `{stem}.wasm`.\npub const {name}_WASM: &str = {path:?};"
        )
        .expect("writing to a String");
    }
    code.push_str("\n/// The built-in handlers, embedded so the binary is self-contained.\npub mod builtin {\n");
    for (name, stem) in HANDLERS {
        let path = path_of(stem);
        writeln!(
            code,
            "    /// The built-in `{stem}.wasm`.\n    pub static {name}: &[u8] = include_bytes!({path:?});"
        )
        .expect("writing to a String");
    }
    writeln!(
        code,
        "    /// The read half of the built-in api handler (`depot-api` without its \
         `writes` feature).\n    pub static API_READ: &[u8] = include_bytes!({read_half:?});"
    )
    .expect("writing to a String");
    writeln!(
        code,
        "    /// The read front of a Spin build split in two (`depot-api` without \
         `writes`, with `forward`).\n    pub static API_SPIN_FRONT: &[u8] = \
         include_bytes!({spin_front:?});"
    )
    .expect("writing to a String");
    code.push_str("}\n");
    code
}
