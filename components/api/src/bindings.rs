//! The WIT bindings: generated, and `unsafe` by nature. The whole front
//! imports what its writes need (world `api-handler`); its read half, built
//! without the `writes` feature, imports nothing that changes the registry
//! (world `api-read-handler`).

#![allow(unsafe_code)]

#[cfg(feature = "writes")]
wit_bindgen::generate!({
    path: "../../wit",
    world: "depot:registry/api-handler",
    with: { "depot:registry/types@0.1.0": depot_guest::types },
    // Routes carry WIT records (a search query) and are compared in tests.
    additional_derives: [PartialEq, Eq],
});
#[cfg(not(feature = "writes"))]
wit_bindgen::generate!({
    path: "../../wit",
    world: "depot:registry/api-read-handler",
    with: { "depot:registry/types@0.1.0": depot_guest::types },
    additional_derives: [PartialEq, Eq],
});
