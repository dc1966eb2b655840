//! The job state machine on its own: pure, no IO, so each rule is checked with made-up
//! observations and a made-up clock.

mod support;

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use image_builder::jobs::machine::{
    next_due, observe, Action, BuildCall, BuildSnapshot, Control, Notice, Observation, Rules,
};
use image_builder::jobs::model::{Phase, Progress};
use image_builder::jobs::{Job, JobStatus};
use image_builder::launchpad::models::{BuildState, RequestStatus, UploadStatus};
use image_builder::launchpad::LaunchpadError;
use image_builder::plan::plan;
use image_builder::target::JobId;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn rules() -> Rules {
    Rules {
        poll_min: Duration::from_secs(10),
        poll_max: Duration::from_secs(60),
        request_retry: Duration::from_secs(30),
        upload_retry_budget: 2,
        upload_retry_delay: Duration::from_secs(60),
        request_grace: None,
        queued_grace: None,
        ..Rules::default()
    }
}

fn job(text: &str, auto_retry: bool) -> Job {
    let config = support::config();
    let rebuild = match image_builder::command::parse(
        text,
        &image_builder::command::Vocabulary::of(&config.catalogue),
    )
    .unwrap()
    {
        image_builder::command::Command::Rebuild(rebuild) => rebuild,
        other => panic!("{other:?}"),
    };
    let plan = plan(&rebuild, &config.catalogue).unwrap();
    Job::new(image_builder::jobs::NewJob {
        id: JobId(1),
        requester: "alice",
        channel: "team",
        command: text,
        plan: &plan,
        api_root: "http://lp/devel/",
        auto_retry_uploads: auto_retry,
        reason: None,
        now: t0(),
        deadline: t0() + chrono::Duration::hours(12),
        hooks: Vec::new(),
    })
}

fn snapshot(arch: &str, state: BuildState, upload: UploadStatus) -> BuildSnapshot {
    BuildSnapshot {
        url: format!("http://lp/devel/r/+build/{arch}"),
        web_link: format!("http://lp/r/+build/{arch}"),
        arch: arch.into(),
        can_be_retried: state.is_retryable(),
        can_be_cancelled: matches!(
            state,
            BuildState::NeedsBuilding | BuildState::CurrentlyBuilding
        ),
        state,
        upload,
        upload_error: None,
        etag: Some(format!("\"{arch}\"")),
        log_url: None,
        upload_log_url: None,
        dates: Default::default(),
    }
}

/// The index of the first target's build of `arch`.
fn build_of(job: &Job, arch: &str) -> usize {
    job.targets[0]
        .builds
        .iter()
        .position(|b| b.arch.as_str() == arch)
        .unwrap()
}

/// The build request every job of these tests gets.
const REQUEST: &str = "http://lp/devel/r/+build-request/1";

/// A job for redis 20.04 arm64 whose request was sent and answered at t0 under `rules`.
fn requested(auto_retry: bool, rules: &Rules) -> Job {
    let mut job = job("rebuild 20.04 arm64 redis", auto_retry);
    observe(&mut job, Observation::Tick, t0(), rules);
    observe(
        &mut job,
        Observation::Requested {
            target: 0,
            result: Ok(REQUEST.into()),
        },
        t0(),
        rules,
    );
    job
}

/// A job for redis 20.04 arm64 whose four builds are listed and queued.
fn following() -> Job {
    let mut job = requested(true, &rules());
    let step = observe(
        &mut job,
        Observation::BuildsListed {
            target: 0,
            ran: false,
            result: Ok(["amd64", "arm64", "ppc64el", "s390x"]
                .into_iter()
                .map(|arch| snapshot(arch, BuildState::NeedsBuilding, UploadStatus::Unscheduled))
                .collect()),
        },
        t0(),
        &rules(),
    );
    let cancels = step
        .actions
        .iter()
        .filter(|a| {
            matches!(
                a,
                Action::Call {
                    call: BuildCall::Cancel,
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        cancels, 3,
        "the three arches not asked for are cancelled at once"
    );
    // The engine answers every call it made; so does this fixture.
    for action in step.actions {
        if let Action::Call {
            target,
            build,
            call,
        } = action
        {
            observe(
                &mut job,
                Observation::BuildCall {
                    target,
                    build,
                    call,
                    result: Ok(()),
                },
                t0(),
                &rules(),
            );
        }
    }
    job
}

#[test]
fn a_new_job_requests_every_recipe_at_once_and_stores_them_as_being_sent() {
    let mut job = job("rebuild 22.04 all", false);
    let step = observe(&mut job, Observation::Tick, t0(), &rules());
    assert_eq!(step.actions.len(), job.targets.len());
    assert!(job
        .targets
        .iter()
        .all(|t| matches!(t.phase, Phase::Requesting { attempt: 1, .. })));
    // None again while they are out.
    let step = observe(&mut job, Observation::Tick, t0(), &rules());
    assert!(step.actions.is_empty(), "{:?}", step.actions);
}

#[test]
fn an_unknown_outcome_is_requested_once_more_then_given_up() {
    let mut job = job("rebuild 20.04 arm64 redis", false);
    observe(&mut job, Observation::Tick, t0(), &rules());
    let unknown = || LaunchpadError::OutcomeUnknown {
        url: "r".into(),
        cause: "timeout".into(),
    };
    let step = observe(
        &mut job,
        Observation::Requested {
            target: 0,
            result: Err(unknown()),
        },
        t0(),
        &rules(),
    );
    assert_eq!(step.actions, [Action::RequestBuilds { target: 0 }]);
    assert_eq!(
        job.targets[0].phase,
        Phase::Requesting {
            attempt: 2,
            sent_at: Some(t0())
        }
    );
    assert!(job.targets[0].asked_again);
    let step = observe(
        &mut job,
        Observation::Requested {
            target: 0,
            result: Err(unknown()),
        },
        t0(),
        &rules(),
    );
    assert!(step.actions.is_empty());
    assert!(matches!(job.targets[0].phase, Phase::Failed { .. }));
    assert!(matches!(step.notices[0], Notice::RequestFailed { .. }));
}

#[test]
fn a_request_found_mid_send_after_a_restart_counts_as_unknown() {
    let mut job = job("rebuild 20.04 arm64 redis", false);
    observe(&mut job, Observation::Tick, t0(), &rules());
    // While it is out, a tick leaves it alone.
    assert!(observe(&mut job, Observation::Tick, t0(), &rules())
        .actions
        .is_empty());
    // The run that sent it stopped; the next run finds it still "being sent".
    let step = image_builder::jobs::machine::resume(&mut job, t0(), &rules());
    assert_eq!(step.actions, [Action::RequestBuilds { target: 0 }]);
    assert_eq!(
        job.targets[0].phase,
        Phase::Requesting {
            attempt: 2,
            sent_at: Some(t0())
        }
    );
}

/// Rules for a process webhook deliveries reach.
fn with_webhooks() -> Rules {
    Rules {
        request_grace: Some(Duration::from_secs(120)),
        queued_grace: Some(Duration::from_secs(1800)),
        pushed: true,
        ..rules()
    }
}

#[test]
fn with_webhooks_a_lost_answer_waits_for_its_request_to_be_named_before_asking_again() {
    let rules = with_webhooks();
    let mut job = job("rebuild 20.04 arm64 redis", false);
    observe(&mut job, Observation::Tick, t0(), &rules);
    let lost = LaunchpadError::OutcomeUnknown {
        url: "r".into(),
        cause: "timeout".into(),
    };
    let step = observe(
        &mut job,
        Observation::Requested {
            target: 0,
            result: Err(lost),
        },
        t0(),
        &rules,
    );
    assert!(step.actions.is_empty(), "not asked again at once");
    assert!(matches!(job.targets[0].phase, Phase::InDoubt { .. }));
    // A delivery names a build request of the recipe: read it.
    let recipe_url = job.targets[0].recipe_url.clone();
    let step = observe(
        &mut job,
        Observation::Candidate {
            recipe_url: recipe_url.clone(),
            request_url: Some("http://lp/devel/r/+build-request/9".into()),
            build_url: Some("http://lp/devel/r/+build/10".into()),
        },
        t0(),
        &rules,
    );
    assert_eq!(
        step.actions,
        [Action::ReadCandidateRequest {
            target: 0,
            url: "http://lp/devel/r/+build-request/9".into(),
            build: "http://lp/devel/r/+build/10".into(),
        }]
    );
    // Someone else's: not ours.
    observe(
        &mut job,
        Observation::CandidateRequestRead {
            target: 0,
            url: "http://lp/devel/r/+build-request/8".into(),
            result: Ok(false),
        },
        t0(),
        &rules,
    );
    assert!(matches!(job.targets[0].phase, Phase::InDoubt { .. }));
    // Its builds were requested by us: taken for it, followed as if its answer had come.
    observe(
        &mut job,
        Observation::CandidateRequestRead {
            target: 0,
            url: "http://lp/devel/r/+build-request/9".into(),
            result: Ok(true),
        },
        t0(),
        &rules,
    );
    assert_eq!(
        job.targets[0].phase,
        Phase::Requested {
            request_url: "http://lp/devel/r/+build-request/9".into()
        }
    );
    assert!(!job.targets[0].asked_again);
}

#[test]
fn with_webhooks_a_lost_answer_nobody_names_is_asked_again_after_the_grace() {
    let rules = with_webhooks();
    let mut job = job("rebuild 20.04 arm64 redis", false);
    observe(&mut job, Observation::Tick, t0(), &rules);
    observe(
        &mut job,
        Observation::Requested {
            target: 0,
            result: Err(LaunchpadError::OutcomeUnknown {
                url: "r".into(),
                cause: "dropped".into(),
            }),
        },
        t0(),
        &rules,
    );
    assert_eq!(next_due(&job), Some(t0() + chrono::Duration::seconds(120)));
    let early = observe(
        &mut job,
        Observation::Tick,
        t0() + chrono::Duration::seconds(60),
        &rules,
    );
    assert!(early.actions.is_empty());
    let late = t0() + chrono::Duration::seconds(120);
    let step = observe(&mut job, Observation::Tick, late, &rules);
    assert_eq!(step.actions, [Action::RequestBuilds { target: 0 }]);
    assert!(job.targets[0].asked_again);
}

#[test]
fn refused_credentials_stop_the_job_and_are_said_once() {
    let mut job = job("rebuild 20.04 arm64 redis postgres squid", false);
    observe(&mut job, Observation::Tick, t0(), &rules());
    let message = "outsider cannot create OCI image builds owned by team.".to_string();
    let step = observe(
        &mut job,
        Observation::Requested {
            target: 0,
            result: Err(LaunchpadError::Unauthorized {
                message: message.clone(),
            }),
        },
        t0(),
        &rules(),
    );
    assert_eq!(step.notices.len(), 2, "{:?}", step.notices);
    assert_eq!(step.notices[0], Notice::Refused { message });
    assert_eq!(step.notices[1], Notice::Ended);
    assert!(job
        .targets
        .iter()
        .all(|t| matches!(t.phase, Phase::Failed { .. })));
    assert!(observe(&mut job, Observation::Tick, t0(), &rules())
        .actions
        .is_empty());
}

#[test]
fn an_architecture_asked_for_without_a_build_is_accounted_for() {
    let mut job = job("rebuild 20.04 arm64 ppc64el redis", false);
    observe(&mut job, Observation::Tick, t0(), &with_webhooks());
    observe(
        &mut job,
        Observation::Requested {
            target: 0,
            result: Ok("http://lp/devel/r/+build-request/1".into()),
        },
        t0(),
        &with_webhooks(),
    );
    // The recipe's processors are amd64 and arm64; arm64 was skipped (queued elsewhere).
    let step = observe(
        &mut job,
        Observation::BuildsListed {
            target: 0,
            ran: false,
            result: Ok(vec![snapshot(
                "amd64",
                BuildState::NeedsBuilding,
                UploadStatus::Unscheduled,
            )]),
        },
        t0(),
        &with_webhooks(),
    );
    assert!(step.actions.contains(&Action::ReadProcessors { target: 0 }));
    observe(
        &mut job,
        Observation::ProcessorsRead {
            target: 0,
            result: Ok(vec!["amd64".into(), "arm64".into()]),
        },
        t0(),
        &with_webhooks(),
    );
    let missing = &job.targets[0].missing;
    assert_eq!(missing.len(), 2);
    let why = |arch: &str| {
        missing
            .iter()
            .find(|m| m.arch.as_str() == arch)
            .unwrap()
            .why
            .clone()
    };
    assert_eq!(
        why("ppc64el"),
        image_builder::jobs::model::MissingWhy::NotInProcessors {
            processors: vec!["amd64".into(), "arm64".into()]
        }
    );
    assert!(matches!(
        why("arm64"),
        image_builder::jobs::model::MissingWhy::Skipped { .. }
    ));
    // A delivery names the queued arm64 build, made before: the job follows it.
    let recipe_url = job.targets[0].recipe_url.clone();
    let step = observe(
        &mut job,
        Observation::Candidate {
            recipe_url,
            request_url: Some("http://lp/devel/r/+build-request/0".into()),
            build_url: Some("http://lp/devel/r/+build/arm64".into()),
        },
        t0(),
        &with_webhooks(),
    );
    assert_eq!(step.actions.len(), 1);
    let queued = snapshot(
        "arm64",
        BuildState::CurrentlyBuilding,
        UploadStatus::Unscheduled,
    );
    observe(
        &mut job,
        Observation::CandidateBuildRead {
            target: 0,
            own: false,
            result: Ok(queued),
        },
        t0(),
        &with_webhooks(),
    );
    assert_eq!(
        job.targets[0].missing.len(),
        1,
        "only ppc64el is missing now"
    );
    assert!(job.targets[0]
        .builds
        .iter()
        .any(|b| b.wanted && b.arch.as_str() == "arm64"));
    assert_eq!(job.tally().not_built, 1);
}

#[test]
fn already_pending_is_an_outcome_not_a_failure() {
    let mut job = job("rebuild 20.04 arm64 redis", false);
    observe(&mut job, Observation::Tick, t0(), &rules());
    observe(
        &mut job,
        Observation::Requested {
            target: 0,
            result: Ok("u".into()),
        },
        t0(),
        &rules(),
    );
    let message = image_builder::launchpad::models::ALREADY_PENDING.to_string();
    let step = observe(
        &mut job,
        Observation::RequestRead {
            target: 0,
            result: Ok((RequestStatus::Failed, Some(message), "b".into())),
        },
        t0(),
        &rules(),
    );
    assert_eq!(job.targets[0].phase, Phase::AlreadyPending);
    assert!(step.notices.contains(&Notice::AlreadyPending { target: 0 }));
    assert_eq!(job.status, JobStatus::Finished);
}

/// Reads `arm64` of `job` at `at`: `None` is "not modified".
fn read_at(
    job: &mut Job,
    arm64: usize,
    result: Option<BuildSnapshot>,
    at: DateTime<Utc>,
    rules: &Rules,
) {
    let generation = job.targets[0].builds[arm64].generation;
    observe(
        job,
        Observation::BuildRead {
            target: 0,
            build: arm64,
            generation,
            result: Ok(result),
        },
        at,
        rules,
    );
}

#[test]
fn without_deliveries_a_build_is_read_when_its_stage_should_be_over_then_every_quarter_of_it() {
    let mut job = following();
    let rules = rules();
    let typical = rules.typical;
    let minutes = |duration: Duration| chrono::Duration::from_std(duration).unwrap();
    let arm64 = build_of(&job, "arm64");
    let due = |job: &Job| job.targets[0].builds[arm64].poll.due;
    // Listed queued at t0: read when a queue's typical wait is over.
    assert_eq!(due(&job), t0() + minutes(typical.queue));
    // Still queued then: every quarter of it (within poll_min and poll_max) while it overruns.
    let at = t0() + minutes(typical.queue);
    read_at(&mut job, arm64, None, at, &rules);
    let quarter = minutes((typical.queue / 4).clamp(rules.poll_min, rules.poll_max));
    assert_eq!(due(&job), at + quarter);
    // Building: read when a build's typical time is over.
    let at = at + quarter;
    let building = snapshot(
        "arm64",
        BuildState::CurrentlyBuilding,
        UploadStatus::Unscheduled,
    );
    read_at(&mut job, arm64, Some(building.clone()), at, &rules);
    assert_eq!(due(&job), at + minutes(typical.build));
    // An early look (a restart) changes nothing of that.
    read_at(&mut job, arm64, Some(building), at + quarter, &rules);
    assert_eq!(due(&job), at + minutes(typical.build));
    // Uploading: the upload's typical time.
    let at = at + minutes(typical.build);
    let uploading = snapshot(
        "arm64",
        BuildState::SuccessfullyBuilt,
        UploadStatus::Pending,
    );
    read_at(&mut job, arm64, Some(uploading), at, &rules);
    assert_eq!(due(&job), at + minutes(typical.upload));
    assert!(next_due(&job).unwrap() <= at + minutes(typical.upload));
}

#[test]
fn with_deliveries_a_build_moving_on_is_not_read_and_its_end_is_read_at_once() {
    let mut job = following();
    let rules = with_webhooks();
    let arm64 = build_of(&job, "arm64");
    let url = job.targets[0].builds[arm64].url.to_string();
    let deliver = |job: &mut Job, state: BuildState, upload: UploadStatus, at| {
        observe(
            job,
            Observation::Delivered {
                build_url: url.clone(),
                request_url: None,
                reported: Some((state, upload)),
            },
            at,
            &rules,
        )
    };
    let at = t0() + chrono::Duration::minutes(3);
    let step = deliver(
        &mut job,
        BuildState::CurrentlyBuilding,
        UploadStatus::Unscheduled,
        at,
    );
    assert!(step.actions.is_empty(), "{step:?}");
    let build = &job.targets[0].builds[arm64];
    assert_eq!(build.progress(), Progress::Building);
    // The next read only as a safety net: twice a build's typical time, and poll_max.
    let net = rules.typical.build * 2 + rules.poll_max;
    assert_eq!(
        build.poll.due,
        at + chrono::Duration::from_std(net).unwrap()
    );
    // An old delivery (queued) arriving late moves nothing back, and is no reason to read.
    deliver(
        &mut job,
        BuildState::NeedsBuilding,
        UploadStatus::Unscheduled,
        at,
    );
    let build = &job.targets[0].builds[arm64];
    assert_eq!(build.progress(), Progress::Building);
    assert!(build.poll.due > at);
    // Its upload failed: that is read (and told from the read), at once.
    let at = at + chrono::Duration::minutes(20);
    deliver(
        &mut job,
        BuildState::SuccessfullyBuilt,
        UploadStatus::FailedToUpload,
        at,
    );
    let build = &job.targets[0].builds[arm64];
    assert_eq!(
        build.progress(),
        Progress::Building,
        "a delivery is not what is told"
    );
    assert_eq!(build.poll.due, at);
    let step = observe(&mut job, Observation::Tick, at, &rules);
    assert!(
        step.actions.contains(&Action::ReadBuild {
            target: 0,
            build: arm64
        }),
        "{step:?}"
    );
}

#[test]
fn a_failed_upload_alerts_once_then_auto_retries_with_backoff_up_to_the_budget() {
    let mut job = following();
    let arm64 = build_of(&job, "arm64");
    let failed = || {
        snapshot(
            "arm64",
            BuildState::SuccessfullyBuilt,
            UploadStatus::FailedToUpload,
        )
    };
    let read = |job: &mut Job, snapshot, at| {
        let generation = job.targets[0].builds[arm64].generation;
        observe(
            job,
            Observation::BuildRead {
                target: 0,
                build: arm64,
                generation,
                result: Ok(Some(snapshot)),
            },
            at,
            &rules(),
        )
    };
    let step = read(&mut job, failed(), t0());
    assert_eq!(
        step.notices,
        [Notice::UploadFailed {
            target: 0,
            build: arm64,
            epoch: 1
        }]
    );
    // Seen again unchanged: no second alert.
    assert!(read(&mut job, failed(), t0()).notices.is_empty());
    let due = job.targets[0].builds[arm64].retry_due.unwrap();
    assert_eq!(due, t0() + chrono::Duration::seconds(60));

    let step = observe(&mut job, Observation::Tick, due, &rules());
    assert!(step.notices.contains(&Notice::UploadRetrying {
        target: 0,
        build: arm64,
        attempt: 1
    }));
    assert!(step.actions.contains(&Action::Call {
        target: 0,
        build: arm64,
        call: BuildCall::ScheduleUpload { auto: true }
    }));
    observe(
        &mut job,
        Observation::BuildCall {
            target: 0,
            build: arm64,
            call: BuildCall::ScheduleUpload { auto: true },
            result: Ok(()),
        },
        due,
        &rules(),
    );
    assert_eq!(job.targets[0].builds[arm64].progress(), Progress::Uploading);
    read(&mut job, failed(), due);
    let second = job.targets[0].builds[arm64].retry_due.unwrap();
    assert_eq!(
        second,
        due + chrono::Duration::seconds(120),
        "the wait doubles"
    );

    observe(&mut job, Observation::Tick, second, &rules());
    observe(
        &mut job,
        Observation::BuildCall {
            target: 0,
            build: arm64,
            call: BuildCall::ScheduleUpload { auto: true },
            result: Ok(()),
        },
        second,
        &rules(),
    );
    let step = read(&mut job, failed(), second);
    assert!(step.notices.contains(&Notice::UploadGaveUp {
        target: 0,
        build: arm64,
        attempts: 2,
        refusal: None
    }));
    // The unwanted builds still need their cancels answered before the job can end.
    for build in 0..4 {
        if build != arm64 {
            let arch = job.targets[0].builds[build].arch.to_string();
            let cancelled = snapshot(&arch, BuildState::CancelledBuild, UploadStatus::Unscheduled);
            let generation = job.targets[0].builds[build].generation;
            observe(
                &mut job,
                Observation::BuildRead {
                    target: 0,
                    build,
                    generation,
                    result: Ok(Some(cancelled)),
                },
                second,
                &rules(),
            );
        }
    }
    assert_eq!(job.status, JobStatus::Finished);
    assert_eq!(job.tally().upload_failed, 1);
}

#[test]
fn retry_uploads_reopens_a_finished_job_and_expects_the_upload() {
    let mut job = following();
    for build in 0..4 {
        let arch = job.targets[0].builds[build].arch.to_string();
        let snapshot = if arch == "arm64" {
            snapshot(
                &arch,
                BuildState::SuccessfullyBuilt,
                UploadStatus::FailedToUpload,
            )
        } else {
            snapshot(&arch, BuildState::CancelledBuild, UploadStatus::Unscheduled)
        };
        let generation = job.targets[0].builds[build].generation;
        observe(
            &mut job,
            Observation::BuildRead {
                target: 0,
                build,
                generation,
                result: Ok(Some(snapshot)),
            },
            t0(),
            &rules(),
        );
    }
    job.auto_retry_uploads = false;
    observe(&mut job, Observation::Tick, t0(), &rules());
    assert_eq!(job.status, JobStatus::Finished);
    let step = observe(
        &mut job,
        Observation::Control(Control::RetryUploads),
        t0(),
        &rules(),
    );
    assert_eq!(job.status, JobStatus::Running);
    assert!(step.notices.contains(&Notice::Controlled {
        control: Control::RetryUploads,
        count: 1
    }));
    let arm64 = job.targets[0]
        .builds
        .iter()
        .find(|b| b.arch.as_str() == "arm64")
        .unwrap();
    assert_eq!(arm64.progress(), Progress::Uploading);
    assert_eq!(arm64.etag, None, "the next read is unconditional");
    assert!(arm64.poll.due > t0(), "no read before the call is answered");
}

#[test]
fn the_deadline_gives_up() {
    let mut job = following();
    let step = observe(
        &mut job,
        Observation::Tick,
        t0() + chrono::Duration::hours(13),
        &rules(),
    );
    assert_eq!(job.status, JobStatus::GaveUp);
    assert_eq!(step.notices, [Notice::Ended]);
}

#[test]
fn a_build_with_a_call_in_flight_is_not_read_and_keeps_the_job_open() {
    let mut job = following();
    let arm64 = build_of(&job, "arm64");
    let failed = snapshot(
        "arm64",
        BuildState::FailedToBuild,
        UploadStatus::Unscheduled,
    );
    let generation = job.targets[0].builds[arm64].generation;
    observe(
        &mut job,
        Observation::BuildRead {
            target: 0,
            build: arm64,
            generation,
            result: Ok(Some(failed.clone())),
        },
        t0(),
        &rules(),
    );
    for build in 0..4 {
        if build != arm64 {
            let arch = job.targets[0].builds[build].arch.to_string();
            let cancelled = snapshot(&arch, BuildState::CancelledBuild, UploadStatus::Unscheduled);
            let generation = job.targets[0].builds[build].generation;
            observe(
                &mut job,
                Observation::BuildRead {
                    target: 0,
                    build,
                    generation,
                    result: Ok(Some(cancelled)),
                },
                t0(),
                &rules(),
            );
        }
    }
    assert_eq!(job.status, JobStatus::Finished);
    observe(
        &mut job,
        Observation::Control(Control::RetryBuilds),
        t0(),
        &rules(),
    );
    let later = t0() + chrono::Duration::minutes(5);
    // A tick while `retry` is out sends no read of that build...
    let step = observe(&mut job, Observation::Tick, later, &rules());
    assert!(
        !step.actions.contains(&Action::ReadBuild {
            target: 0,
            build: arm64
        }),
        "{step:?}"
    );
    // ... and a late read of its old state cannot end the job.
    let generation = job.targets[0].builds[arm64].generation;
    observe(
        &mut job,
        Observation::BuildRead {
            target: 0,
            build: arm64,
            generation,
            result: Ok(Some(failed)),
        },
        later,
        &rules(),
    );
    assert_eq!(job.status, JobStatus::Running);
    observe(
        &mut job,
        Observation::BuildCall {
            target: 0,
            build: arm64,
            call: BuildCall::Retry,
            result: Ok(()),
        },
        later,
        &rules(),
    );
    // Queued again: read when a queue's typical wait is over, not before.
    let read = Action::ReadBuild {
        target: 0,
        build: arm64,
    };
    let step = observe(
        &mut job,
        Observation::Tick,
        later + chrono::Duration::minutes(1),
        &rules(),
    );
    assert!(!step.actions.contains(&read), "{step:?}");
    let queue = chrono::Duration::from_std(rules().typical.queue).unwrap();
    let step = observe(&mut job, Observation::Tick, later + queue, &rules());
    assert!(step.actions.contains(&read), "{step:?}");
}

/// A job for redis 20.04 arm64 whose request is answered and whose builds are listed as
/// `arm64` looks now (the others queued).
fn listed_with(
    arm64: BuildSnapshot,
    auto_retry: bool,
) -> (Job, image_builder::jobs::machine::Step) {
    let mut job = requested(auto_retry, &rules());
    let mut snapshots: Vec<BuildSnapshot> = ["amd64", "ppc64el", "s390x"]
        .into_iter()
        .map(|arch| snapshot(arch, BuildState::NeedsBuilding, UploadStatus::Unscheduled))
        .collect();
    snapshots.insert(1, arm64);
    let step = observe(
        &mut job,
        Observation::BuildsListed {
            target: 0,
            ran: false,
            result: Ok(snapshots),
        },
        t0(),
        &rules(),
    );
    (job, step)
}

#[test]
fn a_build_first_listed_with_its_upload_failed_is_told_and_auto_retried() {
    let failed = snapshot(
        "arm64",
        BuildState::SuccessfullyBuilt,
        UploadStatus::FailedToUpload,
    );
    let (job, step) = listed_with(failed, true);
    assert!(
        step.notices.contains(&Notice::UploadFailed {
            target: 0,
            build: 1,
            epoch: 1
        }),
        "{:?}",
        step.notices
    );
    assert!(
        job.targets[0].builds[1].retry_due.is_some(),
        "auto-retry is due"
    );
    assert!(!job.is_finished());
}

#[test]
fn a_call_stored_as_pending_is_made_again_on_resume() {
    let (mut job, step) = listed_with(
        snapshot(
            "arm64",
            BuildState::NeedsBuilding,
            UploadStatus::Unscheduled,
        ),
        false,
    );
    // The three cancels are stored as pending before they go out; the process dies.
    let cancels = step.actions.len();
    assert_eq!(cancels, 3);
    let pending: usize = job.targets[0]
        .builds
        .iter()
        .map(|build| build.pending_calls.len())
        .sum();
    assert_eq!(pending, 3);
    let resumed = image_builder::jobs::machine::resume(&mut job, t0(), &rules());
    assert_eq!(resumed.actions.len(), 3, "{:?}", resumed.actions);
    assert!(resumed.actions.iter().all(|action| matches!(
        action,
        Action::Call {
            call: BuildCall::Cancel,
            ..
        }
    )));
    // Still pending until answered: the job cannot end meanwhile.
    let pending: usize = job.targets[0]
        .builds
        .iter()
        .map(|build| build.pending_calls.len())
        .sum();
    assert_eq!(pending, 3);
}

/// `reference/launchpad-truths.md`, "Registry uploads": Launchpad answers every read of a
/// build whose upload failed on several registries 500, until the upload is scheduled again.
#[test]
fn three_reads_answered_500_make_a_build_a_failed_upload_told_once_and_settled() {
    let (mut job, _) = listed_with(
        snapshot(
            "arm64",
            BuildState::SuccessfullyBuilt,
            UploadStatus::Pending,
        ),
        false,
    );
    let error = || LaunchpadError::Server {
        status: 500,
        oops_id: Some("OOPS-1".into()),
        message: "TypeError".into(),
    };
    let mut told = Vec::new();
    for _ in 0..5 {
        let generation = job.targets[0].builds[1].generation;
        let step = observe(
            &mut job,
            Observation::BuildRead {
                target: 0,
                build: 1,
                generation,
                result: Err(error()),
            },
            t0(),
            &rules(),
        );
        told.extend(step.notices);
    }
    assert_eq!(
        told,
        [Notice::UploadFailed {
            target: 0,
            build: 1,
            epoch: 1
        }],
        "told once, as a failed upload"
    );
    let build = &job.targets[0].builds[1];
    assert_eq!(build.unreadable.as_deref(), Some("OOPS-1"));
    assert_eq!(build.progress(), Progress::UploadFailed);
    assert!(build.is_settled(false, 0));
    assert_eq!(job.tally().upload_failed, 1);
    // A 503 is only a delay, however often.
    let (mut job, _) = listed_with(
        snapshot(
            "arm64",
            BuildState::SuccessfullyBuilt,
            UploadStatus::Pending,
        ),
        false,
    );
    for _ in 0..5 {
        let generation = job.targets[0].builds[1].generation;
        observe(
            &mut job,
            Observation::BuildRead {
                target: 0,
                build: 1,
                generation,
                result: Err(LaunchpadError::Server {
                    status: 503,
                    oops_id: None,
                    message: "down".into(),
                }),
            },
            t0(),
            &rules(),
        );
    }
    assert_eq!(job.targets[0].builds[1].unreadable, None);
}

#[test]
fn a_cancel_answered_before_the_build_could_have_been_built_is_known_without_a_read() {
    // `following` lists four queued builds at t0 and answers the three cancels at once.
    let job = following();
    for build in job.targets[0].builds.iter().filter(|b| !b.wanted) {
        assert_eq!(build.state, BuildState::CancelledBuild, "{}", build.arch);
        assert!(build.is_settled(true, 2));
    }
    let shortest = chrono::Duration::from_std(rules().typical.shortest_build).unwrap();
    let just_before = shortest - chrono::Duration::seconds(1);
    // Listed building, its request sent at t0: it cannot have finished building before
    // t0 + the shortest build, and a build being cancelled can only end cancelled.
    let mut job = job_listed_as(BuildState::CurrentlyBuilding);
    let (index, step) = cancel_answered(&mut job, t0() + just_before);
    let build = &job.targets[0].builds[index];
    assert_eq!(build.state, BuildState::CancelledBuild);
    assert!(build.is_settled(true, 2));
    assert!(!step
        .actions
        .iter()
        .any(|action| matches!(action, Action::ReadBuild { .. })));
    // Answered later than that, it may have been built first: its outcome is read.
    let mut job = job_listed_as(BuildState::CurrentlyBuilding);
    let (index, _) = cancel_answered(&mut job, t0() + shortest);
    let build = &job.targets[0].builds[index];
    assert_eq!(build.state, BuildState::CurrentlyBuilding);
    assert!(!build.is_settled(true, 2));
    assert!(
        build.poll.due <= t0() + shortest + chrono::Duration::from_std(rules().poll_min).unwrap()
    );
    // One seen queued long ago may have been built since: read too.
    let mut job = job_listed_as(BuildState::NeedsBuilding);
    let (index, _) = cancel_answered(&mut job, t0() + shortest);
    assert_eq!(
        job.targets[0].builds[index].state,
        BuildState::NeedsBuilding
    );
}

#[test]
fn a_building_build_of_a_request_taken_up_after_its_answer_was_lost_is_read_after_its_cancel() {
    // When the request was sent is not known for a request found again after its answer was
    // lost, so nothing bounds when its builds started.
    let mut job = job_listed_as(BuildState::CurrentlyBuilding);
    job.targets[0].requested_at = None;
    for build in &mut job.targets[0].builds {
        build.unstarted_at = None;
    }
    let (index, _) = cancel_answered(&mut job, t0());
    assert_eq!(
        job.targets[0].builds[index].state,
        BuildState::CurrentlyBuilding
    );
}

/// redis 20.04 arm64 with its builds listed at t0 as `state`, no cancel answered yet.
fn job_listed_as(state: BuildState) -> Job {
    let mut job = requested(false, &rules());
    observe(
        &mut job,
        Observation::BuildsListed {
            target: 0,
            ran: false,
            result: Ok(["amd64", "arm64"]
                .into_iter()
                .map(|arch| snapshot(arch, state.clone(), UploadStatus::Unscheduled))
                .collect()),
        },
        t0(),
        &rules(),
    );
    job
}

/// Answers the cancel of `amd64` (not asked for) at `at`; returns its index and the step.
fn cancel_answered(
    job: &mut Job,
    at: DateTime<Utc>,
) -> (usize, image_builder::jobs::machine::Step) {
    let index = build_of(job, "amd64");
    let step = observe(
        job,
        Observation::BuildCall {
            target: 0,
            build: index,
            call: BuildCall::Cancel,
            result: Ok(()),
        },
        at,
        &rules(),
    );
    (index, step)
}

#[test]
fn a_delivery_naming_a_build_of_the_request_lists_its_builds_without_reading_the_request() {
    let rules = with_webhooks();
    let mut job = requested(false, &rules);
    let request = REQUEST;
    // Without a delivery, its builds are listed only as a safety net.
    let typical = rules.typical.request;
    let net = chrono::Duration::from_std(typical * 2 + rules.poll_max).unwrap();
    assert_eq!(job.targets[0].poll.due, t0() + net);
    let step = observe(
        &mut job,
        Observation::Delivered {
            build_url: "http://lp/devel/r/+build/7".into(),
            request_url: Some(request.into()),
            reported: Some((BuildState::NeedsBuilding, UploadStatus::Unscheduled)),
        },
        t0(),
        &rules,
    );
    assert_eq!(
        step.actions,
        vec![Action::ListBuilds {
            target: 0,
            url: format!("{request}/builds"),
            ran: true,
        }]
    );
}

#[test]
fn a_request_is_looked_at_by_listing_its_builds_and_read_only_when_none_are_listed() {
    let rules = rules();
    let mut job = requested(false, &rules);
    let builds = format!("{REQUEST}/builds");
    let typical = chrono::Duration::from_std(rules.typical.request).unwrap();
    let lists_builds = |step: image_builder::jobs::machine::Step| {
        assert_eq!(
            step.actions,
            vec![Action::ListBuilds {
                target: 0,
                url: format!("{REQUEST}/builds"),
                ran: false,
            }]
        )
    };
    // When its builds should exist, they are listed: one call for a request that ran.
    lists_builds(observe(&mut job, Observation::Tick, t0() + typical, &rules));
    // None yet: not run, or run without building anything. The request says which.
    let listed_empty = |job: &mut Job, ran: bool, at| {
        observe(
            job,
            Observation::BuildsListed {
                target: 0,
                ran,
                result: Ok(vec![]),
            },
            at,
            &rules,
        )
    };
    let step = listed_empty(&mut job, false, t0() + typical);
    assert_eq!(step.actions, vec![Action::ReadRequest { target: 0 }]);
    assert!(matches!(job.targets[0].phase, Phase::Requested { .. }));
    // Not run yet: listed again at the next look.
    observe(
        &mut job,
        Observation::RequestRead {
            target: 0,
            result: Ok((RequestStatus::Pending, None, builds.clone())),
        },
        t0() + typical,
        &rules,
    );
    let next = job.targets[0].poll.due;
    assert!(next > t0() + typical);
    lists_builds(observe(&mut job, Observation::Tick, next, &rules));
    // Run now, and still none: this time the empty list is the answer.
    listed_empty(&mut job, false, next);
    let step = observe(
        &mut job,
        Observation::RequestRead {
            target: 0,
            result: Ok((RequestStatus::Completed, None, builds.clone())),
        },
        next,
        &rules,
    );
    assert_eq!(
        step.actions,
        vec![Action::ListBuilds {
            target: 0,
            url: builds,
            ran: true,
        }]
    );
    let step = listed_empty(&mut job, true, next);
    assert!(matches!(job.targets[0].phase, Phase::Following { .. }));
    assert!(step.actions.contains(&Action::ReadProcessors { target: 0 }));
}

#[test]
fn a_read_made_before_a_delivery_moved_the_build_on_does_not_move_it_back() {
    let mut job = following();
    let rules = with_webhooks();
    let arm64 = build_of(&job, "arm64");
    // A read goes out while the build is queued...
    let before = job.targets[0].builds[arm64].generation;
    // ...then a delivery says it is building...
    let at = t0() + chrono::Duration::minutes(3);
    let build_url = job.targets[0].builds[arm64].url.to_string();
    observe(
        &mut job,
        Observation::Delivered {
            build_url,
            request_url: None,
            reported: Some((BuildState::CurrentlyBuilding, UploadStatus::Unscheduled)),
        },
        at,
        &rules,
    );
    // ...and the read's answer, made before, says queued.
    observe(
        &mut job,
        Observation::BuildRead {
            target: 0,
            build: arm64,
            generation: before,
            result: Ok(Some(snapshot(
                "arm64",
                BuildState::NeedsBuilding,
                UploadStatus::Unscheduled,
            ))),
        },
        at,
        &rules,
    );
    assert_eq!(job.targets[0].builds[arm64].progress(), Progress::Building);
    // A read made after the delivery is taken in as usual.
    let after = job.targets[0].builds[arm64].generation;
    observe(
        &mut job,
        Observation::BuildRead {
            target: 0,
            build: arm64,
            generation: after,
            result: Ok(Some(snapshot(
                "arm64",
                BuildState::UploadingBuild,
                UploadStatus::Unscheduled,
            ))),
        },
        at,
        &rules,
    );
    assert_eq!(
        job.targets[0].builds[arm64].state,
        BuildState::UploadingBuild
    );
}

fn server_error(status: u16) -> LaunchpadError {
    LaunchpadError::Server {
        status,
        oops_id: (status == 500).then(|| "OOPS-1".to_string()),
        message: "down".into(),
    }
}

/// At `due`, the auto-retry of the second build's upload goes out, and Launchpad takes it.
fn auto_retry_scheduled(job: &mut Job, due: DateTime<Utc>) {
    let call = BuildCall::ScheduleUpload { auto: true };
    let step = observe(job, Observation::Tick, due, &rules());
    assert!(step.actions.contains(&Action::Call {
        target: 0,
        build: 1,
        call
    }));
    observe(
        job,
        Observation::BuildCall {
            target: 0,
            build: 1,
            call,
            result: Ok(()),
        },
        due,
        &rules(),
    );
}

/// The auto-retry budget bounds the calls even when they fail: the last call it allows,
/// answered 503, ends in "gave up" (said once), and no call goes past it.
#[test]
fn the_last_auto_retry_the_budget_allows_failing_ends_in_gave_up_and_no_call_goes_past_it() {
    let failed = snapshot(
        "arm64",
        BuildState::SuccessfullyBuilt,
        UploadStatus::FailedToUpload,
    );
    let (mut job, _) = listed_with(failed, true);
    let mut calls = 0;
    let mut notices = Vec::new();
    let mut now = t0();
    for _ in 0..10 {
        now += chrono::Duration::hours(1);
        let step = observe(&mut job, Observation::Tick, now, &rules());
        for action in step.actions {
            if let Action::Call {
                target,
                build,
                call: call @ BuildCall::ScheduleUpload { .. },
            } = action
            {
                calls += 1;
                let answered = observe(
                    &mut job,
                    Observation::BuildCall {
                        target,
                        build,
                        call,
                        result: Err(server_error(503)),
                    },
                    now,
                    &rules(),
                );
                notices.extend(answered.notices);
            }
        }
        notices.extend(step.notices);
    }
    assert_eq!(calls, rules().upload_retry_budget, "{notices:?}");
    let gave_up: Vec<&Notice> = notices
        .iter()
        .filter(|n| matches!(n, Notice::UploadGaveUp { .. }))
        .collect();
    assert_eq!(gave_up.len(), 1, "{notices:?}");
    let Notice::UploadGaveUp {
        attempts, refusal, ..
    } = gave_up[0]
    else {
        unreachable!()
    };
    assert_eq!(*attempts, 2);
    assert!(
        refusal.as_deref().is_some_and(|r| r.contains("503")),
        "{refusal:?}"
    );
    assert_eq!(job.targets[0].builds[1].retry_due, None);
}

/// `launchpad-truths.md`, "Registry uploads": an upload auto-retry scheduled that ends
/// superseded pushed nothing for this build: not "worked on retry", and not a success.
#[test]
fn an_auto_retried_upload_that_ends_superseded_is_not_a_recovery() {
    let failed = snapshot(
        "arm64",
        BuildState::SuccessfullyBuilt,
        UploadStatus::FailedToUpload,
    );
    let (mut job, _) = listed_with(failed, true);
    let due = job.targets[0].builds[1].retry_due.unwrap();
    auto_retry_scheduled(&mut job, due);
    let generation = job.targets[0].builds[1].generation;
    let step = observe(
        &mut job,
        Observation::BuildRead {
            target: 0,
            build: 1,
            generation,
            result: Ok(Some(snapshot(
                "arm64",
                BuildState::BuildForSupersededSource,
                UploadStatus::Superseded,
            ))),
        },
        due,
        &rules(),
    );
    assert_eq!(
        step.notices,
        [Notice::UploadSuperseded {
            target: 0,
            build: 1
        }]
    );
    assert_eq!(job.targets[0].builds[1].progress(), Progress::Superseded);
    assert_eq!(job.tally().superseded, 1);
    assert_eq!(job.tally().succeeded, 0);
}

/// `launchpad-truths.md`, "Registry uploads": a delivery says the upload failed, and the read
/// it leads to answers 500: Launchpad cannot show the registries' errors. A failed upload at
/// once (no three reads needed), told once; auto-retry schedules it again, and a read works
/// again after.
#[test]
fn a_delivered_failure_whose_read_answers_500_is_a_failed_upload_at_once_and_auto_retried() {
    let (mut job, _) = listed_with(
        snapshot(
            "arm64",
            BuildState::SuccessfullyBuilt,
            UploadStatus::Pending,
        ),
        true,
    );
    let url = job.targets[0].builds[1].url.to_string();
    observe(
        &mut job,
        Observation::Delivered {
            build_url: url,
            request_url: None,
            reported: Some((BuildState::SuccessfullyBuilt, UploadStatus::FailedToUpload)),
        },
        t0(),
        &rules(),
    );
    let step = observe(&mut job, Observation::Tick, t0(), &rules());
    assert!(step.actions.contains(&Action::ReadBuild {
        target: 0,
        build: 1
    }));
    let generation = job.targets[0].builds[1].generation;
    let step = observe(
        &mut job,
        Observation::BuildRead {
            target: 0,
            build: 1,
            generation,
            result: Err(server_error(500)),
        },
        t0(),
        &rules(),
    );
    assert_eq!(
        step.notices,
        [Notice::UploadFailed {
            target: 0,
            build: 1,
            epoch: 1
        }]
    );
    let build = &job.targets[0].builds[1];
    assert!(build.failure_delivered());
    assert_eq!(build.unreadable.as_deref(), Some("OOPS-1"));
    let due = build.retry_due.expect("auto-retry is due");
    auto_retry_scheduled(&mut job, due);
    let build = &job.targets[0].builds[1];
    assert_eq!(
        build.unreadable, None,
        "a new upload: Launchpad shows it again"
    );
    assert_eq!(build.progress(), Progress::Uploading);
}

/// `launchpad-truths.md`, "Registry uploads": a request's builds collection holding a build
/// Launchpad cannot show answers 500 too. After three such answers the job goes on with what
/// deliveries named: it reads those builds one by one, follows the one asked for, cancels one
/// not asked for, and names every architecture still unfound (not "queued elsewhere").
#[test]
fn builds_launchpad_cannot_list_fall_back_to_those_deliveries_named() {
    let mut job = requested(false, &rules());
    // As `snapshot` names builds.
    let named = |arch: &str| format!("http://lp/devel/r/+build/{arch}");
    for arch in ["arm64", "amd64"] {
        observe(
            &mut job,
            Observation::Delivered {
                build_url: named(arch),
                request_url: Some(REQUEST.into()),
                reported: None,
            },
            t0(),
            &rules(),
        );
    }
    let mut step = Default::default();
    for _ in 0..3 {
        step = observe(
            &mut job,
            Observation::BuildsListed {
                target: 0,
                ran: true,
                result: Err(server_error(500)),
            },
            t0(),
            &rules(),
        );
    }
    let reads: Vec<&Action> = step
        .actions
        .iter()
        .filter(|a| matches!(a, Action::ReadCandidateBuild { .. }))
        .collect();
    assert_eq!(reads.len(), 2, "{:?}", step.actions);
    assert!(matches!(job.targets[0].phase, Phase::Following { .. }));
    let at = |arch: &str| snapshot(arch, BuildState::NeedsBuilding, UploadStatus::Unscheduled);
    observe(
        &mut job,
        Observation::CandidateBuildRead {
            target: 0,
            own: true,
            result: Ok(at("arm64")),
        },
        t0(),
        &rules(),
    );
    let step = observe(
        &mut job,
        Observation::CandidateBuildRead {
            target: 0,
            own: true,
            result: Ok(at("amd64")),
        },
        t0(),
        &rules(),
    );
    let target = &job.targets[0];
    assert!(
        target
            .builds
            .iter()
            .any(|b| b.wanted && b.arch.as_str() == "arm64"),
        "the one asked for is followed"
    );
    assert!(step.actions.iter().any(|a| matches!(
        a,
        Action::Call {
            call: BuildCall::Cancel,
            ..
        }
    )));
    assert!(
        target.missing.is_empty(),
        "arm64 was found: {:?}",
        target.missing
    );
}
