//! The command line: clap's definitions and what each subcommand does. `build` hands its
//! arguments to the chat grammar's parser, so the terminal and the chat accept and refuse
//! exactly the same rebuilds, with the same words.
//!
//! The environment is read here and in clap's `env` attributes, nowhere else.

mod build;
mod check;
mod follow;
mod jobs;
mod login;
mod run;
mod sandbox;
mod sim;
mod webhooks;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use build::BuildArgs;
pub use check::CheckArgs;
pub use jobs::{JobsArgs, StatusArgs, WaitArgs};
pub use login::LoginArgs;
pub use run::{RunArgs, STOP_GRACE};
pub use sandbox::SandboxArgs;
pub use sim::SimArgs;
pub use webhooks::WebhooksArgs;

use crate::config::{Config, ConfigError, BUILT_IN_NAME};

/// Rebuild the Ubuntu OCI images on Launchpad, follow the builds, and report failed uploads.
#[derive(Debug, Parser)]
#[command(name = "image-builder", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Subcommands,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Subcommands {
    /// The bot in this terminal against the built-in Launchpad simulator: no account needed.
    Sandbox(SandboxArgs),
    /// The bot on Discord (token in DISCORD_TOKEN), against the configured Launchpad.
    Run(RunArgs),
    /// Rebuild images: every image, series and architecture unless narrowed down.
    Build(BuildArgs),
    /// Follow unfinished jobs in the store to their end (after `build` without --wait, or a
    /// crash), with progress bars.
    Wait(WaitArgs),
    /// Show a job's board, or every unfinished job, from the store.
    Status(StatusArgs),
    /// List the recent jobs in the store.
    Jobs(JobsArgs),
    /// Check the config file; exits non-zero naming the file and key of any problem. With
    /// --online, also check that every recipe exists on Launchpad.
    CheckConfig(CheckArgs),
    /// Authorize image-builder on Launchpad and save the credentials (mode 0600).
    Login(LoginArgs),
    /// Run the built-in Launchpad simulator on its own, for scripts and launchpadlib.
    Sim(SimArgs),
    /// Register (install) or show (list) the bot's webhook on every recipe.
    Webhooks(WebhooksArgs),
}

/// Which config file to use.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The config file [default: the compiled-in copy of config/default.toml].
    #[arg(long, value_name = "FILE", env = "IMAGE_BUILDER_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

/// The exit code for a command the user got wrong (clap's own choice for usage errors).
const USAGE_ERROR: u8 = 2;

/// Runs a parsed command line, writing results to `out` and problems to `err`.
pub async fn run(cli: Cli, out: &mut impl Write, err: &mut impl Write) -> anyhow::Result<ExitCode> {
    match cli.command {
        Subcommands::CheckConfig(args) => check::run(&args, out, err).await,
        Subcommands::Build(args) => build::run(&args, out, err).await,
        Subcommands::Login(args) => login::run(&args, out, err).await,
        Subcommands::Sim(args) => sim::run(&args, out, err).await,
        Subcommands::Webhooks(args) => webhooks::run(&args, out, err).await,
        Subcommands::Sandbox(args) => sandbox::run(&args, err).await,
        Subcommands::Run(args) => run::run(&args, err).await,
        Subcommands::Wait(args) => jobs::wait(&args, out, err).await,
        Subcommands::Status(args) => jobs::status(&args, out, err),
        Subcommands::Jobs(args) => jobs::list(&args, out, err),
    }
}

/// The config named by `--config`, or the built-in one; with the name errors use.
fn load_config(args: &ConfigArgs) -> (String, Result<Config, ConfigError>) {
    match &args.config {
        Some(path) => (path.display().to_string(), Config::load(path)),
        None => (BUILT_IN_NAME.to_string(), Config::built_in()),
    }
}

/// The config, or the error written to `err` and the exit code to return.
fn config_or_exit(args: &ConfigArgs, err: &mut impl Write) -> Result<Config, ExitCode> {
    load_config(args).1.map_err(|error| {
        let _ = writeln!(err, "{error}");
        ExitCode::FAILURE
    })
}

/// Where the credentials file is: `--credentials`, else the config's
/// `launchpad.credentials_file`, else `$XDG_CONFIG_HOME/image-builder/launchpad-credentials`
/// (or `~/.config/...`).
fn credentials_path(flag: Option<&PathBuf>, config: &Config) -> PathBuf {
    if let Some(path) = flag.or(config.launchpad.credentials_file.as_ref()) {
        return path.clone();
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("image-builder").join("launchpad-credentials")
}
