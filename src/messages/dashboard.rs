//! The dashboard's words that depend on data: ages, the count of what needs a hand, why a cell
//! is empty, a job's outcome, what became of a failed upload. The pages' fixed words are in
//! their templates (`templates/`).

use chrono::{DateTime, Utc};

use super::count;
use crate::jobs::model::{Job, JobStatus};
use crate::target::Arch;

/// Why the dashboard is not served where the config says.
pub fn exposed_without_token(address: &str, env: &str) -> String {
    format!(
        "web.listen {address} is not a loopback address: set {env} (a long random token; \
         open /login?token=TOKEN once per browser), or put a reverse proxy that checks who \
         asks in front and set web.behind_proxy = true (docs/dashboard.md)."
    )
}

/// What is wrong with the fleet page's filters, if anything.
pub fn bad_filter(
    series: Option<&str>,
    arch: Option<&str>,
    state: Option<&str>,
    states: &[&str],
) -> Option<String> {
    if let Some(series) = series {
        return Some(format!("No series {series:?} in the catalogue."));
    }
    if let Some(arch) = arch {
        return Some(format!("No architecture {arch:?} in the catalogue."));
    }
    state.map(|state| format!("No state {state:?}: use one of {}.", states.join(", ")))
}

/// `just now`, `4m ago`, `3h ago`, `2 days ago`.
pub fn age(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - at).num_seconds().max(0);
    match seconds {
        s if s < 60 => "just now".to_string(),
        s if s < 3600 => format!("{}m ago", s / 60),
        s if s < 2 * 86400 => format!("{}h ago", s / 3600),
        s => format!("{} days ago", s / 86400),
    }
}

/// The fleet's headline: what needs a hand, what runs.
pub fn fleet_counts(build_failed: usize, upload_failed: usize, running: usize) -> String {
    let hand = build_failed + upload_failed;
    let mut text = if hand == 0 {
        "Nothing needs a hand".to_string()
    } else {
        format!(
            "{} a hand: {}, {}",
            count(hand, "needs", "need"),
            count(build_failed, "failed build", "failed builds"),
            count(upload_failed, "failed upload", "failed uploads"),
        )
    };
    if running > 0 {
        text.push_str(&format!(" · {} running", count(running, "build", "builds")));
    }
    text
}

/// Why a cell of the fleet has no build: the image is not built for that architecture.
pub fn not_built_for(arch: &Arch) -> String {
    format!("not built for {arch} (the catalogue leaves it out)")
}

/// A job's outcome in the jobs list: `finished · 12 done, 1 upload failed`.
pub fn job_outcome(job: &Job) -> String {
    let tally = job.tally();
    let mut parts = vec![format!("{} done", tally.succeeded)];
    for (n, what) in [
        (tally.build_failed, "build failed"),
        (tally.upload_failed, "upload failed"),
        (tally.cancelled, "cancelled"),
        (tally.superseded, "superseded"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    format!("{} · {}", super::jobs::status_word(job), parts.join(", "))
}

/// How long a job took, or has been running.
pub fn job_duration(job: &Job, now: DateTime<Utc>) -> String {
    let end = match job.status {
        JobStatus::Running => now,
        _ => job.finished_at.unwrap_or(now),
    };
    super::jobs::elapsed(job.created_at, end)
}

/// A build Launchpad cannot show (so its architecture is not known): `postgres 14 on 22.04,
/// build 123`, or its URL when the catalogue does not have its recipe.
pub fn unshown_build(recipe: Option<&crate::history::RecipeBuilds>, link: &str) -> String {
    let number = link.rsplit('/').next().unwrap_or_default();
    match recipe {
        Some(recipe) => format!(
            "{} {} on {}, build {number} (architecture not shown)",
            recipe.image, recipe.track, recipe.series
        ),
        None => link.to_string(),
    }
}

/// Why such a build has no error of its own on the page.
pub fn unshown_error() -> String {
    "its pushes failed on several registries; Launchpad cannot show it until its next upload"
        .to_string()
}

/// Whether a failed upload was told: `told`, `claimed, not yet told`, `muted`, `not told`.
pub fn told(said: Option<bool>, muted: bool) -> &'static str {
    match (said, muted) {
        (_, true) => "muted",
        (Some(true), _) => "told",
        (Some(false), _) => "being told",
        (None, false) => "not told",
    }
}

/// What the retries of a failed upload came to, and how it stands now: `not retried; upload
/// failed`, `2 retries; done`.
pub fn retries(retried: u32, now: &str) -> String {
    if retried == 0 {
        return format!("not retried; {now}");
    }
    format!("{}; {now}", count(retried as usize, "retry", "retries"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_counts_read_as_people_say_them() {
        let now = Utc::now();
        assert_eq!(age(now, now), "just now");
        assert_eq!(age(now - chrono::TimeDelta::minutes(4), now), "4m ago");
        assert_eq!(age(now - chrono::TimeDelta::hours(30), now), "30h ago");
        assert_eq!(age(now - chrono::TimeDelta::days(9), now), "9 days ago");
        assert_eq!(fleet_counts(0, 0, 0), "Nothing needs a hand");
        assert_eq!(
            fleet_counts(1, 2, 4),
            "3 need a hand: 1 failed build, 2 failed uploads · 4 builds running"
        );
        assert_eq!(told(Some(true), false), "told");
        assert_eq!(told(Some(true), true), "muted");
        assert_eq!(retries(2, "done"), "2 retries; done");
        assert_eq!(retries(0, "upload failed"), "not retried; upload failed");
    }
}
