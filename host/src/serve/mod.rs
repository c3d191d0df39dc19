//! `depot serve`: composes the handler components, compiles them once (with a
//! cache), and serves HTTP with one fresh instance per request, storage
//! provided natively.

mod args;
mod cache;
mod compose;
mod engine;
mod http;
mod instance;
mod manifest;
mod metrics;
mod request;
mod throttle;
mod timed;

pub use self::args::{ComposeArgs, MirrorArgs, StorageArgs};

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use wasmtime::component::Linker;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

pub use self::args::ServeArgs;
pub(crate) use self::args::{parse_grace, show_size};
use self::cache::ResponseCache;
use self::engine::{Compiled, EpochTicker};
use self::http::{Readiness, Server};
use self::instance::{Chain, Instances};
use self::metrics::Metrics;
use self::request::{Limits, Storage};
use self::throttle::Throttle;
use self::timed::Timed;
use crate::spin::SpinCtx;
use crate::store::{Backend, StoreCtx};

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

/// Runs `depot serve` (or, with `mirror`, `depot mirror`) until SIGTERM or
/// Ctrl-C.
pub fn run(args: ServeArgs, mirror: Option<Mirror>) -> anyhow::Result<()> {
    let workers = std::thread::available_parallelism()
        .map_or(MIN_WORKERS, |n| n.get())
        .max(MIN_WORKERS);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let served = runtime.block_on(serve(args, mirror));
    // What is still running after a shutdown (requests the grace period cut
    // off, the log follower) is dropped, not waited for.
    runtime.shutdown_timeout(Duration::from_secs(1));
    served
}

async fn serve(args: ServeArgs, mirror: Option<Mirror>) -> anyhow::Result<()> {
    let start = Instant::now();
    let metrics = Arc::new(Metrics::new(args.max_concurrent_requests));
    // The handlers of a Spin build write to their own store, which this
    // process cannot hear: nothing it kept would be purged.
    let response_cache = (args.response_cache > 0 && args.spin_app.is_none())
        .then(|| Arc::new(ResponseCache::new(args.response_cache, metrics.clone())));
    let app = match &args.spin_app {
        Some(path) => App::spin(&args, path, mirror.is_some())?,
        None => App::native(&args, &metrics, response_cache.as_ref())?,
    };
    let compose_time = start.elapsed();

    // A split Spin build's front waits for an instance of the whole
    // composition for each write it hands on: room for both.
    let instances_per_request = if app.chained_writes.is_some() { 2 } else { 1 };
    let engine = engine::new(
        args.max_concurrent_requests
            .saturating_mul(instances_per_request),
        args.memory_limit,
    )?;
    let cache = args.storage.compile_cache();
    let linker = request::linker(&engine, &app.storage)?;
    let (all, compiled) = prepare(&engine, &linker, &app.composed, &cache)?;
    let writes = app
        .chained_writes
        .as_ref()
        .map(|composed| prepare(&engine, &linker, composed, &cache))
        .transpose()?;
    // Without a read composition (a Spin build, an operator's own api
    // handler) reads use the whole one, compiled and tried once.
    let read_half = app
        .composed_reads
        .as_ref()
        .map(|composed| prepare(&engine, &linker, composed, &cache))
        .transpose()?;
    let composed = app.composed;
    let composed_reads = app.composed_reads.unwrap_or_default();
    let storage = app.storage;

    let _ticker = EpochTicker::start(engine.clone())?;
    let limits = Limits {
        memory: args.memory_limit,
        deadline: args.request_deadline,
        max_content_size: args.max_content_size,
        private: args.private,
        content_sources: args.content_source.join(",").into(),
        unpublished_ttl: args.unpublished_ttl,
        throttle: Throttle::new(args.write_rate, args.max_uploads_per_token),
    };
    // A mirror takes no writes: it needs a token only to be read privately.
    if mirror.is_none() || args.private {
        let secret = match &storage {
            Storage::Native(_) => app.backend.as_ref().map(|b| b.ensure_operator()),
            Storage::Spin(spin) => Some(spin.ensure_operator()),
        }
        .transpose()
        .context("cannot make the operator's token")?
        .flatten();
        if let Some(secret) = secret {
            show_operator_token(&secret)?;
        }
    }

    // One instance of each now, so handlers the instance pool or the memory
    // limit cannot hold fail at start-up rather than on every request.
    let start = Instant::now();
    let trials = std::iter::once(&all)
        .chain(read_half.as_ref().map(|(pre, _)| pre))
        .chain(writes.as_ref().map(|(pre, _)| pre));
    for pre in trials {
        let mut trial =
            request::new_store(&engine, &storage, &limits, start + limits.deadline, None);
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

    // The second composition, if any: the read one (native) or a split
    // Spin build's whole one; never both.
    let compiled_other = read_half
        .as_ref()
        .or(writes.as_ref())
        .map(|(_, compiled)| *compiled);
    let compile_time = compiled.elapsed() + compiled_other.map_or(Duration::ZERO, |c| c.elapsed());
    let cache = match (compiled, compiled_other) {
        (Compiled::Cached(_), Some(Compiled::Cached(_)) | None) => "hit",
        _ => "miss",
    };
    let ms = |t: Duration| t.as_secs_f64() * 1e3;
    tracing::info!(
        %address,
        data = %args.storage.data.display(),
        composed_bytes = composed.len(),
        composed_read_bytes = composed_reads.len(),
        compose_ms = ms(compose_time),
        compile_cache = cache,
        compile_ms = ms(compile_time),
        first_instances_ms = ms(instantiate_time),
        "serving"
    );
    let ready = readiness(&storage, app.backend.clone());
    if let Some(backend) = &app.backend {
        tokio::spawn(follow_log(
            backend.clone(),
            metrics.clone(),
            response_cache.clone(),
        ));
    }
    match (args.gc_every, &app.collectable) {
        (Some(every), Some(backend)) => {
            let cache = args.storage.compile_cache();
            tokio::spawn(collect_garbage(
                backend.clone(),
                every,
                args.gc_grace,
                cache,
                metrics.clone(),
            ));
        }
        (Some(_), None) => tracing::warn!(
            "--gc-every does not apply to a Spin build (--spin-app); its storage is not collected"
        ),
        _ => {}
    }
    let read_only = match (mirror, app.backend) {
        (Some(Mirror { origin, batch }), Some(backend)) => {
            let base = origin.base().to_string();
            tracing::info!(origin = %base, "mirroring");
            tokio::spawn(crate::mirror::follow(origin, batch, backend));
            Some(base)
        }
        _ => None,
    };
    // Scripts and tests wait for this line. It goes to stdout after the
    // operator's token (when this start made one), so a reader of stdout
    // knows, once it shows, that no token is still to come. A closed stdout
    // only loses the line.
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "Depot listening on http://{address}").and_then(|()| out.flush());
    }

    if let Some(at) = args.metrics_listen {
        let listener = tokio::net::TcpListener::bind(at).await.with_context(|| {
            format!(
                "cannot listen on {at} for metrics; choose another address with --metrics-listen"
            )
        })?;
        tracing::info!(address = %listener.local_addr()?, "serving metrics at /metrics");
        // Uploads are counted when scraped (on S3, a listing of its
        // multipart uploads); a Spin build's are not.
        let open_uploads = app.collectable.clone().map(|backend| {
            Arc::new(move || {
                backend
                    .open_uploads()
                    .map_err(|e| tracing::warn!(error = %e, "cannot count open uploads"))
                    .ok()
            }) as metrics::OpenUploads
        });
        tokio::spawn(metrics::serve(listener, metrics.clone(), open_uploads));
    }
    let reads = read_half.map_or_else(|| all.clone(), |(pre, _)| pre);
    let mut instances = Instances {
        storage,
        limits,
        metrics,
        chain: None,
    };
    if let Some((pre, _)) = writes {
        let chain = Chain {
            pre,
            instances: instances.clone(),
        };
        instances.chain = Some(Arc::new(chain));
    }
    Arc::new(
        Server::new(
            all,
            reads,
            instances,
            args.max_concurrent_requests,
            read_only,
            ready,
        )
        .with_response_cache(response_cache),
    )
    .run(listener, args.shutdown_grace)
    .await
}

/// What `/readyz` checks: on native storage, that the database answers a
/// trivial query and the blob store a lookup; for a Spin build, that its
/// key-value store and database answer.
fn readiness(storage: &Storage, backend: Option<Arc<dyn Backend>>) -> Readiness {
    match (storage, backend) {
        (Storage::Spin(spin), _) => {
            let spin = spin.clone();
            Arc::new(move || spin.ready())
        }
        (Storage::Native(_), Some(backend)) => Arc::new(move || {
            backend
                .package_head("depot:readiness")
                .map_err(|e| format!("the database does not answer ({e})"))?;
            // A blob nobody stores: not found means the blob store answered.
            let nobody = depot_protocol::Digest::sha256(&"0".repeat(64))
                .map_err(|e| format!("cannot name a blob to look up ({e})"))?;
            match backend.open_blob(&nobody, 0) {
                Ok(_) | Err(crate::store::StoreError::NotFound(_)) => Ok(()),
                Err(e) => Err(format!("the blob store does not answer ({e})")),
            }
        }),
        (Storage::Native(_), None) => Arc::new(|| Ok(())),
    }
}

/// Collects garbage every `every` (`--gc-every`), as `depot gc --grace
/// GRACE` would, logging and counting what went.
async fn collect_garbage(
    backend: Arc<crate::store::SqlBackend>,
    every: Duration,
    grace: Duration,
    cache: std::path::PathBuf,
    metrics: Arc<Metrics>,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is now: the first collection waits one period.
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let (backend, cache) = (backend.clone(), cache.clone());
        let ran = tokio::task::spawn_blocking(move || {
            let options = crate::store::gc::GcOptions {
                grace,
                dry_run: false,
            };
            let store = backend
                .gc(options)
                .map_err(|e| anyhow::anyhow!(startup_error(&e)))?;
            let compiled = crate::gc::collect_compile_cache(&cache, grace, false)?;
            anyhow::Ok((store, compiled))
        })
        .await;
        match ran {
            Ok(Ok((store, compiled))) => {
                tracing::info!(
                    expired_releases = store.expired_releases.count,
                    abandoned_uploads = store.abandoned_uploads.count,
                    blobs = store.blobs.count,
                    blob_bytes = store.blobs.bytes,
                    compiled_handlers = compiled.count,
                    "collected garbage"
                );
                metrics.gc_ran(&store, &compiled);
            }
            Ok(Err(e)) => tracing::warn!(error = %format!("{e:#}"), "garbage collection failed"),
            Err(e) => tracing::warn!(error = %e, "garbage collection stopped"),
        }
    }
}

/// Keeps the log's metrics current: its head, and the entries that land, by
/// action (on a shared database, every instance's); and purges what those
/// entries change from `response_cache`: this
/// instance's own writes purged already, so this is for other instances'
/// (a shared database) and a mirror's copies.
async fn follow_log(
    backend: Arc<dyn Backend>,
    metrics: Arc<Metrics>,
    response_cache: Option<Arc<ResponseCache>>,
) {
    let mut watch = backend.watch_log();
    let mut seen = *watch.borrow_and_update();
    metrics.log_head(seen);
    while watch.changed().await.is_ok() {
        let head = *watch.borrow_and_update();
        while seen < head {
            let reader = backend.clone();
            let since = seen;
            let page = tokio::task::spawn_blocking(move || reader.read_log(since, 1000)).await;
            let Ok(Ok(entries)) = page else { break };
            let Some(last) = entries.last().map(|e| e.seq) else {
                break;
            };
            for logged in &entries {
                metrics.log_entry(action_name(&logged.entry.action));
                if let Some(cache) = &response_cache {
                    cache.purge(&depot_protocol::surrogate::purged_by_entry(
                        &logged.entry.name,
                    ));
                }
            }
            seen = last;
        }
        seen = seen.max(head);
        metrics.log_head(head);
    }
}

/// The kind of a log entry, as a metric label.
fn action_name(action: &crate::store::Action) -> &'static str {
    use crate::store::Action;
    match action {
        Action::Release(_) => "release",
        Action::Yank => "yank",
        Action::Unyank => "unyank",
        Action::Annotate(_) => "annotate",
        Action::Takedown(_) => "takedown",
        Action::GrantKey(_) => "grant-key",
        Action::RevokeKey(_) => "revoke-key",
        Action::RequireSignatures(_) => "require-signatures",
    }
}

/// Runs `depot compose`: writes the handlers the manifest names, composed with
/// a store component, as one component a runtime without Depot's store (Spin)
/// can serve.
pub fn compose_app(args: ComposeArgs) -> anyhow::Result<()> {
    let handlers = manifest::load(args.handlers.as_deref())?;
    let store = match &args.store {
        Some(path) => manifest::StoreComponent::read(path)?,
        None => manifest::load_store(args.handlers.as_deref())?.context(
            "no store component to plug in: name one with --store, or with a `store` line in \
             the handler manifest given to --handlers (e.g. `store = \"spin_store.wasm\"`)",
        )?,
    };
    let composed = compose::compose_with_store(&handlers, &store)?;
    let front = compose::compose_spin_front(&handlers, &store)?;
    if let Some(dir) = args.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    }
    let writes_path = spin_writes_path(&args.output);
    // The whole composition first: a front is never left without it.
    write_new(&writes_path, &composed)?;
    write_new(&args.output, front.as_deref().unwrap_or(&composed))?;
    let roles: Vec<String> = handlers
        .iter()
        .map(|h| h.to_string())
        .chain([store.to_string()])
        .collect();
    match &front {
        Some(front) => println!(
            "composed {} ({} bytes), which answers GET and HEAD with the handlers a read \
             reaches and hands every other request to {} ({} bytes), from {}",
            args.output.display(),
            front.len(),
            writes_path.display(),
            composed.len(),
            roles.join(", ")
        ),
        None => println!(
            "composed {} and {} ({} bytes each, the same: an operator's own api handler has no \
             read half, so the front serves every request itself) from {}",
            args.output.display(),
            writes_path.display(),
            composed.len(),
            roles.join(", ")
        ),
    }
    Ok(())
}

/// Where a Spin build's whole composition goes, beside its front `app`
/// (`depot.wasm` → `depot-writes.wasm`): spin.toml's `depot-writes`.
pub fn spin_writes_path(app: &std::path::Path) -> std::path::PathBuf {
    let stem = app
        .file_stem()
        .map_or_else(|| "depot".into(), |s| s.to_string_lossy());
    let name = match app.extension() {
        Some(extension) => format!("{stem}-writes.{}", extension.to_string_lossy()),
        None => format!("{stem}-writes"),
    };
    app.with_file_name(name)
}

/// Writes `bytes` to `path` whole: into a temporary file beside it, renamed
/// into place, so `spin up` never loads half a component.
fn write_new(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::write(&temp, bytes).and_then(|()| std::fs::rename(&temp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

/// What `depot serve` runs: the compositions and where their data goes.
struct App {
    /// Every handler.
    composed: Vec<u8>,
    /// The handlers a read reaches, when they are composed apart.
    composed_reads: Option<Vec<u8>>,
    /// A split Spin build's whole composition, which answers the writes its
    /// front (`composed`) hands on by Spin's local service chaining.
    chained_writes: Option<Vec<u8>>,
    storage: Storage,
    /// The native store's backend, which a mirror writes to.
    backend: Option<Arc<dyn Backend>>,
    /// The same, for garbage collection (`--gc-every`).
    collectable: Option<Arc<crate::store::SqlBackend>>,
}

impl App {
    /// The handlers the manifest names, composed here, on the embedded store.
    /// Its store calls are timed into `metrics`.
    fn native(
        args: &ServeArgs,
        metrics: &Arc<Metrics>,
        response_cache: Option<&Arc<ResponseCache>>,
    ) -> anyhow::Result<Self> {
        let backend = open_native(&args.storage)?;
        let handlers = manifest::load(args.handlers.as_deref())?;
        if manifest::load_store(args.handlers.as_deref())?.is_some() {
            tracing::info!(
                "ignoring the handler manifest's `store` line: it is for `depot compose`, and \
                 `depot serve` provides the store itself"
            );
        }
        let collectable = Arc::new(backend);
        let backend: Arc<dyn Backend> = collectable.clone();
        let mut store = StoreCtx::new(Arc::new(Timed::new(backend.clone(), metrics.clone())));
        if let Some(cache) = response_cache {
            let cache = cache.clone();
            store = store.with_purge(Arc::new(move |keys| cache.purge(keys)));
        }
        Ok(Self {
            composed: compose::compose(&handlers)?,
            composed_reads: compose::compose_reads(&handlers)?,
            chained_writes: None,
            storage: Storage::Native(store),
            backend: Some(backend),
            collectable: Some(collectable),
        })
    }

    /// A Spin build (`depot compose` output) at `path`, whose Spin key-value
    /// store and database live in `<data>/spin`.
    /// A mirror copies into the build's data through the store's native
    /// backend on it, which the build's handlers then serve.
    fn spin(args: &ServeArgs, path: &std::path::Path, mirror: bool) -> anyhow::Result<Self> {
        if args.storage.database.is_some() {
            anyhow::bail!(
                "--database and --blobs do not apply to --spin-app: a Spin build keeps its data \
                 in Spin's SQLite and key-value store (<data>/spin); leave them out"
            );
        }
        if args.handlers.is_some() {
            anyhow::bail!(
                "--handlers does not apply to --spin-app: a Spin build is composed already; give \
                 the handler manifest to `depot compose --handlers` instead"
            );
        }
        let composed = std::fs::read(path).with_context(|| {
            format!(
                "cannot read the Spin build {}; make it with `depot compose`",
                path.display()
            )
        })?;
        // A split build's whole composition, beside its front.
        let writes_path = spin_writes_path(path);
        let chained_writes = match std::fs::read(&writes_path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(
                    "no {} beside the Spin build: it is served alone, and writes it hands on \
                     to `depot-writes` fail (`depot compose` writes both files)",
                    writes_path.display()
                );
                None
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", writes_path.display()));
            }
        };
        let spin = SpinCtx::open(&args.storage.data.join("spin"))?;
        let backend = if mirror {
            let backend = spin.backend().map_err(|e| {
                anyhow::anyhow!(
                    "cannot open the Spin build's data in {} to mirror into: {}",
                    args.storage.data.display(),
                    startup_error(&e)
                )
            })?;
            Some(Arc::new(backend) as Arc<dyn Backend>)
        } else {
            None
        };
        Ok(Self {
            composed,
            composed_reads: None,
            chained_writes,
            storage: Storage::Spin(spin),
            backend,
            collectable: None,
        })
    }
}

/// Compiles (or loads from `cache`) one composition and pre-instantiates it
/// as an HTTP handler: everything it imports must be what the linker holds
/// (WASI, and the store or Spin's interfaces), nothing stubbed.
fn prepare(
    engine: &wasmtime::Engine,
    linker: &Linker<request::RequestState>,
    composed: &[u8],
    cache: &std::path::Path,
) -> anyhow::Result<(ProxyPre<request::RequestState>, Compiled)> {
    let (component, compiled) = engine::load_or_compile(engine, composed, cache)?;
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

/// The native store on `--data`, or on `--database` and `--blobs` when given.
pub(crate) fn open_native(storage: &StorageArgs) -> anyhow::Result<crate::store::SqlBackend> {
    let data = &storage.data;
    let location = crate::store::shared::Location {
        database: storage.database.clone(),
        blobs: storage
            .blobs
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(anyhow::Error::msg)?,
    };
    crate::store::shared::open(&location, data).map_err(|e| {
        let what = match (&location.database, &location.blobs) {
            (None, _) => format!(
                "cannot open the registry in {}; check that the directory given to --data \
                 is writable",
                data.display()
            ),
            (Some(_), Some(bucket)) => format!(
                "cannot open the registry on the database given by --database and bucket {}",
                bucket.bucket
            ),
            (Some(_), None) => {
                "cannot open the registry on the database given by --database".to_string()
            }
        };
        anyhow::anyhow!("{what}: {}", startup_error(&e))
    })
}

/// What went wrong opening the store, with a storage failure's cause (which
/// a handler never sees, but the operator starting the registry needs).
pub(crate) fn startup_error(e: &depot_store::StoreError) -> String {
    match e {
        depot_store::StoreError::Storage { action, source } => {
            format!("storage failed while {action}: {source}")
        }
        other => other.to_string(),
    }
}

/// Prints the operator's new token, the one time it is ever shown: only its
/// hash is kept.
fn show_operator_token(secret: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
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

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::spin_writes_path;

    #[test]
    fn the_whole_composition_of_a_spin_build_goes_beside_its_front() {
        assert_eq!(
            spin_writes_path(Path::new("target/spin/depot.wasm")),
            Path::new("target/spin/depot-writes.wasm")
        );
        assert_eq!(spin_writes_path(Path::new("app")), Path::new("app-writes"));
        assert_eq!(
            spin_writes_path(Path::new("/tmp/my.app.wasm")),
            Path::new("/tmp/my.app-writes.wasm")
        );
    }
}
