//! `status`, `jobs`, `history` and `log`: answers read from the store, on a blocking thread
//! ([`crate::store::Store::blocking`]) so that a slow disk never stalls the other answers.

use chrono::Utc;

use super::{Bot, JOBS_LISTED, LOG_ANSWER_CHARS};
use crate::chat::{Answer, Chat};
use crate::command::{HistoryQuery, JobsScope};
use crate::messages::{self, alerts as alerts_say, jobs as say, Front};
use crate::permissions::User;
use crate::store::{Store, StoreError};
use crate::target::JobId;

impl<C: Chat + Clone> Bot<C> {
    /// The text `read` makes of the store, or a short line if the store cannot be read.
    async fn read<F>(&self, read: F) -> Answer
    where
        F: FnOnce(&Store) -> Result<String, StoreError> + Send + 'static,
    {
        match self.engine.store().blocking(read).await {
            Ok(text) => text.into(),
            Err(error) => {
                tracing::error!(%error, "reading the store failed");
                say::internal_error("reading the job store").into()
            }
        }
    }

    /// `status #JOB`: its board; `status`: the jobs running, and the failures muted.
    pub(super) async fn status(&self, job: Option<JobId>) -> Answer {
        match job {
            Some(id) => {
                self.read(move |store| {
                    Ok(match store.job(id)? {
                        Some(job) => say::board(&job, Utc::now()),
                        None => say::no_such_job(id, Front::Chat),
                    })
                })
                .await
            }
            None => {
                self.read(|store| {
                    let mut text = say::job_list(
                        &store.unfinished()?,
                        Utc::now(),
                        &say::nothing_running(Front::Chat),
                    );
                    let muted: Vec<String> = store
                        .muted()?
                        .into_iter()
                        .map(|failure| failure.line)
                        .collect();
                    if !muted.is_empty() {
                        text.push_str(&alerts_say::muted_failures(&muted));
                    }
                    Ok(text)
                })
                .await
            }
        }
    }

    /// `jobs` (the user's) and `jobs all`: the last [`JOBS_LISTED`].
    pub(super) async fn jobs(&self, user: &User, scope: JobsScope) -> Answer {
        let user = user.id.clone();
        self.read(move |store| {
            let mine = |job: &crate::jobs::Job| scope == JobsScope::All || job.requester == user;
            let mut listed = 0;
            let mut jobs = store.jobs_while(|job| {
                if mine(job) {
                    listed += 1;
                }
                listed <= JOBS_LISTED
            })?;
            jobs.retain(|job| mine(job));
            Ok(say::job_list(&jobs, Utc::now(), &say::no_jobs(Front::Chat)))
        })
        .await
    }

    /// `history ...`: the rebuilds the query asks about, newest first, from the history's index.
    pub(super) async fn history(&self, query: HistoryQuery) -> Answer {
        let keep_days = self.config.engine.history_keep_days;
        self.read(move |store| {
            let rebuilds = store.rebuilds(&query)?;
            Ok(messages::history::history(
                &rebuilds,
                &query,
                keep_days,
                Utc::now(),
            ))
        })
        .await
    }

    /// `log #JOB`: long, and asked for by one person, so theirs alone.
    pub(super) async fn log(&self, job: JobId) -> Answer {
        let limit = self.chat.message_limit().min(LOG_ANSWER_CHARS);
        Answer {
            private: true,
            ..self
                .read(move |store| {
                    Ok(match store.job(job)? {
                        Some(found) => say::logs(&found, limit),
                        None => say::no_such_job(job, Front::Chat),
                    })
                })
                .await
        }
    }
}
