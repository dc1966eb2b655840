//! What the terminal front end says: the config checked, logging in, the sandbox's banner and
//! greetings, a recipe missing or refused.

use super::count;

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
