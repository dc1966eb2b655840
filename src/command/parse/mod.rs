//! The grammar. Words are matched case-insensitively (a reason keeps its case); every leftover
//! or unknown word is an error carrying what a message needs to say what would be right.

use super::lex::words;
use super::{Command, CommandName, JobsScope, RetryWhat, Vocabulary};
use crate::target::JobId;

mod error;
mod suggest;
mod words;
pub use error::{ParseError, Suggestion, WordKind};
use suggest::closest;
pub use words::{parse_history, parse_rebuild};

const AUTO_RETRY: &str = "--auto-retry-uploads";
const WAIT: &str = "--wait";
const DRY_RUN: &str = "--dry-run";
const SERIES: &str = "--series";
const ARCH: &str = "--arch";
const THEN: &str = "--then";
const BY: &str = "--by";
const LAST: &str = "--last";
const REASON: &str = "reason=";
const OPTIONS: [&str; 7] = [AUTO_RETRY, WAIT, DRY_RUN, SERIES, ARCH, THEN, REASON];

/// Parses one chat command (with any bot mention or prefix already stripped).
///
/// ```
/// use image_builder::command::{parse, Command, Vocabulary};
///
/// let vocabulary = Vocabulary::new(
///     vec![("20.04".parse().unwrap(), "focal".to_string())],
///     vec!["arm64".parse().unwrap()],
///     vec!["redis".parse().unwrap()],
/// );
/// let Ok(Command::Rebuild(rebuild)) = parse("rebuild redis focal arm64", &vocabulary) else {
///     panic!("a rebuild");
/// };
/// assert_eq!(rebuild.to_string(), "rebuild 20.04 arm64 redis");
/// ```
pub fn parse(text: &str, vocabulary: &Vocabulary) -> Result<Command, ParseError> {
    let words = words(text).map_err(|_| ParseError::UnclosedQuote)?;
    let Some((first, rest)) = words.split_first() else {
        return Err(ParseError::Empty);
    };
    let given = first.text.to_lowercase();
    let Ok(name) = given.parse::<CommandName>() else {
        let did_you_mean = closest(&given, CommandName::ALL.map(|name| (name, name.as_str())));
        return Err(ParseError::UnknownCommand {
            given: first.text.clone(),
            did_you_mean,
        });
    };
    let mut args = rest.iter().map(|word| word.text.as_str());
    let command = match name {
        CommandName::Rebuild => return parse_rebuild(args, vocabulary).map(Command::Rebuild),
        CommandName::Status => Command::Status {
            job: args.next().map(|word| job_id(name, word)).transpose()?,
        },
        CommandName::Jobs => Command::Jobs {
            scope: match args.next().map(str::to_lowercase).as_deref() {
                None | Some("all") => JobsScope::All,
                Some("mine") => JobsScope::Mine,
                Some(_) => {
                    return Err(ParseError::BadJobsScope {
                        given: rest[0].text.clone(),
                    })
                }
            },
        },
        CommandName::Cancel => Command::Cancel {
            job: required_job_id(name, args.next())?,
        },
        CommandName::Log => Command::Log {
            job: required_job_id(name, args.next())?,
        },
        CommandName::History => return parse_history(args, vocabulary).map(Command::History),
        CommandName::Retry => {
            let what = match args.next().map(str::to_lowercase).as_deref() {
                Some("uploads" | "upload") => RetryWhat::Uploads,
                Some("builds" | "build") => RetryWhat::Builds,
                Some("alert") => {
                    let word = args.next();
                    let alert = word.and_then(|word| word.trim_start_matches('#').parse().ok());
                    let alert = alert.ok_or_else(|| ParseError::BadAlertNumber {
                        given: word.map(str::to_string),
                    })?;
                    return finish(name, Command::RetryAlert { alert }, args);
                }
                other => {
                    return Err(ParseError::BadRetryWhat {
                        given: other.map(|_| rest[0].text.clone()),
                    })
                }
            };
            Command::Retry {
                what,
                job: required_job_id(name, args.next())?,
            }
        }
        CommandName::Confirm | CommandName::Abort => {
            let word = args.next();
            let code = word.and_then(|word| word.parse().ok());
            let code = code.ok_or_else(|| ParseError::BadConfirmCode {
                command: name,
                given: word.map(str::to_string),
            })?;
            if name == CommandName::Confirm {
                Command::Confirm { code }
            } else {
                Command::Abort { code }
            }
        }
        CommandName::Help => Command::Help {
            topic: args.next().map(help_topic).transpose()?,
        },
        CommandName::Whoami => Command::Whoami,
        CommandName::Unmute => Command::Unmute,
        CommandName::Mute => {
            match args.next().map(str::to_lowercase).as_deref() {
                Some("uploads" | "upload") => {}
                other => {
                    return Err(ParseError::BadMuteWhat {
                        given: other.map(|_| rest[0].text.clone()),
                    })
                }
            }
            let mut next = args.next();
            let image = match next.map(str::to_lowercase) {
                Some(word) if word == "all" => {
                    next = args.next();
                    None
                }
                Some(word) => match vocabulary.image(&word) {
                    Some(image) => {
                        next = args.next();
                        Some(image)
                    }
                    None if super::MuteDuration::is_spelled_like(&word) => None,
                    None => {
                        return Err(ParseError::BadMuteWhat {
                            given: next.map(str::to_string),
                        })
                    }
                },
                None => None,
            };
            let duration =
                next.and_then(|word| word.parse().ok())
                    .ok_or(ParseError::BadDuration {
                        given: next.map(str::to_string),
                    })?;
            Command::Mute { image, duration }
        }
    };
    finish(name, command, args)
}

/// `command`, if no word is left after it.
fn finish<'a>(
    name: CommandName,
    command: Command,
    mut args: impl Iterator<Item = &'a str>,
) -> Result<Command, ParseError> {
    match args.next() {
        Some(extra) => Err(ParseError::UnexpectedWord {
            command: name,
            given: extra.to_string(),
        }),
        None => Ok(command),
    }
}

fn job_id(command: CommandName, word: &str) -> Result<JobId, ParseError> {
    word.parse().map_err(|_| ParseError::BadJobId {
        command,
        given: word.to_string(),
    })
}

fn required_job_id(command: CommandName, word: Option<&str>) -> Result<JobId, ParseError> {
    job_id(command, word.ok_or(ParseError::MissingJobId { command })?)
}

fn help_topic(word: &str) -> Result<CommandName, ParseError> {
    let lower = word.to_lowercase();
    lower.parse().map_err(|_| ParseError::UnknownHelpTopic {
        given: word.to_string(),
        did_you_mean: closest(&lower, CommandName::ALL.map(|name| (name, name.as_str()))),
    })
}
