//! Build requests: who may make them, and what completing one makes (one build per processor,
//! skipping those already queued).

use super::entities::{SimBuild, SimRecipe, SimRequest};
use super::World;
use crate::launchpad::models::{BuildState, RequestStatus, UploadStatus, ALREADY_PENDING};
use crate::launchpad::sim::scenario::Outcome;
use crate::launchpad::sim::upload::{self, FailureMode};
use crate::target::Arch;

impl World {
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

    pub(super) fn add_request(
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

    pub(super) fn complete_request(&mut self, id: u64) -> Vec<u64> {
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

    pub(super) fn outcome_for(&self, recipe: &str, arch: &Arch) -> Outcome {
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
}
