//! `depot serve`: composes the handler components, compiles them once (with a
//! cache), and serves HTTP with one fresh instance per request, storage
//! provided natively.

mod args;
mod compose;
mod engine;
mod http;
mod manifest;
mod request;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

pub use self::args::ServeArgs;
use self::args::show_size;
use self::engine::{Compiled, EpochTicker};
use self::http::Server;
use self::request::Limits;
use crate::store::{Embedded, StoreCtx};

/// Tokio worker threads: at least this many, so a worker blocked in a storage
/// call (an fsync) or running a handler between yields leaves others free.
const MIN_WORKERS: usize = 4;

/// Runs `depot serve` until Ctrl-C.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let workers = std::thread::available_parallelism()
        .map_or(MIN_WORKERS, |n| n.get())
        .max(MIN_WORKERS);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let backend = Embedded::open(&args.data).with_context(|| {
        format!(
            "cannot open the registry in {}; check that the directory given to --data is \
             writable",
            args.data.display()
        )
    })?;

    let handlers = manifest::load(args.handlers.as_deref())?;
    let start = Instant::now();
    let composed = compose::compose(&handlers)?;
    let compose_time = start.elapsed();

    let engine = engine::new(args.max_concurrent_requests, args.memory_limit)?;
    let (component, compiled) =
        engine::load_or_compile(&engine, &composed, &args.data.join("cache"))?;

    let start = Instant::now();
    let linker = request::linker(&engine)?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(anyhow::Error::from)
        .context("the composed handlers import something the host does not provide")?;
    let pre = ProxyPre::new(pre)
        .map_err(anyhow::Error::from)
        .context("the composed handlers do not serve HTTP")?;
    let pre_time = start.elapsed();
    if let Some(needs) = component.resources_required() {
        tracing::debug!(
            memories = needs.num_memories,
            tables = needs.num_tables,
            "resources of one instance"
        );
    }

    let _ticker = EpochTicker::start(engine.clone())?;
    let limits = Limits {
        memory: args.memory_limit,
        deadline: args.request_deadline,
        max_content_size: args.max_content_size,
    };
    let store = StoreCtx::new(Arc::new(backend));

    // One instance now, so handlers the instance pool or the memory limit
    // cannot hold fail at start-up rather than on every request.
    let start = Instant::now();
    let mut trial = request::new_store(&engine, &store, &limits, start + limits.deadline);
    pre.instantiate_async(&mut trial)
        .await
        .map_err(anyhow::Error::from)
        .with_context(|| {
            format!(
                "cannot instantiate the composed handlers within the per-request limits (memory \
                 limit {}); raise --memory-limit, or use handlers that need less",
                show_size(args.memory_limit)
            )
        })?;
    drop(trial);
    let instantiate_time = start.elapsed();

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; choose another address with --listen",
                args.listen
            )
        })?;
    let address = listener.local_addr()?;

    let (cache, compile_time) = match compiled {
        Compiled::Cached(t) => ("hit", t),
        Compiled::Compiled(t) => ("miss", t),
    };
    let ms = |t: std::time::Duration| t.as_secs_f64() * 1e3;
    tracing::info!(
        %address,
        data = %args.data.display(),
        composed_bytes = composed.len(),
        compose_ms = ms(compose_time),
        compile_cache = cache,
        compile_ms = ms(compile_time),
        instantiate_pre_ms = ms(pre_time),
        first_instance_ms = ms(instantiate_time),
        "serving"
    );
    // Tests and scripts wait for this line.
    eprintln!("Depot listening on http://{address}");

    Arc::new(Server::new(
        pre,
        store,
        limits,
        args.max_concurrent_requests,
    ))
    .run(listener)
    .await
}
