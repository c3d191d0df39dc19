//! `/packages/{namespace}`: the namespace's packages in name order.

use maud::html;

use crate::bindings::depot::registry::query;
use crate::layout::{self, Html};
use crate::pages::search::result;
use crate::routes;
use depot_guest::types::{Error, SearchQuery};

/// Packages per page.
const PAGE: u32 = 50;

pub fn page(namespace: &str, after: Option<String>) -> Result<Html, Error> {
    let search = SearchQuery {
        text: None,
        exports: None,
        imports: None,
        license: None,
        namespace: Some(namespace.to_string()),
        kind: None,
        include_yanked: true,
        include_taken_down: true,
        after,
        limit: PAGE,
    };
    let results = query::search(&search, None).map_err(|e| match e {
        // A malformed namespace names no page.
        Error::BadRequest(m) => Error::NotFound(m),
        e => e,
    })?;
    if results.releases.is_empty() && search.after.is_none() {
        return Err(Error::NotFound(format!(
            "no package has been published in namespace `{namespace}`"
        )));
    }
    let next = results.next.as_deref().map(|next| {
        format!(
            "{}?after={}",
            routes::namespace_path(namespace),
            routes::encode(next)
        )
    });
    let main = html! {
        nav.breadcrumb aria-label="Breadcrumb" {
            ol { li { a href="/" { "Depot" } } li aria-current="page" { (namespace) } }
        }
        h1 { "Namespace " span.name { (namespace) } }
        ol.results {
            @for release in &results.releases { li { (result(release)) } }
        }
        @if let Some(next) = next {
            nav.pager aria-label="Pages" { a rel="next" href=(next) { "Next page →" } }
        }
    };
    Ok(layout::document(200, namespace, "", main))
}
