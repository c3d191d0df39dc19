//! RFC 9162 §2.1.1 tree hashing.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::{Digest, Sha256};

use super::{Frontier, TlogError};

/// The length of a tree hash in bytes (SHA-256).
pub const HASH_LEN: usize = 32;

/// A SHA-256 tree hash: a leaf hash, an interior node hash or a root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; HASH_LEN]);

impl Hash {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// Lowercase hex, 64 digits.
    pub fn to_hex(&self) -> String {
        use fmt::Write as _;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// Parses 64 hex digits (either case).
    pub fn from_hex(text: &str) -> Result<Self, TlogError> {
        if text.len() != 2 * HASH_LEN || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TlogError::MalformedHash(text.to_owned()));
        }
        let mut bytes = [0; HASH_LEN];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .expect("two ASCII hex digits are a byte");
        }
        Ok(Self(bytes))
    }

    /// Standard base64 with padding (44 characters), as in checkpoints.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// Parses standard base64 with padding that decodes to exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, TlogError> {
        BASE64
            .decode(text)
            .ok()
            .and_then(|bytes| Self::try_from(bytes.as_slice()).ok())
            .ok_or_else(|| TlogError::MalformedHash(text.to_owned()))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl From<[u8; HASH_LEN]> for Hash {
    fn from(bytes: [u8; HASH_LEN]) -> Self {
        Self(bytes)
    }
}

impl TryFrom<&[u8]> for Hash {
    type Error = TlogError;

    fn try_from(bytes: &[u8]) -> Result<Self, TlogError> {
        <[u8; HASH_LEN]>::try_from(bytes).map(Self).map_err(|_| {
            TlogError::MalformedHash(format!("{} bytes where 32 were expected", bytes.len()))
        })
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// The hash of a log entry as a leaf: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    Hash(
        Sha256::new()
            .chain_update([0x00])
            .chain_update(data)
            .finalize()
            .into(),
    )
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Hash(
        Sha256::new()
            .chain_update([0x01])
            .chain_update(left.0)
            .chain_update(right.0)
            .finalize()
            .into(),
    )
}

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// The Merkle Tree Hash of a tree whose leaves have these leaf hashes (one
/// [`leaf_hash`] per entry, in log order), for any number of leaves including
/// none. Takes O(n) time and O(log n) memory.
pub fn root(leaf_hashes: &[Hash]) -> Hash {
    let mut frontier = Frontier::new();
    for leaf in leaf_hashes {
        frontier
            .push(*leaf)
            .expect("a slice has fewer than 2^64 - 1 elements");
    }
    frontier.root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_tree_root_is_sha256_of_nothing() {
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(root(&[]), empty_root());
    }

    #[test]
    fn hashes_round_trip_through_hex_and_base64() {
        let hash = leaf_hash(b"entry");
        assert_eq!(Hash::from_hex(&hash.to_hex()).unwrap(), hash);
        assert_eq!(Hash::from_hex(&hash.to_hex().to_uppercase()).unwrap(), hash);
        assert_eq!(Hash::from_base64(&hash.to_base64()).unwrap(), hash);
        assert_eq!(hash.to_base64().len(), 44);
    }

    #[test]
    fn malformed_hashes_are_refused() {
        let hash = leaf_hash(b"entry");
        let b64 = hash.to_base64();
        let hex = hash.to_hex();
        for bad in [
            "",
            &b64[..40],
            &b64[..43],
            "AAAA",
            &hex[..62],
            &format!("+{}", &hex[1..]),
            &format!("{}g", &hex[..63]),
        ] {
            assert!(Hash::from_base64(bad).is_err(), "{bad}");
            assert!(Hash::from_hex(bad).is_err(), "{bad}");
        }
        assert!(Hash::try_from(&[0u8; 31][..]).is_err());
    }
}
