//! Depot's metadata handler (`depot:registry/metadata`): reads a stored blob,
//! validates it, and says what it is: kind, size, `wasm-metadata` fields and,
//! for a component, its world's imports and exports. It runs in the sandbox,
//! so a hostile binary costs at most the host's per-request memory and time.
//!
//! [`describe()`] is the pure part, bytes in and metadata out; it calls no WIT
//! import, so it also runs natively (the unit tests and the fuzzers in `fuzz/`).

/// The WIT bindings and the export glue: generated, and `unsafe` by nature.
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "depot:registry/metadata-handler",
        with: { "depot:registry/types@0.1.0": depot_guest::types },
    });

    // Only the component exports the handler: built natively (for the fuzzers)
    // the crate is a library, and a native linker refuses the WIT export names.
    #[cfg(target_arch = "wasm32")]
    use super::MetadataHandler;
    #[cfg(target_arch = "wasm32")]
    export!(MetadataHandler);
}

mod describe;

pub use depot_guest::types::{ContentKind, Metadata};
pub use describe::describe;

use bindings::depot::registry::blob_read;
use bindings::exports::depot::registry::metadata::Guest;
use depot_guest::types::Error;
use depot_protocol::Digest;

/// The metadata handler.
#[derive(Debug)]
struct MetadataHandler;

impl Guest for MetadataHandler {
    fn describe(digest: String) -> Result<Metadata, Error> {
        let digest: Digest = digest
            .parse()
            .map_err(|e: depot_protocol::ParseError| Error::InvalidDigest(e.to_string()))?;
        let content = read_blob(&digest)?;
        describe::describe(&content, digest.as_str()).map_err(Error::InvalidContent)
    }
}

/// Reads the whole blob into one buffer of exactly its size: validation and
/// WIT decoding need it contiguous, and growing a buffer would copy it.
fn read_blob(digest: &Digest) -> Result<Vec<u8>, Error> {
    let reader = blob_read::open_blob(digest.as_str(), 0)?;
    let size = reader.size();
    let too_large = || {
        Error::TooLarge(format!(
            "the content ({size} bytes) does not fit in the metadata handler's memory; \
             publish smaller content, or ask the operator to raise the per-request memory \
             limit (`depot serve --memory-limit`)"
        ))
    };
    let expected = usize::try_from(size).map_err(|_| too_large())?;
    let mut content = Vec::new();
    content
        .try_reserve_exact(expected)
        .map_err(|_| too_large())?;
    let chunk = blob_read::max_chunk();
    loop {
        let piece = reader.read(chunk)?;
        if piece.is_empty() {
            break;
        }
        if piece.len() > expected - content.len() {
            return Err(size_mismatch(digest, size));
        }
        content.extend_from_slice(&piece);
    }
    if content.len() != expected {
        return Err(size_mismatch(digest, size));
    }
    Ok(content)
}

/// The store said one size and delivered another.
fn size_mismatch(digest: &Digest, size: u64) -> Error {
    Error::Storage(format!(
        "blob {digest} did not read back as the {size} bytes the store reported; \
         nothing was changed, retry"
    ))
}
