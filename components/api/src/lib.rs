//! Depot's HTTP front: the `/v1` JSON API of docs/http-api.md and the OCI
//! distribution API under `/v2` ([`oci`]), and the web view's pages everywhere
//! else ([`web`], rendered by the web handler), exported as
//! `wasi:http/incoming-handler`, over the publish and query handlers and the
//! store. A request goes: [`routes`] (which route) → [`handlers`] (what it
//! does) → [`response`] (status, headers, body); [`json`] shapes the bodies and
//! [`body`] streams content in and out in bounded chunks.

/// The WIT bindings and the export glue: generated, and `unsafe` by nature.
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "depot:registry/api-handler",
        // Routes carry WIT records (a search query) and are compared in tests.
        additional_derives: [PartialEq, Eq],
    });

    use super::Api;
    wasip2::http::proxy::export!(Api);
}

mod auth;
mod body;
mod error;
mod feed;
mod handlers;
mod json;
mod oci;
mod response;
mod routes;
mod tokens;
mod web;

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
        } else if tokens::handles(&path) {
            tokens::respond(&method, &path, &request)
        } else if web::is_api(&path) {
            routes::route(&method, &path)
                .and_then(|route| auth::check_v1(&route, &request).map(|()| route))
                .and_then(|route| handlers::respond(route, &request))
                .unwrap_or_else(|e| Response::error(&e))
        } else if let Some(refused) = auth::check_page(&request) {
            refused
        } else {
            web::respond(&method, &path, &request)
        };
        response.send(out, method == "HEAD");
    }
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
