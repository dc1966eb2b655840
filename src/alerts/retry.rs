//! Retries the bot makes for builds no job follows (an alert's Retry button), followed to
//! their end: the outcome is said where the alert is. The upload record says a retry is
//! followed before the call goes out, so a restart follows it again.

use chrono::Utc;

use super::deliveries::OWN_ATTEMPT_ANNOUNCED_WITHIN;
use super::Alerts;
use crate::chat::Chat;
use crate::launchpad::models::UploadStatus;
use crate::launchpad::Refusal;
use crate::messages::alerts as say;

impl<C: Chat> Alerts<C> {
    /// Retries every failed upload of alert `number` (its button, `retry alert N`), each
    /// followed; the answer is for the one who asked.
    pub async fn retry_group(&self, number: u64, channel: &str) -> String {
        match self.inner.store.group(number) {
            Ok(Some(group)) => self.retry_all(&group.builds, channel).await,
            Ok(None) => say::retrying_untracked(
                0,
                &[say::not_retried(
                    &format!("alert {number}"),
                    "I know no such alert (or it is too old); retry on Launchpad",
                )],
            ),
            Err(error) => {
                tracing::error!(%error, "reading the store failed");
                crate::messages::jobs::internal_error("reading the job store")
            }
        }
    }

    async fn retry_all(&self, links: &[String], channel: &str) -> String {
        let mut retried = 0;
        let mut refused = Vec::new();
        for link in links {
            match self.retry_upload(link, channel).await {
                Ok(()) => retried += 1,
                Err(why) => refused.push(say::not_retried(link, &why)),
            }
        }
        say::retrying_untracked(retried, &refused)
    }

    /// Schedules one build's upload again and follows it: the record says so (stored before
    /// the call, so a restart goes on following it) and its outcome is said in `channel`.
    async fn retry_upload(&self, link: &str, channel: &str) -> Result<(), String> {
        let store = &self.inner.store;
        let mut record = self.record_for(link).map_err(|error| {
            tracing::error!(%error, "reading an upload record failed");
            "the job store failed".to_string()
        })?;
        let before = record.clone();
        record.retrying_in = Some(channel.to_string());
        record.last_status = Some(UploadStatus::Pending.as_str().to_string());
        record.own_attempt_until = Some(Utc::now() + OWN_ATTEMPT_ANNOUNCED_WITHIN);
        record.updated_at = Some(Utc::now());
        store.put_upload_record(link, &record).map_err(|error| {
            tracing::error!(%error, "recording a retry failed");
            "the job store failed".to_string()
        })?;
        match self.inner.client.schedule_registry_upload(link).await {
            Ok(()) => {}
            Err(error) if error.refusal() == Some(Refusal::AlreadyUploaded) => {}
            Err(error) => {
                // Nothing to follow: put the record back as it was.
                if let Err(error) = store.put_upload_record(link, &before) {
                    tracing::error!(%error, "restoring an upload record failed");
                }
                return Err(error.to_string());
            }
        }
        self.follow(link.to_string());
        Ok(())
    }

    /// Follows a retried upload until its record says it ended, looking at it with a growing
    /// wait (deliveries usually get there first).
    pub(super) fn follow(&self, link: String) {
        {
            let mut following = self
                .inner
                .following
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if !following.insert(link.clone()) {
                return;
            }
        }
        let alerts = self.clone();
        tokio::spawn(async move {
            let settings = &alerts.inner.settings;
            let mut wait = settings.follow_min;
            loop {
                tokio::time::sleep(wait).await;
                wait = wait.mul_f64(1.5).min(settings.follow_max);
                // A read in the build's queue, behind the deliveries that came before it.
                alerts.look(link.clone());
                match alerts.inner.store.upload_record(&link) {
                    Ok(Some(record)) if record.retrying_in.is_some() => {}
                    Ok(_) => break,
                    Err(error) => tracing::error!(%error, "reading an upload record failed"),
                }
            }
            alerts
                .inner
                .following
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&link);
        });
    }
}
