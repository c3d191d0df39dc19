//! Request bodies coming in, in bounded chunks: into a store blob, an OCI
//! upload, or (small) JSON. Built only with the `writes` feature.

use depot_protocol::ContentTooLarge;
use wasip2::http::types::{IncomingBody, IncomingRequest};
use wasip2::io::streams::{InputStream, StreamError};

use crate::bindings::depot::registry::blob_write;
use crate::bindings::depot::registry::uploads::UploadWriter;
use crate::error::ApiError;

/// How much of a refused upload is read and thrown away before answering, so a
/// client still sending a small body sees the answer rather than a reset
/// connection. Larger bodies are cut off.
const DISCARD_BUDGET: u64 = 1024 * 1024;

/// A request body about to be uploaded into a blob. Whatever refuses it,
/// dropping it reads and throws away a small remainder of the body first, so
/// a client still sending sees the answer rather than a reset connection.
pub struct Upload {
    // Declared before `body`, so dropped before it: a stream is its body's child.
    stream: InputStream,
    _body: IncomingBody,
}

impl Upload {
    /// Takes the request's body without reading any of it.
    pub fn open(request: &IncomingRequest) -> Result<Self, ApiError> {
        let no_body = || {
            ApiError::bad_request("the request body cannot be read; send the content as the body")
        };
        let body = request.consume().map_err(|()| no_body())?;
        let stream = body.stream().map_err(|()| no_body())?;
        Ok(Self {
            stream,
            _body: body,
        })
    }

    /// Streams the body into a new blob and returns its digest. An upload is
    /// refused as soon as it passes `limit`; dropping the unfinished writer
    /// discards what was written.
    pub fn write_to_blob(&self, limit: u64) -> Result<String, ApiError> {
        let writer = blob_write::create_blob()?;
        let mut received: u64 = 0;
        while let Some(bytes) = self.next_chunk()? {
            received = received.saturating_add(bytes.len() as u64);
            if received > limit {
                return Err(ApiError::too_large(ContentTooLarge { size: None, limit }));
            }
            writer.write(&bytes)?;
        }
        Ok(writer.finish()?)
    }

    /// Streams the body onto the end of an upload, refusing to let the upload
    /// pass `limit` bytes.
    pub fn append_to(&self, writer: &UploadWriter, limit: u64) -> Result<(), ApiError> {
        while let Some(bytes) = self.next_chunk()? {
            if writer.size().saturating_add(bytes.len() as u64) > limit {
                return Err(ApiError::too_large(ContentTooLarge { size: None, limit }));
            }
            writer.write(&bytes)?;
        }
        Ok(())
    }

    /// Reads the body into memory, stopping once it is over `limit` bytes: the
    /// caller refuses a result longer than `limit`.
    pub fn read_at_most(&self, limit: usize) -> Result<Vec<u8>, ApiError> {
        let mut bytes = Vec::new();
        while bytes.len() <= limit {
            match self.next_chunk()? {
                Some(chunk) => bytes.extend_from_slice(&chunk),
                None => break,
            }
        }
        Ok(bytes)
    }

    /// Reads and drops what is left of a refused body, up to a small budget.
    fn discard(&self) {
        let mut discarded: u64 = 0;
        while discarded <= DISCARD_BUDGET {
            match self.next_chunk() {
                Ok(Some(bytes)) => discarded += bytes.len() as u64,
                Ok(None) | Err(_) => return,
            }
        }
    }

    /// The next non-empty chunk of the body, or `None` at its end.
    fn next_chunk(&self) -> Result<Option<Vec<u8>>, ApiError> {
        // At least one byte per read, so a store reporting 0 cannot make this spin.
        let chunk = u64::from(blob_write::max_chunk().max(1));
        loop {
            match self.stream.blocking_read(chunk) {
                Ok(bytes) if bytes.is_empty() => continue,
                Ok(bytes) => return Ok(Some(bytes)),
                Err(StreamError::Closed) => return Ok(None),
                Err(StreamError::LastOperationFailed(e)) => {
                    return Err(ApiError::bad_request(format!(
                        "the request body could not be read ({}); send it again",
                        e.to_debug_string()
                    )));
                }
            }
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // Nothing is left of a body read to its end: one read says so.
        self.discard();
    }
}

/// The most bytes of JSON a write request's body may have.
const MAX_JSON_BODY: usize = 128 * 1024;

/// The request body as JSON of type `T`.
pub fn read_json<T: serde::de::DeserializeOwned>(request: &IncomingRequest) -> Result<T, ApiError> {
    let upload = Upload::open(request)?;
    let bytes = upload.read_at_most(MAX_JSON_BODY)?;
    if bytes.len() > MAX_JSON_BODY {
        return Err(ApiError::bad_request(format!(
            "the request body is over {MAX_JSON_BODY} bytes; send a smaller JSON object"
        )));
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "the request body is not the JSON object this route takes ({e}); see \
             docs/http-api.md"
        ))
    })
}
