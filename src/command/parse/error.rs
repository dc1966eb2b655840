//! What is wrong with a command, precisely enough for messages to say it and suggest the fix.

use crate::command::CommandName;
use crate::target::{Arch, ImageName, Series};

/// Why a text is not a command. Worded in `messages.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing was said (or only code blocks and quotes).
    Empty,
    /// A `"` was opened and never closed.
    UnclosedQuote,
    /// The first word is no command.
    UnknownCommand {
        /// The word.
        given: String,
        /// The closest command, if one is close.
        did_you_mean: Option<CommandName>,
    },
    /// A `rebuild` word that is no series, architecture, image or option.
    UnknownWord {
        /// The word.
        given: String,
        /// The closest known word, if one is close.
        did_you_mean: Option<Suggestion>,
    },
    /// A word shaped like a series (`20.10`), or the value of `--series`, that the catalogue lacks.
    UnknownSeries {
        /// The word.
        given: String,
        /// The closest series number or code name, if one is close.
        did_you_mean: Option<String>,
        /// The series there are.
        known: Vec<Series>,
    },
    /// The value of `--then` is no configured hook.
    UnknownHook {
        /// The word.
        given: String,
        /// The hooks there are.
        known: Vec<String>,
    },
    /// The value of `--arch` is no known architecture.
    UnknownArch {
        /// The word.
        given: String,
        /// The closest architecture, if one is close.
        did_you_mean: Option<Arch>,
        /// The architectures there are.
        known: Vec<Arch>,
    },
    /// A word after `--` is no known image.
    UnknownImage {
        /// The word.
        given: String,
        /// The closest image, if one is close.
        did_you_mean: Option<ImageName>,
    },
    /// An option that `rebuild` does not have.
    UnknownOption {
        /// The word.
        given: String,
        /// The closest option, if one is close.
        did_you_mean: Option<&'static str>,
    },
    /// `--series` or `--arch` came last, with no value.
    MissingValue {
        /// The option.
        option: &'static str,
    },
    /// The same option twice (`--wait --wait`, two reasons).
    DuplicateOption {
        /// The option.
        option: &'static str,
    },
    /// `all` together with image names.
    AllWithImages {
        /// The first image named.
        image: ImageName,
    },
    /// `reason=` with nothing after it.
    EmptyReason,
    /// A `rebuild` with no image and no `all`.
    NothingToBuild,
    /// A command that needs a job number got none.
    MissingJobId {
        /// The command.
        command: CommandName,
    },
    /// A job number that is not one.
    BadJobId {
        /// The command.
        command: CommandName,
        /// The word.
        given: String,
    },
    /// `retry` without `uploads`, `builds` or `alert` (`given` is what stood there instead,
    /// if anything).
    BadRetryWhat {
        /// The word, if any.
        given: Option<String>,
    },
    /// `retry alert` without an alert's number.
    BadAlertNumber {
        /// The word, if any.
        given: Option<String>,
    },
    /// `confirm` or `abort` without a well-formed code.
    BadConfirmCode {
        /// `confirm` or `abort`.
        command: CommandName,
        /// The word, if any.
        given: Option<String>,
    },
    /// `help` about something that is no command.
    UnknownHelpTopic {
        /// The word.
        given: String,
        /// The closest command, if one is close.
        did_you_mean: Option<CommandName>,
    },
    /// A word of `history` that a `rebuild` would refuse too (an unknown image, series,
    /// architecture or option): said the same way, pointing to `help history`.
    InHistory(Box<ParseError>),
    /// `history --last` with something other than a number from 1 to 100.
    BadLast {
        /// The word.
        given: String,
    },
    /// `jobs` with something other than `mine` or `all`.
    BadJobsScope {
        /// The word.
        given: String,
    },
    /// `mute` without `uploads`, or with a word that is no image.
    BadMuteWhat {
        /// The word, if any.
        given: Option<String>,
    },
    /// `mute` without a well-formed duration.
    BadDuration {
        /// The word, if any.
        given: Option<String>,
    },
    /// A word the command does not take.
    UnexpectedWord {
        /// The command.
        command: CommandName,
        /// The first word too many.
        given: String,
    },
}

/// What kind of word a suggestion is, so the message can say "the architecture `arm64`".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordKind {
    /// A series number or code name.
    Series,
    /// An architecture.
    Arch,
    /// An image.
    Image,
    /// The word `all`.
    All,
    /// An option such as `--wait`.
    Option,
}

/// A known word close to an unknown one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// What it is.
    pub kind: WordKind,
    /// The word.
    pub word: String,
}
