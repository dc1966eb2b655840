//! The engine: the façade that starts, resumes and controls jobs (one [`Driver`] task each)
//! and hands Launchpad's webhook deliveries to the job that follows the build, or to
//! [`crate::alerts`] when none does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::Instrument;

mod calls;
mod driver;
mod settings;
mod shared;

pub use settings::EngineSettings;

use crate::alerts::{AlertSettings, Alerts, Hint};
use crate::chat::Chat;
use crate::jobs::machine::{observe, Control, Observation, Step};
use crate::jobs::Job;
use crate::launchpad::models::{BuildState, UploadStatus};
use crate::launchpad::Client;
use crate::store::{Store, StoreError};
use crate::target::{ImageName, JobId};
use driver::Driver;
use shared::{controlled_count, lock, DriverCommand, Drivers, Inner};

/// Why a control could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No such job.
    #[error("there is no job {0}")]
    NoSuchJob(JobId),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The job's task stopped while asked.
    #[error("job {0} stopped while it was being asked")]
    Stopped(JobId),
}

/// The engine. Cheap to clone.
pub struct Engine<C> {
    inner: Arc<Inner<C>>,
}

impl<C> Clone for Engine<C> {
    fn clone(&self) -> Self {
        Engine {
            inner: self.inner.clone(),
        }
    }
}

impl<C: Chat + Clone> Engine<C> {
    /// An engine on this client, store and chat.
    pub fn new(client: Client, store: Store, chat: C, settings: EngineSettings) -> Engine<C> {
        let drivers: Drivers = Arc::new(Mutex::new(HashMap::new()));
        let poked = drivers.clone();
        let hand_over = Box::new(move |job: JobId, build: &str| {
            lock(&poked).get(&job).is_some_and(|driver| {
                driver
                    .send(DriverCommand::Poke {
                        build_url: build.to_string(),
                        request_url: None,
                        reported: None,
                    })
                    .is_ok()
            })
        });
        let alert_settings = AlertSettings {
            channel: settings.alerts_channel.clone(),
            group_window: settings.alert_group_window,
            follow_min: settings.rules.poll_min,
            follow_max: settings.rules.poll_max,
            web_root: settings.web_root.clone(),
            recipes: settings.recipes.clone(),
        };
        let alerts = Alerts::new(
            client.clone(),
            store.clone(),
            chat.clone(),
            alert_settings,
            hand_over,
        );
        Engine {
            inner: Arc::new(Inner {
                client,
                store,
                chat,
                settings,
                alerts,
                drivers,
                running: watch::channel(0).0,
                stopping: std::sync::atomic::AtomicBool::new(false),
                followed: Mutex::new(HashMap::new()),
            }),
        }
    }
}

impl<C: Chat> Engine<C> {
    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The job as its driver has it, from memory, as it changes (at most every 250 ms): what
    /// progress bars show, without reading the store. Starts from the stored job.
    pub fn follow(&self, id: JobId) -> Result<watch::Receiver<Arc<Job>>, EngineError> {
        let mut followed = self
            .inner
            .followed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = followed.get(&id) {
            return Ok(sender.subscribe());
        }
        let job = self
            .inner
            .store
            .job(id)?
            .ok_or(EngineError::NoSuchJob(id))?;
        let (sender, receiver) = watch::channel(Arc::new(job));
        followed.insert(id, sender);
        Ok(receiver)
    }

    /// The settings.
    pub fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    /// Alerting: mutes, and the retries of builds no job follows.
    pub fn alerts(&self) -> &Alerts<C> {
        &self.inner.alerts
    }

    /// Picks up after a restart: old jobs and alerting records are compacted, every unfinished
    /// job is driven again (each re-reads Launchpad before it says anything), an ended job with
    /// something left to say (notices in its outbox, or its summary) says it, mutes end when
    /// they were due and followed retries are followed again. Returns how many unfinished jobs
    /// were resumed.
    pub async fn resume(&self) -> Result<usize, StoreError> {
        let keep = chrono::Duration::from_std(self.inner.settings.keep_finished)
            .unwrap_or(chrono::Duration::MAX);
        if let Some(before) = Utc::now().checked_sub_signed(keep) {
            let removed = self.inner.store.compact(before)?;
            if removed > 0 {
                tracing::info!(removed, "compacted old jobs away");
            }
        }
        let keep = chrono::Duration::from_std(self.inner.settings.keep_history)
            .unwrap_or(chrono::Duration::MAX);
        if let Some(before) = Utc::now().checked_sub_signed(keep) {
            let removed = self.inner.store.compact_history(before)?;
            if removed > 0 {
                tracing::info!(removed, "forgot builds older than the history keeps");
            }
        }
        let mut resumed = 0;
        for job in self.inner.store.open_jobs()? {
            if self.inner.store.said_all(&job)? {
                self.inner.store.close_job(job.id)?;
                continue;
            }
            if !job.is_finished() {
                resumed += 1;
                tracing::info!(job = %job.id, "resuming");
            }
            self.spawn(job, true, Step::default());
        }
        self.inner.alerts.resume();
        Ok(resumed)
    }

    /// Starts driving a job the bot has just stored.
    pub fn start(&self, job: Job) {
        self.spawn(job, false, Step::default());
    }

    /// Applies `cancel` or `retry` to a job, running or not; returns how many builds it acted on.
    pub async fn control(&self, id: JobId, control: Control) -> Result<usize, EngineError> {
        let (reply, answer) = oneshot::channel();
        let sent = {
            // Held while sending: a driver leaves the map under this lock, after checking for
            // commands, so a command is never sent to a driver that is leaving.
            let drivers = lock(&self.inner.drivers);
            drivers.get(&id).is_some_and(|driver| {
                driver
                    .send(DriverCommand::Control { control, reply })
                    .is_ok()
            })
        };
        if sent {
            return answer.await.map_err(|_| EngineError::Stopped(id));
        }
        let mut job = self
            .inner
            .store
            .job(id)?
            .ok_or(EngineError::NoSuchJob(id))?;
        let was_finished = job.is_finished();
        for build in job.targets.iter_mut().flat_map(|target| &mut target.builds) {
            let known = self.inner.alerts.failures_known(&build.url);
            build.upload_failures = build.upload_failures.max(known);
        }
        let step = observe(
            &mut job,
            Observation::Control(control),
            Utc::now(),
            &self.inner.settings.rules,
        );
        let count = controlled_count(&step);
        self.inner.store.put_job(&job)?;
        if !job.is_finished() {
            if was_finished {
                // Reopened: it will end again, with a summary of its own.
                let mut messages = self.inner.store.messages(id)?;
                messages.summary_sent = false;
                self.inner.store.put_messages(id, &messages)?;
            }
            self.spawn(job, false, step);
        }
        Ok(count)
    }

    /// Launchpad's webhook says this build (a canonical API URL) of `recipe_url` changed, to
    /// `reported` (its `status` and `registry_upload_status`) if the delivery said. A build
    /// (or build request) of a running job goes to that job, which reads it if that is news
    /// ([`Observation::Delivered`]). A build of a recipe whose job waits for word of its lost request,
    /// or of a skipped architecture's queued build, is offered to that job. Any build no job
    /// follows is read by [`Alerts::build_changed`], which tells a new failure of its upload
    /// once. Returns `false`, taking nothing, once the engine is stopping ([`Engine::stop`])
    /// or when the store cannot say whose the build is: the delivery is refused, and Launchpad
    /// sends it again later (to the next start).
    pub fn webhook(
        &self,
        build_url: String,
        request_url: Option<String>,
        recipe_url: Option<String>,
        reported: Option<(BuildState, UploadStatus)>,
        hint: Option<Hint>,
    ) -> bool {
        if self.stopping() {
            return false;
        }
        let store = &self.inner.store;
        // A new build is not indexed yet, but its build request is.
        let job = store
            .job_for_link(&build_url)
            .and_then(|job| match (job, &request_url) {
                (None, Some(request)) => store.job_for_link(request),
                (job, _) => Ok(job),
            });
        let job = match job {
            Ok(job) => job,
            Err(error) => {
                tracing::error!(%error, "looking up a webhook's build failed");
                return false;
            }
        };
        if let Some(id) = job {
            let drivers = lock(&self.inner.drivers);
            if let Some(driver) = drivers.get(&id) {
                let _ = driver.send(DriverCommand::Poke {
                    build_url,
                    request_url,
                    reported,
                });
                return true;
            }
        }
        // Only a build request no job knows can be a lost request's, or a skipped
        // architecture's queued build: a late delivery about an ended job's build is not.
        if let Some(recipe_url) = recipe_url.filter(|_| job.is_none()) {
            match store.job_awaiting(&recipe_url) {
                Ok(Some(id)) => {
                    if let Some(driver) = lock(&self.inner.drivers).get(&id) {
                        let _ = driver.send(DriverCommand::Candidate {
                            recipe_url,
                            request_url,
                            build_url: build_url.clone(),
                        });
                    }
                }
                Ok(None) => {}
                Err(error) => tracing::error!(%error, "looking up a recipe's job failed"),
            }
        }
        // Also read as a build no job follows: if the job takes it, the read hands it over.
        // Stored before it is answered, so its read is never lost ([`Alerts::deliver`]).
        self.inner.alerts.deliver(build_url, hint)
    }

    /// Silences failed-upload alerts of `image` (all if `None`) for `duration`; when the mute
    /// ends by itself, `channel` is told. Returns when it ends.
    pub fn mute(
        &self,
        image: Option<&ImageName>,
        duration: Duration,
        channel: &str,
    ) -> Result<DateTime<Utc>, StoreError> {
        self.inner.alerts.mute(image, duration, channel)
    }

    /// Stops driving jobs, for a process that is stopping (`SIGTERM`): no job starts any more,
    /// and each running job stores what waits to be stored (a read's answer waits up to a
    /// second otherwise) and ends where it is, to be resumed by the next start. Calls out to
    /// Launchpad are not waited for: as after a crash, the next start makes again those whose
    /// answers it did not store. Waits up to `grace`; returns how many jobs were still running
    /// then (a store write that hangs).
    pub async fn stop(&self, grace: Duration) -> usize {
        self.inner
            .stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        for driver in lock(&self.inner.drivers).values() {
            let _ = driver.send(DriverCommand::Stop);
        }
        let _ = tokio::time::timeout(grace, self.wait_idle()).await;
        self.running()
    }

    /// Whether the engine is stopping ([`Engine::stop`]).
    fn stopping(&self) -> bool {
        self.inner
            .stopping
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many jobs are being driven.
    pub fn running(&self) -> usize {
        *self.inner.running.borrow()
    }

    /// Waits until no job is being driven.
    pub async fn wait_idle(&self) {
        let mut running = self.inner.running.subscribe();
        let _ = running.wait_for(|count| *count == 0).await;
    }

    fn spawn(&self, job: Job, resumed: bool, initial: Step) {
        let id = job.id;
        if self.stopping() {
            // Stored already: the next start resumes it.
            tracing::info!(%id, "the engine is stopping; the job starts at the next start");
            return;
        }
        let (sender, commands) = mpsc::unbounded_channel();
        {
            let mut drivers = lock(&self.inner.drivers);
            if drivers.contains_key(&id) {
                return;
            }
            drivers.insert(id, sender);
        }
        self.inner.running.send_modify(|count| *count += 1);
        let engine = self.clone();
        let span = tracing::info_span!("job", id = %id);
        tokio::spawn(
            async move {
                let (driver, mut step) = Driver::new(engine.inner.clone(), job, resumed).await;
                step.actions.extend(initial.actions);
                step.notices.extend(initial.notices);
                driver.run(commands, step).await;
                engine.inner.running.send_modify(|count| *count -= 1);
            }
            .instrument(span),
        );
    }
}
