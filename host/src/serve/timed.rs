//! The store's calls, timed: a [`Backend`] that passes every call to the
//! one it wraps and records how long it took, by operation
//! (`depot_store_call_duration_seconds`).

use std::sync::Arc;
use std::time::Instant;

use depot_protocol::Digest;
use depot_protocol::tlog::Hash;

use super::metrics::Metrics;
use crate::store::{
    Access, Backend, BlobRead, BlobWrite, Entry, LogEntry, OciManifest, PackageSummary,
    PendingRelease, RegistryStats, Release, SearchQuery, SigningPolicy, StoreError, TokenGrant,
    TokenInfo, UploadWrite,
};

/// `inner`, its calls timed into `metrics`.
pub struct Timed {
    inner: Arc<dyn Backend>,
    metrics: Arc<Metrics>,
}

impl Timed {
    /// Times the calls of `inner`.
    pub fn new(inner: Arc<dyn Backend>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

/// Each method of [`Backend`], passed on and timed under its own name.
macro_rules! timed {
    ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {
        impl Backend for Timed {
            $(fn $name(&self $(, $arg: $ty)*) -> $ret {
                let start = Instant::now();
                let result = self.inner.$name($($arg),*);
                self.metrics.store_call(stringify!($name), start.elapsed());
                result
            })*
        }
    };
}

timed! {
    fn create_blob(&self) -> Result<Box<dyn BlobWrite>, StoreError>;
    fn open_blob(&self, digest: &Digest, offset: u64) -> Result<Box<dyn BlobRead>, StoreError>;
    fn package_head(&self, name: &str) -> Result<u64, StoreError>;
    fn append(&self, entry: Entry, expected_head: u64) -> Result<LogEntry, StoreError>;
    fn replicate(&self, logged: LogEntry) -> Result<LogEntry, StoreError>;
    fn watch_log(&self) -> tokio::sync::watch::Receiver<u64>;
    fn read_log(&self, since: u64, limit: u32) -> Result<Vec<LogEntry>, StoreError>;
    fn package_log(&self, name: &str, until: u64) -> Result<Vec<LogEntry>, StoreError>;
    fn get_release(&self, name: &str, version: &str) -> Result<Option<Release>, StoreError>;
    fn search(&self, query: &SearchQuery) -> Result<(Vec<Release>, Option<String>), StoreError>;
    fn stats(&self) -> Result<RegistryStats, StoreError>;
    fn log_checkpoint(&self) -> Result<String, StoreError>;
    fn log_key(&self) -> Result<String, StoreError>;
    fn log_inclusion(&self, seq: u64, tree_size: u64) -> Result<Vec<Hash>, StoreError>;
    fn log_consistency(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, StoreError>;
    fn find_release(&self, name: &str, version: &str) -> Result<Option<Release>, StoreError>;
    fn list_releases(&self, name: &str) -> Result<Vec<Release>, StoreError>;
    fn list_packages(&self, after: Option<&str>, limit: u32) -> Result<Vec<PackageSummary>, StoreError>;
    fn release_by_digest(&self, digest: &Digest) -> Result<Option<Release>, StoreError>;
    fn start_upload(&self) -> Result<String, StoreError>;
    fn open_upload(&self, id: &str) -> Result<Box<dyn UploadWrite>, StoreError>;
    fn upload_size(&self, id: &str) -> Result<u64, StoreError>;
    fn complete_upload(&self, id: &str, expected: &Digest) -> Result<Digest, StoreError>;
    fn cancel_upload(&self, id: &str) -> Result<(), StoreError>;
    fn put_oci_manifest(&self, manifest: OciManifest, tag: Option<&str>) -> Result<(), StoreError>;
    fn get_oci_manifest(&self, repository: &str, reference: &str) -> Result<Option<OciManifest>, StoreError>;
    fn list_oci_tags(&self, repository: &str) -> Result<Vec<String>, StoreError>;
    fn has_oci_content(&self, repository: &str) -> Result<bool, StoreError>;
    fn link_oci_blob(&self, repository: &str, digest: &str) -> Result<(), StoreError>;
    fn unlink_oci_blob(&self, repository: &str, digest: &str) -> Result<bool, StoreError>;
    fn oci_references(&self, repository: &str, digest: &str) -> Result<bool, StoreError>;
    fn delete_oci_manifest(&self, repository: &str, reference: &str) -> Result<bool, StoreError>;
    fn list_referrers(&self, repository: &str, subject: &str) -> Result<Vec<OciManifest>, StoreError>;
    fn authorize(&self, credential: Option<&str>, access: &Access) -> Result<TokenInfo, StoreError>;
    fn create_token(&self, grant: TokenGrant) -> Result<(TokenInfo, String), StoreError>;
    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;
    fn revoke_token(&self, id: &str) -> Result<TokenInfo, StoreError>;
    fn ensure_operator(&self) -> Result<Option<String>, StoreError>;
    fn namespace_trust(&self, namespace: &str) -> Result<SigningPolicy, StoreError>;
    fn put_pending(&self, release: &PendingRelease) -> Result<(), StoreError>;
    fn get_pending(&self, name: &str, version: &str) -> Result<Option<PendingRelease>, StoreError>;
}
