//! A recipe's webhooks and their deliveries: made, listed, given a secret, activated, pinged,
//! read and retried.

use chrono::{DateTime, Utc};
use reqwest::Method;

use super::transport::{decode, location, Call, Repeat};
use super::{json, Client};
use crate::launchpad::error::LaunchpadError;
use crate::launchpad::lanes::Lane;
use crate::launchpad::models::{Page, Webhook, WebhookDelivery};
use crate::secret::Secret;

impl Client {
    /// Registers a webhook on a recipe; returns its URL.
    pub async fn new_webhook(
        &self,
        recipe_url: &str,
        delivery_url: &str,
        event_types: &[&str],
        secret: Option<&Secret>,
    ) -> Result<String, LaunchpadError> {
        // Launchpad decodes each form value as JSON (falling back to the raw text), so every
        // value is sent JSON-encoded, strings included.
        let mut form = vec![
            ("ws.op", "newWebhook".to_string()),
            ("delivery_url", json(&delivery_url)),
            ("event_types", json(&event_types)),
            ("active", "true".to_string()),
        ];
        if let Some(secret) = secret {
            form.push(("secret", json(&secret.expose())));
        }
        let answer = self
            .execute(Call {
                method: Method::POST,
                url: recipe_url,
                form: Some(form),
                etag: None,
                repeat: Repeat::OnlyIfUnsent,
                body: None,
                lane: Lane::Ordinary,
            })
            .await?;
        location(&answer, recipe_url)
    }

    /// Every webhook on a recipe (the owning team's to see).
    pub async fn webhooks(&self, recipe_url: &str) -> Result<Vec<Webhook>, LaunchpadError> {
        self.list(&format!("{recipe_url}/webhooks")).await
    }

    /// Sets the secret a webhook signs deliveries with (`setSecret`; it is never shown back).
    pub async fn set_webhook_secret(
        &self,
        webhook_url: &str,
        secret: &Secret,
    ) -> Result<(), LaunchpadError> {
        let secret = ("secret", json(&secret.expose()));
        self.operation_with(webhook_url, "setSecret", vec![secret], Repeat::Safe)
            .await
    }

    /// Makes a webhook active and delivering `event_types` (a PATCH of those two fields).
    pub async fn activate_webhook(
        &self,
        webhook_url: &str,
        event_types: &[&str],
    ) -> Result<Webhook, LaunchpadError> {
        let body = serde_json::json!({"active": true, "event_types": event_types});
        let answer = self
            .execute(Call {
                method: Method::PATCH,
                url: webhook_url,
                form: None,
                etag: None,
                repeat: Repeat::Safe,
                body: Some(body.to_string()),
                lane: Lane::Ordinary,
            })
            .await?;
        decode(&answer, webhook_url)
    }

    /// Asks Launchpad to send a webhook a test delivery (`ping`); returns the delivery's URL.
    pub async fn ping_webhook(&self, webhook_url: &str) -> Result<String, LaunchpadError> {
        let answer = self
            .execute(Call {
                method: Method::POST,
                url: webhook_url,
                form: Some(vec![("ws.op", "ping".to_string())]),
                etag: None,
                repeat: Repeat::OnlyIfUnsent,
                body: None,
                lane: Lane::Ordinary,
            })
            .await?;
        location(&answer, webhook_url)
    }

    /// The deliveries of a webhook made within `within` of its newest one, newest first
    /// (Launchpad lists them so; pages are read only as far back as that). Counted from the
    /// newest delivery, on Launchpad's clock rather than this machine's.
    pub async fn webhook_deliveries(
        &self,
        webhook: &Webhook,
        within: chrono::Duration,
    ) -> Result<Vec<WebhookDelivery>, LaunchpadError> {
        let first = webhook
            .deliveries_collection_link
            .clone()
            .unwrap_or_else(|| format!("{}/deliveries", webhook.self_link));
        let mut deliveries: Vec<WebhookDelivery> = Vec::new();
        let mut since: Option<DateTime<Utc>> = None;
        let mut next = Some(first);
        let mut seen = std::collections::HashSet::new();
        while let Some(page_url) = next.take() {
            if !seen.insert(page_url.clone()) {
                break;
            }
            let page: Page<WebhookDelivery> = self.get_entry(&page_url).await?;
            if since.is_none() {
                since = page
                    .entries
                    .iter()
                    .filter_map(|delivery| delivery.date_created)
                    .max()
                    .map(|newest| newest - within);
            }
            let recent = |delivery: &WebhookDelivery| {
                delivery
                    .date_created
                    .zip(since)
                    .is_none_or(|(date, since)| date >= since)
            };
            let older = page.entries.iter().any(|delivery| !recent(delivery));
            deliveries.extend(page.entries.into_iter().filter(|delivery| recent(delivery)));
            if !older {
                next = page.next_collection_link;
            }
        }
        Ok(deliveries)
    }

    /// Sends a delivery again (`retry`); with `reset`, Launchpad's retry clock for it starts
    /// anew, so a delivery it gave up on gets its full hour (or day) again.
    pub async fn retry_delivery(&self, url: &str, reset: bool) -> Result<(), LaunchpadError> {
        let reset = ("reset", json(&reset));
        self.operation_with(url, "retry", vec![reset], Repeat::Safe)
            .await
    }

    /// A webhook delivery: whether it arrived, and what went wrong if not.
    pub async fn webhook_delivery(&self, url: &str) -> Result<WebhookDelivery, LaunchpadError> {
        self.get_entry(url).await
    }
}
