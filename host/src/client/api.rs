//! A typed client for Depot's `/v1` JSON API (docs/http-api.md).

use anyhow::{Context, Result};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};

/// A release as `/v1` describes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    pub name: String,
    pub version: String,
    pub digest: String,
    pub size: u64,
    pub published_at: String,
    pub yanked: bool,
    pub seq: u64,
    pub content_url: String,
    /// The digest of the release's OCI manifest, which its log entry records.
    #[serde(default)]
    pub oci_manifest: Option<String>,
    pub metadata: Metadata,
    #[serde(default)]
    pub annotations: Vec<Annotation>,
    #[serde(default)]
    pub takedown: Option<Takedown>,
    /// The publisher's signature, for a signed release.
    #[serde(default)]
    pub signature: Option<Signature>,
}

/// A publisher's signature of a release manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signature {
    /// `ed25519:…`.
    pub public_key: String,
    /// SHA-256 over `WASM-COMPONENT-REGISTRY-RELEASE-V1` and the manifest, hex.
    pub release_digest: String,
    /// Ed25519 over the release digest, base64.
    pub release_signature: String,
    /// The release manifest exactly as signed.
    pub manifest: String,
}

/// An unpublished release of a two-phase publish.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unpublished {
    /// The release manifest.
    pub release: serde_json::Value,
    pub creator: String,
    /// `pending`, `processing`, `published`, `rejected` or `expired`.
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    pub expires_at: String,
    pub upload_url: String,
    pub publish_url: String,
}

/// Who may sign a namespace's releases.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceInfo {
    pub namespace: String,
    pub require_signatures: bool,
    pub keys: Vec<KeyGrant>,
}

/// A key's grant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyGrant {
    pub public_key: String,
    /// A namespace or a package.
    pub scope: String,
    pub seq: u64,
    pub granted_at: String,
}

/// A typed fact about a release.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Annotation {
    #[serde(rename = "type")]
    pub type_: String,
    pub value: serde_json::Value,
    pub time: String,
    pub seq: u64,
}

/// Why and when the operator took a release down.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Takedown {
    pub reason: String,
    pub time: String,
}

/// What the binary says about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub kind: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub authors: Option<String>,
    pub licenses: Option<String>,
    pub source: Option<String>,
    pub homepage: Option<String>,
    pub revision: Option<String>,
    pub version: Option<String>,
    #[serde(default)]
    pub imports: Vec<String>,
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryFields {
    pub links: Vec<Link>,
    pub categories: Vec<String>,
    pub custom_licenses: Vec<CustomLicense>,
}

/// A link by kind (`Homepage`, `Repository`, ...).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Link {
    pub kind: String,
    pub url: String,
}

/// A license named `LicenseRef-...` in an SPDX expression.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomLicense {
    pub id: String,
    pub name: String,
    pub text: String,
    pub reference: Option<String>,
}

/// A package and all its releases, highest version first.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub latest: Option<String>,
    pub versions: Vec<Release>,
}

/// One package in a listing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageSummary {
    pub name: String,
    pub latest: Option<String>,
    pub versions: u32,
    pub updated_at: String,
}

#[derive(Debug, Deserialize)]
struct PackagePage {
    packages: Vec<PackageSummary>,
    next: Option<String>,
}

/// `GET /v1/log/proof/…`: a proof's hashes, base64, bottom up.
#[derive(Debug, Clone, Deserialize)]
pub struct Proof {
    pub proof: Vec<String>,
}

/// A page of the registry's feed (`GET /v1/feed`).
#[derive(Debug, Clone, Deserialize)]
pub struct FeedPage {
    pub entries: Vec<FeedEntry>,
}

/// One log entry as the feed describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct FeedEntry {
    pub seq: u64,
    pub time: String,
    pub kind: String,
    pub package: String,
    pub version: String,
    pub digest: Option<String>,
    pub release: Option<FeedRelease>,
    pub annotation: Option<FeedAnnotation>,
    pub reason: Option<String>,
    /// The key of a `grant-key` or `revoke-key` entry.
    #[serde(default)]
    pub key: Option<String>,
    /// Whether a `require-signatures` entry turns the requirement on.
    #[serde(default)]
    pub required: Option<bool>,
}

/// What a release entry binds.
#[derive(Debug, Clone, Deserialize)]
pub struct FeedRelease {
    pub size: u64,
    pub metadata: Metadata,
    pub oci: Option<FeedOci>,
    #[serde(default)]
    pub signature: Option<Signature>,
}

/// A release's OCI manifest and config.
#[derive(Debug, Clone, Deserialize)]
pub struct FeedOci {
    pub manifest: String,
    pub config: String,
}

/// What an annotation entry adds.
#[derive(Debug, Clone, Deserialize)]
pub struct FeedAnnotation {
    #[serde(rename = "type")]
    pub type_: String,
    pub value: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct SearchPage {
    results: Vec<Release>,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// An error the registry answered with: its status, code and message.
#[derive(Debug, thiserror::Error)]
#[error("{message} ({code}, HTTP {status})")]
pub struct RegistryError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// A connection to one registry.
#[derive(Debug, Clone)]
pub struct Registry {
    base: String,
    http: reqwest::Client,
}

impl Registry {
    /// A client for the registry at `base` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("depot/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// The registry's URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let response = request.send().await.with_context(|| {
            format!(
                "cannot reach the registry at {} (is `depot serve` running? set --registry or DEPOT_REGISTRY)",
                self.base
            )
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let body = response.bytes().await.unwrap_or_default();
        Err(match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(b) => RegistryError {
                status,
                code: b.error.code,
                message: b.error.message,
            },
            Err(_) => RegistryError {
                status,
                code: "unexpected-response".into(),
                message: format!(
                    "the registry answered HTTP {status} without a Depot error body: {}",
                    String::from_utf8_lossy(&body[..body.len().min(200)])
                ),
            },
        }
        .into())
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T> {
        let response = self.send(request).await?;
        let url = response.url().clone();
        response
            .json()
            .await
            .with_context(|| format!("unexpected response from {url}"))
    }

    /// The transparency log's newest signed checkpoint (a C2SP signed note).
    pub async fn log_checkpoint(&self) -> Result<String> {
        let response = self
            .send(self.http.get(self.url("/v1/log/checkpoint")))
            .await?;
        Ok(response.text().await?)
    }

    /// The verifier key string of the key that signs checkpoints.
    pub async fn log_key(&self) -> Result<String> {
        let response = self.send(self.http.get(self.url("/v1/log/key"))).await?;
        Ok(response.text().await?.trim().to_string())
    }

    /// The proof that entry `seq` is in the tree of `size` entries.
    pub async fn log_inclusion(&self, seq: u64, size: u64) -> Result<Proof> {
        let path = format!("/v1/log/proof/inclusion?seq={seq}&size={size}");
        self.json(self.http.get(self.url(&path))).await
    }

    /// The proof that the tree of `to` entries extends the tree of `from`.
    pub async fn log_consistency(&self, from: u64, to: u64) -> Result<Proof> {
        let path = format!("/v1/log/proof/consistency?from={from}&to={to}");
        self.json(self.http.get(self.url(&path))).await
    }

    /// Publishes `version` of `name` with `size` bytes of content from `body`.
    pub async fn publish<S>(&self, name: &str, version: &str, size: u64, body: S) -> Result<Release>
    where
        S: Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    {
        let request = self
            .http
            .put(self.url(&format!("/v1/packages/{name}/versions/{version}")))
            .header(reqwest::header::CONTENT_TYPE, "application/wasm")
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(body));
        self.json(request).await
    }

    /// The release that `requirement` resolves to.
    pub async fn resolve(&self, name: &str, requirement: &str) -> Result<Release> {
        let request = self
            .http
            .get(self.url(&format!("/v1/packages/{name}/resolve")))
            .query(&[("req", requirement)]);
        self.json(request).await
    }

    /// The release of `name` at exactly `version`.
    pub async fn release(&self, name: &str, version: &str) -> Result<Release> {
        let url = self.url(&format!("/v1/packages/{name}/versions/{version}"));
        self.json(self.http.get(url)).await
    }

    /// The package `name` with all its releases.
    pub async fn package(&self, name: &str) -> Result<Package> {
        let url = self.url(&format!("/v1/packages/{name}"));
        self.json(self.http.get(url)).await
    }

    /// Every package, following the pages to the end.
    pub async fn packages(&self) -> Result<Vec<PackageSummary>> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut request = self.http.get(self.url("/v1/packages"));
            if let Some(after) = &after {
                request = request.query(&[("after", after)]);
            }
            let page: PackagePage = self.json(request).await?;
            all.extend(page.packages);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(all),
            }
        }
    }

    /// Yanks (`yank = true`) or unyanks a release.
    pub async fn set_yanked(&self, name: &str, version: &str, yank: bool) -> Result<Release> {
        let action = if yank { "yank" } else { "unyank" };
        let url = self.url(&format!("/v1/packages/{name}/versions/{version}/{action}"));
        self.json(self.http.post(url)).await
    }

    /// Appends an annotation of type `kind` with the JSON `value` to a release.
    pub async fn annotate(
        &self,
        name: &str,
        version: &str,
        kind: &str,
        value: &serde_json::Value,
    ) -> Result<Release> {
        let url = self.url(&format!(
            "/v1/packages/{name}/versions/{version}/annotations"
        ));
        let body = serde_json::json!({ "type": kind, "value": value });
        self.json(self.http.post(url).json(&body)).await
    }

    /// Every page of `GET /v1/search` with the query parameters `params`, up
    /// to `max` results.
    pub async fn search(&self, params: &[(&str, String)], max: usize) -> Result<Vec<Release>> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut query: Vec<(&str, String)> = params.to_vec();
            query.push(("limit", "100".to_string()));
            if let Some(after) = &after {
                query.push(("after", after.clone()));
            }
            let request = self.http.get(self.url("/v1/search")).query(&query);
            let page: SearchPage = self.json(request).await?;
            all.extend(page.results);
            match page.next {
                Some(next) if all.len() < max => after = Some(next),
                _ => {
                    all.truncate(max);
                    return Ok(all);
                }
            }
        }
    }

    /// Up to `limit` feed entries after `since`, waiting up to `wait`
    /// seconds for one when there are none.
    pub async fn feed(&self, since: u64, limit: u32, wait: u32) -> Result<FeedPage> {
        let request = self.http.get(self.url("/v1/feed")).query(&[
            ("since", since),
            ("limit", limit.into()),
            ("wait", wait.into()),
        ]);
        self.json(request).await
    }

    /// Takes a release down for `reason`.
    pub async fn takedown(&self, name: &str, version: &str, reason: &str) -> Result<Release> {
        let url = self.url(&format!("/v1/packages/{name}/versions/{version}/takedown"));
        let body = serde_json::json!({ "reason": reason });
        self.json(self.http.post(url).json(&body)).await
    }

    /// The content at `content_url` (a path from a release), as a stream of chunks.
    pub async fn content(
        &self,
        content_url: &str,
    ) -> Result<impl Stream<Item = Result<bytes::Bytes>> + use<>> {
        let response = self.send(self.http.get(self.url(content_url))).await?;
        Ok(response
            .bytes_stream()
            .map(|chunk| chunk.context("the download was interrupted")))
    }
}

/// A token as the registry lists it (never with its secret).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub id: String,
    pub label: Option<String>,
    pub namespaces: Vec<String>,
    pub operator: bool,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A token just made: the only time its secret is seen.
#[derive(Clone, Deserialize, Serialize)]
pub struct NewToken {
    #[serde(flatten)]
    pub info: Token,
    pub token: String,
}

/// Shows the token's description, never its secret.
impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken")
            .field("info", &self.info)
            .field("token", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Deserialize)]
struct TokenList {
    tokens: Vec<Token>,
}

impl Registry {
    /// This client, sending `token` (if any) as `Authorization: Bearer` with
    /// every request.
    pub fn with_token(mut self, token: Option<&str>) -> Result<Self> {
        let Some(token) = token else {
            return Ok(self);
        };
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .context("the token has characters a header cannot carry; pass it as printed")?;
        value.set_sensitive(true);
        let headers =
            reqwest::header::HeaderMap::from_iter([(reqwest::header::AUTHORIZATION, value)]);
        self.http = reqwest::Client::builder()
            .user_agent(concat!("depot/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(self)
    }

    /// Makes a token (operator only); `body` is `POST /v1/tokens`'s.
    pub async fn create_token(&self, body: &serde_json::Value) -> Result<NewToken> {
        self.json(self.http.post(self.url("/v1/tokens")).json(body))
            .await
    }

    /// Creates an unpublished release from the release manifest `manifest`
    /// (sent byte for byte: a signature covers those bytes).
    pub async fn create_release(&self, manifest: &str) -> Result<Unpublished> {
        let request = self
            .http
            .post(self.url("/v1/releases"))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(manifest.to_string());
        self.json(request).await
    }

    /// Uploads the content of an unpublished release to its `upload_url`.
    pub async fn upload_unpublished<S>(
        &self,
        upload_url: &str,
        size: u64,
        body: S,
    ) -> Result<Unpublished>
    where
        S: Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    {
        let request = self
            .http
            .put(self.url(upload_url))
            .header(reqwest::header::CONTENT_TYPE, "application/wasm")
            .header(reqwest::header::CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(body));
        self.json(request).await
    }

    /// Adds URLs the registry may fetch an unpublished release's content from.
    pub async fn add_content_sources(
        &self,
        name: &str,
        version: &str,
        urls: &[String],
    ) -> Result<Unpublished> {
        let url = self.url(&format!(
            "/v1/packages/{name}/versions/{version}/unpublished/content-sources"
        ));
        let sources: Vec<_> = urls
            .iter()
            .map(|url| serde_json::json!({ "url": url }))
            .collect();
        let body = serde_json::json!({ "contentSources": sources });
        self.json(self.http.post(url).json(&body)).await
    }

    /// Publishes an unpublished release; `body` carries `releaseDigest`,
    /// `releaseSignature` and `publicKey` when it is signed.
    pub async fn publish_unpublished(
        &self,
        publish_url: &str,
        body: &serde_json::Value,
    ) -> Result<Release> {
        self.json(self.http.post(self.url(publish_url)).json(body))
            .await
    }

    /// Who may sign releases of `namespace`, and whether they must be signed.
    pub async fn namespace(&self, namespace: &str) -> Result<NamespaceInfo> {
        let url = self.url(&format!("/v1/namespaces/{namespace}"));
        self.json(self.http.get(url)).await
    }

    /// Grants (or, with `revoke`, withdraws) `key`'s right to sign releases
    /// of `scope` (operator only).
    pub async fn change_key(&self, key: &str, scope: &str, revoke: bool) -> Result<NamespaceInfo> {
        let path = if revoke {
            "/v1/keys/revoke"
        } else {
            "/v1/keys/grant"
        };
        let body = serde_json::json!({ "publicKey": key, "scope": scope });
        self.json(self.http.post(self.url(path)).json(&body)).await
    }

    /// Makes `namespace` require signed releases, or not (operator only).
    pub async fn require_signatures(
        &self,
        namespace: &str,
        required: bool,
    ) -> Result<NamespaceInfo> {
        let url = self.url(&format!("/v1/namespaces/{namespace}/policy"));
        let body = serde_json::json!({ "requireSignatures": required });
        self.json(self.http.put(url).json(&body)).await
    }

    /// Every token (operator only).
    pub async fn tokens(&self) -> Result<Vec<Token>> {
        let list: TokenList = self.json(self.http.get(self.url("/v1/tokens"))).await?;
        Ok(list.tokens)
    }

    /// Revokes token `id` (operator only).
    pub async fn revoke_token(&self, id: &str) -> Result<Token> {
        let url = self.url(&format!("/v1/tokens/{id}"));
        self.json(self.http.delete(url)).await
    }
}
