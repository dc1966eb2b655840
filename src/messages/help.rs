//! `help` and `help COMMAND`: each command's synopsis, its words and an example.

use std::fmt::Write;

use super::{list, Front};
use crate::command::{CommandName, Vocabulary};

/// The help for one command.
#[derive(Debug, Clone, Copy)]
pub struct HelpEntry {
    /// How it is written.
    pub usage: &'static str,
    /// What it does, in a sentence or two.
    pub summary: &'static str,
    /// Examples, each a whole command that parses.
    pub examples: &'static [&'static str],
}

/// The help for `name`.
pub fn help_entry(name: CommandName) -> HelpEntry {
    match name {
        CommandName::Rebuild => HelpEntry {
            usage: "rebuild [SERIES...] [ARCH...] IMAGE...|all [--auto-retry-uploads] [--wait] [--dry-run] [--then HOOK] [reason=\"...\"]",
            summary: "Rebuild images on Launchpad. Words go in any order; no series means every series, \
                      no architecture every architecture. Series may be numbers or code names. \
                      `--series 20.04 --arch arm64 -- redis` works too. Large rebuilds ask for `confirm`. \
                      `--then retag` runs the configured hook `retag` once every build and upload succeeded.",
            examples: &[
                "rebuild 20.04 arm64 redis",
                "rebuild jammy all --dry-run",
                "rebuild redis postgres --auto-retry-uploads reason=\"CVE fix\"",
            ],
        },
        CommandName::Status => HelpEntry {
            usage: "status [#JOB]",
            summary: "Show a job's builds and uploads, or every unfinished job.",
            examples: &["status", "status #42"],
        },
        CommandName::Jobs => HelpEntry {
            usage: "jobs [mine|all]",
            summary: "List recent jobs, everybody's unless you say `mine`.",
            examples: &["jobs", "jobs mine"],
        },
        CommandName::History => HelpEntry {
            usage: "history [IMAGE...] [SERIES...] [ARCH...] [--by USER] [--last N]",
            summary: "What was built when: every rebuild (also those made on Launchpad that the bot heard of), \
                      newest first, with who asked, why, and each build's outcome and upload. The first line \
                      says when the newest was and whether it published.",
            examples: &["history redis 22.04", "history --by alice --last 5", "history arm64"],
        },
        CommandName::Log => HelpEntry {
            usage: "log #JOB",
            summary: "Show why a job's builds failed: the end of each failed build's log, to you only \
                      (what the summary's Show log button says).",
            examples: &["log #42"],
        },
        CommandName::Cancel => HelpEntry {
            usage: "cancel #JOB",
            summary: "Cancel the builds of a job that have not finished.",
            examples: &["cancel #42"],
        },
        CommandName::Retry => HelpEntry {
            usage: "retry uploads|builds #JOB | retry alert N",
            summary: "Retry a job's failed registry uploads, or its failed builds; or every failed \
                      upload an alert names (what its Retry button says).",
            examples: &["retry uploads #42", "retry builds #42", "retry alert 3"],
        },
        CommandName::Confirm => HelpEntry {
            usage: "confirm CODE",
            summary: "Start a large rebuild you asked for; the code comes with the plan and works for you only.",
            examples: &["confirm K7TQ2M"],
        },
        CommandName::Abort => HelpEntry {
            usage: "abort CODE",
            summary: "Drop a large rebuild waiting for `confirm` (what its Abort button says).",
            examples: &["abort K7TQ2M"],
        },
        CommandName::Help => HelpEntry {
            usage: "help [COMMAND]",
            summary: "List the commands, or explain one.",
            examples: &["help", "help rebuild"],
        },
        CommandName::Mute => HelpEntry {
            usage: "mute uploads [IMAGE|all] DURATION",
            summary: "Silence failed-upload alerts (of one image, or all) for 45m, 2h, 1d ... up to 7d. Failures are still recorded and `status` shows them.",
            examples: &["mute uploads redis 2h", "mute uploads all 30m"],
        },
        CommandName::Unmute => HelpEntry {
            usage: "unmute",
            summary: "End every mute now.",
            examples: &["unmute"],
        },
        CommandName::Whoami => HelpEntry {
            usage: "whoami",
            summary: "Say who I think you are and what you may do.",
            examples: &["whoami"],
        },
    }
}

/// The answer to `help` (no topic: every command) or `help COMMAND`.
pub fn help(topic: Option<CommandName>, vocabulary: &Vocabulary) -> String {
    let Some(name) = topic else {
        let mut text = String::from("Commands:\n");
        for name in CommandName::ALL {
            let entry = help_entry(name);
            let _ = writeln!(text, "• `{}`: {}", entry.usage, entry.summary);
        }
        text.push_str("Say `help COMMAND` for examples.");
        return text;
    };
    let entry = help_entry(name);
    let mut text = format!("`{}`\n{}\n", entry.usage, entry.summary);
    if name == CommandName::Rebuild {
        let series = vocabulary
            .series_with_codenames()
            .iter()
            .map(|(series, codename)| format!("{series} ({codename})"));
        let _ = writeln!(text, "Series: {}", list(series));
        let _ = writeln!(text, "Architectures: {}", list(vocabulary.arches()));
        let _ = writeln!(text, "Images: {}", list(vocabulary.images()));
    }
    text.push_str("Examples:");
    for example in entry.examples {
        let _ = write!(text, "\n  `{example}`");
    }
    text
}

/// The hint every error ends with.
pub(super) fn help_hint(front: Front, topic: Option<CommandName>) -> String {
    match (front, topic) {
        (Front::CommandLine, Some(CommandName::History)) => {
            "See `image-builder history --help`.".to_string()
        }
        (Front::CommandLine, _) => "See `image-builder build --help`.".to_string(),
        (Front::Chat, Some(name)) => format!("Try `help {name}`."),
        (Front::Chat, None) => "Try `help`.".to_string(),
    }
}
