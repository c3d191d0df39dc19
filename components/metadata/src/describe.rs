//! What a binary says about itself: bytes in, metadata out. No I/O, so it can
//! be reasoned about (and tested) apart from the store.

use wasmparser::{Parser, Payload, Validator, WasmFeatures};
use wit_parser::decoding::{DecodedWasm, decode};
use wit_parser::{Resolve, WorldItem, WorldKey};

use crate::bindings::depot::registry::types::{ContentKind, Metadata};

/// What the registry accepts, appended to every refusal.
const ACCEPTED: &str = "Depot accepts a WebAssembly component, a WIT package encoded as wasm \
                        (`wasm-tools component wit --wasm`) or a core WebAssembly module";

/// Validates `content` (stored as `digest`) and describes it; the error says
/// what is wrong and what is accepted.
pub fn describe(content: &[u8], digest: &str) -> Result<Metadata, String> {
    if content.is_empty() {
        return Err(format!("the content is empty; {ACCEPTED}"));
    }
    // wasmparser's own message for this one spells out the bytes over lines.
    if !content.starts_with(b"\0asm") {
        return Err(format!(
            "the content is not WebAssembly: it does not start with the `\\0asm` magic \
             bytes; {ACCEPTED}"
        ));
    }
    // Everything below reads the binary assuming it is well-formed, so validate
    // it whole first.
    Validator::new_with_features(features())
        .validate_all(content)
        .map_err(|e| format!("the content is not valid WebAssembly ({e}); {ACCEPTED}"))?;
    let (kind, imports, exports) = if Parser::is_core_wasm(content) {
        (ContentKind::CoreModule, Vec::new(), Vec::new())
    } else {
        surface(content)
    };
    let payload = wasm_metadata::Payload::from_binary(content).map_err(|e| {
        // `wasm-metadata` refuses malformed sections (a `licenses` that is not
        // an SPDX expression, a broken `name` section), and so does the
        // registry: they are what search and the web view show.
        format!(
            "the content's metadata sections cannot be read ({e:#}); `name`, `authors`, \
             `description`, `licenses` (an SPDX expression), `source`, `homepage`, `revision` \
             and `version` must be well-formed: rewrite them with `wasm-tools metadata add`"
        )
    })?;
    let fields = payload.metadata();
    Ok(Metadata {
        kind,
        size: content.len() as u64,
        digest: digest.to_string(),
        name: fields.name.clone(),
        description: text(&fields.description),
        authors: text(&fields.authors),
        licenses: text(&fields.licenses),
        source: text(&fields.source),
        homepage: text(&fields.homepage),
        revision: text(&fields.revision),
        version: text(&fields.version),
        imports,
        exports,
    })
}

/// The default features plus every component-model proposal, so that components
/// built for what comes next (WASI 0.3's async, for one) can be published too.
fn features() -> WasmFeatures {
    WasmFeatures::default()
        | WasmFeatures::COMPONENT_MODEL
        | WasmFeatures::CM_VALUES
        | WasmFeatures::CM_NESTED_NAMES
        | WasmFeatures::CM_ASYNC
        | WasmFeatures::CM_ASYNC_STACKFUL
        | WasmFeatures::CM_MORE_ASYNC_BUILTINS
        | WasmFeatures::CM_THREADING
        | WasmFeatures::CM_ERROR_CONTEXT
        | WasmFeatures::CM_FIXED_LENGTH_LISTS
        | WasmFeatures::CM_GC
        | WasmFeatures::CM_MAP
        | WasmFeatures::CM64
        | WasmFeatures::CM_IMPLEMENTS
        | WasmFeatures::CM_CANON_NAMES
        | WasmFeatures::CM_FORWARD
        | WasmFeatures::CM_ACCESSORS
}

/// A field as the text it holds (each field type displays as its value).
fn text<T: ToString>(field: &Option<T>) -> Option<String> {
    field.as_ref().map(ToString::to_string)
}

/// Whether a valid component is a WIT package or a component, and what it
/// imports and exports.
fn surface(bytes: &[u8]) -> (ContentKind, Vec<String>, Vec<String>) {
    match decode(bytes) {
        Ok(DecodedWasm::WitPackage(resolve, package)) => {
            let interfaces = resolve.packages[package]
                .interfaces
                .values()
                .filter_map(|id| resolve.id_of(*id))
                .collect();
            (ContentKind::WitPackage, Vec::new(), sorted(interfaces))
        }
        Ok(DecodedWasm::Component(resolve, world)) => {
            let world = &resolve.worlds[world];
            let imports = world_names(&resolve, world.imports.iter());
            let exports = world_names(&resolve, world.exports.iter());
            (ContentKind::Component, imports, exports)
        }
        // A valid component whose type WIT cannot express (one that exports a
        // core module, say) is still a component; its top-level names still say
        // what it needs and provides.
        Err(_) => {
            let (imports, exports) = top_level_names(bytes);
            (ContentKind::Component, imports, exports)
        }
    }
}

/// An interface by its full id (`ns:pkg/iface@version`), a bare function or an
/// inline interface by its name. Types are left out: the interface they come
/// from is listed.
fn world_names<'a>(
    resolve: &Resolve,
    items: impl Iterator<Item = (&'a WorldKey, &'a WorldItem)>,
) -> Vec<String> {
    let names = items
        .filter_map(|(key, item)| match (key, item) {
            (_, WorldItem::Type { .. }) => None,
            (WorldKey::Interface(id), _) => resolve.id_of(*id),
            (WorldKey::Name(name), _) => Some(name.clone()),
        })
        .collect();
    sorted(names)
}

/// The names in the outermost component's import and export sections.
fn top_level_names(bytes: &[u8]) -> (Vec<String>, Vec<String>) {
    let (mut imports, mut exports) = (Vec::new(), Vec::new());
    // Nested modules and components are parsed inline, each ended by `End`.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::ModuleSection { .. } | Payload::ComponentSection { .. }) => depth += 1,
            Ok(Payload::End(_)) => depth = depth.saturating_sub(1),
            Ok(Payload::ComponentImportSection(section)) if depth == 0 => imports.extend(
                section
                    .into_iter()
                    .filter_map(Result::ok)
                    .map(|import| import.name.name.to_string()),
            ),
            Ok(Payload::ComponentExportSection(section)) if depth == 0 => exports.extend(
                section
                    .into_iter()
                    .filter_map(Result::ok)
                    .map(|export| export.name.name.to_string()),
            ),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    (sorted(imports), sorted(exports))
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort_unstable();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    fn wasm(text: &str) -> Vec<u8> {
        wat::parse_str(text).unwrap()
    }

    fn refusal(bytes: &[u8]) -> String {
        describe(bytes, DIGEST).unwrap_err()
    }

    #[test]
    fn empty_garbage_and_truncated_content_is_refused_saying_what_is_accepted() {
        assert!(refusal(b"").starts_with("the content is empty;"));
        let garbage = refusal(b"hello, world");
        assert!(garbage.contains("not WebAssembly"), "{garbage}");
        assert!(garbage.contains("magic bytes"), "{garbage}");
        let module = wasm(r#"(module (func (export "f") (result i32) i32.const 7))"#);
        let truncated = refusal(&module[..module.len() - 3]);
        assert!(truncated.contains("not valid WebAssembly"), "{truncated}");
        for message in [garbage, truncated] {
            assert!(message.contains("Depot accepts a WebAssembly component"));
        }
    }

    #[test]
    fn a_core_module_has_no_world() {
        let module = wasm(r#"(module (func (export "f")))"#);
        let description = describe(&module, DIGEST).unwrap();
        assert_eq!(description.kind, ContentKind::CoreModule);
        assert!(description.imports.is_empty() && description.exports.is_empty());
    }

    #[test]
    fn a_component_lists_its_worlds_imports_and_exports() {
        let component = wasm(
            r#"(component
                (import "wasi:cli/environment@0.2.0" (instance
                    (export "get-arguments" (func (result (list string))))))
                (import "log" (func (param "message" string)))
                (instance $greeter)
                (export "example:greet/greeter@0.1.0" (instance $greeter))
                (export "example:greet/greeter@0.1.0-alias" (instance $greeter)))"#,
        );
        let description = describe(&component, DIGEST).unwrap();
        assert_eq!(description.kind, ContentKind::Component);
        assert_eq!(description.imports, ["log", "wasi:cli/environment@0.2.0"]);
        assert_eq!(
            description.exports,
            [
                "example:greet/greeter@0.1.0",
                "example:greet/greeter@0.1.0-alias"
            ]
        );
    }

    #[test]
    fn a_component_wit_cannot_describe_lists_its_top_level_names() {
        let component = wasm(
            r#"(component
                (core module $inner)
                (export "inner" (core module $inner)))"#,
        );
        let description = describe(&component, DIGEST).unwrap();
        assert_eq!(description.kind, ContentKind::Component);
        assert_eq!(description.exports, ["inner"]);
    }

    #[test]
    fn a_wit_package_exports_its_interfaces() {
        let mut resolve = Resolve::default();
        let package = resolve
            .push_str(
                "greet.wit",
                "package example:greet@0.1.0;
                 interface greeter { greet: func(name: string) -> string; }
                 interface types { type name = string; }
                 world hello { export greeter; }",
            )
            .unwrap();
        let bytes = wit_component::encode(&resolve, package, false).unwrap();
        let description = describe(&bytes, DIGEST).unwrap();
        assert_eq!(description.kind, ContentKind::WitPackage);
        assert!(description.imports.is_empty());
        assert_eq!(
            description.exports,
            ["example:greet/greeter@0.1.0", "example:greet/types@0.1.0"]
        );
    }

    #[test]
    fn wasm_metadata_fields_are_read_and_malformed_ones_refused() {
        let module = wasm(
            r#"(module $greet
                (@custom "description" "Says hello")
                (@custom "licenses" "Apache-2.0 WITH LLVM-exception")
                (@custom "homepage" "https://example.com"))"#,
        );
        let fields = describe(&module, DIGEST).unwrap();
        assert_eq!(fields.name.as_deref(), Some("greet"));
        assert_eq!(fields.description.as_deref(), Some("Says hello"));
        assert_eq!(
            fields.licenses.as_deref(),
            Some("Apache-2.0 WITH LLVM-exception")
        );
        assert_eq!(fields.homepage.as_deref(), Some("https://example.com/"));
        assert_eq!(fields.authors, None);

        let bad_license = wasm(r#"(module (@custom "licenses" "not a licence"))"#);
        let message = refusal(&bad_license);
        assert!(
            message.contains("metadata sections cannot be read"),
            "{message}"
        );
        assert!(message.contains("SPDX"), "{message}");
    }
}
