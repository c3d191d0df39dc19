//! What may be cached, for every route in one place ([`policy`]), said with
//! standard headers ([`declare`]): `Cache-Control`, an `ETag`, and the
//! surrogate keys (`Surrogate-Key`, with `Surrogate-Control` for how long a
//! surrogate may keep it) naming what the response depends on, so the host's
//! response cache, or a CDN, drops it when a write changes that.
//!
//! Only reads anyone may make are public: on a private registry, and for any
//! route that checks a token, nothing is. A handler that sets
//! `Cache-Control` itself has the last word on it (the feed's stream, a
//! manifest kept outside the log); the keys are still added.

use depot_protocol::surrogate;

use crate::auth;
use crate::response::Response;
use crate::routes::oci::Route as OciRoute;
use crate::routes::{Route, Target};

/// Content addressed by digest (or a version bound to it for ever): kept for
/// a year, purged only by a takedown.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Anything else anyone may read: stored, but checked again (the `ETag`
/// makes that a 304) before a browser or proxy reuses it; surrogates that
/// get purges keep it for [`SURROGATE_SECONDS`].
const REVALIDATE: &str = "public, no-cache";

/// How long a surrogate (the host's cache, a CDN told of purges) may keep
/// a mutable public response without a purge.
const SURROGATE_SECONDS: u32 = 300;

/// How long it may keep an immutable one.
const SURROGATE_IMMUTABLE_SECONDS: u32 = 31_536_000;

/// What a `GET` or `HEAD` of a route may be cached as.
#[derive(Debug, PartialEq, Eq)]
pub enum Policy {
    /// Depends on a token, or changes on every request: not stored.
    Never,
    /// Anyone's to keep, until a write purges one of `keys`.
    Public { keys: Vec<String>, immutable: bool },
}

/// The policy for reads of `target`.
pub fn policy(target: &Target) -> Policy {
    if auth::private() || auth::access(target).is_some() {
        return Policy::Never;
    }
    let public = |keys: Vec<String>| Policy::Public {
        keys,
        immutable: false,
    };
    let immutable = |keys: Vec<String>| Policy::Public {
        keys,
        immutable: true,
    };
    let log = || vec![surrogate::LOG.to_string()];
    match target {
        Target::Api(route) => match route {
            // "Published at least this long ago" changes with the clock,
            // which purges nothing.
            Route::Resolve { policy, at, .. } if policy.min_age_ms.is_some() && at.is_none() => {
                Policy::Never
            }
            Route::Package { name, .. }
            | Route::Release { name, .. }
            | Route::Resolve { name, .. } => public(surrogate::of_package(name)),
            // A version is bound to its content for ever; a takedown purges it.
            Route::ReleaseContent { name, .. } => immutable(surrogate::of_package(name)),
            // Which release holds the content is found by the handler: any
            // entry purges it (a takedown of any release may be the one).
            Route::Content { .. } => immutable(log()),
            Route::Namespace { namespace } => public(vec![
                surrogate::namespace(namespace),
                surrogate::LOG.to_string(),
            ]),
            Route::ListPackages { .. }
            | Route::Search(..)
            | Route::Stats
            | Route::LogCheckpoint
            | Route::LogKey
            | Route::LogInclusion { .. }
            | Route::LogConsistency { .. } => public(log()),
            Route::OpenApi => public(vec![surrogate::STATIC.to_string()]),
            // The feed waits for entries, or streams them; the rest checks
            // a token or writes.
            _ => Policy::Never,
        },
        Target::Oci(route) => match route {
            OciRoute::Manifest {
                repository,
                reference,
            } => {
                let keys = surrogate::of_package(&repository.package);
                if reference.contains(':') {
                    immutable(keys)
                } else {
                    public(keys)
                }
            }
            OciRoute::Blob { repository, .. } => {
                immutable(surrogate::of_package(&repository.package))
            }
            OciRoute::Tags { repository, .. } => public(surrogate::of_package(&repository.package)),
            // Referrers are pushed outside the log, so an instance would not
            // hear of another's; the rest checks a token.
            _ => Policy::Never,
        },
        Target::Discovery => public(vec![surrogate::STATIC.to_string()]),
        Target::Page => public(log()),
        Target::OciToken => Policy::Never,
    }
}

/// `response` to a read under `policy`, with its caching headers.
pub fn declare(policy: &Policy, response: Response) -> Response {
    let said = response.header("cache-control");
    match policy {
        // Whatever a handler said, what a token unlocked is never public.
        Policy::Never if said.is_none_or(|value| value.contains("public")) => {
            let value = if auth::private() {
                "private, no-store"
            } else {
                "no-store"
            };
            response.set_header("cache-control", value.to_string())
        }
        Policy::Never => response,
        Policy::Public { keys, immutable } if matches!(response.status(), 200 | 304) => {
            let (cache_control, seconds) = if *immutable {
                (IMMUTABLE, SURROGATE_IMMUTABLE_SECONDS)
            } else {
                (REVALIDATE, SURROGATE_SECONDS)
            };
            let mut response = response.with_etag();
            if response.header("cache-control").is_none() {
                response = response.with_header("cache-control", cache_control.to_string());
            }
            // A handler that kept it from public caches (`no-cache` alone:
            // a manifest pushed outside the log) keeps it from surrogates.
            if response
                .header("cache-control")
                .is_some_and(|value| value.contains("public"))
            {
                response = response
                    .with_header("surrogate-control", format!("max-age={seconds}"))
                    .with_header("surrogate-key", keys.join(" "));
            }
            response
        }
        // An error or a redirect: a cache asks again (a 404 may be a
        // release about to land).
        Policy::Public { .. } if said.is_none() => {
            response.with_header("cache-control", "no-cache".to_string())
        }
        Policy::Public { .. } => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Target {
        crate::routes::target("GET", path).expect("routed")
    }

    #[test]
    fn a_packages_reads_name_it_and_its_namespace() {
        for path in [
            "/v1/packages/example:greet",
            "/v1/packages/example:greet/versions/1.0.0",
            "/v2/example/greet/manifests/1.0.0",
            "/v2/example/greet/tags/list",
        ] {
            let Policy::Public { keys, immutable } = policy(&target(path)) else {
                panic!("{path} is not public");
            };
            assert!(!immutable, "{path}");
            assert!(
                keys.contains(&surrogate::package("example:greet")),
                "{path}"
            );
            assert!(keys.contains(&surrogate::namespace("example")), "{path}");
        }
    }

    #[test]
    fn content_by_digest_is_immutable_and_the_feed_never_kept() {
        let digest = format!("sha256:{}", "a".repeat(64));
        for path in [
            format!("/v2/example/greet/blobs/{digest}"),
            format!("/v2/example/greet/manifests/{digest}"),
        ] {
            assert!(
                matches!(
                    policy(&target(&path)),
                    Policy::Public {
                        immutable: true,
                        ..
                    }
                ),
                "{path}"
            );
        }
        assert_eq!(policy(&target("/v1/feed?since=0")), Policy::Never);
        // Which releases are old enough changes with the clock alone.
        assert_eq!(
            policy(&target("/v1/packages/example:greet/resolve?min-age=7d")),
            Policy::Never
        );
        assert_eq!(policy(&target("/v1/tokens")), Policy::Never);
        let search = policy(&target("/v1/search?q=greet"));
        assert_eq!(
            search,
            Policy::Public {
                keys: vec![surrogate::LOG.to_string()],
                immutable: false
            }
        );
    }
}
