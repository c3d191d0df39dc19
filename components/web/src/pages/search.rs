//! `/search`: the search form with its filters, and a page of results.

use maud::{Markup, html};

use crate::bindings::depot::registry::query::{self, SearchResults};
use crate::layout::{self, Html};
use crate::pages::kind_label;
use crate::query_string::{query_param, search_query};
use crate::routes;
use depot_guest::types::{Release, SearchQuery};

/// Results per page.
const PAGE: u32 = 20;

/// The form's fields that carry over to the next page's link.
const CARRIED: [&str; 8] = [
    "q",
    "exports",
    "imports",
    "license",
    "namespace",
    "kind",
    "version",
    "include",
];

pub fn page(query: &str) -> Html {
    let field = |key: &str| query_param(query, key).ok().flatten().unwrap_or_default();
    let text = field("q");
    let parsed = search_query(query, PAGE).map_err(|message| message.to_string());
    let results = parsed.and_then(|(search, version)| {
        query::search(&search, version.as_deref())
            .map(|results| (search, results))
            .map_err(|e| crate::pages::error_message(&e))
    });
    let title = if text.is_empty() {
        "Search".to_string()
    } else {
        format!("Search: {text}")
    };
    let status = if results.is_ok() { 200 } else { 400 };
    let main = html! {
        h1 {
            @if text.is_empty() { "Packages" } @else { "Results for “" (text) "”" }
        }
        (form(&field))
        @match &results {
            Ok((search, results)) => (listing(search, results, &field)),
            Err(message) => p.error role="alert" { (message) },
        }
    };
    layout::document(status, &title, &text, main)
}

/// The search form, filled with what was asked.
fn form(field: &dyn Fn(&str) -> String) -> Markup {
    let kind = field("kind");
    let include = field("include");
    html! {
        form.filters action="/search" method="get" aria-label="Search filters" {
            div.field.wide {
                label for="f-q" { "Name or words" }
                input #f-q type="search" name="q" value=(field("q"));
            }
            (text_field("exports", "Exports interface", "wasi:http/incoming-handler", field))
            (text_field("imports", "Imports interface", "wasi:cli/environment@0.2.0", field))
            (text_field("license", "License", "Apache-2.0", field))
            div.field {
                label for="f-kind" { "Kind" }
                select #f-kind name="kind" {
                    @for (value, label) in [("", "any"), ("component", "component"),
                                            ("wit-package", "WIT package"),
                                            ("core-module", "core module")] {
                        option value=(value) selected[kind == value] { (label) }
                    }
                }
            }
            (text_field("namespace", "Namespace", "wasi", field))
            (text_field("version", "Version", "^1.0", field))
            div.field.check {
                input #f-include type="checkbox" name="include" value="yanked"
                    checked[include.contains("yanked")];
                label for="f-include" { "Include yanked releases" }
            }
            div.actions { button type="submit" { "Search" } }
        }
    }
}

/// A labelled text box for the search parameter `name`.
fn text_field(name: &str, label: &str, example: &str, field: &dyn Fn(&str) -> String) -> Markup {
    let id = format!("f-{name}");
    html! {
        div.field {
            label for=(id) { (label) }
            input #(id) type="text" name=(name) value=(field(name)) placeholder=(example);
        }
    }
}

/// The results and the link to the next page.
fn listing(
    search: &SearchQuery,
    results: &SearchResults,
    field: &dyn Fn(&str) -> String,
) -> Markup {
    let next = results.next.as_deref().map(|next| {
        let values: Vec<(&str, String)> = CARRIED.iter().map(|key| (*key, field(key))).collect();
        let mut params: Vec<(&str, &str)> = values
            .iter()
            .map(|(key, value)| (*key, value.as_str()))
            .collect();
        params.push(("after", next));
        routes::search_path(&params)
    });
    html! {
        section aria-labelledby="results-title" {
            h2 #results-title .visually-hidden { "Results" }
            @if results.releases.is_empty() {
                p.none {
                    @if search.after.is_some() { "No more packages match." }
                    @else { "No package matches. Try fewer words or filters." }
                }
            } @else {
                ol.results {
                    @for release in &results.releases { li { (result(release)) } }
                }
            }
            @if let Some(next) = next {
                nav.pager aria-label="Pages" { a rel="next" href=(next) { "Next page →" } }
            }
        }
    }
}

/// One package in the results: its best-matching release.
pub fn result(release: &Release) -> Markup {
    let metadata = &release.metadata;
    html! {
        h3 {
            a href=(routes::package_path(&release.name)) { (release.name) }
            " "
            a.version href=(routes::release_path(&release.name, &release.version)) {
                (release.version)
            }
            " " (layout::status_badge(release.yanked, release.takedown.is_some()))
        }
        @if let Some(description) = &metadata.description {
            p.description { (description) }
        }
        p.meta {
            (kind_label(metadata.kind))
            @if let Some(licenses) = &metadata.licenses { " · " (licenses) }
            @if !metadata.exports.is_empty() {
                " · exports "
                @for (i, export) in metadata.exports.iter().take(3).enumerate() {
                    @if i > 0 { ", " }
                    code { (export) }
                }
                @if metadata.exports.len() > 3 { " and " (metadata.exports.len() - 3) " more" }
            }
        }
    }
}
