//! POST and PATCH: the named operations, editing an entry, making a webhook.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::resource::Resource;
use super::{created, insert, json_response, null, text, Incoming};
use crate::launchpad::models::OCI_BUILD_EVENT;
use crate::launchpad::sim::oauth::Caller;
use crate::launchpad::sim::render::{self, Roots};
use crate::launchpad::sim::world::World;
use crate::launchpad::sim::State;
use crate::secret::Secret;

/// Launchpad's webhooks are the owning team's: listing them, reading one or its deliveries, and
/// every change need edit permission on the recipe (`lib/lp/oci/interfaces/ocirecipe.py:495`,
/// `lib/lp/oci/configure.zcml:25-28`): 401 otherwise. The text is Zope's `Unauthorized`, which
/// the reference does not quote; this one names the object, attribute and permission as
/// Zope's does.
pub(super) fn edit_refusal(
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

pub(super) fn post(
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
pub(super) fn patch(
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
pub(super) fn form_value(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
}

pub(super) fn form_string(raw: &str) -> String {
    match form_value(raw) {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

pub(super) fn new_webhook(
    world: &mut World,
    roots: &Roots,
    incoming: &Incoming,
    recipe: &str,
) -> Response {
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
