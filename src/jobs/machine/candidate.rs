//! Builds the job did not ask for but may own: a delivery names a build or request no target
//! knows, and the machine reads it to see whether it is this job's own (its answer lost).

use chrono::{DateTime, Utc};

use super::request::track;
use super::{poll_soon, Action, BuildSnapshot, Rules, Step};
use crate::jobs::model::{Job, MissingWhy, Phase, Target};
use crate::jobs::notice::BuildCall;
use crate::launchpad::LaunchpadError;

/// A delivery names a build request (and a build) of a target's recipe that no job knows: if
/// the target waits for its own lost request, or for a skipped architecture's queued build,
/// read them to see.
pub(super) fn candidate(
    job: &Job,
    recipe_url: &str,
    request_url: Option<&str>,
    build_url: Option<&str>,
    now: DateTime<Utc>,
    step: &mut Step,
) {
    for (index, target) in job.targets.iter().enumerate() {
        if target.recipe_url != recipe_url || !target.awaits_delivery(now) {
            continue;
        }
        match (&target.phase, request_url, build_url) {
            (Phase::Requesting { .. } | Phase::InDoubt { .. }, Some(url), Some(build)) => {
                step.actions.push(Action::ReadCandidateRequest {
                    target: index,
                    url: url.to_string(),
                    build: build.to_string(),
                });
            }
            (Phase::Following { .. }, _, _) => {
                let known = |url: &str| target.builds.iter().any(|build| *build.url == *url);
                if let Some(url) = build_url.filter(|url| !known(url)) {
                    step.actions.push(Action::ReadCandidateBuild {
                        target: index,
                        url: url.to_string(),
                        own: false,
                    });
                }
            }
            _ => {}
        }
    }
}

/// A candidate build request was looked at: one whose builds were requested by the person
/// these credentials act for, that no job knows (else the delivery would have gone to that
/// job), is taken for the lost one and followed from here as if its answer had come.
pub(super) fn candidate_request_read(
    target: &mut Target,
    url: String,
    result: Result<bool, LaunchpadError>,
    now: DateTime<Utc>,
    rules: &Rules,
) {
    if !matches!(
        target.phase,
        Phase::Requesting { .. } | Phase::InDoubt { .. }
    ) {
        return;
    }
    if let Ok(true) = result {
        target.phase = Phase::Requested { request_url: url };
        poll_soon(&mut target.poll, now, rules);
    }
}

/// A candidate build was read: a build of an architecture Launchpad skipped (the queued build
/// of another request that made it skip) is followed as the one asked for.
pub(super) fn candidate_build_read(
    target: &mut Target,
    index: usize,
    (own, result): (bool, Result<BuildSnapshot, LaunchpadError>),
    auto: bool,
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    let Ok(snapshot) = result else {
        return;
    };
    if target
        .builds
        .iter()
        .any(|build| *build.url == *snapshot.url)
    {
        return;
    }
    let asked = target.arches.iter().any(|a| a.as_str() == snapshot.arch);
    if own && target.unlisted() && !asked {
        // A build of the request Launchpad could not list, of an architecture not asked for:
        // cancelled, as listed ones are.
        track(target, index, snapshot, false, auto, now, rules, step);
        let build_index = target.builds.len() - 1;
        let build = &mut target.builds[build_index];
        if build.can_be_cancelled {
            build.cancel_sent = true;
            step.actions.push(Action::Call {
                target: index,
                build: build_index,
                call: BuildCall::Cancel,
            });
        }
        return;
    }
    // Any build of that architecture a delivery names while the job waits (or that Launchpad
    // could not list): Launchpad's clock and this one's cannot be compared, and a newer build
    // of it serves as well.
    let Some(position) = target.missing.iter().position(|missing| {
        missing.arch.as_str() == snapshot.arch
            && match missing.why {
                MissingWhy::Skipped { .. } => true,
                MissingWhy::Unlisted { .. } => own,
                _ => false,
            }
    }) else {
        return;
    };
    target.missing.remove(position);
    track(target, index, snapshot, true, auto, now, rules, step);
}
