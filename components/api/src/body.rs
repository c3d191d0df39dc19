//! Bodies that may be large move in bounded chunks, never whole: an upload
//! from the request's input stream into a store blob, and a blob from the store
//! into the response's output stream.

use std::io::Write;

use depot_protocol::ContentTooLarge;
use wasip2::http::types::IncomingRequest;
use wasip2::io::streams::{OutputStream, StreamError};

use crate::bindings::depot::registry::store::{self, BlobReader};
use crate::error::ApiError;

/// Streams the request body into a new blob and returns its digest. An upload
/// is refused as soon as it passes `limit`; dropping the unfinished writer
/// discards what was written.
pub fn receive_blob(request: &IncomingRequest, limit: u64) -> Result<String, ApiError> {
    let no_body =
        || ApiError::bad_request("the request body cannot be read; send the content as the body");
    let body = request.consume().map_err(|()| no_body())?;
    // Declared after `body`, so dropped before it: a stream is its body's child.
    let stream = body.stream().map_err(|()| no_body())?;
    let writer = store::create_blob()?;
    // At least one byte per read, so a store reporting 0 cannot make this spin.
    let chunk = u64::from(store::max_chunk().max(1));
    let mut received: u64 = 0;
    loop {
        let bytes = match stream.blocking_read(chunk) {
            Ok(bytes) => bytes,
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(ApiError::bad_request(format!(
                    "the request body could not be read ({}); send it again",
                    e.to_debug_string()
                )));
            }
        };
        received = received.saturating_add(bytes.len() as u64);
        if received > limit {
            return Err(ApiError::too_large(ContentTooLarge { size: None, limit }));
        }
        if !bytes.is_empty() {
            writer.write(&bytes)?;
        }
    }
    Ok(writer.finish()?)
}

/// Copies the blob into `out`. `Write` on an output stream waits for the
/// stream's `check-write` budget, so a slow client holds back the reads.
pub fn send_blob(reader: &BlobReader, out: &mut OutputStream) -> Result<(), String> {
    let chunk = store::max_chunk();
    loop {
        let bytes = reader
            .read(chunk)
            .map_err(|e| format!("reading the blob failed: {e:?}"))?;
        if bytes.is_empty() {
            return Ok(());
        }
        out.write_all(&bytes)
            .map_err(|e| format!("writing the response failed: {e}"))?;
    }
}
