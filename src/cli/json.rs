//! `--json`: what `status`, `jobs`, `history`, `build` and `wait` print for scripts, instead
//! of the tables a person reads. One schema, versioned, documented in `docs/json.md`: every
//! document is one JSON object on standard output with `"version": 1` and one of `jobs`,
//! `rebuilds` or `plan`. Adding a field keeps the version; removing one or changing what one
//! means makes the next version. Names are snake_case; times RFC 3339 in UTC; Launchpad's own
//! words (a build's `state`, an upload's `upload_state`) as Launchpad writes them.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::follow::exit_code;
use crate::history::{HistoryRecord, PastRebuild};
use crate::jobs::model::{BuildTrack, Job, JobStatus, Target};
use crate::plan::{Approval, Plan};

/// The schema's version.
pub const VERSION: u32 = 1;

/// A document of jobs (`status`, `jobs`, `build`, `wait`).
#[derive(Serialize)]
pub struct Jobs<'a> {
    version: u32,
    jobs: Vec<JobView<'a>>,
}

impl<'a> Jobs<'a> {
    /// These jobs.
    pub fn of(jobs: impl IntoIterator<Item = &'a Job>) -> Jobs<'a> {
        Jobs {
            version: VERSION,
            jobs: jobs.into_iter().map(JobView::of).collect(),
        }
    }
}

#[derive(Serialize)]
struct JobView<'a> {
    id: u64,
    command: &'a str,
    requester: &'a str,
    channel: &'a str,
    reason: Option<&'a str>,
    status: &'static str,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    /// The exit code `wait` gives it, once it has ended.
    exit_code: Option<u8>,
    targets: Vec<TargetView<'a>>,
    /// Every failed upload of its builds: what the alerts told.
    alerts: Vec<AlertView<'a>>,
}

impl<'a> JobView<'a> {
    fn of(job: &'a Job) -> JobView<'a> {
        JobView {
            id: job.id.0,
            command: &job.command,
            requester: &job.requester,
            channel: &job.channel,
            reason: job.reason.as_deref(),
            status: match job.status {
                JobStatus::Running => "running",
                JobStatus::Finished => "finished",
                JobStatus::Cancelled => "cancelled",
                JobStatus::GaveUp => "gave_up",
            },
            created_at: job.created_at,
            finished_at: job.finished_at,
            exit_code: job.is_finished().then(|| exit_code(job)),
            targets: job.targets.iter().map(TargetView::of).collect(),
            alerts: job
                .targets
                .iter()
                .flat_map(|target| target.builds.iter().map(move |build| (target, build)))
                .filter(|(_, build)| build.upload_failures > 0)
                .map(|(target, build)| AlertView {
                    image: target.image.as_str(),
                    series: target.series.to_string(),
                    arch: build.arch.to_string(),
                    build: &build.url,
                    web_link: &build.web_link,
                    upload_failures: build.upload_failures,
                    upload_error: build.upload_error.as_deref(),
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct TargetView<'a> {
    image: &'a str,
    series: String,
    track: &'a str,
    recipe: &'a str,
    arches: Vec<String>,
    builds: Vec<BuildView<'a>>,
    /// Architectures asked for that got no build, and why (the board's words).
    missing: Vec<MissingView>,
}

impl<'a> TargetView<'a> {
    fn of(target: &'a Target) -> TargetView<'a> {
        TargetView {
            image: target.image.as_str(),
            series: target.series.to_string(),
            track: &target.track,
            recipe: &target.recipe_url,
            arches: target.arches.iter().map(ToString::to_string).collect(),
            builds: target.builds.iter().map(BuildView::of).collect(),
            missing: target
                .missing
                .iter()
                .map(|missing| MissingView {
                    arch: missing.arch.to_string(),
                    why: crate::messages::jobs::missing_reason(missing),
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct MissingView {
    arch: String,
    why: String,
}

#[derive(Serialize)]
struct BuildView<'a> {
    arch: String,
    /// Asked for; a build not asked for is cancelled.
    wanted: bool,
    /// Its API URL.
    url: &'a str,
    /// Its page.
    web_link: &'a str,
    /// One of `queued`, `building`, `uploading`, `done`, `build_failed`, `upload_failed`,
    /// `cancelled`, `superseded`.
    progress: &'static str,
    /// Launchpad's `buildstate`.
    state: String,
    /// Launchpad's `registry_upload_status`.
    upload_state: String,
    upload_error: Option<&'a str>,
    upload_failures: u32,
}

impl<'a> BuildView<'a> {
    fn of(build: &'a BuildTrack) -> BuildView<'a> {
        BuildView {
            arch: build.arch.to_string(),
            wanted: build.wanted,
            url: &build.url,
            web_link: &build.web_link,
            progress: build.progress().name(),
            state: build.state.to_string(),
            upload_state: build.upload.to_string(),
            upload_error: build.upload_error.as_deref(),
            upload_failures: build.upload_failures,
        }
    }
}

#[derive(Serialize)]
struct AlertView<'a> {
    image: &'a str,
    series: String,
    arch: String,
    build: &'a str,
    web_link: &'a str,
    upload_failures: u32,
    upload_error: Option<&'a str>,
}

/// A document of past rebuilds (`history`).
#[derive(Serialize)]
pub struct Rebuilds<'a> {
    version: u32,
    rebuilds: Vec<RebuildView<'a>>,
}

impl<'a> Rebuilds<'a> {
    /// These rebuilds, newest first.
    pub fn of(rebuilds: &'a [PastRebuild]) -> Rebuilds<'a> {
        Rebuilds {
            version: VERSION,
            rebuilds: rebuilds
                .iter()
                .map(|rebuild| RebuildView {
                    job: rebuild.job.map(|job| job.0),
                    requester: rebuild.requester.as_deref(),
                    reason: rebuild.reason.as_deref(),
                    requested_at: rebuild.requested_at,
                    builds: &rebuild.builds,
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct RebuildView<'a> {
    job: Option<u64>,
    requester: Option<&'a str>,
    reason: Option<&'a str>,
    requested_at: DateTime<Utc>,
    builds: &'a [HistoryRecord],
}

/// A plan (`build --dry-run`).
#[derive(Serialize)]
pub struct PlanDocument<'a> {
    version: u32,
    plan: PlanView<'a>,
}

#[derive(Serialize)]
struct PlanView<'a> {
    builds: usize,
    /// Image × series combinations `all` skipped, because the catalogue lacks them.
    skipped: usize,
    /// Whether chat would ask for `confirm` first (`none`, `confirm`, `confirm_mass_rebuild`).
    confirmation: &'static str,
    recipes: Vec<RecipeView<'a>>,
}

#[derive(Serialize)]
struct RecipeView<'a> {
    image: &'a str,
    series: String,
    track: &'a str,
    recipe: String,
    arches: Vec<String>,
}

impl<'a> PlanDocument<'a> {
    /// The plan, and what chat would ask before starting it.
    pub fn of(plan: &'a Plan, approval: Approval) -> PlanDocument<'a> {
        PlanDocument {
            version: VERSION,
            plan: PlanView {
                builds: plan.builds(),
                skipped: plan.skipped,
                confirmation: match approval {
                    Approval::Proceed => "none",
                    Approval::Confirm => "confirm",
                    Approval::ConfirmMassRebuild => "confirm_mass_rebuild",
                },
                recipes: plan
                    .targets
                    .iter()
                    .map(|recipe| RecipeView {
                        image: recipe.image.as_str(),
                        series: recipe.series.to_string(),
                        track: &recipe.track,
                        recipe: recipe.recipe.to_string(),
                        arches: recipe.arches.iter().map(ToString::to_string).collect(),
                    })
                    .collect(),
            },
        }
    }
}

/// The document as one line of JSON.
pub fn render(document: &impl Serialize) -> String {
    serde_json::to_string(document).expect("views of plain data serialize")
}
