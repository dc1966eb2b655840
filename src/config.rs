//! The configuration file: its TOML shape, every key documented, unknown keys rejected, and the
//! checks that turn it into a [`Config`] the rest of the crate can trust. A bad config stops the
//! program at start-up with the file and the key named; nothing downstream re-checks it.
//!
//! `config/default.toml` is the team's real catalogue and the reference for every key. It is also
//! compiled into the binary, so `image-builder` works from any directory without `--config`.
//! Secrets never live here: tokens come from the environment and the credentials file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde::Deserialize;

pub use crate::plan::Confirmation;

use crate::catalogue::{render_recipe_name, Catalogue, Image, RecipePath, SeriesInfo, Track};
use crate::permissions::{Policy, Rule, Service};
use crate::target::{Arch, ImageName, Series};

/// `config/default.toml`, as compiled in; used when no `--config` is given.
pub const BUILT_IN: &str = include_str!("../config/default.toml");

/// What the built-in config is called in error messages.
pub const BUILT_IN_NAME: &str = "built-in config/default.toml";

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Where Launchpad is.
    pub launchpad: Launchpad,
    /// What may be built.
    pub catalogue: Catalogue,
    /// Who may do what.
    pub permissions: Policy,
    /// When a plan needs confirmation.
    pub confirmation: Confirmation,
    /// How the engine paces jobs.
    pub engine: EngineConfig,
    /// The console adapter (sandbox).
    pub console: ConsoleConfig,
    /// Which chat `image-builder run` serves.
    pub chat: ChatConfig,
    /// The Discord adapter (`image-builder run`).
    pub discord: DiscordConfig,
    /// The Mattermost adapter (`image-builder run` with `chat.service = "mattermost"`).
    pub mattermost: MattermostConfig,
    /// The webhook listener.
    pub webhook: WebhookConfig,
    /// Health and metrics.
    pub metrics: MetricsConfig,
    /// Commands a successful job may run after it (`[hooks.NAME]`).
    pub hooks: crate::hooks::Hooks,
}

/// Where `run` serves `GET /healthz` and `GET /metrics` (`[metrics]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// The address; loopback by default, since these say how the bot is doing to whoever may
    /// know. `run` warns and goes on without them if it cannot listen there.
    #[serde(default = "default_metrics_listen")]
    pub listen: std::net::SocketAddr,
}

fn default_metrics_listen() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 9091))
}

impl Default for MetricsConfig {
    fn default() -> MetricsConfig {
        MetricsConfig {
            listen: default_metrics_listen(),
        }
    }
}

/// The webhook listener (`[webhook]`). Its secret is not here: it comes from `WEBHOOK_SECRET`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where `run` listens for Launchpad's deliveries (`0.0.0.0:8090`); off unless set.
    #[serde(default)]
    pub listen: Option<std::net::SocketAddr>,
    /// The URL Launchpad delivers to, as `webhooks install` registers it
    /// (`https://bot.example.com/launchpad/webhook`).
    #[serde(default)]
    pub public_url: Option<String>,
}

/// The Discord adapter (`[discord]`). The token is not here: it comes from `DISCORD_TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// What a text command starts with, besides a mention of the bot. Empty: mentions only.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// A Discord-compatible server to talk to instead of Discord, such as the tests' fake
    /// (`http://127.0.0.1:PORT`). For testing only: it turns serenity's rate limiter off.
    #[serde(default)]
    pub api_base: Option<String>,
    /// The guild (server) id whose slash commands the bot registers at start. Without it they
    /// are registered globally, which Discord takes up to an hour to show.
    #[serde(default)]
    pub guild_id: Option<u64>,
    /// A channel id that also gets every failed-upload alert and every job summary.
    #[serde(default)]
    pub alerts_channel: Option<u64>,
}

fn default_prefix() -> String {
    "!".to_string()
}

impl Default for DiscordConfig {
    fn default() -> DiscordConfig {
        DiscordConfig {
            prefix: default_prefix(),
            api_base: None,
            guild_id: None,
            alerts_channel: None,
        }
    }
}

/// Which chat `run` serves (`[chat]`): one process per chat.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    /// `"discord"` (the default) or `"mattermost"`.
    #[serde(default = "default_service")]
    pub service: Service,
}

fn default_service() -> Service {
    Service::Discord
}

impl Default for ChatConfig {
    fn default() -> ChatConfig {
        ChatConfig {
            service: default_service(),
        }
    }
}

/// The Mattermost adapter (`[mattermost]`). The bot account's token is not here: it comes from
/// `MATTERMOST_TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MattermostConfig {
    /// The server (`https://chat.example.com`): REST under `/api/v4`, the WebSocket beside it.
    #[serde(default)]
    pub url: Option<String>,
    /// The team's id (26 characters) whose channels the bot serves: messages from other teams
    /// are ignored; direct messages are served.
    #[serde(default)]
    pub team: Option<String>,
    /// Channel ids the bot answers in (besides direct messages). Empty: every channel of the
    /// team it is a member of.
    #[serde(default)]
    pub channels: Vec<String>,
    /// A channel id that also gets every failed-upload alert and every job summary.
    #[serde(default)]
    pub alerts_channel: Option<String>,
    /// What a command starts with, besides an @-mention of the bot. Empty: mentions only.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// The bot's listener (`webhook.listen`) as the Mattermost server reaches it
    /// (`https://bot.example.com`): buttons' clicks go to `/mattermost/action` there. Without
    /// it, messages say the commands their buttons would stand for.
    #[serde(default)]
    pub callback_url: Option<String>,
}

impl Default for MattermostConfig {
    fn default() -> MattermostConfig {
        MattermostConfig {
            url: None,
            team: None,
            channels: Vec::new(),
            alerts_channel: None,
            prefix: default_prefix(),
            callback_url: None,
        }
    }
}

impl MattermostConfig {
    /// The channels named, each with its key: those served, then the alerts channel.
    pub fn channel_ids(&self) -> impl Iterator<Item = (&'static str, &String)> {
        let served = self.channels.iter().map(|id| ("mattermost.channels", id));
        let alerts = self.alerts_channel.iter();
        served.chain(alerts.map(|id| ("mattermost.alerts_channel", id)))
    }
}

/// `key` must be an http(s) URL.
fn check_http_url(key: &str, url: &str) -> Result<(), Problem> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(problem(key, format!("`{url}` is not an http(s) URL")))
    }
}

/// Whether `id` has the shape of a Mattermost id: 26 lower-case letters and digits.
pub fn is_mattermost_id(id: &str) -> bool {
    id.len() == 26
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn validate_chat(
    chat: &ChatConfig,
    mattermost: &mut MattermostConfig,
    webhook: &WebhookConfig,
) -> Result<(), Problem> {
    if let Some(url) = &mattermost.callback_url {
        check_http_url("mattermost.callback_url", url)?;
        if webhook.listen.is_none() {
            return Err(problem(
                "mattermost.callback_url",
                "clicks arrive on the bot's listener, so set webhook.listen too",
            ));
        }
    }
    if let Some(url) = &mut mattermost.url {
        check_http_url("mattermost.url", url)?;
        while url.ends_with('/') {
            url.pop();
        }
    } else if chat.service == Service::Mattermost {
        return Err(problem(
            "mattermost.url",
            "chat.service is \"mattermost\", so say where the server is (`https://chat.example.com`)",
        ));
    }
    let team = mattermost.team.iter().map(|id| ("mattermost.team", id));
    for (key, id) in team.chain(mattermost.channel_ids()) {
        if !is_mattermost_id(id) {
            return Err(problem(
                key,
                format!("`{id}` is not a Mattermost id (26 lower-case letters and digits; a channel's is under View Info)"),
            ));
        }
    }
    Ok(())
}

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

/// Where Launchpad is, and whose recipes the bot drives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Launchpad {
    /// The web service root, with its version: `https://api.launchpad.net/devel/`. OCI recipes
    /// exist only in the `devel` version of the API.
    pub api_root: String,
    /// The web site root, for links people click and for the OAuth pages `login` opens:
    /// `https://launchpad.net/`.
    pub web_root: String,
    /// The team that owns the recipes (`~OWNER` in a recipe path).
    pub owner: String,
    /// The project or distribution the images are OCI projects of.
    pub pillar: String,
    /// The recipe name of an image × series, from `{image}`, `{track}` and `{series}`. An image
    /// may override it (`images.NAME.recipe_name_template`), an image × series may name its
    /// recipe outright (`images.NAME.recipe_names`).
    #[serde(default = "default_recipe_name_template")]
    pub recipe_name_template: String,
    /// The credentials file `image-builder login` writes and the bot reads (launchpadlib's
    /// format, mode 0600). Default: `$XDG_CONFIG_HOME/image-builder/launchpad-credentials`, or
    /// `~/.config/image-builder/launchpad-credentials`. Without the file the bot reads
    /// anonymously and cannot build.
    #[serde(default)]
    pub credentials_file: Option<std::path::PathBuf>,
    /// Launchpad requests in flight at once, across every job. Launchpad is shared by everyone;
    /// eight keeps a mass rebuild quick without hammering it.
    #[serde(default = "default_max_concurrent_requests")]
    pub max_concurrent_requests: usize,
    /// How long one request may take, in seconds, before it counts as failed.
    #[serde(default = "default_request_timeout_seconds")]
    pub request_timeout_seconds: u64,
    /// Attempts per request for what may be retried (5xx, timeouts), the first included.
    #[serde(default = "default_retry_attempts")]
    pub retry_attempts: u32,
    /// How long one request may go on retrying, in seconds, before its error is reported.
    #[serde(default = "default_retry_total_seconds")]
    pub retry_total_seconds: u64,
}

fn default_recipe_name_template() -> String {
    "{image}-{track}-{series}".to_string()
}
fn default_max_concurrent_requests() -> usize {
    8
}
fn default_request_timeout_seconds() -> u64 {
    30
}
fn default_retry_attempts() -> u32 {
    5
}
fn default_retry_total_seconds() -> u64 {
    120
}

impl Launchpad {
    /// The client settings these keys describe, with `credentials` (`None`: anonymous).
    pub fn client_settings(
        &self,
        credentials: Option<crate::launchpad::auth::Credentials>,
    ) -> crate::launchpad::ClientSettings {
        let mut settings = crate::launchpad::ClientSettings::new(self.api_root.clone());
        settings.credentials = credentials;
        settings.max_concurrent_requests = self.max_concurrent_requests;
        settings.request_timeout = std::time::Duration::from_secs(self.request_timeout_seconds);
        settings.retry.max_attempts = self.retry_attempts;
        settings.retry.total = std::time::Duration::from_secs(self.retry_total_seconds);
        settings
    }
}

/// The file as written; [`ConfigFile::validate`] turns it into a [`Config`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    launchpad: Launchpad,
    catalogue: CatalogueFile,
    images: BTreeMap<ImageName, ImageFile>,
    #[serde(default)]
    permissions: PermissionsFile,
    #[serde(default)]
    confirmation: Confirmation,
    #[serde(default)]
    engine: EngineConfig,
    #[serde(default)]
    console: ConsoleConfig,
    #[serde(default)]
    chat: ChatConfig,
    #[serde(default)]
    discord: DiscordConfig,
    #[serde(default)]
    mattermost: MattermostConfig,
    #[serde(default)]
    webhook: WebhookConfig,
    #[serde(default)]
    metrics: MetricsConfig,
    #[serde(default)]
    hooks: crate::hooks::Hooks,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    architectures: Vec<Arch>,
    series: BTreeMap<Series, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImageFile {
    tracks: BTreeMap<Series, String>,
    #[serde(default)]
    architectures: Option<Vec<Arch>>,
    #[serde(default)]
    recipe_name_template: Option<String>,
    #[serde(default)]
    recipe_names: BTreeMap<Series, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PermissionsFile {
    #[serde(default = "everyone")]
    read: Rule,
    #[serde(default)]
    build: Rule,
    #[serde(default, rename = "mass-rebuild")]
    mass_rebuild: Rule,
}

fn everyone() -> Rule {
    Rule {
        everyone: true,
        ..Rule::default()
    }
}

/// A config that cannot be used, naming the file and what is wrong where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct ConfigError {
    /// The file's path, or [`BUILT_IN_NAME`].
    pub file: String,
    /// What is wrong, starting with the key.
    pub problem: String,
}

/// A semantic problem at a key, before the file name is known.
struct Problem {
    key: String,
    what: String,
}

fn problem(key: impl fmt::Display, what: impl fmt::Display) -> Problem {
    Problem {
        key: key.to_string(),
        what: what.to_string(),
    }
}

impl Config {
    /// The chat grammar's words: the catalogue's series, architectures and images, and the
    /// configured hooks' names.
    pub fn vocabulary(&self) -> crate::command::Vocabulary {
        crate::command::Vocabulary::of(&self.catalogue)
            .with_hooks(self.hooks.keys().cloned().collect())
    }

    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|err| ConfigError {
            file: file.clone(),
            problem: format!("cannot read it: {err}"),
        })?;
        Config::parse(&text, &file)
    }

    /// The compiled-in `config/default.toml`.
    pub fn built_in() -> Result<Config, ConfigError> {
        Config::parse(BUILT_IN, BUILT_IN_NAME)
    }

    /// Parses and validates TOML text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
        let raw: ConfigFile = toml::from_str(text).map_err(|err| ConfigError {
            file: file.to_string(),
            problem: err.to_string().trim_end().to_string(),
        })?;
        raw.validate().map_err(|Problem { key, what }| ConfigError {
            file: file.to_string(),
            problem: format!("`{key}`: {what}"),
        })
    }
}

impl ConfigFile {
    fn validate(self) -> Result<Config, Problem> {
        crate::hooks::validate(&self.hooks).map_err(|(key, what)| problem(key, what))?;
        let launchpad = validate_launchpad(self.launchpad)?;
        let mut mattermost = self.mattermost;
        validate_chat(&self.chat, &mut mattermost, &self.webhook)?;
        let catalogue = validate_catalogue(&launchpad, self.catalogue, self.images)?;
        let confirmation = self.confirmation;
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
        let permissions = Policy {
            read: self.permissions.read,
            build: self.permissions.build,
            mass_rebuild: self.permissions.mass_rebuild,
        };
        let engine = self.engine;
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
            (
                "confirmation.code_valid_minutes",
                confirmation.code_valid_minutes,
                24 * 60,
            ),
        ] {
            at_most(key, value, most)?;
        }
        Ok(Config {
            launchpad,
            catalogue,
            permissions,
            confirmation,
            engine,
            console: self.console,
            chat: self.chat,
            discord: self.discord,
            mattermost,
            webhook: self.webhook,
            metrics: self.metrics,
            hooks: self.hooks,
        })
    }
}

/// A Launchpad name: lower-case letters and digits, then also `-`, `.`, `+`.
fn check_name(key: impl fmt::Display, value: &str) -> Result<(), Problem> {
    match value.parse::<ImageName>() {
        Ok(_) => Ok(()),
        Err(_) => Err(problem(
            key,
            format!(
                "`{value}` is not a Launchpad name (lower-case letters, digits, `-`, `.`, `+`)"
            ),
        )),
    }
}

fn validate_launchpad(mut launchpad: Launchpad) -> Result<Launchpad, Problem> {
    for (key, url) in [
        ("launchpad.api_root", &mut launchpad.api_root),
        ("launchpad.web_root", &mut launchpad.web_root),
    ] {
        check_http_url(key, url)?;
        // OAuth PLAINTEXT sends the token secret in every request: only over TLS, or to
        // this machine (the simulator, a local proxy).
        if url.starts_with("http://") && !is_loopback_url(url) {
            return Err(problem(
                key,
                format!("`{url}` is plain http: credentials would cross the network in clear; use https (http only for 127.0.0.1, ::1 or localhost)"),
            ));
        }
        // Recipe paths are joined onto the roots, so each root ends in exactly one slash.
        if !url.ends_with('/') {
            url.push('/');
        }
    }
    for (key, value) in [
        (
            "launchpad.max_concurrent_requests",
            launchpad.max_concurrent_requests as u64,
        ),
        (
            "launchpad.request_timeout_seconds",
            launchpad.request_timeout_seconds,
        ),
        (
            "launchpad.retry_attempts",
            u64::from(launchpad.retry_attempts),
        ),
        (
            "launchpad.retry_total_seconds",
            launchpad.retry_total_seconds,
        ),
    ] {
        if value == 0 {
            return Err(problem(key, "must be at least 1"));
        }
    }
    for (key, value, most) in [
        (
            "launchpad.max_concurrent_requests",
            launchpad.max_concurrent_requests as u64,
            256,
        ),
        (
            "launchpad.request_timeout_seconds",
            launchpad.request_timeout_seconds,
            600,
        ),
        (
            "launchpad.retry_attempts",
            u64::from(launchpad.retry_attempts),
            100,
        ),
        (
            "launchpad.retry_total_seconds",
            launchpad.retry_total_seconds,
            3600,
        ),
    ] {
        at_most(key, value, most)?;
    }
    check_name("launchpad.owner", &launchpad.owner)?;
    check_name("launchpad.pillar", &launchpad.pillar)?;
    Ok(launchpad)
}

/// A value above its upper bound is refused, naming the bound.
fn at_most(key: &str, value: u64, most: u64) -> Result<(), Problem> {
    if value > most {
        return Err(problem(
            key,
            format!("{value} is more than {most}, the most it may be"),
        ));
    }
    Ok(())
}

/// Whether an http(s) URL's host is this machine.
fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn validate_catalogue(
    launchpad: &Launchpad,
    file: CatalogueFile,
    images: BTreeMap<ImageName, ImageFile>,
) -> Result<Catalogue, Problem> {
    if file.architectures.is_empty() {
        return Err(problem("catalogue.architectures", "lists no architecture"));
    }
    if file.series.is_empty() {
        return Err(problem("catalogue.series", "lists no series"));
    }
    if images.is_empty() {
        return Err(problem("images", "lists no image"));
    }
    // Series, code names, architectures and images share one command line, told apart only by
    // the vocabulary, so a word may mean one thing at most.
    let mut words: BTreeMap<String, String> = BTreeMap::new();
    let mut claim = |word: String, key: String| match words.insert(word.clone(), key.clone()) {
        None => Ok(()),
        Some(earlier) => Err(problem(
            key,
            format!(
                "`{word}` is already used by `{earlier}`; a word in a command must mean one thing"
            ),
        )),
    };
    claim("all".into(), "the word `all` (every image)".into())?;
    let mut series = Vec::new();
    for (version, codename) in file.series {
        let key = format!("catalogue.series.\"{version}\"");
        if codename.is_empty() || !codename.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(problem(
                &key,
                format!("code name `{codename}` must be lower-case letters"),
            ));
        }
        claim(version.to_string(), key.clone())?;
        claim(codename.clone(), key)?;
        series.push(SeriesInfo {
            series: version,
            codename,
        });
    }
    for arch in &file.architectures {
        claim(arch.to_string(), "catalogue.architectures".into())?;
    }
    let known_series: BTreeSet<Series> = series.iter().map(|info| info.series).collect();
    let mut checked = Vec::new();
    for (name, image) in images {
        claim(name.to_string(), format!("images.{name}"))?;
        checked.push(validate_image(
            launchpad,
            &file.architectures,
            &known_series,
            name,
            image,
        )?);
    }
    Ok(Catalogue {
        series,
        arches: file.architectures,
        images: checked,
    })
}

fn validate_image(
    launchpad: &Launchpad,
    all_arches: &[Arch],
    known_series: &BTreeSet<Series>,
    name: ImageName,
    file: ImageFile,
) -> Result<Image, Problem> {
    let key = format!("images.{name}");
    if file.tracks.is_empty() {
        return Err(problem(format!("{key}.tracks"), "lists no series"));
    }
    let arches = match file.architectures {
        None => all_arches.to_vec(),
        Some(arches) if arches.is_empty() => {
            return Err(problem(
                format!("{key}.architectures"),
                "lists no architecture",
            ))
        }
        Some(arches) => {
            if let Some(unknown) = arches.iter().find(|arch| !all_arches.contains(arch)) {
                return Err(problem(
                    format!("{key}.architectures"),
                    format!("`{unknown}` is not in catalogue.architectures"),
                ));
            }
            arches
        }
    };
    let template = file
        .recipe_name_template
        .as_deref()
        .unwrap_or(&launchpad.recipe_name_template);
    for series in file.recipe_names.keys() {
        if !file.tracks.contains_key(series) {
            return Err(problem(
                format!("{key}.recipe_names.\"{series}\""),
                format!("{name} has no track for {series} in {key}.tracks"),
            ));
        }
    }
    let mut tracks = Vec::new();
    let mut recipe_names = BTreeSet::new();
    for (series, track) in &file.tracks {
        let track_key = format!("{key}.tracks.\"{series}\"");
        if !known_series.contains(series) {
            return Err(problem(
                &track_key,
                "this series is not in catalogue.series",
            ));
        }
        check_name(&track_key, track)?;
        let recipe_name = match file.recipe_names.get(series) {
            Some(explicit) => explicit.clone(),
            None => render_recipe_name(template, &name, track, *series)
                .map_err(|what| problem(format!("{key}: recipe_name_template"), what))?,
        };
        check_name(format!("{key}: recipe name for {series}"), &recipe_name)?;
        if !recipe_names.insert(recipe_name.clone()) {
            return Err(problem(
                &track_key,
                format!("recipe name `{recipe_name}` is used for two series of {name}"),
            ));
        }
        tracks.push(Track {
            series: *series,
            track: track.clone(),
            recipe: RecipePath {
                owner: launchpad.owner.clone(),
                pillar: launchpad.pillar.clone(),
                project: name.clone(),
                name: recipe_name,
            },
        });
    }
    Ok(Image {
        name,
        arches,
        tracks,
    })
}
