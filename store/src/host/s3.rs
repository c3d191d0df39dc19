//! The S3 blob driver (the `object_store` crate): content-addressed blobs in
//! a bucket that many instances share, and uploads any of them can carry on.
//!
//! - A blob is `blobs/<algorithm>/<hex>`, written only once its digest is
//!   known; the same bytes written again are put again, so the object's
//!   last-modified time says when content was last written (garbage
//!   collection spares what was written within its grace period). A new blob is spooled to an anonymous local
//!   temporary file while it is hashed, so memory stays bounded; large ones
//!   go up as a multipart upload, which S3 makes visible whole or not at all.
//! - A read is a ranged GET per chunk, from any offset.
//! - An upload is `uploads/<id>/start` and one object per write,
//!   `uploads/<id>/<offset>`, put create-only at the offset the writer saw,
//!   so a POST, its PATCHes and the closing PUT may reach different
//!   instances, and two writes at one offset cannot both land.
//!
//! `object_store` is async: its calls run on a small runtime of this driver's
//! own, which a store call hands each request to and waits on, so the driver
//! is callable from any thread, inside an async runtime or not.

use std::fs::File;
use std::future::Future;
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use depot_protocol::Digest;
use futures::TryStreamExt;
use object_store::aws::AmazonS3ConfigKey::Client;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{
    BackoffConfig, ClientConfigKey, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    RetryConfig,
};
use sha2::{Digest as _, Sha256};

use super::sql_backend::StoredBlob;
use super::{BlobRead, BlobStore, BlobWrite, MAX_CHUNK, StoreError, UploadWrite};
use crate::blobs::{Hasher, check_chunk, finished, offset_past_end};

/// How long a failing request to the bucket is retried.
const RETRY_TIMEOUT: Duration = Duration::from_secs(10);

/// Blobs up to this size go up in one put; larger ones in parts of it.
const PART: usize = 8 * 1024 * 1024;

/// Where blobs live in a bucket, given as
/// `s3://BUCKET[/PREFIX]?endpoint=URL&region=R` (a prefix lets registries
/// share a bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketUrl {
    /// The bucket's name.
    pub bucket: String,
    /// The key prefix under which this registry's blobs are, if any.
    pub prefix: Option<String>,
    /// The S3 endpoint (`http://127.0.0.1:8333`); AWS's when absent.
    pub endpoint: Option<String>,
    /// The region; `AWS_REGION`'s, else `us-east-1`, when absent.
    pub region: Option<String>,
}

impl std::str::FromStr for BucketUrl {
    type Err = String;

    fn from_str(url: &str) -> Result<Self, String> {
        let usage = || {
            format!(
                "`{url}` is not a bucket URL; give s3://BUCKET or s3://BUCKET/PREFIX, optionally with \
                 ?endpoint=http://HOST:PORT&region=REGION (credentials come from the AWS_* \
                 environment variables)"
            )
        };
        let rest = url.strip_prefix("s3://").ok_or_else(usage)?;
        let (place, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = match place.split_once('/') {
            Some((bucket, prefix)) => (bucket, Some(prefix.trim_end_matches('/'))),
            None => (place, None),
        };
        let prefix = prefix.filter(|p| !p.is_empty());
        if bucket.is_empty() || prefix.is_some_and(|p| p.split('/').any(str::is_empty)) {
            return Err(usage());
        }
        let mut parsed = Self {
            bucket: bucket.to_string(),
            prefix: prefix.map(str::to_string),
            endpoint: None,
            region: None,
        };
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            match pair.split_once('=') {
                Some(("endpoint", value)) if !value.is_empty() => {
                    parsed.endpoint = Some(value.to_string());
                }
                Some(("region", value)) if !value.is_empty() => {
                    parsed.region = Some(value.to_string());
                }
                _ => {
                    return Err(format!(
                        "{}: `{pair}` is not `endpoint=...` or `region=...`",
                        usage()
                    ));
                }
            }
        }
        Ok(parsed)
    }
}

/// The bucket, and the runtime its requests run on.
struct Bucket {
    store: Store,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Bucket {
    /// Runs `request` on the driver's runtime and waits for it.
    fn block<T: Send + 'static>(
        &self,
        request: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (done, result) = std::sync::mpsc::sync_channel(1);
        let runtime = self
            .runtime
            .as_ref()
            .expect("the runtime lives as long as the bucket");
        runtime.spawn(async move {
            let _ = done.send(request.await);
        });
        result
            .recv()
            .map_err(|_| StoreError::storage("reaching the bucket", "the driver stopped"))
    }
}

impl Drop for Bucket {
    fn drop(&mut self) {
        // Dropped maybe from inside another runtime, where a blocking
        // shutdown is not allowed.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The blob store of one bucket.
#[derive(Clone)]
pub struct S3Blobs {
    bucket: Arc<Bucket>,
}

impl std::fmt::Debug for S3Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Blobs")
            .field("bucket", &self.bucket.store.to_string())
            .finish()
    }
}

/// The bucket (under the URL's prefix, if any).
type Store = Arc<dyn ObjectStore>;

fn storage(action: &'static str) -> impl Fn(object_store::Error) -> StoreError {
    move |e| StoreError::storage(action, e)
}

impl S3Blobs {
    /// Opens the bucket `url`, with credentials from the `AWS_*` environment
    /// variables, and checks that it can be read.
    pub fn open(url: &BucketUrl) -> Result<Self, StoreError> {
        Self::open_with(url, None)
    }

    /// [`S3Blobs::open`] with these credentials (access key id, secret)
    /// instead of the `AWS_*` environment variables'.
    fn open_with(url: &BucketUrl, credentials: Option<(&str, &str)>) -> Result<Self, StoreError> {
        const OPENING: &str = "opening the bucket";
        // A bucket that stops answering fails a request within seconds (a
        // 503 to retry), well inside the request deadline, instead of being
        // retried for minutes (the client's defaults).
        let mut builder = AmazonS3Builder::from_env();
        if let Some((key, secret)) = credentials {
            builder = builder
                .with_access_key_id(key)
                .with_secret_access_key(secret);
        }
        let mut builder = builder
            .with_bucket_name(&url.bucket)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(1),
                    base: 2.0,
                },
                max_retries: 3,
                retry_timeout: RETRY_TIMEOUT,
            })
            .with_config(Client(ClientConfigKey::ConnectTimeout), "5s")
            .with_config(Client(ClientConfigKey::Timeout), "20s");
        if let Some(endpoint) = &url.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(region) = &url.region {
            builder = builder.with_region(region);
        }
        let s3: AmazonS3 = builder.build().map_err(|e| {
            StoreError::BadRequest(format!("cannot use bucket {}: {e}", url.bucket))
        })?;
        let store: Store = match &url.prefix {
            Some(prefix) => Arc::new(PrefixStore::new(s3, prefix.as_str())),
            None => Arc::new(s3),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("depot-s3")
            .enable_all()
            .build()
            .map_err(storage_io(OPENING))?;
        let blobs = Self {
            bucket: Arc::new(Bucket {
                store,
                runtime: Some(runtime),
            }),
        };
        // A missing bucket or bad credentials fail here, not on the first publish.
        let store = blobs.bucket.store.clone();
        blobs
            .bucket
            .block(async move {
                store
                    .list_with_delimiter(Some(&Path::from("blobs")))
                    .await
                    .map(drop)
            })?
            .map_err(|e| {
                StoreError::BadRequest(format!(
                    "cannot read bucket {} (does it exist, and do the AWS_* credentials grant \
                     it?): {e}",
                    url.bucket
                ))
            })?;
        Ok(blobs)
    }

    fn run<T: Send + 'static, F: Future<Output = object_store::Result<T>> + Send + 'static>(
        &self,
        action: &'static str,
        request: impl FnOnce(Store) -> F,
    ) -> Result<T, StoreError> {
        self.bucket
            .block(request(self.bucket.store.clone()))?
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => {
                    StoreError::NotFound(format!("{action}: {e}"))
                }
                e => StoreError::storage(action, e),
            })
    }

    /// Puts the spooled blob `file` of `size` bytes under `digest` unless a
    /// blob is there already.
    fn place(&self, digest: &Digest, mut file: File, size: u64) -> Result<(), StoreError> {
        const PLACING: &str = "storing a blob in the bucket";
        let key = blob_key(digest);
        file.seek(SeekFrom::Start(0)).map_err(storage_io(PLACING))?;
        if size as usize <= PART {
            let mut bytes = Vec::with_capacity(size as usize);
            file.read_to_end(&mut bytes).map_err(storage_io(PLACING))?;
            let payload = PutPayload::from(bytes);
            let again = payload.clone();
            let put = self.bucket.block({
                let (store, key) = (self.bucket.store.clone(), key.clone());
                async move {
                    let options = PutOptions::from(PutMode::Create);
                    store.put_opts(&key, payload, options).await
                }
            })?;
            return match put {
                Ok(_) => Ok(()),
                // The same bytes are there: put them again, so the object
                // counts as just written for garbage collection (a publish
                // is about to name it).
                Err(object_store::Error::AlreadyExists { .. }) => self
                    .run(PLACING, |store| async move { store.put(&key, again).await })
                    .map(drop),
                Err(e) => Err(StoreError::storage(PLACING, e)),
            };
        }
        // Put even when the blob is there: the new object counts as just
        // written for garbage collection (rare: content stored twice).
        let mut upload = self.run(PLACING, |store| {
            let key = key.clone();
            async move { store.put_multipart(&key).await }
        })?;
        let mut buffer = vec![0; PART];
        loop {
            let n = read_full(&mut file, &mut buffer).map_err(storage_io(PLACING))?;
            if n == 0 {
                break;
            }
            let part = upload.put_part(PutPayload::from(buffer[..n].to_vec()));
            if let Err(e) = self.bucket.block(part)?.map_err(storage(PLACING)) {
                let _ = self.bucket.block(async move { upload.abort().await });
                return Err(e);
            }
        }
        self.bucket
            .block(async move { upload.complete().await })?
            .map(drop)
            .map_err(storage(PLACING))
    }

    fn upload_prefix(id: &str) -> Result<Path, StoreError> {
        // Only ids of the form handed out name objects, so no id reaches
        // outside its folder.
        let id = uuid::Uuid::parse_str(id).map_err(|_| upload_not_found(id))?;
        Ok(Path::from(format!("uploads/{}", id.hyphenated())))
    }

    /// The parts of upload `id` in order, with their offsets and sizes.
    fn parts(&self, id: &str) -> Result<Vec<(u64, Path, u64)>, StoreError> {
        let prefix = Self::upload_prefix(id)?;
        let objects: Vec<object_store::ObjectMeta> = self
            .run("listing an upload", |store| async move {
                store.list(Some(&prefix)).try_collect().await
            })?;
        if !objects
            .iter()
            .any(|o| o.location.filename() == Some("start"))
        {
            return Err(upload_not_found(id));
        }
        let mut parts: Vec<(u64, Path, u64)> = objects
            .into_iter()
            .filter_map(|o| {
                let offset = o.location.filename()?.parse().ok()?;
                Some((offset, o.location, o.size))
            })
            .collect();
        parts.sort_by_key(|(offset, _, _)| *offset);
        Ok(parts)
    }
}

/// The store's key-value blob layout (`crate::blobs`) on a bucket, as the
/// Spin build keeps it there (`components/spin-store`, `s3.rs`): the key
/// `chunk:<id>:<n>` is the object `chunk/<id>/<n>` under the URL's prefix, and
/// a blob's header is put create-only. So native code (`depot mirror
/// --spin-app`) writes what a Spin build on S3 reads.
#[derive(Debug, Clone)]
pub struct S3Kv {
    blobs: S3Blobs,
}

impl S3Kv {
    /// Opens the bucket `url` with these credentials (access key id,
    /// secret), and checks that it can be read.
    pub fn open(url: &BucketUrl, access_key: &str, secret_key: &str) -> Result<Self, StoreError> {
        S3Blobs::open_with(url, Some((access_key, secret_key))).map(|blobs| Self { blobs })
    }

    fn run<T: Send + 'static, F: Future<Output = object_store::Result<T>> + Send + 'static>(
        &self,
        request: impl FnOnce(Store) -> F,
    ) -> Result<object_store::Result<T>, String> {
        self.blobs
            .bucket
            .block(request(self.blobs.bucket.store.clone()))
            .map_err(|e| e.to_string())
    }
}

fn kv_path(key: &str) -> Path {
    Path::from(key.replace(':', "/"))
}

impl crate::blobs::Kv for S3Kv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        let path = kv_path(key);
        let got = self.run(|store| async move {
            match store.get(&path).await {
                Ok(object) => object.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })?;
        got.map(|bytes| bytes.map(|b| b.to_vec()))
            .map_err(|e| e.to_string())
    }

    fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
        let (path, payload) = (kv_path(key), PutPayload::from(value.to_vec()));
        self.run(|store| async move { store.put(&path, payload).await })?
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn delete(&self, key: &str) -> Result<(), String> {
        let path = kv_path(key);
        match self.run(|store| async move { store.delete(&path).await })? {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    fn set_new(&self, key: &str, value: &[u8]) -> Result<bool, String> {
        let (path, payload) = (kv_path(key), PutPayload::from(value.to_vec()));
        let put = self.run(|store| async move {
            store
                .put_opts(&path, payload, PutOptions::from(PutMode::Create))
                .await
        })?;
        match put {
            Ok(_) => Ok(true),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }
}

fn storage_io(action: &'static str) -> impl Fn(std::io::Error) -> StoreError {
    move |e| StoreError::storage(action, e)
}

/// Reads until `buffer` is full or the file ends.
fn read_full(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn blob_key(digest: &Digest) -> Path {
    Path::from(format!(
        "blobs/{}/{}",
        digest.algorithm().name(),
        digest.hex()
    ))
}

fn upload_not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!(
        "there is no upload `{id}` (it was completed, cancelled or never started); start a new \
         upload"
    ))
}

impl BlobStore for S3Blobs {
    fn create(&self) -> Result<Box<dyn BlobWrite>, StoreError> {
        let file = tempfile::tempfile().map_err(storage_io("spooling a new blob"))?;
        Ok(Box::new(S3BlobWriter {
            blobs: self.clone(),
            file: Some(file),
            hasher: Sha256::new(),
            size: 0,
        }))
    }

    fn open(&self, digest: &Digest, offset: u64) -> Result<Box<dyn BlobRead>, StoreError> {
        let key = blob_key(digest);
        let meta = self
            .run("opening a blob", |store| {
                let key = key.clone();
                async move { store.head(&key).await }
            })
            .map_err(|e| match e {
                StoreError::NotFound(_) => StoreError::NotFound(format!(
                    "no content with digest {digest} is stored; check the digest"
                )),
                e => e,
            })?;
        if offset > meta.size {
            return Err(offset_past_end(digest, offset, meta.size));
        }
        Ok(Box::new(S3BlobReader {
            blobs: self.clone(),
            key,
            size: meta.size,
            position: offset,
        }))
    }

    fn remove(&self, digest: &Digest) -> Result<(), StoreError> {
        let key = blob_key(digest);
        match self.run("removing a blob", |store| async move {
            store.delete(&key).await
        }) {
            Ok(()) | Err(StoreError::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn start_upload(&self) -> Result<String, StoreError> {
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        let start = Self::upload_prefix(&id)?.clone().join("start");
        self.run("starting an upload", |store| async move {
            store.put(&start, PutPayload::new()).await
        })?;
        Ok(id)
    }

    fn open_upload(&self, id: &str) -> Result<Box<dyn UploadWrite>, StoreError> {
        let size = self.parts(id)?.iter().map(|(_, _, size)| size).sum();
        Ok(Box::new(S3UploadWriter {
            blobs: self.clone(),
            prefix: Self::upload_prefix(id)?,
            size,
        }))
    }

    fn upload_size(&self, id: &str) -> Result<u64, StoreError> {
        Ok(self.parts(id)?.iter().map(|(_, _, size)| size).sum())
    }

    fn complete_upload(&self, id: &str, expected: &Digest) -> Result<Digest, StoreError> {
        const COMPLETING: &str = "completing an upload";
        let parts = self.parts(id)?;
        let mut file = tempfile::tempfile().map_err(storage_io(COMPLETING))?;
        let mut hasher = Hasher::new(expected.algorithm());
        let mut size = 0;
        for (offset, key, _) in &parts {
            if *offset != size {
                return Err(StoreError::storage(
                    COMPLETING,
                    format!("upload {id} has a gap at byte {size}"),
                ));
            }
            let key = key.clone();
            let bytes = self.run(COMPLETING, |store| async move {
                store.get(&key).await?.bytes().await
            })?;
            hasher.update(&bytes);
            file.write_all(&bytes).map_err(storage_io(COMPLETING))?;
            size += bytes.len() as u64;
        }
        let actual = hasher.finish()?;
        if &actual != expected {
            return Err(StoreError::DigestMismatch {
                expected: expected.to_string(),
                actual: actual.to_string(),
            });
        }
        self.place(&actual, file, size)?;
        self.cancel_upload(id)?;
        Ok(actual)
    }

    fn list(&self) -> Result<Vec<StoredBlob>, StoreError> {
        let objects: Vec<object_store::ObjectMeta> = self
            .run("listing the bucket's blobs", |store| async move {
                store.list(Some(&Path::from("blobs"))).try_collect().await
            })?;
        Ok(objects
            .into_iter()
            .filter_map(|object| {
                let mut parts = object.location.parts();
                let (_, algorithm, hex) = (parts.next()?, parts.next()?, parts.next()?);
                let digest = format!("{}:{}", algorithm.as_ref(), hex.as_ref())
                    .parse()
                    .ok()?;
                Some(StoredBlob {
                    digest,
                    size: object.size,
                    modified: object.last_modified.into(),
                })
            })
            .collect())
    }

    fn modified(&self, digest: &Digest) -> Result<Option<SystemTime>, StoreError> {
        let key = blob_key(digest);
        match self.run("reading when a blob was written", |store| async move {
            store.head(&key).await
        }) {
            Ok(meta) => Ok(Some(meta.last_modified.into())),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn abandoned_uploads(&self, before: SystemTime) -> Result<Vec<(String, u64)>, StoreError> {
        let objects: Vec<object_store::ObjectMeta> = self
            .run("listing the bucket's uploads", |store| async move {
                store.list(Some(&Path::from("uploads"))).try_collect().await
            })?;
        // Each upload's size and last write.
        let mut uploads: std::collections::BTreeMap<String, (u64, SystemTime)> =
            std::collections::BTreeMap::new();
        for object in objects {
            let Some(id) = object.location.parts().nth(1) else {
                continue;
            };
            let modified: SystemTime = object.last_modified.into();
            let entry = uploads
                .entry(id.as_ref().to_string())
                .or_insert((0, SystemTime::UNIX_EPOCH));
            entry.0 += object.size;
            entry.1 = entry.1.max(modified);
        }
        Ok(uploads
            .into_iter()
            .filter(|(_, (_, modified))| *modified < before)
            .map(|(id, (size, _))| (id, size))
            .collect())
    }

    fn cancel_upload(&self, id: &str) -> Result<(), StoreError> {
        let prefix = Self::upload_prefix(id)?;
        let removed = self.run("cancelling an upload", |store| async move {
            let keys: Vec<object_store::ObjectMeta> =
                store.list(Some(&prefix)).try_collect().await?;
            for meta in &keys {
                store.delete(&meta.location).await?;
            }
            Ok(keys.len())
        })?;
        if removed == 0 {
            return Err(upload_not_found(id));
        }
        Ok(())
    }
}

/// A new blob, spooled to a temporary file while it is hashed.
struct S3BlobWriter {
    blobs: S3Blobs,
    /// None once finished.
    file: Option<File>,
    hasher: Sha256,
    size: u64,
}

impl BlobWrite for S3BlobWriter {
    fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        check_chunk(chunk)?;
        let file = self.file.as_mut().ok_or_else(finished)?;
        file.write_all(chunk)
            .map_err(storage_io("spooling a new blob"))?;
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<Digest, StoreError> {
        let file = self.file.take().ok_or_else(finished)?;
        let hasher = std::mem::take(&mut self.hasher);
        let digest = Digest::sha256(&hex::encode(hasher.finalize()))?;
        self.blobs.place(&digest, file, self.size)?;
        Ok(digest)
    }
}

/// A blob being read, one ranged GET per chunk.
struct S3BlobReader {
    blobs: S3Blobs,
    key: Path,
    size: u64,
    position: u64,
}

impl BlobRead for S3BlobReader {
    fn size(&self) -> u64 {
        self.size
    }

    fn read(&mut self, len: u32) -> Result<Vec<u8>, StoreError> {
        let end = self.size.min(self.position + u64::from(len.min(MAX_CHUNK)));
        if end <= self.position {
            return Ok(Vec::new());
        }
        let (key, range) = (self.key.clone(), self.position..end);
        let bytes = self.blobs.run("reading a blob", |store| async move {
            store.get_range(&key, range).await
        })?;
        self.position += bytes.len() as u64;
        Ok(bytes.to_vec())
    }
}

/// An upload being appended to: each write its own object at its offset.
struct S3UploadWriter {
    blobs: S3Blobs,
    prefix: Path,
    size: u64,
}

impl UploadWrite for S3UploadWriter {
    fn write(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        check_chunk(chunk)?;
        if chunk.is_empty() {
            return Ok(());
        }
        let key = self
            .prefix
            .clone()
            .join(format!("{:020}", self.size).as_str());
        let bytes = chunk.to_vec();
        let put = self.blobs.bucket.block({
            let store = self.blobs.bucket.store.clone();
            async move {
                let options = PutOptions::from(PutMode::Create);
                store.put_opts(&key, PutPayload::from(bytes), options).await
            }
        })?;
        match put {
            Ok(_) => {
                self.size += chunk.len() as u64;
                Ok(())
            }
            Err(object_store::Error::AlreadyExists { .. }) => Err(StoreError::BadRequest(format!(
                "another write to this upload at byte {} landed first; read the upload's size \
                 and go on from there",
                self.size
            ))),
            Err(e) => Err(StoreError::storage("appending to an upload", e)),
        }
    }

    fn size(&self) -> u64 {
        self.size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_urls_name_a_bucket_and_optionally_an_endpoint_and_region() {
        let url: BucketUrl = "s3://depot?endpoint=http://127.0.0.1:8333&region=us-east-1"
            .parse()
            .unwrap();
        assert_eq!(
            url,
            BucketUrl {
                bucket: "depot".into(),
                prefix: None,
                endpoint: Some("http://127.0.0.1:8333".into()),
                region: Some("us-east-1".into()),
            }
        );
        assert_eq!("s3://depot".parse::<BucketUrl>().unwrap().endpoint, None);
        let shared: BucketUrl = "s3://depot/registries/one/".parse().unwrap();
        assert_eq!(shared.prefix.as_deref(), Some("registries/one"));
        for bad in [
            "depot",
            "s3://",
            "s3://a//b",
            "s3://depot?secret=x",
            "file:///tmp",
        ] {
            assert!(bad.parse::<BucketUrl>().is_err(), "{bad}");
        }
    }
}
