//! The JSON bodies of docs/http-api.md, as the `depot-wire` types the CLI
//! client reads too, built from the handlers' WIT records: field names in
//! camelCase, timestamps as RFC 3339 UTC with milliseconds, absent metadata
//! fields as `null`.

use depot_protocol::{Candidate, rfc3339};
use depot_wire as wire;

use crate::bindings::depot::registry::query::{PackagePage, SearchResults};
use crate::error::ApiError;
use crate::routes::content_path;
use depot_guest::types::{
    Metadata, PackageSummary, PendingRelease, PendingStatus, RegistryStats, Release,
    ReleaseSignature, SigningPolicy,
};

pub fn signature(signature: &ReleaseSignature) -> wire::Signature {
    wire::Signature {
        public_key: signature.key.clone(),
        release_digest: signature.release_digest.clone(),
        release_signature: signature.signature.clone(),
        manifest: signature.manifest.clone(),
    }
}

pub fn unpublished(pending: &PendingRelease, now: u64) -> wire::Unpublished {
    let status = match pending.status {
        PendingStatus::Pending | PendingStatus::Processing if pending.expires <= now => "expired",
        PendingStatus::Pending => "pending",
        PendingStatus::Processing => "processing",
        PendingStatus::Published => "published",
        PendingStatus::Rejected => "rejected",
    };
    let path = crate::routes::unpublished_path(&pending.name, &pending.version);
    wire::Unpublished {
        release: serde_json::from_str(&pending.manifest).unwrap_or(serde_json::Value::Null),
        creator: pending.creator.clone(),
        status: status.to_string(),
        reason: pending.reason.clone(),
        created_at: rfc3339(pending.created),
        expires_at: rfc3339(pending.expires),
        content_sources: pending
            .content_sources
            .iter()
            .map(|url| wire::ContentSource { url: url.clone() })
            .collect(),
        upload_url: format!("{path}/content"),
        publish_url: crate::routes::release_path(&pending.name, &pending.version),
    }
}

/// `GET /v1/namespaces/{namespace}`.
pub fn namespace(namespace: &str, policy: &SigningPolicy) -> wire::NamespaceInfo {
    wire::NamespaceInfo {
        namespace: namespace.to_string(),
        require_signatures: policy.require_signatures,
        keys: policy
            .grants
            .iter()
            .map(|grant| wire::KeyGrant {
                public_key: grant.key.clone(),
                scope: grant.scope.clone(),
                seq: grant.seq,
                granted_at: rfc3339(grant.time),
            })
            .collect(),
    }
}

pub fn release(release: &Release) -> wire::Release {
    wire::Release {
        name: release.name.clone(),
        version: release.version.clone(),
        digest: release.digest.clone(),
        size: release.size,
        published_at: rfc3339(release.published_at),
        yanked: release.yanked,
        seq: release.seq,
        content_url: content_path(&release.name, &release.version),
        oci_manifest: release.oci.as_ref().map(|oci| oci.manifest.clone()),
        metadata: metadata(&release.metadata),
        annotations: release
            .annotations
            .iter()
            .map(|a| wire::Annotation {
                type_: a.type_.clone(),
                value: annotation_value(&a.value),
                time: rfc3339(a.time),
                seq: a.seq,
                annotator: a.annotator.clone(),
            })
            .collect(),
        takedown: release.takedown.as_ref().map(|t| wire::Takedown {
            reason: t.reason.clone(),
            time: rfc3339(t.time),
        }),
        signature: release.signature.as_ref().map(signature),
        proof: None,
    }
}

/// An annotation's value, kept as JSON text, as JSON.
pub fn annotation_value(text: &str) -> serde_json::Value {
    // Checked to be JSON when it was appended.
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

pub fn metadata(m: &Metadata) -> wire::Metadata {
    wire::Metadata {
        kind: depot_guest::manifest::package_type(m.kind).to_string(),
        name: m.name.clone(),
        description: m.description.clone(),
        authors: m.authors.clone(),
        licenses: m.licenses.clone(),
        source: m.source.clone(),
        homepage: m.homepage.clone(),
        revision: m.revision.clone(),
        version: m.version.clone(),
        imports: m.imports.clone(),
        exports: m.exports.clone(),
        wit: m.wit.clone(),
        worlds: m.worlds.clone(),
        registry: m.registry.as_ref().map(|r| wire::RegistryFields {
            links: r
                .links
                .iter()
                .map(|l| wire::Link {
                    kind: l.kind.clone(),
                    url: l.url.clone(),
                })
                .collect(),
            categories: r.categories.clone(),
            custom_licenses: r
                .custom_licenses
                .iter()
                .map(|l| wire::CustomLicense {
                    id: l.id.clone(),
                    name: l.name.clone(),
                    text: l.text.clone(),
                    reference: l.reference.clone(),
                })
                .collect(),
        }),
    }
}

/// A package with its releases, highest version first (as the query handler
/// lists them); `latest` as `depot_protocol::latest` chooses it.
pub fn package(name: &str, releases: &[Release]) -> wire::Package {
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
    wire::Package {
        name: name.to_string(),
        latest: depot_protocol::latest(&candidates).map(ToString::to_string),
        versions: releases.iter().map(release).collect(),
    }
}

/// `GET /v1/search`.
pub fn search(results: &SearchResults) -> wire::SearchPage {
    wire::SearchPage {
        results: results.releases.iter().map(release).collect(),
        next: results.next.clone(),
    }
}

/// `GET /v1/stats`.
pub fn stats(stats: &RegistryStats) -> wire::Stats {
    wire::Stats {
        packages: stats.packages,
        releases: stats.releases,
        head: stats.head,
    }
}

/// `GET /v1/packages`.
pub fn page(page: &PackagePage) -> wire::PackagePage {
    wire::PackagePage {
        packages: page.packages.iter().map(summary).collect(),
        next: page.next.clone(),
    }
}

fn summary(s: &PackageSummary) -> wire::PackageSummary {
    wire::PackageSummary {
        name: s.name.clone(),
        latest: s.latest.clone(),
        versions: s.versions,
        updated_at: rfc3339(s.updated_at),
    }
}

pub fn error(e: &ApiError) -> wire::ErrorBody {
    wire::ErrorBody {
        error: wire::ErrorDetail {
            code: e.code.to_string(),
            message: e.message.clone(),
        },
    }
}
