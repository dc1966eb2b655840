//! Alerts and notices: a failed, superseded or unreadable upload, its retries, a request lost
//! or refused, Launchpad unreachable, and each failure's reason.

use std::fmt::Write;

use super::board::build_name;
use super::target_name;
use crate::jobs::model::{BuildTrack, Job, LostRequest, RequestFailure, Target};
use crate::messages::{count, Front};
use crate::target::JobId;

/// Why a build's upload failed, for people: Launchpad's summary; for a build Launchpad cannot
/// show, what that means.
pub fn upload_reason(build: &BuildTrack) -> String {
    match (&build.upload_error, &build.unreadable) {
        (Some(summary), _) => summary.clone(),
        (None, Some(oops)) if build.failure_delivered() => format!(
            "it failed on several registries, and Launchpad cannot show the registries' errors ({oops})"
        ),
        (None, Some(oops)) => format!(
            "most likely it failed on several registries: Launchpad cannot show this build ({oops}), which it does only then"
        ),
        (None, None) => "Launchpad gave no reason".to_string(),
    }
}

/// The web page of a Launchpad object, from its API URL: the API's host (`api.`) and version
/// (`devel/`) are not in web links.
pub fn web_link_of(api_url: &str) -> String {
    let Some((scheme, rest)) = api_url.split_once("://") else {
        return api_url.to_string();
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.strip_prefix("api.").unwrap_or(host);
    let path = ["devel/", "1.0/", "beta/"]
        .iter()
        .find_map(|version| path.strip_prefix(version))
        .unwrap_or(path);
    format!("{scheme}://{host}/{path}")
}

/// The alert for a failed upload: `failure` says which of the build's failures it is (after a
/// retry, the second, ...).
pub fn upload_failed(
    job: &Job,
    target: &Target,
    build: &BuildTrack,
    failure: u32,
    front: Front,
) -> String {
    let again = if failure > 1 { " again" } else { "" };
    // A job that retries its uploads by itself says so, rather than asking for a retry that
    // is already coming (it says so again if it gives up).
    let next = if job.auto_retry_uploads {
        "It is retried by itself (auto-retry of uploads).".to_string()
    } else {
        format!(
            "Retry with `{}`.",
            front.command(&format!("retry uploads {}", job.id))
        )
    };
    format!(
        "Upload failed{again}: {} (job {}): {}\n{}\n{next}",
        build_name(target, build),
        job.id,
        upload_reason(build),
        build.web_link,
    )
}

/// A job's failed upload in one line (for `status`, when a mute kept it quiet).
pub fn failure_line(job: &Job, target: &Target, build: &BuildTrack) -> String {
    format!(
        "• {} (job {}): {} {}",
        build_name(target, build),
        job.id,
        upload_reason(build),
        build.web_link
    )
}

/// A build of a job whose entry Launchpad cannot show, as an earlier version said it (an
/// outbox it stored is still said).
pub fn build_unreadable(
    job: &Job,
    target: &Target,
    build: &BuildTrack,
    oops_id: Option<&str>,
    front: Front,
) -> String {
    format!(
        "Cannot read {} (job {}): Launchpad answers its entry with an error ({}); most likely its upload failed on several registries. Retry with `{}`, or look at it there:\n{}",
        build_name(target, build),
        job.id,
        oops_id.unwrap_or("no OOPS id given"),
        front.command(&format!("retry uploads {}", job.id)),
        build.web_link
    )
}

/// An upload auto-retry scheduled was superseded: not a recovery.
pub fn upload_superseded(job: &Job, target: &Target, build: &BuildTrack) -> String {
    format!(
        "The retried upload of {} (job {}) was superseded: {}",
        build_name(target, build),
        job.id,
        superseded_reason(target)
    )
}

/// What a superseded build means, with where to see the newer build.
pub(super) fn superseded_reason(target: &Target) -> String {
    format!(
        "superseded by a newer build of the recipe ({}): nothing pushed for this one",
        web_link_of(&target.recipe_url)
    )
}

/// A request whose answer was lost was sent again, without deliveries to find the first.
pub fn request_asked_again(job: &Job, target: &Target) -> String {
    format!(
        "{} (job {}): the answer to its build request was lost, so it was asked again. {}",
        target_name(target),
        job.id,
        asked_again_risk(target)
    )
}

/// What may have happened to a recipe asked for twice, and what to look at.
pub(super) fn asked_again_risk(target: &Target) -> String {
    format!(
        "Launchpad may have built it twice, or the first request's builds (other architectures too) run without being followed or cancelled here: Launchpad lists no recipe's builds, so only its page shows them: {}",
        web_link_of(&target.recipe_url)
    )
}

/// Auto-retry is trying again; from the second attempt on, this is also where the failure of
/// the attempt before is told.
pub fn upload_retrying(job: &Job, target: &Target, build: &BuildTrack, budget: u32) -> String {
    let mut text = format!(
        "Retrying the upload of {} (job {}): attempt {} of {budget}.",
        build_name(target, build),
        job.id,
        build.auto_retries
    );
    if build.auto_retries > 1 {
        let _ = write!(
            text,
            " Attempt {} failed too: {}",
            build.auto_retries - 1,
            upload_reason(build)
        );
    }
    text
}

/// Auto-retry worked.
pub fn upload_recovered(job: &Job, target: &Target, build: &BuildTrack, attempts: u32) -> String {
    format!(
        "The upload of {} (job {}) worked on retry {attempts}.",
        build_name(target, build),
        job.id
    )
}

/// Auto-retry stopped.
pub fn upload_gave_up(
    job: &Job,
    target: &Target,
    build: &BuildTrack,
    attempts: u32,
    refusal: Option<&str>,
    front: Front,
) -> String {
    let why = match refusal {
        Some(refusal) => format!(": {refusal}"),
        None => String::new(),
    };
    format!(
        "Giving up on the upload of {} (job {}) after {}{why}. Retry by hand with `{}`.",
        build_name(target, build),
        job.id,
        count(attempts as usize, "retry", "retries"),
        front.command(&format!("retry uploads {}", job.id))
    )
}

/// Launchpad deduped the request.
pub fn already_pending(job: &Job, target: &Target) -> String {
    let recipe = web_link_of(&target.recipe_url);
    if target.asked_again {
        format!(
            "{} (job {}): Launchpad says identical builds are already queued: most likely the ones this job's first request made, whose answer was lost. They are not followed here; look at them on the recipe's page: {recipe}",
            target_name(target),
            job.id
        )
    } else {
        format!(
            "{} (job {}): Launchpad says identical builds are already queued by another request, so nothing new was requested and those builds are not followed here. The recipe's page: {recipe}",
            target_name(target),
            job.id
        )
    }
}

/// Launchpad cannot be reached.
pub fn unreachable(job: &Job, cause: &str) -> String {
    format!(
        "Job {}: Launchpad cannot be reached ({cause}). I keep trying, waiting longer each time; nothing is lost meanwhile.",
        job.id
    )
}

/// Launchpad answers again.
pub fn reachable(job: &Job) -> String {
    format!("Job {}: Launchpad answers again; carrying on.", job.id)
}

/// A job stopped because the job store could not be written.
pub fn store_failed(id: JobId) -> String {
    format!(
        "Job {id} stopped: the job store cannot be written (disk full?), so nothing more is sent to Launchpad until it can be recorded. Free the space, then resume it (`image-builder wait`, or restart the bot)."
    )
}

/// Why a target's request failed, in a sentence.
pub fn failure_reason(target: &Target, reason: &RequestFailure) -> String {
    match reason {
        RequestFailure::Launchpad(words) => words.clone(),
        RequestFailure::Lost {
            lost: LostRequest::Twice,
        } => lost_twice(&target.recipe_url),
        RequestFailure::Lost {
            lost: LostRequest::LongAgo { minutes },
        } => lost_long_ago(*minutes, &target.recipe_url),
    }
}

/// Why a target whose request's answer was lost long ago is not asked again.
pub(super) fn lost_long_ago(minutes: i64, recipe_url: &str) -> String {
    format!(
        "the answer to its build request was lost {minutes} min ago, too long ago to ask again without risking a second build of every architecture; look at the recipe's page, and rebuild it if nothing is building: {}",
        web_link_of(recipe_url)
    )
}

/// Why a target whose request's answer was lost twice is given up.
pub(super) fn lost_twice(recipe_url: &str) -> String {
    format!(
        "Launchpad did not confirm the build request twice; look at the recipe's page: {}",
        web_link_of(recipe_url)
    )
}

/// Launchpad refused the credentials for `requestBuilds`: in plain words, once per job.
pub fn refused(job: &Job, message: &str) -> String {
    let not_owner = message
        .strip_suffix('.')
        .and_then(|text| text.split_once(" cannot create OCI image builds owned by "));
    match not_owner {
        Some((user, owner)) => format!(
            "Job {}: Launchpad refused to build: these credentials belong to {user}, who is not in {owner}, the team that owns the recipes. Log in with `image-builder login` as a member of {owner} (or ask to join it). Nothing was requested.",
            job.id
        ),
        None => format!(
            "Job {}: Launchpad refused the credentials ({message}). Log in again with `image-builder login`. Nothing more was requested.",
            job.id
        ),
    }
}

/// A target's request failed.
pub fn request_failed(job: &Job, target: &Target, reason: &RequestFailure) -> String {
    format!(
        "{} (job {}): the build request failed: {}",
        target_name(target),
        job.id,
        failure_reason(target, reason)
    )
}
