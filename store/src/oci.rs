//! OCI manifests that are not releases, tags and blobs linked into
//! repositories: kept outside the log, as any OCI registry keeps them.

use crate::db::{Db, Row, params};
use crate::error::{During, StoreError};
use crate::sql;
use crate::types::OciManifest;

fn oci_manifest_from_row(row: &Row) -> Result<OciManifest, StoreError> {
    Ok(OciManifest {
        repository: row.text(0)?,
        digest: row.text(1)?,
        media_type: row.text(2)?,
        size: row.u64(3)?,
        artifact_type: row.opt_text(4)?,
        subject: row.opt_text(5)?,
        references: row.json(6)?,
    })
}

/// See `store.put-oci-manifest`.
pub fn put_manifest(db: &Db, manifest: &OciManifest, tag: Option<&str>) -> Result<(), StoreError> {
    put_manifest_checked(db, manifest, tag, |_| Ok(()))
}

/// [`put_manifest`], with `check` run inside its transaction once the
/// database's write lock is held (see [`crate::log::append_checked`]).
pub fn put_manifest_checked(
    db: &Db,
    manifest: &OciManifest,
    tag: Option<&str>,
    check: impl FnOnce(&Db) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    const STORING: &str = "storing an OCI manifest";
    let refs = serde_json::to_string(&manifest.references).during(STORING)?;
    db.transaction(STORING, |tx| {
        check(tx)?;
        tx.execute(
            sql::PUT_OCI_MANIFEST,
            params![
                manifest.repository,
                manifest.digest,
                manifest.media_type,
                manifest.size,
                manifest.artifact_type,
                manifest.subject,
                refs
            ],
            STORING,
        )?;
        if let Some(tag) = tag {
            tx.execute(
                sql::PUT_OCI_TAG,
                params![manifest.repository, tag, manifest.digest],
                STORING,
            )?;
        }
        Ok(())
    })
}

/// See `store.get-oci-manifest`.
pub fn get_manifest(
    db: &Db,
    repository: &str,
    reference: &str,
) -> Result<Option<OciManifest>, StoreError> {
    db.optional(
        sql::GET_OCI_MANIFEST,
        params![repository, reference],
        "reading an OCI manifest",
    )?
    .as_ref()
    .map(oci_manifest_from_row)
    .transpose()
}

/// See `store.list-oci-tags`.
pub fn list_tags(db: &Db, repository: &str) -> Result<Vec<String>, StoreError> {
    db.rows(sql::LIST_OCI_TAGS, params![repository], "listing OCI tags")?
        .iter()
        .map(|row| row.text(0))
        .collect()
}

/// See `store.has-oci-content`.
pub fn has_content(db: &Db, repository: &str) -> Result<bool, StoreError> {
    db.one(
        sql::HAS_OCI_CONTENT,
        params![repository],
        "reading OCI manifests",
    )?
    .bool(0)
}

/// See `store.link-oci-blob`.
pub fn link_blob(db: &Db, repository: &str, digest: &str) -> Result<(), StoreError> {
    db.execute(
        sql::LINK_OCI_BLOB,
        params![repository, digest],
        "linking a blob to a repository",
    )
}

/// See `store.unlink-oci-blob`.
pub fn unlink_blob(db: &Db, repository: &str, digest: &str) -> Result<bool, StoreError> {
    let deleted = db.rows(
        sql::UNLINK_OCI_BLOB,
        params![repository, digest],
        "unlinking a blob from a repository",
    )?;
    Ok(!deleted.is_empty())
}

/// See `store.oci-references`.
pub fn references(db: &Db, repository: &str, digest: &str) -> Result<bool, StoreError> {
    db.one(
        db.pick(&sql::OCI_REFERENCES),
        params![repository, digest],
        "reading OCI manifests",
    )?
    .bool(0)
}

/// See `store.delete-oci-manifest`.
pub fn delete_manifest(db: &Db, repository: &str, reference: &str) -> Result<bool, StoreError> {
    const DELETING: &str = "deleting an OCI manifest";
    db.transaction(DELETING, |tx| {
        let untagged = tx.rows(
            sql::DELETE_OCI_TAG,
            params![repository, reference],
            DELETING,
        )?;
        let deleted = tx.rows(
            sql::DELETE_OCI_MANIFEST,
            params![repository, reference],
            DELETING,
        )?;
        tx.execute(
            sql::DELETE_OCI_TAGS_OF,
            params![repository, reference],
            DELETING,
        )?;
        Ok(!untagged.is_empty() || !deleted.is_empty())
    })
}

/// See `store.list-referrers`.
pub fn list_referrers(
    db: &Db,
    repository: &str,
    subject: &str,
) -> Result<Vec<OciManifest>, StoreError> {
    db.rows(
        sql::LIST_REFERRERS,
        params![repository, subject],
        "listing referrers",
    )?
    .iter()
    .map(oci_manifest_from_row)
    .collect()
}
