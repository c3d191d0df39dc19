//! The state of one request's instance of the composition: its WASI, HTTP and
//! storage contexts, and the limits it runs under.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use super::throttle::Throttle;
use crate::spin::{self, SpinCtx, SpinView};
use crate::store::{self, StoreCtx, StoreView};

/// What stores the registry's data for the composition being served.
#[derive(Debug, Clone)]
pub enum Storage {
    /// The host implements the store interfaces (`depot serve`).
    Native(StoreCtx),
    /// The composition holds its own store (spin-store), which uses Spin's
    /// key-value and SQLite interfaces, implemented by the host on local
    /// files (`depot serve --spin-app`).
    Spin(SpinCtx),
}

/// The limits every request runs under, and the settings handlers read from
/// their environment.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most bytes of linear memory, summed over the instance's memories.
    pub memory: u64,
    /// How long the handlers may run.
    pub deadline: Duration,
    /// Largest release content, for the handlers (`DEPOT_MAX_CONTENT_SIZE`).
    pub max_content_size: u64,
    /// Whether reads need a token (`depot serve --private`), for the api
    /// handler (`DEPOT_PRIVATE`).
    pub private: bool,
    /// URL prefixes content sources may have, comma-separated, for the
    /// publish handler (`DEPOT_CONTENT_SOURCES`).
    pub content_sources: Arc<str>,
    /// How long an unpublished release lives, for the publish handler
    /// (`DEPOT_UNPUBLISHED_TTL_MS`).
    pub unpublished_ttl: Duration,
    /// Per-token limits on writes (`--write-rate`,
    /// `--max-uploads-per-token`), when the operator set any.
    pub throttle: Option<Arc<Throttle>>,
}

/// The `T` of each request's `Store`.
pub struct RequestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    storage: Storage,
    memory: MemoryLimiter,
    /// How its outgoing HTTP requests are sent, when not as wasmtime sends
    /// them (a split Spin build's chained requests).
    hooks: Option<Box<dyn WasiHttpHooks>>,
}

impl RequestState {
    /// Whether the memory limit refused a growth during this request.
    pub fn hit_memory_limit(&self) -> bool {
        self.memory.refused
    }
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: match &mut self.hooks {
                Some(hooks) => hooks.as_mut(),
                None => Default::default(),
            },
        }
    }
}

/// A linker with everything the composition imports: WASI 0.2, WASI HTTP and
/// either the store or, for a Spin build, Spin's key-value and SQLite.
/// Requests must then be served with the same kind of [`Storage`].
pub fn linker(engine: &Engine, storage: &Storage) -> anyhow::Result<Linker<RequestState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    match storage {
        Storage::Native(_) => store::add_to_linker(&mut linker, |state: &mut RequestState| {
            let Storage::Native(ctx) = &state.storage else {
                unreachable!("a native linker serves only native storage");
            };
            StoreView::new(ctx, &mut state.table)
        })?,
        Storage::Spin(_) => spin::add_to_linker(&mut linker, |state: &mut RequestState| {
            let Storage::Spin(ctx) = &state.storage else {
                unreachable!("a Spin linker serves only Spin storage");
            };
            SpinView::new(ctx, &mut state.table)
        })?,
    }
    Ok(linker)
}

/// A fresh `Store` for one request, whose handlers must finish by `deadline`
/// and send their outgoing HTTP requests with `hooks` (wasmtime's own when
/// none).
pub fn new_store(
    engine: &Engine,
    storage: &Storage,
    limits: &Limits,
    deadline: Instant,
    hooks: Option<Box<dyn WasiHttpHooks>>,
) -> Store<RequestState> {
    let mut wasi = WasiCtx::builder();
    wasi.env(
        "DEPOT_MAX_CONTENT_SIZE",
        limits.max_content_size.to_string(),
    )
    // How long the handlers have: a stream (the feed's server-sent events)
    // ends cleanly before the deadline cuts it.
    .env(
        "DEPOT_REQUEST_DEADLINE_MS",
        limits.deadline.as_millis().to_string(),
    )
    // A handler's panic message is the first clue to what went wrong.
    .inherit_stderr();
    if limits.private {
        wasi.env("DEPOT_PRIVATE", "1");
    }
    wasi.env("DEPOT_CONTENT_SOURCES", &*limits.content_sources)
        .env(
            "DEPOT_UNPUBLISHED_TTL_MS",
            limits.unpublished_ttl.as_millis().to_string(),
        );
    let state = RequestState {
        wasi: wasi.build(),
        http: WasiHttpCtx::new(),
        table: ResourceTable::new(),
        storage: match storage {
            Storage::Native(store) => Storage::Native(store.with_deadline(deadline)),
            Storage::Spin(spin) => Storage::Spin(spin.clone()),
        },
        memory: MemoryLimiter::new(limits.memory),
        hooks,
    };
    let mut store = Store::new(engine, state);
    store.limiter(|state| &mut state.memory);
    // Every epoch tick, a running handler yields so other requests on this
    // thread run too, and traps with `Trap::Interrupt` once past its deadline.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        Ok(if Instant::now() >= deadline {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::Yield(1)
        })
    });
    store
}

/// Limits the sum of an instance's linear memories, remembering whether it
/// refused a growth (so a trap that follows is reported as the limit's doing).
#[derive(Debug)]
struct MemoryLimiter {
    limit: usize,
    used: usize,
    refused: bool,
}

impl MemoryLimiter {
    fn new(limit: u64) -> Self {
        Self {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            used: 0,
            refused: false,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if maximum.is_some_and(|max| desired > max) {
            // Fails anyway, on the memory's own maximum: not ours to count.
            return Ok(false);
        }
        let used = self.used.saturating_sub(current).saturating_add(desired);
        if used > self.limit {
            self.refused = true;
            return Ok(false);
        }
        self.used = used;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables are bounded by the instance pool.
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    #[test]
    fn the_memory_limit_counts_every_memory_and_records_a_refusal() {
        let mut limiter = MemoryLimiter::new(10 * MIB as u64);
        assert!(limiter.memory_growing(0, 4 * MIB, None).unwrap());
        assert!(limiter.memory_growing(0, 4 * MIB, None).unwrap());
        assert!(limiter.memory_growing(4 * MIB, 6 * MIB, None).unwrap());
        assert!(!limiter.refused);
        assert!(!limiter.memory_growing(4 * MIB, 5 * MIB, None).unwrap());
        assert!(limiter.refused);
        assert_eq!(limiter.used, 10 * MIB);
    }

    #[test]
    fn growth_past_a_memorys_own_maximum_is_not_the_limits_doing() {
        let mut limiter = MemoryLimiter::new(10 * MIB as u64);
        assert!(!limiter.memory_growing(0, 2 * MIB, Some(MIB)).unwrap());
        assert!(!limiter.refused);
        assert_eq!(limiter.used, 0);
    }
}
