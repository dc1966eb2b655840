//! GET: entries, collections with paging, a build's file URLs, and the 500 of a build Launchpad
//! cannot show.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::resource::Resource;
use super::{entry, insert, json_response, text, Incoming};
use crate::launchpad::sim::oauth::Caller;
use crate::launchpad::sim::render::{self, Roots};
use crate::launchpad::sim::world::World;
use crate::launchpad::sim::State;

/// lazr.restful's default and maximum page sizes.
pub(super) const DEFAULT_PAGE: usize = 50;
pub(super) const MAX_PAGE: usize = 300;

/// Launchpad's 500 for an entry it cannot show (`reference/launchpad-truths.md`, "Registry
/// uploads"): the body is the exception's class name, the OOPS id the clue.
pub(super) fn cannot_show(state: &mut State) -> Response {
    let mut response = text(StatusCode::INTERNAL_SERVER_ERROR, "TypeError");
    let oops = format!("OOPS-sim{}", state.world.random() % 100_000);
    insert(&mut response, "X-Lazr-OopsId", &oops);
    response
}

pub(super) fn get(
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
pub(super) fn paging(incoming: &Incoming) -> Result<(usize, usize), String> {
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

pub(super) fn file_urls(roots: &Roots, world: &World, id: u64) -> Response {
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
