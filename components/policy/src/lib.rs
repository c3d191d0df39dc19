//! Depot's default publish policy (`depot:registry/policy`): a name and version
//! must parse, content must be a component, WIT package or core module, and no
//! larger than `DEPOT_MAX_CONTENT_SIZE` bytes (100 MiB unless the host says
//! otherwise). An operator can swap in a component of their own.

/// The WIT bindings and the export glue: generated, and `unsafe` by nature.
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "depot:registry/policy-handler",
        with: { "depot:registry/types@0.1.0": depot_guest::types },
    });

    use super::DefaultPolicy;
    export!(DefaultPolicy);
}

use depot_guest::policy_rules as rules;
use depot_guest::validate;

use bindings::exports::depot::registry::policy::Guest;
use depot_guest::types::{Error, Metadata};

/// The default policy.
#[derive(Debug)]
struct DefaultPolicy;

impl Guest for DefaultPolicy {
    fn max_content_size() -> u64 {
        rules::max_content_size()
    }

    fn check_name(name: String, version: String) -> Result<(), Error> {
        validate::name_and_version(&name, &version).map(drop)
    }

    fn check_release(_name: String, _version: String, metadata: Metadata) -> Result<(), Error> {
        rules::check_release(&metadata)
    }
}
