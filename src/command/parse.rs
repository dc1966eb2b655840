//! The grammar. Words are matched case-insensitively (a reason keeps its case); every leftover
//! or unknown word is an error carrying what a message needs to say what would be right.

use std::collections::BTreeSet;

use super::lex::words;
use super::{Command, CommandName, Images, JobsScope, Rebuild, RetryWhat, Vocabulary};
use crate::target::{Arch, ImageName, JobId, Series};

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
                    None if word.parse::<super::MuteDuration>().is_ok() => None,
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

/// What a rebuild has collected so far.
#[derive(Default)]
struct RebuildWords {
    series: BTreeSet<Series>,
    arches: BTreeSet<Arch>,
    images: BTreeSet<ImageName>,
    all: bool,
    auto_retry_uploads: bool,
    wait: bool,
    dry_run: bool,
    reason: Option<String>,
    then: Vec<String>,
}

/// Parses the words after `history`: images, series and architectures in any order (each a
/// filter; `all` or nothing means every one), `--by USER`, `--last N`. The command line's
/// `history` subcommand hands its arguments here too.
pub fn parse_history<'a>(
    words: impl IntoIterator<Item = &'a str>,
    vocabulary: &Vocabulary,
) -> Result<super::HistoryQuery, ParseError> {
    let mut query = super::HistoryQuery {
        images: Vec::new(),
        series: Vec::new(),
        arches: Vec::new(),
        by: None,
        last: super::DEFAULT_LAST,
    };
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        let lower = word.to_lowercase();
        let (option, inline) = match lower.split_once('=') {
            Some((option, _)) if option.starts_with("--") => (
                option.to_string(),
                Some(word[option.len() + 1..].to_string()),
            ),
            _ => (lower.clone(), None),
        };
        match option.as_str() {
            BY => {
                let value = inline
                    .or_else(|| words.next().map(str::to_string))
                    .filter(|value| !value.is_empty())
                    .ok_or(ParseError::MissingValue { option: BY })?;
                query.by = Some(value.trim_start_matches('@').to_string());
            }
            LAST => {
                let value = inline
                    .or_else(|| words.next().map(str::to_string))
                    .ok_or(ParseError::MissingValue { option: LAST })?;
                query.last = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=super::MAX_LAST).contains(n))
                    .ok_or(ParseError::BadLast { given: value })?;
            }
            option if option.starts_with("--") => {
                return Err(ParseError::InHistory(Box::new(ParseError::UnknownOption {
                    given: option.to_string(),
                    did_you_mean: closest(option, [BY, LAST].map(|known| (known, known))),
                })))
            }
            _ => match classify(&lower, word, vocabulary)
                .map_err(|error| ParseError::InHistory(Box::new(error)))?
            {
                Bare::All => {}
                Bare::Image(image) => query.images.push(image),
                Bare::Series(series) => query.series.push(series),
                Bare::Arch(arch) => query.arches.push(arch),
            },
        }
    }
    Ok(query)
}

/// Parses the words after `rebuild`. The command line's `build` subcommand hands its arguments
/// here too, so both front ends accept and reject exactly the same things.
pub fn parse_rebuild<'a>(
    words: impl IntoIterator<Item = &'a str>,
    vocabulary: &Vocabulary,
) -> Result<Rebuild, ParseError> {
    let mut found = RebuildWords::default();
    let mut words = words.into_iter();
    let mut only_images = false;
    while let Some(word) = words.next() {
        let lower = word.to_lowercase();
        if only_images {
            found.add_image(image_after_dashes(&lower, word, vocabulary)?)?;
            continue;
        }
        if let Some(reason) = strip_prefix_ignore_case(word, REASON) {
            if found.reason.is_some() {
                return Err(ParseError::DuplicateOption { option: REASON });
            }
            if reason.trim().is_empty() {
                return Err(ParseError::EmptyReason);
            }
            found.reason = Some(reason.to_string());
            continue;
        }
        if lower == "--" {
            only_images = true;
            continue;
        }
        if lower.starts_with("--") {
            let (option, inline_value) = match lower.split_once('=') {
                Some((option, value)) => (option.to_string(), Some(value.to_string())),
                None => (lower.clone(), None),
            };
            found.option(&option, inline_value, &mut words, vocabulary)?;
            continue;
        }
        found.add(classify(&lower, word, vocabulary)?)?;
    }
    found.finish()
}

fn strip_prefix_ignore_case<'a>(word: &'a str, prefix: &str) -> Option<&'a str> {
    let head = word.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &word[prefix.len()..])
}

/// A bare word of a rebuild, told apart by the vocabulary.
enum Bare {
    Series(Series),
    Arch(Arch),
    Image(ImageName),
    All,
}

fn classify(lower: &str, word: &str, vocabulary: &Vocabulary) -> Result<Bare, ParseError> {
    if lower == "all" {
        return Ok(Bare::All);
    }
    if let Some(series) = vocabulary.series(lower) {
        return Ok(Bare::Series(series));
    }
    if let Some(arch) = vocabulary.arch(lower) {
        return Ok(Bare::Arch(arch));
    }
    if let Some(image) = vocabulary.image(lower) {
        return Ok(Bare::Image(image));
    }
    if Series::looks_like(lower) {
        return Err(unknown_series(word, vocabulary));
    }
    Err(ParseError::UnknownWord {
        given: word.to_string(),
        did_you_mean: suggest(lower, vocabulary),
    })
}

/// An unknown series. A number is never "corrected" to another (20.10 is a release of its own,
/// not a typo for 20.04); a misspelt code name is.
fn unknown_series(word: &str, vocabulary: &Vocabulary) -> ParseError {
    let lower = word.to_lowercase();
    let names: Vec<String> = vocabulary
        .series_with_codenames()
        .iter()
        .flat_map(|(series, codename)| [series.to_string(), codename.clone()])
        .collect();
    ParseError::UnknownSeries {
        given: word.to_string(),
        did_you_mean: if Series::looks_like(&lower) {
            None
        } else {
            closest(
                &lower,
                names.iter().map(|name| (name.clone(), name.as_str())),
            )
        },
        known: vocabulary.all_series(),
    }
}

fn image_after_dashes(
    lower: &str,
    word: &str,
    vocabulary: &Vocabulary,
) -> Result<Option<ImageName>, ParseError> {
    if lower == "all" {
        return Ok(None);
    }
    vocabulary
        .image(lower)
        .map(Some)
        .ok_or_else(|| ParseError::UnknownImage {
            given: word.to_string(),
            did_you_mean: closest(
                lower,
                vocabulary
                    .images()
                    .iter()
                    .map(|image| (image.clone(), image.as_str())),
            ),
        })
}

impl RebuildWords {
    fn add(&mut self, bare: Bare) -> Result<(), ParseError> {
        match bare {
            Bare::Series(series) => {
                self.series.insert(series);
            }
            Bare::Arch(arch) => {
                self.arches.insert(arch);
            }
            Bare::Image(image) => self.add_image(Some(image))?,
            Bare::All => self.add_image(None)?,
        }
        Ok(())
    }

    /// Adds an image, or `all` for `None`; the two exclude each other.
    fn add_image(&mut self, image: Option<ImageName>) -> Result<(), ParseError> {
        match image {
            None => self.all = true,
            Some(image) => {
                self.images.insert(image);
            }
        }
        match self.images.first() {
            Some(image) if self.all => Err(ParseError::AllWithImages {
                image: image.clone(),
            }),
            _ => Ok(()),
        }
    }

    fn option<'a>(
        &mut self,
        option: &str,
        inline_value: Option<String>,
        words: &mut impl Iterator<Item = &'a str>,
        vocabulary: &Vocabulary,
    ) -> Result<(), ParseError> {
        let flag = match option {
            AUTO_RETRY => Some((&mut self.auto_retry_uploads, AUTO_RETRY)),
            WAIT => Some((&mut self.wait, WAIT)),
            DRY_RUN => Some((&mut self.dry_run, DRY_RUN)),
            _ => None,
        };
        if let Some((set, name)) = flag {
            if *set || inline_value.is_some() {
                return Err(ParseError::DuplicateOption { option: name });
            }
            *set = true;
            return Ok(());
        }
        let option = match option {
            SERIES => SERIES,
            ARCH => ARCH,
            THEN => THEN,
            _ => {
                return Err(ParseError::UnknownOption {
                    given: option.to_string(),
                    did_you_mean: closest(option, OPTIONS.map(|known| (known, known))),
                })
            }
        };
        let value = inline_value
            .or_else(|| words.next().map(str::to_lowercase))
            .ok_or(ParseError::MissingValue { option })?;
        if option == THEN {
            if !vocabulary.hooks().contains(&value) {
                return Err(ParseError::UnknownHook {
                    given: value,
                    known: vocabulary.hooks().to_vec(),
                });
            }
            if !self.then.contains(&value) {
                self.then.push(value);
            }
        } else if option == SERIES {
            let series = vocabulary
                .series(&value)
                .ok_or_else(|| unknown_series(&value, vocabulary))?;
            self.series.insert(series);
        } else {
            let arch = vocabulary
                .arch(&value)
                .ok_or_else(|| ParseError::UnknownArch {
                    given: value.clone(),
                    did_you_mean: closest(
                        &value,
                        vocabulary
                            .arches()
                            .iter()
                            .map(|arch| (arch.clone(), arch.as_str())),
                    ),
                    known: vocabulary.arches().to_vec(),
                })?;
            self.arches.insert(arch);
        }
        Ok(())
    }

    fn finish(self) -> Result<Rebuild, ParseError> {
        let images = if self.all {
            Images::All
        } else if self.images.is_empty() {
            return Err(ParseError::NothingToBuild);
        } else {
            Images::Named(self.images.into_iter().collect())
        };
        Ok(Rebuild {
            series: self.series.into_iter().collect(),
            arches: self.arches.into_iter().collect(),
            images,
            auto_retry_uploads: self.auto_retry_uploads,
            wait: self.wait,
            dry_run: self.dry_run,
            reason: self.reason,
            then: self.then,
        })
    }
}

/// The known word nearest to `given`, across every vocabulary of a rebuild.
fn suggest(given: &str, vocabulary: &Vocabulary) -> Option<Suggestion> {
    let series = vocabulary
        .series_with_codenames()
        .iter()
        .flat_map(|(series, codename)| {
            [
                (WordKind::Series, series.to_string()),
                (WordKind::Series, codename.clone()),
            ]
        });
    let arches = vocabulary
        .arches()
        .iter()
        .map(|arch| (WordKind::Arch, arch.to_string()));
    let images = vocabulary
        .images()
        .iter()
        .map(|image| (WordKind::Image, image.to_string()));
    let others = OPTIONS
        .iter()
        .map(|option| (WordKind::Option, option.trim_end_matches('=').to_string()))
        .chain([(WordKind::All, "all".to_string())]);
    let candidates: Vec<(WordKind, String)> =
        series.chain(arches).chain(images).chain(others).collect();
    closest(
        given,
        candidates
            .iter()
            .map(|(kind, word)| ((*kind, word.clone()), word.as_str())),
    )
    .map(|(kind, word)| Suggestion { kind, word })
}

/// The candidate nearest to `given` by edit distance (a swap of two neighbours counts as one
/// edit: `arm46` is one from `arm64`), if it is near enough to be what was meant: one edit for
/// words of up to four letters, two beyond. Failing that, the one candidate that starts with
/// `given` (of three letters at least: `post` means `postgres`). Ties go to the first candidate.
fn closest<'a, T>(given: &str, candidates: impl IntoIterator<Item = (T, &'a str)>) -> Option<T> {
    let allowed = if given.chars().count() <= 4 { 1 } else { 2 };
    let mut nearest: Option<(usize, T)> = None;
    let mut prefixed: Vec<T> = Vec::new();
    for (value, word) in candidates {
        let distance = strsim::osa_distance(given, word);
        if distance <= allowed && nearest.as_ref().is_none_or(|(best, _)| distance < *best) {
            nearest = Some((distance, value));
        } else if given.chars().count() >= 3 && word.starts_with(given) {
            prefixed.push(value);
        }
    }
    match nearest {
        Some((_, value)) => Some(value),
        None if prefixed.len() == 1 => prefixed.pop(),
        None => None,
    }
}
