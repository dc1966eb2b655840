//! The bot on Discord: the real serenity client against the fake Discord in `tests/support`, the
//! engine against the simulator: text and slash commands, buttons, rate limits, a dropped
//! gateway. What a flaky Discord and a hostile guild do is in `discord_faults.rs`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use image_builder::bot::Bot;
use image_builder::chat::discord::{self, Discord, Handler, ServeError};
use image_builder::engine::Engine;
use image_builder::launchpad::Client;
use image_builder::secret::Secret;
use image_builder::store::Store;
use support::bot::{quick_engine, TempDir};
use support::discord::{allowed_mentions, content, FakeDiscord, CHANNEL};
use support::discord_bot::{run_until_posted, start_bot, ALICE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_command_is_acknowledged_followed_on_one_board_and_summarised_to_the_requester() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let _bot = start_bot(&sim, &fake);

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
    // The board comes once Launchpad has made the builds.
    run_until_posted(&sim, &fake, "**Job #1**").await;
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_not_addressed_to_the_bot_or_from_a_stranger_changes_nothing() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let _bot = start_bot(&sim, &fake);
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
        discord::serve(
            &token,
            Some(&api_base),
            Handler::new(bot, "!".into(), Some(2000)),
        ),
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

/// The interaction callbacks the bot answered with.
fn callbacks(fake: &FakeDiscord) -> Vec<support::discord::Call> {
    fake.calls()
        .into_iter()
        .filter(|c| c.path.ends_with("/callback"))
        .collect()
}

async fn wait_for_callback(fake: &FakeDiscord, count: usize) -> support::discord::Call {
    let started = std::time::Instant::now();
    loop {
        let found = callbacks(fake);
        if found.len() >= count {
            return found[count - 1].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no callback: {:#?}",
            fake.calls()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_rebuild_is_the_same_command_with_the_same_answers() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let _bot = start_bot(&sim, &fake);
    fake.ready().await;
    let registered = fake
        .wait_for("the slash commands", 10, |c| {
            c.method == "PUT" && c.path.ends_with("/guilds/2000/commands")
        })
        .await;
    let names: Vec<&str> = registered
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["rebuild", "status", "jobs", "history", "log", "cancel", "retry", "help"]
    );

    fake.slash(
        ALICE,
        "alice",
        "rebuild",
        serde_json::json!([
            {"name": "images", "type": 3, "value": "redis"},
            {"name": "series", "type": 3, "value": "20.04"},
            {"name": "arch", "type": 3, "value": "arm64"},
        ]),
    );
    let ack = wait_for_callback(&fake, 1).await;
    assert_eq!(ack.body["type"], 4);
    assert_eq!(
        ack.body["data"]["content"],
        "Job #1 accepted: 1 recipe, 1 build (redis 5.0 on 20.04: arm64). The board follows once Launchpad has made the builds."
    );
    run_until_posted(&sim, &fake, "Job #1 finished.").await;

    fake.slash(
        ALICE,
        "alice",
        "rebuild",
        serde_json::json!([{"name": "images", "type": 3, "value": "rediss"}]),
    );
    let error = wait_for_callback(&fake, 2).await;
    assert_eq!(
        error.body["data"]["flags"], 64,
        "errors are shown to the asker alone"
    );
    assert!(error.body["data"]["content"]
        .as_str()
        .unwrap()
        .contains("Did you mean the image `redis`?"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_all_is_confirmed_with_its_button_which_is_then_disabled() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let _bot = start_bot(&sim, &fake);
    fake.ready().await;
    fake.say(ALICE, "alice", &[], "!rebuild all");
    // The plan is longer than one message: it comes in pieces, the buttons under the last.
    let plan = fake
        .wait_for("the plan's buttons", 10, |c| {
            c.body["components"][0]["components"][0]["custom_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("ib:confirm:"))
        })
        .await;
    assert!(fake.calls().iter().any(|c| c.body["content"]
        .as_str()
        .is_some_and(|t| t.starts_with("To start this rebuild"))));
    let buttons = &plan.body["components"][0]["components"];
    let confirm = buttons[0]["custom_id"].as_str().unwrap().to_string();
    assert!(confirm.starts_with("ib:confirm:"), "{buttons}");
    assert_eq!(buttons[1]["label"], "Abort");
    let message = fake.message_id_of(&plan);

    // Someone else's click is refused, to them alone, and changes nothing.
    fake.click("6000", "mallory", &message, &confirm);
    let refused = wait_for_callback(&fake, 1).await;
    assert_eq!(refused.body["type"], 4);
    assert_eq!(refused.body["data"]["flags"], 64);
    assert!(
        refused.body["data"]["content"]
            .as_str()
            .unwrap()
            .starts_with("You may not `confirm`"),
        "{}",
        refused.body
    );

    fake.click(ALICE, "alice", &message, &confirm);
    let used = wait_for_callback(&fake, 2).await;
    assert_eq!(used.body["type"], 7, "the message is updated in place");
    assert!(used.body["data"]["content"]
        .as_str()
        .unwrap()
        .contains("Job #1 accepted: 29 recipes, 116 builds."));
    let disabled = &used.body["data"]["components"][0]["components"];
    assert!(
        disabled
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["disabled"] == true),
        "{disabled}"
    );
    run_until_posted(&sim, &fake, "Job #1 finished.").await;
    assert_eq!(sim.requests("POST requestBuilds"), 29);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upload_alert_carries_a_retry_button_that_reschedules_the_upload() {
    let sim = support::simulator().await;
    sim.set_outcomes(vec![image_builder::launchpad::sim::scenario::Outcome {
        image: Some("redis".parse().unwrap()),
        upload_failures: image_builder::launchpad::sim::scenario::Failures::Times(1),
        ..Default::default()
    }]);
    let fake = FakeDiscord::start().await;
    let _bot = start_bot(&sim, &fake);
    fake.ready().await;
    fake.say(ALICE, "alice", &[], "!rebuild 20.04 arm64 redis");
    let alert = run_until_posted(&sim, &fake, "Upload failed").await;
    let button = &alert.body["components"][0]["components"][0];
    assert_eq!(button["custom_id"], "ib:retry-uploads:1");
    assert_eq!(button["label"], "Retry upload");
    run_until_posted(&sim, &fake, "Job #1 finished.").await;

    let message = fake.message_id_of(&alert);
    fake.click("6000", "mallory", &message, "ib:retry-uploads:1");
    let refused = wait_for_callback(&fake, 1).await;
    assert_eq!(refused.body["data"]["flags"], 64);
    assert_eq!(
        sim.requests("POST scheduleRegistryUpload"),
        0,
        "a refused click changes nothing"
    );

    fake.click(ALICE, "alice", &message, "ib:retry-uploads:1");
    let used = wait_for_callback(&fake, 2).await;
    assert!(
        used.body["data"]["content"]
            .as_str()
            .unwrap()
            .ends_with("Retrying 1 failed upload of job #1."),
        "{}",
        used.body
    );
    let started = std::time::Instant::now();
    while sim.requests("POST scheduleRegistryUpload") == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the upload was never rescheduled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_boards_cancel_button_cancels_the_job() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let _bot = start_bot(&sim, &fake);
    fake.ready().await;
    fake.say(ALICE, "alice", &[], "!rebuild 22.04 redis");
    let board = run_until_posted(&sim, &fake, "**Job #1**").await;
    assert_eq!(
        board.body["components"][0]["components"][0]["custom_id"],
        "ib:cancel:1"
    );
    let message = fake.message_id_of(&board);
    fake.click(ALICE, "alice", &message, "ib:cancel:1");
    let used = wait_for_callback(&fake, 1).await;
    assert_eq!(used.body["type"], 7, "{}", used.body);
    run_until_posted(&sim, &fake, "Job #1 was cancelled.").await;
    fake.assert_only_expected_calls();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_names_are_autocompleted_from_the_catalogue() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let _bot = start_bot(&sim, &fake);
    fake.ready().await;
    fake.autocomplete(ALICE, "rebuild", "images", "redis p");
    let answer = wait_for_callback(&fake, 1).await;
    assert_eq!(answer.body["type"], 8, "{}", answer.body);
    let choices: Vec<&str> = answer.body["data"]["choices"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["value"].as_str())
        .collect();
    assert_eq!(choices, ["redis postgres"]);
    fake.assert_only_expected_calls();
}

/// Nothing the bot sends can ping `@everyone`, `@here`, a role or anyone but a summary's
/// requester, whatever text it carries (a reason, a word it echoes): every message, edit,
/// reply, interaction answer, follow-up and click answer says what Discord may ping, and
/// that is the requester alone, on the summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_text_the_bot_sends_can_ping_everyone_on_any_path() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let _bot = start_bot(&sim, &fake);
    fake.ready().await;
    let loud = "@everyone @here ".repeat(62);
    // Two jobs whose reasons (on their boards, and in `jobs`) say it.
    fake.say(
        ALICE,
        "alice",
        &[],
        &format!("!rebuild 22.04 arm64 redis reason=\"{loud}\""),
    );
    run_until_posted(&sim, &fake, "**Job #1**").await;
    fake.say(
        ALICE,
        "alice",
        &[],
        &format!("!rebuild 22.04 arm64 postgres reason=\"{loud}\""),
    );
    run_until_posted(&sim, &fake, "**Job #2**").await;
    // A reply that echoes a word.
    fake.say(ALICE, "alice", &[], "!rebuild @everyone");
    fake.wait_for("the echo", 10, |c| {
        content(c).is_some_and(|t| t.contains("`@everyone`"))
    })
    .await;
    // An interaction answer longer than a message: its follow-up carries the rest.
    fake.slash(ALICE, "alice", "jobs", serde_json::json!([]));
    wait_for_callback(&fake, 1).await;
    fake.wait_for("the follow-up", 10, |c| {
        c.method == "POST" && c.path.contains("/webhooks/")
    })
    .await;
    // A click answer, which shows the clicked board (and its reason) again.
    let message = fake.message_id_starting("**Job #1**");
    fake.click(ALICE, "alice", &message, "ib:cancel:1");
    let clicked = wait_for_callback(&fake, 2).await;
    assert_eq!(clicked.body["type"], 7, "{}", clicked.body);
    run_until_posted(&sim, &fake, "Job #1 was cancelled.").await;

    let calls: Vec<support::discord::Call> = fake
        .calls()
        .into_iter()
        .filter(|c| content(c).is_some())
        .collect();
    let loud_on = |kind: &dyn Fn(&support::discord::Call) -> bool| {
        calls
            .iter()
            .any(|c| kind(c) && content(c).unwrap().contains("@everyone"))
    };
    assert!(loud_on(
        &|c| c.method == "POST" && c.path.ends_with("/messages")
    ));
    assert!(loud_on(&|c| c.method == "PATCH"));
    assert!(loud_on(
        &|c| c.path.ends_with("/callback") && c.body["type"] == 4
    ));
    assert!(loud_on(&|c| c.path.contains("/webhooks/")));
    assert!(loud_on(
        &|c| c.path.ends_with("/callback") && c.body["type"] == 7
    ));
    for call in &calls {
        let allowed = allowed_mentions(call)
            .unwrap_or_else(|| panic!("says what may be pinged: {} {}", call.path, call.body));
        assert_eq!(
            allowed["parse"],
            serde_json::json!([]),
            "nothing is parsed for pings: {} {}",
            call.path,
            call.body
        );
        let users = allowed["users"].as_array().cloned().unwrap_or_default();
        let summary = content(call)
            .unwrap()
            .starts_with(&format!("<@{ALICE}> Job #"));
        if summary {
            assert_eq!(users, [serde_json::json!(ALICE)], "{}", call.body);
        } else {
            assert!(users.is_empty(), "{} {}", call.path, call.body);
        }
        assert!(
            allowed["roles"]
                .as_array()
                .is_none_or(|roles| roles.is_empty()),
            "{}",
            call.body
        );
    }
}
