//! The webhook listener: Launchpad's `oci-recipe:build:0.1` deliveries, for builds the bot did
//! not start (requested on the web UI or by other scripts) and to hear of tracked builds
//! before the next poll. A delivery is only a hint: what is told comes from the engine's read
//! of the build (its number and upload status only pace those reads: [`crate::alerts::Hint`]).
//! A rejected delivery (bad signature, bad JSON, too large, wrong event) is answered with its
//! status and changes nothing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tokio::sync::mpsc;

use crate::serve::{read_body, Limits};

use crate::launchpad::models::{BuildPayload, BuildState, UploadStatus, OCI_BUILD_EVENT};
use crate::secret::Secret;

/// The largest delivery accepted. Launchpad's are a few hundred bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// The path Launchpad delivers to.
pub const PATH: &str = "/launchpad/webhook";

/// A build Launchpad says changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The build's path below the API root, without the leading slash
    /// (`~owner/pillar/+oci/image/+recipe/name/+build/1234`).
    pub build: String,
    /// `created` or `status-changed`.
    pub action: String,
    /// The build request that made the build, the same way, if one did.
    pub build_request: Option<String>,
    /// The recipe, the same way.
    pub recipe: Option<String>,
    /// `X-Launchpad-Delivery`: the delivery's number, the same on each of its attempts.
    pub id: Option<String>,
    /// The payload's `registry_upload_status`.
    pub upload_status: Option<String>,
    /// The payload's `status` (the build's `buildstate`).
    pub status: Option<String>,
}

/// Takes a delivery in; returns whether it was (`false`: refused, to be sent again later).
type Take = Box<dyn Fn(Delivery) -> bool + Send + Sync>;

struct Listener {
    secret: Secret,
    take: Take,
    limits: Limits,
}

/// The listener's route: `POST /launchpad/webhook`, each delivery sent to `deliveries`.
/// (Health and metrics are on their own address: [`crate::health::router`].)
pub fn router(
    secret: Secret,
    deliveries: mpsc::UnboundedSender<Delivery>,
    limits: Limits,
) -> Router {
    routes(
        secret,
        Box::new(move |delivery| deliveries.send(delivery).is_ok()),
        limits,
    )
}

fn routes(secret: Secret, take: Take, limits: Limits) -> Router {
    Router::new()
        .route(PATH, post(deliver))
        .with_state(Arc::new(Listener {
            secret,
            take,
            limits,
        }))
}

/// Whether `header` (`sha1=HEX`) is the HMAC-SHA1 of `body` under `secret`, compared in
/// constant time.
pub fn signature_matches(secret: &Secret, body: &[u8], header: &str) -> bool {
    header
        .trim()
        .strip_prefix("sha1=")
        .is_some_and(|hex| crate::secret::hmac_sha1_matches(secret.expose().as_bytes(), body, hex))
}

/// Refuses a delivery: counted by `reason`, logged at most once a minute per reason (anyone can
/// send these), answered with `status` and `why`.
fn refuse(status: StatusCode, reason: &'static str, why: &'static str) -> Response {
    crate::metrics::webhook_delivery("rejected", reason);
    crate::metrics::rejected(reason, why);
    (status, why).into_response()
}

async fn deliver(State(listener): State<Arc<Listener>>, request: Request<Body>) -> Response {
    let (parts, body) = request.into_parts();
    let timeout = listener.limits.body_timeout;
    let body = match read_body(&parts.headers, body, MAX_BODY, timeout).await {
        Ok(body) => body,
        Err(error) => {
            let why = match error {
                crate::serve::BodyError::TooLarge => "delivery too large",
                crate::serve::BodyError::TooSlow => "delivery body too slow",
                crate::serve::BodyError::Malformed => "malformed delivery body",
            };
            return refuse(error.status(), error.kind(), why);
        }
    };
    let headers: &HeaderMap = &parts.headers;
    let signature = headers.get("x-hub-signature").and_then(|v| v.to_str().ok());
    match signature {
        None => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "unsigned",
                "missing X-Hub-Signature",
            )
        }
        Some(signature) if !signature_matches(&listener.secret, &body, signature) => {
            return refuse(
                StatusCode::UNAUTHORIZED,
                "signature",
                "wrong X-Hub-Signature",
            )
        }
        Some(_) => {}
    }
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "not_json", "not JSON");
    };
    let payload = BuildPayload::from_json(&payload);
    if payload.ping {
        crate::metrics::webhook_delivery("ping", "");
        return (StatusCode::OK, "pong").into_response();
    }
    let event = headers
        .get("x-launchpad-event-type")
        .and_then(|v| v.to_str().ok());
    if event != Some(OCI_BUILD_EVENT) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "event_type",
            "not an oci-recipe:build:0.1 delivery",
        );
    }
    let Some(build) = payload
        .recipe_build
        .as_deref()
        .and_then(|path| canonical_path(path, "+build"))
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "no_build",
            "no recipe_build in the payload",
        );
    };
    let delivery = Delivery {
        build: build.clone(),
        action: payload.action.unwrap_or_default(),
        build_request: payload
            .build_request
            .as_deref()
            .and_then(|path| canonical_path(path, "+build-request")),
        recipe: build
            .split_once("/+build/")
            .map(|(recipe, _)| recipe.to_string()),
        id: headers
            .get("x-launchpad-delivery")
            .and_then(|v| v.to_str().ok())
            .map(|id| id.chars().take(64).collect()),
        upload_status: payload
            .registry_upload_status
            .map(|status| status.chars().take(64).collect()),
        status: payload
            .status
            .map(|status| status.chars().take(64).collect()),
    };
    tracing::debug!(build = %delivery.build, action = %delivery.action, "webhook delivery");
    if !(listener.take)(delivery) {
        // Launchpad sends it again later (`reference/launchpad-api.md` §1.8).
        return refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_taken",
            "the bot cannot take deliveries now; send it again later",
        );
    }
    crate::metrics::webhook_delivery("accepted", "");
    (StatusCode::OK, "ok").into_response()
}

/// A build's (`kind` `+build`) or build request's (`+build-request`) path as Launchpad
/// spells it in its API URLs: `~OWNER/PILLAR/+oci/PROJECT/+recipe/NAME/KIND/NUMBER`, without
/// the leading `/`. A delivery's path is only a hint, and spellings of the same object (a
/// query, a fragment, a trailing `/`, percent-escapes) come to one path, so that the bot knows
/// it for the same build; anything else is not a path of that kind.
pub fn canonical_path(raw: &str, kind: &str) -> Option<String> {
    let path = raw.split(['?', '#']).next()?;
    let path = percent_decode(path)?;
    let segments: Vec<&str> = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .collect();
    let valid = match segments.as_slice() {
        [owner, pillar, "+oci", project, "+recipe", name, found, number] => {
            owner.starts_with('~')
                && owner.len() > 1
                && [pillar, project, name].iter().all(|part| {
                    !part.is_empty() && !part.starts_with('+') && **part != "." && **part != ".."
                })
                && *found == kind
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    };
    valid.then(|| segments.join("/"))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = text.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Serves the listener on `listener` within `limits`, with the chat's own routes `also` (its
/// callbacks; none for most chats), and hands each delivery to `engine`, whose Launchpad is
/// at `api_root`, until the task is aborted. `taken` says whether the last delivery was taken
/// (for `/healthz`: false from a refused delivery until one is taken again).
///
/// A delivery is handed over by the request that brings it, before it is answered
/// ([`take`]): no task of its own between the listener and the job (Launchpad sends some
/// sixteen per recipe in a mass rebuild, each waking the process), and an answer of `200`
/// means the job has it; one the engine refuses ([`crate::engine::Engine::webhook`]) is
/// answered `503` (and Launchpad sends it again later).
pub async fn serve<C: crate::chat::Chat>(
    listener: tokio::net::TcpListener,
    secret: Secret,
    engine: crate::engine::Engine<C>,
    api_root: String,
    limits: Limits,
    taken: Arc<AtomicBool>,
    also: Router,
) {
    let take = Box::new(move |delivery| {
        let took = take(&engine, &api_root, delivery);
        taken.store(took, Ordering::SeqCst);
        took
    });
    let routes = routes(secret, take, limits).merge(also);
    crate::serve::serve(listener, routes, limits).await;
}

/// Hands `delivery` to `engine`, whose Launchpad is at `api_root`; whether it took it.
fn take<C: crate::chat::Chat>(
    engine: &crate::engine::Engine<C>,
    api_root: &str,
    delivery: Delivery,
) -> bool {
    let build = format!("{api_root}{}", delivery.build);
    let request = delivery
        .build_request
        .map(|path| format!("{api_root}{path}"));
    // What the build was when the delivery was made; a state this bot does not know is no
    // news it can take in (the job reads the build instead).
    let reported = delivery
        .status
        .map(BuildState::from)
        .zip(delivery.upload_status.clone().map(UploadStatus::from))
        .filter(|(state, upload)| {
            !matches!(state, BuildState::Unknown(_)) && !matches!(upload, UploadStatus::Unknown(_))
        });
    let hint = delivery
        .id
        .zip(delivery.upload_status)
        .map(|(delivery, upload_status)| crate::alerts::Hint {
            delivery,
            upload_status,
        });
    let recipe = delivery.recipe.map(|path| format!("{api_root}{path}"));
    engine.webhook(build, request, recipe, reported, hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_build_come_to_one_path() {
        let canonical = "~team/pillar/+oci/redis/+recipe/redis-6.2-22.04/+build/7";
        for spelling in [
            "/~team/pillar/+oci/redis/+recipe/redis-6.2-22.04/+build/7",
            "/~team/pillar/+oci/redis/+recipe/redis-6.2-22.04/+build/7?x=1",
            "/~team/pillar/+oci/redis/+recipe/redis-6.2-22.04/+build/7/",
            "/~team/pillar/+oci/redis/+recipe/redis-6.2-22.04/+build/7#frag",
            "/%7Eteam/pillar/+oci/redis/+recipe/redis-6.2-22.04/+build/7",
        ] {
            assert_eq!(
                canonical_path(spelling, "+build").as_deref(),
                Some(canonical),
                "{spelling}"
            );
        }
        for bad in [
            "/~team/pillar/+oci/redis/+recipe/r/+build/7x",
            "/~team/pillar/+oci/redis/+recipe/r/+build-request/7",
            "/~team/pillar/+oci/../+recipe/r/+build/7",
            "/team/pillar/+oci/redis/+recipe/r/+build/7",
            "/~team/pillar/+oci/redis/+recipe/r/+build/7/extra",
            "/~team/pillar/+oci/redis/+recipe/r/+build/%zz",
        ] {
            assert_eq!(canonical_path(bad, "+build"), None, "{bad}");
        }
    }

    #[test]
    fn signatures_are_checked_against_the_body() {
        let secret = Secret::new("s3cret");
        let body = br#"{"ping": true}"#;
        let good = crate::launchpad::sim::deliver::signature("s3cret", body);
        assert!(signature_matches(&secret, body, &good));
        assert!(!signature_matches(&secret, b"{}", &good));
        assert!(!signature_matches(&Secret::new("other"), body, &good));
        assert!(!signature_matches(&secret, body, "sha1=zz"));
        assert!(!signature_matches(&secret, body, "md5=00"));
    }
}
