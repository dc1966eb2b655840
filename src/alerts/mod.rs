//! Alerting: the failed uploads nobody else will tell. Every failure is told exactly once,
//! keyed by Launchpad: the ledger's key is a build's `self_link` as Launchpad returns it on a
//! read, and which failure of that build it is (a retried upload that fails again is a new
//! failure, told again once).
//!
//! Two paths lead here. A job tells the failures of the builds it follows (its driver asks
//! [`Alerts::claim`] and [`Alerts::muted`] before saying one). Builds no running job follows
//! (requested on Launchpad's web UI or by another script: OCI recipes have no daily builds)
//! are heard of through webhook deliveries, read here ([`Alerts::build_changed`]) and alerted in
//! the alerts channel, grouped when many fail together ([`group`]). A retry the bot makes for
//! such a build (an alert's button) is followed to its end and its outcome said where the alert
//! is. Mutes ([`mutes`]) silence alerts for a while; what they hid is kept for `status`.
//!
//! What the bot knows of a build's failures lives in the store ([`crate::store::alerts`]), so a
//! restart neither repeats nor forgets an alert.

mod deliveries;
mod group;
mod mutes;
mod retry;

pub use deliveries::Hint;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;

use crate::chat::{Button, Chat, Kind, Outgoing};
use crate::launchpad::models::{Build, UploadStatus};
use crate::launchpad::{Client, Conditional, LaunchpadError};
use crate::messages::alerts as say;
use crate::store::{Claimed, Store, UploadRecord};
use crate::target::JobId;

/// How alerting paces and places itself.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// Where alerts for builds no job follows go (and a copy of every job's failed uploads);
    /// without one, such failures are only logged.
    pub channel: Option<String>,
    /// Failures arriving within this time of a group's first are told in that group's alert.
    pub group_window: Duration,
    /// The first wait between two looks at a build whose retry is followed; it grows by half
    /// each time, up to `follow_max`.
    pub follow_min: Duration,
    /// The longest wait between two looks at a followed retry.
    pub follow_max: Duration,
    /// Launchpad's web root, for links to builds whose entry cannot be read; the API link is
    /// shown without it.
    pub web_root: Option<String>,
    /// The catalogue's recipes, to put the builds no job follows in the history.
    pub recipes: crate::history::Recipes,
}

/// Hands a build (by its `self_link`) to the running job that follows it; `false` when no
/// running job took it.
pub type HandOver = Box<dyn Fn(JobId, &str) -> bool + Send + Sync>;

/// Alerting. Cheap to clone.
pub struct Alerts<C> {
    inner: Arc<Shared<C>>,
}

impl<C> Clone for Alerts<C> {
    fn clone(&self) -> Self {
        Alerts {
            inner: self.inner.clone(),
        }
    }
}

struct Shared<C> {
    client: Client,
    store: Store,
    chat: C,
    settings: AlertSettings,
    hand_over: HandOver,
    group: tokio::sync::Mutex<Option<group::OpenGroup>>,
    /// Builds whose retry a task is following now ([`retry`]).
    following: Mutex<HashSet<String>>,
    /// Deliveries waiting to be taken in, per build: one build's are taken in one at a time,
    /// in the order they arrived, so a read never overtakes the delivery before it.
    queued: Mutex<HashMap<String, VecDeque<deliveries::Queued>>>,
}

/// Whether a claim in the ledger was won.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First: say it.
    New,
    /// Said before (or the ledger failed: never twice was chosen over at least once).
    Told,
}

/// The owner of the alerts a job says.
pub fn job_owner(job: JobId) -> String {
    format!("job {}", job.0)
}

/// The owner of the alerts of builds no job follows.
pub const UNTRACKED: &str = "untracked";

/// The ledger's key for the `failure`th failed upload of the build at `link`.
pub fn failure_key(link: &str, failure: u32) -> String {
    format!("{link}#{failure}")
}

/// The ledger's key for "the build at `link` cannot be read".
pub fn unreadable_key(link: &str) -> String {
    format!("{link}#unreadable")
}

/// The image of a recipe or build URL (`.../+oci/IMAGE/+recipe/...`).
pub fn image_of(url: &str) -> &str {
    url.split("/+oci/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
}

impl<C: Chat> Alerts<C> {
    /// Alerting with these parts; `hand_over` gives a build to the running job that follows it.
    pub fn new(
        client: Client,
        store: Store,
        chat: C,
        settings: AlertSettings,
        hand_over: HandOver,
    ) -> Alerts<C> {
        Alerts {
            inner: Arc::new(Shared {
                client,
                store,
                chat,
                settings,
                hand_over,
                group: tokio::sync::Mutex::new(None),
                following: Mutex::new(HashSet::new()),
                queued: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Picks up after a restart: mutes end when they were due (at once if that has passed,
    /// announced), alerts claimed and never said are said, and retries the bot made are
    /// followed again.
    pub fn resume(&self) {
        self.resume_mutes();
        self.resume_unsaid();
        self.resume_unread();
        match self.inner.store.retries_followed() {
            Ok(links) => {
                for link in links {
                    self.follow(link);
                }
            }
            Err(error) => tracing::error!(%error, "reading the followed retries failed"),
        }
    }

    /// Claims the right to tell something once, in the ledger (on disk before this returns), for
    /// `owner` ([`job_owner`], or [`UNTRACKED`]). Claimed and never marked [`Alerts::said`]
    /// (a crash came between), it can be claimed again by the same owner: a crash repeats an
    /// alert rather than lose it.
    pub fn claim(&self, key: &str, owner: &str) -> Claim {
        match self.inner.store.claim_alert(key, owner, Utc::now()) {
            Ok(Claimed::New | Claimed::Unsaid) => Claim::New,
            Ok(Claimed::Said) => Claim::Told,
            Err(error) => {
                tracing::error!(%error, key, "the alert ledger failed; not alerting rather than risk twice");
                Claim::Told
            }
        }
    }

    /// Marks a claimed alert as said: after a crash before this, its owner says it again.
    pub fn said(&self, key: &str) {
        if let Err(error) = self.inner.store.alert_said(key) {
            tracing::error!(%error, key, "recording an alert as said failed");
        }
    }

    /// How many failures of the build at `link` are known outside any job (for a job that
    /// starts or resumes following it, so the ledger's numbers go on from there).
    pub fn failures_known(&self, link: &str) -> u32 {
        match self.inner.store.upload_record(link) {
            Ok(record) => record.map_or(0, |record| record.failures),
            Err(error) => {
                tracing::error!(%error, link, "reading an upload record failed");
                0
            }
        }
    }

    /// Notes that a job told the `failure`th failure of the build at `link`, so the untracked
    /// path goes on from there once no job follows the build.
    pub fn job_told_failure(&self, link: &str, failure: u32) {
        let store = &self.inner.store;
        let mut record = store.upload_record(link).ok().flatten().unwrap_or_default();
        record.failures = record.failures.max(failure);
        record.last_status = Some(UploadStatus::FailedToUpload.as_str().to_string());
        record.updated_at = Some(Utc::now());
        if let Err(error) = store.put_upload_record(link, &record) {
            tracing::error!(%error, link, "recording a failed upload failed");
        }
    }

    /// Launchpad says the build at `url` (a canonical API URL) changed, and no running job
    /// follows it: it is read, and a new failure of its upload is told once; the outcome of a
    /// retry the bot made for it is said where its alert is. The delivery is only a hint: what
    /// counts is what Launchpad answers to the read, except for a build Launchpad cannot show
    /// (500): one whose delivery said its upload failed (`said`), or whose upload was last
    /// known to be running, failed on several registries, and is told as such a failed upload.
    /// `Err` when Launchpad gave no answer that says what happened (the network, an outage):
    /// the caller reads again later. `server_errors`: 500s answered to this read before, after
    /// [`crate::jobs::machine::UNREADABLE_AFTER`] of which a build is said to be unreadable.
    pub async fn build_changed(
        &self,
        url: &str,
        said: Option<&UploadStatus>,
        server_errors: u32,
    ) -> Result<(), LaunchpadError> {
        let build = match self.inner.client.build(url, None).await {
            Ok(Conditional::Modified(build)) => build,
            Ok(Conditional::NotModified) => return Ok(()),
            // Gone (deleted, or made private): nothing to tell.
            Err(LaunchpadError::NotFound { .. }) => return Ok(()),
            Err(LaunchpadError::Server {
                status: 500,
                oops_id,
                message,
            }) => {
                if self.handed_over(url) {
                    return Ok(());
                }
                let record = self.record_for(url).ok().unwrap_or_default();
                let running = record.last_status.as_deref() == Some(UploadStatus::Pending.as_str());
                let failed =
                    said == Some(&UploadStatus::FailedToUpload) || (said.is_none() && running);
                if failed {
                    let build = self.unshown(url, oops_id.as_deref());
                    self.observe(build).await;
                    return Ok(());
                }
                if server_errors + 1 >= crate::jobs::machine::UNREADABLE_AFTER {
                    self.unreadable(url, oops_id.as_deref()).await;
                    return Ok(());
                }
                return Err(LaunchpadError::Server {
                    status: 500,
                    oops_id,
                    message,
                });
            }
            Err(error) if error.is_transient() => return Err(error),
            Err(error) => {
                tracing::warn!(%error, build = url, "reading a webhook's build failed");
                return Ok(());
            }
        };
        if self.handed_over(&build.self_link) {
            return Ok(());
        }
        self.observe(build).await;
        Ok(())
    }

    /// Whether a running job follows the build at `link` and took it.
    fn handed_over(&self, link: &str) -> bool {
        match self.inner.store.job_for_link(link) {
            Ok(Some(job)) => (self.inner.hand_over)(job, link),
            Ok(None) => false,
            Err(error) => {
                tracing::error!(%error, "looking up a build's job failed");
                false
            }
        }
    }

    /// A build Launchpad cannot show, as what it must be: built, its upload failed on several
    /// registries, the errors unknown (`reference/launchpad-truths.md`, "Registry uploads").
    /// Its architecture is not known: no delivery carries it.
    fn unshown(&self, url: &str, oops_id: Option<&str>) -> Build {
        let recipe_link = url
            .split_once("/+build/")
            .map_or(url, |(recipe, _)| recipe)
            .to_string();
        let number = url.rsplit('/').next().unwrap_or_default();
        let recipe_path = recipe_link
            .strip_prefix(self.inner.client.settings().api_root.as_str())
            .unwrap_or(&recipe_link);
        Build {
            self_link: url.to_string(),
            web_link: self.web_link(url),
            arch_tag: String::new(),
            buildstate: crate::launchpad::models::BuildState::SuccessfullyBuilt,
            registry_upload_status: UploadStatus::FailedToUpload,
            registry_upload_error_summary: Some(say::errors_unshown(oops_id)),
            registry_upload_errors: Default::default(),
            can_be_retried: false,
            can_be_cancelled: false,
            title: say::unshown_title(number, recipe_path),
            recipe_link,
            requester_link: None,
            build_log_url: None,
            upload_log_url: None,
            datecreated: None,
            date_started: None,
            datebuilt: None,
            http_etag: None,
        }
    }

    /// Takes in what a read of a build no running job follows says.
    async fn observe(&self, build: Build) {
        let store = &self.inner.store;
        let link = build.self_link.clone();
        if let Some(record) =
            crate::history::heard_of(&build, &self.inner.settings.recipes, Utc::now())
        {
            if let Err(error) = store.put_history(&[record]) {
                tracing::warn!(%error, link, "recording a build in the history failed");
            }
        }
        let mut record = match self.record_for(&link) {
            Ok(record) => record,
            Err(error) => {
                tracing::error!(%error, link, "reading an upload record failed");
                return;
            }
        };
        let status = build.registry_upload_status.clone();
        let was_failed =
            record.last_status.as_deref() == Some(UploadStatus::FailedToUpload.as_str());
        let mut said = None;
        match status {
            UploadStatus::FailedToUpload if !was_failed => {
                record.failures += 1;
                said = Some(Said::Failed {
                    failure: record.failures,
                    again_in: record.retrying_in.take(),
                });
            }
            UploadStatus::FailedToUpload | UploadStatus::Pending => {}
            _ => {
                if let Some(channel) = record.retrying_in.take() {
                    said = Some(Said::Ended { channel });
                }
            }
        }
        let status_text = status.as_str().to_string();
        if said.is_none() && record.last_status.as_deref() == Some(status_text.as_str()) {
            return;
        }
        record.last_status = Some(status_text);
        record.updated_at = Some(Utc::now());
        // Stored before anything is said: a crash in between loses a message, never repeats it.
        if let Err(error) = store.put_upload_record(&link, &record) {
            tracing::error!(%error, link, "recording a build's upload failed; saying nothing yet");
            return;
        }
        match said {
            Some(Said::Failed { failure, again_in }) => {
                self.failed(&build, failure, again_in).await
            }
            Some(Said::Ended { channel }) => {
                let key = format!("{link}#retried#{}", record.failures);
                if self.claim(&key, UNTRACKED) == Claim::New {
                    let text = if build.registry_upload_status == UploadStatus::Uploaded {
                        say::retried_upload_worked(&build)
                    } else {
                        say::retried_upload_ended(&build)
                    };
                    self.send(&channel, Outgoing::new(Kind::Alert, text)).await;
                    self.said(&key);
                }
            }
            None => {}
        }
    }

    /// What is known of the build at `link`, or, for a build a finished job followed, what
    /// that job saw.
    pub(super) fn record_for(&self, link: &str) -> Result<UploadRecord, crate::store::StoreError> {
        let store = &self.inner.store;
        if let Some(record) = store.upload_record(link)? {
            return Ok(record);
        }
        let mut record = UploadRecord::default();
        if let Some(id) = store.job_for_link(link)? {
            let seen = store.job(id)?.and_then(|job| {
                job.targets
                    .iter()
                    .flat_map(|target| &target.builds)
                    .find(|build| *build.url == *link)
                    .map(|build| (build.upload_failures, build.upload.clone()))
            });
            if let Some((failures, upload)) = seen {
                record.failures = failures;
                record.last_status = Some(upload.as_str().to_string());
            }
        }
        Ok(record)
    }

    /// Tells the `failure`th failed upload of a build no job follows, once: in the channel
    /// where its retry was asked for, or as (part of a grouped) alert.
    async fn failed(&self, build: &Build, failure: u32, again_in: Option<String>) {
        let link = &build.self_link;
        let key = failure_key(link, failure);
        if self.claim(&key, UNTRACKED) != Claim::New {
            return;
        }
        let line = say::untracked_line(build, failure);
        if !self.muted(image_of(&build.recipe_link), link, line) {
            crate::metrics::alert_sent("failed_upload_untracked");
            match again_in {
                Some(channel) => {
                    let mut message = Outgoing::new(Kind::Alert, say::upload_failed_again(build));
                    if let Some(number) = self.alert_of_one(&channel, link) {
                        message = message.with_buttons(vec![Button::RetryGroup(number)]);
                    }
                    self.send(&channel, message).await;
                }
                None => self.group_alert(build, failure).await,
            }
        }
        self.said(&key);
    }

    /// A build nobody asked for whose entry Launchpad answers 500 to: told once.
    async fn unreadable(&self, url: &str, oops_id: Option<&str>) {
        let key = unreadable_key(url);
        if self.claim(&key, UNTRACKED) != Claim::New {
            return;
        }
        let web_link = self.web_link(url);
        let line = format!(
            "• {web_link}: cannot be read ({})",
            oops_id.unwrap_or("no OOPS id")
        );
        if !self.muted(image_of(url), url, line) {
            match self.inner.settings.channel.clone() {
                Some(channel) => {
                    crate::metrics::alert_sent("unreadable_untracked");
                    let text = say::untracked_unreadable(&web_link, oops_id);
                    self.send(&channel, Outgoing::new(Kind::Alert, text)).await;
                }
                None => tracing::warn!(
                    build = url,
                    "a build cannot be read, but no alerts channel is configured"
                ),
            }
        }
        self.said(&key);
    }

    /// After a restart: alerts of builds no job follows that were claimed and never said (a
    /// crash came between) are said now, from a fresh read.
    fn resume_unsaid(&self) {
        let keys = match self.inner.store.unsaid_alerts(UNTRACKED) {
            Ok(keys) => keys,
            Err(error) => return tracing::error!(%error, "reading the alert ledger failed"),
        };
        for key in keys {
            let Some((link, which)) = key.rsplit_once('#') else {
                continue;
            };
            let (link, failure) = match which.parse::<u32>() {
                Ok(failure) => (link.to_string(), Some(failure)),
                Err(_) if which == "unreadable" => (link.to_string(), None),
                // A retry's outcome: the follow of the retry says it again.
                Err(_) => continue,
            };
            let alerts = self.clone();
            tokio::spawn(async move {
                match (alerts.inner.client.build(&link, None).await, failure) {
                    (Ok(Conditional::Modified(build)), Some(failure))
                        if build.registry_upload_status == UploadStatus::FailedToUpload =>
                    {
                        alerts.failed(&build, failure, None).await
                    }
                    (
                        Err(LaunchpadError::Server {
                            status: 500,
                            oops_id,
                            ..
                        }),
                        None,
                    ) => alerts.unreadable(&link, oops_id.as_deref()).await,
                    // Not failed any more: nothing to say now.
                    (Ok(_), _) => alerts.said(&key),
                    (Err(error), _) => {
                        tracing::warn!(%error, build = link, "reading an unsaid alert's build failed")
                    }
                }
            });
        }
    }

    /// The web page of a build, from its API URL.
    pub fn web_link(&self, url: &str) -> String {
        let api_root = &self.inner.client.settings().api_root;
        match (
            &self.inner.settings.web_root,
            url.strip_prefix(api_root.as_str()),
        ) {
            (Some(web_root), Some(path)) => format!("{web_root}{path}"),
            _ => url.to_string(),
        }
    }

    /// Stores an alert naming one build, for its Retry button (`retry alert N`); `None` (no
    /// button) if the store cannot be written.
    fn alert_of_one(&self, channel: &str, link: &str) -> Option<u64> {
        let record = crate::store::GroupRecord {
            channel: channel.to_string(),
            builds: vec![link.to_string()],
            started_at: Utc::now(),
        };
        match self.inner.store.add_group(&record) {
            Ok(number) => Some(number),
            Err(error) => {
                tracing::error!(%error, "storing an alert failed; it goes without its button");
                None
            }
        }
    }

    pub(super) async fn send(&self, channel: &str, message: Outgoing) {
        if let Err(error) = self.inner.chat.send(channel, message).await {
            tracing::warn!(%error, channel, "sending an alert failed");
        }
    }
}

/// What a read of an untracked build leads to saying.
enum Said {
    /// Its upload failed (again).
    Failed {
        failure: u32,
        again_in: Option<String>,
    },
    /// A retry the bot followed ended without failing.
    Ended { channel: String },
}
