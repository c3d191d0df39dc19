//! The embedded backend, for one machine: the registry log and indexes in
//! SQLite (`<data>/registry.db`) and content-addressed blobs in
//! `<data>/blobs/`.

mod blobs;
mod sqlite;

use std::path::Path;

use depot_protocol::Digest;

use self::blobs::BlobDir;
use self::sqlite::SqliteLog;
use super::backend::{Backend, BlobRead, BlobWrite, StoreError, UploadWrite};
use super::{Entry, LogEntry, OciManifest, PackageSummary, Release};

/// The embedded backend of one data directory.
#[derive(Debug)]
pub struct Embedded {
    log: SqliteLog,
    blobs: BlobDir,
}

impl Embedded {
    /// Opens (creating if needed) the registry in the data directory `data`.
    pub fn open(data: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data)
            .map_err(|e| StoreError::storage("creating the data directory", e))?;
        Ok(Self {
            log: SqliteLog::open(&data.join("registry.db"))?,
            blobs: BlobDir::open(data)?,
        })
    }
}

impl Backend for Embedded {
    fn create_blob(&self) -> Result<Box<dyn BlobWrite>, StoreError> {
        Ok(Box::new(self.blobs.create()?))
    }

    fn open_blob(&self, digest: &Digest, offset: u64) -> Result<Box<dyn BlobRead>, StoreError> {
        Ok(Box::new(self.blobs.open_blob(digest, offset)?))
    }

    fn package_head(&self, name: &str) -> Result<u64, StoreError> {
        self.log.package_head(name)
    }

    fn append(&self, entry: Entry, expected_head: u64) -> Result<LogEntry, StoreError> {
        self.log.append(entry, expected_head)
    }

    fn read_log(&self, since: u64, limit: u32) -> Result<Vec<LogEntry>, StoreError> {
        self.log.read_log(since, limit)
    }

    fn get_release(&self, name: &str, version: &str) -> Result<Option<Release>, StoreError> {
        self.log.get_release(name, version)
    }

    fn list_releases(&self, name: &str) -> Result<Vec<Release>, StoreError> {
        self.log.list_releases(name)
    }

    fn list_packages(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<PackageSummary>, StoreError> {
        self.log.list_packages(after, limit)
    }

    fn release_by_digest(&self, digest: &Digest) -> Result<Option<Release>, StoreError> {
        self.log.release_by_digest(digest)
    }

    fn start_upload(&self) -> Result<String, StoreError> {
        self.blobs.start_upload()
    }

    fn open_upload(&self, id: &str) -> Result<Box<dyn UploadWrite>, StoreError> {
        Ok(Box::new(self.blobs.open_upload(id)?))
    }

    fn upload_size(&self, id: &str) -> Result<u64, StoreError> {
        self.blobs.upload_size(id)
    }

    fn complete_upload(&self, id: &str, expected: &Digest) -> Result<Digest, StoreError> {
        self.blobs.complete_upload(id, expected)
    }

    fn cancel_upload(&self, id: &str) -> Result<(), StoreError> {
        self.blobs.cancel_upload(id)
    }

    fn put_oci_manifest(&self, manifest: OciManifest, tag: Option<&str>) -> Result<(), StoreError> {
        self.log.put_oci_manifest(&manifest, tag)
    }

    fn get_oci_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<OciManifest>, StoreError> {
        self.log.get_oci_manifest(repository, reference)
    }

    fn list_oci_tags(&self, repository: &str) -> Result<Vec<String>, StoreError> {
        self.log.list_oci_tags(repository)
    }

    fn has_oci_content(&self, repository: &str) -> Result<bool, StoreError> {
        self.log.has_oci_content(repository)
    }

    fn link_oci_blob(&self, repository: &str, digest: &str) -> Result<(), StoreError> {
        self.log.link_oci_blob(repository, digest)
    }

    fn unlink_oci_blob(&self, repository: &str, digest: &str) -> Result<bool, StoreError> {
        self.log.unlink_oci_blob(repository, digest)
    }

    fn oci_references(&self, repository: &str, digest: &str) -> Result<bool, StoreError> {
        self.log.oci_references(repository, digest)
    }

    fn delete_oci_manifest(&self, repository: &str, reference: &str) -> Result<bool, StoreError> {
        self.log.delete_oci_manifest(repository, reference)
    }

    fn list_referrers(
        &self,
        repository: &str,
        subject: &str,
    ) -> Result<Vec<OciManifest>, StoreError> {
        self.log.list_referrers(repository, subject)
    }
}
