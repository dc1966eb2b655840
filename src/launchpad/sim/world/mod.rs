//! The simulated Launchpad's state and its rules: recipes, build requests, builds and their
//! registry uploads, moving on a clock the caller advances. No IO: the HTTP layer reads and
//! changes it under a lock, and tests step it by hand.
//!
//! The rules follow `reference/launchpad-api.md` §1.5–1.7 and `launchpad-truths.md`: a build
//! request completes with one build per processor, skipping processors that already have a
//! queued build, and fails with "already pending" when it skips them all; only members of the
//! recipe's owning team may request builds, act on them or touch its webhooks; builds move
//! through Launchpad's states; a successful build's upload job is made at once, runs under the
//! recipe's upload lock (one at a time, retried on Launchpad's delays when it meets it), finds
//! the build superseded when a newer build of the recipe and processor is built, and otherwise
//! pushes to each of the recipe's push rules ([`super::upload`]); `retry` (which keeps the last
//! upload's status), `cancel` and `scheduleRegistryUpload` check what Launchpad checks. Builds
//! nobody asked the bot for come from someone else's build request, as from Launchpad's web UI.
//! Webhooks and their deliveries: [`super::webhooks`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::scenario::{Outcome, Scenario};
use super::upload::PushRule;
use super::webhooks::{SimDelivery, SimWebhook};
use crate::catalogue::Catalogue;
use crate::target::Arch;

mod builds;
mod entities;
mod requests;

pub use entities::{BuildEvent, SimBuild, SimRecipe, SimRequest, Timing, UPLOAD_LOCK_RETRIES};

/// The person the simulator's own credentials (and tokens from its login pages) belong to: a
/// member of every recipe's owning team.
pub const SIM_USER: &str = "image-builder-bot";

/// Who requests the builds nobody asked the bot for (Launchpad's web UI, another script).
pub const SOMEONE_ELSE: &str = "someone-else";

const MINUTE: Duration = Duration::from_secs(60);

/// The whole simulated Launchpad.
#[derive(Debug)]
pub struct World {
    /// Build events not yet delivered to webhooks.
    pub events: Vec<BuildEvent>,
    /// The simulated time.
    pub now: DateTime<Utc>,
    /// The recipes, by path.
    pub recipes: BTreeMap<String, SimRecipe>,
    /// The build requests, by number.
    pub requests: BTreeMap<u64, SimRequest>,
    /// The builds, by number.
    pub builds: BTreeMap<u64, SimBuild>,
    /// The webhooks, by number.
    pub webhooks: BTreeMap<u64, SimWebhook>,
    /// Webhook deliveries, by number.
    pub deliveries: BTreeMap<u64, SimDelivery>,
    /// The members of each team that owns recipes.
    pub teams: BTreeMap<String, BTreeSet<String>>,
    /// How long things take.
    pub timing: Timing,
    /// The code name of Ubuntu's current series: every OCI build is built on it, whatever the
    /// image's base (`recipe.distro_series` is the distribution's `currentseries`,
    /// `launchpad-api.md` §1.5), so its architectures' chroots decide what a request can build.
    pub current_series: String,
    /// The architectures of the current series, each with whether it is enabled and has a
    /// chroot (`distro_arch_series`' `enabled` and `chroot_url`).
    pub arch_series: BTreeMap<Arch, bool>,
    foreign: Vec<(DateTime<Utc>, super::scenario::ForeignBuild)>,
    scenario: Scenario,
    rng: Rng,
    next_id: u64,
}

impl World {
    /// A world with every recipe of the catalogue, at time `now`.
    pub fn new(catalogue: &Catalogue, scenario: Scenario, now: DateTime<Utc>) -> World {
        let mut recipes = BTreeMap::new();
        for image in &catalogue.images {
            for track in &image.tracks {
                let path = track.recipe.to_string();
                let codename = catalogue
                    .series
                    .iter()
                    .find(|info| info.series == track.series)
                    .map(|info| info.codename.clone())
                    .unwrap_or_default();
                let push_rules = if scenario.without_push_rules.contains(&image.name) {
                    Vec::new()
                } else {
                    scenario
                        .registries
                        .iter()
                        .map(|registry| PushRule {
                            registry_url: registry.url.clone(),
                            image_name: registry.image_name.replace("{image}", image.name.as_str()),
                        })
                        .collect()
                };
                recipes.insert(
                    path.clone(),
                    SimRecipe {
                        path,
                        name: track.recipe.name.clone(),
                        image: image.name.clone(),
                        series: track.series,
                        codename,
                        track: track.track.clone(),
                        processors: scenario
                            .recipes
                            .iter()
                            .find(|rule| {
                                rule.image == image.name
                                    && rule.series.is_none_or(|series| series == track.series)
                            })
                            .map(|rule| rule.processors.clone())
                            .unwrap_or_else(|| image.arches.clone()),
                        push_rules,
                        date_created: now - chrono::Duration::days(400),
                    },
                );
            }
        }
        let teams = recipes
            .values()
            .map(|recipe: &SimRecipe| {
                let members = [SIM_USER.to_string()].into_iter().collect();
                (recipe.owner().to_string(), members)
            })
            .collect();
        let current_series = catalogue
            .series
            .iter()
            .max_by_key(|info| info.series)
            .map(|info| info.codename.clone())
            .unwrap_or_else(|| "noble".to_string());
        let arch_series = catalogue
            .arches
            .iter()
            .chain(scenario.recipes.iter().flat_map(|rule| &rule.processors))
            .chain(&scenario.without_chroot)
            .map(|arch| (arch.clone(), !scenario.without_chroot.contains(arch)))
            .collect();
        World {
            events: Vec::new(),
            now,
            current_series,
            arch_series,
            recipes,
            requests: BTreeMap::new(),
            builds: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            deliveries: BTreeMap::new(),
            teams,
            timing: Timing::default().with(&scenario.timing),
            foreign: scenario
                .foreign_builds
                .iter()
                .map(|foreign| {
                    (
                        now + chrono::Duration::minutes(foreign.after_minutes as i64),
                        foreign.clone(),
                    )
                })
                .collect(),
            rng: Rng(scenario.seed.max(1)),
            scenario,
            // Launchpad's numbers are large; starting high makes a build id easy to tell apart
            // from a job id in logs.
            next_id: 70_000,
        }
    }

    pub(super) fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Records a change of build `id` for the webhooks, with the build as it is now
    /// (`lib/lp/oci/subscribers/ocirecipebuild.py`: on creation, and on a change of `status`
    /// or `registry_upload_status`).
    fn announce(&mut self, id: u64, action: &'static str) {
        if let Some(build) = self.builds.get(&id) {
            self.events.push(BuildEvent {
                build: id,
                action,
                state: build.state.clone(),
                upload: build.upload.clone(),
            });
        }
    }

    /// Sets the outcomes for builds made from now on.
    pub fn set_outcomes(&mut self, outcomes: Vec<Outcome>) {
        self.scenario.outcomes = outcomes;
    }

    /// Runs every change due up to `until`, in time order, then sets the clock to `until`.
    /// Returns the builds that changed, in the order they changed.
    pub fn advance_to(&mut self, until: DateTime<Utc>) -> Vec<u64> {
        let mut changed = Vec::new();
        while let Some(index) = self.foreign.iter().position(|(due, _)| *due <= until) {
            let (due, foreign) = self.foreign.remove(index);
            self.now = self.now.max(due);
            if let Some(id) = self.foreign_build(
                foreign.image.as_str(),
                &foreign.series.to_string(),
                foreign.arch.as_str(),
            ) {
                changed.push(id);
            }
        }
        loop {
            let next_request = self
                .requests
                .values()
                .filter_map(|request| request.due.map(|due| (due, request.id)))
                .min();
            let next_build = self
                .builds
                .values()
                .filter_map(|build| build.due.map(|due| (due, build.id)))
                .min();
            match (next_request, next_build) {
                (Some((due, id)), other) if due <= until && other.is_none_or(|(b, _)| due <= b) => {
                    self.now = self.now.max(due);
                    changed.extend(self.complete_request(id));
                }
                (_, Some((due, id))) if due <= until => {
                    self.now = self.now.max(due);
                    let before = self
                        .builds
                        .get(&id)
                        .map(|b| (b.state.clone(), b.upload.clone()));
                    self.step_build(id);
                    let after = self
                        .builds
                        .get(&id)
                        .map(|b| (b.state.clone(), b.upload.clone()));
                    if before != after {
                        self.announce(id, "status-changed");
                    }
                    changed.push(id);
                }
                _ => break,
            }
        }
        self.now = self.now.max(until);
        changed
    }

    /// A random number for token keys and secrets.
    pub fn random(&mut self) -> u64 {
        self.rng.next()
    }
}

/// xorshift64*: reproducible from the scenario's seed, so a scenario plays the same every time.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn between(&mut self, (low, high): (Duration, Duration)) -> Duration {
        let span = high.saturating_sub(low).as_millis() as u64;
        low + Duration::from_millis(if span == 0 { 0 } else { self.next() % span })
    }
}
