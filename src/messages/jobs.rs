//! What the bot says about jobs: the acknowledgement, the status board, alerts and attempts,
//! the final summary, and the answers to `status`, `jobs`, `cancel` and `retry`. Pure: rendered
//! from the job alone, so the same job always reads the same.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::{count, plain_list};
use crate::jobs::model::{
    BuildTrack, Job, JobStatus, LostRequest, Missing, MissingWhy, Phase, Progress, RequestFailure,
    Target,
};
use crate::jobs::notice::Control;
use crate::launchpad::buildlog::LogExcerpt;
use crate::launchpad::models::BuildState;
use crate::plan::Plan;
use crate::target::{Arch, JobId};

/// The board's symbol for a build's progress.
pub(super) fn symbol(progress: Progress) -> char {
    match progress {
        Progress::Queued => '○',
        Progress::Building => '◐',
        Progress::Uploading => '↑',
        Progress::Done => '✓',
        Progress::BuildFailed => '✗',
        Progress::UploadFailed => '!',
        Progress::Cancelled => '⊘',
        Progress::Superseded => '»',
    }
}

/// `redis 6.2 on 22.04`.
pub fn target_name(target: &Target) -> String {
    format!("{} {} on {}", target.image, target.track, target.series)
}

/// `redis 6.2 on 22.04 arm64`.
fn build_name(target: &Target, build: &BuildTrack) -> String {
    format!("{} {}", target_name(target), build.arch)
}

/// `1h 02m`, `4m 10s`, `12s`.
pub fn elapsed(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let seconds = (to - from).num_seconds().max(0);
    match seconds {
        s if s >= 3600 => format!("{}h {:02}m", s / 3600, s / 60 % 60),
        s if s >= 60 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// The answer to an accepted rebuild.
pub fn accepted(id: JobId, plan: &Plan) -> String {
    let mut text = format!(
        "Job {id} accepted: {}, {}",
        count(plan.targets.len(), "recipe", "recipes"),
        count(plan.builds(), "build", "builds")
    );
    if plan.targets.len() == 1 {
        let target = &plan.targets[0];
        let _ = write!(
            text,
            " ({} {} on {}: {})",
            target.image,
            target.track,
            target.series,
            plain_list(&target.arches)
        );
    }
    text.push_str(". The board follows once Launchpad has made the builds.");
    text
}

fn status_word(job: &Job) -> &'static str {
    match job.status {
        JobStatus::Running => "running",
        JobStatus::Finished => "finished",
        JobStatus::Cancelled => "cancelled",
        JobStatus::GaveUp => "gave up",
    }
}

/// How long a running job has taken, to the minute: the board changes (and is edited) only
/// when something happened or a minute passed.
fn running_for(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let minutes = (to - from).num_minutes().max(0);
    match minutes {
        0 => "under a minute".to_string(),
        m if m >= 60 => format!("{}h {:02}m", m / 60, m % 60),
        m => format!("{m}m"),
    }
}

/// The status board: a grid of image × series by architecture, a symbol per build, counts and
/// the time it has taken (to the minute while it runs, to the second once it ended).
pub fn board(job: &Job, now: DateTime<Utc>) -> String {
    let took = match job.finished_at {
        Some(end) => format!("took {}", elapsed(job.created_at, end)),
        None => format!("for {}", running_for(job.created_at, now)),
    };
    let mut text = format!(
        "**Job {}** · `{}` · {} {took}\n",
        job.id,
        job.command,
        status_word(job),
    );
    let mut columns: Vec<&Arch> = job.targets.iter().flat_map(|t| &t.arches).collect();
    columns.sort();
    columns.dedup();
    let labels: Vec<String> = job
        .targets
        .iter()
        .map(|t| format!("{} {} {}", t.image, t.track, t.series))
        .collect();
    let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    text.push_str("```\n");
    let _ = write!(text, "{:width$}", "");
    for arch in &columns {
        let _ = write!(text, "  {arch:^7}");
    }
    text.push('\n');
    for (target, label) in job.targets.iter().zip(&labels) {
        let _ = write!(text, "{label:width$}");
        for arch in &columns {
            let cell = cell(target, arch);
            let _ = write!(text, "  {cell:^7}");
        }
        match &target.phase {
            Phase::AlreadyPending => text.push_str("  already pending"),
            Phase::Failed { .. } => text.push_str("  request failed"),
            Phase::Cancelled => text.push_str("  cancelled"),
            Phase::InDoubt { .. } => text.push_str("  answer lost; listening for it"),
            _ => {}
        }
        for missing in &target.missing {
            let _ = write!(text, "  {}: {}", missing.arch, missing_reason(missing));
        }
        text.push('\n');
    }
    text.push_str("```\n");
    let mut counts = std::collections::BTreeMap::new();
    for build in job.targets.iter().flat_map(|t| t.wanted()) {
        *counts.entry(build.progress()).or_insert(0) += 1;
    }
    let waiting: usize = job
        .targets
        .iter()
        .filter(|t| {
            matches!(
                t.phase,
                Phase::ToRequest
                    | Phase::Requesting { .. }
                    | Phase::InDoubt { .. }
                    | Phase::Requested { .. }
            )
        })
        .map(|t| t.arches.len())
        .sum();
    let mut parts: Vec<String> = counts
        .iter()
        .map(|(progress, n)| format!("{} {n} {}", symbol(*progress), progress_word(*progress)))
        .collect();
    if waiting > 0 {
        parts.insert(0, format!("… {waiting} requested"));
    }
    text.push_str(&parts.join(" · "));
    text
}

pub(super) fn progress_word(progress: Progress) -> &'static str {
    match progress {
        Progress::Queued => "queued",
        Progress::Building => "building",
        Progress::Uploading => "uploading",
        Progress::Done => "done",
        Progress::BuildFailed => "failed",
        Progress::UploadFailed => "upload failed",
        Progress::Cancelled => "cancelled",
        Progress::Superseded => "superseded",
    }
}

fn cell(target: &Target, arch: &Arch) -> String {
    if !target.arches.contains(arch) {
        return String::new();
    }
    match &target.phase {
        Phase::ToRequest
        | Phase::Requesting { .. }
        | Phase::InDoubt { .. }
        | Phase::Requested { .. } => "…".into(),
        Phase::AlreadyPending => "=".into(),
        Phase::Failed { .. } => "✗".into(),
        Phase::Cancelled => "⊘".into(),
        Phase::Following { .. } => {
            if let Some(build) = target
                .builds
                .iter()
                .find(|build| build.wanted && &build.arch == arch)
            {
                return symbol(build.progress()).to_string();
            }
            match target.missing.iter().find(|missing| &missing.arch == arch) {
                Some(Missing {
                    why: MissingWhy::NotInProcessors { .. },
                    ..
                }) => "∅".into(),
                Some(Missing {
                    why: MissingWhy::NotBuildable,
                    ..
                }) => "∅".into(),
                Some(Missing {
                    why: MissingWhy::Skipped { .. },
                    ..
                }) => "≡".into(),
                Some(Missing {
                    why: MissingWhy::Unlisted { .. },
                    ..
                }) => "?".into(),
                _ => "…".into(),
            }
        }
    }
}

/// Why an architecture asked for got no build, for people.
pub fn missing_reason(missing: &Missing) -> String {
    match &missing.why {
        MissingWhy::Unknown => "no build; finding out why".to_string(),
        MissingWhy::NotInProcessors { processors } => format!(
            "not built by this recipe (its processors: {})",
            processors.join(", ")
        ),
        MissingWhy::Skipped { checked: false, .. } => {
            "skipped: queued by another request, or not buildable now".to_string()
        }
        MissingWhy::Skipped { checked: true, .. } => {
            "queued by another request (Launchpad can build it; that build is not followed here)"
                .to_string()
        }
        MissingWhy::NotBuildable => {
            "not buildable on Launchpad now (no chroot or disabled in the current series)"
                .to_string()
        }
        MissingWhy::Unlisted { oops_id } => format!(
            "Launchpad cannot list the request's builds ({}), and no build of it was seen",
            oops_id.as_deref().unwrap_or("no OOPS id")
        ),
    }
}

/// Why a build's upload failed, for people: Launchpad's summary; for a build Launchpad cannot
/// show, what that means.
pub fn upload_reason(build: &BuildTrack) -> String {
    match (&build.upload_error, &build.unreadable) {
        (Some(summary), _) => summary.clone(),
        (None, Some(oops)) if build.failure_delivered() => format!(
            "it failed on several registries, and Launchpad cannot show the registries' errors ({oops})"
        ),
        (None, Some(oops)) => format!(
            "most likely it failed on several registries: Launchpad cannot show this build ({oops}), which it does only then"
        ),
        (None, None) => "Launchpad gave no reason".to_string(),
    }
}

/// The web page of a Launchpad object, from its API URL: the API's host (`api.`) and version
/// (`devel/`) are not in web links.
pub fn web_link_of(api_url: &str) -> String {
    let Some((scheme, rest)) = api_url.split_once("://") else {
        return api_url.to_string();
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.strip_prefix("api.").unwrap_or(host);
    let path = ["devel/", "1.0/", "beta/"]
        .iter()
        .find_map(|version| path.strip_prefix(version))
        .unwrap_or(path);
    format!("{scheme}://{host}/{path}")
}

/// The alert for a failed upload: `failure` says which of the build's failures it is (after a
/// retry, the second, ...).
pub fn upload_failed(job: &Job, target: &Target, build: &BuildTrack, failure: u32) -> String {
    let again = if failure > 1 { " again" } else { "" };
    format!(
        "Upload failed{again}: {} (job {}): {}\n{}\nRetry with `retry uploads {}`.",
        build_name(target, build),
        job.id,
        upload_reason(build),
        build.web_link,
        job.id
    )
}

/// A job's failed upload in one line (for `status`, when a mute kept it quiet).
pub fn failure_line(job: &Job, target: &Target, build: &BuildTrack) -> String {
    format!(
        "• {} (job {}): {} {}",
        build_name(target, build),
        job.id,
        upload_reason(build),
        build.web_link
    )
}

/// A build of a job whose entry Launchpad cannot show, as an earlier version said it (an
/// outbox it stored is still said).
pub fn build_unreadable(
    job: &Job,
    target: &Target,
    build: &BuildTrack,
    oops_id: Option<&str>,
) -> String {
    format!(
        "Cannot read {} (job {}): Launchpad answers its entry with an error ({}); most likely its upload failed on several registries. Retry with `retry uploads {}`, or look at it there:\n{}",
        build_name(target, build),
        job.id,
        oops_id.unwrap_or("no OOPS id given"),
        job.id,
        build.web_link
    )
}

/// An upload auto-retry scheduled was superseded: not a recovery.
pub fn upload_superseded(job: &Job, target: &Target, build: &BuildTrack) -> String {
    format!(
        "The retried upload of {} (job {}) was superseded: {}",
        build_name(target, build),
        job.id,
        superseded_reason(target)
    )
}

/// What a superseded build means, with where to see the newer build.
fn superseded_reason(target: &Target) -> String {
    format!(
        "superseded by a newer build of the recipe ({}): nothing pushed for this one",
        web_link_of(&target.recipe_url)
    )
}

/// A request whose answer was lost was sent again, without deliveries to find the first.
pub fn request_asked_again(job: &Job, target: &Target) -> String {
    format!(
        "{} (job {}): the answer to its build request was lost, so it was asked again. {}",
        target_name(target),
        job.id,
        asked_again_risk(target)
    )
}

/// What may have happened to a recipe asked for twice, and what to look at.
fn asked_again_risk(target: &Target) -> String {
    format!(
        "Launchpad may have built it twice, or the first request's builds (other architectures too) run without being followed or cancelled here: Launchpad lists no recipe's builds, so only its page shows them: {}",
        web_link_of(&target.recipe_url)
    )
}

/// Auto-retry is trying again; from the second attempt on, this is also where the failure of
/// the attempt before is told.
pub fn upload_retrying(job: &Job, target: &Target, build: &BuildTrack, budget: u32) -> String {
    let mut text = format!(
        "Retrying the upload of {} (job {}): attempt {} of {budget}.",
        build_name(target, build),
        job.id,
        build.auto_retries
    );
    if build.auto_retries > 1 {
        let _ = write!(
            text,
            " Attempt {} failed too: {}",
            build.auto_retries - 1,
            upload_reason(build)
        );
    }
    text
}

/// Auto-retry worked.
pub fn upload_recovered(job: &Job, target: &Target, build: &BuildTrack, attempts: u32) -> String {
    format!(
        "The upload of {} (job {}) worked on retry {attempts}.",
        build_name(target, build),
        job.id
    )
}

/// Auto-retry stopped.
pub fn upload_gave_up(
    job: &Job,
    target: &Target,
    build: &BuildTrack,
    attempts: u32,
    refusal: Option<&str>,
) -> String {
    let why = match refusal {
        Some(refusal) => format!(": {refusal}"),
        None => String::new(),
    };
    format!(
        "Giving up on the upload of {} (job {}) after {}{why}. Retry by hand with `retry uploads {}`.",
        build_name(target, build),
        job.id,
        count(attempts as usize, "retry", "retries"),
        job.id
    )
}

/// Launchpad deduped the request.
pub fn already_pending(job: &Job, target: &Target) -> String {
    let recipe = web_link_of(&target.recipe_url);
    if target.asked_again {
        format!(
            "{} (job {}): Launchpad says identical builds are already queued: most likely the ones this job's first request made, whose answer was lost. They are not followed here; look at them on the recipe's page: {recipe}",
            target_name(target),
            job.id
        )
    } else {
        format!(
            "{} (job {}): Launchpad says identical builds are already queued by another request, so nothing new was requested and those builds are not followed here. The recipe's page: {recipe}",
            target_name(target),
            job.id
        )
    }
}

/// Launchpad cannot be reached.
pub fn unreachable(job: &Job, cause: &str) -> String {
    format!(
        "Job {}: Launchpad cannot be reached ({cause}). I keep trying, waiting longer each time; nothing is lost meanwhile.",
        job.id
    )
}

/// Launchpad answers again.
pub fn reachable(job: &Job) -> String {
    format!("Job {}: Launchpad answers again; carrying on.", job.id)
}

/// A job stopped because the job store could not be written.
pub fn store_failed(id: JobId) -> String {
    format!(
        "Job {id} stopped: the job store cannot be written (disk full?), so nothing more is sent to Launchpad until it can be recorded. Free the space, then resume it (`image-builder wait`, or restart the bot)."
    )
}

/// Why a target's request failed, in a sentence.
pub fn failure_reason(target: &Target, reason: &RequestFailure) -> String {
    match reason {
        RequestFailure::Launchpad(words) => words.clone(),
        RequestFailure::Lost {
            lost: LostRequest::Twice,
        } => lost_twice(&target.recipe_url),
        RequestFailure::Lost {
            lost: LostRequest::LongAgo { minutes },
        } => lost_long_ago(*minutes, &target.recipe_url),
    }
}

/// Why a target whose request's answer was lost long ago is not asked again.
fn lost_long_ago(minutes: i64, recipe_url: &str) -> String {
    format!(
        "the answer to its build request was lost {minutes} min ago, too long ago to ask again without risking a second build of every architecture; look at the recipe's page, and rebuild it if nothing is building: {}",
        web_link_of(recipe_url)
    )
}

/// Why a target whose request's answer was lost twice is given up.
fn lost_twice(recipe_url: &str) -> String {
    format!(
        "Launchpad did not confirm the build request twice; look at the recipe's page: {}",
        web_link_of(recipe_url)
    )
}

/// Launchpad refused the credentials for `requestBuilds`: in plain words, once per job.
pub fn refused(job: &Job, message: &str) -> String {
    let not_owner = message
        .strip_suffix('.')
        .and_then(|text| text.split_once(" cannot create OCI image builds owned by "));
    match not_owner {
        Some((user, owner)) => format!(
            "Job {}: Launchpad refused to build: these credentials belong to {user}, who is not in {owner}, the team that owns the recipes. Log in with `image-builder login` as a member of {owner} (or ask to join it). Nothing was requested.",
            job.id
        ),
        None => format!(
            "Job {}: Launchpad refused the credentials ({message}). Log in again with `image-builder login`. Nothing more was requested.",
            job.id
        ),
    }
}

/// A target's request failed.
pub fn request_failed(job: &Job, target: &Target, reason: &RequestFailure) -> String {
    format!(
        "{} (job {}): the build request failed: {}",
        target_name(target),
        job.id,
        failure_reason(target, reason)
    )
}

/// How many failed builds the summary shows the log of; `log #JOB` shows every one.
const LOGS_IN_SUMMARY: usize = 5;
/// How long a log line may be in the summary, in characters.
const LOG_LINE_CHARS: usize = 200;

/// Under a failed build: the Dockerfile step it failed at and the log's error lines, in a code
/// block, and the full log's link (`what`: "full log", or "upload log" for a build Launchpad
/// could not take in); or why the log could not be read.
fn log_excerpt(log: &LogExcerpt, what: &str) -> String {
    if let Some(problem) = &log.problem {
        return format!("\n  ({problem}; {what}: {})", log.url);
    }
    let lines: Vec<&String> = log.step.iter().chain(&log.errors).collect();
    format!(
        "\n{}\n  {what}: {}",
        code_block(&lines, LOG_LINE_CHARS),
        log.url
    )
}

/// A failed build's line: its state (for `Failed to upload`, that Launchpad could not take
/// its files in: not a registry upload) and page.
fn failed_build_line(target: &Target, build: &BuildTrack) -> String {
    if build.state == BuildState::FailedToUpload {
        format!(
            "• {}: built, but Launchpad could not take its files in (Failed to upload; its build log shows a good build) {}",
            build_name(target, build),
            build.web_link
        )
    } else {
        format!(
            "• {}: {} {}",
            build_name(target, build),
            build.state,
            build.web_link
        )
    }
}

/// Which log a failed build's excerpt comes from.
fn log_kind(build: &BuildTrack) -> &'static str {
    if build.state == BuildState::FailedToUpload {
        "upload log"
    } else {
        "full log"
    }
}

/// Lines of a log in a code block: each cut at `chars`, and a fence inside one made harmless.
fn code_block(lines: &[&String], chars: usize) -> String {
    let mut text = String::from("```text\n");
    for line in lines {
        let line: String = line.chars().take(chars).collect();
        text.push_str(&line.replace("```", "'''"));
        text.push('\n');
    }
    text.push_str("```");
    text
}

/// The job's builds asked for that are at `progress`, each with its target.
fn builds_at(job: &Job, progress: Progress) -> impl Iterator<Item = (&Target, &BuildTrack)> {
    job.targets.iter().flat_map(move |t| {
        t.wanted()
            .filter(move |b| b.progress() == progress)
            .map(move |b| (t, b))
    })
}

/// The longer excerpt (`log #JOB`, the Show log button): each failed build's step and the
/// log's last lines, within `limit` characters.
pub fn logs(job: &Job, limit: usize) -> String {
    let failed: Vec<(&Target, &BuildTrack)> = builds_at(job, Progress::BuildFailed).collect();
    if failed.is_empty() {
        return format!(
            "No build of job {} failed: there is no failure log to show.",
            job.id
        );
    }
    let mut text = String::new();
    for (t, b) in failed {
        let mut part = format!("**{}**: {} {}\n", build_name(t, b), b.state, b.web_link);
        let what = log_kind(b);
        match &b.log {
            None => part.push_str("Its log is read when the job ends.\n"),
            Some(log) => match &log.problem {
                Some(problem) => {
                    let _ = writeln!(part, "{problem}; {what}: {}", log.url);
                }
                None => {
                    if let Some(step) = &log.step {
                        let _ = writeln!(part, "Failed at `{}`", step.replace('`', "'"));
                    }
                    let tail: Vec<&String> = log.tail.iter().collect();
                    let _ = writeln!(
                        part,
                        "{}\n{what}: {}",
                        code_block(&tail, LOG_LINE_CHARS),
                        log.url
                    );
                }
            },
        }
        if text.len() + part.len() > limit {
            text.push_str("(more: see the failed builds' pages)");
            break;
        }
        text.push_str(&part);
    }
    text
}

/// The final summary: counts, then failed builds and failed uploads apart, each with the command
/// that retries it.
pub fn summary(job: &Job) -> String {
    let tally = job.tally();
    let mut text = match job.status {
        JobStatus::Cancelled => format!("Job {} was cancelled.", job.id),
        JobStatus::GaveUp => format!(
            "Job {} gave up: {} still unfinished at the deadline.",
            job.id,
            count(tally.unfinished, "build was", "builds were")
        ),
        _ => format!("Job {} finished.", job.id),
    };
    let mut parts = Vec::new();
    if tally.succeeded > 0 {
        parts.push(format!(
            "{} built and uploaded",
            count(tally.succeeded, "build", "builds")
        ));
    }
    for (n, what) in [
        (tally.build_failed, "failed to build"),
        (tally.upload_failed, "failed to upload"),
        (tally.cancelled, "cancelled"),
        (tally.superseded, "superseded (nothing pushed)"),
        (tally.not_built, "not built"),
        (
            tally.unwanted_ran,
            "not asked for but built (cancel failed)",
        ),
        (tally.already_pending, "already pending"),
        (tally.request_failed, "not requested (error)"),
        (tally.asked_twice, "requested twice (answer lost)"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if !parts.is_empty() {
        let _ = write!(text, " {}.", parts.join(", "));
    }
    let failed_builds: Vec<String> = builds_at(job, Progress::BuildFailed)
        .enumerate()
        .map(|(n, (t, b))| {
            let mut line = failed_build_line(t, b);
            match &b.log {
                Some(log) if n < LOGS_IN_SUMMARY => line.push_str(&log_excerpt(log, log_kind(b))),
                Some(_) if n == LOGS_IN_SUMMARY => {
                    let _ = write!(line, "\n  (more logs: `log {}`)", job.id);
                }
                _ => {}
            }
            line
        })
        .collect();
    if !failed_builds.is_empty() {
        let _ = write!(
            text,
            "\nFailed builds (retry with `retry builds {}`):\n{}",
            job.id,
            failed_builds.join("\n")
        );
    }
    let failed_uploads: Vec<String> = builds_at(job, Progress::UploadFailed)
        .map(|(t, b)| {
            format!(
                "• {}: {} {}",
                build_name(t, b),
                upload_reason(b),
                b.web_link
            )
        })
        .collect();
    if !failed_uploads.is_empty() {
        let _ = write!(
            text,
            "\nFailed uploads (retry with `retry uploads {}`):\n{}",
            job.id,
            failed_uploads.join("\n")
        );
    }
    let superseded: Vec<String> = builds_at(job, Progress::Superseded)
        .map(|(t, b)| {
            format!(
                "• {}: {} {}",
                build_name(t, b),
                superseded_reason(t),
                b.web_link
            )
        })
        .collect();
    if !superseded.is_empty() {
        let _ = write!(
            text,
            "\nSuperseded (the registries hold the newer build's image, not this job's):\n{}",
            superseded.join("\n")
        );
    }
    let not_built: Vec<String> = job
        .targets
        .iter()
        .flat_map(|t| t.missing.iter().map(move |missing| (t, missing)))
        .map(|(t, missing)| {
            let what_to_do = match missing.why {
                MissingWhy::NotInProcessors { .. } => format!(
                    "add {} to the recipe's processors on Launchpad, or drop it from the image's architectures in the config",
                    missing.arch
                ),
                MissingWhy::NotBuildable => {
                    "nothing builds it until Launchpad can; see the recipe's page".to_string()
                }
                MissingWhy::Unlisted { .. } => {
                    "look at the request's builds on the recipe's page".to_string()
                }
                _ => "look at the recipe's page".to_string(),
            };
            format!(
                "• {} {}: {}: {what_to_do}: {}",
                target_name(t),
                missing.arch,
                missing_reason(missing),
                web_link_of(&t.recipe_url)
            )
        })
        .collect();
    if !not_built.is_empty() {
        let _ = write!(
            text,
            "\nNot built (nothing here retries them):\n{}",
            not_built.join("\n")
        );
    }
    let unwanted: Vec<String> = job
        .targets
        .iter()
        .flat_map(|t| {
            t.builds
                .iter()
                .filter(|b| {
                    !b.wanted && b.state.is_final() && b.state != BuildState::CancelledBuild
                })
                .map(move |b| format!("• {}: {} {}", build_name(t, b), b.state, b.web_link))
        })
        .collect();
    if !unwanted.is_empty() {
        let _ = write!(
            text,
            "\nNot asked for, and not cancelled in time (Launchpad built them; they may have pushed):\n{}",
            unwanted.join("\n")
        );
    }
    for target in job
        .targets
        .iter()
        .filter(|t| t.phase == Phase::AlreadyPending)
    {
        let whose = if target.asked_again {
            "most likely this job's own first request, whose answer was lost"
        } else {
            "another request's"
        };
        let _ = write!(
            text,
            "\n• {}: already pending ({whose}), not followed here: {}",
            target_name(target),
            web_link_of(&target.recipe_url)
        );
    }
    for target in &job.targets {
        if let Phase::Failed { reason } = &target.phase {
            let _ = write!(
                text,
                "\n• {}: not requested: {}",
                target_name(target),
                failure_reason(target, reason)
            );
        }
    }
    for target in job
        .targets
        .iter()
        .filter(|t| t.asked_again && matches!(t.phase, Phase::Following { .. }))
    {
        let _ = write!(
            text,
            "\n• {}: asked for twice (the first answer was lost). {}",
            target_name(target),
            asked_again_risk(target)
        );
    }
    text.push_str(&hook_lines(job));
    text
}
/// What each hook of a job did, for its summary: a line each, with the end of its output.
fn hook_lines(job: &Job) -> String {
    use crate::hooks::HookOutcome;
    let mut text = String::new();
    for run in &job.hook_runs {
        let name = &run.name;
        let (line, output) = match &run.outcome {
            HookOutcome::Started => (format!("Hook `{name}` is running."), None),
            HookOutcome::Skipped { why } => (format!("Hook `{name}` not run: {why}."), None),
            HookOutcome::Exited {
                code: Some(0),
                output,
            } => (format!("Hook `{name}` done (exit 0)."), Some(output)),
            HookOutcome::Exited { code, output } => (
                match code {
                    Some(code) => format!("Hook `{name}` failed (exit {code}); not retried."),
                    None => format!("Hook `{name}` was killed by a signal; not retried."),
                },
                Some(output),
            ),
            HookOutcome::TimedOut { seconds, output } => (
                format!("Hook `{name}` timed out after {seconds} s and was killed; not retried."),
                Some(output),
            ),
            HookOutcome::NotStarted { error } => {
                (format!("Hook `{name}` could not start: {error}"), None)
            }
            HookOutcome::Interrupted => (
                format!(
                    "Hook `{name}` was running when the bot stopped; it is not run again (check whether it did its work)."
                ),
                None,
            ),
        };
        let _ = write!(text, "\n{line}");
        if let Some(output) = output.filter(|output| !output.is_empty()) {
            let lines: Vec<&String> = output.iter().collect();
            let _ = write!(text, "\n{}", code_block(&lines, LOG_LINE_CHARS));
        }
    }
    text
}

/// What a `cancel` or `retry` did.
pub fn controlled(id: JobId, control: Control, count_done: usize) -> String {
    match (control, count_done) {
        (Control::Cancel, 0) => format!("Job {id} has nothing left to cancel."),
        (Control::Cancel, n) => format!(
            "Cancelling job {id}: {}.",
            count(n, "build or recipe", "builds or recipes")
        ),
        (Control::RetryUploads, 0) => format!("Job {id} has no failed uploads."),
        (Control::RetryUploads, n) => format!(
            "Retrying {} of job {id}.",
            count(n, "failed upload", "failed uploads")
        ),
        (Control::RetryBuilds, 0) => format!("Job {id} has no builds Launchpad can retry."),
        (Control::RetryBuilds, n) => format!(
            "Retrying {} of job {id}.",
            count(n, "failed build", "failed builds")
        ),
    }
}

/// What `build` without `--wait` prints once the builds are known: each build asked for with
/// its page, and what became of each recipe that has none.
pub fn requested_builds(job: &Job) -> String {
    let mut lines = Vec::new();
    for target in &job.targets {
        match &target.phase {
            Phase::Following { .. } => {
                for build in target.wanted() {
                    lines.push(format!("{}: {}", build_name(target, build), build.web_link));
                }
                for missing in &target.missing {
                    lines.push(format!(
                        "{} {}: {}",
                        target_name(target),
                        missing.arch,
                        missing_reason(missing)
                    ));
                }
            }
            Phase::AlreadyPending => lines.push(format!(
                "{}: already pending: {}",
                target_name(target),
                web_link_of(&target.recipe_url)
            )),
            Phase::Failed { reason } => lines.push(format!(
                "{}: not requested: {}",
                target_name(target),
                failure_reason(target, reason)
            )),
            _ => lines.push(format!("{}: not requested", target_name(target))),
        }
    }
    lines.join("\n")
}

/// What an old board message says once the board moved to a new one.
pub fn board_moved(id: JobId) -> String {
    format!("The board of job {id} moved to a newer message below (chats stop edits of old ones).")
}

/// There is no such job.
pub fn no_such_job(id: JobId) -> String {
    format!("There is no job {id}. Say `jobs` to list them.")
}

/// One line per job, for `jobs` and `status`.
pub fn job_line(job: &Job, now: DateTime<Utc>) -> String {
    let tally = job.tally();
    let total: usize = job.targets.iter().map(|t| t.arches.len()).sum();
    format!(
        "{} · {} · `{}` · {} · {}/{} done · {} ago",
        job.id,
        status_word(job),
        job.command,
        job.requester,
        tally.succeeded,
        total,
        elapsed(job.created_at, now)
    )
}

/// The answer to `jobs` (or `status` with nothing running).
pub fn job_list(jobs: &[Job], now: DateTime<Utc>, empty: &str) -> String {
    if jobs.is_empty() {
        return empty.to_string();
    }
    jobs.iter()
        .map(|job| job_line(job, now))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What `jobs` says when there are none.
pub const NO_JOBS: &str = "No jobs yet. Try `rebuild 20.04 arm64 redis`.";
/// What `status` says when nothing runs.
pub const NOTHING_RUNNING: &str = "Nothing is running. Say `jobs` for the recent jobs.";

/// An internal error, in a line, with the job if there is one (the details are in the log).
pub fn internal_error(what: &str) -> String {
    format!("Something went wrong on my side ({what}); the details are in my log.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_links_drop_the_apis_host_and_version() {
        assert_eq!(
            web_link_of("https://api.launchpad.net/devel/~team/p/+oci/x/+recipe/y"),
            "https://launchpad.net/~team/p/+oci/x/+recipe/y"
        );
        assert_eq!(
            web_link_of("http://127.0.0.1:8080/devel/~team/p"),
            "http://127.0.0.1:8080/~team/p"
        );
    }
    use crate::command::{Images, Rebuild};
    use crate::config::Config;

    #[test]
    fn the_board_grid_lines_up_under_the_architectures() {
        let config = Config::built_in().unwrap();
        let rebuild = Rebuild {
            series: vec!["20.04".parse().unwrap()],
            arches: vec![],
            images: Images::Named(vec!["redis".parse().unwrap(), "squid".parse().unwrap()]),
            auto_retry_uploads: false,
            wait: false,
            dry_run: false,
            reason: None,
            then: Vec::new(),
        };
        let plan = crate::plan::plan(&rebuild, &config.catalogue).unwrap();
        let now = Utc::now();
        let job = Job::new(crate::jobs::NewJob {
            id: JobId(3),
            requester: "alice",
            channel: "team",
            command: &rebuild.to_string(),
            plan: &plan,
            api_root: "http://lp/",
            auto_retry_uploads: false,
            reason: None,
            now,
            deadline: now,
            hooks: Vec::new(),
        });
        let board = board(&job, now);
        let lines: Vec<&str> = board.lines().collect();
        assert_eq!(
            lines[0],
            "**Job #3** · `rebuild 20.04 redis squid` · running for under a minute"
        );
        let header = lines[2];
        for arch in ["amd64", "arm64", "ppc64el", "s390x"] {
            let start = header.find(arch).unwrap();
            let middle = header[..start].chars().count() + arch.len() / 2;
            for row in &lines[3..5] {
                let cells: Vec<usize> = row
                    .char_indices()
                    .filter(|(_, c)| *c == '…')
                    .map(|(i, _)| row[..i].chars().count())
                    .collect();
                assert!(
                    cells.contains(&middle),
                    "{arch} at {middle} in {row:?} ({cells:?})\n{board}"
                );
            }
        }
        assert!(
            lines.last().unwrap().starts_with("… 8 requested"),
            "{board}"
        );
    }
}
