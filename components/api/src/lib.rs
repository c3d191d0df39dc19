//! Depot's HTTP front: the `/v1` JSON API of docs/http-api.md and the OCI
//! distribution API under `/v2` ([`oci`]), and the web view's pages everywhere
//! else ([`web`], rendered by the web handler), exported as
//! `wasi:http/incoming-handler`, over the publish and query handlers and the
//! store. A request goes: [`routes`] (which route) → [`handlers`] (what a
//! read does) or `writes` (what a write does) → [`response`] (status,
//! headers, body); [`json`] shapes the bodies, [`body`] streams content out
//! and `upload` streams it in, in bounded chunks.
//!
//! Built with the `writes` feature (the default) it is the whole front;
//! without it, the read half `depot serve` composes for GET and HEAD: the
//! same routes, none of the code or imports that change the registry.

// The read half leaves unused what only the write routes call (error
// constructors, manifest parsing); the whole front, linted by CI too, keeps
// dead code a failure.
#![cfg_attr(not(feature = "writes"), allow(dead_code))]

/// The WIT bindings and the export glue: generated, and `unsafe` by nature.
/// The whole front imports what its writes need (world `api-handler`); its
/// read half, built without the `writes` feature, imports nothing that
/// changes the registry (world `api-read-handler`).
#[allow(unsafe_code)]
mod bindings {
    #[cfg(feature = "writes")]
    wit_bindgen::generate!({
        path: "../../wit",
        world: "depot:registry/api-handler",
        with: { "depot:registry/types@0.1.0": depot_guest::types },
        // Routes carry WIT records (a search query) and are compared in tests.
        additional_derives: [PartialEq, Eq],
    });
    #[cfg(not(feature = "writes"))]
    wit_bindgen::generate!({
        path: "../../wit",
        world: "depot:registry/api-read-handler",
        with: { "depot:registry/types@0.1.0": depot_guest::types },
        additional_derives: [PartialEq, Eq],
    });

    use super::Api;
    wasip2::http::proxy::export!(Api);
}

mod auth;
mod body;
mod error;
mod feed;
#[cfg(feature = "writes")]
mod fetch;
mod handlers;
mod json;
mod oci;
#[cfg(feature = "writes")]
mod releases;
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

use response::Response;

/// The HTTP front.
#[derive(Debug)]
struct Api;

impl Guest for Api {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let method = method_name(request.method());
        let path = request.path_with_query().unwrap_or_else(|| "/".to_string());
        // The request stays alive until the response is sent: its body, read
        // while handling, is its child.
        let response = if oci::handles(&path) {
            oci::respond(&method, &path, &request)
        } else if web::is_api(&path) {
            routes::route(&method, &path)
                .and_then(|route| auth::check_v1(&route, &request).map(|()| route))
                .and_then(|route| respond(route, &request))
                .unwrap_or_else(|e| Response::error(&e))
        } else if let Some(refused) = auth::check_page(&request) {
            refused
        } else {
            web::respond(&method, &path, &request)
        };
        response.send(out, method == "HEAD");
    }
}

/// Answers a `/v1` route: a write in `writes` (only the whole front has
/// them), a read in `handlers`.
fn respond(route: routes::Route, request: &IncomingRequest) -> Result<Response, error::ApiError> {
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
