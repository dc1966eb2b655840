//! From a `rebuild` to what Launchpad will be asked: one target per image × series (one recipe
//! each) with the architectures wanted from it. Pure. A named image that lacks a series or an
//! architecture asked for is an error that says what exists; under `all` such combinations are
//! skipped and counted, since "everything for 24.04" plainly means "everything that has 24.04".

use crate::catalogue::{Catalogue, Image, RecipePath, Track};
use crate::command::{Images, Rebuild};
use crate::target::{Arch, ImageName, Series};
use serde::Deserialize;

/// What a rebuild will build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// One per recipe, by image then series.
    pub targets: Vec<RecipePlan>,
    /// Image × series combinations that `all` passed over because the catalogue lacks them (or
    /// they have none of the architectures asked for).
    pub skipped: usize,
}

/// One recipe and the architectures to build of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipePlan {
    /// The image.
    pub image: ImageName,
    /// The series.
    pub series: Series,
    /// The app version built for that series.
    pub track: String,
    /// The recipe on Launchpad.
    pub recipe: RecipePath,
    /// The architectures to keep; builds of the recipe's other architectures are cancelled.
    pub arches: Vec<Arch>,
}

/// Why a rebuild cannot be planned. Worded in `messages.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    /// A named image is not built for a series asked for.
    SeriesNotBuilt {
        /// The image.
        image: ImageName,
        /// The series asked for that it lacks.
        missing: Vec<Series>,
        /// The series it has.
        available: Vec<Series>,
    },
    /// A named image is not built for an architecture asked for.
    ArchNotBuilt {
        /// The image.
        image: ImageName,
        /// The architectures asked for that it lacks.
        missing: Vec<Arch>,
        /// The architectures it has.
        available: Vec<Arch>,
    },
    /// `all` matched nothing for the series and architectures asked for.
    NothingMatches {
        /// The series asked for.
        series: Vec<Series>,
        /// The architectures asked for.
        arches: Vec<Arch>,
    },
}

/// Whether a plan may go ahead, or must be confirmed first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// Small enough to start at once.
    Proceed,
    /// Needs `confirm CODE` from the same user.
    Confirm,
    /// Needs `confirm CODE`, and the `mass-rebuild` permission.
    ConfirmMassRebuild,
}

impl Plan {
    /// How many builds the plan will keep (after cancelling unwanted architectures).
    pub fn builds(&self) -> usize {
        self.targets.iter().map(|target| target.arches.len()).sum()
    }

    /// What it takes to start the plan. A dry run needs nothing: it builds nothing.
    pub fn approval(&self, limits: &Confirmation, dry_run: bool) -> Approval {
        if dry_run {
            Approval::Proceed
        } else {
            self.approval_with(limits, 0)
        }
    }

    /// What it takes to start the plan for someone who has `running` builds going already:
    /// the thresholds count those too, so a large rebuild split into small commands asks as
    /// the whole would.
    pub fn approval_with(&self, limits: &Confirmation, running: usize) -> Approval {
        let builds = self.builds().saturating_add(running);
        if builds <= limits.above_builds {
            Approval::Proceed
        } else if builds <= limits.mass_rebuild_above_builds {
            Approval::Confirm
        } else {
            Approval::ConfirmMassRebuild
        }
    }
}

/// Expands a rebuild over the catalogue.
pub fn plan(rebuild: &Rebuild, catalogue: &Catalogue) -> Result<Plan, PlanError> {
    let mut plan = Plan {
        targets: Vec::new(),
        skipped: 0,
    };
    match &rebuild.images {
        Images::Named(names) => {
            for name in names {
                // The parser only lets catalogue images through; a stale vocabulary is the one
                // way here, and then the image simply has nothing to build.
                let Some(image) = catalogue.image(name) else {
                    continue;
                };
                plan.targets.extend(named_image_targets(rebuild, image)?);
            }
        }
        Images::All => {
            let series = wanted_series(rebuild, catalogue);
            for image in &catalogue.images {
                let arches = wanted_arches(rebuild, image);
                for &series in &series {
                    match image.track(series) {
                        Some(track) if !arches.is_empty() => {
                            plan.targets.push(target(image, track, arches.clone()))
                        }
                        _ => plan.skipped += 1,
                    }
                }
            }
            if plan.targets.is_empty() {
                return Err(PlanError::NothingMatches {
                    series: rebuild.series.clone(),
                    arches: rebuild.arches.clone(),
                });
            }
        }
    }
    Ok(plan)
}

fn named_image_targets(rebuild: &Rebuild, image: &Image) -> Result<Vec<RecipePlan>, PlanError> {
    let missing: Vec<Series> = rebuild
        .series
        .iter()
        .copied()
        .filter(|&series| image.track(series).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(PlanError::SeriesNotBuilt {
            image: image.name.clone(),
            missing,
            available: image.series(),
        });
    }
    let missing: Vec<Arch> = rebuild
        .arches
        .iter()
        .filter(|arch| !image.arches.contains(arch))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(PlanError::ArchNotBuilt {
            image: image.name.clone(),
            missing,
            available: image.arches.clone(),
        });
    }
    let arches = wanted_arches(rebuild, image);
    Ok(image
        .tracks
        .iter()
        .filter(|track| rebuild.series.is_empty() || rebuild.series.contains(&track.series))
        .map(|track| target(image, track, arches.clone()))
        .collect())
}

fn wanted_series(rebuild: &Rebuild, catalogue: &Catalogue) -> Vec<Series> {
    if rebuild.series.is_empty() {
        catalogue.all_series()
    } else {
        rebuild.series.clone()
    }
}

/// The image's architectures that were asked for, in the image's order.
fn wanted_arches(rebuild: &Rebuild, image: &Image) -> Vec<Arch> {
    image
        .arches
        .iter()
        .filter(|arch| rebuild.arches.is_empty() || rebuild.arches.contains(arch))
        .cloned()
        .collect()
}

fn target(image: &Image, track: &Track, arches: Vec<Arch>) -> RecipePlan {
    RecipePlan {
        image: image.name.clone(),
        series: track.series,
        track: track.track.clone(),
        recipe: track.recipe.clone(),
        arches,
    }
}

/// When a plan is big enough to ask before building.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    /// A plan of more builds than this waits for `confirm CODE` from the same user. A typo in a
    /// `rebuild` should not queue a day of builder time unasked.
    #[serde(default = "default_confirm_above")]
    pub above_builds: usize,
    /// A plan of more builds than this also needs the `mass-rebuild` permission.
    #[serde(default = "default_mass_rebuild_above")]
    pub mass_rebuild_above_builds: usize,
    /// How long a confirmation code stays valid, in minutes.
    #[serde(default = "default_code_valid_minutes")]
    pub code_valid_minutes: u64,
    /// The most builds one user may start in any hour, from chat. Generous: a runaway script
    /// or a careless loop stops here, the team's real work does not.
    #[serde(default = "default_builds_per_user_per_hour")]
    pub builds_per_user_per_hour: usize,
}

fn default_builds_per_user_per_hour() -> usize {
    500
}

fn default_confirm_above() -> usize {
    12
}
fn default_mass_rebuild_above() -> usize {
    100
}
fn default_code_valid_minutes() -> u64 {
    10
}

impl Default for Confirmation {
    fn default() -> Confirmation {
        Confirmation {
            above_builds: default_confirm_above(),
            mass_rebuild_above_builds: default_mass_rebuild_above(),
            code_valid_minutes: default_code_valid_minutes(),
            builds_per_user_per_hour: default_builds_per_user_per_hour(),
        }
    }
}
