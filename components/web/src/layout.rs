//! What every page shares: the document, the header with the search box, the
//! footer; and small pieces pages reuse (badges, interface links, messages).

use maud::{DOCTYPE, Markup, html};

use crate::assets::{ICON, SCRIPT, STYLESHEET};
use crate::routes;

/// A page: its status and its whole document.
#[derive(Debug)]
pub struct Html {
    pub status: u16,
    pub markup: Markup,
}

/// The document around `main`, titled `title` ("Depot" alone on the home
/// page); `query` fills the header's search box.
pub fn document(status: u16, title: &str, query: &str, main: Markup) -> Html {
    let title = if title.is_empty() {
        "Depot — WebAssembly component registry".to_string()
    } else {
        format!("{title} · Depot")
    };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) }
                link rel="stylesheet" href=(STYLESHEET.path());
                link rel="icon" type="image/svg+xml" href=(ICON.path());
                script src=(SCRIPT.path()) defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    nav aria-label="Site" {
                        a.brand href="/" { img src=(ICON.path()) alt="" width="24" height="24"; "Depot" }
                    }
                    form.search role="search" action="/search" method="get" {
                        label.visually-hidden for="site-search" { "Search packages" }
                        input #site-search type="search" name="q" value=(query)
                            placeholder="Search packages, interfaces…" autocomplete="off";
                        button type="submit" { "Search" }
                    }
                }
                main #main { (main) }
                footer.site {
                    p {
                        "Depot serves WebAssembly components and WIT packages. "
                        "Machines: the " a href="/v1/packages" { "JSON API" }
                        " and OCI (" code { "/v2" } ")."
                    }
                }
            }
        }
    };
    Html { status, markup }
}

/// A page that only says something went wrong, with what to do next.
pub fn message(status: u16, title: &str, what: Markup) -> Html {
    document(
        status,
        title,
        "",
        html! {
            section.message aria-labelledby="message-title" {
                h1 #message-title { (title) }
                (what)
                p { a href="/" { "Home" } " · " a href="/search" { "Search all packages" } }
            }
        },
    )
}

/// The badge for a yanked or taken-down release; nothing for a live one.
pub fn status_badge(yanked: bool, taken_down: bool) -> Markup {
    html! {
        @if taken_down {
            span.badge.taken-down title="Removed by the registry's operator" { "taken down" }
        } @else if yanked {
            span.badge.yanked title="The publisher marked it unfit for use" { "yanked" }
        }
    }
}

/// A list of interfaces, each a link to the packages that `direction`
/// (`imports` or `exports`) it too.
pub fn interfaces(direction: &str, interfaces: &[String]) -> Markup {
    html! {
        @if interfaces.is_empty() {
            p.none { "None." }
        } @else {
            ul.interfaces {
                @for interface in interfaces {
                    li {
                        a href=(routes::search_path(&[(direction, interface)]))
                            title={ "Packages that " (direction) " " (interface) } {
                            code { (interface) }
                        }
                    }
                }
            }
        }
    }
}

/// A link to a publisher-supplied URL, only when it is `http` or `https`;
/// anything else (a `javascript:` URL) shows as text.
pub fn external_link(url: &str, text: &str) -> Markup {
    let lower = url.to_ascii_lowercase();
    html! {
        @if lower.starts_with("https://") || lower.starts_with("http://") {
            a href=(url) rel="nofollow noopener noreferrer" { (text) }
        } @else {
            (text)
        }
    }
}
