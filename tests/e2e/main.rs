//! End-to-end tests of Depot: the `depot` binary serving the composed handler
//! components over HTTP, driven with the `depot` CLI and a real HTTP client.
//! Cases written once as `fn(Runtime)` run against both `depot serve` and the
//! Spin build (`native::…` and `spin::…`).

mod support;

mod feed;
mod limits;
mod mirror;
mod oci;
mod policy;
mod publish;
mod resolve;
mod search;
mod spin_toml;
mod web;
