//! What the bot says about failed uploads outside a job's own messages: alerts for builds
//! nobody asked it for (alone or grouped), the outcome of the retries it makes for them, builds
//! Launchpad cannot show, and mutes. Pure, like the rest of [`super`].

use chrono::{DateTime, Utc};

use super::count;
use crate::launchpad::models::Build;
use crate::target::ImageName;

/// The alert for a failed upload of a build the bot did not start; `failure` says which of
/// its failures it is (a retried one fails "again").
pub fn untracked_upload_failed(build: &Build, failure: u32) -> String {
    format!(
        "Upload failed{}: {} (not started by me): {}\n{}\nRetry it with the button, or on that page.",
        again(failure),
        build.title,
        reason(build),
        build.web_link
    )
}

fn again(failure: u32) -> &'static str {
    if failure > 1 {
        " again"
    } else {
        ""
    }
}

fn reason(build: &Build) -> &str {
    build
        .registry_upload_error_summary
        .as_deref()
        .unwrap_or("Launchpad gave no reason")
}

/// One failed upload in a grouped alert (and in `status`, when a mute kept it quiet).
pub fn untracked_line(build: &Build, failure: u32) -> String {
    format!(
        "• {}{}: {} {}",
        build.title,
        if failure > 1 { " (failed again)" } else { "" },
        reason(build),
        build.web_link
    )
}

/// The first line of a grouped alert: how many failed, over what window.
pub fn grouped_head(failures: usize, window: std::time::Duration) -> String {
    format!(
        "{} failed in the last {}:",
        count(failures, "upload", "uploads"),
        count((window.as_secs() / 60).max(1) as usize, "minute", "minutes"),
    )
}

/// The first line of a grouped alert's next message, once the first is full.
pub fn grouped_continued(part: usize) -> String {
    format!("Failed uploads, continued ({part}):")
}

/// The answer to a click on a Retry button of an alert: what was retried and what was not.
pub fn retrying_untracked(retried: usize, refused: &[String]) -> String {
    let mut text = match retried {
        0 => "Nothing was retried.".to_string(),
        n => format!(
            "Retrying {}; I will say here how {} ends.",
            count(n, "upload", "uploads"),
            if n == 1 { "it" } else { "each" }
        ),
    };
    if !refused.is_empty() {
        text.push_str("\nNot retried:\n");
        text.push_str(&refused.join("\n"));
    }
    text
}

/// A line of [`retrying_untracked`] for a build whose retry Launchpad refused.
pub fn not_retried(link: &str, why: &str) -> String {
    format!("• {link}: {why}")
}

/// A retried upload failed again.
pub fn upload_failed_again(build: &Build) -> String {
    format!(
        "The retried upload of {} failed again: {}\n{}",
        build.title,
        reason(build),
        build.web_link
    )
}

/// A retried upload worked.
pub fn retried_upload_worked(build: &Build) -> String {
    format!(
        "The retried upload of {} worked: uploaded.\n{}",
        build.title, build.web_link
    )
}

/// A retried upload ended neither uploaded nor failed: a newer build superseded it (nothing
/// pushed for this one), or it ended some other way.
pub fn retried_upload_ended(build: &Build) -> String {
    if build.registry_upload_status == crate::launchpad::models::UploadStatus::Superseded {
        return format!(
            "The retried upload of {} was superseded by a newer build of the recipe: nothing was pushed for this one.\n{}",
            build.title, build.web_link
        );
    }
    format!(
        "The retried upload of {} ended {}: nothing more to do.\n{}",
        build.title, build.registry_upload_status, build.web_link
    )
}

/// Why the upload of a build Launchpad cannot show failed, in place of its error summary.
pub fn errors_unshown(oops_id: Option<&str>) -> String {
    format!(
        "it failed on several registries, and Launchpad cannot show the registries' errors ({})",
        oops_id.unwrap_or("no OOPS id given")
    )
}

/// What a build Launchpad cannot show is called (its architecture is not known).
pub fn unshown_title(number: &str, recipe_path: &str) -> String {
    format!("build {number} of /{recipe_path}")
}

/// A muted alert's line (in the summary when the mute ends) for a build nobody asked for whose
/// entry Launchpad cannot show.
pub fn untracked_unreadable_line(web_link: &str, oops_id: Option<&str>) -> String {
    format!(
        "• {web_link}: cannot be read ({})",
        oops_id.unwrap_or("no OOPS id")
    )
}

/// A build nobody asked for whose entry Launchpad cannot show.
pub fn untracked_unreadable(web_link: &str, oops_id: Option<&str>) -> String {
    format!(
        "Launchpad cannot show build {web_link} ({}): its upload may have failed (Launchpad fails \
         this way on some failures to several registries). Look at it there, and quote the OOPS \
         id to Launchpad's admins.",
        oops_id.unwrap_or("no OOPS id given")
    )
}

/// The answer to `mute`.
pub fn muted(
    image: Option<&ImageName>,
    duration: impl std::fmt::Display,
    until: DateTime<Utc>,
) -> String {
    let what = image
        .map(|image| format!("of {image} "))
        .unwrap_or_default();
    format!(
        "Failed-upload alerts {what}are muted for {duration}, until {} UTC. Failures are still recorded; `status` shows them. `unmute` ends it early.",
        until.format("%a %-d %b %H:%M")
    )
}

/// The answer to `unmute`: what ended, and what the mutes kept quiet.
pub fn unmuted(ended: usize, hidden: &[String]) -> String {
    let mut text = match ended {
        0 => "Nothing was muted.".to_string(),
        n => format!(
            "Failed-upload alerts are back on ({} ended).",
            count(n, "mute", "mutes")
        ),
    };
    if !hidden.is_empty() {
        text.push_str(&muted_failures(hidden));
    }
    text
}

/// What the bot says when a mute ends by itself.
pub fn mute_ended(image: Option<&str>, hidden: usize) -> String {
    let what = image
        .map(|image| format!(" of {image}"))
        .unwrap_or_default();
    let mut text = format!("The mute ended: failed-upload alerts{what} are back on.");
    if hidden > 0 {
        text.push_str(&format!(
            " {} kept quiet while muted; `status` lists them.",
            count(hidden, "failed upload was", "failed uploads were")
        ));
    }
    text
}

/// `status`'s note of failures a mute kept quiet.
pub fn muted_failures(lines: &[String]) -> String {
    format!("\nMuted failed uploads:\n{}", lines.join("\n"))
}
