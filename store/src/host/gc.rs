//! Garbage collection of a native backend: unpublished releases past their
//! expiry, uploads abandoned by their clients, and blobs nothing names.
//!
//! A blob is live while a release still up names it (its content, OCI
//! manifest or config), an OCI manifest is or names it, a repository links
//! it (an OCI blob upload) or an unpublished release waits for it. A blob
//! that is not live and was last written before the grace period is a
//! candidate. Candidates go in batches, each in one write transaction: the
//! live set is read again under the database's write lock (which every
//! append, manifest put and blob link also takes), and a candidate is
//! removed only if it is still not live and still not written since the
//! cut-off. Every write of content stored already moves its time on (the
//! blob store touches the file or puts the object again; a small blob's
//! `touched` is set), so content a publish has just written is spared, and a
//! release, manifest or link is refused inside its own transaction when its
//! content is gone: nothing acknowledged ever names a collected blob.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use depot_protocol::Digest;
use serde::Serialize;

use super::sql_backend::SqlBackend;
use crate::db::{Db, params};
use crate::error::{During, StoreError};
use crate::sql;
use crate::types::{OciArtifact, PendingRelease, PendingStatus};

/// Candidates removed per write transaction: the lock is held for one
/// batch, so publishes wait at most that long.
const BATCH: usize = 500;

const COLLECTING: &str = "collecting garbage";

/// What a collection may remove.
#[derive(Debug, Clone, Copy)]
pub struct GcOptions {
    /// Blobs and uploads written within this long are kept whatever names them.
    pub grace: Duration,
    /// Report what would go, remove nothing.
    pub dry_run: bool,
}

/// How many of a kind of thing went (or would go), and their bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// How many.
    pub count: u64,
    /// Their bytes.
    pub bytes: u64,
}

impl Removed {
    fn add(&mut self, bytes: u64) {
        self.count += 1;
        self.bytes += bytes;
    }
}

/// What one collection removed (or, on a dry run, would remove).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct GcReport {
    /// Whether nothing was removed (`--dry-run`).
    pub dry_run: bool,
    /// Unpublished releases past their expiry (their bytes: the records').
    pub expired_releases: Removed,
    /// Uploads not written to within the grace period.
    pub abandoned_uploads: Removed,
    /// Blobs nothing names, last written before the grace period.
    pub blobs: Removed,
    /// Candidates found live (or written again) when their batch was
    /// checked under the write lock, and kept.
    pub spared: u64,
    /// Blobs stored, live or not, when the collection began.
    pub blobs_seen: u64,
}

/// A blob that may go: in the blob store, or small in the database.
struct Candidate {
    digest: Digest,
    size: u64,
    small: bool,
}

impl SqlBackend {
    /// How many uploads are open: started, and neither completed, cancelled
    /// nor collected.
    pub fn open_uploads(&self) -> Result<u64, StoreError> {
        // Every upload was last written before a time a year from now.
        let later = SystemTime::now() + Duration::from_secs(365 * 24 * 60 * 60);
        Ok(self.blobs.abandoned_uploads(later)?.len() as u64)
    }

    /// Collects garbage (see the module's documentation), online: the
    /// registry may serve and publish meanwhile, on this process or others
    /// sharing the database.
    pub fn gc(&self, options: GcOptions) -> Result<GcReport, StoreError> {
        let now = SystemTime::now();
        let cutoff = now
            .checked_sub(options.grace)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut report = GcReport {
            dry_run: options.dry_run,
            ..GcReport::default()
        };
        self.expire_unpublished(options.dry_run, &mut report)?;
        for (id, size) in self.blobs.abandoned_uploads(cutoff)? {
            if !options.dry_run {
                match self.blobs.cancel_upload(&id) {
                    // Completed or cancelled meanwhile.
                    Err(StoreError::NotFound(_)) => continue,
                    other => other?,
                }
            }
            report.abandoned_uploads.add(size);
        }

        let live = live_blobs(&self.pool.reader())?;
        let stored = self.blobs.list()?;
        let small = list_small_blobs(&self.pool.reader())?;
        report.blobs_seen = (stored.len() + small.len()) as u64;
        let cutoff_ms = millis(cutoff);
        let mut candidates: Vec<Candidate> = stored
            .into_iter()
            .filter(|blob| blob.modified < cutoff && !live.contains(blob.digest.as_str()))
            .map(|blob| Candidate {
                digest: blob.digest,
                size: blob.size,
                small: false,
            })
            .collect();
        candidates.extend(
            small
                .into_iter()
                .filter(|(digest, _, touched)| {
                    *touched < cutoff_ms && !live.contains(digest.as_str())
                })
                .map(|(digest, size, _)| Candidate {
                    digest,
                    size,
                    small: true,
                }),
        );
        drop(live);
        if options.dry_run {
            for candidate in &candidates {
                report.blobs.add(candidate.size);
            }
            return Ok(report);
        }
        for batch in candidates.chunks(BATCH) {
            self.remove_batch(batch, cutoff, &mut report)?;
        }
        Ok(report)
    }

    /// Removes what of `batch` is still garbage, under the write lock.
    fn remove_batch(
        &self,
        batch: &[Candidate],
        cutoff: SystemTime,
        report: &mut GcReport,
    ) -> Result<(), StoreError> {
        let writer = self.pool.writer();
        writer.transaction(COLLECTING, |tx| {
            let live = live_blobs(tx)?;
            for candidate in batch {
                if live.contains(candidate.digest.as_str()) {
                    report.spared += 1;
                    continue;
                }
                if candidate.small {
                    let removed = tx.rows(
                        sql::REMOVE_UNTOUCHED_SMALL_BLOB,
                        params![candidate.digest.as_str(), millis(cutoff)],
                        COLLECTING,
                    )?;
                    match removed.first() {
                        Some(row) => report.blobs.add(row.u64(0)?),
                        None => report.spared += 1,
                    }
                    continue;
                }
                match self.blobs.modified(&candidate.digest)? {
                    Some(modified) if modified < cutoff => {
                        self.blobs.remove(&candidate.digest)?;
                        report.blobs.add(candidate.size);
                    }
                    // Written again since it was listed, or gone already.
                    Some(_) => report.spared += 1,
                    None => {}
                }
            }
            Ok(())
        })
    }

    /// Removes the unpublished releases whose expiry has passed and that
    /// were never published (a published one's record stays: its status
    /// still answers).
    fn expire_unpublished(&self, dry_run: bool, report: &mut GcReport) -> Result<(), StoreError> {
        let now = depot_protocol::now_millis();
        let rows = self
            .pool
            .reader()
            .rows(sql::PENDING_RECORDS, &[], COLLECTING)?;
        let mut expired = Vec::new();
        for row in &rows {
            let record = row.text(2)?;
            let release: PendingRelease = serde_json::from_str(&record).during(COLLECTING)?;
            if release.expires < now && !matches!(release.status, PendingStatus::Published) {
                expired.push((row.text(0)?, row.text(1)?, record));
            }
        }
        if dry_run {
            for (_, _, record) in &expired {
                report.expired_releases.add(record.len() as u64);
            }
            return Ok(());
        }
        let writer = self.pool.writer();
        for (name, version, record) in expired {
            // Only as it was read: a record changed meanwhile is left.
            let removed = writer.rows(
                sql::REMOVE_PENDING,
                params![name, version, record.as_str()],
                COLLECTING,
            )?;
            if !removed.is_empty() {
                tracing::info!(%name, %version, "removed an expired unpublished release");
                report.expired_releases.add(record.len() as u64);
            }
        }
        Ok(())
    }
}

/// Every digest something still names (see the module's documentation):
/// what garbage collection keeps, and what a backup copies.
pub fn live_blobs(db: &Db) -> Result<HashSet<String>, StoreError> {
    let mut live = HashSet::new();
    for row in db.rows(sql::LIVE_RELEASE_BLOBS, &[], COLLECTING)? {
        live.insert(row.text(0)?);
        let oci: Option<OciArtifact> = serde_json::from_str(&row.text(1)?).during(COLLECTING)?;
        if let Some(oci) = oci {
            live.insert(oci.manifest);
            live.insert(oci.config);
        }
    }
    for row in db.rows(sql::OCI_MANIFEST_BLOBS, &[], COLLECTING)? {
        live.insert(row.text(0)?);
        let refs: Vec<String> = serde_json::from_str(&row.text(1)?).during(COLLECTING)?;
        live.extend(refs);
    }
    for row in db.rows(sql::OCI_LINKED_BLOBS, &[], COLLECTING)? {
        live.insert(row.text(0)?);
    }
    for row in db.rows(sql::PENDING_RECORDS, &[], COLLECTING)? {
        let release: PendingRelease = serde_json::from_str(&row.text(2)?).during(COLLECTING)?;
        live.insert(release.content_digest);
    }
    Ok(live)
}

/// The small blobs in the database: digest, size and when last written.
fn list_small_blobs(db: &Db) -> Result<Vec<(Digest, u64, u64)>, StoreError> {
    db.rows(sql::LIST_SMALL_BLOBS, &[], COLLECTING)?
        .iter()
        .map(|row| Ok((row.text(0)?.parse()?, row.u64(1)?, row.u64(2)?)))
        .collect()
}

fn millis(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(all(test, feature = "rusqlite"))]
mod tests {
    use std::time::{Duration, SystemTime};

    use depot_protocol::Digest;

    use super::{GcOptions, GcReport};
    use crate::db::params;
    use crate::error::StoreError;
    use crate::host::{Backend, SqlBackend, embedded};
    use crate::types::{
        Action, ContentKind, Entry, Metadata, OciArtifact, OciManifest, PendingRelease,
        PendingStatus, ReleaseContent,
    };

    const HOUR: Duration = Duration::from_secs(3600);

    fn put(backend: &SqlBackend, bytes: &[u8]) -> Digest {
        let mut writer = backend.create_blob().unwrap();
        for chunk in bytes.chunks(60_000) {
            writer.write(chunk).unwrap();
        }
        writer.finish().unwrap()
    }

    fn stored(backend: &SqlBackend, digest: &Digest) -> bool {
        match backend.open_blob(digest, 0) {
            Ok(_) => true,
            Err(StoreError::NotFound(_)) => false,
            Err(e) => panic!("{e}"),
        }
    }

    fn gc(backend: &SqlBackend, grace: Duration, dry_run: bool) -> GcReport {
        backend.gc(GcOptions { grace, dry_run }).unwrap()
    }

    /// Makes the blob file of `digest` look written two hours ago.
    fn age_file(data: &std::path::Path, digest: &Digest) {
        let hex = digest.hex();
        let path = data.join("blobs/sha256").join(&hex[..2]).join(hex);
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - 2 * HOUR).unwrap();
    }

    fn release(name: &str, version: &str, digest: &Digest, oci: Option<OciArtifact>) -> Entry {
        let metadata = Metadata {
            kind: ContentKind::Component,
            size: 1,
            digest: digest.to_string(),
            name: None,
            description: None,
            authors: None,
            licenses: None,
            source: None,
            homepage: None,
            revision: None,
            version: None,
            imports: Vec::new(),
            exports: Vec::new(),
            wit: None,
            worlds: None,
            registry: None,
        };
        Entry {
            name: name.into(),
            version: version.into(),
            action: Action::Release(ReleaseContent {
                digest: digest.to_string(),
                size: 1,
                metadata,
                oci,
                signature: None,
            }),
        }
    }

    fn pending(version: &str, content: &Digest, expires: u64) -> PendingRelease {
        PendingRelease {
            name: "example:pending".into(),
            version: version.into(),
            manifest: "{}".into(),
            content_digest: content.to_string(),
            kind: ContentKind::Component,
            creator: "token".into(),
            status: PendingStatus::Pending,
            reason: None,
            created: 0,
            expires,
            content_sources: Vec::new(),
        }
    }

    #[test]
    fn only_what_nothing_names_and_is_past_the_grace_period_goes() {
        let data = tempfile::tempdir().unwrap();
        let backend = embedded::open(data.path()).unwrap();
        let now = depot_protocol::now_millis();

        // Named by a release: its content (in a file), OCI manifest and
        // config (small, in the database).
        let content = put(&backend, &[1; 40_000]);
        let (manifest, config) = (put(&backend, b"manifest"), put(&backend, b"config"));
        let oci = OciArtifact {
            manifest: manifest.to_string(),
            config: config.to_string(),
        };
        backend
            .append(release("example:live", "1.0.0", &content, Some(oci)), 0)
            .unwrap();
        // Linked into a repository by an OCI upload.
        let linked = put(&backend, &[2; 20_000]);
        backend
            .link_oci_blob("example:oci", linked.as_str())
            .unwrap();
        // An OCI manifest, and a blob it names.
        let (other, layer) = (
            put(&backend, b"other manifest"),
            put(&backend, &[3; 30_000]),
        );
        backend
            .put_oci_manifest(
                OciManifest {
                    repository: "example:oci".into(),
                    digest: other.to_string(),
                    media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                    size: 14,
                    artifact_type: None,
                    subject: None,
                    references: vec![layer.to_string()],
                },
                Some("v1"),
            )
            .unwrap();
        // Waited for by an unpublished release, and by one past its expiry.
        let awaited = put(&backend, &[4; 25_000]);
        backend
            .put_pending(&pending("1.0.0", &awaited, now + 3_600_000))
            .unwrap();
        let abandoned = put(&backend, &[5; 17_000]);
        backend
            .put_pending(&pending("2.0.0", &abandoned, now - 1))
            .unwrap();
        // Named by nothing.
        let (orphan, small_orphan) = (put(&backend, &[6; 50_000]), put(&backend, b"orphan"));
        let live = [
            &content, &manifest, &config, &linked, &other, &layer, &awaited,
        ];

        // Within the grace period nothing goes but the expired release's record.
        let report = gc(&backend, HOUR, false);
        assert_eq!(report.expired_releases.count, 1);
        assert_eq!(report.blobs.count, 0, "{report:?}");
        assert!(
            backend
                .get_pending("example:pending", "2.0.0")
                .unwrap()
                .is_none()
        );
        assert!(
            backend
                .get_pending("example:pending", "1.0.0")
                .unwrap()
                .is_some()
        );

        // A dry run past it names the three orphans and removes nothing. (A
        // blob is past a grace period of zero once its write time, kept in
        // milliseconds, is before now: wait for the clock to move on.)
        std::thread::sleep(Duration::from_millis(5));
        let report = gc(&backend, Duration::ZERO, true);
        assert_eq!(report.blobs.count, 3, "{report:?}");
        assert_eq!(report.blobs.bytes, 50_000 + 6 + 17_000);
        assert_eq!(report.blobs_seen, 10);
        assert!(stored(&backend, &orphan) && stored(&backend, &small_orphan));

        let report = gc(&backend, Duration::ZERO, false);
        assert_eq!(report.blobs.count, 3, "{report:?}");
        assert_eq!(report.blobs.bytes, 50_000 + 6 + 17_000);
        for gone in [&orphan, &small_orphan, &abandoned] {
            assert!(!stored(&backend, gone), "{gone} was not collected");
        }
        for kept in live {
            assert!(stored(&backend, kept), "{kept} was collected");
        }
        // Nothing is left to collect.
        assert_eq!(gc(&backend, Duration::ZERO, false).blobs.count, 0);
    }

    #[test]
    fn content_written_again_counts_as_new() {
        let data = tempfile::tempdir().unwrap();
        let backend = embedded::open(data.path()).unwrap();
        let large = put(&backend, &[7; 40_000]);
        let small = put(&backend, b"small");
        age_file(data.path(), &large);
        let aged = backend
            .pool
            .writer()
            .execute("UPDATE small_blobs SET touched = 0", &[], "ageing")
            .map(drop);
        aged.unwrap();

        // Written again (a publish of content stored before): both stay.
        assert_eq!(put(&backend, &[7; 40_000]), large);
        assert_eq!(put(&backend, b"small"), small);
        assert_eq!(gc(&backend, HOUR, false).blobs.count, 0);

        // Left alone past the grace period, they go.
        age_file(data.path(), &large);
        backend
            .pool
            .writer()
            .execute(
                "UPDATE small_blobs SET touched = ?1",
                params![0u64],
                "ageing",
            )
            .unwrap();
        assert_eq!(gc(&backend, HOUR, false).blobs.count, 2);
        assert!(!stored(&backend, &large) && !stored(&backend, &small));
    }

    #[test]
    fn nothing_lands_naming_content_that_is_gone() {
        let data = tempfile::tempdir().unwrap();
        let backend = embedded::open(data.path()).unwrap();
        let content = put(&backend, &[8; 30_000]);
        assert_eq!(gc(&backend, Duration::ZERO, false).blobs.count, 1);

        // The publish that wrote it before the collection is refused, whole.
        let refused = backend.append(release("example:late", "1.0.0", &content, None), 0);
        assert!(
            matches!(refused, Err(StoreError::NotFound(_))),
            "{refused:?}"
        );
        assert!(
            backend
                .get_release("example:late", "1.0.0")
                .unwrap()
                .is_none()
        );
        let link = backend.link_oci_blob("example:late", content.as_str());
        assert!(matches!(link, Err(StoreError::NotFound(_))), "{link:?}");

        // Written again, it lands.
        assert_eq!(put(&backend, &[8; 30_000]), content);
        backend
            .append(release("example:late", "1.0.0", &content, None), 0)
            .unwrap();
        assert_eq!(gc(&backend, Duration::ZERO, false).blobs.count, 0);
    }

    #[test]
    fn abandoned_uploads_go_once_past_the_grace_period() {
        let data = tempfile::tempdir().unwrap();
        let backend = embedded::open(data.path()).unwrap();
        let id = backend.start_upload().unwrap();
        backend.open_upload(&id).unwrap().write(&[9; 1000]).unwrap();
        assert_eq!(gc(&backend, HOUR, false).abandoned_uploads.count, 0);
        let report = gc(&backend, Duration::ZERO, false);
        assert_eq!(report.abandoned_uploads.count, 1);
        assert_eq!(report.abandoned_uploads.bytes, 1000);
        assert!(matches!(
            backend.upload_size(&id),
            Err(StoreError::NotFound(_))
        ));
    }
}
