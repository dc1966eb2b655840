//! What was built when: a compact record per build, kept much longer than whole jobs
//! (`engine.history_keep_days`, a year by default), written when a job ends (who asked, when,
//! why, each build's outcome and upload) and when the bot hears of a build it did not start
//! (a webhook delivery of a build no job follows: someone's rebuild on Launchpad's web UI or a
//! script). `history [IMAGE] [SERIES] [ARCH] [--by USER] [--last N]` reads them, newest first,
//! grouped by rebuild, in chat and on the command line.
//!
//! The records are plain data; this module makes them from jobs and builds and answers
//! queries. The store keeps them ([`crate::store::Store::put_history`]); messages say them
//! ([`crate::messages::history`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::command::HistoryQuery as Query;
use crate::jobs::model::{BuildDates, Job, Progress};
use crate::launchpad::models::{BuildState, UploadStatus};
use crate::target::{Arch, ImageName, JobId, Series};

/// One build, as history remembers it. Keyed by the build's API URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRecord {
    /// The build's API URL.
    pub build: String,
    /// Its web page.
    pub web_link: String,
    /// The image.
    pub image: ImageName,
    /// The series.
    pub series: Series,
    /// The image's track (`6.2`).
    pub track: String,
    /// The architecture.
    pub arch: Arch,
    /// The bot's job that made it; `None` for a build the bot only heard of.
    pub job: Option<JobId>,
    /// Who asked: a chat user, the terminal's user, or a Launchpad person (`~name`).
    pub requester: Option<String>,
    /// Why (`reason=`).
    pub reason: Option<String>,
    /// When it was asked for.
    pub requested_at: DateTime<Utc>,
    /// Launchpad's `buildstate`.
    pub state: BuildState,
    /// Launchpad's `registry_upload_status`.
    pub upload: UploadStatus,
    /// Launchpad's `registry_upload_error_summary`.
    pub upload_error: Option<String>,
    /// When this record last changed.
    pub updated_at: DateTime<Utc>,
    /// Launchpad's `build_log_url`, once the build started.
    #[serde(default)]
    pub log_url: Option<String>,
    /// When a builder started it and when it finished (records written before these were
    /// kept have neither).
    #[serde(default)]
    pub dates: BuildDates,
}

impl HistoryRecord {
    /// How it ended, or where it is.
    pub fn progress(&self) -> Progress {
        Progress::of(&self.state, &self.upload)
    }

    /// Whether its image reached the registries: built and uploaded (or nothing to upload).
    pub fn published(&self) -> bool {
        self.progress() == Progress::Done
    }

    /// The same build, as `newer` says it is now, keeping who asked and why when `newer` does
    /// not know (a delivery about a build a job made).
    pub fn merged(self, newer: HistoryRecord) -> HistoryRecord {
        HistoryRecord {
            job: newer.job.or(self.job),
            requester: if newer.job.is_some() || self.job.is_none() {
                newer.requester.or(self.requester)
            } else {
                self.requester
            },
            reason: newer.reason.or(self.reason),
            log_url: newer.log_url.or(self.log_url),
            dates: BuildDates {
                started: newer.dates.started.or(self.dates.started),
                finished: newer.dates.finished.or(self.dates.finished),
            },
            requested_at: if self.job.is_some() && newer.job.is_none() {
                self.requested_at
            } else {
                newer.requested_at
            },
            ..newer
        }
    }
}

/// The records of a job's builds (those asked for), as it is now.
pub fn records_of(job: &Job, now: DateTime<Utc>) -> Vec<HistoryRecord> {
    job.targets
        .iter()
        .flat_map(|target| {
            target.wanted().map(move |build| HistoryRecord {
                build: build.url.to_string(),
                web_link: build.web_link.clone(),
                image: target.image.clone(),
                series: target.series,
                track: target.track.clone(),
                arch: build.arch.clone(),
                job: Some(job.id),
                requester: Some(job.requester.clone()),
                reason: job.reason.clone(),
                requested_at: job.created_at,
                state: build.state.clone(),
                upload: build.upload.clone(),
                upload_error: build.upload_error.clone(),
                updated_at: now,
                log_url: build.log_url.clone(),
                dates: build.dates,
            })
        })
        .collect()
}

impl HistoryRecord {
    /// Whether it is a build `query` asks about.
    pub fn answers(&self, query: &Query) -> bool {
        (query.images.is_empty() || query.images.contains(&self.image))
            && (query.series.is_empty() || query.series.contains(&self.series))
            && (query.arches.is_empty() || query.arches.contains(&self.arch))
            && query.by.as_ref().is_none_or(|by| {
                self.requester
                    .as_ref()
                    .is_some_and(|who| who.eq_ignore_ascii_case(by))
            })
    }
}

#[cfg(test)]
impl HistoryRecord {
    /// For tests: the build at `build` (its page the same URL) of `image` on `series` and
    /// `arch`, track `1`, asked for at `at` by nobody known, built and uploaded; a test
    /// changes what it needs.
    pub(crate) fn sample(
        build: &str,
        image: &str,
        series: &str,
        arch: &str,
        at: DateTime<Utc>,
    ) -> HistoryRecord {
        HistoryRecord {
            build: build.to_string(),
            web_link: build.to_string(),
            image: image.parse().expect("an image name"),
            series: series.parse().expect("a series"),
            track: "1".into(),
            arch: arch.parse().expect("an architecture"),
            job: None,
            requester: None,
            reason: None,
            requested_at: at,
            state: BuildState::SuccessfullyBuilt,
            upload: UploadStatus::Uploaded,
            upload_error: None,
            updated_at: at,
            log_url: None,
            dates: BuildDates::default(),
        }
    }
}

/// One rebuild: a job's builds, or a build the bot only heard of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastRebuild {
    /// The job, if the bot made it.
    pub job: Option<JobId>,
    /// Who asked.
    pub requester: Option<String>,
    /// Why.
    pub reason: Option<String>,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// Its builds the query asks about, by image, series and architecture.
    pub builds: Vec<HistoryRecord>,
}

impl PastRebuild {
    /// Whether every build of it reached the registries.
    pub fn published(&self) -> bool {
        self.builds.iter().all(HistoryRecord::published)
    }

    /// Whether some build of it has not ended yet.
    pub fn running(&self) -> bool {
        self.builds.iter().any(|b| !b.progress().is_final())
    }
}

/// The records matching `query`, grouped by rebuild, newest first, at most `query.last`.
pub fn rebuilds(mut records: Vec<HistoryRecord>, query: &Query) -> Vec<PastRebuild> {
    records.sort_by(newest_first);
    let mut rebuilds = Rebuilds::new(query);
    for record in records {
        if !rebuilds.offer(record) {
            break;
        }
    }
    rebuilds.finish()
}

/// The order of a query's answer: newest first, then the later job, then by image, series and
/// architecture.
fn newest_first(a: &HistoryRecord, b: &HistoryRecord) -> std::cmp::Ordering {
    b.requested_at
        .cmp(&a.requested_at)
        .then_with(|| b.job.cmp(&a.job))
        .then_with(|| (&a.image, a.series, &a.arch).cmp(&(&b.image, b.series, &b.arch)))
}

/// The rebuilds of a query, gathered from records offered newest first (by when they were asked
/// for; in any order among those of one moment), so that a reader of an index stops as soon as
/// it has [`Query::last`] of them ([`crate::store::Store::rebuilds`]). A rebuild's builds were
/// all asked for at one moment, so the rebuilds are complete once an older record comes.
pub struct Rebuilds<'q> {
    query: &'q Query,
    groups: Vec<PastRebuild>,
    /// The matching records of the moment being read.
    moment: Vec<HistoryRecord>,
    at: Option<DateTime<Utc>>,
    full: bool,
}

impl<'q> Rebuilds<'q> {
    /// None yet.
    pub fn new(query: &'q Query) -> Rebuilds<'q> {
        Rebuilds {
            query,
            groups: Vec::new(),
            moment: Vec::new(),
            at: None,
            full: query.last == 0,
        }
    }

    /// Offers a record asked for no later than any offered before; whether more are wanted.
    pub fn offer(&mut self, record: HistoryRecord) -> bool {
        if self.at != Some(record.requested_at) {
            self.close_moment();
            self.at = Some(record.requested_at);
        }
        if self.full {
            return false;
        }
        if record.answers(self.query) {
            self.moment.push(record);
        }
        true
    }

    /// The rebuilds, newest first.
    pub fn finish(mut self) -> Vec<PastRebuild> {
        self.close_moment();
        self.groups
    }

    /// Groups the records of the moment read, in the answer's order.
    fn close_moment(&mut self) {
        let mut moment = std::mem::take(&mut self.moment);
        moment.sort_by(newest_first);
        for record in moment {
            let same = self
                .groups
                .last()
                .is_some_and(|group| match (group.job, record.job) {
                    (Some(a), Some(b)) => a == b,
                    // A build the bot only heard of joins the one before if one person asked
                    // for both at the same moment (one request of several architectures).
                    (None, None) => {
                        group.requester == record.requester
                            && group.requested_at == record.requested_at
                    }
                    _ => false,
                });
            if same {
                self.groups.last_mut().expect("checked").builds.push(record);
                continue;
            }
            if self.groups.len() == self.query.last {
                self.full = true;
                break;
            }
            self.groups.push(PastRebuild {
                job: record.job,
                requester: record.requester.clone(),
                reason: record.reason.clone(),
                requested_at: record.requested_at,
                builds: vec![record],
            });
        }
        // A later moment's records join none of these: with as many as asked, the answer is
        // complete.
        self.full |= self.groups.len() == self.query.last;
    }
}

/// What a recipe builds: the catalogue's image, series and track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipeBuilds {
    pub image: ImageName,
    pub series: Series,
    pub track: String,
}

/// Which image, series and track each recipe builds, by its path
/// (`~owner/pillar/+oci/IMAGE/+recipe/NAME`): how a build the bot only heard of is named.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipes(std::collections::BTreeMap<String, RecipeBuilds>);

impl Recipes {
    /// No recipes: every build heard of is one the catalogue does not have.
    pub fn new() -> Recipes {
        Recipes::default()
    }

    /// What the recipe at `url` builds (whatever the host and API version), if the catalogue
    /// has it.
    pub fn of_url(&self, url: &str) -> Option<&RecipeBuilds> {
        self.0.get(recipe_path(url))
    }

    /// What the recipe of the build at `url` (`RECIPE/+build/N`) builds, if the catalogue has
    /// it.
    pub fn of_build(&self, url: &str) -> Option<&RecipeBuilds> {
        self.of_url(url.split_once("/+build/").map_or(url, |(recipe, _)| recipe))
    }
}

/// The recipes of a catalogue.
pub fn recipes(catalogue: &crate::catalogue::Catalogue) -> Recipes {
    Recipes(
        catalogue
            .images
            .iter()
            .flat_map(|image| {
                image.tracks.iter().map(|track| {
                    let builds = RecipeBuilds {
                        image: image.name.clone(),
                        series: track.series,
                        track: track.track.clone(),
                    };
                    (track.recipe.to_string(), builds)
                })
            })
            .collect(),
    )
}

/// A recipe's path in its URL (whatever the host and API version).
fn recipe_path(url: &str) -> &str {
    url.find("/~").map_or(url, |at| &url[at + 1..])
}

/// The record of a build the bot heard of through a delivery: `None` for a recipe the
/// catalogue does not have. Its requester is the Launchpad person who asked (`~name`).
pub fn heard_of(
    build: &crate::launchpad::models::Build,
    recipes: &Recipes,
    now: DateTime<Utc>,
) -> Option<HistoryRecord> {
    let RecipeBuilds {
        image,
        series,
        track,
    } = recipes.of_url(&build.recipe_link)?;
    let requester = build.requester_link.as_deref().and_then(|link| {
        link.rsplit('/')
            .next()
            .filter(|name| name.starts_with('~'))
            .map(str::to_string)
    });
    Some(HistoryRecord {
        build: build.self_link.clone(),
        web_link: build.web_link.clone(),
        image: image.clone(),
        series: *series,
        track: track.clone(),
        arch: build.arch_tag.parse().ok()?,
        job: None,
        requester,
        reason: None,
        requested_at: build.datecreated.unwrap_or(now),
        state: build.buildstate.clone(),
        upload: build.registry_upload_status.clone(),
        upload_error: build.registry_upload_error_summary.clone(),
        updated_at: now,
        log_url: build.build_log_url.clone(),
        dates: BuildDates {
            started: build.date_started,
            finished: build.datebuilt,
        },
    })
}
