//! Depot's publish handler (`depot:registry/publish`): checks a release against
//! the policy and the registry log, and appends releases, yanks and unyanks to
//! the log. Every change is one log entry appended with an expected-head check,
//! so two racing publishes of one version cannot both win.

/// The WIT bindings and the export glue: generated, and `unsafe` by nature.
#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "depot:registry/publish-handler",
        with: { "depot:registry/types@0.1.0": depot_guest::types },
    });

    use super::PublishHandler;
    export!(PublishHandler);
}

mod fetch;
mod oci;
mod releases;
mod signing;

use bindings::depot::registry::{index, log_append, log_read, metadata, policy};
use bindings::exports::depot::registry::publish::Guest;
use depot_guest::advisory::{self, Advisory};
use depot_guest::types;
use depot_guest::types::{
    Action, AnnotationContent, ContentKind, Entry, Error, LogEntry, OciArtifact, PendingRelease,
    Release, ReleaseContent, ReleaseSignature,
};
use depot_guest::{manifest, validate};
use depot_protocol::now_millis;
use depot_protocol::{Digest, Version};

/// How many times a change is retried when other entries about the package keep
/// landing first.
const MAX_ATTEMPTS: usize = 64;

/// The publish handler.
#[derive(Debug)]
struct PublishHandler;

impl Guest for PublishHandler {
    fn prepare(name: String, version: String) -> Result<u64, Error> {
        prepare(&name, &version)
    }

    fn publish(
        name: String,
        version: String,
        digest: String,
        oci: Option<OciArtifact>,
        signature: Option<ReleaseSignature>,
        kind: Option<ContentKind>,
    ) -> Result<Release, Error> {
        publish(&name, &version, &digest, oci, signature.as_ref(), kind)
    }

    fn create_release(manifest: String, creator: String) -> Result<PendingRelease, Error> {
        releases::create(manifest, creator)
    }

    fn open_release(name: String, version: String) -> Result<u64, Error> {
        releases::open_for_content(&name, &version)
    }

    fn content_uploaded(
        name: String,
        version: String,
        digest: String,
    ) -> Result<PendingRelease, Error> {
        releases::content_uploaded(&name, &version, &digest)
    }

    fn add_content_sources(
        name: String,
        version: String,
        urls: Vec<String>,
    ) -> Result<PendingRelease, Error> {
        releases::add_sources(&name, &version, urls)
    }

    fn publish_release(
        name: String,
        version: String,
        release_digest: Option<String>,
        release_signature: Option<String>,
        public_key: Option<String>,
    ) -> Result<Release, Error> {
        let signed = releases::Signed {
            release_digest,
            release_signature,
            public_key,
        };
        releases::publish(&name, &version, &signed)
    }

    fn yank(name: String, version: String) -> Result<Release, Error> {
        set_yanked(name, version, true)
    }

    fn unyank(name: String, version: String) -> Result<Release, Error> {
        set_yanked(name, version, false)
    }

    fn annotate(
        name: String,
        version: String,
        annotation_type: String,
        value: String,
        annotator: String,
    ) -> Result<Release, Error> {
        validate::name_and_version(&name, &version)?;
        check_annotation(&annotation_type, &value)?;
        if annotation_type == advisory::TYPE {
            Advisory::parse(&value, &version).map_err(Error::BadRequest)?;
        }
        current_release(&name, &version)?;
        let entry = Entry {
            name: name.clone(),
            version: version.clone(),
            action: Action::Annotate(AnnotationContent {
                type_: annotation_type,
                value,
                annotator: Some(annotator),
            }),
        };
        // Appended even when the head moves: annotations do not depend on
        // what else happened to the package.
        append_when_needed(&name, || Ok(Some(entry.clone())))?;
        current_release(&name, &version)
    }

    fn takedown(name: String, version: String, reason: String) -> Result<Release, Error> {
        validate::name_and_version(&name, &version)?;
        let reason = reason.trim().to_string();
        if reason.is_empty() || reason.len() > MAX_REASON {
            return Err(Error::BadRequest(format!(
                "a takedown needs a reason of 1 to {MAX_REASON} bytes; it is shown to everyone \
                 who asks for the release"
            )));
        }
        append_when_needed(&name, || {
            let release = current_release(&name, &version)?;
            Ok(release.takedown.is_none().then(|| Entry {
                name: name.clone(),
                version: version.clone(),
                action: Action::Takedown(reason.clone()),
            }))
        })?;
        current_release(&name, &version)
    }

    fn grant_key(scope: String, key: String) -> Result<Option<LogEntry>, Error> {
        let key = signing::parse_key(&key)?;
        let namespace = signing::check_scope(&scope)?;
        append_key_entry(
            &scope,
            |trust| {
                let granted = trust
                    .grants
                    .iter()
                    .any(|grant| grant.scope == scope && grant.key == key);
                (!granted).then(|| Action::GrantKey(key.clone()))
            },
            namespace,
        )
    }

    fn revoke_key(scope: String, key: String) -> Result<LogEntry, Error> {
        let key = signing::parse_key(&key)?;
        let namespace = signing::check_scope(&scope)?;
        append_key_entry(&scope, |_| Some(Action::RevokeKey(key.clone())), namespace)?
            .ok_or_else(|| Error::Storage("the revocation was not appended; retry".to_string()))
    }

    fn require_signatures(namespace: String, required: bool) -> Result<Option<LogEntry>, Error> {
        depot_protocol::token::check_namespace(&namespace).map_err(Error::BadRequest)?;
        append_key_entry(
            &namespace,
            |trust| {
                (trust.require_signatures != required)
                    .then_some(Action::RequireSignatures(required))
            },
            &namespace,
        )
    }
}

/// Checks `name` and `version` before the content arrives; the most content
/// bytes the policy accepts.
fn prepare(name: &str, version: &str) -> Result<u64, Error> {
    check_new_release(name, version)?;
    Ok(policy::max_content_size())
}

/// Publishes `version` of `name` with the stored content `digest`.
fn publish(
    name: &str,
    version: &str,
    digest: &str,
    oci: Option<OciArtifact>,
    signature: Option<&ReleaseSignature>,
    kind: Option<ContentKind>,
) -> Result<Release, Error> {
    // Checked before the content is read: a duplicate is refused cheaply. The
    // append below checks again, against the head it appends to.
    let parsed = check_new_release(name, version)?;
    let digest: Digest = digest.parse()?;
    // The signature, too, is checked before the content is read.
    let signed_kind = signing::check(name, version, &digest, signature)?;
    let metadata = metadata::describe(digest.as_str())?;
    for expected in [kind, signed_kind].into_iter().flatten() {
        if metadata.kind != expected {
            return Err(Error::InvalidContent(format!(
                "the release manifest says packageType `{}`, but the content is a {}; \
                 create the release again with the right packageType",
                manifest::package_type(expected),
                manifest::package_type(metadata.kind)
            )));
        }
    }
    depot_guest::policy_rules::check_metadata(&metadata)?;
    policy::check_release(name, version, &metadata)?;
    let oci = match oci {
        Some(pushed) => pushed,
        None => {
            let created = depot_protocol::rfc3339(now_millis());
            oci::write_artifact(version, &metadata, &created)?
        }
    };
    let entry = Entry {
        name: name.to_string(),
        version: version.to_string(),
        action: Action::Release(ReleaseContent {
            digest: digest.to_string(),
            size: metadata.size,
            metadata,
            oci: Some(oci),
            signature: signature.cloned(),
        }),
    };
    append_when_needed(name, || match release_of_same_version(name, &parsed)? {
        Some(existing) => Err(version_exists(&existing)),
        None => Ok(Some(entry.clone())),
    })?;
    current_release(name, version)
}

/// Appends the key entry `decide` asks for (given the namespace's trust as it
/// is after the head was read) about `scope`, a namespace or a package.
fn append_key_entry(
    scope: &str,
    decide: impl Fn(&types::SigningPolicy) -> Option<Action>,
    namespace: &str,
) -> Result<Option<LogEntry>, Error> {
    for _ in 0..MAX_ATTEMPTS {
        let head = log_read::package_head(scope)?;
        let Some(action) = decide(&index::namespace_trust(namespace)?) else {
            return Ok(None);
        };
        let entry = Entry {
            name: scope.to_string(),
            version: String::new(),
            action,
        };
        match log_append::append(&entry, head) {
            Ok(logged) => return Ok(Some(logged)),
            Err(Error::HeadMoved(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Storage(format!(
        "{MAX_ATTEMPTS} other changes to `{scope}` landed while this one was being applied; \
         nothing was changed, retry"
    )))
}

/// The longest annotation value, in bytes of JSON.
const MAX_ANNOTATION: usize = 64 * 1024;

/// The longest annotation type.
const MAX_ANNOTATION_TYPE: usize = 64;

/// The longest takedown reason, in bytes.
const MAX_REASON: usize = 1024;

/// Checks an annotation's type (lowercase letters, digits, `-` and `.`) and
/// that its value is JSON of at most [`MAX_ANNOTATION`] bytes.
fn check_annotation(annotation_type: &str, value: &str) -> Result<(), Error> {
    let well_formed = !annotation_type.is_empty()
        && annotation_type.len() <= MAX_ANNOTATION_TYPE
        && annotation_type
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && annotation_type.starts_with(|c: char| c.is_ascii_lowercase());
    if !well_formed {
        return Err(Error::BadRequest(format!(
            "annotation type `{annotation_type}` is not allowed; use 1 to {MAX_ANNOTATION_TYPE} \
             lowercase letters, digits, `-` and `.`, starting with a letter (for example \
             `review` or `org.example.audit`)"
        )));
    }
    if value.len() > MAX_ANNOTATION {
        return Err(Error::BadRequest(format!(
            "the annotation value is {} bytes; at most {MAX_ANNOTATION} are kept, so link to \
             larger documents instead",
            value.len()
        )));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(value).map_err(|e| {
        Error::BadRequest(format!(
            "the annotation value is not JSON ({e}); send a JSON value, such as a string in \
             quotes or an object"
        ))
    })?;
    Ok(())
}

/// Checks that `version` of `name` may be released: well-formed, allowed by the
/// policy, and not released yet.
fn check_new_release(name: &str, version: &str) -> Result<Version, Error> {
    let (_, parsed) = validate::name_and_version(name, version)?;
    policy::check_name(name, version)?;
    match release_of_same_version(name, &parsed)? {
        Some(existing) => Err(version_exists(&existing)),
        None => Ok(parsed),
    }
}

/// Yanks or unyanks a release; nothing changes when it is already so.
fn set_yanked(name: String, version: String, yanked: bool) -> Result<Release, Error> {
    validate::name_and_version(&name, &version)?;
    append_when_needed(&name, || {
        let release = current_release(&name, &version)?;
        Ok((release.yanked != yanked).then(|| Entry {
            name: name.clone(),
            version: version.clone(),
            action: if yanked { Action::Yank } else { Action::Unyank },
        }))
    })?;
    current_release(&name, &version)
}

/// Reads the package's head, asks `decide` (which reads the state it depends on
/// after the head) whether an entry is needed, and appends it against that head.
/// When another entry lands first, the state is read again and `decide` asked
/// again.
fn append_when_needed(
    name: &str,
    decide: impl Fn() -> Result<Option<Entry>, Error>,
) -> Result<(), Error> {
    for _ in 0..MAX_ATTEMPTS {
        let head = log_read::package_head(name)?;
        let Some(entry) = decide()? else {
            return Ok(());
        };
        match log_append::append(&entry, head) {
            Ok(_) => return Ok(()),
            Err(Error::HeadMoved(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Storage(format!(
        "{MAX_ATTEMPTS} other changes to `{name}` landed while this one was being applied; \
         nothing was changed, retry"
    )))
}

/// The release of `name` at exactly `version`.
fn current_release(name: &str, version: &str) -> Result<Release, Error> {
    index::get_release(name, version)?.ok_or_else(|| {
        Error::NotFound(format!(
            "`{name}` has no release {version}; publish it first, or check the name and version"
        ))
    })
}

/// A release of `version` up to build metadata: semver gives `1.0.0+a` and
/// `1.0.0+b` the same precedence, so they are one version and only one of them
/// may be released.
fn release_of_same_version(name: &str, version: &Version) -> Result<Option<Release>, Error> {
    index::find_release(name, &version.to_string())
}

fn version_exists(existing: &Release) -> Error {
    Error::VersionExists(format!(
        "`{}` {} is already released with content {}; releases are immutable: publish a new \
         version",
        existing.name, existing.version, existing.digest
    ))
}
