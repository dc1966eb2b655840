//! The simulated Launchpad's things: recipes, build requests, builds, and the timings they move by.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::MINUTE;
use crate::launchpad::models::{BuildState, RequestStatus, UploadStatus};
use crate::launchpad::sim::scenario::Failures;
use crate::launchpad::sim::upload::{self, FailureMode, PushRule};
use crate::target::{Arch, ImageName, Series};

/// How long things take, in simulated time. The defaults feel like Launchpad's.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// From `requestBuilds` to the builds existing (Launchpad's Celery job).
    pub request: Duration,
    /// How long a build waits in the queue: between the two.
    pub queue: (Duration, Duration),
    /// How long a builder works on it: between the two.
    pub build: (Duration, Duration),
    /// Gathering the build's output.
    pub gather: Duration,
    /// Processing the files on Launchpad (`Uploading build`).
    pub process: Duration,
    /// One registry upload: between the two.
    pub registry_upload: (Duration, Duration),
    /// From `Cancelling build` to `Cancelled build`.
    pub cancel: Duration,
}

/// When an upload job meets the recipe's upload lock (another build of the recipe is being
/// pushed), it is tried again after these waits, at most this many times; then it fails with
/// no summary (`lib/lp/oci/model/ocirecipebuildjob.py:195-232`, `launchpad-truths.md`,
/// "Registry uploads"). Launchpad adds up to a minute of dithering to each; the simulator does
/// not (assumed: it changes nothing a client can rely on).
pub const UPLOAD_LOCK_RETRIES: [Duration; 5] = [
    Duration::from_secs(10 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(20 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(10 * 60),
];

impl Timing {
    /// These timings, with a scenario's overrides.
    pub fn with(mut self, rule: &crate::launchpad::sim::scenario::TimingRule) -> Timing {
        let span = |[low, high]: [u64; 2]| (Duration::from_secs(low), Duration::from_secs(high));
        if let Some(queue) = rule.queue_seconds {
            self.queue = span(queue);
        }
        if let Some(build) = rule.build_seconds {
            self.build = span(build);
        }
        if let Some(upload) = rule.upload_seconds {
            self.registry_upload = span(upload);
        }
        self
    }
}

impl Default for Timing {
    /// A queued build waits 1 to 5 minutes, builds 5 to 30 all told, uploads in 1 to 5.
    fn default() -> Timing {
        Timing {
            request: Duration::from_secs(20),
            queue: (MINUTE, 5 * MINUTE),
            build: (4 * MINUTE, 28 * MINUTE + MINUTE / 2),
            gather: MINUTE,
            process: MINUTE / 2,
            registry_upload: (MINUTE, 5 * MINUTE),
            cancel: MINUTE / 2,
        }
    }
}

/// A recipe, from the catalogue.
#[derive(Debug, Clone)]
pub struct SimRecipe {
    /// `~owner/pillar/+oci/image/+recipe/name`.
    pub path: String,
    /// The recipe's name.
    pub name: String,
    /// The OCI project.
    pub image: ImageName,
    /// The series it builds for.
    pub series: Series,
    /// The series' code name (for distro series links).
    pub codename: String,
    /// The app version.
    pub track: String,
    /// Its processors: the architectures `requestBuilds` builds.
    pub processors: Vec<Arch>,
    /// Where uploads are pushed; without any, uploads cannot be scheduled.
    pub push_rules: Vec<PushRule>,
    /// When it was made.
    pub date_created: DateTime<Utc>,
}

impl SimRecipe {
    /// Whether uploads can be scheduled (`can_upload_to_registry`: it has push rules).
    pub fn can_upload(&self) -> bool {
        !self.push_rules.is_empty()
    }

    /// The owning team (`~TEAM/...`).
    pub fn owner(&self) -> &str {
        self.path
            .trim_start_matches('~')
            .split('/')
            .next()
            .unwrap_or_default()
    }
}

/// A build request.
#[derive(Debug, Clone)]
pub struct SimRequest {
    /// Its number.
    pub id: u64,
    /// The recipe's path.
    pub recipe: String,
    /// Who asked.
    pub requester: String,
    /// The architectures asked for (the web UI's form passes them; the API cannot): all the
    /// recipe's when `None`.
    pub architectures: Option<Vec<Arch>>,
    /// Pending, Completed, Failed.
    pub status: RequestStatus,
    /// When it was made.
    pub date_requested: DateTime<Utc>,
    /// When it completed or failed.
    pub date_finished: Option<DateTime<Utc>>,
    /// Why it failed.
    pub error_message: Option<String>,
    /// The builds it made, by processor name descending, as Launchpad lists them.
    pub builds: Vec<u64>,
    pub(super) due: Option<DateTime<Utc>>,
}

/// A build.
#[derive(Debug, Clone)]
pub struct SimBuild {
    /// Its number.
    pub id: u64,
    /// The recipe's path.
    pub recipe: String,
    /// The build request that made it (every build has one on Launchpad, the web UI's too).
    pub request: Option<u64>,
    /// The architecture.
    pub arch: Arch,
    /// The build's state.
    pub state: BuildState,
    /// The registry upload's status.
    pub upload: UploadStatus,
    /// Why the last upload failed.
    pub upload_error_summary: Option<String>,
    /// The last upload's `registry_upload_errors`, exactly as exported.
    pub upload_errors: Value,
    /// Whether its entry answers 500: its last upload failed on several registries with
    /// registry errors ([`crate::launchpad::sim::upload`]).
    pub unreadable: bool,
    /// Whether its upload job holds the recipe's upload lock and is pushing now.
    pub pushing: bool,
    /// How many times its upload job met the recipe's lock.
    pub lock_retries: u32,
    /// What Launchpad logged when it could not take the build's files in (the build state
    /// `Failed to upload`), served at `upload_log_url`.
    pub upload_log: Option<String>,
    /// When it was created.
    pub datecreated: DateTime<Utc>,
    /// When a builder started on it.
    pub date_started: Option<DateTime<Utc>>,
    /// When it finished building.
    pub datebuilt: Option<DateTime<Utc>>,
    pub(super) build_failures: Failures,
    pub(super) upload_failures: Failures,
    pub(super) processing_failures: Failures,
    pub(super) failure_mode: FailureMode,
    pub(super) log_kind: crate::launchpad::sim::buildlog::LogKind,
    pub(super) due: Option<DateTime<Utc>>,
}

impl SimBuild {
    /// What the librarian holds as its log.
    pub fn log_kind(&self) -> crate::launchpad::sim::buildlog::LogKind {
        self.log_kind
    }

    /// A new upload job, run at `now` (Celery runs it on commit): pending, with no errors yet
    /// (they are the new job's), not holding the lock yet.
    pub(super) fn start_upload(&mut self, now: DateTime<Utc>) {
        self.upload = UploadStatus::Pending;
        self.upload_error_summary = None;
        self.upload_errors = upload::no_errors(&self.failure_mode);
        self.unreadable = false;
        self.pushing = false;
        self.lock_retries = 0;
        self.due = Some(now);
    }

    /// Makes its next upload fail (as the scenario's outcome says uploads fail), whatever
    /// its outcome said: for a test that retries an upload by hand.
    pub fn fail_next_upload(&mut self) {
        self.upload_failures = Failures::Times(1);
    }

    /// Whether `retry` would be accepted.
    pub fn can_be_retried(&self) -> bool {
        self.state.is_retryable()
    }

    /// Whether `cancel` would do something.
    pub fn can_be_cancelled(&self) -> bool {
        matches!(
            self.state,
            BuildState::NeedsBuilding | BuildState::CurrentlyBuilding
        )
    }

    /// Whether it could be rescored (queued builds only).
    pub fn can_be_rescored(&self) -> bool {
        self.state == BuildState::NeedsBuilding
    }

    /// When it is next due to change, if it will change by itself.
    pub fn due(&self) -> Option<DateTime<Utc>> {
        self.due
    }
}

/// A change Launchpad announces to a recipe's webhooks (`oci-recipe:build:0.1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildEvent {
    /// The build.
    pub build: u64,
    /// `created` or `status-changed`.
    pub action: &'static str,
    /// Its `buildstate` when it happened (the payload is made then, not when it is sent).
    pub state: BuildState,
    /// Its `registry_upload_status` when it happened.
    pub upload: UploadStatus,
}
