//! What `history` says: a first line that answers "when was this last rebuilt, and did it
//! publish?", then each rebuild, newest first.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::jobs::{progress_word, symbol};
use crate::command::HistoryQuery as Query;
use crate::history::PastRebuild;
use crate::jobs::model::Progress;

/// The answer to `history` for `rebuilds` (newest first, as [`crate::history::rebuilds`]
/// groups them), kept `keep_days`.
pub fn history(
    rebuilds: &[PastRebuild],
    query: &Query,
    keep_days: u64,
    now: DateTime<Utc>,
) -> String {
    let what = subject(query);
    let Some(newest) = rebuilds.first() else {
        return format!(
            "No rebuild of {what} in the history (it keeps the last {keep_days} days)."
        );
    };
    let verdict = if newest.running() {
        "still building".to_string()
    } else if newest.published() {
        "published".to_string()
    } else {
        let failed: Vec<String> = newest
            .builds
            .iter()
            .filter(|b| !b.published())
            .map(|b| format!("{} {} {}", b.image, b.arch, progress_word(b.progress())))
            .collect();
        format!("not published ({})", failed.join(", "))
    };
    let mut text = format!(
        "**{}** was last rebuilt {} ({} ago){}: {verdict}.",
        capitalised(&what),
        date(newest.requested_at),
        ago(newest.requested_at, now),
        who(newest),
    );
    for rebuild in rebuilds {
        let _ = write!(text, "\n• {}", line(rebuild));
    }
    text
}

/// `redis on 22.04 arm64`, `anything`.
fn subject(query: &Query) -> String {
    let mut words: Vec<String> = query.images.iter().map(ToString::to_string).collect();
    if words.is_empty() {
        words.push("any image".to_string());
    }
    let mut text = words.join(", ");
    if !query.series.is_empty() {
        let series: Vec<String> = query.series.iter().map(ToString::to_string).collect();
        let _ = write!(text, " on {}", series.join(", "));
    }
    if !query.arches.is_empty() {
        let arches: Vec<String> = query.arches.iter().map(ToString::to_string).collect();
        let _ = write!(text, " for {}", arches.join(", "));
    }
    if let Some(by) = &query.by {
        let _ = write!(text, " asked for by {by}");
    }
    text
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// ` by alice (job #12)`, ` by ~someone on Launchpad`.
fn who(rebuild: &PastRebuild) -> String {
    let person = rebuild.requester.as_deref().unwrap_or("someone");
    match rebuild.job {
        Some(job) => format!(" by {person} (job {job})"),
        None => format!(" by {person} on Launchpad"),
    }
}

/// One rebuild: when, which job, who, why, then each recipe's builds.
fn line(rebuild: &PastRebuild) -> String {
    let mut text = date(rebuild.requested_at);
    match rebuild.job {
        Some(job) => {
            let _ = write!(text, " · job {job}");
        }
        None => text.push_str(" · on Launchpad"),
    }
    let _ = write!(
        text,
        " · {}",
        rebuild.requester.as_deref().unwrap_or("someone")
    );
    if let Some(reason) = &rebuild.reason {
        let _ = write!(text, " · “{}”", reason.replace(['`', '*', '_'], ""));
    }
    text.push(':');
    let mut recipes: Vec<(String, Vec<String>)> = Vec::new();
    for build in &rebuild.builds {
        let recipe = format!("{} {} on {}", build.image, build.track, build.series);
        let progress = build.progress();
        let mut outcome = format!("{} {}", build.arch, symbol(progress));
        if progress != Progress::Done {
            let _ = write!(outcome, " {}", progress_word(progress));
            if let (Progress::UploadFailed, Some(error)) = (progress, &build.upload_error) {
                let _ = write!(outcome, " ({error})");
            }
        }
        match recipes.iter_mut().find(|(name, _)| *name == recipe) {
            Some((_, outcomes)) => outcomes.push(outcome),
            None => recipes.push((recipe, vec![outcome])),
        }
    }
    for (recipe, outcomes) in recipes {
        let _ = write!(text, " {recipe}: {};", outcomes.join(", "));
    }
    text.pop();
    text
}

fn date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `3 days`, `5 hours`, `12 minutes`, `under a minute`.
fn ago(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let minutes = (now - then).num_minutes().max(0);
    let plural = |n: i64, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
    match minutes {
        0 => "under a minute".to_string(),
        m if m < 60 => plural(m, "minute"),
        m if m < 48 * 60 => plural(m / 60, "hour"),
        m => plural(m / (24 * 60), "day"),
    }
}
