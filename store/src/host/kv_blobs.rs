//! The key-value blob driver natively: the blobs of a Spin build (chunks in
//! a key-value store, headers naming them, small blobs and uploads in the
//! database; see [`crate::blobs`]) as a [`BlobStore`], so a native
//! [`SqlBackend`](super::SqlBackend) can run on a Spin build's data (what
//! `depot mirror --spin-app` does). The layout and its rules are
//! [`crate::blobs`]'s, the same code spin-store runs; this module only holds
//! the connections between calls.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use depot_protocol::Digest;

use super::backend::{BlobRead, BlobWrite, UploadWrite};
use super::sql_backend::BlobStore;
use crate::blobs::{self, Kv};
use crate::db::Db;
use crate::error::StoreError;

/// A key-value store a native process can share between threads.
pub type SharedKv = Arc<dyn Kv + Send + Sync>;

/// Blobs in a key-value store and a database.
pub struct KvBlobs {
    /// A connection to the database the store's logic runs on, for small
    /// blobs and uploads.
    db: Arc<Mutex<Db>>,
    kv: SharedKv,
}

impl std::fmt::Debug for KvBlobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvBlobs").finish_non_exhaustive()
    }
}

impl KvBlobs {
    /// Blobs in `kv`, with their rows in `db` (a connection of its own to
    /// the database the backend runs on).
    pub fn new(db: Db, kv: SharedKv) -> Self {
        Self {
            db: Arc::new(Mutex::new(db)),
            kv,
        }
    }

    fn db(&self) -> MutexGuard<'_, Db> {
        lock(&self.db)
    }
}

/// A new id for a blob's chunks or an upload, as spin-store draws them.
fn new_id(db: &Db) -> String {
    hex::encode(db.random(16))
}

fn lock(db: &Mutex<Db>) -> MutexGuard<'_, Db> {
    // A panic while holding the connection leaves no transaction open.
    db.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BlobStore for KvBlobs {
    fn create(&self) -> Result<Box<dyn BlobWrite>, StoreError> {
        let data = new_id(&self.db());
        Ok(Box::new(KvBlobWriter {
            writer: blobs::BlobWriter::new(data),
            db: self.db.clone(),
            kv: self.kv.clone(),
        }))
    }

    fn open(&self, digest: &Digest, offset: u64) -> Result<Box<dyn BlobRead>, StoreError> {
        let reader = blobs::open_blob(&self.db(), &*self.kv, digest.as_str(), offset)?;
        Ok(Box::new(KvBlobReader {
            reader,
            kv: self.kv.clone(),
        }))
    }

    fn remove(&self, digest: &Digest) -> Result<(), StoreError> {
        blobs::remove(&self.db(), &*self.kv, digest)
    }

    fn start_upload(&self) -> Result<String, StoreError> {
        let db = self.db();
        blobs::start_upload(&db, &*self.kv, new_id(&db))
    }

    fn open_upload(&self, id: &str) -> Result<Box<dyn UploadWrite>, StoreError> {
        let writer = blobs::open_upload(&self.db(), &*self.kv, id)?;
        Ok(Box::new(KvUploadWriter {
            writer,
            db: self.db.clone(),
            kv: self.kv.clone(),
        }))
    }

    fn upload_size(&self, id: &str) -> Result<u64, StoreError> {
        blobs::upload_size(&self.db(), id)
    }

    fn complete_upload(&self, id: &str, expected: &Digest) -> Result<Digest, StoreError> {
        blobs::complete_upload(&self.db(), &*self.kv, id, expected.as_str())
    }

    fn cancel_upload(&self, id: &str) -> Result<(), StoreError> {
        blobs::cancel_upload(&self.db(), &*self.kv, id)
    }
}

struct KvBlobWriter {
    writer: blobs::BlobWriter,
    db: Arc<Mutex<Db>>,
    kv: SharedKv,
}

impl BlobWrite for KvBlobWriter {
    fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        self.writer.write(&*self.kv, chunk)
    }

    fn finish(&mut self) -> Result<Digest, StoreError> {
        self.writer.finish(&lock(&self.db), &*self.kv)
    }
}

impl Drop for KvBlobWriter {
    fn drop(&mut self) {
        self.writer.abandon(&*self.kv);
    }
}

struct KvBlobReader {
    reader: blobs::BlobReader,
    kv: SharedKv,
}

impl BlobRead for KvBlobReader {
    fn size(&self) -> u64 {
        self.reader.size()
    }

    fn read(&mut self, len: u32) -> Result<Vec<u8>, StoreError> {
        self.reader.read(&*self.kv, len)
    }
}

struct KvUploadWriter {
    writer: blobs::UploadWriter,
    db: Arc<Mutex<Db>>,
    kv: SharedKv,
}

impl UploadWrite for KvUploadWriter {
    fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        self.writer.write(&lock(&self.db), &*self.kv, chunk)
    }

    fn size(&self) -> u64 {
        self.writer.size()
    }
}
