//! The release manifest of the SIG-Registries publish API: the JSON a
//! publisher POSTs to `/v1/releases` and signs. Depot reads `packageType`,
//! `name`, `version` and `contentDigest` (`{"sha256": "<hex>"}`, or the string
//! `sha256:<hex>`); other fields are the publisher's and are kept, as the
//! signature covers the exact bytes.

use crate::types::{ContentKind, Error};
use depot_protocol::Digest;

/// The longest manifest accepted, in bytes.
pub const MAX_MANIFEST: usize = 64 * 1024;

/// What a release manifest says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseManifest {
    /// `packageType`: what the content is.
    pub kind: ContentKind,
    /// `name`: the package, `namespace:name`.
    pub name: String,
    /// `version`: the release's semver version.
    pub version: String,
    /// `contentDigest`: the SHA-256 of the content.
    pub content_digest: Digest,
}

/// The `packageType` of each kind of content.
pub fn package_type(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Component => "component",
        ContentKind::WitPackage => "wit-package",
        ContentKind::CoreModule => "core-module",
    }
}

fn bad(what: &str) -> Error {
    Error::BadRequest(format!(
        "the release manifest {what}; send a JSON object such as {{\"packageType\": \
         \"component\", \"name\": \"example:greet\", \"version\": \"1.0.0\", \"contentDigest\": \
         {{\"sha256\": \"<64 hex digits>\"}}}} (packageType is `component`, `wit-package` or `core-module`)"
    ))
}

/// Reads the release manifest `text`.
pub fn parse(text: &str) -> Result<ReleaseManifest, Error> {
    if text.len() > MAX_MANIFEST {
        return Err(bad(&format!("is over {MAX_MANIFEST} bytes")));
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| bad(&format!("is not JSON ({e})")))?;
    let field = |key: &str| -> Result<&str, Error> {
        value
            .get(key)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| bad(&format!("has no string `{key}`")))
    };
    let kind = match field("packageType")? {
        "component" => ContentKind::Component,
        "wit" | "wit-package" | "interface" => ContentKind::WitPackage,
        "module" | "core-module" => ContentKind::CoreModule,
        other => {
            return Err(bad(&format!(
                "has packageType `{other}`, which Depot does not know"
            )));
        }
    };
    let name = field("name")?.to_string();
    let version = field("version")?.to_string();
    let content_digest = match value.get("contentDigest") {
        Some(serde_json::Value::String(digest)) => digest.parse()?,
        Some(serde_json::Value::Object(digests)) => match digests.get("sha256") {
            Some(serde_json::Value::String(hex)) => Digest::sha256(hex)?,
            _ => return Err(bad("has a contentDigest without a `sha256` string")),
        },
        _ => return Err(bad("has no `contentDigest`")),
    };
    crate::validate::name_and_version(&name, &version)?;
    Ok(ReleaseManifest {
        kind,
        name,
        version,
        content_digest,
    })
}
