//! What a job says: its outbox said in order (a failed upload claimed in the alert ledger
//! first, so it is never said twice), copies to the alerts channel, and the final summary,
//! tried again until the chat takes it.

use super::Driver;
use crate::alerts::Claim;
use crate::chat::{Button, Chat, Kind, Outgoing};
use crate::engine::shared::Inner;
use crate::jobs::machine::Notice;
use crate::jobs::model::Job;
use crate::messages::jobs as say;
use crate::store::{LedgerKey, LedgerOwner};

impl<C: Chat> Driver<C> {
    /// Says what is in the outbox, taking each notice out (and storing) once it is said. A
    /// failed-upload alert is claimed in the ledger first, so it is never said twice (but a
    /// crash between saying it and marking it said repeats it, rather than lose it).
    pub(super) async fn announce(&mut self) {
        while self.stored {
            let Some(notice) = self.job.outbox.first().cloned() else {
                return;
            };
            self.say(&notice).await;
            self.job.outbox.remove(0);
            self.save(true).await;
        }
    }

    async fn say(&self, notice: &Notice) {
        let job = &self.job;
        let budget = self.inner.settings.rules.upload_retry_budget;
        let alert = |text: String| Some(Outgoing::new(Kind::Alert, text));
        let message = match notice {
            Notice::UploadFailed {
                target,
                build,
                epoch,
            } => {
                let t = &job.targets[*target];
                let track = &t.builds[*build];
                let key = LedgerKey::Failure {
                    link: track.url.to_string(),
                    failure: *epoch,
                };
                let line = say::failure_line(job, t, track);
                let message = Outgoing::new(
                    Kind::Alert,
                    say::upload_failed(job, t, track, *epoch, self.inner.chat.front()),
                )
                .with_buttons(vec![Button::RetryUploads(job.id)]);
                self.tell(&key, t.image.as_str(), &track.url, line, message)
                    .await;
                self.inner.alerts.job_told_failure(&track.url, *epoch);
                return;
            }
            Notice::BuildUnreadable {
                target,
                build,
                oops_id,
            } => {
                let t = &job.targets[*target];
                let track = &t.builds[*build];
                let key = LedgerKey::Unreadable {
                    link: track.url.to_string(),
                };
                let line = say::failure_line(job, t, track);
                let text = say::build_unreadable(
                    job,
                    t,
                    track,
                    oops_id.as_deref(),
                    self.inner.chat.front(),
                );
                let message = Outgoing::new(Kind::Alert, text);
                self.tell(&key, t.image.as_str(), &track.url, line, message)
                    .await;
                return;
            }
            Notice::UploadRetrying { target, build, .. } => {
                let t = &job.targets[*target];
                alert(say::upload_retrying(job, t, &t.builds[*build], budget))
            }
            Notice::UploadRecovered {
                target,
                build,
                attempts,
            } => {
                let t = &job.targets[*target];
                alert(say::upload_recovered(job, t, &t.builds[*build], *attempts))
            }
            Notice::UploadGaveUp {
                target,
                build,
                attempts,
                refusal,
            } => {
                let t = &job.targets[*target];
                alert(say::upload_gave_up(
                    job,
                    t,
                    &t.builds[*build],
                    *attempts,
                    refusal.as_deref(),
                    self.inner.chat.front(),
                ))
            }
            Notice::UploadSuperseded { target, build } => {
                let t = &job.targets[*target];
                alert(say::upload_superseded(job, t, &t.builds[*build]))
            }
            Notice::RequestAskedAgain { target } => {
                alert(say::request_asked_again(job, &job.targets[*target]))
            }
            Notice::AlreadyPending { target } => {
                alert(say::already_pending(job, &job.targets[*target]))
            }
            Notice::Refused { message } => alert(say::refused(job, message)),
            Notice::Unreachable { cause } => alert(say::unreachable(job, cause)),
            Notice::Reachable => alert(say::reachable(job)),
            Notice::RequestFailed { target, reason } => {
                alert(say::request_failed(job, &job.targets[*target], reason))
            }
            Notice::Controlled { .. } | Notice::Ended => None,
        };
        if let Some(message) = message {
            self.send_alert(message, false).await;
        }
    }

    /// Tells a failure the ledger keys as `key` (of a build of `image` at `link`) once: claimed
    /// for this job, recorded instead if a mute covers it, said, and marked said.
    async fn tell(
        &self,
        key: &LedgerKey,
        image: &str,
        link: &str,
        line: String,
        message: Outgoing,
    ) {
        let alerts = &self.inner.alerts;
        if alerts.claim(key, LedgerOwner::Job(self.job.id)) != Claim::New {
            return;
        }
        if !alerts.muted(image, link, line) {
            crate::metrics::alert_sent("failed_upload");
            self.send_alert(message, true).await;
        }
        alerts.said(key);
    }

    /// Sends a notice to the job's channel; a failure is copied to the alerts channel too.
    async fn send_alert(&self, message: Outgoing, failure: bool) {
        if let Err(error) = self
            .inner
            .chat
            .send(&self.job.channel, message.clone())
            .await
        {
            tracing::warn!(%error, "announcing failed");
        }
        if failure {
            copy_to_alerts_channel(&self.inner, &self.job, message).await;
        }
    }
}

/// Sends a job's final summary, mentioning the requester, once.
pub(super) async fn send_summary<C: Chat>(inner: &Inner<C>, job: &Job) {
    let mut messages = inner.store.messages(job.id).unwrap_or_default();
    if messages.summary_sent {
        return;
    }
    // Why builds failed, at greater length, for whoever clicks.
    let failed = job.tally().build_failed > 0;
    let message = Outgoing {
        kind: Kind::Summary,
        text: say::summary(job, inner.chat.front()),
        mention: Some(job.requester.clone()),
        buttons: if failed {
            vec![Button::ShowLog(job.id)]
        } else {
            Vec::new()
        },
    };
    // The summary is what the requester waits for: a failed send is tried again, 1, 2, 4 ...
    // up to 64 s apart, and if it still fails it goes out at the next start.
    let mut backoff = super::LAST_WORDS;
    loop {
        match inner.chat.send(&job.channel, message.clone()).await {
            Ok(_) => break,
            Err(error) => {
                let Some(wait) = backoff.next_wait() else {
                    tracing::error!(%error, "sending the summary failed; it goes out at the next start");
                    return;
                };
                tracing::warn!(%error, ?wait, "sending the summary failed; trying again");
                tokio::time::sleep(wait).await;
            }
        }
    }
    messages.summary_sent = true;
    if let Err(error) = inner.store.put_messages(job.id, &messages) {
        tracing::error!(%error, "recording the summary as sent failed");
    }
    copy_to_alerts_channel(inner, job, message).await;
}

/// Sends a copy of an alert or summary to the alerts channel, if there is one besides the job's.
async fn copy_to_alerts_channel<C: Chat>(inner: &Inner<C>, job: &Job, message: Outgoing) {
    let Some(channel) = inner.settings.alerts_channel.as_deref() else {
        return;
    };
    if channel == job.channel {
        return;
    }
    if let Err(error) = inner.chat.send(channel, message).await {
        tracing::warn!(%error, channel, "copying to the alerts channel failed");
    }
}
