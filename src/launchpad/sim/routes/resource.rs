//! The resources a path names under `/devel/`: an entry, a collection, a named operation's target.

use crate::launchpad::sim::world::World;

/// What a path below `/devel/` names.
pub(super) enum Resource {
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
    pub(super) fn kind_of(rest: &str) -> &'static str {
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
    pub(super) fn resolve(world: &World, rest: &str) -> Option<Resource> {
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
