//! The simulated Launchpad's state and its rules: recipes, build requests, builds and their
//! registry uploads, moving on a clock the caller advances. No IO: the HTTP layer reads and
//! changes it under a lock, and tests step it by hand.
//!
//! The rules follow `reference/launchpad-api.md` §1.5–1.7: a build request completes with one
//! build per processor, skipping processors that already have a queued build, and fails with
//! "already pending" when it skips them all; builds move through Launchpad's states; a successful
//! build's upload is scheduled at once (every simulated recipe has push rules unless a scenario
//! says otherwise); `retry`, `cancel` and `scheduleRegistryUpload` check what Launchpad checks.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::scenario::{Failures, Outcome, Scenario};
use crate::catalogue::Catalogue;
use crate::launchpad::models::{
    cannot_be_retried, upload_refusal, BuildState, RegistryError, RequestStatus, UploadStatus,
    ALREADY_PENDING,
};
use crate::target::{Arch, ImageName, Series};

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
    /// Whether it has push rules; without, uploads cannot be scheduled.
    pub can_upload: bool,
    /// When it was made.
    pub date_created: DateTime<Utc>,
}

/// A build request.
#[derive(Debug, Clone)]
pub struct SimRequest {
    /// Its number.
    pub id: u64,
    /// The recipe's path.
    pub recipe: String,
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
    /// The build request that made it; `None` for a daily or web-UI build.
    pub request: Option<u64>,
    /// The architecture.
    pub arch: Arch,
    /// The build's state.
    pub state: BuildState,
    /// The registry upload's status.
    pub upload: UploadStatus,
    /// Why the last upload failed.
    pub upload_error_summary: Option<String>,
    /// The registry's errors for the last upload.
    pub upload_errors: Vec<RegistryError>,
    /// When it was created.
    pub datecreated: DateTime<Utc>,
    /// When a builder started on it.
    pub date_started: Option<DateTime<Utc>>,
    /// When it finished building.
    pub datebuilt: Option<DateTime<Utc>>,
    build_failures: Failures,
    upload_failures: Failures,
    due: Option<DateTime<Utc>>,
}

impl SimBuild {
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

/// A webhook on a recipe.
#[derive(Debug, Clone)]
pub struct SimWebhook {
    /// Its number.
    pub id: u64,
    /// The recipe's path.
    pub recipe: String,
    /// Where deliveries go.
    pub delivery_url: String,
    /// The event types.
    pub event_types: Vec<String>,
    /// Whether it delivers.
    pub active: bool,
    /// The signing secret (write-only on Launchpad).
    pub secret: Option<crate::secret::Secret>,
    /// When it was made.
    pub date_created: DateTime<Utc>,
}

/// A change Launchpad announces to a recipe's webhooks (`oci-recipe:build:0.1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildEvent {
    /// The build.
    pub build: u64,
    /// `created` or `status-changed`.
    pub action: &'static str,
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
    /// How long things take.
    pub timing: Timing,
    daily: Vec<(DateTime<Utc>, super::scenario::DailyBuild)>,
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
                let can_upload = !scenario.without_push_rules.contains(&image.name);
                recipes.insert(
                    path.clone(),
                    SimRecipe {
                        path,
                        name: track.recipe.name.clone(),
                        image: image.name.clone(),
                        series: track.series,
                        codename,
                        track: track.track.clone(),
                        processors: image.arches.clone(),
                        can_upload,
                        date_created: now - chrono::Duration::days(400),
                    },
                );
            }
        }
        World {
            events: Vec::new(),
            now,
            recipes,
            requests: BTreeMap::new(),
            builds: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            timing: Timing::default(),
            daily: scenario
                .daily_builds
                .iter()
                .map(|daily| {
                    (
                        now + chrono::Duration::minutes(daily.after_minutes as i64),
                        daily.clone(),
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

    fn take_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Sets the outcomes for builds made from now on.
    pub fn set_outcomes(&mut self, outcomes: Vec<Outcome>) {
        self.scenario.outcomes = outcomes;
    }

    /// Runs every change due up to `until`, in time order, then sets the clock to `until`.
    /// Returns the builds that changed, in the order they changed.
    pub fn advance_to(&mut self, until: DateTime<Utc>) -> Vec<u64> {
        let mut changed = Vec::new();
        while let Some(index) = self.daily.iter().position(|(due, _)| *due <= until) {
            let (due, daily) = self.daily.remove(index);
            self.now = self.now.max(due);
            if let Some(id) = self.daily_build(
                daily.image.as_str(),
                &daily.series.to_string(),
                daily.arch.as_str(),
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
                        self.events.push(BuildEvent {
                            build: id,
                            action: "status-changed",
                        });
                    }
                    changed.push(id);
                }
                _ => break,
            }
        }
        self.now = self.now.max(until);
        changed
    }

    /// `requestBuilds`: a pending request, completed after [`Timing::request`].
    pub fn request_builds(&mut self, recipe: &str) -> u64 {
        let id = self.take_id();
        self.requests.insert(
            id,
            SimRequest {
                id,
                recipe: recipe.to_string(),
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
        let mut processors = self
            .recipes
            .get(&recipe_path)
            .map(|recipe| recipe.processors.clone())
            .unwrap_or_default();
        processors.sort();
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

    /// A new queued build of `recipe` for `arch`; `request` is `None` for a build nobody asked
    /// the bot for (a daily build, or one from the web UI).
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
                upload_errors: Vec::new(),
                datecreated: self.now,
                date_started: None,
                datebuilt: None,
                build_failures: outcome.build_failures,
                upload_failures: outcome.upload_failures,
                due: Some(due),
            },
        );
        self.events.push(BuildEvent {
            build: id,
            action: "created",
        });
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
        let can_upload = self
            .builds
            .get(&id)
            .and_then(|build| self.recipes.get(&build.recipe))
            .is_some_and(|recipe| recipe.can_upload);
        let build_time = self.rng.between(timing.build);
        let upload_time = self.rng.between(timing.registry_upload);
        let Some(build) = self.builds.get_mut(&id) else {
            return;
        };
        build.due = None;
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
            BuildState::UploadingBuild => {
                build.state = BuildState::SuccessfullyBuilt;
                build.datebuilt = Some(now);
                if can_upload {
                    build.upload = UploadStatus::Pending;
                    build.due = Some(now + upload_time);
                }
            }
            BuildState::SuccessfullyBuilt if build.upload == UploadStatus::Pending => {
                if build.upload_failures.take() {
                    build.upload = UploadStatus::FailedToUpload;
                    build.upload_error_summary = Some(format!(
                        "Upload of {} for {} failed: requested access to the resource is denied",
                        build.arch, build.recipe
                    ));
                    build.upload_errors = vec![RegistryError {
                        code: Some("DENIED".into()),
                        message: Some("requested access to the resource is denied".into()),
                        detail: None,
                    }];
                } else {
                    build.upload = UploadStatus::Uploaded;
                    build.upload_error_summary = None;
                    build.upload_errors.clear();
                }
            }
            BuildState::CancellingBuild => build.state = BuildState::CancelledBuild,
            _ => {}
        }
    }

    /// `cancel`: a queued build is cancelled at once, a running one goes through
    /// `Cancelling build`; anything else is left alone (Launchpad answers 200 all the same).
    pub fn cancel(&mut self, id: u64) {
        self.cancel_quietly(id);
        self.events.push(BuildEvent {
            build: id,
            action: "status-changed",
        });
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
        build.state = BuildState::NeedsBuilding;
        build.upload = UploadStatus::Unscheduled;
        build.upload_error_summary = None;
        build.upload_errors.clear();
        build.date_started = None;
        build.datebuilt = None;
        build.due = Some(now + queue);
        self.events.push(BuildEvent {
            build: id,
            action: "status-changed",
        });
        Ok(())
    }

    /// `scheduleRegistryUpload`: a new upload, or one of Launchpad's four 400 messages, checked
    /// in Launchpad's order.
    pub fn schedule_upload(&mut self, id: u64) -> Result<(), &'static str> {
        let upload_time = self.rng.between(self.timing.registry_upload);
        let now = self.now;
        let Some(build) = self.builds.get_mut(&id) else {
            return Err(upload_refusal::NO_FILES);
        };
        let can_upload = self
            .recipes
            .get(&build.recipe)
            .is_some_and(|recipe| recipe.can_upload);
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
        build.upload = UploadStatus::Pending;
        build.due = Some(now + upload_time);
        self.events.push(BuildEvent {
            build: id,
            action: "status-changed",
        });
        Ok(())
    }

    /// `newWebhook`.
    pub fn new_webhook(
        &mut self,
        recipe: &str,
        delivery_url: String,
        event_types: Vec<String>,
        active: bool,
        secret: Option<crate::secret::Secret>,
    ) -> u64 {
        let id = self.take_id();
        self.webhooks.insert(
            id,
            SimWebhook {
                id,
                recipe: recipe.to_string(),
                delivery_url,
                event_types,
                active,
                secret,
                date_created: self.now,
            },
        );
        id
    }

    /// A build of `image` for `series` on `arch` that nobody asked the bot for (a daily build,
    /// or one from the web UI); `None` if the catalogue has no such recipe.
    pub fn daily_build(&mut self, image: &str, series: &str, arch: &str) -> Option<u64> {
        let recipe = self
            .recipes
            .values()
            .find(|r| r.image.as_str() == image && r.series.to_string() == series)?
            .path
            .clone();
        Some(self.create_build(&recipe, arch.parse().ok()?, None))
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
