//! The web root: OAuth's token pages and a plain page for each web link.

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::files::{build_file, librarian, LIBRARIAN};
use super::resource::Resource;
use super::{insert, json_response, text, Incoming};
use crate::launchpad::sim::oauth::{RequestToken, Review};
use crate::launchpad::sim::{random_token, Shared, State};
use crate::secret::Secret;

/// The web host: the OAuth pages, and a plain page for each object's `web_link`.
pub(super) fn web(shared: &Shared, incoming: &Incoming) -> Response {
    let mut state = shared.lock();
    state.catch_up();
    let form: BTreeMap<String, String> = incoming.params.iter().cloned().collect();
    match (&incoming.method, incoming.path.as_str()) {
        (&Method::POST, "/+request-token") => request_token(&mut state, &form, &incoming.headers),
        (&Method::GET, "/+authorize-token") => {
            let key = form.get("oauth_token").cloned().unwrap_or_default();
            if !state.tokens.request.contains_key(&key) {
                return text(
                    StatusCode::BAD_REQUEST,
                    "Unable to identify the request token.",
                );
            }
            if state.auto_authorize {
                let level = form
                    .get("allow_permission")
                    .cloned()
                    .unwrap_or_else(|| "WRITE_PUBLIC".to_string());
                state.tokens.review(&key, Review::Authorized(level.clone()));
                return text(StatusCode::OK, &format!("Simulated Launchpad: {key} is authorized ({level}). You may close this page."));
            }
            text(StatusCode::OK, &format!("Simulated Launchpad: {key} awaits review. POST this page with oauth_token and field.actions.LEVEL (or field.actions.UNAUTHORIZED to refuse)."))
        }
        (&Method::POST, "/+authorize-token") => {
            let key = form.get("oauth_token").cloned().unwrap_or_default();
            let Some(action) = form.keys().find_map(|k| k.strip_prefix("field.actions.")) else {
                return text(StatusCode::BAD_REQUEST, "No decision given.");
            };
            let review = if action == "UNAUTHORIZED" {
                Review::Refused
            } else {
                Review::Authorized(action.to_string())
            };
            if state.tokens.review(&key, review) {
                text(StatusCode::OK, "Decision recorded.")
            } else {
                text(
                    StatusCode::BAD_REQUEST,
                    "Unable to identify the request token.",
                )
            }
        }
        (&Method::POST, "/+access-token") => {
            let key = random_token(&mut state.world, 20);
            let secret = random_token(&mut state.world, 80);
            match state.tokens.exchange(&form, key, secret) {
                Ok(body) => text(StatusCode::OK, &body),
                Err((status, message)) => text(status, &message),
            }
        }
        // The simulator's own control page: its request counters, for tests and benchmarks that
        // run it as a separate process.
        (&Method::GET, "/+sim/counts") => {
            json_response(StatusCode::OK, &serde_json::json!(state.counts))
        }
        // And every build, for tests that check what a separate process left behind.
        (&Method::GET, "/+sim/builds") => {
            let builds: Vec<Value> = state
                .world
                .builds
                .values()
                .map(|build| {
                    serde_json::json!({
                        "id": build.id,
                        "recipe": build.recipe,
                        "arch": build.arch.as_str(),
                        "request": build.request,
                        "state": build.state.as_str(),
                        "upload": build.upload.as_str(),
                    })
                })
                .collect();
            json_response(StatusCode::OK, &Value::Array(builds))
        }
        (&Method::GET, path) if path.starts_with(LIBRARIAN) => librarian(&state.world, path),
        (&Method::GET, path) if path.contains("/+files/") => {
            build_file(&state.world, &shared.roots, path)
        }
        (&Method::GET, path) => match Resource::resolve(&state.world, path.trim_start_matches('/'))
        {
            Some(Resource::Build(id)) => {
                let build = &state.world.builds[&id];
                text(
                    StatusCode::OK,
                    &format!(
                        "{} build of {}: {}; registry upload: {}",
                        build.arch, build.recipe, build.state, build.upload
                    ),
                )
            }
            Some(Resource::Recipe(path)) => text(StatusCode::OK, &format!("OCI recipe {path}")),
            _ => text(StatusCode::NOT_FOUND, "Not found."),
        },
        _ => text(StatusCode::NOT_FOUND, "Not found."),
    }
}

pub(super) fn request_token(
    state: &mut State,
    form: &BTreeMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let consumer = form.get("oauth_consumer_key").cloned().unwrap_or_default();
    if consumer.is_empty() {
        let mut response = text(StatusCode::UNAUTHORIZED, "No consumer key specified.");
        insert(
            &mut response,
            "WWW-Authenticate",
            "OAuth realm=\"https://api.launchpad.net\"",
        );
        return response;
    }
    if form.get("oauth_signature_method").map(String::as_str) != Some("PLAINTEXT") {
        return text(StatusCode::BAD_REQUEST, "Unsupported signature method.");
    }
    let key = random_token(&mut state.world, 20);
    let secret = random_token(&mut state.world, 80);
    state.tokens.request.insert(
        key.clone(),
        RequestToken {
            secret: Secret::new(secret.clone()),
            consumer: consumer.clone(),
            review: Review::Unreviewed,
        },
    );
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("application/json"));
    if wants_json {
        return json_response(
            StatusCode::OK,
            &serde_json::json!({
                "oauth_token": key,
                "oauth_token_secret": secret,
                "oauth_token_consumer": consumer,
                "access_levels": [
                    {"value": "UNAUTHORIZED", "title": "No Access"},
                    {"value": "READ_PUBLIC", "title": "Read Non-Private Data"},
                    {"value": "WRITE_PUBLIC", "title": "Change Non-Private Data"},
                    {"value": "READ_PRIVATE", "title": "Read Anything"},
                    {"value": "WRITE_PRIVATE", "title": "Change Anything"},
                ],
            }),
        );
    }
    text(
        StatusCode::OK,
        &format!("oauth_token={key}&oauth_token_secret={secret}"),
    )
}
