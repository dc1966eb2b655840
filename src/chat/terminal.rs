//! The terminal: the adapter for `image-builder build` and `wait`, and how every message,
//! written once in the chats' Markdown, is shown on a terminal.
//!
//! The adapter: progress bars show the boards, so board messages are not printed; alerts are,
//! above the bars. The final table and summary are the command's own output.
//!
//! The rendering ([`Style`], [`render`], [`Rendered`]): a terminal is not a chat. Code fences
//! are dropped (what they hold is printed as is), `**bold**` loses its stars and a `code` span
//! its backticks; in [`Style::Colour`] bold is bold, code is cyan, and a board's ✓ green, its
//! ✗ red and its `!` yellow. In [`Style::Plain`] a code span is shown in single quotes, so
//! `retry with 'retry uploads #1'` still says where the command starts and ends. Colour only
//! when the stream is a terminal and `NO_COLOR` is unset or empty (no-color.org) and `TERM` is
//! not `dumb`.

use std::io::Write;

use indicatif::MultiProgress;

use super::{Chat, ChatError, Kind, MessageId, Outgoing};

/// Prints alerts above `bars`.
#[derive(Clone)]
pub struct Terminal {
    bars: MultiProgress,
    style: Style,
    /// Alerts go to standard error: standard output is a script's (`--json`).
    on_stderr: bool,
}

impl Terminal {
    /// A terminal adapter printing above these bars, to standard output.
    pub fn new(bars: MultiProgress) -> Terminal {
        Terminal {
            bars,
            style: Style::of(&std::io::stdout()),
            on_stderr: false,
        }
    }

    /// The same, printing to standard error, for a command whose standard output is JSON.
    pub fn on_stderr(bars: MultiProgress) -> Terminal {
        Terminal {
            bars,
            style: Style::of(&std::io::stderr()),
            on_stderr: true,
        }
    }
}

impl Chat for Terminal {
    fn front(&self) -> crate::messages::Front {
        crate::messages::Front::CommandLine
    }

    async fn send(&self, _channel: &str, message: Outgoing) -> Result<MessageId, ChatError> {
        match message.kind {
            Kind::Alert | Kind::Reply => {
                let text = render(&message.text, self.style);
                self.bars.suspend(|| {
                    let _ = if self.on_stderr {
                        writeln!(std::io::stderr().lock(), "{text}")
                    } else {
                        writeln!(std::io::stdout().lock(), "{text}")
                    };
                });
            }
            Kind::Board | Kind::Summary => {}
        }
        Ok(MessageId("terminal".into()))
    }

    async fn edit(
        &self,
        _channel: &str,
        _id: &MessageId,
        _message: Outgoing,
    ) -> Result<(), ChatError> {
        Ok(())
    }
}

/// How a terminal shows Markdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// No markup and no escape sequences: for pipes, files and `NO_COLOR`.
    Plain,
    /// ANSI bold and colours.
    Colour,
}

impl Style {
    /// [`Style::Colour`] for a terminal when `NO_COLOR` is unset or empty and `TERM` is not
    /// `dumb`; [`Style::Plain`] otherwise.
    pub fn of(stream: &impl std::io::IsTerminal) -> Style {
        let no_colour = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|term| term == "dumb");
        if stream.is_terminal() && !no_colour && !dumb {
            Style::Colour
        } else {
            Style::Plain
        }
    }
}

const BOLD: &str = "\x1b[1m";
const NOT_BOLD: &str = "\x1b[22m";
const CYAN: &str = "\x1b[36m";
const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const DEFAULT_COLOUR: &str = "\x1b[39m";

/// `markdown` as a terminal shows it in `style`.
pub fn render(markdown: &str, style: Style) -> String {
    let mut lines = Lines::new(style);
    let mut text = String::with_capacity(markdown.len());
    for line in markdown.split_inclusive('\n') {
        lines.render(line, &mut text);
    }
    text
}

/// The renderer's state from one line to the next: whether it is inside a code fence.
#[derive(Debug)]
struct Lines {
    style: Style,
    in_fence: bool,
}

impl Lines {
    fn new(style: Style) -> Lines {
        Lines {
            style,
            in_fence: false,
        }
    }

    /// Appends `line` (with its `\n`, if it has one) as shown, or nothing for a fence. What
    /// the message says never reaches the terminal as escape sequences or control characters
    /// (a build log's or Launchpad's text could hold them): only the colours added here do.
    fn render(&mut self, line: &str, out: &mut String) {
        if line.trim_start().starts_with("```") {
            self.in_fence = !self.in_fence;
            return;
        }
        let (content, end) = match line.strip_suffix('\n') {
            Some(content) => (content, "\n"),
            None => (line, ""),
        };
        let content = crate::launchpad::buildlog::printable(content);
        if self.in_fence {
            self.fenced(&content, out);
        } else {
            self.inline(&content, out);
        }
        out.push_str(end);
    }

    /// A line of a fence: as it is, with a board's symbols coloured.
    fn fenced(&self, line: &str, out: &mut String) {
        if self.style == Style::Plain {
            out.push_str(line);
            return;
        }
        let mut previous = ' ';
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            let alone = previous == ' ' && chars.peek().is_none_or(|next| next.is_whitespace());
            let colour = match c {
                '✓' => Some(GREEN),
                '✗' => Some(RED),
                '!' if alone => Some(YELLOW),
                _ => None,
            };
            match colour {
                Some(colour) => {
                    out.push_str(colour);
                    out.push(c);
                    out.push_str(DEFAULT_COLOUR);
                }
                None => out.push(c),
            }
            previous = c;
        }
    }

    /// A line of prose: `**bold**` and `code` spans, each only when it closes on the line.
    fn inline(&self, line: &str, out: &mut String) {
        let colour = self.style == Style::Colour;
        let mut rest = line;
        let mut bold = false;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("**") {
                if bold || after.contains("**") {
                    bold = !bold;
                    if colour {
                        out.push_str(if bold { BOLD } else { NOT_BOLD });
                    }
                    rest = after;
                    continue;
                }
            }
            if let Some(after) = rest.strip_prefix('`') {
                if let Some(end) = after.find('`') {
                    let (open, close) = match self.style {
                        Style::Colour => (CYAN, DEFAULT_COLOUR),
                        Style::Plain => ("'", "'"),
                    };
                    out.push_str(open);
                    out.push_str(&after[..end]);
                    out.push_str(close);
                    rest = &after[end + 1..];
                    continue;
                }
            }
            let c = rest.chars().next().expect("rest is not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
}

/// A writer that shows the Markdown written to it as [`render`] does, line by line; a line
/// not yet ended is rendered when flushed.
pub struct Rendered<W: Write> {
    inner: W,
    lines: Lines,
    pending: Vec<u8>,
}

impl<W: Write> Rendered<W> {
    /// Renders in `style` into `inner`.
    pub fn new(inner: W, style: Style) -> Rendered<W> {
        Rendered {
            inner,
            lines: Lines::new(style),
            pending: Vec::new(),
        }
    }

    fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        let mut text = String::new();
        self.lines.render(&String::from_utf8_lossy(line), &mut text);
        self.inner.write_all(text.as_bytes())
    }
}

impl<W: Write> Write for Rendered<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.write_line(&line)?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.write_line(&line)?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for Rendered<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOARD: &str = "**Job #1** · `rebuild 20.04 arm64 redis` · finished took 1s\n```\n                  arm64 \nredis 5.0 20.04     ✓   \n```\n✓ 1 done\n";

    #[test]
    fn plain_text_has_no_markdown() {
        assert_eq!(
            render(BOARD, Style::Plain),
            "Job #1 · 'rebuild 20.04 arm64 redis' · finished took 1s\n                  arm64 \nredis 5.0 20.04     ✓   \n✓ 1 done\n"
        );
    }

    #[test]
    fn colour_marks_bold_code_and_outcomes() {
        let text = render(BOARD, Style::Colour);
        assert!(
            text.starts_with("\x1b[1mJob #1\x1b[22m · \x1b[36mrebuild 20.04 arm64 redis\x1b[39m"),
            "{text:?}"
        );
        assert!(text.contains("\x1b[32m✓\x1b[39m   \n"), "{text:?}");
        assert!(!text.contains('`') && !text.contains("**"), "{text:?}");
    }

    #[test]
    fn text_never_reaches_the_terminal_as_escape_sequences() {
        let hostile = "E: \x1b]0;pwned\x07\x1b[2Jgone\u{7}\n```\n\x1b[31m✗\n```\n";
        for style in [Style::Plain, Style::Colour] {
            let text = render(hostile, style);
            assert!(!text.contains("pwned") && !text.contains("[2J"), "{text:?}");
        }
        assert_eq!(render(hostile, Style::Plain), "E: gone\n✗\n");
    }

    #[test]
    fn unclosed_markers_and_fenced_text_are_left_alone() {
        assert_eq!(
            render(
                "2 ** 3 and a lone ` here\n```\n**not bold** `x`\n```\n",
                Style::Plain
            ),
            "2 ** 3 and a lone ` here\n**not bold** `x`\n"
        );
    }

    #[test]
    fn the_writer_renders_whole_lines_whatever_the_writes() {
        let mut out = Vec::new();
        {
            let mut rendered = Rendered::new(&mut out, Style::Plain);
            for piece in ["**Jo", "b** `a`\n``", "`\nx  ✓\n`", "``\nend `b`"] {
                rendered.write_all(piece.as_bytes()).unwrap();
            }
        }
        assert_eq!(String::from_utf8(out).unwrap(), "Job 'a'\nx  ✓\nend 'b'");
    }
}
