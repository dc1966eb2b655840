//! Webhook deliveries about builds no running job follows, taken in one build at a time in
//! the order they arrived, so a read never runs ahead of a delivery about the same build not
//! yet taken in. What a delivery says of the upload decides only when to read
//! ([`Alerts::delivered`]); the read decides what is told.

use std::collections::VecDeque;

use chrono::Utc;

use super::Alerts;
use crate::chat::Chat;
use crate::launchpad::models::UploadStatus;

/// What a webhook delivery says besides naming the build: Launchpad's word (signed) that the
/// build's upload status changed to this. Only one thing is taken from it: a delivery never
/// seen before saying `Pending` means an upload attempt began, so a failure read afterwards is
/// a new one even if no read saw the attempt (a retry on Launchpad's page that failed before
/// the bot looked). What failed, and how, is always read from Launchpad.
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

impl<C: Chat> Alerts<C> {
    /// A webhook delivery about the build at `url`, which no running job follows: taken in
    /// ([`Alerts::delivered`], then [`Alerts::build_changed`]) after the deliveries about the
    /// same build that arrived before it.
    pub fn deliver(&self, url: String, hint: Option<Hint>) {
        {
            let mut queued = self.inner.queued.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(queue) = queued.get_mut(&url) {
                // A task is taking this build's deliveries in: it takes this one too.
                queue.push_back(hint);
                return;
            }
            queued.insert(url.clone(), VecDeque::from([hint]));
        }
        let alerts = self.clone();
        tokio::spawn(async move {
            loop {
                let next = {
                    let mut queued = alerts
                        .inner
                        .queued
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    let next = queued.get_mut(&url).and_then(VecDeque::pop_front);
                    if next.is_none() {
                        queued.remove(&url);
                    }
                    next
                };
                let Some(hint) = next else { return };
                let read = hint
                    .as_ref()
                    .is_none_or(|hint| alerts.delivered(&url, hint));
                if read {
                    alerts.build_changed(&url).await;
                }
            }
        });
    }

    /// Takes in what a delivery about the build at `url` says of its upload; returns whether
    /// the build needs a read. A delivery's number and payload are Launchpad's word (it is
    /// signed), and they only decide when to read: a delivery seen before says nothing new;
    /// one saying an upload began marks the build's upload as pending (so the next failure
    /// read is a new one, even when no read saw the attempt), unless it is older than one
    /// taken in already (Launchpad retried it late); only one saying the upload ended (or one
    /// without a known status) leads to a read, whose answer alone decides what is told. So a
    /// read never runs ahead of a delivery about the same build not yet taken in.
    pub fn delivered(&self, url: &str, hint: &Hint) -> bool {
        let store = &self.inner.store;
        let mut record = match self.record_for(url) {
            Ok(record) => record,
            Err(error) => {
                tracing::error!(%error, "reading an upload record failed");
                return true;
            }
        };
        if record.deliveries.contains(&hint.delivery) {
            return false;
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
        !matches!(status, UploadStatus::Pending | UploadStatus::Unscheduled)
    }
}
