//! The bot on a flaky Discord and in a busy server: boards lose their buttons when jobs end,
//! a failed final edit is recovered, a deleted board is posted again once, long interaction
//! answers continue in follow-ups, other guilds are not served, a failure after a moderator
//! deleted the grouped alert is told in a new one. The real serenity client
//! against the fake Discord, which keeps the components an edit omits (as Discord does) and
//! fails the test on an edit of a message that does not exist.

mod support;

use std::time::Duration;

use serde_json::json;
use support::discord::{Call, FakeDiscord};
use support::discord_bot::{run_until_posted, start_bot, ALICE};

/// Whether `call` sent a new message whose content contains `needle`.
fn posted(call: &Call, needle: &str) -> bool {
    call.method == "POST"
        && call.body["content"]
            .as_str()
            .is_some_and(|text| text.contains(needle))
}

/// The boards of job 1 the bot posted (new messages), in order.
fn boards(fake: &FakeDiscord) -> Vec<Call> {
    fake.calls()
        .into_iter()
        .filter(|call| posted(call, "**Job #1**"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_jobs_board_has_no_buttons_after_its_last_edit() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let _bot = start_bot(&sim, &fake);
    fake.ready().await;
    fake.say(ALICE, "alice", &[], "!rebuild 20.04 arm64 redis");
    let board = run_until_posted(&sim, &fake, "**Job #1**").await;
    assert_eq!(
        board.body["components"][0]["components"][0]["custom_id"], "ib:cancel:1",
        "a running job's board has its Cancel button"
    );
    let id = fake.message_id_of(&board);
    run_until_posted(&sim, &fake, "Job #1 finished.").await;
    let shown = fake.message(&id).expect("the board is there");
    assert!(
        shown["content"].as_str().unwrap().contains(" took "),
        "the board shows the end: {shown}"
    );
    assert_eq!(
        shown["components"],
        json!([]),
        "an ended job's board has no buttons"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_on_the_final_edit_is_recovered() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let _bot = start_bot(&sim, &fake);
    fake.ready().await;
    // The edit showing the end fails five times: more than the adapter's own attempts, so the
    // engine must try it again too.
    fake.fail_next_containing("PATCH", " took ", 503, 5);
    fake.say(ALICE, "alice", &[], "!rebuild 20.04 arm64 redis");
    let board = run_until_posted(&sim, &fake, "**Job #1**").await;
    let id = fake.message_id_of(&board);
    // The summary follows the board's last edit.
    let summary = run_until_posted(&sim, &fake, "Job #1 finished.").await;
    let shown = fake.message(&id).unwrap();
    assert!(
        shown["content"].as_str().unwrap().contains(" took "),
        "the board shows the end: {shown}"
    );
    assert_eq!(shown["components"], json!([]));
    let calls = fake.calls();
    let refused = calls
        .iter()
        .filter(|c| {
            c.method == "PATCH" && c.body["content"].as_str().unwrap_or("").contains(" took ")
        })
        .count();
    assert_eq!(refused, 6, "five refused, then the one that worked");
    let summary_at = calls.iter().position(|c| c.body == summary.body).unwrap();
    let last_edit_at = calls
        .iter()
        .rposition(|c| c.method == "PATCH" && c.path.ends_with(&id))
        .unwrap();
    assert!(
        last_edit_at < summary_at,
        "the board is right before the summary goes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_board_is_posted_again_once_and_never_edited_in_a_loop() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let _bot = start_bot(&sim, &fake);
    fake.ready().await;
    fake.say(ALICE, "alice", &[], "!rebuild 22.04 redis");
    let first = run_until_posted(&sim, &fake, "**Job #1**").await;
    let first_id = fake.message_id_of(&first);
    fake.delete_message(&first_id);
    // The next edit finds it gone: the board is posted again.
    let started = std::time::Instant::now();
    while boards(&fake).len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never posted again: {:#?}",
            fake.calls()
        );
        sim.advance(Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second_id = fake.message_id_of(&boards(&fake)[1]);
    assert_ne!(second_id, first_id);
    // Deleted again: the job goes on without a board, to its summary.
    fake.delete_message(&second_id);
    run_until_posted(&sim, &fake, "Job #1 finished.").await;
    assert_eq!(boards(&fake).len(), 2, "posted again once only");
    let calls = fake.calls();
    for gone in [&first_id, &second_id] {
        let edits = calls
            .iter()
            .filter(|c| c.method == "PATCH" && c.path.ends_with(&format!("/{gone}")))
            .count();
        assert!(
            edits <= 2,
            "a gone message is not edited in a loop: {edits} edits of {gone}"
        );
    }
}

/// The interaction answers and follow-ups, in order, as `(content, flags)`.
fn interaction_answers(fake: &FakeDiscord) -> Vec<(String, serde_json::Value)> {
    fake.calls()
        .into_iter()
        .filter_map(|call| {
            if call.path.ends_with("/callback") {
                let data = &call.body["data"];
                Some((data["content"].as_str()?.to_string(), data["flags"].clone()))
            } else if call.path.contains("/webhooks/") {
                Some((
                    call.body["content"].as_str()?.to_string(),
                    call.body["flags"].clone(),
                ))
            } else {
                None
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_slash_answer_arrives_whole_in_pieces() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let _bot = start_bot(&sim, &fake);
    fake.ready().await;
    // The same dry run typed: the text the slash command must answer with.
    fake.say(ALICE, "alice", &[], "!rebuild all --dry-run");
    let started = std::time::Instant::now();
    let typed = loop {
        let pieces: Vec<String> = fake
            .calls()
            .into_iter()
            .filter(|c| c.method == "POST" && c.path.ends_with("/messages"))
            .filter_map(|c| c.body["content"].as_str().map(str::to_string))
            .collect();
        if pieces.concat().contains("build nothing") || pieces.len() >= 2 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            break fake
                .calls()
                .into_iter()
                .filter(|c| c.method == "POST" && c.path.ends_with("/messages"))
                .filter_map(|c| c.body["content"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
                .concat();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no dry run");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(typed.chars().count() > 3000, "a long answer: {typed}");

    fake.slash(
        ALICE,
        "alice",
        "rebuild",
        json!([
            {"name": "images", "type": 3, "value": "all"},
            {"name": "dry-run", "type": 5, "value": true},
        ]),
    );
    let started = std::time::Instant::now();
    loop {
        let answers = interaction_answers(&fake);
        let whole: String = answers.iter().map(|(text, _)| text.as_str()).collect();
        if whole == typed {
            assert!(answers.len() >= 2, "in pieces: {answers:#?}");
            assert!(answers.iter().all(|(text, _)| text.chars().count() <= 2000));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the slash answer never arrived whole: {answers:#?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_from_other_guilds_are_ignored() {
    let sim = support::simulator().await;
    let fake = FakeDiscord::start().await;
    let _bot = start_bot(&sim, &fake);
    fake.ready().await;
    fake.wait_for("the slash commands", 10, |c| c.method == "PUT")
        .await;
    let before = fake.calls().len();
    fake.say_in("3000", ALICE, "alice", &[], "!rebuild 20.04 arm64 redis");
    fake.slash_in("3000", ALICE, "alice", "status", json!([]));
    // The same from the bot's guild is answered: once it is, the others had their chance.
    fake.say(ALICE, "alice", &[], "!whoami");
    fake.wait_for("the answer in the bot's guild", 10, |c| {
        posted(c, "You are `5000`")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after: Vec<Call> = fake.calls()[before..].to_vec();
    assert_eq!(
        after.len(),
        1,
        "only the bot's guild was answered: {after:#?}"
    );
    assert_eq!(sim.requests("POST requestBuilds"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_after_a_moderator_deleted_the_grouped_alert_is_told_in_a_new_alert() {
    use image_builder::chat::discord::{self, Discord};
    use image_builder::launchpad::sim::scenario::{Failures, Outcome};
    use support::bot::{quick_engine, TempDir};
    use support::hooks::{install, listen};

    let sim = support::simulator().await;
    sim.set_outcomes(vec![Outcome {
        upload_failures: Failures::Always,
        ..Outcome::default()
    }]);
    let fake = FakeDiscord::start().await;
    let dir = TempDir::new("discord-alerts");
    let token = image_builder::secret::Secret::new("fake-token");
    let chat = Discord::new(std::sync::Arc::new(discord::http(
        &token,
        Some(&fake.api_base()),
    )));
    let mut settings = quick_engine();
    settings.alerts_channel = Some("4100".into());
    let engine = image_builder::engine::Engine::new(
        image_builder::launchpad::Client::new(support::client_settings(&sim)).unwrap(),
        image_builder::store::Store::open(&dir.0).unwrap(),
        chat,
        settings,
    );
    let url = listen(&sim, engine.clone()).await;
    install(&sim, &url).await;
    // Builds someone else started: their failures are grouped in the alerts channel.
    sim.with_world_mut(|world| world.foreign_build("redis", "22.04", "arm64").unwrap());
    let first = run_until_posted(&sim, &fake, "Upload failed").await;
    let first = fake.message_id_of(&first);
    fake.delete_message(&first);
    // The group's window is still open; its alert is gone.
    sim.with_world_mut(|world| world.foreign_build("nginx", "22.04", "arm64").unwrap());
    let second = run_until_posted(&sim, &fake, "+oci/nginx/").await;
    assert_ne!(fake.message_id_of(&second), first);
    assert!(
        second.body["content"]
            .as_str()
            .unwrap()
            .starts_with("Upload failed"),
        "told in an alert of its own: {}",
        second.body
    );
}
