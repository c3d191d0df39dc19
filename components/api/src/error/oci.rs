//! What a failed OCI request answers: the distribution spec's error body,
//! `{"errors": [{"code", "message", "detail"}]}`, with the spec's codes.

use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;
use depot_guest::types::Error;

/// A failed `/v2` request.
#[derive(Debug)]
pub struct OciError {
    pub status: u16,
    /// One of the spec's codes (`NAME_UNKNOWN`, `BLOB_UNKNOWN`, ...).
    pub code: &'static str,
    pub message: String,
    /// What the request named, for the client's logs.
    pub detail: Value,
    /// For 405: the methods the path accepts.
    pub allow: Option<&'static str>,
    /// For 416 on a blob: its size, for `Content-Range: bytes */size`.
    pub size: Option<u64>,
    /// For 416 on an upload: its `Location` and how many bytes it has, for
    /// `Range: 0-<last>`.
    pub range: Option<(String, u64)>,
    /// For 401: the `WWW-Authenticate` challenge.
    pub challenge: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ErrorsJson<'a> {
    errors: [ErrorJson<'a>; 1],
}

#[derive(Debug, Serialize)]
struct ErrorJson<'a> {
    code: &'a str,
    message: &'a str,
    detail: &'a Value,
}

impl OciError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            detail: Value::Null,
            allow: None,
            size: None,
            range: None,
            challenge: None,
        }
    }

    pub fn with_detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    pub fn name_unknown(repository: &str) -> Self {
        Self::new(
            404,
            "NAME_UNKNOWN",
            format!(
                "repository `{repository}` is not known to this registry; a repository is a \
                 package `namespace:name` written `namespace/name`: publish the package first"
            ),
        )
        .with_detail(serde_json::json!({ "name": repository }))
    }

    pub fn manifest_unknown(repository: &str, reference: &str, why: &str) -> Self {
        Self::new(
            404,
            "MANIFEST_UNKNOWN",
            format!("repository `{repository}` has no manifest `{reference}`; {why}"),
        )
        .with_detail(serde_json::json!({ "name": repository, "reference": reference }))
    }

    pub fn blob_unknown(repository: &str, digest: &str) -> Self {
        Self::new(
            404,
            "BLOB_UNKNOWN",
            format!(
                "repository `{repository}` has no blob `{digest}`; a repository serves the \
                 content, config and manifest blobs of its own releases only"
            ),
        )
        .with_detail(serde_json::json!({ "name": repository, "digest": digest }))
    }

    pub fn digest_invalid(digest: &str) -> Self {
        Self::new(
            400,
            "DIGEST_INVALID",
            format!(
                "`{digest}` is not a digest this registry understands; give \
                 `sha256:<64 lowercase hex digits>` or `sha512:<128 lowercase hex digits>`"
            ),
        )
        .with_detail(serde_json::json!({ "digest": digest }))
    }

    pub fn range_not_satisfiable(range: &str, size: u64) -> Self {
        Self {
            size: Some(size),
            ..Self::new(
                416,
                "RANGE_INVALID",
                format!(
                    "range `{range}` does not fit a blob of {size} bytes; ask for \
                     `bytes=start-end` with start <= end < {size}"
                ),
            )
        }
    }

    pub fn body(&self) -> ErrorsJson<'_> {
        ErrorsJson {
            errors: [ErrorJson {
                code: self.code,
                message: &self.message,
                detail: &self.detail,
            }],
        }
    }
}

/// The handlers' errors in the spec's words. A `not-found` here is the
/// repository's (its name is unknown): the OCI handlers look up releases
/// themselves and answer `MANIFEST_UNKNOWN` or `BLOB_UNKNOWN` for what a known
/// repository lacks.
impl From<Error> for OciError {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidName(m) => Self::new(400, "NAME_INVALID", m),
            Error::InvalidDigest(m) => Self::new(400, "DIGEST_INVALID", m),
            Error::TooLarge(m) => Self::new(413, "SIZE_INVALID", m),
            Error::InvalidVersion(m) | Error::InvalidContent(m) => {
                Self::new(400, "MANIFEST_INVALID", m)
            }
            Error::PolicyRejected(m) => Self::new(403, "DENIED", m),
            Error::TakenDown(m) => Self::new(451, "DENIED", m),
            Error::NotFound(m) => Self::new(404, "NAME_UNKNOWN", m),
            other => Self::from(ApiError::from(other)),
        }
    }
}

/// Failures shared with `/v1` (reading the body, storage, limits) keep their
/// status; their code becomes the spec's nearest one.
impl From<ApiError> for OciError {
    fn from(e: ApiError) -> Self {
        let code = match e.status {
            400 => "UNSUPPORTED",
            401 => "UNAUTHORIZED",
            403 => "DENIED",
            404 => "NAME_UNKNOWN",
            405 => "UNSUPPORTED",
            409 | 451 => "DENIED",
            413 => "SIZE_INVALID",
            503 => "UNAVAILABLE",
            _ => "UNKNOWN",
        };
        Self {
            allow: e.allow,
            ..Self::new(e.status, code, e.message)
        }
    }
}
