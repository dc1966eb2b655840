//! Launchpad's enumerations as the bot reads them (a build's state, its registry upload's status, a
//! build request's status), each keeping a value it does not know.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A build's `buildstate` (Launchpad's `BuildStatus` titles).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(from = "String", into = "String")]
pub enum BuildState {
    /// Queued, waiting for a builder.
    NeedsBuilding,
    /// On a builder.
    CurrentlyBuilding,
    /// Built; Launchpad is collecting the files from the builder.
    GatheringBuildOutput,
    /// Launchpad is processing the build's files (not the registry upload).
    UploadingBuild,
    /// Built. The registry upload has its own status.
    SuccessfullyBuilt,
    /// The build failed.
    FailedToBuild,
    /// Waiting for a dependency.
    DependencyWait,
    /// The builder's chroot is broken.
    ChrootProblem,
    /// A newer build of the same recipe and processor replaced this one.
    BuildForSupersededSource,
    /// Launchpad failed to process the build's files (not the registry upload).
    FailedToUpload,
    /// Cancelled while running; not terminal: Launchpad keeps it until the builder stops.
    CancellingBuild,
    /// Cancelled.
    CancelledBuild,
    /// A state this client does not know.
    Unknown(String),
}

impl BuildState {
    /// Every known state.
    pub const ALL: [BuildState; 12] = [
        BuildState::NeedsBuilding,
        BuildState::SuccessfullyBuilt,
        BuildState::FailedToBuild,
        BuildState::DependencyWait,
        BuildState::ChrootProblem,
        BuildState::BuildForSupersededSource,
        BuildState::CurrentlyBuilding,
        BuildState::FailedToUpload,
        BuildState::UploadingBuild,
        BuildState::CancellingBuild,
        BuildState::CancelledBuild,
        BuildState::GatheringBuildOutput,
    ];

    /// Launchpad's title for the state.
    pub fn as_str(&self) -> &str {
        match self {
            BuildState::NeedsBuilding => "Needs building",
            BuildState::CurrentlyBuilding => "Currently building",
            BuildState::GatheringBuildOutput => "Gathering build output",
            BuildState::UploadingBuild => "Uploading build",
            BuildState::SuccessfullyBuilt => "Successfully built",
            BuildState::FailedToBuild => "Failed to build",
            BuildState::DependencyWait => "Dependency wait",
            BuildState::ChrootProblem => "Chroot problem",
            BuildState::BuildForSupersededSource => "Build for superseded Source",
            BuildState::FailedToUpload => "Failed to upload",
            BuildState::CancellingBuild => "Cancelling build",
            BuildState::CancelledBuild => "Cancelled build",
            BuildState::Unknown(text) => text,
        }
    }

    /// Whether the build will not change again without `retry` (or, for a successful build,
    /// superseding). `Cancelling build` is not: the builder has yet to stop.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            BuildState::NeedsBuilding
                | BuildState::CurrentlyBuilding
                | BuildState::GatheringBuildOutput
                | BuildState::UploadingBuild
                | BuildState::CancellingBuild
                | BuildState::Unknown(_)
        )
    }

    /// The states Launchpad's `retry` accepts (`can_be_retried`, for a current series).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            BuildState::FailedToBuild
                | BuildState::DependencyWait
                | BuildState::ChrootProblem
                | BuildState::FailedToUpload
                | BuildState::CancelledBuild
                | BuildState::BuildForSupersededSource
        )
    }
}

impl From<String> for BuildState {
    fn from(text: String) -> BuildState {
        BuildState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .unwrap_or(BuildState::Unknown(text))
    }
}

impl fmt::Display for BuildState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A build's `registry_upload_status`: the push of its image to the registries.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(from = "String", into = "String")]
pub enum UploadStatus {
    /// No upload job (the build is not done, or the recipe pushes nowhere).
    Unscheduled,
    /// An upload job is waiting or running.
    Pending,
    /// The last upload failed; `scheduleRegistryUpload` may try again.
    FailedToUpload,
    /// Pushed.
    Uploaded,
    /// A newer build replaced this one; nothing is pushed.
    Superseded,
    /// A status this client does not know.
    Unknown(String),
}

impl UploadStatus {
    /// Every known status.
    pub const ALL: [UploadStatus; 5] = [
        UploadStatus::Unscheduled,
        UploadStatus::Pending,
        UploadStatus::FailedToUpload,
        UploadStatus::Uploaded,
        UploadStatus::Superseded,
    ];

    /// Launchpad's title for the status.
    pub fn as_str(&self) -> &str {
        match self {
            UploadStatus::Unscheduled => "Unscheduled",
            UploadStatus::Pending => "Pending",
            UploadStatus::FailedToUpload => "Failed to upload",
            UploadStatus::Uploaded => "Uploaded",
            UploadStatus::Superseded => "Superseded",
            UploadStatus::Unknown(text) => text,
        }
    }
}

impl From<String> for UploadStatus {
    fn from(text: String) -> UploadStatus {
        UploadStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .unwrap_or(UploadStatus::Unknown(text))
    }
}

impl fmt::Display for UploadStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A build request's `status`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(from = "String", into = "String")]
pub enum RequestStatus {
    /// Launchpad has not made the builds yet.
    Pending,
    /// The builds exist (`builds_collection_link`).
    Completed,
    /// No builds were made; `error_message` says why.
    Failed,
    /// A status this client does not know.
    Unknown(String),
}

impl RequestStatus {
    /// Every known status.
    pub const ALL: [RequestStatus; 3] = [
        RequestStatus::Pending,
        RequestStatus::Completed,
        RequestStatus::Failed,
    ];

    /// Launchpad's title for the status.
    pub fn as_str(&self) -> &str {
        match self {
            RequestStatus::Pending => "Pending",
            RequestStatus::Completed => "Completed",
            RequestStatus::Failed => "Failed",
            RequestStatus::Unknown(text) => text,
        }
    }
}

impl From<String> for RequestStatus {
    fn from(text: String) -> RequestStatus {
        RequestStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .unwrap_or(RequestStatus::Unknown(text))
    }
}

impl fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
