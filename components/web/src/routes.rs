//! Which page a path is for. Pages live under their own prefixes so that no
//! namespace or package name can shadow another page:
//!
//! - `/` home, `/search?q=…` search
//! - `/packages/{namespace}` a namespace's packages
//! - `/packages/{namespace}/{name}` a package, `/…/{name}/{version}` one version
//! - `/static/…` the stylesheet, script and icon

use crate::assets::{self, Asset};
use crate::query_string::percent_decode;

/// A page, with its path segments decoded. Names and versions are checked by
/// the query handler, whose messages the page shows.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    Home,
    /// The raw query string: the search page reads its own parameters, so it
    /// can show a bad one as a message next to the form.
    Search(String),
    Namespace {
        namespace: String,
        after: Option<String>,
    },
    Package(String),
    Release {
        name: String,
        version: String,
    },
    Asset(&'static Asset),
    /// A permanent redirect to this path: `/packages/ns:name` is spelled
    /// `/packages/ns/name`.
    Redirect(String),
    /// Nothing here; the path, decoded where it could be.
    NotFound(String),
}

/// The route for `path_and_query`.
pub fn route(path_and_query: &str) -> Route {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let Ok(segments) = path
        .strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .map(|segment| percent_decode(segment, false))
        .collect::<Result<Vec<_>, _>>()
    else {
        return Route::NotFound(path.to_string());
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        [""] => Route::Home,
        ["search"] => Route::Search(query.to_string()),
        ["packages", name] if name.contains(':') => Route::Redirect(package_path(name)),
        ["packages", namespace] if !namespace.is_empty() => Route::Namespace {
            namespace: namespace.to_string(),
            after: crate::query_string::query_param(query, "after")
                .ok()
                .flatten()
                .filter(|after| !after.is_empty()),
        },
        ["packages", namespace, name] if !name.is_empty() => {
            Route::Package(format!("{namespace}:{name}"))
        }
        ["packages", namespace, name, version] if !version.is_empty() => Route::Release {
            name: format!("{namespace}:{name}"),
            version: version.to_string(),
        },
        ["static", file] => match assets::find(file) {
            Some(asset) => Route::Asset(asset),
            None => Route::NotFound(path.to_string()),
        },
        _ => Route::NotFound(segments.join("/")),
    }
}

/// The page of package `name` (`namespace:name`).
pub fn package_path(name: &str) -> String {
    let (namespace, name) = name.split_once(':').unwrap_or((name, ""));
    format!("/packages/{}/{}", encode(namespace), encode(name))
}

/// The page of one version of package `name`.
pub fn release_path(name: &str, version: &str) -> String {
    format!("{}/{}", package_path(name), encode(version))
}

/// The page of a namespace.
pub fn namespace_path(namespace: &str) -> String {
    format!("/packages/{}", encode(namespace))
}

/// A search for `params` (pairs of parameter and value).
pub fn search_path(params: &[(&str, &str)]) -> String {
    let query: Vec<String> = params
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(key, value)| format!("{key}={}", encode(value)))
        .collect();
    format!("/search?{}", query.join("&"))
}

/// Percent-encodes everything but unreserved characters and `:`, `@`, `/`,
/// which names, versions and interfaces use and URLs allow in paths and
/// query values.
pub fn encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:@/".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_pages() {
        assert_eq!(route("/"), Route::Home);
        assert_eq!(route("/?x=1"), Route::Home);
        assert_eq!(route("/search?q=greet"), Route::Search("q=greet".into()));
        assert_eq!(
            route("/packages/wasi"),
            Route::Namespace {
                namespace: "wasi".into(),
                after: None
            }
        );
        assert_eq!(
            route("/packages/wasi?after=wasi%3Acli"),
            Route::Namespace {
                namespace: "wasi".into(),
                after: Some("wasi:cli".into())
            }
        );
        assert_eq!(
            route("/packages/wasi/http"),
            Route::Package("wasi:http".into())
        );
        assert_eq!(
            route("/packages/wasi/http/0.2.0%2Bbuild"),
            Route::Release {
                name: "wasi:http".into(),
                version: "0.2.0+build".into()
            }
        );
        assert_eq!(
            route("/packages/wasi:http"),
            Route::Redirect("/packages/wasi/http".into())
        );
    }

    #[test]
    fn unknown_paths_and_bad_escapes_are_not_found() {
        for path in [
            "/nope",
            "/packages/a/b/c/d",
            "/packages/%zz",
            "/static/x.css",
            "/packages/",
        ] {
            assert!(matches!(route(path), Route::NotFound(_)), "{path}");
        }
    }

    #[test]
    fn links_round_trip_through_the_router() {
        let path = release_path("my-ns:greet", "1.0.0-rc.1+b.2");
        assert_eq!(path, "/packages/my-ns/greet/1.0.0-rc.1%2Bb.2");
        assert_eq!(
            route(&path),
            Route::Release {
                name: "my-ns:greet".into(),
                version: "1.0.0-rc.1+b.2".into()
            }
        );
        assert_eq!(
            search_path(&[("exports", "wasi:http/incoming-handler@0.2.0"), ("q", "")]),
            "/search?exports=wasi:http/incoming-handler@0.2.0"
        );
        assert_eq!(search_path(&[("q", "a b&c")]), "/search?q=a%20b%26c");
    }
}
