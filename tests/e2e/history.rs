//! Resolution as of a log position (`at=`): later releases, yanks, unyanks
//! and annotations do not change the answer, a later takedown shows without
//! changing it, and the answer carries an inclusion proof against the signed
//! checkpoint it names.

use depot_protocol::tlog::{
    Checkpoint, Hash, LeafAction, LeafEntry, NoteVerifier, verify_inclusion,
};
use serde_json::{Value, json};

use crate::support::*;

on_every_runtime!(resolution_at_a_log_position_answers_as_the_log_implies);

/// The version `req` resolves to right after entry `at`, and the answer.
fn resolve_at(server: &Server, req: &str, at: u64) -> (u16, Value) {
    server.get_json(&format!(
        "/v1/packages/example:greet/resolve?req={}&at={at}",
        req.replace('^', "%5E")
    ))
}

fn version_at(server: &Server, req: &str, at: u64) -> String {
    let (status, body) = resolve_at(server, req, at);
    assert_eq!(status, 200, "{req} at {at}: {body}");
    body["version"].as_str().unwrap().to_string()
}

/// The versions the package lists right after entry `at`, each with whether
/// it was yanked then and how many annotations it had.
fn listed_at(server: &Server, at: u64) -> Vec<(String, bool, usize)> {
    let (status, package) = server.get_json(&format!("/v1/packages/example:greet?at={at}"));
    assert_eq!(status, 200, "{package}");
    package["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["version"].as_str().unwrap().to_string(),
                r["yanked"].as_bool().unwrap(),
                r["annotations"].as_array().unwrap().len(),
            )
        })
        .collect()
}

/// Checks `answer`'s proof: its checkpoint is signed by the registry's key,
/// and the release's own leaf is in the tree the checkpoint names.
fn check_proof(server: &Server, answer: &Value) {
    let proof = &answer["proof"];
    let (_, key) = server.get_bytes("/v1/log/key");
    let key: NoteVerifier = String::from_utf8(key).unwrap().trim().parse().unwrap();
    let checkpoint = Checkpoint::open(proof["checkpoint"].as_str().unwrap(), &key)
        .expect("the proof names a checkpoint the registry signed");
    assert_eq!(checkpoint.size, proof["treeSize"].as_u64().unwrap());
    let seq = answer["seq"].as_u64().unwrap();
    assert_eq!(proof["leafIndex"].as_u64().unwrap(), seq - 1);
    let leaf = LeafEntry {
        seq,
        time: depot_protocol::parse_rfc3339(answer["publishedAt"].as_str().unwrap()).unwrap(),
        name: "example:greet",
        version: answer["version"].as_str().unwrap(),
        action: LeafAction::Release {
            digest: answer["digest"].as_str().unwrap(),
            size: answer["size"].as_u64().unwrap(),
            oci_manifest: answer["ociManifest"].as_str(),
            signature: None,
        },
    };
    let hashes: Vec<Hash> = proof["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| Hash::from_base64(h.as_str().unwrap()).unwrap())
        .collect();
    verify_inclusion(
        &leaf.leaf_hash(),
        seq - 1,
        checkpoint.size,
        &hashes,
        &checkpoint.root,
    )
    .expect("the answer's release is in the signed log");
    // Another release's leaf does not pass with this proof.
    let other = LeafEntry {
        version: "9.9.9",
        ..leaf
    };
    assert!(
        verify_inclusion(
            &other.leaf_hash(),
            seq - 1,
            checkpoint.size,
            &hashes,
            &checkpoint.root
        )
        .is_err()
    );
}

fn resolution_at_a_log_position_answers_as_the_log_implies(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let seq = |answer: &(u16, Value)| {
        assert!(matches!(answer.0, 200 | 201), "{}", answer.1);
        answer.1["seq"].as_u64().unwrap()
    };
    let release = "/v1/packages/example:greet/versions";
    let other = seq(&server.publish("example:other", "1.0.0", &greeter_n(9)));
    let v100 = seq(&server.publish("example:greet", "1.0.0", &greeter_n(0)));
    let v110 = seq(&server.publish("example:greet", "1.1.0", &greeter_n(1)));
    assert_eq!(server.post_json(&format!("{release}/1.1.0/yank")).0, 200);
    let yanked = v110 + 1;
    let v200 = seq(&server.publish("example:greet", "2.0.0", &greeter_n(2)));
    let note = json!({"type": "review", "value": {"verdict": "ok"}});
    assert_eq!(
        server
            .post(&format!("{release}/1.0.0/annotations"), &note)
            .0,
        201
    );
    let annotated = v200 + 1;
    assert_eq!(server.post_json(&format!("{release}/1.1.0/unyank")).0, 200);
    let unyanked = annotated + 1;
    let reason = json!({"reason": "malware"});
    assert_eq!(
        server.post(&format!("{release}/2.0.0/takedown"), &reason).0,
        200
    );
    let taken_down = unyanked + 1;
    let (_, stats) = server.get_json("/v1/stats");
    assert_eq!(stats["head"].as_u64().unwrap(), taken_down);

    // Each position answers as the log was then.
    assert_eq!(version_at(&server, "*", v100), "1.0.0");
    assert_eq!(version_at(&server, "*", v110), "1.1.0");
    assert_eq!(version_at(&server, "*", yanked), "1.0.0");
    assert_eq!(version_at(&server, "^1", v200), "1.0.0");
    assert_eq!(version_at(&server, "^1", unyanked), "1.1.0");
    assert_eq!(version_at(&server, "*", taken_down), "1.1.0");
    // Taken down later: still the answer at `v200`, and it says so.
    let (status, answer) = resolve_at(&server, "*", v200);
    assert_eq!((status, answer["version"].as_str()), (200, Some("2.0.0")));
    assert_eq!(answer["takedown"]["reason"], "malware");
    let content = server.get_bytes(&format!("{release}/2.0.0/content"));
    assert_eq!(content.0, 451);
    // Taken down by then: only a takedown matches.
    let (status, _) = resolve_at(&server, "^2", taken_down);
    assert_eq!(status, 451);
    // Without `at`, today's answer, and no proof.
    let (_, today) = server.get_json("/v1/packages/example:greet/resolve");
    assert_eq!(today["version"], "1.1.0");
    assert!(today.get("proof").is_none());

    // The listing as of each position: published by then, yanked then,
    // annotated then.
    let entry = |v: &str, yanked: bool, notes: usize| (v.to_string(), yanked, notes);
    assert_eq!(
        listed_at(&server, yanked),
        [entry("1.1.0", true, 0), entry("1.0.0", false, 0)]
    );
    assert_eq!(
        listed_at(&server, annotated),
        [
            entry("2.0.0", false, 0),
            entry("1.1.0", true, 0),
            entry("1.0.0", false, 1)
        ]
    );
    assert_eq!(
        listed_at(&server, unyanked)[1],
        entry("1.1.0", false, 0),
        "the unyank counts from its own entry on"
    );

    // Every answer with `at` proves its release is in the signed log.
    for at in [v100, yanked, v200, taken_down] {
        let (status, answer) = resolve_at(&server, "*", at);
        assert_eq!(status, 200);
        check_proof(&server, &answer);
    }

    // Positions that are not entries, and a package with no release yet.
    assert_error(&resolve_at(&server, "*", 0), 400, "bad-request");
    assert_error(
        &resolve_at(&server, "*", taken_down + 1),
        400,
        "bad-request",
    );
    assert_error(&resolve_at(&server, "*", other), 404, "not-found");
    let bad = server.get_json("/v1/packages/example:greet/resolve?at=yesterday");
    assert_error(&bad, 400, "bad-request");
}
