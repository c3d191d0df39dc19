//! The wasmtime engine: its configuration (pooling allocator, epoch
//! interruption), the epoch ticker, and the compile cache.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::args::show_size;

/// How often the epoch advances: the granularity of request deadlines, and
/// how often a running handler yields to let other requests run.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

// What one request's instance may hold. The built-in handlers need 5 linear
// memories, 10 tables and 18 core instances; the rest is room for swapped-in
// handlers that need more. Handlers over these fail at start-up, saying so.

/// Linear memories one request may use.
const MEMORIES_PER_REQUEST: u32 = 8;

/// Tables one request may use.
const TABLES_PER_REQUEST: u32 = 16;

/// Core instances one request may use.
const CORE_INSTANCES_PER_REQUEST: u32 = 32;

/// Bytes of each memory and table reset in place rather than decommitted.
const KEEP_RESIDENT: usize = 2 << 20;

/// Decommits gathered before one flush.
const DECOMMIT_BATCH: usize = 32;

/// The largest a single 32-bit linear memory can be.
const MAX_MEMORY_SIZE: u64 = 4 << 30;

/// Creates the engine, with a pooling allocator sized for
/// `max_concurrent_requests` instances of the composition whose memories are
/// at most `memory_limit` each. Falls back to allocating on demand (slower
/// instantiation, same limits) if the pool's address space cannot be reserved.
pub fn new(max_concurrent_requests: u32, memory_limit: u64) -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::new();
    let requests = max_concurrent_requests;
    pool.total_component_instances(requests)
        .total_core_instances(requests.saturating_mul(CORE_INSTANCES_PER_REQUEST))
        .total_memories(requests.saturating_mul(MEMORIES_PER_REQUEST))
        .total_tables(requests.saturating_mul(TABLES_PER_REQUEST))
        .total_stacks(requests)
        .max_core_instances_per_component(CORE_INSTANCES_PER_REQUEST)
        .max_memories_per_component(MEMORIES_PER_REQUEST)
        .max_tables_per_component(TABLES_PER_REQUEST)
        .max_memory_size(usize::try_from(memory_limit.min(MAX_MEMORY_SIZE))?)
        // Resetting a slot with `madvise` flushes the TLB of every core running
        // the server, which dominated a profile of small GETs. Instead, zero the
        // pages a request dirtied (found with the PAGEMAP_SCAN ioctl on Linux
        // 6.7+, else memset) within the first few MiB, and batch the rest.
        .pagemap_scan(Enabled::Auto)
        .linear_memory_keep_resident(KEEP_RESIDENT)
        .table_keep_resident(KEEP_RESIDENT)
        .decommit_batch_size(DECOMMIT_BATCH);

    let mut config = base_config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&config) {
        Ok(engine) => Ok(engine),
        Err(e) => {
            tracing::warn!(
                error = %e,
                "cannot reserve the instance pool for {requests} concurrent requests of up to \
                 {} each; allocating instances on demand instead (lower \
                 --max-concurrent-requests or --memory-limit to use the pool)",
                show_size(memory_limit)
            );
            Ok(Engine::new(&base_config())?)
        }
    }
}

/// What `wasmtime serve` sets too: components, and epochs for deadlines.
fn base_config() -> Config {
    let mut config = Config::new();
    config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .parallel_compilation(true);
    // For profiling the handlers with `perf`: names their compiled functions
    // in `/tmp/perf-<pid>.map`.
    if std::env::var_os(PERFMAP_ENV).is_some_and(|v| v == "1") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// Set to `1` to write a perf map of the handlers' compiled code.
const PERFMAP_ENV: &str = "DEPOT_PERFMAP";

/// A thread advancing the engine's epoch every [`EPOCH_TICK`] until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts ticking `engine`'s epoch.
    pub fn start(engine: Engine) -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("depot-epoch".into())
            .spawn({
                let stop = stop.clone();
                move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                }
            })
            .context("cannot start the epoch thread")?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // The thread only sleeps and increments; it cannot panic.
            let _ = thread.join();
        }
    }
}

/// Feeds a `Hash` into SHA-256, so the engine's compatibility hash can be
/// part of a stable cache key.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
    }
}

/// Where the composition compiled by `engine` is cached: keyed by the
/// composition's bytes and everything in the engine that affects the code.
fn cache_path(engine: &Engine, composed: &[u8], cache_dir: &Path) -> PathBuf {
    let mut hasher = Sha256Hasher(Sha256::new());
    hasher.0.update(composed);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    cache_dir.join(format!("{}.cwasm", hex::encode(hasher.0.finalize())))
}

/// How the component was obtained, and how long it took.
#[derive(Debug, Clone, Copy)]
pub enum Compiled {
    /// Loaded from the compile cache.
    Cached(Duration),
    /// Compiled (and then cached).
    Compiled(Duration),
}

impl Compiled {
    /// How long loading or compiling took.
    pub fn elapsed(&self) -> Duration {
        match self {
            Self::Cached(t) | Self::Compiled(t) => *t,
        }
    }
}

/// The composition compiled for `engine`: from the cache in `cache_dir` if it
/// is there, else compiled and stored there for the next start.
pub fn load_or_compile(
    engine: &Engine,
    composed: &[u8],
    cache_dir: &Path,
) -> anyhow::Result<(Component, Compiled)> {
    let path = cache_path(engine, composed, cache_dir);
    if path.is_file() {
        let start = Instant::now();
        match load_cached(engine, &path) {
            Ok(component) => {
                // Loaded now: `depot gc` keeps what was loaded within its grace period.
                let touched = std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|file| file.set_modified(std::time::SystemTime::now()));
                if let Err(e) = touched {
                    tracing::debug!(path = %path.display(), error = %e, "cannot touch a compile cache entry");
                }
                return Ok((component, Compiled::Cached(start.elapsed())));
            }
            Err(e) => tracing::warn!(
                path = %path.display(),
                error = %format!("{e:#}"),
                "ignoring an unusable compile cache entry; compiling again"
            ),
        }
    }
    let start = Instant::now();
    let component = Component::new(engine, composed)
        .map_err(anyhow::Error::from)
        .context("compiling the composed handlers failed")?;
    let elapsed = start.elapsed();
    if let Err(e) = store_cached(&component, &path) {
        tracing::warn!(
            path = %path.display(),
            error = %format!("{e:#}"),
            "cannot write the compile cache; the next start compiles again"
        );
    }
    Ok((component, Compiled::Compiled(elapsed)))
}

#[allow(unsafe_code)]
fn load_cached(engine: &Engine, path: &Path) -> anyhow::Result<Component> {
    // SAFETY: `deserialize_file` trusts the file to be wasmtime's own output.
    // It is: only `store_cached` writes this directory (atomically, by
    // rename), and the name is the hash of the composition and of the engine
    // settings it was compiled with; wasmtime also checks the engine
    // compatibility recorded in the file and fails cleanly on a mismatch.
    Ok(unsafe { Component::deserialize_file(engine, path) }?)
}

/// Writes the compiled component to a temporary file, then renames it into place.
fn store_cached(component: &Component, path: &Path) -> anyhow::Result<()> {
    let dir = path.parent().context("the cache path has a folder")?;
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize()?;
    let temp = dir.join(format!(".{}.tmp", uuid::Uuid::new_v4()));
    let written = std::fs::write(&temp, bytes).and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    Ok(written?)
}
