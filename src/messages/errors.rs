//! What went wrong with what someone asked: a command that does not parse (with the nearest
//! word), a plan that cannot be made, a permission not held, a confirmation that does not match.

use std::fmt::{Display, Write};

use super::help::help_hint;
use super::{list, plain_list, Front};
use crate::command::{CommandName, ConfirmCode, ParseError, WordKind};
use crate::confirm::ConfirmError;
use crate::permissions::{Denied, Permission};
use crate::plan::PlanError;

/// ` Did you mean `x`?`, or nothing.
pub(super) fn did_you_mean_text<T: Display>(suggestion: Option<&T>) -> String {
    suggestion
        .map(|word| format!(" Did you mean `{word}`?"))
        .unwrap_or_default()
}

pub(super) fn word_kind(kind: WordKind) -> &'static str {
    match kind {
        WordKind::Series => "the series",
        WordKind::Arch => "the architecture",
        WordKind::Image => "the image",
        WordKind::All => "",
        WordKind::Option => "the option",
    }
}

/// What was wrong with a command, and what would be right.
pub fn parse_error(error: &ParseError, front: Front) -> String {
    let (text, topic) = parse_problem(error);
    format!("{text} {}", help_hint(front, topic))
}

/// What is wrong, and the command whose help says what is right.
pub(super) fn parse_problem(error: &ParseError) -> (String, Option<CommandName>) {
    use ParseError as E;
    let rebuild = Some(CommandName::Rebuild);
    match error {
        E::InHistory(inner) => match inner.as_ref() {
            E::UnknownOption {
                given,
                did_you_mean,
            } => {
                let mut text = format!("`history` has no option `{given}`.");
                match did_you_mean {
                    Some(option) => {
                        let _ = write!(text, " Did you mean `{option}`?");
                    }
                    None => text.push_str(" It takes `--by USER` and `--last N`."),
                }
                (text, Some(CommandName::History))
            }
            inner => (parse_problem(inner).0, Some(CommandName::History)),
        },
        E::Empty => ("Say a command.".to_string(), None),
        E::UnclosedQuote => (
            "A quote `\"` is opened and never closed.".to_string(),
            rebuild,
        ),
        E::UnknownCommand {
            given,
            did_you_mean,
        } => {
            let mut text = format!("I don't know the command `{given}`.");
            if let Some(name) = did_you_mean {
                let _ = write!(text, " Did you mean `{name}`?");
            }
            let _ = write!(text, " Commands: {}.", list(CommandName::ALL));
            (text, None)
        }
        E::UnknownWord {
            given,
            did_you_mean: Some(suggestion),
        } => {
            let kind = word_kind(suggestion.kind);
            let space = if kind.is_empty() { "" } else { " " };
            (
                format!(
                    "I don't know `{given}`. Did you mean {kind}{space}`{}`?",
                    suggestion.word
                ),
                rebuild,
            )
        }
        E::UnknownWord {
            given,
            did_you_mean: None,
        } => (
            format!(
                "I don't know `{given}`: it is no series, architecture, image or option I know."
            ),
            rebuild,
        ),
        E::UnknownSeries {
            given,
            did_you_mean,
            known,
        } => (
            format!(
                "I don't build for the series `{given}`.{} Series: {}.",
                did_you_mean_text(did_you_mean.as_ref()),
                list(known)
            ),
            rebuild,
        ),
        E::UnknownArch {
            given,
            did_you_mean,
            known,
        } => (
            format!(
                "I don't build for the architecture `{given}`.{} Architectures: {}.",
                did_you_mean_text(did_you_mean.as_ref()),
                list(known)
            ),
            rebuild,
        ),
        E::UnknownHook { given, known } => (
            if known.is_empty() {
                format!(
                    "There is no hook `{given}`: none is configured (`[hooks.NAME]` in the config)."
                )
            } else {
                format!("There is no hook `{given}`. Hooks: {}.", list(known))
            },
            rebuild,
        ),
        E::UnknownImage {
            given,
            did_you_mean,
        } => {
            let mut text = format!("I don't know the image `{given}`.");
            if let Some(image) = did_you_mean {
                let _ = write!(text, " Did you mean `{image}`?");
            }
            (text, rebuild)
        }
        E::UnknownOption {
            given,
            did_you_mean,
        } => {
            let mut text = format!("`rebuild` has no option `{given}`.");
            if let Some(option) = did_you_mean {
                let _ = write!(text, " Did you mean `{option}`?");
            }
            (text, rebuild)
        }
        E::MissingValue { option } => (
            format!(
                "`{option}` needs a value after it, as in `{option} {}`.",
                match *option {
                    "--series" => "22.04",
                    "--by" => "alice",
                    "--last" => "5",
                    "--then" => "retag",
                    _ => "arm64",
                }
            ),
            if matches!(*option, "--by" | "--last") {
                Some(CommandName::History)
            } else {
                rebuild
            },
        ),
        E::DuplicateOption { option } => (format!("`{option}` is given twice."), rebuild),
        E::AllWithImages { image } => (
            format!("`all` already means every image; drop `all` or `{image}`."),
            rebuild,
        ),
        E::EmptyReason => (
            "`reason=` needs some words, as in `reason=\"CVE fix\"`.".to_string(),
            rebuild,
        ),
        E::NothingToBuild => (
            "Which images? Add image names, or `all` for every image.".to_string(),
            rebuild,
        ),
        E::MissingJobId { command } => (
            format!("`{command}` needs a job number, as in `{command} #42`."),
            Some(*command),
        ),
        E::BadJobId { command, given } => (
            format!("`{given}` is not a job number; job numbers look like `#42`."),
            Some(*command),
        ),
        E::BadRetryWhat { given } => {
            let start = match given {
                Some(given) => format!("I can't retry `{given}`."),
                None => "Retry what?".to_string(),
            };
            (
                format!("{start} Say `retry uploads #JOB` or `retry builds #JOB`."),
                Some(CommandName::Retry),
            )
        }
        E::BadAlertNumber { given } => {
            let start = match given {
                Some(given) => format!("`{given}` is not an alert's number."),
                None => "`retry alert` needs the alert's number.".to_string(),
            };
            (
                format!("{start} An alert's Retry button says it for you, as in `retry alert 3`."),
                Some(CommandName::Retry),
            )
        }
        E::BadConfirmCode { command, given } => {
            let start = match given {
                Some(given) => format!("`{given}` is not a confirmation code."),
                None => format!("`{command}` needs the code that came with the plan."),
            };
            (
                format!(
                    "{start} Codes are {} letters and digits, as in `{command} K7TQ2M`.",
                    ConfirmCode::LEN
                ),
                Some(*command),
            )
        }
        E::UnknownHelpTopic {
            given,
            did_you_mean,
        } => {
            let mut text = format!("There is no command `{given}`.");
            if let Some(name) = did_you_mean {
                let _ = write!(text, " Did you mean `{name}`?");
            }
            (text, None)
        }
        E::BadLast { given } => (
            format!("`--last` takes a number from 1 to 100, not `{given}`."),
            Some(CommandName::History),
        ),
        E::BadJobsScope { given } => (
            format!("`jobs` takes `mine` or `all`, not `{given}`."),
            Some(CommandName::Jobs),
        ),
        E::BadMuteWhat { given } => (
            match given {
                Some(given) if crate::command::MuteDuration::is_spelled_like(given) => format!("Mute what for {given}? Say `mute uploads all {given}`, or `mute uploads IMAGE {given}`."),
                Some(given) => format!("I can't mute `{given}`: say `mute uploads IMAGE DURATION` or `mute uploads all DURATION`."),
                None => "Mute what? Say `mute uploads IMAGE DURATION` or `mute uploads all DURATION`.".to_string(),
            },
            Some(CommandName::Mute),
        ),
        E::BadDuration { given } => (
            match given {
                Some(given) if crate::command::MuteDuration::is_spelled_like(given) => format!("A mute lasts a week at most (`7d`), not `{given}`."),
                Some(given) => format!("`{given}` is not a duration; say `45m`, `2h` or `1d` (a week at most)."),
                None => "For how long? Add a duration such as `45m`, `2h` or `1d` (a week at most).".to_string(),
            },
            Some(CommandName::Mute),
        ),
        E::UnexpectedWord { command, given } => (
            format!("`{command}` does not take `{given}`."),
            Some(*command),
        ),
    }
}

/// Why a rebuild could not be planned, and what exists instead.
pub fn plan_error(error: &PlanError, front: Front) -> String {
    let text = match error {
        PlanError::SeriesNotBuilt {
            image,
            missing,
            available,
        } => format!(
            "{image} is built for {}; not {}.",
            plain_list(available),
            plain_list(missing)
        ),
        PlanError::ArchNotBuilt {
            image,
            missing,
            available,
        } => format!(
            "{image} is built on {}; not {}.",
            plain_list(available),
            plain_list(missing)
        ),
        PlanError::NothingMatches { series, arches } => {
            let mut text = String::from("No image is built");
            if !series.is_empty() {
                let _ = write!(text, " for {}", plain_list(series));
            }
            if !arches.is_empty() {
                let _ = write!(text, " on {}", plain_list(arches));
            }
            text.push('.');
            text
        }
    };
    format!("{text} {}", help_hint(front, Some(CommandName::Rebuild)))
}

/// A refusal, naming the missing permission.
pub fn denied(denied: &Denied, command: CommandName) -> String {
    let why = match denied.missing {
        Permission::Read => "to read the bot's jobs",
        Permission::Build => "to start, retry or cancel builds",
        Permission::MassRebuild => "for a rebuild this large",
    };
    format!(
        "You may not `{command}`: it needs the `{}` permission {why}. Say `whoami` to see yours; \
         the image-builder config grants permissions.",
        denied.missing
    )
}

/// Why a `confirm` (or `abort`: `command`) did nothing.
pub fn confirm_error(error: ConfirmError, code: &ConfirmCode, command: CommandName) -> String {
    let text = match error {
        ConfirmError::Unknown => {
            format!("No plan waits for `{code}`; it may have been used already.")
        }
        ConfirmError::Expired => {
            format!("The code `{code}` has expired. Ask for the rebuild again.")
        }
        ConfirmError::NotYours => {
            format!("The plan under `{code}` is someone else's; only they can {command} it.")
        }
    };
    format!("{text} {}", help_hint(Front::Chat, Some(command)))
}
