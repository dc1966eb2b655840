//! What a job is and what is known about it: who asked, what for, and per recipe (target) where
//! the build request is and what each of its builds is doing. Plain data, stored as JSON in sled;
//! [`super::machine`] changes it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::notice::{BuildCall, Notice};
use crate::launchpad::models::{BuildState, UploadStatus};
use crate::plan::Plan;
use crate::target::{Arch, ImageName, JobId, Series};

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

/// One recipe of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The image.
    pub image: ImageName,
    /// The series.
    pub series: Series,
    /// The app version.
    pub track: String,
    /// The recipe's API URL.
    pub recipe_url: String,
    /// The architectures asked for; builds of others are cancelled.
    pub arches: Vec<Arch>,
    /// Where the build request is.
    pub phase: Phase,
    /// The request's builds, once known. Stored apart from the target, each on its own.
    #[serde(skip)]
    pub builds: Vec<BuildTrack>,
    /// When to look at the build request next (or to ask again after a transient failure).
    pub poll: Poll,
    /// Architectures asked for that the request made no build of, and why.
    #[serde(default)]
    pub missing: Vec<Missing>,
    /// `requestBuilds` was sent again after an answer that never came: a later "already
    /// pending" is most likely the first request's own builds.
    #[serde(default)]
    pub asked_again: bool,
    /// When the `requestBuilds` whose builds are followed was sent (handed to the client):
    /// none of its builds can have started before. `None` for a request taken up after its
    /// answer was lost.
    #[serde(default)]
    pub requested_at: Option<DateTime<Utc>>,
    /// Builds of its request that webhook deliveries named before the request's builds were
    /// listed: what the job knows of them should Launchpad fail to list them.
    #[serde(default)]
    pub named_builds: Vec<String>,
    /// Reads of the request's builds answered 500 in a row.
    #[serde(default)]
    pub list_errors: u32,
}

/// An architecture asked for that a request made no build of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    /// The architecture.
    pub arch: Arch,
    /// Why.
    pub why: MissingWhy,
}

/// Why a request made no build of an architecture asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MissingWhy {
    /// Not known yet: the recipe's processors are to be read.
    Unknown,
    /// The recipe does not build it: it is not among its processors.
    NotInProcessors {
        /// The recipe's processors.
        processors: Vec<String>,
    },
    /// The recipe builds it, and Launchpad skipped it: another request's build of it is
    /// queued, or the series cannot build it now (which the architecture's
    /// `distro_arch_series` tells: `checked`). A delivery naming that build until `until`
    /// makes the job follow it.
    Skipped {
        /// Until when a delivery is waited for; `None` without webhooks.
        until: Option<DateTime<Utc>>,
        /// Launchpad said the series can build it: then the only reason left is a queued
        /// build of another request (not seen here).
        #[serde(default)]
        checked: bool,
    },
    /// Launchpad could not list the request's builds (500: one of them cannot be shown,
    /// most likely a failed upload on several registries), and no delivery or read showed a
    /// build of this architecture.
    Unlisted {
        /// Launchpad's OOPS id.
        oops_id: Option<String>,
    },
    /// Launchpad cannot build it now: its `distro_arch_series` in the series OCI builds are
    /// made on is disabled or has no chroot (`launchpad-truths.md`, "Which architectures a
    /// request builds"). Nothing builds it, and no retry helps until Launchpad can.
    NotBuildable,
}

/// Where a target's build request is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Not asked for yet.
    ToRequest,
    /// `requestBuilds` is being sent (attempt 1 or 2). Found at start, it means the last run
    /// stopped mid-request: whether Launchpad got it is unknown.
    Requesting {
        /// Which attempt.
        attempt: u8,
        /// When it was sent (a build request made then may be this one's).
        #[serde(default)]
        sent_at: Option<DateTime<Utc>>,
    },
    /// The answer to `requestBuilds` never came: until `until`, a webhook delivery naming a
    /// build request of this recipe made when it was sent is taken for this one's; after, it
    /// is sent again.
    InDoubt {
        /// Which attempt was lost.
        attempt: u8,
        /// When it was sent.
        sent_at: Option<DateTime<Utc>>,
        /// How long a delivery is waited for.
        until: DateTime<Utc>,
    },
    /// Launchpad took the request; its builds are not made yet.
    Requested {
        /// The build request.
        request_url: String,
    },
    /// The builds are known and followed.
    Following {
        /// The build request.
        request_url: String,
    },
    /// Launchpad answered that identical builds are already queued: nothing was requested.
    AlreadyPending,
    /// The request failed.
    Failed {
        /// Why.
        reason: RequestFailure,
    },
    /// Cancelled before it was requested.
    Cancelled,
}

/// Why a target's build request failed; worded by [`crate::messages`]. Stored as Launchpad's
/// words alone (a plain string) or as what the bot knows, so a store written when every reason
/// was a sentence still reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestFailure {
    /// Launchpad's words: its refusal, the request's `error_message`, or the error met.
    Launchpad(String),
    /// The answer to `requestBuilds` was lost, and it was not asked again.
    Lost {
        /// How.
        lost: LostRequest,
    },
}

/// How a request's answer was lost when it is not asked again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LostRequest {
    /// Twice: Launchpad did not confirm it either time.
    Twice,
    /// So long ago (a restart long after a crash) that asking again could build every
    /// architecture twice.
    LongAgo {
        /// How many minutes ago it was sent.
        minutes: i64,
    },
}

/// When to look next, and how patient to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Poll {
    /// Not before.
    pub due: DateTime<Utc>,
    /// The current interval: the step while a stage overruns, or the wait that grows while
    /// nothing changes (a cancel under way).
    pub interval_ms: u64,
}

/// One build of a target's request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildTrack {
    /// Its API URL. Shared, not copied, with what the store last wrote of the build
    /// ([`crate::store::Written`]): the comparison each save makes of every build then finds
    /// it the same without reading it.
    pub url: std::sync::Arc<str>,
    /// Its web page.
    pub web_link: String,
    /// Its architecture.
    pub arch: Arch,
    /// Whether its architecture was asked for; if not, it is cancelled.
    pub wanted: bool,
    /// Launchpad's `buildstate`.
    pub state: BuildState,
    /// Launchpad's `registry_upload_status`.
    pub upload: UploadStatus,
    /// Launchpad's `registry_upload_error_summary`.
    pub upload_error: Option<String>,
    /// Launchpad's `can_be_retried`.
    pub can_be_retried: bool,
    /// Launchpad's `can_be_cancelled`.
    pub can_be_cancelled: bool,
    /// The ETag of the last answer, for conditional GETs.
    pub etag: Option<String>,
    /// When to look next.
    pub poll: Poll,
    /// `cancel` was sent (for a build not asked for, or after `cancel #JOB`).
    pub cancel_sent: bool,
    /// How many times the upload was seen failing: the alert ledger's key, with the URL.
    pub upload_failures: u32,
    /// `scheduleRegistryUpload` calls made by auto-retry.
    pub auto_retries: u32,
    /// Whether the current upload was started by auto-retry (its failure is reported as an
    /// attempt, not alerted afresh).
    pub upload_by_auto_retry: bool,
    /// When the next auto-retry is due.
    pub retry_due: Option<DateTime<Utc>>,
    /// A refusal no retry can fix ("not properly configured"), which stops auto-retry.
    pub upload_refusal: Option<String>,
    /// Calls on the build (`cancel`, `retry`, `scheduleRegistryUpload`) made and not answered
    /// yet, stored before they go out. While there are any, the build is not read (a read could
    /// see the state before the call) and the job does not end; found after a restart, they are
    /// sent again (each is safe to repeat: see [`crate::launchpad::Client`]).
    #[serde(default)]
    pub pending_calls: Vec<BuildCall>,
    /// Counts the calls made on the build and the deliveries taken in without a read: a read
    /// started before one and answered after it may show the state before, and is not taken
    /// in (the board never moves back to it).
    #[serde(default)]
    pub generation: u32,
    /// Reads in a row that Launchpad answered with an internal error (500).
    #[serde(default)]
    pub read_errors: u32,
    /// Set when Launchpad cannot show the build's entry (500): its OOPS id (or the error,
    /// without one). Launchpad fails so only for a build whose last upload failed on several
    /// registries (`launchpad-truths.md`, "Registry uploads"), until a new upload replaces the
    /// errors: such a build is a failed upload whose registries' errors cannot be shown. Set at
    /// once when a delivery said its upload failed ([`BuildTrack::delivered`]), else after
    /// [`crate::jobs::machine::UNREADABLE_AFTER`] reads in a row; cleared by a read that works
    /// or an upload scheduled again.
    #[serde(default)]
    pub unreadable: Option<String>,
    /// What the last webhook delivery about the build said (its `status` and
    /// `registry_upload_status`): what is known of a build Launchpad cannot show.
    #[serde(default)]
    pub delivered: Option<(BuildState, UploadStatus)>,
    /// Launchpad's `upload_log_url`: why it could not take the build's files in (the build
    /// state `Failed to upload`).
    #[serde(default)]
    pub upload_log_url: Option<String>,
    /// When it was first seen in its current stage (queued, building, uploading): what paces
    /// its reads ([`crate::jobs::machine::Typical`]).
    #[serde(default)]
    pub stage_since: Option<DateTime<Utc>>,
    /// A time when it had certainly not started: when Launchpad last showed it queued, or
    /// when the `requestBuilds` that made it was sent. A cancel answered less than
    /// [`crate::jobs::machine::Typical::shortest_build`] after that cannot have come after a
    /// successful build, so its outcome is known without a read.
    #[serde(default)]
    pub unstarted_at: Option<DateTime<Utc>>,
    /// Launchpad's `build_log_url`, once the build has started.
    #[serde(default)]
    pub log_url: Option<String>,
    /// What the log of a failed build says, read once it failed and before the summary (its
    /// upload log, for the build state `Failed to upload`).
    #[serde(default)]
    pub log: Option<crate::launchpad::buildlog::LogExcerpt>,
}

impl Progress {
    /// What Launchpad's `buildstate` and `registry_upload_status` mean to a person.
    pub fn of(state: &BuildState, upload: &UploadStatus) -> Progress {
        match (state, upload) {
            (BuildState::NeedsBuilding, _) => Progress::Queued,
            (BuildState::CancellingBuild | BuildState::CancelledBuild, _) => Progress::Cancelled,
            (BuildState::SuccessfullyBuilt, UploadStatus::Pending) => Progress::Uploading,
            (BuildState::SuccessfullyBuilt, UploadStatus::FailedToUpload) => Progress::UploadFailed,
            // A newer build of the recipe and processor was built first: nothing was pushed
            // for this one (`launchpad-truths.md`, "Registry uploads").
            (BuildState::BuildForSupersededSource, _) | (_, UploadStatus::Superseded) => {
                Progress::Superseded
            }
            (BuildState::SuccessfullyBuilt, _) => Progress::Done,
            (state, _) if state.is_final() => Progress::BuildFailed,
            _ => Progress::Building,
        }
    }

    /// Whether it has ended (as far as Launchpad goes on its own).
    pub fn is_final(self) -> bool {
        !matches!(
            self,
            Progress::Queued | Progress::Building | Progress::Uploading
        )
    }
}

/// What a build looks like to a person: one symbol on the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Progress {
    /// Waiting for a builder.
    Queued,
    /// On a builder, or being processed.
    Building,
    /// Built; the registry upload is running.
    Uploading,
    /// Built and pushed (or nothing to push).
    Done,
    /// The build failed.
    BuildFailed,
    /// Built, but the registry upload failed.
    UploadFailed,
    /// Cancelled.
    Cancelled,
    /// Built, and superseded by a newer build of the recipe and processor before its upload:
    /// nothing was pushed for it.
    Superseded,
}

impl BuildTrack {
    /// Whether it is ours to cancel: not asked for, or its job is being cancelled.
    pub fn to_cancel(&self, cancel_all: bool) -> bool {
        !self.wanted || cancel_all
    }

    /// A build as a request's builds collection lists it, before anything is known of it.
    pub fn new(url: String, web_link: String, arch: Arch, wanted: bool, poll: Poll) -> BuildTrack {
        BuildTrack {
            url: url.into(),
            web_link,
            arch,
            wanted,
            state: BuildState::NeedsBuilding,
            upload: UploadStatus::Unscheduled,
            upload_error: None,
            can_be_retried: false,
            can_be_cancelled: false,
            etag: None,
            poll,
            cancel_sent: false,
            upload_failures: 0,
            auto_retries: 0,
            upload_by_auto_retry: false,
            retry_due: None,
            upload_refusal: None,
            pending_calls: Vec::new(),
            generation: 0,
            read_errors: 0,
            unreadable: None,
            delivered: None,
            upload_log_url: None,
            stage_since: None,
            unstarted_at: None,
            log_url: None,
            log: None,
        }
    }

    /// Where the build is, for people. One Launchpad cannot show is a failed upload.
    pub fn progress(&self) -> Progress {
        if self.unreadable.is_some() {
            return Progress::UploadFailed;
        }
        Progress::of(&self.state, &self.upload)
    }

    /// Whether Launchpad cannot show the build and a delivery said its upload failed (rather
    /// than its reads failing long enough to leave no other likely cause).
    pub fn failure_delivered(&self) -> bool {
        self.delivered
            .as_ref()
            .is_some_and(|(_, upload)| *upload == UploadStatus::FailedToUpload)
    }

    /// Whether an auto-retry of the upload is still to come.
    pub fn auto_retry_pending(&self, auto_retry: bool, budget: u32) -> bool {
        auto_retry
            && self.progress() == Progress::UploadFailed
            && self.auto_retries < budget
            && self.upload_refusal.is_none()
    }

    /// Whether nothing more will happen to it without someone asking.
    pub fn is_settled(&self, auto_retry: bool, budget: u32) -> bool {
        if !self.wanted {
            // Not ours: followed only until it is cancelled, or can no longer be.
            return !matches!(
                self.state,
                BuildState::NeedsBuilding
                    | BuildState::CurrentlyBuilding
                    | BuildState::CancellingBuild
            );
        }
        match self.progress() {
            Progress::Queued | Progress::Building | Progress::Uploading => false,
            Progress::Cancelled => self.state.is_final(),
            Progress::UploadFailed => !self.auto_retry_pending(auto_retry, budget),
            Progress::Done | Progress::BuildFailed | Progress::Superseded => true,
        }
    }
}

impl Target {
    /// The target's builds that were asked for.
    pub fn wanted(&self) -> impl Iterator<Item = &BuildTrack> {
        self.builds.iter().filter(|build| build.wanted)
    }

    /// Whether the target will not change without someone asking (a wait for a delivery that
    /// has passed its time counts as over: `now`).
    pub fn is_settled(&self, auto_retry: bool, budget: u32, now: DateTime<Utc>) -> bool {
        match self.phase {
            Phase::ToRequest
            | Phase::Requesting { .. }
            | Phase::InDoubt { .. }
            | Phase::Requested { .. } => false,
            Phase::AlreadyPending | Phase::Failed { .. } | Phase::Cancelled => true,
            Phase::Following { .. } => {
                self.builds
                    .iter()
                    .all(|build| build.is_settled(auto_retry, budget))
                    && self.missing.iter().all(|missing| match missing.why {
                        MissingWhy::Unknown => false,
                        MissingWhy::NotInProcessors { .. }
                        | MissingWhy::NotBuildable
                        | MissingWhy::Unlisted { .. } => true,
                        MissingWhy::Skipped { until, .. } => until.is_none_or(|until| until <= now),
                    })
            }
        }
    }

    /// Whether the target waits for a webhook delivery: one naming its lost build request, or
    /// the queued build of an architecture Launchpad skipped.
    pub fn awaits_delivery(&self, now: DateTime<Utc>) -> bool {
        matches!(self.phase, Phase::Requesting { .. } | Phase::InDoubt { .. })
            || self.missing.iter().any(|missing| match missing.why {
                MissingWhy::Skipped { until, .. } => until.is_some_and(|until| until > now),
                _ => false,
            })
    }

    /// Whether Launchpad could not list its request's builds, so that the job follows those
    /// deliveries name instead ([`crate::jobs::machine`]).
    pub fn unlisted(&self) -> bool {
        matches!(self.phase, Phase::Following { .. })
            && self.list_errors >= crate::jobs::machine::UNREADABLE_AFTER
    }

    /// Whether its builds are known and the unwanted ones cancelled (or ended): what
    /// `build` without `--wait` waits for before it says where the builds are.
    pub fn builds_known(&self) -> bool {
        match self.phase {
            Phase::ToRequest
            | Phase::Requesting { .. }
            | Phase::InDoubt { .. }
            | Phase::Requested { .. } => false,
            Phase::AlreadyPending | Phase::Failed { .. } | Phase::Cancelled => true,
            Phase::Following { .. } => {
                self.missing
                    .iter()
                    .all(|missing| missing.why != MissingWhy::Unknown)
                    && self
                        .builds
                        .iter()
                        .filter(|build| !build.wanted)
                        .all(|build| {
                            build.pending_calls.is_empty()
                                && (build.cancel_sent || !build.can_be_cancelled)
                        })
            }
        }
    }
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
