//! The Launchpad web service client: the few calls the bot makes on OCI recipes and builds, over
//! reqwest, signed with OAuth PLAINTEXT, limited in concurrency (cancels first), and retried where a repeat is
//! safe. Every answer is typed: a model, "not modified", or a [`LaunchpadError`] that says who
//! must act.
//!
//! What is retried (5xx, timeouts, dropped connections, with backoff and `Retry-After`):
//! - GETs and `cancel`, which are idempotent;
//! - `retry` and `scheduleRegistryUpload`, whose repeats Launchpad refuses with a known 400
//!   ("cannot be retried"; "already in progress" or "already been uploaded"): after an attempt
//!   with no clear answer, that refusal means the first attempt worked, and the call succeeds;
//! - `requestBuilds` only when nothing can have happened: the connection was never made, or
//!   Launchpad answered 500 or 503 (its appserver rolls the transaction back on errors). After a
//!   timeout, a dropped connection, or a 502/504 from the front end, it returns
//!   [`LaunchpadError::OutcomeUnknown`] instead, for the engine to reconcile.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, AUTHORIZATION, IF_NONE_MATCH, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::auth::Credentials;
use super::error::{LaunchpadError, Refusal};
use super::lanes::{Lane, Lanes};
use chrono::{DateTime, Utc};

use super::models::{
    Build, BuildRequest, DistroArchSeries, Page, Recipe, Webhook, WebhookDelivery,
};
use super::retry::{parse_retry_after, RetryPolicy};
use crate::catalogue::RecipePath;
use crate::secret::Secret;

/// How the client reaches Launchpad.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// The API root with its version, ending in `/` (`https://api.launchpad.net/devel/`).
    pub api_root: String,
    /// The credentials; `None` is anonymous, read-only access.
    pub credentials: Option<Credentials>,
    /// Requests in flight at once, across every job.
    pub max_concurrent_requests: usize,
    /// How long one attempt may take, answer body included.
    pub request_timeout: Duration,
    /// When to try again.
    pub retry: RetryPolicy,
}

impl ClientSettings {
    /// Anonymous settings with the defaults, for `api_root`.
    pub fn new(api_root: impl Into<String>) -> ClientSettings {
        ClientSettings {
            api_root: api_root.into(),
            credentials: None,
            max_concurrent_requests: 8,
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// An entry fetched with `If-None-Match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conditional<T> {
    /// It changed (or no ETag was given): here it is.
    Modified(T),
    /// 304: it is as it was.
    NotModified,
}

/// A Launchpad client; cheap to clone, and clones share the connection pool and the limit on
/// requests in flight.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    settings: ClientSettings,
    slots: Lanes,
    /// Who the credentials act for (`people/+me`), once asked.
    me: tokio::sync::OnceCell<String>,
    /// Ubuntu's current series (its API URL), asked once: where OCI builds are made.
    current_series: tokio::sync::OnceCell<String>,
}

/// How a request may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Repeating changes nothing.
    Safe,
    /// A repeat after an applied attempt is refused with one of these; such a refusal then
    /// means success.
    RefusedAs(&'static [Refusal]),
    /// `requestBuilds`: repeat only when nothing can have happened.
    OnlyIfUnsent,
}

/// One request to make.
struct Call<'a> {
    method: Method,
    url: &'a str,
    form: Option<Vec<(&'static str, String)>>,
    etag: Option<&'a str>,
    repeat: Repeat,
    /// A JSON body (a PATCH).
    body: Option<String>,
    /// Which queue it waits in for a slot.
    lane: Lane,
}

/// An answer: status, headers, body.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// The `User-Agent` every request carries.
pub fn user_agent() -> String {
    format!("image-builder/{}", env!("CARGO_PKG_VERSION"))
}

impl Client {
    /// A client with these settings.
    pub fn new(settings: ClientSettings) -> Result<Client, LaunchpadError> {
        let http = reqwest::Client::builder()
            .user_agent(user_agent())
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|error| LaunchpadError::Transport {
                url: settings.api_root.clone(),
                message: error.to_string(),
            })?;
        let slots = Lanes::new(settings.max_concurrent_requests);
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                settings,
                slots,
                me: tokio::sync::OnceCell::new(),
                current_series: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// A build's log at `url` (its `build_log_url`), boiled down to why it failed
    /// ([`super::buildlog`]): fetched without credentials, within bounds of size and time.
    pub async fn build_log(&self, url: &str) -> super::buildlog::LogExcerpt {
        super::buildlog::fetch(&self.inner.http, url, super::buildlog::LogLimits::default()).await
    }

    /// A build's upload log at `url` (its `upload_log_url`), boiled down like a build log.
    pub async fn upload_log(&self, url: &str) -> super::buildlog::LogExcerpt {
        super::buildlog::fetch_upload_log(
            &self.inner.http,
            url,
            super::buildlog::LogLimits::default(),
        )
        .await
    }

    /// The settings in use.
    pub fn settings(&self) -> &ClientSettings {
        &self.inner.settings
    }

    /// The API URL of a recipe.
    pub fn recipe_url(&self, recipe: &RecipePath) -> String {
        format!("{}{recipe}", self.inner.settings.api_root)
    }

    /// The API URL of the person the credentials act for (`people/+me`), asked once.
    pub async fn me(&self) -> Result<String, LaunchpadError> {
        #[derive(serde::Deserialize)]
        struct Person {
            self_link: String,
        }
        let url = format!("{}people/+me", self.inner.settings.api_root);
        self.inner
            .me
            .get_or_try_init(|| async {
                self.get_entry::<Person>(&url)
                    .await
                    .map(|person| person.self_link)
            })
            .await
            .cloned()
    }

    /// A recipe.
    pub async fn recipe(&self, url: &str) -> Result<Recipe, LaunchpadError> {
        self.get_entry(url).await
    }

    /// Asks for builds of every architecture the recipe has; returns the build request's URL.
    pub async fn request_builds(&self, recipe_url: &str) -> Result<String, LaunchpadError> {
        let answer = self
            .execute(Call {
                method: Method::POST,
                url: recipe_url,
                form: Some(vec![("ws.op", "requestBuilds".into())]),
                etag: None,
                repeat: Repeat::OnlyIfUnsent,
                body: None,
                lane: Lane::Fast,
            })
            .await?;
        location(&answer, recipe_url)
    }

    /// The names of a recipe's processors: the architectures `requestBuilds` may build.
    pub async fn processors(&self, recipe_url: &str) -> Result<Vec<String>, LaunchpadError> {
        #[derive(serde::Deserialize)]
        struct Processor {
            name: String,
        }
        let processors: Vec<Processor> = self.list(&format!("{recipe_url}/processors")).await?;
        Ok(processors.into_iter().map(|p| p.name).collect())
    }

    /// A build request.
    pub async fn build_request(&self, url: &str) -> Result<BuildRequest, LaunchpadError> {
        self.get_entry_in(url, Lane::Fast).await
    }

    /// Every build of a build request's collection, all pages.
    pub async fn builds(&self, collection_url: &str) -> Result<Vec<Build>, LaunchpadError> {
        self.list_in(collection_url, Lane::Fast).await
    }

    /// A build; with `etag`, "not modified" if it has not changed since.
    pub async fn build(
        &self,
        url: &str,
        etag: Option<&str>,
    ) -> Result<Conditional<Build>, LaunchpadError> {
        let answer = self
            .execute(Call {
                method: Method::GET,
                url,
                form: None,
                etag,
                repeat: Repeat::Safe,
                body: None,
                lane: Lane::Ordinary,
            })
            .await?;
        if answer.status == StatusCode::NOT_MODIFIED {
            return Ok(Conditional::NotModified);
        }
        decode(&answer, url).map(Conditional::Modified)
    }

    /// Cancels a build (Launchpad does nothing, and says 200, if it cannot be cancelled).
    pub async fn cancel(&self, build_url: &str) -> Result<(), LaunchpadError> {
        self.operation(build_url, "cancel", Repeat::Safe, Lane::Fast)
            .await
    }

    /// Retries a failed build.
    pub async fn retry(&self, build_url: &str) -> Result<(), LaunchpadError> {
        let repeat = Repeat::RefusedAs(&[Refusal::CannotBeRetried]);
        self.operation(build_url, "retry", repeat, Lane::Ordinary)
            .await
    }

    /// Schedules a build's registry upload again. After an attempt without a clear answer,
    /// "already in progress" and "already been uploaded" both mean the first one worked
    /// (`reference/launchpad-truths.md`, "Registry uploads").
    pub async fn schedule_registry_upload(&self, build_url: &str) -> Result<(), LaunchpadError> {
        let repeat = Repeat::RefusedAs(&[Refusal::UploadInProgress, Refusal::AlreadyUploaded]);
        self.operation(build_url, "scheduleRegistryUpload", repeat, Lane::Ordinary)
            .await
    }

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

    /// Whether Launchpad can build `arch` now: its `distro_arch_series` in the series OCI
    /// builds are made on is enabled and has a chroot (`launchpad-truths.md`, "Which
    /// architectures a request builds"). That series is Ubuntu's current one: the recipes'
    /// OCI projects belong to a project, whose builds go to Launchpad's default build
    /// distribution, Ubuntu (`launchpad-api.md` §1.5). An architecture the series does not
    /// have at all (404) cannot be built either.
    pub async fn arch_buildable(&self, arch: &str) -> Result<bool, LaunchpadError> {
        #[derive(serde::Deserialize)]
        struct Distribution {
            current_series_link: String,
        }
        let url = format!("{}ubuntu", self.inner.settings.api_root);
        let series = self
            .inner
            .current_series
            .get_or_try_init(|| async {
                self.get_entry::<Distribution>(&url)
                    .await
                    .map(|ubuntu| ubuntu.current_series_link)
            })
            .await?;
        match self
            .get_entry::<DistroArchSeries>(&format!("{series}/{arch}"))
            .await
        {
            Ok(arch_series) => Ok(arch_series.is_buildable()),
            Err(LaunchpadError::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// A webhook delivery: whether it arrived, and what went wrong if not.
    pub async fn webhook_delivery(&self, url: &str) -> Result<WebhookDelivery, LaunchpadError> {
        self.get_entry(url).await
    }

    async fn operation(
        &self,
        url: &str,
        op: &str,
        repeat: Repeat,
        lane: Lane,
    ) -> Result<(), LaunchpadError> {
        self.named_post(url, op, Vec::new(), repeat, lane).await
    }

    /// A named operation with parameters (each JSON-encoded, as Launchpad reads form values),
    /// in the ordinary lane.
    async fn operation_with(
        &self,
        url: &str,
        op: &str,
        parameters: Vec<(&'static str, String)>,
        repeat: Repeat,
    ) -> Result<(), LaunchpadError> {
        self.named_post(url, op, parameters, repeat, Lane::Ordinary)
            .await
    }

    async fn named_post(
        &self,
        url: &str,
        op: &str,
        parameters: Vec<(&'static str, String)>,
        repeat: Repeat,
        lane: Lane,
    ) -> Result<(), LaunchpadError> {
        let mut form = vec![("ws.op", op.to_string())];
        form.extend(parameters);
        self.execute(Call {
            method: Method::POST,
            url,
            form: Some(form),
            etag: None,
            repeat,
            body: None,
            lane,
        })
        .await
        .map(drop)
    }

    async fn get_entry<T: DeserializeOwned>(&self, url: &str) -> Result<T, LaunchpadError> {
        self.get_entry_in(url, Lane::Ordinary).await
    }

    async fn get_entry_in<T: DeserializeOwned>(
        &self,
        url: &str,
        lane: Lane,
    ) -> Result<T, LaunchpadError> {
        let answer = self
            .execute(Call {
                method: Method::GET,
                url,
                form: None,
                etag: None,
                repeat: Repeat::Safe,
                body: None,
                lane,
            })
            .await?;
        decode(&answer, url)
    }

    /// Follows `next_collection_link` to the end. A collection that links back to a page
    /// already read is cut there rather than followed forever.
    async fn list<T: DeserializeOwned>(&self, url: &str) -> Result<Vec<T>, LaunchpadError> {
        self.list_in(url, Lane::Ordinary).await
    }

    async fn list_in<T: DeserializeOwned>(
        &self,
        url: &str,
        lane: Lane,
    ) -> Result<Vec<T>, LaunchpadError> {
        let mut entries = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut next = Some(url.to_string());
        while let Some(page_url) = next.take() {
            if !seen.insert(page_url.clone()) {
                tracing::warn!(url, page = %page_url, "collection links back to a page already read");
                break;
            }
            let page: Page<T> = self.get_entry_in(&page_url, lane).await?;
            entries.extend(page.entries);
            next = page.next_collection_link;
        }
        Ok(entries)
    }

    /// Sends a call, retrying as its [`Repeat`] allows, and sorts the answer into success or a
    /// typed error.
    async fn execute(&self, call: Call<'_>) -> Result<Answer, LaunchpadError> {
        let operation = call
            .form
            .as_ref()
            .and_then(|form| form.iter().find(|(key, _)| *key == "ws.op"))
            .map(|(_, op)| op.clone())
            .unwrap_or_else(|| call.method.to_string());
        let result = self.execute_counted(call).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(LaunchpadError::NotFound { .. }) => "not_found",
            Err(LaunchpadError::Unauthorized { .. }) => "unauthorized",
            Err(LaunchpadError::Rejected { .. }) => "rejected",
            Err(LaunchpadError::Server { .. }) => "server_error",
            Err(LaunchpadError::Timeout { .. }) => "timeout",
            Err(LaunchpadError::Transport { .. }) => "transport",
            Err(LaunchpadError::OutcomeUnknown { .. }) => "outcome_unknown",
            Err(LaunchpadError::Decode { .. }) => "decode",
        };
        crate::metrics::launchpad_request(&operation, outcome);
        result
    }

    async fn execute_counted(&self, call: Call<'_>) -> Result<Answer, LaunchpadError> {
        let policy = self.inner.settings.retry;
        let started = Instant::now();
        let mut attempt = 0;
        let mut unclear_earlier = false;
        loop {
            attempt += 1;
            let outcome = self.attempt(&call).await;
            let (error, unclear, retry_after) = match outcome {
                Ok(answer)
                    if answer.status == StatusCode::INTERNAL_SERVER_ERROR
                        && call.method == Method::GET =>
                {
                    // An OOPS: Launchpad met an exception, which the same read meets again
                    // (a build whose errors it cannot render answers every read so). Not
                    // repeated here: those who read decide, at their own pace, what a 500
                    // that lasts means (`jobs::machine::UNREADABLE_AFTER`).
                    return Err(server_error(&answer));
                }
                Ok(answer) if answer.status.is_server_error() => {
                    let error = server_error(&answer);
                    // Launchpad's appserver rolls back on 500 and 503; a 502/504 comes from the
                    // front end, which may have passed the request on.
                    let unclear = !matches!(answer.status.as_u16(), 500 | 503);
                    let retry_after = answer
                        .headers
                        .get(RETRY_AFTER)
                        .and_then(|value| value.to_str().ok())
                        .and_then(parse_retry_after);
                    (error, unclear, retry_after)
                }
                Ok(answer) => {
                    let result = self.classify(answer, call.url);
                    return match (result, call.repeat) {
                        (Err(error), Repeat::RefusedAs(refusals))
                            if unclear_earlier
                                && error.refusal().is_some_and(|r| refusals.contains(&r)) =>
                        {
                            tracing::info!(
                                url = call.url,
                                refusal = ?error.refusal(),
                                "repeat refused as expected: the earlier attempt worked"
                            );
                            Ok(Answer {
                                status: StatusCode::OK,
                                headers: HeaderMap::new(),
                                body: b"null".to_vec(),
                            })
                        }
                        (result, _) => result,
                    };
                }
                Err((error, sent)) => (error, sent, None),
            };
            unclear_earlier |= unclear;
            if call.repeat == Repeat::OnlyIfUnsent && unclear {
                return Err(LaunchpadError::OutcomeUnknown {
                    url: call.url.to_string(),
                    cause: error.to_string(),
                });
            }
            match policy.delay(attempt, started.elapsed(), retry_after) {
                Some(delay) => {
                    tracing::warn!(url = call.url, attempt, ?delay, %error, "Launchpad request failed; retrying");
                    tokio::time::sleep(delay).await;
                }
                None => return Err(error),
            }
        }
    }

    /// One attempt. `Err` carries the error and whether the request may have reached Launchpad.
    async fn attempt(&self, call: &Call<'_>) -> Result<Answer, (LaunchpadError, bool)> {
        let settings = &self.inner.settings;
        let _slot = self.inner.slots.slot(call.lane).await;
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), call.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(settings.request_timeout);
        if let Some(credentials) = &settings.credentials {
            let header = credentials.authorization(call.method.as_str(), call.url, None, None);
            request = request.header(AUTHORIZATION, header);
        }
        if let Some(etag) = call.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(form) = &call.form {
            request = request.form(form);
        }
        if let Some(body) = &call.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let transport = |error: reqwest::Error| {
            let sent = !error.is_connect();
            let url = call.url.to_string();
            let error = if error.is_timeout() {
                LaunchpadError::Timeout {
                    url,
                    timeout: settings.request_timeout,
                }
            } else {
                LaunchpadError::Transport {
                    url,
                    message: error_chain(&error),
                }
            };
            (error, sent)
        };
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        // Taken, not copied: the body is read without them.
        let headers = std::mem::take(response.headers_mut());
        let body = response.bytes().await.map_err(transport)?.to_vec();
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Sorts a non-5xx answer into success or a typed error.
    fn classify(&self, answer: Answer, url: &str) -> Result<Answer, LaunchpadError> {
        let status = answer.status;
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(answer);
        }
        let message = String::from_utf8_lossy(&answer.body).trim().to_string();
        Err(match status {
            StatusCode::NOT_FOUND => LaunchpadError::NotFound {
                url: url.to_string(),
            },
            StatusCode::UNAUTHORIZED => LaunchpadError::Unauthorized {
                message: self.redact(&message),
            },
            _ => LaunchpadError::Rejected {
                status: status.as_u16(),
                refusal: Refusal::from_message(&message),
                message,
            },
        })
    }

    /// Launchpad's OAuth errors quote the token key ("Unknown access token (KEY)."); the key is
    /// a secret here, so it is cut out before the message goes anywhere.
    fn redact(&self, message: &str) -> String {
        match &self.inner.settings.credentials {
            Some(credentials) if !credentials.access_token.is_empty() => {
                message.replace(credentials.access_token.expose(), "[redacted]")
            }
            _ => message.to_string(),
        }
    }
}

fn server_error(answer: &Answer) -> LaunchpadError {
    LaunchpadError::Server {
        status: answer.status.as_u16(),
        oops_id: answer
            .headers
            .get("X-Lazr-OopsId")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string),
        message: String::from_utf8_lossy(&answer.body).trim().to_string(),
    }
}

fn location(answer: &Answer, url: &str) -> Result<String, LaunchpadError> {
    answer
        .headers
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| LaunchpadError::Decode {
            url: url.to_string(),
            message: format!("a {} answer without a Location header", answer.status),
        })
}

/// Decodes a JSON body, naming the field that did not fit.
fn decode<T: DeserializeOwned>(answer: &Answer, url: &str) -> Result<T, LaunchpadError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(&answer.body);
    serde_path_to_error::deserialize(deserializer).map_err(|error| LaunchpadError::Decode {
        url: url.to_string(),
        message: format!("at `{}`: {}", error.path(), error.inner()),
    })
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("strings and lists of strings encode")
}

/// An error with its causes, which is where reqwest says what actually happened.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> Answer {
        Answer {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_decode_error_names_the_field() {
        let body = r#"{"self_link": "x", "web_link": "y", "status": 7}"#;
        let error = decode::<BuildRequest>(&answer(body), "u").unwrap_err();
        let LaunchpadError::Decode { message, .. } = error else {
            panic!("{error:?}")
        };
        assert!(message.starts_with("at `status`:"), "{message}");
    }

    #[test]
    fn extra_fields_and_unknown_enum_values_decode() {
        let body = r#"{"start": 0, "total_size": 1, "entries": [{"self_link": "s", "web_link": "w",
            "status": "Rescheduled", "error_message": null, "builds_collection_link": "b",
            "recipe_link": "r", "date_requested": "2021-04-14T17:02:33.123456+00:00",
            "date_finished": null, "http_etag": "\"e\"", "brand_new_field": [1, 2]}]}"#;
        let page: Page<BuildRequest> = decode(&answer(body), "u").unwrap();
        assert_eq!(
            page.entries[0].status,
            crate::launchpad::models::RequestStatus::Unknown("Rescheduled".into())
        );
        assert!(page.entries[0].date_requested.is_some());
    }
}
