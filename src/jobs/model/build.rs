//! One build a job follows ([`BuildTrack`]): what was last read of it, when it is read next, its
//! upload's attempts and its [`Progress`] on the board.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::jobs::notice::BuildCall;
use crate::launchpad::models::{BuildState, UploadStatus};
use crate::target::Arch;

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
    /// [`super::UNREADABLE_AFTER`] reads in a row; cleared by a read that works
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
    /// When a builder started it and when it finished, as Launchpad last said: the
    /// dashboard's durations and queue waits.
    #[serde(default)]
    pub dates: BuildDates,
}

/// When a build started on a builder (`date_started`) and finished (`datebuilt`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BuildDates {
    /// `date_started`.
    pub started: Option<DateTime<Utc>>,
    /// `datebuilt`.
    pub finished: Option<DateTime<Utc>>,
}

impl Progress {
    /// Its name for programs: `--json` and the dashboard's markup (`upload_failed`).
    pub fn name(self) -> &'static str {
        match self {
            Progress::Queued => "queued",
            Progress::Building => "building",
            Progress::Uploading => "uploading",
            Progress::Done => "done",
            Progress::BuildFailed => "build_failed",
            Progress::UploadFailed => "upload_failed",
            Progress::Cancelled => "cancelled",
            Progress::Superseded => "superseded",
        }
    }

    /// Whether a person must act: the build or its upload failed.
    pub fn needs_a_hand(self) -> bool {
        matches!(self, Progress::BuildFailed | Progress::UploadFailed)
    }

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
            dates: BuildDates::default(),
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
