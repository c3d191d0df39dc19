//! The embedded backend, for one machine: the registry log and indexes in
//! SQLite (`<data>/registry.db`) and content-addressed blobs in
//! `<data>/blobs/`. Blobs of at most [`SMALL_BLOB`] bytes (OCI manifests and
//! configs, mostly) are kept in the database instead: one commit makes such a
//! blob durable, where a file costs a create, two fsyncs and a rename.

mod blobs;
mod cache;
mod pending;
mod search;
mod sqlite;
mod tlog;
mod tokens;

use std::path::Path;
use std::sync::Arc;

use depot_protocol::Digest;
use depot_protocol::tlog::Hash;

use self::blobs::{BlobDir, FileBlobWriter};
use self::pending::Pending;
use self::sqlite::SqliteLog;
use self::tokens::Tokens;
use super::{
    Action, Entry, LogEntry, OciManifest, PackageSummary, RegistryStats, Release, SearchQuery,
};
use super::{PendingRelease, SigningPolicy, TokenInfo};
use crate::store::{Backend, BlobRead, BlobWrite, MAX_CHUNK, StoreError, UploadWrite};
use tokio::sync::watch;

/// Blobs up to this size are kept in the database.
const SMALL_BLOB: usize = 16 * 1024;

/// The embedded backend of one data directory.
#[derive(Debug)]
pub struct Embedded {
    log: Arc<SqliteLog>,
    blobs: BlobDir,
    tokens: Tokens,
    pending: Pending,
}

impl Embedded {
    /// Opens (creating if needed) the registry in the data directory `data`.
    pub fn open(data: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data)
            .map_err(|e| StoreError::storage("creating the data directory", e))?;
        Ok(Self {
            log: Arc::new(SqliteLog::open(
                &data.join("registry.db"),
                tlog::load_or_create_key(data)?,
            )?),
            blobs: BlobDir::open(data)?,
            tokens: Tokens::open(&data.join("registry.db"))?,
            pending: Pending::open(&data.join("registry.db"))?,
        })
    }
}

impl Backend for Embedded {
    fn create_blob(&self) -> Result<Box<dyn BlobWrite>, StoreError> {
        Ok(Box::new(EmbeddedBlobWriter {
            state: WriterState::Small(Vec::new()),
            blobs: self.blobs.clone(),
            log: self.log.clone(),
        }))
    }

    fn open_blob(&self, digest: &Digest, offset: u64) -> Result<Box<dyn BlobRead>, StoreError> {
        match self.blobs.open_blob(digest, offset) {
            Ok(file) => Ok(Box::new(file)),
            Err(StoreError::NotFound(message)) => match self.log.get_small_blob(digest)? {
                Some(bytes) => Ok(Box::new(SmallBlobReader::new(digest, bytes, offset)?)),
                None => Err(StoreError::NotFound(message)),
            },
            Err(e) => Err(e),
        }
    }

    fn package_head(&self, name: &str) -> Result<u64, StoreError> {
        self.log.package_head(name)
    }

    fn append(&self, entry: Entry, expected_head: u64) -> Result<LogEntry, StoreError> {
        let logged = self.log.append(entry, expected_head)?;
        self.after_commit(&logged);
        Ok(logged)
    }

    fn replicate(&self, logged: LogEntry) -> Result<LogEntry, StoreError> {
        let logged = self.log.replicate(logged)?;
        self.after_commit(&logged);
        Ok(logged)
    }

    fn watch_log(&self) -> watch::Receiver<u64> {
        self.log.watch_head()
    }

    fn read_log(&self, since: u64, limit: u32) -> Result<Vec<LogEntry>, StoreError> {
        self.log.read_log(since, limit)
    }

    fn get_release(&self, name: &str, version: &str) -> Result<Option<Release>, StoreError> {
        self.log.get_release(name, version)
    }

    fn find_release(&self, name: &str, version: &str) -> Result<Option<Release>, StoreError> {
        self.log.find_release(name, version)
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

    fn search(&self, query: &SearchQuery) -> Result<(Vec<Release>, Option<String>), StoreError> {
        self.log.search(query)
    }

    fn stats(&self) -> Result<RegistryStats, StoreError> {
        self.log.stats()
    }

    fn log_checkpoint(&self) -> Result<String, StoreError> {
        self.log.log_checkpoint()
    }

    fn log_key(&self) -> Result<String, StoreError> {
        Ok(self.log.log_key())
    }

    fn log_inclusion(&self, seq: u64, tree_size: u64) -> Result<Vec<Hash>, StoreError> {
        self.log.log_inclusion(seq, tree_size)
    }

    fn log_consistency(&self, old_size: u64, new_size: u64) -> Result<Vec<Hash>, StoreError> {
        self.log.log_consistency(old_size, new_size)
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

    fn insert_token(&self, token: &TokenInfo, hash: &str) -> Result<(), StoreError> {
        self.tokens.insert(token, hash)
    }

    fn token_by_hash(&self, hash: &str) -> Result<Option<TokenInfo>, StoreError> {
        self.tokens.by_hash(hash)
    }

    fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.tokens.list()
    }

    fn revoke_token(&self, id: &str, time: u64) -> Result<Option<TokenInfo>, StoreError> {
        self.tokens.revoke(id, time)
    }

    fn namespace_trust(&self, namespace: &str) -> Result<SigningPolicy, StoreError> {
        self.log.namespace_trust(namespace)
    }

    fn put_pending(&self, release: &PendingRelease) -> Result<(), StoreError> {
        self.pending.put(release)
    }

    fn get_pending(&self, name: &str, version: &str) -> Result<Option<PendingRelease>, StoreError> {
        self.pending.get(name, version)
    }
}

impl Embedded {
    /// What follows an entry's commit outside the database.
    fn after_commit(&self, logged: &LogEntry) {
        if matches!(logged.entry.action, Action::Takedown(_)) {
            self.remove_taken_down_content(logged);
        }
    }

    /// Removes the content of the release `logged` took down, unless a
    /// release still up has the same content. The takedown is durable by
    /// now; a failure here only leaves bytes on disk that no route serves
    /// (every content route checks for a takedown first), so it is logged.
    fn remove_taken_down_content(&self, logged: &LogEntry) {
        let Entry { name, version, .. } = &logged.entry;
        let removed = (|| -> Result<(), StoreError> {
            let Some(release) = self.log.get_release(name, version)? else {
                return Ok(());
            };
            if self.log.content_in_use(&release.digest)? {
                return Ok(());
            }
            let digest: Digest = release.digest.parse()?;
            self.blobs.remove(&digest)?;
            self.log.remove_small_blob(&digest)
        })();
        if let Err(e) = removed {
            tracing::warn!(%name, %version, error = %e, "cannot remove the content of a release taken down");
        }
    }
}

/// A new blob: held in memory while it is at most [`SMALL_BLOB`] bytes, then
/// streamed to a file.
struct EmbeddedBlobWriter {
    state: WriterState,
    blobs: BlobDir,
    log: Arc<SqliteLog>,
}

enum WriterState {
    /// The bytes so far, while the blob is small.
    Small(Vec<u8>),
    /// Past [`SMALL_BLOB`]: in a file, which knows when it is finished.
    File(FileBlobWriter),
    /// A small blob, finished.
    Finished,
}

impl BlobWrite for EmbeddedBlobWriter {
    fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        if let WriterState::Small(small) = &mut self.state {
            if small.len() + chunk.len() <= SMALL_BLOB {
                small.extend_from_slice(chunk);
                return Ok(());
            }
            let mut file = self.blobs.create()?;
            file.write(small)?;
            self.state = WriterState::File(file);
        }
        match &mut self.state {
            WriterState::File(file) => file.write(chunk),
            _ => Err(blobs::finished()),
        }
    }

    fn finish(&mut self) -> Result<Digest, StoreError> {
        match &mut self.state {
            WriterState::Small(small) => {
                let small = std::mem::take(small);
                self.state = WriterState::Finished;
                let digest = blobs::sha256(&small)?;
                self.log.put_small_blob(&digest, &small)?;
                Ok(digest)
            }
            WriterState::File(file) => file.finish(),
            WriterState::Finished => Err(blobs::finished()),
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
            _ => Err(blobs::offset_past_end(digest, offset, size as u64)),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn store(backend: &Embedded, bytes: &[u8], chunk: usize) -> Digest {
        let mut writer = backend.create_blob().unwrap();
        for part in bytes.chunks(chunk) {
            writer.write(part).unwrap();
        }
        writer.finish().unwrap()
    }

    fn read(backend: &Embedded, digest: &Digest, offset: u64) -> Vec<u8> {
        let mut reader = backend.open_blob(digest, offset).unwrap();
        let mut all = Vec::new();
        loop {
            let chunk = reader.read(1000).unwrap();
            if chunk.is_empty() {
                return all;
            }
            all.extend(chunk);
        }
    }

    #[test]
    fn small_blobs_live_in_the_database_and_large_ones_in_files() {
        let data = tempfile::tempdir().unwrap();
        let small: Vec<u8> = (0..SMALL_BLOB).map(|i| (i % 253) as u8).collect();
        let large: Vec<u8> = (0..=SMALL_BLOB).map(|i| (i % 241) as u8).collect();
        let (small_digest, large_digest) = {
            let backend = Embedded::open(data.path()).unwrap();
            let small_digest = store(&backend, &small, 1000);
            // Crosses the threshold in its last chunk.
            let large_digest = store(&backend, &large, 4096);
            (small_digest, large_digest)
        };
        let file = |digest: &Digest| {
            data.path()
                .join("blobs/sha256")
                .join(&digest.hex()[..2])
                .join(digest.hex())
        };
        assert!(!file(&small_digest).exists());
        assert!(file(&large_digest).is_file());
        assert_eq!(small_digest, blobs::sha256(&small).unwrap());

        // Both survive a reopen and read the same from any offset.
        let backend = Embedded::open(data.path()).unwrap();
        assert_eq!(read(&backend, &small_digest, 0), small);
        assert_eq!(read(&backend, &small_digest, 100), small[100..]);
        assert_eq!(read(&backend, &large_digest, 5), large[5..]);
        assert_eq!(
            backend.open_blob(&small_digest, 0).unwrap().size(),
            small.len() as u64
        );
        let past = backend.open_blob(&small_digest, small.len() as u64 + 1);
        assert!(matches!(past, Err(StoreError::BadRequest(_))));
        // Storing the same small blob again is harmless.
        assert_eq!(store(&backend, &small, 7000), small_digest);
        let unknown = blobs::sha256(b"never stored").unwrap();
        assert!(matches!(
            backend.open_blob(&unknown, 0),
            Err(StoreError::NotFound(_))
        ));
    }
}
