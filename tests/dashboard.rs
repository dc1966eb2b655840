//! The dashboard in a real browser: `image-builder sandbox` (the bot against the simulator, its
//! default scenario) serves it, headless Chromium reads it over WebDriver. After a scenario of
//! a failed upload on two registries, a failed build, a superseded build and a running job,
//! each fleet cell says the right thing; a running job moves its cells and its board without a
//! reload; a reason holding `<script>` is text and runs nothing; with scripts off the pages
//! still show everything. The fleet's screenshot is written to `target/screenshots/fleet.png`
//! (and to `docs/fleet.png`, which the README shows, when `IMAGE_BUILDER_SCREENSHOTS=1`).
//!
//! And without a browser: a dashboard with a token refuses a request without it, or with
//! another, with 401.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use image_builder::history::HistoryRecord;
use image_builder::launchpad::models::{BuildState, UploadStatus};
use image_builder::store::Store;
use serde_json::json;
use support::bot::TempDir;
use support::browser::{Browser, Session};
use support::process::{binary, Running};

/// A sandbox with its input, the lines it printed, and its dashboard's URL.
struct Sandbox {
    _process: Running,
    input: ChildStdin,
    lines: Receiver<String>,
    url: String,
}

impl Sandbox {
    /// The sandbox on `data` (the built-in config, bind9 built for amd64 and arm64 only, and
    /// no confirmation below 1,000 builds), with `token` as `DASHBOARD_TOKEN`.
    fn start(dir: &TempDir, token: Option<&str>) -> Sandbox {
        let config = dir.0.join("config.toml");
        let text = image_builder::config::BUILT_IN
            .replace("\nabove_builds = 12\n", "\nabove_builds = 100\n")
            .replace(
                "[images.bind9]\n",
                "[images.bind9]\narchitectures = [\"amd64\", \"arm64\"]\n",
            );
        std::fs::write(&config, text).unwrap();
        let mut command = binary();
        command
            .args(["sandbox", "--speed", "200", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(dir.0.join("data"))
            .env_remove("DASHBOARD_TOKEN")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(token) = token {
            command.env("DASHBOARD_TOKEN", token);
        }
        let mut process = Running(command.spawn().unwrap());
        let input = process.0.stdin.take().unwrap();
        let output = BufReader::new(process.0.stdout.take().unwrap());
        let (line_tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in output.lines().map_while(Result::ok) {
                let _ = line_tx.send(line);
            }
        });
        let mut sandbox = Sandbox {
            _process: process,
            input,
            lines,
            url: String::new(),
        };
        let banner = sandbox.line_with("The dashboard", Duration::from_secs(30));
        sandbox.url = banner
            .split_whitespace()
            .find(|word| word.starts_with("http://127.0.0.1:"))
            .expect("the banner names the dashboard's URL")
            .to_string();
        sandbox
    }

    fn say(&mut self, line: &str) {
        writeln!(self.input, "{line}").unwrap();
        self.input.flush().unwrap();
    }

    /// The first line printed from now holding `text`.
    fn line_with(&mut self, text: &str, limit: Duration) -> String {
        let started = Instant::now();
        while let Some(left) = limit.checked_sub(started.elapsed()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("the sandbox never printed {text:?}");
    }
}

/// A build history remembers as superseded (a newer build of the recipe and processor was
/// built first, so nothing was pushed for it): the simulator makes one only when two builds'
/// random durations cross, so it is written in the store the sandbox opens.
fn superseded_build() -> HistoryRecord {
    let at = Utc::now() - TimeDelta::hours(3);
    let build = "http://launchpad.test/api/devel/~ubuntu-docker-images/ubuntu-docker-images/+oci/postgres/+recipe/postgres-13-21.04/+build/900001";
    HistoryRecord {
        build: build.to_string(),
        web_link: build.replace("/api/devel", ""),
        image: "postgres".parse().unwrap(),
        series: "21.04".parse().unwrap(),
        track: "13".into(),
        arch: "arm64".parse().unwrap(),
        job: None,
        requester: Some("~someone".into()),
        reason: None,
        requested_at: at,
        state: BuildState::BuildForSupersededSource,
        upload: UploadStatus::Superseded,
        upload_error: None,
        updated_at: at,
        log_url: None,
        dates: Default::default(),
    }
}

/// Waits until the fleet page (reloaded each time) shows `progress` in `cell`.
async fn reload_until(session: &Session, url: &str, cell: &str, progress: &str, limit: Duration) {
    let started = Instant::now();
    loop {
        session.goto(url).await;
        let css = format!("td[data-cell=\"{cell}\"]");
        let now = session.attribute(&css, "data-progress").await;
        if now.as_deref() == Some(progress) {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "{cell} never showed {progress}: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn cell(session: &Session, key: &str) -> (String, String) {
    let css = format!("td[data-cell=\"{key}\"]");
    let progress = session.attribute(&css, "data-progress").await;
    let text = session.text(&css).await;
    (progress.unwrap_or_default(), text.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_in_a_browser_after_a_scenario_live_escaped_and_without_scripts() {
    let dir = TempDir::new("dashboard");
    {
        let store = Store::open(&dir.0.join("data")).unwrap();
        store.put_history(&[superseded_build()]).unwrap();
    }
    let mut sandbox = Sandbox::start(&dir, None);
    let browser = Browser::start().await;
    let url = sandbox.url.clone();

    // A running mass rebuild moves its cells on the open page, without a reload.
    let live = browser.session(true).await;
    live.goto(&url).await;
    assert_eq!(
        cell(&live, "memcached/20.04/arm64").await.0,
        "none",
        "nothing built yet"
    );
    live.execute("window.sameDocument = 'yes';", json!([]))
        .await;
    sandbox.say("rebuild 20.04 all");
    let running = live
        .wait_for(
            "td[data-cell=\"memcached/20.04/arm64\"]",
            "data-progress",
            "building",
            Duration::from_secs(60),
        )
        .await
        || cell(&live, "memcached/20.04/arm64").await.0 != "none";
    assert!(running, "the cell moved while the job ran");
    assert!(
        live.wait_for(
            "td[data-cell=\"memcached/20.04/arm64\"]",
            "data-progress",
            "done",
            Duration::from_secs(90),
        )
        .await,
        "the cell reached done: {:?}",
        cell(&live, "memcached/20.04/arm64").await
    );
    let kept = live.execute("return window.sameDocument;", json!([])).await;
    assert_eq!(kept, "yes", "the page was not reloaded");
    assert_eq!(live.text("#live-state").await.as_deref(), Some("live"));

    // A job's board on its own page moves too.
    sandbox.say("rebuild 22.04 amd64 redis");
    sandbox.line_with("Job #2 accepted", Duration::from_secs(30));
    live.goto(&format!("{url}jobs/2")).await;
    let first = live.text("pre.board").await.unwrap_or_default();
    live.execute("window.sameDocument = 'still';", json!([]))
        .await;
    let started = Instant::now();
    loop {
        let now = live.text("pre.board").await.unwrap_or_default();
        if now != first {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the board never moved: {first}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let kept = live.execute("return window.sameDocument;", json!([])).await;
    assert_eq!(kept, "still", "the job page was not reloaded");

    // The scenario: a failed upload on two registries, a failed build, a reason with markup
    // (and, from the mass rebuild, redis's arm64 upload failing once on one registry and
    // mysql's amd64 build whose files Launchpad failed to take in).
    sandbox.say("rebuild 22.04 s390x nginx");
    sandbox.say("rebuild 24.04 ppc64el squid");
    sandbox.say(
        "rebuild 20.04 amd64 redis reason=\"<script>window.injected=1</script><img src=x onerror=window.injected=2>\"",
    );
    let page = browser.session(true).await;
    let limit = Duration::from_secs(120);
    reload_until(&page, &url, "nginx/22.04/s390x", "upload_failed", limit).await;
    reload_until(&page, &url, "squid/24.04/ppc64el", "build_failed", limit).await;
    reload_until(&page, &url, "redis/20.04/amd64", "done", limit).await;
    reload_until(&page, &url, "redis/22.04/amd64", "done", limit).await;
    let (_, nginx) = cell(&page, "nginx/22.04/s390x").await;
    assert!(
        nginx.contains("upload failed") && nginx.contains('!'),
        "{nginx}"
    );
    let (_, squid) = cell(&page, "squid/24.04/ppc64el").await;
    assert!(squid.contains("failed") && squid.contains('✗'), "{squid}");
    let (progress, postgres) = cell(&page, "postgres/21.04/arm64").await;
    assert_eq!(progress, "superseded");
    assert!(
        postgres.contains("superseded") && postgres.contains("3h ago"),
        "{postgres}"
    );
    let (progress, bind9) = cell(&page, "bind9/22.04/s390x").await;
    assert_eq!(progress, "absent");
    assert!(bind9.contains("not built for s390x"), "{bind9}");
    let (progress, never) = cell(&page, "apache2/24.04/amd64").await;
    assert_eq!(
        (progress.as_str(), never.as_str()),
        ("none", "no build yet")
    );
    let headline = page.text("#headline").await.unwrap();
    assert!(
        headline.starts_with("4 need a hand: 2 failed builds, 2 failed uploads"),
        "{headline}"
    );
    // Each failed cell links to its build on Launchpad, and a failed build to its log.
    let link = page
        .attribute("td[data-cell=\"squid/24.04/ppc64el\"] a", "href")
        .await
        .unwrap();
    assert!(
        link.contains("/+oci/squid/+recipe/") && link.contains("/+build/"),
        "{link}"
    );
    let log = page
        .attribute(
            "td[data-cell=\"squid/24.04/ppc64el\"] .links a:last-child",
            "href",
        )
        .await
        .unwrap();
    assert!(log.contains("buildlog"), "{log}");

    // Filters: what needs a hand, on one series.
    page.goto(&format!("{url}?state=needs-a-hand")).await;
    let shown = page.count("td.cell:not(.hidden)").await;
    assert_eq!(shown, 4, "only the failed builds and the failed uploads");
    for failed in ["redis/20.04/arm64", "mysql/20.04/amd64"] {
        let (progress, _) = cell(&page, failed).await;
        assert!(progress.ends_with("_failed"), "{failed}: {progress}");
    }
    page.goto(&format!("{url}?series=24.04&arch=ppc64el")).await;
    assert_eq!(
        page.count("tbody tr").await,
        5,
        "the five images built for 24.04"
    );
    assert_eq!(page.count("thead th").await, 3);

    // The reason is text on the jobs page, and ran nothing.
    page.goto(&format!("{url}jobs")).await;
    let jobs = page.text("main").await.unwrap();
    assert!(
        jobs.contains("<script>window.injected=1</script><img src=x onerror=window.injected=2>"),
        "{jobs}"
    );
    let injected = page
        .execute("return window.injected === undefined;", json!([]))
        .await;
    assert_eq!(injected, true, "nothing of the reason ran");
    assert_eq!(page.count("main script, main img").await, 0);

    // The failed uploads: told, and the command that retries each. Someone's build from
    // Launchpad's web UI, whose pushes always fail on both registries, is among them: the
    // webhook listener heard of it, and Launchpad cannot show it (so its architecture, and its
    // fleet cell, are not known).
    let started = Instant::now();
    let uploads = loop {
        page.goto(&format!("{url}uploads")).await;
        let uploads = page.text("main").await.unwrap();
        if uploads.contains("postgres 14 on 22.04, build") || started.elapsed() > limit {
            break uploads;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(uploads.contains("nginx 1.18 on 22.04 s390x"), "{uploads}");
    assert!(
        uploads.contains("image-builder retry uploads "),
        "{uploads}"
    );
    assert!(uploads.contains("postgres 14 on 22.04, build"), "{uploads}");
    assert!(uploads.contains("retry alert "), "{uploads}");

    // The trends draw their pictures.
    page.goto(&format!("{url}trends")).await;
    assert_eq!(page.count("figure.trend svg").await, 3);

    // The screenshot the README shows: the series the mass rebuild built.
    page.goto(&format!("{url}?series=20.04")).await;
    let png = page.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("fleet.png"), &png).unwrap();
    if std::env::var_os("IMAGE_BUILDER_SCREENSHOTS").is_some() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/fleet.png");
        std::fs::write(docs, &png).unwrap();
    }

    // Scripts off: the same cells, and a page that reloads itself instead.
    let plain = browser.session(false).await;
    plain.goto(&url).await;
    assert_eq!(cell(&plain, "nginx/22.04/s390x").await.0, "upload_failed");
    assert_eq!(cell(&plain, "squid/24.04/ppc64el").await.0, "build_failed");
    assert_eq!(
        plain.text("#live-state").await.as_deref(),
        Some("read-only"),
        "the script did not run"
    );
    plain.goto(&format!("{url}jobs/1")).await;
    let board = plain.text("pre.board").await.unwrap();
    assert!(board.contains("memcached"), "{board}");
    for session in [live, page, plain] {
        session.close().await;
    }
}

#[tokio::test]
async fn a_dashboard_with_a_token_refuses_requests_without_it_or_with_another() {
    let dir = TempDir::new("dashboard-token");
    let sandbox = Sandbox::start(&dir, Some("a-long-random-token"));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str, bearer: Option<&str>| {
        let mut request = http.get(format!("{}{path}", sandbox.url));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    for path in ["", "jobs", "uploads", "trends", "events?page=/"] {
        assert_eq!(get(path, None).await.unwrap().status(), 401, "{path}");
        let wrong = get(path, Some("a-long-random-tokem")).await.unwrap();
        assert_eq!(wrong.status(), 401, "{path}");
    }
    let right = get("", Some("a-long-random-token")).await.unwrap();
    assert_eq!(right.status(), 200);
    let policy = right.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("default-src 'none'"), "{policy}");
    // The login link sets the cookie a browser then sends.
    let login = get("login?token=a-long-random-token", None).await.unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let with_cookie = http
        .get(format!("{}jobs", sandbox.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), 200);
    assert_eq!(get("login?token=guess", None).await.unwrap().status(), 401);
}
