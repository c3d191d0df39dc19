//! Every `/v1` body and feed entry, written by the types as the api handler
//! writes them, against the JSON committed in `tests/golden/`; and each
//! golden file read back into the same value, as the client reads it. A
//! wire change shows as a diff of those files: `BLESS=1 cargo test -p
//! depot-wire` writes them anew, to be reviewed and committed.

use std::path::PathBuf;

use depot_wire::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

/// Compares `value`'s JSON with `tests/golden/{name}.json` (or writes it
/// with `BLESS=1`), then reads the file back and expects `value`.
fn golden<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str, value: &T) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"));
    let written = serde_json::to_string_pretty(value).unwrap() + "\n";
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, &written).unwrap();
    }
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e} (BLESS=1 writes it)", path.display()));
    assert_eq!(
        written,
        committed,
        "{name}: the JSON differs from {} (BLESS=1 writes it anew, if the change is meant)",
        path.display()
    );
    let read: T = serde_json::from_str(&committed).unwrap();
    assert_eq!(&read, value, "{name}: reading the golden file back");
}

fn metadata() -> Metadata {
    Metadata {
        kind: "component".into(),
        name: Some("greet".into()),
        description: Some("Says hello".into()),
        authors: Some("Ann <ann@example.com>".into()),
        licenses: Some("MIT OR LicenseRef-Own".into()),
        source: Some("https://example.com/greet.git".into()),
        homepage: Some("https://example.com/greet".into()),
        revision: Some("0123abcd".into()),
        version: Some("1.2.0".into()),
        imports: vec!["wasi:cli/environment@0.2.0".into()],
        exports: vec!["example:greet/hello@0.1.0".into()],
        wit: Some(
            "package root:component;\n\nworld root {\n  export example:greet/hello@0.1.0;\n}\n"
                .into(),
        ),
        worlds: None,
        registry: Some(RegistryFields {
            links: vec![Link {
                kind: "Repository".into(),
                url: "https://example.com/greet.git".into(),
            }],
            categories: vec!["greeting".into()],
            custom_licenses: vec![CustomLicense {
                id: "LicenseRef-Own".into(),
                name: "Own licence".into(),
                text: "Use it kindly.".into(),
                reference: None,
            }],
        }),
    }
}

fn bare_metadata() -> Metadata {
    Metadata {
        kind: "wit-package".into(),
        name: None,
        description: None,
        authors: None,
        licenses: None,
        source: None,
        homepage: None,
        revision: None,
        version: None,
        imports: Vec::new(),
        exports: Vec::new(),
        wit: None,
        worlds: Some(vec!["example:greet/hello@0.1.0".into()]),
        registry: None,
    }
}

const DIGEST: &str = "sha256:3b1a8e6f0c7d2f4b9a5e8c1d6f2a7b3c9e4d0f5a1b6c2d7e3f8a4b9c5d0e1f2a";

fn signature() -> Signature {
    Signature {
        public_key: "ed25519:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".into(),
        release_digest: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        release_signature: "c2lnbmF0dXJl".into(),
        manifest: r#"{"name":"example:greet","version":"1.2.0"}"#.into(),
    }
}

fn release() -> Release {
    Release {
        name: "example:greet".into(),
        version: "1.2.0".into(),
        digest: DIGEST.into(),
        size: 52_044,
        published_at: "2026-12-04T08:00:00.000Z".into(),
        yanked: false,
        seq: 7,
        content_url: "/v1/packages/example:greet/versions/1.2.0/content".into(),
        oci_manifest: Some(DIGEST.replace("3b1a", "4c2b")),
        metadata: metadata(),
        annotations: vec![Annotation {
            type_: "review".into(),
            value: json!({"verdict": "ok"}),
            time: "2026-12-04T08:01:00.000Z".into(),
            seq: 8,
            annotator: Some("5e1f0c9a2b7d".into()),
        }],
        takedown: None,
        signature: Some(signature()),
        proof: None,
    }
}

fn taken_down() -> Release {
    Release {
        version: "1.0.0".into(),
        yanked: true,
        seq: 3,
        oci_manifest: None,
        metadata: bare_metadata(),
        annotations: Vec::new(),
        takedown: Some(Takedown {
            reason: "malware".into(),
            time: "2026-12-04T09:00:00.000Z".into(),
        }),
        signature: None,
        proof: None,
        ..release()
    }
}

#[test]
fn releases() {
    golden("release", &release());
    golden("release-taken-down", &taken_down());
    golden(
        "release-at",
        &Release {
            proof: Some(LogProof {
                checkpoint: "127.0.0.1:8080/depot\n9\nSBNJTRN+FjG7owHVrKtue7eqdM4RhdRWVl71HXN2d7I=\n\n\u{2014} 127.0.0.1:8080/depot AAAAAQ==\n".into(),
                tree_size: 9,
                leaf_index: 6,
                hashes: vec!["P8b2WZCOYAJvIK628akKFMrLiifYcK7IgqBSnyyCm7I=".into(), "VF6lOEYQA+/cjIHCRFMbAD9vJs/M9sAHOzI5/e30lEY=".into()],
            }),
            ..release()
        },
    );
    golden(
        "package",
        &Package {
            name: "example:greet".into(),
            latest: Some("1.2.0".into()),
            versions: vec![release(), taken_down()],
        },
    );
    golden(
        "search",
        &SearchPage {
            results: vec![release()],
            next: Some("1/example:greet".into()),
        },
    );
}

#[test]
fn listings_stats_and_proofs() {
    golden(
        "packages",
        &PackagePage {
            packages: vec![PackageSummary {
                name: "example:greet".into(),
                latest: Some("1.2.0".into()),
                versions: 2,
                updated_at: "2026-12-04T08:01:00.000Z".into(),
            }],
            next: None,
        },
    );
    golden(
        "stats",
        &Stats {
            packages: 1,
            releases: 2,
            head: 8,
        },
    );
    golden(
        "inclusion-proof",
        &InclusionProof {
            seq: 7,
            tree_size: 8,
            proof: vec![
                "Ng+EA1lCJDxqNlN64vhnNIXmwERVoKhaDbGWkPJUFIA=".into(),
                "JwQvTm7KfQsqfuQCbfLs+lHTM55tEiqgmRGOzYVjutk=".into(),
            ],
        },
    );
    golden(
        "consistency-proof",
        &ConsistencyProof {
            from: 4,
            to: 8,
            proof: vec!["y6BrVzb69n5UsHtWHq6UOV53TFF6fZEKVDaeEmPM+9Q=".into()],
        },
    );
    golden(
        "error",
        &ErrorBody {
            error: ErrorDetail {
                code: "version-exists".into(),
                message: "example:greet@1.2.0 is already published; publish a new version".into(),
            },
        },
    );
}

#[test]
fn publishing_trust_and_tokens() {
    golden(
        "unpublished",
        &Unpublished {
            release: json!({"name": "example:greet", "version": "1.3.0", "digest": DIGEST}),
            creator: "tok_1".into(),
            status: "rejected".into(),
            reason: Some("the content's digest differs from the manifest's".into()),
            created_at: "2026-12-04T08:00:00.000Z".into(),
            expires_at: "2026-12-05T08:00:00.000Z".into(),
            content_sources: vec![ContentSource {
                url: "https://example.com/greet.wasm".into(),
            }],
            upload_url: "/v1/packages/example:greet/versions/1.3.0/unpublished/content".into(),
            publish_url: "/v1/packages/example:greet/versions/1.3.0".into(),
        },
    );
    golden(
        "namespace",
        &NamespaceInfo {
            namespace: "example".into(),
            require_signatures: true,
            keys: vec![KeyGrant {
                public_key: signature().public_key,
                scope: "example:greet".into(),
                seq: 5,
                granted_at: "2026-12-04T07:00:00.000Z".into(),
            }],
        },
    );
    let token = Token {
        id: "tok_1".into(),
        label: Some("ci".into()),
        namespaces: vec!["example".into()],
        operator: false,
        created_at: "2026-12-04T07:00:00.000Z".into(),
        expires_at: Some("2027-12-04T07:00:00.000Z".into()),
        revoked_at: None,
        token: None,
    };
    golden("token", &token);
    golden(
        "tokens",
        &TokenList {
            tokens: vec![token.clone()],
        },
    );
    let secret = format!("depot_{}", "ab".repeat(32));
    let created = Token {
        token: Some(secret.clone()),
        ..token
    };
    golden("token-created", &created);
    let shown = format!("{created:?}");
    assert!(!shown.contains(&secret), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
    golden(
        "create-token-request",
        &CreateTokenRequest {
            namespaces: vec!["example".into()],
            label: Some("ci".into()),
            expires_in: Some(86_400),
            expires_at: None,
        },
    );
    golden(
        "publish-request",
        &PublishRequest {
            release_digest: Some(signature().release_digest),
            release_signature: Some(signature().release_signature),
            public_key: None,
        },
    );
    golden(
        "content-sources-request",
        &ContentSourcesRequest {
            content_sources: vec![ContentSource {
                url: "https://example.com/greet.wasm".into(),
            }],
        },
    );
    golden(
        "annotation-request",
        &AnnotationRequest {
            type_: "review".into(),
            value: json!({"verdict": "ok"}),
        },
    );
    golden(
        "policy-request",
        &PolicyRequest {
            require_signatures: true,
        },
    );
    golden(
        "key-request",
        &KeyRequest {
            public_key: signature().public_key,
            scope: "example".into(),
        },
    );
    golden(
        "takedown-request",
        &TakedownRequest {
            reason: "malware".into(),
        },
    );
}

#[test]
fn feed() {
    let entry = |seq: u64, kind: &str| FeedEntry {
        seq,
        time: "2026-12-04T08:00:00.000Z".into(),
        kind: kind.into(),
        package: "example:greet".into(),
        version: "1.2.0".into(),
        digest: Some(DIGEST.into()),
        release: None,
        annotation: None,
        reason: None,
        key: None,
        required: None,
    };
    golden(
        "feed",
        &FeedPage {
            entries: vec![
                FeedEntry {
                    release: Some(FeedRelease {
                        size: 52_044,
                        metadata: metadata(),
                        oci: Some(FeedOci {
                            manifest: DIGEST.replace("3b1a", "4c2b"),
                            config: DIGEST.replace("3b1a", "5d3c"),
                        }),
                        signature: Some(signature()),
                    }),
                    ..entry(7, "release")
                },
                FeedEntry {
                    annotation: Some(FeedAnnotation {
                        type_: "review".into(),
                        value: json!({"verdict": "ok"}),
                        annotator: Some("5e1f0c9a2b7d".into()),
                    }),
                    ..entry(8, "annotate")
                },
                entry(9, "yank"),
                FeedEntry {
                    reason: Some("malware".into()),
                    ..entry(10, "takedown")
                },
                FeedEntry {
                    version: String::new(),
                    digest: None,
                    key: Some(signature().public_key),
                    ..entry(11, "grant-key")
                },
                FeedEntry {
                    package: "example".into(),
                    version: String::new(),
                    digest: None,
                    required: Some(true),
                    ..entry(12, "require-signatures")
                },
            ],
            next: 12,
        },
    );
}
