//! Surrogate keys: the names a cacheable response gives (in `Surrogate-Key`)
//! for what it depends on, and a write purges. The api handler names them on
//! its responses; the host's response cache (and a CDN in front) drops every
//! response naming a key a committed write purges. One definition for both
//! sides, so a response is never kept under a key no write purges.

/// Every response that depends on the log as a whole (search, listings,
/// statistics, the checkpoint, resolution, the web pages): purged by every
/// log entry.
pub const LOG: &str = "log";

/// Responses that no write changes (the API's description, the web view's
/// assets).
pub const STATIC: &str = "static";

/// What a package's responses depend on: its releases, their content, its
/// OCI repository.
pub fn package(name: &str) -> String {
    format!("package/{name}")
}

/// What depends on a namespace's policy and key grants: every package in it.
pub fn namespace(namespace: &str) -> String {
    format!("namespace/{namespace}")
}

/// The keys a log entry on `name` purges: the log's, and the package's when
/// `name` is a package, or the namespace's when it is a namespace (a grant,
/// a revocation, a signing requirement).
pub fn purged_by_entry(name: &str) -> Vec<String> {
    let scoped = if name.contains(':') {
        package(name)
    } else {
        namespace(name)
    };
    vec![LOG.to_string(), scoped]
}

/// The keys of a package's responses: the package's and its namespace's.
pub fn of_package(name: &str) -> Vec<String> {
    vec![package(name), namespace(crate::token::namespace_of(name))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_purges_what_its_package_or_namespace_responses_name() {
        let responses = of_package("example:greet");
        let release = purged_by_entry("example:greet");
        assert!(release.contains(&responses[0]));
        assert!(release.contains(&LOG.to_string()));
        // A namespace's grant reaches every package response in it, and no
        // other namespace's.
        let grant = purged_by_entry("example");
        assert!(grant.contains(&responses[1]));
        assert!(!purged_by_entry("other").contains(&responses[1]));
        // Keys are header tokens: no spaces.
        for key in responses.iter().chain(&release) {
            assert!(!key.contains(' '), "{key}");
        }
    }
}
