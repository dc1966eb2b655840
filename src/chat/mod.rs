//! The seam between the bot and a chat service. The bot receives [`Incoming`] messages and sends
//! or edits messages through [`Chat`], which every adapter implements: the console here, Discord
//! and others later. Adapters translate; they decide nothing.

pub mod console;
pub mod discord;
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
}

impl Outgoing {
    /// A message of `kind` without a mention.
    pub fn new(kind: Kind, text: impl Into<String>) -> Outgoing {
        Outgoing {
            kind,
            text: text.into(),
            mention: None,
        }
    }
}

/// A failed send or edit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chat: {0}")]
pub struct ChatError(pub String);

/// What every chat adapter does.
pub trait Chat: Send + Sync + 'static {
    /// Sends a message to `channel`.
    fn send(
        &self,
        channel: &str,
        message: Outgoing,
    ) -> impl Future<Output = Result<MessageId, ChatError>> + Send;

    /// Replaces the text of a message sent before.
    fn edit(
        &self,
        channel: &str,
        id: &MessageId,
        message: Outgoing,
    ) -> impl Future<Output = Result<(), ChatError>> + Send;
}
