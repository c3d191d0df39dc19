//! The HTTP server: each request gets a fresh instance of the composition,
//! as in wasmtime-wasi-http's `ProxyPre` example; failures of the handlers
//! themselves (memory limit, deadline, trap) become the errors of
//! docs/http-api.md.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::cache::{self, Lookup, ResponseCache};
use super::instance::{Failure, Instances, error_response, json_response};
use super::metrics::{Exchange, REQUEST_ID};
use super::request::RequestState;
use super::throttle::Refusal;

/// Whether the registry can serve: its store answers and its blob store is
/// reachable; the reason when not.
pub type Readiness = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Serves requests with instances of the pre-instantiated compositions.
pub struct Server {
    /// Every handler: serves requests that may change the registry.
    all: ProxyPre<RequestState>,
    /// The handlers a read reaches (api, query and web): serves GET and HEAD.
    reads: ProxyPre<RequestState>,
    /// The storage, limits and metrics of every instance.
    instances: Instances,
    /// For a mirror, the registry it copies: writes are refused.
    read_only: Option<String>,
    /// One permit per request being handled (`--max-concurrent-requests`).
    permits: Arc<Semaphore>,
    ready: Readiness,
    /// Answers to repeated reads (`--response-cache`).
    cache: Option<Arc<ResponseCache>>,
}

impl Server {
    /// A server for the compositions `all` and `reads`, whose instances are
    /// made as `instances` says (its metrics are `watched`'s).
    pub fn new(
        all: ProxyPre<RequestState>,
        reads: ProxyPre<RequestState>,
        instances: Instances,
        max_concurrent_requests: u32,
        read_only: Option<String>,
        ready: Readiness,
    ) -> Self {
        Self {
            all,
            reads,
            read_only,
            instances,
            permits: Arc::new(Semaphore::new(max_concurrent_requests as usize)),
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
        let id = self.instances.metrics.request_id(given);
        let exchange = self
            .instances
            .metrics
            .exchange(req.method(), req.uri().path(), id);
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
            return self.instances.failure_response(Failure::HandlerFailed, &id);
        };
        let slot = self.instances.metrics.slot_taken();
        let deadline = Instant::now() + self.instances.limits.deadline;
        let read = matches!(*req.method(), Method::GET | Method::HEAD);
        if let (false, Some(origin)) = (read, &self.read_only) {
            return read_only_response(req.uri().path(), origin);
        }
        let upload = match &self.instances.limits.throttle {
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
        let guards = Box::new((slot, upload, permit));
        self.instances.answer(pre, req, id, deadline, guards).await
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
