//! A store that many `depot serve` instances share: the registry database on
//! PostgreSQL and the blobs in an S3 bucket (either may also stay embedded:
//! SQLite or files in the data directory, for one machine).
//!
//! Every instance runs the same logic over its own connections; what keeps
//! them one registry is the database: appends take its write lock, the
//! checkpoint key is kept in it, tokens and policy are read from it on every
//! request, and each instance's follower hears every append (`LISTEN`) to
//! drop what it cached and wake its feed's waiters.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::embedded::random_bytes;
use super::files::BlobDir;
use super::s3::{BucketUrl, S3Blobs};
use super::sql_backend::{BlobStore, SqlBackend, Wakeup};
use crate::StoreError;
use crate::postgres_driver::{Listener, Postgres};

/// Reader connections per instance.
const READERS: usize = 4;

/// Where an instance's store is.
#[derive(Debug, Clone, Default)]
pub struct Location {
    /// A PostgreSQL URL; none: SQLite in the data directory.
    pub database: Option<String>,
    /// A bucket; none: files in the data directory.
    pub blobs: Option<BucketUrl>,
}

impl Wakeup for Listener {
    fn wait(&mut self, timeout: Duration) {
        Listener::wait(self, timeout);
    }
}

/// Opens the store at `location`, with what stays local in `data`. Fails,
/// saying what is wrong, when the database or the bucket cannot be reached.
pub fn open(location: &Location, data: &Path) -> Result<SqlBackend, StoreError> {
    let Some(url) = &location.database else {
        let backend = super::embedded::open(data)?;
        return match &location.blobs {
            None => Ok(backend),
            Some(_) => Err(StoreError::BadRequest(
                "blobs in a bucket need the database shared too: give --database with --blobs"
                    .into(),
            )),
        };
    };
    let blobs: Arc<dyn BlobStore> = match &location.blobs {
        Some(bucket) => Arc::new(S3Blobs::open(bucket)?),
        None => Arc::new(BlobDir::open(data)?),
    };
    let connect = || {
        Postgres::connect(url).map_err(|e| {
            StoreError::BadRequest(format!(
                "{e}; check --database (or DEPOT_DATABASE_URL) and that the server is up"
            ))
        })
    };
    let writer = crate::open(Box::new(connect()?), random_bytes)?;
    let readers = (0..READERS)
        .map(|_| crate::open_reader(Box::new(connect()?), random_bytes))
        .collect::<Result<_, StoreError>>()?;
    let mut backend = SqlBackend::new(writer, readers, blobs)?;
    let follower = crate::open_reader(Box::new(connect()?), random_bytes)?;
    let listener = Listener::new(url).map_err(StoreError::BadRequest)?;
    backend.follow(follower, Box::new(listener))?;
    Ok(backend)
}
