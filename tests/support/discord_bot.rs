//! The bot on Discord for the tests: the real serenity client wired to the fake Discord and the
//! engine to the simulator.

use std::sync::Arc;
use std::time::Duration;

use image_builder::bot::Bot;
use image_builder::chat::discord::{self, Discord, Handler, ServeError};
use image_builder::engine::Engine;
use image_builder::launchpad::Client;
use image_builder::permissions::Rule;
use image_builder::secret::Secret;
use image_builder::store::Store;

use super::bot::{quick_engine, TempDir};
use super::discord::FakeDiscord;

/// A user who may build.
pub const ALICE: &str = "5000";

/// The bot wired to `sim` and `fake`, serving in a task; alice may build.
pub struct Running {
    pub serving: tokio::task::JoinHandle<Result<(), ServeError>>,
    pub _dir: TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

/// Starts the bot against `sim` and `fake`.
pub fn start_bot(sim: &image_builder::launchpad::sim::Simulator, fake: &FakeDiscord) -> Running {
    let dir = TempDir::new("discord");
    let mut config = super::config();
    config.permissions.build = Rule {
        users: [ALICE.to_string()].into(),
        ..Rule::default()
    };
    config.permissions.mass_rebuild = Rule {
        users: [ALICE.to_string()].into(),
        ..Rule::default()
    };
    let token = Secret::new("fake-token");
    let api_base = fake.api_base();
    let chat = Discord::new(Arc::new(discord::http(&token, Some(&api_base))));
    let client = Client::new(super::client_settings(sim)).unwrap();
    let engine = Engine::new(
        client,
        Store::open(&dir.0).unwrap(),
        chat.clone(),
        quick_engine(),
    );
    let bot = Arc::new(Bot::new(config, sim.api_root(), engine, chat));
    let serving = tokio::spawn(async move {
        discord::serve(
            &token,
            Some(&api_base),
            Handler::new(bot, "!".into(), Some(2000)),
        )
        .await
    });
    Running { serving, _dir: dir }
}

/// Steps the simulator until a message containing `needle` is posted.
pub async fn run_until_posted(
    sim: &image_builder::launchpad::sim::Simulator,
    fake: &FakeDiscord,
    needle: &str,
) -> super::discord::Call {
    let started = std::time::Instant::now();
    loop {
        let found = fake.calls().into_iter().find(|c| {
            c.method == "POST"
                && c.body["content"]
                    .as_str()
                    .is_some_and(|t| t.contains(needle))
        });
        if let Some(call) = found {
            return call;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never posted {needle:?}: {:#?}",
            fake.calls()
        );
        sim.advance(Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
