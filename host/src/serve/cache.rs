//! The response cache (`--response-cache`): `GET` and `HEAD` answers the
//! handlers declared public (`Cache-Control: public` with a `Surrogate-Key`),
//! kept in memory and answered without instantiating anything, until a write
//! purges one of their keys.
//!
//! Consistency: a write purges its keys (`depot_store::host::Purge`) before
//! its result goes back to the handler, so a read that starts after a write
//! is acknowledged misses and reads afresh. A read that raced the write may
//! have read the state before it: every purge bumps a generation, and a
//! response read under an older generation is not kept. Other instances'
//! writes (a shared database) arrive with the log follower.
//!
//! Bounded: at most `capacity` bytes (bodies, headers and keys), the least
//! recently used going first; a body larger than a sixteenth of that is
//! never kept. Requests with credentials or a `Range` skip it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use super::metrics::Metrics;

/// The header saying whether the cache answered: `hit` or `miss`.
pub const DEPOT_CACHE: HeaderName = HeaderName::from_static("depot-cache");

const SURROGATE_KEY: &str = "surrogate-key";

/// What OCI clients send once `/v2/token` gave them the anonymous token.
static ANONYMOUS_BEARER: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("Bearer {}", depot_protocol::token::ANONYMOUS));
const SURROGATE_CONTROL: &str = "surrogate-control";

/// The largest body kept, at most: a 4 MiB component is worth keeping; more
/// would crowd out the small answers the cache is for.
const MAX_ENTRY: u64 = 4 << 20;

/// Bytes counted for an entry beyond its body, headers and key (the maps'
/// own overhead).
const ENTRY_OVERHEAD: usize = 256;

/// How long a response without a `max-age` for surrogates is kept at most.
const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// The response cache of one server.
pub struct ResponseCache {
    capacity: usize,
    max_entry: u64,
    inner: Mutex<Inner>,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Inner {
    /// Bumped by every purge.
    generation: u64,
    /// Bumped by every use, for least-recently-used order.
    tick: u64,
    bytes: usize,
    entries: HashMap<Arc<str>, Entry>,
    /// Entries by their last use.
    recency: BTreeMap<u64, Arc<str>>,
    /// Entries by the surrogate keys they name.
    by_key: HashMap<String, HashSet<Arc<str>>>,
}

struct Entry {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    keys: Vec<String>,
    stored: Instant,
    expires: Instant,
    tick: u64,
    size: usize,
}

/// What a lookup found.
pub enum Lookup {
    /// The cached answer.
    Hit(Response<HyperOutgoingBody>),
    /// Not cached: answer it, then offer the answer with [`ResponseCache::keep`].
    Miss(Fill),
    /// Not for the cache (not a read, credentials, a range).
    Bypass,
}

/// A read the cache missed: where its answer goes, and the generation it
/// was read under.
pub struct Fill {
    key: Arc<str>,
    generation: u64,
    head: bool,
    if_none_match: Option<HeaderValue>,
}

impl ResponseCache {
    /// A cache of at most `capacity` bytes, counting into `metrics`.
    pub fn new(capacity: u64, metrics: Arc<Metrics>) -> Self {
        Self {
            capacity: usize::try_from(capacity).unwrap_or(usize::MAX),
            max_entry: (capacity / 16).min(MAX_ENTRY),
            inner: Mutex::new(Inner::default()),
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every statement leaves the maps consistent: a panic cannot corrupt them.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Looks `req` up.
    pub fn lookup<B>(&self, req: &Request<B>) -> Lookup {
        let head = match *req.method() {
            Method::GET => false,
            Method::HEAD => true,
            _ => return Lookup::Bypass,
        };
        let headers = req.headers();
        // What a token unlocked is never cached (the anonymous token of
        // docker's flow unlocks nothing); a range is a part.
        let credential = headers
            .get(header::AUTHORIZATION)
            .is_some_and(|value| value != ANONYMOUS_BEARER.as_str());
        if credential || headers.contains_key(header::RANGE) {
            return Lookup::Bypass;
        }
        let host = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let key: Arc<str> = format!("{host} {target}").into();
        let if_none_match = headers.get(header::IF_NONE_MATCH).cloned();
        // A client asking a cache to check again (a reload) gets a fresh answer.
        let fresh = ["no-cache", "max-age=0"].iter().any(|asked| {
            headers
                .get_all(header::CACHE_CONTROL)
                .iter()
                .chain(headers.get_all(header::PRAGMA))
                .any(|value| value.to_str().is_ok_and(|value| value.contains(asked)))
        });
        let mut inner = self.lock();
        let generation = inner.generation;
        if !fresh && let Some(response) = inner.answer(&key, head, if_none_match.as_ref()) {
            drop(inner);
            self.metrics.response_cache_lookup(true);
            return Lookup::Hit(response);
        }
        drop(inner);
        self.metrics.response_cache_lookup(false);
        Lookup::Miss(Fill {
            key,
            generation,
            head,
            if_none_match,
        })
    }

    /// The handlers' `response` to the read `fill` missed: kept when they
    /// declared it public and nothing was purged since the read began, and
    /// returned (as a 304 when the client has it).
    pub async fn keep(
        &self,
        fill: Fill,
        response: Response<HyperOutgoingBody>,
    ) -> Response<HyperOutgoingBody> {
        let Some(keys) = self.keepable(&fill, &response) else {
            return mark(response, "miss");
        };
        let (parts, body) = response.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                // The handlers failed mid-body: answer as they would have,
                // cut short, and keep nothing.
                tracing::debug!(error = ?e, "a cacheable response's body failed");
                let failed = FailedBody(Some(e)).boxed_unsync();
                return mark(Response::from_parts(parts, failed), "miss");
            }
        };
        let now = Instant::now();
        let ttl = surrogate_max_age(&parts.headers).unwrap_or(DEFAULT_TTL);
        let entry = Entry {
            status: parts.status,
            size: body.len()
                + key_size(&fill.key)
                + headers_size(&parts.headers)
                + keys.iter().map(String::len).sum::<usize>()
                + ENTRY_OVERHEAD,
            headers: parts.headers,
            body,
            keys,
            stored: now,
            expires: now + ttl,
            tick: 0,
        };
        let answer = {
            let mut inner = self.lock();
            let answer = entry.respond(now, false, fill.if_none_match.as_ref());
            if inner.generation == fill.generation && entry.size <= self.capacity {
                inner.insert(fill.key, entry, self.capacity);
            }
            self.metrics
                .response_cache_size(inner.bytes, inner.entries.len());
            answer
        };
        mark(answer, "miss")
    }

    /// The surrogate keys `response` is kept under, if it may be kept.
    fn keepable(&self, fill: &Fill, response: &Response<HyperOutgoingBody>) -> Option<Vec<String>> {
        if fill.head || response.status() != StatusCode::OK {
            return None;
        }
        let headers = response.headers();
        let public = headers
            .get_all(header::CACHE_CONTROL)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .fold((false, false), |(public, barred), directive| {
                (
                    public || directive.eq_ignore_ascii_case("public"),
                    barred
                        || directive.eq_ignore_ascii_case("private")
                        || directive.eq_ignore_ascii_case("no-store"),
                )
            });
        if public != (true, false) || headers.contains_key(header::SET_COOKIE) {
            return None;
        }
        let length: u64 = headers
            .get(header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .parse()
            .ok()?;
        if length > self.max_entry {
            return None;
        }
        let keys: Vec<String> = headers
            .get(SURROGATE_KEY)?
            .to_str()
            .ok()?
            .split_ascii_whitespace()
            .map(str::to_string)
            .collect();
        (!keys.is_empty()).then_some(keys)
    }

    /// Drops every response naming one of `keys`; reads in flight keep
    /// nothing.
    pub fn purge(&self, keys: &[String]) {
        let mut inner = self.lock();
        inner.generation += 1;
        let mut dropped = 0;
        for key in keys {
            let Some(names) = inner.by_key.remove(key) else {
                continue;
            };
            for name in names {
                dropped += u64::from(inner.remove(&name));
            }
        }
        self.metrics
            .response_cache_size(inner.bytes, inner.entries.len());
        drop(inner);
        self.metrics.response_cache_purged(dropped);
    }
}

impl Inner {
    /// The answer from the entry `key`, if it is there and fresh.
    fn answer(
        &mut self,
        key: &Arc<str>,
        head: bool,
        if_none_match: Option<&HeaderValue>,
    ) -> Option<Response<HyperOutgoingBody>> {
        let now = Instant::now();
        if now >= self.entries.get(key)?.expires {
            self.remove(key);
            return None;
        }
        self.tick += 1;
        let tick = self.tick;
        let entry = self.entries.get_mut(key)?;
        let previous = std::mem::replace(&mut entry.tick, tick);
        let response = entry.respond(now, head, if_none_match);
        self.recency.remove(&previous);
        self.recency.insert(tick, key.clone());
        Some(response)
    }

    fn insert(&mut self, key: Arc<str>, mut entry: Entry, capacity: usize) {
        self.remove(&key);
        while self.bytes + entry.size > capacity {
            let Some((_, oldest)) = self.recency.pop_first() else {
                break;
            };
            self.remove(&oldest);
        }
        self.tick += 1;
        entry.tick = self.tick;
        self.recency.insert(self.tick, key.clone());
        for surrogate in &entry.keys {
            self.by_key
                .entry(surrogate.clone())
                .or_default()
                .insert(key.clone());
        }
        self.bytes += entry.size;
        self.entries.insert(key, entry);
    }

    /// Removes the entry `key`; whether there was one.
    fn remove(&mut self, key: &Arc<str>) -> bool {
        let Some(entry) = self.entries.remove(key) else {
            return false;
        };
        self.bytes -= entry.size;
        self.recency.remove(&entry.tick);
        for surrogate in &entry.keys {
            if let Some(names) = self.by_key.get_mut(surrogate) {
                names.remove(key);
                if names.is_empty() {
                    self.by_key.remove(surrogate);
                }
            }
        }
        true
    }
}

impl Entry {
    /// The response it keeps: headers only for `HEAD`, a 304 when the
    /// client's `If-None-Match` names its `ETag`.
    fn respond(
        &self,
        now: Instant,
        head: bool,
        if_none_match: Option<&HeaderValue>,
    ) -> Response<HyperOutgoingBody> {
        let current = match (if_none_match, self.headers.get(header::ETAG)) {
            (Some(wanted), Some(etag)) => etag_matches(wanted, etag),
            _ => false,
        };
        let (status, body) = if current {
            (StatusCode::NOT_MODIFIED, Bytes::new())
        } else if head {
            (self.status, Bytes::new())
        } else {
            (self.status, self.body.clone())
        };
        let mut response = Response::new(
            Full::new(body)
                .map_err(|never| match never {})
                .boxed_unsync(),
        );
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.clone_from(&self.headers);
        if current {
            headers.remove(header::CONTENT_LENGTH);
        }
        headers.insert(
            header::AGE,
            HeaderValue::from(now.duration_since(self.stored).as_secs()),
        );
        response
    }
}

/// Whether an `If-None-Match` list names `etag` (weakly compared) or is `*`.
fn etag_matches(wanted: &HeaderValue, etag: &HeaderValue) -> bool {
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    let bare = |tag: &str| tag.strip_prefix("W/").unwrap_or(tag).to_string();
    let etag = bare(etag);
    wanted.to_str().is_ok_and(|wanted| {
        wanted
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || bare(tag) == etag)
    })
}

/// The `max-age` of `Surrogate-Control`, else the `s-maxage` or `max-age`
/// of `Cache-Control`.
fn surrogate_max_age(headers: &HeaderMap) -> Option<Duration> {
    let seconds = |name: &str, directive: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .find_map(|part| {
                part.trim()
                    .strip_prefix(directive)
                    .and_then(|rest| rest.strip_prefix('='))
                    .and_then(|n| n.trim().parse::<u64>().ok())
            })
            .map(Duration::from_secs)
    };
    seconds(SURROGATE_CONTROL, "max-age")
        .or_else(|| seconds(header::CACHE_CONTROL.as_str(), "s-maxage"))
        .or_else(|| seconds(header::CACHE_CONTROL.as_str(), "max-age"))
}

fn key_size(key: &str) -> usize {
    // Once in the entry map, once in the recency map, and once per surrogate key.
    key.len() * 3
}

fn headers_size(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 16)
        .sum()
}

/// `response`, saying whether the cache answered it.
pub fn mark(
    mut response: Response<HyperOutgoingBody>,
    how: &'static str,
) -> Response<HyperOutgoingBody> {
    response
        .headers_mut()
        .insert(DEPOT_CACHE, HeaderValue::from_static(how));
    response
}

/// A body whose first frame is an error: the handlers' body failed after
/// its head was read.
struct FailedBody(Option<wasmtime_wasi_http::Error>);

impl hyper::body::Body for FailedBody {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.take().map(Err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(capacity: u64) -> ResponseCache {
        ResponseCache::new(capacity, Arc::new(Metrics::new(1)))
    }

    fn get(path: &str) -> Request<()> {
        Request::get(path)
            .header("host", "registry")
            .body(())
            .unwrap()
    }

    /// A GET of `path` with the header `name: value`.
    fn get_with(path: &str, name: &str, value: &str) -> Request<()> {
        Request::get(path)
            .header("host", "registry")
            .header(name, value)
            .body(())
            .unwrap()
    }

    /// A public response naming `keys`, as the api handler makes one.
    fn public(body: &'static str, keys: &str) -> Response<HyperOutgoingBody> {
        Response::builder()
            .header("cache-control", "public, no-cache")
            .header("surrogate-key", keys)
            .header("surrogate-control", "max-age=300")
            .header("etag", format!("\"{}\"", body.len()))
            .header("content-length", body.len())
            .body(
                Full::new(Bytes::from(body))
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .unwrap()
    }

    async fn body(response: Response<HyperOutgoingBody>) -> Bytes {
        response.into_body().collect().await.unwrap().to_bytes()
    }

    /// Misses `path`, answers it with `response`, and returns what the
    /// client got.
    async fn fill(
        cache: &ResponseCache,
        path: &str,
        response: Response<HyperOutgoingBody>,
    ) -> Bytes {
        let Lookup::Miss(fill) = cache.lookup(&get(path)) else {
            panic!("{path} was not a miss");
        };
        body(cache.keep(fill, response).await).await
    }

    fn hit(cache: &ResponseCache, request: &Request<()>) -> Option<Response<HyperOutgoingBody>> {
        match cache.lookup(request) {
            Lookup::Hit(response) => Some(response),
            _ => None,
        }
    }

    #[tokio::test]
    async fn a_kept_answer_is_served_until_a_key_it_names_is_purged() {
        let cache = cache(1 << 20);
        assert_eq!(
            fill(&cache, "/a", public("alpha", "package/x log")).await,
            "alpha"
        );
        fill(&cache, "/b", public("beta", "package/y log")).await;
        let again = hit(&cache, &get("/a")).expect("a hit");
        assert_eq!(again.headers()["etag"], "\"5\"");
        assert!(again.headers().contains_key("age"));
        assert_eq!(body(again).await, "alpha");
        // Another host's page is another answer.
        let other = Request::get("/a")
            .header("host", "elsewhere")
            .body(())
            .unwrap();
        assert!(hit(&cache, &other).is_none());

        cache.purge(&["package/x".to_string()]);
        assert!(hit(&cache, &get("/a")).is_none(), "purged by its key");
        assert!(
            hit(&cache, &get("/b")).is_some(),
            "another package's is kept"
        );
        cache.purge(&["log".to_string()]);
        assert!(hit(&cache, &get("/b")).is_none());
    }

    #[tokio::test]
    async fn a_read_that_raced_a_purge_is_not_kept() {
        let cache = cache(1 << 20);
        let Lookup::Miss(fill) = cache.lookup(&get("/a")) else {
            panic!("a miss");
        };
        // A write commits and purges while the read is in flight: what the
        // read saw may be from before the write.
        cache.purge(&["unrelated".to_string()]);
        let answered = cache.keep(fill, public("stale", "package/x")).await;
        assert_eq!(body(answered).await, "stale");
        assert!(hit(&cache, &get("/a")).is_none());
    }

    #[tokio::test]
    async fn only_public_whole_small_answers_without_credentials_are_kept() {
        let cache = cache(16 * 1024);
        let private = Response::builder()
            .header("cache-control", "private, no-store")
            .header("surrogate-key", "log")
            .header("content-length", "2")
            .body(
                Full::new(Bytes::from("no"))
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
            .unwrap();
        fill(&cache, "/private", private).await;
        assert!(hit(&cache, &get("/private")).is_none());
        let mut unkeyed = public("x", "log");
        unkeyed.headers_mut().remove("surrogate-key");
        fill(&cache, "/unkeyed", unkeyed).await;
        assert!(hit(&cache, &get("/unkeyed")).is_none());
        // Larger than a sixteenth of the cache.
        let big: &'static str = Box::leak("b".repeat(2048).into_boxed_str());
        fill(&cache, "/big", public(big, "log")).await;
        assert!(hit(&cache, &get("/big")).is_none());

        fill(&cache, "/a", public("alpha", "log")).await;
        let anonymous = get_with("/a", "authorization", "Bearer anonymous");
        assert!(
            hit(&cache, &anonymous).is_some(),
            "the anonymous token unlocks nothing"
        );
        for skipped in [
            get_with("/a", "authorization", "Bearer t"),
            get_with("/a", "range", "bytes=0-1"),
            Request::post("/a")
                .header("host", "registry")
                .body(())
                .unwrap(),
        ] {
            assert!(matches!(cache.lookup(&skipped), Lookup::Bypass));
        }
        assert!(hit(&cache, &get("/a")).is_some());
    }

    #[tokio::test]
    async fn conditional_and_head_requests_are_answered_from_the_entry() {
        let cache = cache(1 << 20);
        fill(&cache, "/a", public("alpha", "log")).await;
        let conditional = get_with("/a", "if-none-match", "\"zzz\", W/\"5\"");
        let current = hit(&cache, &conditional).expect("a hit");
        assert_eq!(current.status(), StatusCode::NOT_MODIFIED);
        assert!(!current.headers().contains_key("content-length"));
        assert!(body(current).await.is_empty());
        let head = Request::head("/a")
            .header("host", "registry")
            .body(())
            .unwrap();
        let head = hit(&cache, &head).expect("a hit");
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers()["content-length"], "5");
        assert!(body(head).await.is_empty());
    }

    #[tokio::test]
    async fn the_least_recently_used_answer_goes_first_when_full() {
        let cache = cache(16 * 1024);
        let entry: &'static str = Box::leak("e".repeat(1000).into_boxed_str());
        let paths: Vec<String> = (1..=20).map(|n| format!("/{n}")).collect();
        for path in &paths {
            fill(&cache, path, public(entry, "log")).await;
            // The first is read after every fill: never the least recent.
            assert!(hit(&cache, &get("/1")).is_some(), "after {path}");
        }
        let kept: Vec<bool> = paths
            .iter()
            .map(|path| hit(&cache, &get(path)).is_some())
            .collect();
        assert!(kept[19], "the newest is kept");
        assert!(!kept[1], "the least recently used went first: {kept:?}");
        let held = kept.iter().filter(|k| **k).count();
        assert!((2..20).contains(&held), "{kept:?}");
        let inner = cache.lock();
        assert!(inner.bytes <= cache.capacity);
        assert_eq!(inner.entries.len(), held);
        assert_eq!(inner.recency.len(), held);
    }
}
