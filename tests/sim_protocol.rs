//! The simulator speaks Launchpad's protocol: its errors are Launchpad's (statuses, `text/plain`
//! bodies, `Allow`), and its JSON carries every field Launchpad's devel WADL lists for the OCI
//! types, so a client that works against the simulator finds what it reads on Launchpad too.
//! The field lists are copied from `reference/launchpad-oci-devel.wadl` (representations
//! `oci_recipe-full`, `oci_recipe_build_request-full`, `oci_recipe_build-full`, `webhook-full`,
//! `oci_recipe_build-page`).

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::Value;
use support::{client, simulator};

const RECIPE: &[&str] = &[
    "self_link",
    "web_link",
    "resource_type_link",
    "http_etag",
    "allow_internet",
    "build_args",
    "build_daily",
    "build_file",
    "build_path",
    "date_created",
    "date_last_modified",
    "description",
    "git_ref_link",
    "image_name",
    "information_type",
    "name",
    "oci_project_link",
    "owner_link",
    "processors_collection_link",
    "push_rules_collection_link",
    "registrant_link",
    "webhooks_collection_link",
];

const BUILD_REQUEST: &[&str] = &[
    "self_link",
    "web_link",
    "resource_type_link",
    "http_etag",
    "builds_collection_link",
    "date_finished",
    "date_requested",
    "error_message",
    "recipe_link",
    "status",
];

const BUILD: &[&str] = &[
    "self_link",
    "web_link",
    "resource_type_link",
    "http_etag",
    "arch_tag",
    "archive_link",
    "build_log_url",
    "builder_link",
    "buildstate",
    "can_be_cancelled",
    "can_be_rescored",
    "can_be_retried",
    "date",
    "date_first_dispatched",
    "date_started",
    "datebuilt",
    "datecreated",
    "dependencies",
    "distribution_link",
    "distro_arch_series_link",
    "distro_series_link",
    "duration",
    "estimate",
    "eta",
    "pocket",
    "recipe_link",
    "registry_upload_error_summary",
    "registry_upload_errors",
    "registry_upload_status",
    "requester_link",
    "score",
    "title",
    "upload_log_url",
];

const WEBHOOK: &[&str] = &[
    "self_link",
    "web_link",
    "resource_type_link",
    "http_etag",
    "active",
    "date_created",
    "date_last_modified",
    "deliveries_collection_link",
    "delivery_url",
    "event_types",
    "git_ref_pattern",
    "registrant_link",
    "target_link",
];

/// `webhook_delivery-full` in the WADL.
const WEBHOOK_DELIVERY: &[&str] = &[
    "self_link",
    "web_link",
    "resource_type_link",
    "http_etag",
    "date_created",
    "date_first_sent",
    "date_scheduled",
    "date_sent",
    "error_message",
    "event_type",
    "payload",
    "pending",
    "successful",
    "webhook_link",
];

/// `oci_recipe_build-page` lists these too; Launchpad's plain collections carry `total_size`
/// inline instead of `total_size_link`, and its JSON has no `entry_links`
/// (`reference/launchpad-api.md` §2.3), so the simulator leaves those two out.
const PAGE: &[&str] = &[
    "resource_type_link",
    "total_size",
    "start",
    "next_collection_link",
    "prev_collection_link",
    "entries",
];

/// An anonymous GET (Launchpad takes the consumer from the User-Agent, so one is sent).
async fn fetch(url: &str) -> Value {
    let http = reqwest::Client::builder()
        .user_agent("wadl-test")
        .build()
        .unwrap();
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn an_anonymous_request_without_a_user_agent_is_refused_as_launchpad_does() {
    let sim = simulator().await;
    let response = reqwest::get(sim.api_root()).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.text().await.unwrap(), "No consumer key specified.");
}

fn assert_fields(what: &str, value: &Value, wadl: &[&str]) {
    let keys: BTreeSet<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let missing: Vec<&&str> = wadl
        .iter()
        .filter(|field| !keys.contains(**field))
        .collect();
    assert!(missing.is_empty(), "{what} lacks {missing:?}");
    let extra: Vec<&&str> = keys.iter().filter(|key| !wadl.contains(key)).collect();
    assert!(
        extra.is_empty(),
        "{what} has fields the WADL does not list: {extra:?}"
    );
}

#[tokio::test]
async fn every_oci_type_carries_the_wadls_fields() {
    let sim = simulator().await;
    let client = client(&sim);
    let recipe_url = format!(
        "{}~ubuntu-docker-images/ubuntu-docker-images/+oci/redis/+recipe/redis-5.0-20.04",
        sim.api_root()
    );
    assert_fields("oci_recipe", &fetch(&recipe_url).await, RECIPE);

    let request_url = client.request_builds(&recipe_url).await.unwrap();
    sim.advance(Duration::from_secs(60));
    let request = fetch(&request_url).await;
    assert_fields("oci_recipe_build_request", &request, BUILD_REQUEST);

    let builds_url = request["builds_collection_link"].as_str().unwrap();
    let middle = fetch(&format!("{builds_url}?ws.size=1&ws.start=1")).await;
    assert_fields("oci_recipe_build-page", &middle, PAGE);
    assert_eq!(middle["total_size"], 4);
    assert_fields("oci_recipe_build", &middle["entries"][0], BUILD);

    client
        .new_webhook(
            &recipe_url,
            "https://bot.example/hook",
            &["oci-recipe:build:0.1"],
            None,
        )
        .await
        .unwrap();
    // A recipe's webhooks are the owning team's: anonymous reads are refused.
    let anonymous = reqwest::Client::builder()
        .user_agent("wadl-test")
        .build()
        .unwrap()
        .get(format!("{recipe_url}/webhooks"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let webhooks: Value = signed(
        &sim,
        reqwest::Method::GET,
        &format!("{recipe_url}/webhooks"),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_fields("webhook", &webhooks["entries"][0], WEBHOOK);
    let hook = webhooks["entries"][0]["self_link"].as_str().unwrap();
    let pinged = signed(&sim, reqwest::Method::POST, hook)
        .form(&[("ws.op", "ping")])
        .send()
        .await
        .unwrap();
    assert_eq!(pinged.status(), 201, "ping is a factory operation");
    let delivery_url = pinged.headers()["location"].to_str().unwrap().to_string();
    let delivery: Value = signed(&sim, reqwest::Method::GET, &delivery_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_fields("webhook_delivery", &delivery, WEBHOOK_DELIVERY);
    assert_eq!(delivery["event_type"], "ping");
    assert_eq!(delivery["payload"], serde_json::json!({"ping": true}));
}

#[tokio::test]
async fn a_last_page_has_no_next_link_and_a_first_page_no_previous() {
    let sim = simulator().await;
    let client = client(&sim);
    let recipe_url = format!(
        "{}~ubuntu-docker-images/ubuntu-docker-images/+oci/redis/+recipe/redis-5.0-20.04",
        sim.api_root()
    );
    let request_url = client.request_builds(&recipe_url).await.unwrap();
    sim.advance(Duration::from_secs(60));
    let builds_url = format!("{request_url}/builds");
    let first = fetch(&format!("{builds_url}?ws.size=2")).await;
    assert!(first.get("prev_collection_link").is_none());
    assert!(first["next_collection_link"]
        .as_str()
        .unwrap()
        .contains("ws.start=2"));
    let last = fetch(&format!("{builds_url}?ws.size=2&ws.start=2")).await;
    assert!(last.get("next_collection_link").is_none());
    assert_eq!(last["entries"].as_array().unwrap().len(), 2);
}

const REDIS: &str = "~ubuntu-docker-images/ubuntu-docker-images/+oci/redis/+recipe/redis-5.0-20.04";

/// A request signed with the simulator's write token, as raw HTTP.
fn signed(
    sim: &image_builder::launchpad::sim::Simulator,
    method: reqwest::Method,
    url: &str,
) -> reqwest::RequestBuilder {
    let header = sim
        .credentials()
        .authorization(method.as_str(), url, None, None);
    reqwest::Client::builder()
        .user_agent("protocol-test")
        .build()
        .unwrap()
        .request(method, url)
        .header("Authorization", header)
}

#[tokio::test]
async fn operation_errors_are_launchpads() {
    let sim = simulator().await;
    let url = format!("{}{REDIS}", sim.api_root());
    let answer = signed(&sim, reqwest::Method::POST, &url)
        .form(&[("x", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert!(answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(answer.text().await.unwrap(), "No operation name given.");

    let answer = signed(&sim, reqwest::Method::POST, &url)
        .form(&[("ws.op", "frobnicate")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    assert_eq!(
        answer.text().await.unwrap(),
        "No such operation: frobnicate"
    );

    let answer = signed(&sim, reqwest::Method::DELETE, &url)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 405);
    assert_eq!(answer.headers()["allow"], "GET, POST");

    let missing = format!("{}~nobody/nothing/+oci/x/+recipe/y", sim.api_root());
    let answer = signed(&sim, reqwest::Method::GET, &missing)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    assert!(answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));

    let oversize = format!("{url}/processors?ws.size=301");
    let answer = signed(&sim, reqwest::Method::GET, &oversize)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
}

#[tokio::test]
async fn request_builds_ignores_extra_fields_like_architectures() {
    let sim = simulator().await;
    let url = format!("{}{REDIS}", sim.api_root());
    let answer = signed(&sim, reqwest::Method::POST, &url)
        .form(&[("ws.op", "requestBuilds"), ("architectures", "[\"arm64\"]")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    assert!(
        answer.text().await.unwrap().is_empty(),
        "a factory operation answers with no body"
    );
    sim.advance(Duration::from_secs(60));
    let builds = sim.with_world(|world| world.builds.len());
    assert_eq!(builds, 4, "every architecture, as on Launchpad");
}

#[tokio::test]
async fn a_new_request_skips_only_the_architectures_still_queued() {
    let sim = simulator().await;
    let client = client(&sim);
    let url = format!("{}{REDIS}", sim.api_root());
    client.request_builds(&url).await.unwrap();
    sim.advance(Duration::from_secs(60));
    // Cancel the amd64 build: its architecture is free again, the other three stay queued.
    let amd64 = sim.with_world(|world| {
        world
            .builds
            .values()
            .find(|b| b.arch.as_str() == "amd64")
            .map(|b| b.id)
            .unwrap()
    });
    client
        .cancel(&format!("{url}/+build/{amd64}"))
        .await
        .unwrap();
    let second = client.request_builds(&url).await.unwrap();
    sim.advance(Duration::from_secs(30));
    let request = client.build_request(&second).await.unwrap();
    let builds = client
        .builds(&request.builds_collection_link)
        .await
        .unwrap();
    let arches: Vec<&str> = builds.iter().map(|b| b.arch_tag.as_str()).collect();
    assert_eq!(arches, ["amd64"]);
}

#[tokio::test]
async fn the_builders_alias_redirects_to_the_canonical_build() {
    let sim = simulator().await;
    let client = client(&sim);
    let url = format!("{}{REDIS}", sim.api_root());
    client.request_builds(&url).await.unwrap();
    sim.advance(Duration::from_secs(60));
    let id = sim.with_world(|world| *world.builds.keys().next().unwrap());
    let alias = format!("{}builders/+ocirecipebuild/{id}", sim.api_root());
    let build = client.build(&alias, None).await.unwrap();
    let image_builder::launchpad::Conditional::Modified(build) = build else {
        panic!("no ETag was sent")
    };
    assert_eq!(build.self_link, format!("{url}/+build/{id}"));
}

/// Launchpad's permissions on a recipe: requesting builds, and listing or adding webhooks,
/// need the owning team (`reference/launchpad-truths.md`: `ocirecipe.py:635-639`,
/// `interfaces/ocirecipe.py:495`, `configure.zcml:25-28`).
#[tokio::test]
async fn build_requests_and_webhooks_are_the_owning_teams() {
    let sim = simulator().await;
    let mut settings = image_builder::launchpad::ClientSettings::new(sim.api_root());
    settings.credentials = Some(sim.credentials_for("outsider"));
    let outsider = image_builder::launchpad::Client::new(settings).unwrap();
    let recipe_url = format!(
        "{}~ubuntu-docker-images/ubuntu-docker-images/+oci/redis/+recipe/redis-5.0-20.04",
        sim.api_root()
    );
    let refused = outsider.request_builds(&recipe_url).await.unwrap_err();
    assert_eq!(
        refused,
        image_builder::launchpad::LaunchpadError::Unauthorized {
            message: "outsider cannot create OCI image builds owned by ubuntu-docker-images."
                .into()
        }
    );
    assert!(sim.with_world(|world| world.requests.is_empty()));
    assert!(matches!(
        outsider.webhooks(&recipe_url).await,
        Err(image_builder::launchpad::LaunchpadError::Unauthorized { .. })
    ));
    let added = outsider
        .new_webhook(
            &recipe_url,
            "https://x.example/",
            &["oci-recipe:build:0.1"],
            None,
        )
        .await;
    assert!(
        matches!(
            added,
            Err(image_builder::launchpad::LaunchpadError::Unauthorized { .. })
        ),
        "{added:?}"
    );
    assert!(sim.with_world(|world| world.webhooks.is_empty()));
    // A member may.
    let member = client(&sim);
    assert!(member.request_builds(&recipe_url).await.is_ok());
    assert!(member.webhooks(&recipe_url).await.unwrap().is_empty());
}

/// An outage's `Retry-After` is in real seconds, whatever the simulator's speed: a client
/// honouring it waits as long as the outage really lasts, not a hundred times longer.
#[tokio::test]
async fn an_outages_retry_after_is_in_real_seconds() {
    let sim = support::simulator_with(|settings| settings.speed = Some(100.0)).await;
    sim.outage(Duration::from_secs(600));
    let answer = reqwest::Client::builder()
        .user_agent("retry-after-test")
        .build()
        .unwrap()
        .get(sim.api_root())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 503);
    let seconds: u64 = answer.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (5..=6).contains(&seconds),
        "ten simulated minutes at 100x: {seconds}"
    );
}
