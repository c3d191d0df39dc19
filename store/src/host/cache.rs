//! Releases recently read, kept decoded in memory: a release-JSON or content
//! GET then costs no SQL and no JSON decoding. Correct because this process is
//! the only writer of its database and every write goes through
//! [`super::SqlBackend`]'s commit, which forgets the package's releases once
//! its transaction has committed.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::types::Release;

/// Most releases kept; when full the cache starts afresh (hot releases come
/// back on their next read).
const CAPACITY: usize = 4096;

/// Decoded releases by package name and version.
#[derive(Debug, Default)]
pub struct ReleaseCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Bumped by every write, so a read that raced one does not keep what
    /// it read before the write committed.
    generation: u64,
    releases: HashMap<String, HashMap<String, Release>>,
    len: usize,
}

impl ReleaseCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The map is valid between statements: a panic cannot corrupt it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached release of `name` at `version`, or the generation to hand
    /// to [`Self::insert`] with what the database says.
    pub fn get(&self, name: &str, version: &str) -> Result<Release, u64> {
        let inner = self.lock();
        inner
            .releases
            .get(name)
            .and_then(|versions| versions.get(version))
            .cloned()
            .ok_or(inner.generation)
    }

    /// Keeps `release`, read from the database when the cache was at
    /// `generation`, unless a write happened since.
    pub fn insert(&self, generation: u64, release: &Release) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        if inner.len >= CAPACITY {
            inner.releases.clear();
            inner.len = 0;
        }
        let previous = inner
            .releases
            .entry(release.name.clone())
            .or_default()
            .insert(release.version.clone(), release.clone());
        if previous.is_none() {
            inner.len += 1;
        }
    }

    /// Forgets the releases of `name`, after a write to it committed.
    pub fn forget(&self, name: &str) {
        let mut inner = self.lock();
        inner.generation += 1;
        if let Some(versions) = inner.releases.remove(name) {
            inner.len -= versions.len();
        }
    }
}
