//! What an operator watches: Prometheus metrics (served on a listener of
//! their own, `--metrics-listen`, never on the public one), one log line per
//! request with a request id, and the health and readiness answers.
//!
//! Labels take values from small fixed sets (a route class, a method, a
//! status code, a failure kind), never a package name, digest or path, so a
//! metric's series stay bounded however the registry is used.

use std::convert::Infallible;
use std::hash::BuildHasher as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Body, Frame, SizeHint};
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use prometheus_client::encoding::{EncodeLabelSet, prometheus_text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use tokio::net::TcpListener;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// The header a request id arrives in and is answered with.
pub const REQUEST_ID: &str = "x-request-id";

/// The longest request id taken from a client.
const MAX_REQUEST_ID: usize = 128;

/// A request's method, its class and its status: the labels of the request
/// counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    class: &'static str,
    method: &'static str,
    status: u16,
}

/// A request's method and class: the labels of its latency and bytes.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClassLabels {
    class: &'static str,
    method: &'static str,
}

/// Why a request's handlers were stopped.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabels {
    limit: &'static str,
}

/// A store operation (a method of the store's backend).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabels {
    operation: &'static str,
}

/// A kind of registry log entry.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    action: &'static str,
}

/// What garbage collection removes.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GcLabels {
    kind: &'static str,
}

/// Whether the response cache answered a read.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CacheLabels {
    result: &'static str,
}

/// Every metric `depot serve` exports.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    duration: Family<ClassLabels, Histogram>,
    bytes_in: Family<ClassLabels, Counter>,
    bytes_out: Family<ClassLabels, Counter>,
    instantiation: Histogram,
    limits_hit: Family<LimitLabels, Counter>,
    in_flight: Gauge,
    open_uploads: Gauge,
    log_head: Gauge,
    log_entries: Family<ActionLabels, Counter>,
    store_calls: Family<OperationLabels, Histogram>,
    gc_runs: Counter,
    gc_removed: Family<GcLabels, Counter>,
    gc_removed_bytes: Family<GcLabels, Counter>,
    cache_lookups: Family<CacheLabels, Counter>,
    cache_purges: Counter,
    cache_purged: Counter,
    cache_bytes: Gauge,
    cache_entries: Gauge,
    /// Where request ids this process makes come from.
    ids: std::collections::hash_map::RandomState,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// Request latency buckets, seconds: 0.5 ms to about 65 s.
fn latency_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 18))
}

/// Store call latency buckets, seconds: 10 µs to about 10 s.
fn store_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.00001, 2.0, 21))
}

impl Metrics {
    /// The metrics of a server whose instance pool holds `pool` requests.
    pub fn new(pool: u32) -> Self {
        let mut registry = Registry::with_prefix("depot");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route class, method and status",
            requests.clone(),
        );
        let duration = Family::<ClassLabels, Histogram>::new_with_constructor(
            latency_buckets as fn() -> Histogram,
        );
        registry.register_with_unit(
            "http_request_duration",
            "Time from a request's arrival to the end of its response body",
            Unit::Seconds,
            duration.clone(),
        );
        let bytes_in = Family::<ClassLabels, Counter>::default();
        registry.register_with_unit(
            "http_request_body",
            "Request body bytes received",
            Unit::Bytes,
            bytes_in.clone(),
        );
        let bytes_out = Family::<ClassLabels, Counter>::default();
        registry.register_with_unit(
            "http_response_body",
            "Response body bytes sent",
            Unit::Bytes,
            bytes_out.clone(),
        );
        let instantiation = Histogram::new(exponential_buckets(0.00005, 2.0, 16));
        registry.register_with_unit(
            "handler_instantiation",
            "Time to instantiate a request's handler components",
            Unit::Seconds,
            instantiation.clone(),
        );
        let limits_hit = Family::<LimitLabels, Counter>::default();
        registry.register(
            "request_limits_hit",
            "Requests stopped by the per-request deadline or memory limit",
            limits_hit.clone(),
        );
        let in_flight: Gauge = Gauge::default();
        registry.register(
            "instance_pool_in_use",
            "Requests holding an instance slot now",
            in_flight.clone(),
        );
        let pool_size: Gauge = Gauge::default();
        pool_size.set(i64::from(pool));
        registry.register(
            "instance_pool_size",
            "Requests the instance pool holds at once (--max-concurrent-requests)",
            pool_size.clone(),
        );
        let open_uploads: Gauge = Gauge::default();
        registry.register(
            "uploads_open",
            "Uploads started and not yet completed, cancelled or collected (native storage; \
             counted when scraped)",
            open_uploads.clone(),
        );
        let log_head: Gauge = Gauge::default();
        registry.register(
            "log_head",
            "Sequence number of the registry log's last entry",
            log_head.clone(),
        );
        let log_entries = Family::<ActionLabels, Counter>::default();
        registry.register(
            "log_entries",
            "Registry log entries this instance has seen land, by action (release, yank, \
             takedown, ...)",
            log_entries.clone(),
        );
        let store_calls = Family::<OperationLabels, Histogram>::new_with_constructor(
            store_buckets as fn() -> Histogram,
        );
        registry.register_with_unit(
            "store_call_duration",
            "Time a store call took, by operation (native storage)",
            Unit::Seconds,
            store_calls.clone(),
        );
        let gc_runs = Counter::default();
        registry.register(
            "gc_runs",
            "Garbage collections run by this instance (--gc-every)",
            gc_runs.clone(),
        );
        let gc_removed = Family::<GcLabels, Counter>::default();
        registry.register(
            "gc_removed",
            "What garbage collection removed, by kind (expired_release, upload, blob, \
             compiled_handler)",
            gc_removed.clone(),
        );
        let gc_removed_bytes = Family::<GcLabels, Counter>::default();
        registry.register_with_unit(
            "gc_removed",
            "Bytes garbage collection removed, by kind",
            Unit::Bytes,
            gc_removed_bytes.clone(),
        );
        let cache_lookups = Family::<CacheLabels, Counter>::default();
        registry.register(
            "response_cache_lookups",
            "GET and HEAD requests the response cache answered (result=hit) or passed to the \
             handlers (result=miss)",
            cache_lookups.clone(),
        );
        let cache_purges = Counter::default();
        registry.register(
            "response_cache_purges",
            "Purges of the response cache (one per write, and per log entry seen landing)",
            cache_purges.clone(),
        );
        let cache_purged = Counter::default();
        registry.register(
            "response_cache_purged",
            "Responses purges dropped from the response cache",
            cache_purged.clone(),
        );
        let cache_bytes: Gauge = Gauge::default();
        registry.register_with_unit(
            "response_cache",
            "Bytes the response cache holds (--response-cache bounds it)",
            Unit::Bytes,
            cache_bytes.clone(),
        );
        let cache_entries: Gauge = Gauge::default();
        registry.register(
            "response_cache_entries",
            "Responses the response cache holds",
            cache_entries.clone(),
        );
        Self {
            registry,
            requests,
            duration,
            bytes_in,
            bytes_out,
            instantiation,
            limits_hit,
            in_flight,
            open_uploads,
            log_head,
            log_entries,
            store_calls,
            gc_runs,
            gc_removed,
            gc_removed_bytes,
            cache_lookups,
            cache_purges,
            cache_purged,
            cache_bytes,
            cache_entries,
            ids: std::collections::hash_map::RandomState::new(),
            next_id: AtomicU64::new(1),
        }
    }
}

impl Metrics {
    /// The request id of a request: the client's (`X-Request-Id`) when it
    /// sent a usable one (1 to 128 letters, digits, `-`, `_`, `.`, `:`),
    /// else a new one.
    pub fn request_id(&self, given: Option<&str>) -> String {
        match given {
            Some(id)
                if !id.is_empty()
                    && id.len() <= MAX_REQUEST_ID
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
            {
                id.to_string()
            }
            _ => format!(
                "{:016x}",
                self.ids
                    .hash_one(self.next_id.fetch_add(1, Ordering::Relaxed))
            ),
        }
    }

    /// One instantiation of the handlers took `took`.
    pub fn instantiated(&self, took: Duration) {
        self.instantiation.observe(took.as_secs_f64());
    }

    /// A request was stopped by `limit` (`deadline` or `memory`).
    pub fn limit_hit(&self, limit: &'static str) {
        self.limits_hit.get_or_create(&LimitLabels { limit }).inc();
    }

    /// A request holds an instance slot until the guard is dropped.
    pub fn slot_taken(self: &Arc<Self>) -> SlotGuard {
        self.in_flight.inc();
        SlotGuard(self.clone())
    }

    /// `count` uploads are open.
    pub fn open_uploads(&self, count: u64) {
        self.open_uploads
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// The registry log's head is `head`.
    pub fn log_head(&self, head: u64) {
        self.log_head.set(i64::try_from(head).unwrap_or(i64::MAX));
    }

    /// A store call of `operation` took `took`.
    pub fn store_call(&self, operation: &'static str, took: Duration) {
        self.store_calls
            .get_or_create(&OperationLabels { operation })
            .observe(took.as_secs_f64());
    }

    /// A log entry of kind `action` landed.
    pub fn log_entry(&self, action: &'static str) {
        self.log_entries
            .get_or_create(&ActionLabels { action })
            .inc();
    }

    /// A garbage collection removed what `store` and `compiled` say.
    pub fn gc_ran(
        &self,
        store: &depot_store::host::gc::GcReport,
        compiled: &depot_store::host::gc::Removed,
    ) {
        self.gc_runs.inc();
        for (kind, removed) in [
            ("expired_release", &store.expired_releases),
            ("upload", &store.abandoned_uploads),
            ("blob", &store.blobs),
            ("compiled_handler", compiled),
        ] {
            let labels = GcLabels { kind };
            self.gc_removed.get_or_create(&labels).inc_by(removed.count);
            self.gc_removed_bytes
                .get_or_create(&labels)
                .inc_by(removed.bytes);
        }
    }

    /// The response cache answered a read (`hit`), or passed it on.
    pub fn response_cache_lookup(&self, hit: bool) {
        let result = if hit { "hit" } else { "miss" };
        self.cache_lookups
            .get_or_create(&CacheLabels { result })
            .inc();
    }

    /// A purge dropped `dropped` responses.
    pub fn response_cache_purged(&self, dropped: u64) {
        self.cache_purges.inc();
        self.cache_purged.inc_by(dropped);
    }

    /// The response cache holds `entries` responses in `bytes`.
    pub fn response_cache_size(&self, bytes: usize, entries: usize) {
        self.cache_bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        self.cache_entries
            .set(i64::try_from(entries).unwrap_or(i64::MAX));
    }

    /// Every metric, in the Prometheus text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut text, &self.registry);
        text
    }

    /// Starts following `request`, which arrived now: it becomes an
    /// [`Exchange`] whose response, once sent, is logged and counted.
    pub fn exchange(self: &Arc<Self>, method: &Method, path: &str, id: String) -> Exchange {
        Exchange {
            metrics: self.clone(),
            id,
            method: method_label(method),
            class: route_class(method, path),
            path: path.to_string(),
            start: Instant::now(),
            bytes_in: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// An instance slot in use, for `instance_pool_in_use`.
#[derive(Debug)]
pub struct SlotGuard(Arc<Metrics>);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}

/// A request on its way: what its log line and metrics need once its
/// response body has gone out.
#[derive(Debug)]
pub struct Exchange {
    metrics: Arc<Metrics>,
    id: String,
    method: &'static str,
    class: &'static str,
    /// The path without its query (the query never holds a secret, but
    /// need not be logged either).
    path: String,
    start: Instant,
    bytes_in: Arc<AtomicU64>,
}

impl Exchange {
    /// The request id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// `body`, counting the bytes that arrive through it.
    pub fn count_request_body<B>(
        &self,
        body: B,
    ) -> impl Body<Data = Bytes, Error = B::Error> + use<B>
    where
        B: Body<Data = Bytes>,
    {
        let received = self.bytes_in.clone();
        body.map_frame(move |frame| {
            if let Some(data) = frame.data_ref() {
                received.fetch_add(data.len() as u64, Ordering::Relaxed);
            }
            frame
        })
    }

    /// `response`, with the request id, logged and counted once its body
    /// has gone out (or the client went away).
    pub fn respond(self, mut response: Response<HyperOutgoingBody>) -> Response<HyperOutgoingBody> {
        if let Ok(value) = hyper::header::HeaderValue::from_str(&self.id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        let status = response.status().as_u16();
        response.map(|body| {
            Observed {
                inner: body,
                sent: 0,
                exchange: Some((self, status)),
            }
            .boxed_unsync()
        })
    }

    /// Logs the request's line and counts it.
    fn finish(self, status: u16, bytes_out: u64) {
        let took = self.start.elapsed();
        let bytes_in = self.bytes_in.load(Ordering::Relaxed);
        let class = ClassLabels {
            class: self.class,
            method: self.method,
        };
        let metrics = &self.metrics;
        metrics
            .requests
            .get_or_create(&RequestLabels {
                class: self.class,
                method: self.method,
                status,
            })
            .inc();
        metrics
            .duration
            .get_or_create(&class)
            .observe(took.as_secs_f64());
        metrics.bytes_in.get_or_create(&class).inc_by(bytes_in);
        metrics.bytes_out.get_or_create(&class).inc_by(bytes_out);
        crate::logs::request_line(&crate::logs::RequestLine {
            request_id: &self.id,
            method: self.method,
            class: self.class,
            path: &self.path,
            status,
            duration_ms: took.as_secs_f64() * 1e3,
            bytes_in,
            bytes_out,
        });
    }
}

/// A response body that counts what it sends and finishes its exchange
/// when it is done with (sent whole, or dropped because the client left).
struct Observed {
    inner: HyperOutgoingBody,
    sent: u64,
    exchange: Option<(Exchange, u16)>,
}

impl Body for Observed {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.sent += data.len() as u64;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Observed {
    fn drop(&mut self) {
        if let Some((exchange, status)) = self.exchange.take() {
            exchange.finish(status, self.sent);
        }
    }
}

/// The method, as a label: one of the methods the registry serves, or
/// `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

/// What kind of request this is, from a small fixed set: the label that
/// says which part of the registry answered.
pub fn route_class(method: &Method, path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let write = !matches!(*method, Method::GET | Method::HEAD);
    match segments.as_slice() {
        ["healthz"] | ["readyz"] => "health",
        [".well-known", ..] => "discovery",
        ["v1", "packages", _, "versions", _, "unpublished", ..] | ["v1", "releases"] => {
            "v1-two-phase"
        }
        ["v1", "packages", _, "versions", _] if *method == Method::PUT => "v1-publish",
        ["v1", "packages", _, "versions", _] if *method == Method::POST => "v1-two-phase",
        ["v1", "packages", _, "versions", _, "content"] | ["v1", "content", ..] => "v1-content",
        ["v1", "feed", ..] => "v1-feed",
        ["v1", "log", ..] => "v1-transparency",
        ["v1", "search"] => "v1-search",
        ["v1", "tokens", ..] => "v1-tokens",
        ["v1", ..] if write => "v1-change",
        ["v1", ..] => "v1-read",
        ["v2", "token"] => "v2-token",
        ["v2", .., "blobs", "uploads"] | ["v2", .., "blobs", "uploads", _] => "v2-upload",
        ["v2", ..] if write => "v2-push",
        ["v2", .., "blobs", _] => "v2-blob",
        ["v2", ..] => "v2-read",
        _ => "page",
    }
}

/// Counts the open uploads, when the storage can.
pub type OpenUploads = Arc<dyn Fn() -> Option<u64> + Send + Sync>;

/// Serves `GET /metrics` on `listener` (and nothing else).
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    open_uploads: Option<OpenUploads>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let metrics = metrics.clone();
        let open_uploads = open_uploads.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let metrics = metrics.clone();
                let open_uploads = open_uploads.clone();
                async move { Ok::<_, Infallible>(scrape(&req, &metrics, open_uploads).await) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The answer of the metrics listener.
async fn scrape(
    req: &Request<hyper::body::Incoming>,
    metrics: &Metrics,
    open_uploads: Option<OpenUploads>,
) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/metrics") => {
            if let Some(count) = open_uploads
                && let Ok(Some(open)) = tokio::task::spawn_blocking(move || count()).await
            {
                metrics.open_uploads(open);
            }
            (
                StatusCode::OK,
                prometheus_text::CONTENT_TYPE,
                metrics.encode(),
            )
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "this listener serves only GET /metrics\n".to_string(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(content_type),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/operations.md has a row for every metric in its table: one
    /// added without its row fails here.
    #[test]
    fn every_metric_is_in_the_operations_guide() {
        let guide = include_str!("../../../docs/operations.md");
        let metrics = Arc::new(Metrics::new(4));
        // A family shows once it has a series.
        let exchange = metrics.exchange(&Method::GET, "/v1/stats", "test".into());
        let body = Full::new(Bytes::from_static(b"{}"))
            .map_err(|never| match never {})
            .boxed_unsync();
        drop(exchange.respond(Response::new(body)));
        metrics.response_cache_lookup(true);
        metrics.log_entry("release");
        metrics.store_call("append", Duration::ZERO);
        metrics.limit_hit("memory");
        metrics.gc_ran(&Default::default(), &Default::default());
        let text = metrics.encode();
        let names: Vec<&str> = text
            .lines()
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .filter_map(|line| line.split_whitespace().next())
            .collect();
        assert!(names.len() >= 18, "{names:?}");
        for name in names {
            assert!(
                guide.contains(&format!("| `{name}` |")),
                "docs/operations.md does not list {name}"
            );
        }
    }

    #[test]
    fn route_classes_come_from_a_fixed_set_whatever_the_path() {
        let class = |method: Method, path: &str| route_class(&method, path);
        assert_eq!(
            class(Method::PUT, "/v1/packages/a:b/versions/1.0.0"),
            "v1-publish"
        );
        assert_eq!(
            class(Method::POST, "/v1/packages/a:b/versions/1.0.0"),
            "v1-two-phase"
        );
        assert_eq!(
            class(Method::GET, "/v1/packages/a:b/versions/1.0.0"),
            "v1-read"
        );
        assert_eq!(
            class(Method::POST, "/v1/packages/a:b/versions/1.0.0/yank"),
            "v1-change"
        );
        assert_eq!(class(Method::GET, "/v1/feed?since=3"), "v1-feed");
        assert_eq!(
            class(Method::PATCH, "/v2/a/b/blobs/uploads/xyz"),
            "v2-upload"
        );
        assert_eq!(class(Method::PUT, "/v2/a/b/manifests/1.0.0"), "v2-push");
        assert_eq!(class(Method::GET, "/v2/a/b/blobs/sha256:00"), "v2-blob");
        assert_eq!(class(Method::GET, "/v2/a/b/manifests/1.0.0"), "v2-read");
        assert_eq!(class(Method::GET, "/packages/a/b"), "page");
        assert_eq!(class(Method::GET, "/healthz"), "health");
    }

    #[test]
    fn request_ids_are_the_clients_when_usable_else_new() {
        let metrics = Metrics::new(4);
        assert_eq!(metrics.request_id(Some("abc-123")), "abc-123");
        let made = metrics.request_id(Some("no spaces allowed"));
        assert_eq!(made.len(), 16, "{made}");
        assert_ne!(metrics.request_id(None), metrics.request_id(None));
        assert_eq!(metrics.request_id(Some(&"x".repeat(129))).len(), 16);
    }

    #[test]
    fn the_text_follows_prometheus_naming() {
        let metrics = Arc::new(Metrics::new(4));
        metrics.limit_hit("deadline");
        metrics.log_head(7);
        metrics.instantiated(Duration::from_micros(300));
        let exchange = metrics.exchange(&Method::GET, "/v1/packages/a:b", "id".into());
        exchange.finish(200, 10);
        let text = metrics.encode();
        for line in [
            "depot_request_limits_hit_total{limit=\"deadline\"} 1",
            "depot_log_head 7",
            "depot_instance_pool_size 4",
            "depot_http_requests_total{class=\"v1-read\",method=\"GET\",status=\"200\"} 1",
            "depot_http_response_body_bytes_total{class=\"v1-read\",method=\"GET\"} 10",
            "depot_handler_instantiation_seconds_count 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
        }
        assert!(
            !text.contains("a:b"),
            "a package name became a label:\n{text}"
        );
    }
}
