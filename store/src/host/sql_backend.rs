//! The native [`Backend`]: the store's logic over a pool of SQL connections
//! (one writer, a few readers) and a [`BlobStore`] for content.
//!
//! Each connection is a [`Db`] of the same logic every other build of the
//! store runs (spin-store's, on Spin's SQLite); this module adds only what a
//! long-lived native process keeps between requests: the connections, the
//! decoded releases recently read ([`ReleaseCache`]), the log's head for
//! those waiting on it, and blobs small enough to keep in the database
//! (OCI manifests and configs, mostly: one commit makes such a blob durable,
//! where a file costs a create, two fsyncs and a rename).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, SystemTime};

use depot_protocol::Digest;
use depot_protocol::tlog::Hash;
use tokio::sync::watch;

use super::backend::{Backend, BlobRead, BlobWrite, MAX_CHUNK, UploadWrite};
use super::cache::ReleaseCache;
use super::files;
use crate::db::{Db, params};
use crate::error::StoreError;
use crate::types::{
    Access, Action, Entry, LogEntry, OciManifest, PackageSummary, PendingRelease, RegistryStats,
    Release, SearchQuery, SigningPolicy, TokenGrant, TokenInfo,
};
use crate::{entries, log, oci, search, sql, tlog, tokens};

pub use crate::blobs::SMALL_BLOB;

/// The blob driver of a native backend: content-addressed blobs, written
/// create-only under their digest, read from any offset, and uploads that
/// span requests.
pub trait BlobStore: Send + Sync + 'static {
    /// Starts a new blob; `finish` makes it durable under its SHA-256.
    fn create(&self) -> Result<Box<dyn BlobWrite>, StoreError>;

    /// Opens blob `digest` at byte `offset`; `not-found` when it is absent.
    fn open(&self, digest: &Digest, offset: u64) -> Result<Box<dyn BlobRead>, StoreError>;

    /// Removes blob `digest`; an absent one is no error.
    fn remove(&self, digest: &Digest) -> Result<(), StoreError>;

    /// See [`Backend::start_upload`].
    fn start_upload(&self) -> Result<String, StoreError>;

    /// See [`Backend::open_upload`].
    fn open_upload(&self, id: &str) -> Result<Box<dyn UploadWrite>, StoreError>;

    /// See [`Backend::upload_size`].
    fn upload_size(&self, id: &str) -> Result<u64, StoreError>;

    /// See [`Backend::complete_upload`].
    fn complete_upload(&self, id: &str, expected: &Digest) -> Result<Digest, StoreError>;

    /// See [`Backend::cancel_upload`].
    fn cancel_upload(&self, id: &str) -> Result<(), StoreError>;

    /// Every blob stored, with its size and when it was last written (a
    /// write of content stored already counts), for garbage collection.
    fn list(&self) -> Result<Vec<StoredBlob>, StoreError> {
        Err(no_gc())
    }

    /// When blob `digest` was last written; `None` when it is absent.
    fn modified(&self, _digest: &Digest) -> Result<Option<SystemTime>, StoreError> {
        Err(no_gc())
    }

    /// The uploads not written to since `before`: their ids and sizes.
    fn abandoned_uploads(&self, _before: SystemTime) -> Result<Vec<(String, u64)>, StoreError> {
        Err(no_gc())
    }
}

/// A blob in a [`BlobStore`], as garbage collection sees it.
#[derive(Debug, Clone)]
pub struct StoredBlob {
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written.
    pub modified: SystemTime,
}

fn no_gc() -> StoreError {
    StoreError::BadRequest(
        "this registry's blob store cannot list its blobs, so it cannot be garbage-collected \
         (a Spin build's key-value store); collect it with the registry's native storage"
            .into(),
    )
}

/// The SQL connections of one backend.
pub(super) struct Pool {
    /// Every write goes through this one, so writes of this process queue
    /// here rather than on the database's lock.
    writer: Mutex<Db>,
    /// Reads run on these, in parallel with each other and the writer.
    readers: Vec<Mutex<Db>>,
    next_reader: AtomicUsize,
}

fn lock(mutex: &Mutex<Db>) -> MutexGuard<'_, Db> {
    // A panic while holding a connection leaves no transaction open (the
    // transaction is rolled back when its body fails), so it is still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Pool {
    pub(super) fn writer(&self) -> MutexGuard<'_, Db> {
        lock(&self.writer)
    }

    /// A free reader connection, or the next one in turn if all are busy.
    pub(super) fn reader(&self) -> MutexGuard<'_, Db> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..self.readers.len() {
            match self.readers[(start + i) % self.readers.len()].try_lock() {
                Ok(db) => return db,
                Err(TryLockError::Poisoned(e)) => return e.into_inner(),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        lock(&self.readers[start % self.readers.len()])
    }
}

/// The store's logic on native drivers.
pub struct SqlBackend {
    pub(super) pool: Arc<Pool>,
    pub(super) blobs: Arc<dyn BlobStore>,
    seen: Arc<Seen>,
    /// Whether releases read are kept decoded: only while this process is
    /// the database's one writer. On a shared database another instance's
    /// change would reach the cache only with its notification, a moment
    /// after its commit, so every read goes to the database.
    cache_releases: bool,
}

/// What this process keeps of the log between requests, kept current by its
/// own appends and, on a shared database, by its follower.
struct Seen {
    releases: ReleaseCache,
    /// The sequence number of the last entry, for those waiting for the next.
    head: watch::Sender<u64>,
}

impl Seen {
    /// Entries up to `seq` have landed: wake those waiting, never going back.
    fn advance(&self, seq: u64) {
        self.head.send_if_modified(|head| {
            let newer = seq > *head;
            if newer {
                *head = seq;
            }
            newer
        });
    }
}

/// Wakes a backend's follower when another instance may have appended to
/// the shared database (PostgreSQL's `LISTEN`).
pub trait Wakeup: Send + 'static {
    /// Returns after a notification, or once `timeout` has passed.
    fn wait(&mut self, timeout: Duration);
}

/// How often a follower reads the log when no notification comes: the
/// longest another instance's append goes unseen here.
pub const FOLLOW_POLL: Duration = Duration::from_secs(1);

impl std::fmt::Debug for SqlBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlBackend")
            .field("readers", &self.pool.readers.len())
            .field("head", &*self.seen.head.borrow())
            .finish_non_exhaustive()
    }
}

impl SqlBackend {
    /// A backend over `writer` (opened with [`crate::open`], so its schema is
    /// up to date), `readers` (opened with [`crate::open_reader`]; at least
    /// one) and `blobs`.
    pub fn new(
        writer: Db,
        readers: Vec<Db>,
        blobs: Arc<dyn BlobStore>,
    ) -> Result<Self, StoreError> {
        assert!(!readers.is_empty(), "a backend needs a reader connection");
        let head = writer
            .one(sql::LAST_SEQ, &[], "reading the log head")?
            .u64(0)?;
        Ok(Self {
            pool: Arc::new(Pool {
                writer: Mutex::new(writer),
                readers: readers.into_iter().map(Mutex::new).collect(),
                next_reader: AtomicUsize::new(0),
            }),
            blobs,
            seen: Arc::new(Seen {
                releases: ReleaseCache::default(),
                head: watch::Sender::new(head),
            }),
            cache_releases: true,
        })
    }

    /// Follows the log as other instances append to the shared database,
    /// on a thread of its own reading through `db`: each entry another
    /// instance appends wakes those waiting for the log (the feed's long poll
    /// and stream), within moments of a `wakeup` and at most `FOLLOW_POLL`
    /// without one. The thread ends with the backend.
    /// Reads of releases then always go to the database, so no instance
    /// answers with what another has changed since.
    pub fn follow(&mut self, db: Db, mut wakeup: Box<dyn Wakeup>) -> Result<(), StoreError> {
        self.cache_releases = false;
        let seen = Arc::downgrade(&self.seen);
        let mut cursor = *self.seen.head.borrow();
        std::thread::Builder::new()
            .name("depot-follow".into())
            .spawn(move || {
                loop {
                    wakeup.wait(FOLLOW_POLL);
                    let Some(seen) = seen.upgrade() else { return };
                    match entries::read_log(&db, cursor, crate::entries::MAX_PAGE) {
                        // No releases to forget: following turned the cache off.
                        Ok(landed) => {
                            if let Some(last) = landed.last() {
                                cursor = last.seq;
                                seen.advance(cursor);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(error = ?e, "cannot read the log's new entries");
                        }
                    }
                }
            })
            .map_err(|e| StoreError::storage("starting the log follower", e))?;
        Ok(())
    }

    /// Appends through `commit` on the writer, then what follows a commit:
    /// the cache forgets the package (still holding the writer, so no later
    /// write's forgetting comes first), waiters wake, and a takedown's
    /// content goes.
    fn commit(
        &self,
        commit: impl FnOnce(&Db) -> Result<LogEntry, StoreError>,
    ) -> Result<LogEntry, StoreError> {
        let writer = self.pool.writer();
        let logged = commit(&writer)?;
        self.seen.releases.forget(&logged.entry.name);
        self.seen.advance(logged.seq);
        if matches!(logged.entry.action, Action::Takedown(_)) {
            self.remove_taken_down_content(&writer, &logged);
        }
        Ok(logged)
    }

    /// Refuses a release whose content, OCI manifest or config is not
    /// stored. Run inside the append's transaction, under the database's
    /// write lock, which garbage collection holds while it removes blobs: a
    /// release never lands naming a blob collected a moment before.
    fn check_content(&self, tx: &Db, entry: &Entry) -> Result<(), StoreError> {
        let Action::Release(content) = &entry.action else {
            return Ok(());
        };
        self.check_stored(tx, &content.digest)?;
        if let Some(oci) = &content.oci {
            self.check_stored(tx, &oci.manifest)?;
            self.check_stored(tx, &oci.config)?;
        }
        Ok(())
    }

    /// `not-found` unless blob `digest` is stored, in the blob store or the
    /// database (read through `tx`).
    fn check_stored(&self, tx: &Db, digest: &str) -> Result<(), StoreError> {
        let parsed: Digest = digest.parse()?;
        match self.blobs.open(&parsed, 0) {
            Ok(_) => return Ok(()),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let small = tx.optional(
            sql::SMALL_BLOB_STORED,
            params![digest],
            "checking that content is stored",
        )?;
        match small {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound(format!(
                "content {digest} is not stored (it was removed as unreferenced, perhaps by \
                 garbage collection, after it was written); upload it again and retry"
            ))),
        }
    }

    /// Removes the content of the release `logged` took down, unless a
    /// release still up has the same content. The takedown is durable by
    /// now; a failure here only leaves bytes that no route serves (every
    /// content route checks for a takedown first), so it is logged.
    fn remove_taken_down_content(&self, db: &Db, logged: &LogEntry) {
        let Entry { name, version, .. } = &logged.entry;
        let removed = (|| -> Result<(), StoreError> {
            let Some(release) = log::get_release(db, name, version)? else {
                return Ok(());
            };
            if log::content_in_use(db, &release.digest)? {
                return Ok(());
            }
            let digest: Digest = release.digest.parse()?;
            self.blobs.remove(&digest)?;
            db.execute(
                sql::REMOVE_SMALL_BLOB,
                params![digest.as_str()],
                "removing a small blob",
            )
        })();
        if let Err(e) = removed {
            tracing::warn!(%name, %version, error = %e, "cannot remove the content of a release taken down");
        }
    }
}

impl Backend for SqlBackend {
    fn create_blob(&self) -> Result<Box<dyn BlobWrite>, StoreError> {
        Ok(Box::new(SmallFirstWriter {
            state: WriterState::Small(Vec::new()),
            blobs: self.blobs.clone(),
            pool: self.pool.clone(),
        }))
    }

    fn open_blob(&self, digest: &Digest, offset: u64) -> Result<Box<dyn BlobRead>, StoreError> {
        match self.blobs.open(digest, offset) {
            Err(StoreError::NotFound(message)) => {
                let small = self.pool.reader().optional(
                    sql::GET_SMALL_BLOB,
                    params![digest.as_str()],
                    "reading a small blob",
                )?;
                match small {
                    Some(row) => Ok(Box::new(SmallBlobReader::new(
                        digest,
                        row.bytes(0)?,
                        offset,
                    )?)),
                    None => Err(StoreError::NotFound(message)),
                }
            }
            other => other,
        }
    }

    fn package_head(&self, name: &str) -> Result<u64, StoreError> {
        log::package_head(&self.pool.reader(), name)
    }

    fn append(&self, entry: Entry, expected_head: u64) -> Result<LogEntry, StoreError> {
        self.commit(|db| {
            log::append_checked(db, entry, expected_head, |tx, entry| {
                self.check_content(tx, entry)
            })
        })
    }

    fn replicate(&self, logged: LogEntry) -> Result<LogEntry, StoreError> {
        // Unchecked: a mirror replicates a release whose content the origin
        // has taken down (its takedown entry follows) without that content.
        self.commit(|db| log::replicate(db, logged))
    }

    fn watch_log(&self) -> watch::Receiver<u64> {
        self.seen.head.subscribe()
    }

    fn read_log(&self, since: u64, limit: u32) -> Result<Vec<LogEntry>, StoreError> {
        entries::read_log(&self.pool.reader(), since, limit)
    }

    fn package_log(&self, name: &str, until: u64) -> Result<Vec<LogEntry>, StoreError> {
        entries::package_log(&self.pool.reader(), name, until)
    }

    fn get_release(&self, name: &str, version: &str) -> Result<Option<Release>, StoreError> {
        if !self.cache_releases {
            return log::get_release(&self.pool.reader(), name, version);
        }
        let generation = match self.seen.releases.get(name, version) {
            Ok(release) => return Ok(Some(release)),
            Err(generation) => generation,
        };
        let release = log::get_release(&self.pool.reader(), name, version)?;
        if let Some(release) = &release {
            self.seen.releases.insert(generation, release);
        }
        Ok(release)
    }

    fn search(&self, query: &SearchQuery) -> Result<(Vec<Release>, Option<String>), StoreError> {
        search::search(&self.pool.reader(), query)
    }

    fn stats(&self) -> Result<RegistryStats, StoreError> {
        log::stats(&self.pool.reader())
    }

    fn log_checkpoint(&self) -> Result<String, StoreError> {
        tlog::checkpoint(&self.pool.reader())?
            .ok_or_else(|| StoreError::storage("reading the checkpoint", "none was signed"))
    }

    fn log_key(&self) -> Result<String, StoreError> {
        Ok(tlog::signer(&self.pool.reader())?.verifier().to_string())
    }

    fn log_inclusion(&self, seq: u64, tree_size: u64) -> Result<Vec<Hash>, StoreError> {
        tlog::inclusion(&self.pool.reader(), seq, tree_size)
    }

    fn log_consistency(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, StoreError> {
        tlog::consistency(&self.pool.reader(), old_size, new_size)
    }

    fn find_release(&self, name: &str, version: &str) -> Result<Option<Release>, StoreError> {
        log::find_release(&self.pool.reader(), name, version)
    }

    fn list_releases(&self, name: &str) -> Result<Vec<Release>, StoreError> {
        log::list_releases(&self.pool.reader(), name)
    }

    fn list_packages(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<PackageSummary>, StoreError> {
        log::list_packages(&self.pool.reader(), after, limit)
    }

    fn release_by_digest(&self, digest: &Digest) -> Result<Option<Release>, StoreError> {
        log::release_by_digest(&self.pool.reader(), digest.as_str())
    }

    fn start_upload(&self) -> Result<String, StoreError> {
        self.blobs.start_upload()
    }

    fn open_upload(&self, id: &str) -> Result<Box<dyn UploadWrite>, StoreError> {
        self.blobs.open_upload(id)
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
        oci::put_manifest_checked(&self.pool.writer(), &manifest, tag, |tx| {
            std::iter::once(&manifest.digest)
                .chain(&manifest.references)
                .try_for_each(|digest| self.check_stored(tx, digest))
        })
    }

    fn get_oci_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<OciManifest>, StoreError> {
        oci::get_manifest(&self.pool.reader(), repository, reference)
    }

    fn list_oci_tags(&self, repository: &str) -> Result<Vec<String>, StoreError> {
        oci::list_tags(&self.pool.reader(), repository)
    }

    fn has_oci_content(&self, repository: &str) -> Result<bool, StoreError> {
        oci::has_content(&self.pool.reader(), repository)
    }

    fn link_oci_blob(&self, repository: &str, digest: &str) -> Result<(), StoreError> {
        self.pool
            .writer()
            .transaction("linking a blob to a repository", |tx| {
                self.check_stored(tx, digest)?;
                oci::link_blob(tx, repository, digest)
            })
    }

    fn unlink_oci_blob(&self, repository: &str, digest: &str) -> Result<bool, StoreError> {
        oci::unlink_blob(&self.pool.writer(), repository, digest)
    }

    fn oci_references(&self, repository: &str, digest: &str) -> Result<bool, StoreError> {
        oci::references(&self.pool.reader(), repository, digest)
    }

    fn delete_oci_manifest(&self, repository: &str, reference: &str) -> Result<bool, StoreError> {
        oci::delete_manifest(&self.pool.writer(), repository, reference)
    }

    fn list_referrers(
        &self,
        repository: &str,
        subject: &str,
    ) -> Result<Vec<OciManifest>, StoreError> {
        oci::list_referrers(&self.pool.reader(), repository, subject)
    }

    fn authorize(
        &self,
        credential: Option<&str>,
        access: &Access,
    ) -> Result<TokenInfo, StoreError> {
        tokens::authorize(&self.pool.reader(), credential, access, None)
    }

    fn create_token(&self, grant: TokenGrant) -> Result<(TokenInfo, String), StoreError> {
        tokens::create(&self.pool.writer(), grant)
    }

    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        tokens::list(&self.pool.reader())
    }

    fn revoke_token(&self, id: &str) -> Result<TokenInfo, StoreError> {
        tokens::revoke(&self.pool.writer(), id)
    }

    fn ensure_operator(&self) -> Result<Option<String>, StoreError> {
        tokens::ensure_operator(&self.pool.writer())
    }

    fn namespace_trust(&self, namespace: &str) -> Result<SigningPolicy, StoreError> {
        log::namespace_trust(&self.pool.reader(), namespace)
    }

    fn put_pending(&self, release: &PendingRelease) -> Result<(), StoreError> {
        log::put_pending(&self.pool.writer(), release)
    }

    fn get_pending(&self, name: &str, version: &str) -> Result<Option<PendingRelease>, StoreError> {
        log::get_pending(&self.pool.reader(), name, version)
    }
}

/// A new blob: held in memory while it is at most [`SMALL_BLOB`] bytes and
/// then kept in the database, else streamed to the blob store.
struct SmallFirstWriter {
    state: WriterState,
    blobs: Arc<dyn BlobStore>,
    pool: Arc<Pool>,
}

enum WriterState {
    /// The bytes so far, while the blob is small.
    Small(Vec<u8>),
    /// Past [`SMALL_BLOB`]: in the blob store, whose writer knows when it is finished.
    Large(Box<dyn BlobWrite>),
    /// A small blob, finished.
    Finished,
}

impl BlobWrite for SmallFirstWriter {
    fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        if let WriterState::Small(small) = &mut self.state {
            if small.len() + chunk.len() <= SMALL_BLOB {
                small.extend_from_slice(chunk);
                return Ok(());
            }
            let mut large = self.blobs.create()?;
            large.write(small)?;
            self.state = WriterState::Large(large);
        }
        match &mut self.state {
            WriterState::Large(large) => large.write(chunk),
            _ => Err(files::finished()),
        }
    }

    fn finish(&mut self) -> Result<Digest, StoreError> {
        match &mut self.state {
            WriterState::Small(small) => {
                let small = std::mem::take(small);
                self.state = WriterState::Finished;
                let digest = files::sha256(&small)?;
                self.pool.writer().execute(
                    sql::PUT_SMALL_BLOB,
                    params![digest.as_str(), small.as_slice(), entries::now_millis()],
                    "storing a small blob",
                )?;
                Ok(digest)
            }
            WriterState::Large(large) => large.finish(),
            WriterState::Finished => Err(files::finished()),
        }
    }
}

/// A small blob read from the database.
struct SmallBlobReader {
    bytes: Vec<u8>,
    position: usize,
}

impl SmallBlobReader {
    fn new(digest: &Digest, bytes: Vec<u8>, offset: u64) -> Result<Self, StoreError> {
        let size = bytes.len();
        match usize::try_from(offset) {
            Ok(position) if position <= size => Ok(Self { bytes, position }),
            _ => Err(files::offset_past_end(digest, offset, size as u64)),
        }
    }
}

impl BlobRead for SmallBlobReader {
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn read(&mut self, len: u32) -> Result<Vec<u8>, StoreError> {
        let len = len.min(MAX_CHUNK) as usize;
        let end = self.bytes.len().min(self.position + len);
        let chunk = self.bytes[self.position..end].to_vec();
        self.position = end;
        Ok(chunk)
    }
}
