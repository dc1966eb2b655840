//! The Launchpad client against the built-in simulator, over real HTTP: every operation the bot
//! uses, every error path it must tell apart, retries, paging and the limit on requests in
//! flight.

mod support;

use std::time::Duration;

use image_builder::launchpad::models::{BuildState, RequestStatus, UploadStatus, ALREADY_PENDING};
use image_builder::launchpad::sim::scenario::{Failures, Outcome};
use image_builder::launchpad::sim::Fault;
use image_builder::launchpad::{Client, Conditional, LaunchpadError, Refusal};
use image_builder::secret::Secret;
use support::{advance_until, client, client_settings, config, simulator, simulator_with};

const REDIS_2004: &str =
    "~ubuntu-docker-images/ubuntu-docker-images/+oci/redis/+recipe/redis-5.0-20.04";

fn recipe_url(sim: &image_builder::launchpad::sim::Simulator) -> String {
    format!("{}{REDIS_2004}", sim.api_root())
}

/// Requests builds of redis 20.04 and waits (in simulated time) for the request to complete.
async fn requested_builds(
    sim: &image_builder::launchpad::sim::Simulator,
    client: &Client,
) -> Vec<image_builder::launchpad::models::Build> {
    let request_url = client.request_builds(&recipe_url(sim)).await.unwrap();
    sim.advance(Duration::from_secs(60));
    let request = client.build_request(&request_url).await.unwrap();
    assert_eq!(request.status, RequestStatus::Completed);
    client
        .builds(&request.builds_collection_link)
        .await
        .unwrap()
}

#[tokio::test]
async fn get_recipe_returns_launchpads_fields() {
    let sim = simulator().await;
    let recipe = client(&sim).recipe(&recipe_url(&sim)).await.unwrap();
    assert_eq!(recipe.name, "redis-5.0-20.04");
    assert_eq!(recipe.self_link, recipe_url(&sim));
    assert_eq!(recipe.web_link, format!("{}{REDIS_2004}", sim.web_root()));
    assert_eq!(
        recipe.webhooks_collection_link,
        format!("{}/webhooks", recipe_url(&sim))
    );
    assert!(recipe.http_etag.unwrap().starts_with('"'));
}

#[tokio::test]
async fn the_client_builds_recipe_urls_from_the_catalogue() {
    let sim = simulator().await;
    let client = client(&sim);
    let config = config();
    let redis = config.catalogue.image(&"redis".parse().unwrap()).unwrap();
    assert_eq!(client.recipe_url(&redis.tracks[0].recipe), recipe_url(&sim));
}

#[tokio::test]
async fn request_builds_gives_a_request_that_completes_with_one_build_per_arch() {
    let sim = simulator().await;
    let client = client(&sim);
    let request_url = client.request_builds(&recipe_url(&sim)).await.unwrap();
    assert!(request_url.starts_with(&format!("{}/+build-request/", recipe_url(&sim))));
    let pending = client.build_request(&request_url).await.unwrap();
    assert_eq!(pending.status, RequestStatus::Pending);
    sim.advance(Duration::from_secs(60));
    let completed = client.build_request(&request_url).await.unwrap();
    assert_eq!(completed.status, RequestStatus::Completed);
    assert!(completed.date_finished.is_some());
    let builds = client
        .builds(&completed.builds_collection_link)
        .await
        .unwrap();
    let arches: Vec<&str> = builds.iter().map(|b| b.arch_tag.as_str()).collect();
    assert_eq!(
        arches,
        ["s390x", "ppc64el", "arm64", "amd64"],
        "by processor, descending"
    );
    assert!(builds
        .iter()
        .all(|b| b.buildstate == BuildState::NeedsBuilding));
    assert!(builds
        .iter()
        .all(|b| b.can_be_cancelled && !b.can_be_retried));
    assert_eq!(sim.requests("POST requestBuilds"), 1);
}

#[tokio::test]
async fn a_second_request_while_builds_are_queued_fails_as_already_pending() {
    let sim = simulator().await;
    let client = client(&sim);
    requested_builds(&sim, &client).await;
    let again = client.request_builds(&recipe_url(&sim)).await.unwrap();
    sim.advance(Duration::from_secs(30));
    let failed = client.build_request(&again).await.unwrap();
    assert_eq!(failed.status, RequestStatus::Failed);
    assert_eq!(failed.error_message.as_deref(), Some(ALREADY_PENDING));
}

#[tokio::test]
async fn builds_run_to_success_and_upload() {
    let sim = simulator().await;
    let client = client(&sim);
    let builds = requested_builds(&sim, &client).await;
    sim.advance(Duration::from_secs(2 * 3600));
    for build in builds {
        let Conditional::Modified(build) = client.build(&build.self_link, None).await.unwrap()
        else {
            panic!("no ETag was sent, so the build comes back");
        };
        assert_eq!(build.buildstate, BuildState::SuccessfullyBuilt);
        assert_eq!(build.registry_upload_status, UploadStatus::Uploaded);
        assert!(build.datebuilt.is_some() && build.date_started.is_some());
    }
}

#[tokio::test]
async fn a_conditional_get_is_not_modified_until_the_build_changes() {
    let sim = simulator().await;
    let client = client(&sim);
    let build = requested_builds(&sim, &client).await.remove(0);
    let etag = build.http_etag.clone().unwrap();
    assert_eq!(
        client.build(&build.self_link, Some(&etag)).await.unwrap(),
        Conditional::NotModified
    );
    sim.advance(Duration::from_secs(3600));
    match client.build(&build.self_link, Some(&etag)).await.unwrap() {
        Conditional::Modified(changed) => assert_ne!(changed.buildstate, BuildState::NeedsBuilding),
        Conditional::NotModified => panic!("the build moved on, yet came back not modified"),
    }
}

#[tokio::test]
async fn cancel_stops_a_queued_build_at_once_and_a_running_one_through_cancelling() {
    let sim = simulator().await;
    let client = client(&sim);
    let builds = requested_builds(&sim, &client).await;
    client.cancel(&builds[0].self_link).await.unwrap();
    let Conditional::Modified(cancelled) = client.build(&builds[0].self_link, None).await.unwrap()
    else {
        unreachable!()
    };
    assert_eq!(cancelled.buildstate, BuildState::CancelledBuild);
    assert!(cancelled.can_be_retried);

    let running = builds[1].self_link.clone();
    advance_until(&sim, "the second build runs", |world| {
        world.builds.values().any(|b| {
            running.ends_with(&format!("/+build/{}", b.id))
                && b.state == BuildState::CurrentlyBuilding
        })
    });
    client.cancel(&running).await.unwrap();
    let Conditional::Modified(cancelling) = client.build(&running, None).await.unwrap() else {
        unreachable!()
    };
    assert_eq!(cancelling.buildstate, BuildState::CancellingBuild);
    sim.advance(Duration::from_secs(60));
    let Conditional::Modified(done) = client.build(&running, None).await.unwrap() else {
        unreachable!()
    };
    assert_eq!(done.buildstate, BuildState::CancelledBuild);
    // Cancelling what cannot be cancelled is a no-op, as on Launchpad.
    client.cancel(&running).await.unwrap();
}

#[tokio::test]
async fn retry_requeues_a_failed_build_and_refuses_one_that_cannot_be_retried() {
    let sim = simulator().await;
    sim.set_outcomes(vec![Outcome {
        build_failures: Failures::Times(1),
        ..Outcome::default()
    }]);
    let client = client(&sim);
    let build = requested_builds(&sim, &client).await.remove(0);
    let error = client.retry(&build.self_link).await.unwrap_err();
    assert_eq!(error.refusal(), Some(Refusal::CannotBeRetried), "{error}");
    assert!(matches!(
        error,
        LaunchpadError::Rejected { status: 400, .. }
    ));

    sim.advance(Duration::from_secs(2 * 3600));
    let Conditional::Modified(failed) = client.build(&build.self_link, None).await.unwrap() else {
        unreachable!()
    };
    assert_eq!(failed.buildstate, BuildState::FailedToBuild);
    assert!(failed.can_be_retried);
    client.retry(&build.self_link).await.unwrap();
    sim.advance(Duration::from_secs(2 * 3600));
    let Conditional::Modified(rebuilt) = client.build(&build.self_link, None).await.unwrap() else {
        unreachable!()
    };
    assert_eq!(rebuilt.buildstate, BuildState::SuccessfullyBuilt);
}

#[tokio::test]
async fn schedule_registry_upload_answers_each_of_launchpads_refusals() {
    let sim = simulator().await;
    sim.set_outcomes(vec![Outcome {
        upload_failures: Failures::Times(1),
        ..Outcome::default()
    }]);
    let client = client(&sim);
    let build = requested_builds(&sim, &client).await.remove(0);
    let url = build.self_link.clone();
    let refusal = |result: Result<(), LaunchpadError>| result.unwrap_err().refusal();

    assert_eq!(
        refusal(client.schedule_registry_upload(&url).await),
        Some(Refusal::NothingToUpload)
    );

    let id: u64 = url.rsplit('/').next().unwrap().parse().unwrap();
    advance_until(&sim, "the first upload is running", |world| {
        world.builds[&id].upload == UploadStatus::Pending
    });
    assert_eq!(
        refusal(client.schedule_registry_upload(&url).await),
        Some(Refusal::UploadInProgress)
    );

    advance_until(&sim, "the first upload failed", |world| {
        world.builds[&id].upload == UploadStatus::FailedToUpload
    });
    let Conditional::Modified(failed) = client.build(&url, None).await.unwrap() else {
        unreachable!()
    };
    assert!(failed.registry_upload_error_summary.is_some());
    assert_eq!(
        failed
            .registry_upload_errors
            .all()
            .next()
            .unwrap()
            .code
            .as_deref(),
        Some("DENIED")
    );
    client.schedule_registry_upload(&url).await.unwrap();
    advance_until(&sim, "the second upload worked", |world| {
        world.builds[&id].upload == UploadStatus::Uploaded
    });
    assert_eq!(
        refusal(client.schedule_registry_upload(&url).await),
        Some(Refusal::AlreadyUploaded)
    );
}

#[tokio::test]
async fn schedule_registry_upload_refuses_a_recipe_without_push_rules() {
    let sim = simulator_with(|settings| {
        settings.scenario.without_push_rules = vec!["redis".parse().unwrap()];
    })
    .await;
    let client = client(&sim);
    let build = requested_builds(&sim, &client).await.remove(0);
    sim.advance(Duration::from_secs(2 * 3600));
    let Conditional::Modified(built) = client.build(&build.self_link, None).await.unwrap() else {
        unreachable!()
    };
    assert_eq!(built.registry_upload_status, UploadStatus::Unscheduled);
    let error = client
        .schedule_registry_upload(&build.self_link)
        .await
        .unwrap_err();
    assert_eq!(error.refusal(), Some(Refusal::UploadNotConfigured));
}

#[tokio::test]
async fn an_unknown_recipe_is_not_found() {
    let sim = simulator().await;
    let url = format!(
        "{}~ubuntu-docker-images/ubuntu-docker-images/+oci/redis/+recipe/nope",
        sim.api_root()
    );
    let error = client(&sim).recipe(&url).await.unwrap_err();
    assert_eq!(error, LaunchpadError::NotFound { url });
}

#[tokio::test]
async fn a_bad_token_is_unauthorized_and_the_message_hides_the_key() {
    let sim = simulator().await;
    let mut settings = client_settings(&sim);
    let mut credentials = sim.credentials();
    credentials.access_token = Secret::new("NotAKnownToken123");
    settings.credentials = Some(credentials);
    let error = Client::new(settings)
        .unwrap()
        .recipe(&recipe_url(&sim))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        LaunchpadError::Unauthorized {
            message: "Unknown access token ([redacted]).".into()
        }
    );

    let mut settings = client_settings(&sim);
    let mut credentials = sim.credentials();
    credentials.access_secret = Secret::new("wrong");
    settings.credentials = Some(credentials);
    let error = Client::new(settings)
        .unwrap()
        .recipe(&recipe_url(&sim))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        LaunchpadError::Unauthorized {
            message: "Invalid signature.".into()
        }
    );
}

#[tokio::test]
async fn anonymous_clients_read_but_may_not_write() {
    let sim = simulator().await;
    let mut settings = client_settings(&sim);
    settings.credentials = None;
    let anonymous = Client::new(settings).unwrap();
    anonymous.recipe(&recipe_url(&sim)).await.unwrap();
    let error = anonymous
        .request_builds(&recipe_url(&sim))
        .await
        .unwrap_err();
    assert!(
        matches!(error, LaunchpadError::Unauthorized { .. }),
        "{error:?}"
    );
    assert_eq!(
        sim.with_world(|world| world.requests.len()),
        0,
        "nothing was requested"
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_an_answer_comes() {
    let sim = simulator().await;
    sim.inject(Some("GET recipe"), Fault::Status(503), 2);
    client(&sim).recipe(&recipe_url(&sim)).await.unwrap();
    assert_eq!(sim.requests("GET recipe"), 3);
}

#[tokio::test]
async fn server_errors_that_outlast_the_retries_surface() {
    let sim = simulator().await;
    sim.inject(Some("GET recipe"), Fault::Status(502), 10);
    let error = client(&sim).recipe(&recipe_url(&sim)).await.unwrap_err();
    assert!(
        matches!(error, LaunchpadError::Server { status: 502, .. }),
        "{error:?}"
    );
    assert_eq!(
        sim.requests("GET recipe"),
        4,
        "the policy allows four attempts"
    );
}

/// A 500 is an OOPS: Launchpad met an exception the same read meets again (every read of a
/// build whose upload failed on several registries answers 500,
/// `reference/launchpad-truths.md`). A read surfaces it at once, with its OOPS id, for the
/// reader to decide what a lasting 500 means.
#[tokio::test]
async fn a_reads_500_surfaces_at_once_with_the_oops_id() {
    let sim = simulator().await;
    sim.inject(Some("GET recipe"), Fault::Status(500), 10);
    let error = client(&sim).recipe(&recipe_url(&sim)).await.unwrap_err();
    match error {
        LaunchpadError::Server {
            status: 500,
            oops_id: Some(oops),
            ..
        } => {
            assert!(oops.starts_with("OOPS-"), "{oops}")
        }
        other => panic!("expected a server error, got {other:?}"),
    }
    assert_eq!(sim.requests("GET recipe"), 1, "not repeated");
}

#[tokio::test]
async fn request_builds_after_a_503_is_retried_because_nothing_happened() {
    let sim = simulator().await;
    sim.inject(Some("POST requestBuilds"), Fault::Status(503), 1);
    client(&sim)
        .request_builds(&recipe_url(&sim))
        .await
        .unwrap();
    assert_eq!(sim.requests("POST requestBuilds"), 2);
    assert_eq!(sim.with_world(|world| world.requests.len()), 1);
}

#[tokio::test]
async fn a_request_builds_timeout_is_outcome_unknown_and_not_repeated() {
    let sim = simulator().await;
    let mut settings = client_settings(&sim);
    settings.request_timeout = Duration::from_millis(300);
    sim.inject(
        Some("POST requestBuilds"),
        Fault::Delay(Duration::from_secs(3)),
        1,
    );
    let error = Client::new(settings)
        .unwrap()
        .request_builds(&recipe_url(&sim))
        .await
        .unwrap_err();
    assert!(
        matches!(error, LaunchpadError::OutcomeUnknown { .. }),
        "{error:?}"
    );
    assert_eq!(
        sim.requests("POST requestBuilds"),
        1,
        "never repeated blindly"
    );
    assert_eq!(
        sim.with_world(|world| world.requests.len()),
        1,
        "the request did happen"
    );
}

#[tokio::test]
async fn a_dropped_connection_is_retried_for_reads_and_unknown_for_request_builds() {
    let sim = simulator().await;
    let client = client(&sim);
    sim.inject(Some("GET recipe"), Fault::Drop, 1);
    client.recipe(&recipe_url(&sim)).await.unwrap();
    assert_eq!(sim.requests("GET recipe"), 2);

    sim.inject(Some("POST requestBuilds"), Fault::Drop, 1);
    let error = client.request_builds(&recipe_url(&sim)).await.unwrap_err();
    assert!(
        matches!(error, LaunchpadError::OutcomeUnknown { .. }),
        "{error:?}"
    );
    assert_eq!(sim.requests("POST requestBuilds"), 1);
}

#[tokio::test]
async fn a_retry_whose_answer_was_lost_succeeds_when_the_repeat_is_refused() {
    let sim = simulator().await;
    sim.set_outcomes(vec![Outcome {
        build_failures: Failures::Times(1),
        ..Outcome::default()
    }]);
    let client = client(&sim);
    let build = requested_builds(&sim, &client).await.remove(0);
    sim.advance(Duration::from_secs(2 * 3600));
    sim.inject(Some("POST retry"), Fault::Drop, 1);
    client.retry(&build.self_link).await.unwrap();
    assert_eq!(
        sim.requests("POST retry"),
        2,
        "the repeat was refused as already retried"
    );
    let Conditional::Modified(queued) = client.build(&build.self_link, None).await.unwrap() else {
        unreachable!()
    };
    assert_eq!(queued.buildstate, BuildState::NeedsBuilding);
}

#[tokio::test]
async fn collections_are_followed_across_pages() {
    let sim = simulator().await;
    let client = client(&sim);
    let request_url = client.request_builds(&recipe_url(&sim)).await.unwrap();
    sim.advance(Duration::from_secs(60));
    let request = client.build_request(&request_url).await.unwrap();
    let paged = format!("{}?ws.size=2", request.builds_collection_link);
    let builds = client.builds(&paged).await.unwrap();
    assert_eq!(builds.len(), 4);
    assert_eq!(sim.requests("GET builds"), 2, "two pages of two");
}

#[tokio::test]
async fn webhooks_are_created_and_listed() {
    let sim = simulator().await;
    let client = client(&sim);
    let secret = Secret::new("s3cret");
    let url = client
        .new_webhook(
            &recipe_url(&sim),
            "https://bot.example/launchpad/webhook",
            &["oci-recipe:build:0.1"],
            Some(&secret),
        )
        .await
        .unwrap();
    assert!(url.starts_with(&format!("{}/+webhook/", recipe_url(&sim))));
    let webhooks = client.webhooks(&recipe_url(&sim)).await.unwrap();
    assert_eq!(webhooks.len(), 1);
    assert_eq!(
        webhooks[0].delivery_url,
        "https://bot.example/launchpad/webhook"
    );
    assert_eq!(webhooks[0].event_types, ["oci-recipe:build:0.1"]);
    assert!(webhooks[0].active);
    let stored = sim.with_world(|world| world.webhooks.values().next().unwrap().secret.clone());
    assert_eq!(stored, Some(secret), "the secret arrived JSON-decoded");

    let error = client
        .new_webhook(&recipe_url(&sim), "https://x", &["git:push:0.1"], None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, LaunchpadError::Rejected { status: 400, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn requests_go_out_concurrently_up_to_the_limit() {
    let sim = simulator().await;
    sim.set_fault_rates(image_builder::launchpad::sim::scenario::FaultRates {
        latency_ms: 200,
        ..Default::default()
    });
    let mut settings = client_settings(&sim);
    settings.max_concurrent_requests = 3;
    let client = Client::new(settings).unwrap();
    let config = config();
    let urls: Vec<String> = config
        .catalogue
        .images
        .iter()
        .map(|image| client.recipe_url(&image.tracks[0].recipe))
        .collect();
    assert_eq!(urls.len(), 8);
    let fetches = urls.into_iter().map(|url| {
        let client = client.clone();
        async move { client.recipe(&url).await }
    });
    for result in futures_join_all(fetches).await {
        result.unwrap();
    }
    assert_eq!(sim.max_in_flight(), 3, "three at once, never more");
}

/// Runs futures concurrently and collects their outputs in order.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for (index, future) in futures.into_iter().enumerate() {
        set.spawn(async move { (index, future.await) });
    }
    let mut results = Vec::new();
    while let Some(joined) = set.join_next().await {
        results.push(joined.unwrap());
    }
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, output)| output).collect()
}

#[tokio::test]
async fn an_outage_longer_than_the_retry_budget_fails_at_once_and_ends_when_time_passes() {
    let sim = simulator().await;
    let client = client(&sim);
    sim.outage(Duration::from_secs(600));
    let error = client.recipe(&recipe_url(&sim)).await.unwrap_err();
    assert!(
        matches!(error, LaunchpadError::Server { status: 503, .. }),
        "{error:?}"
    );
    assert_eq!(
        sim.requests("GET recipe"),
        1,
        "Retry-After asked for ten minutes, more than the budget: no point retrying"
    );
    sim.advance(Duration::from_secs(601));
    client.recipe(&recipe_url(&sim)).await.unwrap();
}

#[tokio::test]
async fn a_short_outage_is_ridden_out() {
    let sim = simulator().await;
    sim.inject(Some("GET build_request"), Fault::Status(502), 1);
    sim.inject(Some("GET build_request"), Fault::Status(504), 1);
    let client = client(&sim);
    let request_url = client.request_builds(&recipe_url(&sim)).await.unwrap();
    let request = client.build_request(&request_url).await.unwrap();
    assert_eq!(request.status, RequestStatus::Pending);
    assert_eq!(sim.requests("GET build_request"), 3);
}

/// Every shape Launchpad gives `registry_upload_errors` (`reference/launchpad-truths.md`,
/// "Registry uploads"), made by the simulator's push rules, decodes: the wire's JSON is
/// checked first, so the test knows which shape it decoded.
#[tokio::test]
async fn every_shape_of_registry_upload_errors_decodes_over_the_wire() {
    use image_builder::launchpad::sim::scenario::{Scenario, UploadError};
    let registries = support::two_registries();
    let docker = || Some(vec!["https://registry-1.docker.io".to_string()]);
    // (how the pushes fail, the JSON expected, push rules decoded, errors decoded)
    let cases: Vec<(Outcome, &str, usize, usize)> = vec![
        (
            Outcome {
                failing_registries: docker(),
                ..Outcome::default()
            },
            "[{\"code\":\"DENIED\",",
            1,
            1,
        ),
        (
            Outcome {
                failing_registries: docker(),
                upload_error: UploadError::Unreachable,
                ..Outcome::default()
            },
            "[]",
            0,
            0,
        ),
        (
            Outcome {
                failing_registries: docker(),
                upload_error: UploadError::Manifest,
                null_errors: true,
                ..Outcome::default()
            },
            "null",
            0,
            0,
        ),
        // Both pushes refused with registry errors (`[[{...}], [{...}]]`) is never read: Launchpad
        // cannot render it (500, the next test); its decoding is `models`' unit test.
        (
            Outcome {
                upload_error: UploadError::Manifest,
                ..Outcome::default()
            },
            "[null,null]",
            2,
            0,
        ),
    ];
    for (mut outcome, wire, rules, errors) in cases {
        outcome.upload_failures = Failures::Always;
        let sim = simulator_with(|settings| {
            settings.scenario = Scenario {
                outcomes: vec![outcome.clone()],
                registries: registries.clone(),
                ..Scenario::default()
            }
        })
        .await;
        let client = client(&sim);
        let build = requested_builds(&sim, &client).await.remove(0);
        let id: u64 = build.self_link.rsplit('/').next().unwrap().parse().unwrap();
        advance_until(&sim, "the upload failed", |world| {
            world.builds[&id].upload == UploadStatus::FailedToUpload
        });
        let raw: serde_json::Value = reqwest::Client::builder()
            .user_agent("shapes-test")
            .build()
            .unwrap()
            .get(&build.self_link)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let on_wire = raw["registry_upload_errors"].to_string();
        assert!(on_wire.starts_with(wire), "{outcome:?}: {on_wire}");
        let Conditional::Modified(failed) = client.build(&build.self_link, None).await.unwrap()
        else {
            unreachable!()
        };
        assert_eq!(
            failed.registry_upload_errors.per_rule.len(),
            rules,
            "{on_wire}"
        );
        assert_eq!(
            failed.registry_upload_errors.all().count(),
            errors,
            "{on_wire}"
        );
        assert!(failed.registry_upload_error_summary.is_some());
    }
}

#[tokio::test]
async fn a_build_whose_errors_launchpad_cannot_marshal_answers_500_with_an_oops_id() {
    use image_builder::launchpad::sim::scenario::{Registry, Scenario};
    let sim = simulator_with(|settings| {
        settings.scenario = Scenario {
            outcomes: vec![Outcome {
                upload_failures: Failures::Always,
                ..Outcome::default()
            }],
            registries: vec![
                Registry {
                    url: "https://a.example".into(),
                    image_name: "{image}".into(),
                },
                Registry {
                    url: "https://b.example".into(),
                    image_name: "{image}".into(),
                },
            ],
            ..Scenario::default()
        }
    })
    .await;
    let client = client(&sim);
    let build = requested_builds(&sim, &client).await.remove(0);
    let id: u64 = build.self_link.rsplit('/').next().unwrap().parse().unwrap();
    advance_until(&sim, "the upload failed", |world| {
        world.builds[&id].upload == UploadStatus::FailedToUpload
    });
    let error = client.build(&build.self_link, None).await.unwrap_err();
    let LaunchpadError::Server {
        status: 500,
        oops_id: Some(oops),
        ..
    } = &error
    else {
        panic!("{error:?}")
    };
    assert!(oops.starts_with("OOPS-"), "{oops}");
}

/// After a `scheduleRegistryUpload` whose answer was lost, the upload may have ended before
/// the repeat: Launchpad then refuses it as "already been uploaded", which means the first
/// attempt worked (`reference/launchpad-truths.md`, "Registry uploads").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_refused_as_already_uploaded_after_a_lost_answer_is_success() {
    let sim = std::sync::Arc::new(simulator().await);
    sim.set_outcomes(vec![Outcome {
        upload_failures: Failures::Times(1),
        ..Outcome::default()
    }]);
    let mut settings = client_settings(&sim);
    settings.request_timeout = Duration::from_millis(300);
    let client = Client::new(settings).unwrap();
    let build = requested_builds(&sim, &client).await.remove(0);
    let id: u64 = build.self_link.rsplit('/').next().unwrap().parse().unwrap();
    advance_until(&sim, "the upload failed", |world| {
        world.builds[&id].upload == UploadStatus::FailedToUpload
    });
    // The call acts, then its answer is late; meanwhile the new upload ends.
    sim.inject(
        Some("POST scheduleRegistryUpload"),
        Fault::Delay(Duration::from_secs(2)),
        1,
    );
    let stepper = {
        let sim = sim.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            sim.advance(Duration::from_secs(3600));
        })
    };
    client
        .schedule_registry_upload(&build.self_link)
        .await
        .unwrap();
    stepper.await.unwrap();
    assert_eq!(
        sim.requests("POST scheduleRegistryUpload"),
        2,
        "repeated once"
    );
    assert_eq!(
        sim.with_world(|world| world.builds[&id].upload.clone()),
        UploadStatus::Uploaded
    );
}
