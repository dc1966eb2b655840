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

use std::time::Duration;

use chrono::{DateTime, Utc};

mod build;
mod request;

use super::model::{Job, JobStatus, MissingWhy, Phase, Poll, Progress};
pub use super::notice::{BuildCall, Control, Notice};
use crate::launchpad::models::{BuildState, RequestStatus, UploadStatus};
use crate::launchpad::LaunchpadError;

/// Reads of a build answered 500 in a row (each after the client's own retries) before the
/// build is taken, without a delivery saying so, for a failed upload on several registries:
/// Launchpad answers every read of such a build 500 until its upload is scheduled again
/// (`reference/launchpad-truths.md`, "Registry uploads"). It will not become readable by
/// waiting, and a job must not wait on it; three reads rule out a passing fault.
pub const UNREADABLE_AFTER: u32 = 3;

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
    /// After a `requestBuilds` whose answer was lost, how long to wait for a webhook delivery
    /// naming the build request it made before sending it again; `None` when no webhook
    /// deliveries reach this process (then it is sent again at once).
    pub request_grace: Option<Duration>,
    /// How long to wait for a delivery naming the queued build (of another request) that made
    /// Launchpad skip an architecture asked for; `None` without deliveries.
    pub queued_grace: Option<Duration>,
    /// Whether webhook deliveries reach this process: then they decide when a build is read,
    /// and polls are only a safety net for a lost delivery ([`schedule`]).
    pub pushed: bool,
    /// How long each stage of a build typically lasts, which paces the reads without
    /// deliveries: [`Typical`].
    pub typical: Typical,
}

/// How long things typically take on Launchpad. Without deliveries, a build is read when its
/// stage should be over (`queue` after it was seen queued, ...), then every quarter of that
/// (within `poll_min` and `poll_max`) while it overruns: a handful of reads per build instead
/// of one every `poll_min`. With deliveries, a build is read only when a delivery says it
/// ended, and at twice its stage's typical time plus `poll_max` should the delivery be lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Typical {
    /// From `requestBuilds` to its builds existing (Launchpad's build-request job).
    pub request: Duration,
    /// A build waiting for a builder.
    pub queue: Duration,
    /// A builder working on it, and Launchpad taking its files in.
    pub build: Duration,
    /// The registry upload.
    pub upload: Duration,
    /// Less than a build takes from the queue to its end (a builder is dispatched and reset,
    /// the image built, its files gathered): a build seen queued less than this ago whose
    /// cancel is answered is known cancelled without a read. Launchpad cancels a queued build
    /// at once and a building one within moments (`Cancelling build`, then `Cancelled build`);
    /// only a build that already ended ignores a cancel. (One that failed at once could end
    /// sooner: the board then shows it cancelled, which is what was asked.)
    pub shortest_build: Duration,
}

impl Default for Typical {
    /// An OCI build on Launchpad: its builds exist within half a minute, queue a few minutes,
    /// build in ten to thirty, upload in a few.
    fn default() -> Typical {
        Typical {
            request: Duration::from_secs(30),
            queue: Duration::from_secs(5 * 60),
            build: Duration::from_secs(20 * 60),
            upload: Duration::from_secs(5 * 60),
            shortest_build: Duration::from_secs(5 * 60),
        }
    }
}

impl Typical {
    /// Every duration divided by `speed` (a simulator's clock running faster), none below
    /// `floor`.
    pub fn scaled(self, speed: f64, floor: Duration) -> Typical {
        let scale = |duration: Duration| duration.div_f64(speed.max(1.0)).max(floor);
        Typical {
            request: scale(self.request),
            queue: scale(self.queue),
            build: scale(self.build),
            upload: scale(self.upload),
            shortest_build: scale(self.shortest_build),
        }
    }
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
            request_grace: None,
            queued_grace: None,
            pushed: false,
            typical: Typical::default(),
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
    /// `build_log_url`, once it has started.
    pub log_url: Option<String>,
    /// `upload_log_url`, when Launchpad could not take its files in.
    pub upload_log_url: Option<String>,
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
            log_url: build.build_log_url,
            upload_log_url: build.upload_log_url,
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
        /// As in [`Action::ListBuilds`].
        ran: bool,
        /// The builds, or the failure.
        result: Result<Vec<BuildSnapshot>, LaunchpadError>,
    },
    /// A build was read; `None` is "not modified".
    BuildRead {
        /// The target.
        target: usize,
        /// The build.
        build: usize,
        /// The build's [`crate::jobs::model::BuildTrack::generation`] when the read was made.
        generation: u32,
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
    /// A recipe's processors were read.
    ProcessorsRead {
        /// The target.
        target: usize,
        /// Their names, or the failure.
        result: Result<Vec<String>, LaunchpadError>,
    },
    /// Whether Launchpad can build an architecture now was read.
    ArchSeriesRead {
        /// The target.
        target: usize,
        /// The architecture.
        arch: crate::target::Arch,
        /// Whether it can, or the failure.
        result: Result<bool, LaunchpadError>,
    },
    /// A webhook delivery names a build request, and a build, of a recipe of this job that no
    /// job knows (its lost request's, or the queued build of a skipped architecture).
    Candidate {
        /// The recipe's API URL.
        recipe_url: String,
        /// The build request's.
        request_url: Option<String>,
        /// The build's.
        build_url: Option<String>,
    },
    /// A build of a candidate build request was read.
    CandidateRequestRead {
        /// The target.
        target: usize,
        /// The build request.
        url: String,
        /// Whether the build was requested by the person these credentials act for, or the
        /// failure.
        result: Result<bool, LaunchpadError>,
    },
    /// A candidate build was read.
    CandidateBuildRead {
        /// The target.
        target: usize,
        /// A build of the target's own request (named by a delivery of it), not another's.
        own: bool,
        /// What it looks like, or the failure.
        result: Result<BuildSnapshot, LaunchpadError>,
    },
    /// A webhook delivery named a build of the job, or the build request that made it (a
    /// build not listed yet).
    Delivered {
        /// The build's API URL.
        build_url: String,
        /// Its build request's, if the delivery named one.
        request_url: Option<String>,
        /// Its `status` and `registry_upload_status` as the delivery gave them.
        reported: Option<(BuildState, UploadStatus)>,
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
        /// Whether the request is known to have run (its read said so, or a delivery named
        /// one of its builds): an empty collection is then its answer. Otherwise an empty
        /// collection may be a request not run yet, and the request is read to tell.
        ran: bool,
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
    /// List the processors of the target's recipe.
    ReadProcessors {
        /// The target.
        target: usize,
    },
    /// Read whether Launchpad can build an architecture a request skipped now.
    ReadArchSeries {
        /// The target.
        target: usize,
        /// The architecture.
        arch: crate::target::Arch,
    },
    /// See whether a build request a delivery named (with one of its builds) is ours.
    ReadCandidateRequest {
        /// The target.
        target: usize,
        /// The build request.
        url: String,
        /// A build it made.
        build: String,
    },
    /// Read a build a delivery named.
    ReadCandidateBuild {
        /// The target.
        target: usize,
        /// The build.
        url: String,
        /// A build of the target's own request (one Launchpad could not list), rather than a
        /// skipped architecture's queued build of another request.
        own: bool,
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

impl Step {
    /// Adds what a later observation led to.
    pub fn extend(&mut self, later: Step) {
        self.actions.extend(later.actions);
        self.notices.extend(later.notices);
    }
}

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
        } => request::candidate(
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
        } => request::candidate_request_read(&mut job.targets[target], url, result, now, rules),
        Observation::CandidateBuildRead {
            target,
            own,
            result,
        } => {
            let auto = job.auto_retry_uploads && !job.cancel_requested;
            request::candidate_build_read(
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
