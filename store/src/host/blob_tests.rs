//! The blob drivers' one contract, checked against each of them: files, the
//! key-value layout (a Spin build's, here over SQLite and a map) and S3. Each
//! case takes two handles on the same storage, as two instances (or two
//! requests of one) would hold, and writes through one and reads through the
//! other.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use depot_protocol::Digest;
use sha2::{Digest as _, Sha256, Sha512};

use super::kv_blobs::KvBlobs;
use super::{BlobStore, MAX_CHUNK, StoreError};
use crate::blobs::{KV_CHUNK, Kv};
use crate::rusqlite_driver::Sqlite;

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 ^ seed).collect()
}

fn sha256(content: &[u8]) -> Digest {
    Digest::sha256(&hex::encode(Sha256::digest(content))).unwrap()
}

fn put(blobs: &dyn BlobStore, content: &[u8]) -> Digest {
    let mut writer = blobs.create().unwrap();
    for chunk in content.chunks(MAX_CHUNK as usize) {
        writer.write(chunk).unwrap();
    }
    writer.finish().unwrap()
}

fn read_all(blobs: &dyn BlobStore, digest: &Digest, offset: u64, len: u32) -> Vec<u8> {
    let mut reader = blobs.open(digest, offset).unwrap();
    let mut all = Vec::new();
    loop {
        let chunk = reader.read(len).unwrap();
        if chunk.is_empty() {
            return all;
        }
        assert!(chunk.len() <= len.min(MAX_CHUNK) as usize);
        all.extend(chunk);
    }
}

/// Blobs of the sizes each driver splits differently (under one key-value
/// chunk; several; several S3 parts) round-trip whole under their SHA-256,
/// from any offset, through either handle; writing one twice keeps one;
/// removing one is final and idempotent.
fn blobs_round_trip(a: &dyn BlobStore, b: &dyn BlobStore, sizes: &[usize]) {
    for (seed, &size) in sizes.iter().enumerate() {
        let content = bytes(size, seed as u8);
        let digest = put(a, &content);
        assert_eq!(digest, sha256(&content), "{size} bytes");
        assert_eq!(read_all(b, &digest, 0, MAX_CHUNK), content);
        assert_eq!(read_all(b, &digest, 0, 100_000), content);
        let inside = size as u64 / 3 + 1;
        assert_eq!(
            read_all(b, &digest, inside, u32::MAX),
            content[inside as usize..]
        );
        assert_eq!(b.open(&digest, 0).unwrap().size(), size as u64);
        let end = size as u64;
        assert!(b.open(&digest, end).unwrap().read(10).unwrap().is_empty());
        assert!(matches!(
            b.open(&digest, end + 1),
            Err(StoreError::BadRequest(_))
        ));
        assert_eq!(put(b, &content), digest, "the same content again");
        a.remove(&digest).unwrap();
        assert!(matches!(b.open(&digest, 0), Err(StoreError::NotFound(_))));
        a.remove(&digest).unwrap();
    }
    let mut writer = a.create().unwrap();
    writer.write(b"x").unwrap();
    let oversized = vec![0; MAX_CHUNK as usize + 1];
    assert!(matches!(
        writer.write(&oversized),
        Err(StoreError::BadRequest(_))
    ));
    writer.finish().unwrap();
    assert!(matches!(writer.write(b"y"), Err(StoreError::BadRequest(_))));
    assert!(matches!(writer.finish(), Err(StoreError::BadRequest(_))));
    // An unfinished writer leaves no blob.
    let content = bytes(3 * KV_CHUNK, 9);
    let mut writer = a.create().unwrap();
    for chunk in content.chunks(MAX_CHUNK as usize) {
        writer.write(chunk).unwrap();
    }
    drop(writer);
    assert!(matches!(
        b.open(&sha256(&content), 0),
        Err(StoreError::NotFound(_))
    ));
}

/// An upload goes on through either handle, becomes the blob it hashes to
/// (in either algorithm) and only that, and is gone once completed or
/// cancelled. `refuses_stale`: a writer opened before another's write is
/// refused (drivers shared by instances).
fn uploads_span_handles(a: &dyn BlobStore, b: &dyn BlobStore, refuses_stale: bool) {
    let content = bytes(3 * 1024 * 1024 + 7, 3);
    let id = a.start_upload().unwrap();
    assert_eq!(b.upload_size(&id).unwrap(), 0);
    let (first, second) = content.split_at(MAX_CHUNK as usize);
    a.open_upload(&id).unwrap().write(first).unwrap();
    let mut writer = b.open_upload(&id).unwrap();
    assert_eq!(writer.size(), first.len() as u64);
    let mut stale = a.open_upload(&id).unwrap();
    for chunk in second.chunks(MAX_CHUNK as usize) {
        writer.write(chunk).unwrap();
    }
    assert_eq!(writer.size(), content.len() as u64);
    if refuses_stale {
        let err = stale.write(b"late").unwrap_err();
        assert!(matches!(err, StoreError::BadRequest(_)), "{err:?}");
    }
    drop(stale);
    assert_eq!(a.upload_size(&id).unwrap(), content.len() as u64);

    // A wrong digest stores nothing and keeps the upload.
    let wrong = sha256(b"other");
    assert!(matches!(
        b.complete_upload(&id, &wrong),
        Err(StoreError::DigestMismatch { .. })
    ));
    assert!(matches!(a.open(&wrong, 0), Err(StoreError::NotFound(_))));
    assert_eq!(a.upload_size(&id).unwrap(), content.len() as u64);
    let right = sha256(&content);
    assert_eq!(a.complete_upload(&id, &right).unwrap(), right);
    assert_eq!(read_all(b, &right, 0, MAX_CHUNK), content);
    assert!(matches!(b.upload_size(&id), Err(StoreError::NotFound(_))));
    assert!(matches!(b.open_upload(&id), Err(StoreError::NotFound(_))));
    a.remove(&right).unwrap();

    let id = a.start_upload().unwrap();
    b.open_upload(&id).unwrap().write(b"long hash").unwrap();
    let sha512: Digest = format!("sha512:{}", hex::encode(Sha512::digest(b"long hash")))
        .parse()
        .unwrap();
    assert_eq!(b.complete_upload(&id, &sha512).unwrap(), sha512);
    assert_eq!(read_all(a, &sha512, 0, MAX_CHUNK), b"long hash");
    a.remove(&sha512).unwrap();

    let cancelled = a.start_upload().unwrap();
    b.cancel_upload(&cancelled).unwrap();
    for gone in [&cancelled[..], "../blobs", "0"] {
        assert!(
            matches!(a.upload_size(gone), Err(StoreError::NotFound(_))),
            "{gone}"
        );
    }
    assert!(matches!(
        a.cancel_upload(&cancelled),
        Err(StoreError::NotFound(_))
    ));
}

/// Sizes that cross each driver's boundaries: small, a key-value chunk and a
/// bit, several megabytes.
const SIZES: [usize; 3] = [70_000, KV_CHUNK + 1, 2 * 1024 * 1024 + 12_345];

mod files {
    use super::*;
    use crate::host::files::BlobDir;

    #[test]
    fn blobs_round_trip() {
        let data = tempfile::tempdir().unwrap();
        let (a, b) = (
            BlobDir::open(data.path()).unwrap(),
            BlobDir::open(data.path()).unwrap(),
        );
        super::blobs_round_trip(&a, &b, &SIZES);
    }

    #[test]
    fn uploads_span_handles() {
        let data = tempfile::tempdir().unwrap();
        let (a, b) = (
            BlobDir::open(data.path()).unwrap(),
            BlobDir::open(data.path()).unwrap(),
        );
        // One process holds a data directory: no stale writer to refuse.
        super::uploads_span_handles(&a, &b, false);
    }
}

mod key_value {
    use super::*;

    /// A key-value store in memory, shared by threads.
    #[derive(Default)]
    struct MapKv(Mutex<BTreeMap<String, Vec<u8>>>);

    impl Kv for MapKv {
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
            Ok(self.0.lock().unwrap().get(key).cloned())
        }

        fn set(&self, key: &str, value: &[u8]) -> Result<(), String> {
            assert!(value.len() <= KV_CHUNK, "{key} holds {} bytes", value.len());
            self.0.lock().unwrap().insert(key.into(), value.to_vec());
            Ok(())
        }

        fn delete(&self, key: &str) -> Result<(), String> {
            self.0.lock().unwrap().remove(key);
            Ok(())
        }
    }

    /// Two handles on one database file and one key-value store, as a Spin
    /// build's two requests have them.
    fn handles(data: &std::path::Path) -> (KvBlobs, KvBlobs, Arc<MapKv>) {
        let path = data.join("db.sqlite");
        let random = crate::host::embedded::random_bytes;
        crate::open(Box::new(Sqlite::open(&path, false).unwrap()), random).unwrap();
        let kv = Arc::new(MapKv::default());
        let handle = || {
            let db = crate::open_reader(Box::new(Sqlite::open(&path, false).unwrap()), random);
            KvBlobs::new(db.unwrap(), kv.clone())
        };
        (handle(), handle(), kv.clone())
    }

    #[test]
    fn blobs_round_trip() {
        let data = tempfile::tempdir().unwrap();
        let (a, b, kv) = handles(data.path());
        super::blobs_round_trip(&a, &b, &SIZES);
        // Every chunk went with its blob, finished or not.
        assert!(kv.0.lock().unwrap().is_empty(), "chunks left behind");
    }

    #[test]
    fn uploads_span_handles() {
        let data = tempfile::tempdir().unwrap();
        let (a, b, kv) = handles(data.path());
        super::uploads_span_handles(&a, &b, true);
        assert!(kv.0.lock().unwrap().is_empty(), "chunks left behind");
    }
}

#[cfg(feature = "s3")]
mod s3 {
    use crate::host::s3::S3Blobs;

    /// The test S3 server's bucket `depot` (`scripts/test` starts SeaweedFS
    /// and names it in `DEPOT_TEST_S3_ENDPOINT`), as a second instance would
    /// open it too.
    fn bucket() -> S3Blobs {
        let endpoint = std::env::var("DEPOT_TEST_S3_ENDPOINT").expect(
            "DEPOT_TEST_S3_ENDPOINT names no S3 server for the blob driver's tests; run \
             ./scripts/test, which starts one, or start one with scripts/s3 start",
        );
        // SeaweedFS without identities takes any credentials; scripts/s3
        // gives some, as a real bucket needs.
        assert!(
            std::env::var_os("AWS_ACCESS_KEY_ID").is_some(),
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (scripts/s3 start prints them)"
        );
        let url = format!("s3://depot/blob-tests?endpoint={endpoint}&region=us-east-1");
        S3Blobs::open(&url.parse().unwrap()).unwrap()
    }

    #[test]
    fn blobs_round_trip() {
        // Past one multipart part (8 MiB) too.
        let sizes = [super::SIZES.as_slice(), &[2 * 8 * 1024 * 1024 + 12_345]].concat();
        super::blobs_round_trip(&bucket(), &bucket(), &sizes);
    }

    #[test]
    fn uploads_span_handles() {
        super::uploads_span_handles(&bucket(), &bucket(), true);
    }
}
