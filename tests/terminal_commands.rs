//! The chat's commands as subcommands, against `image-builder sim`: `log` shows a failed
//! build's log, `retry uploads` schedules the upload again on Launchpad, `retry builds`
//! retries the build, `cancel` cancels on Launchpad, `mute` and `unmute` answer as chat does;
//! jobs are taken as `1` or `#1`.

mod support;

use std::process::Output;
use std::time::Duration;

use support::process::{assert_only_built, output_within, sim_builds, sim_count, Setup};

fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const LIMIT: Duration = Duration::from_secs(120);

/// Redis's arm64 upload fails once; nginx's arm64 build fails once.
const ONE_OF_EACH: &str =
    "[[outcomes]]\nimage = \"redis\"\narch = \"arm64\"\nupload_failures = 1\n\
     [[outcomes]]\nimage = \"nginx\"\narch = \"arm64\"\nbuild_failures = 1\n";

#[test]
fn log_retry_uploads_retry_builds_mute_and_unmute_act_as_the_chat_commands_do() {
    let setup = Setup::start("terminal-retry", ONE_OF_EACH, "300");
    let built = output_within(
        setup.command(&[
            "build", "redis", "nginx", "--series", "22.04", "--arch", "arm64", "--wait",
        ]),
        LIMIT,
    );
    assert_ne!(built.status.code(), Some(0), "{}", text(&built));
    // The summary names the terminal's commands, not the chat's.
    for hint in [
        "Failed builds (retry with 'image-builder retry builds 1')",
        "Failed uploads (retry with 'image-builder retry uploads 1')",
    ] {
        assert!(stdout(&built).contains(hint), "{hint}: {}", text(&built));
    }

    let log = output_within(setup.reader(&["log", "#1"]), LIMIT);
    assert_eq!(log.status.code(), Some(0), "{}", text(&log));
    assert!(stdout(&log).contains("nginx"), "{}", text(&log));
    assert!(
        !stdout(&log).contains("redis 6.2"),
        "only failed builds: {}",
        text(&log)
    );

    assert_eq!(sim_count(&setup.web_root, "POST scheduleRegistryUpload"), 0);
    let retried = output_within(setup.command(&["retry", "uploads", "1"]), LIMIT);
    assert!(
        stdout(&retried).starts_with("Retrying 1 failed upload of job #1."),
        "{}",
        text(&retried)
    );
    assert_eq!(
        sim_count(&setup.web_root, "POST scheduleRegistryUpload"),
        1,
        "the upload was scheduled again on Launchpad"
    );
    // Nginx's build still failed: the job's exit code says so.
    assert_eq!(retried.status.code(), Some(3), "{}", text(&retried));

    let rebuilt = output_within(setup.command(&["retry", "builds", "#1"]), LIMIT);
    assert_eq!(rebuilt.status.code(), Some(0), "{}", text(&rebuilt));
    assert_eq!(
        sim_count(&setup.web_root, "POST retry"),
        1,
        "{}",
        text(&rebuilt)
    );
    assert!(
        stdout(&rebuilt).contains("Job #1 finished. 2 builds built and uploaded."),
        "{}",
        text(&rebuilt)
    );

    let muted = output_within(setup.reader(&["mute", "uploads", "redis", "2h"]), LIMIT);
    assert_eq!(muted.status.code(), Some(0), "{}", text(&muted));
    assert!(
        stdout(&muted).starts_with("Failed-upload alerts of redis are muted for 2h"),
        "{}",
        text(&muted)
    );
    let unmuted = output_within(setup.reader(&["unmute"]), LIMIT);
    assert_eq!(unmuted.status.code(), Some(0), "{}", text(&unmuted));
    assert!(stdout(&unmuted).contains("1 mute"), "{}", text(&unmuted));

    let wrong = output_within(setup.reader(&["mute", "uploads", "redis", "8d"]), LIMIT);
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong));
    let missing = output_within(setup.command(&["cancel", "7"]), LIMIT);
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("There is no job #7."),
        "{}",
        text(&missing)
    );
}

/// Builds wait half an hour in the queue (six seconds at speed 300): there is time to cancel.
const BUSY: &str = "[timing]\nqueue_seconds = [1800, 2100]\nbuild_seconds = [60, 120]\nupload_seconds = [30, 60]\n";

#[test]
fn cancel_cancels_the_jobs_builds_on_launchpad_and_follows_it_to_its_end() {
    let setup = Setup::start("terminal-cancel", BUSY, "300");
    let built = output_within(
        setup.command(&["build", "redis", "--series", "22.04", "--arch", "arm64"]),
        LIMIT,
    );
    assert_eq!(built.status.code(), Some(0), "{}", text(&built));
    let cancels_before = sim_count(&setup.web_root, "POST cancel");
    let cancelled = output_within(setup.command(&["cancel", "#1"]), LIMIT);
    assert!(
        stdout(&cancelled).starts_with("Cancelling job #1: "),
        "{}",
        text(&cancelled)
    );
    assert_eq!(
        sim_count(&setup.web_root, "POST cancel"),
        cancels_before + 1,
        "{}",
        text(&cancelled)
    );
    assert_eq!(
        cancelled.status.code(),
        Some(5),
        "cancelled: {}",
        text(&cancelled)
    );
    let builds = sim_builds(&setup.web_root);
    assert!(
        builds
            .iter()
            .all(|(_, state, _)| state == "Cancelled build"),
        "every build of the job cancelled: {builds:?}"
    );
    assert!(
        stdout(&cancelled).contains("Job #1 was cancelled. 1 cancelled."),
        "{}",
        text(&cancelled)
    );
}

/// `reference`-free: the simulator says its speed on every answer, so a client with the
/// default config (Launchpad's pace: polls of 15 s to 5 min) paces itself at the simulator's.
#[test]
fn a_simulator_started_on_its_own_paces_build_wait_with_the_default_config() {
    let setup = Setup::start("terminal-pace", "", "100");
    let api_root = format!("{}devel/", setup.web_root);
    let config = setup.dir.0.join("default.toml");
    std::fs::write(
        &config,
        image_builder::config::BUILT_IN.replace("https://api.launchpad.net/devel/", &api_root),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let mut command = support::process::binary();
    command
        .args([
            "build", "redis", "--series", "22.04", "--arch", "arm64", "--wait",
        ])
        .arg("--config")
        .arg(&config)
        .arg("--credentials")
        .arg(&setup.credentials)
        .arg("--data-dir")
        .arg(setup.dir.0.join("data"))
        .env("IMAGE_BUILDER_LOG", "image_builder=info");
    let built = output_within(command, Duration::from_secs(60));
    assert_eq!(built.status.code(), Some(0), "{}", text(&built));
    assert!(
        String::from_utf8_lossy(&built.stderr).contains("pacing at its speed"),
        "{}",
        text(&built)
    );
    assert!(
        stdout(&built).contains("Job #1 finished. 1 build built and uploaded."),
        "{}",
        text(&built)
    );
    eprintln!(
        "build --wait against sim --speed 100 took {:?}",
        started.elapsed()
    );
}

/// Ctrl-C during `build --wait` stops it cleanly: exit 130 with the line that says how to
/// follow the job again, and a later `wait` finishes it with no build left running that was
/// not asked for.
#[test]
fn ctrl_c_during_build_wait_says_how_to_resume_and_wait_finishes_the_job() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let setup = Setup::start("terminal-sigint", BUSY, "300");
    let mut build = setup.command(&[
        "build", "redis", "nginx", "--series", "22.04", "--arch", "arm64", "--wait",
    ]);
    let mut build = support::process::Running(
        build
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdout_lines = BufReader::new(build.0.stdout.take().unwrap()).lines();
    let accepted = stdout_lines.next().unwrap().unwrap();
    assert!(accepted.starts_with("Job #1 accepted"), "{accepted}");
    // Interrupted while it requests or cancels: it waits for the cancels before it stops.
    let started = std::time::Instant::now();
    while sim_count(&setup.web_root, "POST requestBuilds") < 1 {
        assert!(started.elapsed() < LIMIT, "never requested");
        std::thread::sleep(Duration::from_millis(10));
    }
    let pid = build.0.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let rest: Vec<String> = stdout_lines.map_while(Result::ok).collect();
    let status = build.0.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest:?}");
    assert_eq!(
        rest.last().map(String::as_str),
        Some("Job #1 goes on on Launchpad; 'image-builder wait 1' follows it."),
        "{rest:?}"
    );
    let waited = output_within(setup.command(&["wait"]), LIMIT);
    assert_eq!(waited.status.code(), Some(0), "{}", text(&waited));
    assert!(
        stdout(&waited).starts_with("Following job #1 to the end"),
        "{}",
        text(&waited)
    );
    assert_only_built(&setup.web_root, "arm64", 8);
}

/// `--json` of `build`, `wait`, `status`, `jobs`, `history` and `build --dry-run` parse, and
/// hold the fields `docs/json.md` documents.
#[test]
fn json_outputs_parse_and_hold_the_documented_fields() {
    let setup = Setup::start("terminal-json", ONE_OF_EACH, "300");
    let json = |args: &[&str]| -> serde_json::Value {
        // Reading the store needs no credentials, and takes none.
        let command = match args[0] {
            "status" | "jobs" | "history" => setup.reader(args),
            _ => setup.command(args),
        };
        let output = output_within(command, LIMIT);
        assert!(
            matches!(output.status.code(), Some(0 | 3 | 4)),
            "{args:?}: {}",
            text(&output)
        );
        let document: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("{args:?}: {error}: {}", text(&output)));
        assert_eq!(document["version"], 1, "{args:?}: {document}");
        document
    };
    let plan = json(&["build", "redis", "22.04", "--dry-run", "--json"]);
    assert_eq!(plan["plan"]["builds"], 4, "{plan}");
    assert_eq!(plan["plan"]["confirmation"], "none", "{plan}");
    assert_eq!(plan["plan"]["recipes"][0]["image"], "redis", "{plan}");
    assert_eq!(
        plan["plan"]["recipes"][0]["arches"],
        serde_json::json!(["amd64", "arm64", "ppc64el", "s390x"]),
        "{plan}"
    );

    let started = json(&["build", "redis", "nginx", "22.04", "arm64", "--json"]);
    let job = &started["jobs"][0];
    assert_eq!(job["id"], 1, "{started}");
    assert_eq!(job["status"], "running", "{started}");
    assert!(job["exit_code"].is_null(), "{started}");
    assert_eq!(job["targets"].as_array().unwrap().len(), 2, "{started}");

    let waited = json(&["wait", "--json"]);
    let job = &waited["jobs"][0];
    assert_eq!(job["status"], "finished", "{waited}");
    assert_eq!(job["exit_code"], 3, "nginx's build failed: {waited}");
    let builds: Vec<&serde_json::Value> = job["targets"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|target| target["builds"].as_array().unwrap())
        .filter(|build| build["wanted"] == true)
        .collect();
    assert_eq!(builds.len(), 2, "{waited}");
    for build in &builds {
        for field in [
            "arch",
            "url",
            "web_link",
            "progress",
            "state",
            "upload_state",
        ] {
            assert!(build[field].is_string(), "{field} of {build}");
        }
    }
    let progress: Vec<&str> = builds
        .iter()
        .map(|build| build["progress"].as_str().unwrap())
        .collect();
    assert!(progress.contains(&"build_failed"), "{progress:?}");
    assert!(progress.contains(&"upload_failed"), "{progress:?}");
    let alert = &job["alerts"][0];
    assert_eq!(alert["image"], "redis", "{waited}");
    assert_eq!(alert["upload_failures"], 1, "{waited}");

    let status = json(&["status", "#1", "--json"]);
    assert_eq!(status["jobs"][0]["id"], 1, "{status}");
    let jobs = json(&["jobs", "--json"]);
    assert_eq!(jobs["jobs"].as_array().unwrap().len(), 1, "{jobs}");
    let history = json(&["history", "redis", "--json"]);
    let rebuild = &history["rebuilds"][0];
    assert_eq!(rebuild["job"], 1, "{history}");
    assert_eq!(rebuild["builds"][0]["image"], "redis", "{history}");
    assert!(rebuild["builds"][0]["state"].is_string(), "{history}");
}
