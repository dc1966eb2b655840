//! Every sentence a user sees, in one place, so the bot speaks with one voice and wording can be
//! changed without touching logic. Pure: data in, text out. Text is Markdown as chat renders it;
//! it reads as well in a terminal.
//!
//! Help is generated from [`help_entry`], an exhaustive `match` over [`CommandName`]: a command
//! added without help does not compile.

pub mod alerts;
pub mod history;
pub mod jobs;
pub mod webhooks;

use std::fmt::{self, Display, Write};

use crate::command::{CommandName, ConfirmCode, ParseError, Vocabulary, WordKind};
use crate::confirm::ConfirmError;
use crate::permissions::{Denied, Permission, User};
use crate::plan::{Approval, Plan, PlanError};

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

/// Where the user reads an error, which decides where the help it points to is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// In chat: `help rebuild`.
    Chat,
    /// In a terminal, from `image-builder build` or `history`: that subcommand's `--help`.
    CommandLine,
}

/// The hint every error ends with.
fn help_hint(front: Front, topic: Option<CommandName>) -> String {
    match (front, topic) {
        (Front::CommandLine, Some(CommandName::History)) => {
            "See `image-builder history --help`.".to_string()
        }
        (Front::CommandLine, _) => "See `image-builder build --help`.".to_string(),
        (Front::Chat, Some(name)) => format!("Try `help {name}`."),
        (Front::Chat, None) => "Try `help`.".to_string(),
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

/// ` Did you mean `x`?`, or nothing.
fn did_you_mean_text<T: Display>(suggestion: Option<&T>) -> String {
    suggestion
        .map(|word| format!(" Did you mean `{word}`?"))
        .unwrap_or_default()
}

fn word_kind(kind: WordKind) -> &'static str {
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
fn parse_problem(error: &ParseError) -> (String, Option<CommandName>) {
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
                Some(given) => format!("I can't mute `{given}`: say `mute uploads IMAGE DURATION` or `mute uploads all DURATION`."),
                None => "Mute what? Say `mute uploads IMAGE DURATION` or `mute uploads all DURATION`.".to_string(),
            },
            Some(CommandName::Mute),
        ),
        E::BadDuration { given } => (
            match given {
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

/// Items joined with commas, as plain words.
pub(crate) fn plain_list<T: Display>(items: &[T]) -> String {
    let items: Vec<String> = items.iter().map(ToString::to_string).collect();
    items.join(", ")
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

/// The answer to `whoami`.
pub fn whoami(user: &User, held: &[Permission]) -> String {
    let permissions = if held.is_empty() {
        "no permissions".to_string()
    } else {
        format!("the permissions {}", list(held))
    };
    format!("You are `{}`, with {permissions}.", user.id)
}

/// A large plan dropped with its Abort button.
pub fn aborted(code: &ConfirmCode) -> String {
    format!("Aborted: the plan under `{code}` is dropped and nothing was requested.")
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

/// A plan: each recipe with its architectures, and the counts.
pub struct PlanText<'a>(pub &'a Plan);

impl Display for PlanText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = self.0;
        write!(
            f,
            "{}, {}",
            count(plan.targets.len(), "recipe", "recipes"),
            count(plan.builds(), "build", "builds")
        )?;
        if plan.skipped > 0 {
            write!(
                f,
                " (skipped {} that the catalogue lacks)",
                count(
                    plan.skipped,
                    "image × series",
                    "image × series combinations"
                )
            )?;
        }
        f.write_str(":")?;
        for target in &plan.targets {
            write!(f, "\n  {}  {}", target.recipe, plain_list(&target.arches))?;
        }
        Ok(())
    }
}

/// What a dry run prints: the plan, and what a real run would need first.
pub fn dry_run(plan: &Plan, approval: Approval, limits: &crate::config::Confirmation) -> String {
    let mut text = format!("Dry run, nothing is built. {}", PlanText(plan));
    match approval {
        Approval::Proceed => {}
        Approval::Confirm => {
            let _ = write!(
                text,
                "\nIt is more than {} builds, so in chat it would wait for `confirm`.",
                limits.above_builds
            );
        }
        Approval::ConfirmMassRebuild => {
            let _ = write!(
                text,
                "\nIt is more than {} builds, so in chat it would wait for `confirm` and need the `mass-rebuild` permission.",
                limits.mass_rebuild_above_builds
            );
        }
    }
    text
}

/// Asks for confirmation of a large plan; `running`: the asker's builds going already, which
/// the thresholds count.
pub fn needs_confirmation(
    plan: &Plan,
    approval: Approval,
    code: &ConfirmCode,
    minutes: u64,
    running: usize,
) -> String {
    let mass = if approval == Approval::ConfirmMassRebuild {
        " It is a mass rebuild, so it needs the `mass-rebuild` permission too."
    } else {
        ""
    };
    let counted = if running > 0 {
        format!(
            " With the {} you have running, it makes {}.",
            count(running, "build", "builds"),
            count(running + plan.builds(), "build", "builds")
        )
    } else {
        String::new()
    };
    format!(
        "To start this rebuild, say `confirm {code}` within {minutes} minutes.{counted}{mass}\n{}",
        PlanText(plan)
    )
}

/// A rebuild over the asker's hourly limit of builds.
pub fn over_hourly_limit(builds: usize, over: &crate::quota::OverLimit) -> String {
    let start = format!(
        "You have started {} in the last hour, and the limit is {} an hour (`confirmation.builds_per_user_per_hour`).",
        count(over.started, "build", "builds"),
        over.limit
    );
    match over.from {
        Some(from) => format!(
            "{start} This rebuild fits from {} UTC; nothing was requested.",
            from.format("%H:%M")
        ),
        None => format!(
            "{start} {} never fit in one hour: split the rebuild. Nothing was requested.",
            count(builds, "build", "builds")
        ),
    }
}

/// What `check-config` says of a good config.
pub fn config_ok(file: &str, config: &crate::config::Config) -> String {
    let catalogue = &config.catalogue;
    let recipes: usize = catalogue
        .images
        .iter()
        .map(|image| image.tracks.len())
        .sum();
    format!(
        "{file}: OK. {}, {}, {}, {}.",
        count(catalogue.images.len(), "image", "images"),
        count(recipes, "recipe", "recipes"),
        count(catalogue.series.len(), "series", "series"),
        count(catalogue.arches.len(), "architecture", "architectures"),
    )
}

/// `login`: the page to open.
pub fn login_open(url: &str, level: &str) -> String {
    // The page shows the level's title, not its name.
    let level = match level {
        "READ_PUBLIC" => "Read Non-Private Data",
        "WRITE_PUBLIC" => "Change Non-Private Data",
        "READ_PRIVATE" => "Read Anything",
        "WRITE_PRIVATE" => "Change Anything",
        other => other,
    };
    format!(
        "Open this page, log in to Launchpad and choose \"{level}\" to let image-builder act for you:\n  {url}\nWaiting for your answer..."
    )
}

/// `login`: done.
pub fn login_saved(path: &str) -> String {
    format!("Authorized. Credentials saved to {path} (mode 0600).")
}

/// `sim`: where it is and how to use it.
pub fn sim_banner(api_root: &str, web_root: &str, speed: f64, credentials: &str) -> String {
    format!(
        "Launchpad simulator running at {speed}x Launchpad's pace.\n  API root: {api_root}\n  web root: {web_root}\n\
         Credentials that work against it (launchpadlib's format; save them as a file):\n\n{credentials}\
         Opening +authorize-token pages authorizes at once, so `image-builder login --web-root {web_root}` works too.\n\
         Stop with Ctrl-C."
    )
}

/// `check-config --online`: a recipe Launchpad does not have.
pub fn recipe_missing(label: &str, url: &str) -> String {
    format!("{label}: no recipe at {url}; fix its name in the config (recipe_name_template or recipe_names)")
}

/// `build` stopped before storing a job: Launchpad refused the credentials, or could not be
/// reached.
pub fn launchpad_refused(api_root: &str, error: &crate::launchpad::LaunchpadError) -> String {
    use crate::launchpad::LaunchpadError;
    match error {
        LaunchpadError::Unauthorized { message } => format!(
            "Launchpad refused the credentials ({message}). Run `image-builder login` again. Nothing was requested."
        ),
        LaunchpadError::Transport { .. } | LaunchpadError::Timeout { .. } => format!(
            "Launchpad cannot be reached at {api_root} ({error}). Is launchpad.api_root right, and the network up? Nothing was requested."
        ),
        other => format!("Launchpad did not say who the credentials are for ({other}). Nothing was requested."),
    }
}

/// `status` or `jobs` while another process holds the store.
pub fn store_snapshot(holder: &str) -> String {
    format!("(The job store is in use by {holder}: showing it as it is now.)")
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

/// `check-config --online`: a recipe whose processors are not the image's architectures.
/// `lacking`: asked for by the config, not built by the recipe; `extra`: built, not asked for
/// (cancelled after each request).
pub fn processors_differ(label: &str, lacking: &[String], extra: &[String]) -> String {
    let mut parts = Vec::new();
    if !lacking.is_empty() {
        parts.push(format!(
            "the recipe does not build {} (the config asks for it: add it to the recipe's processors on Launchpad, or drop it from the image's architectures)",
            lacking.join(", ")
        ));
    }
    if !extra.is_empty() {
        parts.push(format!(
            "the recipe also builds {} (not in the config: each rebuild cancels it)",
            extra.join(", ")
        ));
    }
    format!("{label}: {}", parts.join("; "))
}

/// `check-config --online`: the tally.
pub fn recipes_checked(checked: usize, problems: usize) -> String {
    match problems {
        0 => format!(
            "All {} exist on Launchpad and build what the config asks for.",
            count(checked, "recipe", "recipes")
        ),
        _ => format!(
            "{} of {checked} recipes could not be confirmed on Launchpad.",
            problems
        ),
    }
}

/// The sandbox's greeting, with three commands to try.
pub fn sandbox_greeting(user: &str, speed: f64, web_root: &str, resumed: usize) -> String {
    let resumed = match resumed {
        0 => String::new(),
        n => format!(
            "Resumed {} from the store.\n",
            count(n, "unfinished job", "unfinished jobs")
        ),
    };
    format!(
        "image-builder sandbox: the bot against a simulated Launchpad ({web_root}) running {speed}x \
         faster than the real one. You are `{user}`, with every permission.\n{resumed}\
         Try:\n  rebuild 20.04 arm64 redis\n  rebuild jammy nginx --auto-retry-uploads\n  help\n\
         (Some uploads and builds fail on purpose. End input with Ctrl-D: running jobs finish first.)"
    )
}

/// Input ended with jobs still running.
pub fn sandbox_finishing(running: usize) -> String {
    format!(
        "Input closed; finishing {} before exiting.",
        count(running, "job", "jobs")
    )
}

/// Ctrl-C in the sandbox.
pub fn sandbox_interrupted(kept: bool) -> String {
    if kept {
        "Interrupted. Unfinished jobs are in the store; `sandbox --data-dir` with the same directory resumes them.".to_string()
    } else {
        "Interrupted.".to_string()
    }
}

/// `build` without `--wait`: the job is requested; how to follow it.
pub fn build_requested(id: crate::target::JobId) -> String {
    format!(
        "Requested. Follow it with `image-builder wait {}`, or see it with `image-builder status {}`.",
        id.0, id.0
    )
}
