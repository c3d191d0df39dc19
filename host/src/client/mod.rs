//! The `depot` command-line client: publish, get, lock, audit, yank, unyank,
//! annotate, takedown, info, list, search, verify, and tokens, keys and
//! namespaces.

#[macro_use]
mod output;

mod advisory;
mod api;
mod fetch;
mod lock;
mod policy;
mod signing;
mod spec;
mod token;
mod transparency;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use depot_protocol::{PackageName, parse_requirement, parse_version};
use indicatif::ProgressBar;

use advisory::advisories;
pub use api::{FeedEntry, Registry, RegistryError, Release};
use fetch::{checked_log, destination, download, progress_bar};
pub use output::stdout_closed;
use spec::{release_spec, split_spec};

/// The most search results the CLI shows.
const SEARCH_MAX: usize = 1000;
/// Bytes read from disk per upload chunk.
const UPLOAD_CHUNK: usize = 256 * 1024;

/// Where the client finds the registry.
#[derive(Args)]
pub struct RegistryArgs {
    /// The registry's URL.
    #[arg(
        long,
        env = "DEPOT_REGISTRY",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub registry: String,

    /// The token for writes (and for reads of a private registry).
    #[arg(long, env = "DEPOT_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
}

/// Shows whether a token is given, never the token.
impl std::fmt::Debug for RegistryArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryArgs")
            .field("registry", &self.registry)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The client's subcommands.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Publish a release: `depot publish example:greet@1.0.0 greet.wasm`.
    Publish {
        /// `namespace:name@version`.
        release: String,
        /// The component, WIT package or core module to publish.
        file: PathBuf,
        /// Sign the release with the key in this file (`depot key new`),
        /// publishing it through the two-phase publish API.
        #[arg(long, value_name = "KEY_FILE")]
        sign: Option<PathBuf>,
        /// Have the registry fetch the content from this URL instead of
        /// uploading it (repeatable; the registry checks the digest).
        #[arg(long, value_name = "URL")]
        content_source: Vec<String>,
        /// The release manifest's packageType (`component`, `wit-package`,
        /// `core-module`); default: read from the file's header.
        #[arg(long, value_name = "TYPE")]
        package_type: Option<String>,
    },
    /// Fetch the release a requirement resolves to (under the trust policy
    /// in `depot.policy.toml` and the flags), checking its digest, signature
    /// and log entry; with `--locked`, exactly the releases a lockfile pins.
    Get {
        /// `namespace:name` or `namespace:name@requirement` (e.g.
        /// `example:greet@^1.2`); with `--locked`, only this package's
        /// locked releases.
        #[arg(required_unless_present = "locked")]
        package: Option<String>,
        /// Where to write it (`-` for stdout); default `<name>-<version>.wasm`.
        /// With `--locked` and several releases, a folder.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Fetch the releases the lockfile pins, checked against its digests,
        /// log indexes and checkpoint.
        #[arg(long)]
        locked: bool,
        /// The lockfile `--locked` reads.
        #[arg(long, value_name = "FILE", default_value = lock::LOCK_FILE)]
        lockfile: PathBuf,
        #[command(flatten)]
        policy: policy::PolicyArgs,
    },
    /// Resolve requirements as of the registry's signed checkpoint (under the
    /// trust policy) and pin each release's version, digest and log index in
    /// a lockfile `wkg` reads too: `depot lock example:greet@^1.2`. Without
    /// requirements, re-resolves every one the lockfile holds.
    Lock {
        /// `namespace:name@requirement`…
        requirements: Vec<String>,
        /// The lockfile to write (it keeps what it locked for other requirements).
        #[arg(long, value_name = "FILE", default_value = lock::LOCK_FILE)]
        lockfile: PathBuf,
        #[command(flatten)]
        policy: policy::PolicyArgs,
    },
    /// Check the releases a lockfile pins: each still in the signed log at
    /// its locked entry, and not yanked, taken down or under an advisory
    /// since. Exits non-zero when it finds anything.
    Audit {
        /// The lockfile.
        #[arg(default_value = lock::LOCK_FILE)]
        lockfile: PathBuf,
        /// Print the findings as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Mark a release unfit for use; it stays fetchable by exact version.
    Yank {
        /// `namespace:name@version`.
        release: String,
    },
    /// Undo a yank.
    Unyank {
        /// `namespace:name@version`.
        release: String,
    },
    /// Add a typed fact to a release: `depot annotate example:greet@1.0.0
    /// --type review --value '{"verdict":"ok"}'`.
    Annotate {
        /// `namespace:name@version`.
        release: String,
        /// What kind of fact (lowercase letters, digits, `-`, `.`).
        #[arg(long = "type", value_name = "TYPE")]
        kind: String,
        /// The fact as JSON; text that is not JSON is sent as a JSON string.
        #[arg(long)]
        value: String,
    },
    /// Take a release down (operator): its content is removed, a tombstone
    /// with the reason stays.
    Takedown {
        /// `namespace:name@version`.
        release: String,
        /// Why, shown to everyone who asks for the release.
        #[arg(long)]
        reason: String,
    },
    /// Show a package's versions, or one release's metadata.
    Info {
        /// `namespace:name` or `namespace:name@version`.
        package: String,
        /// Print the registry's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Search packages by text (name, then description), by an interface they
    /// export or import, by license and kind: `depot search --exports
    /// wasi:http/incoming-handler`.
    Search {
        /// Words to look for; an exact package name ranks first.
        text: Option<String>,
        /// An interface exported, with or without `@version`.
        #[arg(long, value_name = "INTERFACE")]
        exports: Option<String>,
        /// An interface imported, with or without `@version`.
        #[arg(long, value_name = "INTERFACE")]
        imports: Option<String>,
        /// An SPDX license identifier or expression.
        #[arg(long)]
        license: Option<String>,
        /// `component`, `wit-package` or `core-module`.
        #[arg(long)]
        kind: Option<String>,
        /// A semver requirement the release must meet.
        #[arg(long = "version", value_name = "REQUIREMENT")]
        requirement: Option<String>,
        /// Print the registry's JSON.
        #[arg(long)]
        json: bool,
    },
    /// List every package.
    List {
        /// Print the registry's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Audit the registry: every log entry against its signed checkpoint (and
    /// that checkpoint against the last one this client saw), and every
    /// package and release it serves against its log.
    Verify,
    /// Manage who may publish (operator): `depot token create --namespace NS`,
    /// `depot token list`, `depot token revoke ID`.
    Token {
        #[command(subcommand)]
        command: token::TokenCommand,
    },
    /// Signing keys: make one, and (the operator) grant or revoke its right
    /// to sign a namespace's or a package's releases.
    Key {
        #[command(subcommand)]
        command: signing::KeyCommand,
    },
    /// A namespace's signing policy: show it, or (the operator) require signatures.
    Namespace {
        #[command(subcommand)]
        command: signing::NamespaceCommand,
    },
}

/// Runs one client command against the registry at `registry`.
pub async fn run(command: ClientCommand, registry: &RegistryArgs) -> Result<()> {
    let token = registry.token.as_deref();
    let registry = Registry::new(&registry.registry)?.with_token(token)?;
    match command {
        ClientCommand::Publish {
            release,
            file,
            sign,
            content_source,
            package_type,
        } => {
            token::require(token, "publishing")?;
            if sign.is_none() && content_source.is_empty() && package_type.is_none() {
                return publish(&registry, &release, &file).await;
            }
            let (name, version) = release_spec(&release)?;
            refuse_existing(&registry, &name, &version).await?;
            let how = signing::TwoPhase {
                sign,
                content_sources: content_source,
                package_type,
            };
            let release = signing::publish(&registry, &name, &version, &file, how).await?;
            let signed = match &release.signature {
                Some(signature) => format!(", signed by {}", signature.public_key),
                None => String::new(),
            };
            outln!(
                "published {}@{} ({}, {} bytes, {}{signed})",
                release.name,
                release.version,
                release.metadata.kind,
                release.size,
                release.digest
            );
            Ok(())
        }
        ClientCommand::Get {
            package,
            output,
            locked,
            lockfile,
            policy,
        } => {
            if locked {
                if policy.any() {
                    bail!(
                        "a lockfile pins exact releases, so --locked takes no trust policy; \
                         give the policy to `depot lock`"
                    );
                }
                return lock::get_locked(&registry, &lockfile, package.as_deref(), output).await;
            }
            let policy = policy::Policy::load(&policy, Path::new("."))?;
            let package = package.unwrap_or_default();
            get(&registry, &package, output, &policy).await
        }
        ClientCommand::Lock {
            requirements,
            lockfile,
            policy,
        } => {
            let policy = policy::Policy::load(&policy, Path::new("."))?;
            lock::lock(&registry, &requirements, &lockfile, &policy).await
        }
        ClientCommand::Audit { lockfile, json } => lock::audit(&registry, &lockfile, json).await,
        ClientCommand::Yank { release } => set_yanked(&registry, &release, true).await,
        ClientCommand::Unyank { release } => set_yanked(&registry, &release, false).await,
        ClientCommand::Annotate {
            release,
            kind,
            value,
        } => annotate(&registry, &release, &kind, &value).await,
        ClientCommand::Takedown { release, reason } => {
            let (name, version) = release_spec(&release)?;
            let release = registry.takedown(name.as_str(), &version, &reason).await?;
            let reason = release.takedown.map(|t| t.reason).unwrap_or_default();
            outln!(
                "{}@{} is taken down: {reason}",
                release.name,
                release.version
            );
            Ok(())
        }
        ClientCommand::Info { package, json } => info(&registry, &package, json).await,
        ClientCommand::Verify => verify(&registry).await,
        ClientCommand::Search {
            text,
            exports,
            imports,
            license,
            kind,
            requirement,
            json,
        } => {
            let params: Vec<(&str, String)> = [
                ("q", text),
                ("exports", exports),
                ("imports", imports),
                ("license", license),
                ("kind", kind),
                ("version", requirement),
            ]
            .into_iter()
            .filter_map(|(key, value)| Some((key, value?)))
            .collect();
            let results = registry.search(&params, SEARCH_MAX).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&results)?);
            } else if results.is_empty() {
                outln!("no package matches");
            } else {
                for release in &results {
                    let description = release.metadata.description.as_deref().unwrap_or("");
                    outln!("{}@{}  {description}", release.name, release.version);
                }
            }
            Ok(())
        }
        ClientCommand::List { json } => list(&registry, json).await,
        ClientCommand::Token { command } => token::run(&registry, command).await,
        ClientCommand::Key { command } => signing::run_key(&registry, command).await,
        ClientCommand::Namespace { command } => signing::run_namespace(&registry, command).await,
    }
}

async fn publish(registry: &Registry, spec: &str, file: &Path) -> Result<()> {
    let (name, version) = release_spec(spec)?;
    refuse_existing(registry, &name, &version).await?;
    let (size, body, bar) = file_body(file).await?;
    let release = registry.publish(name.as_str(), &version, size, body).await;
    bar.finish_and_clear();
    let release = release?;
    outln!(
        "published {}@{} ({}, {} bytes, {})",
        release.name,
        release.version,
        release.metadata.kind,
        release.size,
        release.digest
    );
    Ok(())
}

/// Fails when `version` of `name` is released. The registry refuses a second
/// release of a version before reading the body, but a large body still in
/// flight can turn that answer into a reset connection; asking first gives
/// the clear message.
async fn refuse_existing(registry: &Registry, name: &PackageName, version: &str) -> Result<()> {
    if let Ok(existing) = registry.release(name.as_str(), version).await {
        bail!(
            "{name}@{version} is already released (digest {}); releases are immutable: \
             publish a new version (version-exists)",
            existing.digest
        );
    }
    Ok(())
}

/// `file` as an upload body in chunks, its size, and the progress bar the
/// chunks advance.
async fn file_body(
    file: &Path,
) -> Result<(
    u64,
    impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    ProgressBar,
)> {
    let reader = tokio::fs::File::open(file)
        .await
        .with_context(|| format!("cannot open {}", file.display()))?;
    let size = reader.metadata().await?.len();
    let bar = progress_bar(size, "publishing");
    let progress = bar.clone();
    let body = futures::stream::unfold((reader, Vec::new()), move |(mut reader, mut buf)| {
        let progress = progress.clone();
        async move {
            use tokio::io::AsyncReadExt;
            buf.resize(UPLOAD_CHUNK, 0);
            match reader.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    progress.inc(n as u64);
                    let chunk = bytes::Bytes::copy_from_slice(&buf[..n]);
                    Some((Ok(chunk), (reader, buf)))
                }
                Err(e) => Some((Err(e), (reader, buf))),
            }
        }
    });
    Ok((size, body, bar))
}

async fn get(
    registry: &Registry,
    spec: &str,
    output: Option<PathBuf>,
    policy: &policy::Policy,
) -> Result<()> {
    let (name, requirement) = split_spec(spec)?;
    let requirement = requirement.unwrap_or("*");
    parse_requirement(requirement)?;
    let release = registry
        .resolve(name.as_str(), requirement, None, &policy.query())
        .await?;
    policy.check(&release)?;
    let to = destination(output, &name, &release.version);
    let content = download(registry, &release, to.as_deref()).await?;
    content.check(&release, &release.digest)?;
    // Nothing is written unless a signed release's signature holds, the
    // release is in the registry's signed log, and that log extends the one
    // this client saw before.
    let signer = signing::check_signature(&release, &content.digest)?;
    let log = checked_log(registry).await?;
    transparency::check_release(registry, &log.checkpoint, &release, &content.digest).await?;
    content.finish(&release)?;
    if let Some(key) = signer {
        eprintln!("signature by {key} verified");
    }
    Ok(())
}

async fn verify(registry: &Registry) -> Result<()> {
    let (problems, entries) = transparency::audit(registry).await?;
    if problems.is_empty() {
        outln!(
            "{}: {entries} log entries match the signed checkpoint, and every package and \
             release served matches the log",
            registry.base()
        );
        return Ok(());
    }
    for problem in &problems {
        outln!("{problem}");
    }
    bail!(
        "{} problem(s) found auditing {} ({entries} log entries)",
        problems.len(),
        registry.base()
    )
}

async fn set_yanked(registry: &Registry, spec: &str, yank: bool) -> Result<()> {
    let (name, version) = release_spec(spec)?;
    let release = registry.set_yanked(name.as_str(), &version, yank).await?;
    let state = if release.yanked {
        "yanked"
    } else {
        "not yanked"
    };
    outln!("{}@{} is {state}", release.name, release.version);
    Ok(())
}

async fn annotate(registry: &Registry, spec: &str, kind: &str, value: &str) -> Result<()> {
    let (name, version) = release_spec(spec)?;
    let value = serde_json::from_str(value)
        .unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
    let release = registry
        .annotate(name.as_str(), &version, kind, &value)
        .await?;
    outln!(
        "{}@{} has {} annotation(s)",
        release.name,
        release.version,
        release.annotations.len()
    );
    Ok(())
}

async fn info(registry: &Registry, spec: &str, json: bool) -> Result<()> {
    let (name, version) = split_spec(spec)?;
    match version {
        Some(version) => {
            parse_version(version)?;
            let release = registry.release(name.as_str(), version).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&release)?);
            } else {
                print_release(&release)?;
                // Advisories made on any release of the package may
                // concern this one.
                let package = registry.package(name.as_str()).await?;
                let advisories = advisories(&package, &release.version);
                if !advisories.is_empty() {
                    outln!("advisories:");
                    for advisory in advisories {
                        outln!("  {advisory}");
                    }
                }
            }
        }
        None => {
            let package = registry.package(name.as_str()).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&package)?);
                return Ok(());
            }
            outln!("{}", package.name);
            outln!("latest: {}", package.latest.as_deref().unwrap_or("(none)"));
            if let Some(description) = package
                .versions
                .iter()
                .find_map(|r| r.metadata.description.as_deref())
            {
                outln!("description: {description}");
            }
            outln!("versions:");
            for r in &package.versions {
                let yanked = if r.yanked { "  (yanked)" } else { "" };
                let advised = match advisories(&package, &r.version).len() {
                    0 => String::new(),
                    1 => "  (1 advisory)".to_string(),
                    n => format!("  ({n} advisories)"),
                };
                outln!(
                    "  {:<16} {:>10} bytes  {}  {}{yanked}{advised}",
                    r.version,
                    r.size,
                    r.published_at,
                    r.digest
                );
            }
        }
    }
    Ok(())
}

fn print_release(r: &Release) -> Result<()> {
    outln!(
        "{}@{}{}",
        r.name,
        r.version,
        if r.yanked { " (yanked)" } else { "" }
    );
    outln!("kind:        {}", r.metadata.kind);
    outln!("digest:      {}", r.digest);
    outln!("size:        {} bytes", r.size);
    outln!("published:   {}", r.published_at);
    if let Some(takedown) = &r.takedown {
        outln!("TAKEN DOWN:  {} ({})", takedown.reason, takedown.time);
    }
    if let Some(signature) = &r.signature {
        outln!("signed by:   {}", signature.public_key);
    }
    let m = &r.metadata;
    for (label, value) in [
        ("description", &m.description),
        ("authors", &m.authors),
        ("licenses", &m.licenses),
        ("source", &m.source),
        ("homepage", &m.homepage),
        ("revision", &m.revision),
    ] {
        if let Some(value) = value {
            outln!("{:<12} {value}", format!("{label}:"));
        }
    }
    for (label, items) in [("imports", &m.imports), ("exports", &m.exports)] {
        if !items.is_empty() {
            outln!("{label}:");
            for item in items {
                outln!("  {item}");
            }
        }
    }
    if let Some(registry) = &m.registry {
        for link in &registry.links {
            outln!(
                "{:<12} {}",
                format!("{}:", link.kind.to_lowercase()),
                link.url
            );
        }
        if !registry.categories.is_empty() {
            outln!("categories:  {}", registry.categories.join(", "));
        }
    }
    if let Some(worlds) = &m.worlds {
        outln!("worlds:      {}", worlds.join(", "));
    }
    if let Some(wit) = &m.wit {
        outln!("wit:");
        for line in wit.lines() {
            outln!("  {line}");
        }
    }
    if !r.annotations.is_empty() {
        outln!("annotations:");
        for a in &r.annotations {
            let by = a
                .annotator
                .as_ref()
                .map(|who| format!(" (by token {who})"))
                .unwrap_or_default();
            outln!("  {} {} {}{by}", a.time, a.type_, a.value);
        }
    }
    Ok(())
}

async fn list(registry: &Registry, json: bool) -> Result<()> {
    let packages = registry.packages().await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&packages)?);
        return Ok(());
    }
    if packages.is_empty() {
        outln!("no packages yet: publish one with `depot publish <namespace:name@version> <file>`");
    }
    for p in &packages {
        outln!(
            "{:<40} {:<16} {:>4} versions",
            p.name,
            p.latest.as_deref().unwrap_or("(all yanked)"),
            p.versions
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::RegistryArgs;

    #[test]
    fn debug_output_never_shows_the_token() {
        let args = RegistryArgs {
            registry: "http://127.0.0.1:8080".into(),
            token: Some("depot_secret_1234".into()),
        };
        let shown = format!("{args:?}");
        assert!(!shown.contains("depot_secret_1234"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(shown.contains("127.0.0.1:8080"), "{shown}");
    }
}
