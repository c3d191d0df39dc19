//! A response before it is sent, and sending it: status, headers (each response
//! has a `content-type`, and a `content-length` when it has a body), then the
//! body unless the request was `HEAD`.

use std::io::Write;

use serde::Serialize;
use wasip2::http::types::{Fields, OutgoingBody, OutgoingResponse, ResponseOutparam};
use wasip2::io::streams::StreamError;

use crate::bindings::depot::registry::blob_read::BlobReader;
use crate::body;
use crate::error::ApiError;
use crate::feed;
use crate::json;

/// Why a response's body was not sent in full.
#[derive(Debug)]
pub enum SendError {
    /// The client closed the connection first. Clients may stop reading at
    /// any time (`curl … | head`, a download cancelled), so this is not a
    /// problem to report.
    ClientGone,
    /// Anything else, which is reported.
    Failed(String),
}

impl SendError {
    /// `error` from writing to (or flushing) the response stream while doing
    /// `what`: [`SendError::ClientGone`] when the stream was closed.
    pub fn writing(error: &std::io::Error, what: &str) -> Self {
        use std::io::ErrorKind;
        // The stream's own error, when the write wrapped it; a write the
        // closed stream took nothing of is `WriteZero` or `UnexpectedEof`.
        let closed = matches!(
            error.kind(),
            ErrorKind::WriteZero
                | ErrorKind::UnexpectedEof
                | ErrorKind::BrokenPipe
                | ErrorKind::ConnectionReset
        ) || error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<StreamError>())
            .is_some_and(|inner| matches!(inner, StreamError::Closed));
        if closed {
            Self::ClientGone
        } else {
            Self::Failed(format!("{what}: {error}"))
        }
    }
}

impl SendError {
    /// The output stream's own `error` while doing `what`.
    pub fn stream(error: StreamError, what: &str) -> Self {
        match error {
            StreamError::Closed => Self::ClientGone,
            StreamError::LastOperationFailed(e) => {
                Self::Failed(format!("{what}: {}", e.to_debug_string()))
            }
        }
    }
}

impl From<String> for SendError {
    fn from(message: String) -> Self {
        Self::Failed(message)
    }
}

/// What follows the headers.
#[derive(Debug)]
pub enum Body {
    Empty,
    Bytes(Vec<u8>),
    /// This many bytes of a stored blob from where its reader starts,
    /// streamed chunk by chunk.
    Blob(BlobReader, u64),
    /// The feed's entries after this sequence number, as server-sent events,
    /// for as long as the request may run.
    Events(u64),
}

impl Body {
    /// The whole blob `reader` reads.
    pub fn blob(reader: BlobReader) -> Self {
        let size = reader.size();
        Self::Blob(reader, size)
    }
}

#[derive(Debug)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: Body) -> Self {
        Self {
            status,
            headers: vec![("content-type".to_string(), content_type.to_string())],
            body,
        }
    }

    /// `value` as a JSON body.
    pub fn json(status: u16, value: &impl Serialize) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => Self::new(status, "application/json", Body::Bytes(bytes)),
            Err(e) => Self::error(&ApiError::handler_failed(format!(
                "the response could not be encoded as JSON: {e}"
            ))),
        }
    }

    /// The error as `{"error": {"code", "message"}}`, with `Allow` on a 405.
    pub fn error(e: &ApiError) -> Self {
        // Only strings: encoding cannot fail.
        let bytes = serde_json::to_vec(&json::error(e)).unwrap_or_default();
        let mut response = Self::new(e.status, "application/json", Body::Bytes(bytes));
        if e.status == 401 {
            let challenge = crate::error::V1_CHALLENGE.to_string();
            response = response.with_header("www-authenticate", challenge);
        }
        if e.code == crate::error::STORAGE_UNAVAILABLE {
            let wait = crate::error::RETRY_AFTER_SECONDS.to_string();
            response = response.with_header("retry-after", wait);
        }
        match e.allow {
            Some(allow) => response.with_header("allow", allow.to_string()),
            None => response,
        }
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// The value of the header `name` (lower case), if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(have, _)| have == name)
            .map(|(_, value)| value.as_str())
    }

    /// With an `ETag` when it has none and its body is in memory: a hash of
    /// the body (a blob's is its digest, set where it is opened).
    pub fn with_etag(self) -> Self {
        match &self.body {
            Body::Bytes(bytes) if self.header("etag").is_none() => {
                let tag = format!("\"{:016x}\"", depot_guest::body_hash(bytes));
                self.with_header("etag", tag)
            }
            _ => self,
        }
    }

    /// With `name` set to `value` alone, replacing what it had.
    pub fn set_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.retain(|(have, _)| have != name);
        self.with_header(name, value)
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name.to_string(), value));
        self
    }

    /// A response with exactly `headers` (a `content-type` among them).
    pub fn with_headers(status: u16, headers: Vec<(String, String)>, body: Body) -> Self {
        Self {
            status,
            headers,
            body,
        }
    }

    /// Sends the response; with `head_only`, everything but the body.
    pub fn send(self, out: ResponseOutparam, head_only: bool) {
        let length = match &self.body {
            Body::Empty => None,
            Body::Bytes(bytes) => Some(bytes.len() as u64),
            Body::Blob(_, len) => Some(*len),
            Body::Events(_) => None,
        };
        let mut entries: Vec<(String, Vec<u8>)> = self
            .headers
            .into_iter()
            .map(|(name, value)| (name, value.into_bytes()))
            .collect();
        if let Some(length) = length {
            entries.push((
                "content-length".to_string(),
                length.to_string().into_bytes(),
            ));
        }
        let Ok(fields) = Fields::from_list(&entries) else {
            // Header values come from checked names, versions and digests, so
            // this is a bug; the error response's own headers are constants.
            let e = ApiError::handler_failed("the response headers could not be encoded");
            return Self::error(&e).send(out, head_only);
        };
        let response = OutgoingResponse::new(fields);
        // Every status used here is a valid one.
        let _ = response.set_status_code(self.status);
        // Without a body the host sends none, and keeps the `content-length`
        // header, which is what `HEAD` needs.
        let outgoing = match self.body {
            Body::Empty => None,
            _ if head_only => None,
            _ => response.body().ok(),
        };
        ResponseOutparam::set(out, Ok(response));
        if let Some(outgoing) = outgoing {
            let written = write_body(&outgoing, self.body).and_then(|()| {
                OutgoingBody::finish(outgoing, None)
                    .map_err(|e| SendError::Failed(format!("finishing the body failed: {e:?}")))
            });
            match written {
                Ok(()) | Err(SendError::ClientGone) => {}
                // The status is sent; the client sees the body cut short.
                Err(SendError::Failed(e)) => {
                    eprintln!("depot-api: response body not sent in full: {e}");
                }
            }
        }
    }
}

/// Writes the whole body; dropping the stream before `finish` is required, as
/// the stream is the body's child.
fn write_body(outgoing: &OutgoingBody, content: Body) -> Result<(), SendError> {
    let mut stream = outgoing
        .write()
        .map_err(|()| "the response body stream was already taken".to_string())?;
    match content {
        Body::Empty => {}
        Body::Bytes(bytes) => stream
            .write_all(&bytes)
            .map_err(|e| SendError::writing(&e, "writing the response failed"))?,
        Body::Blob(reader, len) => body::send_blob(&reader, len, &mut stream)?,
        Body::Events(since) => feed::stream(&mut stream, since)?,
    }
    stream
        .flush()
        .map_err(|e| SendError::stream(e, "flushing the response failed"))
}
