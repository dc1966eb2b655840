//! A failed build's log: fetched from its `build_log_url` (the web host answers 303 to the
//! librarian, which serves the gzip as stored), read as it arrives, and boiled down to the
//! lines that say why the build failed.
//!
//! Never a hang and never a flood: the download is given [`LogLimits::time`] and at most
//! [`LogLimits::bytes`] on the wire (a larger `Content-Length` is refused before reading);
//! the text is inflated as it comes and only its tail ([`TAIL_LINES`] lines, each cut at
//! [`LINE_CHARS`]) and the last Dockerfile step are kept, so memory stays small whatever the
//! log's size. A log that is missing, not gzip, or corrupt gives a [`LogError`] whose words
//! are the clear line said in its place.
//!
//! The log is fetched without credentials: the bot's builds are public (an OAuth signature
//! would not reach the librarian anyway).

use std::collections::VecDeque;
use std::io::Write;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How many of the log's last lines are kept.
pub const TAIL_LINES: usize = 200;
/// How long a kept line may be, in characters.
pub const LINE_CHARS: usize = 300;
/// How many error lines the summary shows.
pub const ERROR_LINES: usize = 5;
/// How many lines the longer excerpt (`log #JOB`, the Show log button) shows.
pub const LONG_LINES: usize = 40;

/// Bounds on reading one log.
#[derive(Debug, Clone, Copy)]
pub struct LogLimits {
    /// Bytes on the wire.
    pub bytes: u64,
    /// The whole download.
    pub time: Duration,
}

impl Default for LogLimits {
    fn default() -> LogLimits {
        LogLimits {
            bytes: 16 * 1024 * 1024,
            time: Duration::from_secs(15),
        }
    }
}

/// Why a log could not be read: each says so in a line for the summary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// Larger than [`LogLimits::bytes`].
    #[error("the build log is larger than {limit_mb} MB, too large to read here")]
    TooLarge {
        /// The limit, in MB.
        limit_mb: u64,
    },
    /// 404 or 410: expired or never stored.
    #[error("the build log is not on Launchpad (HTTP {status})")]
    Missing {
        /// The status.
        status: u16,
    },
    /// Another status.
    #[error("Launchpad answered HTTP {status} for the build log")]
    Status {
        /// The status.
        status: u16,
    },
    /// The body is not gzip.
    #[error("the build log is not gzip, so it could not be read")]
    NotGzip,
    /// The gzip does not inflate.
    #[error("the build log is corrupt ({0})")]
    Corrupt(String),
    /// Not read within [`LogLimits::time`].
    #[error("the build log did not arrive within {0} s")]
    TimedOut(u64),
    /// The connection failed.
    #[error("the build log could not be fetched ({0})")]
    Unreachable(String),
}

/// What a failed build's log says, kept with the build.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogExcerpt {
    /// The log's URL.
    pub url: String,
    /// The Dockerfile step that was running last (`Step 3/6 : RUN ...`), if any.
    #[serde(default)]
    pub step: Option<String>,
    /// The lines that explain the failure, oldest first.
    #[serde(default)]
    pub errors: Vec<String>,
    /// The log's last lines (up to [`LONG_LINES`]), for the longer excerpt.
    #[serde(default)]
    pub tail: Vec<String>,
    /// Why the log could not be read, when it could not.
    #[serde(default)]
    pub problem: Option<String>,
}

impl LogExcerpt {
    /// The excerpt of a log that could not be read: its problem, said in one line.
    pub fn unreadable(url: &str, error: &LogError) -> LogExcerpt {
        LogExcerpt {
            url: url.to_string(),
            problem: Some(error.to_string()),
            ..LogExcerpt::default()
        }
    }
}

/// Fetches the log at `url` and boils it down.
pub async fn fetch(http: &reqwest::Client, url: &str, limits: LogLimits) -> LogExcerpt {
    fetch_as(http, url, limits, false).await
}

/// Fetches an upload log (`upload_log_url`, stored as plain text, or gzip like a build log)
/// and boils it down the same way.
pub async fn fetch_upload_log(http: &reqwest::Client, url: &str, limits: LogLimits) -> LogExcerpt {
    fetch_as(http, url, limits, true).await
}

async fn fetch_as(
    http: &reqwest::Client,
    url: &str,
    limits: LogLimits,
    plain_ok: bool,
) -> LogExcerpt {
    let read = tokio::time::timeout(limits.time, read(http, url, limits, plain_ok)).await;
    match read {
        Ok(Ok(tail)) => tail.excerpt(url),
        Ok(Err(error)) => LogExcerpt::unreadable(url, &error),
        Err(_) => LogExcerpt::unreadable(url, &LogError::TimedOut(limits.time.as_secs())),
    }
}

async fn read(
    http: &reqwest::Client,
    url: &str,
    limits: LogLimits,
    plain_ok: bool,
) -> Result<Tail, LogError> {
    let too_large = || LogError::TooLarge {
        limit_mb: limits.bytes / (1024 * 1024),
    };
    let unreachable =
        |error: reqwest::Error| LogError::Unreachable(error.without_url().to_string());
    let mut response = http.get(url).send().await.map_err(unreachable)?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
        return Err(LogError::Missing {
            status: status.as_u16(),
        });
    }
    if !status.is_success() {
        return Err(LogError::Status {
            status: status.as_u16(),
        });
    }
    if response
        .content_length()
        .is_some_and(|length| length > limits.bytes)
    {
        return Err(too_large());
    }
    let mut inflate = Inflate {
        plain_ok,
        ..Inflate::default()
    };
    let mut received = 0_u64;
    while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
        received += chunk.len() as u64;
        if received > limits.bytes {
            return Err(too_large());
        }
        inflate.write(&chunk)?;
    }
    inflate.finish()
}

/// Inflates gzip as it arrives into a [`Tail`]; checks the magic number first. With
/// `plain_ok`, text that is not gzip goes into the tail as it is.
#[derive(Default)]
struct Inflate {
    decoder: Option<flate2::write::MultiGzDecoder<Tail>>,
    plain: Option<Tail>,
    plain_ok: bool,
    start: Vec<u8>,
}

impl Inflate {
    fn write(&mut self, bytes: &[u8]) -> Result<(), LogError> {
        let corrupt = |error: std::io::Error| LogError::Corrupt(error.to_string());
        if let Some(decoder) = &mut self.decoder {
            return decoder.write_all(bytes).map_err(corrupt);
        }
        if let Some(plain) = &mut self.plain {
            return plain.write_all(bytes).map_err(corrupt);
        }
        self.start.extend_from_slice(bytes);
        if self.start.len() < 2 {
            return Ok(());
        }
        if self.start[..2] != [0x1f, 0x8b] {
            if !self.plain_ok {
                return Err(LogError::NotGzip);
            }
            let mut plain = Tail::default();
            plain
                .write_all(&std::mem::take(&mut self.start))
                .map_err(corrupt)?;
            self.plain = Some(plain);
            return Ok(());
        }
        let mut decoder = flate2::write::MultiGzDecoder::new(Tail::default());
        decoder
            .write_all(&std::mem::take(&mut self.start))
            .map_err(corrupt)?;
        self.decoder = Some(decoder);
        Ok(())
    }

    fn finish(mut self) -> Result<Tail, LogError> {
        if self.plain_ok && self.decoder.is_none() && self.plain.is_none() && !self.start.is_empty()
        {
            // A text shorter than the magic number.
            let mut plain = Tail::default();
            let _ = plain.write_all(&std::mem::take(&mut self.start));
            self.plain = Some(plain);
        }
        if let Some(mut plain) = self.plain {
            plain.end();
            return Ok(plain);
        }
        let Some(decoder) = self.decoder else {
            return Err(if self.start.is_empty() {
                LogError::Corrupt("empty".to_string())
            } else {
                LogError::NotGzip
            });
        };
        let mut tail = decoder
            .finish()
            .map_err(|error| LogError::Corrupt(error.to_string()))?;
        tail.end();
        Ok(tail)
    }
}

/// The end of a log, kept line by line as it is written: the last [`TAIL_LINES`] lines and
/// the last Dockerfile step seen anywhere.
#[derive(Debug, Default)]
struct Tail {
    lines: VecDeque<String>,
    step: Option<String>,
    partial: Vec<u8>,
}

impl Tail {
    fn line(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let line: String = printable(&text).chars().take(LINE_CHARS).collect();
        if is_step(&line) {
            self.step = Some(line.trim().to_string());
        }
        if self.lines.len() == TAIL_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    fn end(&mut self) {
        if !self.partial.is_empty() {
            let partial = std::mem::take(&mut self.partial);
            self.line(&partial);
        }
    }

    fn excerpt(&self, url: &str) -> LogExcerpt {
        let lines: Vec<&str> = self
            .lines
            .iter()
            .map(String::as_str)
            .filter(|line| !line.trim().is_empty())
            .collect();
        let mut errors: Vec<String> = lines
            .iter()
            .filter(|line| is_error(line))
            .map(|line| line.trim().to_string())
            .collect();
        if errors.is_empty() {
            errors = lines.iter().map(|line| line.trim().to_string()).collect();
        }
        let keep_from = errors.len().saturating_sub(ERROR_LINES);
        let tail_from = lines.len().saturating_sub(LONG_LINES);
        LogExcerpt {
            url: url.to_string(),
            step: self.step.clone(),
            errors: errors.split_off(keep_from),
            tail: lines[tail_from..]
                .iter()
                .map(|line| line.to_string())
                .collect(),
            problem: None,
        }
    }
}

impl Write for Tail {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut rest = bytes;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                self.line(&rest[..end]);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&rest[..end]);
                self.line(&line);
            }
            rest = &rest[end + 1..];
        }
        // A line without its end yet; one that never ends is cut, not kept whole.
        let room = (LINE_CHARS * 4).saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&rest[..rest.len().min(room)]);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `text` without terminal escape sequences (a build's coloured output: CSI `ESC [ … m`, OSC
/// `ESC ] … BEL`) or other control characters, which mean nothing in chat and must not reach
/// a terminal as they are; a carriage return (progress bars) keeps what was written after it.
pub fn printable(text: &str) -> String {
    let text = text
        .rsplit('\r')
        .find(|part| !part.trim().is_empty())
        .unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.next() {
                // CSI: parameters, then one final byte from @ to ~.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC: to BEL or ESC \.
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\x07' || (c == '\x1b' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A Dockerfile step as Docker's classic builder (`Step 3/6 : RUN ...`) or BuildKit
/// (`#8 [2/5] RUN ...`) prints it.
fn is_step(line: &str) -> bool {
    let line = line.trim_start();
    if let Some(rest) = line.strip_prefix("Step ") {
        return rest
            .split_once(" : ")
            .is_some_and(|(count, _)| is_fraction(count));
    }
    // `#8 [2/5] RUN ...`, or `#8 [stage 2/5] RUN ...` in a multi-stage build.
    if let Some(rest) = line.strip_prefix('#') {
        let Some((number, rest)) = rest.split_once(' ') else {
            return false;
        };
        let Some(bracket) = rest.strip_prefix('[').and_then(|r| r.split_once(']')) else {
            return false;
        };
        let count = bracket.0.rsplit(' ').next().unwrap_or_default();
        return !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit())
            && is_fraction(count);
    }
    false
}

fn is_fraction(text: &str) -> bool {
    text.split_once('/').is_some_and(|(a, b)| {
        !a.is_empty()
            && !b.is_empty()
            && a.chars().all(|c| c.is_ascii_digit())
            && b.chars().all(|c| c.is_ascii_digit())
    })
}

/// A line that says what went wrong: apt's `E:`, an `error`/`fatal` line, a command's
/// non-zero exit, a Python traceback's last words.
fn is_error(line: &str) -> bool {
    let trimmed = line.trim_start();
    let lower = trimmed.to_ascii_lowercase();
    trimmed.starts_with("E: ")
        || lower.starts_with("error")
        || lower.starts_with("fatal")
        || lower.contains(" error:")
        || lower.contains("returned a non-zero code")
        || lower.contains("non-zero exit status")
        || lower.starts_with("traceback")
        || (lower.contains("error") && lower.contains("failed to solve"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail_of(text: &str) -> Tail {
        let mut tail = Tail::default();
        tail.write_all(text.as_bytes()).unwrap();
        tail.end();
        tail
    }

    #[test]
    fn the_failed_step_and_the_error_lines_are_found() {
        let log = "Step 1/3 : FROM ubuntu:noble\n ---> 6b7d\nStep 2/3 : RUN apt-get install -y redis\nGet:1 http://x InRelease\nE: Unable to locate package redis\nThe command '/bin/sh -c apt-get install -y redis' returned a non-zero code: 100\nRevoking proxy token...\n";
        let excerpt = tail_of(log).excerpt("L");
        assert_eq!(
            excerpt.step.as_deref(),
            Some("Step 2/3 : RUN apt-get install -y redis")
        );
        assert_eq!(
            excerpt.errors,
            [
                "E: Unable to locate package redis",
                "The command '/bin/sh -c apt-get install -y redis' returned a non-zero code: 100"
            ]
        );
        assert_eq!(excerpt.tail.last().unwrap(), "Revoking proxy token...");
    }

    #[test]
    fn escape_sequences_and_control_characters_are_dropped() {
        assert_eq!(
            printable("\x1b[31mE: broken\x1b[0m \x1b]0;title\x07done\x07\u{0}"),
            "E: broken done"
        );
        assert_eq!(printable("10%\r50%\r100% done\r"), "100% done");
        assert_eq!(printable("a\tb"), "a b");
    }

    #[test]
    fn buildkit_steps_count_and_a_log_without_errors_shows_its_last_lines() {
        assert!(is_step("#8 [2/5] RUN apt-get update"));
        assert!(is_step("#12 [build 3/7] RUN make"));
        assert!(!is_step("# a comment [about] things"));
        assert!(!is_step("Step up: now"));
        let excerpt = tail_of("one\ntwo\n\nthree\nfour\nfive\nsix\nseven").excerpt("L");
        assert_eq!(excerpt.errors, ["three", "four", "five", "six", "seven"]);
        assert_eq!(excerpt.step, None);
    }

    #[test]
    fn only_the_tail_and_short_lines_are_kept_whatever_the_size() {
        let mut tail = Tail::default();
        tail.write_all(b"Step 1/2 : RUN make\n").unwrap();
        for n in 0..10_000 {
            tail.write_all(format!("line {n}\n").as_bytes()).unwrap();
        }
        tail.write_all(&vec![b'x'; 100_000]).unwrap();
        tail.end();
        assert_eq!(tail.lines.len(), TAIL_LINES);
        assert_eq!(tail.lines.back().unwrap().chars().count(), LINE_CHARS);
        assert_eq!(tail.step.as_deref(), Some("Step 1/2 : RUN make"));
    }

    #[test]
    fn gzip_is_inflated_in_pieces_and_anything_else_is_named() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(b"E: broken\n").unwrap();
        let gz = encoder.finish().unwrap();
        let mut inflate = Inflate::default();
        for byte in &gz {
            inflate.write(std::slice::from_ref(byte)).unwrap();
        }
        assert_eq!(inflate.finish().unwrap().excerpt("L").errors, ["E: broken"]);

        let mut plain = Inflate::default();
        assert_eq!(plain.write(b"E: not compressed\n"), Err(LogError::NotGzip));
        // An upload log is plain text: taken as it is.
        let mut upload_log = Inflate {
            plain_ok: true,
            ..Inflate::default()
        };
        upload_log.write(b"INFO x\nERROR files missing\n").unwrap();
        let excerpt = upload_log.finish().unwrap().excerpt("U");
        assert_eq!(excerpt.errors, ["ERROR files missing"]);

        let mut corrupt = Inflate::default();
        let mut bytes = gz[..10].to_vec();
        bytes.extend([0xff; 64]);
        let written = corrupt.write(&bytes);
        assert!(matches!(
            written.and_then(|()| corrupt.finish().map(|_| ())),
            Err(LogError::Corrupt(_))
        ),);
    }
}
