//! How the engine paces itself: its settings, made from the config's values (or by a test).

use std::time::Duration;

use crate::config::Config;
use crate::jobs::{Rules, Typical};

/// How the engine paces itself.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The state machine's timings and budgets.
    pub rules: Rules,
    /// The least time between two edits of one board: chat services rate-limit edits.
    pub board_interval: Duration,
    /// How long a job may run before the engine gives up on it.
    pub give_up_after: Duration,
    /// How long an ended job is kept in the store (for `status`, `jobs`) before [`Engine::resume`]
    /// compacts it away, with the alerting records as old.
    pub keep_finished: Duration,
    /// A channel that also gets every failed-upload alert and every summary (Discord's
    /// `alerts_channel`), besides the job's own; alerts of builds no job follows go only there.
    pub alerts_channel: Option<String>,
    /// How old a board message may get before the board moves to a new one (Discord refuses
    /// edits of messages older than an hour); `None` for chats without such a limit.
    pub board_max_age: Option<Duration>,
    /// Failed uploads of builds nobody asked the bot for, arriving within this time of the
    /// first, are grouped into one alert that is edited as it grows.
    pub alert_group_window: Duration,
    /// Launchpad's web root, for links to builds whose entry cannot be read.
    pub web_root: Option<String>,
    /// The configured hooks ([`crate::hooks`]).
    pub hooks: crate::hooks::Hooks,
    /// The catalogue's recipes, to name builds no job follows in the history.
    pub recipes: crate::history::Recipes,
    /// How long the history keeps a build ([`crate::history`]).
    pub keep_history: Duration,
}

impl Default for EngineSettings {
    /// Boards edited at most every 2 s; jobs given up after 12 hours (a mass rebuild on a busy
    /// Launchpad takes a few).
    fn default() -> EngineSettings {
        EngineSettings {
            rules: Rules::default(),
            board_interval: Duration::from_secs(2),
            give_up_after: Duration::from_secs(12 * 3600),
            keep_finished: Duration::from_secs(30 * 24 * 3600),
            alerts_channel: None,
            board_max_age: None,
            alert_group_window: Duration::from_secs(10 * 60),
            web_root: None,
            hooks: crate::hooks::Hooks::new(),
            recipes: crate::history::Recipes::new(),
            keep_history: Duration::from_secs(365 * 24 * 3600),
        }
    }
}

/// No wait of the engine shrinks below this, however fast a simulator's clock runs.
const SHORTEST_WAIT: Duration = Duration::from_millis(20);

/// `wait` at a simulator's `speed` (1 for Launchpad), no shorter than [`SHORTEST_WAIT`].
fn scaled(wait: Duration, speed: f64) -> Duration {
    wait.div_f64(speed.max(1.0)).max(SHORTEST_WAIT)
}

impl EngineSettings {
    /// The engine's settings from the config's values, with simulated time running `speed`
    /// times faster than real time (1 for Launchpad), and Launchpad's web root for links.
    /// Waits shrink with the speed; board edits do not, since chat rate limits are real. No
    /// wait shrinks below 20 ms.
    pub fn from_config(config: &Config, speed: f64) -> EngineSettings {
        let engine = &config.engine;
        let scaled = |seconds: u64| scaled(Duration::from_secs(seconds), speed);
        EngineSettings {
            rules: Rules {
                poll_min: scaled(engine.poll_min_seconds),
                poll_max: scaled(engine.poll_max_seconds),
                request_retry: scaled(60),
                upload_retry_budget: engine.upload_retry_budget,
                upload_retry_delay: scaled(engine.upload_retry_delay_seconds),
                // Set where a webhook listener runs ([`EngineSettings::with_webhooks`]).
                request_grace: None,
                queued_grace: None,
                pushed: false,
                typical: Typical {
                    request: Duration::from_secs(engine.typical_request_seconds),
                    queue: Duration::from_secs(engine.typical_queue_seconds),
                    build: Duration::from_secs(engine.typical_build_seconds),
                    upload: Duration::from_secs(engine.typical_upload_seconds),
                    ..Typical::default()
                }
                .scaled(speed, SHORTEST_WAIT),
            },
            board_interval: Duration::from_secs(engine.board_edit_interval_seconds),
            give_up_after: scaled(engine.give_up_after_hours * 3600),
            keep_finished: Duration::from_secs(engine.keep_finished_jobs_days * 24 * 3600),
            alerts_channel: None,
            board_max_age: None,
            alert_group_window: Duration::from_secs(engine.alert_group_minutes * 60)
                .div_f64(speed.max(1.0)),
            web_root: Some(config.launchpad.web_root.clone()),
            hooks: config.hooks.clone(),
            recipes: crate::history::recipes(&config.catalogue),
            keep_history: Duration::from_secs(engine.history_keep_days * 24 * 3600),
        }
    }

    /// [`EngineSettings::from_config`] for a process that webhook deliveries reach: a lost
    /// request and a skipped architecture wait for word of their builds, and deliveries, not
    /// polls, decide when a build is read.
    pub fn with_webhooks(config: &Config, speed: f64) -> EngineSettings {
        let engine = &config.engine;
        let scaled = |seconds: u64| scaled(Duration::from_secs(seconds), speed);
        let mut settings = EngineSettings::from_config(config, speed);
        settings.rules.request_grace = Some(scaled(engine.request_grace_seconds));
        settings.rules.queued_grace = Some(scaled(engine.queued_grace_minutes * 60));
        settings.rules.pushed = true;
        settings
    }
}
