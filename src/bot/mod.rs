//! The bot: from a chat message to an answer. Parse, check permissions, plan, ask for
//! confirmation when the plan is large, store the job, acknowledge, and hand the job to the
//! engine. A bad command gets an answer that says what was wrong and changes nothing; nothing is
//! sent to Launchpad before the job is stored.

use std::sync::Mutex;

use crate::chat::{Answer, Button, Chat, Incoming, Kind, Outgoing};
use crate::command::{parse, Command, Vocabulary};
use crate::config::Config;
use crate::confirm::Confirmations;
use crate::engine::Engine;
use crate::jobs::Control;
use crate::messages::{self, Front};
use crate::permissions::{self, may};

mod controls;
mod reads;
mod rebuild;

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
            // Rebuilding and its confirmation (rebuild.rs).
            Command::Rebuild(rebuild) => self.rebuild(incoming, rebuild).await,
            Command::Confirm { code } => self.confirm(incoming, &code).await,
            Command::Abort { code } => self.abort(user, &code),
            // Reading the store (reads.rs).
            Command::Status { job } => self.status(job).await,
            Command::Jobs { scope } => self.jobs(user, scope).await,
            Command::History(query) => self.history(query).await,
            Command::Log { job } => self.log(job).await,
            // Acting on jobs and alerts (controls.rs).
            Command::Cancel { job } => self.control(job, Control::Cancel).await,
            Command::Retry { what, job } => self.retry(what, job).await,
            Command::RetryAlert { alert } => self.retry_alert(alert, &incoming.channel).await,
            Command::Mute { image, duration } => self.mute(image, duration, &incoming.channel),
            Command::Unmute => self.unmute(),
            // About the bot.
            Command::Help { topic } => Answer::private(messages::help(topic, &self.vocabulary)),
            Command::Whoami => {
                messages::whoami(user, &permissions::held(&self.config.permissions, user)).into()
            }
        }
    }
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
