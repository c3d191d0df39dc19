//! The one trait the native store capability goes through.
//!
//! [`super::SqlBackend`] implements it over any SQL driver and blob store;
//! nothing above this module knows which drivers are in use.

use depot_protocol::Digest;
use depot_protocol::tlog::Hash;

use crate::StoreError;
use crate::types::{
    Access, Entry, LogEntry, OciManifest, PackageSummary, PendingRelease, RegistryStats, Release,
    SearchQuery, SigningPolicy, TokenGrant, TokenInfo,
};

pub use crate::blobs::MAX_CHUNK;

/// Storage for one registry: content-addressed blobs, the registry log and the
/// indexes derived from it.
///
/// Every method may block on I/O; failures a handler can act on are
/// [`StoreError`] values, never panics.
pub trait Backend: Send + Sync + 'static {
    /// Starts writing a new blob.
    fn create_blob(&self) -> Result<Box<dyn BlobWrite>, StoreError>;

    /// Opens the blob `digest` for reading from byte `offset`.
    fn open_blob(&self, digest: &Digest, offset: u64) -> Result<Box<dyn BlobRead>, StoreError>;

    /// Sequence number of the latest log entry about package `name`; 0 when none.
    fn package_head(&self, name: &str) -> Result<u64, StoreError>;

    /// Appends `entry` if the package's head is still `expected_head`, updates
    /// the indexes in the same transaction, and returns once it is durable.
    fn append(&self, entry: Entry, expected_head: u64) -> Result<LogEntry, StoreError>;

    /// Appends `logged`, an entry of another registry's log (a mirror's
    /// origin), with its sequence number and time, which must follow this
    /// log's last entry; updates the indexes as `append` does.
    fn replicate(&self, logged: LogEntry) -> Result<LogEntry, StoreError>;

    /// The sequence number of the last log entry, changing as entries land.
    fn watch_log(&self) -> tokio::sync::watch::Receiver<u64>;

    /// Up to `limit` log entries after `since`, in order.
    fn read_log(&self, since: u64, limit: u32) -> Result<Vec<LogEntry>, StoreError>;

    /// See `store.package-log`.
    fn package_log(&self, name: &str, until: u64) -> Result<Vec<LogEntry>, StoreError>;

    /// The release of `name` at `version`, if any.
    fn get_release(&self, name: &str, version: &str) -> Result<Option<Release>, StoreError>;

    /// The packages with a release matching `query`, best first, with those
    /// releases; and the cursor of the next page.
    fn search(&self, query: &SearchQuery) -> Result<(Vec<Release>, Option<String>), StoreError>;

    /// How many packages and releases there are, and the log's head.
    fn stats(&self) -> Result<RegistryStats, StoreError>;

    /// The transparency log's newest signed checkpoint (a C2SP signed note).
    fn log_checkpoint(&self) -> Result<String, StoreError>;

    /// The verifier key string of the key that signs checkpoints.
    fn log_key(&self) -> Result<String, StoreError>;

    /// The proof that entry `seq` is in the tree of `tree_size` entries.
    fn log_inclusion(&self, seq: u64, tree_size: u64) -> Result<Vec<Hash>, StoreError>;

    /// The proof that the tree of `new_size` entries extends that of `old_size`.
    fn log_consistency(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, StoreError>;

    /// The release of `name` whose version equals `version` up to build metadata.
    fn find_release(&self, name: &str, version: &str) -> Result<Option<Release>, StoreError>;

    /// Every release of `name`, in publish order.
    fn list_releases(&self, name: &str) -> Result<Vec<Release>, StoreError>;

    /// Up to `limit` packages in name order, after `after`.
    fn list_packages(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<PackageSummary>, StoreError>;

    /// The first release whose content is `digest`, if any.
    fn release_by_digest(&self, digest: &Digest) -> Result<Option<Release>, StoreError>;

    /// Starts an empty upload, kept between requests; returns its id.
    fn start_upload(&self) -> Result<String, StoreError>;

    /// Opens upload `id` to append to it.
    fn open_upload(&self, id: &str) -> Result<Box<dyn UploadWrite>, StoreError>;

    /// Bytes received so far by upload `id`.
    fn upload_size(&self, id: &str) -> Result<u64, StoreError>;

    /// Makes upload `id` the blob `expected`, durably, if its bytes hash to
    /// it; otherwise stores nothing and keeps the upload.
    fn complete_upload(&self, id: &str, expected: &Digest) -> Result<Digest, StoreError>;

    /// Throws away upload `id`.
    fn cancel_upload(&self, id: &str) -> Result<(), StoreError>;

    /// Records an OCI manifest that is not a release, durably, and points
    /// `tag` at it when given.
    fn put_oci_manifest(&self, manifest: OciManifest, tag: Option<&str>) -> Result<(), StoreError>;

    /// The OCI manifest of `repository` that a tag or digest names.
    fn get_oci_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<OciManifest>, StoreError>;

    /// The tags of `repository`'s OCI manifests.
    fn list_oci_tags(&self, repository: &str) -> Result<Vec<String>, StoreError>;

    /// Whether `repository` has any OCI manifest or linked blob.
    fn has_oci_content(&self, repository: &str) -> Result<bool, StoreError>;

    /// Records that `repository` holds blob `digest`.
    fn link_oci_blob(&self, repository: &str, digest: &str) -> Result<(), StoreError>;

    /// Forgets that `repository` holds blob `digest`; false when it did not.
    fn unlink_oci_blob(&self, repository: &str, digest: &str) -> Result<bool, StoreError>;

    /// Whether `repository` holds `digest`: linked, or an OCI manifest that is or names it.
    fn oci_references(&self, repository: &str, digest: &str) -> Result<bool, StoreError>;

    /// Removes a tag, or a manifest and its tags; false when there was none.
    fn delete_oci_manifest(&self, repository: &str, reference: &str) -> Result<bool, StoreError>;

    /// The OCI manifests of `repository` whose subject is `subject`.
    fn list_referrers(
        &self,
        repository: &str,
        subject: &str,
    ) -> Result<Vec<OciManifest>, StoreError>;

    /// The token `credential` is, if it grants `access` (see `store.authorize`).
    fn authorize(&self, credential: Option<&str>, access: &Access)
    -> Result<TokenInfo, StoreError>;

    /// Makes a token with `grant`; returns it and its secret, of which only
    /// the SHA-256 is kept.
    fn create_token(&self, grant: TokenGrant) -> Result<(TokenInfo, String), StoreError>;

    /// Every token, oldest first.
    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;

    /// Revokes token `id` (once: a second revocation keeps the first time).
    fn revoke_token(&self, id: &str) -> Result<TokenInfo, StoreError>;

    /// Makes the operator's token unless one still works; returns its secret.
    fn ensure_operator(&self) -> Result<Option<String>, StoreError>;

    /// Whether `namespace` requires signed releases, and the keys granted on it
    /// or its packages.
    fn namespace_trust(&self, namespace: &str) -> Result<SigningPolicy, StoreError>;

    /// Records an unpublished release, replacing one of the same name and version.
    fn put_pending(&self, release: &PendingRelease) -> Result<(), StoreError>;

    /// The unpublished release of `name` at `version`, if any.
    fn get_pending(&self, name: &str, version: &str) -> Result<Option<PendingRelease>, StoreError>;
}

/// An upload being appended to.
pub trait UploadWrite: Send {
    /// Appends `chunk` (at most [`MAX_CHUNK`] bytes).
    fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError>;

    /// Bytes in the upload so far.
    fn size(&self) -> u64;
}

/// A blob being written. Dropping it unfinished discards what was written.
pub trait BlobWrite: Send {
    /// Appends `chunk` (at most [`MAX_CHUNK`] bytes).
    fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError>;

    /// Makes the blob durable and returns its digest. Later calls fail.
    fn finish(&mut self) -> Result<Digest, StoreError>;
}

/// A blob being read.
pub trait BlobRead: Send {
    /// The blob's total size in bytes.
    fn size(&self) -> u64;

    /// Reads up to `len` bytes (at most [`MAX_CHUNK`]); empty at the end.
    fn read(&mut self, len: u32) -> Result<Vec<u8>, StoreError>;
}
