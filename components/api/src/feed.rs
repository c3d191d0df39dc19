//! The publish-stream: log entries as JSON pages (`GET /v1/feed`) and as
//! server-sent events (`GET /v1/feed/stream`). Each entry carries what a
//! mirror needs to apply it: a release's content description, an
//! annotation, a takedown's reason.

use std::io::Write;
use std::time::{Duration, Instant};

use depot_protocol::rfc3339;
use depot_wire::{FeedAnnotation, FeedEntry, FeedOci, FeedPage, FeedRelease};
use wasip2::io::streams::OutputStream;

use crate::bindings::depot::registry::query;
use crate::json::{annotation_value, metadata, signature};
use crate::response::SendError;
use depot_guest::types::{Action, LogEntry, OciArtifact};

/// Entries per event batch of the stream.
const STREAM_BATCH: u32 = 100;

/// How long the stream waits for an entry before sending a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How long before the request's deadline the stream ends, so it ends cleanly
/// (the client reconnects with `Last-Event-ID`).
const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

pub fn page(since: u64, entries: &[LogEntry]) -> FeedPage {
    FeedPage {
        next: entries.last().map_or(since, |e| e.seq),
        entries: entries.iter().map(entry).collect(),
    }
}

/// The feed's name for the kind of entry `action` is.
fn kind(action: &Action) -> &'static str {
    match action {
        Action::Release(_) => "release",
        Action::GrantKey(_) => "grant-key",
        Action::RevokeKey(_) => "revoke-key",
        Action::RequireSignatures(_) => "require-signatures",
        Action::Yank => "yank",
        Action::Unyank => "unyank",
        Action::Annotate(_) => "annotate",
        Action::Takedown(_) => "takedown",
    }
}

fn entry(logged: &LogEntry) -> FeedEntry {
    let name = logged.entry.name.as_str();
    let version = logged.entry.version.as_str();
    let mut json = FeedEntry {
        seq: logged.seq,
        time: rfc3339(logged.time),
        kind: kind(&logged.entry.action).to_string(),
        package: name.to_string(),
        version: version.to_string(),
        digest: None,
        release: None,
        annotation: None,
        reason: None,
        key: None,
        required: None,
    };
    match &logged.entry.action {
        Action::Release(content) => {
            json.digest = Some(content.digest.clone());
            json.release = Some(FeedRelease {
                size: content.size,
                metadata: metadata(&content.metadata),
                oci: content
                    .oci
                    .as_ref()
                    .map(|OciArtifact { manifest, config }| FeedOci {
                        manifest: manifest.clone(),
                        config: config.clone(),
                    }),
                signature: content.signature.as_ref().map(signature),
            });
            return json;
        }
        // Key entries name a namespace or a package, with no version.
        Action::GrantKey(key) | Action::RevokeKey(key) => {
            json.key = Some(key.clone());
            return json;
        }
        Action::RequireSignatures(required) => {
            json.required = Some(*required);
            return json;
        }
        Action::Yank | Action::Unyank => {}
        Action::Annotate(annotation) => {
            json.annotation = Some(FeedAnnotation {
                type_: annotation.type_.clone(),
                value: annotation_value(&annotation.value),
                annotator: annotation.annotator.clone(),
            });
        }
        Action::Takedown(reason) => json.reason = Some(reason.clone()),
    }
    // The other entries name the release; its digest is in the release.
    json.digest = query::get_release(name, version).ok().map(|r| r.digest);
    json
}

/// How long the handlers may run, as the host says (`DEPOT_REQUEST_DEADLINE_MS`).
fn request_deadline() -> Duration {
    std::env::var("DEPOT_REQUEST_DEADLINE_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_secs(60), Duration::from_millis)
}

/// Writes the entries after `since` as server-sent events (`id` is the
/// sequence number, `event: entry`, `data` the entry's JSON) as they land,
/// with a keep-alive comment when none does, until shortly before the
/// request's deadline.
pub fn stream(out: &mut OutputStream, since: u64) -> Result<(), SendError> {
    let started = Instant::now();
    let until = request_deadline()
        .checked_sub(DEADLINE_MARGIN)
        .unwrap_or(Duration::from_secs(1));
    let mut cursor = since;
    send(out, "retry: 1000\n\n")?;
    while started.elapsed() < until {
        let left = until.saturating_sub(started.elapsed()).min(KEEP_ALIVE);
        let wait = u32::try_from(left.as_millis()).unwrap_or(u32::MAX).max(1);
        let entries = query::read_feed(cursor, STREAM_BATCH, wait)
            .map_err(|e| format!("reading the feed failed: {e:?}"))?;
        if entries.is_empty() {
            send(out, ": keep-alive\n\n")?;
            continue;
        }
        let mut events = String::new();
        for logged in &entries {
            let data = serde_json::to_string(&entry(logged))
                .map_err(|e| format!("encoding a feed entry failed: {e}"))?;
            events.push_str(&format!(
                "id: {}\nevent: entry\ndata: {data}\n\n",
                logged.seq
            ));
            cursor = logged.seq;
        }
        send(out, &events)?;
    }
    Ok(())
}

fn send(out: &mut OutputStream, text: &str) -> Result<(), SendError> {
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| SendError::writing(&e, "writing the event stream failed"))
}
