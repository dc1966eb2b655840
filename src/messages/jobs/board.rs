//! The status board, one job's line in `jobs`, and the words and symbols of a build's progress.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::{elapsed, target_name};
use crate::jobs::model::{
    BuildTrack, Job, JobStatus, Missing, MissingWhy, Phase, Progress, Target,
};
use crate::messages::Front;
use crate::target::{Arch, JobId};

/// The board's symbol for a build's progress.
pub fn symbol(progress: Progress) -> char {
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

/// `redis 6.2 on 22.04 arm64`.
pub(super) fn build_name(target: &Target, build: &BuildTrack) -> String {
    format!("{} {}", target_name(target), build.arch)
}

pub fn status_word(job: &Job) -> &'static str {
    match job.status {
        JobStatus::Running => "running",
        JobStatus::Finished => "finished",
        JobStatus::Cancelled => "cancelled",
        JobStatus::GaveUp => "gave up",
    }
}

/// How long a running job has taken, to the minute: the board changes (and is edited) only
/// when something happened or a minute passed.
pub(super) fn running_for(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
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
        Some(end) => format!("· took {}", elapsed(job.created_at, end)),
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

pub fn progress_word(progress: Progress) -> &'static str {
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

pub(super) fn cell(target: &Target, arch: &Arch) -> String {
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

/// What an old board message says once the board moved to a new one.
pub fn board_moved(id: JobId) -> String {
    format!("The board of job {id} moved to a newer message below (chats stop edits of old ones).")
}

/// One line per job, for `jobs` and `status`.
pub fn job_line(job: &Job, now: DateTime<Utc>) -> String {
    let tally = job.tally();
    let total: usize = job.targets.iter().map(|t| t.arches.len()).sum();
    // What did not work, beside what did: "0/1 done" alone reads like nothing happened.
    let mut failed = String::new();
    for (n, what) in [
        (tally.build_failed, "build failed"),
        (tally.upload_failed, "upload failed"),
    ] {
        if n > 0 {
            let _ = write!(failed, ", {n} {what}");
        }
    }
    format!(
        "{} · {} · `{}` · {} · {}/{} done{failed} · {} ago",
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
pub fn no_jobs(front: Front) -> String {
    let example = match front {
        Front::Chat => "rebuild 20.04 arm64 redis".to_string(),
        Front::CommandLine => "image-builder build 20.04 arm64 redis".to_string(),
    };
    format!("No jobs yet. Try `{example}`.")
}

/// What `status` says when nothing runs.
pub fn nothing_running(front: Front) -> String {
    format!(
        "Nothing is running. {} `{}` for the recent jobs.",
        front.verb(),
        front.command("jobs")
    )
}
