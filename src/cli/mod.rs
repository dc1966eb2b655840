//! The command line: clap's definitions and what each subcommand does. `build` hands its
//! arguments to the chat grammar's parser, so the terminal and the chat accept and refuse
//! exactly the same rebuilds, with the same words.
//!
//! The environment is read here and in clap's `env` attributes, nowhere else.

mod act;
mod build;
mod check;
mod follow;
mod jobs;
mod json;
mod login;
mod manual;
mod run;
mod sandbox;
mod shell;
mod sim;
mod webhooks;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use act::{CancelArgs, LogArgs, MuteArgs, RetryArgs, RetryKind, UnmuteArgs};
pub use build::BuildArgs;
pub use check::CheckArgs;
pub use follow::exit_code;
pub use jobs::{HistoryArgs, JobsArgs, StatusArgs, WaitArgs};
pub use login::LoginArgs;
pub use manual::{CompletionsArgs, ManArgs};
pub use run::{RunArgs, STOP_GRACE};
pub use sandbox::SandboxArgs;
pub use sim::SimArgs;
pub use webhooks::WebhooksArgs;

use crate::chat::terminal::{Rendered, Style};
use crate::config::{Config, ConfigError, BUILT_IN_NAME};
use crate::secret::Secret;

/// The environment variable with the webhook secret (`run`'s listener checks deliveries with
/// it; `webhooks install` registers it).
const SECRET_ENV: &str = "WEBHOOK_SECRET";

/// The secret in the environment variable `variable`, trimmed, if it is set and not blank.
fn env_secret(variable: &str) -> Option<Secret> {
    std::env::var(variable)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .map(|value| Secret::new(value.trim()))
}

/// Rebuild the Ubuntu OCI images on Launchpad, follow the builds, and report failed uploads.
#[derive(Debug, Parser)]
#[command(name = "image-builder", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Subcommands,
}

impl Cli {
    /// The async runtime the command runs on. `build` and `wait` follow jobs from a terminal
    /// or a script, with no chat to answer: one thread does it all, and it spends about a
    /// fifth less CPU per Launchpad request than a pool of workers, which wake each other
    /// and hand the store's saves to blocking threads (docs/benchmarks.md, "The whole `build --wait`
    /// process"). A flush then waits on that thread, which has nothing else to do meanwhile.
    /// The bot (`run`, `sandbox`), the simulator and the rest run on a multi-threaded
    /// runtime, where the store's flushes never hold up an answer to someone else.
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        match self.command {
            Subcommands::Build(_) | Subcommands::Wait(_) => {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            }
            _ => tokio::runtime::Runtime::new(),
        }
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Subcommands {
    /// The bot in this terminal against the built-in Launchpad simulator: no account needed
    /// (it prints the dashboard's URL).
    Sandbox(SandboxArgs),
    /// The bot on the configured chat (Discord or Mattermost), against the configured Launchpad,
    /// with the dashboard on web.listen (DASHBOARD_TOKEN when not on loopback).
    Run(RunArgs),
    /// Rebuild images: every image, series and architecture unless narrowed down.
    Build(BuildArgs),
    /// Follow unfinished jobs in the store to their end (after `build` without --wait, or a
    /// crash), with progress bars.
    Wait(WaitArgs),
    /// Show a job's board, or every unfinished job, from the store.
    Status(StatusArgs),
    /// Cancel a job's builds that have not finished, and follow the job to its end.
    Cancel(CancelArgs),
    /// Retry a job's failed uploads or builds (and follow the job to its end), or every
    /// failed upload an alert told of.
    Retry(RetryArgs),
    /// Show the log excerpts of a job's failed builds.
    Log(LogArgs),
    /// Silence failed-upload alerts (of one image, or all) for a while.
    Mute(MuteArgs),
    /// End every mute now.
    Unmute(UnmuteArgs),
    /// List the recent jobs in the store.
    Jobs(JobsArgs),
    /// What was built when: every rebuild, newest first, with who asked and each build's
    /// outcome and upload (kept engine.history_keep_days, a year by default).
    History(HistoryArgs),
    /// Check the config file; exits non-zero naming the file and key of any problem. With
    /// --online, also check that every recipe exists on Launchpad.
    CheckConfig(CheckArgs),
    /// Authorize image-builder on Launchpad and save the credentials (mode 0600).
    Login(LoginArgs),
    /// Run the built-in Launchpad simulator on its own, for scripts and launchpadlib.
    Sim(SimArgs),
    /// Register (install) or show (list) the bot's webhook on every recipe.
    Webhooks(WebhooksArgs),
    /// Print the shell completion script for bash, zsh, fish, elvish or powershell.
    Completions(CompletionsArgs),
    /// Print the manual page, or write one per command to a directory.
    Man(ManArgs),
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

/// Why a subcommand did not do what it was asked: the words for the user and the exit code.
/// Each subcommand returns [`Outcome`] and uses `?`; [`run`] writes the words, once.
#[derive(Debug)]
pub enum Failure {
    /// The command line asks for something that cannot be (exit 2): the words say what.
    Usage(String),
    /// The work could not be done, for the reason given (exit 1).
    Failed(String),
    /// An error from below (IO, the store, Launchpad), said with its causes (exit 1).
    Error(anyhow::Error),
}

/// How a subcommand ended: the exit code of work done (a job's outcome, a check's), or why
/// it could not be done.
pub type Outcome = Result<ExitCode, Failure>;

impl Failure {
    /// A usage error: `what` says what is wrong with the command line.
    pub fn usage(what: impl std::fmt::Display) -> Failure {
        Failure::Usage(what.to_string())
    }

    /// A failure: `why` says why the work could not be done.
    pub fn failed(why: impl std::fmt::Display) -> Failure {
        Failure::Failed(why.to_string())
    }

    /// The process's exit code.
    pub fn code(&self) -> ExitCode {
        match self {
            Failure::Usage(_) => ExitCode::from(USAGE_ERROR),
            Failure::Failed(_) | Failure::Error(_) => ExitCode::FAILURE,
        }
    }

    /// Whether the reader of our output went away (`| head`): not a failure worth a word.
    fn is_broken_pipe(&self) -> bool {
        let Failure::Error(error) = self else {
            return false;
        };
        error.chain().any(|cause| {
            cause
                .downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        })
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Usage(words) | Failure::Failed(words) => f.write_str(words),
            Failure::Error(error) => write!(f, "error: {error:#}"),
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure::Error(error.into())
    }
}

/// Runs a parsed command line, writing results to `out` and problems to `err`; returns the
/// exit code. Messages are Markdown, written once for the chats: here they are rendered for a
/// terminal in `styles` ([`Styles::of_std`] for the process's own streams). Completions and
/// manual pages are written as they are.
pub async fn run(cli: Cli, out: &mut impl Write, err: &mut impl Write, styles: Styles) -> ExitCode {
    let mut err = Rendered::new(err, styles.err);
    let outcome = match cli.command {
        Subcommands::Completions(args) => manual::completions(&args, out),
        Subcommands::Man(args) => manual::man(&args, out),
        // JSON is written as it is: rendering Markdown would change the strings in it.
        command if command.prints_json() => {
            let outcome = run_subcommand(command, out, &mut err).await;
            flushed(outcome, out)
        }
        command => {
            let mut out = Rendered::new(&mut *out, styles.out);
            let outcome = run_subcommand(command, &mut out, &mut err).await;
            flushed(outcome, &mut out)
        }
    };
    match outcome {
        Ok(code) => code,
        Err(failure) if failure.is_broken_pipe() => ExitCode::SUCCESS,
        Err(failure) => {
            tracing::debug!(?failure, "ended");
            let _ = writeln!(err, "{failure}");
            failure.code()
        }
    }
}

/// The outcome, once `out` is flushed: a last line without its newline, and a closed pipe told
/// as one.
fn flushed(outcome: Outcome, out: &mut impl Write) -> Outcome {
    match (outcome, out.flush()) {
        (Ok(_), Err(error)) => Err(Failure::from(error)),
        (outcome, _) => outcome,
    }
}

impl Subcommands {
    /// Whether it was asked for JSON (`--json`).
    fn prints_json(&self) -> bool {
        match self {
            Subcommands::Build(args) => args.json,
            Subcommands::Wait(args) => args.json,
            Subcommands::Status(args) => args.json,
            Subcommands::Jobs(args) => args.json,
            Subcommands::History(args) => args.json,
            _ => false,
        }
    }
}

/// How standard output and standard error show messages.
#[derive(Debug, Clone, Copy)]
pub struct Styles {
    /// Standard output's.
    pub out: Style,
    /// Standard error's.
    pub err: Style,
}

impl Styles {
    /// Each stream's own: colour on a terminal (unless `NO_COLOR`), plain text elsewhere.
    pub fn of_std() -> Styles {
        Styles {
            out: Style::of(&std::io::stdout()),
            err: Style::of(&std::io::stderr()),
        }
    }
}

/// The subcommands that print messages.
async fn run_subcommand(
    command: Subcommands,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Outcome {
    match command {
        Subcommands::CheckConfig(args) => check::run(&args, out, err).await,
        Subcommands::Build(args) => build::run(&args, out).await,
        Subcommands::Login(args) => login::run(&args, out).await,
        Subcommands::Sim(args) => sim::run(&args, out).await,
        Subcommands::Webhooks(args) => webhooks::run(&args, out).await,
        Subcommands::Sandbox(args) => sandbox::run(&args).await,
        Subcommands::Run(args) => run::run(&args).await,
        Subcommands::Wait(args) => jobs::wait(&args, out).await,
        Subcommands::Status(args) => jobs::status(&args, out, err),
        Subcommands::Cancel(args) => act::cancel(&args, out).await,
        Subcommands::Retry(args) => act::retry(&args, out).await,
        Subcommands::Log(args) => act::log(&args, out, err),
        Subcommands::Mute(args) => act::mute(&args, out).await,
        Subcommands::Unmute(args) => act::unmute(&args, out).await,
        Subcommands::Jobs(args) => jobs::list(&args, out, err),
        Subcommands::History(args) => jobs::history(&args, out, err),
        Subcommands::Completions(_) | Subcommands::Man(_) => {
            unreachable!("completions and manual pages are written as they are, by run")
        }
    }
}

/// The config named by `--config`, or the built-in one; with the name errors use.
fn load_config(args: &ConfigArgs) -> (String, Result<Config, ConfigError>) {
    match &args.config {
        Some(path) => (path.display().to_string(), Config::load(path)),
        None => (BUILT_IN_NAME.to_string(), Config::built_in()),
    }
}

/// The config, or why it is unusable (the error names the file and key).
fn config(args: &ConfigArgs) -> Result<Config, Failure> {
    load_config(args).1.map_err(Failure::failed)
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
