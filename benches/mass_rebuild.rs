//! A 60-recipe mass rebuild (`arm64` of 60 recipes: 60 builds followed, 180 cancelled) against
//! the simulator with 100 ms of latency on every Launchpad answer, at 1 request in flight (a
//! sequential client, as a launchpadlib script is), 8 and 32, without and with webhooks, in one
//! run. Run with `cargo bench --bench mass_rebuild`; docs/benchmarks.md has the figures.
//!
//! For each: the time until every build is requested (the last `requestBuilds` answered)
//! against the least possible, ⌈60 / in flight⌉ × 100 ms; Launchpad requests per recipe over
//! the whole job against the least, 7 (1 `requestBuilds`, 1 read of the request, 1 of its
//! builds, 3 cancels, 1 read of the finished build); the engine's CPU time per request, per
//! recipe (the first rises as requests are saved: the work an answer leads to stays), and per
//! HTTP exchange (requests and webhook deliveries taken, each an exchange the engine handles);
//! and the wall time, which is mostly the simulated builds. Then what the least exchanges cost
//! on their own ([`floor`]): one read through the client and one signed delivery taken, in a
//! row, and what a recipe's requests and deliveries would cost at that rate with nothing done
//! between them.
//!
//! The simulator runs on its own runtime (threads named `sim`), its clock 100 times faster
//! than real time, so Launchpad's default timings (builds of 5 to 40 minutes) take 3 to 24 s;
//! the engine's rules are Launchpad's defaults at the same scale. The engine's CPU time is the
//! process's minus the simulator threads' ([`cpu_seconds`]).

mod common;

use std::time::{Duration, Instant};

use image_builder::chat::console::Console;
use image_builder::command::{Images, Rebuild};
use image_builder::config::Config;
use image_builder::engine::{Engine, EngineSettings};
use image_builder::jobs::{Job, Rules};
use image_builder::launchpad::models::OCI_BUILD_EVENT;
use image_builder::launchpad::sim::scenario::{FaultRates, Scenario};
use image_builder::launchpad::sim::{SimSettings, Simulator};
use image_builder::launchpad::{Client, ClientSettings};
use image_builder::plan::plan;
use image_builder::secret::Secret;
use image_builder::store::Store;
use image_builder::target::JobId;

/// How much faster than real time the simulator's clock runs.
const SPEED: f64 = 100.0;
/// Added to every Launchpad answer.
const LATENCY: Duration = Duration::from_millis(100);
const RECIPES: usize = 60;
/// The least requests a recipe's job can cost.
const LEAST_PER_RECIPE: f64 = 7.0;
/// The webhooks' secret.
const SECRET: &str = "bench";

/// 15 images × 4 series = 60 recipes.
fn catalogue_config() -> Config {
    Config::parse(&common::catalogue_text(""), "bench").expect("the bench catalogue is valid")
}

/// The engine's rules: Launchpad's defaults, at the simulator's speed.
fn scaled_rules(webhooks: bool) -> Rules {
    let defaults = Rules::default();
    let scale = |duration: Duration| duration.div_f64(SPEED);
    Rules {
        poll_min: scale(defaults.poll_min),
        poll_max: scale(defaults.poll_max),
        request_retry: scale(defaults.request_retry),
        upload_retry_budget: defaults.upload_retry_budget,
        upload_retry_delay: scale(defaults.upload_retry_delay),
        request_grace: webhooks.then(|| scale(Duration::from_secs(120))),
        queued_grace: webhooks.then(|| scale(Duration::from_secs(30 * 60))),
        pushed: webhooks,
        typical: defaults.typical.scaled(SPEED, Duration::ZERO),
    }
}

/// CPU time (user and system) of this process and of its simulator threads, in seconds, to the
/// microsecond: the process's from `CLOCK_PROCESS_CPUTIME_ID` (which counts threads that have
/// ended), the simulator's from each of its threads' `se.sum_exec_runtime` (Linux `/proc`,
/// nanoseconds). (`/proc`'s `stat` counts in ticks of 10 ms, rounded per thread: a fifth of
/// what is measured.)
fn cpu_seconds() -> (f64, f64) {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    let process = time.tv_sec as f64 + time.tv_nsec as f64 / 1e9;
    let mut sim = 0.0;
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
            if !comm.starts_with("sim") {
                continue;
            }
            let sched = std::fs::read_to_string(task.path().join("sched")).unwrap_or_default();
            let ms = sched
                .lines()
                .find(|line| line.starts_with("se.sum_exec_runtime"))
                .and_then(|line| line.split(':').nth(1))
                .and_then(|value| value.trim().parse::<f64>().ok())
                .unwrap_or(0.0);
            sim += ms / 1000.0;
        }
    }
    (process, sim)
}

/// The engine's runtime: threads of its own (named `engine`), apart from the simulator's.
fn engine_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name("engine")
        .enable_all()
        .build()
        .unwrap()
}

/// Serves `engine`'s webhook listener on a port of its own, for the simulator at `api_root`;
/// returns the URL to deliver to.
async fn listen(engine: Engine<Console>, api_root: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}{}",
        listener.local_addr().unwrap(),
        image_builder::webhook::PATH
    );
    tokio::spawn(image_builder::webhook::serve(
        listener,
        Secret::new(SECRET),
        engine,
        api_root,
        image_builder::serve::Limits::default(),
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
        axum::Router::new(),
    ));
    url
}

struct Run {
    requested: Duration,
    wall: Duration,
    requests: u64,
    cpu: f64,
    counts: std::collections::BTreeMap<String, u64>,
    deliveries: usize,
}

fn run(sim_runtime: &tokio::runtime::Runtime, limit: usize, webhooks: bool) -> Run {
    let config = catalogue_config();
    let mut sim_settings = SimSettings::new(config.catalogue.clone());
    sim_settings.speed = Some(SPEED);
    sim_settings.scenario = Scenario {
        faults: FaultRates {
            latency_ms: LATENCY.as_millis() as u64,
            ..FaultRates::default()
        },
        ..Scenario::default()
    };
    let sim = sim_runtime
        .block_on(Simulator::start(sim_settings))
        .expect("the simulator starts");
    let engine_runtime = engine_runtime();
    let result = engine_runtime.block_on(async {
        let mut client_settings = ClientSettings::new(sim.api_root());
        client_settings.credentials = Some(sim.credentials());
        client_settings.max_concurrent_requests = limit;
        let client = Client::new(client_settings).unwrap();
        let store = Store::temporary().unwrap();
        let settings = EngineSettings {
            rules: scaled_rules(webhooks),
            // Chat rate limits are real: not scaled (as `EngineConfig::settings` does).
            board_interval: Duration::from_secs(2),
            give_up_after: Duration::from_secs(3600),
            ..EngineSettings::default()
        };
        let engine = Engine::new(
            client.clone(),
            store.clone(),
            Console::new(std::io::sink()),
            settings,
        );
        if webhooks {
            let url = listen(engine.clone(), sim.api_root()).await;
            for image in &config.catalogue.images {
                for track in &image.tracks {
                    client
                        .new_webhook(
                            &client.recipe_url(&track.recipe),
                            &url,
                            &[OCI_BUILD_EVENT],
                            Some(&Secret::new(SECRET)),
                        )
                        .await
                        .unwrap();
                }
            }
        }
        // `rebuild arm64 all`: 60 recipes, one build each; the other three arches are cancelled.
        let rebuild = Rebuild {
            series: vec![],
            arches: vec!["arm64".parse().unwrap()],
            images: Images::All,
            auto_retry_uploads: false,
            wait: false,
            dry_run: false,
            reason: None,
            then: Vec::new(),
        };
        let plan = plan(&rebuild, &config.catalogue).unwrap();
        assert_eq!(plan.targets.len(), RECIPES);
        let now = chrono::Utc::now();
        let job = Job::new(image_builder::jobs::NewJob {
            id: JobId(1),
            requester: "bench",
            channel: "bench",
            command: &rebuild.to_string(),
            plan: &plan,
            api_root: &sim.api_root(),
            auto_retry_uploads: false,
            reason: None,
            now,
            deadline: now + chrono::Duration::hours(1),
            hooks: Vec::new(),
        });
        store.put_job(&job).unwrap();
        let before = sim.request_counts();
        let (cpu_before, sim_before) = cpu_seconds();
        let started = Instant::now();
        engine.start(job);
        engine.wait_idle().await;
        let wall = started.elapsed();
        let (cpu_after, sim_after) = cpu_seconds();
        let job = store.job(JobId(1)).unwrap().unwrap();
        assert_eq!(job.tally().succeeded, RECIPES, "{:?}", job.tally());
        let mut counts = sim.request_counts();
        for (operation, count) in before {
            *counts.entry(operation).or_default() -= count;
        }
        counts.retain(|_, count| *count > 0);
        let requested = sim
            .last_answered("POST requestBuilds")
            .expect("builds were requested")
            .duration_since(started);
        Run {
            requested,
            wall,
            requests: counts.values().sum(),
            cpu: (cpu_after - cpu_before) - (sim_after - sim_before),
            counts,
            deliveries: sim.deliveries().len(),
        }
    });
    drop(engine_runtime);
    drop(sim);
    result
}

/// How many times each of the least exchanges is measured by [`floor`].
const FLOOR_EXCHANGES: u32 = 400;
/// How many deliveries [`floor`] sends alone, and how long after the last answer each.
const LONE_DELIVERIES: u32 = 100;
const LONE_GAP: Duration = Duration::from_millis(50);

/// What the least exchanges cost the engine on their own, in ms of CPU each, against the
/// simulator with no latency, [`FLOOR_EXCHANGES`] in a row: one read of a Launchpad entry
/// through the client (a recipe: HTTP, the OAuth signature, JSON) and one signed delivery taken
/// by the webhook listener (a ping: HTTP, the HMAC, JSON; the sender runs on the simulator's
/// threads). With them, what a recipe's job costs at the least, whatever the engine does
/// between its exchanges. Then the same delivery alone, [`LONE_GAP`] after the last answer,
/// nothing else running: what waking an idle process for one exchange costs (caches gone
/// cold, threads woken), as a delivery that comes on its own does in a job. Last, the engine's
/// runtime woken for nothing as often: a message from the simulator's threads to a task on the
/// engine's, which answers it; no socket, no HTTP, no engine code. What is left of a lone
/// delivery's cost above it is what our code and its HTTP stack cost run cold.
fn floor(sim_runtime: &tokio::runtime::Runtime) -> Floor {
    let config = catalogue_config();
    let sim = sim_runtime
        .block_on(Simulator::start(SimSettings::new(config.catalogue.clone())))
        .expect("the simulator starts");
    let engine_runtime = engine_runtime();
    let per_exchange = |(cpu_before, sim_before): (f64, f64), count: u32| {
        let (cpu_after, sim_after) = cpu_seconds();
        ((cpu_after - cpu_before) - (sim_after - sim_before)) * 1000.0 / f64::from(count)
    };
    let read = engine_runtime.block_on(async {
        let mut settings = ClientSettings::new(sim.api_root());
        settings.credentials = Some(sim.credentials());
        let client = Client::new(settings).unwrap();
        let recipe = &config.catalogue.images[0].tracks[0].recipe;
        let url = client.recipe_url(recipe);
        // The connection is made, and the allocator warmed, before anything is measured.
        for _ in 0..20 {
            client.recipe(&url).await.unwrap();
        }
        let before = cpu_seconds();
        for _ in 0..FLOOR_EXCHANGES {
            client.recipe(&url).await.unwrap();
        }
        per_exchange(before, FLOOR_EXCHANGES)
    });
    let url = engine_runtime.block_on(async {
        let client = Client::new(ClientSettings::new(sim.api_root())).unwrap();
        let engine = Engine::new(
            client,
            Store::temporary().unwrap(),
            Console::new(std::io::sink()),
            EngineSettings::default(),
        );
        listen(engine, sim.api_root()).await
    });
    let body = r#"{"ping": true}"#;
    let signature = image_builder::launchpad::sim::deliver::signature(SECRET, body.as_bytes());
    let send = move |count: u32, gap: Duration| {
        let (url, signature) = (url.clone(), signature.clone());
        async move {
            let http = reqwest::Client::new();
            for _ in 0..count {
                let answer = http
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .header("X-Launchpad-Event-Type", "ping")
                    .header("X-Hub-Signature", &signature)
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status(), 200);
                if !gap.is_zero() {
                    tokio::time::sleep(gap).await;
                }
            }
        }
    };
    // On the simulator's threads, so that only the listener's side is the engine's.
    sim_runtime
        .block_on(sim_runtime.spawn(send(20, Duration::ZERO)))
        .unwrap();
    let before = cpu_seconds();
    sim_runtime
        .block_on(sim_runtime.spawn(send(FLOOR_EXCHANGES, Duration::ZERO)))
        .unwrap();
    let delivery = per_exchange(before, FLOOR_EXCHANGES);
    let before = cpu_seconds();
    sim_runtime
        .block_on(sim_runtime.spawn(send(LONE_DELIVERIES, LONE_GAP)))
        .unwrap();
    let lone = per_exchange(before, LONE_DELIVERIES);
    let (ask, mut asked) = tokio::sync::mpsc::channel::<tokio::sync::oneshot::Sender<()>>(1);
    engine_runtime.spawn(async move {
        while let Some(answer) = asked.recv().await {
            let _ = answer.send(());
        }
    });
    let before = cpu_seconds();
    sim_runtime
        .block_on(sim_runtime.spawn(async move {
            for _ in 0..LONE_DELIVERIES {
                let (answer, answered) = tokio::sync::oneshot::channel();
                ask.send(answer).await.unwrap();
                answered.await.unwrap();
                tokio::time::sleep(LONE_GAP).await;
            }
        }))
        .unwrap();
    let wake = per_exchange(before, LONE_DELIVERIES);
    drop(engine_runtime);
    drop(sim);
    Floor {
        read,
        delivery,
        lone,
        wake,
    }
}

/// What [`floor`] measured, in ms of the engine's CPU each.
struct Floor {
    /// A read through the client, in a row.
    read: f64,
    /// A signed delivery taken, in a row.
    delivery: f64,
    /// The same delivery alone, [`LONE_GAP`] after the last.
    lone: f64,
    /// The engine's runtime woken for nothing, [`LONE_GAP`] after the last.
    wake: f64,
}

fn main() {
    let sim_runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("sim")
        .enable_all()
        .build()
        .unwrap();
    println!(
        "{RECIPES}-recipe mass rebuild (arm64 of each), {} ms per Launchpad answer, simulator at {SPEED}x",
        LATENCY.as_millis()
    );
    println!(
        "{:>9} {:>8} | {:>9} {:>9} {:>6} | {:>10} {:>6} {:>6} | {:>10} {:>10} {:>10} | {:>8}",
        "in flight",
        "webhooks",
        "requested",
        "least",
        "ratio",
        "per recipe",
        "least",
        "ratio",
        "CPU/req",
        "CPU/recipe",
        "CPU/exch",
        "wall"
    );
    let mut floor_inputs = Vec::new();
    // `IB_BENCH_ONLY=8/no` runs one row (for a profiler).
    let only = std::env::var("IB_BENCH_ONLY").ok();
    for webhooks in [false, true] {
        for limit in [1, 8, 32] {
            let row = format!("{limit}/{}", if webhooks { "yes" } else { "no" });
            if only.as_ref().is_some_and(|only| *only != row) {
                continue;
            }
            let run = run(&sim_runtime, limit, webhooks);
            let least = LATENCY.as_secs_f64() * RECIPES.div_ceil(limit) as f64;
            let per_recipe = run.requests as f64 / RECIPES as f64;
            println!(
                "{limit:>9} {:>8} | {:>8.2}s {:>8.2}s {:>6.2} | {:>10.1} {:>6.1} {:>6.2} | {:>8.2}ms {:>8.2}ms {:>8.2}ms | {:>7.1}s",
                if webhooks { "yes" } else { "no" },
                run.requested.as_secs_f64(),
                least,
                run.requested.as_secs_f64() / least,
                per_recipe,
                LEAST_PER_RECIPE,
                per_recipe / LEAST_PER_RECIPE,
                run.cpu * 1000.0 / run.requests as f64,
                run.cpu * 1000.0 / RECIPES as f64,
                run.cpu * 1000.0 / (run.requests as usize + run.deliveries) as f64,
                run.wall.as_secs_f64(),
            );
            eprintln!(
                "  requests by operation: {:?}; webhook deliveries taken: {}",
                run.counts, run.deliveries
            );
            floor_inputs.push((limit, webhooks, run.requests, run.deliveries));
        }
    }
    let Floor {
        read,
        delivery,
        lone,
        wake,
    } = floor(&sim_runtime);
    println!(
        "\nThe least exchanges alone, {FLOOR_EXCHANGES} of each in a row, no latency: a read through the client {read:.3} ms of CPU, a signed delivery taken {delivery:.3} ms; a delivery alone, {gap} ms after the last: {lone:.3} ms; the engine's runtime woken for nothing, {gap} ms after the last: {wake:.3} ms",
        gap = LONE_GAP.as_millis()
    );
    for (limit, webhooks, requests, deliveries) in floor_inputs {
        let cpu = read * requests as f64 + delivery * deliveries as f64;
        // What the deliveries would cost if each came on its own.
        let alone = if deliveries == 0 {
            String::new()
        } else {
            format!(
                "; the deliveries alone, each on its own, {:.2} ms per Launchpad request",
                lone * deliveries as f64 / requests as f64
            )
        };
        println!(
            "  {limit:>2} in flight, {} webhooks: {:.1} requests and {:.1} deliveries per recipe cost at least {:.2} ms per recipe, {:.2} ms per Launchpad request, with nothing done between them{alone}",
            if webhooks { "with" } else { "without" },
            requests as f64 / RECIPES as f64,
            deliveries as f64 / RECIPES as f64,
            cpu / RECIPES as f64,
            cpu / requests as f64,
        );
    }
}
