//! The state machine's rules for one build: when to look at it, what a read of it means (a
//! failed upload told once, auto-retries with backoff), what the answer to a call on it means,
//! and cancelling what was not asked for until Launchpad has answered.

use chrono::{DateTime, Utc};

use super::{back_off, later, poll_soon, Action, BuildSnapshot, Rules, Step, UNREADABLE_AFTER};
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
    let changed = build.state != snapshot.state || build.upload != snapshot.upload;
    build.state = snapshot.state;
    build.upload = snapshot.upload;
    build.upload_error = snapshot.upload_error;
    build.can_be_retried = snapshot.can_be_retried;
    build.can_be_cancelled = snapshot.can_be_cancelled;
    build.etag = snapshot.etag;
    if changed {
        poll_soon(&mut build.poll, now, rules);
    } else {
        back_off(&mut build.poll, now, rules);
    }
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
        _ => {}
    }
}

/// A read of a build failed. Network trouble and overload only delay the next look; Launchpad's
/// internal error (500), [`UNREADABLE_AFTER`] times in a row, makes the build unreadable: told
/// once, with the OOPS id, and no longer waited for.
pub(super) fn read_failed(
    build: &mut BuildTrack,
    (target, index): (usize, usize),
    error: &LaunchpadError,
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    back_off(&mut build.poll, now, rules);
    let LaunchpadError::Server {
        status: 500,
        oops_id,
        ..
    } = error
    else {
        return;
    };
    build.read_errors += 1;
    if build.read_errors < UNREADABLE_AFTER || build.unreadable.is_some() {
        return;
    }
    build.unreadable = Some(oops_id.clone().unwrap_or_else(|| error.to_string()));
    if build.wanted {
        step.notices.push(Notice::BuildUnreadable {
            target,
            build: index,
            oops_id: oops_id.clone(),
        });
    }
}

fn schedule_auto_retry(build: &mut BuildTrack, now: DateTime<Utc>, rules: &Rules) {
    let delay = rules
        .upload_retry_delay
        .saturating_mul(1 << build.auto_retries.min(16));
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
            build.upload = UploadStatus::Pending;
        }
        (
            BuildCall::ScheduleUpload { .. },
            Err(LaunchpadError::Rejected {
                refusal: Some(Refusal::AlreadyUploaded),
                ..
            }),
        ) => {
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
        }
        (BuildCall::Retry, Err(error)) => {
            tracing::warn!(build = %build.url, %error, "retrying a build failed");
        }
        (BuildCall::Cancel, Ok(())) => {}
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
