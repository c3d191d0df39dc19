//! A page's bytes and headers: what caches may do with it, an ETag so a
//! revisit costs a `304`, and a content security policy that lets a page load
//! only the registry's own files.

use crate::assets::Asset;
use crate::bindings::exports::depot::registry::web::Page;
use crate::layout::Html;
use depot_guest::body_hash;

/// Pages may load the registry's own stylesheet, script and images, send
/// forms to it and fetch from it; nothing else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// A response before the request's `If-None-Match` is looked at.
#[derive(Debug)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A rendered page. Pages change whenever the registry does: the api
/// handler says how they may be cached, and the ETag (a hash of the page)
/// makes asking again cheap.
pub fn html(page: Html) -> Response {
    let status = page.status;
    let body = page.markup.into_string().into_bytes();
    let mut headers = vec![
        header("content-type", "text/html; charset=utf-8"),
        header("content-security-policy", CONTENT_SECURITY_POLICY),
        header("x-content-type-options", "nosniff"),
        header("referrer-policy", "same-origin"),
    ];
    if status == 200 {
        headers.push(header("etag", &format!("\"{:016x}\"", body_hash(&body))));
    }
    Response {
        status,
        headers,
        body,
    }
}

/// A stylesheet, script or icon: its name changes with its bytes, so it may
/// be cached for good.
pub fn asset(asset: &Asset) -> Response {
    Response {
        status: 200,
        headers: vec![
            header("content-type", asset.content_type),
            header("cache-control", "public, max-age=31536000, immutable"),
            header("x-content-type-options", "nosniff"),
            header("etag", &format!("\"{}\"", asset.file_name())),
        ],
        body: asset.bytes.to_vec(),
    }
}

/// A permanent redirect to `location`.
pub fn redirect(location: &str) -> Response {
    Response {
        status: 301,
        headers: vec![
            header("content-type", "text/plain; charset=utf-8"),
            header("location", location),
            header("cache-control", "public, max-age=86400"),
        ],
        body: format!("Moved to {location}\n").into_bytes(),
    }
}

fn header(name: &str, value: &str) -> (String, String) {
    (name.to_string(), value.to_string())
}

impl Response {
    /// The page to send: `304` with no body when the client's copy, named by
    /// `if_none_match`, is current.
    pub fn finish(self, if_none_match: Option<&str>) -> Page {
        let etag = self
            .headers
            .iter()
            .find(|(name, _)| name == "etag")
            .map(|(_, value)| value.as_str());
        let current = match (etag, if_none_match) {
            (Some(etag), Some(wanted)) => wanted
                .split(',')
                .map(|tag| tag.trim().trim_start_matches("W/"))
                .any(|tag| tag == etag || tag == "*"),
            _ => false,
        };
        if current {
            let headers = self
                .headers
                .into_iter()
                .filter(|(name, _)| name != "content-type")
                .collect();
            return Page {
                status: 304,
                headers,
                body: Vec::new(),
            };
        }
        Page {
            status: self.status,
            headers: self.headers,
            body: self.body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assets::STYLESHEET;

    #[test]
    fn a_current_etag_gets_an_empty_304() {
        let first = asset(&STYLESHEET).finish(None);
        assert_eq!(first.status, 200);
        let etag = first
            .headers
            .iter()
            .find(|(name, _)| name == "etag")
            .map(|(_, value)| value.clone())
            .unwrap();
        let again = asset(&STYLESHEET).finish(Some(&format!("\"other\", W/{etag}")));
        assert_eq!((again.status, again.body.len()), (304, 0));
        let stale = asset(&STYLESHEET).finish(Some("\"other\""));
        assert_eq!(stale.status, 200);
        assert_eq!(stale.body, STYLESHEET.bytes);
    }
}
