//! Restarts: the engine is stopped abruptly at several points of a 10-recipe job and started
//! again on the same sled directory. The job finishes; no recipe is requested twice except
//! where Launchpad itself answered "already pending"; no alert is sent twice; the board keeps
//! its message. Once in-process (dropping the engine's runtime), once with SIGKILL on a real
//! `image-builder` process.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use image_builder::chat::console::Printed;
use image_builder::chat::{Incoming, Kind};
use image_builder::jobs::model::Phase;
use image_builder::jobs::JobStatus;
use image_builder::launchpad::models::{RequestStatus, ALREADY_PENDING};
use image_builder::launchpad::sim::scenario::{Failures, Outcome};
use image_builder::launchpad::sim::Simulator;
use image_builder::store::Store;
use image_builder::target::JobId;
use support::bot::{user, wire, TempDir};
use support::process::{
    assert_only_built, binary, http_get, output_within, sim_builds, sim_count, start_sim, Running,
    Setup,
};

const TEN_RECIPES: &str = "rebuild 20.04 22.04 arm64 apache2 bind9 memcached nginx squid";

/// Requests per recipe that made builds (Completed), and that Launchpad deduped.
fn requests_per_recipe(sim: &Simulator) -> BTreeMap<String, (usize, usize)> {
    sim.with_world(|world| {
        let mut per = BTreeMap::new();
        for request in world.requests.values() {
            let entry = per.entry(request.recipe.clone()).or_insert((0, 0));
            match (&request.status, request.error_message.as_deref()) {
                (RequestStatus::Failed, Some(ALREADY_PENDING)) => entry.1 += 1,
                _ => entry.0 += 1,
            }
        }
        per
    })
}

type CrashPoint = (&'static str, fn(&Simulator, &[Printed]) -> bool);

#[test]
fn a_job_survives_its_engine_being_dropped_at_several_points() {
    let sim_runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = sim_runtime.block_on(support::simulator());
    sim.set_outcomes(vec![Outcome {
        image: Some("nginx".parse().unwrap()),
        series: Some("22.04".parse().unwrap()),
        upload_failures: Failures::Always,
        ..Outcome::default()
    }]);
    let dir = TempDir::new("restart");
    let crash_points: [CrashPoint; 5] = [
        ("while requesting", |sim, _| {
            sim.requests("POST requestBuilds") >= 4
        }),
        ("while cancelling unwanted builds", |sim, _| {
            sim.requests("POST cancel") >= 12
        }),
        ("while building", |sim, _| sim.requests("GET build") >= 40),
        ("right after the alert", |_, printed| {
            printed.iter().any(|p| p.text.starts_with("Upload failed"))
        }),
        ("never: run to the end", |_, _| false),
    ];
    let mut printed: Vec<Printed> = Vec::new();
    for (round, (name, crash)) in crash_points.iter().enumerate() {
        let engine_runtime = tokio::runtime::Runtime::new().unwrap();
        let (console, finished) = engine_runtime.block_on(async {
            let wired = wire(&sim, &dir.0, 1000 * (round as u64 + 1));
            wired.engine.resume().await.unwrap();
            if round == 0 {
                let answer = wired
                    .bot
                    .handle(Incoming {
                        user: user("alice"),
                        channel: "team".into(),
                        text: TEN_RECIPES.into(),
                    })
                    .await;
                assert!(
                    answer.starts_with("Job #1 accepted: 10 recipes, 10 builds."),
                    "{answer}"
                );
            }
            let started = Instant::now();
            loop {
                let job = wired.engine.store().job(JobId(1)).unwrap().unwrap();
                let transcript = wired.console.transcript();
                let seen: Vec<Printed> = printed
                    .iter()
                    .cloned()
                    .chain(transcript.iter().cloned())
                    .collect();
                // Ended of itself, with everything said: no more rounds.
                if job.is_finished() && wired.engine.running() == 0 {
                    return (wired.console.clone(), true);
                }
                // A crash, perhaps after the job ended and before its summary: the next
                // round's start says what is left.
                if crash(&sim, &seen) {
                    return (wired.console.clone(), false);
                }
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "round {round} ({name}) stalled"
                );
                // Launchpad's clock and the engine's are one: a `requestBuilds` is answered
                // (and the answer stored) within moments, long before its builds leave the
                // queue, which is what makes asking again after a crash safe (Launchpad
                // dedupes). Simulated time stands still while a request is out, so that a
                // slow machine does not let minutes of it pass before the answer is stored.
                let requesting = job
                    .targets
                    .iter()
                    .any(|target| matches!(target.phase, Phase::Requesting { .. }));
                if !requesting {
                    sim.advance(Duration::from_secs(20));
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        // Abrupt: every task of the engine is dropped wherever it is.
        drop(engine_runtime);
        // Read after the crash: what the engine said up to its last moment counts.
        printed.extend(console.transcript());
        if finished {
            break;
        }
    }

    let store = Store::open(&dir.0).unwrap();
    let job = store.job(JobId(1)).unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Finished, "{job:#?}");
    let tally = job.tally();
    assert_eq!(
        tally.succeeded + tally.upload_failed + tally.already_pending,
        10,
        "{tally:?}"
    );
    for (recipe, (made, deduped)) in requests_per_recipe(&sim) {
        assert_eq!(
            made, 1,
            "{recipe} was requested {made} times (and deduped {deduped} times)"
        );
    }
    let alerts = printed
        .iter()
        .filter(|p| p.kind == Kind::Alert && p.text.starts_with("Upload failed"))
        .count();
    // The failing recipe is followed (and its failure told once), unless the crash caught its
    // request in flight: then, without webhooks, Launchpad deduped the request sent again,
    // and the job names the recipe as already pending instead.
    let nginx = job
        .targets
        .iter()
        .find(|t| t.image.as_str() == "nginx" && t.series.to_string() == "22.04")
        .unwrap();
    let expected = usize::from(nginx.phase != Phase::AlreadyPending);
    assert_eq!(
        alerts,
        expected,
        "the one failed upload is alerted once: {:#?}\n{job:#?}",
        printed
            .iter()
            .filter(|p| p.kind != Kind::Board)
            .collect::<Vec<_>>()
    );
    let boards: Vec<&Printed> = printed.iter().filter(|p| p.kind == Kind::Board).collect();
    assert!(
        boards.iter().all(|p| p.id == boards[0].id),
        "every board edit goes to the first message"
    );
    let summaries = printed.iter().filter(|p| p.kind == Kind::Summary).count();
    assert_eq!(summaries, 1);
}

#[test]
fn a_job_survives_sigkill_of_the_build_process() {
    let dir = TempDir::new("sigkill");
    let (sim, api_root, credentials) = start_sim(&dir, "", "300");
    let web_root = api_root.trim_end_matches("devel/").to_string();
    let config = dir.0.join("config.toml");
    let text = support::quick_config(&api_root);
    std::fs::write(&config, text).unwrap();
    let data = dir.0.join("data");
    let common = |command: &mut Command| {
        command
            .arg("--config")
            .arg(&config)
            .arg("--credentials")
            .arg(&credentials)
            .arg("--data-dir")
            .arg(&data);
    };

    let mut build = binary();
    build.args([
        "build", "--wait", "--series", "20.04", "--series", "22.04", "--arch", "arm64",
    ]);
    common(&mut build);
    build.args(["--", "apache2", "bind9", "memcached", "nginx", "squid"]);
    let mut build = Running(
        build
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(build.0.stdout.take().unwrap()).lines();
    let accepted = lines.next().unwrap().unwrap();
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
    assert!(
        accepted.starts_with("Job #1 accepted: 10 recipes, 10 builds."),
        "{accepted}"
    );
    // Let it get into the job (requests out, builds queued), then kill it without warning.
    let counts_url = format!("{web_root}+sim/counts");
    let started = Instant::now();
    loop {
        let counts = http_get(&counts_url);
        if counts.contains("\"POST cancel\"") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the build never got going: {counts}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    build.0.kill().unwrap();
    build.0.wait().unwrap();

    let mut wait = binary();
    wait.arg("wait");
    common(&mut wait);
    let output = output_within(wait, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Job #1 finished."), "{stdout}");
    let counts = http_get(&counts_url);
    let requested: u64 = serde_json::from_str::<serde_json::Value>(&counts).unwrap()
        ["POST requestBuilds"]
        .as_u64()
        .unwrap();
    let deduped = stdout
        .split(", ")
        .find_map(|part| {
            part.strip_suffix(" already pending")
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    assert_eq!(
        requested,
        10 + deduped,
        "each recipe once, plus what Launchpad deduped: {stdout}"
    );
    drop(sim);
}

#[test]
fn a_job_killed_while_an_auto_retry_of_its_upload_is_out_goes_on_after_a_restart() {
    let dir = TempDir::new("sigkill-retry");
    // The first upload fails; scheduleRegistryUpload acts at once but answers 3 s later.
    let (_sim, api_root, credentials) = start_sim(
        &dir,
        "[[outcomes]]\nupload_failures = 1\n[faults]\nslow_operations = { \"POST scheduleRegistryUpload\" = 3000 }\n",
        "300",
    );
    let web_root = api_root.trim_end_matches("devel/").to_string();
    let config = dir.0.join("config.toml");
    let text = support::quick_config(&api_root).replace(
        "upload_retry_delay_seconds = 60",
        "upload_retry_delay_seconds = 1",
    );
    std::fs::write(&config, text).unwrap();
    let data = dir.0.join("data");
    let common = |command: &mut Command| {
        command
            .arg("--config")
            .arg(&config)
            .arg("--credentials")
            .arg(&credentials)
            .arg("--data-dir")
            .arg(&data);
    };
    let mut build = binary();
    build.args([
        "build",
        "--wait",
        "--auto-retry-uploads",
        "--series",
        "20.04",
        "--arch",
        "arm64",
    ]);
    common(&mut build);
    build.args(["--", "redis"]);
    let mut build = Running(
        build
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let counts_url = format!("{web_root}+sim/counts");
    let retried = || {
        let counts = http_get(&counts_url);
        serde_json::from_str::<serde_json::Value>(&counts).unwrap()["POST scheduleRegistryUpload"]
            .as_u64()
            .unwrap_or(0)
    };
    let started = Instant::now();
    while retried() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the auto-retry never went out"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The call acted on Launchpad and is waiting for its answer: kill now.
    build.0.kill().unwrap();
    build.0.wait().unwrap();

    let mut wait = binary();
    wait.arg("wait");
    common(&mut wait);
    let output = output_within(wait, Duration::from_secs(90));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("Job #1 finished. 1 build built and uploaded."),
        "{stdout}"
    );
    assert!(
        retried() >= 2,
        "the call whose answer was lost was made again"
    );
}

/// A busy build farm: builds wait half an hour in the queue (six seconds at speed 300), so the
/// builds not asked for are still there to cancel after a restart.
const BUSY: &str = "[timing]\nqueue_seconds = [1800, 2100]\nbuild_seconds = [60, 120]\nupload_seconds = [30, 60]\n";

#[test]
fn a_build_killed_with_cancels_out_has_them_sent_again_by_wait() {
    let setup = Setup::start(
        "sigkill-cancels",
        &format!("{BUSY}[faults]\nslow_operations = {{ \"POST cancel\" = 2000 }}\n"),
        "300",
    );
    setup.kill_build_when(
        &["build", "--wait", "--series", "20.04", "--arch", "arm64"],
        &["apache2", "bind9", "memcached", "nginx", "squid"],
        |setup| sim_count(&setup.web_root, "POST cancel") >= 1,
    );
    let output = output_within(setup.command(&["wait"]), Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert_only_built(&setup.web_root, "arm64", 20);
}

#[test]
fn build_without_wait_leaves_no_build_it_did_not_ask_for() {
    let setup = Setup::start("no-wait", BUSY, "300");
    let output = output_within(
        setup.command(&["build", "--arch", "arm64"]),
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    let builds = sim_builds(&setup.web_root);
    let unwanted: Vec<_> = builds
        .iter()
        .filter(|(arch, _, _)| arch != "arm64")
        .collect();
    assert_eq!(unwanted.len(), 3 * 29, "{builds:?}");
    assert!(
        unwanted
            .iter()
            .all(|(_, state, _)| state == "Cancelled build"),
        "when it exits, every build not asked for is cancelled: {unwanted:?}"
    );
    assert_eq!(
        stdout.matches(" arm64: http://").count(),
        29,
        "each wanted build's page: {stdout}"
    );
    assert!(stdout.contains("image-builder wait 1"), "{stdout}");
}

#[test]
fn without_webhooks_a_request_killed_in_flight_is_asked_again_and_deduped_never_built_twice() {
    // Launchpad's pace (speed 3): ten seconds after the crash, the first request's builds are
    // still queued.
    let setup = Setup::start(
        "sigkill-request",
        "[faults]\nslow_operations = { \"POST requestBuilds\" = 3000 }\n",
        "3",
    );
    setup.kill_build_when(
        &["build", "--wait", "--series", "20.04", "--arch", "arm64"],
        &["redis"],
        |setup| sim_count(&setup.web_root, "POST requestBuilds") >= 1,
    );
    std::thread::sleep(Duration::from_secs(10));
    let output = output_within(setup.command(&["wait"]), Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    assert!(
        stdout.contains("1 already pending.\n• redis 5.0 on 20.04: already pending (most likely this job's own first request, whose answer was lost), not followed here: http://127.0.0.1:"),
        "named honestly, with the recipe's page: {stdout}"
    );
    let builds = sim_builds(&setup.web_root);
    assert_eq!(builds.len(), 4, "no build twice: {builds:?}");
    assert_eq!(sim_count(&setup.web_root, "POST requestBuilds"), 2);
}

#[test]
fn status_and_jobs_answer_while_build_wait_holds_the_store_and_wait_names_the_holder() {
    let setup = Setup::start("held", BUSY, "300");
    let mut build = setup.command(&["build", "--wait", "--series", "20.04", "--arch", "arm64"]);
    build.args(["--", "redis"]);
    let _build = Running(
        build
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while sim_count(&setup.web_root, "POST cancel") == 0 {
        assert!(started.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(20));
    }
    for command in [vec!["status"], vec!["status", "1"], vec!["jobs"]] {
        let output = output_within(setup.reader(&command), Duration::from_secs(30));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{command:?}: {stdout}{stderr}"
        );
        assert!(stdout.contains("#1"), "{command:?}: {stdout}");
        assert!(
            stderr.contains("The job store is in use by process "),
            "{command:?}: {stderr}"
        );
    }
    let output = output_within(setup.command(&["wait"]), Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is in use by process ") && stderr.contains("image-builder build"),
        "names the holder: {stderr}"
    );
}

#[test]
fn credentials_launchpad_refuses_end_build_with_exit_1_before_any_job_is_stored() {
    let setup = Setup::start("refused", "", "300");
    std::fs::write(
        &setup.credentials,
        "[1]\nconsumer_key = image-builder\nconsumer_secret = \naccess_token = nosuchtoken\naccess_secret = nosuchsecret\n",
    )
    .unwrap();
    let mut build = setup.command(&["build", "--wait", "--arch", "arm64"]);
    build.args(["--", "redis"]);
    let output = output_within(build, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr
            .starts_with("Launchpad refused the credentials (Unknown access token ([redacted]).)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("nosuchtoken"),
        "the token stays out of it: {stderr}"
    );
    assert_eq!(sim_count(&setup.web_root, "POST requestBuilds"), 0);
    let jobs = output_within(setup.reader(&["jobs"]), Duration::from_secs(30));
    assert_eq!(
        String::from_utf8_lossy(&jobs.stdout).trim(),
        "No jobs yet. Try 'image-builder build 20.04 arm64 redis'.",
        "no job stored"
    );
}

/// Unmounts a test's filesystem when the test ends, however it ends.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_ends_build_with_a_clear_error_and_a_later_wait_finishes_without_duplicates() {
    let setup = Setup::start("full-disk", BUSY, "300");
    let data = setup.dir.0.join("data");
    std::fs::create_dir_all(&data).unwrap();
    // A small filesystem of the store's own: a tmpfs, which only root may mount (CI runs as
    // root; elsewhere the test says it could not run).
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
        .arg(&data)
        .stderr(Stdio::null())
        .status();
    if !mounted.is_ok_and(|status| status.success()) {
        eprintln!("NOT RUN: mounting a tmpfs needs root");
        return;
    }
    let _mounted = Mounted(data.clone());
    let mut build = setup.command(&["build", "--wait", "--series", "20.04", "--arch", "arm64"]);
    build.args(["--", "apache2", "bind9", "memcached", "nginx", "squid"]);
    let build = build
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while sim_count(&setup.web_root, "POST cancel") == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the build never got going"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The disk fills up.
    let filler = data.join("filler");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 1 << 16];
        while file.write_all(&chunk).is_ok() {}
    }
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(build.wait_with_output());
    });
    let output = done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("build ends when it cannot store")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Job #1 stopped: the job store cannot be written (disk full?)"),
        "{stderr}"
    );
    // Space is freed; `wait` finishes the job, requesting nothing twice.
    std::fs::remove_file(&filler).unwrap();
    let output = output_within(setup.command(&["wait"]), Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(sim_count(&setup.web_root, "POST requestBuilds"), 5);
    assert_eq!(sim_builds(&setup.web_root).len(), 20, "no build twice");
}

/// Launchpad exports no list of a recipe's builds (`launchpad-truths.md`, "Build operations
/// and errors"): after a crash with `requestBuilds` out, and no webhook deliveries to find what
/// they made, the bot cannot find the first requests' builds. It says so: every such recipe by
/// its page, with what may have happened and what to look at, and the job does not succeed.
#[test]
fn without_webhooks_every_recipe_whose_request_a_crash_left_unanswered_is_named_with_its_page() {
    // Builders idle (speed 300): by the restart, the first requests' builds left the queue.
    let setup = Setup::start(
        "sigkill-requests",
        "[faults]\nslow_operations = { \"POST requestBuilds\" = 3000 }\n",
        "300",
    );
    let images = ["redis", "postgres", "mysql", "nginx", "squid"];
    setup.kill_build_when(
        &["build", "--wait", "--series", "20.04", "--arch", "arm64"],
        &images,
        |setup| sim_count(&setup.web_root, "POST requestBuilds") >= 5,
    );
    std::thread::sleep(Duration::from_secs(5));
    let output = output_within(setup.command(&["wait"]), Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(3), "{stdout}");
    for image in images {
        let named = stdout.lines().any(|line| {
            line.starts_with(&format!("• {image} "))
                && line.contains("asked for twice")
                && line.contains(&format!("+oci/{image}/+recipe/{image}-"))
        });
        assert!(named, "{image} named with its page: {stdout}");
    }
    assert!(
        stdout.contains("Launchpad lists no recipe's builds, so only its page shows them"),
        "{stdout}"
    );
}
