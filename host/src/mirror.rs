//! `depot mirror --from URL`: a read-only copy of another Depot registry.
//!
//! A follower long-polls the origin's feed from this registry's own log head
//! (so a restart resumes where the copy stopped), copies each release's
//! content and OCI blobs with their digests checked, and replicates every
//! entry with the origin's sequence number and time. The copy is served like
//! any registry (`/v1` and `/v2` reads, the feed); writes are refused.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use futures::StreamExt;

use crate::client::{FeedEntry, Registry, RegistryError};
use crate::store::{
    Action, AnnotationContent, Backend, ContentKind, CustomLicense, Entry, Link, LogEntry,
    Metadata, OciArtifact, RegistryMetadata, ReleaseContent, ReleaseSignature, StoreError,
};

/// How long one feed request waits for a new entry, in seconds.
const FEED_WAIT: u32 = 30;

/// How long to wait before trying again after the origin or the copy failed.
const RETRY: Duration = Duration::from_secs(1);

/// Follows `origin`'s feed into `backend` until the process ends.
pub async fn follow(origin: Registry, batch: u32, backend: Arc<dyn Backend>) {
    loop {
        let head = *backend.watch_log().borrow();
        match copy_next(&origin, batch, &*backend, head).await {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "mirroring paused; retrying");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// Copies the origin's entries after `head` (waiting for them if there are
/// none yet).
async fn copy_next(origin: &Registry, batch: u32, backend: &dyn Backend, head: u64) -> Result<()> {
    let page = origin.feed(head, batch, FEED_WAIT).await?;
    for entry in page.entries {
        let seq = entry.seq;
        let logged = log_entry(origin, backend, entry)
            .await
            .with_context(|| format!("copying entry {seq} of the origin's log"))?;
        backend
            .replicate(logged)
            .with_context(|| format!("replicating entry {seq}"))?;
        tracing::debug!(seq, "mirrored");
    }
    Ok(())
}

/// The log entry a feed entry describes, its content copied first.
async fn log_entry(origin: &Registry, backend: &dyn Backend, feed: FeedEntry) -> Result<LogEntry> {
    let time = depot_protocol::parse_rfc3339(&feed.time).with_context(|| {
        format!(
            "the origin gave entry {} the time `{}`",
            feed.seq, feed.time
        )
    })?;
    let action = match feed.kind.as_str() {
        "release" => {
            let release = feed
                .release
                .context("a release entry without its release")?;
            let digest = feed.digest.context("a release entry without its digest")?;
            copy_blob(origin, backend, &format!("/v1/content/{digest}"), &digest).await?;
            let oci = match release.oci {
                Some(oci) => {
                    let repository = format!("/v2/{}", feed.package.replacen(':', "/", 1));
                    let config = format!("{repository}/blobs/{}", oci.config);
                    copy_blob(origin, backend, &config, &oci.config).await?;
                    let manifest = format!("{repository}/manifests/{}", oci.manifest);
                    copy_blob(origin, backend, &manifest, &oci.manifest).await?;
                    Some(OciArtifact {
                        manifest: oci.manifest,
                        config: oci.config,
                    })
                }
                None => None,
            };
            let m = release.metadata;
            let metadata = Metadata {
                kind: match m.kind.as_str() {
                    "component" => ContentKind::Component,
                    "wit-package" => ContentKind::WitPackage,
                    "core-module" => ContentKind::CoreModule,
                    other => bail!("the origin gave a release of kind `{other}`"),
                },
                size: release.size,
                digest: digest.clone(),
                name: m.name,
                description: m.description,
                authors: m.authors,
                licenses: m.licenses,
                source: m.source,
                homepage: m.homepage,
                revision: m.revision,
                version: m.version,
                imports: m.imports,
                exports: m.exports,
                wit: m.wit,
                worlds: m.worlds,
                registry: m.registry.map(|r| RegistryMetadata {
                    links: r
                        .links
                        .into_iter()
                        .map(|l| Link {
                            kind: l.kind,
                            url: l.url,
                        })
                        .collect(),
                    categories: r.categories,
                    custom_licenses: r
                        .custom_licenses
                        .into_iter()
                        .map(|l| CustomLicense {
                            id: l.id,
                            name: l.name,
                            text: l.text,
                            reference: l.reference,
                        })
                        .collect(),
                }),
            };
            Action::Release(ReleaseContent {
                digest,
                size: release.size,
                metadata,
                oci,
                signature: release.signature.map(|signed| ReleaseSignature {
                    key: signed.public_key,
                    manifest: signed.manifest,
                    release_digest: signed.release_digest,
                    signature: signed.release_signature,
                }),
            })
        }
        "grant-key" => Action::GrantKey(feed.key.context("a grant-key entry without its key")?),
        "revoke-key" => Action::RevokeKey(feed.key.context("a revoke-key entry without its key")?),
        "require-signatures" => Action::RequireSignatures(
            feed.required
                .context("a require-signatures entry without `required`")?,
        ),
        "yank" => Action::Yank,
        "unyank" => Action::Unyank,
        "annotate" => {
            let annotation = feed
                .annotation
                .context("an annotate entry without its annotation")?;
            Action::Annotate(AnnotationContent {
                type_: annotation.type_,
                value: annotation.value.to_string(),
                annotator: annotation.annotator,
            })
        }
        "takedown" => Action::Takedown(feed.reason.context("a takedown entry without its reason")?),
        other => bail!("the origin's log has an entry of kind `{other}`, unknown here"),
    };
    Ok(LogEntry {
        seq: feed.seq,
        time,
        entry: Entry {
            name: feed.package,
            version: feed.version,
            action,
        },
    })
}

/// Copies the blob `digest` from `path` on the origin unless it is here,
/// checking that the bytes have that digest. Content the origin has taken
/// down (451) is not copied: its takedown entry follows.
async fn copy_blob(
    origin: &Registry,
    backend: &dyn Backend,
    path: &str,
    digest: &str,
) -> Result<()> {
    let expected: depot_protocol::Digest = digest.parse()?;
    match backend.open_blob(&expected, 0) {
        Ok(_) => return Ok(()),
        Err(StoreError::NotFound(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let mut stream = match origin.content(path).await {
        Ok(stream) => stream,
        Err(e)
            if e.downcast_ref::<RegistryError>()
                .is_some_and(|e| e.status == 451) =>
        {
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    let mut writer = backend.create_blob()?;
    while let Some(chunk) = stream.next().await {
        for part in chunk?.chunks(crate::store::MAX_CHUNK as usize) {
            writer.write(part)?;
        }
    }
    let actual = writer.finish()?;
    if actual != expected {
        bail!("the origin sent {path} with digest {actual}, not {expected}; not copied");
    }
    Ok(())
}
