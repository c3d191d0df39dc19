//! Storage for `depot serve`: the store capability the handlers import
//! (`depot_store::host`: the store interfaces of wit/store.wit over a [`Backend`]) and its
//! embedded backend, SQLite and a content-addressed blob directory
//! ([`embedded::open`]).

pub use depot_store::host::*;
pub use depot_store::types::*;
