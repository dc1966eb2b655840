//! The bot on Mattermost: the real adapter (reqwest and tokio-tungstenite) against the fake
//! Mattermost in `tests/support`, the engine against the simulator. These mirror the Discord
//! tests: a command's acknowledgement, board and summary; who may build; mentions that ping
//! nobody; a dropped socket; a rate limit; an alert in the alerts channel.

mod support;

use std::sync::Arc;
use std::time::Duration;

use image_builder::bot::Bot;
use std::sync::atomic::AtomicBool;

use image_builder::chat::mattermost::callbacks;
use image_builder::chat::mattermost::socket::{Listener, ServeError, Settings};
use image_builder::chat::mattermost::Mattermost;
use image_builder::engine::Engine;
use image_builder::launchpad::sim::Simulator;
use image_builder::launchpad::Client;
use image_builder::permissions::{Members, Rule};
use image_builder::secret::Secret;
use image_builder::serve::Limits;
use image_builder::store::Store;
use image_builder::webhook;
use serde_json::Value;
use support::bot::{quick_engine, TempDir};
use support::mattermost::{
    FakeMattermost, ALERTS, ALICE, BOB, BOT, CHANNEL, DIRECT, ELSEWHERE, TEAM,
};

struct Running {
    serving: tokio::task::JoinHandle<Result<(), ServeError>>,
    /// The bot's listener (Launchpad's deliveries, Mattermost's callbacks), if it has one.
    listener: Option<String>,
    _dir: TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

/// The slash command's token.
const COMMAND_TOKEN: &str = "cmdtoken";

/// How a test's bot is set up.
struct Options {
    token: &'static str,
    /// Mattermost user names that may build (and mass-rebuild).
    builders: Vec<&'static str>,
    /// Mattermost roles that may build.
    roles: Vec<&'static str>,
    /// Whether the bot has its listener, with buttons and the slash command.
    listener: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            token: support::mattermost::TOKEN,
            builders: vec!["alice"],
            roles: Vec::new(),
            listener: false,
        }
    }
}

/// The bot on `fake`, its engine on `sim`; alice may build, by her Mattermost user name.
async fn start_bot(sim: &Simulator, fake: &FakeMattermost, token: &'static str) -> Running {
    start_bot_with(
        sim,
        fake,
        Options {
            token,
            ..Options::default()
        },
    )
    .await
}

async fn start_bot_with(sim: &Simulator, fake: &FakeMattermost, options: Options) -> Running {
    let dir = TempDir::new("mattermost");
    let mut config = support::config();
    let builders = Rule {
        mattermost: Members {
            users: options
                .builders
                .iter()
                .map(|name| name.to_string())
                .collect(),
            roles: options.roles.iter().map(|role| role.to_string()).collect(),
        },
        ..Rule::default()
    };
    config.permissions.build = builders.clone();
    config.permissions.mass_rebuild = builders;
    let token = Secret::new(options.token);
    let socket = match options.listener {
        true => Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()),
        false => None,
    };
    let base = socket
        .as_ref()
        .map(|socket| format!("http://{}", socket.local_addr().unwrap()));
    let chat = match &base {
        Some(base) => Mattermost::with_buttons(&fake.url(), token, base).unwrap(),
        None => Mattermost::new(&fake.url(), token).unwrap(),
    };
    let client = Client::new(support::client_settings(sim)).unwrap();
    let engine = Engine::new(
        client,
        Store::open(&dir.0).unwrap(),
        chat.clone(),
        quick_engine(),
    );
    let bot = Arc::new(Bot::new(
        config,
        sim.api_root(),
        engine.clone(),
        chat.clone(),
    ));
    if let Some(socket) = socket {
        let routes = callbacks::router(
            chat.clone(),
            bot.clone(),
            Some(Secret::new(COMMAND_TOKEN)),
            Limits::default(),
        );
        tokio::spawn(webhook::serve(
            socket,
            Secret::new(support::hooks::SECRET),
            engine,
            sim.api_root(),
            Limits::default(),
            Arc::new(AtomicBool::new(true)),
            routes,
        ));
        let base = base.clone().unwrap();
        fake.register_command(&format!("{base}{}", callbacks::COMMAND_PATH), COMMAND_TOKEN);
    }
    let listener = Listener::new(
        chat,
        bot,
        Settings {
            prefix: "!".into(),
            team: Some(TEAM.into()),
            channels: vec![CHANNEL.into()],
        },
    );
    let serving = tokio::spawn(listener.serve());
    Running {
        serving,
        listener: base,
        _dir: dir,
    }
}

/// A simulator, a fake Mattermost, and the bot on them, connected.
async fn connected() -> (Simulator, FakeMattermost, Running) {
    let sim = support::simulator().await;
    let fake = FakeMattermost::start().await;
    let bot = start_bot(&sim, &fake, support::mattermost::TOKEN).await;
    fake.wait_connected().await;
    (sim, fake, bot)
}

/// The same, the bot with its listener (buttons and the slash command).
async fn connected_with_listener() -> (Simulator, FakeMattermost, Running) {
    let sim = support::simulator().await;
    let fake = FakeMattermost::start().await;
    let options = Options {
        listener: true,
        ..Options::default()
    };
    let bot = start_bot_with(&sim, &fake, options).await;
    fake.wait_connected().await;
    (sim, fake, bot)
}

/// Waits for the bot's acknowledgement of job 1.
async fn acknowledged(fake: &FakeMattermost) -> Value {
    fake.wait_for_post("the acknowledgement", 15, |p| {
        by_bot(p) && says(p, "Job #1 accepted")
    })
    .await
}

fn by_bot(post: &Value) -> bool {
    post["user_id"] == BOT
}

fn says(post: &Value, needle: &str) -> bool {
    post["message"].as_str().is_some_and(|m| m.contains(needle))
}

/// Steps the simulator until the bot posts something containing `needle`.
async fn run_until_posted(sim: &Simulator, fake: &FakeMattermost, needle: &str) -> Value {
    let started = std::time::Instant::now();
    loop {
        if let Some(post) = fake
            .posts()
            .into_iter()
            .find(|post| by_bot(post) && says(post, needle))
        {
            return post;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never posted {needle:?}: {:#?}",
            fake.posts()
        );
        sim.advance(Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_is_acknowledged_followed_on_one_board_and_summarised_to_the_requester_only() {
    let (sim, fake, _bot) = connected().await;

    fake.say(
        ALICE,
        CHANNEL,
        // A backtick in the reason ends the board's code span, so `@channel` would be text.
        "@image-builder rebuild 20.04 arm64 redis reason=\"CVE` @channel `fix @all\"",
        None,
    );
    let ack = acknowledged(&fake).await;
    assert_eq!(ack["channel_id"], CHANNEL);
    let board = run_until_posted(&sim, &fake, "**Job #1**").await;
    let summary = run_until_posted(&sim, &fake, "Job #1 finished.").await;
    let text = summary["message"].as_str().unwrap();
    assert!(text.starts_with("@alice Job #1 finished."), "{text}");

    // One board, edited in place to the end.
    let board_id = board["id"].as_str().unwrap();
    let edits: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|call| call.method == "PUT")
        .collect();
    assert!(!edits.is_empty(), "the board was never edited");
    assert!(
        edits
            .iter()
            .all(|call| call.path == format!("/api/v4/posts/{board_id}/patch")),
        "{edits:#?}"
    );
    let boards = fake
        .posts()
        .into_iter()
        .filter(|p| by_bot(p) && says(p, "**Job #1**"))
        .count();
    assert_eq!(boards, 1, "one board post");
    let last = fake.post(board_id).unwrap();
    assert!(
        says(&last, "succeeded") || says(&last, "finished") || says(&last, "Succeeded"),
        "the board shows the end: {}",
        last["message"]
    );

    // Of all the bot said, only the summary pinged anyone: alice. `@channel` and `@all` in
    // the reason (shown on the board) pinged nobody.
    for mentions in fake.mentions().iter().filter(|m| m.author == BOT) {
        assert!(!mentions.everyone, "{mentions:?}");
        if mentions.post == summary["id"] {
            assert_eq!(mentions.users, [ALICE.to_string()].into());
        } else {
            assert!(mentions.users.is_empty(), "{mentions:?}");
        }
    }
    assert!(
        fake.posts().iter().any(|p| by_bot(p) && says(p, "CVE")),
        "the reason is shown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readers_rebuild_is_refused_and_other_teams_and_the_bots_own_posts_are_ignored() {
    let (sim, fake, _bot) = connected().await;

    // A channel of another team, and a post of the bot account itself: not commands.
    fake.say(ALICE, ELSEWHERE, "!rebuild 20.04 arm64 redis", None);
    fake.say(BOT, CHANNEL, "!rebuild 20.04 arm64 nginx", None);
    // Bob may read, not build; his command is in a thread, so the answer is too.
    let root = fake.say(BOB, CHANNEL, "a thread about redis", None);
    fake.say(BOB, CHANNEL, "!rebuild 20.04 arm64 redis", Some(&root));
    let refusal = fake
        .wait_for_post("the refusal", 10, |p| by_bot(p) && says(p, "You may not"))
        .await;
    assert_eq!(refusal["root_id"], root.as_str(), "answered in the thread");
    assert!(says(&refusal, "build"), "{}", refusal["message"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sim.with_world(|world| world.builds.len()),
        0,
        "nothing was built"
    );
    let answers = fake.posts().into_iter().filter(by_bot).count();
    assert_eq!(
        answers,
        2,
        "the bot's own post and the refusal: {:#?}",
        fake.posts()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_message_needs_no_mention_and_is_answered_there() {
    let (_sim, fake, _bot) = connected().await;
    // Not addressed: in the team channel, ignored; in a direct message, a command.
    fake.say(ALICE, CHANNEL, "whoami", None);
    fake.say(ALICE, DIRECT, "whoami", None);
    let answer = fake.wait_for_post("the answer", 10, by_bot).await;
    assert_eq!(answer["channel_id"], DIRECT, "{answer}");
    assert!(says(&answer, "build"), "alice's permissions: {answer}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(fake.posts().into_iter().filter(by_bot).count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_held_in_the_channel_grants_what_the_config_gives_it() {
    let sim = support::simulator().await;
    let fake = FakeMattermost::start().await;
    let options = Options {
        roles: vec!["channel_admin"],
        ..Options::default()
    };
    let _bot = start_bot_with(&sim, &fake, options).await;
    fake.wait_connected().await;
    fake.say(BOB, CHANNEL, "!rebuild 20.04 arm64 redis", None);
    fake.wait_for_post("the refusal", 10, |p| by_bot(p) && says(p, "You may not"))
        .await;
    // Made a channel admin, bob may build there.
    fake.set_channel_roles(BOB, CHANNEL, "channel_user channel_admin");
    fake.say(BOB, CHANNEL, "!rebuild 20.04 arm64 redis", None);
    acknowledged(&fake).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_ends_run_with_what_to_fix() {
    let sim = support::simulator().await;
    let fake = FakeMattermost::start().await;
    let bot = start_bot(&sim, &fake, "not-the-token").await;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if bot.serving.is_finished() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(ended.is_ok(), "the bot gave up");
    let serving = std::mem::replace(&mut { bot }.serving, tokio::spawn(async { Ok(()) }));
    let error = serving.await.unwrap().unwrap_err();
    assert!(matches!(error, ServeError::BadToken), "{error}");
    assert!(error.to_string().contains("MATTERMOST_TOKEN"));
    assert!(!error.to_string().contains("not-the-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_said_while_the_socket_was_down_is_answered_once_after_the_resume() {
    let (sim, fake, _bot) = connected().await;

    fake.say(ALICE, CHANNEL, "!rebuild 20.04 arm64 redis", None);
    let board = run_until_posted(&sim, &fake, "**Job #1**").await;
    fake.drop_sockets();
    // Said while the bot is away.
    fake.say(ALICE, CHANNEL, "!jobs", None);
    let started = std::time::Instant::now();
    while fake.resumes() == 0 {
        assert!(started.elapsed() < Duration::from_secs(15), "never resumed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(fake.hellos(), 1, "resumed, not a new connection");
    let summary = run_until_posted(&sim, &fake, "Job #1 finished.").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Besides the acknowledgement, the board and the summary, the answer to `jobs`, once.
    let others: Vec<_> = fake
        .posts()
        .into_iter()
        .filter(|p| by_bot(p) && p["id"] != board["id"] && p["id"] != summary["id"])
        .filter(|p| !says(p, "accepted"))
        .collect();
    assert_eq!(others.len(), 1, "{others:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_in_the_events_opens_the_socket_again_and_loses_nothing() {
    let (_sim, fake, _bot) = connected().await;
    // The event carrying the command comes numbered one too far: the bot asks for the one it
    // missed, which the server does not have, so it gets a new connection (§3.4) and reads
    // the channel for what it missed.
    fake.skip_a_seq();
    fake.say(ALICE, CHANNEL, "!jobs", None);
    fake.wait_for_post("the answer", 15, by_bot).await;
    assert_eq!(fake.hellos(), 2, "a new connection");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fake.posts().into_iter().filter(by_bot).count(),
        1,
        "answered once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_said_while_the_server_restarted_is_read_from_the_channel_and_answered_once() {
    let (_sim, fake, _bot) = connected().await;
    fake.say(ALICE, CHANNEL, "!jobs", None);
    fake.wait_for_post("the first answer", 10, by_bot).await;

    fake.restart();
    tokio::time::sleep(Duration::from_millis(20)).await;
    fake.say(ALICE, CHANNEL, "!rebuild 20.04 arm64 redis", None);
    let ack = acknowledged(&fake).await;
    assert_eq!(fake.hellos(), 2, "a new connection");
    assert_eq!(fake.resumes(), 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let acks = fake
        .posts()
        .into_iter()
        .filter(|p| by_bot(p) && says(p, "accepted"))
        .count();
    assert_eq!(acks, 1, "answered once: {ack}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_on_an_edit_is_waited_out_as_the_headers_say() {
    let (sim, fake, _bot) = connected().await;

    fake.fail_next("PUT", 429, 1);
    fake.say(ALICE, CHANNEL, "!rebuild 20.04 arm64 redis", None);
    run_until_posted(&sim, &fake, "Job #1 finished.").await;
    let edits: Vec<_> = fake
        .calls()
        .into_iter()
        .filter(|call| call.method == "PUT")
        .collect();
    assert_eq!(edits[0].status, 429);
    let retried = edits
        .iter()
        .find(|call| call.status == 200)
        .expect("the edit was made after the limit");
    assert!(
        retried.at.duration_since(edits[0].at) >= Duration::from_millis(900),
        "waited the second the headers said"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upload_of_someone_elses_build_is_alerted_in_the_alerts_channel() {
    use image_builder::launchpad::sim::scenario::{Failures, Outcome};
    use support::hooks::{install, listen};

    let sim = support::simulator().await;
    sim.set_outcomes(vec![Outcome {
        upload_failures: Failures::Always,
        ..Outcome::default()
    }]);
    let fake = FakeMattermost::start().await;
    let dir = TempDir::new("mattermost-alerts");
    let chat = Mattermost::new(&fake.url(), Secret::new(support::mattermost::TOKEN)).unwrap();
    let mut settings = quick_engine();
    settings.alerts_channel = Some(ALERTS.into());
    let engine = Engine::new(
        Client::new(support::client_settings(&sim)).unwrap(),
        Store::open(&dir.0).unwrap(),
        chat,
        settings,
    );
    let url = listen(&sim, engine.clone()).await;
    install(&sim, &url).await;
    sim.with_world_mut(|world| world.foreign_build("redis", "22.04", "arm64").unwrap());
    let alert = run_until_posted(&sim, &fake, "Upload failed").await;
    assert_eq!(alert["channel_id"], ALERTS);
    let mentions = fake
        .mentions()
        .into_iter()
        .find(|m| m.post == alert["id"])
        .unwrap();
    assert!(
        !mentions.everyone && mentions.users.is_empty(),
        "{mentions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_plans_confirm_is_refused_to_another_builder_and_taken_from_its_owner() {
    let sim = support::simulator().await;
    let fake = FakeMattermost::start().await;
    let _bot = start_bot_with(
        &sim,
        &fake,
        Options {
            builders: vec!["alice", "bob"],
            listener: true,
            ..Options::default()
        },
    )
    .await;
    fake.wait_connected().await;

    // Asked in a thread: the plan, and the job it starts, are answered there.
    let thread = fake.say(ALICE, CHANNEL, "rebuilding 22.04", None);
    fake.say(ALICE, CHANNEL, "!rebuild 22.04 all", Some(&thread));
    let plan = fake
        .wait_for_post("the plan", 10, |p| by_bot(p) && says(p, "confirm"))
        .await;
    let plan_id = plan["id"].as_str().unwrap().to_string();
    let actions = fake.actions(&plan_id);
    let confirm = actions
        .iter()
        .find(|(name, _)| name == "Confirm")
        .map(|(_, id)| id.clone())
        .unwrap_or_else(|| panic!("a Confirm button: {plan}"));
    assert!(
        actions.iter().any(|(name, _)| name == "Abort"),
        "{actions:?}"
    );

    // Bob may build, but the plan is alice's: told so alone, and the buttons stay.
    assert_eq!(fake.click(BOB, &plan_id, &confirm).await, 200);
    let told = fake.ephemeral();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, BOB);
    assert_eq!(fake.actions(&plan_id).len(), actions.len(), "buttons kept");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        sim.with_world(|world| world.builds.len()),
        0,
        "nothing built"
    );

    // Alice's click starts it: the post says so, its buttons gone.
    assert_eq!(fake.click(ALICE, &plan_id, &confirm).await, 200);
    let clicked = fake.post(&plan_id).unwrap();
    assert!(fake.actions(&plan_id).is_empty(), "buttons gone: {clicked}");
    assert!(says(&clicked, "alice"), "{clicked}");
    acknowledged(&fake).await;
    assert_eq!(plan["root_id"], thread.as_str());
    let board = run_until_posted(&sim, &fake, "**Job #1**").await;
    assert_eq!(
        board["root_id"],
        thread.as_str(),
        "the job's board is in the thread"
    );
    // Used, the button is gone: a second click cannot reach the bot.
    assert_eq!(fake.click(ALICE, &plan_id, &confirm).await, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_builds_summary_shows_its_log_and_show_log_tells_the_clicker_alone() {
    let (sim, fake, _bot) = connected_with_listener().await;
    sim.set_outcomes(vec![image_builder::launchpad::sim::scenario::Outcome {
        build_failures: image_builder::launchpad::sim::scenario::Failures::Always,
        ..Default::default()
    }]);
    fake.say(ALICE, CHANNEL, "!rebuild 20.04 arm64 redis", None);
    acknowledged(&fake).await;
    let summary = run_until_posted(&sim, &fake, "Job #1 finished.").await;
    assert!(
        says(&summary, "E: Unable to locate package redis") && says(&summary, "full log: http"),
        "{summary}"
    );
    let summary_id = summary["id"].as_str().unwrap().to_string();
    let actions = fake.actions(&summary_id);
    let show = actions
        .iter()
        .find(|(name, _)| name == "Show log")
        .map(|(_, id)| id.clone())
        .unwrap_or_else(|| panic!("a Show log button: {summary}"));

    // Anyone who may read gets the longer excerpt, alone; the summary stays as it was.
    assert_eq!(fake.click(BOB, &summary_id, &show).await, 200);
    let told = fake.ephemeral();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, BOB);
    assert!(
        told[0].2.contains("Failed at `Step 3/6") && told[0].2.contains("Scanning for processes"),
        "{told:?}"
    );
    assert_eq!(
        fake.post(&summary_id).unwrap()["message"],
        summary["message"]
    );
    assert_eq!(
        fake.actions(&summary_id).len(),
        actions.len(),
        "the button stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_click_is_refused_and_changes_nothing() {
    let (sim, fake, bot) = connected_with_listener().await;
    fake.say(ALICE, CHANNEL, "!rebuild 22.04 all", None);
    let plan = fake
        .wait_for_post("the plan", 10, |p| by_bot(p) && says(p, "confirm"))
        .await;
    let plan_id = plan["id"].as_str().unwrap();
    let code = plan["message"]
        .as_str()
        .unwrap()
        .split("confirm ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_alphanumeric()).next())
        .unwrap()
        .to_string();
    let url = format!(
        "{}{}",
        bot.listener.as_ref().unwrap(),
        callbacks::ACTION_PATH
    );
    // Anyone who can reach the listener can post a "click"; without this install's signature
    // it is refused, whoever it claims to be.
    for context in [
        serde_json::json!({"action": format!("ib:confirm:{code}"), "sig": "00"}),
        serde_json::json!({"action": format!("ib:confirm:{code}")}),
        serde_json::json!({}),
    ] {
        let body = serde_json::json!({
            "user_id": ALICE, "user_name": "alice", "channel_id": CHANNEL, "team_id": TEAM,
            "post_id": plan_id, "trigger_id": "t", "type": "", "data_source": "",
            "context": context,
        });
        let status = reqwest::Client::new()
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 403, "{context}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        sim.with_world(|world| world.builds.len()),
        0,
        "nothing built"
    );
    assert!(fake.ephemeral().is_empty());
    assert!(
        !fake.actions(plan_id).is_empty(),
        "the real buttons still work"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slash_command_answers_as_typed_text_and_refuses_a_wrong_token() {
    let (sim, fake, _bot) = connected_with_listener().await;

    // Help and errors to the typer alone.
    assert_eq!(fake.slash(BOB, CHANNEL, "help").await, 200);
    assert_eq!(
        fake.slash(BOB, CHANNEL, "rebuild 20.04 arm64 redis").await,
        200
    );
    let told = fake.ephemeral();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told.iter().all(|(user, _, _)| user == BOB));
    assert!(told[1].2.contains("You may not"), "{told:?}");
    assert!(
        fake.posts().iter().all(|p| !by_bot(p)),
        "nothing said in the channel"
    );

    // A wrong token: refused, nothing done.
    fake.register_command(
        &format!(
            "{}{}",
            _bot.listener.as_ref().unwrap(),
            callbacks::COMMAND_PATH
        ),
        "wrong",
    );
    assert_eq!(
        fake.slash(ALICE, CHANNEL, "rebuild 20.04 arm64 redis")
            .await,
        401
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        sim.with_world(|world| world.builds.len()),
        0,
        "nothing built"
    );

    // The right token: the bot acknowledges in the channel, as itself, and the job runs.
    fake.register_command(
        &format!(
            "{}{}",
            _bot.listener.as_ref().unwrap(),
            callbacks::COMMAND_PATH
        ),
        COMMAND_TOKEN,
    );
    assert_eq!(
        fake.slash(ALICE, CHANNEL, "rebuild 20.04 arm64 redis")
            .await,
        200
    );
    let ack = acknowledged(&fake).await;
    assert_eq!(ack["channel_id"], CHANNEL);
    let board = run_until_posted(&sim, &fake, "**Job #1**").await;
    let board_id = board["id"].as_str().unwrap().to_string();
    assert!(
        fake.actions(&board_id)
            .iter()
            .any(|(name, _)| name == "Cancel job"),
        "the board has its Cancel button: {board}"
    );
    run_until_posted(&sim, &fake, "Job #1 finished.").await;
    // The board's last edit replaced its props: no Cancel button under an ended job.
    let started = std::time::Instant::now();
    while !fake.actions(&board_id).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the Cancel button stayed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_online_checks_the_token_team_and_channels() {
    use image_builder::chat::mattermost::check;
    use image_builder::config::MattermostConfig;
    let fake = FakeMattermost::start().await;
    let settings = MattermostConfig {
        url: Some(fake.url()),
        team: Some(TEAM.into()),
        channels: vec![CHANNEL.into(), "c9999999999999999999999999".into()],
        alerts_channel: Some(ALERTS.into()),
        ..MattermostConfig::default()
    };
    let chat = Mattermost::new(&fake.url(), Secret::new(support::mattermost::TOKEN)).unwrap();
    let found = check(&chat, &settings).await;
    let failed: Vec<_> = found.iter().filter(|(holds, _)| !holds).collect();
    assert_eq!(failed.len(), 1, "{found:#?}");
    assert!(
        failed[0].1.contains("c9999999999999999999999999"),
        "{found:#?}"
    );
    assert!(found[0].1.contains("@image-builder"), "{found:#?}");

    let wrong = Mattermost::new(&fake.url(), Secret::new("wrong")).unwrap();
    let found = check(&wrong, &settings).await;
    assert_eq!(found.len(), 1);
    assert!(!found[0].0 && found[0].1.contains("MATTERMOST_TOKEN is refused"));
    assert!(!found[0].1.contains("wrong"), "the token is never said");
}

/// `image-builder run` on the fake Mattermost, its Launchpad the simulator; killed when dropped.
struct RunProcess(std::process::Child);

impl Drop for RunProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `run` with the config, credentials and store in `dir`.
fn run_process(dir: &std::path::Path) -> RunProcess {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_image-builder"))
        .arg("run")
        .arg("--config")
        .arg(dir.join("config.toml"))
        .arg("--credentials")
        .arg(dir.join("credentials"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env_remove("IMAGE_BUILDER_CONFIG")
        .env("MATTERMOST_TOKEN", support::mattermost::TOKEN)
        .env("IMAGE_BUILDER_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    RunProcess(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_run_cleanly_mid_job_and_the_next_start_finishes_it_saying_nothing_twice() {
    let sim = support::simulator().await;
    let fake = FakeMattermost::start().await;
    let dir = TempDir::new("mattermost-sigterm");
    sim.credentials().save(&dir.0.join("credentials")).unwrap();
    let config = support::quick_config(&sim.api_root())
        .replacen("service = \"discord\"", "service = \"mattermost\"", 1)
        .replacen(
            "# url = \"https://chat.example.com\"",
            &format!("url = \"{}\"\nteam = \"{TEAM}\"", fake.url()),
            1,
        )
        .replacen("channels = []", &format!("channels = [\"{CHANNEL}\"]"), 1)
        .replacen(
            "mattermost = { users = [], roles = [] }",
            "mattermost = { users = [\"alice\"], roles = [] }",
            1,
        )
        .replace("listen = \"127.0.0.1:9091\"", "listen = \"127.0.0.1:0\"");
    // The dashboard on a port known here (free a moment ago).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = config.replace(
        "[web]\nlisten = \"127.0.0.1:0\"",
        &format!("[web]\nlisten = \"127.0.0.1:{port}\""),
    );
    std::fs::write(dir.0.join("config.toml"), config).unwrap();

    let mut first = run_process(&dir.0);
    fake.wait_connected().await;
    fake.say(ALICE, CHANNEL, "!rebuild 20.04 arm64 redis", None);
    acknowledged(&fake).await;
    run_until_posted(&sim, &fake, "**Job #1**").await;
    // `run` serves the dashboard of its store: the running job is on it.
    let page = reqwest::get(format!("http://127.0.0.1:{port}/jobs"))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("rebuild 20.04 arm64 redis"), "{page}");

    // systemd's stop.
    let pid = rustix::process::Pid::from_raw(first.0.id() as i32).expect("a child's pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = first.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "run did not stop within its grace period"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut first.0.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopping"), "{stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
    assert!(!fake.connected(), "the socket is closed");

    // The next start resumes the job and ends it.
    let _second = run_process(&dir.0);
    fake.wait_connected().await;
    run_until_posted(&sim, &fake, "Job #1 finished.").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let posts: Vec<Value> = fake.posts().into_iter().filter(by_bot).collect();
    let count = |needle: &str| posts.iter().filter(|p| says(p, needle)).count();
    assert_eq!(count("Job #1 accepted"), 1, "{posts:#?}");
    assert_eq!(count("**Job #1**"), 1, "one board, edited on: {posts:#?}");
    assert_eq!(count("Job #1 finished."), 1, "{posts:#?}");
    let requests = sim.with_world(|world| world.requests.len());
    assert_eq!(requests, 1, "redis 20.04 was requested once");
}

/// Whether `text` (a post, an edit, an ephemeral answer) has an `@` Mattermost could read as a
/// mention: every `@` the bot sends is followed by a zero-width space, but the one naming a
/// summary's requester.
fn live_at_signs(text: &str, requester: Option<&str>) -> Vec<String> {
    let text = match requester {
        Some(name) => text.replacen(&format!("@{name} "), "", 1),
        None => text.to_string(),
    };
    text.match_indices('@')
        .filter(|(at, _)| !text[at + 1..].starts_with('\u{200B}'))
        .map(|(at, _)| text[at..].chars().take(20).collect())
        .collect()
}

/// Nothing the bot sends can ping the channel, or anyone but a summary's requester, whatever
/// text it carries: a reason, a build's log (anyone's text), a word it echoes; on every path
/// (posts and their edits, a slash command's reply, a button's answer to the clicker alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_text_the_bot_sends_can_ping_the_channel_on_any_path() {
    let (sim, fake, _bot) = connected_with_listener().await;
    sim.set_outcomes(vec![image_builder::launchpad::sim::scenario::Outcome {
        build_failures: image_builder::launchpad::sim::scenario::Failures::Always,
        build_log: image_builder::launchpad::sim::buildlog::LogKind::Hostile,
        ..Default::default()
    }]);
    fake.say(
        ALICE,
        CHANNEL,
        "!rebuild 20.04 arm64 redis reason=\"x` @channel @here `y @all\"",
        None,
    );
    acknowledged(&fake).await;
    let summary = run_until_posted(&sim, &fake, "Job #1 finished.").await;
    assert!(says(&summary, "see above"), "the log's lines: {summary}");
    let summary_id = summary["id"].as_str().unwrap().to_string();
    let show = fake
        .actions(&summary_id)
        .into_iter()
        .find(|(name, _)| name == "Show log")
        .map(|(_, id)| id)
        .unwrap();
    assert_eq!(fake.click(BOB, &summary_id, &show).await, 200);
    assert_eq!(fake.slash(BOB, CHANNEL, "rebuild @channel").await, 200);
    let told = fake.ephemeral();
    assert_eq!(told.len(), 2, "{told:?}");
    assert!(told[0].2.contains("the build broke"), "{told:?}");
    assert!(told[1].2.contains("channel"), "{told:?}");
    for (_, _, text) in &told {
        assert_eq!(live_at_signs(text, None), Vec::<String>::new(), "{text}");
    }
    for post in fake.posts().iter().filter(|p| by_bot(p)) {
        let text = post["message"].as_str().unwrap_or_default();
        let requester = (post["id"] == summary["id"]).then_some("alice");
        assert_eq!(
            live_at_signs(text, requester),
            Vec::<String>::new(),
            "{text}"
        );
    }
    for mentions in fake.mentions().iter().filter(|m| m.author == BOT) {
        assert!(!mentions.everyone, "{mentions:?}");
    }
}
