//! `image-builder build`: the seed's command line. Its arguments go through the chat grammar.

use std::io::Write;
use std::process::ExitCode;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::MultiProgress;

use super::follow::{
    configured_client, data_dir, follow, open_store, pace_of, requested_exit_code, terminal,
    Followed,
};
use super::json;
use super::{config, ConfigArgs, Failure, Outcome};
use crate::chat::terminal::Terminal;
use crate::command::parse_rebuild;
use crate::engine::Engine;
use crate::jobs::model::Job;
use crate::launchpad::sim::{Apart, SimSettings};
use crate::launchpad::Client;
use crate::messages::{self, Front};
use crate::plan::plan;
use crate::store::Store;

/// `image-builder build`: the seed's usage.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  image-builder build redis nginx --series 20.04 --dry-run\n  image-builder build 20.04 arm64 redis --dry-run\n  image-builder build --series 20.04 --arch arm64 -- redis\n  image-builder build all --series jammy --dry-run\n\nThe words are read as chat reads what follows `rebuild`: images, series and architectures in\nany order, the chat's options (--wait, --dry-run, reason=...), `--` optional."
)]
pub struct BuildArgs {
    /// A series to build, by number or code name; repeat for more [default: all].
    #[arg(long, value_name = "MM.YY")]
    pub series: Vec<String>,
    /// An architecture to build; repeat for more [default: all the image has].
    #[arg(long, value_name = "ARCH")]
    pub arch: Vec<String>,
    /// Wait until every build and upload has finished, and report the outcome [default:
    /// only with --auto-retry-uploads or --launchpad sim].
    #[arg(long)]
    pub wait: bool,
    /// Retry failed registry uploads automatically, with backoff.
    #[arg(long)]
    pub auto_retry_uploads: bool,
    /// Print the plan (each recipe with its architectures) and build nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON for scripts instead: the plan with --dry-run, else the job as it stands when
    /// `build` returns (docs/json.md: one object, `"version": 1`).
    #[arg(long)]
    pub json: bool,
    /// Why, for the record.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Run the configured hook `retag` once every build and upload succeeded (the same as
    /// --then retag).
    #[arg(long)]
    pub retag: bool,
    /// Run this configured hook (`[hooks.NAME]`) once every build and upload succeeded;
    /// repeat for more.
    #[arg(long, value_name = "HOOK")]
    pub then: Vec<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Which Launchpad to build on: the configured one, or a simulator started for this run
    /// (which ends with it, so `--launchpad sim` always waits for the job's end).
    #[arg(long, value_enum, default_value = "configured")]
    pub launchpad: LaunchpadChoice,
    /// With --launchpad sim: how much faster than Launchpad the simulator runs.
    #[arg(long, value_name = "X", default_value_t = 100.0)]
    pub speed: f64,
    /// With --launchpad sim: outcomes and faults to play (a TOML file; see docs/simulator.md).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// The credentials file [default: as for login].
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// The job store [default: engine.data_dir, else $XDG_STATE_HOME/image-builder; with
    /// --launchpad sim, a temporary one].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// What to build, as chat reads what follows `rebuild`: images, series and architectures
    /// in any order (`redis 20.04 arm64`), `all` [default: all].
    #[arg(value_name = "WORDS")]
    pub images: Vec<String>,
}

/// Which Launchpad `build` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LaunchpadChoice {
    /// launchpad.api_root from the config, with the saved credentials.
    Configured,
    /// The built-in simulator, started for this run.
    Sim,
}

impl BuildArgs {
    /// The arguments in the chat grammar's words: `--series S --arch A ... -- IMAGE...`.
    pub fn grammar_words(&self) -> Vec<String> {
        let mut words = Vec::new();
        for series in &self.series {
            words.extend(["--series".to_string(), series.clone()]);
        }
        for arch in &self.arch {
            words.extend(["--arch".to_string(), arch.clone()]);
        }
        for (set, flag) in [
            (self.wait, "--wait"),
            (self.auto_retry_uploads, "--auto-retry-uploads"),
            (self.dry_run, "--dry-run"),
        ] {
            if set {
                words.push(flag.to_string());
            }
        }
        if self.retag {
            words.extend(["--then".to_string(), "retag".to_string()]);
        }
        for hook in &self.then {
            words.extend(["--then".to_string(), hook.clone()]);
        }
        if let Some(reason) = &self.reason {
            words.push(format!("reason={reason}"));
        }
        // The words as typed, with no `--` before them: `build -- 20.04 redis` reads `20.04` as
        // a series, as chat's `rebuild 20.04 redis` does (a `--` the user typed among the words
        // stays, and means what it means in chat: images only from there).
        if self.images.is_empty() {
            words.push("all".to_string());
        } else {
            words.extend(self.images.iter().cloned());
        }
        words
    }
}

/// Runs `build`.
pub async fn run(args: &BuildArgs, out: &mut impl Write) -> Outcome {
    let config = config(&args.config)?;
    let vocabulary = config.vocabulary();
    let words = args.grammar_words();
    let rebuild = parse_rebuild(words.iter().map(String::as_str), &vocabulary)
        .map_err(|error| Failure::usage(messages::parse_error(&error, Front::CommandLine)))?;
    let plan = plan(&rebuild, &config.catalogue)
        .map_err(|error| Failure::usage(messages::plan_error(&error, Front::CommandLine)))?;
    tracing::debug!(%rebuild, builds = plan.builds(), "planned");
    if rebuild.dry_run {
        let approval = plan.approval(&config.confirmation, false);
        if args.json {
            writeln!(
                out,
                "{}",
                json::render(&json::PlanDocument::of(&plan, approval))
            )?;
            return Ok(ExitCode::SUCCESS);
        }
        writeln!(
            out,
            "{}",
            messages::dry_run(&plan, approval, &config.confirmation)
        )
        .context("writing the plan")?;
        return Ok(ExitCode::SUCCESS);
    }
    // Everything from here may fail before anything is requested: exit 1 with the reason.
    let (client, api_root, store, sim) = connect(args, &config)
        .await
        .map_err(|error| Failure::failed(format!("{error:#}")))?;
    // Credentials Launchpad refuses, or a Launchpad nobody answers at, stop here: before a
    // job is stored, so nothing is left to resume.
    if let Err(error) = client.me().await {
        return Err(Failure::failed(messages::launchpad_refused(
            &api_root, &error,
        )));
    }
    // Launchpad's pace, or a simulator's (this run's, or one started on its own with `sim
    // --speed N`), as that answer said: no request more.
    let speed = pace_of(&client).await;
    let now = chrono::Utc::now();
    let mut settings = crate::engine::EngineSettings::from_config(&config, speed);
    if let Some(sim) = &sim {
        settings.web_root = Some(sim.web_root());
    }
    let id = store.next_job_id()?;
    let job = Job::new(crate::jobs::NewJob {
        id,
        requester: &terminal_user(),
        channel: "terminal",
        command: &rebuild.to_string(),
        plan: &plan,
        api_root: &api_root,
        auto_retry_uploads: rebuild.auto_retry_uploads || config.engine.auto_retry_uploads,
        reason: rebuild.reason.clone(),
        now,
        deadline: crate::jobs::machine::later(now, settings.give_up_after),
        hooks: crate::hooks::for_job(&config.hooks, &rebuild.then),
    });
    store.put_job(&job)?;
    let bars = MultiProgress::new();
    let engine = Engine::new(client, store, terminal(&bars, args.json), settings);
    engine.start(job);
    if !args.json {
        writeln!(
            out,
            "{}",
            messages::jobs::accepted(id, &plan)
                .replace(" The board follows once Launchpad has made the builds.", "")
        )?;
    }
    let wait = rebuild.wait || rebuild.auto_retry_uploads || sim.is_some();
    if !wait {
        // Not before every request is answered and every build not asked for is cancelled:
        // leaving earlier would leave them to build and push.
        let job = builds_known(&engine, id).await?;
        let code = requested_exit_code(&job);
        if args.json {
            writeln!(out, "{}", json::render(&json::Jobs::of([&job])))?;
            return Ok(ExitCode::from(code));
        }
        writeln!(out, "{}", messages::jobs::requested_builds(&job))?;
        if code == 0 {
            writeln!(out, "{}", messages::build_requested(id))?;
        }
        return Ok(ExitCode::from(code));
    }
    super::follow::serve_dashboard(&config, engine.store()).await;
    let followed = follow(&engine, &bars, id).await?;
    let interrupted = matches!(followed, Followed::Interrupted(_));
    match &sim {
        Some(sim) if !interrupted => {
            let requests: u64 = sim.request_counts().values().sum();
            tracing::info!(
                requests,
                "the simulator answered {requests} Launchpad requests"
            );
        }
        _ => {}
    }
    if args.json {
        writeln!(out, "{}", json::render(&json::Jobs::of([followed.job()])))?;
    } else if interrupted && sim.is_some() {
        // The simulator ends with this process: nothing goes on for `wait` to follow.
        writeln!(out, "{}", messages::sim_interrupted(id))?;
    } else {
        writeln!(out, "{}", followed.report())?;
    }
    Ok(ExitCode::from(followed.exit_code()))
}

/// The Launchpad to build on (the configured one, or a simulator started here), and the store.
async fn connect(
    args: &BuildArgs,
    config: &crate::config::Config,
) -> anyhow::Result<(Client, String, Store, Option<Apart>)> {
    match args.launchpad {
        LaunchpadChoice::Configured => {
            let client = configured_client(config, args.credentials.as_ref())?;
            let store = open_store(&data_dir(args.data_dir.as_ref(), config))?;
            Ok((client, config.launchpad.api_root.clone(), store, None))
        }
        LaunchpadChoice::Sim => {
            let mut settings = SimSettings::new(config.catalogue.clone());
            settings.speed = Some(args.speed.max(1.0));
            if let Some(path) = &args.scenario {
                settings.scenario = crate::launchpad::sim::scenario::Scenario::load(path)?;
            }
            let sim = Apart::start(settings).await?;
            let mut client_settings = config.launchpad.client_settings(Some(sim.credentials()));
            client_settings.api_root = sim.api_root();
            let client = Client::new(client_settings)?;
            // The simulator's jobs mean nothing once it stops: a temporary store unless asked.
            let store = match &args.data_dir {
                Some(dir) => open_store(dir)?,
                None => Store::temporary()?,
            };
            Ok((client, sim.api_root(), store, Some(sim)))
        }
    }
}

/// Waits until every target's builds are known and those not asked for are cancelled (or the
/// job ended), as the store says.
async fn builds_known(engine: &Engine<Terminal>, id: crate::target::JobId) -> anyhow::Result<Job> {
    loop {
        let job = engine
            .store()
            .job(id)?
            .context("the job vanished from the store")?;
        if job.builds_known() || job.is_finished() {
            return Ok(job);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Who asked, on a terminal: the login name.
fn terminal_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "terminal".to_string())
}
