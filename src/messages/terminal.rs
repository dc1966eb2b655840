//! What the terminal front end says: the config checked, logging in, the sandbox's banner and
//! greetings, a recipe missing or refused.

use super::count;
use crate::target::JobId;

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
         Point a config's launchpad.api_root and web_root here, and `build`, `wait` and `run` pace \
         themselves at {speed}x: every answer says the speed (header {header}).\n\
         Stop with Ctrl-C.",
        header = crate::launchpad::SIMULATOR_SPEED_HEADER
    )
}

/// `check-config --online`: Launchpad does not answer at all.
pub fn launchpad_unreachable(api_root: &str, error: &crate::launchpad::LaunchpadError) -> String {
    format!(
        "Launchpad cannot be reached at {api_root} ({error}). Is launchpad.api_root right, and the network up? No recipe was checked."
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
pub fn sandbox_greeting(
    user: &str,
    speed: f64,
    web_root: &str,
    dashboard: Option<&str>,
    resumed: usize,
) -> String {
    let resumed = match resumed {
        0 => String::new(),
        n => format!(
            "Resumed {} from the store.\n",
            count(n, "unfinished job", "unfinished jobs")
        ),
    };
    let dashboard = dashboard.map_or(String::new(), |url| {
        format!("The dashboard (the fleet, jobs, uploads, trends): {url}\n")
    });
    format!(
        "image-builder sandbox: the bot against a simulated Launchpad ({web_root}) running {speed}x \
         faster than the real one. You are `{user}`, with every permission.\n{dashboard}{resumed}\
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
pub fn build_requested(id: JobId) -> String {
    format!(
        "Requested. Follow it with `image-builder wait {}`, or see it with `image-builder status {}`.",
        id.0, id.0
    )
}

/// `--speed` of `sim`, which is not a positive number.
pub fn speed_not_positive(speed: f64) -> String {
    format!("--speed must be a positive number, not {speed}")
}

/// `--speed` of the sandbox, which is below 1.
pub fn speed_below_one(speed: f64) -> String {
    format!("--speed must be a number of at least 1, not {speed}")
}

/// `run` without the chat's token in `variable` (got as `how` says).
pub fn token_missing(variable: &str, how: &str) -> String {
    format!("Set {variable} to the bot's token ({how}).")
}

/// `run` with Mattermost's slash command token in `variable` but no listener for it.
pub fn command_token_without_listener(variable: &str) -> String {
    format!("{variable} is set, but slash commands arrive on the bot's listener: set webhook.listen too.")
}

/// `run` with `webhook.listen` set but no secret in `variable`.
pub fn listener_without_secret(variable: &str) -> String {
    format!(
        "webhook.listen is set, so set {variable} to the secret Launchpad signs deliveries with (the one `webhooks install` registered)."
    )
}

/// `run` cannot listen at `webhook.listen`.
pub fn cannot_listen(address: &str, error: &std::io::Error) -> String {
    format!("cannot listen for Launchpad's webhooks on {address} (webhook.listen): {error}")
}

/// `webhooks install` without a URL to deliver to.
pub fn delivery_url_missing() -> String {
    "Say where Launchpad delivers to the bot: --delivery-url URL, or webhook.public_url in the config.".to_string()
}

/// `webhooks install` without the secret in `variable`.
pub fn install_without_secret(variable: &str) -> String {
    format!(
        "Set {variable} to the secret the listener checks deliveries with (the same one `run` is given)."
    )
}

/// `login` failed.
pub fn login_failed(error: impl std::fmt::Display) -> String {
    format!("Login failed: {error}")
}

/// `check-config --online` of a Mattermost bot without its token in `variable`.
pub fn mattermost_check_needs_token(variable: &str) -> String {
    format!("chat.service is \"mattermost\": set {variable} to check the bot's token and channels.")
}

/// What `check-config --online` found of one Mattermost setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MattermostCheck {
    /// The token in `variable` is refused by the server at `url`.
    TokenRefused { variable: String, url: String },
    /// The server at `url` cannot be asked.
    Unreachable { url: String, error: String },
    /// The token in `variable` works: the bot is `username` on `url`.
    TokenWorks {
        variable: String,
        username: String,
        url: String,
    },
    /// The account is a person's, not a bot's.
    NotABot { username: String },
    /// The bot is a member of `team`, or (with the error) is not or it does not exist.
    Team {
        team: String,
        missing: Option<String>,
    },
    /// The config's `key` names channel `id`, which the bot cannot see.
    NoChannel {
        key: String,
        id: String,
        error: String,
    },
    /// The bot is a member of channel `id` (`~name`) named by `key`, or not.
    Channel {
        key: String,
        id: String,
        name: String,
        member: bool,
    },
}

impl MattermostCheck {
    /// Whether what was checked holds (a person's account holds, with advice).
    pub fn holds(&self) -> bool {
        match self {
            MattermostCheck::TokenRefused { .. }
            | MattermostCheck::Unreachable { .. }
            | MattermostCheck::NoChannel { .. } => false,
            MattermostCheck::TokenWorks { .. } | MattermostCheck::NotABot { .. } => true,
            MattermostCheck::Team { missing, .. } => missing.is_none(),
            MattermostCheck::Channel { member, .. } => *member,
        }
    }

    /// Its line.
    pub fn line(&self) -> String {
        match self {
            MattermostCheck::TokenRefused { variable, url } => format!("{variable} is refused by {url}: make a new token for the bot account (System Console → Integrations → Bot Accounts)."),
            MattermostCheck::Unreachable { url, error } => format!("{url}: {error}"),
            MattermostCheck::TokenWorks {
                variable,
                username,
                url,
            } => format!("{variable} works: the bot is @{username} on {url}."),
            MattermostCheck::NotABot { username } => format!("@{username} is not a bot account; a bot account is better (its token does not expire and it cannot log in)."),
            MattermostCheck::Team {
                team,
                missing: None,
            } => format!("mattermost.team {team}: the bot is a member."),
            MattermostCheck::Team {
                team,
                missing: Some(error),
            } => format!("mattermost.team {team}: the bot is not a member, or there is no such team ({error})."),
            MattermostCheck::NoChannel { key, id, error } => {
                format!("{key} {id}: no such channel the bot can see ({error}).")
            }
            MattermostCheck::Channel {
                key,
                id,
                name,
                member: true,
            } => format!("{key} {id} (~{name}): the bot is a member."),
            MattermostCheck::Channel {
                key,
                id,
                name,
                member: false,
            } => format!("{key} {id} (~{name}): the bot is not a member; add it to the channel (it hears and posts only where it is a member)."),
        }
    }
}

/// The words on each kind of button.
pub mod buttons {
    /// A large rebuild's confirmation.
    pub const CONFIRM: &str = "Confirm";
    /// Dropping a large rebuild.
    pub const ABORT: &str = "Abort";
    /// A failed upload's retry.
    pub const RETRY_UPLOAD: &str = "Retry upload";
    /// A grouped alert's retry.
    pub const RETRY_UPLOADS: &str = "Retry uploads";
    /// A running job's board.
    pub const CANCEL_JOB: &str = "Cancel job";
    /// A failed build in the summary.
    pub const SHOW_LOG: &str = "Show log";
}
/// Ctrl-C while builds not asked for are still to be cancelled: it waits for them.
pub fn interrupt_waits(recipes: &[String]) -> String {
    format!(
        "Stopping once the builds not asked for are cancelled (of {}). Ctrl-C again stops now.",
        recipes.join(", ")
    )
}

/// A second Ctrl-C: it stops now, naming what may still build.
pub fn interrupt_leaves(id: JobId, recipes: &[String]) -> String {
    format!(
        "Stopping now: builds not asked for may still run for {}; `image-builder wait {}` cancels them.",
        recipes.join(", "),
        id.0
    )
}

/// What `wait` follows, before it starts.
pub fn waiting_for(ids: &[JobId]) -> String {
    match ids {
        [] => "Nothing to wait for: every job in the store has ended.".to_string(),
        _ => {
            let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
            format!(
                "Following job{} {} to the end (Ctrl-C leaves the rest to a later `image-builder wait`).",
                if ids.len() == 1 { "" } else { "s" },
                ids.join(", ")
            )
        }
    }
}

/// `build --launchpad sim --wait` stopped by Ctrl-C: the simulator ends with it.
pub fn sim_interrupted(id: JobId) -> String {
    format!("Job {id} ends here: the simulator it ran on stops with this process.")
}

/// `build --wait`, `wait`, `cancel` or `retry` stopped by Ctrl-C.
pub fn interrupted(id: JobId) -> String {
    format!(
        "Job {id} goes on on Launchpad; `image-builder wait {}` follows it.",
        id.0
    )
}
