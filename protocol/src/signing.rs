//! Signed releases, as the SIG-Registries publish API defines them: a
//! publisher signs the **release manifest** it sent (the raw JSON bytes), by
//! way of its **release digest**, SHA-256 over `WASM-COMPONENT-REGISTRY-RELEASE-V1`
//! followed by those bytes; the signature is Ed25519 over the digest's 32 bytes.
//!
//! Keys travel as `ed25519:` followed by the standard base64 of the 32-byte
//! public key. A secret key file (`depot key new`) is one line,
//! `depot-signing-key-v1 ed25519:<base64 of the 32-byte seed>`.
//!
//! ```
//! use depot_protocol::signing::{SigningKey, verify_release};
//!
//! let key = SigningKey::from_seed([9; 32]);
//! let manifest = br#"{"packageType":"component","name":"a:b","version":"1.0.0"}"#;
//! let signed = key.sign_release(manifest);
//! assert!(verify_release(&key.public_key(), manifest, &signed.release_digest, &signed.signature).is_ok());
//! ```

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signer as _, Verifier as _};
use sha2::{Digest as _, Sha256};

/// What a release digest hashes before the manifest.
pub const RELEASE_DIGEST_PREFIX: &[u8] = b"WASM-COMPONENT-REGISTRY-RELEASE-V1";

/// How a key string starts.
const KEY_PREFIX: &str = "ed25519:";

/// How a secret key file starts.
const FILE_PREFIX: &str = "depot-signing-key-v1 ";

/// The release digest of `manifest` (the raw bytes the publisher sent).
pub fn release_digest(manifest: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(RELEASE_DIGEST_PREFIX);
    hasher.update(manifest);
    hasher.finalize().into()
}

/// The release digest of `manifest`, in lowercase hex (`releaseDigest`).
pub fn release_digest_hex(manifest: &[u8]) -> String {
    hex(&release_digest(manifest))
}

/// Checks that `given` (hex) is the release digest of `manifest`.
pub fn check_release_digest(manifest: &[u8], given: &str) -> Result<(), SignatureError> {
    let expected = release_digest_hex(manifest);
    if given.eq_ignore_ascii_case(&expected) {
        Ok(())
    } else {
        Err(SignatureError::Digest {
            given: given.chars().take(100).collect(),
            expected,
        })
    }
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Why a key or a signature was refused; the message says what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// Not `ed25519:<base64 of 32 bytes>`.
    #[error(
        "`{0}` is not a public key: expected `ed25519:` followed by the base64 of 32 bytes, \
         as `depot key new` prints it"
    )]
    Key(String),
    /// Not a secret key file.
    #[error(
        "this is not a Depot signing key file: expected one line \
         `depot-signing-key-v1 ed25519:<base64 seed>`; make one with `depot key new`"
    )]
    KeyFile,
    /// The release digest is not the one of the manifest.
    #[error(
        "releaseDigest {given} is not the release digest of the manifest this release was \
         created with ({expected}): hash `WASM-COMPONENT-REGISTRY-RELEASE-V1` followed by the \
         exact manifest bytes you POSTed"
    )]
    Digest {
        /// What the publisher sent.
        given: String,
        /// What the manifest hashes to.
        expected: String,
    },
    /// Not base64 of 64 bytes.
    #[error("releaseSignature is not an Ed25519 signature: expected the base64 of 64 bytes")]
    Malformed,
    /// The signature does not verify with the key.
    #[error("releaseSignature does not verify with key {0}: sign the release digest with that key")]
    Invalid(String),
}

/// A publisher's public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(ed25519_dalek::VerifyingKey);

impl FromStr for PublicKey {
    type Err = SignatureError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || SignatureError::Key(text.chars().take(100).collect());
        let bytes = text
            .strip_prefix(KEY_PREFIX)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .ok_or_else(bad)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| bad())?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|_| bad())
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{KEY_PREFIX}{}", STANDARD.encode(self.0.as_bytes()))
    }
}

/// A publisher's secret key.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SigningKey")
            .field(&self.public_key().to_string())
            .finish()
    }
}

/// What a publisher sends to publish a signed release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRelease {
    /// The release digest in lowercase hex.
    pub release_digest: String,
    /// The Ed25519 signature of the digest's bytes, base64.
    pub signature: String,
}

impl SigningKey {
    /// The key made of 32 random bytes.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// The key its file holds.
    pub fn from_file_text(text: &str) -> Result<Self, SignatureError> {
        let seed = text
            .trim()
            .strip_prefix(FILE_PREFIX)
            .and_then(|key| key.strip_prefix(KEY_PREFIX))
            .and_then(|b64| STANDARD.decode(b64).ok())
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .ok_or(SignatureError::KeyFile)?;
        Ok(Self::from_seed(seed))
    }

    /// What its file holds.
    pub fn to_file_text(&self) -> String {
        format!(
            "{FILE_PREFIX}{KEY_PREFIX}{}\n",
            STANDARD.encode(self.0.to_bytes())
        )
    }

    /// Its public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs the release whose raw manifest is `manifest`.
    pub fn sign_release(&self, manifest: &[u8]) -> SignedRelease {
        let digest = release_digest(manifest);
        SignedRelease {
            release_digest: hex(&digest),
            signature: STANDARD.encode(self.0.sign(&digest).to_bytes()),
        }
    }
}

/// Checks that `given_digest` (hex) is the release digest of `manifest` and
/// that `signature` (base64) is `key`'s signature of it.
pub fn verify_release(
    key: &PublicKey,
    manifest: &[u8],
    given_digest: &str,
    signature: &str,
) -> Result<(), SignatureError> {
    check_release_digest(manifest, given_digest)?;
    let digest = release_digest(manifest);
    let bytes = STANDARD
        .decode(signature)
        .map_err(|_| SignatureError::Malformed)?;
    let bytes: [u8; 64] = bytes.try_into().map_err(|_| SignatureError::Malformed)?;
    key.0
        .verify(&digest, &ed25519_dalek::Signature::from_bytes(&bytes))
        .map_err(|_| SignatureError::Invalid(key.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &[u8] = br#"{"packageType":"component","name":"example:greet","version":"1.0.0","contentDigest":{"sha256":"00"}}"#;

    // A known-answer vector computed outside Depot, with Python's hashlib and
    // `cryptography` (OpenSSL's `pkeyutl -sign -rawin` gives the same):
    //
    //     import base64, hashlib
    //     from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    //     from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    //     seed = bytes(range(32))
    //     content = hashlib.sha256(b"\0asm\x0d\0\x01\0").hexdigest()
    //     manifest = ('{"contentDigest":{"sha256":"%s"},"name":"example:greet",'
    //                 '"packageType":"component","version":"1.2.3"}' % content).encode()
    //     key = Ed25519PrivateKey.from_private_bytes(seed)
    //     public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    //     digest = hashlib.sha256(b"WASM-COMPONENT-REGISTRY-RELEASE-V1" + manifest).digest()
    //     print("ed25519:" + base64.b64encode(public).decode())
    //     print("depot-signing-key-v1 ed25519:" + base64.b64encode(seed).decode())
    //     print(digest.hex())
    //     print(base64.b64encode(key.sign(digest)).decode())
    //
    // The manifest is what `depot publish` sends (serde_json sorts the keys).
    const KAT_MANIFEST: &[u8] = br#"{"contentDigest":{"sha256":"24eaf3439a60c96764c4f2c92a0a81b52bd4fe5d5b91f090184a0f6486b1bf29"},"name":"example:greet","packageType":"component","version":"1.2.3"}"#;
    const KAT_PUBLIC_KEY: &str = "ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
    const KAT_KEY_FILE: &str =
        "depot-signing-key-v1 ed25519:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
    const KAT_RELEASE_DIGEST: &str =
        "76115cdf6036ed7ece051459ab7337d415e522aa6d86e3498518838b452e3ce8";
    const KAT_SIGNATURE: &str =
        "NvAEUnj659xTzbUus/rcbgvpRgCUshtjIwF5Y5caBQBhwi4iVa+RgYwWXcWyVqoOOXt/DTewy1oPmXrWyNPvCw==";

    #[test]
    fn release_signatures_match_an_independently_computed_vector() {
        let seed: [u8; 32] = std::array::from_fn(|i| i as u8);
        let key = SigningKey::from_seed(seed);
        assert_eq!(key.public_key().to_string(), KAT_PUBLIC_KEY);
        assert_eq!(key.to_file_text(), KAT_KEY_FILE);
        let public: PublicKey = KAT_PUBLIC_KEY.parse().unwrap();
        assert_eq!(public, key.public_key());
        let again = SigningKey::from_file_text(KAT_KEY_FILE).unwrap();
        assert_eq!(again.public_key(), public);
        assert_eq!(again.to_file_text(), KAT_KEY_FILE);

        assert_eq!(release_digest_hex(KAT_MANIFEST), KAT_RELEASE_DIGEST);
        assert_eq!(
            key.sign_release(KAT_MANIFEST),
            SignedRelease {
                release_digest: KAT_RELEASE_DIGEST.to_string(),
                signature: KAT_SIGNATURE.to_string(),
            }
        );
        assert_eq!(
            verify_release(&public, KAT_MANIFEST, KAT_RELEASE_DIGEST, KAT_SIGNATURE),
            Ok(())
        );

        let mut flipped = STANDARD.decode(KAT_SIGNATURE).unwrap();
        flipped[17] ^= 0x04;
        let flipped = STANDARD.encode(flipped);
        assert!(matches!(
            verify_release(&public, KAT_MANIFEST, KAT_RELEASE_DIGEST, &flipped),
            Err(SignatureError::Invalid(_))
        ));

        let mut changed = KAT_MANIFEST.to_vec();
        let last = changed.len() - 3;
        assert_eq!(changed[last], b'3');
        changed[last] = b'4';
        assert!(matches!(
            verify_release(&public, &changed, KAT_RELEASE_DIGEST, KAT_SIGNATURE),
            Err(SignatureError::Digest { .. })
        ));
        assert!(matches!(
            verify_release(
                &public,
                &changed,
                &release_digest_hex(&changed),
                KAT_SIGNATURE
            ),
            Err(SignatureError::Invalid(_))
        ));
    }

    #[test]
    fn the_release_digest_hashes_the_prefix_then_the_manifest() {
        let mut whole = RELEASE_DIGEST_PREFIX.to_vec();
        whole.extend_from_slice(MANIFEST);
        assert_eq!(
            release_digest(MANIFEST),
            <[u8; 32]>::from(Sha256::digest(&whole))
        );
        assert_ne!(release_digest(MANIFEST), release_digest(b"{}"));
    }

    #[test]
    fn a_key_survives_its_file_and_its_public_string() {
        let key = SigningKey::from_seed([3; 32]);
        let again = SigningKey::from_file_text(&key.to_file_text()).unwrap();
        assert_eq!(again.public_key(), key.public_key());
        let public = key.public_key().to_string();
        assert!(public.starts_with("ed25519:"), "{public}");
        assert_eq!(public.parse::<PublicKey>().unwrap(), key.public_key());
        for bad in ["", "ed25519:", "ed25519:AAAA", "rsa:AAAA", &public[1..]] {
            assert!(bad.parse::<PublicKey>().is_err(), "{bad}");
        }
        assert_eq!(
            SigningKey::from_file_text("ed25519:AAAA").unwrap_err(),
            SignatureError::KeyFile
        );
    }

    #[test]
    fn only_the_right_key_digest_and_manifest_verify() {
        let key = SigningKey::from_seed([1; 32]);
        let other = SigningKey::from_seed([2; 32]);
        let signed = key.sign_release(MANIFEST);
        let verify = |public: &PublicKey, manifest: &[u8], digest: &str, signature: &str| {
            verify_release(public, manifest, digest, signature)
        };
        assert_eq!(
            verify(
                &key.public_key(),
                MANIFEST,
                &signed.release_digest,
                &signed.signature
            ),
            Ok(())
        );
        assert!(matches!(
            verify(
                &other.public_key(),
                MANIFEST,
                &signed.release_digest,
                &signed.signature
            ),
            Err(SignatureError::Invalid(_))
        ));
        assert!(matches!(
            verify(
                &key.public_key(),
                b"{}",
                &signed.release_digest,
                &signed.signature
            ),
            Err(SignatureError::Digest { .. })
        ));
        let forged = other.sign_release(MANIFEST);
        assert!(matches!(
            verify(
                &key.public_key(),
                MANIFEST,
                &forged.release_digest,
                &forged.signature
            ),
            Err(SignatureError::Invalid(_))
        ));
        assert_eq!(
            verify(
                &key.public_key(),
                MANIFEST,
                &signed.release_digest,
                "not base64!"
            ),
            Err(SignatureError::Malformed)
        );
    }
}
