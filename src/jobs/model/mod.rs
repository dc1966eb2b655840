//! What a job is and what is known about it: who asked, what for, and per recipe (target) where
//! the build request is and what each of its builds is doing. Plain data, stored as JSON in sled;
//! [`super::machine`] changes it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::notice::Notice;
use crate::launchpad::models::BuildState;
use crate::plan::Plan;
use crate::target::JobId;

mod build;
mod record;
mod target;

pub use super::notice::{LostRequest, RequestFailure};
pub use build::{BuildDates, BuildTrack, Poll, Progress};
pub use target::{Missing, MissingWhy, Phase, Target};

/// Reads of a build answered 500 in a row (each after the client's own retries) before the
/// build is taken, without a delivery saying so, for a failed upload on several registries:
/// Launchpad answers every read of such a build 500 until its upload is scheduled again
/// (`reference/launchpad-truths.md`, "Registry uploads"). It will not become readable by
/// waiting, and a job must not wait on it; three reads rule out a passing fault.
pub const UNREADABLE_AFTER: u32 = 3;
/// One accepted command, followed to its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Its number.
    pub id: JobId,
    /// Who asked (a chat user id, or the terminal user).
    pub requester: String,
    /// Where they asked (a channel id, `console`, `terminal`).
    pub channel: String,
    /// The command, in its canonical spelling.
    pub command: String,
    /// Retry failed uploads without being asked.
    pub auto_retry_uploads: bool,
    /// Why, as given.
    pub reason: Option<String>,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When the engine gives up on it.
    pub deadline: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Where it stands.
    pub status: JobStatus,
    /// Whether `cancel` was asked for.
    pub cancel_requested: bool,
    /// One per recipe. Stored apart from the job, each on its own ([`crate::store`]), so that
    /// a change to one is written without the rest.
    #[serde(skip)]
    pub targets: Vec<Target>,
    /// Notices stored with the change that caused them and not yet said.
    #[serde(default)]
    pub outbox: Vec<Notice>,
    /// Since Launchpad last could not be reached at all (a timeout or no connection, after
    /// the client's own retries): why. Cleared by the next answer.
    #[serde(default)]
    pub unreachable: Option<String>,
    /// The hooks to run once every build and upload succeeded ([`crate::hooks`]).
    #[serde(default)]
    pub hooks: Vec<String>,
    /// What became of them, stored before each starts and when it ends.
    #[serde(default)]
    pub hook_runs: Vec<HookRun>,
}

/// What became of one hook of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRun {
    /// The hook's name.
    pub name: String,
    /// What happened.
    pub outcome: crate::hooks::HookOutcome,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobStatus {
    /// Builds are being requested or followed.
    Running,
    /// Everything ended by itself.
    Finished,
    /// Ended by `cancel`.
    Cancelled,
    /// Ended by the deadline with builds unfinished.
    GaveUp,
}

/// How a job ended, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Builds built and pushed.
    pub succeeded: usize,
    /// Builds that failed to build.
    pub build_failed: usize,
    /// Builds whose upload failed.
    pub upload_failed: usize,
    /// Builds cancelled.
    pub cancelled: usize,
    /// Builds not finished.
    pub unfinished: usize,
    /// Builds superseded by a newer build before their upload: nothing pushed for them.
    pub superseded: usize,
    /// Targets Launchpad answered "already pending" for.
    pub already_pending: usize,
    /// Targets whose request failed.
    pub request_failed: usize,
    /// Targets not requested yet (or cancelled before).
    pub not_requested: usize,
    /// Architectures asked for that got no build.
    pub not_built: usize,
    /// Builds not asked for that could not be cancelled and ran.
    pub unwanted_ran: usize,
    /// Targets whose request was sent again after its answer was lost: the first request's
    /// builds (other architectures too) may run unfollowed and uncancelled.
    pub asked_twice: usize,
}

/// What a new job is made of ([`Job::new`]).
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    /// Its number.
    pub id: JobId,
    /// Who asked (a chat user id, or the terminal's user).
    pub requester: &'a str,
    /// Where its board and summary go.
    pub channel: &'a str,
    /// The command as typed, for the board.
    pub command: &'a str,
    /// What to build.
    pub plan: &'a Plan,
    /// The Launchpad API root its recipes' URLs start with.
    pub api_root: &'a str,
    /// Whether failed uploads are retried without asking.
    pub auto_retry_uploads: bool,
    /// Why (`reason=`).
    pub reason: Option<String>,
    /// When it is made.
    pub now: DateTime<Utc>,
    /// When it is given up.
    pub deadline: DateTime<Utc>,
    /// The hooks to run after it, if it succeeds.
    pub hooks: Vec<String>,
}

impl Job {
    /// A new running job for a plan.
    pub fn new(new: NewJob<'_>) -> Job {
        let NewJob {
            id,
            requester,
            channel,
            command,
            plan,
            api_root,
            auto_retry_uploads,
            reason,
            now,
            deadline,
            hooks,
        } = new;
        let targets = plan
            .targets
            .iter()
            .map(|target| Target {
                image: target.image.clone(),
                series: target.series,
                track: target.track.clone(),
                recipe_url: format!("{api_root}{}", target.recipe),
                arches: target.arches.clone(),
                phase: Phase::ToRequest,
                builds: Vec::new(),
                poll: Poll {
                    due: now,
                    interval_ms: 0,
                },
                missing: Vec::new(),
                asked_again: false,
                requested_at: None,
                named_builds: Vec::new(),
                list_errors: 0,
            })
            .collect();
        Job {
            id,
            requester: requester.to_string(),
            channel: channel.to_string(),
            command: command.to_string(),
            auto_retry_uploads,
            reason,
            created_at: now,
            deadline,
            finished_at: None,
            status: JobStatus::Running,
            cancel_requested: false,
            targets,
            outbox: Vec::new(),
            unreachable: None,
            hooks,
            hook_runs: Vec::new(),
        }
    }

    /// The variables a hook run for the job gets ([`crate::hooks::run`]).
    pub fn hook_environment(&self) -> Vec<(String, String)> {
        let job = self;
        let unique = |mut words: Vec<String>| {
            words.sort();
            words.dedup();
            words.join(" ")
        };
        let targets = &job.targets;
        let builds: Vec<String> = targets
            .iter()
            .flat_map(|t| t.wanted().map(|b| b.web_link.clone()))
            .collect();
        vec![
            ("IB_JOB".to_string(), job.id.0.to_string()),
            (
                "IB_IMAGES".to_string(),
                unique(targets.iter().map(|t| t.image.to_string()).collect()),
            ),
            (
                "IB_SERIES".to_string(),
                unique(targets.iter().map(|t| t.series.to_string()).collect()),
            ),
            (
                "IB_ARCHES".to_string(),
                unique(
                    targets
                        .iter()
                        .flat_map(|t| t.arches.iter().map(ToString::to_string))
                        .collect(),
                ),
            ),
            (
                "IB_TRACKS".to_string(),
                targets
                    .iter()
                    .map(|t| format!("{}:{}:{}", t.image, t.track, t.series))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            ("IB_BUILDS".to_string(), builds.join("\n")),
            ("IB_REQUESTER".to_string(), job.requester.clone()),
        ]
    }

    /// Whether the job has ended.
    pub fn is_finished(&self) -> bool {
        self.status != JobStatus::Running
    }

    /// Whether every target's builds are known and the unwanted ones cancelled.
    pub fn builds_known(&self) -> bool {
        self.targets.iter().all(Target::builds_known)
    }

    /// Whether it finished with every build built and uploaded, and nothing else to say: what
    /// a hook waits for ([`crate::hooks`]).
    pub fn all_succeeded(&self) -> bool {
        let t = self.tally();
        self.status == JobStatus::Finished
            && t.succeeded > 0
            && t.build_failed
                + t.upload_failed
                + t.cancelled
                + t.unfinished
                + t.superseded
                + t.already_pending
                + t.request_failed
                + t.not_requested
                + t.not_built
                + t.unwanted_ran
                + t.asked_twice
                == 0
    }

    /// Counts the outcome so far.
    pub fn tally(&self) -> Tally {
        let mut tally = Tally::default();
        for target in &self.targets {
            match &target.phase {
                Phase::AlreadyPending => tally.already_pending += 1,
                Phase::Failed { .. } => tally.request_failed += 1,
                Phase::ToRequest | Phase::Cancelled => tally.not_requested += 1,
                Phase::Requesting { .. } | Phase::InDoubt { .. } | Phase::Requested { .. } => {
                    tally.unfinished += target.arches.len()
                }
                Phase::Following { .. } => {
                    tally.not_built += target.missing.len();
                    tally.asked_twice += usize::from(target.asked_again);
                    tally.unwanted_ran += target
                        .builds
                        .iter()
                        .filter(|build| {
                            !build.wanted
                                && build.state.is_final()
                                && build.state != BuildState::CancelledBuild
                        })
                        .count();
                    for build in target.wanted() {
                        match build.progress() {
                            Progress::Done => tally.succeeded += 1,
                            Progress::BuildFailed => tally.build_failed += 1,
                            Progress::UploadFailed => tally.upload_failed += 1,
                            Progress::Cancelled => tally.cancelled += 1,
                            Progress::Superseded => tally.superseded += 1,
                            Progress::Queued | Progress::Building | Progress::Uploading => {
                                tally.unfinished += 1
                            }
                        }
                    }
                }
            }
        }
        tally
    }
}
