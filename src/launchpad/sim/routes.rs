//! The simulator's HTTP surface: `/devel/...` as lazr.restful serves it (GET entries and
//! collections, POST named operations, 304 on a matching ETag, 405 with `Allow`, `text/plain`
//! errors), the OAuth pages on the web root, and a plain page for each web link. Faults are
//! applied here: a status before acting, a delay or a dropped connection after.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;

use super::oauth::{Caller, RequestToken, Review};
use super::render::{self, Roots};
use super::server::ConnectionKill;
use super::world::World;
use super::{random_token, Fault, Shared, State};
use crate::launchpad::models::OCI_BUILD_EVENT;
use crate::secret::Secret;

/// Request bodies larger than this are refused (Launchpad's forms are small).
const MAX_BODY: usize = 1 << 20;
/// lazr.restful's default and maximum page sizes.
const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 300;

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
            api(&shared, incoming, &rest, kill).await
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

/// What a path below `/devel/` names.
enum Resource {
    Root,
    Me,
    Recipe(String),
    Processors(String),
    Webhooks(String),
    PushRules(String),
    Request(u64),
    RequestBuilds(u64),
    Build(u64),
    Webhook(u64),
    Deliveries(u64),
    Delivery(u64),
    BuilderAlias(u64),
    Distribution,
    DistroSeries(String),
    DistroArchSeries(String, String),
}

impl Resource {
    /// The kind, for counting, from the path alone.
    fn kind_of(rest: &str) -> &'static str {
        let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        match segments.as_slice() {
            [""] => "root",
            ["people", "+me"] => "me",
            ["builders", "+ocirecipebuild", _] => "build",
            ["ubuntu"] => "distribution",
            ["ubuntu", _] => "distro_series",
            ["ubuntu", _, _] => "distro_arch_series",
            [_, _, "+oci", _, "+recipe", _] => "recipe",
            [_, _, "+oci", _, "+recipe", _, "processors"] => "processors",
            [_, _, "+oci", _, "+recipe", _, "webhooks"] => "webhooks",
            [_, _, "+oci", _, "+recipe", _, "push_rules"] => "push_rules",
            [_, _, "+oci", _, "+recipe", _, "+build-request", _] => "build_request",
            [_, _, "+oci", _, "+recipe", _, "+build-request", _, "builds"] => "builds",
            [_, _, "+oci", _, "+recipe", _, "+build", _] => "build",
            [_, _, "+oci", _, "+recipe", _, "+webhook", _] => "webhook",
            [_, _, "+oci", _, "+recipe", _, "+webhook", _, "deliveries"] => "deliveries",
            [_, _, "+oci", _, "+recipe", _, "+webhook", _, "+delivery", _] => "webhook_delivery",
            _ => "other",
        }
    }

    /// What the path names, if it exists in the world.
    fn resolve(world: &World, rest: &str) -> Option<Resource> {
        let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        if let ["builders", "+ocirecipebuild", id] = segments.as_slice() {
            let id = id.parse().ok()?;
            return world
                .builds
                .contains_key(&id)
                .then_some(Resource::BuilderAlias(id));
        }
        if segments == [""] {
            return Some(Resource::Root);
        }
        if segments == ["people", "+me"] {
            return Some(Resource::Me);
        }
        let known_series = |codename: &str| {
            codename == world.current_series
                || world.recipes.values().any(|r| r.codename == codename)
        };
        match segments.as_slice() {
            ["ubuntu"] => return Some(Resource::Distribution),
            ["ubuntu", codename] if known_series(codename) => {
                return Some(Resource::DistroSeries(codename.to_string()))
            }
            ["ubuntu", codename, arch]
                if known_series(codename)
                    && world.arch_series.keys().any(|a| a.as_str() == *arch) =>
            {
                return Some(Resource::DistroArchSeries(
                    codename.to_string(),
                    arch.to_string(),
                ))
            }
            _ => {}
        }
        if segments.len() < 6 || segments[2] != "+oci" || segments[4] != "+recipe" {
            return None;
        }
        let recipe = segments[..6].join("/");
        world.recipes.get(&recipe)?;
        let number = |text: &str| text.parse::<u64>().ok();
        let resource = match &segments[6..] {
            [] => Resource::Recipe(recipe),
            ["processors"] => Resource::Processors(recipe),
            ["webhooks"] => Resource::Webhooks(recipe),
            ["push_rules"] => Resource::PushRules(recipe),
            ["+build-request", id] => {
                let id = number(id)?;
                (world.requests.get(&id)?.recipe == recipe).then_some(Resource::Request(id))?
            }
            ["+build-request", id, "builds"] => {
                let id = number(id)?;
                (world.requests.get(&id)?.recipe == recipe)
                    .then_some(Resource::RequestBuilds(id))?
            }
            ["+build", id] => {
                let id = number(id)?;
                (world.builds.get(&id)?.recipe == recipe).then_some(Resource::Build(id))?
            }
            ["+webhook", id] => {
                let id = number(id)?;
                (world.webhooks.get(&id)?.recipe == recipe).then_some(Resource::Webhook(id))?
            }
            ["+webhook", id, "deliveries"] => {
                let id = number(id)?;
                (world.webhooks.get(&id)?.recipe == recipe).then_some(Resource::Deliveries(id))?
            }
            ["+webhook", hook, "+delivery", id] => {
                let (hook, id) = (number(hook)?, number(id)?);
                let mine = world.webhooks.get(&hook)?.recipe == recipe
                    && world.deliveries.get(&id)?.webhook == hook;
                mine.then_some(Resource::Delivery(id))?
            }
            _ => return None,
        };
        Some(resource)
    }
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

/// Launchpad's webhooks are the owning team's: listing them, reading one or its deliveries, and
/// every change need edit permission on the recipe (`lib/lp/oci/interfaces/ocirecipe.py:495`,
/// `lib/lp/oci/configure.zcml:25-28`): 401 otherwise. The text is Zope's `Unauthorized`, which
/// the reference does not quote; this one names the object, attribute and permission as
/// Zope's does.
fn edit_refusal(
    world: &World,
    resource: &Resource,
    caller: &Caller,
    incoming: &Incoming,
) -> Option<Response> {
    let (recipe, attribute) = match resource {
        Resource::Webhooks(recipe) => (recipe.clone(), "webhooks".to_string()),
        Resource::Recipe(recipe) if incoming.operations().first() == Some(&"newWebhook") => {
            (recipe.clone(), "newWebhook".to_string())
        }
        Resource::Webhook(id) | Resource::Deliveries(id) => (
            world.webhooks.get(id)?.recipe.clone(),
            "webhook".to_string(),
        ),
        Resource::Delivery(id) => {
            let hook = world.deliveries.get(id)?.webhook;
            (
                world.webhooks.get(&hook)?.recipe.clone(),
                "webhook".to_string(),
            )
        }
        _ => return None,
    };
    if caller
        .person()
        .is_some_and(|person| world.may_edit(person, &recipe))
    {
        return None;
    }
    Some(text(
        StatusCode::UNAUTHORIZED,
        &format!("(<OCIRecipe at /{recipe}>, '{attribute}', 'launchpad.Edit')"),
    ))
}

/// Launchpad's 500 for an entry it cannot show (`reference/launchpad-truths.md`, "Registry
/// uploads"): the body is the exception's class name, the OOPS id the clue.
fn cannot_show(state: &mut State) -> Response {
    let mut response = text(StatusCode::INTERNAL_SERVER_ERROR, "TypeError");
    let oops = format!("OOPS-sim{}", state.world.random() % 100_000);
    insert(&mut response, "X-Lazr-OopsId", &oops);
    response
}

fn get(
    state: &mut State,
    roots: &Roots,
    incoming: &Incoming,
    resource: Resource,
    caller: &Caller,
) -> Response {
    let unreadable = match &resource {
        Resource::Build(id) => state.world.builds[id].unreadable,
        Resource::RequestBuilds(id) => state.world.requests[id]
            .builds
            .iter()
            .any(|build| state.world.builds[build].unreadable),
        _ => false,
    };
    if unreadable && incoming.operations().is_empty() {
        return cannot_show(state);
    }
    let world = &state.world;
    let operations = incoming.operations();
    if let Some(op) = operations.first() {
        return match (&resource, *op) {
            (Resource::Build(id), "getFileUrls") => file_urls(roots, world, *id),
            _ => text(StatusCode::BAD_REQUEST, &format!("No such operation: {op}")),
        };
    }
    let (start, size) = match paging(incoming) {
        Ok(paging) => paging,
        Err(message) => return text(StatusCode::BAD_REQUEST, &message),
    };
    let url = format!(
        "{}{}",
        roots.api,
        incoming.path.trim_start_matches("/devel/")
    );
    let page = |entry_type: &str, entries: Vec<Value>| {
        json_response(
            StatusCode::OK,
            &render::page(roots, &url, entry_type, entries, start, size),
        )
    };
    match resource {
        Resource::Root => json_response(StatusCode::OK, &render::service_root(roots)),
        Resource::Me => match caller.person() {
            Some(person) => json_response(StatusCode::OK, &render::person(roots, person)),
            None => text(
                StatusCode::UNAUTHORIZED,
                "You need to be logged in to view this URL.",
            ),
        },
        Resource::Recipe(path) => {
            let owner = path
                .trim_start_matches('~')
                .split('/')
                .next()
                .unwrap_or_default();
            entry(
                incoming,
                render::recipe(roots, &world.recipes[&path], owner),
            )
        }
        Resource::Request(id) => {
            entry(incoming, render::build_request(roots, &world.requests[&id]))
        }
        Resource::Build(id) => entry(incoming, render::build(roots, world, &world.builds[&id])),
        Resource::Webhook(id) => entry(incoming, render::webhook(roots, &world.webhooks[&id])),
        Resource::Delivery(id) => {
            let delivery = &world.deliveries[&id];
            let hook = &world.webhooks[&delivery.webhook];
            entry(incoming, render::delivery(roots, hook, delivery))
        }
        Resource::Deliveries(hook) => {
            let webhook = &world.webhooks[&hook];
            let entries = world
                .deliveries
                .values()
                .rev()
                .filter(|delivery| delivery.webhook == hook)
                .map(|delivery| render::delivery(roots, webhook, delivery).0)
                .collect();
            page("webhook_delivery", entries)
        }
        Resource::Distribution => {
            json_response(StatusCode::OK, &render::distribution(roots, world))
        }
        Resource::DistroSeries(codename) => json_response(
            StatusCode::OK,
            &render::distro_series(roots, world, &codename),
        ),
        Resource::DistroArchSeries(codename, arch) => {
            // Only the current series' chroots are the scenario's to take away.
            let buildable = codename != world.current_series
                || world
                    .arch_series
                    .iter()
                    .any(|(a, buildable)| a.as_str() == arch && *buildable);
            json_response(
                StatusCode::OK,
                &render::distro_arch_series(roots, &codename, &arch, buildable),
            )
        }
        Resource::BuilderAlias(id) => {
            let mut response = StatusCode::MOVED_PERMANENTLY.into_response();
            let location = format!("{}{}", roots.api, render::build_path(&world.builds[&id]));
            insert(&mut response, "Location", &location);
            response
        }
        Resource::RequestBuilds(id) => {
            let entries = world.requests[&id]
                .builds
                .iter()
                .map(|build| render::build(roots, world, &world.builds[build]).0)
                .collect();
            page("oci_recipe_build", entries)
        }
        Resource::Processors(path) => {
            let entries = world.recipes[&path]
                .processors
                .iter()
                .map(|arch| render::processor(roots, arch.as_str()))
                .collect();
            page("processor", entries)
        }
        Resource::Webhooks(path) => {
            let entries = world
                .webhooks
                .values()
                .filter(|webhook| webhook.recipe == path)
                .map(|webhook| render::webhook(roots, webhook).0)
                .collect();
            page("webhook", entries)
        }
        Resource::PushRules(path) => {
            let entries = world.recipes[&path]
                .push_rules
                .iter()
                .enumerate()
                .map(|(index, rule)| render::push_rule(roots, &path, index, rule))
                .collect();
            page("oci_push_rule", entries)
        }
    }
}

/// `ws.start` and `ws.size`, or the 400 message for bad ones.
fn paging(incoming: &Incoming) -> Result<(usize, usize), String> {
    let number = |key: &str, default: usize| match incoming.param(key) {
        None => Ok(default),
        Some(given) => given
            .parse::<usize>()
            .map_err(|_| format!("Invalid value for {key}: {given}")),
    };
    let start = number("ws.start", 0)?;
    let size = number("ws.size", DEFAULT_PAGE)?;
    if size > MAX_PAGE {
        return Err(format!("Maximum for \"ws.size\" parameter is {MAX_PAGE}."));
    }
    Ok((start, size.max(1)))
}

fn file_urls(roots: &Roots, world: &World, id: u64) -> Response {
    let build = &world.builds[&id];
    let base = format!("{}{}/+files", roots.web, render::build_path(build));
    let urls: Vec<String> =
        if build.datebuilt.is_some() && build.state.as_str() == "Successfully built" {
            ["manifest.json", "digests.json", "layer-0.tar.gz"]
                .iter()
                .map(|file| format!("{base}/{file}"))
                .collect()
        } else {
            Vec::new()
        };
    json_response(StatusCode::OK, &serde_json::json!(urls))
}

fn post(
    state: &mut State,
    roots: &Roots,
    incoming: &Incoming,
    resource: Resource,
    caller: &Caller,
) -> Response {
    let operations = incoming.operations();
    let op = match operations.as_slice() {
        [] => return text(StatusCode::BAD_REQUEST, "No operation name given."),
        [op] => *op,
        many => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("Expected a single operation: {many:?}"),
            )
        }
    };
    if !caller.may_write() {
        return text(
            StatusCode::UNAUTHORIZED,
            &format!("(launchpad.Edit) {op} needs a token with write access."),
        );
    }
    let world = &mut state.world;
    match (resource, op) {
        (Resource::Recipe(path), "requestBuilds") => {
            match world.request_builds(&path, caller.person().unwrap_or_default()) {
                Ok(id) => created(&format!("{}{path}/+build-request/{id}", roots.api)),
                Err(message) => text(StatusCode::UNAUTHORIZED, &message),
            }
        }
        (Resource::Recipe(path), "newWebhook") => new_webhook(world, roots, incoming, &path),
        (Resource::Recipe(_), "setProcessors" | "newPushRule") => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("The simulator does not implement {op}."),
        ),
        (Resource::Build(id), "cancel" | "retry" | "scheduleRegistryUpload")
            if !caller
                .person()
                .is_some_and(|person| world.may_edit(person, &world.builds[&id].recipe)) =>
        {
            // `IOCIRecipeBuildEdit`: the owning team only (`lib/lp/oci/configure.zcml:72-83`).
            // Zope's `Unauthorized` text, as for webhooks.
            let path = render::build_path(&world.builds[&id]);
            text(
                StatusCode::UNAUTHORIZED,
                &format!("(<OCIRecipeBuild at /{path}>, '{op}', 'launchpad.Edit')"),
            )
        }
        (Resource::Build(id), "cancel") => {
            world.cancel(id);
            null()
        }
        (Resource::Build(id), "retry") => match world.retry(id) {
            Ok(()) => null(),
            Err(message) => text(StatusCode::BAD_REQUEST, &message),
        },
        (Resource::Build(id), "scheduleRegistryUpload") => match world.schedule_upload(id) {
            Ok(()) => null(),
            Err(message) => text(StatusCode::BAD_REQUEST, message),
        },
        (Resource::Build(_), "rescore") => text(
            StatusCode::UNAUTHORIZED,
            "(launchpad.Admin) rescore is for build daemon administrators.",
        ),
        (Resource::Webhook(id), "setSecret") => {
            let secret = incoming.param("secret").map(form_string);
            if secret.as_ref().is_some_and(|secret| secret.len() > 200) {
                return text(
                    StatusCode::BAD_REQUEST,
                    "secret: Value is too long (max 200).",
                );
            }
            world.set_webhook_secret(id, secret.map(Secret::new));
            null()
        }
        (Resource::Delivery(id), "retry") => {
            // `retry(reset=False)`: sent again now, its clock started anew with `reset`
            // (`lib/lp/services/webhooks/interfaces.py:449-466`, `model.py` `retry`).
            let reset = incoming
                .param("reset")
                .is_some_and(|raw| form_value(raw) == Value::Bool(true));
            world.retry_delivery(id, reset);
            null()
        }
        (Resource::Webhook(id), "ping") => {
            let delivery = world.ping(id);
            let recipe = &world.webhooks[&id].recipe;
            created(&format!(
                "{}{recipe}/+webhook/{id}/+delivery/{delivery}",
                roots.api
            ))
        }
        (
            Resource::Root
            | Resource::Me
            | Resource::Distribution
            | Resource::DistroSeries(_)
            | Resource::DistroArchSeries(..)
            | Resource::Processors(_)
            | Resource::Webhooks(_)
            | Resource::PushRules(_)
            | Resource::Deliveries(_)
            | Resource::RequestBuilds(_),
            _,
        ) => {
            let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
            insert(&mut response, "Allow", "GET");
            response
        }
        (_, op) => text(StatusCode::BAD_REQUEST, &format!("No such operation: {op}")),
    }
}

/// A PATCH: a webhook's writable fields from a JSON object, answered 209 with the new
/// representation (`reference/launchpad-api.md` §2.5); the simulator changes no other entry.
fn patch(
    state: &mut State,
    roots: &Roots,
    incoming: &Incoming,
    resource: Resource,
    caller: &Caller,
) -> Response {
    let Resource::Webhook(id) = resource else {
        let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
        insert(&mut response, "Allow", "GET, POST");
        return response;
    };
    if !caller.may_write() {
        return text(
            StatusCode::UNAUTHORIZED,
            "(launchpad.Edit) a PATCH needs a token with write access.",
        );
    }
    let json = incoming
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|kind| kind.starts_with("application/json"));
    if !json {
        return text(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Expected a media type of application/json.",
        );
    }
    let Ok(Value::Object(changes)) = serde_json::from_slice::<Value>(&incoming.body) else {
        return text(StatusCode::BAD_REQUEST, "Expected a JSON object.");
    };
    if let Err(problems) = state.world.patch_webhook(id, &changes) {
        return text(StatusCode::BAD_REQUEST, &problems);
    }
    let (value, etag) = render::webhook(roots, &state.world.webhooks[&id]);
    let mut response = json_response(StatusCode::from_u16(209).expect("a valid status"), &value);
    insert(&mut response, "ETag", &etag);
    response
}

/// A form value as Launchpad's marshaller reads it: JSON if it parses, the raw text otherwise.
fn form_value(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

fn form_string(raw: &str) -> String {
    match form_value(raw) {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

fn new_webhook(world: &mut World, roots: &Roots, incoming: &Incoming, recipe: &str) -> Response {
    let mut problems = Vec::new();
    let delivery_url = incoming.param("delivery_url").map(form_string);
    if delivery_url.is_none() {
        problems.push("delivery_url: Required input is missing.".to_string());
    }
    let event_types: Option<Vec<String>> = incoming
        .param("event_types")
        .and_then(|raw| serde_json::from_value(form_value(raw)).ok());
    match &event_types {
        None => problems.push("event_types: Required input is missing.".to_string()),
        Some(types) => {
            if let Some(bad) = types.iter().find(|t| t.as_str() != OCI_BUILD_EVENT) {
                problems.push(format!("event_types: Invalid value '{bad}'."));
            }
        }
    }
    let secret = incoming.param("secret").map(form_string);
    if secret.as_ref().is_some_and(|secret| secret.len() > 200) {
        problems.push("secret: Value is too long (max 200).".to_string());
    }
    let active = incoming
        .param("active")
        .map(|raw| form_value(raw) != Value::Bool(false))
        .unwrap_or(true);
    if !problems.is_empty() {
        return text(StatusCode::BAD_REQUEST, &problems.join("\n"));
    }
    let id = world.new_webhook(
        recipe,
        delivery_url.unwrap_or_default(),
        event_types.unwrap_or_default(),
        active,
        secret.map(Secret::new),
    );
    created(&format!("{}{recipe}/+webhook/{id}", roots.api))
}

/// Where the simulator's librarian serves files: `/+librarian/BUILD/FILE`.
const LIBRARIAN: &str = "/+librarian/";

/// `<build>/+files/<name>` on the web host: 303 to the librarian for the build's log (the only
/// file the simulator keeps), 404 otherwise or before the build started.
fn build_file(world: &World, roots: &Roots, path: &str) -> Response {
    let (build_path, name) = path.split_once("/+files/").unwrap_or_default();
    let build = match Resource::resolve(world, build_path.trim_start_matches('/')) {
        Some(Resource::Build(id)) => &world.builds[&id],
        _ => return text(StatusCode::NOT_FOUND, "Not found."),
    };
    let codename = world
        .recipes
        .get(&build.recipe)
        .map_or("ubuntu", |recipe| recipe.codename.as_str());
    let upload_log = build.upload_log.is_some() && name == super::buildlog::upload_log_name(build);
    let build_log =
        build.date_started.is_some() && name == super::buildlog::file_name(codename, build);
    if !upload_log && !build_log {
        return text(StatusCode::NOT_FOUND, "Not found.");
    }
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::SEE_OTHER;
    let location = format!("{}{}{}/{name}", roots.web, &LIBRARIAN[1..], build.id);
    insert(&mut response, "Location", &location);
    response
}

/// The librarian: a build's log as stored (gzip, `text/plain`), or 404.
fn librarian(world: &World, path: &str) -> Response {
    let id = path[LIBRARIAN.len()..]
        .split('/')
        .next()
        .and_then(|id| id.parse::<u64>().ok());
    let Some(build) = id.and_then(|id| world.builds.get(&id)) else {
        return text(StatusCode::NOT_FOUND, "Not found.");
    };
    if path.ends_with(&super::buildlog::upload_log_name(build)) {
        return match &build.upload_log {
            Some(log) => text(StatusCode::OK, log),
            None => text(
                StatusCode::NOT_FOUND,
                "The file has expired or was deleted.",
            ),
        };
    }
    match super::buildlog::body(world, build) {
        Some(bytes) => {
            let mut response = Response::new(axum::body::Body::from(bytes));
            insert(&mut response, "Content-Type", "text/plain");
            response
        }
        None => text(
            StatusCode::NOT_FOUND,
            "The file has expired or was deleted.",
        ),
    }
}

/// The web host: the OAuth pages, and a plain page for each object's `web_link`.
fn web(shared: &Shared, incoming: &Incoming) -> Response {
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

fn request_token(
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
