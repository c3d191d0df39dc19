//! The JSON bodies of docs/http-api.md: field names in camelCase, timestamps as
//! RFC 3339 UTC with milliseconds, absent metadata fields as `null`.

use depot_protocol::{Candidate, rfc3339};
use serde::Serialize;

use crate::bindings::depot::registry::query::{PackagePage, SearchResults};
use crate::bindings::depot::registry::types::{
    ContentKind, Metadata, PackageSummary, RegistryStats, Release,
};
use crate::error::ApiError;
use crate::routes::content_path;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseJson<'a> {
    name: &'a str,
    version: &'a str,
    digest: &'a str,
    size: u64,
    published_at: String,
    yanked: bool,
    seq: u64,
    content_url: String,
    /// The release's OCI manifest digest, which its log entry records.
    oci_manifest: Option<&'a str>,
    metadata: MetadataJson<'a>,
    annotations: Vec<AnnotationJson<'a>>,
    takedown: Option<TakedownJson<'a>>,
}

#[derive(Debug, Serialize)]
struct AnnotationJson<'a> {
    #[serde(rename = "type")]
    type_: &'a str,
    value: serde_json::Value,
    time: String,
    seq: u64,
}

#[derive(Debug, Serialize)]
struct TakedownJson<'a> {
    reason: &'a str,
    time: String,
}

/// The metadata object; size and digest are already in the release.
#[derive(Debug, Serialize)]
pub struct MetadataJson<'a> {
    kind: &'static str,
    name: Option<&'a str>,
    description: Option<&'a str>,
    authors: Option<&'a str>,
    licenses: Option<&'a str>,
    source: Option<&'a str>,
    homepage: Option<&'a str>,
    revision: Option<&'a str>,
    version: Option<&'a str>,
    imports: &'a [String],
    exports: &'a [String],
    wit: Option<&'a str>,
    worlds: Option<&'a [String]>,
    registry: Option<RegistryJson<'a>>,
}

/// A `registry-metadata` section's fields.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct RegistryJson<'a> {
    links: Vec<LinkJson<'a>>,
    categories: &'a [String],
    custom_licenses: Vec<CustomLicenseJson<'a>>,
}

#[derive(Debug, Serialize)]
struct LinkJson<'a> {
    kind: &'a str,
    url: &'a str,
}

#[derive(Debug, Serialize)]
struct CustomLicenseJson<'a> {
    id: &'a str,
    name: &'a str,
    text: &'a str,
    reference: Option<&'a str>,
}

/// `GET /v1/packages/{name}`.
#[derive(Debug, Serialize)]
pub struct PackageJson<'a> {
    name: &'a str,
    latest: Option<String>,
    versions: Vec<ReleaseJson<'a>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct SummaryJson<'a> {
    name: &'a str,
    latest: Option<&'a str>,
    versions: u32,
    updated_at: String,
}

/// `GET /v1/packages`.
#[derive(Debug, Serialize)]
pub struct PageJson<'a> {
    packages: Vec<SummaryJson<'a>>,
    next: Option<&'a str>,
}

/// Every error body: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize)]
pub struct ErrorJson<'a> {
    error: ErrorBody<'a>,
}

#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

pub fn release(release: &Release) -> ReleaseJson<'_> {
    ReleaseJson {
        name: &release.name,
        version: &release.version,
        digest: &release.digest,
        size: release.size,
        published_at: rfc3339(release.published_at),
        yanked: release.yanked,
        seq: release.seq,
        content_url: content_path(&release.name, &release.version),
        oci_manifest: release.oci.as_ref().map(|oci| oci.manifest.as_str()),
        metadata: metadata(&release.metadata),
        annotations: release
            .annotations
            .iter()
            .map(|a| AnnotationJson {
                type_: &a.type_,
                value: annotation_value(&a.value),
                time: rfc3339(a.time),
                seq: a.seq,
            })
            .collect(),
        takedown: release.takedown.as_ref().map(|t| TakedownJson {
            reason: &t.reason,
            time: rfc3339(t.time),
        }),
    }
}

/// An annotation's value, kept as JSON text, as JSON.
pub fn annotation_value(text: &str) -> serde_json::Value {
    // Checked to be JSON when it was appended.
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

pub fn metadata(m: &Metadata) -> MetadataJson<'_> {
    MetadataJson {
        kind: match m.kind {
            ContentKind::Component => "component",
            ContentKind::WitPackage => "wit-package",
            ContentKind::CoreModule => "core-module",
        },
        name: m.name.as_deref(),
        description: m.description.as_deref(),
        authors: m.authors.as_deref(),
        licenses: m.licenses.as_deref(),
        source: m.source.as_deref(),
        homepage: m.homepage.as_deref(),
        revision: m.revision.as_deref(),
        version: m.version.as_deref(),
        imports: &m.imports,
        exports: &m.exports,
        wit: m.wit.as_deref(),
        worlds: m.worlds.as_deref(),
        registry: m.registry.as_ref().map(|r| RegistryJson {
            links: r
                .links
                .iter()
                .map(|l| LinkJson {
                    kind: &l.kind,
                    url: &l.url,
                })
                .collect(),
            categories: &r.categories,
            custom_licenses: r
                .custom_licenses
                .iter()
                .map(|l| CustomLicenseJson {
                    id: &l.id,
                    name: &l.name,
                    text: &l.text,
                    reference: l.reference.as_deref(),
                })
                .collect(),
        }),
    }
}

/// A package with its releases, highest version first (as the query handler
/// lists them); `latest` as `depot_protocol::latest` chooses it.
pub fn package<'a>(name: &'a str, releases: &'a [Release]) -> PackageJson<'a> {
    let candidates: Vec<Candidate> = releases
        .iter()
        .filter_map(|r| {
            Some(Candidate {
                version: r.version.parse().ok()?,
                yanked: r.yanked,
                taken_down: r.takedown.is_some(),
            })
        })
        .collect();
    PackageJson {
        name,
        latest: depot_protocol::latest(&candidates).map(ToString::to_string),
        versions: releases.iter().map(release).collect(),
    }
}

/// `GET /v1/search`.
#[derive(Debug, Serialize)]
pub struct SearchJson<'a> {
    results: Vec<ReleaseJson<'a>>,
    next: Option<&'a str>,
}

pub fn search(results: &SearchResults) -> SearchJson<'_> {
    SearchJson {
        results: results.releases.iter().map(release).collect(),
        next: results.next.as_deref(),
    }
}

/// `GET /v1/log/proof/inclusion`: the proof's hashes in base64, bottom up.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionJson {
    pub seq: u64,
    pub tree_size: u64,
    pub proof: Vec<String>,
}

/// `GET /v1/log/proof/consistency`.
#[derive(Debug, Serialize)]
pub struct ConsistencyJson {
    pub from: u64,
    pub to: u64,
    pub proof: Vec<String>,
}

/// `GET /v1/stats`.
#[derive(Debug, Serialize)]
pub struct StatsJson {
    packages: u64,
    releases: u64,
    head: u64,
}

pub fn stats(stats: &RegistryStats) -> StatsJson {
    StatsJson {
        packages: stats.packages,
        releases: stats.releases,
        head: stats.head,
    }
}

pub fn page(page: &PackagePage) -> PageJson<'_> {
    PageJson {
        packages: page.packages.iter().map(summary).collect(),
        next: page.next.as_deref(),
    }
}

fn summary(s: &PackageSummary) -> SummaryJson<'_> {
    SummaryJson {
        name: &s.name,
        latest: s.latest.as_deref(),
        versions: s.versions,
        updated_at: rfc3339(s.updated_at),
    }
}

pub fn error(e: &ApiError) -> ErrorJson<'_> {
    ErrorJson {
        error: ErrorBody {
            code: e.code,
            message: &e.message,
        },
    }
}
