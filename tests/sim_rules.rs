//! The simulator's rules are Launchpad's: one test per rule the bot depends on, each naming
//! the place in Launchpad's source it follows (`reference/launchpad-truths.md`, paths inside
//! the Launchpad repository at `eafda459`). Over real HTTP with the real client.

mod support;

use std::time::Duration;

use image_builder::launchpad::models::{BuildState, RequestStatus, UploadStatus, ALREADY_PENDING};
use image_builder::launchpad::sim::scenario::{Failures, Outcome, RecipeRule, Scenario};
use image_builder::launchpad::sim::Simulator;
use image_builder::launchpad::Client;
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
    let queued = |sim: &Simulator| {
        sim.with_world(|world| {
            world
                .builds
                .values()
                .filter(|build| build.state == BuildState::NeedsBuilding)
                .count()
        })
    };
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
