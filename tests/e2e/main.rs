//! End-to-end tests of Depot: the `depot` binary serving the composed handler
//! components over HTTP, driven with the `depot` CLI and a real HTTP client.
//! Cases written once as `fn(Runtime)` run against `depot serve` and the Spin
//! build, each on embedded and on shared storage (`native::…`, `spin::…`,
//! `shared::…`, `spin_shared::…`).

/// The helpers every test uses: the `depot-test-support` crate, which the
/// benches share.
mod support {
    pub use depot_test_support::*;
}

/// Generates, for each test body `fn NAME(runtime: Runtime)` of the calling
/// module, the tests `native::NAME`, `spin::NAME`, `shared::NAME` and
/// `spin_shared::NAME`: one set of end-to-end cases for every runtime.
macro_rules! on_every_runtime {
    ($($test:ident),* $(,)?) => {
        on_runtimes!(
            [native = Native, spin = Spin, shared = Shared, spin_shared = SpinShared]
            [$($test),*]
        );
    };
}

/// [`on_every_runtime`] for the runtimes listed (`module = Runtime`) only.
macro_rules! on_runtimes {
    ([$($module:ident = $runtime:ident),* $(,)?] $tests:tt) => {
        $(on_runtime!($module, $runtime, $tests);)*
    };
}

/// The module `module` of tests running each test body on `runtime`.
macro_rules! on_runtime {
    ($module:ident, $runtime:ident, [$($test:ident),* $(,)?]) => {
        mod $module {
            $(#[test]
            fn $test() {
                super::$test($crate::support::Runtime::$runtime)
            })*
        }
    };
}

mod auth;
mod cache;
mod cluster;
mod durability;
mod feed;
mod gc;
mod history;
mod limits;
mod lock;
mod mirror;
mod oci;
mod openapi;
mod operations;
mod policy;
mod publish;
mod resolve;
mod search;
mod signing;
mod spin_split;
mod spin_toml;
mod transparency;
mod upgrade;
mod web;
