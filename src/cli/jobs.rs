//! `image-builder wait`, `status`, `jobs` and `history`: the job store from a terminal.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use indicatif::MultiProgress;

use super::follow::{
    configured_client, data_dir, follow, open_store, open_store_to_read, pace_of, terminal,
    Followed,
};
use super::json;
use super::{config, ConfigArgs, Failure, Outcome};
use crate::engine::Engine;
use crate::messages::jobs as say;
use crate::messages::Front;
use crate::target::JobId;

/// Where the store is.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The job store [default: engine.data_dir, else $XDG_STATE_HOME/image-builder].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

impl StoreArgs {
    /// The store these arguments name, to read (a copy, said on `err`, if another process
    /// holds it).
    fn open(&self, err: &mut impl Write) -> Result<crate::store::Store, Failure> {
        let config = config(&self.config)?;
        let dir = data_dir(self.data_dir.as_ref(), &config);
        Ok(open_store_to_read(&dir, err)?)
    }
}

/// `image-builder wait`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// The job to follow, as `1` or `#1` [default: every unfinished job].
    #[arg(value_name = "JOB")]
    pub job: Option<JobId>,
    /// Print JSON for scripts instead (docs/json.md: one object, `"version": 1`).
    #[arg(long)]
    pub json: bool,
    /// The credentials file [default: as for login].
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `image-builder status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The job, as `1` or `#1` [default: every unfinished job].
    #[arg(value_name = "JOB")]
    pub job: Option<JobId>,
    /// Print JSON for scripts instead (docs/json.md: one object, `"version": 1`).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `image-builder jobs`.
#[derive(Debug, Args)]
pub struct JobsArgs {
    /// How many to list (1 to 1000).
    #[arg(long, default_value_t = 20, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1000))]
    pub last: usize,
    /// Print JSON for scripts instead (docs/json.md: one object, `"version": 1`).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `image-builder history`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  image-builder history redis 22.04\n  image-builder history --by alice --last 5\n  image-builder history arm64"
)]
pub struct HistoryArgs {
    /// Images, series and architectures, in any order: only rebuilds of these [default: all].
    #[arg(value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Only rebuilds this person asked for (a chat user, a terminal's login, a Launchpad ~name).
    #[arg(long, value_name = "USER")]
    pub by: Option<String>,
    /// How many rebuilds to list, newest first (1 to 100).
    #[arg(long, value_name = "N", default_value_t = crate::command::DEFAULT_LAST)]
    pub last: usize,
    /// Print JSON for scripts instead (docs/json.md: one object, `"version": 1`).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Prints what was built when, as the chat's `history` does (the same grammar, the same words).
pub fn history(args: &HistoryArgs, out: &mut impl Write, err: &mut impl Write) -> Outcome {
    let config = config(&args.store.config)?;
    let mut words = args.filters.clone();
    if let Some(by) = &args.by {
        words.extend(["--by".to_string(), by.clone()]);
    }
    words.extend(["--last".to_string(), args.last.to_string()]);
    let query =
        crate::command::parse_history(words.iter().map(String::as_str), &config.vocabulary())
            .map_err(|error| {
                Failure::usage(crate::messages::parse_error(&error, Front::CommandLine))
            })?;
    let store = args.store.open(err)?;
    let rebuilds = store.rebuilds(&query)?;
    if args.json {
        writeln!(out, "{}", json::render(&json::Rebuilds::of(&rebuilds)))?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{}",
        crate::messages::history::history(
            &rebuilds,
            &query,
            config.engine.history_keep_days,
            chrono::Utc::now()
        )
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Resumes the unfinished jobs of the store and follows them to their end; the exit code is
/// the worst of theirs.
pub async fn wait(args: &WaitArgs, out: &mut impl Write) -> Outcome {
    let config = config(&args.store.config)?;
    let store = open_store(&data_dir(args.store.data_dir.as_ref(), &config))?;
    let client = configured_client(&config, args.credentials.as_ref())?;
    let ids: Vec<JobId> = match args.job {
        Some(id) => vec![id],
        None => store.unfinished()?.into_iter().map(|job| job.id).collect(),
    };
    let bars = MultiProgress::new();
    let speed = pace_of(&client).await;
    let engine = Engine::new(
        client,
        store,
        terminal(&bars, args.json),
        crate::engine::EngineSettings::from_config(&config, speed),
    );
    for id in &ids {
        if engine.store().job(*id)?.is_none() {
            return Err(Failure::failed(say::no_such_job(*id, Front::CommandLine)));
        }
    }
    if !args.json {
        writeln!(out, "{}", crate::messages::waiting_for(&ids))?;
        out.flush()?;
    }
    engine.resume().await?;
    super::follow::serve_dashboard(&config, engine.store()).await;
    // Each job's report as it ends; with --json, the jobs as they ended (or stood when
    // interrupted), in one document at the end.
    let mut followed = Vec::new();
    let mut worst = 0;
    for id in ids {
        let this = follow(&engine, &bars, id).await?;
        if !args.json {
            writeln!(out, "{}", this.report())?;
        }
        worst = worst.max(this.exit_code());
        let interrupted = matches!(this, Followed::Interrupted(_));
        followed.push(this);
        if interrupted {
            break;
        }
    }
    if args.json {
        let jobs = followed.iter().map(Followed::job);
        writeln!(out, "{}", json::render(&json::Jobs::of(jobs)))?;
    }
    Ok(ExitCode::from(worst))
}

/// Prints a job's board, or the unfinished jobs.
pub fn status(args: &StatusArgs, out: &mut impl Write, err: &mut impl Write) -> Outcome {
    let store = args.store.open(err)?;
    let now = chrono::Utc::now();
    if args.json {
        let jobs = match args.job {
            Some(id) => match store.job(id)? {
                Some(job) => vec![job],
                None => return Err(Failure::failed(say::no_such_job(id, Front::CommandLine))),
            },
            None => store.unfinished()?,
        };
        writeln!(out, "{}", json::render(&json::Jobs::of(&jobs)))?;
        return Ok(ExitCode::SUCCESS);
    }
    match args.job {
        Some(id) => match store.job(id)? {
            Some(job) => writeln!(out, "{}", say::board(&job, now))?,
            None => return Err(Failure::failed(say::no_such_job(id, Front::CommandLine))),
        },
        None => writeln!(
            out,
            "{}",
            say::job_list(
                &store.unfinished()?,
                now,
                &say::nothing_running(Front::CommandLine)
            )
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Lists the most recent jobs.
pub fn list(args: &JobsArgs, out: &mut impl Write, err: &mut impl Write) -> Outcome {
    let store = args.store.open(err)?;
    let jobs = store.recent_jobs(args.last)?;
    if args.json {
        writeln!(out, "{}", json::render(&json::Jobs::of(&jobs)))?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{}",
        say::job_list(&jobs, chrono::Utc::now(), &say::no_jobs(Front::CommandLine))
    )?;
    Ok(ExitCode::SUCCESS)
}
