//! Everything outside `/v1`, `/v2` and `/.well-known` is for people: the web
//! handler renders it.

use wasip2::http::types::{IncomingRequest, Scheme};

use crate::bindings::depot::registry::web::{self, PageRequest};
use crate::request::header;
use crate::response::{Body, Response};

/// The page for a `GET` or `HEAD` of `path`.
pub fn respond(path: &str, request: &IncomingRequest) -> Response {
    let page = web::render(&PageRequest {
        path: path.to_string(),
        origin: origin(request),
        if_none_match: header(request, "if-none-match"),
    });
    let body = if page.body.is_empty() {
        Body::Empty
    } else {
        Body::Bytes(page.body)
    };
    Response::with_headers(page.status, page.headers, body)
}

/// Where the client reached the registry, as `scheme://authority`.
fn origin(request: &IncomingRequest) -> String {
    let scheme = match request.scheme() {
        Some(Scheme::Https) => "https".to_string(),
        Some(Scheme::Other(other)) => other,
        Some(Scheme::Http) | None => "http".to_string(),
    };
    let authority = request
        .authority()
        .or_else(|| header(request, "host"))
        .unwrap_or_else(|| "localhost".to_string());
    format!("{scheme}://{authority}")
}
