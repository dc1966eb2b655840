//! Webhooks in the simulator: a recipe's webhooks, and the deliveries Launchpad makes to them
//! (`reference/launchpad-api.md` §1.8, `launchpad-truths.md` "Webhooks on recipes"). A build's
//! creation and every change of its `buildstate` or `registry_upload_status` becomes a delivery
//! to each active webhook of its recipe that takes `oci-recipe:build:0.1`; `ping` makes one
//! with `{"ping": true}` and event type `ping`. Deliveries are entries with Launchpad's fields
//! (`pending`, `successful`, `error_message`, dates), which [`super::deliver`] sends.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::world::{BuildEvent, World};
use crate::launchpad::models::OCI_BUILD_EVENT;
use crate::secret::Secret;

/// The event type of a webhook's ping.
pub const PING_EVENT: &str = "ping";

/// A webhook on a recipe.
#[derive(Debug, Clone)]
pub struct SimWebhook {
    /// Its number.
    pub id: u64,
    /// The recipe's path.
    pub recipe: String,
    /// Where deliveries go.
    pub delivery_url: String,
    /// The event types.
    pub event_types: Vec<String>,
    /// Whether it delivers.
    pub active: bool,
    /// The signing secret (write-only on Launchpad).
    pub secret: Option<Secret>,
    /// When it was made.
    pub date_created: DateTime<Utc>,
    /// When it was last changed.
    pub date_last_modified: DateTime<Utc>,
}

/// One delivery of an event to a webhook.
#[derive(Debug, Clone)]
pub struct SimDelivery {
    /// Its number.
    pub id: u64,
    /// The webhook.
    pub webhook: u64,
    /// `oci-recipe:build:0.1` or `ping`.
    pub event_type: String,
    /// The body, as Python's `json.dumps` writes it.
    pub body: String,
    /// Whether an attempt is still to come.
    pub pending: bool,
    /// Whether the last attempt worked; `None` before the first.
    pub successful: Option<bool>,
    /// What went wrong with the last attempt.
    pub error_message: Option<String>,
    /// Attempts so far.
    pub attempts: u32,
    /// When the next attempt is due, in simulated time.
    pub next_attempt: DateTime<Utc>,
    /// When it was made.
    pub date_created: DateTime<Utc>,
    /// When it was first sent.
    pub date_first_sent: Option<DateTime<Utc>>,
    /// When it was last sent.
    pub date_sent: Option<DateTime<Utc>>,
}

/// One delivery attempt to make: where, what, signed how.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The delivery.
    pub id: u64,
    /// Where it goes.
    pub url: String,
    /// Its event type.
    pub event_type: String,
    /// The body.
    pub body: String,
    /// `X-Hub-Signature`, made with the webhook's secret at the time of sending.
    pub signature: Option<String>,
}

/// Python's `json.dumps` of a flat object: `", "` and `": "` between items.
pub fn python_json(pairs: &[(&str, Value)]) -> String {
    let items: Vec<String> = pairs
        .iter()
        .map(|(key, value)| format!("{}: {}", serde_json::json!(key), value))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// The webhook payload of a build event, as the build was when it happened.
fn build_payload(world: &World, event: &BuildEvent) -> Option<(String, String)> {
    let build = world.builds.get(&event.build)?;
    let body = python_json(&[
        (
            "recipe_build",
            format!("/{}/+build/{}", build.recipe, build.id).into(),
        ),
        ("action", event.action.into()),
        ("recipe", format!("/{}", build.recipe).into()),
        (
            "build_request",
            build
                .request
                .map(|request| format!("/{}/+build-request/{request}", build.recipe).into())
                .unwrap_or(Value::Null),
        ),
        ("status", event.state.as_str().into()),
        ("registry_upload_status", event.upload.as_str().into()),
    ]);
    Some((build.recipe.clone(), body))
}

impl World {
    /// `newWebhook`.
    pub fn new_webhook(
        &mut self,
        recipe: &str,
        delivery_url: String,
        event_types: Vec<String>,
        active: bool,
        secret: Option<Secret>,
    ) -> u64 {
        let id = self.take_id();
        self.webhooks.insert(
            id,
            SimWebhook {
                id,
                recipe: recipe.to_string(),
                delivery_url,
                event_types,
                active,
                secret,
                date_created: self.now,
                date_last_modified: self.now,
            },
        );
        id
    }

    /// `setSecret`.
    pub fn set_webhook_secret(&mut self, id: u64, secret: Option<Secret>) {
        let now = self.now;
        if let Some(webhook) = self.webhooks.get_mut(&id) {
            webhook.secret = secret;
            webhook.date_last_modified = now;
        }
    }

    /// A PATCH of a webhook: only its writable fields (`active`, `delivery_url`,
    /// `event_types`, `git_ref_pattern`), each checked; the problems, one a line, otherwise
    /// (lazr.restful's texts, `reference/launchpad-api.md` §2.5).
    pub fn patch_webhook(
        &mut self,
        id: u64,
        changes: &serde_json::Map<String, Value>,
    ) -> Result<(), String> {
        let mut problems = Vec::new();
        let mut active = None;
        let mut delivery_url = None;
        let mut event_types = None;
        for (field, value) in changes {
            match (field.as_str(), value) {
                ("active", Value::Bool(value)) => active = Some(*value),
                ("delivery_url", Value::String(url)) => delivery_url = Some(url.clone()),
                ("event_types", Value::Array(types)) => {
                    let types: Vec<String> = types
                        .iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect();
                    match types.iter().find(|t| t.as_str() != OCI_BUILD_EVENT) {
                        Some(bad) => problems.push(format!("event_types: Invalid value '{bad}'.")),
                        None => event_types = Some(types),
                    }
                }
                ("git_ref_pattern", Value::Null | Value::String(_)) => {}
                ("active" | "delivery_url" | "event_types" | "git_ref_pattern", _) => {
                    problems.push(format!("{field}: Invalid value."))
                }
                (
                    "self_link" | "web_link" | "resource_type_link" | "http_etag" | "date_created"
                    | "date_last_modified" | "registrant_link" | "target_link",
                    _,
                ) => problems.push(format!(
                    "{field}: You tried to modify a read-only attribute."
                )),
                ("deliveries_collection_link", _) => problems.push(format!(
                    "{field}: You tried to modify a collection attribute."
                )),
                _ => problems.push(format!(
                    "{field}: You tried to modify a nonexistent attribute."
                )),
            }
        }
        if !problems.is_empty() {
            return Err(problems.join("\n"));
        }
        let now = self.now;
        let Some(webhook) = self.webhooks.get_mut(&id) else {
            return Ok(());
        };
        if let Some(active) = active {
            webhook.active = active;
        }
        if let Some(url) = delivery_url {
            webhook.delivery_url = url;
        }
        if let Some(types) = event_types {
            webhook.event_types = types;
        }
        webhook.date_last_modified = now;
        Ok(())
    }

    /// `ping`: a delivery of `{"ping": true}` with event type `ping`, made whether or not the
    /// webhook is active (on an inactive one it fails "Webhook deactivated" unsent, like any
    /// delivery: [`World::deactivated_deliveries`]); returns the delivery's number.
    pub fn ping(&mut self, webhook: u64) -> u64 {
        let body = python_json(&[("ping", Value::Bool(true))]);
        self.add_delivery(webhook, PING_EVENT, body)
    }

    fn add_delivery(&mut self, webhook: u64, event_type: &str, body: String) -> u64 {
        let id = self.take_id();
        self.deliveries.insert(
            id,
            SimDelivery {
                id,
                webhook,
                event_type: event_type.to_string(),
                body,
                pending: true,
                successful: None,
                error_message: None,
                attempts: 0,
                next_attempt: self.now,
                date_created: self.now,
                date_first_sent: None,
                date_sent: None,
            },
        );
        id
    }

    /// Turns the build events not yet delivered into deliveries to each active webhook of the
    /// build's recipe that takes `oci-recipe:build:0.1`.
    pub fn queue_deliveries(&mut self) {
        for event in std::mem::take(&mut self.events) {
            let Some((recipe, body)) = build_payload(self, &event) else {
                continue;
            };
            let hooks: Vec<u64> = self
                .webhooks
                .values()
                .filter(|w| {
                    w.recipe == recipe
                        && w.active
                        && w.event_types.iter().any(|t| t == OCI_BUILD_EVENT)
                })
                .map(|w| w.id)
                .collect();
            for hook in hooks {
                self.add_delivery(hook, OCI_BUILD_EVENT, body.clone());
            }
        }
    }

    /// The next attempt of delivery `id`, signed with its webhook's secret now, if it is
    /// still pending and its webhook active.
    pub fn attempt(&self, id: u64) -> Option<Attempt> {
        let delivery = self.deliveries.get(&id).filter(|d| d.pending)?;
        let webhook = self.webhooks.get(&delivery.webhook).filter(|w| w.active)?;
        Some(Attempt {
            id,
            url: webhook.delivery_url.clone(),
            event_type: delivery.event_type.clone(),
            body: delivery.body.clone(),
            signature: webhook
                .secret
                .as_ref()
                .map(|secret| super::deliver::signature(secret.expose(), delivery.body.as_bytes())),
        })
    }

    /// Due deliveries whose webhook was deactivated meanwhile end unsent, "Webhook
    /// deactivated", and are not tried again (`lib/lp/services/webhooks/model.py:748-755`:
    /// the job checks `webhook.active` before sending). Returns how many.
    pub fn deactivated_deliveries(&mut self) -> usize {
        let now = self.now;
        let inactive: Vec<u64> = self
            .deliveries
            .values()
            .filter(|d| d.pending && d.next_attempt <= now)
            .filter(|d| self.webhooks.get(&d.webhook).is_none_or(|w| !w.active))
            .map(|d| d.id)
            .collect();
        for id in &inactive {
            if let Some(delivery) = self.deliveries.get_mut(id) {
                delivery.pending = false;
                delivery.successful = Some(false);
                delivery.error_message = Some("Webhook deactivated".to_string());
            }
        }
        inactive.len()
    }

    /// `retry` on a delivery: sent again now; with `reset`, its retry clock starts anew at the
    /// next attempt, as if it had never been sent (`lib/lp/services/webhooks/model.py`
    /// `WebhookDeliveryJob.retry`: `date_first_sent` dropped, the job queued at once).
    pub fn retry_delivery(&mut self, id: u64, reset: bool) {
        let now = self.now;
        if let Some(delivery) = self.deliveries.get_mut(&id) {
            if reset {
                delivery.date_first_sent = None;
            }
            delivery.pending = true;
            delivery.next_attempt = now;
        }
    }

    /// Records how an attempt went: the status the receiver answered, or why none came.
    /// Launchpad's texts: `Bad HTTP response: 401`, `Connection error: ...`. A failed delivery
    /// is tried again every minute for ten minutes, every five up to an hour, then hourly; it
    /// is given up after an hour of 4xx answers, or a day of 5xx or no connection
    /// (`reference/launchpad-api.md` §1.8, `launchpad-truths.md` "Webhooks on recipes"),
    /// counted from its first attempt (`model.py:720-746`: `date_first_sent`, else its
    /// creation).
    ///
    /// Assumed where Launchpad differs for the simulator's sake: the receivers are on loopback
    /// only because the simulator runs beside them, and stand for the public hosts a real
    /// webhook names, so Launchpad's five-minute limit for loopback hosts is not applied.
    pub fn record_attempt(&mut self, id: u64, answer: Result<u16, String>) {
        let now = self.now;
        let Some(delivery) = self.deliveries.get_mut(&id) else {
            return;
        };
        delivery.attempts += 1;
        delivery.date_sent = Some(now);
        delivery.date_first_sent.get_or_insert(now);
        let worked = matches!(answer, Ok(status) if (200..300).contains(&status));
        delivery.successful = Some(worked);
        let client_error = matches!(answer, Ok(status) if (400..500).contains(&status));
        delivery.error_message = match answer {
            Ok(_) if worked => None,
            Ok(status) => Some(format!("Bad HTTP response: {status}")),
            Err(why) => Some(format!("Connection error: {why}")),
        };
        let age = now - delivery.date_first_sent.unwrap_or(delivery.date_created);
        let give_up_after = if client_error {
            chrono::Duration::hours(1)
        } else {
            chrono::Duration::days(1)
        };
        delivery.pending = !worked && age < give_up_after;
        let wait = if age < chrono::Duration::minutes(10) {
            chrono::Duration::minutes(1)
        } else if age < chrono::Duration::hours(1) {
            chrono::Duration::minutes(5)
        } else {
            chrono::Duration::hours(1)
        };
        delivery.next_attempt = now + wait;
    }

    /// Every delivery whose next attempt is due, in no particular order: each is a job of its
    /// own on Launchpad, run by whichever worker takes it, so deliveries can arrive in any
    /// order (`launchpad-truths.md`, "Builds nobody asked the bot for"). Shuffled with the
    /// world's seeded generator, so a scenario plays the same every time.
    pub fn due_deliveries(&mut self) -> Vec<u64> {
        let now = self.now;
        let mut due: Vec<u64> = self
            .deliveries
            .values()
            .filter(|d| d.pending && d.next_attempt <= now)
            .map(|d| d.id)
            .collect();
        for index in (1..due.len()).rev() {
            let other = (self.random() % (index as u64 + 1)) as usize;
            due.swap(index, other);
        }
        due
    }
}
