//! The job state machine: one pure function, [`observe`], that takes a job and something that
//! happened (time passed, Launchpad answered, someone asked) and changes the job, returning the
//! Launchpad calls to make and the notices to give. No IO: the engine executes what it returns,
//! after storing the changed job.
//!
//! Rules it keeps (a build request's in [`request`], a build's in [`build`]):
//! - `requestBuilds` is recorded as being sent before it is sent. Found in that state after a
//!   restart, or answered "outcome unknown", it is in doubt: the job waits a while for a
//!   webhook delivery naming the build request it made, and only then sends it once more; a
//!   third time is never tried.
//! - As soon as a request's builds are known, those of architectures not asked for are
//!   cancelled (again after a failure or a restart, until Launchpad answered), and every
//!   architecture asked for that got no build is accounted for.
//! - A build is read when what it is doing (queued, building, uploading) should be over, then
//!   more often while it overruns ([`Typical`]); where webhook deliveries arrive, when one says
//!   it ended, and otherwise only as a safety net. A cancel's outcome is read only when it could
//!   not be known from the answer.
//! - A failed upload is alerted the first time it is seen, also when the build is first seen
//!   already failed; with auto-retry, further failures are reported as attempts, with backoff,
//!   up to the budget, stopping on a refusal no retry fixes.
//! - A call on a build is stored as pending before it is made and until it is answered; after a
//!   restart, pending calls are made again ([`resume`]).
//! - A build whose entry Launchpad cannot show (500) is a failed upload on several registries
//!   whose errors cannot be shown: taken so at once when a delivery said its upload failed,
//!   else after [`UNREADABLE_AFTER`] reads in a row; told once, retried by hand or auto-retry
//!   like any other (a named POST on the entry works), and read again after the retry.

use chrono::{DateTime, Utc};

use super::model::{Job, JobStatus, Phase};
use crate::launchpad::models::{BuildState, UploadStatus};
use crate::launchpad::LaunchpadError;

pub use super::notice::{BuildCall, Control, Notice};

mod build;
mod candidate;
mod clock;
mod control;
mod events;
mod request;
mod rules;

pub use crate::jobs::model::UNREADABLE_AFTER;
use clock::{back_off, poll_soon, tick};
pub use clock::{later, next_due};
use control::controlled;
pub use events::{Action, BuildSnapshot, Observation, Step};
pub use rules::{Rules, Typical};

/// Applies `observation` to `job` at `now`.
pub fn observe(job: &mut Job, observation: Observation, now: DateTime<Utc>, rules: &Rules) -> Step {
    let mut step = Step::default();
    reachability(job, &observation, &mut step);
    match observation {
        Observation::Tick => tick(job, now, rules, &mut step),
        Observation::Requested { target, result } => {
            request::requested(job, target, result, now, rules, &mut step)
        }
        Observation::RequestRead { target, result } => request::request_read(
            &mut job.targets[target],
            target,
            result,
            now,
            rules,
            &mut step,
        ),
        Observation::BuildsListed {
            target,
            ran,
            result,
        } => {
            let cancel_all = job.cancel_requested;
            let auto = job.auto_retry_uploads && !cancel_all;
            request::builds_listed(
                &mut job.targets[target],
                target,
                (ran, result),
                (cancel_all, auto),
                now,
                rules,
                &mut step,
            )
        }
        Observation::BuildRead {
            target,
            build,
            generation,
            result,
        } => {
            let auto = job.auto_retry_uploads;
            let track = &mut job.targets[target].builds[build];
            if generation != track.generation || !track.pending_calls.is_empty() {
                // Made before a call on the build, or while one is out: it may show the state
                // before the call. Look again once the call is answered.
                return finish(job, step, now, rules);
            }
            match result {
                Ok(Some(snapshot)) => build::apply(
                    track,
                    (target, build),
                    snapshot,
                    auto,
                    now,
                    rules,
                    &mut step,
                ),
                Ok(None) => {
                    track.read_errors = 0;
                    back_off(&mut track.poll, now, rules)
                }
                Err(error) => {
                    tracing::warn!(job = %job.id, build = %track.url, %error, "reading a build failed");
                    let auto = auto && !job.cancel_requested;
                    build::read_failed(track, (target, build), &error, auto, now, rules, &mut step);
                }
            }
        }
        Observation::BuildCall {
            target,
            build,
            call,
            result,
        } => {
            let track = &mut job.targets[target].builds[build];
            if let Some(index) = track.pending_calls.iter().position(|c| *c == call) {
                track.pending_calls.remove(index);
            }
            build::build_call(track, (target, build), call, result, now, rules, &mut step)
        }
        Observation::ProcessorsRead { target, result } => request::processors_read(
            &mut job.targets[target],
            target,
            result,
            now,
            rules,
            &mut step,
        ),
        Observation::ArchSeriesRead {
            target,
            arch,
            result,
        } => request::arch_series_read(&mut job.targets[target], &arch, result),
        Observation::Candidate {
            recipe_url,
            request_url,
            build_url,
        } => candidate::candidate(
            job,
            &recipe_url,
            request_url.as_deref(),
            build_url.as_deref(),
            now,
            &mut step,
        ),
        Observation::CandidateRequestRead {
            target,
            url,
            result,
        } => candidate::candidate_request_read(&mut job.targets[target], url, result, now, rules),
        Observation::CandidateBuildRead {
            target,
            own,
            result,
        } => {
            let auto = job.auto_retry_uploads && !job.cancel_requested;
            candidate::candidate_build_read(
                &mut job.targets[target],
                target,
                (own, result),
                auto,
                now,
                rules,
                &mut step,
            )
        }
        Observation::Delivered {
            build_url,
            request_url,
            reported,
        } => delivered(
            job,
            &build_url,
            request_url.as_deref(),
            reported,
            now,
            rules,
            &mut step,
        ),
        Observation::Control(control) => controlled(job, control, now, rules, &mut step),
    }
    finish(job, step, now, rules)
}

/// Whether Launchpad could be reached, from an answer: the first answer that is a timeout or
/// no connection (after the client's own retries) is said, and so is the next real answer.
fn reachability(job: &mut Job, observation: &Observation, step: &mut Step) {
    let error = match observation {
        Observation::Requested { result, .. } => result.as_ref().err(),
        Observation::RequestRead { result, .. } => result.as_ref().err(),
        Observation::BuildsListed { result, .. } => result.as_ref().err(),
        Observation::BuildRead { result, .. } => result.as_ref().err(),
        Observation::BuildCall { result, .. } => result.as_ref().err(),
        Observation::ProcessorsRead { result, .. } => result.as_ref().err(),
        Observation::ArchSeriesRead { result, .. } => result.as_ref().err(),
        Observation::CandidateRequestRead { result, .. } => result.as_ref().err(),
        Observation::CandidateBuildRead { result, .. } => result.as_ref().err(),
        Observation::Tick
        | Observation::Candidate { .. }
        | Observation::Delivered { .. }
        | Observation::Control(_) => return,
    };
    let unreachable = error.filter(|error| {
        matches!(
            error,
            LaunchpadError::Transport { .. } | LaunchpadError::Timeout { .. }
        )
    });
    match (unreachable, &job.unreachable) {
        (Some(error), None) => {
            job.unreachable = Some(error.to_string());
            step.notices.push(Notice::Unreachable {
                cause: error.to_string(),
            });
        }
        (None, Some(_)) => {
            job.unreachable = None;
            step.notices.push(Notice::Reachable);
        }
        _ => {}
    }
}

/// What every observation ends with: calls recorded, and the job ended if nothing is left.
fn finish(job: &mut Job, mut step: Step, now: DateTime<Utc>, rules: &Rules) -> Step {
    record_calls(job, &step);
    settle(job, now, rules, &mut step);
    step
}

/// Marks the step's calls on builds as pending, so they are stored before they go out, and
/// starts a new generation of the build, so a read already out is not taken for news.
fn record_calls(job: &mut Job, step: &Step) {
    for action in &step.actions {
        if let Action::Call {
            target,
            build,
            call,
        } = action
        {
            let track = &mut job.targets[*target].builds[*build];
            track.pending_calls.push(*call);
            track.generation += 1;
        }
    }
}

/// Picks a job up after a restart: everything is looked at again before anything is said, and
/// the calls the last run made without hearing the answer are made again (Launchpad's answer
/// to a repeat tells whether the first went through: see [`build_call`]).
pub fn resume(job: &mut Job, now: DateTime<Utc>, rules: &Rules) -> Step {
    let mut step = Step::default();
    for (index, target) in job.targets.iter_mut().enumerate() {
        target.poll.due = now;
        // A request found being sent: the run that sent it stopped before the answer came.
        if let Phase::Requesting { attempt, sent_at } = target.phase {
            request::in_doubt(target, index, (attempt, sent_at), now, rules, &mut step);
        }
        for (build_index, build) in target.builds.iter_mut().enumerate() {
            build.poll.due = now;
            for call in std::mem::take(&mut build.pending_calls) {
                step.actions.push(Action::Call {
                    target: index,
                    build: build_index,
                    call,
                });
            }
        }
    }
    record_calls(job, &step);
    step
}

/// A delivery named a build of the job. A build request still to be read has made its builds
/// (Launchpad delivers a build's creation after its request completed), so they are listed at
/// once, at the request's `builds_collection_link` (its URL and `/builds`:
/// `reference/launchpad-api.md`, "Build requests"), without reading the request. A build
/// followed takes in what the delivery says ([`build::delivered`]).
fn delivered(
    job: &mut Job,
    build_url: &str,
    request_url: Option<&str>,
    reported: Option<(BuildState, UploadStatus)>,
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    let auto = job.auto_retry_uploads && !job.cancel_requested;
    for (index, target) in job.targets.iter_mut().enumerate() {
        match &target.phase {
            Phase::Requested { request_url: mine } if Some(mine.as_str()) == request_url => {
                step.actions.push(Action::ListBuilds {
                    target: index,
                    url: format!("{mine}/builds"),
                    ran: true,
                });
                // Kept should Launchpad fail to list the builds ([`request::builds_listed`]).
                if !target.named_builds.iter().any(|known| known == build_url) {
                    target.named_builds.push(build_url.to_string());
                }
            }
            Phase::Following { request_url: mine }
                if Some(mine.as_str()) == request_url
                    && target.unlisted()
                    && !target.builds.iter().any(|b| *b.url == *build_url) =>
            {
                // A build of a request Launchpad could not list: read to see which it is.
                step.actions.push(Action::ReadCandidateBuild {
                    target: index,
                    url: build_url.to_string(),
                    own: true,
                });
            }
            _ => {}
        }
        for build in &mut target.builds {
            if *build.url != *build_url {
                continue;
            }
            match &reported {
                Some(reported) => {
                    let settled = build.is_settled(auto, rules.upload_retry_budget);
                    build::delivered(build, reported.clone(), settled, now, rules);
                }
                None => build.poll.due = now,
            }
        }
    }
}

/// Ends the job when nothing more will happen.
fn settle(job: &mut Job, now: DateTime<Utc>, rules: &Rules, step: &mut Step) {
    let calls_in_flight = job
        .targets
        .iter()
        .flat_map(|target| &target.builds)
        .any(|build| !build.pending_calls.is_empty());
    if job.is_finished() || !step.actions.is_empty() || calls_in_flight {
        return;
    }
    let auto = job.auto_retry_uploads && !job.cancel_requested;
    if job
        .targets
        .iter()
        .all(|target| target.is_settled(auto, rules.upload_retry_budget, now))
    {
        job.status = if job.cancel_requested {
            JobStatus::Cancelled
        } else {
            JobStatus::Finished
        };
        job.finished_at = Some(now);
        step.notices.push(Notice::Ended);
    }
}
