//! Composes the handler components into one component with wac-graph.
//!
//! Each handler is instantiated after the handlers it may import (metadata,
//! policy, publish, query, web, api); each of its imports that another handler
//! exports is wired to that handler's instance. A handler that imports a
//! `depot:registry` interface its role does not grant ([`Role::grants`], its
//! world in `wit/worlds.wit`) is refused. What is left (the store interfaces
//! the handlers import, and WASI) stays an import of the composition, for
//! the host to provide. The composition exports the api handler's
//! `wasi:http/incoming-handler`, and nothing else.
//!
//! For a runtime that does not provide the store (Spin), [`compose_with_store`]
//! instantiates a store component first and wires every handler's store
//! imports to it; what is left is WASI and whatever that component imports.

use anyhow::{Context as _, bail};
use wac_graph::types::{Package, are_semver_compatible};
use wac_graph::{CompositionGraph, EncodeOptions, NodeId};

use std::borrow::Cow;

use super::manifest::{Handler, Role, Source, StoreComponent, built};

/// The store interfaces (`wit/store.wit`): what the host implements, and
/// what a store component must export, every one.
pub const STORE_INTERFACES: [&str; 13] = [
    "blob-read",
    "blob-write",
    "uploads",
    "oci-read",
    "oci-write",
    "log-read",
    "log-append",
    "index",
    "transparency",
    "pending-read",
    "pending-write",
    "access",
    "tokens",
];

/// The version of the `depot:registry` package.
const VERSION: &str = "0.1.0";

/// The `depot:registry` interface `import` names (`log-read` for
/// `depot:registry/log-read@0.1.0`), if it is one of them.
fn registry_interface(import: &str) -> Option<&str> {
    let rest = import.strip_prefix("depot:registry/")?;
    Some(rest.split_once('@').map_or(rest, |(name, _)| name))
}

/// The interface a handler in `role` must export: an exact name, or (for the
/// HTTP front, whose WASI patch version is the guest's choice) a prefix.
fn required_export(role: Role) -> &'static str {
    match role {
        Role::Metadata => "depot:registry/metadata@0.1.0",
        Role::Policy => "depot:registry/policy@0.1.0",
        Role::Publish => "depot:registry/publish@0.1.0",
        Role::Query => "depot:registry/query@0.1.0",
        Role::Web => "depot:registry/web@0.1.0",
        Role::Api => "wasi:http/incoming-handler@0.2",
    }
}

/// Finds the export `role` needs among `exports`.
fn find_export<'a>(role: Role, exports: impl IntoIterator<Item = &'a String>) -> Option<&'a str> {
    let wanted = required_export(role);
    exports
        .into_iter()
        .map(String::as_str)
        .find(|name| match role {
            Role::Api => name.starts_with(&format!("{wanted}.")),
            _ => *name == wanted,
        })
}

/// Imports the host provides (the store interfaces and the types-only
/// `types`); anything else from `depot:registry` must come from another
/// handler.
pub fn provided_by_host(import: &str) -> bool {
    registry_interface(import)
        .is_some_and(|name| name == "types" || STORE_INTERFACES.contains(&name))
}

/// Refuses `handler` when it imports a `depot:registry` interface its role
/// does not grant (its world in `wit/worlds.wit`): a query handler that
/// imports `log-append`, say, could change the registry.
fn check_grants<'a>(
    handler: &Handler,
    imports: impl IntoIterator<Item = &'a String>,
) -> anyhow::Result<()> {
    let role = handler.role;
    for import in imports {
        let Some(name) = registry_interface(import) else {
            continue;
        };
        if name != "types" && !role.grants().contains(&name) {
            bail!(
                "{handler} imports `{import}`, which the {role} role does not grant; a {role} \
                 handler may import {} (world `depot:registry/{role}-handler` in wit/worlds.wit)",
                show_grants(role)
            );
        }
    }
    Ok(())
}

/// What `role` may import, for messages.
fn show_grants(role: Role) -> String {
    if role.grants().is_empty() {
        return "nothing from depot:registry but its types".to_string();
    }
    role.grants()
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An instantiated handler (or store) and the interface it offers the others.
struct Provider {
    /// What it is, for messages: "the built-in query handler".
    name: String,
    /// Its role; none for a store component.
    role: Option<Role>,
    instance: NodeId,
    /// The interfaces it exports to the others (a handler one, a store
    /// component every store interface).
    exports: Vec<String>,
}

/// Composes `handlers` (one per role) into one component's bytes.
pub fn compose(handlers: &[Handler]) -> anyhow::Result<Vec<u8>> {
    compose_roles(&handlers.iter().collect::<Vec<_>>(), None)
}

/// Composes `handlers` (one per role) with `store` plugged into their store
/// imports: one component that imports only WASI and what `store` imports
/// (for spin-store, Spin's key-value and SQLite), besides the types-only
/// `depot:registry/types`.
pub fn compose_with_store(handlers: &[Handler], store: &StoreComponent) -> anyhow::Result<Vec<u8>> {
    compose_roles(&handlers.iter().collect::<Vec<_>>(), Some(store))
}

/// Composes what serves reads (GET and HEAD): the query and web handlers
/// under the read half of the built-in api handler (world
/// `depot:registry/api-read-handler`), which imports no interface that
/// writes, so the composition holds no write handler and links no write
/// interface. A smaller composition, too: a GET instantiates (and resets)
/// only what a read can reach. None when the api handler is an operator's
/// own, which has no read half: reads then use the whole one.
pub fn compose_reads(handlers: &[Handler]) -> anyhow::Result<Option<Vec<u8>>> {
    compose_read_half(handlers, built::builtin::API_READ, None)
}

/// The front of a Spin build split in two: what [`compose_reads`] composes,
/// with `store` plugged in, under the read half built to hand every other
/// method on to the whole composition (spin.toml's `depot-writes`, by
/// Spin's local service chaining). Spin routes by path, not by method, so
/// without it every GET would instantiate the write handlers too. None when
/// the api handler is an operator's own.
pub fn compose_spin_front(
    handlers: &[Handler],
    store: &StoreComponent,
) -> anyhow::Result<Option<Vec<u8>>> {
    compose_read_half(handlers, built::builtin::API_SPIN_FRONT, Some(store))
}

/// The query and web handlers of `handlers` under `api`, a read half of the
/// built-in api handler; `store`, if given, fills their store imports.
fn compose_read_half(
    handlers: &[Handler],
    api: &'static [u8],
    store: Option<&StoreComponent>,
) -> anyhow::Result<Option<Vec<u8>>> {
    if handlers
        .iter()
        .any(|h| h.role == Role::Api && h.source != Source::Builtin)
    {
        return Ok(None);
    }
    let read_half = Handler {
        role: Role::Api,
        source: Source::Builtin,
        bytes: Cow::Borrowed(api),
    };
    let readers: Vec<&Handler> = handlers
        .iter()
        .filter(|h| matches!(h.role, Role::Query | Role::Web))
        .chain([&read_half])
        .collect();
    compose_roles(&readers, store).map(Some)
}

/// Instantiates the store component `store` in `graph`: the provider of the
/// handlers' `store` imports.
fn instantiate_store(
    graph: &mut CompositionGraph,
    store: &StoreComponent,
) -> anyhow::Result<Provider> {
    let package = Package::from_bytes("depot:store", None, store.bytes.clone(), graph.types_mut())
        .with_context(|| format!("{store} is not a valid WebAssembly component"))?;
    let package = graph
        .register_package(package)
        .with_context(|| format!("cannot register {store}"))?;
    let world = &graph.types()[graph[package].ty()];
    let exports: Vec<String> = STORE_INTERFACES
        .iter()
        .map(|name| format!("depot:registry/{name}@{VERSION}"))
        .collect();
    if let Some(missing) = exports.iter().find(|e| !world.exports.contains_key(*e)) {
        bail!(
            "{store} does not export `{missing}`; a store component must export every store \
             interface (see world `depot:registry/store-provider` in wit/worlds.wit)"
        );
    }
    if let Some(handler) = world
        .imports
        .keys()
        .find(|i| i.starts_with("depot:registry/") && !i.starts_with("depot:registry/types@"))
    {
        bail!("{store} imports `{handler}`; a store component may use only the registry's types");
    }
    Ok(Provider {
        name: store.to_string(),
        role: None,
        instance: graph.instantiate(package),
        exports,
    })
}

/// Composes `handlers`; `store`, if given, fills their store imports.
fn compose_roles(handlers: &[&Handler], store: Option<&StoreComponent>) -> anyhow::Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let mut providers: Vec<Provider> = Vec::new();
    if let Some(store) = store {
        providers.push(instantiate_store(&mut graph, store)?);
    }

    for &handler in handlers {
        let package = Package::from_bytes(
            &format!("depot:{}-handler", handler.role),
            None,
            handler.bytes.to_vec(),
            graph.types_mut(),
        )
        .with_context(|| format!("{handler} is not a valid WebAssembly component"))?;
        let package = graph
            .register_package(package)
            .with_context(|| format!("cannot register {handler}"))?;
        let world = &graph.types()[graph[package].ty()];

        let Some(export) = find_export(handler.role, world.exports.keys()).map(str::to_string)
        else {
            let exports: Vec<&str> = world.exports.keys().map(String::as_str).collect();
            bail!(
                "{handler} does not export `{}`, which a {} handler must export (see world \
                 `depot:registry/{}-handler` in wit/worlds.wit); it exports: {}",
                required_export(handler.role),
                handler.role,
                handler.role,
                if exports.is_empty() {
                    "nothing".to_string()
                } else {
                    exports.join(", ")
                }
            );
        };
        let imports: Vec<String> = world.imports.keys().cloned().collect();
        check_grants(handler, &imports)?;

        let instance = graph.instantiate(package);
        for import in &imports {
            let provider = providers
                .iter()
                .find_map(|p| p.exports.iter().find(|e| *e == import).map(|e| (p, e)))
                .or_else(|| {
                    providers.iter().find_map(|p| {
                        p.exports
                            .iter()
                            .find(|e| are_semver_compatible(e, import))
                            .map(|e| (p, e))
                    })
                });
            match provider {
                Some((provider, export)) => {
                    let alias = graph
                        .alias_instance_export(provider.instance, export)
                        .with_context(|| format!("cannot use the export of {}", provider.name))?;
                    graph
                        .set_instantiation_argument(instance, import, alias)
                        .with_context(|| {
                            format!(
                                "{handler} imports `{import}`, but what {} exports as `{export}` \
                                 does not fit it; rebuild them against the same WIT",
                                provider.name
                            )
                        })?;
                }
                None if import.starts_with("depot:registry/") && !provided_by_host(import) => {
                    bail!(
                        "{handler} imports `{import}`, which no handler it may use exports \
                         (a {} handler can use {})",
                        handler.role,
                        usable_roles(handler.role)
                    );
                }
                // WASI and the store stay imports of the composition.
                None => {}
            }
        }
        providers.push(Provider {
            name: handler.to_string(),
            role: Some(handler.role),
            instance,
            exports: vec![export],
        });
    }

    let api = providers
        .iter()
        .find(|p| p.role == Some(Role::Api))
        .context("no api handler to serve HTTP")?;
    let http = graph
        .alias_instance_export(api.instance, &api.exports[0])
        .with_context(|| format!("cannot use the export of {}", api.name))?;
    graph
        .export(http, &api.exports[0])
        .context("cannot export the HTTP handler from the composition")?;
    graph
        .encode(EncodeOptions::default())
        .context("composing the handler components failed")
}

/// The roles a handler in `role` may import, for messages.
fn usable_roles(role: Role) -> String {
    let earlier: Vec<&str> = Role::ALL
        .iter()
        .take_while(|r| **r != role)
        .map(|r| r.name())
        .collect();
    if earlier.is_empty() {
        "none".to_string()
    } else {
        earlier.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::manifest::{self, Source};
    use wac_graph::types::Types;

    /// The imports and exports of the composition `composed`.
    fn world_of(composed: Vec<u8>) -> (Vec<String>, Vec<String>) {
        let mut types = Types::new();
        let package = Package::from_bytes("composed", None, composed, &mut types).unwrap();
        let world = &types[package.ty()];
        (
            world.imports.keys().cloned().collect(),
            world.exports.keys().cloned().collect(),
        )
    }

    /// The imports of the composition `composed`, after checking that it
    /// exports only an HTTP handler.
    fn imports_of_http_handler(composed: Vec<u8>) -> Vec<String> {
        let (imports, exports) = world_of(composed);
        assert_eq!(exports.len(), 1, "{exports:?}");
        assert!(exports[0].starts_with("wasi:http/incoming-handler@0.2."));
        imports
    }

    /// The `depot:registry` interfaces among `imports`, by name.
    fn registry_imports(imports: &[String]) -> Vec<&str> {
        let mut names: Vec<&str> = imports
            .iter()
            .filter_map(|i| registry_interface(i))
            .collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn the_built_in_handlers_compose_into_an_http_handler_that_imports_the_store() {
        let imports = imports_of_http_handler(compose(&manifest::load(None).unwrap()).unwrap());
        assert!(
            imports
                .iter()
                .all(|i| provided_by_host(i) || i.starts_with("wasi:")),
            "{imports:?}"
        );
        // Every store interface is used by some handler.
        let mut every: Vec<&str> = STORE_INTERFACES.to_vec();
        every.push("types");
        every.sort_unstable();
        assert_eq!(registry_imports(&imports), every);
    }

    #[test]
    fn each_roles_grants_are_its_world_in_the_wit() {
        let mut resolve = wit_parser::Resolve::default();
        let (package, _) = resolve
            .push_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit"))
            .unwrap();
        for role in Role::ALL {
            let world = resolve
                .select_world(&[package], Some(&format!("{role}-handler")))
                .unwrap();
            let mut imports: Vec<String> = resolve.worlds[world]
                .imports
                .keys()
                .map(|key| resolve.name_world_key(key))
                .filter_map(|name| registry_interface(&name).map(str::to_string))
                .filter(|name| name != "types")
                .collect();
            imports.sort_unstable();
            let mut grants: Vec<&str> = role.grants().to_vec();
            grants.sort_unstable();
            assert_eq!(imports, grants, "the {role} role");
        }
    }

    #[test]
    fn the_roles_that_serve_reads_are_granted_nothing_that_writes() {
        const WRITES: [&str; 6] = [
            "blob-write",
            "uploads",
            "oci-write",
            "log-append",
            "pending-write",
            "tokens",
        ];
        for role in [Role::Metadata, Role::Policy, Role::Query, Role::Web] {
            assert!(
                role.grants().iter().all(|g| !WRITES.contains(g)),
                "{role}: {:?}",
                role.grants()
            );
        }
    }

    /// A component of the world `world` in `wit`, a package that may use
    /// `depot:registry`: its functions trap, which composing never notices.
    fn fixture(wit: &str, world: &str) -> Vec<u8> {
        use wit_component::{ComponentEncoder, StringEncoding, dummy_module};
        let mut resolve = wit_parser::Resolve::default();
        resolve
            .push_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit"))
            .unwrap();
        let package = resolve.push_str("fixture.wit", wit).unwrap();
        let world = resolve.select_world(&[package], Some(world)).unwrap();
        let mut module = dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
        wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)
            .unwrap();
        ComponentEncoder::default()
            .module(&module)
            .unwrap()
            .validate(true)
            .encode()
            .unwrap()
    }

    #[test]
    fn a_handler_importing_what_its_role_does_not_grant_is_refused_by_role_and_interface() {
        let query = |extra: &str| {
            fixture(
                &format!(
                    "package fixture:handlers;\n\
                     world query {{\n\
                       import depot:registry/log-read@0.1.0;\n\
                       import depot:registry/index@0.1.0;\n\
                       {extra}\n\
                       export depot:registry/query@0.1.0;\n\
                     }}\n"
                ),
                "query",
            )
        };
        let mut handlers = manifest::load(None).unwrap();
        let with = |handlers: &mut Vec<Handler>, bytes: Vec<u8>| {
            handlers[3] = Handler {
                role: Role::Query,
                source: Source::File("query.wasm".into()),
                bytes: bytes.into(),
            };
        };
        // Within its grants, the fixture composes.
        with(&mut handlers, query(""));
        compose(&handlers).unwrap();

        with(
            &mut handlers,
            query("import depot:registry/log-append@0.1.0;"),
        );
        let err = format!("{:#}", compose(&handlers).unwrap_err());
        assert!(
            err.contains(
                "the query handler query.wasm imports `depot:registry/log-append@0.1.0`, which \
                 the query role does not grant"
            ),
            "{err}"
        );
        assert!(err.contains("`log-read`, `index`"), "{err}");
        // The read composition and the Spin build refuse it too.
        assert!(compose_reads(&handlers).is_err());
        assert!(compose_with_store(&handlers, &spin_store()).is_err());
    }

    #[test]
    fn the_read_composition_links_nothing_that_writes() {
        let handlers = manifest::load(None).unwrap();
        let full = compose(&handlers).unwrap();
        let reads = compose_reads(&handlers).unwrap().unwrap();
        assert!(
            reads.len() < full.len() / 2,
            "{} vs {}",
            reads.len(),
            full.len()
        );
        let imports = imports_of_http_handler(reads);
        assert!(
            imports
                .iter()
                .all(|i| provided_by_host(i) || i.starts_with("wasi:")),
            "{imports:?}"
        );
        // The query and web handlers are inside; no write handler is, and
        // no store interface that writes is imported.
        assert_eq!(
            registry_imports(&imports),
            [
                "access",
                "blob-read",
                "index",
                "log-read",
                "oci-read",
                "pending-read",
                "transparency",
                "types"
            ]
        );
    }

    #[test]
    fn an_operators_own_api_handler_has_no_read_composition() {
        let mut handlers = manifest::load(None).unwrap();
        let api = handlers.iter_mut().find(|h| h.role == Role::Api).unwrap();
        api.source = Source::File("my-api.wasm".into());
        assert!(compose_reads(&handlers).unwrap().is_none());
    }

    fn spin_store() -> StoreComponent {
        StoreComponent::read(std::path::Path::new(manifest::built::SPIN_STORE_WASM)).unwrap()
    }

    #[test]
    fn the_spin_composition_imports_wasi_and_spin_s_interfaces_and_only_the_registrys_types() {
        let handlers = manifest::load(None).unwrap();
        let (imports, exports) = world_of(compose_with_store(&handlers, &spin_store()).unwrap());
        // The HTTP handler only: the store stays inside.
        assert_eq!(exports.len(), 1, "{exports:?}");
        assert!(
            exports[0].starts_with("wasi:http/incoming-handler@0.2."),
            "{exports:?}"
        );
        let depot: Vec<&String> = imports.iter().filter(|i| i.starts_with("depot:")).collect();
        assert_eq!(depot, ["depot:registry/types@0.1.0"], "{imports:?}");
        assert!(
            imports.iter().all(|i| i.starts_with("wasi:")
                || i.starts_with("fermyon:spin/")
                || i.starts_with("spin:postgres/")
                || i.starts_with("depot:registry/types@")),
            "{imports:?}"
        );
        for spin in [
            "fermyon:spin/key-value@2.0.0",
            "fermyon:spin/sqlite@2.0.0",
            "fermyon:spin/variables@2.0.0",
            "spin:postgres/postgres@4.0.0",
        ] {
            assert!(imports.iter().any(|i| i == spin), "{imports:?}");
        }
    }

    #[test]
    fn the_spin_front_holds_the_store_and_what_a_read_reaches_and_can_send_http() {
        let handlers = manifest::load(None).unwrap();
        let whole = compose_with_store(&handlers, &spin_store()).unwrap();
        let front = compose_spin_front(&handlers, &spin_store())
            .unwrap()
            .unwrap();
        // No write handler inside: well under the whole composition.
        assert!(
            front.len() < whole.len() / 2,
            "{} vs {}",
            front.len(),
            whole.len()
        );
        let imports = imports_of_http_handler(front);
        let depot: Vec<&String> = imports.iter().filter(|i| i.starts_with("depot:")).collect();
        assert_eq!(depot, ["depot:registry/types@0.1.0"], "{imports:?}");
        // It hands writes on over HTTP, and reads Spin's storage itself.
        for needed in [
            "wasi:http/outgoing-handler@0.2",
            "fermyon:spin/sqlite@2.0.0",
            "fermyon:spin/key-value@2.0.0",
        ] {
            assert!(
                imports.iter().any(|i| i.starts_with(needed)),
                "{needed}: {imports:?}"
            );
        }

        // An operator's own api handler has no front: the whole serves.
        let mut handlers = handlers;
        let api = handlers.iter_mut().find(|h| h.role == Role::Api).unwrap();
        api.source = Source::File("my-api.wasm".into());
        assert!(
            compose_spin_front(&handlers, &spin_store())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_store_component_that_does_not_export_the_store_is_refused_by_name() {
        let handlers = manifest::load(None).unwrap();
        let not_a_store = StoreComponent {
            path: "query.wasm".into(),
            bytes: handlers[3].bytes.to_vec(),
        };
        let err = format!(
            "{:#}",
            compose_with_store(&handlers, &not_a_store).unwrap_err()
        );
        assert!(
            err.contains("the store query.wasm does not export `depot:registry/blob-read@0.1.0`"),
            "{err}"
        );
    }

    #[test]
    fn a_handler_without_its_roles_export_is_refused_by_name() {
        let mut handlers = manifest::load(None).unwrap();
        let query = handlers[3].bytes.clone();
        handlers[1] = Handler {
            role: Role::Policy,
            source: Source::File("query.wasm".into()),
            bytes: query,
        };
        let err = format!("{:#}", compose(&handlers).unwrap_err());
        assert!(
            err.contains(
                "the policy handler query.wasm does not export `depot:registry/policy@0.1.0`"
            ),
            "{err}"
        );
        assert!(err.contains("depot:registry/query@0.1.0"), "{err}");
    }

    #[test]
    fn a_handler_that_is_not_a_component_is_refused_by_name() {
        let mut handlers = manifest::load(None).unwrap();
        handlers[0].source = Source::File("notes.txt".into());
        handlers[0].bytes = b"not wasm".to_vec().into();
        let err = format!("{:#}", compose(&handlers).unwrap_err());
        assert!(
            err.contains("the metadata handler notes.txt is not a valid WebAssembly component"),
            "{err}"
        );
    }
}
