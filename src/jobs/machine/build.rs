//! The state machine's rules for one build: when to look at it, what a read of it means (a
//! failed upload told once, auto-retries with backoff), what the answer to a call on it means,
//! and cancelling what was not asked for until Launchpad has answered.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{back_off, later, poll_soon, Action, BuildSnapshot, Rules, Step, UNREADABLE_AFTER};
use crate::backoff::Backoff;
use crate::jobs::model::{BuildTrack, Progress};
use crate::jobs::notice::{BuildCall, Notice};
use crate::launchpad::models::{BuildState, UploadStatus};
use crate::launchpad::{LaunchpadError, Refusal};

/// Does what is due for a build: a cancel not yet made (or whose last attempt failed), an
/// auto-retry of its upload, a look.
pub(super) fn due_build(
    build: &mut BuildTrack,
    (target, index): (usize, usize),
    (auto, cancel_all): (bool, bool),
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    if !build.pending_calls.is_empty() {
        // Its state before the call could come back and pass for news.
        return;
    }
    if build.to_cancel(cancel_all) && !build.cancel_sent && build.can_be_cancelled {
        build.cancel_sent = true;
        step.actions.push(Action::Call {
            target,
            build: index,
            call: BuildCall::Cancel,
        });
        return;
    }
    if build.retry_due.is_some_and(|due| due <= now)
        && build.auto_retry_pending(auto, rules.upload_retry_budget)
    {
        build.retry_due = None;
        build.auto_retries += 1;
        build.upload_by_auto_retry = true;
        step.notices.push(Notice::UploadRetrying {
            target,
            build: index,
            attempt: build.auto_retries,
        });
        step.actions.push(Action::Call {
            target,
            build: index,
            call: BuildCall::ScheduleUpload { auto: true },
        });
        return;
    }
    if !build.is_settled(auto, rules.upload_retry_budget)
        && build.progress() != Progress::UploadFailed
        && build.poll.due <= now
    {
        // The next look is set by the answer; until then, not again.
        build.poll.due = later(now, rules.poll_max);
        step.actions.push(Action::ReadBuild {
            target,
            build: index,
        });
    }
}

/// Takes in what Launchpad said of a build.
pub(super) fn apply(
    build: &mut BuildTrack,
    (target, index): (usize, usize),
    snapshot: BuildSnapshot,
    auto: bool,
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    let was = build.progress();
    // Launchpad shows it again: its errors were replaced by a new upload's.
    build.unreadable = None;
    build.read_errors = 0;
    let changed = build.state != snapshot.state || build.upload != snapshot.upload;
    build.state = snapshot.state;
    build.upload = snapshot.upload;
    build.upload_error = snapshot.upload_error;
    build.can_be_retried = snapshot.can_be_retried;
    build.can_be_cancelled = snapshot.can_be_cancelled;
    build.etag = snapshot.etag;
    build.log_url = snapshot.log_url;
    build.upload_log_url = snapshot.upload_log_url;
    build.dates = snapshot.dates;
    if changed {
        // A retried build's old log says nothing of the new attempt.
        build.log = None;
    }
    if build.state == BuildState::NeedsBuilding {
        build.unstarted_at = Some(now);
    }
    schedule(build, was, changed, now, rules);
    arrived(build, (target, index), was, auto, now, rules, step);
}

/// What a build reaching a new stage (from `was`) is told as: a failed upload once (or, under
/// auto-retry, as an attempt), an auto-retried upload's end.
fn arrived(
    build: &mut BuildTrack,
    (target, index): (usize, usize),
    was: Progress,
    auto: bool,
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    let now_progress = build.progress();
    if !build.wanted || was == now_progress {
        return;
    }
    match now_progress {
        Progress::UploadFailed => {
            build.upload_failures += 1;
            if build.upload_by_auto_retry {
                if build.auto_retry_pending(auto, rules.upload_retry_budget) {
                    schedule_auto_retry(build, now, rules);
                } else {
                    step.notices.push(Notice::UploadGaveUp {
                        target,
                        build: index,
                        attempts: build.auto_retries,
                        refusal: None,
                    });
                }
            } else {
                step.notices.push(Notice::UploadFailed {
                    target,
                    build: index,
                    epoch: build.upload_failures,
                });
                if build.auto_retry_pending(auto, rules.upload_retry_budget) {
                    schedule_auto_retry(build, now, rules);
                }
            }
        }
        Progress::Done if build.upload_by_auto_retry => {
            build.upload_by_auto_retry = false;
            step.notices.push(Notice::UploadRecovered {
                target,
                build: index,
                attempts: build.auto_retries,
            });
        }
        Progress::Superseded if build.upload_by_auto_retry => {
            // Not a recovery: a newer build was built first, and nothing was pushed for this.
            build.upload_by_auto_retry = false;
            step.notices.push(Notice::UploadSuperseded {
                target,
                build: index,
            });
        }
        _ => {}
    }
}

/// The typical length of the stage a build is in, for those that pace its reads.
fn typical_stage(progress: Progress, rules: &Rules) -> Option<Duration> {
    match progress {
        Progress::Queued => Some(rules.typical.queue),
        Progress::Building => Some(rules.typical.build),
        Progress::Uploading => Some(rules.typical.upload),
        _ => None,
    }
}

/// Sets when a build is next read, after Launchpad showed it at `now` (it was in stage `was`
/// before; `changed`: its state or upload status moved).
///
/// In a stage with a typical length, the read comes when the stage should be over: without
/// deliveries at `stage_since + typical`, then every quarter of `typical` (within `poll_min`
/// and `poll_max`) while it overruns; with deliveries (which say when it moves) only as a
/// safety net, at `stage_since + 2 × typical + poll_max`, then every `poll_max`. Anything else
/// (a cancel under way, a failed upload waiting for its retry) is looked at soon after a change
/// and less often while nothing changes.
pub(super) fn schedule(
    build: &mut BuildTrack,
    was: Progress,
    changed: bool,
    now: DateTime<Utc>,
    rules: &Rules,
) {
    let progress = build.progress();
    let Some(typical) = typical_stage(progress, rules) else {
        build.stage_since = None;
        return if changed {
            poll_soon(&mut build.poll, now, rules)
        } else {
            back_off(&mut build.poll, now, rules)
        };
    };
    if progress != was || build.stage_since.is_none() {
        build.stage_since = Some(now);
    }
    let since = build.stage_since.unwrap_or(now);
    let (expected, overrun) = if rules.pushed {
        (
            later(
                since,
                typical.saturating_mul(2).saturating_add(rules.poll_max),
            ),
            rules.poll_max,
        )
    } else {
        (
            later(since, typical),
            (typical / 4).clamp(rules.poll_min, rules.poll_max.max(rules.poll_min)),
        )
    };
    build.poll.interval_ms = overrun.as_millis() as u64;
    build.poll.due = expected.max(later(now, overrun));
}

/// What a webhook delivery said of a build (its `status` and `registry_upload_status`).
/// Deliveries are only hints, and may come late or out of order: a move to a later stage
/// (queued → building → uploading) is taken in without a read, and paces the next; a cancel the
/// job made, seen done, is taken in too. Any other end (built, failed, an upload failed) makes
/// the build due for a read now, and the read is what is told.
pub(super) fn delivered(
    build: &mut BuildTrack,
    (state, upload): (BuildState, UploadStatus),
    settled: bool,
    now: DateTime<Utc>,
    rules: &Rules,
) {
    // Kept whatever comes next: for a build Launchpad cannot show, the deliveries are all that
    // says what happened ([`read_failed`]).
    build.delivered = Some((state.clone(), upload.clone()));
    if settled || !build.pending_calls.is_empty() {
        // Nothing more to learn; or a call's answer sets the next look.
        return;
    }
    let was = build.progress();
    let rank = |progress: Progress| match progress {
        Progress::Queued => Some(0),
        Progress::Building => Some(1),
        Progress::Uploading => Some(2),
        _ => None,
    };
    let hinted = Progress::of(&state, &upload);
    let forward = matches!((rank(was), rank(hinted)), (Some(was), Some(hinted)) if hinted > was);
    let cancelled = build.cancel_sent && state == BuildState::CancelledBuild;
    if forward || cancelled {
        build.state = state;
        build.upload = upload;
        // A read already out may show the state before: it is not taken in.
        build.generation += 1;
        schedule(build, was, true, now, rules);
    } else if rank(hinted).is_none() && hinted != was {
        // An end, or a failure: what is told comes from a read.
        build.poll.due = now;
    }
    // A move back (a late delivery, or a builder's failure putting the build back in the
    // queue) is left to the next read.
}

/// A read of a build failed. Network trouble and overload only delay the next look.
/// Launchpad's internal error (500) is its answer for a build whose last upload failed on
/// several registries, until the upload is scheduled again (`launchpad-truths.md`, "Registry
/// uploads"): such a build is taken for a failed upload whose errors cannot be shown, at once
/// when a delivery said its upload failed, else after [`UNREADABLE_AFTER`] reads in a row (a
/// passing fault rarely lasts that long). It is told, retried and counted like any failed
/// upload; a read that works again, or a new upload, ends it.
pub(super) fn read_failed(
    build: &mut BuildTrack,
    (target, index): (usize, usize),
    error: &LaunchpadError,
    auto: bool,
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    let LaunchpadError::Server {
        status: 500,
        oops_id,
        ..
    } = error
    else {
        return back_off(&mut build.poll, now, rules);
    };
    build.read_errors = build.read_errors.saturating_add(1);
    if build.unreadable.is_some() {
        return back_off(&mut build.poll, now, rules);
    }
    if !build.failure_delivered() && build.read_errors < UNREADABLE_AFTER {
        // Soon again: the client has already waited out its own retries.
        return poll_soon(&mut build.poll, now, rules);
    }
    let was = build.progress();
    build.unreadable = Some(oops_id.clone().unwrap_or_else(|| error.to_string()));
    // What it must be: built (only a built build has an upload), its upload failed.
    build.state = BuildState::SuccessfullyBuilt;
    build.upload = UploadStatus::FailedToUpload;
    build.upload_error = None;
    build.etag = None;
    build.stage_since = None;
    back_off(&mut build.poll, now, rules);
    arrived(build, (target, index), was, auto, now, rules, step);
}

/// Launchpad can show the build again (a new upload replaced the errors it could not render).
fn forget_unreadable(build: &mut BuildTrack) {
    build.unreadable = None;
    build.read_errors = 0;
    build.delivered = None;
}

fn schedule_auto_retry(build: &mut BuildTrack, now: DateTime<Utc>, rules: &Rules) {
    // Doubling from the first delay, without a ceiling of its own (the budget ends it).
    let delay = Backoff::new(rules.upload_retry_delay, Duration::MAX).nth(build.auto_retries);
    build.retry_due = Some(later(now, delay));
}

pub(super) fn build_call(
    build: &mut BuildTrack,
    (target, index): (usize, usize),
    call: BuildCall,
    result: Result<(), LaunchpadError>,
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    let was = build.progress();
    poll_soon(&mut build.poll, now, rules);
    if result.is_ok() {
        // What is known locally now differs from the version the ETag names: the next read
        // must be unconditional, or a 304 could hide a change back to the old state.
        build.etag = None;
    }
    match (call, result) {
        (BuildCall::ScheduleUpload { .. }, Ok(()))
        | (
            BuildCall::ScheduleUpload { .. },
            Err(LaunchpadError::Rejected {
                refusal: Some(Refusal::UploadInProgress),
                ..
            }),
        ) => {
            // A new upload job: its errors replace the last one's, so Launchpad can show the
            // build again.
            forget_unreadable(build);
            build.upload = UploadStatus::Pending;
            schedule(build, was, true, now, rules);
        }
        (
            BuildCall::ScheduleUpload { .. },
            Err(LaunchpadError::Rejected {
                refusal: Some(Refusal::AlreadyUploaded),
                ..
            }),
        ) => {
            forget_unreadable(build);
            build.upload = UploadStatus::Uploaded;
        }
        (BuildCall::ScheduleUpload { auto }, Err(error)) => {
            if error.is_transient() && auto {
                // Counts as an attempt: the budget bounds how long a broken Launchpad is tried.
                if build.auto_retries < rules.upload_retry_budget {
                    schedule_auto_retry(build, now, rules);
                    return;
                }
            } else if !error.is_transient() {
                build.upload_refusal = Some(error.to_string());
            }
            step.notices.push(Notice::UploadGaveUp {
                target,
                build: index,
                attempts: build.auto_retries,
                refusal: Some(error.to_string()),
            });
        }
        (BuildCall::Retry, Ok(())) => {
            // The upload status stays the last upload's until the build uploads again
            // (`launchpad-truths.md`, "Registry uploads").
            build.state = BuildState::NeedsBuilding;
            build.can_be_retried = false;
            schedule(build, was, true, now, rules);
        }
        (BuildCall::Retry, Err(error)) => {
            tracing::warn!(build = %build.url, %error, "retrying a build failed");
        }
        (BuildCall::Cancel, Ok(())) => {
            // Not started too recently to have been built since: Launchpad cancelled it at
            // once if queued, and a running one goes through `Cancelling build`, whose only
            // way on is `Cancelled build` (`launchpad-api.md`, `cancel` and the allowed
            // transitions). So its outcome is known without a read. (A build that failed on
            // its own meanwhile is then shown cancelled: it built nothing either way.)
            let unbuilt = build
                .unstarted_at
                .is_some_and(|unstarted| now < later(unstarted, rules.typical.shortest_build));
            let cancellable = matches!(
                build.state,
                BuildState::NeedsBuilding | BuildState::CurrentlyBuilding
            );
            if cancellable && unbuilt {
                build.state = BuildState::CancelledBuild;
                build.can_be_cancelled = false;
                build.can_be_retried = true;
                build.stage_since = None;
            } else if rules.pushed {
                // The delivery of its end says; a read only should it be lost.
                build.poll.due = later(now, rules.poll_max);
            }
        }
        (BuildCall::Cancel, Err(error)) => {
            tracing::warn!(build = %build.url, %error, "cancelling a build failed");
            if error.is_transient() {
                // Sent again at its next look, like a read that failed.
                build.cancel_sent = false;
                back_off(&mut build.poll, now, rules);
            }
        }
    }
}
