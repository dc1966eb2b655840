//! The state machine's rules for a target's build request: sending it, a lost answer, reading
//! it, listing its builds, and accounting for every architecture asked for
//! (`reference/launchpad-truths.md`, "Which architectures a request builds").
//!
//! - A lost answer never builds twice knowingly: with webhooks, the target waits
//!   ([`Rules::request_grace`]) for a delivery naming a build request of its recipe made when
//!   it was sent, and takes that request for its own; only then does it ask again. Launchpad
//!   dedupes only against queued builds, so asking again is safe only while the first
//!   request's builds are still queued; without webhooks it asks again at once, when they most
//!   likely are.
//! - An architecture asked for that the request did not build is accounted for: not among the
//!   recipe's processors, or skipped because another request's build of it is queued (which a
//!   delivery may name: then the job follows it).
//! - Credentials Launchpad refuses stop the whole job: nothing more is requested.

use chrono::{DateTime, Utc};

use super::build::apply;
use super::{back_off, later, poll_soon, Action, BuildSnapshot, Rules, Step};
use crate::jobs::model::{
    BuildTrack, Job, LostRequest, Missing, MissingWhy, Phase, Poll, RequestFailure, Target,
};
use crate::jobs::notice::{BuildCall, Notice};
use crate::launchpad::models::RequestStatus;
use crate::launchpad::{LaunchpadError, Refusal};

/// Without webhook deliveries, how recent a lost `requestBuilds` must be to be sent again: a
/// queued build waits a minute or more for a builder, and while the first request's builds
/// are queued Launchpad dedupes the second ("already pending"). Older (a restart long after a
/// crash), its builds may be building already, and a second request would build every
/// architecture again: the target says so and sends nothing.
const ASK_AGAIN_WITHIN: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Sends `requestBuilds` for a target (attempt `attempt`), recording it as being sent.
pub(super) fn send(
    target: &mut Target,
    index: usize,
    attempt: u8,
    now: DateTime<Utc>,
    step: &mut Step,
) {
    target.phase = Phase::Requesting {
        attempt,
        sent_at: Some(now),
    };
    step.actions.push(Action::RequestBuilds { target: index });
}

/// The answer to a target's `requestBuilds` never came (or the run that sent it stopped).
pub(super) fn in_doubt(
    target: &mut Target,
    index: usize,
    (attempt, sent_at): (u8, Option<DateTime<Utc>>),
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    if attempt >= 2 {
        let reason = RequestFailure::Lost {
            lost: LostRequest::Twice,
        };
        return fail_target(target, index, reason, step);
    }
    match rules.request_grace {
        Some(grace) => {
            let until = later(now, grace);
            target.phase = Phase::InDoubt {
                attempt,
                sent_at,
                until,
            };
            target.poll.due = until;
        }
        None if sent_at.is_some_and(|sent_at| now - sent_at > ASK_AGAIN_WITHIN) => {
            let minutes = sent_at.map_or(0, |sent_at| (now - sent_at).num_minutes().max(1));
            let reason = RequestFailure::Lost {
                lost: LostRequest::LongAgo { minutes },
            };
            fail_target(target, index, reason, step)
        }
        None => {
            // Said, with the recipe's page: whatever Launchpad makes of the second request,
            // builds of the first may run unfollowed (Launchpad exports no list of a recipe's
            // builds, so without deliveries they cannot be found).
            step.notices
                .push(Notice::RequestAskedAgain { target: index });
            ask_again(target, index, attempt, now, step)
        }
    }
}

/// Sends `requestBuilds` again after a lost answer.
pub(super) fn ask_again(
    target: &mut Target,
    index: usize,
    attempt: u8,
    now: DateTime<Utc>,
    step: &mut Step,
) {
    target.asked_again = true;
    send(target, index, attempt + 1, now, step);
}

/// `requestBuilds` was answered. Credentials Launchpad refuses stop the job (see [`refused`]).
pub(super) fn requested(
    job: &mut Job,
    index: usize,
    result: Result<String, LaunchpadError>,
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    let target = &mut job.targets[index];
    let Phase::Requesting { attempt, sent_at } = target.phase else {
        return;
    };
    match result {
        Ok(request_url) => {
            target.phase = Phase::Requested { request_url };
            target.requested_at = sent_at;
            // Read when its builds should exist; with deliveries, the first names them, and
            // this read is only the safety net should it be lost.
            let typical = rules.typical.request;
            let wait = if rules.pushed {
                typical.saturating_mul(2).saturating_add(rules.poll_max)
            } else {
                typical
            };
            target.poll = Poll {
                due: later(now, wait),
                interval_ms: rules.poll_min.as_millis() as u64,
            };
        }
        Err(LaunchpadError::OutcomeUnknown { .. }) => {
            in_doubt(target, index, (attempt, sent_at), now, rules, step)
        }
        Err(error) if error.is_transient() => {
            // Nothing was requested (the client retries only what is safe): ask again later.
            target.phase = Phase::ToRequest;
            target.poll.due = later(now, rules.request_retry);
        }
        Err(LaunchpadError::Unauthorized { message }) => refused(job, message, step),
        Err(error) => fail_target(
            target,
            index,
            RequestFailure::Launchpad(error.to_string()),
            step,
        ),
    }
}

/// Launchpad refused the credentials (not in the recipe's owning team, or not valid): the same
/// answer awaits every other recipe, so nothing more is requested, and it is said once.
fn refused(job: &mut Job, message: String, step: &mut Step) {
    for target in &mut job.targets {
        if matches!(target.phase, Phase::ToRequest | Phase::Requesting { .. }) {
            target.phase = Phase::Failed {
                reason: RequestFailure::Launchpad(message.clone()),
            };
        }
    }
    step.notices.push(Notice::Refused { message });
}

pub(super) fn fail_target(
    target: &mut Target,
    index: usize,
    reason: RequestFailure,
    step: &mut Step,
) {
    target.phase = Phase::Failed {
        reason: reason.clone(),
    };
    step.notices.push(Notice::RequestFailed {
        target: index,
        reason,
    });
}

pub(super) fn request_read(
    target: &mut Target,
    index: usize,
    result: Result<(RequestStatus, Option<String>, String), LaunchpadError>,
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    if !matches!(target.phase, Phase::Requested { .. }) {
        return;
    }
    match result {
        Ok((RequestStatus::Completed, _, builds_url)) => {
            step.actions.push(Action::ListBuilds {
                target: index,
                url: builds_url,
                ran: true,
            });
        }
        Ok((RequestStatus::Failed, message, _)) => {
            let message = message.unwrap_or_else(|| "no reason given".to_string());
            if Refusal::from_message(&message) == Some(Refusal::AlreadyPending) {
                target.phase = Phase::AlreadyPending;
                step.notices.push(Notice::AlreadyPending { target: index });
            } else {
                fail_target(target, index, RequestFailure::Launchpad(message), step);
            }
        }
        Ok(_) => back_off(&mut target.poll, now, rules),
        Err(error) if error.is_transient() => back_off(&mut target.poll, now, rules),
        Err(error) => fail_target(
            target,
            index,
            RequestFailure::Launchpad(error.to_string()),
            step,
        ),
    }
}

/// A request's builds were listed: those of architectures not asked for are cancelled, and
/// every architecture asked for without a build is accounted for (the recipe's processors
/// are read to tell why). An empty list from a request not known to have run is read to tell
/// whether it has ([`Action::ListBuilds`]).
pub(super) fn builds_listed(
    target: &mut Target,
    index: usize,
    (ran, result): (bool, Result<Vec<BuildSnapshot>, LaunchpadError>),
    (cancel_all, auto): (bool, bool),
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    let request_url = match &target.phase {
        Phase::Requested { request_url } => request_url.clone(),
        _ => return,
    };
    let snapshots = match result {
        Ok(snapshots) => snapshots,
        Err(LaunchpadError::Server {
            status: 500,
            oops_id,
            ..
        }) => {
            return unlisted(
                target,
                index,
                request_url,
                oops_id,
                (cancel_all, now),
                rules,
                step,
            )
        }
        Err(error) if error.is_transient() => return back_off(&mut target.poll, now, rules),
        Err(error) => {
            return fail_target(
                target,
                index,
                RequestFailure::Launchpad(error.to_string()),
                step,
            )
        }
    };
    target.list_errors = 0;
    if snapshots.is_empty() && !ran {
        step.actions.push(Action::ReadRequest { target: index });
        return;
    }
    target.phase = Phase::Following { request_url };
    target.builds.clear();
    for snapshot in snapshots {
        let wanted = !cancel_all
            && target
                .arches
                .iter()
                .any(|arch| arch.as_str() == snapshot.arch);
        track(target, index, snapshot, wanted, auto, now, rules, step);
        if let Some(build) = target.builds.last_mut() {
            // Not started before its request was sent, if not seen queued since.
            build.unstarted_at = build.unstarted_at.or(target.requested_at);
        }
    }
    for (build_index, build) in target.builds.iter_mut().enumerate() {
        if build.to_cancel(cancel_all) && build.can_be_cancelled {
            build.cancel_sent = true;
            step.actions.push(Action::Call {
                target: index,
                build: build_index,
                call: BuildCall::Cancel,
            });
        }
    }
    target.missing = target
        .arches
        .iter()
        .filter(|arch| !target.builds.iter().any(|build| &build.arch == *arch))
        .map(|arch| Missing {
            arch: arch.clone(),
            why: MissingWhy::Unknown,
        })
        .collect();
    if !target.missing.is_empty() {
        step.actions.push(Action::ReadProcessors { target: index });
    }
}

/// Launchpad answered the listing of a request's builds with 500: a collection holding a build
/// it cannot show (a failed upload on several registries) cannot be shown either. After
/// [`super::UNREADABLE_AFTER`] such answers the job goes on with what it knows: the builds
/// deliveries named are read one by one, and every architecture asked for that none of them
/// turns out to be is accounted for as unlisted.
fn unlisted(
    target: &mut Target,
    index: usize,
    request_url: String,
    oops_id: Option<String>,
    (cancel_all, now): (bool, DateTime<Utc>),
    rules: &Rules,
    step: &mut Step,
) {
    target.list_errors = target.list_errors.saturating_add(1);
    if target.list_errors < super::UNREADABLE_AFTER {
        return poll_soon(&mut target.poll, now, rules);
    }
    target.phase = Phase::Following { request_url };
    target.builds.clear();
    target.missing = if cancel_all {
        Vec::new()
    } else {
        target
            .arches
            .iter()
            .map(|arch| Missing {
                arch: arch.clone(),
                why: MissingWhy::Unlisted {
                    oops_id: oops_id.clone(),
                },
            })
            .collect()
    };
    for url in &target.named_builds {
        step.actions.push(Action::ReadCandidateBuild {
            target: index,
            url: url.clone(),
            own: true,
        });
    }
}

/// Follows a build of the target: taken in as a first read, so a build already failed (or
/// already uploaded) when first seen is told like one seen failing.
#[allow(clippy::too_many_arguments)]
pub(super) fn track(
    target: &mut Target,
    index: usize,
    snapshot: BuildSnapshot,
    wanted: bool,
    auto: bool,
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    let arch = snapshot
        .arch
        .parse()
        .unwrap_or_else(|_| "unknown".parse().expect("a valid name"));
    let poll = Poll {
        due: later(now, rules.poll_min),
        interval_ms: rules.poll_min.as_millis() as u64,
    };
    let mut build = BuildTrack::new(
        snapshot.url.clone(),
        snapshot.web_link.clone(),
        arch,
        wanted,
        poll,
    );
    let build_index = target.builds.len();
    apply(
        &mut build,
        (index, build_index),
        snapshot,
        auto,
        now,
        rules,
        step,
    );
    target.builds.push(build);
}

/// The recipe's processors were read: each architecture asked for without a build is either
/// not built by the recipe, or was skipped by Launchpad (a queued build of it from another
/// request), which the job then waits a while to see named by a delivery.
pub(super) fn processors_read(
    target: &mut Target,
    index: usize,
    result: Result<Vec<String>, LaunchpadError>,
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    let processors = match result {
        Ok(processors) => processors,
        // Read again at the next look.
        Err(_) => return back_off(&mut target.poll, now, rules),
    };
    for missing in &mut target.missing {
        if missing.why != MissingWhy::Unknown {
            continue;
        }
        missing.why = if processors.iter().any(|name| name == missing.arch.as_str()) {
            // Skipped: a queued build of another request, or the series cannot build it now,
            // which its `distro_arch_series` tells.
            step.actions.push(Action::ReadArchSeries {
                target: index,
                arch: missing.arch.clone(),
            });
            MissingWhy::Skipped {
                until: rules.queued_grace.map(|grace| later(now, grace)),
                checked: false,
            }
        } else {
            MissingWhy::NotInProcessors {
                processors: processors.clone(),
            }
        };
    }
}

/// Whether Launchpad can build an architecture a request skipped was read: if not (disabled,
/// or no chroot), that is why it has no build, and no queued build elsewhere is waited for.
/// A failed read leaves it "skipped", which says both reasons.
pub(super) fn arch_series_read(
    target: &mut Target,
    arch: &crate::target::Arch,
    result: Result<bool, LaunchpadError>,
) {
    let Ok(buildable) = result else {
        return;
    };
    for missing in target.missing.iter_mut().filter(|m| &m.arch == arch) {
        if let MissingWhy::Skipped { until, .. } = missing.why {
            missing.why = if buildable {
                MissingWhy::Skipped {
                    until,
                    checked: true,
                }
            } else {
                MissingWhy::NotBuildable
            };
        }
    }
}
