//! The job state machine: one pure function, [`observe`], that takes a job and something that
//! happened (time passed, Launchpad answered, someone asked) and changes the job, returning the
//! Launchpad calls to make and the notices to give. No IO: the engine executes what it returns,
//! after storing the changed job.
//!
//! Rules it keeps:
//! - `requestBuilds` is recorded as being sent before it is sent. Found in that state after a
//!   restart, or answered "outcome unknown", it is sent once more and Launchpad's "already
//!   pending" dedupes; a third time is never tried.
//! - As soon as a request's builds are known, those of architectures not asked for are cancelled.
//! - A build is polled on an interval that grows while nothing changes and starts again from the
//!   shortest when it does.
//! - A failed upload is alerted the first time it is seen, also when the build is first seen
//!   already failed; with auto-retry, further failures are reported as attempts, with backoff,
//!   up to the budget, stopping on a refusal no retry fixes.
//! - A call on a build is stored as pending before it is made and until it is answered; after a
//!   restart, pending calls are made again ([`resume`]).
//! - A build whose entry Launchpad cannot show (500, [`UNREADABLE_AFTER`] reads in a row) is
//!   told once as unreadable and counts as ended.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::model::{BuildTrack, Job, JobStatus, Phase, Poll, Progress, Target};
pub use super::notice::{BuildCall, Control, Notice};
use crate::launchpad::models::{BuildState, RequestStatus, UploadStatus};
use crate::launchpad::{LaunchpadError, Refusal};

/// Reads of a build answered 500 in a row (each after the client's own retries) before the
/// build is called unreadable. Launchpad answers 500 for some builds whose upload failed to
/// several registries (`reference/launchpad-truths.md`, "Registry uploads"): such a build will
/// not become readable by waiting, and a job must not wait on it forever; three reads rule out
/// a passing fault.
pub const UNREADABLE_AFTER: u32 = 3;

/// `requestBuilds` calls one job has out at once. Each is stored as "being sent" before it goes;
/// a crash leaves those in doubt, and a doubtful one is re-requested and, if it had gone
/// through, deduped by Launchpad as "already pending", whose builds are then not followed. A
/// small number bounds that loss without slowing a mass rebuild much.
pub const REQUESTS_AT_ONCE: usize = 4;

/// The timings and budgets the machine works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The shortest wait between two looks at the same thing.
    pub poll_min: Duration,
    /// The longest.
    pub poll_max: Duration,
    /// How long to wait before asking again after Launchpad could not be reached.
    pub request_retry: Duration,
    /// Auto-retries of one build's upload.
    pub upload_retry_budget: u32,
    /// The wait before the first auto-retry; it doubles with each.
    pub upload_retry_delay: Duration,
}

impl Default for Rules {
    /// Launchpad's pace: builds take minutes, so looking every 15 s to 5 min loses nothing; a
    /// failed upload is retried after 1, 2, 4 minutes.
    fn default() -> Rules {
        Rules {
            poll_min: Duration::from_secs(15),
            poll_max: Duration::from_secs(300),
            request_retry: Duration::from_secs(60),
            upload_retry_budget: 3,
            upload_retry_delay: Duration::from_secs(60),
        }
    }
}

/// What a build looked like on Launchpad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSnapshot {
    /// Its API URL.
    pub url: String,
    /// Its web page.
    pub web_link: String,
    /// Its architecture.
    pub arch: String,
    /// `buildstate`.
    pub state: BuildState,
    /// `registry_upload_status`.
    pub upload: UploadStatus,
    /// `registry_upload_error_summary`.
    pub upload_error: Option<String>,
    /// `can_be_retried`.
    pub can_be_retried: bool,
    /// `can_be_cancelled`.
    pub can_be_cancelled: bool,
    /// `http_etag`.
    pub etag: Option<String>,
}

impl From<crate::launchpad::models::Build> for BuildSnapshot {
    fn from(build: crate::launchpad::models::Build) -> BuildSnapshot {
        BuildSnapshot {
            url: build.self_link,
            web_link: build.web_link,
            arch: build.arch_tag,
            state: build.buildstate,
            upload: build.registry_upload_status,
            upload_error: build.registry_upload_error_summary,
            can_be_retried: build.can_be_retried,
            can_be_cancelled: build.can_be_cancelled,
            etag: build.http_etag,
        }
    }
}

/// Something that happened to a job.
#[derive(Debug, Clone)]
pub enum Observation {
    /// Time passed: do what is due.
    Tick,
    /// `requestBuilds` was answered.
    Requested {
        /// The target.
        target: usize,
        /// The build request's URL, or the failure.
        result: Result<String, LaunchpadError>,
    },
    /// A build request was read.
    RequestRead {
        /// The target.
        target: usize,
        /// Its status and error message, or the failure.
        result: Result<(RequestStatus, Option<String>, String), LaunchpadError>,
    },
    /// A build request's builds were listed.
    BuildsListed {
        /// The target.
        target: usize,
        /// The builds, or the failure.
        result: Result<Vec<BuildSnapshot>, LaunchpadError>,
    },
    /// A build was read; `None` is "not modified".
    BuildRead {
        /// The target.
        target: usize,
        /// The build.
        build: usize,
        /// What it looks like, or the failure.
        result: Result<Option<BuildSnapshot>, LaunchpadError>,
    },
    /// A call on a build (`cancel`, `retry`, `scheduleRegistryUpload`) was answered.
    BuildCall {
        /// The target.
        target: usize,
        /// The build.
        build: usize,
        /// Which call.
        call: BuildCall,
        /// Done, or the failure.
        result: Result<(), LaunchpadError>,
    },
    /// Someone asked.
    Control(Control),
}

/// A Launchpad call for the engine to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `requestBuilds` on the target's recipe.
    RequestBuilds {
        /// The target.
        target: usize,
    },
    /// Read the target's build request.
    ReadRequest {
        /// The target.
        target: usize,
    },
    /// List the builds at this collection.
    ListBuilds {
        /// The target.
        target: usize,
        /// The builds collection.
        url: String,
    },
    /// Read a build (conditionally, with its ETag).
    ReadBuild {
        /// The target.
        target: usize,
        /// The build.
        build: usize,
    },
    /// Call something on a build.
    Call {
        /// The target.
        target: usize,
        /// The build.
        build: usize,
        /// What.
        call: BuildCall,
    },
}

/// What an observation leads to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Step {
    /// Launchpad calls to make, after storing the job.
    pub actions: Vec<Action>,
    /// Things to say, after storing the job.
    pub notices: Vec<Notice>,
}

/// Applies `observation` to `job` at `now`.
pub fn observe(job: &mut Job, observation: Observation, now: DateTime<Utc>, rules: &Rules) -> Step {
    let mut step = Step::default();
    match observation {
        Observation::Tick => tick(job, now, rules, &mut step),
        Observation::Requested { target, result } => requested(
            &mut job.targets[target],
            target,
            result,
            now,
            rules,
            &mut step,
        ),
        Observation::RequestRead { target, result } => request_read(
            &mut job.targets[target],
            target,
            result,
            now,
            rules,
            &mut step,
        ),
        Observation::BuildsListed { target, result } => {
            let cancel_all = job.cancel_requested;
            let auto = job.auto_retry_uploads && !cancel_all;
            builds_listed(
                &mut job.targets[target],
                target,
                result,
                (cancel_all, auto),
                now,
                rules,
                &mut step,
            )
        }
        Observation::BuildRead {
            target,
            build,
            result,
        } => {
            let auto = job.auto_retry_uploads;
            let track = &mut job.targets[target].builds[build];
            match result {
                Ok(Some(snapshot)) => {
                    track.read_errors = 0;
                    track.unreadable = None;
                    apply(
                        track,
                        (target, build),
                        snapshot,
                        auto,
                        now,
                        rules,
                        &mut step,
                    )
                }
                Ok(None) => {
                    track.read_errors = 0;
                    back_off(&mut track.poll, now, rules)
                }
                Err(error) => {
                    tracing::warn!(job = %job.id, build = %track.url, %error, "reading a build failed");
                    read_failed(track, (target, build), &error, now, rules, &mut step);
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
            build_call(track, (target, build), call, result, now, rules, &mut step)
        }
        Observation::Control(control) => controlled(job, control, now, rules, &mut step),
    }
    record_calls(job, &step);
    settle(job, now, rules, &mut step);
    step
}

/// Marks the step's calls on builds as pending, so they are stored before they go out.
fn record_calls(job: &mut Job, step: &Step) {
    for action in &step.actions {
        if let Action::Call {
            target,
            build,
            call,
        } = action
        {
            job.targets[*target].builds[*build]
                .pending_calls
                .push(*call);
        }
    }
}

/// Picks a job up after a restart: everything is looked at again before anything is said, and
/// the calls the last run made without hearing the answer are made again (Launchpad's answer
/// to a repeat tells whether the first went through: see [`build_call`]).
pub fn resume(job: &mut Job, now: DateTime<Utc>) -> Step {
    let mut step = Step::default();
    for (index, target) in job.targets.iter_mut().enumerate() {
        target.poll.due = now;
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

/// When the job next needs a [`Observation::Tick`], if ever.
pub fn next_due(job: &Job) -> Option<DateTime<Utc>> {
    if job.is_finished() {
        return None;
    }
    let mut due = vec![job.deadline];
    for target in &job.targets {
        match target.phase {
            Phase::ToRequest | Phase::Requested { .. } => due.push(target.poll.due),
            Phase::Following { .. } => {
                for build in &target.builds {
                    if !build.is_settled(false, 0) {
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

fn later(now: DateTime<Utc>, wait: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
}

/// Looks again soon: a change happened.
fn poll_soon(poll: &mut Poll, now: DateTime<Utc>, rules: &Rules) {
    poll.interval_ms = rules.poll_min.as_millis() as u64;
    poll.due = later(now, rules.poll_min);
}

/// Looks again later than last time: nothing changed.
fn back_off(poll: &mut Poll, now: DateTime<Utc>, rules: &Rules) {
    let grown = (poll.interval_ms.max(rules.poll_min.as_millis() as u64) * 3 / 2)
        .min(rules.poll_max.as_millis() as u64);
    poll.interval_ms = grown;
    poll.due = later(now, Duration::from_millis(grown));
}

fn tick(job: &mut Job, now: DateTime<Utc>, rules: &Rules, step: &mut Step) {
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
    let mut requesting = 0;
    for (index, target) in job.targets.iter_mut().enumerate() {
        match target.phase {
            Phase::ToRequest if target.poll.due <= now && requesting < REQUESTS_AT_ONCE => {
                requesting += 1;
                target.phase = Phase::Requesting { attempt: 1 };
                step.actions.push(Action::RequestBuilds { target: index });
            }
            // The rest wait for the next tick, which comes at once (they are due).
            Phase::ToRequest => {}
            // Found at a tick, a request being sent means the run that sent it stopped before
            // the answer came: whether Launchpad got it is unknown.
            Phase::Requesting { attempt } => unknown_outcome(target, index, attempt, step),
            Phase::Requested { .. } if target.poll.due <= now => {
                step.actions.push(Action::ReadRequest { target: index });
            }
            Phase::Following { .. } => {
                for (build_index, build) in target.builds.iter_mut().enumerate() {
                    due_build(build, (index, build_index), auto, now, rules, step);
                }
            }
            _ => {}
        }
    }
}

fn due_build(
    build: &mut BuildTrack,
    (target, index): (usize, usize),
    auto: bool,
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    if !build.pending_calls.is_empty() {
        // Its state before the call could come back and pass for news.
        return;
    }
    if !build.wanted && !build.cancel_sent && build.can_be_cancelled {
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
        step.actions.push(Action::ReadBuild {
            target,
            build: index,
        });
    }
}

fn unknown_outcome(target: &mut Target, index: usize, attempt: u8, step: &mut Step) {
    if attempt < 2 {
        target.phase = Phase::Requesting {
            attempt: attempt + 1,
        };
        step.actions.push(Action::RequestBuilds { target: index });
    } else {
        let reason = "Launchpad did not confirm the build request twice; check the recipe's page";
        fail_target(target, index, reason.to_string(), step);
    }
}

fn requested(
    target: &mut Target,
    index: usize,
    result: Result<String, LaunchpadError>,
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    let Phase::Requesting { attempt } = target.phase else {
        return;
    };
    match result {
        Ok(request_url) => {
            target.phase = Phase::Requested { request_url };
            poll_soon(&mut target.poll, now, rules);
        }
        Err(LaunchpadError::OutcomeUnknown { .. }) => unknown_outcome(target, index, attempt, step),
        Err(error) if error.is_transient() => {
            // Nothing was requested (the client retries only what is safe): ask again later.
            target.phase = Phase::ToRequest;
            target.poll.due = later(now, rules.request_retry);
        }
        Err(error) => fail_target(target, index, error.to_string(), step),
    }
}

fn fail_target(target: &mut Target, index: usize, reason: String, step: &mut Step) {
    target.phase = Phase::Failed {
        reason: reason.clone(),
    };
    step.notices.push(Notice::RequestFailed {
        target: index,
        reason,
    });
}

fn request_read(
    target: &mut Target,
    index: usize,
    result: Result<(RequestStatus, Option<String>, String), LaunchpadError>,
    now: DateTime<Utc>,
    rules: &Rules,
    step: &mut Step,
) {
    match result {
        Ok((RequestStatus::Completed, _, builds_url)) => {
            step.actions.push(Action::ListBuilds {
                target: index,
                url: builds_url,
            });
        }
        Ok((RequestStatus::Failed, message, _)) => {
            let message = message.unwrap_or_else(|| "no reason given".to_string());
            if Refusal::from_message(&message) == Some(Refusal::AlreadyPending) {
                target.phase = Phase::AlreadyPending;
                step.notices.push(Notice::AlreadyPending { target: index });
            } else {
                fail_target(target, index, message, step);
            }
        }
        Ok(_) => back_off(&mut target.poll, now, rules),
        Err(error) if error.is_transient() => back_off(&mut target.poll, now, rules),
        Err(error) => fail_target(target, index, error.to_string(), step),
    }
}

fn builds_listed(
    target: &mut Target,
    index: usize,
    result: Result<Vec<BuildSnapshot>, LaunchpadError>,
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
        Err(error) if error.is_transient() => return back_off(&mut target.poll, now, rules),
        Err(error) => return fail_target(target, index, error.to_string(), step),
    };
    target.phase = Phase::Following { request_url };
    target.builds.clear();
    for snapshot in snapshots {
        let wanted = !cancel_all
            && target
                .arches
                .iter()
                .any(|arch| arch.as_str() == snapshot.arch);
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
        // Taken in as a first read, so a build already failed (or already uploaded) when first
        // seen is told like one seen failing.
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
        build.poll = poll;
        target.builds.push(build);
    }
    for (build_index, build) in target.builds.iter_mut().enumerate() {
        if !build.wanted && build.can_be_cancelled {
            build.cancel_sent = true;
            step.actions.push(Action::Call {
                target: index,
                build: build_index,
                call: BuildCall::Cancel,
            });
        }
    }
}

/// Takes in what Launchpad said of a build.
fn apply(
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
fn read_failed(
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

fn build_call(
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
            build.state = BuildState::NeedsBuilding;
            build.upload = UploadStatus::Unscheduled;
            build.can_be_retried = false;
        }
        (BuildCall::Retry, Err(error)) => {
            tracing::warn!(build = %build.url, %error, "retrying a build failed");
        }
        (BuildCall::Cancel, result) => {
            if let Err(error) = result {
                tracing::warn!(build = %build.url, %error, "cancelling a build failed");
            }
        }
    }
}

fn controlled(job: &mut Job, control: Control, now: DateTime<Utc>, rules: &Rules, step: &mut Step) {
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
                            build.upload = UploadStatus::Unscheduled;
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
        .all(|target| target.is_settled(auto, rules.upload_retry_budget))
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
