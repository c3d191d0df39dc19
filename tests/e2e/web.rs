//! The web view in a real browser: Debian's Chromium, headless, driven over
//! WebDriver (chromedriver) with fantoccini. Publishes with the CLI, then
//! reads, searches and downloads the way a person would. Each page's
//! screenshot is saved under `target/screenshots/` to look at.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use crate::support::*;

on_every_runtime!(pages_say_how_to_cache_them_and_answer_a_revisit_with_304);

/// Where the tests find the browser and its driver (Debian's `chromium` and
/// `chromium-driver` packages).
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A chromedriver process on a free port, stopped (by its pid) when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
        for path in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(path).exists(),
                "{path} is missing: the web view tests need Chromium and its WebDriver \
                 (apt-get install chromium chromium-driver)"
            );
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(CHROMEDRIVER)
            .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// A headless Chromium session, `width` CSS pixels wide; `javascript`
    /// false turns scripts off, as some readers do.
    async fn browser(&self, width: u32, javascript: bool) -> Client {
        let mut args = vec![
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ];
        if !javascript {
            args.push("--blink-settings=scriptEnabled=false");
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_string(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a Chromium session");
        client.set_window_size(width, 900).await.expect("resize");
        client
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `test` on a fresh single-threaded runtime.
fn block_on<F: std::future::Future>(test: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(test)
}

/// Saves a screenshot of the whole page as `target/screenshots/{name}.png`.
async fn screenshot(browser: &Client, name: &str) {
    let (width, height) = match browser
        .execute(
            "return [window.outerWidth, document.documentElement.scrollHeight];",
            vec![],
        )
        .await
        .expect("page size")
    {
        Value::Array(size) => (
            size[0].as_u64().unwrap_or(1280) as u32,
            size[1].as_u64().unwrap_or(900) as u32,
        ),
        other => panic!("page size: {other}"),
    };
    browser
        .set_window_size(width, height.clamp(600, 4000))
        .await
        .expect("resize");
    let png = browser.screenshot().await.expect("screenshot");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("save screenshot");
    browser.set_window_size(width, 900).await.expect("resize");
}

async fn text(browser: &Client, css: &str) -> String {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .text()
        .await
        .expect("text")
}

/// Clicks a link or button that leads to another page, and waits until the
/// browser is there (a click returns before the navigation it starts ends).
async fn click(browser: &Client, locator: Locator<'_>) {
    let before = browser.current_url().await.expect("url");
    browser
        .find(locator)
        .await
        .unwrap_or_else(|e| panic!("nothing to click: {e}"))
        .click()
        .await
        .expect("click");
    left(browser, before.as_str()).await;
}

/// Waits until the browser has left the page at `before`: what a click or
/// a submitted form started has arrived.
async fn left(browser: &Client, before: &str) {
    let start = Instant::now();
    while browser.current_url().await.expect("url").as_str() == before {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the browser stayed on {before}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn script(browser: &Client, script: &str) -> Value {
    browser.execute(script, vec![]).await.expect(script)
}

/// Whether the page is wider than the window (a phone would scroll sideways).
async fn overflows(browser: &Client) -> bool {
    script(
        browser,
        "return document.documentElement.scrollWidth > window.innerWidth;",
    )
    .await
        == json!(true)
}

#[test]
fn a_published_package_is_found_read_and_downloaded_in_a_browser() {
    let server = Server::start();
    let bytes = greeter(&Meta {
        description: Some("Greets people by name, politely"),
        licenses: Some("Apache-2.0 WITH LLVM-exception"),
        authors: Some("Ada Example"),
        source: Some("https://example.com/greet.git"),
        ..Meta::default()
    });
    let (_dir, file) = temp_file("greet.wasm", &bytes);
    ok(server.cli(&["publish", "example:greet@1.0.0", file.to_str().unwrap()]));
    ok(server.cli(&["publish", "example:greet@1.1.0", file.to_str().unwrap()]));
    ok(server.cli(&["yank", "example:greet@1.1.0"]));
    let other = greeter_n(7);
    let (_dir2, other_file) = temp_file("other.wasm", &other);
    ok(server.cli(&[
        "publish",
        "example:other@0.1.0",
        other_file.to_str().unwrap(),
    ]));
    ok(server.cli(&[
        "annotate",
        "example:greet@1.0.0",
        "--type",
        "audit.reviewed",
        "--value",
        r#"{"by":"security team"}"#,
    ]));

    let driver = Driver::start();
    let href = block_on(async {
        let browser = driver.browser(1280, true).await;

        // Home: the search box, the counts and the recent releases.
        browser.goto(&server.url).await.expect("home");
        assert_eq!(text(&browser, "h1").await, "Depot");
        let stats = text(&browser, ".stats").await;
        assert!(
            stats.contains("2 packages") && stats.contains("3 releases"),
            "{stats}"
        );
        let recent = text(&browser, "ol.releases").await;
        assert!(recent.contains("example:other 0.1.0"), "{recent}");
        assert!(recent.contains("example:greet 1.0.0"), "{recent}");
        screenshot(&browser, "home").await;

        // Search from the home page's form.
        browser
            .find(Locator::Css("#home-search"))
            .await
            .expect("search box")
            .send_keys("greet")
            .await
            .expect("type");
        click(&browser, Locator::Css("form.big button")).await;
        let url = browser.current_url().await.expect("url");
        assert_eq!(url.path(), "/search");
        assert_eq!(url.query(), Some("q=greet"));
        let results = text(&browser, "ol.results").await;
        assert!(results.contains("example:greet"), "{results}");
        assert!(results.contains("Greets people by name"), "{results}");
        // The yanked 1.1.0 is left out: the best live release is 1.0.0.
        assert!(
            results.contains("1.0.0") && !results.contains("1.1.0"),
            "{results}"
        );
        screenshot(&browser, "search").await;

        // Through to the package page.
        click(&browser, Locator::LinkText("example:greet")).await;
        assert_eq!(
            browser.current_url().await.unwrap().path(),
            "/packages/example/greet"
        );
        assert_eq!(text(&browser, "h1").await, "example:greet 1.0.0");
        assert_eq!(
            text(&browser, ".package-head .description").await,
            "Greets people by name, politely"
        );
        let wit = text(&browser, "pre.wit").await;
        assert!(wit.contains("export example:greet/greeter@0.1.0;"), "{wit}");
        assert!(
            wit.contains("greet: func(name: string) -> string;"),
            "{wit}"
        );
        let keywords = browser
            .find_all(Locator::Css("pre.wit span.k"))
            .await
            .expect("highlighted keywords");
        assert!(
            keywords.len() >= 4,
            "{} keywords highlighted",
            keywords.len()
        );
        let about = text(&browser, ".about").await;
        for fact in [
            "Apache-2.0 WITH LLVM-exception",
            "Ada Example",
            "https://example.com/greet.git",
            &sha256_hex(&bytes),
        ] {
            assert!(about.contains(fact), "{fact} missing from {about}");
        }
        let versions = text(&browser, "table.versions").await;
        assert!(versions.contains("1.1.0 yanked"), "{versions}");
        let annotations = text(&browser, "ol.annotations").await;
        assert!(annotations.contains("audit.reviewed"), "{annotations}");
        assert!(
            annotations.contains(r#"{"by":"security team"}"#),
            "{annotations}"
        );
        let commands = text(&browser, ".fetch").await;
        let registry = &server.url;
        assert!(
            commands.contains(&format!(
                "depot get example:greet@=1.0.0 --registry {registry}"
            )),
            "{commands}"
        );
        assert!(
            commands.contains("wkg get example:greet@1.0.0"),
            "{commands}"
        );
        // The script added a copy button to each command.
        let copy_buttons = browser.find_all(Locator::Css("button.copy")).await.unwrap();
        assert_eq!(copy_buttons.len(), 3);
        screenshot(&browser, "package").await;

        // The download link gives the published bytes: fetched by the page
        // itself and hashed in the browser.
        let link = browser
            .find(Locator::Css("a[download]"))
            .await
            .expect("download link");
        assert_eq!(
            link.attr("download").await.unwrap().as_deref(),
            Some("example_greet@1.0.0.wasm")
        );
        let digest = browser
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 fetch(document.querySelector('a[download]').href)
                   .then(r => r.arrayBuffer())
                   .then(b => crypto.subtle.digest('SHA-256', b))
                   .then(d => done([...new Uint8Array(d)]
                       .map(x => x.toString(16).padStart(2, '0')).join('')))
                   .catch(e => done('failed: ' + e));",
                vec![],
            )
            .await
            .expect("download in the browser");
        assert_eq!(digest, json!(sha256_hex(&bytes)));
        let href = link.attr("href").await.unwrap().unwrap();

        // An import links to a search for the packages that import it too.
        click(&browser, Locator::LinkText("example:greet/logger@0.1.0")).await;
        let url = browser.current_url().await.unwrap();
        assert_eq!(url.path(), "/search");
        assert_eq!(url.query(), Some("imports=example:greet/logger@0.1.0"));
        let results = text(&browser, "ol.results").await;
        assert!(
            results.contains("example:greet") && results.contains("example:other"),
            "{results}"
        );
        assert_eq!(
            browser
                .find(Locator::Css("#f-imports"))
                .await
                .unwrap()
                .prop("value")
                .await
                .unwrap()
                .as_deref(),
            Some("example:greet/logger@0.1.0")
        );

        // A version page, with the yank explained.
        browser
            .goto(&server.at("/packages/example/greet/1.1.0"))
            .await
            .unwrap();
        assert_eq!(text(&browser, "h1").await, "example:greet 1.1.0 yanked");
        assert!(text(&browser, ".notice.yanked").await.contains("yanked"));
        assert!(
            text(&browser, ".package-head .notice")
                .await
                .contains("1.0.0")
        );
        screenshot(&browser, "version").await;

        // The namespace page lists both packages.
        browser.goto(&server.at("/packages/example")).await.unwrap();
        let listed = text(&browser, "ol.results").await;
        assert!(
            listed.contains("example:greet") && listed.contains("example:other"),
            "{listed}"
        );
        screenshot(&browser, "namespace").await;

        // The 404 page offers a search for what was asked.
        browser
            .goto(&server.at("/packages/example/gret"))
            .await
            .unwrap();
        assert_eq!(text(&browser, "h1").await, "Not found");
        browser.goto(&server.at("/no/such/page")).await.unwrap();
        assert_eq!(text(&browser, "h1").await, "Page not found");
        click(
            &browser,
            Locator::XPath("//a[starts-with(., 'Search for')]"),
        )
        .await;
        assert_eq!(browser.current_url().await.unwrap().query(), Some("q=page"));
        screenshot(&browser, "not-found").await;

        // A phone: 375 px wide, nothing wider than the screen.
        browser.set_window_size(375, 900).await.unwrap();
        for path in [
            "/",
            "/search?q=greet",
            "/packages/example/greet",
            "/packages/example",
        ] {
            browser.goto(&server.at(path)).await.unwrap();
            assert!(!overflows(&browser).await, "{path} is wider than 375 px");
        }
        browser
            .goto(&server.at("/packages/example/greet"))
            .await
            .unwrap();
        screenshot(&browser, "package-375").await;
        browser.close().await.unwrap();

        // Without JavaScript: the search form and the links still work.
        let plain = driver.browser(1280, false).await;
        plain.goto(&server.url).await.unwrap();
        let home = plain.current_url().await.unwrap();
        plain
            .find(Locator::Css("#site-search"))
            .await
            .unwrap()
            .send_keys("other\n")
            .await
            .unwrap();
        left(&plain, home.as_str()).await;
        assert_eq!(plain.current_url().await.unwrap().query(), Some("q=other"));
        click(&plain, Locator::LinkText("example:other")).await;
        assert_eq!(text(&plain, "h1").await, "example:other 0.1.0");
        assert!(
            plain
                .find_all(Locator::Css("button.copy"))
                .await
                .unwrap()
                .is_empty()
        );
        plain.close().await.unwrap();
        href
    });
    // The same bytes reach a plain HTTP client that follows the link.
    let (status, downloaded) = server.get_bytes(&href);
    assert_eq!(status, 200);
    assert_eq!(downloaded, bytes);
}

#[test]
fn publisher_written_text_with_markup_shows_as_text() {
    let server = Server::start();
    let hostile =
        r#"<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"><b>bold</b>"#;
    let authors = r#"Eve <eve@example.com> "><script>window.pwned = 4</script>"#;
    let homepage = "https://example.com/?a=1&b=<i>x</i>";
    let bytes = greeter(&Meta {
        description: Some(hostile),
        authors: Some(authors),
        source: Some("javascript:window.pwned=3"),
        homepage: Some(homepage),
        ..Meta::default()
    });
    let (_dir, file) = temp_file("greet.wasm", &bytes);
    ok(server.cli(&["publish", "example:hostile@1.0.0", file.to_str().unwrap()]));
    let note = r#"{"verdict":"</code></pre><script>window.pwned = 5</script>"}"#;
    ok(server.cli(&[
        "annotate",
        "example:hostile@1.0.0",
        "--type",
        "review",
        "--value",
        note,
    ]));
    // The homepage as the registry keeps it (the URL parser escapes `<`).
    let (_, release) = server.get_json("/v1/packages/example:hostile/versions/1.0.0");
    let kept_homepage = release["metadata"]["homepage"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(kept_homepage.contains("&b="), "{kept_homepage}");

    let (status, html) = server.get_bytes("/packages/example/hostile");
    assert_eq!(status, 200);
    let html = String::from_utf8(html).unwrap();
    assert!(!html.contains("<script>window"), "{html}");
    assert!(
        html.contains("&lt;script&gt;window.pwned = 1&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("href=\"javascript:"), "{html}");
    assert!(
        html.contains(&format!("href=\"{}\"", kept_homepage.replace('&', "&amp;"))),
        "{html}"
    );

    let driver = Driver::start();
    block_on(async {
        let browser = driver.browser(1280, true).await;
        for path in ["/packages/example/hostile", "/search?q=hostile", "/"] {
            browser.goto(&server.at(path)).await.unwrap();
            let description = text(&browser, ".description").await;
            assert_eq!(description, hostile, "{path}");
            assert_eq!(
                script(&browser, "return window.pwned === undefined;").await,
                json!(true),
                "{path} ran the description"
            );
            assert!(
                browser
                    .find_all(Locator::Css(".description b, .description img"))
                    .await
                    .unwrap()
                    .is_empty(),
                "{path} made markup of the description"
            );
        }
        // On the package page: the authors and the annotation as written,
        // the homepage a link to exactly the URL kept, and nothing run.
        browser
            .goto(&server.at("/packages/example/hostile"))
            .await
            .unwrap();
        let page = script(&browser, "return document.body.innerText;").await;
        let page = page.as_str().unwrap();
        assert!(page.contains(authors), "{page}");
        assert!(page.contains(note), "{page}");
        let href = script(
            &browser,
            "return [...document.querySelectorAll('a')].map(a => a.getAttribute('href'))\
             .filter(h => h.startsWith('https://example.com'));",
        )
        .await;
        assert_eq!(href, json!([kept_homepage]));
        assert_eq!(
            script(
                &browser,
                "return window.pwned === undefined && \
                 [...document.scripts].every(s => s.getAttribute('src')?.startsWith('/static/')) && \
                 [...document.querySelectorAll('img, b, i')].every(e => e.closest('a.brand'));"
            )
            .await,
            json!(true),
            "the package page made markup of what the publisher wrote"
        );
        browser.close().await.unwrap();
    });
}

/// The content security policy every page carries: the registry's own
/// stylesheet, script and images, forms and fetches to it, nothing else.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// The attribute values of `html`'s tags: (tag, attribute, value), with the
/// value single-, double- or un-quoted as HTML allows.
fn attributes(html: &str) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let tag = rest[..name_end].to_ascii_lowercase();
        rest = &rest[name_end..];
        if tag.starts_with('!') || tag.is_empty() {
            continue;
        }
        // Attributes until the tag's `>` (a `>` inside quotes does not end it).
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
            if rest.is_empty() || rest.starts_with('>') {
                break;
            }
            let name_end = rest
                .find(|c: char| c.is_whitespace() || c == '=' || c == '>')
                .unwrap_or(rest.len());
            let name = rest[..name_end].to_ascii_lowercase();
            rest = rest[name_end..].trim_start();
            let mut value = String::new();
            if let Some(after) = rest.strip_prefix('=') {
                let after = after.trim_start();
                let (v, remaining) = match after.chars().next() {
                    Some(quote @ ('"' | '\'')) => {
                        let body = &after[1..];
                        let end = body.find(quote).unwrap_or(body.len());
                        (&body[..end], &body[(end + 1).min(body.len())..])
                    }
                    _ => {
                        let end = after
                            .find(|c: char| c.is_whitespace() || c == '>')
                            .unwrap_or(after.len());
                        (&after[..end], &after[end..])
                    }
                };
                value = v.to_string();
                rest = remaining;
            }
            found.push((tag.clone(), name, value));
        }
    }
    found
}

/// Checks that `html` loads nothing from outside the registry: every
/// resource it names (`src`, `srcset`, `href` but an `<a>`'s, `action`,
/// `formaction`, `poster`, `data`, CSS `url(…)`) is one of the registry's own
/// paths. Links a person may follow (`<a href>`) may leave, but only to a web
/// page, never to a script.
fn assert_loads_nothing_from_outside(page: &str, html: &str) {
    let own = |value: &str| {
        value.starts_with('/') && !value.starts_with("//")
            || value.starts_with('#')
            || value.starts_with('?')
    };
    let loading = [
        "src",
        "srcset",
        "href",
        "action",
        "formaction",
        "poster",
        "data",
    ];
    let mut resources = 0;
    for (tag, name, value) in attributes(html) {
        if tag == "a" && name == "href" {
            let lower = value.to_ascii_lowercase();
            assert!(
                own(&value) || lower.starts_with("https://") || lower.starts_with("http://"),
                "{page}: <a href={value:?}>"
            );
        } else if loading.contains(&name.as_str()) {
            resources += 1;
            assert!(
                own(&value),
                "{page}: <{tag} {name}={value:?}> leaves the registry"
            );
        } else if name == "style" {
            assert!(!value.contains("url("), "{page}: <{tag} style={value:?}>");
        }
    }
    assert!(
        resources > 0,
        "{page}: no stylesheet or script found: {html}"
    );
    for style in html.split("<style").skip(1) {
        let css = style.split("</style>").next().unwrap_or_default();
        for url in css.split("url(").skip(1) {
            let url = url.trim_start_matches(['"', '\'']);
            assert!(own(url), "{page}: CSS url({url:.40}) leaves the registry");
        }
    }
}

#[test]
fn the_attribute_scan_finds_resources_in_any_quoting() {
    let html = r#"<link rel=stylesheet href=https://cdn.example/x.css><img src='//evil/x.png'><a href="/p">p</a>"#;
    assert_eq!(
        attributes(html),
        [
            ("link".into(), "rel".into(), "stylesheet".into()),
            (
                "link".into(),
                "href".into(),
                "https://cdn.example/x.css".into()
            ),
            ("img".into(), "src".into(), "//evil/x.png".into()),
            ("a".into(), "href".into(), "/p".into()),
        ]
    );
    let refused = std::panic::catch_unwind(|| assert_loads_nothing_from_outside("test", html));
    assert!(refused.is_err(), "an outside stylesheet passed the scan");
}

fn pages_say_how_to_cache_them_and_answer_a_revisit_with_304(runtime: Runtime) {
    let server = Server::start_on(runtime);
    let bytes = greeter(&Meta::default());
    let (_dir, file) = temp_file("greet.wasm", &bytes);
    ok(server.cli(&["publish", "example:greet@1.0.0", file.to_str().unwrap()]));
    let http = client();

    let page = http
        .get(server.at("/packages/example/greet"))
        .send()
        .unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    // Anyone's to keep, but asked for again each time (the ETag makes that a 304).
    assert_eq!(headers["cache-control"], "public, no-cache");
    let etag = headers["etag"].to_str().unwrap().to_string();
    let body = page.text().unwrap();

    // Every page, the missing page too, has the whole policy and loads
    // nothing from outside the registry.
    for path in [
        "/",
        "/search?q=greet",
        "/search?exports=example%3Agreet%2Fgreeter%400.1.0",
        "/packages/example",
        "/packages/example/greet",
        "/packages/example/greet/1.0.0",
        "/packages/example/nope",
    ] {
        let response = http.get(server.at(path)).send().unwrap();
        assert_eq!(
            response.headers()["content-security-policy"],
            CONTENT_SECURITY_POLICY,
            "{path}"
        );
        assert_loads_nothing_from_outside(path, &response.text().unwrap());
    }

    let revisit = http
        .get(server.at("/packages/example/greet"))
        .header("if-none-match", &etag)
        .send()
        .unwrap();
    assert_eq!(revisit.status(), 304);
    assert!(revisit.bytes().unwrap().is_empty());

    // A change to the package changes the page and its ETag.
    ok(server.cli(&["yank", "example:greet@1.0.0"]));
    let changed = http
        .get(server.at("/packages/example/greet"))
        .header("if-none-match", &etag)
        .send()
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_ne!(changed.headers()["etag"].to_str().unwrap(), etag);

    // The stylesheet is named by its hash and cached for good.
    let stylesheet = body
        .split("rel=\"stylesheet\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a stylesheet link");
    let css = http.get(server.at(stylesheet)).send().unwrap();
    assert_eq!(css.status(), 200);
    assert_eq!(
        css.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(
        http.get(server.at("/static/depot-0000000000000000.css"))
            .send()
            .unwrap()
            .status(),
        404
    );

    // HEAD has the headers and no body; other methods are refused.
    let head = http.head(server.at("/")).send().unwrap();
    assert_eq!(head.status(), 200);
    assert!(head.bytes().unwrap().is_empty());
    let post = http.post(server.at("/")).send().unwrap();
    assert_error(&status_json(post), 405, "method-not-allowed");

    // A missing page is a 404 page that helps; the API keeps its JSON 404.
    let missing = http
        .get(server.at("/packages/example/nope"))
        .send()
        .unwrap();
    assert_eq!(missing.status(), 404);
    let text = missing.text().unwrap();
    assert!(text.contains("example:nope"), "{text}");
    let (status, json) = server.get_json("/v1/nope");
    assert_eq!(status, 404);
    assert_eq!(json["error"]["code"], "not-found");
    let (status, stats) = server.get_json("/v1/stats");
    assert_eq!(status, 200);
    assert_eq!(
        (&stats["packages"], &stats["releases"], &stats["head"]),
        (&json!(1), &json!(1), &json!(2))
    );
}
