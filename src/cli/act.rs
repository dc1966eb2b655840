//! `image-builder cancel`, `retry`, `log`, `mute` and `unmute`: the chat's commands on a job
//! or on alerts, from a terminal. Their words are put together as the chat line they stand
//! for (`retry uploads 1` is `retry uploads #1`) and read by the chat's grammar, so both
//! front ends take the same words and give the same answers; what differs is what follows.
//! A chat's bot goes on driving the job; a terminal command that acts on a job (`cancel`,
//! `retry`) drives it to its end, as `wait` does, and exits with the job's exit code
//! (Ctrl-C leaves the rest to `image-builder wait JOB`).
//!
//! Each needs the store to itself: while the bot or a `build --wait` holds it, the command is
//! refused naming the holder (say it in the chat instead, or wait for the build).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use indicatif::MultiProgress;

use super::follow::{configured_client, data_dir, follow, open_store, open_store_to_read, pace_of};
use super::jobs::StoreArgs;
use super::{config, Failure, Outcome};
use crate::chat::terminal::Terminal;
use crate::command::{parse, Command};
use crate::config::Config;
use crate::engine::{Engine, EngineError, EngineSettings};
use crate::jobs::Control;
use crate::launchpad::Client;
use crate::messages::{self, alerts as alerts_say, jobs as say, Front};
use crate::target::JobId;

/// The channel a terminal's mutes and retried alerts are recorded for.
const TERMINAL_CHANNEL: &str = "terminal";

/// How long `log` may be: no limit on a terminal.
const NO_LIMIT: usize = usize::MAX;

/// `image-builder cancel`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  image-builder cancel 7\n  image-builder cancel '#7'")]
pub struct CancelArgs {
    /// The job, as `7` or `#7`.
    #[arg(value_name = "JOB")]
    pub job: JobId,
    /// The credentials file [default: as for login].
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// What `retry` retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RetryKind {
    /// A job's failed registry uploads.
    Uploads,
    /// A job's failed builds.
    Builds,
    /// Every failed upload an alert told of (by the alert's number).
    Alert,
}

/// `image-builder retry`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  image-builder retry uploads 7\n  image-builder retry builds '#7'\n  image-builder retry alert 3"
)]
pub struct RetryArgs {
    /// What to retry.
    #[arg(value_enum, value_name = "WHAT")]
    pub what: RetryKind,
    /// The job (`7` or `#7`), or for `alert`, the alert's number.
    #[arg(value_name = "NUMBER")]
    pub number: String,
    /// The credentials file [default: as for login].
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `image-builder log`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  image-builder log 7")]
pub struct LogArgs {
    /// The job, as `7` or `#7`.
    #[arg(value_name = "JOB")]
    pub job: JobId,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `image-builder mute`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  image-builder mute uploads redis 2h\n  image-builder mute uploads all 1d\n\nFailures are still recorded, and `image-builder status` shows them; the bot keeps the mute when it starts."
)]
pub struct MuteArgs {
    /// As in chat: `uploads IMAGE DURATION` or `uploads all DURATION` (45m, 2h, 1d ... up to 7d).
    #[arg(value_name = "WORDS", required = true)]
    pub words: Vec<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `image-builder unmute`.
#[derive(Debug, Args)]
pub struct UnmuteArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

/// The chat line `words` stand for, read by the chat's grammar; a usage error says what is
/// wrong in the terminal's words.
fn chat_command(words: &[&str], config: &Config) -> Result<Command, Failure> {
    parse(&words.join(" "), &config.vocabulary())
        .map_err(|error| Failure::usage(messages::parse_error(&error, Front::CommandLine)))
}

/// An engine on the terminal with the store of `store` to itself, and its progress bars.
/// `client` is the configured Launchpad's: with credentials for acting on builds, anonymous
/// for what only writes the store.
fn engine(
    config: &Config,
    store: &StoreArgs,
    client: Client,
    speed: f64,
) -> Result<(Engine<Terminal>, MultiProgress), Failure> {
    let store = open_store(&data_dir(store.data_dir.as_ref(), config))?;
    let bars = MultiProgress::new();
    let engine = Engine::new(
        client,
        store,
        Terminal::new(bars.clone()),
        EngineSettings::from_config(config, speed),
    );
    Ok((engine, bars))
}

/// `cancel JOB`.
pub async fn cancel(args: &CancelArgs, out: &mut impl Write) -> Outcome {
    let config = config(&args.store.config)?;
    let job = args.job.to_string();
    match chat_command(&["cancel", &job], &config)? {
        Command::Cancel { job } => {
            let credentials = args.credentials.as_ref();
            control_job(&config, &args.store, credentials, job, Control::Cancel, out).await
        }
        other => unreachable!("`cancel JOB` reads as {other}"),
    }
}

/// `retry uploads|builds JOB`, `retry alert N`.
pub async fn retry(args: &RetryArgs, out: &mut impl Write) -> Outcome {
    let config = config(&args.store.config)?;
    let what = match args.what {
        RetryKind::Uploads => "uploads",
        RetryKind::Builds => "builds",
        RetryKind::Alert => "alert",
    };
    let number = args.number.trim_start_matches('#');
    let number = if args.what == RetryKind::Alert {
        number.to_string()
    } else {
        format!("#{number}")
    };
    let credentials = args.credentials.as_ref();
    match chat_command(&["retry", what, &number], &config)? {
        Command::Retry { what, job } => {
            control_job(&config, &args.store, credentials, job, what.into(), out).await
        }
        Command::RetryAlert { alert } => {
            let client = configured_client(&config, credentials)?;
            let speed = pace_of(&client).await;
            let (engine, _bars) = engine(&config, &args.store, client, speed)?;
            let answer = engine.alerts().retry_group(alert, TERMINAL_CHANNEL).await;
            writeln!(out, "{answer}")?;
            Ok(ExitCode::SUCCESS)
        }
        other => unreachable!("`retry {what} {number}` reads as {other}"),
    }
}

/// Applies `control` to job `id` and follows the job to its end.
async fn control_job(
    config: &Config,
    store: &StoreArgs,
    credentials: Option<&PathBuf>,
    id: JobId,
    control: Control,
    out: &mut impl Write,
) -> Outcome {
    let client = configured_client(config, credentials)?;
    let speed = pace_of(&client).await;
    let (engine, bars) = engine(config, store, client, speed)?;
    let count = match engine.control(id, control).await {
        Ok(count) => count,
        Err(EngineError::NoSuchJob(id)) => {
            return Err(Failure::failed(say::no_such_job(id, Front::CommandLine)))
        }
        Err(error) => return Err(error.into()),
    };
    writeln!(out, "{}", say::controlled(id, control, count))?;
    let followed = follow(&engine, &bars, id).await?;
    writeln!(out, "{}", followed.report())?;
    Ok(ExitCode::from(followed.exit_code()))
}

/// `log JOB`: every failed build's log excerpt the job kept, whole.
pub fn log(args: &LogArgs, out: &mut impl Write, err: &mut impl Write) -> Outcome {
    let config = config(&args.store.config)?;
    let job = args.job.to_string();
    let Command::Log { job } = chat_command(&["log", &job], &config)? else {
        unreachable!("`log JOB` reads as log");
    };
    let store = open_store_to_read(&data_dir(args.store.data_dir.as_ref(), &config), err)?;
    match store.job(job)? {
        Some(found) => writeln!(out, "{}", say::logs(&found, NO_LIMIT))?,
        None => return Err(Failure::failed(say::no_such_job(job, Front::CommandLine))),
    }
    Ok(ExitCode::SUCCESS)
}

/// `mute uploads IMAGE|all DURATION`.
pub async fn mute(args: &MuteArgs, out: &mut impl Write) -> Outcome {
    let config = config(&args.store.config)?;
    let mut words = vec!["mute"];
    words.extend(args.words.iter().map(String::as_str));
    let Command::Mute { image, duration } = chat_command(&words, &config)? else {
        return Err(Failure::usage(format!(
            "`image-builder mute {}` is not a mute: see `image-builder mute --help`.",
            args.words.join(" ")
        )));
    };
    // Only the store is written: no Launchpad asked, its pace does not matter.
    let (engine, _bars) = engine(&config, &args.store, anonymous(&config)?, 1.0)?;
    let until = engine.mute(image.as_ref(), duration.as_duration(), TERMINAL_CHANNEL)?;
    writeln!(
        out,
        "{}",
        alerts_say::muted(image.as_ref(), duration, until)
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `unmute`: every mute ends.
pub async fn unmute(args: &UnmuteArgs, out: &mut impl Write) -> Outcome {
    let config = config(&args.store.config)?;
    let (engine, _bars) = engine(&config, &args.store, anonymous(&config)?, 1.0)?;
    let (ended, hidden) = engine.alerts().unmute()?;
    writeln!(out, "{}", alerts_say::unmuted(ended, &hidden))?;
    Ok(ExitCode::SUCCESS)
}

/// A client without credentials, for commands that only write the store.
fn anonymous(config: &Config) -> Result<Client, Failure> {
    Ok(Client::new(config.launchpad.client_settings(None))?)
}
