//! The simulator's HTTP surface: `/devel/...` as lazr.restful serves it (GET entries and
//! collections, POST named operations, 304 on a matching ETag, 405 with `Allow`, `text/plain`
//! errors), the OAuth pages on the web root, and a plain page for each web link. Faults are
//! applied here: a status before acting, a delay or a dropped connection after.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;

use super::render::Roots;
use super::server::ConnectionKill;
use super::{Fault, Shared, State};

mod files;
mod read;
mod resource;
mod web;
mod write;
use read::get;
use resource::Resource;
use web::web;
use write::{edit_refusal, patch, post};

/// Request bodies larger than this are refused (Launchpad's forms are small).
const MAX_BODY: usize = 1 << 20;

/// The router serving everything.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// A parsed request.
struct Incoming {
    method: Method,
    path: String,
    headers: HeaderMap,
    /// Query and form parameters together, as Zope merges them.
    params: Vec<(String, String)>,
    /// The body, for a PATCH.
    body: Bytes,
}

impl Incoming {
    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    }

    fn operations(&self) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(name, _)| name == "ws.op")
            .map(|(_, value)| value.as_str())
            .collect()
    }
}

async fn handle(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let kill = parts.extensions.get::<ConnectionKill>().cloned();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large.");
    };
    let mut params = pairs(parts.uri.query().unwrap_or_default().as_bytes());
    if parts.method == Method::POST {
        params.extend(pairs(&body));
    }
    let incoming = Incoming {
        method: parts.method,
        path: parts.uri.path().to_string(),
        headers: parts.headers,
        params,
        body,
    };
    match incoming.path.strip_prefix("/devel/") {
        Some(rest) => {
            let rest = rest.to_string();
            let mut response = api(&shared, incoming, &rest, kill).await;
            if let Some(speed) = shared.speed {
                if let Ok(value) = HeaderValue::from_str(&speed.to_string()) {
                    response
                        .headers_mut()
                        .insert(crate::launchpad::SIMULATOR_SPEED_HEADER, value);
                }
            }
            response
        }
        None => web(&shared, &incoming),
    }
}

fn pairs(bytes: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(bytes).unwrap_or_default()
}

/// Counts a request in flight for as long as it lives.
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> InFlight<'a> {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn api(
    shared: &Shared,
    incoming: Incoming,
    rest: &str,
    kill: Option<ConnectionKill>,
) -> Response {
    let _in_flight = InFlight::enter(shared);
    let operation = operation_label(&incoming, rest);
    let (response, fault, latency) = {
        let mut state = shared.lock();
        state.catch_up();
        *state.counts.entry(operation.clone()).or_default() += 1;
        let latency = state.rates.latency();
        if let Some(left) = state.outage_left() {
            let mut response = text(
                StatusCode::SERVICE_UNAVAILABLE,
                "Launchpad is down for maintenance.",
            );
            // Retry-After is in the client's seconds: real ones, however fast the world runs.
            let real = state.real_seconds(left.num_seconds().max(1) as f64);
            insert(&mut response, "Retry-After", &real.to_string());
            (response, None, latency)
        } else {
            match state.fault_for(&operation) {
                Some(Fault::Status(code)) => (status_fault(code, &mut state), None, latency),
                fault => {
                    let response = respond(&mut state, &shared.roots, &incoming, rest);
                    let slow = state.rates.slow_operations.get(&operation).copied();
                    let fault = fault.or(slow.map(|ms| Fault::Delay(Duration::from_millis(ms))));
                    (response, fault, latency)
                }
            }
        }
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    shared
        .last_answered
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(operation, std::time::Instant::now());
    match fault {
        Some(Fault::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::Drop) => {
            if let Some(kill) = kill {
                kill.pull();
                // The connection task drops this future; the answer is never sent.
                std::future::pending::<()>().await;
            }
        }
        _ => {}
    }
    response
}

/// The name requests are counted and faults matched under: `GET build`, `POST requestBuilds`.
fn operation_label(incoming: &Incoming, rest: &str) -> String {
    let operations = incoming.operations();
    match (&incoming.method, operations.first()) {
        (method, Some(op)) => format!("{method} {op}"),
        (method, None) => format!("{method} {}", Resource::kind_of(rest)),
    }
}

fn status_fault(code: u16, state: &mut State) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = text(status, status.canonical_reason().unwrap_or("Error"));
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        // Launchpad's 500 body is only the exception's class name; the OOPS id is the clue.
        response = text(status, "SimulatedFault");
        let oops = format!("OOPS-sim{}", state.world.random() % 100_000);
        insert(&mut response, "X-Lazr-OopsId", &oops);
    }
    response
}

fn respond(state: &mut State, roots: &Roots, incoming: &Incoming, rest: &str) -> Response {
    let caller = match state.tokens.authenticate(&incoming.headers) {
        Ok(caller) => caller,
        Err((status, message)) => return text(status, &message),
    };
    let Some(resource) = Resource::resolve(&state.world, rest) else {
        return text(
            StatusCode::NOT_FOUND,
            &format!("Object: {rest}, name: not found"),
        );
    };
    if let Some(refusal) = edit_refusal(&state.world, &resource, &caller, incoming) {
        return refusal;
    }
    match incoming.method {
        Method::GET => get(state, roots, incoming, resource, &caller),
        Method::POST => post(state, roots, incoming, resource, &caller),
        Method::PATCH => patch(state, roots, incoming, resource, &caller),
        _ => {
            // What the simulator serves of each: PATCH only for webhooks.
            let allow = match resource {
                Resource::Webhook(_) => "GET, POST, PATCH",
                _ => "GET, POST",
            };
            let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
            insert(&mut response, "Allow", allow);
            response
        }
    }
}

fn insert(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

fn text(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain;charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::VARY, "Accept"),
        ],
        value.to_string(),
    )
        .into_response()
}

/// An entry, or 304 when the client already has this version.
fn entry(incoming: &Incoming, (value, etag): (Value, String)) -> Response {
    let matches = incoming
        .headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|given| given.split(',').any(|tag| tag.trim() == etag));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        json_response(StatusCode::OK, &value)
    };
    insert(&mut response, "ETag", &etag);
    response
}

fn null() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Bytes::from_static(b"null"),
    )
        .into_response()
}

fn created(location: &str) -> Response {
    let mut response = StatusCode::CREATED.into_response();
    insert(&mut response, "Location", location);
    response
}
