//! The nearest word the vocabulary knows to one it does not (`did you mean`).

use super::error::{Suggestion, WordKind};
use super::OPTIONS;
use crate::command::Vocabulary;

/// The known word nearest to `given`, across every vocabulary of a rebuild.
pub(super) fn suggest(given: &str, vocabulary: &Vocabulary) -> Option<Suggestion> {
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
pub(super) fn closest<'a, T>(
    given: &str,
    candidates: impl IntoIterator<Item = (T, &'a str)>,
) -> Option<T> {
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
