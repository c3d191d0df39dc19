//! Which `/v2` route a request is for: the OCI distribution spec's paths,
//! `/v2/<name>/manifests/<reference>`, `/v2/<name>/blobs/<digest>` and
//! `/v2/<name>/tags/list`, where `<name>` is a package's repository
//! `namespace/name`.

use super::error::OciError;
use crate::routes::{percent_decode, query_param};

/// The routes, for the 404 message.
const ROUTES: &str = "GET /v2/, GET and HEAD /v2/{namespace}/{name}/manifests/{tag-or-digest}, \
                      GET and HEAD /v2/{namespace}/{name}/blobs/{digest}, \
                      GET /v2/{namespace}/{name}/tags/list?n={n}&last={tag}";

const READ: &str = "GET, HEAD";

/// A repository: the package `namespace:name` as `namespace/name`.
#[derive(Debug, PartialEq, Eq)]
pub struct Repository {
    /// `namespace/name`, as the client wrote it.
    pub path: String,
    /// `namespace:name`, the package (checked by the handlers that use it).
    pub package: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`: the client checks that the registry speaks the protocol.
    Base,
    Manifest {
        repository: Repository,
        reference: String,
    },
    Blob {
        repository: Repository,
        digest: String,
    },
    Tags {
        repository: Repository,
        n: Option<usize>,
        last: Option<String>,
    },
}

/// The route for `method` on `path_and_query`, which starts with `/v2`.
pub fn route(method: &str, path_and_query: &str) -> Result<Route, OciError> {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let rest = path.strip_prefix("/v2").unwrap_or(path);
    if rest.is_empty() || rest == "/" {
        allow(method, READ)?;
        return Ok(Route::Base);
    }
    let segments = rest
        .trim_start_matches('/')
        .split('/')
        .map(|segment| percent_decode(segment, false))
        .collect::<Result<Vec<_>, _>>()?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        [repository @ .., "manifests", reference] if !repository.is_empty() => {
            allow(method, READ)?;
            Ok(Route::Manifest {
                repository: self::repository(repository)?,
                reference: reference.to_string(),
            })
        }
        [repository @ .., "blobs", digest] if !repository.is_empty() => {
            allow(method, READ)?;
            Ok(Route::Blob {
                repository: self::repository(repository)?,
                digest: digest.to_string(),
            })
        }
        [repository @ .., "tags", "list"] if !repository.is_empty() => {
            allow(method, READ)?;
            let n = query_param(query, "n")?
                .map(|n| {
                    n.parse().map_err(|_| {
                        OciError::new(
                            400,
                            "PAGINATION_NUMBER_INVALID",
                            format!("n `{n}` is not a whole number; give how many tags to list"),
                        )
                    })
                })
                .transpose()?;
            Ok(Route::Tags {
                repository: self::repository(repository)?,
                n,
                last: query_param(query, "last")?.filter(|last| !last.is_empty()),
            })
        }
        _ => Err(OciError::new(
            404,
            "UNSUPPORTED",
            format!("there is no route for {method} {path}; the routes are: {ROUTES}"),
        )),
    }
}

/// A repository path must be `namespace/name`: Depot's repositories are its
/// packages.
fn repository(segments: &[&str]) -> Result<Repository, OciError> {
    let path = segments.join("/");
    match segments {
        [namespace, name] => Ok(Repository {
            package: format!("{namespace}:{name}"),
            path,
        }),
        _ => Err(OciError::new(
            400,
            "NAME_INVALID",
            format!(
                "repository `{path}` is not `namespace/name`; each repository of this registry \
                 is a package `namespace:name`, written `namespace/name` (for example \
                 `example/greet`)"
            ),
        )
        .with_detail(serde_json::json!({ "name": path }))),
    }
}

fn allow(method: &str, allowed: &'static str) -> Result<(), OciError> {
    if allowed.split(", ").any(|m| m == method) {
        Ok(())
    } else {
        Err(OciError {
            allow: Some(allowed),
            ..OciError::new(
                405,
                "UNSUPPORTED",
                format!("this path does not accept {method}; it accepts {allowed}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(path: &str) -> Repository {
        Repository {
            path: path.into(),
            package: path.replace('/', ":"),
        }
    }

    #[test]
    fn paths_name_a_repository_and_what_in_it() {
        assert_eq!(route("GET", "/v2/").unwrap(), Route::Base);
        assert_eq!(route("GET", "/v2").unwrap(), Route::Base);
        assert_eq!(
            route("HEAD", "/v2/example/greet/manifests/1.0.0").unwrap(),
            Route::Manifest {
                repository: repo("example/greet"),
                reference: "1.0.0".into()
            }
        );
        assert_eq!(
            route("GET", "/v2/example/greet/blobs/sha256:ab").unwrap(),
            Route::Blob {
                repository: repo("example/greet"),
                digest: "sha256:ab".into()
            }
        );
        assert_eq!(
            route("GET", "/v2/example/greet/tags/list?n=2&last=1.0.0").unwrap(),
            Route::Tags {
                repository: repo("example/greet"),
                n: Some(2),
                last: Some("1.0.0".into())
            }
        );
    }

    #[test]
    fn bad_paths_get_the_spec_codes() {
        let code = |method: &str, path: &str| {
            let e = route(method, path).unwrap_err();
            (e.status, e.code)
        };
        assert_eq!(
            code("GET", "/v2/a/b/c/manifests/1.0.0"),
            (400, "NAME_INVALID")
        );
        assert_eq!(code("GET", "/v2/a/b/other"), (404, "UNSUPPORTED"));
        assert_eq!(code("GET", "/v2/manifests/1.0.0"), (404, "UNSUPPORTED"));
        assert_eq!(
            code("GET", "/v2/a/b/tags/list?n=x"),
            (400, "PAGINATION_NUMBER_INVALID")
        );
        assert_eq!(
            code("POST", "/v2/a/b/manifests/1.0.0"),
            (405, "UNSUPPORTED")
        );
    }
}
