//! A typed client for Depot's `/v1` JSON API (docs/http-api.md).

use anyhow::{Context, Result};
use futures::{Stream, StreamExt};

pub use depot_wire::{
    Annotation, ConsistencyProof, ContentSource, CreateTokenRequest, FeedEntry, FeedPage,
    InclusionProof, NamespaceInfo, Package, PackageSummary, PublishRequest, Release, Signature,
    Token, Unpublished,
};
use depot_wire::{
    AnnotationRequest, ContentSourcesRequest, ErrorBody, KeyRequest, PackagePage, PolicyRequest,
    SearchPage, TakedownRequest, TokenList,
};

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
    pub async fn log_inclusion(&self, seq: u64, size: u64) -> Result<InclusionProof> {
        let path = format!("/v1/log/proof/inclusion?seq={seq}&size={size}");
        self.json(self.http.get(self.url(&path))).await
    }

    /// The proof that the tree of `to` entries extends the tree of `from`.
    pub async fn log_consistency(&self, from: u64, to: u64) -> Result<ConsistencyProof> {
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

    /// The release that `requirement` resolves to, as of log entry `at`
    /// when given, under the trust policy's query parameters `policy`.
    pub async fn resolve(
        &self,
        name: &str,
        requirement: &str,
        at: Option<u64>,
        policy: &[(&str, String)],
    ) -> Result<Release> {
        let mut query = vec![("req", requirement.to_string())];
        if let Some(at) = at {
            query.push(("at", at.to_string()));
        }
        query.extend(policy.iter().cloned());
        let request = self
            .http
            .get(self.url(&format!("/v1/packages/{name}/resolve")))
            .query(&query);
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
        let body = AnnotationRequest {
            type_: kind.to_string(),
            value: value.clone(),
        };
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
        let body = TakedownRequest {
            reason: reason.to_string(),
        };
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

    /// Makes a token (operator only): the token with its secret.
    pub async fn create_token(&self, body: &CreateTokenRequest) -> Result<Token> {
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
        let body = ContentSourcesRequest {
            content_sources: urls
                .iter()
                .map(|url| ContentSource { url: url.clone() })
                .collect(),
        };
        self.json(self.http.post(url).json(&body)).await
    }

    /// Publishes an unpublished release; `body` carries the release digest,
    /// signature and key when it is signed.
    pub async fn publish_unpublished(
        &self,
        publish_url: &str,
        body: &PublishRequest,
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
        let body = KeyRequest {
            public_key: key.to_string(),
            scope: scope.to_string(),
        };
        self.json(self.http.post(self.url(path)).json(&body)).await
    }

    /// Makes `namespace` require signed releases, or not (operator only).
    pub async fn require_signatures(
        &self,
        namespace: &str,
        required: bool,
    ) -> Result<NamespaceInfo> {
        let url = self.url(&format!("/v1/namespaces/{namespace}/policy"));
        let body = PolicyRequest {
            require_signatures: required,
        };
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
