//! Retagging after success: a configured hook runs after a job whose every build and upload
//! succeeded, when the rebuild asked for it (`--then retag`) or the hook says `always`; it gets
//! the job through its environment and its configured arguments only; its exit status and
//! the end of its output go into the summary; a failing or timed-out hook is reported and
//! never retried; a hook nobody configured is refused; a job that failed skips it.

mod support;

use std::path::{Path, PathBuf};

use image_builder::chat::Kind;
use image_builder::config::Config;
use image_builder::hooks::HookConfig;
use image_builder::launchpad::sim::scenario::{Failures, Outcome, Scenario};
use support::bot::{summarised, team_config, TempDir, TestBot};

/// A script that records its arguments and environment in `DIR/run.JOB` (one file per run,
/// numbered if it runs twice), prints a line, and exits `HOOK_EXIT` (0 unless set).
const SCRIPT: &str = r#"#!/bin/sh
dir="$1"; shift
n=1; while [ -e "$dir/run.$IB_JOB.$n" ]; do n=$((n+1)); done
{ printf 'args:'; for a in "$@"; do printf ' [%s]' "$a"; done; echo; env; } > "$dir/run.$IB_JOB.$n"
echo "tagging $IB_IMAGES for $IB_SERIES"
if [ -n "$HOOK_SLEEP" ]; then sleep "$HOOK_SLEEP"; fi
echo "retag: registry said no" >&2
exit "${HOOK_EXIT:-0}"
"#;

struct Hook {
    dir: TempDir,
}

impl Hook {
    fn new() -> Hook {
        let dir = TempDir::new("hook");
        std::fs::write(dir.0.join("hook.sh"), SCRIPT).unwrap();
        Hook { dir }
    }

    fn config(
        &self,
        environment: &[(&str, &str)],
        timeout_seconds: u64,
        always: bool,
    ) -> HookConfig {
        HookConfig {
            command: vec![
                "/bin/sh".to_string(),
                self.dir.0.join("hook.sh").display().to_string(),
                self.dir.0.display().to_string(),
                "--push".to_string(),
                "two words; $(touch pwned)".to_string(),
            ],
            working_directory: Some(self.dir.0.clone()),
            timeout_seconds,
            environment: environment
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            always,
        }
    }

    /// The records of the runs for job `job`.
    fn runs(&self, job: u64) -> Vec<String> {
        let mut runs: Vec<PathBuf> = std::fs::read_dir(&self.dir.0)
            .unwrap()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| {
                path.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("run.{job}."))
            })
            .collect();
        runs.sort();
        runs.iter()
            .map(|path| std::fs::read_to_string(path).unwrap())
            .collect()
    }

    fn path(&self) -> &Path {
        &self.dir.0
    }
}

fn config_with(hook: HookConfig) -> Config {
    let mut config = team_config();
    config.hooks.insert("retag".to_string(), hook);
    config
}

fn summary(bot: &TestBot, id: u64) -> String {
    bot.printed_containing(Kind::Summary, &format!("Job #{id} "))
        .pop()
        .unwrap()
}

fn variable<'a>(record: &'a str, name: &str) -> Option<&'a str> {
    record
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}=")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successful_job_with_then_retag_runs_the_command_with_the_jobs_builds() {
    let hook = Hook::new();
    let bot = TestBot::start_config(config_with(hook.config(
        &[("REGISTRY", "docker.io")],
        60,
        false,
    )))
    .await;
    let answer = bot
        .say("alice", "rebuild 20.04 22.04 arm64 redis --then retag")
        .await;
    assert!(answer.starts_with("Job #1 accepted"), "{answer}");
    bot.run_until("job 1 ends", summarised(1)).await;

    let runs = hook.runs(1);
    assert_eq!(runs.len(), 1, "{runs:?}");
    let record = &runs[0];
    // Its configured arguments, as they are: no shell saw them.
    assert!(
        record.starts_with("args: [--push] [two words; $(touch pwned)]\n"),
        "{record}"
    );
    assert!(!hook.path().join("pwned").exists());
    assert_eq!(variable(record, "IB_JOB"), Some("1"));
    assert_eq!(variable(record, "IB_IMAGES"), Some("redis"));
    assert_eq!(variable(record, "IB_SERIES"), Some("20.04 22.04"));
    assert_eq!(variable(record, "IB_ARCHES"), Some("arm64"));
    assert_eq!(
        variable(record, "IB_TRACKS"),
        Some("redis:5.0:20.04 redis:6.2:22.04")
    );
    assert_eq!(variable(record, "IB_REQUESTER"), Some("alice"));
    assert_eq!(variable(record, "REGISTRY"), Some("docker.io"));
    let builds = record.split("IB_BUILDS=").nth(1).unwrap();
    assert_eq!(
        builds.lines().take_while(|l| l.starts_with("http")).count(),
        2,
        "{record}"
    );
    // Nothing of the bot's own environment but what a program needs.
    for line in record
        .lines()
        .skip(1)
        .filter(|line| line.contains('=') && !line.starts_with("http"))
    {
        let name = line.split('=').next().unwrap();
        assert!(
            name.starts_with("IB_")
                || ["PATH", "HOME", "LANG", "TZ", "REGISTRY", "PWD", "SHLVL", "_"].contains(&name),
            "{name} reached the hook: {record}"
        );
    }

    let text = summary(&bot, 1);
    assert!(text.contains("Hook `retag` done (exit 0)."), "{text}");
    assert!(text.contains("tagging redis for 20.04 22.04"), "{text}");
    assert!(text.contains("retag: registry said no"), "{text}");
    // Stored as it ended, before the summary said it: a restart does not take it for one
    // that was interrupted.
    let stored = bot.job(1).hook_runs;
    assert_eq!(stored.len(), 1);
    assert!(
        matches!(
            stored[0].outcome,
            image_builder::hooks::HookOutcome::Exited { code: Some(0), .. }
        ),
        "{stored:?}"
    );
}

/// The bot stops (a crash) while a hook runs: the next start reports it interrupted and never
/// runs it again (it may have done its work: a person decides).
#[test]
fn a_hook_running_when_the_bot_stops_is_reported_interrupted_and_never_run_again() {
    let sim_runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = sim_runtime.block_on(support::simulator());
    let hook = Hook::new();
    let config = config_with(hook.config(&[("HOOK_SLEEP", "5")], 60, false));
    let dir = TempDir::new("interrupted");
    let wire = |first_id: u64| {
        let settings = image_builder::engine::EngineSettings {
            hooks: config.hooks.clone(),
            ..support::bot::quick_engine()
        };
        let console =
            image_builder::chat::console::Console::with_first_id(std::io::sink(), first_id);
        support::bot::wire_config(
            &dir.0,
            console,
            settings,
            support::client_settings(&sim),
            config.clone(),
        )
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let wired = wire(1);
        wired
            .say("alice", "rebuild 20.04 arm64 redis --then retag")
            .await;
        support::bot::run_until(&sim, "the hook starts", || !hook.runs(1).is_empty()).await;
    });
    // The process dies while the hook runs.
    drop(runtime);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let printed = runtime.block_on(async {
        let wired = wire(1000);
        wired.engine.resume().await.unwrap();
        let console = wired.console.clone();
        support::bot::run_until(&sim, "the summary", || {
            console.transcript().iter().any(|p| p.kind == Kind::Summary)
        })
        .await;
        wired.engine.wait_idle().await;
        console.transcript()
    });
    let summary = printed
        .iter()
        .find(|p| p.kind == Kind::Summary)
        .map(|p| p.text.clone())
        .unwrap();
    assert!(
        summary.contains("Hook `retag` was running when the bot stopped; it is not run again"),
        "{summary}"
    );
    // A run writes its record as it starts: a second would be there by now.
    assert_eq!(hook.runs(1).len(), 1, "run once, never again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_or_timed_out_hook_is_reported_and_not_retried() {
    let hook = Hook::new();
    let bot =
        TestBot::start_config(config_with(hook.config(&[("HOOK_EXIT", "3")], 60, false))).await;
    bot.say("alice", "rebuild 20.04 arm64 redis --then retag")
        .await;
    bot.run_until("job 1 ends", summarised(1)).await;
    let text = summary(&bot, 1);
    assert!(
        text.contains("Hook `retag` failed (exit 3); not retried."),
        "{text}"
    );
    assert!(text.contains("retag: registry said no"), "{text}");
    assert_eq!(hook.runs(1).len(), 1);
    // A retry of the job's uploads (nothing to retry) does not run it again either.
    bot.say("alice", "retry uploads #1").await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(hook.runs(1).len(), 1);

    let slow = Hook::new();
    let bot =
        TestBot::start_config(config_with(slow.config(&[("HOOK_SLEEP", "30")], 1, false))).await;
    bot.say("alice", "rebuild 20.04 arm64 redis --then retag")
        .await;
    bot.run_until("job 1 ends", summarised(1)).await;
    let text = summary(&bot, 1);
    assert!(
        text.contains("Hook `retag` timed out after 1 s and was killed; not retried."),
        "{text}"
    );
    assert!(text.contains("tagging redis for 20.04"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unconfigured_hook_is_refused_and_a_failed_job_skips_its_hook() {
    let hook = Hook::new();
    let scenario = Scenario {
        outcomes: vec![Outcome {
            image: Some("redis".parse().unwrap()),
            build_failures: Failures::Always,
            ..Outcome::default()
        }],
        ..Scenario::default()
    };
    let bot =
        TestBot::start_config_scenario(config_with(hook.config(&[], 60, true)), scenario).await;
    assert_eq!(
        bot.say("alice", "rebuild 20.04 arm64 redis --then deploy")
            .await,
        "There is no hook `deploy`. Hooks: `retag`. Try `help rebuild`."
    );
    assert!(bot.wired.engine.store().jobs().unwrap().is_empty());

    // `always`: asked for or not, and skipped when a build failed.
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    bot.run_until("job 1 ends", summarised(1)).await;
    let text = summary(&bot, 1);
    assert!(
        text.contains("Hook `retag` not run: not every build and upload succeeded."),
        "{text}"
    );
    assert!(hook.runs(1).is_empty());
}

/// `launchpad-truths.md`, "Registry uploads": a newer build of the recipe and processor, built
/// before this job's build reached its upload, supersedes it, and nothing is pushed for it. Not
/// a success: the summary says so with the recipe's page, the hook does not run (it would
/// promote an image this job did not push), and `build --wait` would not exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_superseded_by_a_newer_one_is_not_a_success_and_its_hook_does_not_run() {
    use image_builder::launchpad::models::{BuildState, UploadStatus};
    let hook = Hook::new();
    let bot = TestBot::start_config(config_with(hook.config(&[], 60, false))).await;
    bot.say("alice", "rebuild 20.04 arm64 redis --then retag")
        .await;
    bot.run_until("the build is on its way to Launchpad", |bot| {
        bot.sim.with_world(|world| {
            world.builds.values().any(|build| {
                build.arch.as_str() == "arm64" && build.state == BuildState::UploadingBuild
            })
        })
    })
    .await;
    // Someone's newer build of arm64, built first.
    bot.sim
        .with_world_mut(|world| {
            let id = world.foreign_build("redis", "20.04", "arm64")?;
            world.builds.get_mut(&id)?.state = BuildState::SuccessfullyBuilt;
            Some(id)
        })
        .unwrap();
    bot.run_until("job 1 ends", summarised(1)).await;
    let job = bot.job(1);
    let tally = job.tally();
    assert_eq!((tally.superseded, tally.succeeded), (1, 0), "{tally:?}");
    let ours = job.targets[0].wanted().next().unwrap().clone();
    assert_eq!(
        (ours.state, ours.upload),
        (
            BuildState::BuildForSupersededSource,
            UploadStatus::Superseded
        )
    );
    let text = summary(&bot, 1);
    assert!(text.contains("1 superseded (nothing pushed)"), "{text}");
    assert!(
        text.contains(
            "• redis 5.0 on 20.04 arm64: superseded by a newer build of the recipe (http://"
        ),
        "{text}"
    );
    assert!(text.contains("): nothing pushed for this one"), "{text}");
    assert!(
        text.contains("Hook `retag` not run: not every build and upload succeeded."),
        "{text}"
    );
    assert!(hook.runs(1).is_empty(), "the hook did not run");
    assert_eq!(image_builder::cli::exit_code(&job), 4, "not 0");
}
