//! Depot's HTTP front: the `/v1` JSON API of docs/http-api.md and the OCI
//! distribution API under `/v2` ([`oci`]), and the web view's pages everywhere
//! else ([`web`], rendered by the web handler), exported as
//! `wasi:http/incoming-handler`, over the publish and query handlers and the
//! store. A request goes: [`routes::target`] (which route, for every face)
//! → [`auth::access`] (what it needs) → [`handlers`] (what a `/v1` read
//! does), `writes` (what a `/v1` write does), [`oci`] or [`web`] →
//! [`response`] (status, headers, body); [`json`] shapes the bodies,
//! [`body`] streams content out and `upload` streams it in, in bounded
//! chunks.
//!
//! Built with the `writes` feature (the default) it is the whole front;
//! without it, the read half `depot serve` composes for GET and HEAD: the
//! same routes, none of the code or imports that change the registry. With
//! the `forward` feature as well, that read half hands every other method on
//! to the whole front (`forward`): the front of a Spin build split in two.

// The read half leaves unused what only the write routes call (error
// constructors, manifest parsing); the whole front, linted by CI too, keeps
// dead code a failure.
#![cfg_attr(not(feature = "writes"), allow(dead_code))]

/// The HTTP handler's export glue: generated, and `unsafe` by nature.
#[allow(unsafe_code)]
mod export {
    use super::Api;
    wasip2::http::proxy::export!(Api);
}

mod auth;
mod bindings;
mod body;
mod cache;
mod error;
mod feed;
#[cfg(all(feature = "forward", not(feature = "writes")))]
mod forward;
mod handlers;
mod json;
mod oci;
mod request;
mod response;
mod routes;
mod tokens;
mod unpublished;
#[cfg(feature = "writes")]
mod upload;
mod web;
#[cfg(feature = "writes")]
mod writes;

use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{IncomingRequest, Method, ResponseOutparam};

use error::ApiError;
use response::Response;
use routes::{Target, Unrouted};

/// The HTTP front.
#[derive(Debug)]
struct Api;

impl Guest for Api {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        // The read front of a split Spin build: writes go to the whole front.
        #[cfg(all(feature = "forward", not(feature = "writes")))]
        {
            let method = request.method();
            if !matches!(method, Method::Get | Method::Head) {
                return forward::forward(request, method, out);
            }
        }
        let method = method_name(request.method());
        let path = request.path_with_query().unwrap_or_else(|| "/".to_string());
        // The request stays alive until the response is sent: its body, read
        // while handling, is its child.
        let read = method == "GET" || method == "HEAD";
        let response = match routes::target(&method, &path) {
            Ok(target) => {
                let policy = read.then(|| cache::policy(&target));
                let response = match auth::check(&target, &request) {
                    Ok(()) => answer(target, &path, &request),
                    Err(refused) => refusal(&target, refused, &request),
                };
                match &policy {
                    Some(policy) => cache::declare(policy, response),
                    None => response,
                }
            }
            Err(Unrouted::Api(e)) => Response::error(&e),
            Err(Unrouted::Oci(e)) => oci::with_version(oci::error(&e)),
        };
        response.send(out, method == "HEAD");
    }
}

/// Answers `target`, its access checked.
fn answer(target: Target, path: &str, request: &IncomingRequest) -> Response {
    match target {
        Target::Api(route) => respond(route, request).unwrap_or_else(|e| Response::error(&e)),
        Target::Oci(route) => oci::with_version(oci::respond(route, request)),
        Target::OciToken => oci::with_version(oci::token(request)),
        Target::Discovery => oci::discovery(request),
        Target::Page => web::respond(path, request),
    }
}

/// The refusal `e` of `target`, in its face's words.
fn refusal(target: &Target, e: ApiError, request: &IncomingRequest) -> Response {
    match target {
        Target::Oci(route) => oci::with_version(oci::refused(e, request, route)),
        Target::Page => auth::sign_in_page(&e),
        Target::Api(_) | Target::OciToken | Target::Discovery => Response::error(&e),
    }
}

/// Answers a `/v1` route: a write in `writes` (only the whole front has
/// them), a read in `handlers`.
fn respond(route: routes::Route, request: &IncomingRequest) -> Result<Response, ApiError> {
    #[cfg(feature = "writes")]
    if route.changes() {
        return writes::respond(route, request);
    }
    handlers::respond(route, request)
}

fn method_name(method: Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(other) => other,
    }
}
