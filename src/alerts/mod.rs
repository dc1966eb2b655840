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

use crate::chat::{Chat, Outgoing};
use crate::launchpad::Client;
use crate::store::Store;
use crate::target::JobId;

mod builds;
mod ledger;
pub use ledger::Claim;

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
