//! Helpers shared by the integration tests.

#![allow(dead_code)]

pub mod bot;
pub mod browser;
pub mod discord;
pub mod discord_bot;
pub mod hooks;
pub mod mattermost;
pub mod process;

use image_builder::command::{parse, Command, ParseError, Vocabulary};
use image_builder::config::Config;

/// The team's real catalogue, as compiled in.
pub fn config() -> Config {
    Config::built_in().expect("config/default.toml is valid")
}

/// The real catalogue's vocabulary.
pub fn vocabulary() -> Vocabulary {
    Vocabulary::of(&config().catalogue)
}

/// Parses `text` against the real catalogue.
pub fn parse_real(text: &str) -> Result<Command, ParseError> {
    parse(text, &vocabulary())
}

use std::time::Duration;

use image_builder::launchpad::retry::RetryPolicy;
use image_builder::launchpad::sim::world::World;
use image_builder::launchpad::sim::{SimSettings, Simulator};
use image_builder::launchpad::{Client, ClientSettings};

/// Docker Hub and a cloud registry, as the team's images are published: every recipe's push
/// rules in a scenario.
pub fn two_registries() -> Vec<image_builder::launchpad::sim::scenario::Registry> {
    use image_builder::launchpad::sim::scenario::Registry;
    vec![
        Registry {
            url: "https://registry-1.docker.io".into(),
            image_name: "ubuntu/{image}".into(),
        },
        Registry {
            url: "https://public.ecr.aws".into(),
            image_name: "lts/{image}".into(),
        },
    ]
}

/// A simulator of the real catalogue on a free port, with a hand-stepped clock.
pub async fn simulator() -> Simulator {
    simulator_with(|_| {}).await
}

/// A simulator, its settings adjusted first.
pub async fn simulator_with(adjust: impl FnOnce(&mut SimSettings)) -> Simulator {
    let mut settings = SimSettings::new(config().catalogue);
    adjust(&mut settings);
    Simulator::start(settings)
        .await
        .expect("the simulator starts")
}

/// Quick retries, so tests of retrying take milliseconds.
pub fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        first_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        total: Duration::from_secs(10),
    }
}

/// Client settings for `sim` with its write token and quick retries.
pub fn client_settings(sim: &Simulator) -> ClientSettings {
    let mut settings = ClientSettings::new(sim.api_root());
    settings.credentials = Some(sim.credentials());
    settings.retry = fast_retries();
    settings.request_timeout = Duration::from_secs(5);
    settings
}

/// A client for `sim` with its write token.
pub fn client(sim: &Simulator) -> Client {
    Client::new(client_settings(sim)).expect("a client")
}

/// Steps the simulator's clock ten simulated seconds at a time until `done` holds; panics after
/// a simulated day, naming what was awaited.
pub fn advance_until(sim: &Simulator, what: &str, done: impl Fn(&World) -> bool) {
    for _ in 0..(24 * 360) {
        if sim.with_world(&done) {
            return;
        }
        sim.advance(Duration::from_secs(10));
    }
    panic!("not reached within a simulated day: {what}");
}

/// The built-in config for the simulator at `api_root`, every wait a second (the simulator's
/// clock runs fast), for a real `image-builder` process.
pub fn quick_config(api_root: &str) -> String {
    let mut text =
        image_builder::config::BUILT_IN.replace("https://api.launchpad.net/devel/", api_root);
    for (key, default) in [
        ("poll_min_seconds", 15),
        ("poll_max_seconds", 300),
        ("typical_request_seconds", 30),
        ("typical_queue_seconds", 300),
        ("typical_build_seconds", 1200),
        ("typical_upload_seconds", 300),
    ] {
        text = text.replace(&format!("{key} = {default}\n"), &format!("{key} = 1\n"));
    }
    // A dashboard of its own on a free port: tests run side by side.
    text.replace("listen = \"127.0.0.1:9092\"", "listen = \"127.0.0.1:0\"")
}
