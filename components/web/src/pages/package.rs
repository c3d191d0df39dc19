//! `/packages/{namespace}/{name}` and `/…/{version}`: everything about a
//! release before downloading it (what it is, its WIT world, what it imports
//! and exports, who published it under which license, its annotations), how
//! to fetch it, and every version of the package.

use depot_protocol::Candidate;
use maud::{Markup, html};

use crate::bindings::depot::registry::query;
use crate::format;
use crate::highlight;
use crate::layout::{self, Html, external_link};
use crate::pages::kind_label;
use crate::routes::{self, encode};
use depot_guest::advisory::{self, Advisory};
use depot_guest::types::{ContentKind, Error, Release};

/// The page of package `name` showing `version`, or its latest release.
pub fn page(name: &str, version: Option<&str>, origin: &str) -> Result<Html, Error> {
    // Highest version first.
    let releases = query::list_releases(name)?;
    let candidates: Vec<Candidate> = releases.iter().filter_map(candidate).collect();
    let latest = depot_protocol::latest(&candidates).map(ToString::to_string);
    let latest = releases
        .iter()
        .find(|r| Some(&r.version) == latest.as_ref());
    let shown = match version {
        Some(version) => releases
            .iter()
            .find(|r| r.version == version)
            .ok_or_else(|| no_such_version(name, version, &releases))?,
        // Every version yanked or taken down: show the highest anyway.
        None => latest
            .or(releases.first())
            .ok_or_else(|| Error::NotFound(format!("{name} has no releases")))?,
    };
    let advisories = advisories(&releases, shown);
    let taken_down = shown.takedown.is_some();
    let status = if taken_down && version.is_some() {
        451
    } else {
        200
    };
    let title = match version {
        Some(version) => format!("{name} {version}"),
        None => name.to_string(),
    };
    let main = html! {
        (breadcrumb(name, version))
        div.package-head {
            h1 {
                span.name { (name) } " " span.version { (shown.version) }
                " " (layout::status_badge(shown.yanked, taken_down))
            }
            @for (on, advisory) in &advisories {
                div.notice.advisory role="alert" {
                    strong { "Advisory (" (advisory.severity) "): " }
                    (advisory.summary)
                    " Affects " code { (advisory.affected) } "; made on "
                    a href=(routes::release_path(name, on)) { (on) } "."
                    @if let Some(id) = &advisory.id { " " code { (id) } }
                    @if let Some(link) = &advisory.link { " " (external_link(link, "Details")) }
                }
            }
            @if let (Some(description), false) = (&shown.metadata.description, taken_down) {
                p.description { (description) }
            }
            @if let Some(latest) = latest.filter(|latest| latest.version != shown.version) {
                p.notice {
                    "The latest version is "
                    a href=(routes::release_path(name, &latest.version)) { (latest.version) } "."
                }
            }
        }
        @if let Some(takedown) = &shown.takedown {
            section.tombstone role="note" aria-labelledby="takedown-title" {
                h2 #takedown-title { "Taken down" }
                p { "The registry's operator removed this release's content on "
                    (format::time(takedown.time)) ". The reason given:" }
                blockquote { (takedown.reason) }
                p { "Requests for it answer with this reason, and version resolution skips it." }
            }
        }
        @if shown.yanked && !taken_down {
            p.notice.yanked role="note" {
                "This version is yanked: its publisher marked it unfit for use. It stays "
                "fetchable by exact version, so lockfiles keep working, but resolution skips it."
            }
        }
        div.columns {
            div.primary {
                @if !taken_down { (details(shown)) }
                (versions(name, &releases, shown))
            }
            aside.secondary aria-label="Fetch and facts" {
                @if !taken_down { (fetch(shown, origin)) }
                (about(shown))
            }
        }
    };
    Ok(layout::document(status, &title, "", main))
}

fn candidate(release: &Release) -> Option<Candidate> {
    Some(Candidate {
        version: depot_protocol::parse_version(&release.version).ok()?,
        yanked: release.yanked,
        taken_down: release.takedown.is_some(),
    })
}

fn no_such_version(name: &str, version: &str, releases: &[Release]) -> Error {
    let versions: Vec<&str> = releases.iter().map(|r| r.version.as_str()).collect();
    Error::NotFound(format!(
        "{name} has no version {version}; its versions are {}",
        versions.join(", ")
    ))
}

fn breadcrumb(name: &str, version: Option<&str>) -> Markup {
    let (namespace, short) = name.split_once(':').unwrap_or((name, ""));
    html! {
        nav.breadcrumb aria-label="Breadcrumb" {
            ol {
                li { a href="/" { "Depot" } }
                li { a href=(routes::namespace_path(namespace)) { (namespace) } }
                @if let Some(version) = version {
                    li { a href=(routes::package_path(name)) { (short) } }
                    li aria-current="page" { (version) }
                } @else {
                    li aria-current="page" { (short) }
                }
            }
        }
    }
}

/// The advisories made on any of `releases` that concern `shown`, each with
/// the version it was made on.
fn advisories(releases: &[Release], shown: &Release) -> Vec<(String, Advisory)> {
    let Ok(version) = depot_protocol::parse_version(&shown.version) else {
        return Vec::new();
    };
    releases
        .iter()
        .flat_map(|release| {
            release
                .annotations
                .iter()
                .filter(|a| a.type_ == advisory::TYPE)
                .filter_map(|a| Advisory::parse(&a.value, &release.version).ok())
                .map(|advisory| (release.version.clone(), advisory))
        })
        .filter(|(_, advisory)| advisory.affects(&version))
        .collect()
}

/// The WIT, the interfaces and the annotations of a live release.
fn details(release: &Release) -> Markup {
    let metadata = &release.metadata;
    let wit_title = match metadata.kind {
        ContentKind::Component => "World",
        ContentKind::WitPackage => "WIT",
        ContentKind::CoreModule => "Interface",
    };
    html! {
        @if let Some(wit) = &metadata.wit {
            section aria-labelledby="wit-title" {
                h2 #wit-title { (wit_title) }
                @if let Some(worlds) = &metadata.worlds {
                    @if !worlds.is_empty() {
                        p { "Worlds: "
                            @for (i, world) in worlds.iter().enumerate() {
                                @if i > 0 { ", " } code { (world) }
                            }
                        }
                    }
                }
                pre.wit tabindex="0" { code { (highlight::wit(wit)) } }
            }
        }
        @if metadata.kind != ContentKind::WitPackage {
            div.interfaces-pair {
                section aria-labelledby="imports-title" {
                    h2 #imports-title { "Imports" }
                    (layout::interfaces("imports", &metadata.imports))
                }
                section aria-labelledby="exports-title" {
                    h2 #exports-title { "Exports" }
                    (layout::interfaces("exports", &metadata.exports))
                }
            }
        }
        @if !release.annotations.is_empty() {
            section aria-labelledby="annotations-title" {
                h2 #annotations-title { "Annotations" }
                ol.annotations {
                    @for annotation in &release.annotations {
                        li {
                            p.meta {
                                code { (annotation.type_) } " · " (format::time(annotation.time))
                                @if let Some(annotator) = &annotation.annotator {
                                    " · by token " code { (annotator) }
                                }
                            }
                            pre tabindex="0" { code { (annotation.value) } }
                        }
                    }
                }
            }
        }
    }
}

/// Every version, newest first, the shown one marked.
fn versions(name: &str, releases: &[Release], shown: &Release) -> Markup {
    html! {
        section aria-labelledby="versions-title" {
            h2 #versions-title { "Versions (" (releases.len()) ")" }
            div.table-scroll {
                table.versions {
                    thead { tr { th scope="col" { "Version" } th scope="col" { "Published" }
                                 th scope="col" { "Size" } th scope="col" { "Digest" } } }
                    tbody {
                        @for release in releases {
                            tr aria-current=[(release.version == shown.version).then_some("page")] {
                                th scope="row" {
                                    a href=(routes::release_path(name, &release.version)) { (release.version) }
                                    " " (layout::status_badge(release.yanked, release.takedown.is_some()))
                                    @if release.signature.is_some() { " " span.badge.signed title="Signed by the publisher" { "signed" } }
                                }
                                td { (format::time(release.published_at)) }
                                td { (format::size(release.size)) }
                                td { code.digest title=(release.digest) { (short_digest(&release.digest)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `sha256:0123456789ab…`.
fn short_digest(digest: &str) -> String {
    match digest.char_indices().nth(19) {
        Some((end, _)) => format!("{}…", &digest[..end]),
        None => digest.to_string(),
    }
}

/// Copyable commands that fetch the release, and a download link.
fn fetch(release: &Release, origin: &str) -> Markup {
    let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    let (name, version) = (&release.name, &release.version);
    let file = format!("{}@{version}.wasm", name.replace(':', "_"));
    let download = format!(
        "/v1/packages/{}/versions/{}/content",
        encode(name),
        encode(version)
    );
    let commands = [
        (
            "depot",
            format!("depot get {name}@={version} --registry {origin}"),
        ),
        (
            "wkg",
            format!("wkg get {name}@{version} --registry {authority}"),
        ),
        (
            "cargo component",
            format!("cargo component add {name}@{version} --registry {authority}"),
        ),
    ];
    html! {
        section.fetch aria-labelledby="fetch-title" {
            h2 #fetch-title { "Fetch" }
            @for (tool, command) in &commands {
                div.command {
                    p.tool { (tool) }
                    pre tabindex="0" data-copy { code { (command) } }
                }
            }
            p.download {
                a.button href=(download) download=(file) type="application/wasm" {
                    "Download " (file)
                }
                " " span.meta { (format::size(release.size)) }
            }
        }
    }
}

/// What the release says about itself.
fn about(release: &Release) -> Markup {
    let metadata = &release.metadata;
    let registry = metadata.registry.as_ref();
    html! {
        section.about aria-labelledby="about-title" {
            h2 #about-title { "About" }
            dl {
                dt { "Kind" } dd { (kind_label(metadata.kind)) }
                @if let Some(licenses) = &metadata.licenses {
                    dt { "License" }
                    dd { a href=(routes::search_path(&[("license", licenses)])) { (licenses) } }
                }
                @if let Some(authors) = &metadata.authors { dt { "Authors" } dd { (authors) } }
                dt { "Size" } dd { (format::size(release.size)) " (" (format::count(release.size)) " bytes)" }
                dt { "Digest" } dd { code.digest { (release.digest) } }
                dt { "Published" } dd { (format::time(release.published_at)) }
                dt { "Log entry" }
                dd {
                    "#" (release.seq) " · "
                    a href=(format!("/v1/log/proof/inclusion?seq={}", release.seq)) {
                        "inclusion proof"
                    }
                }
                dt { "Signature" }
                dd.signature {
                    @if let Some(signature) = &release.signature {
                        "Signed by the publisher's key " code.digest { (signature.key) }
                        " (release digest " code.digest title=(signature.release_digest) {
                            (short_digest(&signature.release_digest))
                        } ")"
                    } @else {
                        "Not signed"
                    }
                }
                @if let Some(homepage) = &metadata.homepage {
                    dt { "Homepage" } dd { (external_link(homepage, homepage)) }
                }
                @if let Some(source) = &metadata.source {
                    dt { "Source" } dd { (external_link(source, source)) }
                }
                @if let Some(revision) = &metadata.revision {
                    dt { "Revision" } dd { code { (revision) } }
                }
                @if let Some(registry) = registry {
                    @for link in &registry.links {
                        dt { (link.kind) } dd { (external_link(&link.url, &link.url)) }
                    }
                    @if !registry.categories.is_empty() {
                        dt { "Categories" }
                        dd { @for (i, category) in registry.categories.iter().enumerate() {
                            @if i > 0 { ", " } (category)
                        } }
                    }
                }
            }
        }
    }
}
