//! The sandbox's prompt on a terminal: a line editor with history (rustyline: arrows, Ctrl-R,
//! Ctrl-A/E, ...), read on a thread of its own, with everything the bot says printed above the
//! prompt rather than through it. Piped input has no prompt: the sandbox reads it as lines.

use std::io::Write;
use std::sync::{Arc, Mutex};

use rustyline::error::ReadlineError;
use rustyline::ExternalPrinter;
use tokio::sync::mpsc;

/// What the person at the prompt did.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// Typed a line and pressed Enter.
    Text(String),
    /// Pressed Ctrl-C.
    Interrupted,
    /// Pressed Ctrl-D on an empty line (or the terminal went away).
    End,
}

/// Lines typed at the prompt.
pub struct Prompt {
    lines: mpsc::Receiver<Line>,
}

impl Prompt {
    /// The next thing typed.
    pub async fn next(&mut self) -> Line {
        self.lines.recv().await.unwrap_or(Line::End)
    }
}

/// Starts the line editor with `prompt` on a thread; returns its lines and a writer that prints
/// above it.
pub fn start(prompt: String) -> rustyline::Result<(Prompt, Above)> {
    let mut editor = rustyline::DefaultEditor::new()?;
    let printer: Box<dyn ExternalPrinter + Send> = Box::new(editor.create_external_printer()?);
    let (sender, lines) = mpsc::channel(16);
    std::thread::Builder::new()
        .name("prompt".to_string())
        .spawn(move || loop {
            let line = match editor.readline(&prompt) {
                Ok(line) => {
                    if !line.trim().is_empty() {
                        let _ = editor.add_history_entry(line.as_str());
                    }
                    Line::Text(line)
                }
                Err(ReadlineError::Interrupted) => Line::Interrupted,
                Err(ReadlineError::Eof) => Line::End,
                Err(error) => {
                    tracing::warn!(%error, "reading the prompt failed");
                    Line::End
                }
            };
            let last = line == Line::End;
            if sender.blocking_send(line).is_err() || last {
                break;
            }
        })
        .map_err(ReadlineError::Io)?;
    Ok((
        Prompt { lines },
        Above {
            printer: Arc::new(Mutex::new(printer)),
            pending: Vec::new(),
        },
    ))
}

/// A writer whose whole lines are printed above the prompt. Cheap to clone; each clone keeps
/// its own unfinished line.
pub struct Above {
    printer: Arc<Mutex<Box<dyn ExternalPrinter + Send>>>,
    pending: Vec<u8>,
}

impl Clone for Above {
    fn clone(&self) -> Above {
        Above {
            printer: self.printer.clone(),
            pending: Vec::new(),
        }
    }
}

impl Above {
    fn print(&mut self, text: String) -> std::io::Result<()> {
        self.printer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .print(text)
            .map_err(|error| std::io::Error::other(error.to_string()))
    }
}

impl Write for Above {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        if let Some(end) = self.pending.iter().rposition(|&b| b == b'\n') {
            let lines: Vec<u8> = self.pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&lines[..lines.len() - 1]).into_owned();
            self.print(text)?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let text = String::from_utf8_lossy(&std::mem::take(&mut self.pending)).into_owned();
            self.print(text)?;
        }
        Ok(())
    }
}
