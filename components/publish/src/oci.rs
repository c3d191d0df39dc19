//! The OCI artifact of a release, in the CNCF wasm OCI artifact layout
//! (<https://tag-runtime.cncf.io/wgs/wasm/deliverables/wasm-oci-artifact/>): a
//! config blob that describes the content and an image manifest whose one
//! layer is the content. Both are written to the store at publish, so OCI
//! clients (`wkg`, `oci-client`) pull a release with its version as the tag.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::bindings::depot::registry::blob_write;
use depot_guest::types::{ContentKind, Error, Metadata, OciArtifact};

/// The image manifest's media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// The config blob's media type, also the manifest's artifact type.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The layer's media type: the content itself.
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Config<'a> {
    created: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<&'a str>,
    architecture: &'static str,
    /// `wasip2` for components and WIT packages, `wasip1` for core modules (the
    /// layout's rule: it must be a `GOOS` value, and plain wasm has none).
    os: &'static str,
    layer_digests: [&'a str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    component: Option<Component<'a>>,
}

#[derive(Debug, Serialize)]
struct Component<'a> {
    imports: &'a [String],
    exports: &'a [String],
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    schema_version: u32,
    media_type: &'static str,
    artifact_type: &'static str,
    config: Descriptor<'a>,
    layers: [Descriptor<'a>; 1],
    annotations: BTreeMap<&'static str, &'a str>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor<'a> {
    media_type: &'static str,
    digest: &'a str,
    size: u64,
}

/// Writes the config blob and the image manifest of `version` whose content
/// `metadata` describes, created at `created` (RFC 3339).
pub fn write_artifact(
    version: &str,
    metadata: &Metadata,
    created: &str,
) -> Result<OciArtifact, Error> {
    let component = match metadata.kind {
        ContentKind::Component | ContentKind::WitPackage => Some(Component {
            imports: &metadata.imports,
            exports: &metadata.exports,
        }),
        ContentKind::CoreModule => None,
    };
    let config = Config {
        created,
        author: metadata.authors.as_deref(),
        architecture: "wasm",
        os: if component.is_some() {
            "wasip2"
        } else {
            "wasip1"
        },
        layer_digests: [&metadata.digest],
        component,
    };
    let config_bytes = to_json(&config)?;
    let config_digest = write_blob(&config_bytes)?;

    let mut annotations = BTreeMap::from([
        ("org.opencontainers.image.version", version),
        ("org.opencontainers.image.created", created),
    ]);
    for (key, value) in [
        (
            "org.opencontainers.image.description",
            &metadata.description,
        ),
        ("org.opencontainers.image.licenses", &metadata.licenses),
        ("org.opencontainers.image.source", &metadata.source),
        ("org.opencontainers.image.url", &metadata.homepage),
        ("org.opencontainers.image.revision", &metadata.revision),
        ("org.opencontainers.image.authors", &metadata.authors),
    ] {
        if let Some(value) = value {
            annotations.insert(key, value);
        }
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: MANIFEST_MEDIA_TYPE,
        artifact_type: CONFIG_MEDIA_TYPE,
        config: Descriptor {
            media_type: CONFIG_MEDIA_TYPE,
            digest: &config_digest,
            size: config_bytes.len() as u64,
        },
        layers: [Descriptor {
            media_type: LAYER_MEDIA_TYPE,
            digest: &metadata.digest,
            size: metadata.size,
        }],
        annotations,
    };
    let manifest_digest = write_blob(&to_json(&manifest)?)?;
    Ok(OciArtifact {
        manifest: manifest_digest,
        config: config_digest,
    })
}

fn to_json(value: &impl Serialize) -> Result<Vec<u8>, Error> {
    // Only strings, numbers and maps with string keys: encoding cannot fail.
    serde_json::to_vec(value).map_err(|e| {
        Error::Storage(format!(
            "the release's OCI manifest could not be encoded ({e}); nothing was published, retry"
        ))
    })
}

/// Stores `bytes` as a blob, in chunks the store accepts.
fn write_blob(bytes: &[u8]) -> Result<String, Error> {
    let writer = blob_write::create_blob()?;
    let chunk = blob_write::max_chunk().max(1) as usize;
    for part in bytes.chunks(chunk) {
        writer.write(part)?;
    }
    writer.finish()
}
