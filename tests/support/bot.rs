//! A bot wired to the simulator and the console adapter, for end-to-end tests: say things as a
//! user, step the simulator's clock, read what the bot printed.

use std::path::PathBuf;
use std::time::Duration;

use image_builder::bot::Bot;
use image_builder::chat::console::{Console, Printed};
use image_builder::chat::{Incoming, Kind};
use image_builder::config::Config;
use image_builder::engine::{Engine, EngineSettings};
use image_builder::jobs::{Job, Rules, Typical};
use image_builder::launchpad::sim::scenario::{Outcome, Scenario};
use image_builder::launchpad::sim::Simulator;
use image_builder::launchpad::Client;
use image_builder::permissions::{Rule, User};
use image_builder::store::Store;
use image_builder::target::JobId;

/// Engine timings for tests: real milliseconds where Launchpad takes minutes.
pub fn quick_engine() -> EngineSettings {
    EngineSettings {
        rules: Rules {
            poll_min: Duration::from_millis(5),
            poll_max: Duration::from_millis(20),
            request_retry: Duration::from_millis(10),
            upload_retry_budget: 3,
            upload_retry_delay: Duration::from_millis(10),
            request_grace: None,
            queued_grace: None,
            pushed: false,
            typical: Typical {
                request: Duration::from_millis(5),
                queue: Duration::from_millis(10),
                build: Duration::from_millis(10),
                upload: Duration::from_millis(10),
                shortest_build: Duration::from_millis(20),
            },
        },
        board_interval: Duration::from_millis(10),
        give_up_after: Duration::from_secs(600),
        keep_finished: Duration::from_secs(3600),
        alerts_channel: None,
        board_max_age: None,
        alert_group_window: Duration::from_secs(600),
        web_root: None,
        hooks: Default::default(),
        recipes: image_builder::history::recipes(&super::config().catalogue),
        keep_history: Duration::from_secs(365 * 24 * 3600),
    }
}

/// The real catalogue, with alice (build, mass-rebuild), bob (build, by role) and carol (read).
pub fn team_config() -> Config {
    let mut config = super::config();
    config.permissions.build = Rule {
        users: ["alice".to_string()].into(),
        roles: ["builders".to_string()].into(),
        ..Rule::default()
    };
    config.permissions.mass_rebuild = Rule {
        users: ["alice".to_string()].into(),
        ..Rule::default()
    };
    config
}

/// A user as the chat adapter would describe them.
pub fn user(name: &str) -> User {
    let roles = if name == "bob" {
        vec!["builders".to_string()]
    } else {
        Vec::new()
    };
    User {
        id: name.to_string(),
        roles,
        ..User::default()
    }
}

/// A temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh one, named for the test.
    pub fn new(name: &str) -> TempDir {
        // Numbered too: tests of one binary run at once, and two can read the same instant.
        static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "ib-{name}-{}-{}-{}",
            std::process::id(),
            MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The bot, the engine, the console and a store on `dir`, against `sim`.
pub struct Wired {
    /// The bot.
    pub bot: Bot<Console>,
    /// Its engine.
    pub engine: Engine<Console>,
    /// What it printed.
    pub console: Console,
}

/// Wires a bot to `sim` with its store in `dir`; console ids start at `first_id`.
pub fn wire(sim: &Simulator, dir: &std::path::Path, first_id: u64) -> Wired {
    wire_with(sim, dir, first_id, quick_engine())
}

/// [`wire`], with these engine settings.
pub fn wire_with(
    sim: &Simulator,
    dir: &std::path::Path,
    first_id: u64,
    settings: EngineSettings,
) -> Wired {
    wire_console(
        sim,
        dir,
        Console::with_first_id(std::io::sink(), first_id),
        settings,
    )
}

/// [`wire`], with this console and these engine settings.
pub fn wire_console(
    sim: &Simulator,
    dir: &std::path::Path,
    console: Console,
    settings: EngineSettings,
) -> Wired {
    wire_client(dir, console, settings, super::client_settings(sim))
}

/// [`wire`], with this console, these engine settings and these client settings (whose API
/// root the bot's jobs use).
pub fn wire_client(
    dir: &std::path::Path,
    console: Console,
    settings: EngineSettings,
    client: image_builder::launchpad::ClientSettings,
) -> Wired {
    wire_config(dir, console, settings, client, team_config())
}

/// [`wire_client`], with this config.
pub fn wire_config(
    dir: &std::path::Path,
    console: Console,
    settings: EngineSettings,
    client: image_builder::launchpad::ClientSettings,
    config: Config,
) -> Wired {
    let store = Store::open(dir).expect("the store opens");
    let api_root = client.api_root.clone();
    let client = Client::new(client).unwrap();
    let engine = Engine::new(client, store, console.clone(), settings);
    let bot = Bot::new(config, api_root, engine.clone(), console.clone());
    Wired {
        bot,
        engine,
        console,
    }
}

impl Wired {
    /// `user_name` says `text` in the team's channel; returns the answer.
    pub async fn say(&self, user_name: &str, text: &str) -> String {
        self.bot
            .handle(Incoming {
                user: user(user_name),
                channel: "team".into(),
                text: text.into(),
            })
            .await
    }
}

/// A bot against a fresh simulator with these outcomes.
pub struct TestBot {
    /// The simulator.
    pub sim: Simulator,
    /// The bot and its parts.
    pub wired: Wired,
    /// Where the store is.
    pub dir: TempDir,
}

impl TestBot {
    /// Starts a simulator (with `outcomes`) and a bot on it.
    pub async fn start(outcomes: Vec<Outcome>) -> TestBot {
        TestBot::start_with(outcomes, quick_engine()).await
    }

    /// [`TestBot::start`], with these engine settings.
    pub async fn start_with(outcomes: Vec<Outcome>, settings: EngineSettings) -> TestBot {
        let scenario = Scenario {
            outcomes,
            ..Scenario::default()
        };
        TestBot::start_scenario(scenario, settings, usize::MAX).await
    }

    /// A bot against a fresh simulator playing `scenario`, its console reporting a message
    /// length limit of `limit` as a chat service would.
    pub async fn start_scenario(
        scenario: Scenario,
        settings: EngineSettings,
        limit: usize,
    ) -> TestBot {
        let sim = super::simulator_with(|sim| sim.scenario = scenario).await;
        let dir = TempDir::new("bot");
        let console = Console::with_first_id(std::io::sink(), 1).with_limit(limit);
        let wired = wire_console(&sim, &dir.0, console, settings);
        TestBot { sim, wired, dir }
    }

    /// A bot against a fresh simulator playing `scenario`, its client's settings adjusted
    /// first.
    pub async fn start_client(
        scenario: Scenario,
        settings: EngineSettings,
        adjust: impl FnOnce(&Simulator, &mut image_builder::launchpad::ClientSettings),
    ) -> TestBot {
        let sim = super::simulator_with(|sim| sim.scenario = scenario).await;
        let dir = TempDir::new("bot");
        let mut client = super::client_settings(&sim);
        adjust(&sim, &mut client);
        let console = Console::with_first_id(std::io::sink(), 1);
        let wired = wire_client(&dir.0, console, settings, client);
        TestBot { sim, wired, dir }
    }

    /// A bot against a fresh simulator, with this config.
    pub async fn start_config(config: Config) -> TestBot {
        TestBot::start_config_scenario(config, Scenario::default()).await
    }

    /// A bot against a fresh simulator playing `scenario`, with this config.
    pub async fn start_config_scenario(config: Config, scenario: Scenario) -> TestBot {
        let sim = super::simulator_with(|sim| sim.scenario = scenario).await;
        let dir = TempDir::new("bot");
        let console = Console::with_first_id(std::io::sink(), 1);
        let client = super::client_settings(&sim);
        // The engine runs the config's hooks, as `EngineSettings::from_config` makes it.
        let settings = EngineSettings {
            hooks: config.hooks.clone(),
            ..quick_engine()
        };
        let wired = wire_config(&dir.0, console, settings, client, config);
        TestBot { sim, wired, dir }
    }

    /// `user` says `text`; returns the answer.
    pub async fn say(&self, user_name: &str, text: &str) -> String {
        self.wired.say(user_name, text).await
    }

    /// A job from the store.
    pub fn job(&self, id: u64) -> Job {
        self.wired
            .engine
            .store()
            .job(JobId(id))
            .unwrap()
            .expect("the job exists")
    }

    /// Steps the simulated clock (20 simulated seconds per few real milliseconds) until `done`
    /// holds; panics after 30 real seconds, naming what was awaited.
    pub async fn run_until(&self, what: &str, done: impl Fn(&TestBot) -> bool) {
        let started = std::time::Instant::now();
        while !done(self) {
            if started.elapsed() > Duration::from_secs(30) {
                let jobs = self.wired.engine.store().jobs().unwrap();
                panic!(
                    "not reached in 30 s: {what}\nrunning drivers: {}\njobs: {jobs:#?}",
                    self.wired.engine.running()
                );
            }
            self.sim.advance(Duration::from_secs(20));
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    }

    /// Every message printed so far.
    pub fn printed(&self) -> Vec<Printed> {
        self.wired.console.transcript()
    }

    /// The texts of the printed messages of `kind` that contain `needle`.
    pub fn printed_containing(&self, kind: Kind, needle: &str) -> Vec<String> {
        self.printed()
            .into_iter()
            .filter(|p| p.kind == kind && p.text.contains(needle))
            .map(|p| p.text)
            .collect()
    }
}

/// Job `id` ended and exactly one summary of it was printed: for [`TestBot::run_until`].
pub fn summarised(id: u64) -> impl Fn(&TestBot) -> bool {
    move |bot| {
        bot.wired
            .engine
            .store()
            .job(JobId(id))
            .unwrap()
            .is_some_and(|job| job.is_finished())
            && bot
                .printed_containing(Kind::Summary, &format!("Job #{id} "))
                .len()
                == 1
    }
}

/// Steps `sim` until `done` holds (see [`TestBot::run_until`]).
pub async fn run_until(sim: &Simulator, what: &str, done: impl Fn() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not reached in 30 s: {what}"
        );
        sim.advance(Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
}
