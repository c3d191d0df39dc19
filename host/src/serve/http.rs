//! The HTTP server: each request gets a fresh instance of the composition,
//! as in wasmtime-wasi-http's `ProxyPre` example; failures of the handlers
//! themselves (memory limit, deadline, trap) become the errors of
//! docs/http-api.md.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use wasmtime::{Store, Trap};
use wasmtime_wasi_http::WasiHttpView as _;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::args::show_size;
use super::cache::{self, Lookup, ResponseCache};
use super::metrics::{Exchange, Metrics, REQUEST_ID};
use super::request::{self, Limits, RequestState, Storage};
use super::throttle::Refusal;

/// Whether the registry can serve: its store answers and its blob store is
/// reachable; the reason when not.
pub type Readiness = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// What an operator watches the server through.
pub struct Watched {
    /// Where requests are counted and timed.
    pub metrics: Arc<Metrics>,
    /// What `/readyz` checks.
    pub ready: Readiness,
}

/// Serves requests with instances of the pre-instantiated compositions.
pub struct Server {
    /// Every handler: serves requests that may change the registry.
    all: ProxyPre<RequestState>,
    /// The handlers a read reaches (api, query and web): serves GET and HEAD.
    reads: ProxyPre<RequestState>,
    storage: Storage,
    limits: Limits,
    /// For a mirror, the registry it copies: writes are refused.
    read_only: Option<String>,
    /// One permit per request being handled (`--max-concurrent-requests`).
    permits: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    ready: Readiness,
    /// Answers to repeated reads (`--response-cache`).
    cache: Option<Arc<ResponseCache>>,
}

/// Why a request's handlers did not produce a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The memory limit refused a growth and the handlers then trapped.
    MemoryLimit,
    /// The handlers ran past the deadline.
    Deadline,
    /// A handler trapped or misbehaved: a bug, logged with the details.
    HandlerFailed,
}

impl Server {
    /// A server for the compositions `all` and `reads`, whose requests use
    /// `storage` under `limits`.
    pub fn new(
        all: ProxyPre<RequestState>,
        reads: ProxyPre<RequestState>,
        storage: Storage,
        limits: Limits,
        max_concurrent_requests: u32,
        read_only: Option<String>,
        watched: Watched,
    ) -> Self {
        let Watched { metrics, ready } = watched;
        Self {
            all,
            reads,
            read_only,
            storage,
            limits,
            permits: Arc::new(Semaphore::new(max_concurrent_requests as usize)),
            metrics,
            ready,
            cache: None,
        }
    }

    /// This server, answering repeated reads from `cache` when given one.
    #[must_use]
    pub fn with_response_cache(mut self, cache: Option<Arc<ResponseCache>>) -> Self {
        self.cache = cache;
        self
    }

    /// Accepts HTTP/1.1 connections on `listener` until SIGTERM or Ctrl-C;
    /// then stops accepting and lets the requests in flight finish, for up
    /// to `grace`.
    pub async fn run(
        self: Arc<Self>,
        listener: TcpListener,
        grace: Duration,
    ) -> anyhow::Result<()> {
        let graceful = GracefulShutdown::new();
        let shutdown = shutdown_signal();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors, say: wait rather than spin.
                        tracing::warn!(error = %e, "cannot accept a connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let server = self.clone();
            let service = hyper::service::service_fn(move |req| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(server.handle(req).await) }
            });
            // The timer makes hyper drop a client that sends its headers too
            // slowly (30 s).
            let connection = http1::Builder::new()
                .keep_alive(true)
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            });
        }
        drop(listener);
        tracing::info!(
            grace_seconds = grace.as_secs_f64(),
            "shutting down: accepting no more connections, letting the requests in flight finish"
        );
        tokio::select! {
            () = graceful.shutdown() => tracing::info!("every request in flight finished; stopped"),
            () = tokio::time::sleep(grace) => tracing::warn!(
                "the shutdown grace period ended with requests still in flight; stopped"
            ),
        }
        Ok(())
    }

    /// Handles one request: its id, its log line and its metrics around
    /// what answers it.
    async fn handle(&self, req: Request<Incoming>) -> Response<HyperOutgoingBody> {
        let given = req
            .headers()
            .get(REQUEST_ID)
            .and_then(|value| value.to_str().ok());
        let id = self.metrics.request_id(given);
        let exchange = self.metrics.exchange(req.method(), req.uri().path(), id);
        let response = match req.uri().path() {
            "/healthz" | "/readyz" => self.health(&req).await,
            _ => {
                let req = req.map(|body| exchange.count_request_body(body));
                self.answer(req, &exchange).await
            }
        };
        exchange.respond(response)
    }

    /// `/healthz`: the process is up. `/readyz`: the store answers and the
    /// blob store is reachable; 503 with the reason otherwise.
    async fn health(&self, req: &Request<Incoming>) -> Response<HyperOutgoingBody> {
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            let mut response = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "health checks accept GET and HEAD",
            );
            response.headers_mut().insert(
                hyper::header::ALLOW,
                hyper::header::HeaderValue::from_static("GET, HEAD"),
            );
            return response;
        }
        if req.uri().path() == "/healthz" {
            return json_response(StatusCode::OK, r#"{"status":"up"}"#.to_string());
        }
        let ready = self.ready.clone();
        match tokio::task::spawn_blocking(move || ready()).await {
            Ok(Ok(())) => json_response(StatusCode::OK, r#"{"status":"ready"}"#.to_string()),
            Ok(Err(reason)) => error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                &format!("the registry cannot serve: {reason}"),
            ),
            Err(e) => error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-ready",
                &format!("the readiness check failed: {e}"),
            ),
        }
    }

    /// Answers one request: from the response cache, or with a fresh
    /// instance of the handlers.
    async fn answer<B>(&self, req: Request<B>, exchange: &Exchange) -> Response<HyperOutgoingBody>
    where
        B: hyper::body::Body<Data = Bytes, Error = hyper::Error> + Send + 'static,
    {
        let fill = match self.cache.as_deref().map(|cache| cache.lookup(&req)) {
            Some(Lookup::Hit(response)) => return cache::mark(response, "hit"),
            Some(Lookup::Miss(fill)) => Some(fill),
            Some(Lookup::Bypass) | None => None,
        };
        let response = self.instantiate_and_answer(req, exchange.id()).await;
        match (fill, &self.cache) {
            (Some(fill), Some(cache)) => cache.keep(fill, response).await,
            _ => response,
        }
    }

    /// Answers one request with a fresh instance of the handlers.
    async fn instantiate_and_answer<B>(
        &self,
        req: Request<B>,
        id: &str,
    ) -> Response<HyperOutgoingBody>
    where
        B: hyper::body::Body<Data = Bytes, Error = hyper::Error> + Send + 'static,
    {
        let id = id.to_string();
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            // The semaphore is never closed.
            return self.failure_response(Failure::HandlerFailed, &id);
        };
        let slot = self.metrics.slot_taken();
        let deadline = Instant::now() + self.limits.deadline;
        let read = matches!(*req.method(), Method::GET | Method::HEAD);
        if let (false, Some(origin)) = (read, &self.read_only) {
            return read_only_response(req.uri().path(), origin);
        }
        let upload = match &self.limits.throttle {
            None => None,
            Some(throttle) => match throttle.admit(req.method(), req.headers()) {
                Ok(slot) => slot,
                Err(refusal) => return throttled(req.uri().path(), &refusal),
            },
        };
        let pre = if read {
            self.reads.clone()
        } else {
            self.all.clone()
        };
        let mut store = request::new_store(pre.engine(), &self.storage, &self.limits, deadline);
        let (sender, receiver) = oneshot::channel();
        let req = match store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, req)
        {
            Ok(req) => req,
            Err(e) => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "bad-request",
                    &format!("{e}; send a valid HTTP/1.1 request with a Host header"),
                );
            }
        };
        let out = match store.data_mut().http().new_response_outparam(sender) {
            Ok(out) => out,
            Err(e) => {
                tracing::error!(request_id = %id, error = ?e, "cannot pass the response to the handlers");
                return self.failure_response(Failure::HandlerFailed, &id);
            }
        };

        // The handlers run in their own task, so they can keep writing the
        // body after the response head has gone out.
        let limits = self.limits.clone();
        let metrics = self.metrics.clone();
        let task_id = id.clone();
        let task = tokio::spawn(async move {
            let id = task_id;
            let call = async {
                let start = Instant::now();
                let proxy = pre.instantiate_async(&mut store).await?;
                let took = start.elapsed();
                metrics.instantiated(took);
                tracing::debug!(
                    request_id = %id,
                    micros = took.as_micros(),
                    "instantiated the handlers"
                );
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req, out)
                    .await
            };
            let outcome = tokio::time::timeout_at(deadline.into(), call).await;
            let result = classify(outcome, &store, &id, &limits);
            match result {
                Err(Failure::Deadline) => metrics.limit_hit("deadline"),
                Err(Failure::MemoryLimit) => metrics.limit_hit("memory"),
                _ => {}
            }
            // Return the instance to the pool before letting another request in.
            drop(store);
            drop(slot);
            drop(upload);
            drop(permit);
            result
        });

        match receiver.await {
            Ok(Ok(response)) => response,
            Ok(Err(code)) => {
                tracing::error!(request_id = %id, ?code, "a handler answered with an error code");
                self.failure_response(Failure::HandlerFailed, &id)
            }
            // The handlers dropped the response without setting it: they
            // failed, or returned without answering.
            Err(_) => match task.await {
                Ok(Err(failure)) => self.failure_response(failure, &id),
                Ok(Ok(())) => {
                    tracing::error!(request_id = %id, "the handlers returned without a response");
                    self.failure_response(Failure::HandlerFailed, &id)
                }
                Err(e) => {
                    tracing::error!(request_id = %id, error = %e, "the handler task panicked");
                    self.failure_response(Failure::HandlerFailed, &id)
                }
            },
        }
    }

    fn failure_response(&self, failure: Failure, id: &str) -> Response<HyperOutgoingBody> {
        match failure {
            Failure::MemoryLimit => error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "memory-limit-exceeded",
                &format!(
                    "the handlers needed more memory than the per-request limit of {}; if the \
                     request is legitimate, the operator can raise `depot serve --memory-limit`",
                    show_size(self.limits.memory)
                ),
            ),
            Failure::Deadline => error_response(
                StatusCode::GATEWAY_TIMEOUT,
                "deadline-exceeded",
                &format!(
                    "the handlers ran longer than the per-request deadline of {:?}; if the \
                     request is legitimate, the operator can raise `depot serve \
                     --request-deadline`",
                    self.limits.deadline
                ),
            ),
            Failure::HandlerFailed => error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "handler-failed",
                &format!(
                    "a handler failed while serving this request; this is a bug, and the server \
                     log has the details (request {id})"
                ),
            ),
        }
    }
}

/// Says why the handlers' call ended, logging a failure once: here, whether
/// or not the response head had already gone out.
fn classify(
    outcome: Result<wasmtime::Result<()>, tokio::time::error::Elapsed>,
    store: &Store<RequestState>,
    id: &str,
    limits: &Limits,
) -> Result<(), Failure> {
    let error = match outcome {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(error)) => error,
        Err(_) => {
            tracing::warn!(request_id = %id, deadline = ?limits.deadline, "request deadline exceeded while waiting");
            return Err(Failure::Deadline);
        }
    };
    if store.data().hit_memory_limit() {
        tracing::warn!(request_id = %id, limit = %show_size(limits.memory), "request memory limit exceeded");
        Err(Failure::MemoryLimit)
    } else if matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
        tracing::warn!(request_id = %id, deadline = ?limits.deadline, "request deadline exceeded");
        Err(Failure::Deadline)
    } else {
        tracing::error!(request_id = %id, error = ?error, "a handler failed");
        Err(Failure::HandlerFailed)
    }
}

/// 405 for a write to a mirror: in the OCI error form under `/v2`, else as
/// docs/http-api.md describes.
fn read_only_response(path: &str, origin: &str) -> Response<HyperOutgoingBody> {
    let message = format!(
        "this registry is a read-only mirror of {origin}; send writes (publish, yank, \
         annotate, takedown, pushes) to {origin}"
    );
    let mut response = if path == "/v2" || path.starts_with("/v2/") {
        let body = serde_json::json!({ "errors": [{ "code": "DENIED", "message": message }] });
        json_response(StatusCode::METHOD_NOT_ALLOWED, body.to_string())
    } else {
        error_response(StatusCode::METHOD_NOT_ALLOWED, "read-only-mirror", &message)
    };
    response.headers_mut().insert(
        hyper::header::ALLOW,
        hyper::header::HeaderValue::from_static("GET, HEAD"),
    );
    response
}

/// 429 for a write over its token's limits, with `Retry-After`: in the OCI
/// error form under `/v2`, else as docs/http-api.md describes.
fn throttled(path: &str, refusal: &Refusal) -> Response<HyperOutgoingBody> {
    let (code, message, wait) = match refusal {
        Refusal::Rate { retry_after, rate } => (
            "rate-limited",
            format!(
                "this token made its {} writes per {} already; retry after {} s, or ask the \
                 operator to raise `depot serve --write-rate`",
                rate.count,
                show_unit(rate.per),
                retry_after.as_secs_f64().ceil()
            ),
            retry_after.as_secs_f64().ceil().max(1.0),
        ),
        Refusal::Uploads { limit } => (
            "too-many-uploads",
            format!(
                "this token has {limit} uploads in flight, the most it may have at once; wait \
                 for one to finish, or ask the operator to raise `depot serve \
                 --max-uploads-per-token`"
            ),
            1.0,
        ),
    };
    let mut response = if path == "/v2" || path.starts_with("/v2/") {
        let body =
            serde_json::json!({ "errors": [{ "code": "TOOMANYREQUESTS", "message": message }] });
        json_response(StatusCode::TOO_MANY_REQUESTS, body.to_string())
    } else {
        error_response(StatusCode::TOO_MANY_REQUESTS, code, &message)
    };
    response.headers_mut().insert(
        hyper::header::RETRY_AFTER,
        hyper::header::HeaderValue::from(wait as u64),
    );
    response
}

/// `per` as a rate's unit: second, minute or hour.
fn show_unit(per: Duration) -> &'static str {
    match per.as_secs() {
        1 => "second",
        60 => "minute",
        _ => "hour",
    }
}

/// A JSON error response as docs/http-api.md describes.
fn error_response(status: StatusCode, code: &str, message: &str) -> Response<HyperOutgoingBody> {
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    json_response(status, body)
}

/// A response with the JSON `body`.
fn json_response(status: StatusCode, body: String) -> Response<HyperOutgoingBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Resolves on SIGTERM (how service managers and Kubernetes stop a process)
/// or Ctrl-C.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch for SIGTERM; stop with Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
