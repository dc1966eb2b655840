//! The words of `rebuild` and `history`: images, series, architectures and options in any order,
//! each classified against the vocabulary.

use std::collections::BTreeSet;

use super::error::ParseError;
use super::suggest::{closest, suggest};
use super::{ARCH, AUTO_RETRY, BY, DRY_RUN, LAST, OPTIONS, REASON, SERIES, THEN, WAIT};
use crate::command::{Images, Rebuild, Vocabulary};
use crate::target::{Arch, ImageName, Series};

/// What a rebuild has collected so far.
#[derive(Default)]
pub(super) struct RebuildWords {
    pub(super) series: BTreeSet<Series>,
    pub(super) arches: BTreeSet<Arch>,
    pub(super) images: BTreeSet<ImageName>,
    pub(super) all: bool,
    pub(super) auto_retry_uploads: bool,
    pub(super) wait: bool,
    pub(super) dry_run: bool,
    pub(super) reason: Option<String>,
    pub(super) then: Vec<String>,
}

/// Parses the words after `history`: images, series and architectures in any order (each a
/// filter; `all` or nothing means every one), `--by USER`, `--last N`. The command line's
/// `history` subcommand hands its arguments here too.
pub fn parse_history<'a>(
    words: impl IntoIterator<Item = &'a str>,
    vocabulary: &Vocabulary,
) -> Result<crate::command::HistoryQuery, ParseError> {
    let mut query = crate::command::HistoryQuery {
        images: Vec::new(),
        series: Vec::new(),
        arches: Vec::new(),
        by: None,
        last: crate::command::DEFAULT_LAST,
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
                    .filter(|n| (1..=crate::command::MAX_LAST).contains(n))
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

pub(super) fn strip_prefix_ignore_case<'a>(word: &'a str, prefix: &str) -> Option<&'a str> {
    let head = word.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &word[prefix.len()..])
}

/// A bare word of a rebuild, told apart by the vocabulary.
pub(super) enum Bare {
    Series(Series),
    Arch(Arch),
    Image(ImageName),
    All,
}

pub(super) fn classify(
    lower: &str,
    word: &str,
    vocabulary: &Vocabulary,
) -> Result<Bare, ParseError> {
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
pub(super) fn unknown_series(word: &str, vocabulary: &Vocabulary) -> ParseError {
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

pub(super) fn image_after_dashes(
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
    pub(super) fn add(&mut self, bare: Bare) -> Result<(), ParseError> {
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
    pub(super) fn add_image(&mut self, image: Option<ImageName>) -> Result<(), ParseError> {
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

    pub(super) fn option<'a>(
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

    pub(super) fn finish(self) -> Result<Rebuild, ParseError> {
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
