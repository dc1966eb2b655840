//! The words the grammar knows, given to it as input: the catalogue's series, architectures and
//! images, and the configured hooks' names.

use crate::target::{Arch, ImageName, Series};

/// The words a command may use: the catalogue's series (by number or code name), architectures
/// and images. They never overlap; the config checks that.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vocabulary {
    pub(super) series: Vec<(Series, String)>,
    pub(super) arches: Vec<Arch>,
    pub(super) images: Vec<ImageName>,
    pub(super) hooks: Vec<String>,
}

impl Vocabulary {
    /// The words of `catalogue`: its series (by number or code name), architectures and images.
    pub fn of(catalogue: &crate::catalogue::Catalogue) -> Vocabulary {
        Vocabulary::new(
            catalogue
                .series
                .iter()
                .map(|info| (info.series, info.codename.clone()))
                .collect(),
            catalogue.arches.clone(),
            catalogue
                .images
                .iter()
                .map(|image| image.name.clone())
                .collect(),
        )
    }

    /// A vocabulary of these series (with their code names), architectures and images.
    pub fn new(series: Vec<(Series, String)>, arches: Vec<Arch>, images: Vec<ImageName>) -> Self {
        Vocabulary {
            series,
            arches,
            images,
            hooks: Vec::new(),
        }
    }

    /// The same vocabulary, knowing these hooks' names (`--then NAME`).
    pub fn with_hooks(mut self, hooks: Vec<String>) -> Self {
        self.hooks = hooks;
        self
    }

    /// The configured hooks' names.
    pub fn hooks(&self) -> &[String] {
        &self.hooks
    }

    /// The series `word` names, by number (`22.04`) or code name (`jammy`).
    pub fn series(&self, word: &str) -> Option<Series> {
        self.series
            .iter()
            .find(|(series, codename)| codename == word || series.to_string() == word)
            .map(|(series, _)| *series)
    }

    /// The architecture `word` names.
    pub fn arch(&self, word: &str) -> Option<Arch> {
        self.arches
            .iter()
            .find(|arch| arch.as_str() == word)
            .cloned()
    }

    /// The image `word` names.
    pub fn image(&self, word: &str) -> Option<ImageName> {
        self.images
            .iter()
            .find(|image| image.as_str() == word)
            .cloned()
    }

    /// Every known series, in the catalogue's order.
    pub fn all_series(&self) -> Vec<Series> {
        self.series.iter().map(|(series, _)| *series).collect()
    }

    /// Every known series with its code name.
    pub fn series_with_codenames(&self) -> &[(Series, String)] {
        &self.series
    }

    /// Every known architecture.
    pub fn arches(&self) -> &[Arch] {
        &self.arches
    }

    /// Every known image.
    pub fn images(&self) -> &[ImageName] {
        &self.images
    }
}
