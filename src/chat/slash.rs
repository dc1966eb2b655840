//! Discord's slash commands: their definitions (registered at start), and the text command each
//! invocation stands for, so `/rebuild` and `!rebuild` go through the same parser and get the
//! same answers.

use serenity::all::{
    CommandDataOption, CommandDataOptionValue, CommandOptionType, CreateCommand,
    CreateCommandOption,
};

use crate::command::{quote, CommandName};
use crate::messages::help_entry;

fn string(name: &str, description: &str, required: bool) -> CreateCommandOption {
    CreateCommandOption::new(CommandOptionType::String, name, description).required(required)
}

fn job(required: bool) -> CreateCommandOption {
    CreateCommandOption::new(CommandOptionType::Integer, "job", "The job's number")
        .required(required)
        .min_int_value(1)
}

/// The slash commands, described from the help table.
pub fn definitions() -> Vec<CreateCommand> {
    let describe = |name: CommandName| {
        let summary = help_entry(name).summary;
        // Discord allows 100 characters.
        let first = summary.split(". ").next().unwrap_or(summary);
        first.chars().take(100).collect::<String>()
    };
    vec![
        CreateCommand::new("rebuild")
            .description(describe(CommandName::Rebuild))
            .add_option(string("images", "Image names, or all", true).set_autocomplete(true))
            .add_option(string(
                "series",
                "Series, such as 22.04 or jammy (default: all)",
                false,
            ))
            .add_option(string(
                "arch",
                "Architectures, such as arm64 (default: all)",
                false,
            ))
            .add_option(CreateCommandOption::new(
                CommandOptionType::Boolean,
                "auto-retry-uploads",
                "Retry failed uploads by itself",
            ))
            .add_option(CreateCommandOption::new(
                CommandOptionType::Boolean,
                "dry-run",
                "Show the plan, build nothing",
            ))
            .add_option(string("reason", "Why, for the record", false)),
        CreateCommand::new("status")
            .description(describe(CommandName::Status))
            .add_option(job(false)),
        CreateCommand::new("jobs")
            .description(describe(CommandName::Jobs))
            .add_option(
                string("whose", "mine or all (default: all)", false)
                    .add_string_choice("mine", "mine")
                    .add_string_choice("all", "all"),
            ),
        CreateCommand::new("history")
            .description(describe(CommandName::History))
            .add_option(string(
                "filter",
                "Images, series, architectures, such as redis 22.04",
                false,
            ))
            .add_option(string("by", "Only rebuilds this person asked for", false))
            .add_option(
                CreateCommandOption::new(
                    CommandOptionType::Integer,
                    "last",
                    "How many rebuilds (10)",
                )
                .min_int_value(1)
                .max_int_value(100),
            ),
        CreateCommand::new("log")
            .description(describe(CommandName::Log))
            .add_option(job(true)),
        CreateCommand::new("cancel")
            .description(describe(CommandName::Cancel))
            .add_option(job(true)),
        CreateCommand::new("retry")
            .description(describe(CommandName::Retry))
            .add_option(
                string("what", "uploads or builds", true)
                    .add_string_choice("uploads", "uploads")
                    .add_string_choice("builds", "builds"),
            )
            .add_option(job(true)),
        CreateCommand::new("help")
            .description(describe(CommandName::Help))
            .add_option(string("command", "A command", false)),
    ]
}

/// The text command a slash command stands for.
pub fn as_text(name: &str, options: &[CommandDataOption]) -> String {
    let mut words = vec![name.to_string()];
    for option in options {
        let word = match (&option.value, option.name.as_str()) {
            (CommandDataOptionValue::Boolean(true), flag) => format!("--{flag}"),
            (CommandDataOptionValue::Boolean(false), _) => continue,
            (CommandDataOptionValue::Integer(number), "job") => format!("#{number}"),
            (CommandDataOptionValue::Integer(number), "last") => format!("--last {number}"),
            (CommandDataOptionValue::String(text), "by") => format!("--by {}", quote(text)),
            (CommandDataOptionValue::Integer(number), _) => number.to_string(),
            (CommandDataOptionValue::String(text), "reason") => quote(&format!("reason={text}")),
            (CommandDataOptionValue::String(text), _) => text.clone(),
            _ => continue,
        };
        words.push(word);
    }
    // `/retry uploads #4` reads "retry uploads #4" only with `what` before `job`.
    if name == "retry" {
        words.sort_by_key(|word| word.starts_with('#'));
    }
    words.join(" ")
}

/// Image names (and `all`) that start with what was typed of the last word, for autocomplete.
pub fn complete_images(typed: &str, images: &[crate::target::ImageName]) -> Vec<String> {
    let (done, last) = match typed.rsplit_once(' ') {
        Some((done, last)) => (format!("{done} "), last),
        None => (String::new(), typed),
    };
    let last = last.to_lowercase();
    std::iter::once("all".to_string())
        .chain(images.iter().map(ToString::to_string))
        .filter(|name| name.starts_with(&last))
        .map(|name| format!("{done}{name}"))
        .take(25)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_offers_images_for_the_last_word() {
        let images: Vec<crate::target::ImageName> = ["redis", "postgres", "nginx"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(complete_images("re", &images), ["redis"]);
        assert_eq!(complete_images("redis p", &images), ["redis postgres"]);
        assert_eq!(complete_images("", &images).len(), 4);
    }
}
