//! A 60-recipe mass rebuild against the simulator with 100 ms of latency on every Launchpad
//! request, at in-flight limits 1 and 8: wall time, and Launchpad requests per job against the
//! least the job could cost. Run with `cargo bench --bench mass_rebuild`; the README has figures.
//!
//! The simulator's clock runs at about 100x (1 simulated second every 10 ms), so a build takes
//! 3 to 18 s and the engine must request, cancel and follow 60 of them while every answer takes
//! 100 ms: at one request in flight that pipeline, not the builds, sets the pace.

use std::time::{Duration, Instant};

use image_builder::chat::console::Console;
use image_builder::command::{Images, Rebuild};
use image_builder::config::Config;
use image_builder::jobs::{Engine, EngineSettings, Job, Rules};
use image_builder::launchpad::sim::scenario::{FaultRates, Scenario};
use image_builder::launchpad::sim::{SimSettings, Simulator};
use image_builder::launchpad::{Client, ClientSettings};
use image_builder::plan::plan;
use image_builder::store::Store;
use image_builder::target::JobId;

/// 15 images × 4 series = 60 recipes.
fn catalogue_config() -> Config {
    let mut text = String::from(
        "[launchpad]\napi_root = \"https://api.launchpad.net/devel/\"\nweb_root = \"https://launchpad.net/\"\n\
         owner = \"bench\"\npillar = \"bench\"\n\n[catalogue]\narchitectures = [\"amd64\", \"arm64\", \"ppc64el\", \"s390x\"]\n\
         [catalogue.series]\n\"20.04\" = \"focal\"\n\"21.04\" = \"hirsute\"\n\"22.04\" = \"jammy\"\n\"24.04\" = \"noble\"\n",
    );
    for n in 1..=15 {
        text.push_str(&format!(
            "\n[images.image{n:02}]\ntracks = {{ \"20.04\" = \"1.0\", \"21.04\" = \"1.0\", \"22.04\" = \"1.0\", \"24.04\" = \"1.0\" }}\n"
        ));
    }
    Config::parse(&text, "bench").expect("the bench catalogue is valid")
}

struct Run {
    wall: Duration,
    requests: u64,
    counts: std::collections::BTreeMap<String, u64>,
}

async fn run(limit: usize) -> Run {
    let config = catalogue_config();
    let mut settings = SimSettings::new(config.catalogue.clone());
    settings.scenario = Scenario {
        faults: FaultRates {
            latency_ms: 100,
            ..FaultRates::default()
        },
        ..Scenario::default()
    };
    let sim = Simulator::start(settings).await.unwrap();
    let mut client_settings = ClientSettings::new(sim.api_root());
    client_settings.credentials = Some(sim.credentials());
    client_settings.max_concurrent_requests = limit;
    let client = Client::new(client_settings).unwrap();
    let store = Store::temporary().unwrap();
    let engine = Engine::new(
        client,
        store.clone(),
        Console::new(std::io::sink()),
        EngineSettings {
            rules: Rules {
                poll_min: Duration::from_millis(200),
                poll_max: Duration::from_secs(2),
                request_retry: Duration::from_millis(200),
                upload_retry_budget: 3,
                upload_retry_delay: Duration::from_millis(200),
                request_grace: None,
                queued_grace: None,
            },
            board_interval: Duration::from_secs(2),
            give_up_after: Duration::from_secs(3600),
            keep_finished: Duration::from_secs(3600),
            alerts_channel: None,
            board_max_age: None,
            alert_group_window: Duration::from_secs(600),
            web_root: None,
        },
    );
    // `rebuild arm64 all`: 60 recipes, one build each; the other three arches are cancelled.
    let rebuild = Rebuild {
        series: vec![],
        arches: vec!["arm64".parse().unwrap()],
        images: Images::All,
        auto_retry_uploads: false,
        wait: false,
        dry_run: false,
        reason: None,
    };
    let plan = plan(&rebuild, &config.catalogue).unwrap();
    assert_eq!(plan.targets.len(), 60);
    let now = chrono::Utc::now();
    let job = Job::new(
        JobId(1),
        "bench",
        "bench",
        &rebuild.to_string(),
        &plan,
        &sim.api_root(),
        false,
        None,
        now,
        now + chrono::Duration::hours(1),
    );
    store.put_job(&job).unwrap();
    let started = Instant::now();
    engine.start(job);
    loop {
        let job = store.job(JobId(1)).unwrap().unwrap();
        if job.is_finished() && engine.running() == 0 {
            assert_eq!(job.tally().succeeded, 60, "{:?}", job.tally());
            break;
        }
        sim.advance(Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let wall = started.elapsed();
    let counts = sim.request_counts();
    Run {
        wall,
        requests: counts.values().sum(),
        counts,
    }
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // Per recipe at the least: 1 POST requestBuilds, 1 GET of the request once completed, 1 GET
    // of its builds, 3 POST cancel (the arches not asked for, while they can be), and 1 GET per
    // state of the wanted build that the engine sees: at least 1 (only the end), at most 5
    // (queued, building, gathering, processing, uploading, uploaded: one GET per change).
    let minimum = "7-11";
    println!("60-recipe mass rebuild (arm64 of 60 recipes), 100 ms per Launchpad request");
    println!(
        "{:>9} {:>10} {:>10} {:>13} {:>10}",
        "in flight", "wall (s)", "requests", "per recipe", "minimum"
    );
    for limit in [1, 8] {
        let run = runtime.block_on(run(limit));
        println!(
            "{limit:>9} {:>10.1} {:>10} {:>13.1} {:>10}",
            run.wall.as_secs_f64(),
            run.requests,
            run.requests as f64 / 60.0,
            minimum,
        );
        eprintln!("  requests by operation at {limit}: {:?}", run.counts);
    }
}
