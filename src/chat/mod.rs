//! The seam between the bot and a chat service, in both directions. An adapter hands what people
//! say and click to an [`Inbox`] (the bot, which it knows only as that), and the bot and engine
//! send and edit messages through [`Chat`], which every adapter implements. Adapters translate;
//! they decide nothing, and neither the bot nor the engine knows which adapter it talks through.
//!
//! A new chat service is a new module here implementing [`Chat`] and feeding an [`Inbox`], and a
//! value of `[chat] service` that `image-builder run` starts it for (`cli/run.rs`).

pub mod console;
pub mod discord;
pub mod mattermost;
pub mod slash;
pub mod terminal;

use std::future::Future;
use std::pin::Pin;

use crate::command::ConfirmCode;
use crate::messages::buttons;
use crate::permissions::User;

/// A message addressed to the bot (mention or prefix already stripped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    /// Who said it, with their roles there.
    pub user: User,
    /// Where: the channel (or thread) replies go to.
    pub channel: String,
    /// The command text.
    pub text: String,
}

/// A chat message's id, as its service gives it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MessageId(pub String);

/// What kind of message it is, which an adapter may render differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An answer to a command.
    Reply,
    /// A job's status board (edited in place).
    Board,
    /// A failed upload, or another event nobody asked about.
    Alert,
    /// A job's final summary.
    Summary,
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// What kind.
    pub kind: Kind,
    /// The text (Markdown as chat renders it).
    pub text: String,
    /// A user to mention (and the only one a message may ping).
    pub mention: Option<String>,
    /// Buttons under the message, where the chat has them.
    pub buttons: Vec<Button>,
}

impl Outgoing {
    /// A message of `kind` without a mention or buttons.
    pub fn new(kind: Kind, text: impl Into<String>) -> Outgoing {
        Outgoing {
            kind,
            text: text.into(),
            mention: None,
            buttons: Vec::new(),
        }
    }

    /// The same message with these buttons.
    pub fn with_buttons(mut self, buttons: Vec<Button>) -> Outgoing {
        self.buttons = buttons;
        self
    }
}

/// A button: what a click does, which is the same as typing a command (and is checked the same
/// way). Its id carries the action and the job or code, so it works after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Button {
    /// Start the large plan waiting under this code.
    Confirm(ConfirmCode),
    /// Drop the large plan waiting under this code.
    Abort(ConfirmCode),
    /// Retry a job's failed uploads.
    RetryUploads(crate::target::JobId),
    /// Cancel a job.
    Cancel(crate::target::JobId),
    /// Show the end of a job's failed builds' logs, to the one who clicked (`log #JOB`).
    ShowLog(crate::target::JobId),
    /// Retry every failed upload of an alert about builds nobody asked the bot for, by the
    /// alert's number (`retry alert N`).
    RetryGroup(u64),
}

impl Button {
    /// The id a chat service carries back on a click: `ib:ACTION:ARGUMENT`.
    pub fn custom_id(&self) -> String {
        match self {
            Button::Confirm(code) => format!("ib:confirm:{code}"),
            Button::Abort(code) => format!("ib:abort:{code}"),
            Button::RetryUploads(job) => format!("ib:retry-uploads:{}", job.0),
            Button::Cancel(job) => format!("ib:cancel:{}", job.0),
            Button::ShowLog(job) => format!("ib:show-log:{}", job.0),
            Button::RetryGroup(group) => format!("ib:retry-group:{group}"),
        }
    }

    /// Reads a custom id back.
    pub fn parse(custom_id: &str) -> Option<Button> {
        let (action, argument) = custom_id.strip_prefix("ib:")?.split_once(':')?;
        let job = || argument.parse().ok().map(crate::target::JobId);
        match action {
            "confirm" => argument.parse().ok().map(Button::Confirm),
            "abort" => argument.parse().ok().map(Button::Abort),
            "retry-uploads" => job().map(Button::RetryUploads),
            "cancel" => job().map(Button::Cancel),
            "show-log" => job().map(Button::ShowLog),
            "retry-group" => argument.parse().ok().map(Button::RetryGroup),
            _ => None,
        }
    }

    /// How it stands out: what starts or redoes work leads, dropping a plan does not,
    /// cancelling a job warns.
    pub fn emphasis(&self) -> Emphasis {
        match self {
            Button::Confirm(_) | Button::RetryUploads(_) | Button::RetryGroup(_) => {
                Emphasis::Primary
            }
            Button::Abort(_) | Button::ShowLog(_) => Emphasis::Plain,
            Button::Cancel(_) => Emphasis::Danger,
        }
    }

    /// The label people see.
    pub fn label(&self) -> &'static str {
        match self {
            Button::Confirm(_) => buttons::CONFIRM,
            Button::Abort(_) => buttons::ABORT,
            Button::RetryUploads(_) => buttons::RETRY_UPLOAD,
            Button::RetryGroup(_) => buttons::RETRY_UPLOADS,
            Button::Cancel(_) => buttons::CANCEL_JOB,
            Button::ShowLog(_) => buttons::SHOW_LOG,
        }
    }

    /// The command a click stands for: a click is that command, typed by the one who clicked,
    /// and checked the same way.
    pub fn command(&self) -> String {
        match self {
            Button::Confirm(code) => format!("confirm {code}"),
            Button::Abort(code) => format!("abort {code}"),
            Button::RetryGroup(alert) => format!("retry alert {alert}"),
            Button::RetryUploads(job) => format!("retry uploads {job}"),
            Button::Cancel(job) => format!("cancel {job}"),
            Button::ShowLog(job) => format!("log {job}"),
        }
    }
}

/// What a chat adapter hands people's messages and clicks to: the bot, as the adapter sees it.
/// Adapters are given one (`Arc<dyn Inbox>`) and never learn what is behind it.
pub trait Inbox: Send + Sync + 'static {
    /// Handles a message addressed to the bot: answers in its channel (through the bot's own
    /// [`Chat`]) and starts the job it accepted, if any.
    fn handle(&self, incoming: Incoming) -> BoxFuture<'_, ()>;

    /// The answer to a message, for an adapter that answers in its own way (an interaction's
    /// response, a slash command's reply); nothing is sent or started: hand the answer to
    /// [`Inbox::launch`] once it is out.
    fn answer<'a>(&'a self, incoming: &'a Incoming) -> BoxFuture<'a, Answer>;

    /// A click on `button` by `incoming.user`: the command the button stands for, typed by
    /// them, checked as typed text is. Nothing is sent or started.
    fn click<'a>(&'a self, incoming: &'a Incoming, button: &'a Button) -> BoxFuture<'a, Answer>;

    /// Starts the job an answer accepted, if any.
    fn launch(&self, answer: Answer);

    /// The catalogue's image names (for autocompletion).
    fn images(&self) -> &[crate::target::ImageName];
}

/// A future an [`Inbox`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What handling a message produced: the answer, whether only the asker should see it (where
/// the chat can do that), its buttons, and a job to start once the answer is out.
#[derive(Debug)]
pub struct Answer {
    /// The text.
    pub text: String,
    /// An error, a denial or help: shown to the asker alone where the chat allows.
    pub private: bool,
    /// Buttons under the answer.
    pub buttons: Vec<Button>,
    /// The job the answer accepted, started once the answer is out ([`Inbox::launch`]).
    pub(crate) start: Option<crate::jobs::Job>,
}

impl From<String> for Answer {
    fn from(text: String) -> Answer {
        Answer {
            text,
            private: false,
            buttons: Vec::new(),
            start: None,
        }
    }
}

impl Answer {
    /// An answer for the asker alone.
    pub fn private(text: String) -> Answer {
        Answer {
            private: true,
            ..Answer::from(text)
        }
    }
}

/// `text` cut into pieces of at most `limit` characters: at line ends where it can, inside a
/// line only when the line alone is longer. Never empty: empty text is one empty piece.
pub fn split(text: &str, limit: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut current_len = 0;
    for line in text.split_inclusive('\n') {
        let len = line.chars().count();
        if current_len + len > limit && !current.is_empty() {
            pieces.push(std::mem::take(&mut current));
            current_len = 0;
        }
        if len > limit {
            let chars: Vec<char> = line.chars().collect();
            for chunk in chars.chunks(limit) {
                pieces.push(chunk.iter().collect());
            }
            continue;
        }
        current.push_str(line);
        current_len += len;
    }
    if !current.is_empty() || pieces.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// How a button stands out, which each chat draws in its own style.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emphasis {
    /// The button to press.
    Primary,
    /// A plain one.
    Plain,
    /// One that stops something.
    Danger,
}

/// A failed send or edit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chat: {message}")]
pub struct ChatError {
    message: String,
    gone: bool,
    refused: bool,
}

impl ChatError {
    /// A failure, saying what failed.
    pub fn new(message: impl Into<String>) -> ChatError {
        ChatError {
            message: message.into(),
            gone: false,
            refused: false,
        }
    }

    /// The chat refused the bot's credentials (a bad or revoked token).
    pub fn refused(message: impl Into<String>) -> ChatError {
        ChatError {
            refused: true,
            ..ChatError::new(message)
        }
    }

    /// Whether the chat refused the bot's credentials.
    pub fn is_refused(&self) -> bool {
        self.refused
    }

    /// The message to edit is gone (deleted by someone): editing it again cannot work.
    pub fn gone(message: impl Into<String>) -> ChatError {
        ChatError {
            gone: true,
            ..ChatError::new(message)
        }
    }

    /// Whether the message to edit is gone.
    pub fn is_gone(&self) -> bool {
        self.gone
    }
}

/// What every chat adapter does.
pub trait Chat: Send + Sync + 'static {
    /// The longest message text the chat shows whole, in characters. Longer text is split on
    /// send and cut on edit; a message that grows (a grouped alert) continues in a new one
    /// before it would be cut.
    fn message_limit(&self) -> usize {
        usize::MAX
    }

    /// Where its messages are read, which decides how they name commands (`retry uploads
    /// #1` in a chat, `image-builder retry uploads 1` on a terminal).
    fn front(&self) -> crate::messages::Front {
        crate::messages::Front::Chat
    }

    /// Sends a message to `channel`.
    fn send(
        &self,
        channel: &str,
        message: Outgoing,
    ) -> impl Future<Output = Result<MessageId, ChatError>> + Send;

    /// Replaces a message sent before: its text and its buttons (none if `message` has none).
    /// [`ChatError::is_gone`] says the message no longer exists.
    fn edit(
        &self,
        channel: &str,
        id: &MessageId,
        message: Outgoing,
    ) -> impl Future<Output = Result<(), ChatError>> + Send;
}
