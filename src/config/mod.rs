//! The configuration file: its TOML shape, every key documented, unknown keys rejected, and the
//! checks that turn it into a [`Config`] the rest of the crate can trust. A bad config stops the
//! program at start-up with the file and the key named; nothing downstream re-checks it.
//!
//! `config/default.toml` is the team's real catalogue and the reference for every key. It is also
//! compiled into the binary, so `image-builder` works from any directory without `--config`.
//! Secrets never live here: tokens come from the environment and the credentials file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

pub use crate::plan::Confirmation;

mod catalogue;
mod chat;
mod engine;
mod launchpad;

use catalogue::{validate_catalogue, CatalogueFile, ImageFile};
use chat::validate_chat;
pub use chat::{
    is_mattermost_id, ChatConfig, DiscordConfig, MattermostConfig, MetricsConfig, WebConfig,
    WebhookConfig,
};
use engine::{validate_confirmation, validate_engine};
pub use engine::{ConsoleConfig, EngineConfig};
use launchpad::validate_launchpad;
pub use launchpad::Launchpad;

use crate::catalogue::Catalogue;
use crate::permissions::{Policy, Rule};
use crate::target::ImageName;

/// `config/default.toml`, as compiled in; used when no `--config` is given.
pub const BUILT_IN: &str = include_str!("../../config/default.toml");

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
    /// The dashboard.
    pub web: WebConfig,
    /// Commands a successful job may run after it (`[hooks.NAME]`).
    pub hooks: crate::hooks::Hooks,
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
    web: WebConfig,
    #[serde(default)]
    hooks: crate::hooks::Hooks,
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
        validate_confirmation(&confirmation)?;
        let permissions = Policy {
            read: self.permissions.read,
            build: self.permissions.build,
            mass_rebuild: self.permissions.mass_rebuild,
        };
        let engine = self.engine;
        validate_engine(&engine)?;
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
            web: self.web,
            hooks: self.hooks,
        })
    }
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

/// `key` must be an http(s) URL.
fn check_http_url(key: &str, url: &str) -> Result<(), Problem> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(problem(key, format!("`{url}` is not an http(s) URL")))
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
