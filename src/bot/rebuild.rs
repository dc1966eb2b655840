//! `rebuild`, `confirm` and `abort`: a rebuild planned, checked against the hourly limit and the
//! mass-rebuild permission, confirmed when large, stored, and acknowledged. The job is stored
//! (and flushed) before the acknowledgement is given; the engine starts it after the answer is
//! out ([`Bot::launch`]).

use std::time::Duration;

use chrono::Utc;

use super::Bot;
use crate::chat::{Answer, Button, Chat, Incoming};
use crate::command::{CommandName, ConfirmCode, Rebuild};
use crate::jobs::Job;
use crate::messages::{self, jobs as say, Front};
use crate::permissions::{may, Permission, User};
use crate::plan::{plan, Approval, Plan};

impl<C: Chat + Clone> Bot<C> {
    pub(super) async fn rebuild(&self, incoming: &Incoming, rebuild: Rebuild) -> Answer {
        let plan = match plan(&rebuild, &self.config.catalogue) {
            Ok(plan) => plan,
            Err(error) => return Answer::private(messages::plan_error(&error, Front::Chat)),
        };
        let limits = &self.config.confirmation;
        if rebuild.dry_run {
            return messages::dry_run(&plan, plan.approval(limits, false), limits).into();
        }
        let running = match self.going(&incoming.user, &plan).await {
            Ok(running) => running,
            Err(answer) => return *answer,
        };
        match plan.approval_with(limits, running) {
            Approval::Proceed => self.start(incoming, &rebuild, &plan).await,
            approval => {
                if let Some(denied) = self.mass_rebuild_denied(&incoming.user, approval) {
                    return denied;
                }
                let code = self
                    .confirmations
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .offer(
                        &incoming.user.id,
                        rebuild,
                        std::time::SystemTime::now(),
                        Duration::from_secs(limits.code_valid_minutes * 60),
                        random_bits,
                    );
                let minutes = limits.code_valid_minutes;
                let text = messages::needs_confirmation(&plan, approval, &code, minutes, running);
                Answer {
                    buttons: vec![Button::Confirm(code.clone()), Button::Abort(code)],
                    ..Answer::from(text)
                }
            }
        }
    }

    /// `confirm CODE`: the rebuild the code stands for, if it is the user's and still valid.
    pub(super) async fn confirm(&self, incoming: &Incoming, code: &ConfirmCode) -> Answer {
        let taken = self
            .confirmations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(&incoming.user.id, code, std::time::SystemTime::now());
        match taken {
            Ok(rebuild) => self.confirmed(incoming, rebuild).await,
            Err(error) => {
                Answer::private(messages::confirm_error(error, code, CommandName::Confirm))
            }
        }
    }

    /// `abort CODE`: the rebuild waiting for confirmation is dropped.
    pub(super) fn abort(&self, user: &User, code: &ConfirmCode) -> Answer {
        let dropped = self
            .confirmations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(&user.id, code, std::time::SystemTime::now());
        match dropped {
            Ok(_) => messages::aborted(code).into(),
            Err(error) => Answer::private(messages::confirm_error(error, code, CommandName::Abort)),
        }
    }

    /// The builds `user` has running, or the answer if `plan` would take them over their
    /// hourly limit (or the store cannot say).
    async fn going(&self, user: &User, plan: &Plan) -> Result<usize, Box<Answer>> {
        // The user's unfinished jobs and every job of the last hour: all the limits count.
        let since = Utc::now() - crate::quota::WINDOW;
        let jobs = self
            .engine
            .store()
            .blocking(move |store| {
                let mut jobs = store.unfinished()?;
                let recent = store.jobs_since(since)?;
                jobs.retain(|job| job.created_at < since);
                jobs.extend(recent);
                Ok(jobs)
            })
            .await
            .map_err(|error| {
                tracing::error!(%error, "reading the store failed");
                Box::new(Answer::from(say::internal_error(
                    "reading the job store; nothing was requested",
                )))
            })?;
        let limit = self.config.confirmation.builds_per_user_per_hour;
        let builds = plan.builds();
        if let Err(over) = crate::quota::hourly(&jobs, &user.id, builds, limit, Utc::now()) {
            tracing::info!(user = %user.id, builds, started = over.started, "over the hourly limit");
            return Err(Box::new(Answer::private(messages::over_hourly_limit(
                builds, &over,
            ))));
        }
        Ok(crate::quota::running_builds(&jobs, &user.id))
    }

    fn mass_rebuild_denied(&self, user: &User, approval: Approval) -> Option<Answer> {
        if approval != Approval::ConfirmMassRebuild {
            return None;
        }
        may(&self.config.permissions, user, Permission::MassRebuild)
            .err()
            .map(|denied| Answer::private(messages::denied(&denied, CommandName::Rebuild)))
    }

    /// A confirmed rebuild: planned again (the catalogue is the same, but the check is cheap),
    /// the hourly limit and the mass-rebuild permission checked again, then started.
    async fn confirmed(&self, incoming: &Incoming, rebuild: Rebuild) -> Answer {
        let plan = match plan(&rebuild, &self.config.catalogue) {
            Ok(plan) => plan,
            Err(error) => return Answer::private(messages::plan_error(&error, Front::Chat)),
        };
        let running = match self.going(&incoming.user, &plan).await {
            Ok(running) => running,
            Err(answer) => return *answer,
        };
        let approval = plan.approval_with(&self.config.confirmation, running);
        if let Some(denied) = self.mass_rebuild_denied(&incoming.user, approval) {
            return denied;
        }
        self.start(incoming, &rebuild, &plan).await
    }

    /// Stores a new job (flushed) and answers; the engine starts it after the answer is sent.
    async fn start(&self, incoming: &Incoming, rebuild: &Rebuild, plan: &Plan) -> Answer {
        let store = self.engine.store();
        let now = Utc::now();
        let deadline = crate::jobs::machine::later(now, self.engine.settings().give_up_after);
        let stored = match store.blocking(|store| store.next_job_id()).await {
            Ok(id) => {
                let job = Job::new(crate::jobs::NewJob {
                    id,
                    requester: &incoming.user.id,
                    channel: &incoming.channel,
                    command: &rebuild.to_string(),
                    plan,
                    api_root: &self.api_root,
                    auto_retry_uploads: rebuild.auto_retry_uploads
                        || self.config.engine.auto_retry_uploads,
                    reason: rebuild.reason.clone(),
                    now,
                    deadline,
                    hooks: crate::hooks::for_job(&self.config.hooks, &rebuild.then),
                });
                store
                    .blocking(move |store| store.put_job(&job).map(|()| job))
                    .await
            }
            Err(error) => Err(error),
        };
        match stored {
            Ok(job) => {
                tracing::info!(job = %job.id, user = %incoming.user.id, command = %job.command, "accepted");
                let text = say::accepted(job.id, plan);
                Answer {
                    start: Some(job),
                    ..Answer::from(text)
                }
            }
            Err(error) => {
                tracing::error!(%error, "storing a new job failed");
                say::internal_error("storing the job; nothing was requested").into()
            }
        }
    }
}

/// Randomness for confirmation codes: std's randomly keyed hasher, as in the client's jitter.
fn random_bits() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(1);
    hasher.finish()
}
