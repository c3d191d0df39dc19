//! The properties the fuzz targets check, as plain functions: `cargo fuzz`
//! drives them with libFuzzer (nightly), and `cargo test` replays the seeds and
//! any corpus through them on stable.
//!
//! Each function must return for every input without panicking; where a parse
//! has an inverse, what parses must print back to what was parsed.
#![deny(missing_docs)]

use depot_protocol::tlog::{Checkpoint, Frontier, Hash, NoteSigner, NoteVerifier};
use depot_protocol::{
    Candidate, Digest, PackageName, Version, latest, parse_requirement, parse_rfc3339,
    parse_version, pins_exactly, resolve, rfc3339,
};

/// The digest the metadata handler is told the content has; it only copies it.
const DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The name, version, digest, requirement, time and transparency-log parsers
/// on `data`, and resolution over versions parsed from it.
///
/// The whole input is tried as each kind of text. Then, read as lines, the
/// first line is a requirement and every other line a candidate version,
/// prefixed `y` (yanked), `t` (taken down) or anything else (neither).
pub fn parsers(data: &[u8]) {
    if data.len() >= 8 {
        times(u64::from_le_bytes(data[..8].try_into().expect("8 bytes")));
    }
    frontier(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    names(text);
    versions(text);
    digests(text);
    if let Some(millis) = parse_rfc3339(text) {
        assert_eq!(rfc3339(millis), text);
    }
    resolution(text);
    checkpoint(text);
    notes(text);
    keys(text);
}

/// The metadata handler's description of `data` as if it were published: it
/// must return (a description or a refusal), never panic.
pub fn metadata(data: &[u8]) {
    if let Ok(description) = depot_metadata::describe(data, DIGEST) {
        assert_eq!(description.size, data.len() as u64);
        assert_eq!(description.digest, DIGEST);
    }
}

fn names(text: &str) {
    let Ok(name) = text.parse::<PackageName>() else {
        return;
    };
    assert_eq!(name.to_string(), text);
    assert!(text.len() <= depot_protocol::MAX_NAME_LEN);
    assert_eq!(format!("{}:{}", name.namespace(), name.name()), text);
    assert_eq!(
        name.repository(),
        format!("{}/{}", name.namespace(), name.name())
    );
}

fn versions(text: &str) {
    if let Ok(version) = parse_version(text) {
        assert_eq!(version.to_string(), text);
    }
    if let Ok(req) = parse_requirement(text) {
        // The requirement prints in a normal form that parses to itself.
        let printed = req.to_string();
        assert_eq!(parse_requirement(&printed).as_ref(), Ok(&req), "{printed}");
        if let Some(pinned) = pins_exactly(&req) {
            assert!(req.matches(&pinned) || !pinned.pre.is_empty());
        }
    }
}

fn digests(text: &str) {
    let Ok(digest) = text.parse::<Digest>() else {
        return;
    };
    assert_eq!(digest.to_string(), text);
    assert_eq!(
        format!("{}:{}", digest.algorithm().name(), digest.hex()),
        text
    );
    if text.starts_with("sha256:") {
        assert_eq!(Digest::sha256(digest.hex()).as_ref(), Ok(&digest));
    }
}

fn times(millis: u64) {
    let text = rfc3339(millis);
    // The form has four year digits; later years do not read back.
    if text.len() == 24 {
        assert_eq!(parse_rfc3339(&text), Some(millis), "{text}");
    }
}

fn resolution(text: &str) {
    let mut lines = text.lines();
    let Some(Ok(req)) = lines.next().map(parse_requirement) else {
        return;
    };
    let candidates: Vec<Candidate> = lines
        .filter_map(|line| {
            let (flag, version) = line.split_at_checked(1)?;
            Some(Candidate {
                version: version.parse::<Version>().ok()?,
                yanked: flag == "y",
                taken_down: flag == "t",
            })
        })
        .collect();
    if let Some(best) = latest(&candidates) {
        assert!(
            candidates
                .iter()
                .any(|c| &c.version == best && !c.yanked && !c.taken_down)
        );
    }
    match resolve(&candidates, &req) {
        Ok(version) => {
            assert!(req.matches(version), "{req} does not match {version}");
            let pinned = pins_exactly(&req);
            assert!(candidates.iter().any(|c| &c.version == version
                && !c.taken_down
                && (!c.yanked || pinned.is_some())));
            // Nothing that matches and is neither yanked nor taken down is higher.
            assert!(candidates.iter().all(|c| c.yanked
                || c.taken_down
                || !req.matches(&c.version)
                || c.version.cmp_precedence(version).is_le()));
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert!(
                candidates
                    .iter()
                    .all(|c| c.yanked || c.taken_down || !req.matches(&c.version))
            );
        }
    }
}

fn checkpoint(text: &str) {
    let Ok(checkpoint) = Checkpoint::parse(text) else {
        return;
    };
    assert_eq!(checkpoint.to_note_body(), text);
    let signer = signer();
    let note = checkpoint.sign(&signer).expect("a parsed checkpoint signs");
    assert_eq!(Checkpoint::open(&note, &signer.verifier()), Ok(checkpoint));
}

fn notes(text: &str) {
    let signer = signer();
    let verifier = signer.verifier();
    // Whatever the note, opening it either fails or gives back a prefix of it.
    if let Ok(opened) = depot_protocol::tlog::open_note(text, &verifier) {
        assert!(text.starts_with(opened));
    }
    // What can be signed opens again to the same text.
    if let Ok(note) = depot_protocol::tlog::sign_note(text, &signer) {
        assert_eq!(depot_protocol::tlog::open_note(&note, &verifier), Ok(text));
    }
}

fn keys(text: &str) {
    if let Ok(verifier) = text.parse::<NoteVerifier>() {
        let printed = verifier.to_string();
        assert_eq!(printed.parse::<NoteVerifier>().as_ref(), Ok(&verifier));
    }
    if let Ok(signer) = text.parse::<NoteSigner>() {
        let printed = signer.to_key_string();
        let again: NoteSigner = printed.parse().expect("a printed key parses");
        assert_eq!(again.verifier(), signer.verifier());
    }
    if let Ok(hash) = Hash::from_hex(text) {
        assert_eq!(hash.to_hex(), text.to_ascii_lowercase());
    }
    if let Ok(hash) = Hash::from_base64(text) {
        assert_eq!(hash.to_base64(), text);
    }
}

fn frontier(data: &[u8]) {
    if let Ok(frontier) = Frontier::from_bytes(data) {
        assert_eq!(frontier.to_bytes(), data);
        assert_eq!(
            Frontier::node_ids(frontier.size()).len(),
            frontier.hashes().len()
        );
    }
}

fn signer() -> NoteSigner {
    NoteSigner::from_seed("depot.fuzz/log", [7; 32]).expect("a valid key name")
}
