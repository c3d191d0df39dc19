//! Day-two operations: health and readiness, metrics on their own listener,
//! one log line per request with its id, and a graceful stop on SIGTERM.

use std::io::Read;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// A port nobody listens on now (bound, read, released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn health_and_readiness_answer(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let healthz = client().get(server.at("/healthz")).send().unwrap();
    assert!(healthz.headers().contains_key("x-request-id"));
    assert_eq!(
        status_json(healthz),
        (200, serde_json::json!({"status": "up"}))
    );
    let readyz = client().get(server.at("/readyz")).send().unwrap();
    assert_eq!(
        status_json(readyz),
        (200, serde_json::json!({"status": "ready"}))
    );
    let head = client().head(server.at("/readyz")).send().unwrap();
    assert_eq!(head.status(), 200);
    let post = client().post(server.at("/healthz")).send().unwrap();
    assert_eq!(post.headers()["allow"], "GET, HEAD");
    assert_error(&status_json(post), 405, "method-not-allowed");
    // A private registry still answers them without a token: an
    // orchestrator's probe carries none.
    let private = Server::start_with(ServerOptions {
        runtime,
        args: vec!["--private".into()],
        ..ServerOptions::default()
    });
    assert_eq!(
        client().get(private.at("/readyz")).send().unwrap().status(),
        200
    );
    assert_eq!(
        client()
            .get(private.at("/v1/stats"))
            .send()
            .unwrap()
            .status(),
        401
    );
}

on_every_runtime!(
    health_and_readiness_answer,
    a_client_that_stops_reading_is_not_logged_as_a_failure,
);

/// Clients stop reading whenever they like (`curl … | head`, a cancelled
/// download): the registry goes on serving, and says nothing about the body
/// it could not finish, which would only drown the lines that matter.
fn a_client_that_stops_reading_is_not_logged_as_a_failure(runtime: Runtime) {
    use std::io::Write;
    let (log, lines) = mpsc::channel();
    let server = Server::start_with(ServerOptions {
        log: Some(log),
        runtime,
        ..ServerOptions::default()
    });
    // Far more than the sockets' buffers hold, so the registry is still
    // writing when the client hangs up.
    let big = greeter(&Meta {
        padding: 8 * 1024 * 1024,
        ..Meta::default()
    });
    assert_eq!(server.publish("example:big", "1.0.0", &big).0, 201);
    let content = "/v1/packages/example:big/versions/1.0.0/content";
    for _ in 0..3 {
        let address = server.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        write!(stream, "GET {content} HTTP/1.1\r\nHost: {address}\r\n\r\n").unwrap();
        let mut start = [0u8; 4096];
        let read = stream.read(&mut start).unwrap();
        assert!(start[..read].starts_with(b"HTTP/1.1 200"));
        // Hang up mid-body.
        drop(stream);
    }
    // The registry serves on: the whole content to a client that reads it.
    let (status, bytes) = server.get_bytes(content);
    assert_eq!(status, 200);
    assert_eq!(bytes.len(), big.len());
    // The cut-short bodies are not reported.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            assert!(
                !line.contains("not sent in full")
                    && !line.contains(" WARN ")
                    && !line.contains(" ERROR "),
                "a client going away was logged as a problem: {line}"
            );
        }
    }
}

#[test]
fn metrics_are_served_on_their_own_listener_with_bounded_labels() {
    let port = free_port();
    let server = Server::start_with(ServerOptions {
        args: vec!["--metrics-listen".into(), format!("127.0.0.1:{port}")],
        ..ServerOptions::default()
    });
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(0)).0,
        201
    );
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(1)).0,
        409
    );
    let content = "/v1/packages/example:greet/versions/1.0.0/content";
    let (status, bytes) = server.get_bytes(content);
    assert_eq!(status, 200);
    assert_eq!(
        server
            .post_json("/v1/packages/example:greet/versions/1.0.0/yank")
            .0,
        200
    );
    assert_eq!(server.get_json("/v1/packages/example:nothing").0, 404);
    // The public listener has no metrics: its /metrics is a web page path.
    let public = client().get(server.at("/metrics")).send().unwrap();
    assert_eq!(public.status(), 404);

    let scrape = || {
        let response = client()
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain; version=0.0.4")
        );
        response.text().unwrap()
    };
    // The log's metrics follow the log as it lands, asynchronously.
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = scrape();
        if text.lines().any(|l| l == "depot_log_head 2") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let value = |line_start: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no `{line_start}` in:\n{text}"))
    };
    let requests = "depot_http_requests_total";
    assert_eq!(
        value(&format!(
            "{requests}{{class=\"v1-publish\",method=\"PUT\",status=\"201\"}}"
        )),
        1.0
    );
    assert_eq!(
        value(&format!(
            "{requests}{{class=\"v1-publish\",method=\"PUT\",status=\"409\"}}"
        )),
        1.0
    );
    assert_eq!(
        value(&format!(
            "{requests}{{class=\"v1-read\",method=\"GET\",status=\"404\"}}"
        )),
        1.0
    );
    assert_eq!(
        value("depot_http_response_body_bytes_total{class=\"v1-content\",method=\"GET\"}"),
        bytes.len() as f64
    );
    assert!(
        value("depot_http_request_body_bytes_total{class=\"v1-publish\",method=\"PUT\"}")
            >= (greeter_n(0).len() + greeter_n(1).len()) as f64
    );
    assert_eq!(value("depot_log_head"), 2.0);
    assert_eq!(value("depot_log_entries_total{action=\"release\"}"), 1.0);
    assert_eq!(value("depot_log_entries_total{action=\"yank\"}"), 1.0);
    assert_eq!(value("depot_instance_pool_size"), 256.0);
    // One append per log entry, each timed.
    assert_eq!(
        value("depot_store_call_duration_seconds_count{operation=\"append\"}"),
        2.0
    );
    assert_eq!(value("depot_instance_pool_in_use"), 0.0);
    assert!(value("depot_handler_instantiation_seconds_count") >= 5.0);
    assert!(
        value("depot_http_request_duration_seconds_count{class=\"v1-publish\",method=\"PUT\"}")
            == 2.0
    );
    assert_eq!(value("depot_uploads_open"), 0.0);
    // Names, versions and digests never become labels.
    for unbounded in ["example:greet", "1.0.0", "sha256:"] {
        assert!(
            !text.contains(unbounded),
            "`{unbounded}` in the metrics:\n{text}"
        );
    }
    // An upload started is open until it is completed or cancelled.
    let start = || {
        let response = server
            .http()
            .post(server.at("/v2/example/greet/blobs/uploads/"))
            .send()
            .unwrap();
        assert_eq!(response.status(), 202);
        response.headers()["location"].to_str().unwrap().to_string()
    };
    let (first, _second) = (start(), start());
    let open = |text: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix("depot_uploads_open ")?.parse::<f64>().ok())
    };
    assert_eq!(open(&scrape()), Some(2.0));
    let cancelled = server.http().delete(server.at(&first)).send().unwrap();
    assert_eq!(cancelled.status(), 204);
    assert_eq!(open(&scrape()), Some(1.0));
    let other = client()
        .get(format!("http://127.0.0.1:{port}/v1/stats"))
        .send()
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[test]
fn each_request_is_one_json_log_line_with_its_id_and_no_secret() {
    let (log, lines) = mpsc::channel();
    let server = Server::start_with(ServerOptions {
        args: vec!["--log-format".into(), "json".into()],
        log: Some(log),
        ..ServerOptions::default()
    });
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(0)).0,
        201
    );
    let given = server
        .http()
        .get(server.at("/v1/packages/example:greet"))
        .header("x-request-id", "trace-42.a")
        .send()
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-42.a");
    // An id that is not one (spaces) is replaced by a new one.
    let replaced = server
        .http()
        .get(server.at("/v1/stats"))
        .header("x-request-id", "not an id")
        .send()
        .unwrap();
    let made = replaced.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(made, "not an id");

    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let find = |seen: &[Value], id: &str| {
        seen.iter()
            .find(|line| line["fields"]["request_id"] == id)
            .cloned()
    };
    while (find(&seen, "trace-42.a").is_none() || find(&seen, &made).is_none())
        && Instant::now() < deadline
    {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) {
            let parsed: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {line}"));
            seen.push(parsed);
        }
    }
    let line = find(&seen, "trace-42.a").expect("the request's log line");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["target"], "depot::request");
    let fields = &line["fields"];
    assert_eq!(fields["method"], "GET");
    assert_eq!(fields["class"], "v1-read");
    assert_eq!(fields["status"], 200);
    assert_eq!(fields["path"], "/v1/packages/example:greet");
    assert!(fields["duration_ms"].as_f64().unwrap() > 0.0);
    assert!(fields["bytes_out"].as_u64().unwrap() > 0);
    let publish = seen
        .iter()
        .find(|l| l["fields"]["class"] == "v1-publish")
        .expect("the publish's log line");
    assert_eq!(publish["fields"]["status"], 201);
    assert_eq!(
        publish["fields"]["bytes_in"].as_u64().unwrap(),
        greeter_n(0).len() as u64
    );
    // The operator's token was sent with every request: it is in no line.
    let all = seen.iter().map(Value::to_string).collect::<String>();
    assert!(!server.token.is_empty());
    assert!(!all.contains(&server.token), "the token was logged");
}

/// A request body that arrives slowly: `chunks` pieces of `bytes`, one every
/// `every`.
struct Slow {
    bytes: Vec<u8>,
    sent: usize,
    chunk: usize,
    every: Duration,
}

impl Read for Slow {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.sent >= self.bytes.len() {
            return Ok(0);
        }
        std::thread::sleep(self.every);
        let n = self.chunk.min(buf.len()).min(self.bytes.len() - self.sent);
        buf[..n].copy_from_slice(&self.bytes[self.sent..self.sent + n]);
        self.sent += n;
        Ok(n)
    }
}

/// Publishes `content` as `example:greet` `version` with a body that takes
/// about 2 s to arrive, in a thread; its answer.
fn slow_publish(
    server: &Server,
    version: &str,
    content: Vec<u8>,
) -> std::thread::JoinHandle<(u16, Value)> {
    let url = server.at(&format!("/v1/packages/example:greet/versions/{version}"));
    let token = server.token.clone();
    std::thread::spawn(move || {
        let size = content.len() as u64;
        let chunk = content.len().div_ceil(10);
        let body = reqwest::blocking::Body::sized(
            Slow {
                bytes: content,
                sent: 0,
                chunk,
                every: Duration::from_millis(200),
            },
            size,
        );
        status_json(
            client_with_token(&token)
                .put(url)
                .body(body)
                .send()
                .unwrap(),
        )
    })
}

#[test]
fn sigterm_stops_accepting_and_lets_requests_in_flight_finish() {
    let mut server = Server::start_with(ServerOptions {
        args: vec!["--shutdown-grace".into(), "60s".into()],
        ..ServerOptions::default()
    });
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(0)).0,
        201
    );
    let data = server.data.clone();
    let token = server.token.clone();

    // A publish whose content takes about 2 s to arrive, and a long poll of
    // the feed that waits 3 s: both in flight when SIGTERM comes.
    let content = greeter_n(1);
    let publish = slow_publish(&server, "1.1.0", content.clone());
    let poll = {
        let url = server.at("/v1/feed?since=2&wait=3");
        std::thread::spawn(move || status_json(client().get(url).send().unwrap()))
    };
    std::thread::sleep(Duration::from_millis(500));
    let address = server.url.trim_start_matches("http://").to_string();
    let started = Instant::now();
    let status = server
        .terminate(Duration::from_secs(60))
        .expect("depot serve exits after its requests in flight");
    assert!(status.success(), "exit status {status}");
    // It waited for them: the long poll alone lasts 3 s.
    assert!(started.elapsed() >= Duration::from_millis(2000));
    // Both were answered in full: the publish acknowledged, the poll empty.
    let (status, release) = publish.join().unwrap();
    assert_eq!(status, 201, "{release}");
    let (status, page) = poll.join().unwrap();
    assert_eq!(status, 200, "{page}");
    // No new connection is taken once it has stopped.
    assert!(std::net::TcpStream::connect(&address).is_err());

    // The acknowledged publish is there after a restart, byte for byte.
    let restarted = Server::start_with(ServerOptions {
        data: Some(data),
        token: Some(token),
        ..ServerOptions::default()
    });
    assert_eq!(
        restarted.get_bytes("/v1/packages/example:greet/versions/1.1.0/content"),
        (200, content)
    );
    let said = ok(restarted.cli(&["verify"]));
    assert!(said.contains("2 log entries match"), "{said}");
}

#[test]
fn the_shutdown_grace_period_bounds_the_wait() {
    let mut server = Server::start_with(ServerOptions {
        args: vec!["--shutdown-grace".into(), "1s".into()],
        ..ServerOptions::default()
    });
    // A long poll that would wait a minute.
    let poll = {
        let url = server.at("/v1/feed?since=0&wait=60");
        std::thread::spawn(move || client().get(url).send().map(|r| r.status().as_u16()))
    };
    std::thread::sleep(Duration::from_millis(500));
    // It exits 0 without waiting out the minute-long poll.
    let status = server
        .terminate(Duration::from_secs(45))
        .expect("depot serve exits once the grace period is over");
    assert!(status.success(), "exit status {status}");
    // The poll was cut off, not answered.
    assert!(!matches!(poll.join().unwrap(), Ok(200)));
}

#[test]
fn a_token_over_its_write_rate_gets_429_with_retry_after_and_others_do_not() {
    let server = Server::start_with(ServerOptions {
        args: vec!["--write-rate".into(), "3/h".into()],
        ..ServerOptions::default()
    });
    // The operator's three writes: a token, two publishes.
    let (status, made) = server.post(
        "/v1/tokens",
        &serde_json::json!({"namespaces": ["example"], "label": "ci"}),
    );
    assert_eq!(status, 201, "{made}");
    let other = made["token"].as_str().unwrap().to_string();
    assert_eq!(
        server.publish("example:greet", "1.0.0", &greeter_n(0)).0,
        201
    );
    assert_eq!(
        server.publish("example:greet", "1.1.0", &greeter_n(1)).0,
        201
    );

    let over = server
        .http()
        .put(server.at("/v1/packages/example:greet/versions/1.2.0"))
        .body(greeter_n(2))
        .send()
        .unwrap();
    let wait: u64 = over.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 60 && wait <= 1200, "Retry-After {wait}");
    let message = assert_error(&status_json(over), 429, "rate-limited");
    assert!(message.contains("--write-rate"), "{message}");
    // Refused before it ran: nothing was published.
    assert_eq!(
        server
            .get_json("/v1/packages/example:greet/versions/1.2.0")
            .0,
        404
    );
    // Under /v2, in the OCI form.
    let push = server
        .http()
        .post(server.at("/v2/example/greet/blobs/uploads/"))
        .send()
        .unwrap();
    assert_eq!(push.status(), 429);
    assert!(push.headers().contains_key("retry-after"));
    let body: Value = push.json().unwrap();
    assert_eq!(body["errors"][0]["code"], "TOOMANYREQUESTS");
    // Reads are not limited, and another token has its own budget.
    assert_eq!(server.get_json("/v1/packages/example:greet").0, 200);
    let (status, release) = status_json(
        client_with_token(&other)
            .put(server.at("/v1/packages/example:greet/versions/1.2.0"))
            .body(greeter_n(2))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 201, "{release}");
}

#[test]
fn a_token_may_have_only_so_many_uploads_in_flight() {
    let server = Server::start_with(ServerOptions {
        args: vec!["--max-uploads-per-token".into(), "1".into()],
        ..ServerOptions::default()
    });
    let slow = slow_publish(&server, "1.0.0", greeter_n(0));
    std::thread::sleep(Duration::from_millis(600));
    let second = server
        .http()
        .put(server.at("/v1/packages/example:greet/versions/2.0.0"))
        .body(greeter_n(1))
        .send()
        .unwrap();
    assert!(second.headers().contains_key("retry-after"));
    let message = assert_error(&status_json(second), 429, "too-many-uploads");
    assert!(message.contains("--max-uploads-per-token"), "{message}");
    // A write without a body is not an upload.
    assert_eq!(server.get_json("/v1/stats").0, 200);
    assert_eq!(slow.join().unwrap().0, 201);
    // Once the first is done, the slot is free again.
    assert_eq!(
        server.publish("example:greet", "2.0.0", &greeter_n(1)).0,
        201
    );
}

#[test]
fn a_huge_description_or_world_is_refused_naming_the_limit() {
    let server = Server::start();
    let description = "d".repeat(4 * 1024 * 1024);
    let wordy = greeter(&Meta {
        description: Some(&description),
        ..Meta::default()
    });
    let message = assert_error(
        &server.publish("example:wordy", "1.0.0", &wordy),
        422,
        "policy-rejected",
    );
    assert!(message.contains("65536 bytes"), "{message}");
    // Just within the limit is fine.
    let within = "d".repeat(64 * 1024);
    let ok_size = greeter(&Meta {
        description: Some(&within),
        ..Meta::default()
    });
    assert_eq!(server.publish("example:wordy", "1.0.0", &ok_size).0, 201);

    let imports: String = (0..10_001)
        .map(|i| format!("  import call{i}: func();\n"))
        .collect();
    let wit = format!("package example:wide;\nworld wide {{\n{imports}}}\n");
    let wide = component(&wit, "wide", &Meta::default());
    let message = assert_error(
        &server.publish("example:wide", "1.0.0", &wide),
        422,
        "policy-rejected",
    );
    assert!(
        message.contains("10001 imports") && message.contains("10000"),
        "{message}"
    );
}
