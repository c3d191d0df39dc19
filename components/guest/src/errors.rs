//! The registry's errors as they are shown: each case's stable code (its
//! WIT name) and its message, in one place for the API's error bodies, the
//! web view's pages and the reasons a rejected release records.

use crate::types::Error;

impl Error {
    /// The case's name as the WIT spells it (`version-exists`): the code the
    /// API answers with, apart from those it names itself.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidName(_) => "invalid-name",
            Error::InvalidVersion(_) => "invalid-version",
            Error::InvalidRequirement(_) => "invalid-requirement",
            Error::InvalidDigest(_) => "invalid-digest",
            Error::BadRequest(_) => "bad-request",
            Error::NotFound(_) => "not-found",
            Error::VersionExists(_) => "version-exists",
            Error::TooLarge(_) => "too-large",
            Error::InvalidContent(_) => "invalid-content",
            Error::PolicyRejected(_) => "policy-rejected",
            Error::TakenDown(_) => "taken-down",
            Error::HeadMoved(_) => "head-moved",
            Error::Storage(_) => "storage",
            Error::Unauthorized(_) => "unauthorized",
            Error::Forbidden(_) => "forbidden",
            Error::InvalidSignature(_) => "invalid-signature",
            Error::SignatureRequired(_) => "signature-required",
            Error::Expired(_) => "expired",
            Error::Conflict(_) => "conflict",
            Error::ContentMissing(_) => "content-missing",
            Error::ContentUnavailable(_) => "content-unavailable",
        }
    }

    /// What the error says, and what to do about it.
    pub fn message(&self) -> String {
        match self {
            Error::InvalidName(m)
            | Error::InvalidVersion(m)
            | Error::InvalidRequirement(m)
            | Error::InvalidDigest(m)
            | Error::BadRequest(m)
            | Error::NotFound(m)
            | Error::VersionExists(m)
            | Error::TooLarge(m)
            | Error::InvalidContent(m)
            | Error::PolicyRejected(m)
            | Error::TakenDown(m)
            | Error::Storage(m)
            | Error::Unauthorized(m)
            | Error::Forbidden(m)
            | Error::InvalidSignature(m)
            | Error::SignatureRequired(m)
            | Error::Expired(m)
            | Error::Conflict(m)
            | Error::ContentMissing(m)
            | Error::ContentUnavailable(m) => m.clone(),
            Error::HeadMoved(head) => format!(
                "another change to the package landed first (log entry {head}); nothing was \
                 changed, retry"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_wit_case_names_and_messages_say_what_happened() {
        let e = Error::VersionExists("`a:b` 1.0.0 is already released".into());
        assert_eq!(e.code(), "version-exists");
        assert_eq!(e.message(), "`a:b` 1.0.0 is already released");
        let moved = Error::HeadMoved(7);
        assert_eq!(moved.code(), "head-moved");
        assert!(
            moved.message().contains("log entry 7"),
            "{}",
            moved.message()
        );
        assert_eq!(
            Error::ContentMissing(String::new()).code(),
            "content-missing"
        );
    }
}
