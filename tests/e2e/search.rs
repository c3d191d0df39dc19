//! Search: by text, by exported or imported interface, by license and kind,
//! with a version requirement, page by page; through HTTP and the CLI.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::*;

/// A component exporting `example:{iface}/api@{version}` and importing
/// `example:log/sink@0.1.0`.
fn exporter(iface: &str, version: &str, meta: &Meta) -> Vec<u8> {
    let wit = format!(
        "package example:{iface}@{version};
         interface api {{ run: func() -> u32; }}
         world w {{
             import example:log/sink@0.1.0;
             export api;
         }}
         package example:log@0.1.0 {{ interface sink {{ log: func(m: string); }} }}"
    );
    component(&wit, "w", meta)
}

/// The names of a search's results, following every page.
fn search_all(server: &Server, query: &str, limit: u32) -> Vec<String> {
    let mut names = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = format!("/v1/search?{query}&limit={limit}");
        if let Some(after) = &after {
            path.push_str(&format!(
                "&after={}",
                after.replace(':', "%3A").replace('/', "%2F")
            ));
        }
        let (status, page) = server.get_json(&path);
        assert_eq!(status, 200, "{path}: {page}");
        for release in page["results"].as_array().unwrap() {
            names.push(release["name"].as_str().unwrap().to_string());
        }
        match &page["next"] {
            Value::String(next) => after = Some(next.clone()),
            _ => return names,
        }
    }
}

#[test]
fn search_finds_exactly_what_matches_each_filter() {
    let server = Server::start();
    let mit = Meta {
        licenses: Some("MIT"),
        description: Some("Parses TOML documents"),
        ..Meta::default()
    };
    let dual = Meta {
        licenses: Some("(Apache-2.0 OR MIT)"),
        description: Some("A tiny web server"),
        ..Meta::default()
    };
    let apache = Meta {
        licenses: Some("Apache-2.0"),
        description: Some("Renders markdown"),
        ..Meta::default()
    };
    let published = [
        ("acme:toml", "1.0.0", exporter("parse", "0.1.0", &mit)),
        ("acme:toml", "1.1.0", exporter("parse", "0.2.0", &mit)),
        ("acme:web", "0.3.0", exporter("serve", "0.1.0", &dual)),
        (
            "zed:markdown",
            "2.0.0",
            exporter("render", "0.1.0", &apache),
        ),
        ("zed:toml-lint", "0.1.0", greeter_n(3)),
    ];
    for (name, version, bytes) in &published {
        assert_eq!(
            server.publish(name, version, bytes).0,
            201,
            "{name}@{version}"
        );
    }
    let module = core_module(&Meta::default());
    assert_eq!(server.publish("acme:raw", "1.0.0", &module).0, 201);

    // By export, with and without a version.
    assert_eq!(
        search_all(&server, "exports=example%3Aparse%2Fapi", 10),
        ["acme:toml"]
    );
    let (_, page) = server.get_json("/v1/search?exports=example%3Aparse%2Fapi%400.1.0");
    assert_eq!(page["results"][0]["version"], "1.0.0", "{page}");
    let (_, page) = server.get_json("/v1/search?exports=example%3Aparse%2Fapi");
    assert_eq!(
        page["results"][0]["version"], "1.1.0",
        "the highest matching release"
    );
    // By import: every component built with the sink, not the greeter.
    assert_eq!(
        search_all(&server, "imports=example%3Alog%2Fsink", 10),
        ["acme:toml", "acme:web", "zed:markdown"]
    );
    // By license: an identifier within an expression, case-insensitively.
    assert_eq!(
        search_all(&server, "license=mit", 10),
        ["acme:toml", "acme:web"]
    );
    assert_eq!(
        search_all(&server, "license=Apache-2.0", 10),
        ["acme:web", "zed:markdown"]
    );
    // By kind.
    assert_eq!(search_all(&server, "kind=core-module", 10), ["acme:raw"]);
    // Text: the exact name, then names starting with it, then words.
    assert_eq!(
        search_all(&server, "q=acme%3Atoml", 10),
        ["acme:toml"],
        "an exact name matches only itself here"
    );
    assert_eq!(
        search_all(&server, "q=toml", 10),
        ["acme:toml", "zed:toml-lint"]
    );
    assert_eq!(search_all(&server, "q=markdown", 10), ["zed:markdown"]);
    assert_eq!(search_all(&server, "q=web+server", 10), ["acme:web"]);
    assert_eq!(search_all(&server, "q=TOML+documents", 10), ["acme:toml"]);
    // A version requirement narrows the releases.
    let (_, page) = server.get_json("/v1/search?q=acme%3Atoml&version=%3C1.1");
    assert_eq!(page["results"][0]["version"], "1.0.0");
    let (_, page) = server.get_json("/v1/search?q=acme%3Atoml&version=%5E3");
    assert_eq!(page["results"], serde_json::json!([]));
    assert_error(
        &server.get_json("/v1/search?version=not-a-req"),
        400,
        "invalid-requirement",
    );
    // Filters combine.
    assert_eq!(
        search_all(
            &server,
            "license=MIT&imports=example%3Alog%2Fsink&q=web",
            10
        ),
        ["acme:web"]
    );

    // Yanked and taken-down releases are left out unless asked for.
    assert_eq!(
        server
            .post_json("/v1/packages/acme:web/versions/0.3.0/yank")
            .0,
        200
    );
    assert!(search_all(&server, "license=mit", 10) == ["acme:toml"]);
    assert_eq!(
        search_all(&server, "license=mit&include=yanked", 10),
        ["acme:toml", "acme:web"]
    );
    let down = server.post(
        "/v1/packages/zed:markdown/versions/2.0.0/takedown",
        &serde_json::json!({"reason": "copyright"}),
    );
    assert_eq!(down.0, 200);
    assert!(search_all(&server, "q=markdown", 10).is_empty());
    assert_eq!(
        search_all(&server, "q=markdown&include=taken-down", 10),
        ["zed:markdown"]
    );

    // The CLI.
    let out = ok(server.cli(&["search", "--exports", "example:parse/api"]));
    assert!(out.contains("acme:toml@1.1.0"), "{out}");
    assert!(!out.contains("acme:web"), "{out}");
    let out = ok(server.cli(&["search", "toml", "--json"]));
    let json: Value = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme:toml", "zed:toml-lint"]);
}

#[test]
fn pagination_visits_every_result_once() {
    let server = Server::start();
    let mut expected = BTreeSet::new();
    for i in 0..23 {
        let name = format!("page:item{i:02}");
        let meta = Meta {
            description: Some("paged widget"),
            ..Meta::default()
        };
        let bytes = exporter("widget", &format!("0.{i}.0"), &meta);
        assert_eq!(server.publish(&name, "1.0.0", &bytes).0, 201);
        expected.insert(name);
    }
    for limit in [1, 5, 7, 23, 100] {
        for query in ["exports=example%3Awidget%2Fapi", "q=widget", "q=page"] {
            let names = search_all(&server, query, limit);
            let unique: BTreeSet<String> = names.iter().cloned().collect();
            assert_eq!(
                names.len(),
                unique.len(),
                "{query} limit {limit}: {names:?}"
            );
            assert_eq!(unique, expected, "{query} limit {limit}");
        }
    }
    assert_error(
        &server.get_json("/v1/search?after=nonsense"),
        400,
        "bad-request",
    );
}
