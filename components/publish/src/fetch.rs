//! Content sources: URLs an unpublished release's content may be fetched
//! from (the SIG publish API's `contentSources`). The registry fetches one
//! over `wasi:http/outgoing-handler`, streaming it into a blob while it is
//! hashed, so a source never sits in memory whole. Only URLs under the
//! prefixes the operator allows (`DEPOT_CONTENT_SOURCES`, comma-separated;
//! `https://` when unset) are accepted, and redirects are not followed.

use crate::bindings::depot::registry::blob_write;
use std::time::Duration;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingResponse, Method, OutgoingBody, OutgoingRequest, RequestOptions,
    Scheme,
};
use wasip2::io::streams::StreamError;

/// Where the host puts the allowed prefixes.
const SOURCES_ENV: &str = "DEPOT_CONTENT_SOURCES";

/// How long a source may take to connect, and to send each part of its answer.
const TIMEOUT: Duration = Duration::from_secs(20);

/// The URL prefixes content may be fetched from.
pub fn allowed_prefixes() -> Vec<String> {
    match std::env::var(SOURCES_ENV) {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .map(|prefix| prefix.trim().to_string())
            .filter(|prefix| !prefix.is_empty())
            .collect(),
        _ => vec!["https://".to_string()],
    }
}

/// Checks that `url` is an http(s) URL under an allowed prefix.
pub fn check_url(url: &str) -> Result<(), String> {
    let prefixes = allowed_prefixes();
    if split_url(url).is_none() {
        return Err(format!(
            "content source `{url}` is not an http:// or https:// URL with a host"
        ));
    }
    if !prefixes
        .iter()
        .any(|prefix| url.starts_with(prefix.as_str()))
    {
        return Err(format!(
            "this registry does not fetch content from `{url}`: it fetches only from URLs \
             starting with {}; upload the content to the release's uploadUrl instead",
            prefixes.join(", ")
        ));
    }
    Ok(())
}

/// `url` as scheme, authority and path with query.
fn split_url(url: &str) -> Option<(Scheme, &str, &str)> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else {
        return None;
    };
    let rest = rest.split('#').next().unwrap_or(rest);
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some((scheme, authority, if path.is_empty() { "/" } else { path }))
}

/// Fetches `url` into a new blob of at most `limit` bytes and returns its digest.
pub fn fetch_to_blob(url: &str, limit: u64) -> Result<String, String> {
    check_url(url)?;
    let (scheme, authority, path) =
        split_url(url).ok_or_else(|| format!("`{url}` is not a URL"))?;
    let request = OutgoingRequest::new(Fields::new());
    let set = request
        .set_method(&Method::Get)
        .and_then(|()| request.set_scheme(Some(&scheme)))
        .and_then(|()| request.set_authority(Some(authority)))
        .and_then(|()| request.set_path_with_query(Some(path)));
    if set.is_err() {
        return Err(format!("`{url}` cannot be requested"));
    }
    let options = RequestOptions::new();
    let nanos = u64::try_from(TIMEOUT.as_nanos()).unwrap_or(u64::MAX);
    // A runtime that does not support a timeout keeps its own.
    let _ = options.set_connect_timeout(Some(nanos));
    let _ = options.set_first_byte_timeout(Some(nanos));
    let _ = options.set_between_bytes_timeout(Some(nanos));
    let body = request.body().map_err(|()| "no request body".to_string())?;
    let pending = outgoing_handler::handle(request, Some(options))
        .map_err(|e| format!("fetching {url} failed: {}", describe(&e)))?;
    OutgoingBody::finish(body, None)
        .map_err(|e| format!("fetching {url} failed: {}", describe(&e)))?;
    let response = wait_for(&pending).map_err(|e| format!("fetching {url} failed: {e}"))?;
    let status = response.status();
    if status != 200 {
        return Err(format!(
            "fetching {url} answered HTTP {status}, not 200 with the content"
        ));
    }
    copy_to_blob(&response, limit).map_err(|e| format!("fetching {url} failed: {e}"))
}

fn wait_for(
    pending: &wasip2::http::types::FutureIncomingResponse,
) -> Result<IncomingResponse, String> {
    loop {
        match pending.get() {
            Some(Ok(Ok(response))) => return Ok(response),
            Some(Ok(Err(e))) => return Err(describe(&e)),
            Some(Err(())) => return Err("the response was already taken".to_string()),
            None => pending.subscribe().block(),
        }
    }
}

fn copy_to_blob(response: &IncomingResponse, limit: u64) -> Result<String, String> {
    let body = response
        .consume()
        .map_err(|()| "the response has no body".to_string())?;
    let stream = body
        .stream()
        .map_err(|()| "the response body cannot be read".to_string())?;
    let writer = blob_write::create_blob().map_err(|e| format!("{e:?}"))?;
    let chunk = u64::from(blob_write::max_chunk().max(1));
    let mut received: u64 = 0;
    loop {
        match stream.blocking_read(chunk) {
            Ok(bytes) => {
                received = received.saturating_add(bytes.len() as u64);
                if received > limit {
                    return Err(format!(
                        "the content is over {limit} bytes, the most a release may have"
                    ));
                }
                writer.write(&bytes).map_err(|e| format!("{e:?}"))?;
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(format!(
                    "the body broke off after {received} bytes ({})",
                    e.to_debug_string()
                ));
            }
        }
    }
    drop(stream);
    drop(body);
    writer.finish().map_err(|e| format!("{e:?}"))
}

fn describe(e: &ErrorCode) -> String {
    match e {
        ErrorCode::DnsError(_) => "the host name does not resolve".to_string(),
        ErrorCode::ConnectionRefused => "the connection was refused".to_string(),
        ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout => {
            "the source did not answer in time".to_string()
        }
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_scheme_authority_and_path() {
        let (scheme, authority, path) = split_url("http://127.0.0.1:9/a/b.wasm?x=1#frag").unwrap();
        assert!(matches!(scheme, Scheme::Http));
        assert_eq!((authority, path), ("127.0.0.1:9", "/a/b.wasm?x=1"));
        assert_eq!(split_url("https://example.com").unwrap().2, "/");
        for bad in [
            "ftp://x/a",
            "https:///a",
            "https://user@host/a",
            "example.com/a",
        ] {
            assert!(split_url(bad).is_none(), "{bad}");
        }
    }
}
