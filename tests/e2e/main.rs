//! End-to-end tests of Depot: the `depot` binary serving the composed handler
//! components over HTTP, driven with the `depot` CLI and a real HTTP client.
//! Cases written once as `fn(Runtime)` run against both `depot serve` and the
//! Spin build (`native::…` and `spin::…`).

/// The helpers every test uses: the `depot-test-support` crate, which the
/// benches share.
mod support {
    pub use depot_test_support::*;
}

/// Generates, for each test body `fn NAME(runtime: Runtime)` of the calling
/// module, the tests `native::NAME` and `spin::NAME`: one set of end-to-end
/// cases for both compositions.
macro_rules! on_every_runtime {
    ($($test:ident),* $(,)?) => {
        mod native {
            $(#[test]
            fn $test() {
                super::$test($crate::support::Runtime::Native)
            })*
        }
        mod spin {
            $(#[test]
            fn $test() {
                super::$test($crate::support::Runtime::Spin)
            })*
        }
        mod shared {
            $(#[test]
            fn $test() {
                super::$test($crate::support::Runtime::Shared)
            })*
        }
    };
}

mod auth;
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
mod spin_toml;
mod transparency;
mod upgrade;
mod web;
