//! The console adapter: the bot in a terminal. Lines typed are commands from one configured
//! user; messages are printed, and an edit prints the board again under a marker, so a piped
//! transcript reads top to bottom. It also keeps every message it sent, which tests read.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{Chat, ChatError, Kind, MessageId, Outgoing};

/// One printed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Printed {
    /// The channel it went to.
    pub channel: String,
    /// Its id.
    pub id: MessageId,
    /// An edit of an earlier message (same id), or a new one.
    pub edit: bool,
    /// What kind.
    pub kind: Kind,
    /// The mention, if any.
    pub mention: Option<String>,
    /// The text.
    pub text: String,
    /// Its buttons (the console shows their labels).
    pub buttons: Vec<super::Button>,
}

/// The console adapter. Cheap to clone; clones print to the same place.
#[derive(Clone)]
pub struct Console {
    out: Arc<Mutex<Box<dyn Write + Send>>>,
    transcript: Arc<Mutex<Vec<Printed>>>,
    /// Whether [`Console::transcript`] keeps what is printed.
    keeps: bool,
    next_id: Arc<AtomicU64>,
    limit: usize,
    /// A board's edits in one line each (its heading and its counts), not the whole grid.
    brief_edits: bool,
}

impl Console {
    /// A console printing to `out`.
    pub fn new(out: impl Write + Send + 'static) -> Console {
        Console::with_first_id(out, 1)
    }

    /// A console whose message ids start at `first`, so that after a restart new ids do not
    /// repeat those the store remembers.
    pub fn with_first_id(out: impl Write + Send + 'static, first: u64) -> Console {
        Console {
            out: Arc::new(Mutex::new(Box::new(out))),
            transcript: Arc::new(Mutex::new(Vec::new())),
            keeps: true,
            next_id: Arc::new(AtomicU64::new(first)),
            limit: usize::MAX,
            brief_edits: false,
        }
    }

    /// The same console, printing a board's edits in one line each (its heading and counts)
    /// instead of the whole grid again: for a person at a prompt, where a board of 30 recipes
    /// printed whole at every edit would push everything else away. The board is printed
    /// whole when it is first sent, and the summary says how the job ended.
    pub fn with_brief_edits(mut self) -> Console {
        self.brief_edits = true;
        self
    }

    /// The same console, keeping no transcript: for long runs where nothing reads it (the
    /// benchmarks), whose memory it would otherwise grow with every board edit.
    pub fn forgetful(mut self) -> Console {
        self.keeps = false;
        self
    }

    /// The same console, reporting a limit on message length as a chat service would (a
    /// terminal has none); for tests of what the bot does near the limit.
    pub fn with_limit(mut self, limit: usize) -> Console {
        self.limit = limit;
        self
    }

    /// Every message printed so far, in order.
    pub fn transcript(&self) -> Vec<Printed> {
        self.transcript
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn print(&self, printed: Printed) -> Result<(), ChatError> {
        let heading = match (printed.kind, printed.edit) {
            (Kind::Board, false) => format!("── board (message {}) ──\n", printed.id.0),
            (Kind::Board, true) => format!("── board (message {}, updated) ──\n", printed.id.0),
            (Kind::Alert, _) => "── alert ──\n".to_string(),
            (Kind::Summary, _) => "── summary ──\n".to_string(),
            (Kind::Reply, _) => String::new(),
        };
        let mention = printed
            .mention
            .as_ref()
            .map(|user| format!("@{user} "))
            .unwrap_or_default();
        // A terminal has no buttons: an answer's or alert's are shown as the commands they are
        // (a board's Cancel would repeat with every edit).
        let buttons: String = match printed.kind {
            Kind::Board => String::new(),
            _ => printed
                .buttons
                .iter()
                .map(|button| format!("\n  [{}] = `{}`", button.label(), button.command()))
                .collect(),
        };
        // A brief edit is one line: its marker, then the board's heading and counts.
        let (heading, text) = if brief_edit(self, &printed) {
            (
                heading.trim_end().to_string() + " ",
                brief_board(&printed.text),
            )
        } else {
            (heading, printed.text.clone())
        };
        {
            let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
            writeln!(out, "{heading}{mention}{text}{buttons}")
                .and_then(|()| out.flush())
                .map_err(|error| ChatError::new(error.to_string()))?;
        }
        if self.keeps {
            self.transcript
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(printed);
        }
        Ok(())
    }
}

/// Whether `printed` is shown in one line by `console`.
fn brief_edit(console: &Console, printed: &Printed) -> bool {
    console.brief_edits && printed.kind == Kind::Board && printed.edit
}

/// A board in one line: its heading (job, command, state, time) and its counts, its first and
/// last lines.
fn brief_board(board: &str) -> String {
    let lines: Vec<&str> = board
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("```"))
        .collect();
    match lines.as_slice() {
        [] => String::new(),
        [only] => only.to_string(),
        [first, .., last] => format!("{first} · {last}"),
    }
}

impl Chat for Console {
    fn message_limit(&self) -> usize {
        self.limit
    }

    async fn send(&self, channel: &str, message: Outgoing) -> Result<MessageId, ChatError> {
        let id = MessageId(self.next_id.fetch_add(1, Ordering::SeqCst).to_string());
        self.print(Printed {
            channel: channel.to_string(),
            id: id.clone(),
            edit: false,
            kind: message.kind,
            mention: message.mention,
            text: message.text,
            buttons: message.buttons,
        })?;
        Ok(id)
    }

    async fn edit(
        &self,
        channel: &str,
        id: &MessageId,
        message: Outgoing,
    ) -> Result<(), ChatError> {
        self.print(Printed {
            channel: channel.to_string(),
            id: id.clone(),
            edit: true,
            kind: message.kind,
            mention: message.mention,
            text: message.text,
            buttons: message.buttons,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::brief_board;

    #[test]
    fn a_brief_board_is_its_heading_and_its_counts() {
        let board = "**Job #1** · `rebuild 20.04 arm64 redis` · running for 2m\n```\n                  arm64 \nredis 5.0 20.04     ⟳   \n```\n⟳ 1 building\n";
        assert_eq!(
            brief_board(board),
            "**Job #1** · `rebuild 20.04 arm64 redis` · running for 2m · ⟳ 1 building"
        );
        assert_eq!(brief_board("one line"), "one line");
    }
}
