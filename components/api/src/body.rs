//! Bodies that may be large move in bounded chunks, never whole: a blob from
//! the store into the response's output stream here, and request bodies into
//! the store in [`crate::upload`].

use std::io::Write;

use wasip2::io::streams::OutputStream;

use crate::bindings::depot::registry::blob_read::{self, BlobReader};
use crate::response::SendError;

/// Copies `len` bytes of the blob into `out`. `Write` on an output stream
/// waits for the stream's `check-write` budget, so a slow client holds back
/// the reads.
pub fn send_blob(reader: &BlobReader, len: u64, out: &mut OutputStream) -> Result<(), SendError> {
    let chunk = u64::from(blob_read::max_chunk());
    let mut left = len;
    while left > 0 {
        // At most `max-chunk`, so it fits a u32.
        let want = u32::try_from(left.min(chunk)).unwrap_or(u32::MAX);
        let bytes = reader
            .read(want)
            .map_err(|e| format!("reading the blob failed: {e:?}"))?;
        if bytes.is_empty() {
            return Err(format!("the blob ended {left} bytes early").into());
        }
        left = left.saturating_sub(bytes.len() as u64);
        out.write_all(&bytes)
            .map_err(|e| SendError::writing(&e, "writing the response failed"))?;
    }
    Ok(())
}
