//! Sending the simulator's webhook deliveries ([`super::webhooks`]) as Launchpad does
//! (`reference/launchpad-api.md` §1.8): a POST to the webhook's URL with Python's JSON spacing,
//! `X-Launchpad-Event-Type`, `X-Launchpad-Delivery`, and `X-Hub-Signature: sha1=HMAC` made
//! with the webhook's secret at the time of each attempt. A non-2xx answer or no answer is
//! tried again on Launchpad's schedule, in simulated time ([`super::webhooks`]), and recorded on
//! the delivery's entry.

use std::sync::Arc;
use std::time::Duration;

use super::Shared;

/// A delivery attempt the simulator made, as it went over the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// Where it went.
    pub url: String,
    /// `X-Launchpad-Delivery`.
    pub id: u64,
    /// `X-Launchpad-Event-Type`.
    pub event_type: String,
    /// The body, byte for byte.
    pub body: String,
    /// `X-Hub-Signature`, if the webhook has a secret.
    pub signature: Option<String>,
    /// The status the receiver answered, if it answered.
    pub status: Option<u16>,
}

/// `sha1=` and the hex HMAC-SHA1 of `body` under `secret`: the `X-Hub-Signature` value.
pub fn signature(secret: &str, body: &[u8]) -> String {
    format!(
        "sha1={}",
        crate::secret::hmac_sha1_hex(secret.as_bytes(), body)
    )
}

/// Sends pending deliveries, and their retries, until the simulator stops.
///
/// Assumed where the reference is silent: deliveries go out on one pooled client, so they reuse
/// kept-alive connections to the receiver. Launchpad's `WebhookClient.deliver`
/// (`lib/lp/services/webhooks/client.py`) opens a new `requests.Session()` per delivery, but
/// sends it through the webhooks proxy (Squid), which by default keeps its own connections to
/// the receiver alive; what the receiver sees depends on that proxy. A receiver that pays for a
/// new connection per delivery pays an accept and a connection task more than here. Due
/// deliveries are looked for every 20 ms and sent one after another, in a shuffled order
/// (Launchpad runs each delivery as a job of its own, so they arrive in any order); how many
/// of them run at once is not in the reference.
pub(super) async fn run(shared: Arc<Shared>) {
    let Ok(http) = reqwest::Client::builder()
        .user_agent("launchpad.net-Webhooks/rsimulator")
        .timeout(Duration::from_secs(5))
        .build()
    else {
        return;
    };
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tick.tick().await;
        let attempts: Vec<_> = {
            let mut state = shared.lock();
            state.catch_up();
            state.world.queue_deliveries();
            state.world.deactivated_deliveries();
            state
                .world
                .due_deliveries()
                .into_iter()
                .filter_map(|id| state.world.attempt(id))
                .collect()
        };
        for attempt in attempts {
            let mut request = http
                .post(&attempt.url)
                .header("Content-Type", "application/json")
                .header("X-Launchpad-Event-Type", &attempt.event_type)
                .header("X-Launchpad-Delivery", attempt.id.to_string())
                .body(attempt.body.clone());
            if let Some(signature) = &attempt.signature {
                request = request.header("X-Hub-Signature", signature);
            }
            let answer = request
                .send()
                .await
                .map(|response| response.status().as_u16())
                .map_err(|error| error.to_string());
            shared
                .delivered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(Delivered {
                    url: attempt.url.clone(),
                    id: attempt.id,
                    event_type: attempt.event_type.clone(),
                    body: attempt.body.clone(),
                    signature: attempt.signature.clone(),
                    status: answer.as_ref().ok().copied(),
                });
            shared.lock().world.record_attempt(attempt.id, answer);
        }
    }
}
