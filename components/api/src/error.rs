//! What a failed request answers: a status, a stable code and a message that
//! says what to do, as `{"error": {"code", "message"}}`.

use depot_guest::types::Error;

/// The code of a store that could not be reached or failed (503, with
/// `Retry-After`): nothing was changed, and a retry may well succeed.
pub const STORAGE_UNAVAILABLE: &str = "storage-unavailable";

/// How long a client should wait before retrying after a storage failure
/// (`Retry-After`, seconds): an instance reconnects on its next request.
pub const RETRY_AFTER_SECONDS: &str = "1";

/// The `/v1` challenge of a 401.
pub const V1_CHALLENGE: &str = "Bearer realm=\"depot\"";

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    /// The WIT error case in kebab-case, or one of the API's own codes.
    pub code: &'static str,
    pub message: String,
    /// For 405: the methods the path accepts, as the `Allow` header lists them.
    pub allow: Option<&'static str>,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            allow: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "bad-request", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not-found", message)
    }

    pub fn method_not_allowed(method: &str, allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::new(
                405,
                "method-not-allowed",
                format!("this path does not accept {method}; it accepts {allow}"),
            )
        }
    }

    /// A route this build of the front does not serve: a write reaching its
    /// read half (the host sends only GET and HEAD there), or a read reaching
    /// the write routes. A bug in the caller, answered rather than trapped.
    pub fn not_served(route: &impl std::fmt::Debug) -> Self {
        Self::new(
            405,
            "method-not-allowed",
            format!(
                "this part of the registry's front does not serve {route:?}; send the request \
                 to the registry's own address"
            ),
        )
    }

    pub fn too_large(e: depot_protocol::ContentTooLarge) -> Self {
        Self::new(413, "too-large", e.to_string())
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(409, "conflict", message)
    }

    /// An unpublished release published before its content arrived.
    pub fn content_missing(message: impl Into<String>) -> Self {
        Self::new(409, "content-missing", message)
    }

    /// No content source could be fetched.
    pub fn content_unavailable(message: impl Into<String>) -> Self {
        Self::new(502, "content-unavailable", message)
    }

    /// A bug in the API itself, such as a response it cannot encode.
    pub fn handler_failed(message: impl Into<String>) -> Self {
        Self::new(500, "handler-failed", message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::InvalidName(m) => Self::new(400, "invalid-name", m),
            Error::InvalidVersion(m) => Self::new(400, "invalid-version", m),
            Error::InvalidRequirement(m) => Self::new(400, "invalid-requirement", m),
            Error::InvalidDigest(m) => Self::new(400, "invalid-digest", m),
            Error::BadRequest(m) => Self::new(400, "bad-request", m),
            Error::NotFound(m) => Self::new(404, "not-found", m),
            Error::VersionExists(m) => Self::new(409, "version-exists", m),
            Error::TooLarge(m) => Self::new(413, "too-large", m),
            Error::InvalidContent(m) => Self::new(422, "invalid-content", m),
            Error::PolicyRejected(m) => Self::new(422, "policy-rejected", m),
            Error::TakenDown(m) => Self::new(451, "taken-down", m),
            Error::HeadMoved(head) => Self::new(
                409,
                "conflict",
                format!(
                    "another change to the package landed first (log entry {head}); nothing \
                     was changed, retry"
                ),
            ),
            Error::Storage(m) => Self::new(503, STORAGE_UNAVAILABLE, m),
            Error::Unauthorized(m) => Self::new(401, "unauthorized", m),
            Error::Forbidden(m) => Self::new(403, "forbidden", m),
            Error::InvalidSignature(m) => Self::new(400, "invalid-signature", m),
            Error::SignatureRequired(m) => Self::new(403, "signature-required", m),
            Error::Expired(m) => Self::new(410, "expired", m),
        }
    }
}
