//! `cancel` and `retry`: what a person's control does to a job's targets and builds.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::clock::later;
use super::events::{Action, Step};
use super::rules::Rules;
use crate::jobs::model::{Job, JobStatus, Phase, Progress};
use crate::jobs::notice::{BuildCall, Control, Notice};
use crate::launchpad::models::{BuildState, UploadStatus};

pub(super) fn controlled(
    job: &mut Job,
    control: Control,
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    let mut count = 0;
    match control {
        Control::Cancel => {
            job.cancel_requested = true;
            for (index, target) in job.targets.iter_mut().enumerate() {
                match target.phase {
                    Phase::ToRequest => {
                        target.phase = Phase::Cancelled;
                        count += 1;
                    }
                    Phase::Following { .. } => {
                        for (build_index, build) in target.builds.iter_mut().enumerate() {
                            build.retry_due = None;
                            build
                                .upload_refusal
                                .get_or_insert_with(|| "cancelled".to_string());
                            if build.can_be_cancelled && !build.state.is_final() {
                                build.cancel_sent = true;
                                count += 1;
                                step.actions.push(Action::Call {
                                    target: index,
                                    build: build_index,
                                    call: BuildCall::Cancel,
                                });
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Control::RetryUploads | Control::RetryBuilds => {
            for (index, target) in job.targets.iter_mut().enumerate() {
                for (build_index, build) in target.builds.iter_mut().enumerate() {
                    let eligible = match control {
                        Control::RetryUploads => {
                            build.wanted && build.progress() == Progress::UploadFailed
                        }
                        _ => build.wanted && build.can_be_retried,
                    };
                    if !eligible {
                        continue;
                    }
                    count += 1;
                    build.upload_by_auto_retry = false;
                    build.upload_refusal = None;
                    build.retry_due = None;
                    // Expected at once, so the job is not found settled before the call is
                    // answered; the next (unconditional) read corrects it if the call fails.
                    // No read goes out before the call's answer: it could see the old failure.
                    build.etag = None;
                    build.poll.due = later(now, rules.poll_min);
                    let call = match control {
                        Control::RetryUploads => {
                            build.upload = UploadStatus::Pending;
                            BuildCall::ScheduleUpload { auto: false }
                        }
                        _ => {
                            build.state = BuildState::NeedsBuilding;
                            BuildCall::Retry
                        }
                    };
                    step.actions.push(Action::Call {
                        target: index,
                        build: build_index,
                        call,
                    });
                }
            }
            if count > 0 && job.is_finished() {
                job.status = JobStatus::Running;
                job.finished_at = None;
                job.cancel_requested = false;
                job.deadline = job.deadline.max(later(now, Duration::from_secs(6 * 3600)));
            }
        }
    }
    step.notices.push(Notice::Controlled { control, count });
}
