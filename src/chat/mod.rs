//! The seam between the bot and a chat service. The bot receives [`Incoming`] messages and sends
//! or edits messages through [`Chat`], which every adapter implements: the console here, Discord
//! and others later. Adapters translate; they decide nothing.

pub mod console;
pub mod discord;
pub mod slash;
pub mod terminal;

use std::future::Future;

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
    Confirm(String),
    /// Drop the large plan waiting under this code.
    Abort(String),
    /// Retry a job's failed uploads.
    RetryUploads(crate::target::JobId),
    /// Cancel a job.
    Cancel(crate::target::JobId),
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
            Button::RetryGroup(group) => format!("ib:retry-group:{group}"),
        }
    }

    /// Reads a custom id back.
    pub fn parse(custom_id: &str) -> Option<Button> {
        let (action, argument) = custom_id.strip_prefix("ib:")?.split_once(':')?;
        let job = || argument.parse().ok().map(crate::target::JobId);
        match action {
            "confirm" => Some(Button::Confirm(argument.to_string())),
            "abort" => Some(Button::Abort(argument.to_string())),
            "retry-uploads" => job().map(Button::RetryUploads),
            "cancel" => job().map(Button::Cancel),
            "retry-group" => argument.parse().ok().map(Button::RetryGroup),
            _ => None,
        }
    }

    /// The label people see.
    pub fn label(&self) -> &'static str {
        match self {
            Button::Confirm(_) => "Confirm",
            Button::Abort(_) => "Abort",
            Button::RetryUploads(_) => "Retry upload",
            Button::RetryGroup(_) => "Retry uploads",
            Button::Cancel(_) => "Cancel job",
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
        }
    }
}

/// A failed send or edit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chat: {message}")]
pub struct ChatError {
    message: String,
    gone: bool,
}

impl ChatError {
    /// A failure, saying what failed.
    pub fn new(message: impl Into<String>) -> ChatError {
        ChatError {
            message: message.into(),
            gone: false,
        }
    }

    /// The message to edit is gone (deleted by someone): editing it again cannot work.
    pub fn gone(message: impl Into<String>) -> ChatError {
        ChatError {
            message: message.into(),
            gone: true,
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
