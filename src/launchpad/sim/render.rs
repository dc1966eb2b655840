//! The simulator's JSON, shaped as lazr.restful shapes Launchpad's: every field the WADL lists
//! for the type, `self_link` and `web_link` absolute, references as `*_link`, collections as
//! `*_collection_link`, enums as their titles, dates in ISO 8601, and an `http_etag` that is also
//! the `ETag` header.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use sha1::{Digest, Sha1};

use super::upload::PushRule;
use super::webhooks::{SimDelivery, SimWebhook};
use super::world::{SimBuild, SimRecipe, SimRequest, World};
use crate::launchpad::models::{resource_type, BuildState};

/// Where the simulator is: the roots links are made from.
#[derive(Debug, Clone)]
pub struct Roots {
    /// `http://127.0.0.1:PORT/devel/`
    pub api: String,
    /// `http://127.0.0.1:PORT/`
    pub web: String,
}

impl Roots {
    fn resource_type(&self, name: &str) -> String {
        format!("{}#{name}", self.api)
    }
}

fn date(value: DateTime<Utc>) -> Value {
    Value::String(value.to_rfc3339_opts(SecondsFormat::Micros, false))
}

fn maybe_date(value: Option<DateTime<Utc>>) -> Value {
    value.map_or(Value::Null, date)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Adds `http_etag` to an entry: two SHA-1s, of the whole entry and of its writable part, in
/// quotes, as lazr.restful makes them. Returns the ETag.
fn with_etag(mut entry: Map<String, Value>, writable: &[&str]) -> (Value, String) {
    let all = Sha1::digest(Value::Object(entry.clone()).to_string().as_bytes());
    let writable_values: Vec<&Value> = writable.iter().filter_map(|key| entry.get(*key)).collect();
    let part = Sha1::digest(format!("{}application/json", json!(writable_values)).as_bytes());
    let etag = format!("\"{}-{}\"", hex(&all), hex(&part));
    entry.insert("http_etag".into(), Value::String(etag.clone()));
    (Value::Object(entry), etag)
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("json! of an object literal is an object"),
    }
}

/// The service root.
pub fn service_root(roots: &Roots) -> Value {
    json!({
        "resource_type_link": roots.resource_type("service-root"),
        "me_link": format!("{}people/+me", roots.api),
        "people_collection_link": format!("{}people", roots.api),
        "processors_collection_link": format!("{}+processors", roots.api),
        "distributions_collection_link": format!("{}distros", roots.api),
        "pillars_link": format!("{}pillars", roots.api),
        "services_link": format!("{}services", roots.api),
    })
}

/// An `oci_recipe` entry and its ETag.
pub fn recipe(roots: &Roots, recipe: &SimRecipe, owner: &str) -> (Value, String) {
    let self_link = format!("{}{}", roots.api, recipe.path);
    let (pillar, project) = pillar_and_project(&recipe.path);
    let entry = object(json!({
        "self_link": self_link,
        "web_link": format!("{}{}", roots.web, recipe.path),
        "resource_type_link": roots.resource_type(resource_type::RECIPE),
        "allow_internet": true,
        "build_args": {},
        "build_daily": false,
        "build_file": "Dockerfile",
        "build_path": ".",
        "date_created": date(recipe.date_created),
        "date_last_modified": date(recipe.date_created),
        "description": format!("{} {} on Ubuntu {}", recipe.image, recipe.track, recipe.series),
        "git_ref_link": format!(
            "{}~{owner}/{pillar}/+oci/{project}/+git/{}/+ref/refs/heads/{}-{}",
            roots.api, recipe.image, recipe.track, recipe.series
        ),
        "image_name": recipe.image.to_string(),
        "information_type": "Public",
        "name": recipe.name,
        "oci_project_link": format!("{}{pillar}/+oci/{project}", roots.api),
        "owner_link": format!("{}~{owner}", roots.api),
        "processors_collection_link": format!("{self_link}/processors"),
        "push_rules_collection_link": format!("{self_link}/push_rules"),
        "registrant_link": format!("{}~{owner}", roots.api),
        "webhooks_collection_link": format!("{self_link}/webhooks"),
    }));
    with_etag(
        entry,
        &[
            "build_args",
            "build_daily",
            "build_file",
            "description",
            "name",
        ],
    )
}

fn pillar_and_project(path: &str) -> (&str, &str) {
    // ~owner/pillar/+oci/project/+recipe/name
    let mut parts = path.split('/');
    let _owner = parts.next();
    let pillar = parts.next().unwrap_or_default();
    let _oci = parts.next();
    let project = parts.next().unwrap_or_default();
    (pillar, project)
}

/// An `oci_recipe_build_request` entry and its ETag.
pub fn build_request(roots: &Roots, request: &SimRequest) -> (Value, String) {
    let path = format!("{}/+build-request/{}", request.recipe, request.id);
    let self_link = format!("{}{path}", roots.api);
    let entry = object(json!({
        "self_link": self_link,
        "web_link": format!("{}{path}", roots.web),
        "resource_type_link": roots.resource_type(resource_type::BUILD_REQUEST),
        "builds_collection_link": format!("{self_link}/builds"),
        "date_finished": maybe_date(request.date_finished),
        "date_requested": date(request.date_requested),
        "error_message": request.error_message,
        "recipe_link": format!("{}{}", roots.api, request.recipe),
        "status": request.status.as_str(),
    }));
    with_etag(entry, &[])
}

/// The path of a build below the roots.
pub fn build_path(build: &SimBuild) -> String {
    format!("{}/+build/{}", build.recipe, build.id)
}

/// An `oci_recipe_build` entry and its ETag.
pub fn build(roots: &Roots, world: &World, build: &SimBuild) -> (Value, String) {
    let path = build_path(build);
    let recipe = world.recipes.get(&build.recipe);
    let codename = recipe.map(|r| r.codename.as_str()).unwrap_or("ubuntu");
    let finished = build.state.is_final();
    let started = build.date_started.is_some();
    let duration = match (build.date_started, build.datebuilt) {
        (Some(start), Some(end)) => Value::String(format_duration(end - start)),
        _ => Value::Null,
    };
    let entry = object(json!({
        "self_link": format!("{}{path}", roots.api),
        "web_link": format!("{}{path}", roots.web),
        "resource_type_link": roots.resource_type(resource_type::BUILD),
        "arch_tag": build.arch.to_string(),
        "archive_link": format!("{}ubuntu/+archive/primary", roots.api),
        "build_log_url": if started {
            Value::String(format!("{}{path}/+files/{}", roots.web, super::buildlog::file_name(codename, build)))
        } else {
            Value::Null
        },
        "builder_link": if build.state == BuildState::CurrentlyBuilding {
            Value::String(format!("{}builders/sim-{}", roots.api, build.arch))
        } else {
            Value::Null
        },
        "buildstate": build.state.as_str(),
        "can_be_cancelled": build.can_be_cancelled(),
        "can_be_rescored": build.can_be_rescored(),
        "can_be_retried": build.can_be_retried(),
        "date": maybe_date(build.datebuilt.or(build.due())),
        "date_first_dispatched": maybe_date(build.date_started),
        "date_started": maybe_date(build.date_started),
        "datebuilt": maybe_date(build.datebuilt),
        "datecreated": date(build.datecreated),
        "dependencies": Value::Null,
        "distribution_link": format!("{}ubuntu", roots.api),
        "distro_arch_series_link": format!("{}ubuntu/{}/{}", roots.api, world.current_series, build.arch),
        "distro_series_link": format!("{}ubuntu/{}", roots.api, world.current_series),
        "duration": duration,
        "estimate": !finished,
        "eta": if finished { Value::Null } else { maybe_date(build.due()) },
        "pocket": "Updates",
        "recipe_link": format!("{}{}", roots.api, build.recipe),
        "registry_upload_error_summary": build.upload_error_summary,
        "registry_upload_errors": build.upload_errors,
        "registry_upload_status": build.upload.as_str(),
        "requester_link": requester_link(roots, world, build),
        "score": if build.can_be_rescored() { json!(2510) } else { Value::Null },
        "title": format!("{} build of /{}", build.arch, build.recipe),
        "upload_log_url": match &build.upload_log {
            Some(_) => Value::String(format!(
                "{}{path}/+files/{}",
                roots.web,
                super::buildlog::upload_log_name(build)
            )),
            None => Value::Null,
        },
    }));
    with_etag(entry, &[])
}

/// The `distribution` entry of Ubuntu (the fields a client needs to find its current series).
pub fn distribution(roots: &Roots, world: &World) -> Value {
    json!({
        "self_link": format!("{}ubuntu", roots.api),
        "web_link": format!("{}ubuntu", roots.web),
        "resource_type_link": roots.resource_type("distribution"),
        "name": "ubuntu",
        "display_name": "Ubuntu",
        "current_series_link": format!("{}ubuntu/{}", roots.api, world.current_series),
        "series_collection_link": format!("{}ubuntu/series", roots.api),
    })
}

/// A `distro_series` entry of Ubuntu.
pub fn distro_series(roots: &Roots, world: &World, codename: &str) -> Value {
    json!({
        "self_link": format!("{}ubuntu/{codename}", roots.api),
        "web_link": format!("{}ubuntu/{codename}", roots.web),
        "resource_type_link": roots.resource_type("distro_series"),
        "name": codename,
        "active": true,
        "status": if codename == world.current_series { "Current Stable Release" } else { "Supported" },
        "distribution_link": format!("{}ubuntu", roots.api),
    })
}

/// A `distro_arch_series` entry: an architecture of a series, whether it is enabled, and its
/// chroot (`null` without one: then nothing of it can be built).
pub fn distro_arch_series(roots: &Roots, codename: &str, arch: &str, buildable: bool) -> Value {
    let path = format!("ubuntu/{codename}/{arch}");
    json!({
        "self_link": format!("{}{path}", roots.api),
        "web_link": format!("{}{path}", roots.web),
        "resource_type_link": roots.resource_type("distro_arch_series"),
        "architecture_tag": arch,
        "display_name": format!("Ubuntu {codename} {arch}"),
        "enabled": true,
        "official": true,
        "is_nominated_arch_indep": arch == "amd64",
        "supports_virtualized": true,
        "chroot_url": if buildable {
            Value::String(format!("{}+librarian/chroot/livecd.ubuntu-base.{codename}.{arch}.tar.gz", roots.web))
        } else {
            Value::Null
        },
        "processor_link": format!("{}+processors/{arch}", roots.api),
        "distroseries_link": format!("{}ubuntu/{codename}", roots.api),
    })
}

/// Who asked for a build: the requester of the build request that made it.
fn requester_link(roots: &Roots, world: &World, build: &SimBuild) -> Value {
    let requester = build
        .request
        .and_then(|request| world.requests.get(&request))
        .map(|request| request.requester.clone());
    match requester {
        Some(person) => Value::String(person_link(roots, &person)),
        None => Value::Null,
    }
}

/// A person's API URL.
pub fn person_link(roots: &Roots, person: &str) -> String {
    format!("{}~{person}", roots.api)
}

/// The `person` entry `people/+me` answers with (the fields the bot uses, and a few more).
pub fn person(roots: &Roots, name: &str) -> Value {
    json!({
        "self_link": person_link(roots, name),
        "web_link": format!("{}~{name}", roots.web),
        "resource_type_link": roots.resource_type("person"),
        "name": name,
        "display_name": name,
        "is_team": false,
    })
}

fn format_duration(duration: chrono::Duration) -> String {
    let seconds = duration.num_seconds().max(0);
    format!(
        "{}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// A `webhook` entry and its ETag.
pub fn webhook(roots: &Roots, webhook: &SimWebhook) -> (Value, String) {
    let path = format!("{}/+webhook/{}", webhook.recipe, webhook.id);
    let self_link = format!("{}{path}", roots.api);
    let owner = webhook.recipe.split('/').next().unwrap_or_default();
    let entry = object(json!({
        "self_link": self_link,
        "web_link": format!("{}{path}", roots.web),
        "resource_type_link": roots.resource_type(resource_type::WEBHOOK),
        "active": webhook.active,
        "date_created": date(webhook.date_created),
        "date_last_modified": date(webhook.date_last_modified),
        "deliveries_collection_link": format!("{self_link}/deliveries"),
        "delivery_url": webhook.delivery_url,
        "event_types": webhook.event_types,
        "git_ref_pattern": Value::Null,
        "registrant_link": format!("{}{owner}", roots.api),
        "target_link": format!("{}{}", roots.api, webhook.recipe),
    }));
    with_etag(
        entry,
        &["active", "delivery_url", "event_types", "git_ref_pattern"],
    )
}

/// A `webhook_delivery` entry and its ETag.
pub fn delivery(roots: &Roots, webhook: &SimWebhook, delivery: &SimDelivery) -> (Value, String) {
    let hook = format!("{}/+webhook/{}", webhook.recipe, webhook.id);
    let path = format!("{hook}/+delivery/{}", delivery.id);
    let payload: Value = serde_json::from_str(&delivery.body).unwrap_or(Value::Null);
    let entry = object(json!({
        "self_link": format!("{}{path}", roots.api),
        "web_link": format!("{}{path}", roots.web),
        "resource_type_link": roots.resource_type("webhook_delivery"),
        "date_created": date(delivery.date_created),
        "date_first_sent": maybe_date(delivery.date_first_sent),
        "date_scheduled": if delivery.pending { date(delivery.date_sent.unwrap_or(delivery.date_created)) } else { Value::Null },
        "date_sent": maybe_date(delivery.date_sent),
        "error_message": delivery.error_message,
        "event_type": delivery.event_type,
        "payload": payload,
        "pending": delivery.pending,
        "successful": delivery.successful,
        "webhook_link": format!("{}{hook}", roots.api),
    }));
    with_etag(entry, &[])
}

/// An `oci_push_rule` entry.
pub fn push_rule(roots: &Roots, recipe: &str, index: usize, rule: &PushRule) -> Value {
    let path = format!("{recipe}/+push-rule/{}", index + 1);
    json!({
        "self_link": format!("{}{path}", roots.api),
        "web_link": format!("{}{path}", roots.web),
        "resource_type_link": roots.resource_type("oci_push_rule"),
        "image_name": rule.image_name,
        "registry_url": rule.registry_url,
        "username": "ubuntu",
    })
}

/// A processor entry (a recipe's processors collection).
pub fn processor(roots: &Roots, name: &str) -> Value {
    json!({
        "self_link": format!("{}+processors/{name}", roots.api),
        "web_link": format!("{}+processors/{name}", roots.web),
        "resource_type_link": roots.resource_type("processor"),
        "name": name,
        "title": name,
        "description": format!("The {name} processor"),
        "restricted": false,
        "build_by_default": true,
        "supports_virtualized": true,
        "supports_nonvirtualized": true,
    })
}

/// One page of a collection: `ws.start` and `ws.size` applied, with next and previous links
/// only where there is such a page.
pub fn page(
    roots: &Roots,
    url: &str,
    entry_type: &str,
    entries: Vec<Value>,
    start: usize,
    size: usize,
) -> Value {
    let total = entries.len();
    let end = (start + size).min(total);
    let page: Vec<Value> = entries
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect();
    let mut collection = object(json!({
        "start": start,
        "total_size": total,
        "entries": page,
        "resource_type_link": roots.resource_type(&format!("{entry_type}-page-resource")),
    }));
    if end < total {
        collection.insert(
            "next_collection_link".into(),
            Value::String(format!("{url}?ws.size={size}&ws.start={end}")),
        );
    }
    if start > 0 {
        let previous = start.saturating_sub(size);
        collection.insert(
            "prev_collection_link".into(),
            Value::String(format!("{url}?ws.size={size}&ws.start={previous}")),
        );
    }
    Value::Object(collection)
}
