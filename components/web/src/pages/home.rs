//! `/`: a search box, what the registry holds, and the latest releases.

use maud::html;

use crate::bindings::depot::registry::query;
use crate::format;
use crate::layout::{self, Html};
use crate::pages::kind_label;
use crate::routes;
use depot_guest::types::{Action, Error, LogEntry};

/// How many recent releases the page lists.
const RECENT: usize = 10;

/// How far back in the log the page looks for them.
const LOOK_BACK: u64 = 100;

pub fn page() -> Result<Html, Error> {
    let stats = query::stats()?;
    let entries = query::read_feed(stats.head.saturating_sub(LOOK_BACK), LOOK_BACK as u32, 0)?;
    let recent = recent_releases(&entries);
    let main = html! {
        section.hero aria-labelledby="hero-title" {
            h1 #hero-title { "Depot" }
            p.tagline { "A registry for WebAssembly components and WIT packages." }
            form.search.big role="search" action="/search" method="get" {
                label for="home-search" { "Search by name, description or interface" }
                div.row {
                    input #home-search type="search" name="q" placeholder="e.g. greet, wasi:http";
                    button type="submit" { "Search" }
                }
            }
            p.stats {
                strong { (format::count(stats.packages)) } " packages · "
                strong { (format::count(stats.releases)) } " releases · "
                a href="/search" { "browse them all" }
            }
        }
        section aria-labelledby="recent-title" {
            h2 #recent-title { "Recent releases" }
            @if recent.is_empty() {
                p.none { "Nothing has been published yet. Publish with " code { "depot publish" } "." }
            } @else {
                ol.releases {
                    @for release in &recent {
                        li {
                            a href=(routes::release_path(release.name, release.version)) {
                                span.name { (release.name) } " " span.version { (release.version) }
                            }
                            @if release.taken_down {
                                " " (layout::status_badge(false, true))
                            } @else {
                                @if let Some(description) = release.description {
                                    p.description { (description) }
                                }
                            }
                            p.meta { (release.kind) " · " (format::time(release.time)) }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::document(200, "", "", main))
}

/// A release as the recent list shows it.
#[derive(Debug)]
struct Recent<'a> {
    name: &'a str,
    version: &'a str,
    description: Option<&'a str>,
    kind: &'static str,
    time: u64,
    taken_down: bool,
}

/// The newest releases among `entries` (in log order), newest first; a
/// release taken down later in `entries` is marked, and its description not
/// shown.
fn recent_releases(entries: &[LogEntry]) -> Vec<Recent<'_>> {
    let taken_down = |name: &str, version: &str| {
        entries.iter().any(|e| {
            matches!(e.entry.action, Action::Takedown(_))
                && e.entry.name == name
                && e.entry.version == version
        })
    };
    entries
        .iter()
        .rev()
        .filter_map(|e| match &e.entry.action {
            Action::Release(content) => Some(Recent {
                name: &e.entry.name,
                version: &e.entry.version,
                description: content.metadata.description.as_deref(),
                kind: kind_label(content.metadata.kind),
                time: e.time,
                taken_down: taken_down(&e.entry.name, &e.entry.version),
            }),
            _ => None,
        })
        .take(RECENT)
        .collect()
}
