//! `cancel`, `retry`, `retry alert`, `mute` and `unmute`: acting on a job or on alerts, through
//! the engine, which stores the change before it answers.

use super::Bot;
use crate::chat::{Answer, Chat};
use crate::command::{MuteDuration, RetryWhat};
use crate::engine::EngineError;
use crate::jobs::Control;
use crate::messages::{alerts as alerts_say, jobs as say, Front};
use crate::target::{ImageName, JobId};

impl<C: Chat + Clone> Bot<C> {
    /// `cancel #JOB`, `retry uploads #JOB`, `retry builds #JOB`.
    pub(super) async fn control(&self, id: JobId, control: Control) -> Answer {
        match self.engine.control(id, control).await {
            Ok(count) => say::controlled(id, control, count).into(),
            Err(EngineError::NoSuchJob(id)) => say::no_such_job(id, Front::Chat).into(),
            Err(error) => {
                tracing::error!(%error, job = %id, "a control failed");
                say::internal_error(&format!("job {id}")).into()
            }
        }
    }

    /// `retry uploads #JOB` or `retry builds #JOB`.
    pub(super) async fn retry(&self, what: RetryWhat, job: JobId) -> Answer {
        self.control(job, what.into()).await
    }

    /// `retry alert N`: every failed upload the alert told of.
    pub(super) async fn retry_alert(&self, alert: u64, channel: &str) -> Answer {
        self.engine
            .alerts()
            .retry_group(alert, channel)
            .await
            .into()
    }

    /// `mute [IMAGE] DURATION`.
    pub(super) fn mute(
        &self,
        image: Option<ImageName>,
        duration: MuteDuration,
        channel: &str,
    ) -> Answer {
        match self
            .engine
            .mute(image.as_ref(), duration.as_duration(), channel)
        {
            Ok(until) => alerts_say::muted(image.as_ref(), duration, until).into(),
            Err(error) => {
                tracing::error!(%error, "storing a mute failed");
                say::internal_error("storing the mute; nothing is muted").into()
            }
        }
    }

    /// `unmute`: every mute ends.
    pub(super) fn unmute(&self) -> Answer {
        match self.engine.alerts().unmute() {
            Ok((ended, hidden)) => alerts_say::unmuted(ended, &hidden).into(),
            Err(error) => {
                tracing::error!(%error, "ending the mutes failed");
                say::internal_error("ending the mutes").into()
            }
        }
    }
}
