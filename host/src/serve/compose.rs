//! Composes the handler components into one component with wac-graph.
//!
//! Each handler is instantiated after the handlers it may import (metadata,
//! policy, publish, query, web, api); each of its imports that another handler
//! exports is wired to that handler's instance. What is left (the store and
//! WASI) stays an import of the composition, for the host to provide. The
//! composition exports the api handler's `wasi:http/incoming-handler`.
//!
//! For a runtime that does not provide the store (Spin), [`compose_with_store`]
//! instantiates a store component first and wires every handler's `store`
//! import to it; what is left is WASI and whatever that component imports.
//! That composition exports the store too, beside the HTTP handler: no
//! request reaches it (Spin's HTTP trigger calls only the handler), but
//! `depot serve --spin-app` calls it at start-up to make the operator's
//! token, as it does the native store's.

use anyhow::{Context as _, bail};
use wac_graph::types::{Package, are_semver_compatible};
use wac_graph::{CompositionGraph, EncodeOptions, NodeId};

use super::manifest::{Handler, Role, StoreComponent};

/// The interface a store component must export.
pub const STORE_EXPORT: &str = "depot:registry/store@0.1.0";

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

/// Imports the host provides; anything else from `depot:registry` must come
/// from another handler.
pub fn provided_by_host(import: &str) -> bool {
    import.starts_with("depot:registry/store@") || import.starts_with("depot:registry/types@")
}

/// An instantiated handler (or store) and the interface it offers the others.
struct Provider {
    /// What it is, for messages: "the built-in query handler".
    name: String,
    /// Its role; none for a store component.
    role: Option<Role>,
    instance: NodeId,
    export: String,
}

/// The roles that serve reads (GET and HEAD): the HTTP front, the query
/// handler and the web view. The others only change the registry.
const READ_ROLES: [Role; 3] = [Role::Query, Role::Web, Role::Api];

/// Composes `handlers` (one per role) into one component's bytes.
pub fn compose(handlers: &[Handler]) -> anyhow::Result<Vec<u8>> {
    compose_roles(&handlers.iter().collect::<Vec<_>>(), false, None)
}

/// Composes `handlers` (one per role) with `store` plugged into their `store`
/// imports: one component that imports only WASI and what `store` imports
/// (for spin-store, Spin's key-value and SQLite), besides the types-only
/// `depot:registry/types`.
pub fn compose_with_store(handlers: &[Handler], store: &StoreComponent) -> anyhow::Result<Vec<u8>> {
    compose_roles(&handlers.iter().collect::<Vec<_>>(), false, Some(store))
}

/// Composes only the handlers that serve reads: a smaller composition, so a
/// GET instantiates (and resets) only what a read can reach. The api
/// handler's imports of the write handlers stay imports of the composition,
/// for the host to fill with functions that trap. Call after [`compose`] has
/// checked the handlers.
pub fn compose_reads(handlers: &[Handler]) -> anyhow::Result<Vec<u8>> {
    let readers: Vec<&Handler> = handlers
        .iter()
        .filter(|handler| READ_ROLES.contains(&handler.role))
        .collect();
    compose_roles(&readers, true, None)
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
    if !world.exports.contains_key(STORE_EXPORT) {
        bail!(
            "{store} does not export `{STORE_EXPORT}`, which a store component must export (see \
             world `depot:registry/store-provider` in wit/worlds.wit)"
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
        export: STORE_EXPORT.to_string(),
    })
}

/// Composes `handlers`; `partial` leaves imports of roles not among them
/// open; `store`, if given, fills their `store` imports.
fn compose_roles(
    handlers: &[&Handler],
    partial: bool,
    store: Option<&StoreComponent>,
) -> anyhow::Result<Vec<u8>> {
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

        let instance = graph.instantiate(package);
        for import in &imports {
            let provider = providers.iter().find(|p| p.export == *import).or_else(|| {
                providers
                    .iter()
                    .find(|p| are_semver_compatible(&p.export, import))
            });
            match provider {
                Some(provider) => {
                    let alias = graph
                        .alias_instance_export(provider.instance, &provider.export)
                        .with_context(|| format!("cannot use the export of {}", provider.name))?;
                    graph
                        .set_instantiation_argument(instance, import, alias)
                        .with_context(|| {
                            format!(
                                "{handler} imports `{import}`, but what {} exports as `{}` does \
                                 not fit it; rebuild them against the same WIT",
                                provider.name, provider.export
                            )
                        })?;
                }
                None if !partial
                    && import.starts_with("depot:registry/")
                    && !provided_by_host(import) =>
                {
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
            export,
        });
    }

    let api = providers
        .iter()
        .find(|p| p.role == Some(Role::Api))
        .context("no api handler to serve HTTP")?;
    let http = graph
        .alias_instance_export(api.instance, &api.export)
        .with_context(|| format!("cannot use the export of {}", api.name))?;
    graph
        .export(http, &api.export)
        .context("cannot export the HTTP handler from the composition")?;
    if let Some(store) = providers.iter().find(|p| p.role.is_none()) {
        let exported = graph
            .alias_instance_export(store.instance, &store.export)
            .with_context(|| format!("cannot use the export of {}", store.name))?;
        graph
            .export(exported, &store.export)
            .context("cannot export the store from the composition")?;
    }
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

    fn any_starts_with(imports: &[String], prefix: &str) -> bool {
        imports.iter().any(|i| i.starts_with(prefix))
    }

    #[test]
    fn the_built_in_handlers_compose_into_an_http_handler_that_imports_the_store() {
        let imports = imports_of_http_handler(compose(&manifest::load(None).unwrap()).unwrap());
        assert!(
            any_starts_with(&imports, "depot:registry/store@"),
            "{imports:?}"
        );
        assert!(
            imports
                .iter()
                .all(|i| provided_by_host(i) || i.starts_with("wasi:")),
            "{imports:?}"
        );
    }

    #[test]
    fn the_read_composition_holds_only_the_api_query_and_web_handlers() {
        let handlers = manifest::load(None).unwrap();
        let full = compose(&handlers).unwrap();
        let reads = compose_reads(&handlers).unwrap();
        assert!(
            reads.len() < full.len() / 2,
            "{} vs {}",
            reads.len(),
            full.len()
        );
        let imports = imports_of_http_handler(reads);
        // The write handler the api imports is left for the host to stub;
        // the query handler is inside.
        assert!(
            any_starts_with(&imports, "depot:registry/publish@"),
            "{imports:?}"
        );
        assert!(
            !any_starts_with(&imports, "depot:registry/query@"),
            "{imports:?}"
        );
    }

    fn spin_store() -> StoreComponent {
        StoreComponent::read(std::path::Path::new(manifest::built::SPIN_STORE_WASM)).unwrap()
    }

    #[test]
    fn the_spin_composition_imports_wasi_and_spin_and_only_the_registrys_types() {
        let handlers = manifest::load(None).unwrap();
        let (imports, exports) = world_of(compose_with_store(&handlers, &spin_store()).unwrap());
        assert_eq!(exports.len(), 2, "{exports:?}");
        assert!(
            exports
                .iter()
                .any(|e| e.starts_with("wasi:http/incoming-handler@0.2.")),
            "{exports:?}"
        );
        assert!(exports.iter().any(|e| e == STORE_EXPORT), "{exports:?}");
        let depot: Vec<&String> = imports.iter().filter(|i| i.starts_with("depot:")).collect();
        assert_eq!(depot, ["depot:registry/types@0.1.0"], "{imports:?}");
        assert!(
            imports.iter().all(|i| i.starts_with("wasi:")
                || i.starts_with("fermyon:spin/")
                || i.starts_with("depot:registry/types@")),
            "{imports:?}"
        );
        for spin in ["fermyon:spin/key-value@2.0.0", "fermyon:spin/sqlite@2.0.0"] {
            assert!(imports.iter().any(|i| i == spin), "{imports:?}");
        }
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
            err.contains("the store query.wasm does not export `depot:registry/store@0.1.0`"),
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
