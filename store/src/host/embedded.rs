//! The embedded store of one data directory, for one machine and no other
//! service: the registry database in SQLite (`<data>/registry.db`, the
//! rusqlite driver), content-addressed blobs in files (`<data>/blobs/`, the
//! file driver) and the checkpoint key in `<data>/log.key`.

use std::path::Path;
use std::sync::Arc;

use depot_protocol::tlog::{NoteSigner, TlogError};

use super::files::BlobDir;
use super::sql_backend::SqlBackend;
use crate::StoreError;
use crate::rusqlite_driver::Sqlite;

/// Reader connections: enough for the reads of concurrent requests to overlap.
const READERS: usize = 4;

/// Opens (creating if needed) the registry in the data directory `data`.
pub fn open(data: &Path) -> Result<SqlBackend, StoreError> {
    std::fs::create_dir_all(data)
        .map_err(|e| StoreError::storage("creating the data directory", e))?;
    let key = load_or_create_key(data)?;
    let path = data.join("registry.db");
    let writer = crate::open_with_key(
        Box::new(Sqlite::open(&path, false)?),
        random_bytes,
        Some(&key),
    )?;
    let readers = (0..READERS)
        .map(|_| crate::open_reader(Box::new(Sqlite::open(&path, true)?), random_bytes))
        .collect::<Result<_, _>>()?;
    SqlBackend::new(writer, readers, Arc::new(BlobDir::open(data)?))
}

/// `n` bytes from the operating system's cryptographically secure random.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    // The kernel's random source does not fail once the system is up.
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

/// The registry's checkpoint key in `data`, made on first use: a C2SP signer
/// key string, readable only by its owner.
pub fn load_or_create_key(data: &Path) -> Result<NoteSigner, StoreError> {
    const KEY: &str = "reading the checkpoint key";
    let path = data.join("log.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|e: TlogError| StoreError::storage(KEY, format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let seed: [u8; 32] = random_bytes(32).try_into().expect("32 bytes were drawn");
            let name = format!("depot/{}", hex::encode(random_bytes(4)));
            let signer =
                NoteSigner::from_seed(&name, seed).map_err(|e| StoreError::storage(KEY, e))?;
            write_private(&path, &signer.to_key_string())
                .map_err(|e| StoreError::storage("writing the checkpoint key", e))?;
            Ok(signer)
        }
        Err(e) => Err(StoreError::storage(KEY, e)),
    }
}

/// Writes `text` to a new file only its owner may read, durably.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(format!("{text}\n").as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use depot_protocol::Digest;

    use super::*;
    use crate::host::{Backend, SMALL_BLOB, files};

    fn store(backend: &SqlBackend, bytes: &[u8], chunk: usize) -> Digest {
        let mut writer = backend.create_blob().unwrap();
        for part in bytes.chunks(chunk) {
            writer.write(part).unwrap();
        }
        writer.finish().unwrap()
    }

    fn read(backend: &SqlBackend, digest: &Digest, offset: u64) -> Vec<u8> {
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
            let backend = open(data.path()).unwrap();
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
        assert_eq!(small_digest, files::sha256(&small).unwrap());

        // Both survive a reopen and read the same from any offset.
        let backend = open(data.path()).unwrap();
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
        let unknown = files::sha256(b"never stored").unwrap();
        assert!(matches!(
            backend.open_blob(&unknown, 0),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn the_key_file_signs_the_checkpoints_and_another_key_is_refused() {
        let data = tempfile::tempdir().unwrap();
        let key = {
            let backend = open(data.path()).unwrap();
            backend.log_key().unwrap()
        };
        let file_key = load_or_create_key(data.path()).unwrap();
        assert_eq!(key, file_key.verifier().to_string());
        // The same key on a reopen; another key for this database is refused
        // rather than signing its tree with a second key.
        assert_eq!(open(data.path()).unwrap().log_key().unwrap(), key);
        std::fs::remove_file(data.path().join("log.key")).unwrap();
        let err = open(data.path()).unwrap_err();
        assert!(
            matches!(&err, StoreError::BadRequest(m) if m.contains(&key)),
            "{err:?}"
        );
    }
}
