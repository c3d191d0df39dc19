//! Which route a request is for: pure string work on the method, the
//! percent-encoded path and the query string. [`target`] is the one table
//! every request goes through: the `/v1` routes here, the OCI routes under
//! `/v2` ([`oci`]), the OCI token endpoint, the `wkg`
//! discovery document, and the web view's pages.

use self::oci::Route as OciRoute;
use crate::error::ApiError;
use crate::error::oci::OciError;
use depot_guest::types::SearchQuery;

pub mod oci;

use depot_guest::query_string;

/// The routes, for the 404 message.
const ROUTES: &str = "GET /v1/packages?after={name}&limit={n}, GET /v1/packages/{name}, \
                      PUT, POST and GET /v1/packages/{name}/versions/{version}, \
                      POST /v1/releases, GET /v1/packages/{name}/versions/{version}/unpublished, \
                      PUT /v1/packages/{name}/versions/{version}/unpublished/content, \
                      POST /v1/packages/{name}/versions/{version}/unpublished/content-sources, \
                      GET /v1/namespaces/{namespace}, PUT /v1/namespaces/{namespace}/policy, \
                      POST /v1/keys/grant, POST /v1/keys/revoke, \
                      GET /v1/packages/{name}/versions/{version}/content, \
                      POST /v1/packages/{name}/versions/{version}/yank, \
                      POST /v1/packages/{name}/versions/{version}/unyank, \
                      POST /v1/packages/{name}/versions/{version}/annotations, \
                      POST /v1/packages/{name}/versions/{version}/takedown, \
                      GET /v1/packages/{name}/resolve?req={requirement}, \
                      GET /v1/content/{digest}, \
                      GET /v1/search?q=&exports=&imports=&license=&namespace=&kind=&version=&include=&after=&limit=, \
                      GET /v1/stats, GET /v1/log/checkpoint, GET /v1/log/key, \
                      GET /v1/log/proof/inclusion?seq={seq}&size={tree size}, \
                      GET /v1/log/proof/consistency?from={size}&to={size}, \
                      GET /v1/feed?since={seq}&limit={n}&wait={seconds}, \
                      GET /v1/feed/stream?since={seq}, \
                      POST and GET /v1/tokens, DELETE /v1/tokens/{id}";

/// The longest a feed request may wait for an entry, in seconds.
pub const MAX_WAIT: u32 = 60;

/// The methods of a path that only reads; `HEAD` is `GET` without the body.
const READ: &str = "GET, HEAD";

/// Packages per page when the request does not say.
const DEFAULT_LIMIT: u32 = 100;

/// What a request asks for, its path segments decoded. Names, versions and
/// digests are checked by the handlers that use them.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    ListPackages {
        after: Option<String>,
        limit: u32,
    },
    Package {
        name: String,
    },
    Release {
        name: String,
        version: String,
    },
    Publish {
        name: String,
        version: String,
    },
    ReleaseContent {
        name: String,
        version: String,
    },
    Content {
        digest: String,
    },
    Resolve {
        name: String,
        requirement: String,
    },
    Yank {
        name: String,
        version: String,
    },
    Unyank {
        name: String,
        version: String,
    },
    Annotate {
        name: String,
        version: String,
    },
    Takedown {
        name: String,
        version: String,
    },
    Feed {
        since: u64,
        limit: u32,
        wait: u32,
    },
    FeedStream {
        since: Option<u64>,
    },
    /// What to look for, and the semver requirement (`version=`) releases must meet.
    Search(SearchQuery, Option<String>),
    Stats,
    LogCheckpoint,
    LogKey,
    LogInclusion {
        seq: u64,
        size: u64,
    },
    LogConsistency {
        from: u64,
        to: u64,
    },
    /// `POST /v1/releases`: a release manifest, for a two-phase publish.
    CreateRelease,
    Unpublished {
        name: String,
        version: String,
    },
    UploadUnpublished {
        name: String,
        version: String,
    },
    AddContentSources {
        name: String,
        version: String,
    },
    /// `POST` to a release's path: publishes its unpublished release.
    PublishUnpublished {
        name: String,
        version: String,
    },
    Namespace {
        namespace: String,
    },
    NamespacePolicy {
        namespace: String,
    },
    GrantKey,
    RevokeKey,
    /// `GET /v1/tokens`: every token, without secrets.
    Tokens,
    /// `POST /v1/tokens`.
    CreateToken,
    /// `DELETE /v1/tokens/{id}`.
    RevokeToken {
        id: String,
    },
}

impl Route {
    /// Whether the route changes the registry: answered by `writes`, never
    /// by the read half of the front.
    pub fn changes(&self) -> bool {
        matches!(
            self,
            Route::Publish { .. }
                | Route::Yank { .. }
                | Route::Unyank { .. }
                | Route::Annotate { .. }
                | Route::Takedown { .. }
                | Route::CreateRelease
                | Route::UploadUnpublished { .. }
                | Route::AddContentSources { .. }
                | Route::PublishUnpublished { .. }
                | Route::NamespacePolicy { .. }
                | Route::GrantKey
                | Route::RevokeKey
                | Route::CreateToken
                | Route::RevokeToken { .. }
        )
    }
}

/// Where a request goes, its route parsed.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// The `/v1` JSON API.
    Api(Route),
    /// The OCI distribution API under `/v2`.
    Oci(OciRoute),
    /// `GET /v2/token`: the docker token flow's endpoint.
    OciToken,
    /// `GET /.well-known/wasm-pkg/registry.json`: tells `wkg` and
    /// `wasm-pkg-client` to reach this registry's packages over OCI.
    Discovery,
    /// Anything else: a page of the web view.
    Page,
}

/// A request no route takes, in the error format of the face it was for.
#[derive(Debug)]
pub enum Unrouted {
    Api(ApiError),
    Oci(OciError),
}

/// The path of the discovery document.
const DISCOVERY: &str = "/.well-known/wasm-pkg/registry.json";

/// The target of `method` on `path_and_query`: every request the front
/// answers is routed here.
pub fn target(method: &str, path_and_query: &str) -> Result<Target, Unrouted> {
    let path = path_and_query.split('?').next().unwrap_or(path_and_query);
    if path == DISCOVERY {
        allow(method, READ).map_err(Unrouted::Api)?;
        Ok(Target::Discovery)
    } else if path == "/v2/token" {
        allow(method, READ).map_err(|e| Unrouted::Oci(e.into()))?;
        Ok(Target::OciToken)
    } else if path == "/v2" || path.starts_with("/v2/") {
        oci::route(method, path_and_query)
            .map(Target::Oci)
            .map_err(Unrouted::Oci)
    } else if path == "/v1" || path.starts_with("/v1/") {
        route(method, path_and_query)
            .map(Target::Api)
            .map_err(Unrouted::Api)
    } else {
        // The web view answers GET and HEAD only.
        allow(method, READ).map_err(Unrouted::Api)?;
        Ok(Target::Page)
    }
}

/// The route for `method` (`HEAD` routes like `GET`) on `path_and_query`.
pub fn route(method: &str, path_and_query: &str) -> Result<Route, ApiError> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let segments = path
        .strip_prefix('/')
        .unwrap_or(path)
        .split('/')
        .map(|segment| percent_decode(segment, false))
        .collect::<Result<Vec<_>, _>>()?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let owned = str::to_string;
    match segments.as_slice() {
        ["v1", "packages"] => {
            allow(method, READ)?;
            Ok(Route::ListPackages {
                after: query_param(query, "after")?.filter(|after| !after.is_empty()),
                limit: limit(query_param(query, "limit")?)?,
            })
        }
        ["v1", "packages", name] => {
            allow(method, READ)?;
            Ok(Route::Package { name: owned(name) })
        }
        ["v1", "packages", name, "resolve"] => {
            allow(method, READ)?;
            let requirement = query_param(query, "req")?.unwrap_or_else(|| "*".to_string());
            Ok(Route::Resolve {
                name: owned(name),
                requirement,
            })
        }
        ["v1", "packages", name, "versions", version] => {
            allow(method, "GET, HEAD, PUT, POST")?;
            let (name, version) = (owned(name), owned(version));
            Ok(match method {
                "PUT" => Route::Publish { name, version },
                "POST" => Route::PublishUnpublished { name, version },
                _ => Route::Release { name, version },
            })
        }
        ["v1", "releases"] => {
            allow(method, "POST")?;
            Ok(Route::CreateRelease)
        }
        ["v1", "packages", name, "versions", version, "unpublished"] => {
            allow(method, READ)?;
            let (name, version) = (owned(name), owned(version));
            Ok(Route::Unpublished { name, version })
        }
        [
            "v1",
            "packages",
            name,
            "versions",
            version,
            "unpublished",
            "content",
        ] => {
            allow(method, "PUT, POST")?;
            let (name, version) = (owned(name), owned(version));
            Ok(Route::UploadUnpublished { name, version })
        }
        [
            "v1",
            "packages",
            name,
            "versions",
            version,
            "unpublished",
            "content-sources",
        ] => {
            allow(method, "POST")?;
            let (name, version) = (owned(name), owned(version));
            Ok(Route::AddContentSources { name, version })
        }
        ["v1", "namespaces", namespace] => {
            allow(method, READ)?;
            Ok(Route::Namespace {
                namespace: owned(namespace),
            })
        }
        ["v1", "namespaces", namespace, "policy"] => {
            allow(method, "PUT")?;
            Ok(Route::NamespacePolicy {
                namespace: owned(namespace),
            })
        }
        ["v1", "keys", "grant"] => {
            allow(method, "POST")?;
            Ok(Route::GrantKey)
        }
        ["v1", "keys", "revoke"] => {
            allow(method, "POST")?;
            Ok(Route::RevokeKey)
        }
        ["v1", "packages", name, "versions", version, "content"] => {
            allow(method, READ)?;
            let (name, version) = (owned(name), owned(version));
            Ok(Route::ReleaseContent { name, version })
        }
        ["v1", "packages", name, "versions", version, "yank"] => {
            allow(method, "POST")?;
            let (name, version) = (owned(name), owned(version));
            Ok(Route::Yank { name, version })
        }
        ["v1", "packages", name, "versions", version, "unyank"] => {
            allow(method, "POST")?;
            let (name, version) = (owned(name), owned(version));
            Ok(Route::Unyank { name, version })
        }
        ["v1", "packages", name, "versions", version, "annotations"] => {
            allow(method, "POST")?;
            let (name, version) = (owned(name), owned(version));
            Ok(Route::Annotate { name, version })
        }
        ["v1", "packages", name, "versions", version, "takedown"] => {
            allow(method, "POST")?;
            let (name, version) = (owned(name), owned(version));
            Ok(Route::Takedown { name, version })
        }
        ["v1", "feed"] => {
            allow(method, READ)?;
            let wait = number(query_param(query, "wait")?, "wait", 0)?;
            if wait > u64::from(MAX_WAIT) {
                return Err(ApiError::bad_request(format!(
                    "wait={wait} is too long; wait at most {MAX_WAIT} seconds and ask again"
                )));
            }
            Ok(Route::Feed {
                since: number(query_param(query, "since")?, "since", 0)?,
                limit: limit(query_param(query, "limit")?)?,
                wait: u32::try_from(wait).unwrap_or(MAX_WAIT),
            })
        }
        ["v1", "feed", "stream"] => {
            allow(method, READ)?;
            let since = query_param(query, "since")?
                .map(|since| number(Some(since), "since", 0))
                .transpose()?;
            Ok(Route::FeedStream { since })
        }
        ["v1", "search"] => {
            allow(method, READ)?;
            let (search, version) =
                query_string::search_query(query, DEFAULT_LIMIT).map_err(ApiError::bad_request)?;
            Ok(Route::Search(search, version))
        }
        ["v1", "stats"] => {
            allow(method, READ)?;
            Ok(Route::Stats)
        }
        ["v1", "log", "checkpoint"] => {
            allow(method, READ)?;
            Ok(Route::LogCheckpoint)
        }
        ["v1", "log", "key"] => {
            allow(method, READ)?;
            Ok(Route::LogKey)
        }
        ["v1", "log", "proof", "inclusion"] => {
            allow(method, READ)?;
            Ok(Route::LogInclusion {
                seq: required(query, "seq")?,
                size: required(query, "size")?,
            })
        }
        ["v1", "log", "proof", "consistency"] => {
            allow(method, READ)?;
            Ok(Route::LogConsistency {
                from: required(query, "from")?,
                to: required(query, "to")?,
            })
        }
        ["v1", "content", digest] => {
            allow(method, READ)?;
            Ok(Route::Content {
                digest: owned(digest),
            })
        }
        ["v1", "tokens"] => {
            allow(method, "GET, HEAD, POST")?;
            Ok(match method {
                "POST" => Route::CreateToken,
                _ => Route::Tokens,
            })
        }
        // An id is one segment: `%2F` inside it names no token.
        ["v1", "tokens", id] if !id.is_empty() && !id.contains('/') => {
            allow(method, "DELETE")?;
            Ok(Route::RevokeToken { id: owned(id) })
        }
        _ => Err(ApiError::not_found(format!(
            "there is no route for {method} {path}; the routes are: {ROUTES}"
        ))),
    }
}

/// `405` unless `method` is one of `allowed` (as the `Allow` header lists them).
fn allow(method: &str, allowed: &'static str) -> Result<(), ApiError> {
    if allowed.split(", ").any(|m| m == method) {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed(method, allowed))
    }
}

/// Where an unpublished release is shown.
pub fn unpublished_path(name: &str, version: &str) -> String {
    format!("{}/unpublished", release_path(name, version))
}

/// Where a release is: the `Location` of a publish.
pub fn release_path(name: &str, version: &str) -> String {
    format!("/v1/packages/{name}/versions/{version}")
}

/// Where a release's content is.
pub fn content_path(name: &str, version: &str) -> String {
    format!("{}/content", release_path(name, version))
}

/// `limit`, clamped to what a page may hold by the query handler.
fn limit(value: Option<String>) -> Result<u32, ApiError> {
    query_string::limit(value, DEFAULT_LIMIT).map_err(ApiError::bad_request)
}

/// The whole number `value` of query parameter `key`; `default` when absent.
pub fn number(value: Option<String>, key: &str, default: u64) -> Result<u64, ApiError> {
    match value {
        None => Ok(default),
        Some(value) => value.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "{key}=`{value}` is not a whole number; give a number such as {key}=0"
            ))
        }),
    }
}

/// The whole number in query parameter `key`, which must be there.
fn required(query: &str, key: &str) -> Result<u64, ApiError> {
    match query_param(query, key)? {
        Some(value) => number(Some(value), key, 0),
        None => Err(ApiError::bad_request(format!(
            "`{key}` is missing; give it as a whole number, e.g. ?{key}=1"
        ))),
    }
}

/// The first value of `key` in a form-encoded query string, decoded.
pub fn query_param(query: &str, key: &str) -> Result<Option<String>, ApiError> {
    query_string::query_param(query, key).map_err(ApiError::bad_request)
}

/// Decodes `%XX` escapes (and, in a query string, `+` as a space); the result
/// must be UTF-8.
pub fn percent_decode(text: &str, plus_is_space: bool) -> Result<String, ApiError> {
    query_string::percent_decode(text, plus_is_space).map_err(ApiError::bad_request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use depot_guest::types::ContentKind;

    fn ok(method: &str, path: &str) -> Route {
        route(method, path).unwrap()
    }

    fn status(method: &str, path: &str) -> u16 {
        route(method, path).unwrap_err().status
    }

    #[test]
    fn every_request_is_routed_by_one_table_to_its_face() {
        let target = |method: &str, path: &str| super::target(method, path).unwrap();
        assert_eq!(target("GET", "/v1/stats"), Target::Api(Route::Stats));
        assert_eq!(target("GET", "/v2/"), Target::Oci(OciRoute::Base));
        assert_eq!(target("GET", "/v2?x=1"), Target::Oci(OciRoute::Base));
        assert!(matches!(
            target("PUT", "/v2/example/greet/manifests/1.0.0"),
            Target::Oci(OciRoute::PutManifest { .. })
        ));
        assert_eq!(target("GET", "/v2/token?scope=x"), Target::OciToken);
        assert_eq!(
            target("HEAD", "/.well-known/wasm-pkg/registry.json"),
            Target::Discovery
        );
        assert_eq!(target("GET", "/packages/example/greet"), Target::Page);
        assert_eq!(target("GET", "/v1x"), Target::Page);
        // Each face refuses in its own format.
        match super::target("POST", "/v2/token") {
            Err(Unrouted::Oci(e)) => assert_eq!((e.status, e.allow), (405, Some("GET, HEAD"))),
            other => panic!("{other:?}"),
        }
        match super::target("DELETE", "/packages/example/greet") {
            Err(Unrouted::Api(e)) => assert_eq!((e.status, e.allow), (405, Some("GET, HEAD"))),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            super::target("GET", "/v2/a/b/c/manifests/1"),
            Err(Unrouted::Oci(e)) if e.code == "NAME_INVALID"
        ));
        assert!(matches!(
            super::target("GET", "/v1/nope"),
            Err(Unrouted::Api(e)) if e.status == 404
        ));
    }

    #[test]
    fn token_routes_are_in_the_one_table_and_change_the_registry_only_when_written() {
        assert_eq!(ok("GET", "/v1/tokens"), Route::Tokens);
        assert_eq!(ok("HEAD", "/v1/tokens"), Route::Tokens);
        assert_eq!(ok("POST", "/v1/tokens"), Route::CreateToken);
        assert_eq!(
            ok("DELETE", "/v1/tokens/abc"),
            Route::RevokeToken { id: "abc".into() }
        );
        assert!(!Route::Tokens.changes());
        assert!(Route::CreateToken.changes());
        assert!(Route::RevokeToken { id: "abc".into() }.changes());
        assert_eq!(status("DELETE", "/v1/tokens"), 405);
        assert_eq!(status("GET", "/v1/tokens/abc"), 405);
        assert_eq!(status("DELETE", "/v1/tokens/a%2Fb"), 404);
        assert_eq!(status("DELETE", "/v1/tokens/"), 404);
    }

    #[test]
    fn names_may_arrive_with_the_colon_percent_encoded() {
        let expected = Route::Release {
            name: "example:greet".into(),
            version: "1.2.0".into(),
        };
        assert_eq!(
            ok("GET", "/v1/packages/example%3Agreet/versions/1.2.0"),
            expected
        );
        assert_eq!(
            ok("HEAD", "/v1/packages/example:greet/versions/1.2.0"),
            expected
        );
    }

    #[test]
    fn each_path_accepts_its_methods_only() {
        let publish = ok("PUT", "/v1/packages/a:b/versions/1.0.0");
        assert!(matches!(publish, Route::Publish { .. }));
        assert!(matches!(
            ok("POST", "/v1/packages/a:b/versions/1.0.0/yank"),
            Route::Yank { .. }
        ));
        let err = route("DELETE", "/v1/packages/a:b/versions/1.0.0").unwrap_err();
        assert_eq!((err.status, err.allow), (405, Some("GET, HEAD, PUT, POST")));
        assert!(matches!(
            ok("POST", "/v1/packages/a:b/versions/1.0.0"),
            Route::PublishUnpublished { .. }
        ));
        assert!(matches!(
            ok("PUT", "/v1/packages/a:b/versions/1.0.0/unpublished/content"),
            Route::UploadUnpublished { .. }
        ));
        assert_eq!(status("GET", "/v1/releases"), 405);
        assert_eq!(status("POST", "/v1/namespaces/a/policy"), 405);
        assert_eq!(status("GET", "/v1/packages/a:b/versions/1.0.0/unyank"), 405);
        assert_eq!(status("PUT", "/v1/content/sha256:00"), 405);
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in [
            "/",
            "/v1",
            "/v2/packages",
            "/v1/packages/a:b/versions",
            "/v1/packages/a:b/x",
        ] {
            assert_eq!(status("GET", path), 404, "{path}");
        }
        assert_eq!(status("GET", "/v1/packages/a:b/versions/1.0.0/other"), 404);
    }

    #[test]
    fn query_strings_give_paging_and_requirements() {
        let list = ok("GET", "/v1/packages?after=a%3Ab&limit=5");
        let expected = Route::ListPackages {
            after: Some("a:b".into()),
            limit: 5,
        };
        assert_eq!(list, expected);
        let default = ok("GET", "/v1/packages");
        let expected = Route::ListPackages {
            after: None,
            limit: DEFAULT_LIMIT,
        };
        assert_eq!(default, expected);
        assert_eq!(status("GET", "/v1/packages?limit=many"), 400);
        let resolve = ok("GET", "/v1/packages/a:b/resolve?req=%3E%3D1%2C+%3C2");
        let expected = Route::Resolve {
            name: "a:b".into(),
            requirement: ">=1, <2".into(),
        };
        assert_eq!(resolve, expected);
        let any = ok("GET", "/v1/packages/a:b/resolve");
        assert!(matches!(any, Route::Resolve { requirement, .. } if requirement == "*"));
    }

    #[test]
    fn the_feed_takes_a_cursor_a_page_size_and_a_bounded_wait() {
        let feed = ok("GET", "/v1/feed?since=42&limit=7&wait=5");
        let expected = Route::Feed {
            since: 42,
            limit: 7,
            wait: 5,
        };
        assert_eq!(feed, expected);
        let default = ok("GET", "/v1/feed");
        let expected = Route::Feed {
            since: 0,
            limit: DEFAULT_LIMIT,
            wait: 0,
        };
        assert_eq!(default, expected);
        assert_eq!(status("GET", "/v1/feed?since=-1"), 400);
        assert_eq!(status("GET", "/v1/feed?wait=61"), 400);
        assert_eq!(status("POST", "/v1/feed"), 405);
        assert_eq!(
            ok("GET", "/v1/feed/stream?since=3"),
            Route::FeedStream { since: Some(3) }
        );
        assert_eq!(
            ok("GET", "/v1/feed/stream"),
            Route::FeedStream { since: None }
        );
        assert!(matches!(
            ok("POST", "/v1/packages/a:b/versions/1.0.0/annotations"),
            Route::Annotate { .. }
        ));
        assert_eq!(
            status("GET", "/v1/packages/a:b/versions/1.0.0/takedown"),
            405
        );
    }

    #[test]
    fn search_takes_text_filters_and_a_cursor() {
        let Route::Search(search, version) = ok(
            "GET",
            "/v1/search?q=greet&exports=wasi%3Ahttp%2Fincoming-handler&kind=component\
             &license=MIT&namespace=wasi&version=%5E1&include=yanked&after=1%2Fa%3Ab&limit=5",
        ) else {
            panic!("not a search");
        };
        assert_eq!(search.text.as_deref(), Some("greet"));
        assert_eq!(
            search.exports.as_deref(),
            Some("wasi:http/incoming-handler")
        );
        assert_eq!(search.kind, Some(ContentKind::Component));
        assert_eq!(search.namespace.as_deref(), Some("wasi"));
        assert_eq!(version.as_deref(), Some("^1"));
        assert!(search.include_yanked && !search.include_taken_down);
        assert_eq!((search.after.as_deref(), search.limit), (Some("1/a:b"), 5));
        let Route::Search(empty, _) = ok("GET", "/v1/search?q=&exports=") else {
            panic!("not a search");
        };
        assert_eq!((empty.text, empty.exports), (None, None));
        assert_eq!(status("GET", "/v1/search?kind=plugin"), 400);
        assert_eq!(status("GET", "/v1/search?include=everything"), 400);
        assert_eq!(status("PUT", "/v1/search"), 405);
    }

    #[test]
    fn malformed_percent_encoding_is_a_bad_request() {
        assert_eq!(percent_decode("a%3ab", false).unwrap(), "a:b");
        assert_eq!(percent_decode("1.0.0+build", false).unwrap(), "1.0.0+build");
        for bad in ["%", "%4", "%zz", "%+1", "%ff"] {
            assert!(percent_decode(bad, false).is_err(), "{bad}");
        }
        assert_eq!(status("GET", "/v1/packages/a%3"), 400);
    }
}
