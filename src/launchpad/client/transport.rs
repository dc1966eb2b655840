//! How a call reaches Launchpad: signed, limited in concurrency, retried where a repeat is safe,
//! and its answer classified into a model or a [`LaunchpadError`].

use std::time::Instant;

use reqwest::header::{HeaderMap, AUTHORIZATION, IF_NONE_MATCH, LOCATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::Client;
use crate::launchpad::error::{LaunchpadError, Refusal};
use crate::launchpad::lanes::Lane;
use crate::launchpad::models::Page;
use crate::launchpad::retry::parse_retry_after;

impl Client {
    pub(super) async fn operation(
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
    pub(super) async fn operation_with(
        &self,
        url: &str,
        op: &str,
        parameters: Vec<(&'static str, String)>,
        repeat: Repeat,
    ) -> Result<(), LaunchpadError> {
        self.named_post(url, op, parameters, repeat, Lane::Ordinary)
            .await
    }

    pub(super) async fn named_post(
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

    pub(super) async fn get_entry<T: DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, LaunchpadError> {
        self.get_entry_in(url, Lane::Ordinary).await
    }

    pub(super) async fn get_entry_in<T: DeserializeOwned>(
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
    pub(super) async fn list<T: DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<Vec<T>, LaunchpadError> {
        self.list_in(url, Lane::Ordinary).await
    }

    pub(super) async fn list_in<T: DeserializeOwned>(
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
    pub(super) async fn execute(&self, call: Call<'_>) -> Result<HttpReply, LaunchpadError> {
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

    pub(super) async fn execute_counted(
        &self,
        call: Call<'_>,
    ) -> Result<HttpReply, LaunchpadError> {
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
                            Ok(HttpReply {
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
                    self.inner.outage.failed(call.url, &error);
                    tracing::debug!(url = call.url, attempt, ?delay, %error, "Launchpad request failed; retrying");
                    tokio::time::sleep(delay).await;
                }
                None => return Err(error),
            }
        }
    }

    /// One attempt. `Err` carries the error and whether the request may have reached Launchpad.
    pub(super) async fn attempt(
        &self,
        call: &Call<'_>,
    ) -> Result<HttpReply, (LaunchpadError, bool)> {
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
        if !status.is_server_error() {
            self.inner.outage.answered();
        }
        // Taken, not copied: the body is read without them.
        let headers = std::mem::take(response.headers_mut());
        let declared = headers
            .get(super::SIMULATOR_SPEED_HEADER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<f64>().ok())
            .filter(|speed| speed.is_finite() && *speed >= 1.0)
            .unwrap_or(1.0);
        self.inner
            .declared_speed
            .store(declared.to_bits(), std::sync::atomic::Ordering::Relaxed);
        let body = response.bytes().await.map_err(transport)?.to_vec();
        Ok(HttpReply {
            status,
            headers,
            body,
        })
    }

    /// Sorts a non-5xx answer into success or a typed error.
    pub(super) fn classify(
        &self,
        answer: HttpReply,
        url: &str,
    ) -> Result<HttpReply, LaunchpadError> {
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
    pub(super) fn redact(&self, message: &str) -> String {
        match &self.inner.settings.credentials {
            Some(credentials) if !credentials.access_token.is_empty() => {
                message.replace(credentials.access_token.expose(), "[redacted]")
            }
            _ => message.to_string(),
        }
    }
}

/// How a request may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Repeat {
    /// Repeating changes nothing.
    Safe,
    /// A repeat after an applied attempt is refused with one of these; such a refusal then
    /// means success.
    RefusedAs(&'static [Refusal]),
    /// `requestBuilds`: repeat only when nothing can have happened.
    OnlyIfUnsent,
}

/// One request to make.
pub(super) struct Call<'a> {
    pub(super) method: Method,
    pub(super) url: &'a str,
    pub(super) form: Option<Vec<(&'static str, String)>>,
    pub(super) etag: Option<&'a str>,
    pub(super) repeat: Repeat,
    /// A JSON body (a PATCH).
    pub(super) body: Option<String>,
    /// Which queue it waits in for a slot.
    pub(super) lane: Lane,
}

/// Launchpad failing to answer (5xx, timeouts, no connection), said in the log once when it
/// starts (WARN, with the first error) and once when it ends (INFO, with how long it lasted and
/// how many attempts failed), however many requests meet it and however often each is
/// retried; each attempt is at DEBUG.
#[derive(Default)]
pub(super) struct OutageLog {
    /// Whether one is on: the lock is taken only then, and when one starts.
    on: std::sync::atomic::AtomicBool,
    since: std::sync::Mutex<Option<(Instant, u64)>>,
}

impl OutageLog {
    /// An attempt failed, and is to be made again.
    fn failed(&self, url: &str, error: &LaunchpadError) {
        let mut since = self
            .since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match since.as_mut() {
            Some((_, attempts)) => *attempts += 1,
            None => {
                *since = Some((Instant::now(), 1));
                self.on.store(true, std::sync::atomic::Ordering::Release);
                tracing::warn!(url, %error, "Launchpad is not answering; retrying until it does (said again when it answers)");
            }
        }
    }

    /// An answer came (not a 5xx).
    fn answered(&self) {
        if !self.on.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        let mut since = self
            .since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((started, attempts)) = since.take() {
            self.on.store(false, std::sync::atomic::Ordering::Release);
            tracing::info!(
                after = ?started.elapsed(),
                failed_attempts = attempts,
                "Launchpad answers again"
            );
        }
    }
}

/// Launchpad's HTTP answer to a call: status, headers, body.
pub(super) struct HttpReply {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
}

pub(super) fn server_error(answer: &HttpReply) -> LaunchpadError {
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

pub(super) fn location(answer: &HttpReply, url: &str) -> Result<String, LaunchpadError> {
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
pub(super) fn decode<T: DeserializeOwned>(
    answer: &HttpReply,
    url: &str,
) -> Result<T, LaunchpadError> {
    let deserializer = &mut serde_json::Deserializer::from_slice(&answer.body);
    serde_path_to_error::deserialize(deserializer).map_err(|error| LaunchpadError::Decode {
        url: url.to_string(),
        message: format!("at `{}`: {}", error.path(), error.inner()),
    })
}

/// An error with its causes, which is where reqwest says what actually happened.
pub(super) fn error_chain(error: &dyn std::error::Error) -> String {
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
    use crate::launchpad::models::{BuildRequest, Page};

    fn answer(body: &str) -> HttpReply {
        HttpReply {
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
