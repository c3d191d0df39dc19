//! The one trait handlers' storage goes through, and its error type.
//!
//! The embedded backend (SQLite and a blob directory, [`super::embedded`]) is
//! the default; other backends (PostgreSQL with object storage) sit beside it
//! and implement the same trait, so nothing above this module knows which one
//! is in use.

use depot_protocol::Digest;
use depot_protocol::tlog::Hash;

use super::{
    Entry, LogEntry, OciManifest, PackageSummary, RegistryStats, Release, SearchQuery, TokenInfo,
};

/// The most bytes one blob write accepts or one blob read returns (1 MiB).
pub const MAX_CHUNK: u32 = 1024 * 1024;

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

    /// Keeps a new token: its SHA-256 (`hash`), never the token itself.
    /// Tokens are this registry's own, kept beside the log rather than in it.
    fn insert_token(&self, token: &TokenInfo, hash: &str) -> Result<(), StoreError>;

    /// The token whose SHA-256 is `hash`, if any.
    fn token_by_hash(&self, hash: &str) -> Result<Option<TokenInfo>, StoreError>;

    /// Every token, oldest first.
    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;

    /// Marks token `id` revoked at `time` unless it already is; returns it,
    /// or none when there is no such token.
    fn revoke_token(&self, id: &str, time: u64) -> Result<Option<TokenInfo>, StoreError>;
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

/// A storage failure a handler can act on. Each maps to one case of the WIT
/// `error` variant; the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another entry about the package landed first.
    #[error(
        "another change to the package landed first (its head is now {current}); \
         read the head again and retry"
    )]
    HeadMoved {
        /// The package's head now.
        current: u64,
    },
    /// A second release of one version.
    #[error(
        "{name} {version} is already released and releases are immutable; \
         publish a new version instead"
    )]
    VersionExists {
        /// The package.
        name: String,
        /// The version released before.
        version: String,
    },
    /// No such version, blob or package.
    #[error("{0}")]
    NotFound(String),
    /// A malformed digest.
    #[error(transparent)]
    InvalidDigest(#[from] depot_protocol::ParseError),
    /// Uploaded bytes that hash to another digest than the one expected.
    #[error(
        "the uploaded bytes have digest {actual}, not {expected}; send the digest of what \
         was uploaded, or upload again"
    )]
    DigestMismatch {
        /// The digest the client gave.
        expected: String,
        /// The digest of the bytes.
        actual: String,
    },
    /// A request the store cannot carry out as asked.
    #[error("{0}")]
    BadRequest(String),
    /// No valid token for a request that needs one.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token that does not grant what the request does.
    #[error("{0}")]
    Forbidden(String),
    /// Storage itself failed. The message sent to handlers names what was being
    /// done; `source`, which may name files, is only logged.
    #[error("storage failed while {action}; nothing was changed, retry later")]
    Storage {
        /// What the store was doing, e.g. "appending to the registry log".
        action: &'static str,
        /// The underlying failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// A storage failure while doing `action`.
    pub fn storage(
        action: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Storage {
            action,
            source: source.into(),
        }
    }
}
