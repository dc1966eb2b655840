//! What a job says and is asked: the notices it keeps in its outbox until they are said, the
//! controls people apply to it, and the calls it makes on builds. Plain data, shared by the
//! model (which stores them) and the state machine (which makes them), so neither has to
//! import the other.

use serde::{Deserialize, Serialize};

/// A call on a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BuildCall {
    /// `cancel`.
    Cancel,
    /// `retry`.
    Retry,
    /// `scheduleRegistryUpload`, by auto-retry or by hand.
    ScheduleUpload {
        /// By auto-retry.
        auto: bool,
    },
}

/// What people can ask of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Control {
    /// `cancel #JOB`.
    Cancel,
    /// `retry uploads #JOB`.
    RetryUploads,
    /// `retry builds #JOB`.
    RetryBuilds,
}

impl From<crate::command::RetryWhat> for Control {
    /// `retry uploads` or `retry builds`, from the chat or the terminal.
    fn from(what: crate::command::RetryWhat) -> Control {
        match what {
            crate::command::RetryWhat::Uploads => Control::RetryUploads,
            crate::command::RetryWhat::Builds => Control::RetryBuilds,
        }
    }
}

/// Something to tell people. Kept in the job's outbox (stored with the change that caused it)
/// until it is said, so a crash between the two loses nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Notice {
    /// Launchpad said identical builds are queued already; nothing was requested.
    AlreadyPending {
        /// The target.
        target: usize,
    },
    /// Launchpad refused the credentials for `requestBuilds` (not in the recipe's owning team,
    /// or not valid): nothing more is requested for the job.
    Refused {
        /// Launchpad's message.
        message: String,
    },
    /// A target's request failed.
    RequestFailed {
        /// The target.
        target: usize,
        /// Why.
        reason: RequestFailure,
    },
    /// A build's upload failed (alert once per build and `epoch`).
    UploadFailed {
        /// The target.
        target: usize,
        /// The build.
        build: usize,
        /// How many times this build's upload has been seen failing.
        epoch: u32,
    },
    /// Auto-retry is scheduling another upload.
    UploadRetrying {
        /// The target.
        target: usize,
        /// The build.
        build: usize,
        /// This attempt's number.
        attempt: u32,
    },
    /// An auto-retried upload worked.
    UploadRecovered {
        /// The target.
        target: usize,
        /// The build.
        build: usize,
        /// After this many retries.
        attempts: u32,
    },
    /// Auto-retry stopped with the upload failed.
    UploadGaveUp {
        /// The target.
        target: usize,
        /// The build.
        build: usize,
        /// Retries made.
        attempts: u32,
        /// Why it stopped, if not the budget.
        refusal: Option<String>,
    },
    /// An upload auto-retry scheduled ended superseded: a newer build of the recipe and
    /// processor was built first, and nothing was pushed for this one.
    UploadSuperseded {
        /// The target.
        target: usize,
        /// The build.
        build: usize,
    },
    /// The answer to a target's `requestBuilds` was lost (a restart while it was out, or no
    /// clear answer) and, without webhook deliveries to find the request it made, it was sent
    /// again: Launchpad may build it twice, or dedupe it against the first request's builds,
    /// which are then not followed.
    RequestAskedAgain {
        /// The target.
        target: usize,
    },
    /// No longer made (a build Launchpad cannot show is now a failed upload, told as such):
    /// kept so that an outbox stored by an earlier version still reads and is said.
    BuildUnreadable {
        /// The target.
        target: usize,
        /// The build.
        build: usize,
        /// Launchpad's OOPS id, to quote to its admins.
        oops_id: Option<String>,
    },
    /// Launchpad cannot be reached (no connection, or no answer in time, after the client's
    /// retries): said once, when it starts; the job keeps trying.
    Unreachable {
        /// What the network said.
        cause: String,
    },
    /// Launchpad answers again after being unreachable.
    Reachable,
    /// What a control did: how many builds it touched.
    Controlled {
        /// The control.
        control: Control,
        /// Builds (or targets) it acted on.
        count: usize,
    },
    /// The job ended (finished, cancelled, or gave up).
    Ended,
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
