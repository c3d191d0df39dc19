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
use wasmtime::component::Linker;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

pub use self::args::ServeArgs;
use self::args::show_size;
use self::engine::{Compiled, EpochTicker};
use self::http::Server;
use self::request::Limits;
use crate::store::{Backend, Embedded, StoreCtx};

/// Tokio worker threads: at least this many, so a worker blocked in a storage
/// call (an fsync) or running a handler between yields leaves others free.
const MIN_WORKERS: usize = 4;

/// What a mirror follows.
pub struct Mirror {
    /// The registry it copies.
    pub origin: crate::client::Registry,
    /// Entries per feed request.
    pub batch: u32,
}

/// Runs `depot serve` (or, with `mirror`, `depot mirror`) until Ctrl-C.
pub fn run(args: ServeArgs, mirror: Option<Mirror>) -> anyhow::Result<()> {
    let workers = std::thread::available_parallelism()
        .map_or(MIN_WORKERS, |n| n.get())
        .max(MIN_WORKERS);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(serve(args, mirror))
}

async fn serve(args: ServeArgs, mirror: Option<Mirror>) -> anyhow::Result<()> {
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
    let composed_reads = compose::compose_reads(&handlers)?;
    let compose_time = start.elapsed();

    let engine = engine::new(args.max_concurrent_requests, args.memory_limit)?;
    let cache = args
        .compile_cache
        .clone()
        .unwrap_or_else(|| args.data.join("cache"));
    let linker = request::linker(&engine)?;
    let (all, compiled) = prepare(&engine, &linker, &composed, &cache)?;
    let (reads, compiled_reads) = prepare(&engine, &linker, &composed_reads, &cache)?;

    let _ticker = EpochTicker::start(engine.clone())?;
    let limits = Limits {
        memory: args.memory_limit,
        deadline: args.request_deadline,
        max_content_size: args.max_content_size,
        private: args.private,
        content_sources: args.content_source.join(",").into(),
        unpublished_ttl: args.unpublished_ttl,
    };
    let backend: Arc<dyn Backend> = Arc::new(backend);
    // A mirror takes no writes: it needs a token only to be read privately.
    if mirror.is_none() || args.private {
        show_new_operator_token(backend.as_ref())?;
    }
    let store = StoreCtx::new(backend.clone());

    // One instance of each now, so handlers the instance pool or the memory
    // limit cannot hold fail at start-up rather than on every request.
    let start = Instant::now();
    for pre in [&all, &reads] {
        let mut trial = request::new_store(&engine, &store, &limits, start + limits.deadline);
        pre.instantiate_async(&mut trial)
            .await
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "cannot instantiate the composed handlers within the per-request limits \
                     (memory limit {}); raise --memory-limit, or use handlers that need less",
                    show_size(args.memory_limit)
                )
            })?;
    }
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

    let compile_time = compiled.elapsed() + compiled_reads.elapsed();
    let cache = match (compiled, compiled_reads) {
        (Compiled::Cached(_), Compiled::Cached(_)) => "hit",
        _ => "miss",
    };
    let ms = |t: std::time::Duration| t.as_secs_f64() * 1e3;
    tracing::info!(
        %address,
        data = %args.data.display(),
        composed_bytes = composed.len(),
        composed_read_bytes = composed_reads.len(),
        compose_ms = ms(compose_time),
        compile_cache = cache,
        compile_ms = ms(compile_time),
        first_instances_ms = ms(instantiate_time),
        "serving"
    );
    let read_only = mirror.map(|Mirror { origin, batch }| {
        let base = origin.base().to_string();
        tracing::info!(origin = %base, "mirroring");
        tokio::spawn(crate::mirror::follow(origin, batch, backend));
        base
    });
    // Tests and scripts wait for this line.
    eprintln!("Depot listening on http://{address}");

    Arc::new(Server::new(
        all,
        reads,
        store,
        limits,
        args.max_concurrent_requests,
        read_only,
    ))
    .run(listener)
    .await
}

/// Compiles (or loads from `cache`) one composition and pre-instantiates it
/// as an HTTP handler. Handler interfaces it imports (the write handlers a
/// read composition leaves out) fail when called.
fn prepare(
    engine: &wasmtime::Engine,
    linker: &Linker<request::RequestState>,
    composed: &[u8],
    cache: &std::path::Path,
) -> anyhow::Result<(ProxyPre<request::RequestState>, Compiled)> {
    let (component, compiled) = engine::load_or_compile(engine, composed, cache)?;
    let mut linker = linker.clone();
    stub_handler_imports(engine, &mut linker, &component)
        .context("cannot stub the handlers a read does not use")?;
    let pre = linker
        .instantiate_pre(&component)
        .map_err(anyhow::Error::from)
        .context("the composed handlers import something the host does not provide")?;
    let pre = ProxyPre::new(pre)
        .map_err(anyhow::Error::from)
        .context("the composed handlers do not serve HTTP")?;
    if let Some(needs) = component.resources_required() {
        tracing::debug!(
            memories = needs.num_memories,
            tables = needs.num_tables,
            "resources of one instance"
        );
    }
    Ok((pre, compiled))
}

/// Defines every function of the handler interfaces `component` imports (the
/// write handlers a read composition leaves out) as a function that fails:
/// a read that called one would be a bug, answered with `handler-failed`.
fn stub_handler_imports(
    engine: &wasmtime::Engine,
    linker: &mut Linker<request::RequestState>,
    component: &wasmtime::component::Component,
) -> anyhow::Result<()> {
    use wasmtime::component::types::ComponentItem;
    for (name, item) in component.component_type().imports(engine) {
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
        if !name.starts_with("depot:registry/") || compose::provided_by_host(name) {
            continue;
        }
        let mut stubs = linker.instance(name).map_err(anyhow::Error::from)?;
        for (function, item) in instance.exports(engine) {
            if !matches!(item.ty, ComponentItem::ComponentFunc(_)) {
                continue;
            }
            let called = format!("{name}#{function}");
            stubs
                .func_new(function, move |_, _, _, _| {
                    Err(wasmtime::Error::msg(format!(
                        "`{called}` was called while serving a GET or HEAD, whose composition \
                         leaves the write handlers out"
                    )))
                })
                .map_err(anyhow::Error::from)?;
        }
    }
    Ok(())
}

/// Makes the operator's token on a registry's first start (or when the last
/// one was revoked) and prints it, the one time it is ever shown: only its
/// hash is kept.
fn show_new_operator_token(backend: &dyn Backend) -> anyhow::Result<()> {
    use std::io::Write as _;
    let Some(secret) = crate::store::tokens::ensure_operator(backend)
        .context("cannot make the operator's token")?
    else {
        return Ok(());
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "operator token (shown once, store it): {secret}")
        .and_then(|()| out.flush())
        .context("cannot print the operator's token")?;
    tracing::info!(
        "made the operator's token and printed it on stdout; it is not stored and will not \
         be shown again (pass it with --token or DEPOT_TOKEN)"
    );
    Ok(())
}
