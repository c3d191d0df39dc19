//! Which route a request is for: pure string work on the method, the
//! percent-encoded path and the query string. [`target`] is the one table
//! every request goes through: the `/v1` routes here, the OCI routes under
//! `/v2` ([`oci`]), the OCI token endpoint, the `wkg`
//! discovery document, and the web view's pages.

use self::oci::Route as OciRoute;
use crate::error::ApiError;
use crate::error::oci::OciError;
use depot_guest::types::{ResolvePolicy, SearchQuery};

pub mod oci;

use depot_guest::query_string;

/// Every `/v1` route: the methods it takes (as `Allow` lists them; `HEAD`
/// wherever `GET` is) and its path, `{…}` standing for one segment. [`route`]
/// answers exactly these, and `docs/openapi.yaml` describes exactly these
/// (a test holds the three together).
pub const ROUTES: &[(&str, &str)] = &[
    (READ, "/v1/openapi.json"),
    (READ, "/v1/packages"),
    (READ, "/v1/packages/{name}"),
    (READ, "/v1/packages/{name}/resolve"),
    (
        "GET, HEAD, PUT, POST",
        "/v1/packages/{name}/versions/{version}",
    ),
    (READ, "/v1/packages/{name}/versions/{version}/content"),
    ("POST", "/v1/packages/{name}/versions/{version}/yank"),
    ("POST", "/v1/packages/{name}/versions/{version}/unyank"),
    ("POST", "/v1/packages/{name}/versions/{version}/annotations"),
    ("POST", "/v1/packages/{name}/versions/{version}/takedown"),
    (READ, "/v1/packages/{name}/versions/{version}/unpublished"),
    (
        "PUT, POST",
        "/v1/packages/{name}/versions/{version}/unpublished/content",
    ),
    (
        "POST",
        "/v1/packages/{name}/versions/{version}/unpublished/content-sources",
    ),
    ("POST", "/v1/releases"),
    (READ, "/v1/content/{digest}"),
    (READ, "/v1/namespaces/{namespace}"),
    ("PUT", "/v1/namespaces/{namespace}/policy"),
    ("POST", "/v1/keys/grant"),
    ("POST", "/v1/keys/revoke"),
    (READ, "/v1/search"),
    (READ, "/v1/stats"),
    (READ, "/v1/log/checkpoint"),
    (READ, "/v1/log/key"),
    (READ, "/v1/log/proof/inclusion"),
    (READ, "/v1/log/proof/consistency"),
    (READ, "/v1/feed"),
    (READ, "/v1/feed/stream"),
    ("GET, HEAD, POST", "/v1/tokens"),
    ("DELETE", "/v1/tokens/{id}"),
];

/// Where the description of every route is.
pub const OPENAPI: &str = "/v1/openapi.json";

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
    /// `GET /v1/openapi.json`: the description of every route.
    OpenApi,
    ListPackages {
        after: Option<String>,
        limit: u32,
    },
    /// A package's releases; with `at`, as right after that log entry.
    Package {
        name: String,
        at: Option<u64>,
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
    /// With `at`, resolution as right after that log entry, with an
    /// inclusion proof.
    Resolve {
        name: String,
        requirement: String,
        at: Option<u64>,
        /// Which releases may be chosen (`signed-by`, `annotated`,
        /// `min-age`, `exclude-advisories`).
        policy: ResolvePolicy,
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
    /// Without a size, in the tree the newest checkpoint names.
    LogInclusion {
        seq: u64,
        size: Option<u64>,
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

/// The route for `method` (`HEAD` routes like `GET`) on `path_and_query`:
/// the entry of [`ROUTES`] whose path matches, its methods checked, its
/// segments and query parameters read.
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
    let not_found = || {
        let routes: Vec<String> = ROUTES
            .iter()
            .map(|(methods, path)| format!("{methods} {path}"))
            .collect();
        ApiError::not_found(format!(
            "there is no route for {method} {path}; the routes are: {} (GET {OPENAPI} \
             describes each)",
            routes.join(", ")
        ))
    };
    let (methods, template, params) = ROUTES
        .iter()
        .find_map(|(methods, template)| Some((*methods, *template, matching(template, &segments)?)))
        .ok_or_else(not_found)?;
    allow(method, methods)?;
    let param = |i: usize| params[i].to_string();
    // A route about one release: its name and version are the first two segments given.
    macro_rules! release {
        ($variant:ident) => {
            Route::$variant {
                name: param(0),
                version: param(1),
            }
        };
    }
    let route = match (template, method) {
        ("/v1/openapi.json", _) => Route::OpenApi,
        ("/v1/packages", _) => Route::ListPackages {
            after: query_param(query, "after")?.filter(|after| !after.is_empty()),
            limit: limit(query_param(query, "limit")?)?,
        },
        ("/v1/packages/{name}", _) => Route::Package {
            name: param(0),
            at: at(query)?,
        },
        ("/v1/packages/{name}/resolve", _) => Route::Resolve {
            name: param(0),
            requirement: query_param(query, "req")?.unwrap_or_else(|| "*".to_string()),
            at: at(query)?,
            policy: query_string::resolve_policy(query).map_err(ApiError::bad_request)?,
        },
        ("/v1/packages/{name}/versions/{version}", "PUT") => release!(Publish),
        ("/v1/packages/{name}/versions/{version}", "POST") => release!(PublishUnpublished),
        ("/v1/packages/{name}/versions/{version}", _) => release!(Release),
        ("/v1/packages/{name}/versions/{version}/content", _) => release!(ReleaseContent),
        ("/v1/packages/{name}/versions/{version}/yank", _) => release!(Yank),
        ("/v1/packages/{name}/versions/{version}/unyank", _) => release!(Unyank),
        ("/v1/packages/{name}/versions/{version}/annotations", _) => release!(Annotate),
        ("/v1/packages/{name}/versions/{version}/takedown", _) => release!(Takedown),
        ("/v1/packages/{name}/versions/{version}/unpublished", _) => release!(Unpublished),
        ("/v1/packages/{name}/versions/{version}/unpublished/content", _) => {
            release!(UploadUnpublished)
        }
        ("/v1/packages/{name}/versions/{version}/unpublished/content-sources", _) => {
            release!(AddContentSources)
        }
        ("/v1/releases", _) => Route::CreateRelease,
        ("/v1/content/{digest}", _) => Route::Content { digest: param(0) },
        ("/v1/namespaces/{namespace}", _) => Route::Namespace {
            namespace: param(0),
        },
        ("/v1/namespaces/{namespace}/policy", _) => Route::NamespacePolicy {
            namespace: param(0),
        },
        ("/v1/keys/grant", _) => Route::GrantKey,
        ("/v1/keys/revoke", _) => Route::RevokeKey,
        ("/v1/search", _) => {
            let (search, version) =
                query_string::search_query(query, DEFAULT_LIMIT).map_err(ApiError::bad_request)?;
            Route::Search(search, version)
        }
        ("/v1/stats", _) => Route::Stats,
        ("/v1/log/checkpoint", _) => Route::LogCheckpoint,
        ("/v1/log/key", _) => Route::LogKey,
        ("/v1/log/proof/inclusion", _) => Route::LogInclusion {
            seq: required(query, "seq")?,
            size: query_param(query, "size")?
                .map(|size| number(Some(size), "size", 0))
                .transpose()?,
        },
        ("/v1/log/proof/consistency", _) => Route::LogConsistency {
            from: required(query, "from")?,
            to: required(query, "to")?,
        },
        ("/v1/feed", _) => {
            let wait = number(query_param(query, "wait")?, "wait", 0)?;
            if wait > u64::from(MAX_WAIT) {
                return Err(ApiError::bad_request(format!(
                    "wait={wait} is too long; wait at most {MAX_WAIT} seconds and ask again"
                )));
            }
            Route::Feed {
                since: number(query_param(query, "since")?, "since", 0)?,
                limit: limit(query_param(query, "limit")?)?,
                wait: u32::try_from(wait).unwrap_or(MAX_WAIT),
            }
        }
        ("/v1/feed/stream", _) => Route::FeedStream {
            since: query_param(query, "since")?
                .map(|since| number(Some(since), "since", 0))
                .transpose()?,
        },
        ("/v1/tokens", "POST") => Route::CreateToken,
        ("/v1/tokens", _) => Route::Tokens,
        ("/v1/tokens/{id}", _) => Route::RevokeToken { id: param(0) },
        // Every entry of the table has its arm (a test asks each one).
        _ => return Err(not_found()),
    };
    Ok(route)
}

/// The segments `template`'s `{…}` stand for in `segments`, when it matches:
/// literal segments equal, each `{…}` one segment that is not empty (nor a
/// `/` percent-encoded inside one).
fn matching<'a>(template: &str, segments: &'a [String]) -> Option<Vec<&'a str>> {
    let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, segment) in parts.iter().zip(segments) {
        if part.starts_with('{') {
            if segment.is_empty() || segment.contains('/') {
                return None;
            }
            params.push(segment.as_str());
        } else if part != segment {
            return None;
        }
    }
    Some(params)
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

/// The log position `at=` names, if any.
fn at(query: &str) -> Result<Option<u64>, ApiError> {
    query_param(query, "at")?
        .map(|at| number(Some(at), "at", 0))
        .transpose()
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

    /// A path of `template` with a sample value for each `{…}`, and the query
    /// parameters the route needs.
    fn sample(template: &str) -> String {
        let path = template
            .replace("{name}", "example%3Agreet")
            .replace("{version}", "1.0.0")
            .replace("{digest}", "sha256:00")
            .replace("{namespace}", "example")
            .replace("{id}", "abc");
        match template {
            "/v1/log/proof/inclusion" => format!("{path}?seq=1&size=1"),
            "/v1/log/proof/consistency" => format!("{path}?from=1&to=1"),
            _ => path,
        }
    }

    #[test]
    fn every_route_in_the_table_is_served_with_its_methods_only() {
        for (methods, template) in ROUTES {
            let path = sample(template);
            for method in ["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"] {
                if methods.split(", ").any(|m| m == method) {
                    assert!(
                        route(method, &path).is_ok(),
                        "{method} {template}: {:?}",
                        route(method, &path)
                    );
                } else {
                    let e = route(method, &path).unwrap_err();
                    assert_eq!(
                        (e.status, e.allow),
                        (405, Some(*methods)),
                        "{method} {path}"
                    );
                }
            }
            // `HEAD` goes wherever `GET` does.
            assert_eq!(
                methods.contains("GET"),
                methods.contains("HEAD"),
                "{template}"
            );
        }
    }

    #[test]
    fn the_openapi_description_covers_every_route_and_no_other() {
        let description: serde_json::Value =
            serde_json::from_slice(crate::handlers::OPENAPI_JSON).expect("build.rs writes JSON");
        assert_eq!(description["openapi"], "3.1.0");
        let mut described = Vec::new();
        let paths = description["paths"].as_object().expect("paths");
        for (path, item) in paths {
            let item = item.as_object().expect("a path item");
            let shared = item.get("parameters");
            for (method, operation) in item {
                if method == "parameters" {
                    continue;
                }
                let method = method.to_uppercase();
                described.push(format!("{method} {path}"));
                // Each `{…}` of the path is a documented path parameter.
                for placeholder in path.split('/').filter(|s| s.starts_with('{')) {
                    let param = placeholder.trim_matches(|c| c == '{' || c == '}');
                    let declared = [shared, operation.get("parameters")]
                        .into_iter()
                        .flatten()
                        .flat_map(|list| list.as_array().into_iter().flatten())
                        .any(|p| {
                            p["name"] == param
                                || p["$ref"].as_str().is_some_and(|r| {
                                    let component = r.rsplit('/').next().unwrap_or("");
                                    description["components"]["parameters"][component]["name"]
                                        == param
                                })
                        });
                    assert!(declared, "{method} {path}: `{param}` is not described");
                }
                assert!(
                    operation["responses"]
                        .as_object()
                        .is_some_and(|r| !r.is_empty()),
                    "{method} {path} has no responses"
                );
            }
        }
        let mut served: Vec<String> = ROUTES
            .iter()
            .flat_map(|(methods, path)| {
                methods
                    .split(", ")
                    .filter(|m| *m != "HEAD")
                    .map(move |m| format!("{m} {path}"))
            })
            .collect();
        described.sort();
        served.sort();
        assert_eq!(described, served);
    }

    #[test]
    fn the_description_is_served_to_anyone() {
        assert_eq!(ok("GET", OPENAPI), Route::OpenApi);
        assert!(!Route::OpenApi.changes());
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
            "/v1/packages/",
            "/v1/packages//versions/1.0.0",
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
        assert_eq!(status("GET", "/v1/packages?limit=0"), 400);
        assert_eq!(status("GET", "/v1/packages?limit=1001"), 400);
        assert!(matches!(
            ok("GET", "/v1/packages?limit=1000"),
            Route::ListPackages { limit: 1000, .. }
        ));
        let resolve = ok("GET", "/v1/packages/a:b/resolve?req=%3E%3D1%2C+%3C2");
        let expected = Route::Resolve {
            name: "a:b".into(),
            requirement: ">=1, <2".into(),
            at: None,
            policy: query_string::resolve_policy("").unwrap(),
        };
        assert_eq!(resolve, expected);
        let any = ok("GET", "/v1/packages/a:b/resolve");
        assert!(matches!(any, Route::Resolve { requirement, .. } if requirement == "*"));
        assert!(matches!(
            ok("GET", "/v1/packages/a:b/resolve?req=1&at=42"),
            Route::Resolve { at: Some(42), .. }
        ));
        assert!(matches!(
            ok("GET", "/v1/packages/a:b?at=7"),
            Route::Package { at: Some(7), .. }
        ));
        assert_eq!(status("GET", "/v1/packages/a:b/resolve?at=latest"), 400);
        assert_eq!(
            ok("GET", "/v1/log/proof/inclusion?seq=3"),
            Route::LogInclusion { seq: 3, size: None }
        );
        assert_eq!(status("GET", "/v1/log/proof/inclusion?size=3"), 400);
        let Route::Resolve { policy, .. } = ok(
            "GET",
            "/v1/packages/a:b/resolve?signed-by=ed25519:AA%3D,ed25519:BB%3D\
             &annotated=review,audit%405e1f0c9a2b7d&min-age=72h&exclude-advisories=true",
        ) else {
            panic!("not a resolution");
        };
        assert_eq!(policy.signed_by, ["ed25519:AA=", "ed25519:BB="]);
        assert_eq!(policy.annotated, ["review", "audit@5e1f0c9a2b7d"]);
        for bad in ["review@", "@5e1f0c9a2b7d", "review@a@b"] {
            let query = format!("/v1/packages/a:b/resolve?annotated={bad}");
            assert_eq!(status("GET", &query), 400, "{bad}");
        }
        assert_eq!(policy.min_age_ms, Some(72 * 3_600_000));
        assert!(policy.exclude_advisories);
        assert_eq!(status("GET", "/v1/packages/a:b/resolve?min-age=soon"), 400);
        assert_eq!(
            status("GET", "/v1/packages/a:b/resolve?exclude-advisories=maybe"),
            400
        );
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
