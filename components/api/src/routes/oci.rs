//! Which `/v2` route a request is for: the OCI distribution spec's paths,
//! `/v2/<name>/manifests/<reference>`, `/v2/<name>/blobs/<digest>`,
//! `/v2/<name>/blobs/uploads/[<id>]`, `/v2/<name>/tags/list` and
//! `/v2/<name>/referrers/<digest>`, where `<name>` is a package's repository
//! `namespace/name`.

use crate::error::ApiError;
use crate::error::oci::OciError;
use depot_guest::query_string;

/// The routes, for the 404 message.
const ROUTES: &str = "GET /v2/, GET, HEAD, PUT and DELETE /v2/{namespace}/{name}/manifests/{tag-or-digest}, \
                      GET, HEAD and DELETE /v2/{namespace}/{name}/blobs/{digest}, \
                      POST /v2/{namespace}/{name}/blobs/uploads/, \
                      GET, PATCH, PUT and DELETE /v2/{namespace}/{name}/blobs/uploads/{id}, \
                      GET /v2/{namespace}/{name}/tags/list?n={n}&last={tag}, \
                      GET /v2/{namespace}/{name}/referrers/{digest}";

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
    PutManifest {
        repository: Repository,
        reference: String,
    },
    DeleteManifest {
        repository: Repository,
        reference: String,
    },
    DeleteBlob {
        repository: Repository,
        digest: String,
    },
    /// `POST blobs/uploads/`: a monolithic upload (`digest`), a mount from
    /// another repository (`mount`, `from`), or the start of a chunked one.
    StartUpload {
        repository: Repository,
        digest: Option<String>,
        mount: Option<String>,
        from: Option<String>,
    },
    Upload {
        repository: Repository,
        id: String,
        step: UploadStep,
    },
    Referrers {
        repository: Repository,
        digest: String,
        artifact_type: Option<String>,
    },
}

/// What a request does to an upload in progress.
#[derive(Debug, PartialEq, Eq)]
pub enum UploadStep {
    /// `GET`: how much has arrived.
    Status,
    /// `PATCH`: append the body.
    Append,
    /// `PUT ?digest=`: append the body, if any, and finish as that digest.
    Complete { digest: Option<String> },
    /// `DELETE`.
    Cancel,
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
        .map(percent_decode)
        .collect::<Result<Vec<_>, _>>()?;
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let param = |key: &str| -> Result<Option<String>, OciError> {
        Ok(query_param(query, key)?.filter(|value| !value.is_empty()))
    };
    match segments.as_slice() {
        [repository @ .., "blobs", "uploads"] | [repository @ .., "blobs", "uploads", ""]
            if !repository.is_empty() =>
        {
            allow(method, "POST")?;
            Ok(Route::StartUpload {
                repository: self::repository(repository)?,
                digest: param("digest")?,
                mount: param("mount")?,
                from: param("from")?,
            })
        }
        [repository @ .., "blobs", "uploads", id] if !repository.is_empty() => {
            allow(method, "GET, PATCH, PUT, DELETE")?;
            let step = match method {
                "GET" => UploadStep::Status,
                "PATCH" => UploadStep::Append,
                "PUT" => UploadStep::Complete {
                    digest: param("digest")?,
                },
                _ => UploadStep::Cancel,
            };
            Ok(Route::Upload {
                repository: self::repository(repository)?,
                id: id.to_string(),
                step,
            })
        }
        [repository @ .., "manifests", reference] if !repository.is_empty() => {
            allow(method, "GET, HEAD, PUT, DELETE")?;
            let (repository, reference) = (self::repository(repository)?, reference.to_string());
            Ok(match method {
                "PUT" => Route::PutManifest {
                    repository,
                    reference,
                },
                "DELETE" => Route::DeleteManifest {
                    repository,
                    reference,
                },
                _ => Route::Manifest {
                    repository,
                    reference,
                },
            })
        }
        [repository @ .., "referrers", digest] if !repository.is_empty() => {
            allow(method, READ)?;
            Ok(Route::Referrers {
                repository: self::repository(repository)?,
                digest: digest.to_string(),
                artifact_type: param("artifactType")?,
            })
        }
        [repository @ .., "blobs", digest] if !repository.is_empty() => {
            allow(method, "GET, HEAD, DELETE")?;
            let (repository, digest) = (self::repository(repository)?, digest.to_string());
            Ok(match method {
                "DELETE" => Route::DeleteBlob { repository, digest },
                _ => Route::Blob { repository, digest },
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

/// The repository `namespace/name` a query parameter names (a mount's
/// `from`); none when it is not one.
pub fn repository_from_path(path: &str) -> Option<Repository> {
    let segments: Vec<&str> = path.split('/').collect();
    repository(&segments).ok()
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

/// The first value of `key` in the query string, decoded.
fn query_param(query: &str, key: &str) -> Result<Option<String>, OciError> {
    query_string::query_param(query, key).map_err(|e| ApiError::bad_request(e).into())
}

/// A path segment, its `%XX` escapes decoded.
fn percent_decode(segment: &str) -> Result<String, OciError> {
    query_string::percent_decode(segment, false).map_err(|e| ApiError::bad_request(e).into())
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
    fn uploads_go_by_method() {
        assert_eq!(
            route("POST", "/v2/a/b/blobs/uploads/?digest=sha256%3Aab").unwrap(),
            Route::StartUpload {
                repository: repo("a/b"),
                digest: Some("sha256:ab".into()),
                mount: None,
                from: None
            }
        );
        assert!(matches!(
            route("POST", "/v2/a/b/blobs/uploads?mount=sha256:ab&from=c/d").unwrap(),
            Route::StartUpload {
                mount: Some(_),
                from: Some(_),
                ..
            }
        ));
        let step = |method: &str, path: &str| match route(method, path).unwrap() {
            Route::Upload { step, id, .. } => (id, step),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            step("PATCH", "/v2/a/b/blobs/uploads/u1").1,
            UploadStep::Append
        );
        assert_eq!(
            step("GET", "/v2/a/b/blobs/uploads/u1").1,
            UploadStep::Status
        );
        assert_eq!(
            step("DELETE", "/v2/a/b/blobs/uploads/u1").1,
            UploadStep::Cancel
        );
        assert_eq!(
            step("PUT", "/v2/a/b/blobs/uploads/u1?digest=sha256:ab"),
            (
                "u1".into(),
                UploadStep::Complete {
                    digest: Some("sha256:ab".into())
                }
            )
        );
        assert!(matches!(
            route("PUT", "/v2/a/b/manifests/1.0.0").unwrap(),
            Route::PutManifest { .. }
        ));
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
        assert_eq!(code("PUT", "/v2/a/b/blobs/sha256:ab"), (405, "UNSUPPORTED"));
    }
}
