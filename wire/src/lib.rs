//! The JSON bodies of Depot's `/v1` API (docs/http-api.md) and of its feed,
//! as serde types: the api handler component serialises them and the CLI
//! client deserialises them, so both read one definition. Field names are
//! camelCase, times RFC 3339 UTC with milliseconds, absent metadata fields
//! `null`. `tests/golden/` holds one JSON file per body: a change to the
//! wire is a visible diff there (`BLESS=1 cargo test -p depot-wire` writes
//! them anew).

#![warn(missing_docs)]

use serde::{Deserialize, Serialize};

/// A release (`GET /v1/packages/{name}/versions/{version}`, and in lists).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    /// The package's name, `namespace:name`.
    pub name: String,
    /// Its version (semver).
    pub version: String,
    /// The content's digest, `sha256:…`.
    pub digest: String,
    /// The content's size in bytes.
    pub size: u64,
    /// When it was published.
    pub published_at: String,
    /// Whether it is yanked.
    pub yanked: bool,
    /// Its registry log entry's sequence number.
    pub seq: u64,
    /// Where its content is served.
    pub content_url: String,
    /// The digest of the release's OCI manifest, which its log entry records.
    #[serde(default)]
    pub oci_manifest: Option<String>,
    /// What the binary says about itself.
    pub metadata: Metadata,
    /// Typed facts added since, oldest first.
    #[serde(default)]
    pub annotations: Vec<Annotation>,
    /// Why and when the operator took it down, if they did.
    #[serde(default)]
    pub takedown: Option<Takedown>,
    /// The publisher's signature, for a signed release.
    #[serde(default)]
    pub signature: Option<Signature>,
    /// Where its log entry is in the transparency log: in an answer as of a
    /// log position (`resolve?at=`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<LogProof>,
}

/// That a release's log entry is in the transparency log: an inclusion proof
/// against a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogProof {
    /// The checkpoint the proof is against: the registry's signed note, as
    /// `GET /v1/log/checkpoint` served it then.
    pub checkpoint: String,
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// The entry's leaf: its sequence number less one.
    pub leaf_index: u64,
    /// The proof's hashes in base64, bottom up (RFC 9162).
    pub hashes: Vec<String>,
}

/// A publisher's signature of a release manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signature {
    /// `ed25519:…`.
    pub public_key: String,
    /// SHA-256 over `WASM-COMPONENT-REGISTRY-RELEASE-V1` and the manifest, hex.
    pub release_digest: String,
    /// Ed25519 over the release digest, base64.
    pub release_signature: String,
    /// The release manifest exactly as signed (JSON text).
    pub manifest: String,
}

/// A typed fact about a release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    /// What kind of fact (`review`, `advisory`, …).
    #[serde(rename = "type")]
    pub type_: String,
    /// The fact, any JSON.
    pub value: serde_json::Value,
    /// When it was added.
    pub time: String,
    /// Its registry log entry's sequence number.
    pub seq: u64,
    /// Who made it: the id of the token it was made with. Absent for
    /// annotations logged before annotators were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotator: Option<String>,
}

/// Why and when the operator took a release down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Takedown {
    /// The operator's reason.
    pub reason: String,
    /// When.
    pub time: String,
}

/// What the binary says about itself (its size and digest are the release's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// `component`, `wit-package` or `core-module`.
    pub kind: String,
    /// The name in its producers' metadata.
    pub name: Option<String>,
    /// A description.
    pub description: Option<String>,
    /// Its authors.
    pub authors: Option<String>,
    /// An SPDX license expression.
    pub licenses: Option<String>,
    /// Where its source is.
    pub source: Option<String>,
    /// Its homepage.
    pub homepage: Option<String>,
    /// The source revision it was built from.
    pub revision: Option<String>,
    /// The version it says it is.
    pub version: Option<String>,
    /// Interfaces (or functions) its world imports, with versions.
    #[serde(default)]
    pub imports: Vec<String>,
    /// Interfaces (or functions) its world exports, with versions.
    #[serde(default)]
    pub exports: Vec<String>,
    /// A component's world, or a WIT package, as WIT text.
    #[serde(default)]
    pub wit: Option<String>,
    /// A WIT package's worlds.
    #[serde(default)]
    pub worlds: Option<Vec<String>>,
    /// A `registry-metadata` section's fields.
    #[serde(default)]
    pub registry: Option<RegistryFields>,
}

/// What a `registry-metadata` section says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryFields {
    /// Links by kind.
    pub links: Vec<Link>,
    /// Categories.
    pub categories: Vec<String>,
    /// Licenses named `LicenseRef-…` in the SPDX expression.
    pub custom_licenses: Vec<CustomLicense>,
}

/// A link by kind (`Homepage`, `Repository`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    /// The kind.
    pub kind: String,
    /// Where it points.
    pub url: String,
}

/// A license named `LicenseRef-…` in an SPDX expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomLicense {
    /// `LicenseRef-…`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its text.
    pub text: String,
    /// Where it is published.
    pub reference: Option<String>,
}

/// `GET /v1/packages/{name}`: a package and all its releases, highest
/// version first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Package {
    /// Its name.
    pub name: String,
    /// The version `*` resolves to, if any.
    pub latest: Option<String>,
    /// Its releases.
    pub versions: Vec<Release>,
}

/// One package in a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageSummary {
    /// Its name.
    pub name: String,
    /// The version `*` resolves to, if any.
    pub latest: Option<String>,
    /// How many releases it has.
    pub versions: u32,
    /// When its last entry was appended.
    pub updated_at: String,
}

/// `GET /v1/packages`: one page of packages in name order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackagePage {
    /// The packages.
    pub packages: Vec<PackageSummary>,
    /// Pass as `after` for the next page; none on the last.
    pub next: Option<String>,
}

/// `GET /v1/search`: one page of matching releases, best package first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchPage {
    /// The releases.
    pub results: Vec<Release>,
    /// Pass as `after` for the next page; none on the last.
    pub next: Option<String>,
}

/// `GET /v1/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Packages.
    pub packages: u64,
    /// Releases, yanked and taken down included.
    pub releases: u64,
    /// The registry log's last sequence number.
    pub head: u64,
}

/// `GET /v1/log/proof/inclusion`: the proof's hashes in base64, bottom up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    /// The entry proved.
    pub seq: u64,
    /// The tree it is proved in.
    pub tree_size: u64,
    /// The hashes.
    pub proof: Vec<String>,
}

/// `GET /v1/log/proof/consistency`: the proof's hashes in base64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older tree's size.
    pub from: u64,
    /// The newer tree's size.
    pub to: u64,
    /// The hashes.
    pub proof: Vec<String>,
}

/// Every error body: `{"error": {"code", "message"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable code (`not-found`, `version-exists`, …).
    pub code: String,
    /// What happened and what to do.
    pub message: String,
}

/// An unpublished release of a two-phase publish (`POST /v1/releases`,
/// `GET …/unpublished`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unpublished {
    /// The release manifest.
    pub release: serde_json::Value,
    /// The id of the token that created it.
    pub creator: String,
    /// `pending`, `processing`, `published`, `rejected` or `expired`.
    pub status: String,
    /// Why it was rejected.
    #[serde(default)]
    pub reason: Option<String>,
    /// When it was created.
    pub created_at: String,
    /// When it expires unless published.
    pub expires_at: String,
    /// URLs its content may be fetched from.
    #[serde(default)]
    pub content_sources: Vec<ContentSource>,
    /// Where to `PUT` the content.
    pub upload_url: String,
    /// Where to `POST` `releaseDigest` and `releaseSignature` to publish it.
    pub publish_url: String,
}

/// A URL content may be fetched from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentSource {
    /// The URL (`https`).
    pub url: String,
}

/// `GET /v1/namespaces/{namespace}`: who may sign a namespace's releases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceInfo {
    /// The namespace.
    pub namespace: String,
    /// Whether its releases must be signed.
    pub require_signatures: bool,
    /// The keys granted on it and on its packages.
    pub keys: Vec<KeyGrant>,
}

/// A key's grant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyGrant {
    /// `ed25519:…`.
    pub public_key: String,
    /// A namespace or a package.
    pub scope: String,
    /// The grant's log entry.
    pub seq: u64,
    /// When it was granted.
    pub granted_at: String,
}

/// A token as the API shows it (`/v1/tokens`): its secret only in the
/// answer that created it, and never in its `Debug` output.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    /// Its id.
    pub id: String,
    /// What it is for.
    pub label: Option<String>,
    /// The namespaces it may publish to.
    pub namespaces: Vec<String>,
    /// Whether it is the operator's.
    pub operator: bool,
    /// When it was made.
    pub created_at: String,
    /// When it stops working, if ever.
    pub expires_at: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
    /// The secret, once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("id", &self.id)
            .field("label", &self.label)
            .field("namespaces", &self.namespaces)
            .field("operator", &self.operator)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `GET /v1/tokens`: every token, oldest first, revoked ones included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenList {
    /// The tokens.
    pub tokens: Vec<Token>,
}

/// `GET /v1/feed`: registry log entries and the cursor to ask from next.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedPage {
    /// The entries, in log order.
    pub entries: Vec<FeedEntry>,
    /// Pass as `since` for the entries after these.
    pub next: u64,
}

/// One log entry as the feed describes it: what a mirror needs to apply it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedEntry {
    /// Its sequence number.
    pub seq: u64,
    /// When it was appended.
    pub time: String,
    /// `release`, `yank`, `unyank`, `annotate`, `takedown`, `grant-key`,
    /// `revoke-key` or `require-signatures`.
    pub kind: String,
    /// The package (or, for a key or policy entry, the scope).
    pub package: String,
    /// The version.
    pub version: String,
    /// The release's content digest.
    pub digest: Option<String>,
    /// What a release entry binds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<FeedRelease>,
    /// What an annotation entry adds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation: Option<FeedAnnotation>,
    /// A takedown's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The key of a `grant-key` or `revoke-key` entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Whether a `require-signatures` entry turns the requirement on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
}

/// What a release entry binds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedRelease {
    /// The content's size.
    pub size: u64,
    /// What the binary says about itself.
    pub metadata: Metadata,
    /// Its OCI manifest and config.
    pub oci: Option<FeedOci>,
    /// The publisher's signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// A release's OCI manifest and config digests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedOci {
    /// The manifest's digest.
    pub manifest: String,
    /// The config's digest.
    pub config: String,
}

/// What an annotation entry adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedAnnotation {
    /// What kind of fact.
    #[serde(rename = "type")]
    pub type_: String,
    /// The fact.
    pub value: serde_json::Value,
    /// The id of the token that made it; absent for annotations logged
    /// before annotators were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotator: Option<String>,
}

/// The body of `POST …/annotations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnotationRequest {
    /// What kind of fact.
    #[serde(rename = "type")]
    pub type_: String,
    /// The fact, any JSON.
    pub value: serde_json::Value,
}

/// The body of `PUT /v1/namespaces/{namespace}/policy`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRequest {
    /// Whether the namespace's releases must be signed.
    pub require_signatures: bool,
}

/// The body of `POST /v1/keys/grant` and `/v1/keys/revoke`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRequest {
    /// `ed25519:…`.
    pub public_key: String,
    /// A namespace (`example`) or a package (`example:greet`).
    pub scope: String,
}

/// The body of `POST …/takedown`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TakedownRequest {
    /// Why.
    pub reason: String,
}

/// The body of `POST /v1/tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// The namespaces it may publish to.
    pub namespaces: Vec<String>,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Seconds from now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<u64>,
    /// An RFC 3339 time, as the API writes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// The body of `POST …/unpublished/content-sources`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentSourcesRequest {
    /// URLs the content may be fetched from.
    pub content_sources: Vec<ContentSource>,
}

/// The body of the publish `POST /v1/packages/{name}/versions/{version}` of
/// an unpublished release.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishRequest {
    /// The release digest the publisher computed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_digest: Option<String>,
    /// Ed25519 over the release digest, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_signature: Option<String>,
    /// The key that made the signature; when absent, the keys granted on the
    /// package are tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}
