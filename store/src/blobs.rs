//! Content-addressed blobs and uploads in Spin's key-value store, small blobs
//! in SQLite.
//!
//! Layout in the key-value store (no `/` in keys, which some of Spin's
//! key-value backends refuse):
//! - `chunk:<data>:<n>`: the `n`th [`KV_CHUNK`] bytes of the data `data` (a
//!   random id, one per blob writer or upload), so no value is large.
//! - `blob:<digest>`: a small JSON `Header` (size, chunk size, chunk count,
//!   data id), written only once every chunk is, so a reader never sees a
//!   partial blob: a blob is either whole under its digest or absent.
//!
//! Blobs of at most [`SMALL_BLOB`] bytes (OCI manifests and configs, mostly)
//! go into the `small_blobs` table instead, as in the native store: one
//! statement instead of two key-value writes.
//!
//! An upload (the OCI API's chunked upload, over several requests) writes
//! its chunks under its own id as data and keeps its size in the `uploads`
//! table; completing it writes the header that makes those chunks the blob,
//! without copying them.

use depot_protocol::{Algorithm, Digest};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256, Sha512};

use crate::db::{Db, params};
use crate::entries::now_millis;
use crate::error::{During, StoreError};
use crate::sql;

/// The most bytes one blob write accepts or one blob read returns (1 MiB).
pub const MAX_CHUNK: u32 = 1024 * 1024;

/// Blobs up to this size are kept in SQLite.
pub const SMALL_BLOB: usize = 16 * 1024;

/// Bytes per key-value chunk: small enough for every key-value backend Spin
/// has (AWS DynamoDB, the smallest, takes items up to 400 KB).
pub const KV_CHUNK: usize = 256 * 1024;

/// Uploads not written to for this long were abandoned by their clients and
/// are removed when a new upload starts (as the native store removes them at
/// start-up).
const STALE_UPLOAD_MS: u64 = 24 * 3600 * 1000;

/// The most abandoned uploads one `start-upload` removes, so it stays quick.
const SWEEP_LIMIT: u32 = 4;

/// The blob driver of a key-value store: Spin's, or a map in the tests.
pub trait Kv {
    /// The value at `key`, if there is one.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// Puts `value` at `key`, replacing what was there.
    fn set(&self, key: &str, value: &[u8]) -> Result<(), String>;
    /// Removes `key` (nothing when it is absent).
    fn delete(&self, key: &str) -> Result<(), String>;
    /// Puts `value` at `key` unless something is there already; whether it
    /// did. A driver with a conditional write (S3's `If-None-Match: *`)
    /// makes it one step, so of two writers racing only one places it;
    /// otherwise it looks first.
    fn set_new(&self, key: &str, value: &[u8]) -> Result<bool, String> {
        if self.get(key)?.is_some() {
            return Ok(false);
        }
        self.set(key, value).map(|()| true)
    }
}

/// What `blob:<digest>` holds.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Header {
    size: u64,
    /// Bytes per chunk; every chunk but the last has this many.
    chunk: u64,
    chunks: u64,
    /// The id the chunks are kept under.
    data: String,
}

fn header_key(digest: &Digest) -> String {
    format!("blob:{digest}")
}

fn chunk_key(data: &str, n: u64) -> String {
    format!("chunk:{data}:{n}")
}

/// How many chunks `size` bytes take.
fn chunks_for(size: u64) -> u64 {
    size.div_ceil(KV_CHUNK as u64)
}

/// Deletes the chunks `0..count` of `data`; a failure only leaves bytes no
/// header names, so it is logged.
fn discard(kv: &dyn Kv, data: &str, count: u64) {
    for n in 0..count {
        if let Err(e) = kv.delete(&chunk_key(data, n)) {
            eprintln!("depot store: cannot remove chunk {n} of {data}: {e}");
        }
    }
}

pub(crate) fn check_chunk(chunk: &[u8]) -> Result<(), StoreError> {
    if chunk.len() > MAX_CHUNK as usize {
        return Err(StoreError::BadRequest(format!(
            "a blob chunk may be at most {MAX_CHUNK} bytes (`max-chunk`), this one has {}; \
             split it",
            chunk.len()
        )));
    }
    Ok(())
}

pub(crate) fn finished() -> StoreError {
    StoreError::BadRequest(
        "this blob writer is already finished; create a new blob to write more".into(),
    )
}

pub(crate) fn offset_past_end(digest: &Digest, offset: u64, size: u64) -> StoreError {
    StoreError::BadRequest(format!(
        "offset {offset} is past the end of blob {digest} ({size} bytes); read from an offset of \
         at most {size}"
    ))
}

/// Whether blob `digest` is stored, in SQLite or in the key-value store.
fn blob_exists(db: &Db, kv: &dyn Kv, digest: &Digest) -> Result<bool, StoreError> {
    let small = db.optional(
        sql::GET_SMALL_BLOB,
        params![digest.as_str()],
        "reading a small blob",
    )?;
    Ok(small.is_some()
        || kv
            .get(&header_key(digest))
            .during("reading a blob header")?
            .is_some())
}

/// A blob being written.
#[derive(Debug)]
pub struct BlobWriter {
    /// The id its chunks go under, once it is too big for SQLite.
    data: String,
    state: WriterState,
}

#[derive(Debug)]
enum WriterState {
    /// The bytes so far, while the blob is small.
    Small(Vec<u8>),
    /// Past [`SMALL_BLOB`]: `chunks` chunks written, `buffer` not yet.
    Chunked {
        hasher: Sha256,
        buffer: Vec<u8>,
        chunks: u64,
        size: u64,
    },
    Finished,
    /// A write to the key-value store failed; what was written is gone.
    Failed,
}

impl BlobWriter {
    /// A new blob whose chunks, if it needs any, go under `data`.
    pub fn new(data: String) -> Self {
        Self {
            data,
            state: WriterState::Small(Vec::new()),
        }
    }

    /// See `blob-writer.write`.
    pub fn write(&mut self, kv: &dyn Kv, chunk: &[u8]) -> Result<(), StoreError> {
        check_chunk(chunk)?;
        if let WriterState::Small(small) = &mut self.state {
            if small.len() + chunk.len() <= SMALL_BLOB {
                small.extend_from_slice(chunk);
                return Ok(());
            }
            let buffer = std::mem::take(small);
            self.state = WriterState::Chunked {
                hasher: Sha256::new_with_prefix(&buffer),
                size: buffer.len() as u64,
                buffer,
                chunks: 0,
            };
        }
        let WriterState::Chunked {
            hasher,
            buffer,
            chunks,
            size,
        } = &mut self.state
        else {
            return Err(self.unusable());
        };
        hasher.update(chunk);
        buffer.extend_from_slice(chunk);
        *size += chunk.len() as u64;
        while buffer.len() >= KV_CHUNK {
            if let Err(e) = kv.set(&chunk_key(&self.data, *chunks), &buffer[..KV_CHUNK]) {
                let written = *chunks;
                self.state = WriterState::Failed;
                discard(kv, &self.data, written);
                return Err(StoreError::storage("writing a blob", e));
            }
            buffer.drain(..KV_CHUNK);
            *chunks += 1;
        }
        Ok(())
    }

    /// See `blob-writer.finish`.
    pub fn finish(&mut self, db: &Db, kv: &dyn Kv) -> Result<Digest, StoreError> {
        match std::mem::replace(&mut self.state, WriterState::Finished) {
            WriterState::Small(bytes) => {
                let digest = Digest::sha256(&hex::encode(Sha256::digest(&bytes)))?;
                db.execute(
                    sql::PUT_SMALL_BLOB,
                    params![digest.as_str(), bytes.as_slice(), now_millis()],
                    "storing a small blob",
                )?;
                Ok(digest)
            }
            WriterState::Chunked {
                hasher,
                buffer,
                mut chunks,
                size,
            } => {
                let placed = (|| {
                    if !buffer.is_empty() {
                        kv.set(&chunk_key(&self.data, chunks), &buffer)
                            .during("writing a blob")?;
                        chunks += 1;
                    }
                    let digest = Digest::sha256(&hex::encode(hasher.finalize()))?;
                    if blob_exists(db, kv, &digest)? {
                        // The same content is stored already: keep that copy.
                        discard(kv, &self.data, chunks);
                        return Ok(digest);
                    }
                    let header = Header {
                        size,
                        chunk: KV_CHUNK as u64,
                        chunks,
                        data: self.data.clone(),
                    };
                    let header = serde_json::to_vec(&header).during("making a blob durable")?;
                    if !kv
                        .set_new(&header_key(&digest), &header)
                        .during("making a blob durable")?
                    {
                        // Another writer stored the same content meanwhile.
                        discard(kv, &self.data, chunks);
                    }
                    Ok(digest)
                })();
                if placed.is_err() {
                    discard(kv, &self.data, chunks);
                }
                placed
            }
            unusable => {
                self.state = unusable;
                Err(self.unusable())
            }
        }
    }

    /// Whether the writer has chunks in the key-value store that nothing
    /// names yet.
    pub fn wrote_chunks(&self) -> bool {
        matches!(self.state, WriterState::Chunked { chunks, .. } if chunks > 0)
    }

    /// Removes what an unfinished writer wrote (when its resource is dropped).
    pub fn abandon(&mut self, kv: &dyn Kv) {
        if let WriterState::Chunked { chunks, .. } = self.state {
            discard(kv, &self.data, chunks);
        }
        self.state = WriterState::Finished;
    }

    fn unusable(&self) -> StoreError {
        match self.state {
            WriterState::Failed => StoreError::storage(
                "writing a blob",
                "an earlier write of this blob failed; create a new blob and write it again",
            ),
            _ => finished(),
        }
    }
}

/// A stored blob being read.
#[derive(Debug)]
pub struct BlobReader {
    digest: Digest,
    size: u64,
    position: u64,
    source: Source,
}

#[derive(Debug)]
enum Source {
    /// A small blob, read whole from SQLite.
    Small(Vec<u8>),
    /// Chunks in the key-value store, with the last one read.
    Chunked {
        header: Header,
        current: Option<(u64, Vec<u8>)>,
    },
}

/// See `store.open-blob`.
pub fn open_blob(
    db: &Db,
    kv: &dyn Kv,
    digest: &str,
    offset: u64,
) -> Result<BlobReader, StoreError> {
    let digest: Digest = digest.parse()?;
    let small = db.optional(
        sql::GET_SMALL_BLOB,
        params![digest.as_str()],
        "reading a small blob",
    )?;
    let (size, source) = if let Some(row) = small {
        let bytes = row.bytes(0)?;
        (bytes.len() as u64, Source::Small(bytes))
    } else if let Some(header) = kv.get(&header_key(&digest)).during("opening a blob")? {
        let header: Header = serde_json::from_slice(&header).during("opening a blob")?;
        (
            header.size,
            Source::Chunked {
                header,
                current: None,
            },
        )
    } else {
        return Err(StoreError::NotFound(format!(
            "no content with digest {digest} is stored; check the digest"
        )));
    };
    if offset > size {
        return Err(offset_past_end(&digest, offset, size));
    }
    Ok(BlobReader {
        digest,
        size,
        position: offset,
        source,
    })
}

impl BlobReader {
    /// See `blob-reader.size`.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// See `blob-reader.read`.
    pub fn read(&mut self, kv: &dyn Kv, len: u32) -> Result<Vec<u8>, StoreError> {
        let len = u64::from(len.min(MAX_CHUNK)).min(self.size - self.position);
        let end = self.position + len;
        let mut out = Vec::with_capacity(len as usize);
        while self.position < end {
            let wanted = (end - self.position) as usize;
            let bytes = self.bytes_at(kv)?;
            let take = bytes.len().min(wanted);
            out.extend_from_slice(&bytes[..take]);
            self.position += take as u64;
        }
        Ok(out)
    }

    /// The blob's bytes from the current position to the end of its chunk.
    fn bytes_at(&mut self, kv: &dyn Kv) -> Result<&[u8], StoreError> {
        let position = self.position;
        match &mut self.source {
            Source::Small(bytes) => Ok(&bytes[position as usize..]),
            Source::Chunked { header, current } => {
                let n = position / header.chunk;
                if current.as_ref().is_none_or(|(m, _)| *m != n) {
                    let bytes = kv
                        .get(&chunk_key(&header.data, n))
                        .during("reading a blob")?;
                    let wanted = header.chunk.min(header.size - n * header.chunk);
                    match bytes {
                        Some(bytes) if bytes.len() as u64 >= wanted => *current = Some((n, bytes)),
                        _ => {
                            return Err(StoreError::storage(
                                "reading a blob",
                                format!("chunk {n} of blob {} is missing or short", self.digest),
                            ));
                        }
                    }
                }
                let (_, bytes) = current.as_ref().expect("just read");
                let within = (position - n * header.chunk) as usize;
                let end = (header.size - n * header.chunk).min(header.chunk) as usize;
                Ok(&bytes[within..end])
            }
        }
    }
}

/// Removes blob `digest`; none there is no error.
pub fn remove(db: &Db, kv: &dyn Kv, digest: &Digest) -> Result<(), StoreError> {
    const REMOVING: &str = "removing a blob";
    db.execute(sql::REMOVE_SMALL_BLOB, params![digest.as_str()], REMOVING)?;
    let key = header_key(digest);
    if let Some(header) = kv.get(&key).during(REMOVING)? {
        let header: Header = serde_json::from_slice(&header).during(REMOVING)?;
        // The header first: from then on no reader finds the chunks.
        kv.delete(&key).during(REMOVING)?;
        discard(kv, &header.data, header.chunks);
    }
    Ok(())
}

/// Removes the content of release `name` `version`, just taken down, unless
/// a release still up has the same content. A failure only leaves bytes that
/// no route serves (every content route checks for a takedown first).
pub fn remove_taken_down(
    db: &Db,
    kv: &dyn Kv,
    name: &str,
    version: &str,
) -> Result<(), StoreError> {
    let Some(release) = crate::log::get_release(db, name, version)? else {
        return Ok(());
    };
    if crate::log::content_in_use(db, &release.digest)? {
        return Ok(());
    }
    remove(db, kv, &release.digest.parse()?)
}

fn upload_not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!(
        "there is no upload `{id}` (it was completed, cancelled or never started); start a new \
         upload"
    ))
}

/// Only ids of the form this store hands out (32 lowercase hex digits) name
/// an upload, so no id reaches into other keys.
fn check_upload_id(id: &str) -> Result<(), StoreError> {
    let ours = id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if ours {
        Ok(())
    } else {
        Err(upload_not_found(id))
    }
}

/// See `store.start-upload`: starts upload `id` (a new random id).
pub fn start_upload(db: &Db, kv: &dyn Kv, id: String) -> Result<String, StoreError> {
    check_upload_id(&id)?;
    remove_stale_uploads(db, kv);
    db.execute(
        sql::START_UPLOAD,
        params![id, now_millis()],
        "starting an upload",
    )?;
    Ok(id)
}

/// Removes a few uploads abandoned long ago; a failure only leaves them for
/// the next time, so it is logged.
fn remove_stale_uploads(db: &Db, kv: &dyn Kv) {
    let before = now_millis().saturating_sub(STALE_UPLOAD_MS);
    let stale = db
        .rows(
            sql::STALE_UPLOADS,
            params![before, SWEEP_LIMIT],
            "finding abandoned uploads",
        )
        .and_then(|rows| {
            rows.iter()
                .map(|row| Ok((row.text(0)?, row.u64(1)?)))
                .collect::<Result<Vec<_>, StoreError>>()
        });
    match stale {
        Ok(stale) => {
            for (id, _) in stale {
                if let Err(e) = end_upload(db, kv, &id) {
                    eprintln!("depot store: cannot remove abandoned upload {id}: {e}");
                }
            }
        }
        Err(e) => eprintln!("depot store: cannot look for abandoned uploads: {e}"),
    }
}

/// See `store.upload-size`.
pub fn upload_size(db: &Db, id: &str) -> Result<u64, StoreError> {
    check_upload_id(id)?;
    db.optional(sql::UPLOAD_SIZE, params![id], "reading an upload's size")?
        .ok_or_else(|| upload_not_found(id))?
        .u64(0)
}

/// See `store.cancel-upload`.
pub fn cancel_upload(db: &Db, kv: &dyn Kv, id: &str) -> Result<(), StoreError> {
    check_upload_id(id)?;
    end_upload(db, kv, id)
}

/// Forgets upload `id` and removes its chunks.
fn end_upload(db: &Db, kv: &dyn Kv, id: &str) -> Result<(), StoreError> {
    let ended = db.optional(sql::END_UPLOAD, params![id], "cancelling an upload")?;
    let size = ended.ok_or_else(|| upload_not_found(id))?.u64(0)?;
    discard(kv, id, chunks_for(size));
    Ok(())
}

/// An upload being appended to.
#[derive(Debug)]
pub struct UploadWriter {
    id: String,
    size: u64,
    /// The bytes of the upload's last, partial chunk.
    tail: Vec<u8>,
}

/// See `store.open-upload`.
pub fn open_upload(db: &Db, kv: &dyn Kv, id: &str) -> Result<UploadWriter, StoreError> {
    let size = upload_size(db, id)?;
    let tail_len = (size % KV_CHUNK as u64) as usize;
    let tail = if tail_len == 0 {
        Vec::new()
    } else {
        let n = size / KV_CHUNK as u64;
        match kv.get(&chunk_key(id, n)).during("opening an upload")? {
            Some(mut bytes) if bytes.len() >= tail_len => {
                bytes.truncate(tail_len);
                bytes
            }
            _ => {
                return Err(StoreError::storage(
                    "opening an upload",
                    format!("chunk {n} of upload {id} is missing or short"),
                ));
            }
        }
    };
    Ok(UploadWriter {
        id: id.to_string(),
        size,
        tail,
    })
}

impl UploadWriter {
    /// See `upload-writer.write`: rewrites the last, partial chunk with the
    /// new bytes after it, writes any further chunks, then moves the size on,
    /// all under the database's write lock and only while the upload still
    /// has the size this writer saw: a writer left behind by another
    /// request's write (two requests on one upload) is refused before it
    /// overwrites a chunk the other wrote. Bytes past the size are never read
    /// and the partial chunk keeps its bytes, so a failure part-way changes
    /// nothing.
    pub fn write(&mut self, db: &Db, kv: &dyn Kv, chunk: &[u8]) -> Result<(), StoreError> {
        const APPENDING: &str = "appending to an upload";
        check_chunk(chunk)?;
        if chunk.is_empty() {
            return Ok(());
        }
        let first = self.size / KV_CHUNK as u64;
        let mut pending = Vec::with_capacity(self.tail.len() + chunk.len());
        pending.extend_from_slice(&self.tail);
        pending.extend_from_slice(chunk);
        let size = self.size + chunk.len() as u64;
        db.transaction(APPENDING, |db| {
            let now = upload_size(db, &self.id)?;
            if now != self.size {
                return Err(StoreError::BadRequest(format!(
                    "upload `{}` changed while this chunk was sent (it has {now} bytes, not {}); \
                     send an upload's chunks one after the other",
                    self.id, self.size
                )));
            }
            for (n, piece) in (first..).zip(pending.chunks(KV_CHUNK)) {
                kv.set(&chunk_key(&self.id, n), piece).during(APPENDING)?;
            }
            let grown = db.rows(
                sql::GROW_UPLOAD,
                params![self.id, self.size, size, now_millis()],
                APPENDING,
            )?;
            if grown.is_empty() {
                return Err(upload_not_found(&self.id));
            }
            Ok(())
        })?;
        let tail_len = (size % KV_CHUNK as u64) as usize;
        self.tail = pending.split_off(pending.len() - tail_len);
        self.size = size;
        Ok(())
    }

    /// See `upload-writer.size`.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// The hash of an upload, in the algorithm of the digest it is expected to have.
pub(crate) enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub(crate) fn new(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha256 => Self::Sha256(Sha256::new()),
            Algorithm::Sha512 => Self::Sha512(Sha512::new()),
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha256(h) => h.update(bytes),
            Self::Sha512(h) => h.update(bytes),
        }
    }

    pub(crate) fn finish(self) -> Result<Digest, StoreError> {
        let (algorithm, hex) = match self {
            Self::Sha256(h) => ("sha256", hex::encode(h.finalize())),
            Self::Sha512(h) => ("sha512", hex::encode(h.finalize())),
        };
        Ok(format!("{algorithm}:{hex}").parse()?)
    }
}

/// See `store.complete-upload`: hashes the upload's chunks and, when they
/// hash to `expected`, makes them that blob (a header naming them).
pub fn complete_upload(
    db: &Db,
    kv: &dyn Kv,
    id: &str,
    expected: &str,
) -> Result<Digest, StoreError> {
    const COMPLETING: &str = "completing an upload";
    let expected: Digest = expected.parse()?;
    let size = upload_size(db, id)?;
    let chunks = chunks_for(size);
    let mut hasher = Hasher::new(expected.algorithm());
    for n in 0..chunks {
        let wanted = (size - n * KV_CHUNK as u64).min(KV_CHUNK as u64) as usize;
        match kv.get(&chunk_key(id, n)).during(COMPLETING)? {
            Some(bytes) if bytes.len() >= wanted => hasher.update(&bytes[..wanted]),
            _ => {
                return Err(StoreError::storage(
                    COMPLETING,
                    format!("chunk {n} of upload {id} is missing or short"),
                ));
            }
        }
    }
    let actual = hasher.finish()?;
    if actual != expected {
        return Err(StoreError::DigestMismatch {
            expected: expected.to_string(),
            actual: actual.to_string(),
        });
    }
    let stored = blob_exists(db, kv, &actual)?;
    // The upload ends first, so a crash leaves only chunks no one names,
    // never a blob whose chunks a later cleanup would remove.
    if db
        .optional(sql::END_UPLOAD, params![id], COMPLETING)?
        .is_none()
    {
        return Err(upload_not_found(id));
    }
    if stored {
        // The same content is stored already: keep that copy.
        discard(kv, id, chunks);
        return Ok(actual);
    }
    let header = Header {
        size,
        chunk: KV_CHUNK as u64,
        chunks,
        data: id.to_string(),
    };
    let placed = serde_json::to_vec(&header)
        .during(COMPLETING)
        .and_then(|header| kv.set_new(&header_key(&actual), &header).during(COMPLETING));
    if let Ok(false) = placed {
        // Another writer stored the same content meanwhile.
        discard(kv, id, chunks);
    }
    if let Err(e) = placed {
        // Keep the upload, as nothing was stored.
        if let Err(restore) = db.execute(
            sql::RESTORE_UPLOAD,
            params![id, size, now_millis()],
            COMPLETING,
        ) {
            eprintln!("depot store: cannot keep upload {id} after a failure: {restore}");
        }
        return Err(e);
    }
    Ok(actual)
}
