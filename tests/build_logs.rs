//! Why a build failed, without opening Launchpad: the summary shows the failed Dockerfile step
//! and the log's error lines under each failed build, with the full log's link; `log #JOB` (the
//! summary's Show log button) shows more, to the one who asked; a log that is huge, corrupt,
//! not gzip or missing gives a clear line, and the job still ends. Against the simulator's
//! librarian over real HTTP.

mod support;

use image_builder::chat::{Button, Incoming, Kind};
use image_builder::jobs::JobStatus;
use image_builder::launchpad::sim::buildlog::LogKind;
use image_builder::launchpad::sim::scenario::{Failures, Outcome};
use support::bot::{summarised, user, TestBot};

fn failing(arch: &str, log: LogKind, times: Failures) -> Outcome {
    Outcome {
        image: Some("redis".parse().unwrap()),
        arch: Some(arch.parse().unwrap()),
        build_failures: times,
        build_log: log,
        ..Outcome::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_builds_summary_shows_the_failed_step_and_the_logs_error_lines() {
    let bot = TestBot::start(vec![failing(
        "arm64",
        LogKind::Realistic,
        Failures::Times(1),
    )])
    .await;
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    bot.run_until("job 1 ends", summarised(1)).await;

    let summary = bot
        .printed()
        .into_iter()
        .find(|p| p.kind == Kind::Summary)
        .unwrap();
    let text = &summary.text;
    let failed_line = text
        .find("• redis 5.0 on 20.04 arm64: Failed to build")
        .expect(text);
    let step = text
        .find("Step 3/6 : RUN apt-get update && apt-get install -y --no-install-recommends redis")
        .expect(text);
    let error = text.find("E: Unable to locate package redis").expect(text);
    let exit = text.find("returned a non-zero code: 100").expect(text);
    assert!(failed_line < step && step < error && error < exit, "{text}");
    assert!(
        text.contains("full log: http://")
            && text.contains("/+files/buildlog_oci_focal_arm64_BUILDING.txt.gz"),
        "{text}"
    );
    // Only what explains the failure, not the whole log.
    assert!(!text.contains("Get:1"), "{text}");
    assert_eq!(
        summary.buttons,
        [Button::ShowLog(image_builder::target::JobId(1))]
    );
    // Stored with the build, before the summary was said.
    let job = bot.job(1);
    let build = job.targets[0].builds.iter().find(|b| b.wanted).unwrap();
    let log = build.log.as_ref().expect("the excerpt is stored");
    assert_eq!(log.errors.len(), 2, "{log:?}");

    // The button's command: the end of the log, to the one who asked only.
    let answer = bot
        .wired
        .bot
        .answer(&Incoming {
            user: user("bob"),
            channel: "team".into(),
            text: Button::ShowLog(image_builder::target::JobId(1)).command(),
        })
        .await;
    assert!(answer.private, "{answer:?}");
    for line in [
        "Failed at `Step 3/6",
        "Reading package lists...",
        "E: Unable to locate package redis",
        "Scanning for processes to kill in build",
        "full log: http://",
    ] {
        assert!(answer.text.contains(line), "{line} in {}", answer.text);
    }

    // A retried build that succeeds forgets the old log.
    bot.say("alice", "retry builds #1").await;
    bot.run_until("job 1 ends again", |bot| {
        bot.job(1).status != JobStatus::Running && bot.job(1).tally().succeeded == 1
    })
    .await;
    let job = bot.job(1);
    assert!(job.targets[0].builds.iter().all(|b| b.log.is_none()));
    assert!(bot
        .say("alice", "log #1")
        .await
        .starts_with("No build of job #1 failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_corrupt_plain_or_missing_log_gets_a_clear_line_and_the_job_still_ends() {
    let bot = TestBot::start(vec![
        failing("amd64", LogKind::Huge, Failures::Always),
        failing("arm64", LogKind::Corrupt, Failures::Always),
        failing("ppc64el", LogKind::NotGzip, Failures::Always),
        failing("s390x", LogKind::Missing, Failures::Always),
    ])
    .await;
    bot.say("alice", "rebuild 20.04 redis").await;
    bot.run_until("job 1 ends", summarised(1)).await;
    let summary = &bot.printed_containing(Kind::Summary, "")[0];
    for (arch, line) in [
        (
            "amd64",
            "the build log is larger than 16 MB, too large to read here; full log: http://",
        ),
        ("arm64", "the build log is corrupt ("),
        (
            "ppc64el",
            "the build log is not gzip, so it could not be read",
        ),
        ("s390x", "the build log is not on Launchpad (HTTP 404)"),
    ] {
        let at = summary
            .find(&format!("redis 5.0 on 20.04 {arch}: Failed to build"))
            .expect(summary);
        let next = summary[at + 1..]
            .find('•')
            .map_or(summary.len(), |n| at + 1 + n);
        assert!(
            summary[at..next].contains(line),
            "{arch}: {line} in {summary}"
        );
    }
    assert_eq!(bot.job(1).tally().build_failed, 4);
}

/// `launchpad-truths.md`, "Registry uploads": the build *state* `Failed to upload` means
/// Launchpad could not take the builder's files in; the build log shows a good build, and the
/// reason is in `upload_log_url`, which the summary quotes instead (and says what it means).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_launchpad_could_not_take_in_is_explained_from_its_upload_log() {
    let bot = TestBot::start(vec![Outcome {
        image: Some("redis".parse().unwrap()),
        arch: Some("arm64".parse().unwrap()),
        processing_failures: Failures::Times(1),
        ..Outcome::default()
    }])
    .await;
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    bot.run_until("job 1 ends", summarised(1)).await;
    let text = bot
        .printed_containing(Kind::Summary, "Job #1 finished.")
        .pop()
        .unwrap();
    assert!(text.contains("1 failed to build"), "{text}");
    assert!(
        text.contains("• redis 5.0 on 20.04 arm64: built, but Launchpad could not take its files in (Failed to upload; its build log shows a good build)"),
        "{text}"
    );
    assert!(
        text.contains("ERROR Build 7") && text.contains("digests.json is missing from the upload"),
        "the upload log's reason: {text}"
    );
    assert!(
        text.contains("upload log: http://") && text.contains("/+files/upload_"),
        "{text}"
    );
    assert!(
        !text.contains("Successfully built"),
        "not the build log: {text}"
    );
}
