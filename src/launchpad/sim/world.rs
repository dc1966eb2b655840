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
//! Webhooks and their deliveries: [`super::hooks`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::hooks::{SimDelivery, SimWebhook};
use super::scenario::{Failures, Outcome, Scenario};
use super::upload::{self, FailureMode, PushRule};
use crate::catalogue::Catalogue;
use crate::launchpad::models::{
    cannot_be_retried, upload_refusal, BuildState, RequestStatus, UploadStatus, ALREADY_PENDING,
};
use crate::target::{Arch, ImageName, Series};

/// The person the simulator's own credentials (and tokens from its login pages) belong to: a
/// member of every recipe's owning team.
pub const SIM_USER: &str = "image-builder-bot";

/// Who requests the builds nobody asked the bot for (Launchpad's web UI, another script).
pub const SOMEONE_ELSE: &str = "someone-else";

/// How long things take, in simulated time. The defaults feel like Launchpad's.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// From `requestBuilds` to the builds existing (Launchpad's Celery job).
    pub request: Duration,
    /// How long a build waits in the queue: between the two.
    pub queue: (Duration, Duration),
    /// How long a builder works on it: between the two.
    pub build: (Duration, Duration),
    /// Gathering the build's output.
    pub gather: Duration,
    /// Processing the files on Launchpad (`Uploading build`).
    pub process: Duration,
    /// One registry upload: between the two.
    pub registry_upload: (Duration, Duration),
    /// From `Cancelling build` to `Cancelled build`.
    pub cancel: Duration,
}

const MINUTE: Duration = Duration::from_secs(60);

/// When an upload job meets the recipe's upload lock (another build of the recipe is being
/// pushed), it is tried again after these waits, at most this many times; then it fails with
/// no summary (`lib/lp/oci/model/ocirecipebuildjob.py:195-232`, `launchpad-truths.md`,
/// "Registry uploads"). Launchpad adds up to a minute of dithering to each; the simulator does
/// not (assumed: it changes nothing a client can rely on).
pub const UPLOAD_LOCK_RETRIES: [Duration; 5] = [
    Duration::from_secs(10 * 60),
    Duration::from_secs(15 * 60),
    Duration::from_secs(20 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(10 * 60),
];

impl Timing {
    /// These timings, with a scenario's overrides.
    pub fn with(mut self, rule: &super::scenario::TimingRule) -> Timing {
        let span = |[low, high]: [u64; 2]| (Duration::from_secs(low), Duration::from_secs(high));
        if let Some(queue) = rule.queue_seconds {
            self.queue = span(queue);
        }
        if let Some(build) = rule.build_seconds {
            self.build = span(build);
        }
        if let Some(upload) = rule.upload_seconds {
            self.registry_upload = span(upload);
        }
        self
    }
}

impl Default for Timing {
    /// A queued build waits 1 to 5 minutes, builds 5 to 30 all told, uploads in 1 to 5.
    fn default() -> Timing {
        Timing {
            request: Duration::from_secs(20),
            queue: (MINUTE, 5 * MINUTE),
            build: (4 * MINUTE, 28 * MINUTE + MINUTE / 2),
            gather: MINUTE,
            process: MINUTE / 2,
            registry_upload: (MINUTE, 5 * MINUTE),
            cancel: MINUTE / 2,
        }
    }
}

/// A recipe, from the catalogue.
#[derive(Debug, Clone)]
pub struct SimRecipe {
    /// `~owner/pillar/+oci/image/+recipe/name`.
    pub path: String,
    /// The recipe's name.
    pub name: String,
    /// The OCI project.
    pub image: ImageName,
    /// The series it builds for.
    pub series: Series,
    /// The series' code name (for distro series links).
    pub codename: String,
    /// The app version.
    pub track: String,
    /// Its processors: the architectures `requestBuilds` builds.
    pub processors: Vec<Arch>,
    /// Where uploads are pushed; without any, uploads cannot be scheduled.
    pub push_rules: Vec<PushRule>,
    /// When it was made.
    pub date_created: DateTime<Utc>,
}

impl SimRecipe {
    /// Whether uploads can be scheduled (`can_upload_to_registry`: it has push rules).
    pub fn can_upload(&self) -> bool {
        !self.push_rules.is_empty()
    }

    /// The owning team (`~TEAM/...`).
    pub fn owner(&self) -> &str {
        self.path
            .trim_start_matches('~')
            .split('/')
            .next()
            .unwrap_or_default()
    }
}

/// A build request.
#[derive(Debug, Clone)]
pub struct SimRequest {
    /// Its number.
    pub id: u64,
    /// The recipe's path.
    pub recipe: String,
    /// Who asked.
    pub requester: String,
    /// The architectures asked for (the web UI's form passes them; the API cannot): all the
    /// recipe's when `None`.
    pub architectures: Option<Vec<Arch>>,
    /// Pending, Completed, Failed.
    pub status: RequestStatus,
    /// When it was made.
    pub date_requested: DateTime<Utc>,
    /// When it completed or failed.
    pub date_finished: Option<DateTime<Utc>>,
    /// Why it failed.
    pub error_message: Option<String>,
    /// The builds it made, by processor name descending, as Launchpad lists them.
    pub builds: Vec<u64>,
    due: Option<DateTime<Utc>>,
}

/// A build.
#[derive(Debug, Clone)]
pub struct SimBuild {
    /// Its number.
    pub id: u64,
    /// The recipe's path.
    pub recipe: String,
    /// The build request that made it (every build has one on Launchpad, the web UI's too).
    pub request: Option<u64>,
    /// The architecture.
    pub arch: Arch,
    /// The build's state.
    pub state: BuildState,
    /// The registry upload's status.
    pub upload: UploadStatus,
    /// Why the last upload failed.
    pub upload_error_summary: Option<String>,
    /// The last upload's `registry_upload_errors`, exactly as exported.
    pub upload_errors: Value,
    /// Whether its entry answers 500: its last upload failed on several registries with
    /// registry errors ([`super::upload`]).
    pub unreadable: bool,
    /// Whether its upload job holds the recipe's upload lock and is pushing now.
    pub pushing: bool,
    /// How many times its upload job met the recipe's lock.
    pub lock_retries: u32,
    /// What Launchpad logged when it could not take the build's files in (the build state
    /// `Failed to upload`), served at `upload_log_url`.
    pub upload_log: Option<String>,
    /// When it was created.
    pub datecreated: DateTime<Utc>,
    /// When a builder started on it.
    pub date_started: Option<DateTime<Utc>>,
    /// When it finished building.
    pub datebuilt: Option<DateTime<Utc>>,
    build_failures: Failures,
    upload_failures: Failures,
    processing_failures: Failures,
    failure_mode: FailureMode,
    log_kind: super::buildlog::LogKind,
    due: Option<DateTime<Utc>>,
}

impl SimBuild {
    /// What the librarian holds as its log.
    pub fn log_kind(&self) -> super::buildlog::LogKind {
        self.log_kind
    }

    /// A new upload job, run at `now` (Celery runs it on commit): pending, with no errors yet
    /// (they are the new job's), not holding the lock yet.
    fn start_upload(&mut self, now: DateTime<Utc>) {
        self.upload = UploadStatus::Pending;
        self.upload_error_summary = None;
        self.upload_errors = upload::no_errors(&self.failure_mode);
        self.unreadable = false;
        self.pushing = false;
        self.lock_retries = 0;
        self.due = Some(now);
    }

    /// Makes its next upload fail (as the scenario's outcome says uploads fail), whatever
    /// its outcome said: for a test that retries an upload by hand.
    pub fn fail_next_upload(&mut self) {
        self.upload_failures = Failures::Times(1);
    }

    /// Whether `retry` would be accepted.
    pub fn can_be_retried(&self) -> bool {
        self.state.is_retryable()
    }

    /// Whether `cancel` would do something.
    pub fn can_be_cancelled(&self) -> bool {
        matches!(
            self.state,
            BuildState::NeedsBuilding | BuildState::CurrentlyBuilding
        )
    }

    /// Whether it could be rescored (queued builds only).
    pub fn can_be_rescored(&self) -> bool {
        self.state == BuildState::NeedsBuilding
    }

    /// When it is next due to change, if it will change by itself.
    pub fn due(&self) -> Option<DateTime<Utc>> {
        self.due
    }
}

/// A change Launchpad announces to a recipe's webhooks (`oci-recipe:build:0.1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildEvent {
    /// The build.
    pub build: u64,
    /// `created` or `status-changed`.
    pub action: &'static str,
    /// Its `buildstate` when it happened (the payload is made then, not when it is sent).
    pub state: BuildState,
    /// Its `registry_upload_status` when it happened.
    pub upload: UploadStatus,
}

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

    /// Whether `person` is in the team that owns `recipe` (which Launchpad's edit permission
    /// and `requestBuilds` need).
    pub fn may_edit(&self, person: &str, recipe: &str) -> bool {
        self.recipes
            .get(recipe)
            .and_then(|recipe| self.teams.get(recipe.owner()))
            .is_some_and(|members| members.contains(person))
    }

    /// `requestBuilds` by `requester`: a pending request, completed after
    /// [`Timing::request`]; Launchpad's 401 text (`OCIRecipeNotOwner`) when the requester is
    /// not in the owning team (`lib/lp/oci/model/ocirecipe.py:635-639`).
    pub fn request_builds(&mut self, recipe: &str, requester: &str) -> Result<u64, String> {
        if !self.may_edit(requester, recipe) {
            let owner = self
                .recipes
                .get(recipe)
                .map(SimRecipe::owner)
                .unwrap_or_default();
            return Err(format!(
                "{requester} cannot create OCI image builds owned by {owner}."
            ));
        }
        Ok(self.add_request(recipe, requester, None))
    }

    fn add_request(
        &mut self,
        recipe: &str,
        requester: &str,
        architectures: Option<Vec<Arch>>,
    ) -> u64 {
        let id = self.take_id();
        self.requests.insert(
            id,
            SimRequest {
                id,
                recipe: recipe.to_string(),
                requester: requester.to_string(),
                architectures,
                status: RequestStatus::Pending,
                date_requested: self.now,
                date_finished: None,
                error_message: None,
                builds: Vec::new(),
                due: Some(self.now + self.timing.request),
            },
        );
        id
    }

    fn complete_request(&mut self, id: u64) -> Vec<u64> {
        let Some(request) = self.requests.get(&id) else {
            return Vec::new();
        };
        let recipe_path = request.recipe.clone();
        // `getAllowedArchitectures()`: the recipe's processors that the current series can
        // build (`lib/lp/oci/model/ocirecipe.py:515-525, 625-633`); the web UI's form narrows
        // them to what it asked for.
        let asked = request.architectures.clone();
        let buildable = |arch: &Arch| self.arch_series.get(arch).copied().unwrap_or(false);
        let mut processors: Vec<Arch> = self
            .recipes
            .get(&recipe_path)
            .map(|recipe| recipe.processors.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|arch| buildable(arch))
            .filter(|arch| asked.as_ref().is_none_or(|asked| asked.contains(arch)))
            .collect();
        processors.sort();
        // Each architecture with a queued build of the recipe is skipped; the request fails
        // only when every allowed one was, and completes with no builds when none is allowed
        // (`ocirecipe.py:642-657, 674-701`). Only queued builds count: a dispatched one does
        // not stop a second request from building that architecture again.
        let mut created = Vec::new();
        for arch in &processors {
            let queued = self.builds.values().any(|build| {
                build.recipe == recipe_path
                    && &build.arch == arch
                    && build.state == BuildState::NeedsBuilding
            });
            if !queued {
                created.push(self.create_build(&recipe_path, arch.clone(), Some(id)));
            }
        }
        let now = self.now;
        let request = self.requests.get_mut(&id).expect("looked up above");
        request.due = None;
        request.date_finished = Some(now);
        if created.is_empty() && !processors.is_empty() {
            request.status = RequestStatus::Failed;
            request.error_message = Some(ALREADY_PENDING.to_string());
        } else {
            request.status = RequestStatus::Completed;
            // Launchpad lists a request's builds by processor name, descending.
            request.builds = created.iter().rev().copied().collect();
        }
        created
    }

    /// A new queued build of `recipe` for `arch`, made by build request `request`.
    pub fn create_build(&mut self, recipe: &str, arch: Arch, request: Option<u64>) -> u64 {
        let id = self.take_id();
        let outcome = self.outcome_for(recipe, &arch);
        let due = self.now + self.rng.between(self.timing.queue);
        self.builds.insert(
            id,
            SimBuild {
                id,
                recipe: recipe.to_string(),
                request,
                arch,
                state: BuildState::NeedsBuilding,
                upload: UploadStatus::Unscheduled,
                upload_error_summary: None,
                upload_errors: upload::no_errors(&FailureMode::from(&outcome)),
                unreadable: false,
                pushing: false,
                lock_retries: 0,
                upload_log: None,
                datecreated: self.now,
                date_started: None,
                datebuilt: None,
                build_failures: outcome.build_failures,
                upload_failures: outcome.upload_failures,
                processing_failures: outcome.processing_failures,
                failure_mode: FailureMode::from(&outcome),
                log_kind: outcome.build_log,
                due: Some(due),
            },
        );
        self.announce(id, "created");
        id
    }

    fn outcome_for(&self, recipe: &str, arch: &Arch) -> Outcome {
        let recipe = self.recipes.get(recipe);
        self.scenario
            .outcomes
            .iter()
            .find(|outcome| {
                outcome.matches(recipe.map(|r| &r.image), recipe.map(|r| r.series), arch)
            })
            .cloned()
            .unwrap_or_default()
    }

    fn step_build(&mut self, id: u64) {
        let now = self.now;
        let timing = self.timing;
        let Some(this) = self.builds.get(&id) else {
            return;
        };
        let recipe = self.recipes.get(&this.recipe);
        let can_upload = recipe.is_some_and(SimRecipe::can_upload);
        let push_rules = recipe.map(|r| r.push_rules.clone()).unwrap_or_default();
        let recipe_name = recipe.map(|r| r.name.clone()).unwrap_or_default();
        // One upload of a recipe at a time: an advisory lock per recipe, held while pushing.
        let lock_held = self
            .builds
            .values()
            .any(|other| other.id != id && other.recipe == this.recipe && other.pushing);
        // `hasMoreRecentBuild`: a build of the same recipe and processor, made later, that
        // built (`lib/lp/oci/model/ocirecipebuild.py`, `ociregistryclient.py:463-472`).
        let superseded = self.builds.values().any(|other| {
            other.recipe == this.recipe
                && other.arch == this.arch
                && other.state == BuildState::SuccessfullyBuilt
                && (other.datecreated, other.id) > (this.datecreated, this.id)
        });
        let build_time = self.rng.between(timing.build);
        let upload_time = self.rng.between(timing.registry_upload);
        let Some(build) = self.builds.get_mut(&id) else {
            return;
        };
        build.due = None;
        let mut built = false;
        match build.state {
            BuildState::NeedsBuilding => {
                build.state = BuildState::CurrentlyBuilding;
                build.date_started = Some(now);
                build.due = Some(now + build_time);
            }
            BuildState::CurrentlyBuilding if build.build_failures.take() => {
                build.state = BuildState::FailedToBuild;
                build.datebuilt = Some(now);
            }
            BuildState::CurrentlyBuilding => {
                build.state = BuildState::GatheringBuildOutput;
                build.due = Some(now + timing.gather);
            }
            BuildState::GatheringBuildOutput => {
                build.state = BuildState::UploadingBuild;
                build.due = Some(now + timing.process);
            }
            BuildState::UploadingBuild if build.processing_failures.take() => {
                // Launchpad could not take the builder's files in: the build's own state, its
                // reason in the upload log, not the build log (which shows a good build).
                build.state = BuildState::FailedToUpload;
                build.datebuilt = Some(now);
                build.upload_log = Some(super::buildlog::upload_log(id, &recipe_name));
            }
            BuildState::UploadingBuild => {
                build.state = BuildState::SuccessfullyBuilt;
                build.datebuilt = Some(now);
                build.upload_log = None;
                built = true;
            }
            BuildState::SuccessfullyBuilt
                if build.upload == UploadStatus::Pending && !build.pushing =>
            {
                // The upload job runs: it takes the recipe's lock, or is tried again later.
                if lock_held {
                    build.lock_retries += 1;
                    match UPLOAD_LOCK_RETRIES.get(build.lock_retries as usize - 1) {
                        Some(wait) => build.due = Some(now + *wait),
                        None => {
                            // Given up on the lock: failed, with no summary and no errors.
                            build.upload = UploadStatus::FailedToUpload;
                            build.upload_error_summary = None;
                            build.upload_errors = upload::no_errors(&build.failure_mode);
                        }
                    }
                } else if superseded {
                    // Nothing is pushed: the registry has (or gets) the newer build's image.
                    build.state = BuildState::BuildForSupersededSource;
                    build.upload = UploadStatus::Superseded;
                    build.upload_error_summary = None;
                    build.upload_errors = upload::no_errors(&build.failure_mode);
                } else {
                    build.pushing = true;
                    build.due = Some(now + upload_time);
                }
            }
            BuildState::SuccessfullyBuilt if build.upload == UploadStatus::Pending => {
                build.pushing = false;
                let failed = if build.upload_failures.take() {
                    upload::fail(&push_rules, &build.failure_mode, &recipe_name, id)
                } else {
                    None
                };
                match failed {
                    Some(failed) => {
                        build.upload = UploadStatus::FailedToUpload;
                        build.upload_error_summary = Some(failed.summary);
                        build.upload_errors = failed.errors;
                        build.unreadable = failed.unreadable;
                    }
                    None => {
                        build.upload = UploadStatus::Uploaded;
                        build.upload_error_summary = None;
                        build.upload_errors = upload::no_errors(&build.failure_mode);
                    }
                }
            }
            BuildState::CancellingBuild => build.state = BuildState::CancelledBuild,
            _ => {}
        }
        if built && can_upload {
            // The success is announced before its upload job exists, so a delivery says
            // `(Successfully built, Unscheduled)` first, then another `Pending`
            // (`lib/lp/oci/subscribers/ocirecipebuild.py:43-58`).
            self.announce(id, "status-changed");
            if let Some(build) = self.builds.get_mut(&id) {
                build.start_upload(now);
            }
        }
    }

    /// `cancel`: a queued build is cancelled at once, a running one goes through
    /// `Cancelling build`; anything else is left alone (Launchpad answers 200 all the same,
    /// and, nothing having changed, delivers nothing: `launchpad-truths.md`, "Builds nobody
    /// asked the bot for").
    pub fn cancel(&mut self, id: u64) {
        let before = self.builds.get(&id).map(|build| build.state.clone());
        self.cancel_quietly(id);
        if self.builds.get(&id).map(|build| build.state.clone()) != before {
            self.announce(id, "status-changed");
        }
    }

    fn cancel_quietly(&mut self, id: u64) {
        let now = self.now;
        let cancel = self.timing.cancel;
        let Some(build) = self.builds.get_mut(&id) else {
            return;
        };
        match build.state {
            BuildState::NeedsBuilding => {
                build.state = BuildState::CancelledBuild;
                build.due = None;
            }
            BuildState::CurrentlyBuilding => {
                build.state = BuildState::CancellingBuild;
                build.due = Some(now + cancel);
            }
            _ => {}
        }
    }

    /// `retry`: back to the queue, or Launchpad's 400 message.
    pub fn retry(&mut self, id: u64) -> Result<(), String> {
        let queue = self.rng.between(self.timing.queue);
        let now = self.now;
        let Some(build) = self.builds.get_mut(&id) else {
            return Err(cannot_be_retried(id));
        };
        if !build.can_be_retried() {
            return Err(cannot_be_retried(id));
        }
        // The last upload job stays the build's: its status, summary and errors are kept
        // (`ocirecipebuild.py:488-500`) until the rebuilt build uploads again.
        // `Superseded` is computed from the build's status, not kept by the upload job: once
        // the build is queued again the simulator shows no upload (assumed; the reference
        // does not say what the superseded build's completed job then reads as).
        if build.upload == UploadStatus::Superseded {
            build.upload = UploadStatus::Unscheduled;
        }
        build.state = BuildState::NeedsBuilding;
        build.date_started = None;
        build.datebuilt = None;
        build.upload_log = None;
        build.due = Some(now + queue);
        // No delivery: `retry` is a write operation without edited fields, which the
        // subscriber ignores (`buildfarmjob.py:348-377`, `subscribers/ocirecipebuild.py:46`).
        Ok(())
    }

    /// `scheduleRegistryUpload`: a new upload, or one of Launchpad's four 400 messages, checked
    /// in Launchpad's order.
    pub fn schedule_upload(&mut self, id: u64) -> Result<(), &'static str> {
        let now = self.now;
        let Some(build) = self.builds.get_mut(&id) else {
            return Err(upload_refusal::NO_FILES);
        };
        let can_upload = self
            .recipes
            .get(&build.recipe)
            .is_some_and(SimRecipe::can_upload);
        if !can_upload {
            return Err(upload_refusal::NOT_CONFIGURED);
        }
        if build.state != BuildState::SuccessfullyBuilt {
            return Err(upload_refusal::NO_FILES);
        }
        match build.upload {
            UploadStatus::Pending => return Err(upload_refusal::IN_PROGRESS),
            UploadStatus::Uploaded => return Err(upload_refusal::ALREADY_UPLOADED),
            _ => {}
        }
        build.start_upload(now);
        self.announce(id, "status-changed");
        Ok(())
    }

    /// A build of `image` for `series` on `arch` that nobody asked the bot for: someone else
    /// asked for it on Launchpad's web UI, whose form passes the architecture, and Launchpad's
    /// job made it at once. `None` if the catalogue has no such recipe, or the architecture
    /// already has a queued build.
    pub fn foreign_build(&mut self, image: &str, series: &str, arch: &str) -> Option<u64> {
        let recipe = self
            .recipes
            .values()
            .find(|r| r.image.as_str() == image && r.series.to_string() == series)?
            .path
            .clone();
        let arch: Arch = arch.parse().ok()?;
        let request = self.add_request(&recipe, SOMEONE_ELSE, Some(vec![arch]));
        self.complete_request(request).first().copied()
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
