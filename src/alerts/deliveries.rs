//! Webhook deliveries about builds no running job follows, taken in one build at a time in
//! the order they arrived, so a read never runs ahead of a delivery about the same build not
//! yet taken in. What a delivery says of the upload decides only when to read
//! ([`Alerts::delivered`]); the read decides what is told. A delivery is stored before it is
//! answered, and its read made until Launchpad answers it, across restarts: Launchpad never
//! sends a delivery again once it was answered 200.

use std::collections::VecDeque;

use chrono::Utc;

use super::Alerts;
use crate::chat::Chat;
use crate::launchpad::models::UploadStatus;

/// What a webhook delivery says besides naming the build: Launchpad's word (signed) that the
/// build's upload status changed to this. Only one thing is taken from it: a delivery never
/// seen before saying `Pending` means an upload attempt began, so a failure read afterwards is
/// a new one even if no read saw the attempt (a retry on Launchpad's page that failed before
/// the bot looked). What failed, and how, is always read from Launchpad, except for a build
/// Launchpad cannot show: then a delivery saying its upload failed is all there is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// `X-Launchpad-Delivery`: the same on every attempt of one delivery.
    pub delivery: String,
    /// The payload's `registry_upload_status`.
    pub upload_status: String,
}

/// How many deliveries are remembered per build, to tell a new one from a repeated one.
const DELIVERIES_REMEMBERED: usize = 32;

/// How long after the bot schedules an upload the delivery announcing it may arrive and be
/// taken for that attempt rather than a new one (Launchpad sends it within seconds; its own
/// retries of a delivery come a minute apart).
pub(super) const OWN_ATTEMPT_ANNOUNCED_WITHIN: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// A read waiting in a build's queue.
#[derive(Debug, Clone)]
pub(super) struct Queued {
    /// What the delivery said, if it was one that said.
    hint: Option<Hint>,
    /// Its number among the stored unread deliveries, once stored.
    unread: Option<u64>,
    /// Taken again after a restart: read even if its number was seen (the read it asked for
    /// was never answered).
    resumed: bool,
}

/// What a delivery's number and upload status lead to.
enum Taken {
    /// Seen before: nothing new.
    Seen,
    /// New: whether it needs a read.
    New { read: bool },
}

impl<C: Chat> Alerts<C> {
    /// A webhook delivery about the build at `url`, which no running job follows: stored as
    /// unread (before it is answered: `false` if it cannot be, and the delivery is refused
    /// for Launchpad to send again), then taken in ([`Alerts::delivered`], then a read) after
    /// the deliveries about the same build that arrived before it. The read is made until
    /// Launchpad answers it, with a growing wait, across restarts ([`Alerts::resume`]): a
    /// delivery answered 200 is never sent again, so its read must not be lost to an outage.
    pub fn deliver(&self, url: String, hint: Option<Hint>) -> bool {
        let unread = crate::store::UnreadDelivery {
            build: url.clone(),
            delivery: hint.as_ref().map(|hint| hint.delivery.clone()),
            upload_status: hint.as_ref().map(|hint| hint.upload_status.clone()),
            at: Utc::now(),
        };
        let number = match self.inner.store.add_unread(&unread) {
            Ok(number) => number,
            Err(error) => {
                tracing::error!(%error, build = url, "storing a delivery failed; refusing it");
                return false;
            }
        };
        self.queue(
            url,
            Queued {
                hint,
                unread: Some(number),
                resumed: false,
            },
        );
        true
    }

    /// Reads the build at `url` in its queue, behind what came before (a followed retry's
    /// look: nothing to store, the follow itself is resumed after a restart).
    pub(super) fn look(&self, url: String) {
        self.queue(
            url,
            Queued {
                hint: None,
                unread: None,
                resumed: false,
            },
        );
    }

    /// After a restart: every delivery whose read was never answered is taken in again.
    pub(super) fn resume_unread(&self) {
        let unread = match self.inner.store.unread() {
            Ok(unread) => unread,
            Err(error) => return tracing::error!(%error, "reading the unread deliveries failed"),
        };
        for (number, unread) in unread {
            let hint =
                unread
                    .delivery
                    .zip(unread.upload_status)
                    .map(|(delivery, upload_status)| Hint {
                        delivery,
                        upload_status,
                    });
            self.queue(
                unread.build,
                Queued {
                    hint,
                    unread: Some(number),
                    resumed: true,
                },
            );
        }
    }

    fn queue(&self, url: String, queued: Queued) {
        {
            let mut queues = self.inner.queued.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(queue) = queues.get_mut(&url) {
                // A task is taking this build's deliveries in: it takes this one too.
                queue.push_back(queued);
                return;
            }
            queues.insert(url.clone(), VecDeque::from([queued]));
        }
        let alerts = self.clone();
        tokio::spawn(async move {
            loop {
                let next = {
                    let mut queues = alerts
                        .inner
                        .queued
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    let next = queues.get_mut(&url).and_then(VecDeque::pop_front);
                    if next.is_none() {
                        queues.remove(&url);
                    }
                    next
                };
                let Some(queued) = next else { return };
                let read = match &queued.hint {
                    None => true,
                    Some(hint) => match alerts.delivered(&url, hint) {
                        Taken::New { read } => read,
                        Taken::Seen => queued.resumed,
                    },
                };
                if read {
                    let said = queued
                        .hint
                        .as_ref()
                        .map(|hint| UploadStatus::from(hint.upload_status.clone()));
                    alerts.read_until_answered(&url, said).await;
                }
                if let Some(number) = queued.unread {
                    if let Err(error) = alerts.inner.store.remove_unread(number) {
                        tracing::error!(%error, "forgetting an answered delivery failed");
                    }
                }
            }
        });
    }

    /// Reads the build at `url` until Launchpad answers (the build, or that it is gone),
    /// waiting longer after each failure, from `follow_min` up to `follow_max`.
    async fn read_until_answered(&self, url: &str, said: Option<UploadStatus>) {
        let settings = &self.inner.settings;
        let mut wait = settings.follow_min;
        let mut server_errors = 0;
        loop {
            match self.build_changed(url, said.as_ref(), server_errors).await {
                Ok(()) => return,
                Err(error) => {
                    if matches!(
                        error,
                        crate::launchpad::LaunchpadError::Server { status: 500, .. }
                    ) {
                        server_errors += 1;
                    }
                    tracing::warn!(%error, build = url, ?wait, "reading a delivery's build failed; trying again");
                    tokio::time::sleep(wait).await;
                    wait = wait.mul_f64(2.0).min(settings.follow_max);
                }
            }
        }
    }

    /// Takes in what a delivery about the build at `url` says of its upload; returns whether
    /// it was seen before, and if not whether the build needs a read. A delivery's number and payload are Launchpad's word (it is
    /// signed), and they only decide when to read: a delivery seen before says nothing new;
    /// one saying an upload began marks the build's upload as pending (so the next failure
    /// read is a new one, even when no read saw the attempt), unless it is older than one
    /// taken in already (Launchpad retried it late); only one saying the upload ended (or one
    /// without a known status) leads to a read, whose answer alone decides what is told. So a
    /// read never runs ahead of a delivery about the same build not yet taken in.
    fn delivered(&self, url: &str, hint: &Hint) -> Taken {
        let store = &self.inner.store;
        let mut record = match self.record_for(url) {
            Ok(record) => record,
            Err(error) => {
                tracing::error!(%error, "reading an upload record failed");
                return Taken::New { read: true };
            }
        };
        if record.deliveries.contains(&hint.delivery) {
            return Taken::Seen;
        }
        let number = |id: &String| id.parse::<u64>().ok();
        let newest = record.deliveries.iter().filter_map(number).max();
        let stale = number(&hint.delivery)
            .zip(newest)
            .is_some_and(|(this, newest)| this < newest);
        record.deliveries.push(hint.delivery.clone());
        if record.deliveries.len() > DELIVERIES_REMEMBERED {
            record.deliveries.remove(0);
        }
        let status = UploadStatus::from(hint.upload_status.clone());
        let own = record
            .own_attempt_until
            .is_some_and(|until| Utc::now() < until);
        if status == UploadStatus::Pending && own {
            // The attempt the bot made: known already, and perhaps read to its end already.
            record.own_attempt_until = None;
        } else if status == UploadStatus::Pending && !stale {
            record.last_status = Some(UploadStatus::Pending.as_str().to_string());
        }
        record.updated_at = Some(Utc::now());
        if let Err(error) = store.put_upload_record(url, &record) {
            tracing::error!(%error, "recording a delivery failed");
        }
        Taken::New {
            read: !matches!(status, UploadStatus::Pending | UploadStatus::Unscheduled),
        }
    }
}
