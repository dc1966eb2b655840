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
use futures_util::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::calls::{PreparedCall, ReadKey};
use super::shared::{controlled_count, Command, Inner, PUBLISH_EVERY};
use crate::alerts::{failure_key, job_owner, unreadable_key, Claim};
use crate::chat::{Button, Chat, Kind, MessageId, Outgoing};
use crate::jobs::machine::{self, next_due, observe, Notice, Observation, Step};
use crate::jobs::model::{Job, Progress};
use crate::launchpad::models::BuildState;
use crate::messages::jobs as say;

/// How long a job's driver gathers webhook deliveries after the first before it takes them in
/// ([`Driver::run`]): short beside how long anything on Launchpad takes, long beside a burst.
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
    board: Option<MessageId>,
    board_text: String,
    /// When the board was last rendered, and the [`Driver::version`] it showed.
    board_rendered: Option<(Instant, u64)>,
    /// The board's message was deleted (by a moderator) and posted again; once more, and the
    /// job goes on without a board rather than posting it in a loop.
    board_reposted: bool,
    /// No board any more: deleted twice.
    board_dropped: bool,
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
        let step = if resumed {
            machine::resume(&mut job, Utc::now(), &inner.settings.rules)
        } else {
            Step::default()
        };
        seed_failures(&inner, &mut job);
        let driver = Driver {
            board: messages.board.clone().map(MessageId),
            inner,
            job,
            stored: true,
            written: crate::store::Written::default(),
            version: 0,
            board_text: String::new(),
            board_rendered: None,
            board_reposted: false,
            board_dropped: false,
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
        mut commands: mpsc::UnboundedReceiver<Command>,
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
                    Some(Command::Stop) => return self.stop().await,
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
                        Some(Command::Stop) => return self.stop_taking(step).await,
                        Some(command @ (Command::Poke { .. } | Command::Candidate { .. })) => {
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
                    Ok(Command::Stop) => return self.stop_taking(step).await,
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
    fn command(&mut self, command: Command) -> Step {
        let rules = self.inner.settings.rules;
        match command {
            Command::Control { control, reply } => {
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
            Command::Stop => Step::default(),
            Command::Poke {
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
            Command::Candidate {
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

    /// Reads the log of every failed build whose log is not read yet, all at once (each
    /// bounded in size and time, [`crate::launchpad::buildlog`]); returns whether any was. A
    /// build Launchpad could not take in (the state `Failed to upload`) built well: its reason
    /// is in its upload log, which is read instead.
    async fn read_failed_logs(&mut self) -> bool {
        let unread: Vec<(usize, usize, String, bool)> = self
            .job
            .targets
            .iter()
            .enumerate()
            .flat_map(|(t, target)| {
                target
                    .builds
                    .iter()
                    .enumerate()
                    .filter_map(move |(b, build)| {
                        let failed = build.wanted && build.progress() == Progress::BuildFailed;
                        let upload = build.state == BuildState::FailedToUpload;
                        let url = if upload {
                            &build.upload_log_url
                        } else {
                            &build.log_url
                        };
                        match (url, &build.log) {
                            (Some(url), None) if failed => Some((t, b, url.clone(), upload)),
                            _ => None,
                        }
                    })
            })
            .collect();
        if unread.is_empty() {
            return false;
        }
        tracing::info!(logs = unread.len(), "reading the logs of failed builds");
        let client = &self.inner.client;
        let excerpts =
            futures_util::future::join_all(unread.iter().map(|(_, _, url, upload)| async move {
                if *upload {
                    client.upload_log(url).await
                } else {
                    client.build_log(url).await
                }
            }))
            .await;
        for ((t, b, _, _), excerpt) in unread.into_iter().zip(excerpts) {
            if let Some(problem) = &excerpt.problem {
                tracing::warn!(build = %self.job.targets[t].builds[b].url, problem, "a failed build's log could not be read");
            }
            self.job.targets[t].builds[b].log = Some(excerpt);
        }
        self.version += 1;
        true
    }

    /// Runs the job's hooks once it ended with every build and upload done
    /// ([`crate::hooks`]): each run stored before it starts and when it ends, never repeated
    /// (one a restart interrupted is reported so). A job that did not wholly succeed skips them
    /// (and runs them if a retry makes it succeed). Returns whether the job changed.
    async fn run_hooks(&mut self) -> bool {
        use crate::hooks::HookOutcome;
        use crate::jobs::model::HookRun;
        let mut changed = false;
        for name in self.job.hooks.clone() {
            let at = self.job.hook_runs.iter().position(|run| run.name == name);
            let outcome = at.map(|at| &self.job.hook_runs[at].outcome);
            let (next, run) = match outcome {
                Some(HookOutcome::Started) => (HookOutcome::Interrupted, false),
                None | Some(HookOutcome::Skipped { .. }) => {
                    match self.inner.settings.hooks.get(&name) {
                        _ if !self.job.all_succeeded() => (
                            HookOutcome::Skipped {
                                why: "not every build and upload succeeded".to_string(),
                            },
                            false,
                        ),
                        None => (
                            HookOutcome::Skipped {
                                why: "it is no longer in the config".to_string(),
                            },
                            false,
                        ),
                        Some(_) => (HookOutcome::Started, true),
                    }
                }
                Some(_) => continue,
            };
            if outcome == Some(&next) {
                continue;
            }
            let at = match at {
                Some(at) => {
                    self.job.hook_runs[at].outcome = next;
                    at
                }
                None => {
                    self.job.hook_runs.push(HookRun {
                        name: name.clone(),
                        outcome: next,
                    });
                    self.job.hook_runs.len() - 1
                }
            };
            self.version += 1;
            changed = true;
            if !run {
                continue;
            }
            // On disk before it starts: a crash from here on is reported, not repeated.
            if !self.save(true).await {
                return changed;
            }
            let hook = &self.inner.settings.hooks[&name];
            tracing::info!(hook = %name, command = ?hook.command, "running a hook");
            let ended = crate::hooks::run(hook, &self.job.hook_environment()).await;
            tracing::info!(hook = %name, outcome = ?ended, "hook ended");
            self.job.hook_runs[at].outcome = ended;
            self.version += 1;
        }
        changed
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

    /// Says what is in the outbox, taking each notice out (and storing) once it is said. A
    /// failed-upload alert is claimed in the ledger first, so it is never said twice (but a
    /// crash between saying it and marking it said repeats it, rather than lose it).
    async fn announce(&mut self) {
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
                let key = failure_key(&track.url, *epoch);
                let line = say::failure_line(job, t, track);
                let message = Outgoing::new(Kind::Alert, say::upload_failed(job, t, track, *epoch))
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
                let key = unreadable_key(&track.url);
                let line = say::failure_line(job, t, track);
                let text = say::build_unreadable(job, t, track, oops_id.as_deref());
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
    async fn tell(&self, key: &str, image: &str, link: &str, line: String, message: Outgoing) {
        let alerts = &self.inner.alerts;
        if alerts.claim(key, &job_owner(self.job.id)) != Claim::New {
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

    /// The ended job's board could not be edited: its last state is what people will look at,
    /// so the edit is tried again, 1, 2, 4 ... up to 64 s apart (the chat adapter has already
    /// retried its 429s and 5xx), before the summary goes out.
    async fn final_board(&mut self) {
        let mut wait = Duration::from_secs(1);
        while wait <= Duration::from_secs(64) {
            tokio::time::sleep(wait).await;
            if self.update_board(true).await.is_none() {
                return;
            }
            wait *= 2;
        }
        tracing::error!("the ended job's board could not be edited; `status` shows the job");
    }

    /// Edits the board if its text changed and the interval allows (or `force`); returns when
    /// a held-back or failed edit is due again. A board whose message is gone is posted again,
    /// once.
    async fn update_board(&mut self, force: bool) -> Option<Instant> {
        if self.board_dropped {
            return None;
        }
        if self.board.is_none() && !self.job.builds_known() && !self.job.is_finished() {
            // The board's first message comes once the builds are known (and the unwanted
            // ones cancelled): it shows what was made, not what is being asked.
            return None;
        }
        // Rendered at most once an interval, and only after a change: a mass rebuild's
        // answers come many times an interval.
        let interval = self.inner.settings.board_interval;
        if let Some((rendered, shown)) = self.board_rendered {
            if !force && shown == self.version {
                return None;
            }
            if !force && rendered.elapsed() < interval {
                return Some(rendered + interval);
            }
        }
        let version = self.version;
        let text = say::board(&self.job, Utc::now());
        if text == self.board_text {
            self.board_rendered = Some((Instant::now(), version));
            return None;
        }
        // A running job's board carries its Cancel button; an ended one's edit removes it.
        let buttons = if self.job.is_finished() {
            Vec::new()
        } else {
            vec![Button::Cancel(self.job.id)]
        };
        let message = Outgoing::new(Kind::Board, text.clone()).with_buttons(buttons);
        self.move_board_if_old().await;
        let mut result = self.show_board(message.clone()).await;
        if result.as_ref().is_err_and(|error| error.is_gone()) && self.board.is_some() {
            // Deleted by someone: forgotten, and posted again, once.
            self.remember_board(None);
            if self.board_reposted {
                tracing::warn!("the board's message was deleted again; the job goes on without a board (`status` shows it)");
                self.board_dropped = true;
                return None;
            }
            tracing::warn!("the board's message is gone; posting the board again");
            self.board_reposted = true;
            result = self.show_board(message).await;
        }
        match result {
            Ok(()) => {
                self.board_text = text;
                self.board_rendered = Some((Instant::now(), version));
                None
            }
            Err(error) => {
                tracing::warn!(%error, "updating the board failed; will try again");
                Some(Instant::now() + interval)
            }
        }
    }
}

impl<C: Chat> Driver<C> {
    /// Edits the board's message, or sends the board as a new one.
    async fn show_board(&mut self, message: Outgoing) -> Result<(), crate::chat::ChatError> {
        match &self.board {
            Some(id) => self.inner.chat.edit(&self.job.channel, id, message).await,
            None => {
                let id = self.inner.chat.send(&self.job.channel, message).await?;
                self.remember_board(Some(id));
                Ok(())
            }
        }
    }

    /// Remembers the board's message (`None`: there is none) with when it was sent, so edits
    /// find it after a restart and it moves before the chat stops accepting edits.
    fn remember_board(&mut self, id: Option<MessageId>) {
        let mut messages = self.inner.store.messages(self.job.id).unwrap_or_default();
        messages.channel = self.job.channel.clone();
        messages.board = id.as_ref().map(|id| id.0.clone());
        messages.board_sent_at = id.as_ref().map(|_| Utc::now());
        if let Err(error) = self.inner.store.put_messages(self.job.id, &messages) {
            tracing::error!(%error, "storing the board's message id failed");
        }
        self.board = id;
    }

    /// Before the chat would refuse to edit the board's message, leaves a pointer in it and
    /// forgets it, so the next update sends the board as a new message.
    async fn move_board_if_old(&mut self) {
        let Some(max_age) = self.inner.settings.board_max_age else {
            return;
        };
        let Some(id) = self.board.clone() else {
            return;
        };
        let mut messages = self.inner.store.messages(self.job.id).unwrap_or_default();
        let age = messages
            .board_sent_at
            .map(|sent| (Utc::now() - sent).to_std().unwrap_or_default())
            .unwrap_or_default();
        if age < max_age {
            return;
        }
        let pointer = Outgoing::new(Kind::Board, say::board_moved(self.job.id));
        if let Err(error) = self.inner.chat.edit(&self.job.channel, &id, pointer).await {
            tracing::warn!(%error, "marking the old board as moved failed");
        }
        messages.board = None;
        messages.board_sent_at = None;
        if let Err(error) = self.inner.store.put_messages(self.job.id, &messages) {
            tracing::error!(%error, "storing the board's move failed");
        }
        self.board = None;
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

/// Sends a job's final summary, mentioning the requester, once.
async fn send_summary<C: Chat>(inner: &Inner<C>, job: &Job) {
    let mut messages = inner.store.messages(job.id).unwrap_or_default();
    if messages.summary_sent {
        return;
    }
    // Why builds failed, at greater length, for whoever clicks.
    let failed = job.tally().build_failed > 0;
    let message = Outgoing {
        kind: Kind::Summary,
        text: say::summary(job),
        mention: Some(job.requester.clone()),
        buttons: if failed {
            vec![Button::ShowLog(job.id)]
        } else {
            Vec::new()
        },
    };
    // The summary is what the requester waits for: a failed send is tried again, 1, 2, 4 ...
    // up to 64 s apart, and if it still fails it goes out at the next start.
    let mut wait = Duration::from_secs(1);
    loop {
        match inner.chat.send(&job.channel, message.clone()).await {
            Ok(_) => break,
            Err(error) if wait <= Duration::from_secs(64) => {
                tracing::warn!(%error, ?wait, "sending the summary failed; trying again");
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(error) => {
                tracing::error!(%error, "sending the summary failed; it goes out at the next start");
                return;
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

/// A job's Launchpad calls in flight, polled by the job's own task rather than a task each (an
/// answer then reaches the driver without a hop through the scheduler: a sixth of the engine's
/// CPU per request in the mass-rebuild bench). While the driver works on the store or the chat,
/// [`Calls::alongside`] keeps them going, so no call's slot in the client sits idle meanwhile.
/// An action already out (the same read of the same build) is not started twice. The
/// `requestBuilds` calls can be dropped ([`Calls::abort_requests`]): one still waiting for a
/// slot in the client is then never sent.
#[derive(Default)]
struct Calls {
    running: futures_util::stream::FuturesUnordered<Running>,
    out: std::collections::HashSet<ReadKey>,
    /// Answers that came while the driver was busy, for its next pass, in order.
    early: std::collections::VecDeque<Observation>,
    /// The `requestBuilds` calls out, to drop.
    requests: Vec<futures_util::future::AbortHandle>,
}

/// A call out: its answer (and its read's key), or `None` once dropped.
type Running = futures_util::future::BoxFuture<'static, Option<(Option<ReadKey>, Observation)>>;

impl Calls {
    fn is_empty(&self) -> bool {
        self.running.is_empty() && self.early.is_empty()
    }

    fn start(&mut self, call: PreparedCall, client: &crate::launchpad::Client) {
        let key = call.key();
        if key
            .as_ref()
            .is_some_and(|key| !self.out.insert(key.clone()))
        {
            return;
        }
        let client = client.clone();
        let request = call.is_request();
        let run = async move { (key, call.run(&client).await) };
        if request {
            let (run, handle) = futures_util::future::abortable(run);
            self.requests.push(handle);
            self.running.push(Box::pin(async move { run.await.ok() }));
        } else {
            self.running.push(Box::pin(async move { Some(run.await) }));
        }
    }

    /// Drops every `requestBuilds` call not answered yet: one waiting for a slot is never sent.
    fn abort_requests(&mut self) {
        for handle in self.requests.drain(..) {
            handle.abort();
        }
    }

    /// The next answer; `None` when nothing is out.
    async fn next(&mut self) -> Option<Observation> {
        if let Some(observation) = self.early.pop_front() {
            return Some(observation);
        }
        loop {
            if let Some((key, observation)) = self.running.next().await? {
                return Some(self.answered(key, observation));
            }
        }
    }

    /// An answer already in, if any.
    fn ready(&mut self) -> Option<Observation> {
        if let Some(observation) = self.early.pop_front() {
            return Some(observation);
        }
        loop {
            if let Some((key, observation)) = self.running.next().now_or_never()?? {
                return Some(self.answered(key, observation));
            }
        }
    }

    /// Does `work` (storing, saying) while the calls go on; their answers wait for the next
    /// pass.
    async fn alongside<T>(&mut self, work: impl std::future::Future<Output = T>) -> T {
        tokio::pin!(work);
        loop {
            tokio::select! {
                biased;
                done = &mut work => return done,
                Some(answer) = self.running.next(), if !self.running.is_empty() => {
                    if let Some((key, observation)) = answer {
                        let observation = self.answered(key, observation);
                        self.early.push_back(observation);
                    }
                }
            }
        }
    }

    fn answered(&mut self, key: Option<ReadKey>, observation: Observation) -> Observation {
        if let Some(key) = key {
            self.out.remove(&key);
        }
        observation
    }
}
