//! What a request carries, read the same way by every route.

use wasip2::http::types::IncomingRequest;

/// The header in which a Spin build's read front passes on the host the
/// client used, when it hands a write to the writes component.
pub const FORWARDED_HOST: &str = "x-forwarded-host";

/// Where a request handed on by Spin's local service chaining is addressed:
/// `<component>.spin.internal`.
const CHAINED_SUFFIX: &str = ".spin.internal";

/// The host the client reached the registry at: the `Host` header (else the
/// request's authority). A request the read front of a Spin build handed on
/// is addressed to the writes component, so for it the client's host is
/// the one the front passed on. Only such a request's is trusted: a client's
/// own `x-forwarded-host` on any other request is ignored.
pub fn host(request: &IncomingRequest) -> Option<String> {
    let host = header(request, "host").or_else(|| request.authority())?;
    let chained = host
        .split(':')
        .next()
        .is_some_and(|name| name.ends_with(CHAINED_SUFFIX));
    if chained && let Some(forwarded) = header(request, FORWARDED_HOST) {
        return Some(forwarded);
    }
    Some(host)
}

pub fn header(request: &IncomingRequest, name: &str) -> Option<String> {
    let values = request.headers().get(name);
    let values: Vec<&str> = values
        .iter()
        .filter_map(|value| std::str::from_utf8(value).ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}
