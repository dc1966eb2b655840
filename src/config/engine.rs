//! The engine's timings ([`EngineConfig`]), the terminal's user ([`ConsoleConfig`]), and the checks
//! of both the timings and the confirmation thresholds.

use serde::Deserialize;

use super::{at_most, problem, Confirmation, Problem};

/// How the job engine paces itself (`[engine]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// The shortest wait between two looks at one build or build request, in seconds (the
    /// looks themselves follow the typical durations below).
    #[serde(default = "default_poll_min")]
    pub poll_min_seconds: u64,
    /// The longest, in seconds; with webhooks, also the safety net's margin.
    #[serde(default = "default_poll_max")]
    pub poll_max_seconds: u64,
    /// The least time between two edits of one status board, in seconds (chat services
    /// rate-limit edits).
    #[serde(default = "default_board_interval")]
    pub board_edit_interval_seconds: u64,
    /// A job still unfinished after this many hours is given up, with a message.
    #[serde(default = "default_give_up_hours")]
    pub give_up_after_hours: u64,
    /// Retry failed uploads of every job, as if each asked `--auto-retry-uploads`.
    #[serde(default)]
    pub auto_retry_uploads: bool,
    /// Auto-retries of one build's upload.
    #[serde(default = "default_upload_retry_budget")]
    pub upload_retry_budget: u32,
    /// The wait before the first auto-retry, in seconds; it doubles with each.
    #[serde(default = "default_upload_retry_delay")]
    pub upload_retry_delay_seconds: u64,
    /// Failed uploads of builds nobody asked for that arrive within this many minutes of the
    /// first are grouped into one alert, edited as it grows.
    #[serde(default = "default_alert_group_minutes")]
    pub alert_group_minutes: u64,
    /// Finished jobs are kept this many days (for `status`, `jobs`), then compacted away.
    #[serde(default = "default_keep_days")]
    pub keep_finished_jobs_days: u64,
    /// The history (what was built when, a record per build) is kept this many days.
    #[serde(default = "default_history_keep_days")]
    pub history_keep_days: u64,
    /// Where webhook deliveries reach the bot: after a `requestBuilds` whose answer was lost,
    /// how long to wait for a delivery naming the build request it made before asking again,
    /// in seconds. Launchpad makes a request's builds (and delivers) within a minute or so;
    /// asking again is safe only while the first request's builds are still queued.
    #[serde(default = "default_request_grace")]
    pub request_grace_seconds: u64,
    /// Where webhook deliveries reach the bot: how long to wait for a delivery naming the
    /// queued build of another request that made Launchpad skip an architecture asked for, in
    /// minutes (a queued build waits minutes for a builder).
    #[serde(default = "default_queued_grace")]
    pub queued_grace_minutes: u64,
    /// How long a build request typically takes to make its builds, in seconds: without
    /// webhooks it is read this long after it was sent.
    #[serde(default = "default_typical_request")]
    pub typical_request_seconds: u64,
    /// How long a build typically waits for a builder, in seconds: without webhooks a queued
    /// build is read when this is over, then every quarter of it while it overruns.
    #[serde(default = "default_typical_queue")]
    pub typical_queue_seconds: u64,
    /// How long a build typically builds, in seconds (the same way).
    #[serde(default = "default_typical_build")]
    pub typical_build_seconds: u64,
    /// How long a registry upload typically takes, in seconds (the same way).
    #[serde(default = "default_typical_upload")]
    pub typical_upload_seconds: u64,
    /// Where the job store lives. Default: `$XDG_STATE_HOME/image-builder`, else
    /// `~/.local/state/image-builder`.
    #[serde(default)]
    pub data_dir: Option<std::path::PathBuf>,
}

fn default_poll_min() -> u64 {
    15
}

fn default_poll_max() -> u64 {
    300
}

fn default_board_interval() -> u64 {
    2
}

fn default_give_up_hours() -> u64 {
    12
}

fn default_upload_retry_budget() -> u32 {
    3
}

fn default_upload_retry_delay() -> u64 {
    60
}

fn default_alert_group_minutes() -> u64 {
    10
}

fn default_history_keep_days() -> u64 {
    365
}

fn default_keep_days() -> u64 {
    30
}

fn default_request_grace() -> u64 {
    120
}

fn default_queued_grace() -> u64 {
    30
}

fn default_typical_request() -> u64 {
    30
}

fn default_typical_queue() -> u64 {
    300
}

fn default_typical_build() -> u64 {
    1200
}

fn default_typical_upload() -> u64 {
    300
}

impl Default for EngineConfig {
    fn default() -> EngineConfig {
        toml::from_str("").expect("every engine key has a default")
    }
}

/// The console adapter's user (`[console]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Who lines typed at the console come from.
    #[serde(default = "default_console_user")]
    pub user: String,
    /// The roles they have.
    #[serde(default)]
    pub roles: Vec<String>,
}

fn default_console_user() -> String {
    "you".to_string()
}

impl Default for ConsoleConfig {
    fn default() -> ConsoleConfig {
        ConsoleConfig {
            user: default_console_user(),
            roles: Vec::new(),
        }
    }
}

/// The confirmation thresholds: a mass rebuild is also a confirmed one, codes live at least a
/// minute and at most a day, and somebody can build.
pub(super) fn validate_confirmation(confirmation: &Confirmation) -> Result<(), Problem> {
    if confirmation.mass_rebuild_above_builds < confirmation.above_builds {
        return Err(problem(
            "confirmation.mass_rebuild_above_builds",
            "must not be below confirmation.above_builds: a mass rebuild is also confirmed",
        ));
    }
    if confirmation.code_valid_minutes == 0 {
        return Err(problem(
            "confirmation.code_valid_minutes",
            "must be at least 1",
        ));
    }
    if confirmation.builds_per_user_per_hour == 0 {
        return Err(problem(
            "confirmation.builds_per_user_per_hour",
            "must be at least 1: nobody could build",
        ));
    }
    at_most(
        "confirmation.code_valid_minutes",
        confirmation.code_valid_minutes,
        24 * 60,
    )
}

/// The engine's timings: none zero where zero would stall, none beyond what a team could mean.
pub(super) fn validate_engine(engine: &EngineConfig) -> Result<(), Problem> {
    for (key, value) in [
        ("engine.poll_min_seconds", engine.poll_min_seconds),
        ("engine.give_up_after_hours", engine.give_up_after_hours),
        (
            "engine.typical_request_seconds",
            engine.typical_request_seconds,
        ),
        ("engine.typical_queue_seconds", engine.typical_queue_seconds),
        ("engine.typical_build_seconds", engine.typical_build_seconds),
        (
            "engine.typical_upload_seconds",
            engine.typical_upload_seconds,
        ),
    ] {
        if value == 0 {
            return Err(problem(key, "must be at least 1"));
        }
    }
    if engine.poll_max_seconds < engine.poll_min_seconds {
        return Err(problem(
            "engine.poll_max_seconds",
            "must not be below engine.poll_min_seconds",
        ));
    }
    // Durations have upper bounds a team could mean: beyond them, a typo (and arithmetic
    // on instants that could overflow).
    const DAY: u64 = 24 * 3600;
    for (key, value, most) in [
        ("engine.poll_min_seconds", engine.poll_min_seconds, DAY),
        ("engine.poll_max_seconds", engine.poll_max_seconds, DAY),
        (
            "engine.board_edit_interval_seconds",
            engine.board_edit_interval_seconds,
            3600,
        ),
        (
            "engine.give_up_after_hours",
            engine.give_up_after_hours,
            30 * 24,
        ),
        (
            "engine.upload_retry_budget",
            u64::from(engine.upload_retry_budget),
            100,
        ),
        (
            "engine.upload_retry_delay_seconds",
            engine.upload_retry_delay_seconds,
            DAY,
        ),
        (
            "engine.alert_group_minutes",
            engine.alert_group_minutes,
            24 * 60,
        ),
        (
            "engine.keep_finished_jobs_days",
            engine.keep_finished_jobs_days,
            10 * 365,
        ),
        (
            "engine.history_keep_days",
            engine.history_keep_days,
            20 * 365,
        ),
        (
            "engine.request_grace_seconds",
            engine.request_grace_seconds,
            3600,
        ),
        (
            "engine.queued_grace_minutes",
            engine.queued_grace_minutes,
            24 * 60,
        ),
        (
            "engine.typical_request_seconds",
            engine.typical_request_seconds,
            DAY,
        ),
        (
            "engine.typical_queue_seconds",
            engine.typical_queue_seconds,
            DAY,
        ),
        (
            "engine.typical_build_seconds",
            engine.typical_build_seconds,
            DAY,
        ),
        (
            "engine.typical_upload_seconds",
            engine.typical_upload_seconds,
            DAY,
        ),
    ] {
        at_most(key, value, most)?;
    }
    Ok(())
}
