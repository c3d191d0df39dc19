//! The store capability (the interfaces of `wit/store.wit`): what the
//! runtime provides to the handler components, implemented natively on a [`Backend`](crate::host::Backend).
//!
//! Shaped like wasmtime's `wasi-keyvalue`: the `bindgen!` output stays private,
//! a [`StoreCtx`](crate::host::StoreCtx) lives in each request's `Store`, a borrowed
//! [`StoreView`](crate::host::StoreView)
//! implements the generated host traits, and
//! [`add_to_linker`](crate::host::add_to_linker) wires it up:
//!
//! ```ignore
//! struct Host { store: StoreCtx, table: ResourceTable, /* wasi, http */ }
//!
//! depot_store::host::add_to_linker(&mut linker, |h: &mut Host| StoreView::new(&h.store, &mut h.table))?;
//! ```
//!
//! Failures a handler can act on reach it as WIT `error` values; only bugs in
//! the host (a stale resource handle, say) trap.

mod backend;
#[cfg(all(test, feature = "rusqlite"))]
mod blob_tests;
mod cache;
#[cfg(feature = "rusqlite")]
pub mod embedded;
pub mod files;
pub mod gc;
pub mod kv_blobs;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(all(feature = "rusqlite", feature = "postgres", feature = "s3"))]
pub mod shared;
mod sql_backend;

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{HasData, Linker, Resource, ResourceTable, ResourceTableError};

use crate::entries::MAX_PAGE;

pub use self::backend::{Backend, BlobRead, BlobWrite, MAX_CHUNK, UploadWrite};
pub use self::sql_backend::{BlobStore, SMALL_BLOB, SqlBackend, StoredBlob, Wakeup};
pub use crate::StoreError;
/// The WIT `error` a store call returns: what a host calling a store
/// component's exports gets back.
pub use crate::types::Error as WitError;
use crate::types::{
    Access, Entry, LogEntry, OciManifest, PackageSummary, PendingRelease, RegistryStats, Release,
    SearchPage, SearchQuery, SigningPolicy, TokenGrant, TokenInfo,
};

#[allow(missing_docs)]
pub(crate) mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "depot:registry/runtime",
        imports: {
            "depot:registry/log-read.wait-log": async | trappable,
            default: trappable,
        },
        with: {
            "depot:registry/blob-write.blob-writer": super::BlobWriter,
            "depot:registry/blob-read.blob-reader": super::BlobReader,
            "depot:registry/uploads.upload-writer": super::UploadWriter,
        },
        trappable_error_type: {
            "depot:registry/types.error" => super::CallError,
        },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, Eq],
    });
}

use self::generated::depot::registry::{
    access as wit_access, blob_read as wit_blob_read, blob_write as wit_blob_write,
    index as wit_index, log_append as wit_log_append, log_read as wit_log_read,
    oci_read as wit_oci_read, oci_write as wit_oci_write, pending_read as wit_pending_read,
    pending_write as wit_pending_write, tokens as wit_tokens, transparency as wit_transparency,
    types as wit_types, uploads as wit_uploads,
};

/// How long before the request's deadline `wait-log` gives up, so the
/// handler has time to answer.
const WAIT_MARGIN: Duration = Duration::from_millis(500);

/// Told the surrogate keys (`depot_protocol::surrogate`) a write may have
/// changed, before the write's result goes back to the handler, so before
/// its client hears of it: the host's response cache drops every response
/// naming one.
pub type Purge = Arc<dyn Fn(&[String]) + Send + Sync>;

/// Per-request state of the store capability: which backend to use, when
/// the request must be answered by, and whom its writes purge.
#[derive(Clone)]
pub struct StoreCtx {
    backend: Arc<dyn Backend>,
    deadline: Option<Instant>,
    purge: Option<Purge>,
}

impl StoreCtx {
    /// A context whose calls go to `backend`.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        Self {
            backend,
            deadline: None,
            purge: None,
        }
    }

    /// This context, its writes purging through `purge`.
    #[must_use]
    pub fn with_purge(mut self, purge: Purge) -> Self {
        self.purge = Some(purge);
        self
    }

    /// This context for a request that must be answered by `deadline`.
    pub fn with_deadline(&self, deadline: Instant) -> Self {
        Self {
            backend: self.backend.clone(),
            deadline: Some(deadline),
            purge: self.purge.clone(),
        }
    }

    /// Purges `keys`, whether or not the write they name succeeded: one that
    /// failed late (its commit's answer lost) may still have landed.
    fn purge(&self, keys: &[String]) {
        if let Some(purge) = &self.purge {
            purge(keys);
        }
    }

    /// Purges what changing the OCI repository of package `repository` may
    /// change.
    fn purge_repository(&self, repository: &str) {
        self.purge(&[depot_protocol::surrogate::package(repository)]);
    }
}

/// A borrowed view of a request's store state; implements the generated host traits.
pub struct StoreView<'a> {
    ctx: &'a StoreCtx,
    table: &'a mut ResourceTable,
}

impl<'a> StoreView<'a> {
    /// A view of `ctx`, with resources kept in `table`.
    pub fn new(ctx: &'a StoreCtx, table: &'a mut ResourceTable) -> Self {
        Self { ctx, table }
    }
}

/// Adds every store interface of `wit/store.wit` (and the `types` they use)
/// to `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    f: fn(&mut T) -> StoreView<'_>,
) -> wasmtime::Result<()> {
    wit_types::add_to_linker::<_, HasStore>(linker, f)?;
    wit_blob_read::add_to_linker::<_, HasStore>(linker, f)?;
    wit_blob_write::add_to_linker::<_, HasStore>(linker, f)?;
    wit_uploads::add_to_linker::<_, HasStore>(linker, f)?;
    wit_oci_read::add_to_linker::<_, HasStore>(linker, f)?;
    wit_oci_write::add_to_linker::<_, HasStore>(linker, f)?;
    wit_log_read::add_to_linker::<_, HasStore>(linker, f)?;
    wit_log_append::add_to_linker::<_, HasStore>(linker, f)?;
    wit_index::add_to_linker::<_, HasStore>(linker, f)?;
    wit_transparency::add_to_linker::<_, HasStore>(linker, f)?;
    wit_pending_read::add_to_linker::<_, HasStore>(linker, f)?;
    wit_pending_write::add_to_linker::<_, HasStore>(linker, f)?;
    wit_access::add_to_linker::<_, HasStore>(linker, f)?;
    wit_tokens::add_to_linker::<_, HasStore>(linker, f)?;
    Ok(())
}

struct HasStore;

impl HasData for HasStore {
    type Data<'a> = StoreView<'a>;
}

/// The host side of a `blob-writer` resource.
pub struct BlobWriter(Box<dyn BlobWrite>);

/// The host side of a `blob-reader` resource.
pub struct BlobReader(Box<dyn BlobRead>);

/// The host side of an `upload-writer` resource.
pub struct UploadWriter(Box<dyn UploadWrite>);

/// What a resource or view is, for logs: their state is a backend's.
macro_rules! opaque_debug {
    ($($ty:ty),*) => {$(
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($ty)).finish_non_exhaustive()
            }
        }
    )*};
}

opaque_debug!(
    StoreCtx,
    StoreView<'_>,
    BlobWriter,
    BlobReader,
    UploadWriter
);

/// Why a store call failed: an expected failure, returned to the handler as a
/// WIT `error`, or a host bug, which traps.
#[doc(hidden)]
#[derive(Debug)]
pub enum CallError {
    Store(StoreError),
    Trap(wasmtime::Error),
}

impl From<StoreError> for CallError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<ResourceTableError> for CallError {
    fn from(e: ResourceTableError) -> Self {
        Self::Trap(e.into())
    }
}

impl From<depot_protocol::ParseError> for CallError {
    fn from(e: depot_protocol::ParseError) -> Self {
        Self::Store(e.into())
    }
}

impl wit_types::Host for StoreView<'_> {
    fn convert_error(&mut self, err: CallError) -> wasmtime::Result<wit_types::Error> {
        match err {
            CallError::Store(err) => Ok(err.into()),
            CallError::Trap(trap) => Err(trap),
        }
    }
}

impl wit_blob_read::Host for StoreView<'_> {
    fn max_chunk(&mut self) -> wasmtime::Result<u32> {
        Ok(MAX_CHUNK)
    }

    fn open_blob(
        &mut self,
        digest: String,
        offset: u64,
    ) -> Result<Resource<BlobReader>, CallError> {
        let reader = self.ctx.backend.open_blob(&digest.parse()?, offset)?;
        Ok(self.table.push(BlobReader(reader))?)
    }
}

impl wit_blob_write::Host for StoreView<'_> {
    fn max_chunk(&mut self) -> wasmtime::Result<u32> {
        Ok(MAX_CHUNK)
    }

    fn create_blob(&mut self) -> Result<Resource<BlobWriter>, CallError> {
        let writer = self.ctx.backend.create_blob()?;
        Ok(self.table.push(BlobWriter(writer))?)
    }
}

impl wit_uploads::Host for StoreView<'_> {
    fn start_upload(&mut self) -> Result<String, CallError> {
        Ok(self.ctx.backend.start_upload()?)
    }

    fn open_upload(&mut self, id: String) -> Result<Resource<UploadWriter>, CallError> {
        let writer = self.ctx.backend.open_upload(&id)?;
        Ok(self.table.push(UploadWriter(writer))?)
    }

    fn complete_upload(&mut self, id: String, expected: String) -> Result<String, CallError> {
        let digest = self.ctx.backend.complete_upload(&id, &expected.parse()?)?;
        Ok(digest.to_string())
    }

    fn cancel_upload(&mut self, id: String) -> Result<(), CallError> {
        Ok(self.ctx.backend.cancel_upload(&id)?)
    }
}

impl wit_oci_read::Host for StoreView<'_> {
    fn get_oci_manifest(
        &mut self,
        repository: String,
        reference: String,
    ) -> Result<Option<OciManifest>, CallError> {
        Ok(self.backend().get_oci_manifest(&repository, &reference)?)
    }

    fn list_oci_tags(&mut self, repository: String) -> Result<Vec<String>, CallError> {
        Ok(self.backend().list_oci_tags(&repository)?)
    }

    fn has_oci_content(&mut self, repository: String) -> Result<bool, CallError> {
        Ok(self.backend().has_oci_content(&repository)?)
    }

    fn oci_references(&mut self, repository: String, digest: String) -> Result<bool, CallError> {
        Ok(self.backend().oci_references(&repository, &digest)?)
    }

    fn list_referrers(
        &mut self,
        repository: String,
        subject: String,
    ) -> Result<Vec<OciManifest>, CallError> {
        Ok(self.backend().list_referrers(&repository, &subject)?)
    }

    fn upload_size(&mut self, id: String) -> Result<u64, CallError> {
        Ok(self.ctx.backend.upload_size(&id)?)
    }
}

impl wit_oci_write::Host for StoreView<'_> {
    fn put_oci_manifest(
        &mut self,
        manifest: OciManifest,
        tag: Option<String>,
    ) -> Result<(), CallError> {
        let repository = manifest.repository.clone();
        let put = self.backend().put_oci_manifest(manifest, tag.as_deref());
        self.ctx.purge_repository(&repository);
        Ok(put?)
    }

    fn link_oci_blob(&mut self, repository: String, digest: String) -> Result<(), CallError> {
        let linked = self.backend().link_oci_blob(&repository, &digest);
        self.ctx.purge_repository(&repository);
        Ok(linked?)
    }

    fn unlink_oci_blob(&mut self, repository: String, digest: String) -> Result<bool, CallError> {
        let unlinked = self.backend().unlink_oci_blob(&repository, &digest);
        self.ctx.purge_repository(&repository);
        Ok(unlinked?)
    }

    fn delete_oci_manifest(
        &mut self,
        repository: String,
        reference: String,
    ) -> Result<bool, CallError> {
        let deleted = self.backend().delete_oci_manifest(&repository, &reference);
        self.ctx.purge_repository(&repository);
        Ok(deleted?)
    }
}

impl wit_log_read::Host for StoreView<'_> {
    fn package_head(&mut self, name: String) -> Result<u64, CallError> {
        Ok(self.ctx.backend.package_head(&name)?)
    }

    fn read_log(&mut self, since: u64, limit: u32) -> Result<Vec<LogEntry>, CallError> {
        Ok(self.ctx.backend.read_log(since, limit.min(MAX_PAGE))?)
    }

    fn package_log(&mut self, name: String, until: u64) -> Result<Vec<LogEntry>, CallError> {
        Ok(self.ctx.backend.package_log(&name, until)?)
    }

    async fn wait_log(&mut self, since: u64, timeout_ms: u32) -> Result<bool, CallError> {
        let mut head = self.ctx.backend.watch_log();
        let mut until = Instant::now() + Duration::from_millis(timeout_ms.into());
        if let Some(deadline) = self.ctx.deadline {
            until = until.min(deadline.checked_sub(WAIT_MARGIN).unwrap_or(deadline));
        }
        loop {
            if *head.borrow_and_update() > since {
                return Ok(true);
            }
            match tokio::time::timeout_at(until.into(), head.changed()).await {
                Ok(Ok(())) => {}
                // The deadline passed, or the store is shutting down.
                Ok(Err(_)) | Err(_) => return Ok(false),
            }
        }
    }
}

impl wit_log_append::Host for StoreView<'_> {
    fn append(&mut self, entry: Entry, expected_head: u64) -> Result<LogEntry, CallError> {
        let keys = depot_protocol::surrogate::purged_by_entry(&entry.name);
        let appended = self.ctx.backend.append(entry, expected_head);
        self.ctx.purge(&keys);
        Ok(appended?)
    }
}

impl wit_index::Host for StoreView<'_> {
    fn get_release(&mut self, name: String, version: String) -> Result<Option<Release>, CallError> {
        Ok(self.ctx.backend.get_release(&name, &version)?)
    }

    fn find_release(
        &mut self,
        name: String,
        version: String,
    ) -> Result<Option<Release>, CallError> {
        Ok(self.ctx.backend.find_release(&name, &version)?)
    }

    fn list_releases(&mut self, name: String) -> Result<Vec<Release>, CallError> {
        Ok(self.ctx.backend.list_releases(&name)?)
    }

    fn list_packages(
        &mut self,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<PackageSummary>, CallError> {
        Ok(self
            .ctx
            .backend
            .list_packages(after.as_deref(), limit.min(MAX_PAGE))?)
    }

    fn search(&mut self, query: SearchQuery) -> Result<SearchPage, CallError> {
        let (releases, next) = self.ctx.backend.search(&query)?;
        Ok(SearchPage { releases, next })
    }

    fn stats(&mut self) -> Result<RegistryStats, CallError> {
        Ok(self.ctx.backend.stats()?)
    }

    fn release_by_digest(&mut self, digest: String) -> Result<Option<Release>, CallError> {
        Ok(self.ctx.backend.release_by_digest(&digest.parse()?)?)
    }

    fn namespace_trust(&mut self, namespace: String) -> Result<SigningPolicy, CallError> {
        Ok(self.backend().namespace_trust(&namespace)?)
    }
}

impl wit_transparency::Host for StoreView<'_> {
    fn log_checkpoint(&mut self) -> Result<String, CallError> {
        Ok(self.ctx.backend.log_checkpoint()?)
    }

    fn log_key(&mut self) -> Result<String, CallError> {
        Ok(self.ctx.backend.log_key()?)
    }

    fn log_inclusion(&mut self, seq: u64, tree_size: u64) -> Result<Vec<String>, CallError> {
        let proof = self.ctx.backend.log_inclusion(seq, tree_size)?;
        Ok(proof.iter().map(|hash| hash.to_base64()).collect())
    }

    fn log_consistency(&mut self, old_size: u64, new_size: u64) -> Result<Vec<String>, CallError> {
        let proof = self.ctx.backend.log_consistency(old_size, new_size)?;
        Ok(proof.iter().map(|hash| hash.to_base64()).collect())
    }
}

impl wit_pending_read::Host for StoreView<'_> {
    fn get_pending(
        &mut self,
        name: String,
        version: String,
    ) -> Result<Option<PendingRelease>, CallError> {
        Ok(self.backend().get_pending(&name, &version)?)
    }
}

impl wit_pending_write::Host for StoreView<'_> {
    fn put_pending(&mut self, release: PendingRelease) -> Result<(), CallError> {
        Ok(self.backend().put_pending(&release)?)
    }
}

impl wit_access::Host for StoreView<'_> {
    fn authorize(
        &mut self,
        credential: Option<String>,
        access: Access,
    ) -> Result<TokenInfo, CallError> {
        Ok(self.backend().authorize(credential.as_deref(), &access)?)
    }

    fn list_tokens(&mut self) -> Result<Vec<TokenInfo>, CallError> {
        Ok(self.backend().list_tokens()?)
    }
}

impl wit_tokens::Host for StoreView<'_> {
    fn create_token(&mut self, grant: TokenGrant) -> Result<(TokenInfo, String), CallError> {
        Ok(self.backend().create_token(grant)?)
    }

    fn revoke_token(&mut self, id: String) -> Result<TokenInfo, CallError> {
        Ok(self.backend().revoke_token(&id)?)
    }
}

impl StoreView<'_> {
    fn backend(&self) -> &dyn Backend {
        self.ctx.backend.as_ref()
    }
}

impl wit_uploads::HostUploadWriter for StoreView<'_> {
    fn write(&mut self, writer: Resource<UploadWriter>, chunk: Vec<u8>) -> Result<(), CallError> {
        Ok(self.table.get_mut(&writer)?.0.write(&chunk)?)
    }

    fn size(&mut self, writer: Resource<UploadWriter>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&writer)?.0.size())
    }

    fn drop(&mut self, writer: Resource<UploadWriter>) -> wasmtime::Result<()> {
        self.table.delete(writer)?;
        Ok(())
    }
}

impl wit_blob_write::HostBlobWriter for StoreView<'_> {
    fn write(&mut self, writer: Resource<BlobWriter>, chunk: Vec<u8>) -> Result<(), CallError> {
        Ok(self.table.get_mut(&writer)?.0.write(&chunk)?)
    }

    fn finish(&mut self, writer: Resource<BlobWriter>) -> Result<String, CallError> {
        Ok(self.table.get_mut(&writer)?.0.finish()?.to_string())
    }

    fn drop(&mut self, writer: Resource<BlobWriter>) -> wasmtime::Result<()> {
        self.table.delete(writer)?;
        Ok(())
    }
}

impl wit_blob_read::HostBlobReader for StoreView<'_> {
    fn size(&mut self, reader: Resource<BlobReader>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&reader)?.0.size())
    }

    fn read(&mut self, reader: Resource<BlobReader>, len: u32) -> Result<Vec<u8>, CallError> {
        Ok(self.table.get_mut(&reader)?.0.read(len)?)
    }

    fn drop(&mut self, reader: Resource<BlobReader>) -> wasmtime::Result<()> {
        self.table.delete(reader)?;
        Ok(())
    }
}
