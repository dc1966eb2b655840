//! The bot on Discord: the real serenity client against the fake Discord in `tests/support`, the
//! engine against the simulator. Text commands only so far (slash commands, buttons, threads and
//! rate limits are the rest of the Discord issue).

mod support;

use std::sync::Arc;
use std::time::Duration;

use image_builder::bot::Bot;
use image_builder::chat::discord::{self, Discord, Handler, ServeError};
use image_builder::jobs::Engine;
use image_builder::launchpad::Client;
use image_builder::permissions::Rule;
use image_builder::secret::Secret;
use image_builder::store::Store;
use support::bot::{quick_engine, TempDir};
use support::discord::{FakeDiscord, CHANNEL};

const ALICE: &str = "5000";

/// The bot wired to `sim` and `fake`, serving in a task; alice may build.
struct Running {
    serving: tokio::task::JoinHandle<Result<(), ServeError>>,
    _dir: TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

fn start_bot(sim: &image_builder::launchpad::sim::Simulator, fake: &FakeDiscord) -> Running {
    let dir = TempDir::new("discord");
    let mut config = support::config();
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
    let client = Client::new(support::client_settings(sim)).unwrap();
    let engine = Engine::new(
        client,
        Store::open(&dir.0).unwrap(),
        chat.clone(),
        quick_engine(),
    );
    let bot = Arc::new(Bot::new(config, sim.api_root(), engine, chat));
    let serving = tokio::spawn(async move {
        discord::serve(&token, Some(&api_base), Handler::new(bot, "!".into())).await
    });
    Running { serving, _dir: dir }
}

/// Steps the simulator until a message containing `needle` is posted.
async fn run_until_posted(
    sim: &image_builder::launchpad::sim::Simulator,
    fake: &FakeDiscord,
    needle: &str,
) -> support::discord::Call {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_command_is_acknowledged_followed_on_one_board_and_summarised_to_the_requester() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let dir = TempDir::new("discord");
    let mut config = support::config();
    config.permissions.build = Rule {
        users: [ALICE.to_string()].into(),
        ..Rule::default()
    };
    let token = Secret::new("fake-token");
    let api_base = fake.api_base();
    let chat = Discord::new(Arc::new(discord::http(&token, Some(&api_base))));
    let client = Client::new(support::client_settings(&sim)).unwrap();
    let engine = Engine::new(
        client,
        Store::open(&dir.0).unwrap(),
        chat.clone(),
        quick_engine(),
    );
    let bot = Arc::new(Bot::new(config, sim.api_root(), engine.clone(), chat));
    let serving = tokio::spawn(async move {
        discord::serve(&token, Some(&api_base), Handler::new(bot, "!".into())).await
    });

    fake.ready().await;
    let identify = fake.identify().unwrap();
    assert_eq!(
        identify["d"]["intents"], 33281,
        "guilds, guild messages, message content"
    );
    assert_eq!(identify["d"]["token"], "Bot fake-token");

    fake.say(ALICE, "alice", &[], "!rebuild 20.04 arm64 redis");
    let posted = |needle: &'static str| {
        move |call: &support::discord::Call| {
            call.method == "POST"
                && call.body["content"]
                    .as_str()
                    .is_some_and(|c| c.contains(needle))
        }
    };
    let ack = fake
        .wait_for("the acknowledgement", 10, posted("Job #1 accepted"))
        .await;
    assert_eq!(ack.path, format!("/api/v10/channels/{CHANNEL}/messages"));
    fake.wait_for("the board", 10, posted("**Job #1**")).await;
    let started = std::time::Instant::now();
    let summary = loop {
        if let Some(call) = fake
            .calls()
            .into_iter()
            .find(|c| posted("Job #1 finished.")(c))
        {
            break call;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no summary: {:#?}",
            fake.calls()
        );
        sim.advance(Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let summary_text = summary.body["content"].as_str().unwrap();
    assert!(
        summary_text.starts_with(&format!("<@{ALICE}> Job #1 finished.")),
        "{summary_text}"
    );
    let allowed = &summary.body["allowed_mentions"];
    assert_eq!(allowed["users"], serde_json::json!([ALICE]), "{allowed}");
    assert_eq!(
        allowed["parse"],
        serde_json::json!([]),
        "nothing else may ping: {allowed}"
    );

    // Every board change is an edit of the board's message.
    let edits: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "PATCH")
        .collect();
    assert!(!edits.is_empty(), "the board was edited");
    let board_message = edits[0].path.rsplit('/').next().unwrap().to_string();
    assert!(edits
        .iter()
        .all(|c| c.path.ends_with(&format!("/messages/{board_message}"))));
    assert!(
        fake.calls().iter().all(|call| call.expected),
        "unexpected calls: {:#?}",
        fake.calls()
    );
    serving.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_not_addressed_to_the_bot_or_from_a_stranger_changes_nothing() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let dir = TempDir::new("discord-ignore");
    let mut config = support::config();
    config.permissions.build = Rule {
        users: [ALICE.to_string()].into(),
        ..Rule::default()
    };
    let token = Secret::new("fake-token");
    let api_base = fake.api_base();
    let chat = Discord::new(Arc::new(discord::http(&token, Some(&api_base))));
    let client = Client::new(support::client_settings(&sim)).unwrap();
    let engine = Engine::new(
        client,
        Store::open(&dir.0).unwrap(),
        chat.clone(),
        quick_engine(),
    );
    let bot = Arc::new(Bot::new(config, sim.api_root(), engine.clone(), chat));
    let serving = tokio::spawn(async move {
        discord::serve(&token, Some(&api_base), Handler::new(bot, "!".into())).await
    });
    fake.ready().await;
    fake.say(
        ALICE,
        "alice",
        &[],
        "rebuild 20.04 arm64 redis (just talking)",
    );
    fake.say("6000", "mallory", &[], "!rebuild 20.04 arm64 redis");
    let denied = fake
        .wait_for("the denial", 10, |c| {
            c.body["content"]
                .as_str()
                .is_some_and(|t| t.contains("You may not `rebuild`"))
        })
        .await;
    assert_eq!(denied.method, "POST");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        fake.calls().iter().filter(|c| c.method == "POST").count(),
        1,
        "{:#?}",
        fake.calls()
    );
    assert!(sim.request_counts().is_empty(), "nothing reached Launchpad");
    serving.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_ends_with_what_to_fix_in_the_developer_portal() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::closing_with(4004).await;
    let dir = TempDir::new("discord-4004");
    let token = Secret::new("wrong-token");
    let api_base = fake.api_base();
    let chat = Discord::new(Arc::new(discord::http(&token, Some(&api_base))));
    let client = Client::new(support::client_settings(&sim)).unwrap();
    let engine = Engine::new(
        client,
        Store::open(&dir.0).unwrap(),
        chat.clone(),
        quick_engine(),
    );
    let bot = Arc::new(Bot::new(support::config(), sim.api_root(), engine, chat));
    let result = tokio::time::timeout(
        Duration::from_secs(20),
        discord::serve(&token, Some(&api_base), Handler::new(bot, "!".into())),
    )
    .await
    .expect("the bot stops instead of retrying forever");
    let error = result.unwrap_err();
    assert!(matches!(error, ServeError::BadToken), "{error:?}");
    assert!(error.to_string().contains("Developer Portal"), "{error}");
    assert!(
        !error.to_string().contains("wrong-token"),
        "the token never shows"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_of_the_bot_addresses_it_too() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let _bot = start_bot(&sim, &fake);
    fake.ready().await;
    fake.say(
        ALICE,
        "alice",
        &[],
        &format!(
            "<@{}> rebuild 20.04 arm64 redis",
            support::discord::BOT_USER
        ),
    );
    let summary = run_until_posted(&sim, &fake, "Job #1 finished.").await;
    assert!(summary.body["content"]
        .as_str()
        .unwrap()
        .starts_with("<@5000> "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disallowed_intents_end_run_with_the_intent_message() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::closing_with(4014).await;
    let mut running = start_bot(&sim, &fake);
    let result = tokio::time::timeout(Duration::from_secs(20), &mut running.serving).await;
    let error = result
        .expect("it stops")
        .expect("the task ran")
        .unwrap_err();
    assert!(matches!(error, ServeError::DisallowedIntents), "{error:?}");
    assert!(
        error.to_string().contains("Message Content Intent"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_on_an_edit_is_waited_out_and_retried() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let _bot = start_bot(&sim, &fake);
    fake.ready().await;
    fake.fail_next("PATCH", 429, 1);
    fake.say(ALICE, "alice", &[], "!rebuild 20.04 arm64 redis");
    run_until_posted(&sim, &fake, "Job #1 finished.").await;
    let patches: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "PATCH")
        .collect();
    assert!(
        patches.len() >= 2,
        "the refused edit was sent again: {patches:#?}"
    );
    assert_eq!(patches[0].body, patches[1].body, "the same edit, retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_gateway_is_resumed_and_the_job_still_ends_with_its_summary() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let _bot = start_bot(&sim, &fake);
    fake.ready().await;
    fake.say(ALICE, "alice", &[], "!rebuild 20.04 arm64 redis");
    fake.wait_for("the acknowledgement", 10, |c| {
        c.body["content"]
            .as_str()
            .is_some_and(|t| t.contains("accepted"))
    })
    .await;
    fake.drop_gateway();
    let started = std::time::Instant::now();
    while fake.resumes() == 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "never resumed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    fake.ready().await;
    let before = fake.calls().len();
    fake.say(ALICE, "alice", &[], "!status #1");
    let started = std::time::Instant::now();
    while !fake.calls()[before..].iter().any(|c| {
        c.method == "POST"
            && c.body["content"]
                .as_str()
                .is_some_and(|t| t.starts_with("**Job #1**"))
    }) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no answer after the resume"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    run_until_posted(&sim, &fake, "Job #1 finished.").await;
}
