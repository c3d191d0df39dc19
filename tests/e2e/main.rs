//! End-to-end tests of Depot: the `depot` binary serving the composed handler
//! components over HTTP, driven with the `depot` CLI and a real HTTP client.

mod support;

mod feed;
mod limits;
mod mirror;
mod oci;
mod publish;
mod resolve;
mod search;
mod web;
