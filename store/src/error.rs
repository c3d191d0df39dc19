//! Why a store call failed, and how that reaches the handler: each case maps
//! to one case of the WIT `error` variant.

use std::fmt;

use crate::types::Error;

/// A failure of a store call.
#[derive(Debug, PartialEq)]
pub enum StoreError {
    /// Another entry about the package landed first.
    HeadMoved {
        /// The package's head now.
        current: u64,
    },
    /// A second release of one version.
    VersionExists {
        /// The package.
        name: String,
        /// The version it already has.
        version: String,
    },
    /// No such version, blob, upload or package.
    NotFound(String),
    /// A malformed digest.
    InvalidDigest(String),
    /// Uploaded bytes that hash to another digest than the one expected.
    DigestMismatch {
        /// The digest the caller gave.
        expected: String,
        /// The digest of the bytes.
        actual: String,
    },
    /// A request the store cannot carry out as asked.
    BadRequest(String),
    /// No valid token for a request that needs one.
    Unauthorized(String),
    /// A valid token that does not grant what the request does.
    Forbidden(String),
    /// Spin's key-value or SQLite failed while doing `action`; `source` is
    /// only logged, never sent to the handler.
    Storage {
        /// What the store was doing, for the message.
        action: &'static str,
        /// The driver's own message.
        source: String,
    },
}

impl StoreError {
    /// A storage failure while doing `action`.
    pub fn storage(action: &'static str, source: impl fmt::Display) -> Self {
        Self::Storage {
            action,
            source: source.to_string(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HeadMoved { current } => write!(
                f,
                "another change to the package landed first (its head is now {current}); \
                 read the head again and retry"
            ),
            Self::VersionExists { name, version } => write!(
                f,
                "{name} {version} is already released and releases are immutable; \
                 publish a new version instead"
            ),
            Self::NotFound(message)
            | Self::InvalidDigest(message)
            | Self::BadRequest(message)
            | Self::Unauthorized(message)
            | Self::Forbidden(message) => f.write_str(message),
            Self::DigestMismatch { expected, actual } => write!(
                f,
                "the uploaded bytes have digest {actual}, not {expected}; send the digest of what \
                 was uploaded, or upload again"
            ),
            Self::Storage { action, .. } => {
                write!(
                    f,
                    "storage failed while {action}; nothing was changed, retry later"
                )
            }
        }
    }
}

impl From<depot_protocol::ParseError> for StoreError {
    fn from(e: depot_protocol::ParseError) -> Self {
        Self::InvalidDigest(e.to_string())
    }
}

impl From<depot_protocol::token::Denied> for StoreError {
    fn from(denied: depot_protocol::token::Denied) -> Self {
        use depot_protocol::token::Denied;
        match denied {
            Denied::Unauthorized(m) => Self::Unauthorized(m),
            Denied::Forbidden(m) => Self::Forbidden(m),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        let message = err.to_string();
        match err {
            StoreError::HeadMoved { current } => Error::HeadMoved(current),
            StoreError::VersionExists { .. } => Error::VersionExists(message),
            StoreError::NotFound(_) => Error::NotFound(message),
            StoreError::InvalidDigest(_) | StoreError::DigestMismatch { .. } => {
                Error::InvalidDigest(message)
            }
            StoreError::BadRequest(_) => Error::BadRequest(message),
            StoreError::Unauthorized(_) => Error::Unauthorized(message),
            StoreError::Forbidden(_) => Error::Forbidden(message),
            StoreError::Storage { action, source } => {
                // Logged here, once (Spin keeps a component's stderr); the
                // handler gets a message without the backend's details.
                #[cfg(feature = "wasmtime")]
                tracing::error!(error = %source, "storage failed while {action}");
                #[cfg(not(feature = "wasmtime"))]
                eprintln!("depot store: storage failed while {action}: {source}");
                Error::Storage(message)
            }
        }
    }
}

/// Turns a backend failure into [`StoreError::Storage`].
pub trait During<T> {
    /// The result, its failure a [`StoreError::Storage`] while doing `action`.
    fn during(self, action: &'static str) -> Result<T, StoreError>;
}

impl<T, E: fmt::Display> During<T> for Result<T, E> {
    fn during(self, action: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::storage(action, e))
    }
}
