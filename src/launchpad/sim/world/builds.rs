//! A build's life: its states on the clock, its upload under the recipe's lock, and what
//! `cancel`, `retry` and `scheduleRegistryUpload` may do to it.

use super::entities::{SimRecipe, UPLOAD_LOCK_RETRIES};
use super::{World, SOMEONE_ELSE};
use crate::launchpad::models::{cannot_be_retried, upload_refusal, BuildState, UploadStatus};
use crate::launchpad::sim::upload;
use crate::target::Arch;

impl World {
    pub(super) fn step_build(&mut self, id: u64) {
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
                build.upload_log = Some(crate::launchpad::sim::buildlog::upload_log(
                    id,
                    &recipe_name,
                ));
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

    pub(super) fn cancel_quietly(&mut self, id: u64) {
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
}
