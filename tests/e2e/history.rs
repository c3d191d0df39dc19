//! Resolution as of a log position (`at=`): later releases, yanks, unyanks
//! and annotations do not change the answer, a later takedown shows without
//! changing it, and the answer carries an inclusion proof against the signed
//! checkpoint it names. And trust policies in resolution: signed by given
//! keys, annotated, old enough, without advisories; each rule alone and
//! together, and an answer that says which rule left out which version.
//! Advisories: typed annotations, checked, shown by `depot info`, the web
//! view and the feed, and left out of resolution for every version in their
//! range.

use depot_protocol::tlog::{
    Checkpoint, Hash, LeafAction, LeafEntry, NoteVerifier, verify_inclusion,
};
use serde_json::{Value, json};

use crate::support::*;

on_every_runtime!(
    resolution_at_a_log_position_answers_as_the_log_implies,
    trust_policies_decide_which_releases_resolution_may_choose,
    advisories_are_checked_shown_and_leave_out_every_version_they_affect,
    annotations_record_who_made_them_and_a_policy_may_trust_one_annotator,
);

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
        // The same proof as the log's own, in the newest checkpoint's tree.
        let seq = answer["seq"].as_u64().unwrap();
        let (_, own) = server.get_json(&format!("/v1/log/proof/inclusion?seq={seq}"));
        assert_eq!(own["treeSize"].as_u64(), Some(taken_down));
        assert_eq!(own["proof"], answer["proof"]["hashes"]);
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

fn trust_policies_decide_which_releases_resolution_may_choose(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("a.key");
    let key = ok(server.cli(&["key", "new", key_file.to_str().unwrap()]));
    let key = key.trim();
    ok(server.cli(&["key", "grant", key, "--namespace", "example"]));
    let other_file = dir.path().join("b.key");
    let other = ok(server.cli(&["key", "new", other_file.to_str().unwrap()]));
    let publish = |version: &str, n: usize, sign: bool| {
        let (_dir, path) = temp_file("c.wasm", &greeter_n(n));
        let spec = format!("example:greet@{version}");
        let mut args = vec!["publish", &spec, path.to_str().unwrap()];
        if sign {
            args.extend(["--sign", key_file.to_str().unwrap()]);
        }
        ok(server.cli(&args));
        let (_, stats) = server.get_json("/v1/stats");
        stats["head"].as_u64().unwrap()
    };
    let annotate = |version: &str, type_: &str| {
        let value = match type_ {
            "advisory" => json!({"severity": "low", "summary": "slow", "affected": "=1.2.0"}),
            _ => json!({"by": "e2e"}),
        };
        let note = json!({"type": type_, "value": value});
        let path = format!("/v1/packages/example:greet/versions/{version}/annotations");
        assert_eq!(server.post(&path, &note).0, 201);
    };
    let first = publish("1.0.0", 0, true);
    annotate("1.0.0", "review");
    // Old enough, by the clock of the next entry.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let second = publish("1.1.0", 1, false);
    annotate("1.1.0", "review");
    publish("1.2.0", 2, true);
    annotate("1.2.0", "advisory");
    publish("1.3.0", 3, true);

    let resolve = |query: &str| {
        server.get_json(&format!(
            "/v1/packages/example:greet/resolve?{}",
            query.replace('+', "%2B")
        ))
    };
    let chosen = |query: &str| {
        let (status, body) = resolve(query);
        assert_eq!(status, 200, "{query}: {body}");
        body["version"].as_str().unwrap().to_string()
    };
    assert_eq!(chosen("req=*"), "1.3.0");
    // Each rule alone.
    assert_eq!(chosen(&format!("signed-by={key}&req=<1.3")), "1.2.0");
    assert_eq!(chosen("annotated=review"), "1.1.0");
    assert_eq!(chosen("exclude-advisories=true&req=<1.3"), "1.1.0");
    assert_eq!(chosen(&format!("at={second}&min-age=2s")), "1.0.0");
    assert_eq!(chosen(&format!("at={second}")), "1.1.0");
    // Together: signed by the key, reviewed, without an advisory.
    let all = format!("signed-by={key}&annotated=review&exclude-advisories=true");
    assert_eq!(chosen(&all), "1.0.0");
    // The policy with `at` reads annotations as they were then.
    let (status, _) = resolve(&format!("{all}&at={first}"));
    assert_eq!(status, 404, "1.0.0 was not yet reviewed at its own entry");

    // When the policy leaves out everything, the answer says which rule left
    // out which version.
    let (status, body) = resolve(&format!("signed-by={}", other.trim()));
    assert_eq!(status, 404);
    let message = body["error"]["message"].as_str().unwrap();
    for said in [
        "1.3.0 (signed by ed25519:",
        "1.1.0 (not signed",
        "not a key signed-by names",
    ] {
        assert!(message.contains(said), "`{said}` not in: {message}");
    }
    let (status, body) = resolve("min-age=1h&req=^1.2");
    assert_eq!(status, 404);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("1.3.0 (published"), "{message}");
    assert!(message.contains("younger than min-age 1h"), "{message}");
    assert!(
        !message.contains("1.0.0"),
        "{message}: 1.0.0 does not meet ^1.2"
    );
    let (status, body) = resolve("exclude-advisories=true&req==1.2.0");
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1.2.0 (has an advisory (low: slow")
    );
    let bad = resolve("min-age=soon");
    assert_error(&bad, 400, "bad-request");
}

fn advisories_are_checked_shown_and_leave_out_every_version_they_affect(runtime: Runtime) {
    let server = Server::start_on(runtime);
    for (n, version) in ["1.0.0", "1.1.0", "1.2.0"].iter().enumerate() {
        assert_eq!(
            server.publish("example:greet", version, &greeter_n(n)).0,
            201
        );
    }
    let annotate = |version: &str, value: Value| {
        let path = format!("/v1/packages/example:greet/versions/{version}/annotations");
        server.post(&path, &json!({"type": "advisory", "value": value}))
    };
    // Checked: a severity, a summary, a range that holds the release.
    let bad = annotate(
        "1.1.0",
        json!({"severity": "dire", "summary": "x", "affected": "*"}),
    );
    assert_error(&bad, 400, "bad-request");
    let outside = json!({"severity": "high", "summary": "x", "affected": "<1.0.0"});
    let said = assert_error(&annotate("1.1.0", outside), 400, "bad-request");
    assert!(said.contains("leaves out 1.1.0"), "{said}");
    let advisory = json!({
        "severity": "high",
        "summary": "Greets the wrong person",
        "affected": ">=1.0.0, <1.2.0",
        "id": "DEPOT-2026-1",
        "link": "https://example.com/advisories/1",
    });
    let (status, _) = annotate("1.1.0", advisory);
    assert_eq!(status, 201);

    // Resolution leaves out every version in the range, saying why.
    let resolve =
        |query: &str| server.get_json(&format!("/v1/packages/example:greet/resolve?{query}"));
    let (status, chosen) = resolve("exclude-advisories=true");
    assert_eq!((status, chosen["version"].as_str()), (200, Some("1.2.0")));
    let (status, body) = resolve("exclude-advisories=true&req=%3C1.2");
    assert_eq!(status, 404);
    let message = body["error"]["message"].as_str().unwrap();
    for version in ["1.0.0", "1.1.0"] {
        assert!(
            message.contains(&format!(
                "{version} (has an advisory (high: Greets the wrong person, made on 1.1.0"
            )),
            "{message}"
        );
    }
    assert_eq!(resolve("req=%3C1.2").1["version"], "1.1.0");

    // `depot info` shows it on every version it affects, and only there.
    let info = ok(server.cli(&["info", "example:greet@1.0.0"]));
    assert!(info.contains("advisories:"), "{info}");
    assert!(
        info.contains(
            "HIGH Greets the wrong person (affects >=1.0.0, <1.2.0; made on 1.1.0) \
             DEPOT-2026-1 https://example.com/advisories/1"
        ),
        "{info}"
    );
    let info = ok(server.cli(&["info", "example:greet@1.2.0"]));
    assert!(!info.contains("advisories:"), "{info}");
    let listing = ok(server.cli(&["info", "example:greet"]));
    let marked: Vec<&str> = listing
        .lines()
        .filter(|line| line.ends_with("(1 advisory)"))
        .collect();
    assert_eq!(marked.len(), 2, "{listing}");

    // The web view warns on the affected versions' pages.
    let page = |version: &str| {
        let (status, bytes) = server.get_bytes(&format!("/packages/example/greet/{version}"));
        assert_eq!(status, 200);
        String::from_utf8(bytes).unwrap()
    };
    let affected = page("1.0.0");
    assert!(affected.contains("Advisory (high)"), "{affected}");
    assert!(affected.contains("https://example.com/advisories/1"));
    assert!(
        affected.contains("href=\"/v1/log/proof/inclusion?seq="),
        "{affected}"
    );
    assert!(!page("1.2.0").contains("Advisory ("));

    // The feed carries it as the annotation it is.
    let (_, feed) = server.get_json("/v1/feed?since=0");
    let last = feed["entries"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "annotate");
    assert_eq!(last["annotation"]["type"], "advisory");
    assert_eq!(last["annotation"]["value"]["severity"], "high");
}

fn annotations_record_who_made_them_and_a_policy_may_trust_one_annotator(runtime: Runtime) {
    let server = Server::start_on(runtime);
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(0)).0,
        201
    );
    assert_eq!(
        server.publish("example:greet", "1.1.0", &greeter_n(1)).0,
        201
    );
    let (status, reviewer) = server.post(
        "/v1/tokens",
        &json!({"namespaces": ["example"], "label": "reviewer"}),
    );
    assert_eq!(status, 201, "{reviewer}");
    let reviewer_id = reviewer["id"].as_str().unwrap();
    let (_, tokens) = server.get_json("/v1/tokens");
    let operator_id = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["operator"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The reviewer reviews 1.0.0; the operator, 1.1.0.
    let review = json!({"type": "review", "value": {"verdict": "ok"}});
    let path = |version: &str| {
        server.at(&format!(
            "/v1/packages/example:greet/versions/{version}/annotations"
        ))
    };
    let by_reviewer = client_with_token(reviewer["token"].as_str().unwrap())
        .post(path("1.0.0"))
        .json(&review)
        .send()
        .unwrap();
    let (status, reviewed) = status_json(by_reviewer);
    assert_eq!(status, 201, "{reviewed}");
    assert_eq!(reviewed["annotations"][0]["annotator"], reviewer_id);
    let path_1_1 = "/v1/packages/example:greet/versions/1.1.0/annotations";
    assert_eq!(server.post(path_1_1, &review).0, 201);
    let (_, release) = server.get_json("/v1/packages/example:greet/versions/1.1.0");
    assert_eq!(release["annotations"][0]["annotator"], operator_id.as_str());
    let (_, feed) = server.get_json("/v1/feed?since=2");
    let annotators: Vec<&str> = feed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["annotation"]["annotator"].as_str().unwrap())
        .collect();
    assert_eq!(annotators, [reviewer_id, operator_id.as_str()]);

    // A review by anyone, or by the reviewer only.
    let resolve = |annotated: &str| {
        server.get_json(&format!(
            "/v1/packages/example:greet/resolve?annotated={annotated}"
        ))
    };
    assert_eq!(resolve("review").1["version"], "1.1.0");
    assert_eq!(
        resolve(&format!("review@{reviewer_id}")).1["version"],
        "1.0.0"
    );
    assert_eq!(
        resolve(&format!("review@{operator_id}")).1["version"],
        "1.1.0"
    );
    let (status, body) = resolve("review@0123456789ab");
    assert_eq!(status, 404, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("1.0.0 (no `review` annotation by 0123456789ab"),
        "{message}"
    );
    assert_error(&resolve("review@"), 400, "bad-request");
    // The CLI's flag and policy file take the same rule, and check it.
    let dir = tempfile::tempdir().unwrap();
    let rule = format!("review@{reviewer_id}");
    ok(server.cli_in(dir.path(), &["get", "example:greet", "--annotated", &rule]));
    assert!(dir.path().join("greet-1.0.0.wasm").exists());
    let info = ok(server.cli(&["info", "example:greet@1.0.0"]));
    assert!(
        info.contains(&format!("(by token {reviewer_id})")),
        "{info}"
    );
    // Leaves that record annotators hash to the signed checkpoint.
    let verified = ok(server.cli(&["verify"]));
    assert!(verified.contains("4 log entries match"), "{verified}");
}
