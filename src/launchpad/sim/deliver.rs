//! Webhook deliveries, as Launchpad makes them (`reference/launchpad-api.md` §1.8): on a build's
//! creation and on every change of its `buildstate` or `registry_upload_status`, a POST to each
//! active webhook of the recipe that takes `oci-recipe:build:0.1`, with Python's JSON spacing,
//! `X-Launchpad-Event-Type`, `X-Launchpad-Delivery`, and `X-Hub-Signature: sha1=HMAC` when the
//! webhook has a secret. A delivery that fails is tried again (Launchpad retries for a day; the
//! simulator five times, quickly).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha1::Sha1;
use tokio::time::Instant;

use super::world::World;
use super::Shared;
use crate::launchpad::models::OCI_BUILD_EVENT;

/// A delivery the simulator made, as it went over the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Where it went.
    pub url: String,
    /// `X-Launchpad-Delivery`.
    pub id: u64,
    /// The body, byte for byte.
    pub body: String,
    /// `X-Hub-Signature`, if the webhook has a secret.
    pub signature: Option<String>,
    /// The status the receiver answered, if it answered.
    pub status: Option<u16>,
}

struct Pending {
    url: String,
    id: u64,
    body: String,
    signature: Option<String>,
    attempts: u32,
    due: Instant,
}

/// `sha1=` and the hex HMAC-SHA1 of `body` under `secret`: the `X-Hub-Signature` value.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!(
        "sha1={}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// Python's `json.dumps` of a flat object: `", "` and `": "` between items.
fn python_json(pairs: &[(&str, serde_json::Value)]) -> String {
    let items: Vec<String> = pairs
        .iter()
        .map(|(key, value)| format!("{}: {}", serde_json::json!(key), value))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// The payload for one build event.
fn payload(world: &World, build: u64, action: &str) -> Option<(String, String)> {
    let build = world.builds.get(&build)?;
    let body = python_json(&[
        (
            "recipe_build",
            format!("/{}/+build/{}", build.recipe, build.id).into(),
        ),
        ("action", action.into()),
        ("recipe", format!("/{}", build.recipe).into()),
        (
            "build_request",
            build
                .request
                .map(|request| format!("/{}/+build-request/{request}", build.recipe).into())
                .unwrap_or(serde_json::Value::Null),
        ),
        ("status", build.state.as_str().into()),
        ("registry_upload_status", build.upload.as_str().into()),
    ]);
    Some((build.recipe.clone(), body))
}

/// Turns new build events into deliveries and sends them, until the simulator stops.
pub(super) async fn run(shared: Arc<Shared>) {
    let Ok(http) = reqwest::Client::builder()
        .user_agent("launchpad.net-Webhooks/rsimulator")
        .timeout(Duration::from_secs(5))
        .build()
    else {
        return;
    };
    let mut pending: VecDeque<Pending> = VecDeque::new();
    let mut next_id = 1;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tick.tick().await;
        {
            let mut state = shared.lock();
            state.catch_up();
            let events = std::mem::take(&mut state.world.events);
            for event in events {
                let Some((recipe, body)) = payload(&state.world, event.build, event.action) else {
                    continue;
                };
                for webhook in state.world.webhooks.values().filter(|w| {
                    w.recipe == recipe
                        && w.active
                        && w.event_types.iter().any(|t| t == OCI_BUILD_EVENT)
                }) {
                    pending.push_back(Pending {
                        url: webhook.delivery_url.clone(),
                        id: next_id,
                        signature: webhook
                            .secret
                            .as_ref()
                            .map(|secret| signature(secret.expose(), body.as_bytes())),
                        body: body.clone(),
                        attempts: 0,
                        due: Instant::now(),
                    });
                    next_id += 1;
                }
            }
        }
        let now = Instant::now();
        let mut later = VecDeque::new();
        while let Some(mut delivery) = pending.pop_front() {
            if delivery.due > now {
                later.push_back(delivery);
                continue;
            }
            let mut request = http
                .post(&delivery.url)
                .header("Content-Type", "application/json")
                .header("X-Launchpad-Event-Type", OCI_BUILD_EVENT)
                .header("X-Launchpad-Delivery", delivery.id.to_string())
                .body(delivery.body.clone());
            if let Some(signature) = &delivery.signature {
                request = request.header("X-Hub-Signature", signature);
            }
            let status = request
                .send()
                .await
                .ok()
                .map(|response| response.status().as_u16());
            shared
                .delivered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Delivered {
                    url: delivery.url.clone(),
                    id: delivery.id,
                    body: delivery.body.clone(),
                    signature: delivery.signature.clone(),
                    status,
                });
            let delivered = status.is_some_and(|status| (200..300).contains(&status));
            delivery.attempts += 1;
            if !delivered && delivery.attempts < 5 {
                delivery.due = Instant::now() + Duration::from_millis(100 << delivery.attempts);
                later.push_back(delivery);
            }
        }
        pending = later;
    }
}
