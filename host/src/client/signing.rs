//! Signed releases from the command line: `depot key new|public|grant|revoke`,
//! `depot namespace show|require-signatures`, the two-phase publish behind
//! `depot publish --sign KEY` (and `--content-source URL`), and the check
//! `depot get` makes of a signed release's signature.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use depot_protocol::PackageName;
use depot_protocol::signing::{PublicKey, SigningKey, verify_release};
use sha2::{Digest as _, Sha256};

use super::api::{NamespaceInfo, PublishRequest, Registry, Release};

/// What to do with signing keys.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Make an ed25519 signing key and write it to FILE (mode 0600); prints
    /// its public key, which the operator grants with `depot key grant`.
    New {
        /// Where to write the key; an existing file is never overwritten.
        file: PathBuf,
    },
    /// Print the public key of the signing key in FILE.
    Public { file: PathBuf },
    /// Let a key sign releases of a namespace or a package (operator only).
    Grant {
        /// The public key, `ed25519:…`.
        key: String,
        #[command(flatten)]
        scope: Scope,
    },
    /// Withdraw a key's grant (operator only); releases it signed stay signed.
    Revoke {
        /// The public key, `ed25519:…`.
        key: String,
        #[command(flatten)]
        scope: Scope,
    },
}

/// A namespace or a package.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub struct Scope {
    /// Every package of this namespace.
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
    /// This package only (`namespace:name`).
    #[arg(long, value_name = "NAME")]
    package: Option<String>,
}

/// What to do with a namespace's signing policy.
#[derive(Debug, Subcommand)]
pub enum NamespaceCommand {
    /// Show whether the namespace requires signatures, and the keys granted on it.
    Show {
        namespace: String,
        /// Print the registry's JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make the namespace require signed releases (operator only).
    RequireSignatures {
        namespace: String,
        /// Stop requiring them instead.
        #[arg(long)]
        off: bool,
    },
}

/// Runs a key command.
pub async fn run_key(registry: &Registry, command: KeyCommand) -> Result<()> {
    match command {
        KeyCommand::New { file } => {
            let mut seed = [0u8; 32];
            getrandom::fill(&mut seed).context("the system gave no random bytes for a key")?;
            let key = SigningKey::from_seed(seed);
            write_secret(&file, &key.to_file_text())?;
            outln!("{}", key.public_key());
            eprintln!(
                "wrote the signing key to {} (keep it secret); have the operator run \
                 `depot key grant {} --namespace NS`",
                file.display(),
                key.public_key()
            );
            Ok(())
        }
        KeyCommand::Public { file } => {
            outln!("{}", read_key(&file)?.public_key());
            Ok(())
        }
        KeyCommand::Grant { key, scope } => change(registry, &key, scope, false).await,
        KeyCommand::Revoke { key, scope } => change(registry, &key, scope, true).await,
    }
}

async fn change(registry: &Registry, key: &str, scope: Scope, revoke: bool) -> Result<()> {
    let key: PublicKey = key.parse()?;
    // clap makes exactly one of them given.
    let scope = scope.namespace.or(scope.package).unwrap_or_default();
    let info = registry
        .change_key(&key.to_string(), &scope, revoke)
        .await?;
    print_namespace(&info)?;
    Ok(())
}

/// Runs a namespace command.
pub async fn run_namespace(registry: &Registry, command: NamespaceCommand) -> Result<()> {
    match command {
        NamespaceCommand::Show { namespace, json } => {
            let info = registry.namespace(&namespace).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                print_namespace(&info)?;
            }
        }
        NamespaceCommand::RequireSignatures { namespace, off } => {
            let info = registry.require_signatures(&namespace, !off).await?;
            print_namespace(&info)?;
        }
    }
    Ok(())
}

fn print_namespace(info: &NamespaceInfo) -> Result<()> {
    outln!(
        "namespace {}: signatures {}",
        info.namespace,
        if info.require_signatures {
            "required"
        } else {
            "optional"
        }
    );
    for grant in &info.keys {
        outln!(
            "  {} may sign {} (granted {}, log entry {})",
            grant.public_key,
            grant.scope,
            grant.granted_at,
            grant.seq
        );
    }
    Ok(())
}

/// Writes `text` to a new file only its owner may read.
fn write_secret(path: &Path, text: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| {
        format!(
            "cannot create {} (an existing key is never overwritten; choose another file)",
            path.display()
        )
    })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// The signing key in `path`.
pub fn read_key(path: &Path) -> Result<SigningKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the signing key {}", path.display()))?;
    SigningKey::from_file_text(&text)
        .with_context(|| format!("{} is not a signing key", path.display()))
}

/// The `packageType` of `bytes`: a core module by its header, a WIT package
/// when it decodes as one, a component otherwise (the registry has the last
/// word, and refuses a manifest that says otherwise than the content).
fn package_type(bytes: &[u8]) -> &'static str {
    if bytes.get(4..8) == Some(&[1, 0, 0, 0]) {
        "core-module"
    } else if matches!(
        wit_parser::decoding::decode(bytes),
        Ok(wit_parser::decoding::DecodedWasm::WitPackage(..))
    ) {
        "wit-package"
    } else {
        "component"
    }
}

/// How `depot publish` sends a release by the two-phase publish.
#[derive(Debug, Default)]
pub struct TwoPhase {
    /// The signing key file.
    pub sign: Option<PathBuf>,
    /// URLs the registry fetches the content from instead of an upload.
    pub content_sources: Vec<String>,
    /// The manifest's `packageType` instead of the one read from the file.
    pub package_type: Option<String>,
}

/// Publishes `file` as `version` of `name` through `POST /v1/releases`.
pub async fn publish(
    registry: &Registry,
    name: &PackageName,
    version: &str,
    file: &Path,
    how: TwoPhase,
) -> Result<Release> {
    let key = how.sign.as_deref().map(read_key).transpose()?;
    let bytes = tokio::fs::read(file)
        .await
        .with_context(|| format!("cannot read {}", file.display()))?;
    let digest = hex::encode(Sha256::digest(&bytes));
    let package_type = how
        .package_type
        .as_deref()
        .unwrap_or_else(|| package_type(&bytes));
    let manifest = serde_json::to_string(&serde_json::json!({
        "packageType": package_type,
        "name": name.as_str(),
        "version": version,
        "contentDigest": { "sha256": digest },
    }))?;
    let unpublished = registry.create_release(&manifest).await?;
    if how.content_sources.is_empty() {
        let size = bytes.len() as u64;
        let body = futures::stream::once(async move { Ok(bytes::Bytes::from(bytes)) });
        registry
            .upload_unpublished(&unpublished.upload_url, size, body)
            .await?;
    } else {
        registry
            .add_content_sources(name.as_str(), version, &how.content_sources)
            .await?;
    }
    let body = match &key {
        Some(key) => {
            let signed = key.sign_release(manifest.as_bytes());
            PublishRequest {
                release_digest: Some(signed.release_digest),
                release_signature: Some(signed.signature),
                public_key: Some(key.public_key().to_string()),
            }
        }
        None => PublishRequest::default(),
    };
    registry
        .publish_unpublished(&unpublished.publish_url, &body)
        .await
}

/// Checks a signed release's signature against the content this client
/// hashed to `digest`: the manifest must name the release and that content,
/// and the signature must verify with the key it names. Returns the key.
pub fn check_signature(release: &Release, digest: &str) -> Result<Option<String>> {
    let Some(signature) = &release.signature else {
        return Ok(None);
    };
    let refuse = |why: String| {
        anyhow::anyhow!(
            "{}@{} carries a publisher signature that does not hold: {why}; refusing it",
            release.name,
            release.version
        )
    };
    let manifest: serde_json::Value =
        serde_json::from_str(&signature.manifest).map_err(|e| refuse(e.to_string()))?;
    let named = |key: &str| manifest.get(key).and_then(serde_json::Value::as_str);
    let content = manifest
        .pointer("/contentDigest/sha256")
        .and_then(serde_json::Value::as_str)
        .map(|hex| format!("sha256:{hex}"))
        .or_else(|| named("contentDigest").map(str::to_string));
    if named("name") != Some(release.name.as_str())
        || named("version") != Some(release.version.as_str())
        || content.as_deref() != Some(digest)
    {
        return Err(refuse(
            "its manifest names another release or other content".to_string(),
        ));
    }
    let key: PublicKey = signature
        .public_key
        .parse()
        .map_err(|e: depot_protocol::signing::SignatureError| refuse(e.to_string()))?;
    verify_release(
        &key,
        signature.manifest.as_bytes(),
        &signature.release_digest,
        &signature.release_signature,
    )
    .map_err(|e| refuse(e.to_string()))?;
    Ok(Some(key.to_string()))
}
