//! The alert ledger's use: who may say a build's failure (claimed once, by the job that follows
//! it or by alerts), what was said, and the alerts left unsaid at a restart.

use chrono::Utc;

use super::Alerts;
use crate::chat::Chat;
use crate::launchpad::models::UploadStatus;
use crate::launchpad::{Conditional, LaunchpadError};
use crate::store::{Claimed, LedgerKey, LedgerOwner, UploadRecord};

impl<C: Chat> Alerts<C> {
    /// Claims the right to tell something once, in the ledger (on disk before this returns), for
    /// `owner` (the job that follows the build, or alerting itself). Claimed and never marked [`Alerts::said`]
    /// (a crash came between), it can be claimed again by the same owner: a crash repeats an
    /// alert rather than lose it.
    pub fn claim(&self, key: &LedgerKey, owner: LedgerOwner) -> Claim {
        match self.inner.store.claim_alert(key, owner, Utc::now()) {
            Ok(Claimed::New | Claimed::Unsaid) => Claim::New,
            Ok(Claimed::Said) => Claim::Told,
            Err(error) => {
                tracing::error!(%error, %key, "the alert ledger failed; not alerting rather than risk twice");
                Claim::Told
            }
        }
    }

    /// Marks a claimed alert as said: after a crash before this, its owner says it again.
    pub fn said(&self, key: &LedgerKey) {
        if let Err(error) = self.inner.store.alert_said(key) {
            tracing::error!(%error, %key, "recording an alert as said failed");
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

    /// Whether a running job follows the build at `link` and took it.
    pub(super) fn handed_over(&self, link: &str) -> bool {
        match self.inner.store.job_for_link(link) {
            Ok(Some(job)) => (self.inner.hand_over)(job, link),
            Ok(None) => false,
            Err(error) => {
                tracing::error!(%error, "looking up a build's job failed");
                false
            }
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

    /// After a restart: alerts of builds no job follows that were claimed and never said (a
    /// crash came between) are said now, from a fresh read.
    pub(super) fn resume_unsaid(&self) {
        let keys = match self.inner.store.unsaid_alerts(LedgerOwner::Untracked) {
            Ok(keys) => keys,
            Err(error) => return tracing::error!(%error, "reading the alert ledger failed"),
        };
        for key in keys {
            let (link, failure) = match &key {
                LedgerKey::Failure { link, failure } => (link.clone(), Some(*failure)),
                LedgerKey::Unreadable { link } => (link.clone(), None),
                // A retry's outcome: the follow of the retry says it again.
                LedgerKey::RetryEnded { .. } => continue,
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
}

/// Whether a claim in the ledger was won.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// First: say it.
    New,
    /// Said before (or the ledger failed: never twice was chosen over at least once).
    Told,
}

/// What a read of an untracked build leads to saying.
pub(super) enum Said {
    /// Its upload failed (again).
    Failed {
        failure: u32,
        again_in: Option<String>,
    },
    /// A retry the bot followed ended without failing.
    Ended { channel: String },
}
