//! Headless Chromium driven over WebDriver (W3C, JSON over HTTP) through Debian's chromedriver:
//! one driver per test file, a session per test. A few calls of the protocol, made with the
//! HTTP client the crate already has: open a page, find by CSS, read text and attributes, run
//! a script, take a screenshot (`reference/browser-tests.md`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::process::Running;

/// The key W3C WebDriver names an element by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver on a free loopback port.
pub struct Browser {
    _driver: Running,
    root: String,
    http: reqwest::Client,
}

impl Browser {
    /// Starts chromedriver, or fails naming the packages to install.
    pub async fn start() -> Browser {
        for program in ["chromium", "chromedriver"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {program}")])
                .output()
                .is_ok_and(|out| out.status.success());
            assert!(
                found,
                "{program} is missing: the browser tests need Debian's chromium and \
                 chromium-driver (apt-get install -y chromium chromium-driver; .ci/run does)"
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Running(
            Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let browser = Browser {
            _driver: driver,
            root: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let started = Instant::now();
        loop {
            let ready = browser
                .http
                .get(format!("{}/status", browser.root))
                .send()
                .await;
            if let Ok(response) = ready {
                let status: Value = response.json().await.unwrap_or_default();
                if status["value"]["ready"] == true {
                    return browser;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A new headless Chromium session, with scripts on or off, 1280×900.
    pub async fn session(&self, scripts: bool) -> Session {
        let mut options = json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-quic",
                "--window-size=1280,900",
            ],
        });
        if !scripts {
            options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
        }
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": options,
            }}
        });
        let answer = call(
            &self.http,
            reqwest::Method::POST,
            &format!("{}/session", self.root),
            Some(capabilities),
        )
        .await;
        let id = answer["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        Session {
            root: format!("{}/session/{id}", self.root),
            http: self.http.clone(),
        }
    }
}

/// One browser window.
pub struct Session {
    root: String,
    http: reqwest::Client,
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Value {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert!(status.is_success(), "WebDriver {url}: {status} {answer}");
    answer["value"].clone()
}

impl Session {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        call(&self.http, method, &format!("{}{path}", self.root), body).await
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    /// Runs `script` (a function body) in the page; its return value.
    pub async fn execute(&self, script: &str, args: Value) -> Value {
        let body = json!({ "script": script, "args": args });
        self.call(reqwest::Method::POST, "/execute/sync", Some(body))
            .await
    }

    /// The text of the first element `css` finds, if there is one (no script needed).
    pub async fn text(&self, css: &str) -> Option<String> {
        self.of_element(css, "text").await
    }

    /// An attribute of the first element `css` finds.
    pub async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        self.of_element(css, &format!("attribute/{name}")).await
    }

    /// `what` of the first element `css` finds: found again when a live page replaced it
    /// between the finding and the reading (WebDriver's "stale element reference").
    async fn of_element(&self, css: &str, what: &str) -> Option<String> {
        for _ in 0..10 {
            let body = json!({ "using": "css selector", "value": css });
            let url = format!("{}/elements", self.root);
            let found = call(&self.http, reqwest::Method::POST, &url, Some(body)).await;
            let element = found.as_array()?.first()?[ELEMENT].as_str()?.to_string();
            let url = format!("{}/element/{element}/{what}", self.root);
            let response = self.http.get(&url).send().await.unwrap();
            let answer: Value = response.json().await.unwrap();
            if answer["value"]["error"] == "stale element reference" {
                continue;
            }
            return answer["value"].as_str().map(str::to_string);
        }
        panic!("{css} was replaced ten times over while being read");
    }

    /// How many elements `css` finds.
    pub async fn count(&self, css: &str) -> usize {
        let body = json!({ "using": "css selector", "value": css });
        let url = format!("{}/elements", self.root);
        let found = call(&self.http, reqwest::Method::POST, &url, Some(body)).await;
        found.as_array().map_or(0, Vec::len)
    }

    /// Waits up to `limit` for `css` to find an element whose `attribute` is `value`.
    pub async fn wait_for(&self, css: &str, attribute: &str, value: &str, limit: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < limit {
            if self.attribute(css, attribute).await.as_deref() == Some(value) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        false
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        decode_base64(png.as_str().unwrap())
    }

    /// Closes the window.
    pub async fn close(self) {
        let _ = self.http.delete(&self.root).send().await;
    }
}

/// Standard base64, as WebDriver sends screenshots.
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut word = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            word |= u32::from(value(*c)) << (18 - 6 * i);
        }
        out.extend_from_slice(&word.to_be_bytes()[1..chunk.len()]);
    }
    out
}
