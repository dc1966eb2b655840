//! What goes in and what comes out of the machine: an [`Observation`] of Launchpad, the clock
//! or a person, the [`Action`]s that follow and the [`Step`] that carries them with the notices.

use crate::jobs::model::BuildDates;
use crate::jobs::notice::{BuildCall, Control, Notice};
use crate::launchpad::models::{BuildState, RequestStatus, UploadStatus};
use crate::launchpad::LaunchpadError;

/// What a build looked like on Launchpad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSnapshot {
    /// Its API URL.
    pub url: String,
    /// Its web page.
    pub web_link: String,
    /// Its architecture.
    pub arch: String,
    /// `buildstate`.
    pub state: BuildState,
    /// `registry_upload_status`.
    pub upload: UploadStatus,
    /// `registry_upload_error_summary`.
    pub upload_error: Option<String>,
    /// `can_be_retried`.
    pub can_be_retried: bool,
    /// `can_be_cancelled`.
    pub can_be_cancelled: bool,
    /// `http_etag`.
    pub etag: Option<String>,
    /// `build_log_url`, once it has started.
    pub log_url: Option<String>,
    /// `upload_log_url`, when Launchpad could not take its files in.
    pub upload_log_url: Option<String>,
    /// `date_started` and `datebuilt`.
    pub dates: BuildDates,
}

impl From<crate::launchpad::models::Build> for BuildSnapshot {
    fn from(build: crate::launchpad::models::Build) -> BuildSnapshot {
        BuildSnapshot {
            url: build.self_link,
            web_link: build.web_link,
            arch: build.arch_tag,
            state: build.buildstate,
            upload: build.registry_upload_status,
            upload_error: build.registry_upload_error_summary,
            can_be_retried: build.can_be_retried,
            can_be_cancelled: build.can_be_cancelled,
            etag: build.http_etag,
            log_url: build.build_log_url,
            upload_log_url: build.upload_log_url,
            dates: BuildDates {
                started: build.date_started,
                finished: build.datebuilt,
            },
        }
    }
}

/// Something that happened to a job.
#[derive(Debug, Clone)]
pub enum Observation {
    /// Time passed: do what is due.
    Tick,
    /// `requestBuilds` was answered.
    Requested {
        /// The target.
        target: usize,
        /// The build request's URL, or the failure.
        result: Result<String, LaunchpadError>,
    },
    /// A build request was read.
    RequestRead {
        /// The target.
        target: usize,
        /// Its status and error message, or the failure.
        result: Result<(RequestStatus, Option<String>, String), LaunchpadError>,
    },
    /// A build request's builds were listed.
    BuildsListed {
        /// The target.
        target: usize,
        /// As in [`Action::ListBuilds`].
        ran: bool,
        /// The builds, or the failure.
        result: Result<Vec<BuildSnapshot>, LaunchpadError>,
    },
    /// A build was read; `None` is "not modified".
    BuildRead {
        /// The target.
        target: usize,
        /// The build.
        build: usize,
        /// The build's [`crate::jobs::model::BuildTrack::generation`] when the read was made.
        generation: u32,
        /// What it looks like, or the failure.
        result: Result<Option<BuildSnapshot>, LaunchpadError>,
    },
    /// A call on a build (`cancel`, `retry`, `scheduleRegistryUpload`) was answered.
    BuildCall {
        /// The target.
        target: usize,
        /// The build.
        build: usize,
        /// Which call.
        call: BuildCall,
        /// Done, or the failure.
        result: Result<(), LaunchpadError>,
    },
    /// A recipe's processors were read.
    ProcessorsRead {
        /// The target.
        target: usize,
        /// Their names, or the failure.
        result: Result<Vec<String>, LaunchpadError>,
    },
    /// Whether Launchpad can build an architecture now was read.
    ArchSeriesRead {
        /// The target.
        target: usize,
        /// The architecture.
        arch: crate::target::Arch,
        /// Whether it can, or the failure.
        result: Result<bool, LaunchpadError>,
    },
    /// A webhook delivery names a build request, and a build, of a recipe of this job that no
    /// job knows (its lost request's, or the queued build of a skipped architecture).
    Candidate {
        /// The recipe's API URL.
        recipe_url: String,
        /// The build request's.
        request_url: Option<String>,
        /// The build's.
        build_url: Option<String>,
    },
    /// A build of a candidate build request was read.
    CandidateRequestRead {
        /// The target.
        target: usize,
        /// The build request.
        url: String,
        /// Whether the build was requested by the person these credentials act for, or the
        /// failure.
        result: Result<bool, LaunchpadError>,
    },
    /// A candidate build was read.
    CandidateBuildRead {
        /// The target.
        target: usize,
        /// A build of the target's own request (named by a delivery of it), not another's.
        own: bool,
        /// What it looks like, or the failure.
        result: Result<BuildSnapshot, LaunchpadError>,
    },
    /// A webhook delivery named a build of the job, or the build request that made it (a
    /// build not listed yet).
    Delivered {
        /// The build's API URL.
        build_url: String,
        /// Its build request's, if the delivery named one.
        request_url: Option<String>,
        /// Its `status` and `registry_upload_status` as the delivery gave them.
        reported: Option<(BuildState, UploadStatus)>,
    },
    /// Someone asked.
    Control(Control),
}

/// A Launchpad call for the engine to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `requestBuilds` on the target's recipe.
    RequestBuilds {
        /// The target.
        target: usize,
    },
    /// Read the target's build request.
    ReadRequest {
        /// The target.
        target: usize,
    },
    /// List the builds at this collection.
    ListBuilds {
        /// The target.
        target: usize,
        /// The builds collection.
        url: String,
        /// Whether the request is known to have run (its read said so, or a delivery named
        /// one of its builds): an empty collection is then its answer. Otherwise an empty
        /// collection may be a request not run yet, and the request is read to tell.
        ran: bool,
    },
    /// Read a build (conditionally, with its ETag).
    ReadBuild {
        /// The target.
        target: usize,
        /// The build.
        build: usize,
    },
    /// Call something on a build.
    Call {
        /// The target.
        target: usize,
        /// The build.
        build: usize,
        /// What.
        call: BuildCall,
    },
    /// List the processors of the target's recipe.
    ReadProcessors {
        /// The target.
        target: usize,
    },
    /// Read whether Launchpad can build an architecture a request skipped now.
    ReadArchSeries {
        /// The target.
        target: usize,
        /// The architecture.
        arch: crate::target::Arch,
    },
    /// See whether a build request a delivery named (with one of its builds) is ours.
    ReadCandidateRequest {
        /// The target.
        target: usize,
        /// The build request.
        url: String,
        /// A build it made.
        build: String,
    },
    /// Read a build a delivery named.
    ReadCandidateBuild {
        /// The target.
        target: usize,
        /// The build.
        url: String,
        /// A build of the target's own request (one Launchpad could not list), rather than a
        /// skipped architecture's queued build of another request.
        own: bool,
    },
}

/// What an observation leads to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Step {
    /// Launchpad calls to make, after storing the job.
    pub actions: Vec<Action>,
    /// Things to say, after storing the job.
    pub notices: Vec<Notice>,
}

impl Step {
    /// Adds what a later observation led to.
    pub fn extend(&mut self, later: Step) {
        self.actions.extend(later.actions);
        self.notices.extend(later.notices);
    }
}
