//! Content-addressed blobs in a directory: `<data>/blobs/<algorithm>/<2 hex>/<hex>`
//! (`sha256`, and `sha512` for blobs an OCI client uploads by that digest).
//!
//! A writer streams into `<data>/tmp/<uuid>` while hashing; `finish` fsyncs the
//! file, renames it into place and fsyncs the directory, so a blob is either
//! whole under its digest or absent. Uploads that span requests append to
//! `<data>/uploads/<uuid>` and are hashed when completed.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use depot_protocol::Digest;
use sha2::{Digest as _, Sha256};

use super::sql_backend::StoredBlob;
use super::{BlobRead, BlobStore, BlobWrite, MAX_CHUNK, StoreError, UploadWrite};
use crate::blobs::{Hasher, check_chunk};
pub(crate) use crate::blobs::{finished, offset_past_end};

/// Temporary files older than this are left over from a crash and removed at start-up.
const STALE_TEMP_AGE: Duration = Duration::from_secs(3600);

/// Uploads not touched for this long were abandoned by their clients and are
/// removed at start-up.
const STALE_UPLOAD_AGE: Duration = Duration::from_secs(24 * 3600);

/// The blob directory of one data directory.
#[derive(Debug, Clone)]
pub struct BlobDir {
    /// `<data>/blobs`.
    root: PathBuf,
    /// `<data>/tmp`, on the same file system so a rename is atomic.
    tmp: PathBuf,
    /// `<data>/uploads`, on the same file system too.
    uploads: PathBuf,
}

impl BlobDir {
    /// Opens (creating if needed) the blob directory under `data`, removing
    /// temporary files a crash left behind.
    pub fn open(data: &Path) -> Result<Self, StoreError> {
        let root = data.join("blobs");
        let tmp = data.join("tmp");
        let uploads = data.join("uploads");
        for dir in [&root.join("sha256"), &tmp, &uploads] {
            fs::create_dir_all(dir)
                .map_err(|e| StoreError::storage("creating the blob directories", e))?;
        }
        remove_stale_files(&tmp, STALE_TEMP_AGE);
        remove_stale_files(&uploads, STALE_UPLOAD_AGE);
        Ok(Self { root, tmp, uploads })
    }

    /// The directory of `digest`'s blob, and its path.
    fn place_of(&self, digest: &Digest) -> (PathBuf, PathBuf) {
        let hex = digest.hex();
        let dir = self.root.join(digest.algorithm().name()).join(&hex[..2]);
        let path = dir.join(hex);
        (dir, path)
    }

    fn path_of(&self, digest: &Digest) -> PathBuf {
        self.place_of(digest).1
    }

    /// Starts a new blob in a temporary file.
    pub fn create(&self) -> Result<FileBlobWriter, StoreError> {
        let temp = self.tmp.join(uuid::Uuid::new_v4().to_string());
        let file = File::create_new(&temp)
            .map_err(|e| StoreError::storage("creating a temporary blob file", e))?;
        Ok(FileBlobWriter {
            file: Some(file),
            temp: Some(temp),
            hasher: Sha256::new(),
            root: self.root.join("sha256"),
        })
    }

    /// Removes the blob `digest` from the directory; none there is no error.
    pub fn remove(&self, digest: &Digest) -> Result<(), StoreError> {
        let (dir, path) = self.place_of(digest);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&dir).map_err(|e| StoreError::storage("removing a blob", e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::storage("removing a blob", e)),
        }
    }

    /// Opens the blob `digest` at byte `offset`.
    pub fn open_blob(&self, digest: &Digest, offset: u64) -> Result<FileBlobReader, StoreError> {
        let mut file = match File::open(self.path_of(digest)) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound(format!(
                    "no content with digest {digest} is stored; check the digest"
                )));
            }
            Err(e) => return Err(StoreError::storage("opening a blob", e)),
        };
        let size = file
            .metadata()
            .map_err(|e| StoreError::storage("reading a blob's size", e))?
            .len();
        if offset > size {
            return Err(offset_past_end(digest, offset, size));
        }
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| StoreError::storage("seeking in a blob", e))?;
        Ok(FileBlobReader { file, size })
    }
}

impl BlobDir {
    /// The file of upload `id`; `not-found` for an id this store never gave out.
    fn upload_path(&self, id: &str) -> Result<PathBuf, StoreError> {
        // Only ids of the form we hand out name a file, so no id escapes the directory.
        let id = uuid::Uuid::parse_str(id).map_err(|_| upload_not_found(id))?;
        Ok(self.uploads.join(id.hyphenated().to_string()))
    }

    /// See [`super::Backend::start_upload`].
    pub fn start_upload(&self) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        File::create_new(self.uploads.join(&id))
            .map_err(|e| StoreError::storage("starting an upload", e))?;
        Ok(id)
    }

    /// See [`super::Backend::open_upload`].
    pub fn open_upload(&self, id: &str) -> Result<FileUploadWriter, StoreError> {
        let file = fs::OpenOptions::new()
            .append(true)
            .open(self.upload_path(id)?)
            .map_err(|e| upload_error(id, "opening an upload", e))?;
        let size = file
            .metadata()
            .map_err(|e| StoreError::storage("reading an upload's size", e))?
            .len();
        Ok(FileUploadWriter { file, size })
    }

    /// See [`super::Backend::upload_size`].
    pub fn upload_size(&self, id: &str) -> Result<u64, StoreError> {
        fs::metadata(self.upload_path(id)?)
            .map(|m| m.len())
            .map_err(|e| upload_error(id, "reading an upload's size", e))
    }

    /// See [`super::Backend::complete_upload`].
    pub fn complete_upload(&self, id: &str, expected: &Digest) -> Result<Digest, StoreError> {
        let path = self.upload_path(id)?;
        let mut file = File::open(&path).map_err(|e| upload_error(id, "opening an upload", e))?;
        let mut hasher = Hasher::new(expected.algorithm());
        let mut buffer = vec![0; MAX_CHUNK as usize];
        loop {
            let n = file
                .read(&mut buffer)
                .map_err(|e| StoreError::storage("reading an upload", e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        let actual = hasher.finish()?;
        if &actual != expected {
            return Err(StoreError::DigestMismatch {
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        file.sync_all()
            .map_err(|e| StoreError::storage("making a blob durable", e))?;
        drop(file);
        let (dir, dest) = self.place_of(&actual);
        place(&path, &dir, &dest)
            .map_err(|e| StoreError::storage("moving a blob into place", e))?;
        Ok(actual)
    }

    /// See [`super::Backend::cancel_upload`].
    pub fn cancel_upload(&self, id: &str) -> Result<(), StoreError> {
        fs::remove_file(self.upload_path(id)?)
            .map_err(|e| upload_error(id, "cancelling an upload", e))
    }
}

/// The file blob driver.
impl BlobStore for BlobDir {
    fn create(&self) -> Result<Box<dyn BlobWrite>, StoreError> {
        Ok(Box::new(BlobDir::create(self)?))
    }

    fn open(&self, digest: &Digest, offset: u64) -> Result<Box<dyn BlobRead>, StoreError> {
        Ok(Box::new(self.open_blob(digest, offset)?))
    }

    fn remove(&self, digest: &Digest) -> Result<(), StoreError> {
        BlobDir::remove(self, digest)
    }

    fn start_upload(&self) -> Result<String, StoreError> {
        BlobDir::start_upload(self)
    }

    fn open_upload(&self, id: &str) -> Result<Box<dyn UploadWrite>, StoreError> {
        Ok(Box::new(BlobDir::open_upload(self, id)?))
    }

    fn upload_size(&self, id: &str) -> Result<u64, StoreError> {
        BlobDir::upload_size(self, id)
    }

    fn complete_upload(&self, id: &str, expected: &Digest) -> Result<Digest, StoreError> {
        BlobDir::complete_upload(self, id, expected)
    }

    fn cancel_upload(&self, id: &str) -> Result<(), StoreError> {
        BlobDir::cancel_upload(self, id)
    }

    fn list(&self) -> Result<Vec<StoredBlob>, StoreError> {
        const LISTING: &str = "listing the blob directory";
        let mut blobs = Vec::new();
        for algorithm in
            read_dir_if_there(&self.root).map_err(|e| StoreError::storage(LISTING, e))?
        {
            for prefix in
                read_dir_if_there(&algorithm).map_err(|e| StoreError::storage(LISTING, e))?
            {
                for path in
                    read_dir_if_there(&prefix).map_err(|e| StoreError::storage(LISTING, e))?
                {
                    let (Some(algorithm), Some(hex)) = (
                        algorithm.file_name().and_then(|n| n.to_str()),
                        path.file_name().and_then(|n| n.to_str()),
                    ) else {
                        continue;
                    };
                    // Anything else in the directory is not a blob of ours.
                    let Ok(digest) = format!("{algorithm}:{hex}").parse::<Digest>() else {
                        continue;
                    };
                    match fs::metadata(&path) {
                        Ok(meta) => blobs.push(StoredBlob {
                            digest,
                            size: meta.len(),
                            modified: meta
                                .modified()
                                .map_err(|e| StoreError::storage(LISTING, e))?,
                        }),
                        // Removed since the directory was read.
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(StoreError::storage(LISTING, e)),
                    }
                }
            }
        }
        Ok(blobs)
    }

    fn modified(&self, digest: &Digest) -> Result<Option<SystemTime>, StoreError> {
        match fs::metadata(self.path_of(digest)).and_then(|m| m.modified()) {
            Ok(time) => Ok(Some(time)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::storage("reading when a blob was written", e)),
        }
    }

    fn abandoned_uploads(&self, before: SystemTime) -> Result<Vec<(String, u64)>, StoreError> {
        const LISTING: &str = "listing the uploads";
        let mut abandoned = Vec::new();
        for path in read_dir_if_there(&self.uploads).map_err(|e| StoreError::storage(LISTING, e))? {
            let Some(id) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if uuid::Uuid::parse_str(id).is_err() {
                continue;
            }
            match fs::metadata(&path) {
                Ok(meta) if meta.modified().is_ok_and(|t| t < before) => {
                    abandoned.push((id.to_string(), meta.len()));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::storage(LISTING, e)),
            }
        }
        Ok(abandoned)
    }
}

/// The entries of `dir`, none when it does not exist.
fn read_dir_if_there(dir: &Path) -> io::Result<Vec<PathBuf>> {
    match fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.map(|e| e.path())).collect(),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}

fn upload_not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!(
        "there is no upload `{id}` (it was completed, cancelled or never started); start a new \
         upload"
    ))
}

fn upload_error(id: &str, action: &'static str, e: io::Error) -> StoreError {
    if e.kind() == io::ErrorKind::NotFound {
        upload_not_found(id)
    } else {
        StoreError::storage(action, e)
    }
}

/// An upload being appended to.
#[derive(Debug)]
pub struct FileUploadWriter {
    file: File,
    size: u64,
}

impl UploadWrite for FileUploadWriter {
    fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        check_chunk(chunk)?;
        self.file
            .write_all(chunk)
            .map_err(|e| StoreError::storage("appending to an upload", e))?;
        self.size += chunk.len() as u64;
        Ok(())
    }

    fn size(&self) -> u64 {
        self.size
    }
}

/// Removes files in `dir` not touched for `age`; a failure only leaves a file
/// behind, so it is logged and otherwise ignored.
fn remove_stale_files(dir: &Path, age: Duration) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > age);
        if stale && let Err(e) = fs::remove_file(entry.path()) {
            tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove a stale temporary blob");
        }
    }
}

/// Fsyncs a directory so a rename or a new entry in it survives a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A blob being written to a temporary file.
#[derive(Debug)]
pub struct FileBlobWriter {
    /// `None` once `finish` was called.
    file: Option<File>,
    /// The temporary file; `None` once it was moved into place or removed.
    temp: Option<PathBuf>,
    hasher: Sha256,
    root: PathBuf,
}

impl BlobWrite for FileBlobWriter {
    fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        check_chunk(chunk)?;
        let file = self.file.as_mut().ok_or_else(finished)?;
        file.write_all(chunk)
            .map_err(|e| StoreError::storage("writing a blob", e))?;
        self.hasher.update(chunk);
        Ok(())
    }

    fn finish(&mut self) -> Result<Digest, StoreError> {
        let file = self.file.take().ok_or_else(finished)?;
        file.sync_all()
            .map_err(|e| StoreError::storage("making a blob durable", e))?;
        drop(file);
        let hex = hex::encode(self.hasher.finalize_reset());
        let digest = Digest::sha256(&hex)?;
        let dir = self.root.join(&hex[..2]);
        let dest = dir.join(&hex);
        let temp = self.temp.take().ok_or_else(finished)?;
        let result = place(&temp, &dir, &dest);
        if result.is_err() {
            // Put the path back so `Drop` removes the temporary file.
            self.temp = Some(temp);
        }
        result.map_err(|e| StoreError::storage("moving a blob into place", e))?;
        Ok(digest)
    }
}

/// Moves `temp` to `dest` in `dir`, durably; if `dest` exists (the same
/// content was stored before) the temporary file is just removed and `dest`
/// is touched, so garbage collection counts it as just written (a publish is
/// about to name it).
fn place(temp: &Path, dir: &Path, dest: &Path) -> io::Result<()> {
    match File::options().write(true).open(dest) {
        Ok(existing) => {
            existing.set_modified(SystemTime::now())?;
            return fs::remove_file(temp);
        }
        // Absent (or removed a moment ago by garbage collection): place it.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    if !dir.exists() {
        fs::create_dir_all(dir)?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
    }
    fs::rename(temp, dest)?;
    sync_dir(dir)
}

/// The SHA-256 digest of `bytes`.
pub fn sha256(bytes: &[u8]) -> Result<Digest, StoreError> {
    Ok(Digest::sha256(&hex::encode(Sha256::digest(bytes)))?)
}

impl Drop for FileBlobWriter {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            self.file = None;
            if let Err(e) = fs::remove_file(&temp) {
                tracing::warn!(path = %temp.display(), error = %e, "cannot remove an unfinished blob");
            }
        }
    }
}

/// A stored blob being read.
#[derive(Debug)]
pub struct FileBlobReader {
    file: File,
    size: u64,
}

impl BlobRead for FileBlobReader {
    fn size(&self) -> u64 {
        self.size
    }

    fn read(&mut self, len: u32) -> Result<Vec<u8>, StoreError> {
        let len = len.min(MAX_CHUNK);
        let mut chunk = Vec::with_capacity(len as usize);
        (&mut self.file)
            .take(u64::from(len))
            .read_to_end(&mut chunk)
            .map_err(|e| StoreError::storage("reading a blob", e))?;
        Ok(chunk)
    }
}

#[cfg(test)]
mod tests {
    //! What is particular to files: where a blob lands, and that no
    //! temporary file or upload is left behind. The contract every blob
    //! driver keeps is checked in `blob_tests`.

    use super::*;

    fn files_in(dir: &Path) -> usize {
        fs::read_dir(dir).unwrap().count()
    }

    #[test]
    fn a_blob_lands_under_its_digest_and_leaves_no_temporary_file() {
        let data = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(data.path()).unwrap();
        let content = vec![7; MAX_CHUNK as usize + 10];
        let mut digests = Vec::new();
        for _ in 0..2 {
            let mut writer = blobs.create().unwrap();
            for chunk in content.chunks(MAX_CHUNK as usize) {
                writer.write(chunk).unwrap();
            }
            digests.push(writer.finish().unwrap());
        }
        assert_eq!(digests[0], digests[1]);
        let digest = &digests[0];
        assert_eq!(digest.hex(), hex::encode(Sha256::digest(&content)));
        let path = data.path().join("blobs/sha256").join(&digest.hex()[..2]);
        assert_eq!(fs::read(path.join(digest.hex())).unwrap(), content);
        assert_eq!(files_in(&data.path().join("tmp")), 0);
    }

    #[test]
    fn an_unfinished_writer_leaves_nothing() {
        let data = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(data.path()).unwrap();
        let mut writer = blobs.create().unwrap();
        writer.write(b"half a component").unwrap();
        assert_eq!(files_in(&data.path().join("tmp")), 1);
        drop(writer);
        assert_eq!(files_in(&data.path().join("tmp")), 0);
        assert_eq!(files_in(&data.path().join("blobs/sha256")), 0);
    }

    #[test]
    fn a_completed_or_cancelled_upload_leaves_no_file() {
        let data = tempfile::tempdir().unwrap();
        let blobs = BlobDir::open(data.path()).unwrap();
        let id = blobs.start_upload().unwrap();
        blobs.open_upload(&id).unwrap().write(b"component").unwrap();
        let expected = Digest::sha256(&hex::encode(Sha256::digest(b"component"))).unwrap();
        assert_eq!(blobs.complete_upload(&id, &expected).unwrap(), expected);
        let cancelled = blobs.start_upload().unwrap();
        assert_eq!(files_in(&data.path().join("uploads")), 1);
        blobs.cancel_upload(&cancelled).unwrap();
        assert_eq!(files_in(&data.path().join("uploads")), 0);
        assert!(matches!(
            blobs.open_upload("../registry.db"),
            Err(StoreError::NotFound(_))
        ));
    }
}
