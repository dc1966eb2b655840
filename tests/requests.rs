//! Only the builds that were asked for, each exactly once (issue 10): architectures a request
//! does not build are accounted for, a lost answer never builds twice knowingly, refused
//! credentials stop a job, cancels survive failures. Over real HTTP against the simulator,
//! whose rules are Launchpad's (`reference/launchpad-truths.md`, "Which architectures a
//! request builds").

mod support;

use std::time::Duration;

use image_builder::chat::Kind;
use image_builder::engine::EngineSettings;
use image_builder::launchpad::models::{BuildState, RequestStatus};
use image_builder::launchpad::sim::scenario::Scenario;
use image_builder::launchpad::sim::world::Timing;
use image_builder::launchpad::sim::{Fault, Simulator};
use support::bot::{quick_engine, TestBot};
use support::hooks::{install, listen};

/// Engine settings for a process webhook deliveries reach.
fn with_webhooks() -> EngineSettings {
    let mut settings = quick_engine();
    settings.rules.request_grace = Some(Duration::from_secs(3));
    settings.rules.queued_grace = Some(Duration::from_secs(20));
    settings
}

/// A bot whose listener is registered on every recipe.
async fn listening(settings: EngineSettings) -> TestBot {
    let bot = TestBot::start_scenario(Scenario::default(), settings, usize::MAX).await;
    let url = listen(&bot.sim, bot.wired.engine.clone()).await;
    install(&bot.sim, &url).await;
    bot
}

/// Job `id` ended and its summary is out.
async fn run_to_the_end(bot: &TestBot, id: u64) {
    let needle = format!("Job #{id} ");
    bot.run_until(&format!("job {id} ends and says so"), |bot| {
        bot.job(id).is_finished() && !bot.printed_containing(Kind::Summary, &needle).is_empty()
    })
    .await;
}

fn builds_of(sim: &Simulator, arch: &str) -> usize {
    sim.with_world(|world| {
        world
            .builds
            .values()
            .filter(|build| build.arch.as_str() == arch)
            .count()
    })
}

/// Launchpad's timings with builders idle: a build leaves the queue within seconds, and
/// builds and uploads take a minute or two.
fn idle_builders(sim: &Simulator) {
    sim.with_world_mut(|world| {
        world.timing = Timing {
            queue: (Duration::from_secs(5), Duration::from_secs(10)),
            build: (Duration::from_secs(60), Duration::from_secs(120)),
            registry_upload: (Duration::from_secs(30), Duration::from_secs(60)),
            ..Timing::default()
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_architecture_queued_by_another_request_is_said_and_with_webhooks_followed() {
    let bot = listening(with_webhooks()).await;
    bot.sim.with_world_mut(|world| {
        // Someone's web-UI build of arm64 waits in the queue (ten minutes: a busy farm).
        world.timing.queue = (Duration::from_secs(600), Duration::from_secs(660));
        world.foreign_build("redis", "20.04", "arm64").unwrap();
    });
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    bot.run_until("the board says why arm64 has no build of its own", |bot| {
        bot.printed().iter().any(|p| {
            p.kind == Kind::Board
                && p.text
                    .contains("arm64: skipped: queued by another request, or not buildable now")
        })
    })
    .await;
    run_to_the_end(&bot, 1).await;
    let job = bot.job(1);
    let tally = job.tally();
    assert_eq!((tally.succeeded, tally.not_built), (1, 0), "{tally:?}");
    assert_eq!(
        builds_of(&bot.sim, "arm64"),
        1,
        "that build, followed, not a second"
    );
    let summary = &bot.printed_containing(Kind::Summary, "Job #1")[0];
    assert!(
        summary.starts_with("Job #1 finished. 1 build built and uploaded."),
        "{summary}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_webhooks_an_architecture_queued_elsewhere_is_named_and_the_job_does_not_succeed() {
    let bot = TestBot::start(vec![]).await;
    bot.sim.with_world_mut(|world| {
        world.timing.queue = (Duration::from_secs(600), Duration::from_secs(660));
        world.foreign_build("redis", "20.04", "arm64").unwrap();
    });
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    run_to_the_end(&bot, 1).await;
    assert_eq!(bot.job(1).tally().not_built, 1);
    let summary = &bot.printed_containing(Kind::Summary, "Job #1")[0];
    assert!(summary.contains("1 not built"), "{summary}");
    assert!(
        summary.contains("• redis 5.0 on 20.04 arm64: queued by another request (Launchpad can build it; that build is not followed here): look at the recipe's page: http://"),
        "{summary}"
    );
    assert_eq!(builds_of(&bot.sim, "arm64"), 1);
}

/// Requests and builds of the one recipe the tests rebuild.
fn made(sim: &Simulator) -> (usize, usize) {
    sim.with_world(|world| (world.requests.len(), world.builds.len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_webhooks_a_dropped_answer_never_builds_twice_and_every_build_is_followed() {
    let bot = listening(with_webhooks()).await;
    idle_builders(&bot.sim);
    for id in 1..=50u64 {
        bot.sim.inject(Some("POST requestBuilds"), Fault::Drop, 1);
        bot.say("alice", "rebuild 20.04 arm64 redis").await;
        run_to_the_end(&bot, id).await;
        let tally = bot.job(id).tally();
        assert_eq!(tally.succeeded, 1, "job {id}: {tally:?}");
        let (requests, builds) = made(&bot.sim);
        assert_eq!(
            (requests, builds),
            (id as usize, 4 * id as usize),
            "job {id}: one request and four builds each, never a second request"
        );
    }
    assert_eq!(bot.sim.requests("POST requestBuilds"), 50);
}

/// What happens without webhooks when answers are lost, measured for the README: the
/// engine asks again at once. (`lost` says how the answer is lost.)
async fn without_webhooks(lost: Fault, timeout: Duration) -> (usize, usize, usize) {
    let bot = TestBot::start_client(Scenario::default(), quick_engine(), |_, client| {
        client.request_timeout = timeout;
    })
    .await;
    idle_builders(&bot.sim);
    let mut duplicated = 0;
    let mut followed = 0;
    for id in 1..=50u64 {
        let before = made(&bot.sim).1;
        bot.sim.inject(Some("POST requestBuilds"), lost, 1);
        bot.say("alice", "rebuild 20.04 arm64 redis").await;
        run_to_the_end(&bot, id).await;
        bot.run_until("every build of the job ends", |bot| {
            bot.sim.with_world(|world| {
                world.builds.values().all(|build| {
                    !matches!(
                        build.state,
                        BuildState::NeedsBuilding | BuildState::CurrentlyBuilding
                    )
                })
            })
        })
        .await;
        if made(&bot.sim).1 - before > 4 {
            duplicated += 1;
        }
        followed += bot.job(id).tally().succeeded;
    }
    let pending = bot.sim.with_world(|world| {
        world
            .requests
            .values()
            .filter(|request| request.status == RequestStatus::Failed)
            .count()
    });
    (duplicated, followed, pending)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_webhooks_what_a_lost_answer_costs_is_measured() {
    // The connection drops as the answer is sent, and the engine asks again at once. Whether
    // the first request's builds have left the queue by then (idle builders) decides: if not,
    // Launchpad dedupes and the job names the recipe; if so, every architecture builds twice.
    let (duplicated, followed, deduped) =
        without_webhooks(Fault::Drop, Duration::from_secs(5)).await;
    eprintln!("dropped answers: {duplicated} of 50 built twice, {deduped} deduped");
    assert_eq!(duplicated + deduped, 50);
    assert_eq!(
        followed, duplicated,
        "only the second request's builds are followed"
    );
    // The answer comes after the client gave up (a timeout), and idle builders took the first
    // request's builds meanwhile: asked again, every architecture builds twice, every time.
    let late = without_webhooks(
        Fault::Delay(Duration::from_millis(600)),
        Duration::from_millis(300),
    )
    .await;
    eprintln!(
        "late answers: {} of 50 built twice, {} deduped",
        late.0, late.2
    );
    assert_eq!(late, (50, 50, 0), "(duplicated, followed, deduped) of 50");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_outside_the_owning_team_get_one_clear_error_and_nothing_is_built() {
    let bot = TestBot::start_client(Scenario::default(), quick_engine(), |sim, client| {
        client.credentials = Some(sim.credentials_for("mallory"));
    })
    .await;
    bot.say("alice", "rebuild 20.04 redis postgres squid").await;
    run_to_the_end(&bot, 1).await;
    let told = bot.printed_containing(Kind::Alert, "Launchpad refused");
    assert_eq!(told.len(), 1, "{told:#?}");
    assert_eq!(
        told[0],
        "Job #1: Launchpad refused to build: these credentials belong to mallory, who is not in ubuntu-docker-images, the team that owns the recipes. Log in with `image-builder login` as a member of ubuntu-docker-images (or ask to join it). Nothing was requested."
    );
    assert_eq!(made(&bot.sim), (0, 0), "Launchpad made nothing");
    assert!(bot
        .printed_containing(Kind::Alert, "build request failed")
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_answered_503_is_sent_again_until_launchpad_cancels() {
    let bot = TestBot::start(vec![]).await;
    // Each cancel's own retries (four attempts) are used up three times over.
    bot.sim.inject(Some("POST cancel"), Fault::Status(503), 12);
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    run_to_the_end(&bot, 1).await;
    let unwanted: Vec<BuildState> = bot.sim.with_world(|world| {
        world
            .builds
            .values()
            .filter(|build| build.arch.as_str() != "arm64")
            .map(|build| build.state.clone())
            .collect()
    });
    assert_eq!(unwanted, vec![BuildState::CancelledBuild; 3]);
    assert!(
        bot.sim.requests("POST cancel") > 12,
        "sent again after the failures"
    );
    let summary = &bot.printed_containing(Kind::Summary, "Job #1")[0];
    assert!(!summary.contains("Not asked for"), "{summary}");
}

#[test]
fn with_webhooks_a_request_in_flight_at_a_crash_is_found_by_its_delivery_after_the_restart() {
    use image_builder::target::JobId;
    use support::bot::{wire_with, TempDir};
    let sim_runtime = tokio::runtime::Runtime::new().unwrap();
    let sim = sim_runtime.block_on(support::simulator());
    let dir = TempDir::new("inflight");
    // The bot's address stays the same across the restart, as a deployment's URL does.
    let address = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().to_string()
    };
    {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let wired = wire_with(&sim, &dir.0, 1, with_webhooks());
            let url = support::hooks::listen_at(&sim, wired.engine.clone(), &address).await;
            install(&sim, &url).await;
            // Launchpad takes the request and the process dies before the answer comes.
            sim.inject(
                Some("POST requestBuilds"),
                Fault::Delay(Duration::from_secs(30)),
                1,
            );
            wired.say("alice", "rebuild 20.04 arm64 redis").await;
            let started = std::time::Instant::now();
            while sim.with_world(|world| world.requests.is_empty()) {
                assert!(started.elapsed() < Duration::from_secs(10));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
    }
    // Ten seconds later, the next process.
    sim.advance(Duration::from_secs(10));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let printed = runtime.block_on(async {
        let wired = wire_with(&sim, &dir.0, 1000, with_webhooks());
        support::hooks::listen_at(&sim, wired.engine.clone(), &address).await;
        wired.engine.resume().await.unwrap();
        let store = wired.engine.store().clone();
        support::bot::run_until(&sim, "job 1 ends", || {
            store.job(JobId(1)).unwrap().unwrap().is_finished()
        })
        .await;
        wired.engine.wait_idle().await;
        wired.console.transcript()
    });
    drop(runtime);
    let job = image_builder::store::Store::open(&dir.0)
        .unwrap()
        .job(JobId(1))
        .unwrap()
        .unwrap();
    assert_eq!(
        job.tally().succeeded,
        1,
        "the lost request's build, followed: {printed:#?}"
    );
    assert_eq!(
        made(&sim),
        (1, 4),
        "one request, its four builds: nothing built twice"
    );
    assert_eq!(sim.requests("POST requestBuilds"), 1, "never asked again");
}

/// `lib/lp/oci/model/ocirecipe.py:635-639`: `requestBuilds` by someone outside the recipes'
/// owning team is 401. `build` stops at the first: the requests still waiting in the client are
/// never sent (one in flight at a time here, so none was out with it), and it exits 3, with or
/// without `--wait`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_for_the_owning_team_stops_build_at_once_with_or_without_wait() {
    let sim = support::simulator().await;
    let dir = support::bot::TempDir::new("owner-401");
    let config = dir.0.join("config.toml");
    let text = image_builder::config::BUILT_IN
        .replace("https://api.launchpad.net/devel/", &sim.api_root())
        .replace("max_concurrent_requests = 8", "max_concurrent_requests = 1");
    std::fs::write(&config, text).unwrap();
    let credentials = dir.0.join("credentials");
    sim.credentials_for("outsider").save(&credentials).unwrap();
    for (run, wait) in [(1, false), (2, true)] {
        let (config, credentials, data) = (
            config.clone(),
            credentials.clone(),
            dir.0.join(format!("data-{run}")),
        );
        let output = tokio::task::spawn_blocking(move || {
            let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_image-builder"));
            command.args(["build", "--series", "20.04"]);
            if wait {
                command.arg("--wait");
            }
            command
                .arg("--config")
                .arg(&config)
                .arg("--credentials")
                .arg(&credentials)
                .arg("--data-dir")
                .arg(&data)
                .args(["--", "redis", "postgres", "mysql"])
                .env("NO_COLOR", "1")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let out = String::from_utf8_lossy(&output.stdout);
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(3), "wait: {wait}\n{out}{err}");
        assert!(
            out.contains("outsider, who is not in ubuntu-docker-images"),
            "said in plain words: {out}"
        );
        assert_eq!(
            sim.requests("POST requestBuilds"),
            run,
            "nothing requested after the first 401 (wait: {wait})"
        );
    }
    assert!(
        sim.with_world(|world| world.requests.is_empty()),
        "nothing built"
    );
}
