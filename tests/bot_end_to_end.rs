//! The bot end to end: a user types into the console adapter, the engine drives the simulator
//! over real HTTP (its clock stepped by hand), and the test reads what the bot printed and what
//! the simulator saw.

mod support;

use image_builder::chat::Kind;
use image_builder::jobs::JobStatus;
use image_builder::launchpad::models::{BuildState, UploadStatus};
use image_builder::launchpad::sim::scenario::{Failures, Outcome};
use image_builder::target::JobId;
use support::bot::TestBot;

fn redis_arm64_upload(failures: Failures) -> Outcome {
    Outcome {
        image: Some("redis".parse().unwrap()),
        arch: Some("arm64".parse().unwrap()),
        upload_failures: failures,
        ..Outcome::default()
    }
}

/// The job ended and the engine has said all it will about it.
fn finished(id: u64) -> impl Fn(&TestBot) -> bool {
    move |bot| bot.job(id).is_finished() && bot.wired.engine.running() == 0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_rebuild_runs_to_success_with_one_board_and_a_summary() {
    let bot = TestBot::start(vec![]).await;
    let answer = bot.say("alice", "rebuild 20.04 arm64 redis").await;
    assert_eq!(
        answer,
        "Job #1 accepted: 1 recipe, 1 build (redis 5.0 on 20.04: arm64). The board follows once Launchpad has made the builds."
    );
    bot.run_until("job 1 ends", finished(1)).await;
    let job = bot.job(1);
    assert_eq!(job.status, JobStatus::Finished);
    assert_eq!(job.tally().succeeded, 1);

    let printed = bot.printed();
    let boards: Vec<_> = printed.iter().filter(|p| p.kind == Kind::Board).collect();
    assert!(boards.len() >= 2, "the board was sent and edited");
    assert!(
        boards.iter().all(|p| p.id == boards[0].id),
        "every edit goes to one message"
    );
    assert!(!boards[0].edit && boards[1..].iter().all(|p| p.edit));
    assert!(
        boards.last().unwrap().text.contains("✓ 1 done"),
        "{}",
        boards.last().unwrap().text
    );
    let summary = printed
        .iter()
        .find(|p| p.kind == Kind::Summary)
        .expect("a summary");
    assert_eq!(summary.mention.as_deref(), Some("alice"));
    assert_eq!(summary.text, "Job #1 finished. 1 build built and uploaded.");
    assert_eq!(bot.sim.requests("POST requestBuilds"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn architectures_not_asked_for_are_cancelled_at_once() {
    let bot = TestBot::start(vec![]).await;
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    bot.run_until("job 1 ends", finished(1)).await;
    let states = bot.sim.with_world(|world| {
        let mut states: Vec<(String, BuildState)> = world
            .builds
            .values()
            .map(|b| (b.arch.to_string(), b.state.clone()))
            .collect();
        states.sort_by(|a, b| a.0.cmp(&b.0));
        states
    });
    assert_eq!(
        states,
        [
            ("amd64".to_string(), BuildState::CancelledBuild),
            ("arm64".to_string(), BuildState::SuccessfullyBuilt),
            ("ppc64el".to_string(), BuildState::CancelledBuild),
            ("s390x".to_string(), BuildState::CancelledBuild),
        ]
    );
    assert_eq!(bot.sim.requests("POST cancel"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuild_all_waits_for_confirm_then_runs_every_recipe() {
    let bot = TestBot::start(vec![]).await;
    let answer = bot.say("alice", "rebuild all").await;
    assert!(
        answer.starts_with("To start this rebuild, say `confirm "),
        "{answer}"
    );
    assert!(answer.contains("mass rebuild"), "{answer}");
    assert!(
        bot.wired.engine.store().jobs().unwrap().is_empty(),
        "nothing stored before confirm"
    );
    let code = answer
        .split('`')
        .nth(1)
        .unwrap()
        .trim_start_matches("confirm ")
        .to_string();

    let stranger = bot.say("bob", &format!("confirm {code}")).await;
    assert!(stranger.contains("someone else's"), "{stranger}");
    let answer = bot.say("alice", &format!("confirm {code}")).await;
    assert!(
        answer.starts_with("Job #1 accepted: 29 recipes, 116 builds."),
        "{answer}"
    );
    bot.run_until("job 1 ends", finished(1)).await;
    assert_eq!(bot.job(1).tally().succeeded, 116);
    assert_eq!(bot.sim.requests("POST requestBuilds"), 29);
    let again = bot.say("alice", &format!("confirm {code}")).await;
    assert!(
        again.contains("No plan waits"),
        "a code works once: {again}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upload_is_alerted_exactly_once() {
    let bot = TestBot::start(vec![redis_arm64_upload(Failures::Always)]).await;
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    bot.run_until("job 1 ends", finished(1)).await;
    let alerts = bot.printed_containing(Kind::Alert, "Upload failed");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0].contains("redis 5.0 on 20.04 arm64 (job #1)"),
        "{}",
        alerts[0]
    );
    assert!(
        alerts[0].contains("/+build/"),
        "the build's web link: {}",
        alerts[0]
    );
    assert!(
        alerts[0].ends_with("Retry with `retry uploads #1`."),
        "{}",
        alerts[0]
    );
    let summary = &bot.printed_containing(Kind::Summary, "")[0];
    assert!(summary.contains("1 failed to upload"), "{summary}");
    assert!(
        summary.contains("Failed uploads (retry with `retry uploads #1`)"),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_retry_recovers_an_upload_that_fails_twice_and_reports_each_attempt() {
    let bot = TestBot::start(vec![redis_arm64_upload(Failures::Times(2))]).await;
    bot.say("alice", "rebuild 20.04 arm64 redis --auto-retry-uploads")
        .await;
    bot.run_until("job 1 ends", finished(1)).await;
    let alerts: Vec<String> = bot
        .printed()
        .into_iter()
        .filter(|p| p.kind == Kind::Alert)
        .map(|p| p.text)
        .collect();
    assert_eq!(alerts.len(), 4, "{alerts:#?}");
    assert!(alerts[0].starts_with("Upload failed"));
    assert!(alerts[1].contains("attempt 1 of 3"), "{}", alerts[1]);
    assert!(alerts[2].contains("attempt 2 of 3"), "{}", alerts[2]);
    assert!(alerts[3].contains("worked on retry 2"), "{}", alerts[3]);
    assert_eq!(bot.job(1).tally().succeeded, 1);
    assert_eq!(bot.sim.requests("POST scheduleRegistryUpload"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_failing_beyond_the_budget_ends_the_job_with_that_failure() {
    let bot = TestBot::start(vec![redis_arm64_upload(Failures::Always)]).await;
    bot.say("alice", "rebuild 20.04 arm64 redis --auto-retry-uploads")
        .await;
    bot.run_until("job 1 ends", finished(1)).await;
    assert_eq!(bot.sim.requests("POST scheduleRegistryUpload"), 3);
    let gave_up = bot.printed_containing(Kind::Alert, "Giving up");
    assert_eq!(gave_up.len(), 1);
    assert!(gave_up[0].contains("after 3 retries"), "{}", gave_up[0]);
    assert_eq!(bot.job(1).tally().upload_failed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_uploads_by_hand_reopens_the_job_and_it_succeeds() {
    let bot = TestBot::start(vec![redis_arm64_upload(Failures::Times(1))]).await;
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    bot.run_until("job 1 ends", finished(1)).await;
    assert_eq!(bot.job(1).tally().upload_failed, 1);
    let answer = bot.say("bob", "retry uploads #1").await;
    assert_eq!(answer, "Retrying 1 failed upload of job #1.");
    bot.run_until("job 1 ends again", |bot| {
        finished(1)(bot) && bot.job(1).tally().succeeded == 1
    })
    .await;
    let summaries = bot.printed_containing(Kind::Summary, "Job #1 finished.");
    assert_eq!(summaries.len(), 2, "one summary per ending: {summaries:#?}");
    assert_eq!(
        bot.say("bob", "retry uploads #1").await,
        "Job #1 has no failed uploads."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_builds_and_marks_the_job_cancelled() {
    let bot = TestBot::start(vec![]).await;
    bot.say("alice", "rebuild 22.04 redis").await;
    bot.run_until("builds are queued", |bot| {
        bot.job(1).targets[0].builds.len() == 4
    })
    .await;
    let answer = bot.say("alice", "cancel #1").await;
    assert!(
        answer.starts_with("Cancelling job #1: 4 builds"),
        "{answer}"
    );
    bot.run_until("job 1 ends", finished(1)).await;
    assert_eq!(bot.job(1).status, JobStatus::Cancelled);
    let cancelled = bot.sim.with_world(|world| {
        world
            .builds
            .values()
            .filter(|b| b.state == BuildState::CancelledBuild)
            .count()
    });
    assert_eq!(cancelled, 4);
    assert!(
        bot.printed_containing(Kind::Summary, "Job #1 was cancelled.")
            .len()
            == 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_user_changes_nothing() {
    let bot = TestBot::start(vec![]).await;
    let answer = bot.say("carol", "rebuild 20.04 arm64 redis").await;
    assert!(
        answer.starts_with("You may not `rebuild`: it needs the `build` permission"),
        "{answer}"
    );
    assert!(bot.wired.engine.store().jobs().unwrap().is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(
        bot.sim.request_counts().is_empty(),
        "{:?}",
        bot.sim.request_counts()
    );
    let mass = bot.say("bob", "rebuild all").await;
    assert!(mass.contains("`mass-rebuild` permission"), "{mass}");
}

/// `cancel`, `retry uploads` and `retry builds` change builds on Launchpad: a reader (carol)
/// is refused them, on a running job and on an ended one, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_readers_cancel_and_retries_are_refused_and_change_nothing() {
    let bot = TestBot::start(vec![
        redis_arm64_upload(Failures::Always),
        Outcome {
            image: Some("redis".parse().unwrap()),
            arch: Some("amd64".parse().unwrap()),
            build_failures: Failures::Always,
            ..Outcome::default()
        },
    ])
    .await;
    bot.say("alice", "rebuild 20.04 arm64 amd64 redis").await;
    let refused = |answer: &str, command: &str| {
        assert!(
            answer.starts_with(&format!(
                "You may not `{command}`: it needs the `build` permission"
            )),
            "{answer}"
        );
    };
    refused(&bot.say("carol", "cancel #1").await, "cancel");
    let running = bot.job(1);
    assert_eq!(running.status, JobStatus::Running);
    assert!(!running.cancel_requested);
    bot.run_until("job 1 ends", finished(1)).await;
    let ended = bot.job(1);
    assert_eq!(
        (ended.tally().upload_failed, ended.tally().build_failed),
        (1, 1)
    );
    let counts = bot.sim.request_counts();
    refused(&bot.say("carol", "cancel #1").await, "cancel");
    refused(&bot.say("carol", "retry uploads #1").await, "retry");
    refused(&bot.say("carol", "retry builds #1").await, "retry");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        bot.sim.request_counts(),
        counts,
        "nothing sent to Launchpad"
    );
    assert_eq!(bot.job(1), ended, "the job is as it was");
    assert_eq!(bot.wired.engine.running(), 0, "nothing reopened it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_jobs_answer_from_the_store() {
    let bot = TestBot::start(vec![]).await;
    assert_eq!(
        bot.say("carol", "jobs").await,
        "No jobs yet. Try `rebuild 20.04 arm64 redis`."
    );
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    let status = bot.say("carol", "status #1").await;
    assert!(
        status.starts_with("**Job #1** · `rebuild 20.04 arm64 redis`"),
        "{status}"
    );
    bot.run_until("job 1 ends", finished(1)).await;
    let jobs = bot.say("carol", "jobs").await;
    assert!(
        jobs.starts_with("#1 · finished · `rebuild 20.04 arm64 redis` · alice · 1/1 done"),
        "{jobs}"
    );
    assert_eq!(
        bot.say("carol", "jobs mine").await,
        "No jobs yet. Try `rebuild 20.04 arm64 redis`."
    );
    assert_eq!(
        bot.say("carol", "status #9").await,
        "There is no job #9. Say `jobs` to list them."
    );
    assert_eq!(
        bot.say("carol", "status").await,
        "Nothing is running. Say `jobs` for the recent jobs."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_identical_rebuild_is_reported_as_already_pending() {
    let bot = TestBot::start(vec![]).await;
    bot.say("alice", "rebuild 20.04 redis").await;
    bot.run_until("builds are queued", |bot| {
        bot.job(1).targets[0].builds.len() == 4
    })
    .await;
    bot.say("alice", "rebuild 20.04 redis").await;
    bot.run_until("job 2 ends", finished(2)).await;
    let notices = bot.printed_containing(Kind::Alert, "already queued");
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0].starts_with("redis 5.0 on 20.04 (job #2)"),
        "{}",
        notices[0]
    );
    assert_eq!(bot.job(2).tally().already_pending, 1);
    let _ = UploadStatus::Uploaded;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_never_ends_is_given_up_with_a_clear_message() {
    let mut settings = support::bot::quick_engine();
    settings.give_up_after = std::time::Duration::from_millis(300);
    let bot = TestBot::start_with(vec![], settings).await;
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    // The simulator's clock is never stepped: the build stays queued.
    let started = std::time::Instant::now();
    while !finished(1)(&bot) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "never gave up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(bot.job(1).status, JobStatus::GaveUp);
    let summary = &bot.printed_containing(Kind::Summary, "")[0];
    assert!(
        summary.starts_with("Job #1 gave up: 1 build was still unfinished at the deadline."),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_builds_by_hand_rebuilds_what_failed() {
    let bot = TestBot::start(vec![Outcome {
        image: Some("redis".parse().unwrap()),
        arch: Some("arm64".parse().unwrap()),
        build_failures: Failures::Times(1),
        ..Outcome::default()
    }])
    .await;
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    bot.run_until("job 1 ends", finished(1)).await;
    assert_eq!(bot.job(1).tally().build_failed, 1);
    let summary = &bot.printed_containing(Kind::Summary, "")[0];
    assert!(
        summary.contains("Failed builds (retry with `retry builds #1`)"),
        "{summary}"
    );
    assert_eq!(
        bot.say("alice", "retry builds #1").await,
        "Retrying 1 failed build of job #1."
    );
    bot.run_until("job 1 ends again", |bot| {
        finished(1)(bot) && bot.job(1).tally().succeeded == 1
    })
    .await;
    assert_eq!(bot.sim.requests("POST retry"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_and_summaries_also_go_to_the_alerts_channel() {
    let mut settings = support::bot::quick_engine();
    settings.alerts_channel = Some("alerts".into());
    let bot = TestBot::start_with(vec![redis_arm64_upload(Failures::Always)], settings).await;
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    bot.run_until("job 1 ends", finished(1)).await;
    let in_channel = |channel: &str, kind: Kind| {
        bot.printed()
            .into_iter()
            .filter(|p| p.channel == channel && p.kind == kind)
            .count()
    };
    assert_eq!(in_channel("team", Kind::Alert), 1);
    assert_eq!(in_channel("alerts", Kind::Alert), 1);
    assert_eq!(in_channel("team", Kind::Summary), 1);
    assert_eq!(in_channel("alerts", Kind::Summary), 1);
    assert_eq!(
        in_channel("alerts", Kind::Board),
        0,
        "the board stays where it was asked for"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_board_moves_to_a_new_message_and_points_there() {
    let mut settings = support::bot::quick_engine();
    settings.board_max_age = Some(std::time::Duration::from_millis(150));
    let bot = TestBot::start_with(vec![], settings).await;
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    // Let the first board message get old before anything changes.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    bot.run_until("job 1 ends", finished(1)).await;
    let boards: Vec<_> = bot
        .printed()
        .into_iter()
        .filter(|p| p.kind == Kind::Board)
        .collect();
    let first = &boards[0].id;
    let moved = boards
        .iter()
        .find(|p| p.text.contains("moved to a newer message"))
        .expect("a pointer");
    assert_eq!(&moved.id, first, "the pointer is left in the old message");
    assert!(
        boards.iter().any(|p| &p.id != first && !p.edit),
        "the board went on in a new message"
    );
    assert!(boards.last().unwrap().text.contains("finished"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_drops_a_large_plan_and_only_its_asker_may() {
    let bot = TestBot::start(vec![]).await;
    bot.say("alice", "rebuild all").await;
    let plan = bot
        .printed()
        .into_iter()
        .find(|p| !p.buttons.is_empty())
        .expect("the plan's buttons");
    let abort = plan.buttons[1].clone();
    assert_eq!(abort.label(), "Abort");
    let click = |user: &str| image_builder::chat::Incoming {
        user: support::bot::user(user),
        channel: "team".into(),
        text: String::new(),
    };
    // Carol may not build: she may not abort either, by click or typed.
    let denied = bot.wired.bot.click(&click("carol"), &abort).await;
    assert!(
        denied.private && denied.text.starts_with("You may not `abort`"),
        "{}",
        denied.text
    );
    assert_eq!(bot.say("carol", &abort.command()).await, denied.text);
    let refused = bot.wired.bot.click(&click("bob"), &abort).await;
    assert!(
        refused.private && refused.text.contains("someone else's"),
        "{}",
        refused.text
    );
    let aborted = bot.wired.bot.click(&click("alice"), &abort).await;
    assert!(
        aborted.text.starts_with("Aborted: the plan under"),
        "{}",
        aborted.text
    );
    let confirm = bot.wired.bot.click(&click("alice"), &plan.buttons[0]).await;
    assert!(confirm.text.contains("No plan waits"), "{}", confirm.text);
    assert!(
        bot.wired.engine.store().jobs().unwrap().is_empty(),
        "nothing was started"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirteen_builds_split_over_two_commands_ask_for_confirmation() {
    let bot = TestBot::start(vec![]).await;
    // Twelve builds: three images on 20.04, every architecture.
    let first = bot.say("alice", "rebuild 20.04 redis postgres mysql").await;
    assert!(first.starts_with("Job #1 accepted"), "{first}");
    let second = bot.say("alice", "rebuild 22.04 arm64 redis").await;
    assert!(
        second.starts_with("To start this rebuild, say `confirm "),
        "one more build makes thirteen: {second}"
    );
    assert!(
        second.contains("With the 12 builds you have running, it makes 13 builds."),
        "{second}"
    );
    assert_eq!(bot.wired.engine.store().jobs().unwrap().len(), 1);
    // Someone else's builds are theirs: bob's one build goes ahead.
    let bob = bot.say("bob", "rebuild 22.04 arm64 postgres").await;
    assert!(bob.starts_with("Job #2 accepted"), "{bob}");
    // Once alice's builds have ended, the same command goes ahead too.
    bot.run_until("job 1 ends", finished(1)).await;
    let again = bot.say("alice", "rebuild 22.04 arm64 redis").await;
    assert!(again.starts_with("Job #3 accepted"), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_hourly_limit_a_rebuild_is_refused_saying_when_it_fits() {
    let mut config = support::bot::team_config();
    config.confirmation.builds_per_user_per_hour = 16;
    let bot = TestBot::start_config(config).await;
    let first = bot.say("alice", "rebuild 20.04 redis postgres mysql").await;
    assert!(first.starts_with("Job #1 accepted"), "{first}");
    bot.run_until("job 1 ends", finished(1)).await;
    let second = bot.say("alice", "rebuild 22.04 redis").await;
    assert!(
        second.starts_with("Job #2 accepted"),
        "sixteen fit: {second}"
    );
    let third = bot.say("alice", "rebuild 22.04 arm64 postgres").await;
    // It fits once job 1's twelve builds are an hour old.
    let fits = (bot.job(1).created_at + chrono::Duration::hours(1)).format("%H:%M");
    assert!(
        third.starts_with(
            "You have started 16 builds in the last hour, and the limit is 16 an hour"
        ) && third.contains(&format!("This rebuild fits from {fits} UTC")),
        "{third}"
    );
    assert_eq!(
        bot.wired.engine.store().jobs().unwrap().len(),
        2,
        "nothing stored"
    );
    // Another user has an hour of their own.
    let bob = bot.say("bob", "rebuild 22.04 arm64 postgres").await;
    assert!(bob.starts_with("Job #3 accepted"), "{bob}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_is_shown_the_ended_job_and_then_let_go() {
    let bot = TestBot::start(vec![]).await;
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    let mut changes = bot.wired.engine.follow(JobId(1)).unwrap();
    bot.run_until("job 1 ends", finished(1)).await;
    // The ended job is published, then the driver lets go of its followers: `changed` ends
    // instead of waiting for news that will not come.
    loop {
        let wait = std::time::Duration::from_secs(30);
        match tokio::time::timeout(wait, changes.changed()).await {
            Ok(Ok(())) => continue,
            Ok(Err(_)) => break,
            Err(_) => panic!("the follower was never let go"),
        }
    }
    assert!(changes.borrow().is_finished());
    assert_eq!(changes.borrow().tally().succeeded, 1);
}
