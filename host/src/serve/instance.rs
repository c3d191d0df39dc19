//! One request's fresh instance of a composition answering it, and what ends
//! it early (memory limit, deadline, trap) as the errors of docs/http-api.md.
//! Also Spin's local service chaining, as `spin up` does it, for a Spin build
//! split in two: the front's requests to `http://depot-writes.spin.internal`
//! are answered here, in process, by an instance of the whole composition.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use tokio::sync::oneshot;
use wasmtime::{Store, Trap};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks, WasiHttpView as _};

use super::args::show_size;
use super::metrics::Metrics;
use super::request::{self, Limits, RequestState, Storage};

/// The Spin component id a split Spin build's front hands writes to
/// (spin.toml), as Spin's local service chaining addresses it.
const WRITES_HOST: &str = "depot-writes.spin.internal";

/// What Spin's local service chaining addresses end with.
const CHAINED_SUFFIX: &str = ".spin.internal";

/// What every instance needs besides its composition.
#[derive(Clone)]
pub struct Instances {
    pub storage: Storage,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    /// For a split Spin build: what answers the front's chained requests.
    pub chain: Option<Arc<Chain>>,
}

/// Why a request's handlers did not produce a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The memory limit refused a growth and the handlers then trapped.
    MemoryLimit,
    /// The handlers ran past the deadline.
    Deadline,
    /// A handler trapped or misbehaved: a bug, logged with the details.
    HandlerFailed,
}

impl Instances {
    /// A fresh `Store` for one request, with the hooks that answer its
    /// chained requests.
    fn new_store(&self, engine: &wasmtime::Engine, deadline: Instant) -> Store<RequestState> {
        let hooks = self.chain.as_ref().map(|chain| {
            Box::new(ChainHooks {
                chain: chain.clone(),
                deadline,
            }) as Box<dyn WasiHttpHooks>
        });
        request::new_store(engine, &self.storage, &self.limits, deadline, hooks)
    }

    /// Answers `req` with a fresh instance of `pre`, which must finish by
    /// `deadline`. `guards` (a permit, a slot) are dropped once the instance
    /// is back in the pool.
    pub async fn answer<B>(
        &self,
        pre: ProxyPre<RequestState>,
        req: Request<B>,
        id: String,
        deadline: Instant,
        guards: Box<dyn Any + Send>,
    ) -> Response<HyperOutgoingBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let mut store = self.new_store(pre.engine(), deadline);
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
            drop(guards);
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

    pub fn failure_response(&self, failure: Failure, id: &str) -> Response<HyperOutgoingBody> {
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

/// The whole composition of a split Spin build, which answers what its front
/// hands on (`--spin-app` with `<name>-writes.wasm` beside it).
pub struct Chain {
    /// The whole composition.
    pub pre: ProxyPre<RequestState>,
    /// Its instances' storage and limits; they chain nothing themselves.
    pub instances: Instances,
}

/// The `wasi:http` hooks of a front's instance: a request to the writes
/// component is answered here, as `spin up` answers it; any other goes out.
struct ChainHooks {
    chain: Arc<Chain>,
    /// The front's: what it hands on must finish by then too.
    deadline: Instant,
}

/// What the hooks' `send_request` returns.
type Sent = Box<
    dyn Future<
            Output = Result<
                (
                    Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                ),
                wasmtime_wasi_http::Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for ChainHooks {
    fn send_request(
        &mut self,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Sent {
        drop(fut);
        let host = request
            .uri()
            .host()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if host == WRITES_HOST {
            let chain = self.chain.clone();
            let deadline = self.deadline;
            return Box::new(async move {
                let id = format!("chained-{}", uuid::Uuid::new_v4().simple());
                let response = chain
                    .instances
                    .answer(chain.pre.clone(), request, id, deadline, Box::new(()))
                    .await;
                let done: Box<dyn Future<Output = _> + Send> = Box::new(async { Ok(()) });
                Ok((response, done))
            });
        }
        if host.ends_with(CHAINED_SUFFIX) {
            // Like Spin, for a component the app does not have.
            return Box::new(async { Err(wasmtime_wasi_http::Error::DestinationNotFound) });
        }
        Box::new(async move {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            let io: Box<dyn Future<Output = _> + Send> = Box::new(io);
            Ok((response.map(BodyExt::boxed_unsync), io))
        })
    }
}

/// A JSON error response as docs/http-api.md describes.
pub fn error_response(
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response<HyperOutgoingBody> {
    let body = serde_json::json!({ "error": { "code": code, "message": message } }).to_string();
    json_response(status, body)
}

/// A response with the JSON `body`.
pub fn json_response(status: StatusCode, body: String) -> Response<HyperOutgoingBody> {
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
