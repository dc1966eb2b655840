//! The job's board: one message, rendered from the job, edited in place at most every
//! `board_interval` and only when its text changed; posted again (once) if a moderator
//! deleted it, moved to a new message before the chat stops accepting edits.

use chrono::Utc;
use tokio::time::Instant;

use super::Driver;
use crate::chat::{Button, Chat, Kind, MessageId, Outgoing};
use crate::messages::jobs as say;

/// A job's board as the driver keeps it: which message it is, and what it last showed.
#[derive(Debug, Default)]
pub(super) struct Board {
    /// Its message, once posted.
    message: Option<MessageId>,
    /// The text it shows.
    text: String,
    /// When it was last rendered, and the [`Driver::version`] it showed.
    rendered: Option<(Instant, u64)>,
    /// Its message was deleted (by a moderator) and posted again; once more, and the job goes
    /// on without a board rather than posting it in a loop.
    reposted: bool,
    /// No board any more: deleted twice.
    dropped: bool,
}

impl Board {
    /// The board whose message is `message` (from the store), if it was posted.
    pub(super) fn at(message: Option<MessageId>) -> Board {
        Board {
            message,
            ..Board::default()
        }
    }
}

impl<C: Chat> Driver<C> {
    /// The ended job's board could not be edited: its last state is what people will look at,
    /// so the edit is tried again, 1, 2, 4 ... up to 64 s apart (the chat adapter has already
    /// retried its 429s and 5xx), before the summary goes out.
    pub(super) async fn final_board(&mut self) {
        let mut backoff = super::LAST_WORDS;
        while let Some(wait) = backoff.next_wait() {
            tokio::time::sleep(wait).await;
            if self.update_board(true).await.is_none() {
                return;
            }
        }
        tracing::error!("the ended job's board could not be edited; `status` shows the job");
    }

    /// Edits the board if its text changed and the interval allows (or `force`); returns when
    /// a held-back or failed edit is due again. A board whose message is gone is posted again,
    /// once.
    pub(super) async fn update_board(&mut self, force: bool) -> Option<Instant> {
        if self.board.dropped {
            return None;
        }
        if self.board.message.is_none() && !self.job.builds_known() && !self.job.is_finished() {
            // The board's first message comes once the builds are known (and the unwanted
            // ones cancelled): it shows what was made, not what is being asked.
            return None;
        }
        // Rendered at most once an interval, and only after a change: a mass rebuild's
        // answers come many times an interval.
        let interval = self.inner.settings.board_interval;
        if let Some((rendered, shown)) = self.board.rendered {
            if !force && shown == self.version {
                return None;
            }
            if !force && rendered.elapsed() < interval {
                return Some(rendered + interval);
            }
        }
        let version = self.version;
        let text = say::board(&self.job, Utc::now());
        if text == self.board.text {
            self.board.rendered = Some((Instant::now(), version));
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
        if result.as_ref().is_err_and(|error| error.is_gone()) && self.board.message.is_some() {
            // Deleted by someone: forgotten, and posted again, once.
            self.remember_board(None);
            if self.board.reposted {
                tracing::warn!("the board's message was deleted again; the job goes on without a board (`status` shows it)");
                self.board.dropped = true;
                return None;
            }
            tracing::warn!("the board's message is gone; posting the board again");
            self.board.reposted = true;
            result = self.show_board(message).await;
        }
        match result {
            Ok(()) => {
                self.board.text = text;
                self.board.rendered = Some((Instant::now(), version));
                None
            }
            Err(error) => {
                tracing::warn!(%error, "updating the board failed; will try again");
                Some(Instant::now() + interval)
            }
        }
    }

    /// Edits the board's message, or sends the board as a new one.
    async fn show_board(&mut self, message: Outgoing) -> Result<(), crate::chat::ChatError> {
        match &self.board.message {
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
        self.board.message = id;
    }

    /// Before the chat would refuse to edit the board's message, leaves a pointer in it and
    /// forgets it, so the next update sends the board as a new message.
    async fn move_board_if_old(&mut self) {
        let Some(max_age) = self.inner.settings.board_max_age else {
            return;
        };
        let Some(id) = self.board.message.clone() else {
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
        self.board.message = None;
    }
}
