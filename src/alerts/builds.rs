//! A build's change as alerts hear it (a delivery or a job's read): told once when its upload
//! fails or Launchpad cannot show it, and handed to auto-retry when asked.

use chrono::Utc;

use super::ledger::{Claim, Said};
use super::{image_of, Alerts};
use crate::chat::{Button, Chat, Kind, Outgoing};
use crate::launchpad::models::{Build, UploadStatus};
use crate::launchpad::{Conditional, LaunchpadError};
use crate::messages::alerts as say;
use crate::store::{LedgerKey, LedgerOwner};

impl<C: Chat> Alerts<C> {
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

    /// A build Launchpad cannot show, as what it must be: built, its upload failed on several
    /// registries, the errors unknown (`reference/launchpad-truths.md`, "Registry uploads").
    /// Its architecture is not known: no delivery carries it.
    pub(super) fn unshown(&self, url: &str, oops_id: Option<&str>) -> Build {
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
    pub(super) async fn observe(&self, build: Build) {
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
                let key = LedgerKey::RetryEnded {
                    link: link.to_string(),
                    failure: record.failures,
                };
                if self.claim(&key, LedgerOwner::Untracked) == Claim::New {
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

    /// Tells the `failure`th failed upload of a build no job follows, once: in the channel
    /// where its retry was asked for, or as (part of a grouped) alert.
    pub(super) async fn failed(&self, build: &Build, failure: u32, again_in: Option<String>) {
        let link = &build.self_link;
        let key = LedgerKey::Failure {
            link: link.clone(),
            failure,
        };
        if self.claim(&key, LedgerOwner::Untracked) != Claim::New {
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
    pub(super) async fn unreadable(&self, url: &str, oops_id: Option<&str>) {
        let key = LedgerKey::Unreadable {
            link: url.to_string(),
        };
        if self.claim(&key, LedgerOwner::Untracked) != Claim::New {
            return;
        }
        let web_link = self.web_link(url);
        let line = say::untracked_unreadable_line(&web_link, oops_id);
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
}
