//! What a failed request answers: a status, a stable code and a message that
//! says what to do, as `{"error": {"code", "message"}}` under `/v1` and on
//! the web view, and in the OCI spec's words under `/v2` ([`oci`]).

use depot_guest::types::Error;

pub mod oci;

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

    /// The Spin component that serves writes could not be reached from the
    /// read front (a Spin build split in two).
    #[cfg(all(feature = "forward", not(feature = "writes")))]
    pub fn writes_unavailable(message: impl Into<String>) -> Self {
        Self::new(502, "writes-unavailable", message)
    }

    /// A bug in the API itself, such as a response it cannot encode.
    pub fn handler_failed(message: impl Into<String>) -> Self {
        Self::new(500, "handler-failed", message)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::InvalidName(_)
            | Error::InvalidVersion(_)
            | Error::InvalidRequirement(_)
            | Error::InvalidDigest(_)
            | Error::BadRequest(_)
            | Error::InvalidSignature(_) => 400,
            Error::Unauthorized(_) => 401,
            Error::Forbidden(_) | Error::SignatureRequired(_) => 403,
            Error::NotFound(_) => 404,
            Error::VersionExists(_)
            | Error::HeadMoved(_)
            | Error::Conflict(_)
            | Error::ContentMissing(_) => 409,
            Error::Expired(_) => 410,
            Error::TooLarge(_) => 413,
            Error::InvalidContent(_) | Error::PolicyRejected(_) => 422,
            Error::TakenDown(_) => 451,
            Error::ContentUnavailable(_) => 502,
            Error::Storage(_) => 503,
        };
        let code = match &e {
            // A moved head is a conflict the client retries.
            Error::HeadMoved(_) => "conflict",
            Error::Storage(_) => STORAGE_UNAVAILABLE,
            other => other.code(),
        };
        Self::new(status, code, e.message())
    }
}
