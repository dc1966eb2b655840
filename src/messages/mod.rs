//! Every sentence a user sees, in one place, so the bot speaks with one voice and wording can be
//! changed without touching logic. Pure: data in, text out. Text is Markdown as chat renders it;
//! it reads as well in a terminal.
//!
//! Help is generated from [`help_entry`], an exhaustive `match` over [`CommandName`]: a command
//! added without help does not compile.

pub mod alerts;
pub mod dashboard;
pub mod history;
pub mod jobs;
pub mod webhooks;

use std::fmt::Display;

use crate::permissions::{Permission, User};

mod errors;
mod help;
mod plans;
mod terminal;
pub use errors::{confirm_error, denied, parse_error, plan_error};
pub use help::{help, help_entry, HelpEntry};
pub use plans::{aborted, dry_run, needs_confirmation, over_hourly_limit, PlanText};
pub use terminal::{
    build_requested, buttons, cannot_listen, command_token_without_listener, config_ok,
    delivery_url_missing, install_without_secret, interrupt_leaves, interrupt_waits, interrupted,
    launchpad_refused, launchpad_unreachable, listener_without_secret, login_failed, login_open,
    login_saved, mattermost_check_needs_token, processors_differ, recipe_missing, recipes_checked,
    sandbox_finishing, sandbox_greeting, sandbox_interrupted, sim_banner, sim_interrupted,
    speed_below_one, speed_not_positive, store_snapshot, token_missing, waiting_for,
    MattermostCheck,
};

/// Where the user reads an error, which decides where the help it points to is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// In chat: `help rebuild`.
    Chat,
    /// In a terminal, from `image-builder build` or `history`: that subcommand's `--help`.
    CommandLine,
}

impl Front {
    /// A command of this front end, from the chat's words: in chat as typed (`retry uploads
    /// #1`), on a terminal as the subcommand that does the same (`image-builder retry uploads
    /// 1`: every chat command is one, with the same words).
    pub fn command(self, chat_words: &str) -> String {
        match self {
            Front::Chat => chat_words.to_string(),
            Front::CommandLine => {
                let words: Vec<&str> = chat_words
                    .split(' ')
                    .map(|word| match word.strip_prefix('#') {
                        Some(digits)
                            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
                        {
                            digits
                        }
                        _ => word,
                    })
                    .collect();
                format!("image-builder {}", words.join(" "))
            }
        }
    }

    /// The verb that asks someone to give a command: "Say" in chat, "Run" on a terminal.
    pub fn verb(self) -> &'static str {
        match self {
            Front::Chat => "Say",
            Front::CommandLine => "Run",
        }
    }
}

/// Items joined with commas, each in backticks.
fn list<T: Display>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items.into_iter().map(|item| format!("`{item}`")).collect();
    items.join(", ")
}

/// `1 build`, `2 builds`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Items joined with commas, as plain words.
pub(crate) fn plain_list<T: Display>(items: &[T]) -> String {
    let items: Vec<String> = items.iter().map(ToString::to_string).collect();
    items.join(", ")
}

/// The answer to `whoami`.
pub fn whoami(user: &User, held: &[Permission]) -> String {
    let permissions = if held.is_empty() {
        "no permissions".to_string()
    } else {
        format!("the permissions {}", list(held))
    };
    format!("You are `{}`, with {permissions}.", user.id)
}

/// A click on a button whose id this bot does not read.
pub fn unknown_button() -> String {
    "I don't know this button (it may be from an older version of me). Type the command instead; \
     `help` lists them."
        .to_string()
}

/// A panic caught while answering.
pub fn panicked() -> String {
    "Something went wrong on my side while answering that; the details are in my log.".to_string()
}

#[cfg(test)]
mod tests {
    use super::Front;

    #[test]
    fn a_command_is_named_as_its_front_end_takes_it() {
        assert_eq!(Front::Chat.command("retry uploads #1"), "retry uploads #1");
        assert_eq!(
            Front::CommandLine.command("retry uploads #1"),
            "image-builder retry uploads 1"
        );
        assert_eq!(
            Front::CommandLine.command("mute uploads #redis 2h"),
            "image-builder mute uploads #redis 2h",
            "only a job's number loses its #"
        );
        assert_eq!(Front::CommandLine.command("jobs"), "image-builder jobs");
    }
}
