//! What the engine's parts share: the running jobs' drivers, the commands a driver takes, and
//! the parts themselves (client, store, chat, alerting, settings). The engine's façade and the
//! drivers both use it; neither reaches into the other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::EngineSettings;
use crate::alerts::Alerts;
use crate::jobs::machine::{Control, Notice, Step};
use crate::jobs::Job;
use crate::launchpad::models::{BuildState, UploadStatus};
use crate::launchpad::Client;
use crate::store::Store;
use crate::target::JobId;

/// What a job's driver is asked while it runs.
pub(super) enum DriverCommand {
    /// `cancel` or `retry`, with where to say how many builds it acted on.
    Control {
        control: Control,
        reply: oneshot::Sender<usize>,
    },
    /// Launchpad said this build (of this build request) changed, and perhaps to what: the
    /// machine decides whether to read it ([`Observation::Delivered`]).
    Poke {
        build_url: String,
        request_url: Option<String>,
        reported: Option<(BuildState, UploadStatus)>,
    },
    /// A delivery names a build (and build request) of a recipe of the job that no job knows:
    /// perhaps its lost request's, or a skipped architecture's queued build.
    Candidate {
        recipe_url: String,
        request_url: Option<String>,
        build_url: String,
    },
    /// The process is stopping: store what waits to be stored and end, leaving the job for the
    /// next start to resume ([`Engine::stop`]).
    Stop,
}

/// The running jobs' drivers, by job.
pub(super) type Drivers = Arc<Mutex<HashMap<JobId, mpsc::UnboundedSender<DriverCommand>>>>;

pub(super) fn lock(
    drivers: &Drivers,
) -> std::sync::MutexGuard<'_, HashMap<JobId, mpsc::UnboundedSender<DriverCommand>>> {
    drivers.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the engine's parts share; the drivers use it too.
pub(super) struct Inner<C> {
    pub(super) client: Client,
    pub(super) store: Store,
    pub(super) chat: C,
    pub(super) settings: EngineSettings,
    pub(super) alerts: Alerts<C>,
    pub(super) drivers: Drivers,
    pub(super) running: watch::Sender<usize>,
    /// Jobs someone follows ([`Engine::follow`]): their drivers publish them here as they
    /// change, at most every [`PUBLISH_EVERY`].
    pub(super) followed: Mutex<HashMap<JobId, watch::Sender<Arc<Job>>>>,
    /// [`Engine::stop`] was called: no job starts any more.
    pub(super) stopping: std::sync::atomic::AtomicBool,
}

/// How often a followed job is published at most: progress bars need no more (four times a
/// second; each publication copies the job, and wakes its follower).
pub(super) const PUBLISH_EVERY: Duration = Duration::from_millis(250);

/// How many builds a control acted on, from the notice it gave.
pub(super) fn controlled_count(step: &Step) -> usize {
    step.notices
        .iter()
        .find_map(|notice| match notice {
            Notice::Controlled { count, .. } => Some(*count),
            _ => None,
        })
        .unwrap_or(0)
}
