//! The bot's webhook listener wired to a test bot, and what tests of alerts share: a listener
//! registered on every recipe, signed posts, the alerts channel's messages, clicks.

use image_builder::chat::console::Printed;
use image_builder::chat::{Chat, Kind};
use image_builder::engine::Engine;
use image_builder::launchpad::sim::scenario::{Failures, Outcome, Scenario};
use image_builder::launchpad::sim::Simulator;
use image_builder::secret::Secret;
use image_builder::webhook;

use super::bot::{quick_engine, TestBot};

/// The secret the listener checks and the webhooks sign with.
pub const SECRET: &str = "webhook-s3cret";

/// Serves the listener for `engine`; returns its delivery URL.
pub async fn listen<C: Chat>(sim: &Simulator, engine: Engine<C>) -> String {
    listen_at(sim, engine, "127.0.0.1:0").await
}

/// [`listen`] at `address` (a port a test keeps across a restart, as a deployment keeps its
/// URL).
pub async fn listen_at<C: Chat>(sim: &Simulator, engine: Engine<C>, address: &str) -> String {
    let taken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    listen_watched(sim, engine, address, taken).await
}

/// [`listen_at`], keeping `taken` as `run` does for `/healthz`.
pub async fn listen_watched<C: Chat>(
    sim: &Simulator,
    engine: Engine<C>,
    address: &str,
    taken: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> String {
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    let url = format!("http://{}{}", listener.local_addr().unwrap(), webhook::PATH);
    tokio::spawn(webhook::serve(
        listener,
        Secret::new(SECRET),
        engine,
        sim.api_root(),
        image_builder::serve::Limits::default(),
        taken,
        axum::Router::new(),
    ));
    url
}

/// Registers the bot's webhook on every recipe of the catalogue.
pub async fn install(sim: &Simulator, url: &str) {
    let client = super::client(sim);
    for image in super::config().catalogue.images {
        for track in image.tracks {
            client
                .new_webhook(
                    &client.recipe_url(&track.recipe),
                    url,
                    &["oci-recipe:build:0.1"],
                    Some(&Secret::new(SECRET)),
                )
                .await
                .unwrap();
        }
    }
}

/// Posts a delivery to the listener; returns the status.
pub async fn post(url: &str, body: &str, signature: Option<&str>, event: &str) -> u16 {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-Launchpad-Event-Type", event)
        .body(body.to_string());
    if let Some(signature) = signature {
        request = request.header("X-Hub-Signature", signature);
    }
    request.send().await.unwrap().status().as_u16()
}

/// Sends a delivery the simulator made again, as Launchpad does: the same body, signature,
/// event type and delivery number, to `url`. Returns the status.
pub async fn post_delivery(
    url: &str,
    delivery: &image_builder::launchpad::sim::deliver::Delivered,
) -> u16 {
    let mut request = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-Launchpad-Event-Type", &delivery.event_type)
        .header("X-Launchpad-Delivery", delivery.id.to_string())
        .body(delivery.body.clone());
    if let Some(signature) = &delivery.signature {
        request = request.header("X-Hub-Signature", signature);
    }
    request.send().await.unwrap().status().as_u16()
}

/// A bot whose alerts channel is `alerts`, every upload failing as `failures` says, its listener
/// serving (and registered on every recipe if `installed`); returns the bot and the listener.
pub async fn alerting_bot(failures: Failures, installed: bool) -> (TestBot, String) {
    let outcome = Outcome {
        upload_failures: failures,
        ..Outcome::default()
    };
    let scenario = Scenario {
        outcomes: vec![outcome],
        ..Scenario::default()
    };
    alerting_bot_with(scenario, usize::MAX, installed).await
}

/// [`alerting_bot`] playing `scenario`, its chat limiting messages to `limit` characters.
pub async fn alerting_bot_with(
    scenario: Scenario,
    limit: usize,
    installed: bool,
) -> (TestBot, String) {
    let mut settings = quick_engine();
    settings.alerts_channel = Some("alerts".into());
    let bot = TestBot::start_scenario(scenario, settings, limit).await;
    let url = listen(&bot.sim, bot.wired.engine.clone()).await;
    if installed {
        install(&bot.sim, &url).await;
    }
    (bot, url)
}

/// The texts sent or edited in the alerts channel, in order.
pub fn alerts(bot: &TestBot) -> Vec<String> {
    bot.printed()
        .into_iter()
        .filter(|p| p.kind == Kind::Alert && p.channel == "alerts")
        .map(|p| p.text)
        .collect()
}

/// A click by `user` in the alerts channel.
pub fn click(user: &str) -> image_builder::chat::Incoming {
    image_builder::chat::Incoming {
        user: super::bot::user(user),
        channel: "alerts".into(),
        text: String::new(),
    }
}

/// `user` clicks the first button of the first alert in the alerts channel; the answer.
pub async fn click_first_alert(bot: &TestBot, user: &str) -> image_builder::chat::Answer {
    let alert = first_alert(bot);
    bot.wired.bot.click(&click(user), &alert.buttons[0]).await
}

/// The first alert in the alerts channel and its button.
pub fn first_alert(bot: &TestBot) -> Printed {
    bot.printed()
        .into_iter()
        .find(|p| p.kind == Kind::Alert && p.channel == "alerts")
        .expect("an alert")
}
