//! What a binary says about itself: bytes in, metadata out. No I/O, so it can
//! be reasoned about (and tested) apart from the store.

use serde::Deserialize;
use wasmparser::{Parser, Payload, Validator, WasmFeatures};
use wit_component::WitPrinter;
use wit_parser::decoding::{DecodedWasm, decode};
use wit_parser::{PackageId, Resolve, WorldItem, WorldKey};

use depot_guest::types::{ContentKind, CustomLicense, Link, Metadata, RegistryMetadata};

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
    let surface = if Parser::is_core_wasm(content) {
        Surface {
            kind: ContentKind::CoreModule,
            ..Surface::default()
        }
    } else {
        surface(content)
    };
    let registry = registry_metadata(content)?;
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
        kind: surface.kind,
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
        imports: surface.imports,
        exports: surface.exports,
        wit: surface.wit,
        worlds: surface.worlds,
        registry,
    })
}

/// What a binary's type says: its kind, what it imports and exports, its WIT.
#[derive(Debug)]
struct Surface {
    kind: ContentKind,
    imports: Vec<String>,
    exports: Vec<String>,
    wit: Option<String>,
    worlds: Option<Vec<String>>,
}

impl Default for Surface {
    fn default() -> Self {
        Self {
            kind: ContentKind::Component,
            imports: Vec::new(),
            exports: Vec::new(),
            wit: None,
            worlds: None,
        }
    }
}

/// The `registry-metadata` custom section of the outermost component or
/// module, as the `wasm-metadata` crate used to write it (JSON).
#[derive(Debug, Deserialize)]
struct RegistrySection {
    #[serde(default)]
    links: Option<Vec<RegistryLink>>,
    #[serde(default)]
    categories: Option<Vec<String>>,
    #[serde(default)]
    custom_licenses: Option<Vec<RegistryLicense>>,
}

#[derive(Debug, Deserialize)]
struct RegistryLink {
    /// `"Homepage"`, ..., or `{"Custom": "name"}`.
    ty: serde_json::Value,
    value: String,
}

#[derive(Debug, Deserialize)]
struct RegistryLicense {
    id: String,
    name: String,
    text: String,
    reference: Option<String>,
}

/// Reads the `registry-metadata` section, if there is one.
fn registry_metadata(bytes: &[u8]) -> Result<Option<RegistryMetadata>, String> {
    let Some(data) = outer_custom_section(bytes, "registry-metadata") else {
        return Ok(None);
    };
    let section: RegistrySection = serde_json::from_slice(data).map_err(|e| {
        format!(
            "the content's `registry-metadata` section is not the JSON it should be ({e}); fix \
             or remove it (`wasm-tools strip -d registry-metadata`)"
        )
    })?;
    let links = section.links.unwrap_or_default().into_iter();
    Ok(Some(RegistryMetadata {
        links: links
            .map(|link| Link {
                kind: match link.ty {
                    serde_json::Value::String(kind) => kind,
                    other => other
                        .get("Custom")
                        .and_then(|custom| custom.as_str())
                        .unwrap_or("Custom")
                        .to_string(),
                },
                url: link.value,
            })
            .collect(),
        categories: section.categories.unwrap_or_default(),
        custom_licenses: section
            .custom_licenses
            .unwrap_or_default()
            .into_iter()
            .map(|l| CustomLicense {
                id: l.id,
                name: l.name,
                text: l.text,
                reference: l.reference,
            })
            .collect(),
    }))
}

/// The data of the outermost component's or module's custom section `name`.
fn outer_custom_section<'a>(bytes: &'a [u8], name: &str) -> Option<&'a [u8]> {
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.ok()? {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) => depth = depth.checked_sub(1)?,
            Payload::CustomSection(section) if depth == 0 && section.name() == name => {
                return Some(section.data());
            }
            _ => {}
        }
    }
    None
}

/// `package` of `resolve` as WIT text, with the packages it uses after it.
fn wit_text(resolve: &Resolve, package: PackageId) -> Option<String> {
    let nested: Vec<PackageId> = resolve
        .packages
        .iter()
        .map(|(id, _)| id)
        .filter(|id| *id != package)
        .collect();
    let mut printer = WitPrinter::default();
    printer.print(resolve, package, &nested).ok()?;
    Some(printer.output.to_string())
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

/// Whether a valid component is a WIT package or a component, what it
/// imports and exports, and its WIT.
fn surface(bytes: &[u8]) -> Surface {
    match decode(bytes) {
        Ok(DecodedWasm::WitPackage(resolve, package)) => {
            let defined = &resolve.packages[package];
            let interfaces = defined
                .interfaces
                .values()
                .filter_map(|id| resolve.id_of(*id))
                .collect();
            let worlds = defined
                .worlds
                .keys()
                .map(|name| resolve.id_of_name(package, name))
                .collect();
            Surface {
                kind: ContentKind::WitPackage,
                exports: sorted(interfaces),
                worlds: Some(sorted(worlds)),
                wit: wit_text(&resolve, package),
                ..Surface::default()
            }
        }
        Ok(DecodedWasm::Component(resolve, world)) => {
            let package = resolve.worlds[world].package;
            let world = &resolve.worlds[world];
            Surface {
                imports: world_names(&resolve, world.imports.iter()),
                exports: world_names(&resolve, world.exports.iter()),
                wit: package.and_then(|package| wit_text(&resolve, package)),
                ..Surface::default()
            }
        }
        // A valid component whose type WIT cannot express (one that exports a
        // core module, say) is still a component; its top-level names still say
        // what it needs and provides.
        Err(_) => {
            let (imports, exports) = top_level_names(bytes);
            Surface {
                imports,
                exports,
                ..Surface::default()
            }
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
        assert_eq!(
            description.worlds.as_deref(),
            Some(&["example:greet/hello@0.1.0".to_string()][..])
        );
        let wit = description.wit.unwrap();
        for expected in [
            "package example:greet@0.1.0;",
            "interface greeter {",
            "greet: func(name: string) -> string;",
            "world hello {",
        ] {
            assert!(wit.contains(expected), "{expected} not in:\n{wit}");
        }
    }

    #[test]
    fn a_components_world_is_printed_as_wit() {
        let component = wasm(
            r#"(component
                (import "log" (func (param "message" string)))
                (import "example:greet/clock@0.1.0" (instance
                    (export "now" (func (result u64))))))"#,
        );
        let description = describe(&component, DIGEST).unwrap();
        assert_eq!(description.worlds, None);
        let wit = description.wit.unwrap();
        for expected in [
            "import log: func(message: string);",
            "import example:greet/clock@0.1.0;",
            "package example:greet@0.1.0 {",
            "now: func() -> u64;",
        ] {
            assert!(wit.contains(expected), "{expected} not in:\n{wit}");
        }
        let module = describe(&wasm("(module)"), DIGEST).unwrap();
        assert_eq!((module.wit, module.worlds), (None, None));
    }

    #[test]
    fn a_registry_metadata_section_is_read_and_a_malformed_one_refused() {
        let section = concat!(
            r#"{"links":[{"ty":"Repository","value":"https://example.com/src"},"#,
            r#"{"ty":{"Custom":"Chat"},"value":"https://chat.example.com"}],"#,
            r#""categories":["web","parsing"],"#,
            r#""custom_licenses":[{"id":"LicenseRef-Mine","name":"Mine","text":"Use it.","#,
            r#""reference":null}]}"#
        );
        let escaped = section.replace('"', "\\\"");
        let module = wasm(&format!(
            r#"(module (@custom "registry-metadata" "{escaped}"))"#
        ));
        let registry = describe(&module, DIGEST).unwrap().registry.unwrap();
        let links: Vec<(&str, &str)> = registry
            .links
            .iter()
            .map(|l| (l.kind.as_str(), l.url.as_str()))
            .collect();
        assert_eq!(
            links,
            [
                ("Repository", "https://example.com/src"),
                ("Chat", "https://chat.example.com")
            ]
        );
        assert_eq!(registry.categories, ["web", "parsing"]);
        assert_eq!(registry.custom_licenses[0].id, "LicenseRef-Mine");
        assert_eq!(registry.custom_licenses[0].text, "Use it.");
        assert!(
            describe(&wasm("(module)"), DIGEST)
                .unwrap()
                .registry
                .is_none()
        );

        let broken = wasm(r#"(module (@custom "registry-metadata" "not json"))"#);
        assert!(refusal(&broken).contains("registry-metadata"));
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
