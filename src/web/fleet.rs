//! The fleet page: one row per image and series (with its track), one column per architecture,
//! each cell the newest build known for it: from a running job (the store's open jobs) or from
//! the history, whichever was asked for last. Read from the history's index by image, newest
//! first, only as far as every cell of the image is found, so a year of history costs what its
//! newest builds cost.

use std::collections::HashMap;

use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::catalogue::{Catalogue, Image, Track};
use crate::history::HistoryRecord;
use crate::jobs::model::Progress;
use crate::messages::dashboard as say;
use crate::store::{Store, StoreError};
use crate::target::{Arch, ImageName, Series};

/// What the fleet page shows: `?series=20.04&arch=arm64&state=needs-a-hand`, each optional
/// (empty is any).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetFilters {
    #[serde(default)]
    pub series: Option<String>,
    #[serde(default)]
    pub arch: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
}

/// A state the fleet can be filtered by.
struct StateFilter {
    /// In the address: `state=needs-a-hand`.
    value: &'static str,
    /// In the menu.
    label: &'static str,
    /// Which progress it keeps.
    keeps: fn(Progress) -> bool,
}

const STATES: [StateFilter; 4] = [
    StateFilter {
        value: "needs-a-hand",
        label: "needs a hand",
        keeps: Progress::needs_a_hand,
    },
    StateFilter {
        value: "running",
        label: "running",
        keeps: |p| !p.is_final(),
    },
    StateFilter {
        value: "published",
        label: "published",
        keeps: |p| p == Progress::Done,
    },
    StateFilter {
        value: "ended-otherwise",
        label: "cancelled or superseded",
        keeps: |p| matches!(p, Progress::Cancelled | Progress::Superseded),
    },
];

impl FleetFilters {
    /// What is wrong with these filters for `catalogue`, if anything: a series, architecture
    /// or state it does not have.
    pub fn problem(&self, catalogue: &Catalogue) -> Option<String> {
        let series = catalogue.all_series();
        let bad_series = FleetFilters::value(&self.series)
            .filter(|v| !series.iter().any(|s| s.to_string() == *v));
        let bad_arch = FleetFilters::value(&self.arch)
            .filter(|v| !catalogue.arches.iter().any(|a| a.as_str() == *v));
        let bad_state = FleetFilters::value(&self.state)
            .filter(|v| !STATES.iter().any(|rule| rule.value == *v));
        let states: Vec<&str> = STATES.iter().map(|rule| rule.value).collect();
        say::bad_filter(bad_series, bad_arch, bad_state, &states)
    }

    fn value(value: &Option<String>) -> Option<&str> {
        value.as_deref().map(str::trim).filter(|v| !v.is_empty())
    }

    fn keeps_series(&self, series: Series) -> bool {
        FleetFilters::value(&self.series).is_none_or(|v| v == series.to_string())
    }

    fn keeps_arch(&self, arch: &Arch) -> bool {
        FleetFilters::value(&self.arch).is_none_or(|v| v == arch.as_str())
    }

    /// Whether a cell showing `progress` (`None`: no build) is kept.
    fn keeps(&self, progress: Option<Progress>) -> bool {
        let Some(state) = FleetFilters::value(&self.state) else {
            return true;
        };
        let rule = STATES.iter().find(|rule| rule.value == state);
        match (rule, progress) {
            (Some(rule), Some(progress)) => (rule.keeps)(progress),
            _ => false,
        }
    }
}

/// One cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// `redis/20.04/arm64`: what the tests and a reader's search find it by.
    pub key: String,
    /// The newest build, if any.
    pub build: Option<CellBuild>,
    /// Why there is none to have: the image is not built for the architecture.
    pub absent: Option<String>,
    /// Left out by the state filter (drawn blank).
    pub hidden: bool,
}

/// A cell's build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellBuild {
    pub progress: Progress,
    /// Its name for the markup (`upload_failed`), which the style colours.
    pub name: &'static str,
    pub symbol: char,
    pub word: &'static str,
    pub age: String,
    /// Launchpad's page of the build.
    pub link: String,
    pub log: Option<String>,
    pub job: Option<u64>,
    /// Launchpad's words, shown on hover and to screen readers: state, upload, its error.
    pub detail: String,
}

/// One row: an image on one series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub image: ImageName,
    pub track: String,
    pub series: Series,
    pub cells: Vec<Cell>,
}

/// The fleet page's main part.
#[derive(Debug, Template)]
#[template(path = "fleet.html")]
pub struct Fleet {
    pub headline: String,
    pub hand: usize,
    pub arches: Vec<Arch>,
    pub rows: Vec<Row>,
    pub filters: FleetFilters,
    pub all_series: Vec<Series>,
    pub all_arches: Vec<Arch>,
    pub states: Vec<(&'static str, &'static str)>,
}

impl Fleet {
    /// The fleet as the store has it now.
    pub fn read(
        store: &Store,
        catalogue: &Catalogue,
        filters: &FleetFilters,
        now: DateTime<Utc>,
    ) -> Result<Fleet, StoreError> {
        let live = running_builds(store, now)?;
        let mut rows = Vec::new();
        let (mut build_failed, mut upload_failed, mut running) = (0, 0, 0);
        for image in &catalogue.images {
            let cells = image.tracks.len() * image.arches.len();
            let has = |series: Series, arch: &Arch| {
                image.arches.contains(arch) && image.tracks.iter().any(|t| t.series == series)
            };
            let latest = store.latest_of_image(&image.name, cells, has)?;
            for track in &image.tracks {
                // The newest build of each of the image's architectures on this series.
                let builds: Vec<(&Arch, Option<&HistoryRecord>)> = image
                    .arches
                    .iter()
                    .map(|arch| {
                        let key = (image.name.clone(), track.series, arch.clone());
                        let past = latest.get(&(track.series, arch.clone()));
                        (arch, newest(live.get(&key), past))
                    })
                    .collect();
                for (_, record) in &builds {
                    match record.map(HistoryRecord::progress) {
                        Some(Progress::BuildFailed) => build_failed += 1,
                        Some(Progress::UploadFailed) => upload_failed += 1,
                        Some(progress) if !progress.is_final() => running += 1,
                        _ => {}
                    }
                }
                if !filters.keeps_series(track.series) {
                    continue;
                }
                let row = row(image, track, catalogue, filters, now, &builds);
                if row.cells.iter().any(|cell| !cell.hidden) {
                    rows.push(row);
                }
            }
        }
        let arches = catalogue.arches.iter().filter(|a| filters.keeps_arch(a));
        Ok(Fleet {
            headline: say::fleet_counts(build_failed, upload_failed, running),
            hand: build_failed + upload_failed,
            arches: arches.cloned().collect(),
            rows,
            filters: filters.clone(),
            all_series: catalogue.all_series(),
            all_arches: catalogue.arches.clone(),
            states: STATES.iter().map(|rule| (rule.value, rule.label)).collect(),
        })
    }

    fn selected(&self, which: &str, value: &str) -> bool {
        let chosen = match which {
            "series" => &self.filters.series,
            "arch" => &self.filters.arch,
            _ => &self.filters.state,
        };
        FleetFilters::value(chosen) == Some(value)
    }
}

/// The row of `image` on `track`'s series.
fn row(
    image: &Image,
    track: &Track,
    catalogue: &Catalogue,
    filters: &FleetFilters,
    now: DateTime<Utc>,
    builds: &[(&Arch, Option<&HistoryRecord>)],
) -> Row {
    let cells = catalogue
        .arches
        .iter()
        .filter(|arch| filters.keeps_arch(arch))
        .map(|arch| {
            let key = format!("{}/{}/{}", image.name, track.series, arch);
            let Some((_, newest)) = builds.iter().find(|(built, _)| *built == arch) else {
                return Cell {
                    key,
                    build: None,
                    absent: Some(say::not_built_for(arch)),
                    hidden: !filters.keeps(None),
                };
            };
            let build = newest.map(|record| cell_build(record, now));
            Cell {
                key,
                hidden: !filters.keeps(build.as_ref().map(|b| b.progress)),
                build,
                absent: None,
            }
        })
        .collect();
    Row {
        image: image.name.clone(),
        track: track.track.clone(),
        series: track.series,
        cells,
    }
}

fn cell_build(record: &HistoryRecord, now: DateTime<Utc>) -> CellBuild {
    let progress = record.progress();
    let mut detail = format!("{} · upload {}", record.state, record.upload);
    if let Some(error) = &record.upload_error {
        detail.push_str(" · ");
        detail.push_str(error);
    }
    CellBuild {
        progress,
        name: progress.name(),
        symbol: crate::messages::jobs::symbol(progress),
        word: crate::messages::jobs::progress_word(progress),
        age: say::age(record.requested_at, now),
        link: super::web_link(&record.web_link),
        log: record.log_url.as_deref().map(super::web_link),
        job: record.job.map(|job| job.0),
        detail,
    }
}

/// Of a running job's build and the history's, the one asked for last (the job's, if both
/// are the same build).
fn newest<'a>(
    live: Option<&'a HistoryRecord>,
    past: Option<&'a HistoryRecord>,
) -> Option<&'a HistoryRecord> {
    match (live, past) {
        (Some(live), Some(past)) if past.requested_at > live.requested_at => Some(past),
        (Some(live), _) => Some(live),
        (None, past) => past,
    }
}

/// The builds of the store's open jobs, as history would record them now, the newest of each
/// image, series and architecture.
fn running_builds(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<HashMap<(ImageName, Series, Arch), HistoryRecord>, StoreError> {
    let mut builds: HashMap<(ImageName, Series, Arch), HistoryRecord> = HashMap::new();
    for job in store.open_jobs()? {
        for record in crate::history::records_of(&job, now) {
            let key = (record.image.clone(), record.series, record.arch.clone());
            match builds.get(&key) {
                Some(known) if known.requested_at > record.requested_at => {}
                _ => {
                    builds.insert(key, record);
                }
            }
        }
    }
    Ok(builds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launchpad::models::{BuildState, UploadStatus};

    /// The built-in catalogue, bind9 built for amd64 and arm64 only.
    fn catalogue() -> Catalogue {
        let text = crate::config::BUILT_IN.replace(
            "[images.bind9]\n",
            "[images.bind9]\narchitectures = [\"amd64\", \"arm64\"]\n",
        );
        crate::config::Config::parse(&text, "test")
            .unwrap()
            .catalogue
    }

    fn record(
        cell: &str,
        hours_ago: i64,
        state: BuildState,
        upload: UploadStatus,
    ) -> HistoryRecord {
        let now = Utc::now();
        let mut parts = cell.split('/');
        let (image, series, arch) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let at = now - chrono::TimeDelta::hours(hours_ago);
        let build = format!("https://lp/{cell}/+build/{hours_ago}");
        HistoryRecord {
            state,
            upload,
            upload_error: Some("denied <by> the registry".into()),
            ..HistoryRecord::sample(&build, image, series, arch, at)
        }
    }

    fn cell<'a>(fleet: &'a Fleet, key: &str) -> &'a Cell {
        fleet
            .rows
            .iter()
            .flat_map(|row| &row.cells)
            .find(|cell| cell.key == key)
            .unwrap_or_else(|| panic!("no cell {key}"))
    }

    #[test]
    fn each_cell_is_the_newest_build_and_the_filters_keep_what_they_say() {
        let store = Store::temporary().unwrap();
        let built = (BuildState::SuccessfullyBuilt, UploadStatus::Uploaded);
        let failed_upload = (BuildState::SuccessfullyBuilt, UploadStatus::FailedToUpload);
        store
            .put_history(&[
                record("redis/20.04/amd64", 5, built.0.clone(), built.1.clone()),
                record(
                    "redis/20.04/amd64",
                    1,
                    failed_upload.0.clone(),
                    failed_upload.1,
                ),
                record("redis/20.04/arm64", 2, built.0.clone(), built.1.clone()),
                record(
                    "redis/22.04/arm64",
                    3,
                    BuildState::FailedToBuild,
                    UploadStatus::Unscheduled,
                ),
                record(
                    "nginx/22.04/s390x",
                    30,
                    BuildState::CurrentlyBuilding,
                    UploadStatus::Unscheduled,
                ),
            ])
            .unwrap();
        let catalogue = catalogue();
        let now = Utc::now();
        let all = Fleet::read(&store, &catalogue, &FleetFilters::default(), now).unwrap();
        assert_eq!(
            all.headline,
            "2 need a hand: 1 failed build, 1 failed upload · 1 build running"
        );
        let newest = cell(&all, "redis/20.04/amd64").build.clone().unwrap();
        assert_eq!(
            (newest.name, newest.age.as_str()),
            ("upload_failed", "1h ago")
        );
        assert!(newest.detail.contains("denied <by> the registry"));
        assert_eq!(
            cell(&all, "redis/20.04/arm64").build.as_ref().unwrap().word,
            "done"
        );
        assert_eq!(
            cell(&all, "bind9/20.04/s390x").absent.as_deref(),
            Some("not built for s390x (the catalogue leaves it out)")
        );
        assert!(cell(&all, "apache2/20.04/amd64").build.is_none());
        // Every image's every series, every architecture.
        assert_eq!(all.rows.len(), 29);
        assert_eq!(all.arches.len(), 4);
        let html = all.render().unwrap();
        assert!(html.contains("denied &#60;by&#62; the registry"), "escaped");
        assert!(!html.contains("<by>"));

        let hand = FleetFilters {
            state: Some("needs-a-hand".into()),
            ..FleetFilters::default()
        };
        let hand = Fleet::read(&store, &catalogue, &hand, now).unwrap();
        let shown: Vec<&str> = hand
            .rows
            .iter()
            .flat_map(|row| &row.cells)
            .filter(|cell| !cell.hidden)
            .map(|cell| cell.key.as_str())
            .collect();
        assert_eq!(shown, ["redis/20.04/amd64", "redis/22.04/arm64"]);
        assert_eq!(
            hand.headline, all.headline,
            "the headline counts the whole fleet"
        );

        let one = FleetFilters {
            series: Some("22.04".into()),
            arch: Some("s390x".into()),
            state: Some(String::new()),
        };
        let one = Fleet::read(&store, &catalogue, &one, now).unwrap();
        assert_eq!(one.arches.len(), 1);
        assert!(one.rows.iter().all(|row| row.series.to_string() == "22.04"));
        assert_eq!(
            cell(&one, "nginx/22.04/s390x").build.as_ref().unwrap().name,
            "building"
        );
    }
}
