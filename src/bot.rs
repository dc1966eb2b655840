//! The bot: from a chat message to an answer. Parse, check permissions, plan, ask for
//! confirmation when the plan is large, store the job, acknowledge, and hand the job to the
//! engine. A bad command gets an answer that says what was wrong and changes nothing; nothing is
//! sent to Launchpad before the job is stored.

use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;

use crate::chat::{Answer, Button, Chat, Incoming, Kind, Outgoing};
use crate::command::{parse, Command, CommandName, JobsScope, Rebuild, RetryWhat, Vocabulary};
use crate::config::Config;
use crate::confirm::Confirmations;
use crate::engine::{Engine, EngineError};
use crate::jobs::{Control, Job};
use crate::messages::{self, alerts as alerts_say, jobs as say, Front};
use crate::permissions::{self, may, Permission, User};
use crate::plan::{plan, Approval, Plan};
use crate::target::JobId;

/// How many jobs `jobs` lists.
const JOBS_LISTED: usize = 10;
/// How long the answer to `log #JOB` may be, at most (a chat may allow less).
const LOG_ANSWER_CHARS: usize = 3800;

/// The bot, for one chat.
pub struct Bot<C> {
    config: Config,
    vocabulary: Vocabulary,
    api_root: String,
    engine: Engine<C>,
    chat: C,
    confirmations: Mutex<Confirmations>,
}

impl<C: Chat + Clone> Bot<C> {
    /// A bot with this config, engine and chat. `api_root` is where the engine's client points
    /// (the config's, or a simulator's).
    pub fn new(config: Config, api_root: String, engine: Engine<C>, chat: C) -> Bot<C> {
        Bot {
            vocabulary: config.vocabulary(),
            config,
            api_root,
            engine,
            chat,
            confirmations: Mutex::new(Confirmations::default()),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine<C> {
        &self.engine
    }

    /// The catalogue's image names (for autocompletion).
    pub fn images(&self) -> &[crate::target::ImageName] {
        self.vocabulary.images()
    }

    /// Handles one message: answers in its channel, and starts the job it accepted, if any.
    /// Returns the answer's text.
    pub async fn handle(&self, incoming: Incoming) -> String {
        let answer = self.answer(&incoming).await;
        let message =
            Outgoing::new(Kind::Reply, answer.text.clone()).with_buttons(answer.buttons.clone());
        if let Err(error) = self.chat.send(&incoming.channel, message).await {
            tracing::warn!(%error, "answering failed");
        }
        let text = answer.text.clone();
        self.launch(answer);
        text
    }

    /// Starts the job an answer accepted, if any: after the answer is out, so the
    /// acknowledgement comes before the board.
    pub fn launch(&self, answer: Answer) {
        if let Some(job) = answer.start {
            self.engine.start(job);
        }
    }

    /// A button clicked by `incoming.user` (whose `text` is ignored): the command it stands
    /// for, typed by them, so one permission path checks typed text and clicks alike.
    pub async fn click(&self, incoming: &Incoming, button: &Button) -> Answer {
        let typed = Incoming {
            text: button.command(),
            ..incoming.clone()
        };
        self.answer(&typed).await
    }

    /// The answer to a message, without sending it or starting anything. A panic while
    /// answering (a bug) is caught: logged with the message's shape (never its text, which may
    /// hold anything) and answered with a short line, so one message cannot stop the bot.
    pub async fn answer(&self, incoming: &Incoming) -> Answer {
        use futures_util::FutureExt;
        match std::panic::AssertUnwindSafe(self.answer_unguarded(incoming))
            .catch_unwind()
            .await
        {
            Ok(answer) => answer,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|text| text.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(
                    user = %incoming.user.id,
                    chars = incoming.text.chars().count(),
                    words = incoming.text.split_whitespace().count(),
                    first_word = incoming.text.split_whitespace().next().unwrap_or_default().chars().take(16).collect::<String>(),
                    panic = %what,
                    "answering a command panicked"
                );
                Answer::private(messages::panicked())
            }
        }
    }

    async fn answer_unguarded(&self, incoming: &Incoming) -> Answer {
        let command = match parse(&incoming.text, &self.vocabulary) {
            Ok(command) => command,
            Err(error) => return Answer::private(messages::parse_error(&error, Front::Chat)),
        };
        let user = &incoming.user;
        if let Err(denied) = may(
            &self.config.permissions,
            user,
            permissions::required(&command),
        ) {
            tracing::info!(user = %user.id, command = %command, "denied");
            return Answer::private(messages::denied(&denied, command.name()));
        }
        match command {
            Command::Rebuild(rebuild) => self.rebuild(incoming, rebuild),
            Command::Abort { code } => {
                let dropped = self
                    .confirmations
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take(&user.id, &code, std::time::SystemTime::now());
                match dropped {
                    Ok(_) => messages::aborted(&code).into(),
                    Err(error) => {
                        Answer::private(messages::confirm_error(error, &code, CommandName::Abort))
                    }
                }
            }
            Command::RetryAlert { alert } => self
                .engine
                .alerts()
                .retry_group(alert, &incoming.channel)
                .await
                .into(),
            Command::Confirm { code } => {
                let taken = self
                    .confirmations
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take(&user.id, &code, std::time::SystemTime::now());
                match taken {
                    Ok(rebuild) => self.confirmed(incoming, rebuild),
                    Err(error) => {
                        Answer::private(messages::confirm_error(error, &code, CommandName::Confirm))
                    }
                }
            }
            Command::Status { job: Some(id) } => self.read(|store| {
                Ok(match store.job(id)? {
                    Some(job) => say::board(&job, Utc::now()),
                    None => say::no_such_job(id),
                })
            }),
            Command::Status { job: None } => self.read(|store| {
                let mut text =
                    say::job_list(&store.unfinished()?, Utc::now(), say::NOTHING_RUNNING);
                let muted = self.engine.alerts().muted_failures()?;
                if !muted.is_empty() {
                    text.push_str(&alerts_say::muted_failures(&muted));
                }
                Ok(text)
            }),
            Command::Mute { image, duration } => {
                match self
                    .engine
                    .mute(image.as_ref(), duration.as_duration(), &incoming.channel)
                {
                    Ok(until) => alerts_say::muted(image.as_ref(), duration, until).into(),
                    Err(error) => {
                        tracing::error!(%error, "storing a mute failed");
                        say::internal_error("storing the mute; nothing is muted").into()
                    }
                }
            }
            Command::Unmute => match self.engine.alerts().unmute() {
                Ok((ended, hidden)) => alerts_say::unmuted(ended, &hidden).into(),
                Err(error) => {
                    tracing::error!(%error, "ending the mutes failed");
                    say::internal_error("ending the mutes").into()
                }
            },
            Command::Jobs { scope } => self.read(|store| {
                let mut listed = 0;
                let mut jobs: Vec<Job> = store.jobs_while(|job| {
                    if scope == JobsScope::All || job.requester == user.id {
                        listed += 1;
                    }
                    listed <= JOBS_LISTED
                })?;
                jobs.retain(|job| scope == JobsScope::All || job.requester == user.id);
                Ok(say::job_list(&jobs, Utc::now(), say::NO_JOBS))
            }),
            Command::Cancel { job } => self.control(job, Control::Cancel).await,
            Command::History(query) => self.read(|store| {
                let rebuilds = crate::history::rebuilds(store.history()?, &query);
                Ok(messages::history::history(
                    &rebuilds,
                    &query,
                    self.config.engine.history_keep_days,
                    Utc::now(),
                ))
            }),
            // Long, and asked for by one person: theirs alone.
            Command::Log { job } => Answer {
                private: true,
                ..self.read(|store| {
                    Ok(match store.job(job)? {
                        Some(found) => {
                            say::logs(&found, self.chat.message_limit().min(LOG_ANSWER_CHARS))
                        }
                        None => say::no_such_job(job),
                    })
                })
            },
            Command::Retry { what, job } => {
                let control = match what {
                    RetryWhat::Uploads => Control::RetryUploads,
                    RetryWhat::Builds => Control::RetryBuilds,
                };
                self.control(job, control).await
            }
            Command::Help { topic } => Answer::private(messages::help(topic, &self.vocabulary)),
            Command::Whoami => {
                messages::whoami(user, &permissions::held(&self.config.permissions, user)).into()
            }
        }
    }

    fn read(
        &self,
        read: impl FnOnce(&crate::store::Store) -> Result<String, crate::store::StoreError>,
    ) -> Answer {
        match read(self.engine.store()) {
            Ok(text) => text.into(),
            Err(error) => {
                tracing::error!(%error, "reading the store failed");
                say::internal_error("reading the job store").into()
            }
        }
    }

    fn rebuild(&self, incoming: &Incoming, rebuild: Rebuild) -> Answer {
        let plan = match plan(&rebuild, &self.config.catalogue) {
            Ok(plan) => plan,
            Err(error) => return Answer::private(messages::plan_error(&error, Front::Chat)),
        };
        let limits = &self.config.confirmation;
        if rebuild.dry_run {
            return messages::dry_run(&plan, plan.approval(limits, false), limits).into();
        }
        let running = match self.going(&incoming.user, &plan) {
            Ok(running) => running,
            Err(answer) => return *answer,
        };
        match plan.approval_with(limits, running) {
            Approval::Proceed => self.start(incoming, &rebuild, &plan),
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
                    buttons: vec![
                        Button::Confirm(code.to_string()),
                        Button::Abort(code.to_string()),
                    ],
                    ..Answer::from(text)
                }
            }
        }
    }

    /// The builds `user` has running, or the answer if `plan` would take them over their
    /// hourly limit (or the store cannot say).
    fn going(&self, user: &User, plan: &Plan) -> Result<usize, Box<Answer>> {
        // The user's unfinished jobs and every job of the last hour: all the limits count.
        let store = self.engine.store();
        let since = Utc::now() - crate::quota::WINDOW;
        let jobs = store
            .unfinished()
            .and_then(|mut jobs| {
                let recent = store.jobs_since(since)?;
                jobs.retain(|job| job.created_at < since);
                jobs.extend(recent);
                Ok(jobs)
            })
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
    fn confirmed(&self, incoming: &Incoming, rebuild: Rebuild) -> Answer {
        let plan = match plan(&rebuild, &self.config.catalogue) {
            Ok(plan) => plan,
            Err(error) => return Answer::private(messages::plan_error(&error, Front::Chat)),
        };
        let running = match self.going(&incoming.user, &plan) {
            Ok(running) => running,
            Err(answer) => return *answer,
        };
        let approval = plan.approval_with(&self.config.confirmation, running);
        if let Some(denied) = self.mass_rebuild_denied(&incoming.user, approval) {
            return denied;
        }
        self.start(incoming, &rebuild, &plan)
    }

    /// Stores a new job (flushed) and answers; the engine starts it after the answer is sent.
    fn start(&self, incoming: &Incoming, rebuild: &Rebuild, plan: &Plan) -> Answer {
        let store = self.engine.store();
        let now = Utc::now();
        let deadline = crate::jobs::machine::later(now, self.engine.settings().give_up_after);
        let stored = store.next_job_id().and_then(|id| {
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
            store.put_job(&job).map(|()| job)
        });
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

    async fn control(&self, id: JobId, control: Control) -> Answer {
        match self.engine.control(id, control).await {
            Ok(count) => say::controlled(id, control, count).into(),
            Err(EngineError::NoSuchJob(id)) => say::no_such_job(id).into(),
            Err(error) => {
                tracing::error!(%error, job = %id, "a control failed");
                say::internal_error(&format!("job {id}")).into()
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

impl<C: Chat + Clone> crate::chat::Inbox for Bot<C> {
    fn handle(&self, incoming: Incoming) -> crate::chat::BoxFuture<'_, ()> {
        Box::pin(async move {
            Bot::handle(self, incoming).await;
        })
    }

    fn answer<'a>(&'a self, incoming: &'a Incoming) -> crate::chat::BoxFuture<'a, Answer> {
        Box::pin(Bot::answer(self, incoming))
    }

    fn click<'a>(
        &'a self,
        incoming: &'a Incoming,
        button: &'a Button,
    ) -> crate::chat::BoxFuture<'a, Answer> {
        Box::pin(Bot::click(self, incoming, button))
    }

    fn launch(&self, answer: Answer) {
        Bot::launch(self, answer);
    }

    fn images(&self) -> &[crate::target::ImageName] {
        Bot::images(self)
    }
}
