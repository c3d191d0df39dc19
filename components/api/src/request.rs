//! What a request carries, read the same way by every route.

use wasip2::http::types::IncomingRequest;

pub fn header(request: &IncomingRequest, name: &str) -> Option<String> {
    let values = request.headers().get(name);
    let values: Vec<&str> = values
        .iter()
        .filter_map(|value| std::str::from_utf8(value).ok())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}
