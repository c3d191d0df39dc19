//! Depot's web view (`depot:registry/web`): the pages people read, rendered
//! on the server from the query handler's answers. Every page works without
//! JavaScript; a small script only adds copy buttons. Nothing is loaded from
//! outside the registry, and every string a publisher wrote is escaped by the
//! templates ([`maud`] escapes whatever it interpolates).
//!
//! A request goes: [`routes`] (which page) → [`pages`] (asks the query
//! handler, builds the markup in [`layout`]) → [`response`] (headers, ETag,
//! `304`). [`assets`] are the stylesheet, script and icon.

/// The WIT bindings and the export glue: generated, and `unsafe` by nature.
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "depot:registry/web-handler",
        with: { "depot:registry/types@0.1.0": depot_guest::types },
    });

    use super::Web;
    export!(Web);
}

use depot_guest::query_string;

mod assets;
mod format;
mod highlight;
mod layout;
mod pages;
mod response;
mod routes;

use bindings::exports::depot::registry::web::{Guest, Page, PageRequest};

/// The web view.
#[derive(Debug)]
struct Web;

impl Guest for Web {
    fn render(request: PageRequest) -> Page {
        let response = match routes::route(&request.path) {
            routes::Route::Asset(asset) => response::asset(asset),
            routes::Route::Redirect(location) => response::redirect(&location),
            route => response::html(pages::render(route, &request.origin)),
        };
        response.finish(request.if_none_match.as_deref())
    }
}
