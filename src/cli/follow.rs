//! What `build`, `wait`, `status` and `jobs` share: reaching Launchpad (or a simulator), opening
//! the store, following a job with progress bars, and the exit code a job's outcome means.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::credentials_path;
use crate::chat::terminal::Terminal;
use crate::config::Config;
use crate::engine::Engine;
use crate::jobs::model::{Job, JobStatus, Phase};
use crate::launchpad::auth::Credentials;
use crate::launchpad::Client;
use crate::messages::jobs as say;
use crate::store::Store;
use crate::target::JobId;

/// Exit code: a build failed, a recipe could not be requested, an architecture asked for got
/// no build, or one not asked for could not be cancelled (or may run unfollowed: a request
/// sent again after its answer was lost).
pub const BUILD_FAILED: u8 = 3;
/// Exit code: everything built, but an upload failed, or a build was superseded by a newer
/// one before its upload (nothing was pushed for it).
pub const UPLOAD_FAILED: u8 = 4;
/// Exit code: the job was cancelled or given up.
pub const UNFINISHED: u8 = 5;
/// Exit code: everything built and uploaded, but a hook failed (or timed out, or was
/// interrupted).
pub const HOOK_FAILED: u8 = 6;

/// The exit code for how a job ended: 0 only if every build and upload succeeded.
pub fn exit_code(job: &Job) -> u8 {
    let tally = job.tally();
    if job.status != JobStatus::Finished {
        UNFINISHED
    } else if tally.build_failed
        + tally.request_failed
        + tally.already_pending
        + tally.not_requested
        + tally.not_built
        + tally.unwanted_ran
        + tally.asked_twice
        > 0
    {
        BUILD_FAILED
    } else if tally.upload_failed + tally.superseded > 0 {
        UPLOAD_FAILED
    } else if job.hook_runs.iter().any(|run| run.outcome.failed()) {
        HOOK_FAILED
    } else {
        0
    }
}

/// Where the job store is: `--data-dir`, else `engine.data_dir`, else
/// `$XDG_STATE_HOME/image-builder` (or `~/.local/state/image-builder`).
pub fn data_dir(flag: Option<&PathBuf>, config: &Config) -> PathBuf {
    if let Some(dir) = flag.or(config.engine.data_dir.as_ref()) {
        return dir.clone();
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("image-builder")
}

/// A client for the configured Launchpad with the saved credentials, which writing needs.
pub fn configured_client(config: &Config, credentials: Option<&PathBuf>) -> anyhow::Result<Client> {
    let path = credentials_path(credentials, config);
    let credentials = Credentials::load(&path).with_context(|| {
        format!(
            "no usable Launchpad credentials at {}; run `image-builder login` first",
            path.display()
        )
    })?;
    Ok(Client::new(
        config.launchpad.client_settings(Some(credentials)),
    )?)
}

/// How fast the Launchpad `client` talks to runs: 1 for Launchpad, a simulator's own speed
/// for `image-builder sim --speed N` (it says so on every answer), so jobs followed against it
/// are paced at its speed with no setting changed. Launchpad unreachable: 1, said in the log
/// (the engine waits for it as it would anyway).
pub async fn pace_of(client: &Client) -> f64 {
    match client.speed().await {
        Ok(speed) => {
            if speed > 1.0 {
                tracing::info!(
                    speed,
                    api_root = %client.settings().api_root,
                    "Launchpad here is image-builder's simulator running {speed}x: pacing at its speed"
                );
            }
            speed
        }
        Err(error) => {
            tracing::warn!(%error, "could not ask Launchpad's service root; pacing as for Launchpad");
            1.0
        }
    }
}

/// Serves the dashboard of the store a following process owns on `web.listen`, if it can: a
/// bot (or another `build --wait`) serving it there already is left alone (said at debug).
pub async fn serve_dashboard(config: &Config, store: &Store) {
    match crate::web::start(&config.web, store.clone(), config.catalogue.clone()).await {
        Ok(url) => tracing::info!(%url, "serving the dashboard while this job runs"),
        Err(crate::web::NotServed::Exposed(why)) => {
            tracing::warn!("the dashboard is not served: {why}")
        }
        Err(error) => tracing::debug!(%error, "the dashboard is not served"),
    }
}

/// Opens the store, saying where on failure (and who holds it, if another process does).
pub fn open_store(dir: &std::path::Path) -> anyhow::Result<Store> {
    match Store::open(dir) {
        Ok(store) => Ok(store),
        // These name the store's path themselves.
        Err(
            error @ (crate::store::StoreError::Busy { .. }
            | crate::store::StoreError::Io { .. }
            | crate::store::StoreError::Schema { .. }),
        ) => Err(error.into()),
        Err(error) => {
            Err(error).with_context(|| format!("opening the job store at {}", dir.display()))
        }
    }
}

/// Opens the store to read it: a copy of it as it is now when another process holds it (said
/// on `err`), so `status` and `jobs` work while `build --wait` or the bot runs.
pub fn open_store_to_read(dir: &std::path::Path, err: &mut impl Write) -> anyhow::Result<Store> {
    match Store::open(dir) {
        Ok(store) => Ok(store),
        Err(crate::store::StoreError::Busy { holder, .. }) => {
            let _ = writeln!(err, "{}", crate::messages::store_snapshot(&holder));
            Store::open_snapshot(dir)
                .with_context(|| format!("copying the job store at {}", dir.display()))
        }
        Err(error) => {
            Err(error).with_context(|| format!("opening the job store at {}", dir.display()))
        }
    }
}

/// How following a job ended.
pub enum Followed {
    /// The job ended; as stored.
    Ended(Job),
    /// Ctrl-C: the engine stopped, the job goes on on Launchpad, as last stored, for `wait`.
    Interrupted(Job),
}

impl Followed {
    /// The job, as it ended or as it stood when interrupted.
    pub fn job(&self) -> &Job {
        match self {
            Followed::Ended(job) | Followed::Interrupted(job) => job,
        }
    }

    /// The exit code: the job's ([`exit_code`]), or [`INTERRUPTED`].
    pub fn exit_code(&self) -> u8 {
        match self {
            Followed::Ended(job) => exit_code(job),
            Followed::Interrupted(_) => INTERRUPTED,
        }
    }

    /// What a terminal shows at the end: the job's table and summary, or how to follow it
    /// again.
    pub fn report(&self) -> String {
        match self {
            Followed::Ended(job) => final_report(job),
            Followed::Interrupted(job) => crate::messages::interrupted(job.id),
        }
    }
}

/// The terminal adapter for a command following jobs: alerts on standard output, or on
/// standard error when standard output is a script's JSON.
pub fn terminal(bars: &MultiProgress, json: bool) -> Terminal {
    if json {
        Terminal::on_stderr(bars.clone())
    } else {
        Terminal::new(bars.clone())
    }
}

/// How long a Ctrl-C gives the job to store what waits to be stored.
const INTERRUPT_GRACE: Duration = Duration::from_secs(10);

/// One progress bar per target, updated from the engine's memory ([`Engine::follow`]) until
/// the job ends and the engine has said all it will; returns the job as it ended (read from
/// the store).
///
/// The bars show the job at most [`REDRAW`] apart: changes that come sooner (a job of 60
/// recipes changes several hundred times a minute) are shown together, and what each bar shows
/// is read from the engine's copy of the job without copying it.
///
/// Ctrl-C stops following, but not before every recipe's builds are known and those not asked
/// for are cancelled: leaving earlier would leave them to build and push. A second Ctrl-C
/// stops at once, naming the recipes whose builds are still to be cancelled (`wait` does it).
pub async fn follow(
    engine: &Engine<Terminal>,
    bars: &MultiProgress,
    id: JobId,
) -> anyhow::Result<Followed> {
    let style = ProgressStyle::with_template("{prefix:24} [{bar:12}] {pos}/{len} {msg}")
        .expect("a valid template")
        .progress_chars("=> ");
    let mut changes = engine.follow(id)?;
    let shown: Vec<ProgressBar> = changes
        .borrow()
        .targets
        .iter()
        .map(|target| {
            let bar = bars.add(ProgressBar::new(target.arches.len() as u64));
            bar.set_style(style.clone());
            bar.set_prefix(say::target_name(target));
            bar
        })
        .collect();
    // What each bar shows now: how many of its builds are settled, and its message.
    let mut showing: Vec<(u64, String)> = vec![(0, String::new()); shown.len()];
    // One listener for the whole follow: a Ctrl-C that comes while the bars are drawn waits
    // in it rather than being lost.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("listening for Ctrl-C")?;
    let mut interrupts = 0;
    loop {
        let drawn = tokio::time::Instant::now();
        let builds_known = {
            let job = changes.borrow_and_update();
            for ((bar, showing), target) in shown.iter().zip(&mut showing).zip(&job.targets) {
                let settled = target.wanted().filter(|b| b.is_settled(false, 0)).count() as u64;
                let message = target_progress(target);
                if showing.0 != settled {
                    bar.set_position(settled);
                    showing.0 = settled;
                }
                if showing.1 != message {
                    bar.set_message(message.clone());
                    showing.1 = message;
                }
            }
            job.builds_known()
        };
        if engine.running() == 0 {
            for bar in &shown {
                bar.finish();
            }
            bars.clear().ok();
            let job = stored(engine, id)?;
            if !job.is_finished() {
                // No driver left and the job unfinished: it stopped, because the store could
                // not be written. The job is as last stored; `wait` resumes it.
                anyhow::bail!(say::store_failed(id));
            }
            return Ok(Followed::Ended(job));
        }
        if interrupts > 1 || (interrupts == 1 && builds_known) {
            let left = engine.stop(INTERRUPT_GRACE).await;
            if left > 0 {
                tracing::warn!(left, "the job was still storing when the grace period ended; `wait` resumes it from what is stored");
            }
            bars.clear().ok();
            return Ok(Followed::Interrupted(stored(engine, id)?));
        }
        // A change, Ctrl-C, or (for the engine's end) a look every 100 ms.
        tokio::select! {
            changed = changes.changed() => {
                if changed.is_err() {
                    // The driver published the ended job and let go: only its end is to come.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            _ = interrupt.recv() => {
                interrupts += 1;
                let unsettled: Vec<String> = changes
                    .borrow()
                    .targets
                    .iter()
                    .filter(|target| !target.builds_known())
                    .map(say::target_name)
                    .collect();
                if !unsettled.is_empty() {
                    let line = if interrupts == 1 {
                        crate::messages::interrupt_waits(&unsettled)
                    } else {
                        crate::messages::interrupt_leaves(id, &unsettled)
                    };
                    // Said on stderr, above the bars: stdout is the job's report.
                    bars.suspend(|| {
                        let _ = writeln!(std::io::stderr().lock(), "{line}");
                    });
                }
                continue;
            }
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        tokio::time::sleep_until(drawn + REDRAW).await;
    }
}

/// The exit code of Ctrl-C (128 + SIGINT), as a shell reports a process it interrupted.
pub const INTERRUPTED: u8 = 130;

/// The job as stored.
fn stored(engine: &Engine<Terminal>, id: JobId) -> anyhow::Result<Job> {
    engine
        .store()
        .job(id)?
        .with_context(|| format!("job {id} is not in the store"))
}

/// The least time between two updates of the progress bars.
const REDRAW: Duration = Duration::from_millis(250);

fn target_progress(target: &crate::jobs::model::Target) -> String {
    match &target.phase {
        Phase::ToRequest | Phase::Requesting { .. } => "requesting".into(),
        Phase::InDoubt { .. } => "the request's answer was lost: waiting to hear of it".into(),
        Phase::Requested { .. } => "waiting for Launchpad to make the builds".into(),
        Phase::AlreadyPending => "already pending on Launchpad".into(),
        Phase::Failed { reason } => {
            format!("request failed: {}", say::failure_reason(target, reason))
        }
        Phase::Cancelled => "cancelled".into(),
        Phase::Following { .. } => target
            .wanted()
            .map(|build| format!("{} {:?}", build.arch, build.progress()).to_lowercase())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The exit code of `build` without `--wait`, once the builds are known: a recipe Launchpad
/// refused or failed to request, or deduped as "already pending" (nothing new was requested),
/// is [`BUILD_FAILED`]; otherwise 0 (what the builds do is for `wait` to say).
pub fn requested_exit_code(job: &Job) -> u8 {
    let tally = job.tally();
    if tally.request_failed + tally.already_pending > 0 {
        BUILD_FAILED
    } else {
        0
    }
}

/// The table and summary printed when a job ended.
pub fn final_report(job: &Job) -> String {
    format!(
        "{}\n\n{}",
        say::board(job, chrono::Utc::now()),
        say::summary(job, crate::messages::Front::CommandLine)
    )
}
