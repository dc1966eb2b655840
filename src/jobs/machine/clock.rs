//! Time in the machine: when a job is next due, and what a tick does when it is.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::events::{Action, Step};
use super::rules::Rules;
use super::{build, request};
use crate::jobs::model::{Job, JobStatus, MissingWhy, Phase, Poll, Progress};
use crate::jobs::notice::Notice;

/// When the job next needs a [`Observation::Tick`], if ever. A build with a call out is not
/// due: the call's answer comes as an observation of its own.
pub fn next_due(job: &Job) -> Option<DateTime<Utc>> {
    if job.is_finished() {
        return None;
    }
    let mut due = vec![job.deadline];
    for target in &job.targets {
        match target.phase {
            Phase::ToRequest | Phase::Requested { .. } | Phase::InDoubt { .. } => {
                due.push(target.poll.due)
            }
            Phase::Following { .. } => {
                for missing in &target.missing {
                    match missing.why {
                        MissingWhy::Unknown => due.push(target.poll.due),
                        MissingWhy::Skipped {
                            until: Some(until), ..
                        } => due.push(until),
                        _ => {}
                    }
                }
                for build in &target.builds {
                    // A failed upload is not read again: only its retry is due.
                    let read = !build.is_settled(false, 0)
                        && build.pending_calls.is_empty()
                        && build.progress() != Progress::UploadFailed;
                    if read {
                        due.push(build.poll.due);
                    }
                    if let Some(retry) = build.retry_due {
                        due.push(retry);
                    }
                }
            }
            _ => {}
        }
    }
    due.into_iter().min()
}

/// `now` and `wait` after it; a wait too long to add saturates at the end of time rather
/// than overflow.
pub fn later(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(wait)
        .ok()
        .and_then(|wait| now.checked_add_signed(wait))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Looks again soon: a change happened.
pub(super) fn poll_soon(poll: &mut Poll, now: DateTime<Utc>, rules: &Rules) {
    poll.interval_ms = rules.poll_min.as_millis() as u64;
    poll.due = later(now, rules.poll_min);
}

/// Looks again later than last time: nothing changed.
pub(super) fn back_off(poll: &mut Poll, now: DateTime<Utc>, rules: &Rules) {
    let grown = (poll.interval_ms.max(rules.poll_min.as_millis() as u64) * 3 / 2)
        .min(rules.poll_max.as_millis() as u64);
    poll.interval_ms = grown;
    poll.due = later(now, Duration::from_millis(grown));
}

pub(super) fn tick(job: &mut Job, now: DateTime<Utc>, rules: &Rules, step: &mut Step) {
    if job.is_finished() {
        return;
    }
    if now >= job.deadline {
        job.status = JobStatus::GaveUp;
        job.finished_at = Some(now);
        step.notices.push(Notice::Ended);
        return;
    }
    let auto = job.auto_retry_uploads;
    let cancel_all = job.cancel_requested;
    for (index, target) in job.targets.iter_mut().enumerate() {
        match target.phase {
            // Every recipe at once: the client's queue (first come, first served) sends them
            // as fast as its requests in flight allow, ahead of the calls their answers lead
            // to.
            Phase::ToRequest if target.poll.due <= now => {
                request::send(target, index, 1, now, step)
            }
            Phase::InDoubt { attempt, until, .. } if until <= now => {
                request::ask_again(target, index, attempt, now, step)
            }
            Phase::Requested { ref request_url } if target.poll.due <= now => {
                // Its builds are listed first: the collection is empty until the request has
                // run, then lists every build it made (`launchpad-api.md`, "Build requests"),
                // so a request that ran costs one call, not a read and a listing.
                step.actions.push(Action::ListBuilds {
                    target: index,
                    url: format!("{request_url}/builds"),
                    ran: false,
                });
                // The next look is set by the answer; until then, not again.
                target.poll.due = later(now, rules.poll_max);
            }
            Phase::Following { .. } => {
                let unknown = target
                    .missing
                    .iter()
                    .any(|missing| missing.why == MissingWhy::Unknown);
                if unknown && target.poll.due <= now {
                    target.poll.due = later(now, rules.poll_max);
                    step.actions.push(Action::ReadProcessors { target: index });
                }
                for (build_index, build) in target.builds.iter_mut().enumerate() {
                    build::due_build(
                        build,
                        (index, build_index),
                        (auto, cancel_all),
                        now,
                        rules,
                        step,
                    );
                }
            }
            _ => {}
        }
    }
}
