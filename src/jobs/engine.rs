//! The engine: drives every unfinished job, one task each, executing what the state machine asks
//! (Launchpad calls, concurrently, under the client's limit on requests in flight) and saying
//! what it notices. Every change of a job is stored (flushed) before the calls it causes are
//! made and before anything about it is said.
//!
//! A job's task loops: do what is due, store, call Launchpad, feed the answers back, store
//! again, announce, update the board (at most once per `board_interval`, and only if its text
//! changed), then sleep until something is due or someone asks. A failed call is an observation
//! like any other; nothing here gives up on a job but its deadline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tracing::Instrument;

use super::machine::{
    next_due, observe, Action, BuildCall, Control, Notice, Observation, Rules, Step,
};
use super::model::{Job, Phase};
use crate::chat::{Button, Chat, Kind, MessageId, Outgoing};
use crate::launchpad::{Client, Conditional};
use crate::messages::jobs as say;
use crate::store::{Store, StoreError};
use crate::target::JobId;

/// How the engine paces itself.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// The state machine's timings and budgets.
    pub rules: Rules,
    /// The least time between two edits of one board: chat services rate-limit edits.
    pub board_interval: Duration,
    /// How long a job may run before the engine gives up on it.
    pub give_up_after: Duration,
    /// How long an ended job is kept in the store (for `status`, `jobs`) before [`Engine::resume`]
    /// compacts it away.
    pub keep_finished: Duration,
    /// A channel that also gets every failed-upload alert and every summary (Discord's
    /// `alerts_channel`), besides the job's own.
    pub alerts_channel: Option<String>,
    /// How old a board message may get before the board moves to a new one (Discord refuses
    /// edits of messages older than an hour); `None` for chats without such a limit.
    pub board_max_age: Option<Duration>,
    /// Failed uploads of builds nobody asked the bot for, arriving within this time of the
    /// first, are grouped into one alert that is edited as it grows.
    pub alert_group_window: Duration,
}

impl Default for EngineSettings {
    /// Boards edited at most every 2 s; jobs given up after 12 hours (a mass rebuild on a busy
    /// Launchpad takes a few).
    fn default() -> EngineSettings {
        EngineSettings {
            rules: Rules::default(),
            board_interval: Duration::from_secs(2),
            give_up_after: Duration::from_secs(12 * 3600),
            keep_finished: Duration::from_secs(30 * 24 * 3600),
            alerts_channel: None,
            board_max_age: None,
            alert_group_window: Duration::from_secs(10 * 60),
        }
    }
}

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

enum Command {
    /// `cancel` or `retry`, with where to say how many builds it acted on.
    Control {
        control: Control,
        reply: oneshot::Sender<usize>,
    },
    /// Launchpad said this build (of this build request) changed: read them now rather than
    /// at the next poll.
    Poke {
        build_url: String,
        request_url: Option<String>,
    },
}

/// The alert that failures of builds nobody asked for are being grouped into.
struct AlertGroup {
    message: MessageId,
    started: Instant,
    lines: Vec<String>,
}

/// A mute of failed-upload alerts.
struct Mute {
    number: u64,
    image: Option<crate::target::ImageName>,
    until: chrono::DateTime<Utc>,
}

struct Inner<C> {
    group: tokio::sync::Mutex<Option<AlertGroup>>,
    /// Mutes in effect (in memory: a restart ends them, which errs on the side of alerting).
    mutes: Mutex<Vec<Mute>>,
    /// Failed uploads that were not alerted because of a mute, for `status`.
    muted: Mutex<Vec<String>>,
    client: Client,
    store: Store,
    chat: C,
    settings: EngineSettings,
    drivers: Mutex<HashMap<JobId, mpsc::UnboundedSender<Command>>>,
    running: watch::Sender<usize>,
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

impl<C: Chat> Engine<C> {
    /// An engine on this client, store and chat.
    pub fn new(client: Client, store: Store, chat: C, settings: EngineSettings) -> Engine<C> {
        Engine {
            inner: Arc::new(Inner {
                group: tokio::sync::Mutex::new(None),
                mutes: Mutex::new(Vec::new()),
                muted: Mutex::new(Vec::new()),
                client,
                store,
                chat,
                settings,
                drivers: Mutex::new(HashMap::new()),
                running: watch::channel(0).0,
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The settings.
    pub fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    /// Picks up after a restart: every unfinished job is driven again (each re-reads Launchpad
    /// before it says anything), and an ended job with something left to say (notices in its
    /// outbox, or its summary) says it. Returns how many unfinished jobs were resumed.
    pub async fn resume(&self) -> Result<usize, StoreError> {
        let keep = chrono::Duration::from_std(self.inner.settings.keep_finished)
            .unwrap_or(chrono::Duration::MAX);
        if let Some(before) = Utc::now().checked_sub_signed(keep) {
            let removed = self.inner.store.compact(before)?;
            if removed > 0 {
                tracing::info!(removed, "compacted old jobs away");
            }
        }
        let mut resumed = 0;
        for job in self.inner.store.jobs()?.into_iter().rev() {
            let unsaid = !job.outbox.is_empty() || !self.inner.store.messages(job.id)?.summary_sent;
            if job.is_finished() && !unsaid {
                continue;
            }
            if !job.is_finished() {
                resumed += 1;
                tracing::info!(job = %job.id, "resuming");
            }
            self.spawn(job, true, Step::default());
        }
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
            let drivers = self.lock_drivers();
            drivers
                .get(&id)
                .is_some_and(|driver| driver.send(Command::Control { control, reply }).is_ok())
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

    /// Launchpad's webhook says this build changed. A build of a running job is read at once
    /// (the board moves before the next poll); any other build is read, and a failed upload is
    /// alerted in the alerts channel, once, as the ledger guarantees. The payload itself is
    /// never trusted: only what Launchpad answers to the read.
    pub async fn webhook(&self, build_url: String, request_url: Option<String>) {
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
                return;
            }
        };
        if let Some(id) = job {
            let drivers = self.lock_drivers();
            if let Some(driver) = drivers.get(&id) {
                let _ = driver.send(Command::Poke {
                    build_url,
                    request_url,
                });
                return;
            }
        }
        let inner = self.inner.clone();
        tokio::spawn(async move { untracked(&inner, &build_url).await });
    }

    /// Silences failed-upload alerts of `image` (all if `None`) for `duration`; when the mute
    /// ends by itself, `channel` is told. Returns when it ends.
    pub fn mute(
        &self,
        image: Option<crate::target::ImageName>,
        duration: Duration,
        channel: String,
    ) -> chrono::DateTime<Utc> {
        let until =
            Utc::now() + chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX);
        let number = {
            let mut mutes = self.inner.mutes.lock().unwrap_or_else(|p| p.into_inner());
            let number = mutes.iter().map(|m| m.number).max().unwrap_or(0) + 1;
            mutes.push(Mute {
                number,
                image: image.clone(),
                until,
            });
            number
        };
        let inner = self.inner.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            let ended = {
                let mut mutes = inner.mutes.lock().unwrap_or_else(|p| p.into_inner());
                let before = mutes.len();
                mutes.retain(|mute| mute.number != number);
                mutes.len() < before
            };
            if ended {
                let text = say::mute_ended(image.as_ref());
                if let Err(error) = inner
                    .chat
                    .send(&channel, Outgoing::new(Kind::Alert, text))
                    .await
                {
                    tracing::warn!(%error, "announcing the end of a mute failed");
                }
            }
        });
        until
    }

    /// Schedules the upload of a build nobody asked the bot for again (its alert's button).
    /// The answer is for the clicker: `Err` when it did not happen.
    pub async fn retry_untracked_upload(&self, number: u64) -> Result<String, String> {
        let url = match self.inner.store.untracked(number) {
            Ok(Some(url)) => url,
            Ok(None) => return Err(format!("I don't know build {number}.")),
            Err(error) => {
                tracing::error!(%error, "reading the store failed");
                return Err(say::internal_error("reading the job store"));
            }
        };
        match self.inner.client.schedule_registry_upload(&url).await {
            Ok(()) => Ok(say::untracked_retrying(number)),
            Err(error) => Err(format!(
                "Launchpad did not schedule the upload of build {number}: {error}"
            )),
        }
    }

    /// Ends every mute now; returns how many there were.
    pub fn unmute(&self) -> usize {
        let mut mutes = self.inner.mutes.lock().unwrap_or_else(|p| p.into_inner());
        let count = mutes.len();
        mutes.clear();
        count
    }

    /// The failed uploads a mute kept quiet.
    pub fn muted_failures(&self) -> Vec<String> {
        self.inner
            .muted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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

    fn lock_drivers(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<JobId, mpsc::UnboundedSender<Command>>> {
        self.inner.drivers.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn spawn(&self, job: Job, resumed: bool, initial: Step) {
        let id = job.id;
        let (sender, commands) = mpsc::unbounded_channel();
        {
            let mut drivers = self.lock_drivers();
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
                Driver::new(engine.inner.clone(), job, resumed)
                    .await
                    .run(commands, initial)
                    .await;
                engine.inner.running.send_modify(|count| *count -= 1);
            }
            .instrument(span),
        );
    }
}

fn controlled_count(step: &Step) -> usize {
    step.notices
        .iter()
        .find_map(|notice| match notice {
            Notice::Controlled { count, .. } => Some(*count),
            _ => None,
        })
        .unwrap_or(0)
}

/// One job's task.
struct Driver<C> {
    inner: Arc<Inner<C>>,
    job: Job,
    board: Option<MessageId>,
    board_text: String,
    board_edited: Option<Instant>,
}

impl<C: Chat> Driver<C> {
    async fn new(inner: Arc<Inner<C>>, mut job: Job, resumed: bool) -> Driver<C> {
        let messages = inner.store.messages(job.id).unwrap_or_default();
        if resumed {
            // Re-read Launchpad for everything before saying anything.
            let now = Utc::now();
            for target in &mut job.targets {
                target.poll.due = now;
                for build in &mut target.builds {
                    build.poll.due = now;
                    // Calls of the run that stopped were answered to nobody: read instead.
                    build.calls_in_flight = 0;
                }
            }
        }
        let mut driver = Driver {
            board: messages.board.clone().map(MessageId),
            inner,
            job,
            board_text: String::new(),
            board_edited: None,
        };
        if driver.board.is_none() && !resumed {
            // The board's first message, before any Launchpad call (forced: no interval yet).
            driver.update_board(true).await;
        }
        driver
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>, initial: Step) {
        let rules = self.inner.settings.rules;
        let mut step = initial;
        loop {
            let tick = observe(&mut self.job, Observation::Tick, Utc::now(), &rules);
            step.actions.extend(tick.actions);
            step.notices.extend(tick.notices);
            self.execute(step).await;
            self.announce().await;
            let board_due = self.update_board(self.job.is_finished()).await;
            if self.job.is_finished() {
                // Leave the map, unless a command came in while the job was ending.
                let pending = {
                    let mut drivers = self.inner.drivers.lock().unwrap_or_else(|p| p.into_inner());
                    let pending = commands.try_recv().ok();
                    if pending.is_none() {
                        drivers.remove(&self.job.id);
                    }
                    pending
                };
                match pending {
                    Some(Command::Poke { .. }) => {
                        step = Step::default();
                        continue;
                    }
                    Some(Command::Control { control, reply }) => {
                        let was_finished = self.job.is_finished();
                        step = observe(
                            &mut self.job,
                            Observation::Control(control),
                            Utc::now(),
                            &rules,
                        );
                        let _ = reply.send(controlled_count(&step));
                        if was_finished && !self.job.is_finished() {
                            let mut messages =
                                self.inner.store.messages(self.job.id).unwrap_or_default();
                            messages.summary_sent = false;
                            if let Err(error) =
                                self.inner.store.put_messages(self.job.id, &messages)
                            {
                                tracing::error!(%error, "storing the messages failed");
                            }
                        }
                        continue;
                    }
                    None => {
                        send_summary(&self.inner, &self.job).await;
                        tracing::info!(status = ?self.job.status, "job ended");
                        return;
                    }
                }
            }
            let now = Utc::now();
            let due = next_due(&self.job).map(|due| (due - now).to_std().unwrap_or_default());
            let mut wake = Instant::now() + due.unwrap_or(Duration::from_secs(3600));
            if let Some(board_due) = board_due {
                wake = wake.min(board_due);
            }
            step = Step::default();
            tokio::select! {
                _ = tokio::time::sleep_until(wake) => {}
                command = commands.recv() => match command {
                    Some(Command::Control { control, reply }) => {
                        step = observe(&mut self.job, Observation::Control(control), Utc::now(), &rules);
                        let _ = reply.send(controlled_count(&step));
                    }
                    Some(Command::Poke { build_url, request_url }) => self.poke(&build_url, request_url.as_deref()),
                    None => {}
                }
            }
        }
    }

    /// Stores the job (its notices in the outbox), makes the step's calls concurrently, feeds
    /// each answer back (storing after each), and repeats with the calls those answers cause.
    async fn execute(&mut self, step: Step) {
        let rules = self.inner.settings.rules;
        let mut actions = step.actions;
        self.queue(step.notices);
        self.save();
        while !actions.is_empty() {
            let mut calls = tokio::task::JoinSet::new();
            for action in actions.drain(..) {
                let call = PreparedCall::new(&self.job, action);
                let client = self.inner.client.clone();
                calls.spawn(async move { call.run(&client).await });
            }
            while let Some(joined) = calls.join_next().await {
                let observation = match joined {
                    Ok(observation) => observation,
                    Err(error) => {
                        tracing::error!(%error, "a Launchpad call's task failed");
                        continue;
                    }
                };
                let next = observe(&mut self.job, observation, Utc::now(), &rules);
                self.queue(next.notices);
                self.save();
                actions.extend(next.actions);
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

    fn save(&self) {
        // A job that cannot be stored is still driven: Launchpad is the truth for builds, and
        // the next successful write catches up. The failure is loud in the log.
        if let Err(error) = self.inner.store.put_job(&self.job) {
            tracing::error!(%error, "storing the job failed");
        }
    }

    /// Says what is in the outbox, taking each notice out (and storing) once it is said. A
    /// failed-upload alert is claimed in the ledger first, so it is never said twice.
    async fn announce(&mut self) {
        while let Some(notice) = self.job.outbox.first().cloned() {
            self.say(&notice).await;
            self.job.outbox.remove(0);
            self.save();
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
                let track = &job.targets[*target].builds[*build];
                let key = format!("{}#{epoch}", track.url);
                let line = say::upload_failed(job, &job.targets[*target], track);
                match self.inner.store.claim_alert(&key, Utc::now()) {
                    Ok(true)
                        if muted(
                            &self.inner,
                            job.targets[*target].image.as_str(),
                            line.clone(),
                        ) =>
                    {
                        None
                    }
                    Ok(true) => alert(line)
                        .map(|message| message.with_buttons(vec![Button::RetryUploads(job.id)])),
                    Ok(false) => None,
                    Err(error) => {
                        tracing::error!(%error, "the alert ledger failed; not alerting rather than risk twice");
                        None
                    }
                }
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
            Notice::AlreadyPending { target } => {
                alert(say::already_pending(job, &job.targets[*target]))
            }
            Notice::RequestFailed { target, reason } => {
                alert(say::request_failed(job, &job.targets[*target], reason))
            }
            Notice::Controlled { .. } | Notice::Ended => None,
        };
        if let Some(message) = message {
            let failed_upload = matches!(notice, Notice::UploadFailed { .. });
            if failed_upload {
                crate::metrics::alert_sent("failed_upload");
            }
            if let Err(error) = self.inner.chat.send(&job.channel, message.clone()).await {
                tracing::warn!(%error, ?notice, "announcing failed");
            }
            if failed_upload {
                copy_to_alerts_channel(&self.inner, job, message).await;
            }
        }
    }

    /// Edits the board if its text changed and the interval allows (or `force`); returns when
    /// a held-back edit is due.
    async fn update_board(&mut self, force: bool) -> Option<Instant> {
        let text = say::board(&self.job, Utc::now());
        if text == self.board_text {
            return None;
        }
        let interval = self.inner.settings.board_interval;
        if let Some(edited) = self.board_edited {
            if !force && edited.elapsed() < interval {
                return Some(edited + interval);
            }
        }
        // A running job's board carries its Cancel button; an ended one's edit removes it.
        let buttons = if self.job.is_finished() {
            Vec::new()
        } else {
            vec![Button::Cancel(self.job.id)]
        };
        let message = Outgoing::new(Kind::Board, text.clone()).with_buttons(buttons);
        self.move_board_if_old().await;
        let result = match &self.board {
            Some(id) => self.inner.chat.edit(&self.job.channel, id, message).await,
            None => self
                .inner
                .chat
                .send(&self.job.channel, message)
                .await
                .map(|id| {
                    // Remembered with when it was sent, so edits find it after a restart and it
                    // moves before the chat stops accepting edits.
                    let mut messages = self.inner.store.messages(self.job.id).unwrap_or_default();
                    messages.channel = self.job.channel.clone();
                    messages.board = Some(id.0.clone());
                    messages.board_sent_at = Some(Utc::now());
                    if let Err(error) = self.inner.store.put_messages(self.job.id, &messages) {
                        tracing::error!(%error, "storing the board's message id failed");
                    }
                    self.board = Some(id);
                }),
        };
        match result {
            Ok(()) => {
                self.board_text = text;
                self.board_edited = Some(Instant::now());
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
    /// Makes a build of this job, or its build request, due for a read now.
    fn poke(&mut self, build_url: &str, request_url: Option<&str>) {
        let now = Utc::now();
        for target in &mut self.job.targets {
            if let Phase::Requested { request_url: mine } = &target.phase {
                if Some(mine.as_str()) == request_url {
                    target.poll.due = now;
                }
            }
            for build in &mut target.builds {
                if build.url == build_url {
                    build.poll.due = now;
                }
            }
        }
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

/// Reads a build no running job follows and alerts its failed upload, once.
async fn untracked<C: Chat>(inner: &Inner<C>, build_url: &str) {
    let build = match inner.client.build(build_url, None).await {
        Ok(Conditional::Modified(build)) => build,
        Ok(Conditional::NotModified) => return,
        Err(error) => {
            tracing::warn!(%error, build = build_url, "reading a webhook's build failed");
            return;
        }
    };
    if build.registry_upload_status != crate::launchpad::models::UploadStatus::FailedToUpload {
        return;
    }
    let Some(channel) = inner.settings.alerts_channel.clone() else {
        tracing::warn!(
            build = build_url,
            "an upload failed, but no alerts channel is configured"
        );
        return;
    };
    // One alert per build: a daily build fails once; a retried one that fails again is
    // followed by whoever retried it.
    let key = format!("{build_url}#untracked");
    match inner.store.claim_alert(&key, Utc::now()) {
        Ok(true) => {
            if muted(
                inner,
                image_of(&build.recipe_link),
                say::untracked_line(&build),
            ) {
                return;
            }
            crate::metrics::alert_sent("failed_upload_untracked");
            group_alert(inner, &channel, &build).await;
        }
        Ok(false) => {}
        Err(error) => {
            tracing::error!(%error, "the alert ledger failed; not alerting rather than risk twice")
        }
    }
}

/// Whether failed-upload alerts of `image` are muted now; if so, `line` is recorded for `status`.
fn muted<C>(inner: &Inner<C>, image: &str, line: String) -> bool {
    let now = Utc::now();
    let muted = inner
        .mutes
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .any(|mute| {
            mute.until > now
                && mute
                    .image
                    .as_ref()
                    .is_none_or(|muted| muted.as_str() == image)
        });
    if muted {
        inner
            .muted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line);
    }
    muted
}

/// The image of a recipe or build URL (`.../+oci/IMAGE/+recipe/...`).
fn image_of(url: &str) -> &str {
    url.split("/+oci/")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_default()
}

/// Says an untracked failed upload: a new alert, or a line more in the alert of failures that
/// arrived within the grouping window of the first.
async fn group_alert<C: Chat>(
    inner: &Inner<C>,
    channel: &str,
    build: &crate::launchpad::models::Build,
) {
    let window = inner.settings.alert_group_window;
    let mut group = inner.group.lock().await;
    if let Some(open) = group
        .as_mut()
        .filter(|open| open.started.elapsed() < window)
    {
        open.lines.push(say::untracked_line(build));
        let text = say::grouped_failures(&open.lines, window);
        if let Err(error) = inner
            .chat
            .edit(channel, &open.message, Outgoing::new(Kind::Alert, text))
            .await
        {
            tracing::warn!(%error, "growing the grouped alert failed");
        }
        return;
    }
    let number = build
        .self_link
        .rsplit('/')
        .next()
        .and_then(|n| n.parse::<u64>().ok());
    let mut message = Outgoing::new(Kind::Alert, say::untracked_upload_failed(build));
    if let Some(number) = number {
        if let Err(error) = inner.store.put_untracked(number, &build.self_link) {
            tracing::error!(%error, "remembering an untracked build failed");
        }
        message = message.with_buttons(vec![Button::RetryBuildUpload(number)]);
    }
    match inner.chat.send(channel, message).await {
        Ok(id) => {
            *group = Some(AlertGroup {
                message: id,
                started: Instant::now(),
                lines: vec![say::untracked_line(build)],
            })
        }
        Err(error) => tracing::warn!(%error, "alerting an untracked failed upload failed"),
    }
}

/// Sends a job's final summary, mentioning the requester, once.
async fn send_summary<C: Chat>(inner: &Inner<C>, job: &Job) {
    let mut messages = inner.store.messages(job.id).unwrap_or_default();
    if messages.summary_sent {
        return;
    }
    let message = Outgoing {
        kind: Kind::Summary,
        text: say::summary(job),
        mention: Some(job.requester.clone()),
        buttons: Vec::new(),
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

/// A Launchpad call with everything it needs copied out of the job, so it can run on its own.
struct PreparedCall {
    action: Action,
    url: String,
    etag: Option<String>,
}

impl PreparedCall {
    fn new(job: &Job, action: Action) -> PreparedCall {
        let (url, etag) = match &action {
            Action::RequestBuilds { target } => (job.targets[*target].recipe_url.clone(), None),
            Action::ReadRequest { target } => match &job.targets[*target].phase {
                Phase::Requested { request_url } | Phase::Following { request_url } => {
                    (request_url.clone(), None)
                }
                _ => (String::new(), None),
            },
            Action::ListBuilds { url, .. } => (url.clone(), None),
            Action::ReadBuild { target, build } => {
                let track = &job.targets[*target].builds[*build];
                (track.url.clone(), track.etag.clone())
            }
            Action::Call { target, build, .. } => {
                (job.targets[*target].builds[*build].url.clone(), None)
            }
        };
        PreparedCall { action, url, etag }
    }

    async fn run(self, client: &Client) -> Observation {
        let url = self.url.as_str();
        match self.action {
            Action::RequestBuilds { target } => Observation::Requested {
                target,
                result: client.request_builds(url).await,
            },
            Action::ReadRequest { target } => Observation::RequestRead {
                target,
                result: client.build_request(url).await.map(|request| {
                    (
                        request.status,
                        request.error_message,
                        request.builds_collection_link,
                    )
                }),
            },
            Action::ListBuilds { target, .. } => Observation::BuildsListed {
                target,
                result: client
                    .builds(url)
                    .await
                    .map(|builds| builds.into_iter().map(Into::into).collect()),
            },
            Action::ReadBuild { target, build } => Observation::BuildRead {
                target,
                build,
                result: client
                    .build(url, self.etag.as_deref())
                    .await
                    .map(|answer| match answer {
                        Conditional::Modified(build) => Some(build.into()),
                        Conditional::NotModified => None,
                    }),
            },
            Action::Call {
                target,
                build,
                call,
            } => Observation::BuildCall {
                target,
                build,
                call,
                result: match call {
                    BuildCall::Cancel => client.cancel(url).await,
                    BuildCall::Retry => client.retry(url).await,
                    BuildCall::ScheduleUpload { .. } => client.schedule_registry_upload(url).await,
                },
            },
        }
    }
}
