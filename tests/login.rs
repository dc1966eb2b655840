//! `login`: Launchpad's OAuth token dance end to end against the simulator, through the library
//! and through the binary, which must leave a 0600 credentials file that works.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use image_builder::launchpad::auth::Credentials;
use image_builder::launchpad::login::{login, LoginError, LoginSettings};
use image_builder::launchpad::sim::Simulator;
use image_builder::launchpad::{Client, ClientSettings};
use support::simulator_with;

const REDIS_2204: &str =
    "~ubuntu-docker-images/ubuntu-docker-images/+oci/redis/+recipe/redis-6.2-22.04";

fn quick(sim: &Simulator) -> LoginSettings {
    let mut settings = LoginSettings::new(sim.web_root());
    settings.poll_interval = Duration::from_millis(10);
    settings.timeout = Duration::from_secs(10);
    settings
}

/// Opens a page the way a browser would (a GET with a user agent), in the background.
fn open_in_background(url: &str) {
    let url = url.to_string();
    tokio::spawn(async move {
        let http = reqwest::Client::builder()
            .user_agent("browser")
            .build()
            .unwrap();
        http.get(url).send().await.unwrap();
    });
}

/// Proves credentials work for writing: they request builds.
async fn request_builds_with(sim: &Simulator, credentials: Credentials) {
    let mut settings = ClientSettings::new(sim.api_root());
    settings.credentials = Some(credentials);
    let client = Client::new(settings).unwrap();
    client
        .request_builds(&format!("{}{REDIS_2204}", sim.api_root()))
        .await
        .expect("the new token may request builds");
}

#[tokio::test]
async fn login_gets_credentials_that_can_request_builds() {
    let sim = simulator_with(|settings| settings.auto_authorize = true).await;
    let mut shown = String::new();
    let credentials = login(&quick(&sim), |url| {
        shown = url.to_string();
        open_in_background(url);
    })
    .await
    .unwrap();
    assert!(shown.starts_with(&format!("{}+authorize-token?oauth_token=", sim.web_root())));
    assert!(shown.ends_with("&allow_permission=WRITE_PUBLIC"), "{shown}");
    assert_eq!(credentials.consumer_key, "image-builder");
    assert!(credentials.consumer_secret.is_empty());
    request_builds_with(&sim, credentials).await;
}

#[tokio::test]
async fn a_refusal_on_the_authorize_page_is_reported_as_such() {
    let sim = simulator_with(|_| {}).await;
    let web_root = sim.web_root();
    let error = login(&quick(&sim), |url| {
        let token = url
            .split("oauth_token=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_string();
        let page = format!("{web_root}+authorize-token");
        tokio::spawn(async move {
            reqwest::Client::new()
                .post(page)
                .form(&[
                    ("oauth_token", token.as_str()),
                    ("field.actions.UNAUTHORIZED", "No Access"),
                ])
                .send()
                .await
                .unwrap();
        });
    })
    .await
    .unwrap_err();
    assert!(matches!(error, LoginError::Refused(_)), "{error:?}");
    assert!(error.to_string().contains("refused"), "{error}");
}

#[tokio::test]
async fn nobody_answering_times_out_with_a_clear_message() {
    let sim = simulator_with(|_| {}).await;
    let mut settings = quick(&sim);
    settings.timeout = Duration::from_millis(200);
    let error = login(&settings, |_| {}).await.unwrap_err();
    assert!(matches!(error, LoginError::TimedOut(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("run `image-builder login` again"),
        "{error}"
    );
}

#[tokio::test]
async fn the_binary_writes_a_0600_credentials_file_that_works() {
    let sim = simulator_with(|settings| settings.auto_authorize = true).await;
    let dir = std::env::temp_dir().join(format!("ib-login-{}", std::process::id()));
    let path = dir.join("credentials");
    let mut child = Command::new(env!("CARGO_BIN_EXE_image-builder"))
        .args([
            "login",
            "--web-root",
            &sim.web_root(),
            "--timeout",
            "20",
            "--credentials",
        ])
        .arg(&path)
        .env_remove("IMAGE_BUILDER_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read the output to the end on a thread, handing over the page to open as it appears;
    // the pipe stays open so the binary can print its last line.
    let stdout = child.stdout.take().unwrap();
    let (page_tx, page_rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if line.contains("+authorize-token") {
                let _ = page_tx.send(line.trim().to_string());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let page = tokio::task::spawn_blocking(move || page_rx.recv_timeout(Duration::from_secs(20)))
        .await
        .unwrap()
        .expect("the binary shows the page to open");
    open_in_background(&page);
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let printed = reader.join().unwrap();
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("Credentials saved to"), "{printed}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let credentials = Credentials::load(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    request_builds_with(&sim, credentials).await;
}
