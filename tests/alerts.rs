//! Every failed upload is told exactly once, in the team's real setup (issue 9): several
//! registries, builds Launchpad cannot show, deliveries spelt several ways, many failures at
//! once, mutes across a restart, failures first seen late. Over real HTTP against the
//! simulator, whose rules are Launchpad's (`reference/launchpad-truths.md`).

mod support;

use std::time::{Duration, Instant};

use image_builder::chat::console::Printed;
use image_builder::chat::{Button, Kind};
use image_builder::launchpad::models::{BuildState, UploadStatus};
use image_builder::launchpad::sim::scenario::{Failures, Outcome, Scenario, UploadError};
use image_builder::launchpad::sim::Simulator;
use image_builder::store::Store;
use image_builder::target::JobId;
use support::bot::{quick_engine, TempDir, TestBot};
use support::hooks::{alerting_bot_with, alerts, click, post, SECRET};

fn scenario(outcomes: Vec<Outcome>) -> Scenario {
    Scenario {
        outcomes,
        registries: support::two_registries(),
        ..Scenario::default()
    }
}

/// Every upload fails on both registries: refused by them (`unreadable`: each push left the
/// registry's errors, so Launchpad cannot show the build), or unreachable (no registry errors,
/// so it can).
fn always_failing(unreadable: bool) -> Outcome {
    Outcome {
        upload_failures: Failures::Always,
        upload_error: if unreadable {
            UploadError::Denied
        } else {
            UploadError::Unreachable
        },
        ..Outcome::default()
    }
}

/// Job 1 ended and its summary (said after everything else) is out.
fn said_and_ended(bot: &TestBot) -> bool {
    bot.job(1).is_finished() && !bot.printed_containing(Kind::Summary, "Job #1").is_empty()
}

fn job_alerts(bot: &TestBot, needle: &str) -> Vec<String> {
    bot.printed_containing(Kind::Alert, needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_push_rules_both_failing_are_one_alert_naming_both_registries() {
    let bot =
        TestBot::start_scenario(scenario(vec![always_failing(false)]), quick_engine(), 2000).await;
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    bot.run_until("job 1 ends and says so", said_and_ended)
        .await;
    let told = job_alerts(&bot, "Upload failed");
    assert_eq!(told.len(), 1, "{told:#?}");
    assert!(
        told[0].starts_with(
            "Upload failed: redis 5.0 on 20.04 arm64 (job #1): HTTPSConnectionPool(host='registry-1.docker.io'"
        ),
        "{}",
        told[0]
    );
    assert!(
        told[0].contains(" / HTTPSConnectionPool(host='public.ecr.aws'"),
        "{}",
        told[0]
    );
    assert_eq!(bot.job(1).tally().upload_failed, 1);
}

/// `launchpad-truths.md`, "Registry uploads": a build whose pushes two registries refused
/// cannot be read (500, entry and collections) until its upload is scheduled again. Without
/// deliveries, a job takes it for a failed upload after three reads: told once, with its link
/// and the command that retries it, counted as a failed upload; and the alert's Retry button
/// (a named POST on the entry, which works) recovers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_launchpad_cannot_show_is_a_failed_upload_told_once_and_its_button_retries_it() {
    let once = Outcome {
        upload_failures: Failures::Times(1),
        ..Outcome::default()
    };
    let bot = TestBot::start_scenario(scenario(vec![once]), quick_engine(), 2000).await;
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    bot.run_until("job 1 ends and says so", said_and_ended)
        .await;
    let told: Vec<Printed> = bot
        .printed()
        .into_iter()
        .filter(|p| p.kind == Kind::Alert && p.text.starts_with("Upload failed"))
        .collect();
    assert_eq!(told.len(), 1, "{told:#?}");
    let alert = &told[0];
    assert!(
        alert.text.starts_with("Upload failed: redis 5.0 on 20.04 arm64 (job #1): most likely it failed on several registries: Launchpad cannot show this build (OOPS-sim"),
        "{}",
        alert.text
    );
    assert!(alert.text.contains("/+build/"), "its link: {}", alert.text);
    assert!(
        alert.text.ends_with("Retry with `retry uploads #1`."),
        "{}",
        alert.text
    );
    let job = bot.job(1);
    assert_eq!(job.tally().upload_failed, 1, "{:?}", job.tally());
    let summary = bot.printed_containing(Kind::Summary, "Job #1 finished.");
    assert_eq!(summary.len(), 1);
    assert!(summary[0].contains("1 failed to upload"), "{}", summary[0]);
    assert!(
        summary[0].contains("Failed uploads (retry with `retry uploads #1`):\n• redis 5.0 on 20.04 arm64: most likely it failed on several registries"),
        "{}",
        summary[0]
    );
    let [button @ Button::RetryUploads(JobId(1))] = &alert.buttons[..] else {
        panic!("a Retry button: {:?}", alert.buttons);
    };
    bot.wired.bot.click(&click("alice"), button).await;
    bot.run_until("job 1 ends again", |bot| {
        bot.job(1).is_finished() && bot.printed_containing(Kind::Summary, "Job #1").len() == 2
    })
    .await;
    assert_eq!(bot.sim.requests("POST scheduleRegistryUpload"), 1);
    assert_eq!(bot.job(1).tally().succeeded, 1, "{:?}", bot.job(1).tally());
    assert_eq!(job_alerts(&bot, "Upload failed").len(), 1);
}

/// The same build, asked for with `--auto-retry-uploads`: the upload is scheduled again (a
/// named POST works where reads do not) and the job succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_launchpad_cannot_show_is_auto_retried_and_read_again_after_the_retry() {
    let once = Outcome {
        upload_failures: Failures::Times(1),
        ..Outcome::default()
    };
    let bot = TestBot::start_scenario(scenario(vec![once]), quick_engine(), 2000).await;
    bot.say("alice", "rebuild 20.04 arm64 redis --auto-retry-uploads")
        .await;
    bot.run_until("job 1 ends and says so", said_and_ended)
        .await;
    assert_eq!(bot.sim.requests("POST scheduleRegistryUpload"), 1);
    let job = bot.job(1);
    assert_eq!(job.tally().succeeded, 1, "{:?}", job.tally());
    assert!(
        !bot.printed_containing(Kind::Alert, "worked on retry 1")
            .is_empty(),
        "{:#?}",
        bot.printed()
    );
}

/// A build nobody asked the bot for, whose pushes two registries refused: Launchpad cannot
/// show it, and its deliveries (which carry `status` and `registry_upload_status`, no errors)
/// say its upload failed. Told once in the alerts channel as such, however often Launchpad
/// delivers it again, with a Retry button that works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_build_launchpad_cannot_show_is_told_once_in_the_alerts_channel() {
    let once = Outcome {
        upload_failures: Failures::Times(1),
        ..Outcome::default()
    };
    let (bot, url) = alerting_bot_with(scenario(vec![once]), 2000, true).await;
    bot.sim
        .with_world_mut(|world| world.foreign_build("redis", "22.04", "amd64"))
        .unwrap();
    bot.run_until("the alert", |bot| !alerts(bot).is_empty())
        .await;
    // Launchpad delivers again, byte for byte, with each delivery's number: nothing new.
    for delivery in bot.sim.deliveries() {
        let status = support::hooks::post_delivery(&url, &delivery).await;
        assert_eq!(status, 200);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let told = alerts(&bot);
    assert_eq!(told.len(), 1, "{told:#?}");
    assert!(told[0].starts_with("Upload failed: build 7"), "{}", told[0]);
    assert!(
        told[0].contains("redis-6.2-22.04 (not started by me): it failed on several registries, and Launchpad cannot show the registries' errors (OOPS-sim"),
        "{}",
        told[0]
    );
    let answer = support::hooks::click_first_alert(&bot, "alice").await;
    assert_eq!(
        answer.text,
        "Retrying 1 upload; I will say here how it ends."
    );
    bot.run_until("the retry's outcome", |bot| {
        alerts(bot)
            .iter()
            .any(|text| text.contains("worked: uploaded"))
    })
    .await;
    assert_eq!(bot.sim.requests("POST scheduleRegistryUpload"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_failure_delivered_under_several_spellings_is_one_alert() {
    let (bot, url) = alerting_bot_with(scenario(vec![always_failing(false)]), 2000, false).await;
    let id = bot
        .sim
        .with_world_mut(|world| world.foreign_build("redis", "22.04", "amd64"))
        .unwrap();
    support::advance_until(&bot.sim, "the upload failed", |world| {
        world.builds[&id].upload == UploadStatus::FailedToUpload
    });
    let path = bot.sim.with_world(|world| {
        let build = &world.builds[&id];
        format!("/{}/+build/{}", build.recipe, build.id)
    });
    let spellings = [
        path.clone(),
        format!("{path}?x=1"),
        format!("{path}/"),
        format!("{path}#frag"),
        path.replacen('~', "%7E", 1),
    ];
    let posts = spellings.iter().map(|spelt| {
        let body = format!(
            "{{\"recipe_build\": \"{spelt}\", \"action\": \"status-changed\", \"registry_upload_status\": \"Failed to upload\"}}"
        );
        let signature = image_builder::launchpad::sim::deliver::signature(SECRET, body.as_bytes());
        let url = url.clone();
        async move { post(&url, &body, Some(&signature), "oci-recipe:build:0.1").await }
    });
    for status in futures_util::future::join_all(posts).await {
        assert_eq!(status, 200);
    }
    bot.run_until("the alert", |bot| !alerts(bot).is_empty())
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(alerts(&bot).len(), 1, "{:#?}", alerts(&bot));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobs_retried_upload_that_fails_again_is_told_again_saying_so() {
    let failing = Outcome {
        upload_failures: Failures::Times(2),
        ..Outcome::default()
    };
    let bot = TestBot::start_scenario(scenario(vec![failing]), quick_engine(), 2000).await;
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    bot.run_until("job 1 ends and says so", said_and_ended)
        .await;
    bot.say("alice", "retry uploads #1").await;
    bot.run_until("job 1 ends again", |bot| {
        bot.job(1).is_finished() && bot.printed_containing(Kind::Summary, "Job #1").len() == 2
    })
    .await;
    let told = job_alerts(&bot, "Upload failed");
    assert_eq!(told.len(), 2, "{told:#?}");
    assert!(told[0].starts_with("Upload failed: redis"), "{}", told[0]);
    assert!(
        told[1].starts_with("Upload failed again: redis"),
        "{}",
        told[1]
    );
}

/// The text each message in the alerts channel ended with, by message, in order sent.
fn alert_messages(bot: &TestBot) -> Vec<(Printed, String)> {
    let printed: Vec<Printed> = bot
        .printed()
        .into_iter()
        .filter(|p| p.kind == Kind::Alert && p.channel == "alerts")
        .collect();
    printed
        .iter()
        .filter(|p| !p.edit)
        .map(|sent| {
            let last = printed.iter().rev().find(|p| p.id == sent.id).unwrap();
            (sent.clone(), last.text.clone())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nine_failures_in_the_window_are_all_named_and_one_button_retries_them_all() {
    // Unreachable registries leave no registry errors: Launchpad can show these builds.
    let once = Outcome {
        upload_failures: Failures::Times(1),
        upload_error: UploadError::Unreachable,
        ..Outcome::default()
    };
    let (bot, _url) = alerting_bot_with(scenario(vec![once]), 2000, true).await;
    let images = [
        "apache2",
        "bind9",
        "memcached",
        "nginx",
        "squid",
        "redis",
        "postgres",
        "mysql",
    ];
    bot.sim.with_world_mut(|world| {
        for image in images {
            world.foreign_build(image, "22.04", "arm64").unwrap();
        }
        world.foreign_build("redis", "20.04", "arm64").unwrap();
    });
    bot.run_until("nine failures told", |bot| {
        alert_messages(bot)
            .iter()
            .any(|(_, text)| text.starts_with("9 uploads failed"))
    })
    .await;
    let messages = alert_messages(&bot);
    assert!(
        messages.len() >= 2,
        "nine lines outgrow one 2000-character message: {messages:#?}"
    );
    assert!(messages
        .iter()
        .all(|(_, text)| text.chars().count() <= 2000));
    let all: String = messages.iter().map(|(_, text)| text.as_str()).collect();
    for image in images {
        assert!(
            all.contains(&format!("+oci/{image}/+recipe/{image}-")),
            "{image} missing: {all}"
        );
    }
    assert_eq!(all.matches("• arm64 build of").count(), 9, "{all}");
    let (first, _) = &messages[0];
    let [Button::RetryGroup(_)] = first.buttons[..] else {
        panic!("the group's button: {:?}", first.buttons);
    };
    let answer = bot
        .wired
        .bot
        .click(&click("alice"), &first.buttons[0])
        .await;
    assert_eq!(
        answer.text, "Retrying 9 uploads; I will say here how each ends.",
        "{all}"
    );
    assert_eq!(bot.sim.requests("POST scheduleRegistryUpload"), 9);
    bot.run_until("each retry's outcome", |bot| {
        alerts(bot)
            .iter()
            .filter(|text| text.contains("worked: uploaded"))
            .count()
            == 9
    })
    .await;
}

/// A bot in its own runtime on `dir`, against `sim`; dropping the runtime is a crash.
fn crash_point<T>(
    sim: &Simulator,
    dir: &TempDir,
    first_id: u64,
    body: impl AsyncFnOnce(&support::bot::Wired) -> T,
) -> (T, Vec<Printed>) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let result = runtime.block_on(async {
        let mut settings = quick_engine();
        settings.alerts_channel = Some("alerts".into());
        let wired = support::bot::wire_with(sim, &dir.0, first_id, settings);
        wired.engine.resume().await.unwrap();
        let result = body(&wired).await;
        (result, wired.console.transcript())
    });
    drop(runtime);
    result
}

async fn step_until(sim: &Simulator, what: &str, done: impl Fn() -> bool) {
    support::bot::run_until(sim, what, done).await
}

#[test]
fn a_mute_outlives_a_crash_ends_on_time_and_still_lists_what_it_hid() {
    let sim_runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = sim_runtime.block_on(support::simulator_with(|settings| {
        settings.scenario = scenario(vec![always_failing(false)]);
    }));
    let dir = TempDir::new("mute");
    let mute = Duration::from_secs(4);
    let (muted_at, before) = crash_point(&sim, &dir, 1, async |wired| {
        let muted_at = Instant::now();
        wired.engine.mute(None, mute, "team").unwrap();
        wired.say("alice", "rebuild 20.04 arm64 redis").await;
        let alerts = wired.engine.alerts().clone();
        step_until(&sim, "the failure is muted", || {
            !alerts.muted_failures().unwrap().is_empty()
        })
        .await;
        muted_at
    });
    // A new process on the same store.
    let ((status, ended), after) = crash_point(&sim, &dir, 1000, async |wired| {
        let status = wired.say("carol", "status").await;
        let started = Instant::now();
        while !wired
            .console
            .transcript()
            .iter()
            .any(|p| p.text.starts_with("The mute ended"))
        {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "the end was never said"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (status, Instant::now())
    });
    assert!(
        status.contains(
            "Muted failed uploads:\n• redis 5.0 on 20.04 arm64 (job #1): HTTPSConnectionPool"
        ),
        "{status}"
    );
    let waited = ended - muted_at;
    assert!(
        waited >= mute && waited < mute + Duration::from_secs(3),
        "it ended when it was due, not at the restart: {waited:?}"
    );
    let told: Vec<&Printed> = before
        .iter()
        .chain(&after)
        .filter(|p| p.kind == Kind::Alert && p.text.starts_with("Upload failed"))
        .collect();
    assert!(told.is_empty(), "nothing was alerted: {told:#?}");
    let ended: Vec<&Printed> = after
        .iter()
        .filter(|p| p.text.starts_with("The mute ended"))
        .collect();
    assert_eq!(ended.len(), 1);
    assert!(
        ended[0].text.contains("1 failed upload was kept quiet"),
        "{}",
        ended[0].text
    );
    let store = Store::open(&dir.0).unwrap();
    assert!(store.mutes().unwrap().is_empty());
    assert_eq!(
        store.muted().unwrap().len(),
        1,
        "still listed until `unmute`"
    );
}

#[test]
fn a_build_first_seen_already_failed_is_told_once_and_auto_retried() {
    let sim_runtime = tokio::runtime::Runtime::new().unwrap();
    // One registry refuses it: Launchpad can show the build (and list its request's builds).
    let once = Outcome {
        upload_failures: Failures::Times(1),
        failing_registries: Some(vec!["https://public.ecr.aws".into()]),
        ..Outcome::default()
    };
    let sim = sim_runtime.block_on(support::simulator_with(|settings| {
        settings.scenario = scenario(vec![once]);
    }));
    let dir = TempDir::new("late");
    // The job requests its builds, and the process dies before it lists them.
    crash_point(&sim, &dir, 1, async |wired| {
        wired
            .say("alice", "rebuild 20.04 arm64 redis --auto-retry-uploads")
            .await;
        let store = wired.engine.store().clone();
        step_until(&sim, "the request is out", || {
            sim.requests("POST requestBuilds") == 1
        })
        .await;
        let started = Instant::now();
        while !matches!(
            store.job(JobId(1)).unwrap().unwrap().targets[0].phase,
            image_builder::jobs::model::Phase::Requested { .. }
        ) {
            assert!(started.elapsed() < Duration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    });
    // Meanwhile on Launchpad: the request's builds are made, the wanted one built, its upload failed.
    support::advance_until(&sim, "arm64's upload failed", |world| {
        world.builds.values().any(|build| {
            build.arch.as_str() == "arm64" && build.upload == UploadStatus::FailedToUpload
        })
    });
    let ((), printed) = crash_point(&sim, &dir, 1000, async |wired| {
        let store = wired.engine.store().clone();
        step_until(&sim, "job 1 ends", || {
            store.job(JobId(1)).unwrap().unwrap().is_finished()
        })
        .await;
        wired.engine.wait_idle().await;
    });
    let told: Vec<&Printed> = printed
        .iter()
        .filter(|p| p.channel == "team" && p.text.starts_with("Upload failed"))
        .collect();
    assert_eq!(told.len(), 1, "told once: {printed:#?}");
    assert!(
        printed.iter().any(|p| p.text.contains("worked on retry 1")),
        "auto-retried: {printed:#?}"
    );
    let job = Store::open(&dir.0).unwrap().job(JobId(1)).unwrap().unwrap();
    assert_eq!(job.tally().succeeded, 1, "{:?}", job.tally());
    let arm64 = sim.with_world(|world| {
        world
            .builds
            .values()
            .find(|build| build.arch.as_str() == "arm64")
            .map(|build| (build.state.clone(), build.upload.clone()))
    });
    assert_eq!(
        arm64,
        Some((BuildState::SuccessfullyBuilt, UploadStatus::Uploaded))
    );
}

#[test]
fn a_retry_of_an_untracked_upload_is_still_followed_after_a_restart() {
    let sim_runtime = tokio::runtime::Runtime::new().unwrap();
    let once = Outcome {
        upload_failures: Failures::Times(1),
        ..Outcome::default()
    };
    let sim = sim_runtime.block_on(support::simulator_with(|settings| {
        settings.scenario = scenario(vec![once]);
    }));
    let dir = TempDir::new("follow");
    let (link, before) = crash_point(&sim, &dir, 1, async |wired| {
        let url = support::hooks::listen(&sim, wired.engine.clone()).await;
        support::hooks::install(&sim, &url).await;
        let id = sim
            .with_world_mut(|world| world.foreign_build("squid", "22.04", "amd64"))
            .unwrap();
        let console = wired.console.clone();
        step_until(&sim, "the alert", || {
            console.transcript().iter().any(|p| p.channel == "alerts")
        })
        .await;
        let alert = console
            .transcript()
            .into_iter()
            .find(|p| p.channel == "alerts")
            .unwrap();
        let answer = wired.bot.click(&click("alice"), &alert.buttons[0]).await;
        assert_eq!(
            answer.text,
            "Retrying 1 upload; I will say here how it ends."
        );
        // The process dies before the retried upload ends.
        sim.with_world(|world| {
            let build = &world.builds[&id];
            format!("{}{}/+build/{}", sim.api_root(), build.recipe, build.id)
        })
    });
    let record = Store::open(&dir.0)
        .unwrap()
        .upload_record(&link)
        .unwrap()
        .unwrap();
    assert_eq!(
        record.retrying_in.as_deref(),
        Some("alerts"),
        "stored: {record:?}"
    );
    assert!(before.iter().all(|p| !p.text.contains("worked")));
    // The next process follows it (its listener is new: Launchpad's deliveries go to the old
    // address, so only looking finds the outcome).
    let ((), after) = crash_point(&sim, &dir, 1000, async |wired| {
        let console = wired.console.clone();
        step_until(&sim, "the outcome", || {
            console
                .transcript()
                .iter()
                .any(|p| p.text.contains("worked: uploaded"))
        })
        .await;
    });
    let outcomes = after
        .iter()
        .filter(|p| p.channel == "alerts" && p.text.contains("worked: uploaded"))
        .count();
    assert_eq!(outcomes, 1, "{after:#?}");
}

/// One registry refuses every upload: Launchpad can show the build (its errors are one rule's).
fn one_registry_failing(failures: Failures) -> Outcome {
    Outcome {
        upload_failures: failures,
        failing_registries: Some(vec!["https://public.ecr.aws".into()]),
        ..Outcome::default()
    }
}

/// A crash after a job's alert was said and before the notice left its outbox on disk: the
/// restart says the outbox again, and only the alert ledger (the failure's key, marked said)
/// keeps the alert from being said twice (`Alerts::claim`).
#[test]
fn an_alert_said_before_a_crash_is_not_said_again_by_the_restart_the_ledger_alone_stops_it() {
    let sim_runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = sim_runtime.block_on(support::simulator_with(|settings| {
        settings.scenario = scenario(vec![one_registry_failing(Failures::Always)]);
    }));
    let dir = TempDir::new("said");
    let ((), before) = crash_point(&sim, &dir, 1, async |wired| {
        wired.say("alice", "rebuild 20.04 arm64 redis").await;
        let store = wired.engine.store().clone();
        step_until(&sim, "job 1 ends", || {
            store.job(JobId(1)).unwrap().unwrap().is_finished()
        })
        .await;
        wired.engine.wait_idle().await;
    });
    let told = |printed: &[Printed]| {
        printed
            .iter()
            .filter(|p| {
                p.channel == "team" && p.kind == Kind::Alert && p.text.starts_with("Upload failed")
            })
            .count()
    };
    assert_eq!(told(&before), 1, "{before:#?}");
    // As the store is after a crash right after the alert went out: the job running, the
    // notice still in its outbox.
    {
        let store = Store::open(&dir.0).unwrap();
        let mut job = store.job(JobId(1)).unwrap().unwrap();
        let (index, build) = job.targets[0]
            .builds
            .iter()
            .enumerate()
            .find(|(_, build)| build.wanted)
            .unwrap();
        job.outbox.push(image_builder::jobs::Notice::UploadFailed {
            target: 0,
            build: index,
            epoch: build.upload_failures,
        });
        job.status = image_builder::jobs::JobStatus::Running;
        job.finished_at = None;
        store.put_job(&job).unwrap();
    }
    let ((), after) = crash_point(&sim, &dir, 1000, async |wired| {
        let store = wired.engine.store().clone();
        step_until(&sim, "job 1 ends again", || {
            store.job(JobId(1)).unwrap().unwrap().is_finished()
        })
        .await;
        wired.engine.wait_idle().await;
    });
    assert_eq!(told(&after), 0, "said once, not again: {after:#?}");
}

/// The read a delivery asks for fails (Launchpad is down, 503): it is made again, with a
/// growing wait, until Launchpad answers, and the failure is then told once. Launchpad never
/// sends a delivery again after the 200 it got.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_failing_in_an_outage_right_after_a_delivery_is_made_again_and_told_once() {
    let (bot, url) = alerting_bot_with(
        scenario(vec![one_registry_failing(Failures::Times(1))]),
        2000,
        true,
    )
    .await;
    let id = bot
        .sim
        .with_world_mut(|world| world.foreign_build("redis", "22.04", "amd64"))
        .unwrap();
    support::advance_until(&bot.sim, "the upload runs", |world| {
        world.builds[&id].pushing
    });
    // Launchpad's API goes down for ten minutes; its webhooks still deliver.
    bot.sim.outage(Duration::from_secs(600));
    support::advance_until(&bot.sim, "the upload failed", |world| {
        world.builds[&id].upload == UploadStatus::FailedToUpload
    });
    let delivered = |bot: &TestBot| {
        bot.sim
            .deliveries()
            .iter()
            .any(|d| d.body.contains("\"Failed to upload\"") && d.status == Some(200))
    };
    support::bot::run_until(&bot.sim, "the failure's delivery is taken", || {
        delivered(&bot)
    })
    .await;
    let store = bot.wired.engine.store().clone();
    assert!(
        !store.unread().unwrap().is_empty(),
        "the read it asks for is stored"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        alerts(&bot).is_empty(),
        "nothing read yet: {:#?}",
        alerts(&bot)
    );
    // The outage ends: the read goes through, and the failure is told once.
    bot.run_until("the alert", |bot| !alerts(bot).is_empty())
        .await;
    for delivery in bot.sim.deliveries() {
        support::hooks::post_delivery(&url, &delivery).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let told = alerts(&bot);
    assert_eq!(told.len(), 1, "{told:#?}");
    assert!(
        told[0].starts_with("Upload failed: amd64 build of"),
        "{}",
        told[0]
    );
    assert!(store.unread().unwrap().is_empty(), "answered: forgotten");
}

/// The same, with the bot stopping (a crash) while Launchpad is down: the next start makes
/// the read the stored delivery asked for, and the failure is told once.
#[test]
fn a_read_failing_in_an_outage_is_made_again_after_a_restart_and_told_once() {
    let sim_runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = sim_runtime.block_on(support::simulator_with(|settings| {
        settings.scenario = scenario(vec![one_registry_failing(Failures::Times(1))]);
    }));
    let dir = TempDir::new("unread");
    let ((), before) = crash_point(&sim, &dir, 1, async |wired| {
        let url = support::hooks::listen(&sim, wired.engine.clone()).await;
        support::hooks::install(&sim, &url).await;
        let id = sim
            .with_world_mut(|world| world.foreign_build("redis", "22.04", "amd64"))
            .unwrap();
        support::advance_until(&sim, "the upload runs", |world| world.builds[&id].pushing);
        sim.outage(Duration::from_secs(600));
        support::advance_until(&sim, "the upload failed", |world| {
            world.builds[&id].upload == UploadStatus::FailedToUpload
        });
        step_until(&sim, "the failure's delivery is taken", || {
            sim.deliveries()
                .iter()
                .any(|d| d.body.contains("\"Failed to upload\"") && d.status == Some(200))
        })
        .await;
        let store = wired.engine.store().clone();
        assert!(
            store
                .unread()
                .unwrap()
                .iter()
                .any(|(_, unread)| unread.upload_status.as_deref() == Some("Failed to upload")),
            "its read is stored"
        );
    });
    assert!(before.iter().all(|p| p.channel != "alerts"), "{before:#?}");
    // Launchpad comes back while nothing listens; nothing will deliver it again.
    sim.advance(Duration::from_secs(900));
    let ((), after) = crash_point(&sim, &dir, 1000, async |wired| {
        let console = wired.console.clone();
        step_until(&sim, "the alert", || {
            console.transcript().iter().any(|p| p.channel == "alerts")
        })
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    let told: Vec<&Printed> = after.iter().filter(|p| p.channel == "alerts").collect();
    assert_eq!(told.len(), 1, "{after:#?}");
    assert!(
        told[0].text.starts_with("Upload failed: amd64 build of"),
        "{}",
        told[0].text
    );
    assert!(Store::open(&dir.0).unwrap().unread().unwrap().is_empty());
}

/// `launchpad-truths.md`, "Webhooks on recipes": deliveries refused for an hour (the webhook
/// signs with a stale secret) are given up by Launchpad, and can be sent again. `webhooks
/// install` sets the secret and sends them again with `reset`; the alert they carry arrives,
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_install_after_an_hour_of_401s_resends_the_failed_deliveries_and_alerts_once() {
    let (bot, url) = alerting_bot_with(
        scenario(vec![one_registry_failing(Failures::Always)]),
        2000,
        false,
    )
    .await;
    let client = support::client(&bot.sim);
    for image in support::config().catalogue.images {
        for track in image.tracks {
            client
                .new_webhook(
                    &client.recipe_url(&track.recipe),
                    &url,
                    &["oci-recipe:build:0.1"],
                    Some(&image_builder::secret::Secret::new("stale")),
                )
                .await
                .unwrap();
        }
    }
    let id = bot
        .sim
        .with_world_mut(|world| world.foreign_build("redis", "22.04", "amd64"))
        .unwrap();
    support::advance_until(&bot.sim, "the upload failed", |world| {
        world.builds[&id].upload == UploadStatus::FailedToUpload
    });
    // An hour and more of 401s: Launchpad gives up on every delivery.
    for _ in 0..16 {
        bot.sim.advance(Duration::from_secs(300));
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let given_up = bot.sim.with_world(|world| {
        world
            .deliveries
            .values()
            .all(|d| !d.pending && d.successful == Some(false))
    });
    assert!(given_up, "Launchpad gave up on them");
    assert!(alerts(&bot).is_empty());

    let dir = TempDir::new("resend");
    let config = dir.0.join("config.toml");
    std::fs::write(
        &config,
        image_builder::config::BUILT_IN
            .replace("https://api.launchpad.net/devel/", &bot.sim.api_root()),
    )
    .unwrap();
    let credentials = dir.0.join("credentials");
    bot.sim.credentials().save(&credentials).unwrap();
    let webhooks = |action: &'static str| {
        let (config, credentials, url) = (config.clone(), credentials.clone(), url.clone());
        tokio::task::spawn_blocking(move || {
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_image-builder"))
                .args(["webhooks", action, "--delivery-url", &url, "--config"])
                .arg(&config)
                .arg("--credentials")
                .arg(&credentials)
                .env("WEBHOOK_SECRET", SECRET)
                .env("NO_COLOR", "1")
                .output()
                .unwrap();
            (
                output.status.code(),
                String::from_utf8_lossy(&output.stdout).to_string(),
            )
        })
    };
    // What `webhooks ACTION` says of redis 22.04's recipe, which it must end 0.
    let said = async |action: &'static str| {
        let (code, out) = webhooks(action).await.unwrap();
        assert_eq!(code, Some(0), "{out}");
        let line = out.lines().find(|line| line.starts_with("redis 22.04:"));
        line.unwrap().to_string()
    };
    let line = said("list").await;
    assert!(
        line.contains("deliveries failed in the last day (the last: Bad HTTP response: 401): 'image-builder webhooks install' sends them again"),
        "{line}"
    );
    let line = said("install").await;
    assert!(
        line.contains("failed deliveries of the last day sent again"),
        "{line}"
    );
    bot.run_until("the alert", |bot| !alerts(bot).is_empty())
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, again) = webhooks("install").await.unwrap();
    assert_eq!(code, Some(0), "{again}");
    assert!(
        !again.contains("sent again"),
        "nothing failed since: {again}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let told = alerts(&bot);
    assert_eq!(told.len(), 1, "{told:#?}");
    assert!(
        told[0].starts_with("Upload failed: amd64 build of"),
        "{}",
        told[0]
    );
}
