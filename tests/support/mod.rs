//! Helpers shared by the integration tests.

#![allow(dead_code)]

use image_builder::command::{parse, Command, ParseError, Vocabulary};
use image_builder::config::Config;

/// The team's real catalogue, as compiled in.
pub fn config() -> Config {
    Config::built_in().expect("config/default.toml is valid")
}

/// The real catalogue's vocabulary.
pub fn vocabulary() -> Vocabulary {
    config().catalogue.vocabulary()
}

/// Parses `text` against the real catalogue.
pub fn parse_real(text: &str) -> Result<Command, ParseError> {
    parse(text, &vocabulary())
}
