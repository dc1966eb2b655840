//! The simulator's rules are Launchpad's: one test per rule the bot depends on, each naming
//! the place in Launchpad's source it follows (`reference/launchpad-truths.md`, paths inside
//! the Launchpad repository at `eafda459`). Over real HTTP with the real client.

mod support;

use std::time::Duration;

use image_builder::launchpad::models::{BuildState, RequestStatus, UploadStatus, ALREADY_PENDING};
use image_builder::launchpad::sim::scenario::{Failures, Outcome, RecipeRule, Scenario};
use image_builder::launchpad::sim::world::{SimBuild, World};
use image_builder::launchpad::sim::Simulator;
use image_builder::launchpad::{Client, Conditional, LaunchpadError};
use support::{advance_until, client, simulator_with};

const REDIS: &str = "~ubuntu-docker-images/ubuntu-docker-images/+oci/redis/+recipe/redis-5.0-20.04";

fn redis(sim: &Simulator) -> String {
    format!("{}{REDIS}", sim.api_root())
}

async fn with(scenario: Scenario) -> (Simulator, Client) {
    let sim = simulator_with(|settings| settings.scenario = scenario).await;
    let client = client(&sim);
    (sim, client)
}

/// The architectures of a request's builds once it completed, and its status.
async fn made(sim: &Simulator, client: &Client, request: &str) -> (RequestStatus, Vec<String>) {
    sim.advance(Duration::from_secs(30));
    let request = client.build_request(request).await.unwrap();
    let builds = client
        .builds(&request.builds_collection_link)
        .await
        .unwrap();
    (
        request.status,
        builds.into_iter().map(|build| build.arch_tag).collect(),
    )
}

/// `lib/lp/oci/model/ocirecipe.py:515-525, 625-633`: a request builds the recipe's processors
/// that the current series can build, not the architectures a catalogue lists.
#[tokio::test]
async fn a_request_builds_the_recipes_processors_that_the_series_can_build() {
    let (sim, client) = with(Scenario {
        recipes: vec![RecipeRule {
            image: "redis".parse().unwrap(),
            series: Some("20.04".parse().unwrap()),
            processors: ["amd64", "arm64", "s390x"]
                .iter()
                .map(|arch| arch.parse().unwrap())
                .collect(),
        }],
        without_chroot: vec!["s390x".parse().unwrap()],
        ..Scenario::default()
    })
    .await;
    let request = client.request_builds(&redis(&sim)).await.unwrap();
    let (status, arches) = made(&sim, &client, &request).await;
    assert_eq!(status, RequestStatus::Completed);
    assert_eq!(arches, ["arm64", "amd64"], "by processor name, descending");
    let processors = client.processors(&redis(&sim)).await.unwrap();
    assert_eq!(processors, ["amd64", "arm64", "s390x"]);
}

/// `ocirecipe.py:674-701`: with no architecture allowed, the request completes with no builds.
#[tokio::test]
async fn a_request_with_nothing_to_build_completes_empty() {
    let (sim, client) = with(Scenario {
        recipes: vec![RecipeRule {
            image: "redis".parse().unwrap(),
            series: Some("20.04".parse().unwrap()),
            processors: vec!["riscv64".parse().unwrap()],
        }],
        without_chroot: vec!["riscv64".parse().unwrap()],
        ..Scenario::default()
    })
    .await;
    let request = client.request_builds(&redis(&sim)).await.unwrap();
    assert_eq!(
        made(&sim, &client, &request).await,
        (RequestStatus::Completed, vec![])
    );
}

/// `ocirecipe.py:642-657, 674-701`: each architecture with a queued build is skipped; the
/// request fails "already pending" only when every one was; and only queued builds count, so
/// once they are dispatched a second request builds everything again.
#[tokio::test]
async fn the_dedupe_skips_queued_architectures_only_and_fails_only_when_all_are() {
    let (sim, client) = with(Scenario::default()).await;
    let first = client.request_builds(&redis(&sim)).await.unwrap();
    assert_eq!(made(&sim, &client, &first).await.1.len(), 4);
    let second = client.request_builds(&redis(&sim)).await.unwrap();
    sim.advance(Duration::from_secs(30));
    let request = client.build_request(&second).await.unwrap();
    assert_eq!(request.status, RequestStatus::Failed);
    assert_eq!(request.error_message.as_deref(), Some(ALREADY_PENDING));
    // Once every build left the queue, a third request builds all four again.
    advance_until(&sim, "the first builds are dispatched", |world| {
        world
            .builds
            .values()
            .all(|build| build.state != BuildState::NeedsBuilding)
    });
    let third = client.request_builds(&redis(&sim)).await.unwrap();
    let (status, arches) = made(&sim, &client, &third).await;
    assert_eq!(status, RequestStatus::Completed);
    assert_eq!(
        arches.len(),
        4,
        "duplicates: Launchpad does not dedupe against running builds"
    );
    assert_eq!(sim.with_world(|world| world.builds.len()), 8);
}

/// A queued build waits for a builder for minutes (`Timing::queue`), as on a busy Launchpad:
/// the dedupe window is real, not everlasting.
#[tokio::test]
async fn a_queued_build_is_dispatched_on_launchpads_clock() {
    let (sim, client) = with(Scenario::default()).await;
    let request = client.request_builds(&redis(&sim)).await.unwrap();
    made(&sim, &client, &request).await;
    let queued = |sim: &Simulator| counted(sim, |build| build.state == BuildState::NeedsBuilding);
    assert_eq!(queued(&sim), 4);
    sim.advance(Duration::from_secs(50));
    assert_eq!(queued(&sim), 4, "none leaves the queue within a minute");
    sim.advance(Duration::from_secs(5 * 60));
    assert_eq!(queued(&sim), 0, "all have left it within five");
}

/// `ocirecipebuild.py:488-500`: `retry` keeps the last upload job, so the upload status stays
/// until the build uploads again.
#[tokio::test]
async fn retry_keeps_the_upload_status() {
    let (sim, client) = with(Scenario {
        outcomes: vec![Outcome {
            upload_failures: Failures::Always,
            ..Outcome::default()
        }],
        ..Scenario::default()
    })
    .await;
    let request = client.request_builds(&redis(&sim)).await.unwrap();
    made(&sim, &client, &request).await;
    let id = sim.with_world(|world| *world.builds.keys().next().unwrap());
    advance_until(&sim, "the upload failed", |world| {
        world.builds[&id].upload == UploadStatus::FailedToUpload
    });
    // A failed upload can be retried as a build only after the build itself fails: fail it.
    sim.with_world_mut(|world| {
        world.builds.get_mut(&id).unwrap().state = BuildState::FailedToBuild;
    });
    let url = format!("{}/+build/{id}", redis(&sim));
    client.retry(&url).await.unwrap();
    let (state, upload) = sim.with_world(|world| {
        let build = &world.builds[&id];
        (build.state.clone(), build.upload.clone())
    });
    assert_eq!(state, BuildState::NeedsBuilding);
    assert_eq!(upload, UploadStatus::FailedToUpload);
}

/// `lib/lp/buildmaster/model/buildfarmjob.py:348-377` and
/// `lib/lp/oci/subscribers/ocirecipebuild.py:46`: `retry`, and a `cancel` that changes nothing,
/// deliver nothing; a change of state or upload status does, with the payload as it was then.
#[tokio::test]
async fn retry_and_a_cancel_that_changes_nothing_deliver_nothing() {
    let (sim, client) = with(Scenario {
        outcomes: vec![Outcome {
            build_failures: Failures::Times(1),
            ..Outcome::default()
        }],
        ..Scenario::default()
    })
    .await;
    sim.with_world_mut(|world| {
        let recipe = REDIS.to_string();
        world.new_webhook(
            &recipe,
            "http://127.0.0.1:9/".into(),
            vec!["oci-recipe:build:0.1".into()],
            true,
            None,
        );
    });
    let request = client.request_builds(&redis(&sim)).await.unwrap();
    made(&sim, &client, &request).await;
    let id = sim.with_world(|world| *world.builds.keys().next().unwrap());
    advance_until(&sim, "the build failed", |world| {
        world.builds[&id].state == BuildState::FailedToBuild
    });
    let events = |sim: &Simulator| {
        sim.with_world_mut(|world| {
            world.queue_deliveries();
            world.deliveries.len()
        })
    };
    let before = events(&sim);
    let url = format!("{}/+build/{id}", redis(&sim));
    client.cancel(&url).await.unwrap();
    assert_eq!(
        events(&sim),
        before,
        "a cancel of a failed build changes nothing"
    );
    client.retry(&url).await.unwrap();
    assert_eq!(events(&sim), before, "retry delivers nothing");
    sim.advance(Duration::from_secs(10 * 60));
    let after = events(&sim);
    assert!(after > before, "the retried build moving on is delivered");
    let bodies: Vec<String> =
        sim.with_world(|world| world.deliveries.values().map(|d| d.body.clone()).collect());
    assert!(
        bodies
            .iter()
            .any(|body| body.contains("\"status\": \"Currently building\"")),
        "each delivery shows the state it announces: {bodies:#?}"
    );
}

/// `lib/lp/oci/subscribers/ocirecipebuild.py:17-36`, `cronscripts/request_daily_builds.py:37-45`:
/// OCI recipes have no daily builds; a build nobody asked the bot for was made by someone's
/// build request, which every delivery names.
#[tokio::test]
async fn a_foreign_build_has_a_build_request_of_someone_else() {
    let (sim, _client) = with(Scenario::default()).await;
    let id = sim
        .with_world_mut(|world| world.foreign_build("redis", "20.04", "arm64"))
        .unwrap();
    let (request, requester, asked) = sim.with_world(|world| {
        let request = world.builds[&id].request.unwrap();
        let r = &world.requests[&request];
        (request, r.requester.clone(), r.architectures.clone())
    });
    assert_eq!(requester, "someone-else");
    assert_eq!(
        asked,
        Some(vec!["arm64".parse().unwrap()]),
        "the web UI's form names it"
    );
    let body = sim.with_world_mut(|world| {
        world.queue_deliveries();
        world.deliveries.values().next().map(|d| d.body.clone())
    });
    assert!(body.is_none(), "no webhook, no delivery");
    sim.with_world(|world| assert_eq!(world.requests[&request].status, RequestStatus::Completed));
}

/// How many of the world's builds `which` picks.
fn counted(sim: &Simulator, which: impl Fn(&SimBuild) -> bool) -> usize {
    sim.with_world(|world| world.builds.values().filter(|b| which(b)).count())
}

/// Steps the clock until `done`, in steps of `step` (for rules measured in minutes and hours).
fn advance_in(sim: &Simulator, step: Duration, what: &str, done: impl Fn(&World) -> bool) {
    for _ in 0..2000 {
        if sim.with_world(&done) {
            return;
        }
        sim.advance(step);
    }
    panic!("not reached: {what}");
}

/// The builds of the first request of redis 20.04, by architecture.
fn build_of(sim: &Simulator, arch: &str) -> u64 {
    sim.with_world(|world| {
        world
            .builds
            .values()
            .find(|build| build.arch.as_str() == arch)
            .map(|build| build.id)
            .unwrap()
    })
}

/// `lib/lp/oci/interfaces/ocirecipebuild.py:295-307, 507-510`,
/// `lib/lp/oci/model/ociregistryclient.py:483-500`: when pushes to two registries fail with the
/// registries' errors, `registry_upload_errors` holds a list per push rule, which lazr's dict
/// marshaller cannot render: the build's entry and its request's builds answer 500 (with an
/// OOPS id) until a new upload job replaces the errors; a named POST still works.
#[tokio::test]
async fn an_upload_refused_by_two_registries_makes_the_build_unreadable_until_its_next_upload() {
    let (sim, client) = with(Scenario {
        outcomes: vec![Outcome {
            upload_failures: Failures::Times(1),
            ..Outcome::default()
        }],
        registries: support::two_registries(),
        ..Scenario::default()
    })
    .await;
    let request = client.request_builds(&redis(&sim)).await.unwrap();
    made(&sim, &client, &request).await;
    let id = build_of(&sim, "arm64");
    advance_until(&sim, "the upload failed", |world| {
        world.builds[&id].upload == UploadStatus::FailedToUpload
    });
    let url = format!("{}/+build/{id}", redis(&sim));
    let oops = |error: LaunchpadError| match error {
        LaunchpadError::Server {
            status: 500,
            oops_id: Some(oops),
            ..
        } => oops,
        other => panic!("{other:?}"),
    };
    assert!(oops(client.build(&url, None).await.unwrap_err()).starts_with("OOPS-"));
    let listed = client.builds(&format!("{request}/builds")).await;
    assert!(
        oops(listed.unwrap_err()).starts_with("OOPS-"),
        "the collection too"
    );
    client.schedule_registry_upload(&url).await.unwrap();
    let Conditional::Modified(build) = client.build(&url, None).await.unwrap() else {
        panic!("a 304 to a read without an ETag")
    };
    assert_eq!(build.registry_upload_status, UploadStatus::Pending);
    assert!(build.registry_upload_errors.per_rule.is_empty());
}

/// `lib/lp/oci/model/ociregistryclient.py:463-472, 619-647` and `ocirecipebuild.py`'s
/// `hasMoreRecentBuild`: at upload time, a build with a newer successful build of the same
/// recipe and processor is marked superseded and nothing is pushed.
#[tokio::test]
async fn a_newer_build_of_the_recipe_and_processor_supersedes_an_older_one_at_upload_time() {
    let (sim, client) = with(Scenario::default()).await;
    let request = client.request_builds(&redis(&sim)).await.unwrap();
    made(&sim, &client, &request).await;
    let old = build_of(&sim, "arm64");
    advance_until(&sim, "the old build is on its way to Launchpad", |world| {
        world.builds[&old].state == BuildState::UploadingBuild
    });
    // Someone's newer build of arm64, built first (a late retry's race in a mass rebuild).
    let newer = sim
        .with_world_mut(|world| {
            let id = world.foreign_build("redis", "20.04", "arm64")?;
            world.builds.get_mut(&id)?.state = BuildState::SuccessfullyBuilt;
            Some(id)
        })
        .unwrap();
    assert!(newer > old);
    advance_until(&sim, "the old build's upload ran", |world| {
        world.builds[&old].upload != UploadStatus::Unscheduled
            && world.builds[&old].upload != UploadStatus::Pending
    });
    let Conditional::Modified(build) = client
        .build(&format!("{}/+build/{old}", redis(&sim)), None)
        .await
        .unwrap()
    else {
        panic!("a 304 to a read without an ETag")
    };
    assert_eq!(build.buildstate, BuildState::BuildForSupersededSource);
    assert_eq!(build.registry_upload_status, UploadStatus::Superseded);
    assert!(build.can_be_retried, "a superseded build can be retried");
}

/// `lib/lp/oci/model/ocirecipe.py:515-525, 625-633`: an architecture whose
/// `distro_arch_series` in the distribution's current series has no chroot gets no build and
/// no error; its `distro_arch_series` says why (`chroot_url` null), found through Ubuntu's
/// `current_series_link`.
#[tokio::test]
async fn an_architecture_without_a_chroot_gets_no_build_and_its_distro_arch_series_says_why() {
    let (sim, client) = with(Scenario {
        without_chroot: vec!["s390x".parse().unwrap()],
        ..Scenario::default()
    })
    .await;
    let request = client.request_builds(&redis(&sim)).await.unwrap();
    let (status, arches) = made(&sim, &client, &request).await;
    assert_eq!(status, RequestStatus::Completed);
    assert_eq!(arches, ["ppc64el", "arm64", "amd64"]);
    assert!(!client.arch_buildable("s390x").await.unwrap());
    assert!(client.arch_buildable("amd64").await.unwrap());
    assert!(
        !client.arch_buildable("riscv64").await.unwrap(),
        "one the series does not have at all"
    );
    let ubuntu: serde_json::Value = reqwest::Client::builder()
        .user_agent("sim-rules-test")
        .build()
        .unwrap()
        .get(format!("{}ubuntu", sim.api_root()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ubuntu["current_series_link"],
        format!("{}ubuntu/noble", sim.api_root()),
        "the newest series: OCI builds are made on the current one"
    );
}

/// `lib/lp/oci/model/ocirecipebuildjob.py:195-232`: uploads of one recipe run one at a time
/// (an advisory lock); a job meeting the lock is tried again after 10, 15, 20, 30 and 10
/// minutes, then fails with no summary (`launchpad-truths.md`, "Registry uploads").
#[tokio::test]
async fn uploads_of_one_recipe_run_one_at_a_time_and_one_meeting_the_lock_waits_then_fails() {
    let (sim, client) = with(Scenario::default()).await;
    sim.with_world_mut(|world| {
        // Every build takes exactly as long, so all four finish at once; a push takes two hours.
        world.timing.queue = (Duration::from_secs(60), Duration::from_secs(60));
        world.timing.build = (Duration::from_secs(600), Duration::from_secs(600));
        world.timing.registry_upload = (Duration::from_secs(7200), Duration::from_secs(7200));
    });
    let request = client.request_builds(&redis(&sim)).await.unwrap();
    made(&sim, &client, &request).await;
    advance_in(&sim, Duration::from_secs(10), "all four built", |world| {
        world
            .builds
            .values()
            .all(|build| build.state == BuildState::SuccessfullyBuilt)
    });
    sim.advance(Duration::from_secs(1));
    let pushing = sim.with_world(|world| world.builds.values().filter(|b| b.pushing).count());
    assert_eq!(pushing, 1, "one upload of the recipe at a time");
    let built_at = sim.with_world(|world| world.now);
    // The others wait: still pending ten minutes on, and an hour on.
    sim.advance(Duration::from_secs(9 * 60));
    let pending = |sim: &Simulator| counted(sim, |b| b.upload == UploadStatus::Pending);
    assert_eq!(pending(&sim), 4);
    // 10 + 15 + 20 + 30 + 10 minutes of waiting, and the lock still held: they fail.
    advance_in(
        &sim,
        Duration::from_secs(60),
        "the waiting uploads fail",
        |world| {
            world
                .builds
                .values()
                .filter(|b| b.upload == UploadStatus::FailedToUpload)
                .count()
                == 3
        },
    );
    let waited = sim.with_world(|world| world.now) - built_at;
    assert!(
        waited >= chrono::Duration::minutes(85) && waited < chrono::Duration::minutes(90),
        "{waited}"
    );
    sim.with_world(|world| {
        for build in world.builds.values().filter(|b| !b.pushing) {
            assert_eq!(
                build.upload_error_summary, None,
                "no summary: {}",
                build.arch
            );
        }
    });
}

/// The bodies of the deliveries made to webhooks, in the order they were made.
fn delivered_bodies(sim: &Simulator) -> Vec<String> {
    sim.with_world_mut(|world| {
        world.queue_deliveries();
        world.deliveries.values().map(|d| d.body.clone()).collect()
    })
}

/// A webhook on redis 20.04 to `url`, active or not.
fn hook(sim: &Simulator, url: &str, active: bool) -> u64 {
    sim.with_world_mut(|world| {
        world.new_webhook(
            REDIS,
            url.to_string(),
            vec!["oci-recipe:build:0.1".into()],
            active,
            None,
        )
    })
}

/// `lib/lp/oci/subscribers/ocirecipebuild.py:43-58`: the delivery of a build's success is
/// made before its upload job exists, so it says `Unscheduled`; the upload job's start is
/// another, `Pending`.
#[tokio::test]
async fn a_successful_build_is_delivered_unscheduled_then_pending() {
    let (sim, client) = with(Scenario::default()).await;
    hook(&sim, "http://127.0.0.1:9/", true);
    let request = client.request_builds(&redis(&sim)).await.unwrap();
    made(&sim, &client, &request).await;
    let id = build_of(&sim, "arm64");
    advance_until(&sim, "built", |world| {
        world.builds[&id].state == BuildState::SuccessfullyBuilt
    });
    let of_build: Vec<String> = delivered_bodies(&sim)
        .into_iter()
        .filter(|body| body.contains(&format!("/+build/{id}\"")))
        .filter(|body| body.contains("\"Successfully built\""))
        .collect();
    assert_eq!(of_build.len(), 2, "{of_build:#?}");
    assert!(
        of_build[0].contains("\"registry_upload_status\": \"Unscheduled\""),
        "{}",
        of_build[0]
    );
    assert!(
        of_build[1].contains("\"registry_upload_status\": \"Pending\""),
        "{}",
        of_build[1]
    );
}

/// A receiver of webhook deliveries on a free loopback port answering `status`; returns its
/// URL and the delivery numbers (`X-Launchpad-Delivery`) in the order they arrived.
async fn receiver(status: u16) -> (String, std::sync::Arc<std::sync::Mutex<Vec<u64>>>) {
    let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = received.clone();
    let app = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let log = log.clone();
        async move {
            let id = headers
                .get("x-launchpad-delivery")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            log.lock().unwrap().push(id);
            axum::http::StatusCode::from_u16(status).unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

/// Waits (in real time: deliveries are sent by the simulator's own task) until `done`.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not reached: {what}");
}

/// `launchpad-truths.md`, "Builds nobody asked the bot for": deliveries are jobs of their
/// own and arrive in any order, not the order they were made.
#[tokio::test]
async fn deliveries_made_together_arrive_in_any_order() {
    let (sim, _client) = with(Scenario::default()).await;
    let (url, received) = receiver(200).await;
    sim.with_world_mut(|world| {
        for recipe in world.recipes.keys().cloned().collect::<Vec<_>>() {
            world.new_webhook(
                &recipe,
                url.clone(),
                vec!["oci-recipe:build:0.1".into()],
                true,
                None,
            );
        }
        for image in ["apache2", "bind9", "memcached", "nginx", "squid", "redis"] {
            world.foreign_build(image, "22.04", "amd64").unwrap();
        }
    });
    eventually("six deliveries", || received.lock().unwrap().len() == 6).await;
    let order = received.lock().unwrap().clone();
    let mut made = order.clone();
    made.sort();
    assert_ne!(order, made, "not in the order made: {order:?}");
}

/// `lib/lp/services/webhooks/model.py:390-398, 748-755` and `webhooks/interfaces.py:449-466`:
/// an inactive webhook gets no delivery of a build's change; a ping to it ends "Webhook
/// deactivated", unsent and not tried again; a delivery Launchpad gave up on (an hour of 4xx)
/// can be sent again with `retry`, `reset` starting its clock anew.
#[tokio::test]
async fn no_delivery_goes_to_an_inactive_webhook_and_a_given_up_one_can_be_sent_again() {
    let (sim, client) = with(Scenario::default()).await;
    let (url, received) = receiver(401).await;
    let hook = hook(&sim, &url, false);
    sim.with_world_mut(|world| world.foreign_build("redis", "20.04", "amd64"))
        .unwrap();
    assert!(delivered_bodies(&sim).is_empty(), "inactive: nothing made");
    let ping = sim.with_world_mut(|world| world.ping(hook));
    eventually("the ping is given up", || {
        sim.with_world(|world| !world.deliveries[&ping].pending)
    })
    .await;
    sim.with_world(|world| {
        let ping = &world.deliveries[&ping];
        assert_eq!(ping.error_message.as_deref(), Some("Webhook deactivated"));
        assert_eq!(ping.attempts, 0, "never sent");
    });
    assert!(received.lock().unwrap().is_empty());
    // Active, and refusing (401): Launchpad tries for an hour, then gives up.
    sim.with_world_mut(|world| world.webhooks.get_mut(&hook).unwrap().active = true);
    let build = sim
        .with_world_mut(|world| world.foreign_build("redis", "21.04", "amd64"))
        .unwrap();
    sim.with_world_mut(|world| world.foreign_build("redis", "20.04", "arm64"));
    let delivery = sim.with_world_mut(|world| {
        world.queue_deliveries();
        world.deliveries.keys().copied().max().unwrap()
    });
    assert_ne!(delivery, ping);
    for _ in 0..80 {
        sim.advance(Duration::from_secs(60));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    sim.with_world(|world| {
        let delivery = &world.deliveries[&delivery];
        assert!(
            !delivery.pending,
            "given up after an hour of 401: {delivery:?}"
        );
        assert_eq!(delivery.successful, Some(false));
    });
    let _ = build;
    // `retry` with `reset`: sent again at once, and tried for another hour.
    let link = sim.with_world(|world| {
        let hook = &world.webhooks[&world.deliveries[&delivery].webhook];
        format!(
            "{}{}/+webhook/{}/+delivery/{delivery}",
            sim.api_root(),
            hook.recipe,
            hook.id
        )
    });
    let before = received.lock().unwrap().len();
    client.retry_delivery(&link, true).await.unwrap();
    eventually("sent again", || received.lock().unwrap().len() > before).await;
    sim.with_world(|world| {
        let delivery = &world.deliveries[&delivery];
        assert!(delivery.pending, "its clock started anew: {delivery:?}");
    });
}

/// `lib/lp/services/webapp/servers.py:1497-1507`, `authentication.py:337-341`: a request signed
/// with another method than PLAINTEXT is refused as a wrong signature, 401 "Invalid
/// signature.", once its consumer and token are known.
#[tokio::test]
async fn another_signature_method_is_401_invalid_signature() {
    let (sim, _client) = with(Scenario::default()).await;
    let credentials = sim.credentials();
    let header = format!(
        "OAuth realm=\"https://api.launchpad.net/\", oauth_consumer_key=\"{}\", oauth_token=\"{}\", oauth_signature_method=\"HMAC-SHA1\", oauth_signature=\"%26{}\", oauth_timestamp=\"1\", oauth_nonce=\"n\", oauth_version=\"1.0\"",
        credentials.consumer_key,
        credentials.access_token.expose(),
        credentials.access_secret.expose()
    );
    let answer = reqwest::Client::new()
        .get(format!("{}people/+me", sim.api_root()))
        .header("Authorization", header)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 401);
    assert_eq!(answer.text().await.unwrap(), "Invalid signature.");
}

/// `lib/lp/oci/configure.zcml:72-83` (`IOCIRecipeBuildEdit`): `cancel`, `retry` and
/// `scheduleRegistryUpload` need the recipe's owning team; anyone else gets 401.
#[tokio::test]
async fn build_operations_outside_the_owning_team_are_refused_401() {
    let (sim, client) = with(Scenario::default()).await;
    let request = client.request_builds(&redis(&sim)).await.unwrap();
    made(&sim, &client, &request).await;
    let id = build_of(&sim, "arm64");
    let url = format!("{}/+build/{id}", redis(&sim));
    let mut settings = support::client_settings(&sim);
    settings.credentials = Some(sim.credentials_for("outsider"));
    let outsider = Client::new(settings).unwrap();
    for result in [
        outsider.cancel(&url).await,
        outsider.retry(&url).await,
        outsider.schedule_registry_upload(&url).await,
    ] {
        assert!(
            matches!(result, Err(LaunchpadError::Unauthorized { .. })),
            "{result:?}"
        );
    }
    sim.with_world(|world| {
        assert_eq!(
            world.builds[&id].state,
            BuildState::NeedsBuilding,
            "nothing changed"
        )
    });
}

/// `launchpad-truths.md`, "Registry uploads": Launchpad failing to take a build's files in is
/// the build *state* `Failed to upload`, not a registry upload; its reason is in
/// `upload_log_url` (plain text through the librarian), while the build log shows a good build.
#[tokio::test]
async fn files_launchpad_cannot_take_in_are_the_build_state_failed_to_upload_with_an_upload_log() {
    let (sim, client) = with(Scenario {
        outcomes: vec![Outcome {
            processing_failures: Failures::Times(1),
            ..Outcome::default()
        }],
        ..Scenario::default()
    })
    .await;
    let request = client.request_builds(&redis(&sim)).await.unwrap();
    made(&sim, &client, &request).await;
    let id = build_of(&sim, "arm64");
    advance_until(&sim, "it ended", |world| world.builds[&id].state.is_final());
    let Conditional::Modified(build) = client
        .build(&format!("{}/+build/{id}", redis(&sim)), None)
        .await
        .unwrap()
    else {
        panic!("a 304 to a read without an ETag")
    };
    assert_eq!(build.buildstate, BuildState::FailedToUpload);
    assert_eq!(build.registry_upload_status, UploadStatus::Unscheduled);
    assert!(build.can_be_retried);
    let log = client.upload_log(&build.upload_log_url.unwrap()).await;
    assert_eq!(log.problem, None, "{log:?}");
    assert!(
        log.errors
            .iter()
            .any(|line| line.contains("digests.json is missing")),
        "{log:?}"
    );
    let build_log = client.build_log(&build.build_log_url.unwrap()).await;
    assert!(
        build_log
            .tail
            .iter()
            .any(|line| line.starts_with("Successfully built")),
        "{build_log:?}"
    );
}
