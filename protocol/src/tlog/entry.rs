//! The bytes a registry log entry contributes to the Merkle tree: its leaf.
//!
//! A client that fetched a release computes the leaf itself, from what it
//! checked (the content's digest) and what the registry says about the
//! release (sequence number, time), and asks for a proof that the leaf is in
//! the signed tree. So the encoding is fixed and simple enough to write in any
//! language: UTF-8 lines, strings as JSON strings in which only `"`, `\` and
//! the control characters U+0000–U+001F are escaped (`\"`, `\\`, `\u00XX`).
//!
//! ```text
//! depot-log-entry-v1
//! <seq>
//! <time, milliseconds since the Unix epoch>
//! <name as a JSON string>
//! <version as a JSON string>
//! <action>
//! ```
//!
//! where `<action>` is one of `release <digest> <size> <OCI manifest digest or ->`
//! (followed by ` signed <key> <release digest, hex> <signature, base64>` for a
//! signed release), `yank`, `unyank`, `annotate <type as JSON> <value as JSON
//! string>` (followed by ` by <annotator as JSON>` when the entry records who
//! made it; entries logged before annotators were recorded end at the
//! value), `takedown <reason as JSON>`, `grant-key <key>`, `revoke-key <key>`
//! or `require-signatures true|false`. Metadata is not in the leaf: it is
//! derived from the content, which the digest binds; the release manifest is
//! bound by the release digest. Key entries name a namespace or a package and
//! an empty version.

use std::fmt::Write as _;

/// What an entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafAction<'a> {
    /// A release of content `digest` of `size` bytes, pushed to OCI as manifest
    /// `oci_manifest` when it has one.
    Release {
        /// The content's digest, `sha256:…`.
        digest: &'a str,
        /// The content's size in bytes.
        size: u64,
        /// The digest of the release's OCI manifest.
        oci_manifest: Option<&'a str>,
        /// The publisher's signature, for a signed release.
        signature: Option<LeafSignature<'a>>,
    },
    /// A yank.
    Yank,
    /// An unyank.
    Unyank,
    /// An annotation of a type with a JSON value (as text).
    Annotate {
        /// The annotation's type.
        annotation_type: &'a str,
        /// The annotation's value, JSON text.
        value: &'a str,
        /// The id of the token that made it, when the entry records one.
        annotator: Option<&'a str>,
    },
    /// A takedown for a reason.
    Takedown {
        /// Why.
        reason: &'a str,
    },
    /// The operator lets a key sign releases of the entry's namespace or package.
    GrantKey {
        /// The key, `ed25519:…`.
        key: &'a str,
    },
    /// The operator withdraws a key's grant.
    RevokeKey {
        /// The key, `ed25519:…`.
        key: &'a str,
    },
    /// The operator makes the namespace require signed releases, or not.
    RequireSignatures {
        /// Whether it does from now on.
        required: bool,
    },
}

/// A publisher's signature of a release, as its leaf records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafSignature<'a> {
    /// The key, `ed25519:…`.
    pub key: &'a str,
    /// The release digest, lowercase hex.
    pub release_digest: &'a str,
    /// The signature, base64.
    pub signature: &'a str,
}

/// One registry log entry, as its leaf records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafEntry<'a> {
    /// Its sequence number, from 1; the leaf's index in the tree is `seq - 1`.
    pub seq: u64,
    /// When it landed, in milliseconds since the Unix epoch.
    pub time: u64,
    /// The package, `namespace:name`.
    pub name: &'a str,
    /// The release's version.
    pub version: &'a str,
    /// What it did.
    pub action: LeafAction<'a>,
}

impl LeafEntry<'_> {
    /// The leaf's bytes (hash them with [`super::leaf_hash`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::from("depot-log-entry-v1\n");
        let _ = write!(out, "{}\n{}\n", self.seq, self.time);
        json_string(&mut out, self.name);
        out.push('\n');
        json_string(&mut out, self.version);
        out.push('\n');
        match self.action {
            LeafAction::Release {
                digest,
                size,
                oci_manifest,
                signature,
            } => {
                let _ = write!(
                    out,
                    "release {digest} {size} {}",
                    oci_manifest.unwrap_or("-")
                );
                if let Some(signed) = signature {
                    let _ = write!(
                        out,
                        " signed {} {} {}",
                        signed.key, signed.release_digest, signed.signature
                    );
                }
            }
            LeafAction::Yank => out.push_str("yank"),
            LeafAction::Unyank => out.push_str("unyank"),
            LeafAction::Annotate {
                annotation_type,
                value,
                annotator,
            } => {
                out.push_str("annotate ");
                json_string(&mut out, annotation_type);
                out.push(' ');
                json_string(&mut out, value);
                if let Some(annotator) = annotator {
                    out.push_str(" by ");
                    json_string(&mut out, annotator);
                }
            }
            LeafAction::Takedown { reason } => {
                out.push_str("takedown ");
                json_string(&mut out, reason);
            }
            LeafAction::GrantKey { key } => {
                let _ = write!(out, "grant-key {key}");
            }
            LeafAction::RevokeKey { key } => {
                let _ = write!(out, "revoke-key {key}");
            }
            LeafAction::RequireSignatures { required } => {
                let _ = write!(out, "require-signatures {required}");
            }
        }
        out.into_bytes()
    }

    /// The leaf's hash.
    pub fn leaf_hash(&self) -> super::Hash {
        super::leaf_hash(&self.to_bytes())
    }
}

/// `text` as a JSON string with the minimal escaping the module documents.
fn json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_leaf_is_the_documented_text() {
        let entry = LeafEntry {
            seq: 7,
            time: 1_764_324_192_345,
            name: "example:greet",
            version: "1.0.0",
            action: LeafAction::Release {
                digest: "sha256:ab",
                size: 12,
                oci_manifest: None,
                signature: None,
            },
        };
        assert_eq!(
            String::from_utf8(entry.to_bytes()).unwrap(),
            "depot-log-entry-v1\n7\n1764324192345\n\"example:greet\"\n\"1.0.0\"\nrelease sha256:ab 12 -"
        );
        let signed = LeafEntry {
            action: LeafAction::Release {
                digest: "sha256:ab",
                size: 12,
                oci_manifest: Some("sha256:cd"),
                signature: Some(LeafSignature {
                    key: "ed25519:AA==",
                    release_digest: "ef",
                    signature: "SIG=",
                }),
            },
            ..entry
        };
        assert!(
            String::from_utf8(signed.to_bytes())
                .unwrap()
                .ends_with("\nrelease sha256:ab 12 sha256:cd signed ed25519:AA== ef SIG=")
        );
        let grant = LeafEntry {
            name: "example",
            version: "",
            action: LeafAction::GrantKey {
                key: "ed25519:AA==",
            },
            ..entry
        };
        assert!(
            String::from_utf8(grant.to_bytes())
                .unwrap()
                .ends_with("\n\"example\"\n\"\"\ngrant-key ed25519:AA==")
        );
    }

    #[test]
    fn strings_escape_only_quotes_backslashes_and_control_characters() {
        let entry = LeafEntry {
            seq: 1,
            time: 0,
            name: "a:b",
            version: "1.0.0",
            action: LeafAction::Annotate {
                annotation_type: "review",
                value: "{\"note\":\"é\\n\tx\"}",
                annotator: None,
            },
        };
        let text = String::from_utf8(entry.to_bytes()).unwrap();
        assert!(
            text.ends_with(r#"annotate "review" "{\"note\":\"é\\n\u0009x\"}""#),
            "{text}"
        );
        // An entry that records its annotator says who after the value; one
        // logged before annotators were keeps its old leaf (above).
        let by = LeafEntry {
            action: LeafAction::Annotate {
                annotation_type: "review",
                value: "{}",
                annotator: Some("3f2a"),
            },
            ..entry
        };
        let text = String::from_utf8(by.to_bytes()).unwrap();
        assert!(
            text.ends_with(r#"annotate "review" "{}" by "3f2a""#),
            "{text}"
        );
    }

    #[test]
    fn every_field_changes_the_leaf() {
        let base = LeafEntry {
            seq: 1,
            time: 5,
            name: "a:b",
            version: "1.0.0",
            action: LeafAction::Yank,
        };
        let variants = [
            LeafEntry { seq: 2, ..base },
            LeafEntry { time: 6, ..base },
            LeafEntry {
                name: "a:c",
                ..base
            },
            LeafEntry {
                version: "1.0.1",
                ..base
            },
            LeafEntry {
                action: LeafAction::Unyank,
                ..base
            },
            LeafEntry {
                action: LeafAction::Takedown { reason: "x" },
                ..base
            },
            LeafEntry {
                action: LeafAction::RequireSignatures { required: true },
                ..base
            },
            LeafEntry {
                action: LeafAction::RequireSignatures { required: false },
                ..base
            },
            LeafEntry {
                action: LeafAction::GrantKey { key: "k" },
                ..base
            },
            LeafEntry {
                action: LeafAction::RevokeKey { key: "k" },
                ..base
            },
        ];
        for variant in variants {
            assert_ne!(variant.leaf_hash(), base.leaf_hash(), "{variant:?}");
        }
    }
}
