//! One module per page. Each asks the query handler for what it shows and
//! builds its markup; a failure becomes a page that says what happened.

mod home;
mod namespace;
mod package;
mod search;

use maud::html;

use crate::layout::{self, Html};
use crate::routes::{self, Route};
use depot_guest::types::{ContentKind, Error};

/// The page for `route`; `origin` is where the client reached the registry.
pub fn render(route: Route, origin: &str) -> Html {
    let page = match route {
        Route::Home => home::page(),
        Route::Search(query) => Ok(search::page(&query)),
        Route::Namespace { namespace, after } => namespace::page(&namespace, after),
        Route::Package(name) => package::page(&name, None, origin),
        Route::Release { name, version } => package::page(&name, Some(&version), origin),
        Route::NotFound(path) => Ok(not_found(&path)),
        // Answered before rendering.
        Route::Asset(_) | Route::Redirect(_) => Ok(not_found("")),
    };
    page.unwrap_or_else(|e| failed(&e))
}

/// What a page says about an error the query handler returned.
pub fn error_message(e: &Error) -> String {
    match e {
        Error::HeadMoved(_) => "the registry changed while reading; reload the page".to_string(),
        other => other.message(),
    }
}

/// The page for an error the query handler returned.
fn failed(e: &Error) -> Html {
    let (status, title) = match e {
        Error::NotFound(_) => (404, "Not found"),
        Error::InvalidName(_) | Error::InvalidVersion(_) => (404, "No such package"),
        Error::TakenDown(_) => (451, "Taken down"),
        Error::Storage(_) | Error::HeadMoved(_) => (503, "The registry cannot answer right now"),
        _ => (400, "Bad request"),
    };
    layout::message(status, title, html! { p { (error_message(e)) } })
}

/// The 404 page: says what was asked for and offers a search for it.
fn not_found(path: &str) -> Html {
    let guess = path
        .rsplit('/')
        .find(|segment| !segment.is_empty())
        .unwrap_or_default();
    layout::message(
        404,
        "Page not found",
        html! {
            p { "There is no page at " code { "/" (path) } "." }
            @if !guess.is_empty() {
                p {
                    "Looking for a package? "
                    a href=(routes::search_path(&[("q", guess)])) { "Search for “" (guess) "”" }
                    "."
                }
            }
            p {
                "Package pages are at " code { "/packages/namespace/name" }
                ", and a namespace's packages at " code { "/packages/namespace" } "."
            }
        },
    )
}

/// How a content kind reads on a page.
pub fn kind_label(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Component => "component",
        ContentKind::WitPackage => "WIT package",
        ContentKind::CoreModule => "core module",
    }
}
