//! Commands are data. [`parse`] turns what someone typed into a [`Command`] or a [`ParseError`]
//! that says what was wrong; it does no IO, reads no config and logs nothing: the words it knows
//! come in as a [`Vocabulary`]. Every `Command` displays as text that parses back to itself, so
//! the bot can echo a command in its canonical spelling.
//!
//! The wording of every error is `messages.rs`'s business, not this module's.

mod lex;
mod parse;

use std::fmt;
use std::str::FromStr;

use crate::target::{Arch, ImageName, JobId, Series};

pub use lex::{quote, words, UnclosedQuote, Word};
pub use parse::{parse, parse_history, parse_rebuild, ParseError, Suggestion, WordKind};

mod vocabulary;

pub use vocabulary::Vocabulary;

/// A command, as the bot understands it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Build images on Launchpad.
    Rebuild(Rebuild),
    /// Show one job, or what is running.
    Status {
        /// The job; `None` for everything unfinished.
        job: Option<JobId>,
    },
    /// List recent jobs.
    Jobs {
        /// Whose.
        scope: JobsScope,
    },
    /// What was built when: rebuilds, newest first, with their outcomes.
    History(HistoryQuery),
    /// Show why a job's builds failed: the end of each failed build's log.
    Log {
        /// The job.
        job: JobId,
    },
    /// Cancel what can still be cancelled of a job.
    Cancel {
        /// The job.
        job: JobId,
    },
    /// Retry a job's failed uploads or failed builds.
    Retry {
        /// Uploads or builds.
        what: RetryWhat,
        /// The job.
        job: JobId,
    },
    /// Retry every failed upload an alert names (its Retry button), by the alert's number.
    RetryAlert {
        /// The alert's number, as its button carries it.
        alert: u64,
    },
    /// Go ahead with a large plan.
    Confirm {
        /// The code the plan was announced with.
        code: ConfirmCode,
    },
    /// Drop a large plan waiting for `confirm`.
    Abort {
        /// The code the plan was announced with.
        code: ConfirmCode,
    },
    /// Explain the commands, or one of them.
    Help {
        /// The command asked about.
        topic: Option<CommandName>,
    },
    /// Say who the bot thinks you are and what you may do.
    Whoami,
    /// Silence failed-upload alerts for a while (they are still recorded).
    Mute {
        /// The image; `None` for all of them.
        image: Option<ImageName>,
        /// For how long.
        duration: MuteDuration,
    },
    /// End every mute now.
    Unmute,
}

/// How long a mute lasts: whole minutes, from one minute to a week. Written `45m`, `2h`, `1d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MuteDuration(u64);

impl MuteDuration {
    /// The longest mute: a forgotten one must not silence alerts for good.
    pub const MAX_MINUTES: u64 = 7 * 24 * 60;

    /// A duration of `minutes`, if it is from one minute to a week.
    pub fn minutes(minutes: u64) -> Option<MuteDuration> {
        (1..=Self::MAX_MINUTES)
            .contains(&minutes)
            .then_some(MuteDuration(minutes))
    }

    /// The length as a `Duration`.
    pub fn as_duration(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.0 * 60)
    }
}

impl FromStr for MuteDuration {
    type Err = ();

    fn from_str(text: &str) -> Result<MuteDuration, ()> {
        let text = text.to_ascii_lowercase();
        // The unit is the last character, whatever its width (`1ч` is not a byte split).
        let (at, unit) = text.char_indices().last().ok_or(())?;
        let number: u64 = text[..at].parse().map_err(|_| ())?;
        let minutes = match unit {
            'm' => number,
            'h' => number.checked_mul(60).ok_or(())?,
            'd' => number.checked_mul(24 * 60).ok_or(())?,
            _ => return Err(()),
        };
        MuteDuration::minutes(minutes).ok_or(())
    }
}

impl MuteDuration {
    /// Whether `text` is written as a duration (digits, then `m`, `h` or `d`), whether or not
    /// it is one a mute may last: `8d` is, and is refused for its length, not its spelling.
    pub fn is_spelled_like(text: &str) -> bool {
        let text = text.to_ascii_lowercase();
        match text.strip_suffix(['m', 'h', 'd']) {
            Some(digits) => !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
            None => false,
        }
    }
}

impl fmt::Display for MuteDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            m if m % (24 * 60) == 0 => write!(f, "{}d", m / (24 * 60)),
            m if m % 60 == 0 => write!(f, "{}h", m / 60),
            m => write!(f, "{m}m"),
        }
    }
}

/// What a `rebuild` asks for. The lists are sorted and without repeats; an empty list means
/// "all of them", as the catalogue defines them per image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuild {
    /// The series asked for; empty for all.
    pub series: Vec<Series>,
    /// The architectures asked for; empty for all.
    pub arches: Vec<Arch>,
    /// The images asked for.
    pub images: Images,
    /// Retry failed registry uploads on its own, with backoff.
    pub auto_retry_uploads: bool,
    /// Report the end of the job, not just its start (on the command line: block until then).
    pub wait: bool,
    /// Show the plan and build nothing.
    pub dry_run: bool,
    /// Why, for the record; shown on the status board.
    pub reason: Option<String>,
    /// The configured hooks to run once every build and upload succeeded (`--then NAME`).
    pub then: Vec<String>,
}

/// The images of a rebuild.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Images {
    /// Every image the catalogue has (for the series and arches asked for).
    All,
    /// These, sorted and without repeats; never empty.
    Named(Vec<ImageName>),
}

/// Whose jobs `jobs` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobsScope {
    /// The asker's own.
    Mine,
    /// Everybody's; the default, since the channel is a team's.
    All,
}

/// What `retry` retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryWhat {
    /// Failed registry uploads (`scheduleRegistryUpload`).
    Uploads,
    /// Failed builds (Launchpad's `retry`).
    Builds,
}

/// The commands by name; the help table is an exhaustive `match` over these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CommandName {
    /// `rebuild`
    Rebuild,
    /// `status`
    Status,
    /// `jobs`
    Jobs,
    /// `log`
    Log,
    /// `history`
    History,
    /// `cancel`
    Cancel,
    /// `retry`
    Retry,
    /// `confirm`
    Confirm,
    /// `abort`
    Abort,
    /// `help`
    Help,
    /// `whoami`
    Whoami,
    /// `mute`
    Mute,
    /// `unmute`
    Unmute,
}

impl CommandName {
    /// Every command, in the order help lists them.
    pub const ALL: [CommandName; 13] = [
        CommandName::Rebuild,
        CommandName::Status,
        CommandName::Jobs,
        CommandName::History,
        CommandName::Log,
        CommandName::Cancel,
        CommandName::Retry,
        CommandName::Confirm,
        CommandName::Abort,
        CommandName::Help,
        CommandName::Whoami,
        CommandName::Mute,
        CommandName::Unmute,
    ];

    /// The word that starts the command.
    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Rebuild => "rebuild",
            CommandName::Status => "status",
            CommandName::Jobs => "jobs",
            CommandName::Log => "log",
            CommandName::History => "history",
            CommandName::Cancel => "cancel",
            CommandName::Retry => "retry",
            CommandName::Confirm => "confirm",
            CommandName::Abort => "abort",
            CommandName::Help => "help",
            CommandName::Whoami => "whoami",
            CommandName::Mute => "mute",
            CommandName::Unmute => "unmute",
        }
    }
}

impl FromStr for CommandName {
    type Err = ();

    fn from_str(text: &str) -> Result<CommandName, ()> {
        CommandName::ALL
            .into_iter()
            .find(|name| name.as_str() == text)
            .ok_or(())
    }
}

impl fmt::Display for CommandName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Command {
    /// The command's name.
    pub fn name(&self) -> CommandName {
        match self {
            Command::Rebuild(_) => CommandName::Rebuild,
            Command::Status { .. } => CommandName::Status,
            Command::Jobs { .. } => CommandName::Jobs,
            Command::Log { .. } => CommandName::Log,
            Command::History(_) => CommandName::History,
            Command::Cancel { .. } => CommandName::Cancel,
            Command::Retry { .. } | Command::RetryAlert { .. } => CommandName::Retry,
            Command::Confirm { .. } => CommandName::Confirm,
            Command::Abort { .. } => CommandName::Abort,
            Command::Help { .. } => CommandName::Help,
            Command::Whoami => CommandName::Whoami,
            Command::Mute { .. } => CommandName::Mute,
            Command::Unmute => CommandName::Unmute,
        }
    }
}

/// A confirmation code: six characters from an alphabet without look-alikes (no `0`/`O`,
/// `1`/`I`/`L`), typed in any case, kept in upper case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfirmCode(String);

impl ConfirmCode {
    /// The characters a code is made of.
    pub const ALPHABET: &'static [u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    /// How many characters a code has.
    pub const LEN: usize = 6;

    /// The code whose characters are picked from the alphabet by `bits`, five bits each. The
    /// caller supplies the randomness, so this module stays pure.
    pub fn from_bits(mut bits: u64) -> ConfirmCode {
        let mut code = String::with_capacity(Self::LEN);
        for _ in 0..Self::LEN {
            let index = (bits % Self::ALPHABET.len() as u64) as usize;
            code.push(Self::ALPHABET[index] as char);
            bits /= Self::ALPHABET.len() as u64;
        }
        ConfirmCode(code)
    }
}

impl FromStr for ConfirmCode {
    type Err = ();

    fn from_str(text: &str) -> Result<ConfirmCode, ()> {
        let upper = text.to_ascii_uppercase();
        let valid = upper.len() == Self::LEN && upper.bytes().all(|b| Self::ALPHABET.contains(&b));
        valid.then_some(ConfirmCode(upper)).ok_or(())
    }
}

impl fmt::Display for ConfirmCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Rebuild {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rebuild")?;
        for series in &self.series {
            write!(f, " {series}")?;
        }
        for arch in &self.arches {
            write!(f, " {arch}")?;
        }
        match &self.images {
            Images::All => f.write_str(" all")?,
            Images::Named(images) => {
                for image in images {
                    write!(f, " {image}")?;
                }
            }
        }
        if self.auto_retry_uploads {
            f.write_str(" --auto-retry-uploads")?;
        }
        if self.wait {
            f.write_str(" --wait")?;
        }
        if self.dry_run {
            f.write_str(" --dry-run")?;
        }
        for hook in &self.then {
            write!(f, " --then {hook}")?;
        }
        if let Some(reason) = &self.reason {
            write!(f, " {}", quote(&format!("reason={reason}")))?;
        }
        Ok(())
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Rebuild(rebuild) => write!(f, "{rebuild}"),
            Command::Status { job: None } => f.write_str("status"),
            Command::Status { job: Some(job) } => write!(f, "status {job}"),
            Command::Jobs {
                scope: JobsScope::All,
            } => f.write_str("jobs all"),
            Command::Jobs {
                scope: JobsScope::Mine,
            } => f.write_str("jobs mine"),
            Command::Log { job } => write!(f, "log {job}"),
            Command::History(query) => {
                f.write_str("history")?;
                for image in &query.images {
                    write!(f, " {image}")?;
                }
                for series in &query.series {
                    write!(f, " {series}")?;
                }
                for arch in &query.arches {
                    write!(f, " {arch}")?;
                }
                if let Some(by) = &query.by {
                    write!(f, " --by {}", quote(by))?;
                }
                if query.last != DEFAULT_LAST {
                    write!(f, " --last {}", query.last)?;
                }
                Ok(())
            }
            Command::Cancel { job } => write!(f, "cancel {job}"),
            Command::Retry {
                what: RetryWhat::Uploads,
                job,
            } => write!(f, "retry uploads {job}"),
            Command::Retry {
                what: RetryWhat::Builds,
                job,
            } => write!(f, "retry builds {job}"),
            Command::RetryAlert { alert } => write!(f, "retry alert {alert}"),
            Command::Confirm { code } => write!(f, "confirm {code}"),
            Command::Abort { code } => write!(f, "abort {code}"),
            Command::Help { topic: None } => f.write_str("help"),
            Command::Help { topic: Some(topic) } => write!(f, "help {topic}"),
            Command::Whoami => f.write_str("whoami"),
            Command::Mute {
                image: None,
                duration,
            } => write!(f, "mute uploads all {duration}"),
            Command::Mute {
                image: Some(image),
                duration,
            } => {
                write!(f, "mute uploads {image} {duration}")
            }
            Command::Unmute => f.write_str("unmute"),
        }
    }
}

/// What `history` asks for: filters (each empty means all) and how many rebuilds to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Only these images.
    pub images: Vec<ImageName>,
    /// Only these series.
    pub series: Vec<Series>,
    /// Only these architectures.
    pub arches: Vec<Arch>,
    /// Only rebuilds this person asked for.
    pub by: Option<String>,
    /// How many rebuilds to list.
    pub last: usize,
}

/// How many rebuilds `history` lists unless told.
pub const DEFAULT_LAST: usize = 10;
/// The most it lists.
pub const MAX_LAST: usize = 100;
