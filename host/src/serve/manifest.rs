//! Which component plays each handler role: the built-in ones, or those a
//! handler manifest (`handlers.toml`) names; and, for `depot compose`, which
//! component implements the store.
//!
//! ```toml
//! # Every role not named here uses the built-in handler.
//! policy = "policies/strict.wasm"   # relative to this file's folder
//! api = "builtin"
//! # Only for `depot compose` (the Spin build); `depot serve` provides the store.
//! store = "spin_store.wasm"
//! ```

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// What host/build.rs built: the paths of the components (for the end-to-end
/// tests) and the built-in handlers embedded in the binary.
#[allow(dead_code, reason = "the component paths are for the end-to-end tests")]
pub(crate) mod built {
    include!(concat!(env!("OUT_DIR"), "/handlers.rs"));
}

/// The part a handler component plays in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads what a binary says about itself.
    Metadata,
    /// Decides what may be published.
    Policy,
    /// Writes releases, yanks and unyanks.
    Publish,
    /// Reads the registry.
    Query,
    /// Renders the web view.
    Web,
    /// The HTTP front.
    Api,
}

impl Role {
    /// Every role, each after the roles whose interfaces it may import.
    pub const ALL: [Role; 6] = [
        Role::Metadata,
        Role::Policy,
        Role::Publish,
        Role::Query,
        Role::Web,
        Role::Api,
    ];

    /// The role's name, as in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Role::Metadata => "metadata",
            Role::Policy => "policy",
            Role::Publish => "publish",
            Role::Query => "query",
            Role::Web => "web",
            Role::Api => "api",
        }
    }

    /// The `depot:registry` interfaces a handler in this role may import:
    /// its world's imports in `wit/worlds.wit` (`types` aside, which holds
    /// only types). A handler importing anything else is refused.
    pub fn grants(self) -> &'static [&'static str] {
        match self {
            Role::Metadata => &["blob-read"],
            Role::Policy => &[],
            Role::Publish => &[
                "blob-read",
                "blob-write",
                "log-read",
                "log-append",
                "index",
                "pending-read",
                "pending-write",
                "metadata",
                "policy",
            ],
            Role::Query => &["log-read", "index"],
            Role::Web => &["query"],
            Role::Api => &[
                "blob-read",
                "blob-write",
                "uploads",
                "oci-read",
                "oci-write",
                "index",
                "transparency",
                "pending-read",
                "access",
                "tokens",
                "publish",
                "query",
                "web",
            ],
        }
    }

    fn builtin(self) -> &'static [u8] {
        match self {
            Role::Metadata => built::builtin::METADATA,
            Role::Policy => built::builtin::POLICY,
            Role::Publish => built::builtin::PUBLISH,
            Role::Query => built::builtin::QUERY,
            Role::Web => built::builtin::WEB,
            Role::Api => built::builtin::API,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a handler's component comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Embedded in the `depot` binary.
    Builtin,
    /// A file named in the manifest.
    File(PathBuf),
}

/// One handler: its role and its component.
pub struct Handler {
    /// The role it plays.
    pub role: Role,
    /// Where it comes from.
    pub source: Source,
    /// The component's bytes.
    pub bytes: Cow<'static, [u8]>,
}

impl fmt::Display for Handler {
    /// "the built-in policy handler" or "the policy handler path/to/x.wasm".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Builtin => write!(f, "the built-in {} handler", self.role),
            Source::File(path) => write!(f, "the {} handler {}", self.role, path.display()),
        }
    }
}

/// The manifest's lines; a role left out uses the built-in handler.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    metadata: Option<String>,
    policy: Option<String>,
    publish: Option<String>,
    query: Option<String>,
    web: Option<String>,
    api: Option<String>,
    store: Option<String>,
}

impl Manifest {
    fn line(&self, role: Role) -> Option<&str> {
        match role {
            Role::Metadata => self.metadata.as_deref(),
            Role::Policy => self.policy.as_deref(),
            Role::Publish => self.publish.as_deref(),
            Role::Query => self.query.as_deref(),
            Role::Web => self.web.as_deref(),
            Role::Api => self.api.as_deref(),
        }
    }
}

const MANIFEST_HELP: &str = "Each line of a handler manifest names a role (api, web, publish, \
    query, metadata or policy) and either \"builtin\" or the path of a .wasm component, relative to the \
    manifest's folder, e.g. `policy = \"my-policy.wasm\"`; or names the `store` component that \
    `depot compose` plugs in, e.g. `store = \"spin_store.wasm\"`.";

/// A component that exports the store interfaces (world
/// `depot:registry/store-provider`), for `depot compose` to
/// plug into the handlers in place of the store `depot serve` provides.
#[derive(Debug)]
pub struct StoreComponent {
    /// Where it was read from.
    pub path: PathBuf,
    /// The component's bytes.
    pub bytes: Vec<u8>,
}

impl fmt::Display for StoreComponent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the store {}", self.path.display())
    }
}

impl StoreComponent {
    /// Reads the store component at `path`.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let bytes = std::fs::read(path).with_context(|| {
            format!(
                "cannot read the store component {}; build it first (the `spin-store` crate of \
                 components/) or fix the path",
                path.display()
            )
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            bytes,
        })
    }
}

/// The store component the manifest at `path` names in its `store` line, if any.
pub fn load_store(path: Option<&Path>) -> anyhow::Result<Option<StoreComponent>> {
    let (manifest, folder) = read(path)?;
    match manifest.store.as_deref() {
        None => Ok(None),
        Some("") => bail!(
            "the handler manifest gives `store` an empty value; write the path of a .wasm \
             component that exports the store interfaces (e.g. spin_store.wasm)"
        ),
        Some(file) => StoreComponent::read(&folder.join(file)).map(Some),
    }
}

/// The manifest at `path` (an empty one when there is none) and the folder
/// its paths are relative to.
fn read(path: Option<&Path>) -> anyhow::Result<(Manifest, PathBuf)> {
    Ok(match path {
        None => (Manifest::default(), PathBuf::new()),
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!(
                    "cannot read the handler manifest {}; check the path given to --handlers",
                    path.display()
                )
            })?;
            let manifest: Manifest = toml::from_str(&text).map_err(|e| {
                anyhow::anyhow!(
                    "invalid handler manifest {}: {e}\n{MANIFEST_HELP}",
                    path.display()
                )
            })?;
            let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
            (manifest, folder)
        }
    })
}

/// The handlers the manifest at `path` names, in [`Role::ALL`] order; every
/// handler built in when there is no manifest. A `store` line is left for
/// [`load_store`].
pub fn load(path: Option<&Path>) -> anyhow::Result<Vec<Handler>> {
    let (manifest, folder) = read(path)?;
    Role::ALL
        .into_iter()
        .map(|role| match manifest.line(role) {
            None | Some("builtin") => Ok(Handler {
                role,
                source: Source::Builtin,
                bytes: Cow::Borrowed(role.builtin()),
            }),
            Some("") => bail!(
                "the handler manifest gives `{role}` an empty value; write \"builtin\" or the \
                 path of a .wasm component"
            ),
            Some(file) => {
                let file = folder.join(file);
                let bytes = std::fs::read(&file).with_context(|| {
                    format!(
                        "cannot read the {role} handler {} named in the handler manifest; fix the \
                         path (relative to the manifest's folder) or write \"builtin\"",
                        file.display()
                    )
                })?;
                Ok(Handler {
                    role,
                    source: Source::File(file),
                    bytes: Cow::Owned(bytes),
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn sources(handlers: &[Handler]) -> Vec<(Role, Source)> {
        handlers
            .iter()
            .map(|h| (h.role, h.source.clone()))
            .collect()
    }

    #[test]
    fn no_manifest_means_every_handler_is_built_in() {
        let handlers = load(None).unwrap();
        let expected: Vec<_> = Role::ALL.map(|r| (r, Source::Builtin)).into();
        assert_eq!(sources(&handlers), expected);
        assert!(handlers.iter().all(|h| !h.bytes.is_empty()));
    }

    #[test]
    fn a_manifest_line_swaps_one_handler_relative_to_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("policies")).unwrap();
        write(&dir.path().join("policies"), "strict.wasm", "\0asm");
        let manifest = write(
            dir.path(),
            "handlers.toml",
            "policy = \"policies/strict.wasm\"\napi = \"builtin\"\n",
        );
        let handlers = load(Some(&manifest)).unwrap();
        let policy = &handlers[1];
        assert_eq!(policy.role, Role::Policy);
        assert_eq!(
            policy.source,
            Source::File(dir.path().join("policies/strict.wasm"))
        );
        assert_eq!(&*policy.bytes, b"\0asm");
        assert_eq!(handlers[5].source, Source::Builtin);
    }

    #[test]
    fn a_store_line_names_the_store_component_and_leaves_the_handlers_alone() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "store.wasm", "\0asm");
        let manifest = write(dir.path(), "handlers.toml", "store = \"store.wasm\"\n");
        let handlers = load(Some(&manifest)).unwrap();
        assert!(handlers.iter().all(|h| h.source == Source::Builtin));
        let store = load_store(Some(&manifest)).unwrap().unwrap();
        assert_eq!(store.path, dir.path().join("store.wasm"));
        assert_eq!(store.bytes, b"\0asm");
        assert!(load_store(None).unwrap().is_none());
    }

    #[test]
    fn an_unknown_role_is_refused_with_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = write(dir.path(), "handlers.toml", "polcy = \"builtin\"\n");
        let err = format!("{:#}", load(Some(&manifest)).err().unwrap());
        assert!(err.contains("polcy"), "{err}");
        assert!(err.contains("policy"), "{err}");
    }

    #[test]
    fn an_unreadable_component_names_its_role_and_path() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = write(dir.path(), "handlers.toml", "query = \"missing.wasm\"\n");
        let err = format!("{:#}", load(Some(&manifest)).err().unwrap());
        assert!(err.contains("query handler"), "{err}");
        assert!(err.contains("missing.wasm"), "{err}");
    }
}
