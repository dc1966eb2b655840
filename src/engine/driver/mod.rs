//! One job's task: do what is due, store, call Launchpad, feed the answers back to the state
//! machine, store again, announce, update the board (at most once per `board_interval`, and
//! only if its text changed), then sleep until something is due or someone asks. Every change
//! is stored (flushed) before the calls it causes are made and before any notice about it is
//! said; only a read's answer that causes neither may wait up to a second for the next write
//! ([`crate::store::Store::save_job`]), so the board can show it first: after a crash the
//! build is read again before anything is said. A failed call is an observation like any
//! other; nothing here gives up on a job but its deadline.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::time::Instant;

mod announce;
mod board;
mod ending;
mod inflight;

use super::calls::PreparedCall;
use super::shared::{controlled_count, DriverCommand, Inner, PUBLISH_EVERY};
use crate::backoff::Backoff;
use crate::chat::{Chat, Kind, MessageId, Outgoing};
use crate::jobs::machine::{self, next_due, observe, Notice, Observation, Step};
use crate::jobs::model::Job;
use crate::messages::jobs as say;
use announce::send_summary;
use inflight::Calls;

/// How long a job's driver gathers webhook deliveries after the first before it takes them in
/// ([`Driver::run`]): short beside how long anything on Launchpad takes, long beside a burst.
/// The waits before the ended job's last board edit and its summary are tried again: 1, 2, 4
/// ... 64 s, then the summary waits for the next start.
const LAST_WORDS: Backoff =
    Backoff::new(Duration::from_secs(1), Duration::from_secs(64)).at_most(7);

const GATHER_DELIVERIES: Duration = Duration::from_millis(50);

/// One job's task.
pub(super) struct Driver<C> {
    inner: Arc<Inner<C>>,
    job: Job,
    /// Whether the last write of the job worked: a driver that cannot store stops.
    stored: bool,
    /// What of the job is on disk: a save writes only what changed since.
    written: crate::store::Written,
    /// Counts the saves that changed something: the board is rendered, and the job published
    /// to those following it, again only after one.
    version: u64,
    /// The job's board: its message and what it last showed.
    board: board::Board,
    /// When the job was last published to those following it, and the
    /// [`Driver::version`] it showed.
    published: Option<(Instant, u64)>,
}

impl<C: Chat> Driver<C> {
    /// A driver for `job`; `resumed` when the job is picked up after a restart, which first
    /// looks at everything again and makes again the calls whose answers were lost. Returns
    /// the driver and the calls to start with.
    pub(super) async fn new(
        inner: Arc<Inner<C>>,
        mut job: Job,
        resumed: bool,
    ) -> (Driver<C>, Step) {
        let messages = inner.store.messages(job.id).unwrap_or_default();
        // A resumed job is as the store has it; a new one was stored by whoever made it, but
        // is written whole once more (nothing it needs can then be missing).
        let written = if resumed {
            crate::store::Written::stored(&job)
        } else {
            crate::store::Written::default()
        };
        let step = if resumed {
            machine::resume(&mut job, Utc::now(), &inner.settings.rules)
        } else {
            Step::default()
        };
        seed_failures(&inner, &mut job);
        let driver = Driver {
            board: board::Board::at(messages.board.clone().map(MessageId)),
            inner,
            job,
            stored: true,
            written,
            version: 0,
            published: None,
        };
        (driver, step)
    }

    /// Drives the job until it ends and has said everything. Calls to Launchpad run
    /// concurrently, limited only by the client's requests in flight: each answer is taken in
    /// (and stored) as it comes, and the calls it leads to start at once, so a slow call (one
    /// waiting out a `Retry-After`) holds up nothing else.
    pub(super) async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<DriverCommand>,
        initial: Step,
    ) {
        let rules = self.inner.settings.rules;
        let mut calls = Calls::default();
        let mut step = initial;
        loop {
            step.extend(observe(
                &mut self.job,
                Observation::Tick,
                Utc::now(),
                &rules,
            ));
            if !self.take(step, &mut calls).await {
                return self.stop_unstored().await;
            }
            calls.alongside(self.announce()).await;
            if !self.stored {
                return self.stop_unstored().await;
            }
            let ended = self.job.is_finished();
            let board_due = calls.alongside(self.update_board(ended)).await;
            let publish_due = self.publish();
            if self.job.is_finished() && calls.is_empty() {
                // Why builds failed, and what the hooks did, go in the summary: stored
                // before it is said.
                let logs = self.read_failed_logs().await;
                let hooks = self.run_hooks().await;
                if (logs || hooks) && !self.save(true).await {
                    return self.stop_unstored().await;
                }
                // What was built when outlives the job: recorded before the summary says it.
                let records = crate::history::records_of(&self.job, Utc::now());
                if let Err(error) = self.inner.store.put_history(&records) {
                    tracing::error!(%error, "recording the job in the history failed");
                }
                if board_due.is_some() {
                    self.final_board().await;
                }
                // The summary goes out while the driver is still in the map: a `retry` that
                // reopens the job meanwhile comes here, and its own summary follows.
                send_summary(&self.inner, &self.job).await;
                // Leave the map, unless a command came in while the job was ending.
                let pending = {
                    let mut drivers = self.inner.drivers.lock().unwrap_or_else(|p| p.into_inner());
                    let pending = commands.try_recv().ok();
                    if pending.is_none() {
                        // Under the lock: a `retry` that reopens the job from the store comes
                        // after, and opens it again.
                        self.close_if_said();
                        drivers.remove(&self.job.id);
                    }
                    pending
                };
                step = match pending {
                    Some(DriverCommand::Stop) => return self.stop().await,
                    Some(command) => self.command(command),
                    None => {
                        tracing::info!(status = ?self.job.status, "job ended");
                        return;
                    }
                };
                continue;
            }
            let now = Utc::now();
            let due = next_due(&self.job).map(|due| (due - now).to_std().unwrap_or_default());
            let mut wake = Instant::now() + due.unwrap_or(Duration::from_secs(3600));
            for due in [board_due, publish_due, self.written.due()]
                .into_iter()
                .flatten()
            {
                wake = wake.min(due);
            }
            step = Step::default();
            // A delivery is a hint, and they come in bursts (some sixteen per recipe in a mass
            // rebuild): those that come within [`GATHER_DELIVERIES`] of the first are taken in
            // one pass (one look at every build, one save), not one pass each. Meanwhile the
            // commands wait, unread, so that a delivery does not wake the driver; an answer to
            // a call ends the gathering at once, and what was asked meanwhile is taken in the
            // same pass (a `Stop` at most [`GATHER_DELIVERIES`] late).
            let mut gathering = false;
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(wake) => break,
                    Some(observation) = calls.next(), if !calls.is_empty() => {
                        step.extend(observe(&mut self.job, observation, Utc::now(), &rules));
                        break;
                    }
                    command = commands.recv(), if !gathering => match command {
                        Some(DriverCommand::Stop) => return self.stop_taking(step).await,
                        Some(command @ (DriverCommand::Poke { .. } | DriverCommand::Candidate { .. })) => {
                            step.extend(self.command(command));
                            gathering = true;
                            wake = wake.min(Instant::now() + GATHER_DELIVERIES);
                        }
                        Some(command) => {
                            step.extend(self.command(command));
                            break;
                        }
                        None => break,
                    },
                }
            }
            // Answers and commands that came meanwhile are taken in the same pass too.
            loop {
                if let Some(observation) = calls.ready() {
                    step.extend(observe(&mut self.job, observation, Utc::now(), &rules));
                    continue;
                }
                match commands.try_recv() {
                    Ok(DriverCommand::Stop) => return self.stop_taking(step).await,
                    Ok(command) => step.extend(self.command(command)),
                    Err(_) => break,
                }
            }
        }
    }

    /// Publishes the job to those following it ([`super::Engine::follow`]) if it changed,
    /// at most every [`PUBLISH_EVERY`] (an ended job at once); returns when a held-back
    /// change is due. Once nobody follows, or the ended job was published, the job leaves the
    /// map of followed jobs (a later `follow` starts from the store).
    fn publish(&mut self) -> Option<Instant> {
        let mut followed = self
            .inner
            .followed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let sender = followed.get(&self.job.id)?;
        let ended = self.job.is_finished();
        if self
            .published
            .is_none_or(|(_, shown)| shown != self.version)
        {
            if let Some((last, _)) = self.published {
                if last.elapsed() < PUBLISH_EVERY && !ended {
                    return Some(last + PUBLISH_EVERY);
                }
            }
            sender.send_replace(Arc::new(self.job.clone()));
            self.published = Some((Instant::now(), self.version));
        }
        if ended || sender.is_closed() {
            followed.remove(&self.job.id);
            self.published = None;
        }
        None
    }

    /// Applies what someone asked of the job; returns what it leads to.
    fn command(&mut self, command: DriverCommand) -> Step {
        let rules = self.inner.settings.rules;
        match command {
            DriverCommand::Control { control, reply } => {
                let was_finished = self.job.is_finished();
                seed_failures(&self.inner, &mut self.job);
                let step = observe(
                    &mut self.job,
                    Observation::Control(control),
                    Utc::now(),
                    &rules,
                );
                let _ = reply.send(controlled_count(&step));
                if was_finished && !self.job.is_finished() {
                    // Reopened: it will end again, with a summary of its own.
                    let mut messages = self.inner.store.messages(self.job.id).unwrap_or_default();
                    messages.summary_sent = false;
                    if let Err(error) = self.inner.store.put_messages(self.job.id, &messages) {
                        tracing::error!(%error, "storing the messages failed");
                    }
                }
                step
            }
            // Taken by the loop before it comes here ([`Driver::stop`]).
            DriverCommand::Stop => Step::default(),
            DriverCommand::Poke {
                build_url,
                request_url,
                reported,
            } => {
                let delivered = Observation::Delivered {
                    build_url,
                    request_url,
                    reported,
                };
                observe(&mut self.job, delivered, Utc::now(), &rules)
            }
            DriverCommand::Candidate {
                recipe_url,
                request_url,
                build_url,
            } => {
                let candidate = Observation::Candidate {
                    recipe_url,
                    request_url,
                    build_url: Some(build_url),
                };
                observe(&mut self.job, candidate, Utc::now(), &rules)
            }
        }
    }

    /// Takes in a step: its notices go in the outbox and the job is stored, then (only if it
    /// was) its calls start. Returns whether the job could be stored.
    async fn take(&mut self, step: Step, calls: &mut Calls) -> bool {
        if step
            .notices
            .iter()
            .any(|notice| matches!(notice, Notice::Refused { .. }))
        {
            // Launchpad refused these credentials: the requests still waiting in the client
            // would be refused too, and are not sent.
            calls.abort_requests();
        }
        self.queue(step.notices);
        // A call that changes something on Launchpad goes out only once it is on disk.
        let durable = step.actions.iter().any(|action| {
            matches!(
                action,
                machine::Action::RequestBuilds { .. } | machine::Action::Call { .. }
            )
        });
        if !calls.alongside(self.save(durable)).await {
            return false;
        }
        for action in step.actions {
            calls.start(PreparedCall::new(&self.job, action), &self.inner.client);
        }
        true
    }

    /// [`Driver::stop`] with what was taken in but not yet stored: its notices are stored to
    /// be said by the next start; its calls are pending in the job, made again then.
    async fn stop_taking(&mut self, step: Step) {
        self.queue(step.notices);
        self.stop().await;
    }

    /// The process is stopping ([`super::Engine::stop`]): what waits to be stored is stored,
    /// and the driver ends; the next start resumes the job from there.
    async fn stop(&mut self) {
        if self.save(true).await {
            tracing::info!("job stopped; the next start resumes it");
        }
        let mut drivers = self.inner.drivers.lock().unwrap_or_else(|p| p.into_inner());
        drivers.remove(&self.job.id);
    }

    /// The store cannot be written: nothing more is sent to Launchpad (it could not be
    /// recorded) and nothing more is said; the job stays as last stored, for `wait` or the
    /// next start to pick up. Said once, in the job's channel.
    async fn stop_unstored(&mut self) {
        tracing::error!("the job store cannot be written; the job stops here until it can");
        let text = say::store_failed(self.job.id);
        if let Err(error) = self
            .inner
            .chat
            .send(&self.job.channel, Outgoing::new(Kind::Alert, text))
            .await
        {
            tracing::warn!(%error, "saying the store failed failed too");
        }
        let mut drivers = self.inner.drivers.lock().unwrap_or_else(|p| p.into_inner());
        drivers.remove(&self.job.id);
    }

    /// The job ended: once everything about it is said (its summary too), it leaves the index
    /// of open jobs, so a restart does not read it again.
    fn close_if_said(&self) {
        if self.inner.store.said_all(&self.job).unwrap_or(false) {
            if let Err(error) = self.inner.store.close_job(self.job.id) {
                tracing::warn!(%error, "closing the ended job in the store failed; a restart looks at it again");
            }
        }
    }

    /// Puts notices worth saying in the job's outbox (stored with the job by the next save).
    fn queue(&mut self, notices: Vec<Notice>) {
        self.job.outbox.extend(
            notices
                .into_iter()
                .filter(|notice| !matches!(notice, Notice::Controlled { .. } | Notice::Ended)),
        );
    }

    /// Stores what changed of the job; `false` (and [`Driver::stored`] false) if the store
    /// failed.
    async fn save(&mut self, durable: bool) -> bool {
        match self
            .inner
            .store
            .save_job(&mut self.written, &self.job, durable)
            .await
        {
            Ok(changed) => {
                self.version += u64::from(changed);
                true
            }
            Err(error) => {
                tracing::error!(%error, "storing the job failed");
                self.stored = false;
                false
            }
        }
    }
}

/// Continues a job's count of a build's failed uploads from what alerting knows (a failure
/// told while no job followed the build), so the ledger never sees a number twice.
fn seed_failures<C: Chat>(inner: &Inner<C>, job: &mut Job) {
    for build in job.targets.iter_mut().flat_map(|target| &mut target.builds) {
        build.upload_failures = build
            .upload_failures
            .max(inner.alerts.failures_known(&build.url));
    }
}
