//! `image-builder sim` on its own: it prints an API root and a credentials file, and both work
//! for a client that knows nothing else.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use image_builder::launchpad::auth::Credentials;
use image_builder::launchpad::models::RequestStatus;
use image_builder::launchpad::{Client, ClientSettings};

/// Kills the simulator when the test ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_printed_root_and_credentials_work_against_the_running_simulator() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_image-builder"))
        .args(["sim", "--speed", "600"])
        .env_remove("IMAGE_BUILDER_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let banner = tokio::task::spawn_blocking(move || {
        let mut banner = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            banner.push_str(&line);
            banner.push('\n');
            if line.starts_with("Stop with") {
                break;
            }
        }
        banner
    })
    .await
    .unwrap();
    let api_root = banner
        .lines()
        .find_map(|line| line.trim().strip_prefix("API root: "))
        .unwrap_or_else(|| panic!("no API root in {banner}"))
        .to_string();
    let from_section = &banner[banner.find("[1]").expect("a credentials section")..];
    let credentials_text = from_section.split("\n\n").next().unwrap();
    let credentials = Credentials::parse(credentials_text, "banner").unwrap();

    let mut settings = ClientSettings::new(api_root.clone());
    settings.credentials = Some(credentials);
    let client = Client::new(settings).unwrap();
    let recipe = format!(
        "{api_root}~ubuntu-docker-images/ubuntu-docker-images/+oci/nginx/+recipe/nginx-1.24-24.04"
    );
    let request_url = client.request_builds(&recipe).await.unwrap();
    // At 600x, the 20 simulated seconds Launchpad takes to make the builds pass in ~35 ms.
    let mut status = RequestStatus::Pending;
    for _ in 0..100 {
        status = client.build_request(&request_url).await.unwrap().status;
        if status != RequestStatus::Pending {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, RequestStatus::Completed);
}

#[tokio::test]
async fn check_config_online_finds_every_recipe_and_names_a_missing_one() {
    let config = image_builder::config::Config::built_in().unwrap();
    let sim = image_builder::launchpad::sim::Simulator::start(
        image_builder::launchpad::sim::SimSettings::new(config.catalogue),
    )
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("ib-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = image_builder::config::BUILT_IN
        .replace("https://api.launchpad.net/devel/", &sim.api_root());
    let bad = good.replace(
        "[images.redis]\n",
        "[images.redis]\nrecipe_names = { \"22.04\" = \"redis-jammy\" }\n",
    );
    std::fs::write(dir.join("good.toml"), good).unwrap();
    std::fs::write(dir.join("bad.toml"), bad).unwrap();
    let run = |file: &str| {
        let path = dir.join(file);
        let credentials = dir.join("none");
        async move {
            tokio::task::spawn_blocking(move || {
                Command::new(env!("CARGO_BIN_EXE_image-builder"))
                    .args(["check-config", "--online", "--config"])
                    .arg(&path)
                    .arg("--credentials")
                    .arg(&credentials)
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let output = run("good.toml").await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("All 29 recipes exist on Launchpad and build what the config asks for."),
        "{stdout}"
    );

    let output = run("bad.toml").await;
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("redis 22.04: no recipe at ") && stderr.contains("+recipe/redis-jammy"),
        "{stderr}"
    );
    assert_eq!(sim.requests("GET recipe"), 58, "every recipe, each run");
}

#[tokio::test]
async fn webhooks_install_registers_each_recipe_once_however_often_it_runs() {
    let config = image_builder::config::Config::built_in().unwrap();
    let sim = image_builder::launchpad::sim::Simulator::start(
        image_builder::launchpad::sim::SimSettings::new(config.catalogue),
    )
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("ib-hooks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = image_builder::config::BUILT_IN
        .replace("https://api.launchpad.net/devel/", &sim.api_root());
    std::fs::write(dir.join("config.toml"), text).unwrap();
    sim.credentials().save(&dir.join("credentials")).unwrap();
    let run = |args: &'static [&'static str]| {
        let dir = dir.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                Command::new(env!("CARGO_BIN_EXE_image-builder"))
                    .arg("webhooks")
                    .args(args)
                    .arg("--config")
                    .arg(dir.join("config.toml"))
                    .arg("--credentials")
                    .arg(dir.join("credentials"))
                    .env("WEBHOOK_SECRET", "hook-secret")
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let first = run(&[
        "install",
        "--delivery-url",
        "https://bot.example/launchpad/webhook",
    ])
    .await;
    let first_out = String::from_utf8_lossy(&first.stdout).to_string();
    assert!(
        first.status.success(),
        "{first_out}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(first_out.matches(": registered").count(), 29, "{first_out}");
    let second = run(&[
        "install",
        "--delivery-url",
        "https://bot.example/launchpad/webhook",
    ])
    .await;
    let second_out = String::from_utf8_lossy(&second.stdout).to_string();
    assert_eq!(
        second_out.matches(": already there: secret set").count(),
        29,
        "{second_out}"
    );
    assert_eq!(sim.with_world(|world| world.webhooks.len()), 29);
    let listed = run(&["list"]).await;
    let listed = String::from_utf8_lossy(&listed.stdout).to_string();
    assert!(
        listed.starts_with(
            "apache2 20.04: https://bot.example/launchpad/webhook (active, oci-recipe:build:0.1)"
        ),
        "{listed}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_install_repairs_a_hook_with_a_stale_secret_and_ping_proves_it() {
    use image_builder::secret::Secret;
    let config = image_builder::config::Config::built_in().unwrap();
    let sim = image_builder::launchpad::sim::Simulator::start(
        image_builder::launchpad::sim::SimSettings::new(config.catalogue.clone()),
    )
    .await
    .unwrap();
    // The bot's listener, checking deliveries with the secret it is given now.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}{}",
        listener.local_addr().unwrap(),
        image_builder::webhook::PATH
    );
    let (sender, mut deliveries) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move { while deliveries.recv().await.is_some() {} });
    let router = image_builder::webhook::router(
        Secret::new("new-secret"),
        sender,
        image_builder::serve::Limits::default(),
    );
    tokio::spawn(image_builder::serve::serve(
        listener,
        router,
        image_builder::serve::Limits::default(),
    ));
    // Hooks to the bot's URL left with another secret; one also inactive.
    let client = Client::new({
        let mut settings = ClientSettings::new(sim.api_root());
        settings.credentials = Some(sim.credentials());
        settings
    })
    .unwrap();
    for image in &config.catalogue.images {
        for track in &image.tracks {
            client
                .new_webhook(
                    &client.recipe_url(&track.recipe),
                    &url,
                    &["oci-recipe:build:0.1"],
                    Some(&Secret::new("old-secret")),
                )
                .await
                .unwrap();
        }
    }
    let first_hook = sim.with_world(|world| *world.webhooks.keys().next().unwrap());
    sim.with_world_mut(|world| world.webhooks.get_mut(&first_hook).unwrap().active = false);

    let dir = std::env::temp_dir().join(format!("ib-stale-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = image_builder::config::BUILT_IN
        .replace("https://api.launchpad.net/devel/", &sim.api_root());
    std::fs::write(dir.join("config.toml"), text).unwrap();
    sim.credentials().save(&dir.join("credentials")).unwrap();
    let run = |args: Vec<&'static str>| {
        let dir = dir.clone();
        let url = url.clone();
        async move {
            let output = tokio::task::spawn_blocking(move || {
                Command::new(env!("CARGO_BIN_EXE_image-builder"))
                    .arg("webhooks")
                    .args(args)
                    .arg("--delivery-url")
                    .arg(url)
                    .arg("--config")
                    .arg(dir.join("config.toml"))
                    .arg("--credentials")
                    .arg(dir.join("credentials"))
                    .env("WEBHOOK_SECRET", "new-secret")
                    .output()
                    .unwrap()
            })
            .await
            .unwrap();
            let out = String::from_utf8_lossy(&output.stdout).to_string();
            (output.status.code(), out)
        }
    };
    let (code, out) = run(vec!["ping", "--timeout", "20"]).await;
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(
        out.matches("refused by the listener (Bad HTTP response: 401)")
            .count(),
        28,
        "{out}"
    );
    // Launchpad sends nothing to an inactive webhook, a ping neither (`model.py:748-755`).
    assert_eq!(
        out.matches("not delivered (Webhook deactivated): the webhook is inactive")
            .count(),
        1,
        "{out}"
    );
    let (code, out) = run(vec!["list"]).await;
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.matches("INACTIVE").count(), 1, "{out}");

    let (code, out) = run(vec!["install"]).await;
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out.matches(": already there: secret set").count(),
        29,
        "{out}"
    );
    assert_eq!(out.matches("secret set, activated").count(), 1, "{out}");
    assert_eq!(
        sim.with_world(|world| world.webhooks.len()),
        29,
        "no new hooks"
    );

    let (code, out) = run(vec!["ping", "--timeout", "20"]).await;
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(out.matches(": delivered and verified").count(), 29, "{out}");
    let (_, out) = run(vec!["list"]).await;
    assert_eq!(
        out.matches("(active, oci-recipe:build:0.1)").count(),
        29,
        "{out}"
    );

    // And a real delivery verifies too.
    let id = sim
        .with_world_mut(|world| world.foreign_build("redis", "22.04", "amd64"))
        .unwrap();
    let started = std::time::Instant::now();
    loop {
        let verified = sim
            .deliveries()
            .iter()
            .any(|d| d.body.contains(&format!("/+build/{id}\"")) && d.status == Some(200));
        if verified {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:#?}",
            sim.deliveries()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn check_config_online_names_every_recipe_whose_processors_differ() {
    use image_builder::launchpad::sim::scenario::{RecipeRule, Scenario};
    let config = image_builder::config::Config::built_in().unwrap();
    let mut settings = image_builder::launchpad::sim::SimSettings::new(config.catalogue);
    settings.scenario = Scenario {
        recipes: vec![
            RecipeRule {
                image: "redis".parse().unwrap(),
                series: Some("20.04".parse().unwrap()),
                processors: vec!["amd64".parse().unwrap(), "arm64".parse().unwrap()],
            },
            RecipeRule {
                image: "squid".parse().unwrap(),
                series: Some("24.04".parse().unwrap()),
                processors: ["amd64", "arm64", "ppc64el", "s390x", "riscv64"]
                    .iter()
                    .map(|arch| arch.parse().unwrap())
                    .collect(),
            },
        ],
        ..Scenario::default()
    };
    let sim = image_builder::launchpad::sim::Simulator::start(settings)
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("ib-processors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = image_builder::config::BUILT_IN
        .replace("https://api.launchpad.net/devel/", &sim.api_root());
    std::fs::write(dir.join("config.toml"), text).unwrap();
    let path = dir.join("config.toml");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_image-builder"))
            .args(["check-config", "--online", "--config"])
            .arg(&path)
            .arg("--credentials")
            .arg("/nonexistent")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "redis 20.04: the recipe does not build ppc64el, s390x (the config asks for it"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("squid 24.04: the recipe also builds riscv64 (not in the config"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
}
