//! The failed uploads of the last 30 days: each build whose registry upload failed, whether
//! the failure was told (the alert ledger), kept quiet by a mute, retried (how often, and how
//! its upload stands now), and the command that retries it.

use std::collections::{BTreeMap, HashMap};

use askama::Template;
use chrono::{DateTime, TimeDelta, Utc};

use crate::history::{HistoryRecord, Recipes};
use crate::jobs::model::{BuildTrack, Job, Progress};
use crate::messages::dashboard as say;
use crate::store::alerts::LedgerKey;
use crate::store::{Store, StoreError};
use crate::target::JobId;

/// How far back the page goes.
const DAYS: i64 = 30;

/// One build whose upload failed.
pub struct UploadRow {
    pub build: String,
    pub link: String,
    pub failed_at: String,
    pub failures: u32,
    pub told: &'static str,
    pub retried: String,
    /// The markup's name of how it stands now (`upload_failed`, `done`).
    pub class: &'static str,
    pub error: Option<String>,
    /// The chat's command that retries it, and the terminal's.
    pub command: String,
    pub terminal: String,
    failed: DateTime<Utc>,
}

/// The uploads page's main part.
#[derive(Template)]
#[template(path = "uploads.html")]
pub struct Uploads {
    pub rows: Vec<UploadRow>,
    pub days: i64,
}

/// What the ledger says of one build.
#[derive(Default)]
struct Told {
    first: Option<DateTime<Utc>>,
    failures: u32,
    said: Option<bool>,
    retries_ended: u32,
}

impl Uploads {
    /// The failed uploads as the store has them now.
    pub fn read(
        store: &Store,
        recipes: &Recipes,
        now: DateTime<Utc>,
    ) -> Result<Uploads, StoreError> {
        let since = now - TimeDelta::days(DAYS);
        let mut told: BTreeMap<String, Told> = BTreeMap::new();
        for (link, entries) in store.ledger()? {
            let seen = told.entry(link).or_default();
            for (key, entry) in entries {
                // A failure told (an unreadable build is one failure at least), or how a
                // retry ended.
                let failure = match key {
                    LedgerKey::Failure { failure, .. } => failure,
                    LedgerKey::Unreadable { .. } => 1,
                    LedgerKey::RetryEnded { .. } => {
                        seen.retries_ended += 1;
                        continue;
                    }
                };
                seen.failures = seen.failures.max(failure);
                seen.first = Some(seen.first.map_or(entry.at, |at| at.min(entry.at)));
                seen.said = Some(seen.said.unwrap_or(true) && entry.said);
            }
        }
        let muted: HashMap<String, DateTime<Utc>> = store.muted_builds()?.into_iter().collect();
        // Every build of the span the history has, and the running jobs' builds.
        let mut builds: HashMap<String, HistoryRecord> = store
            .history_since(since)?
            .into_iter()
            .map(|record| (record.build.clone(), record))
            .collect();
        let mut jobs: HashMap<JobId, Job> = HashMap::new();
        for job in store.open_jobs()? {
            for record in crate::history::records_of(&job, now) {
                builds.insert(record.build.clone(), record);
            }
            jobs.insert(job.id, job);
        }
        let groups = store.alert_groups()?;
        let mut rows = Vec::new();
        for record in builds.values() {
            let ledger = told.get(&record.build);
            let muted_at = muted.get(&record.build).copied();
            let failed_now = record.progress() == Progress::UploadFailed;
            if ledger.is_none() && muted_at.is_none() && !failed_now {
                continue;
            }
            let job = match record.job {
                Some(id) if !jobs.contains_key(&id) => store.job(id)?.map(|job| (id, job)),
                _ => None,
            };
            if let Some((id, job)) = job {
                jobs.insert(id, job);
            }
            let track = record
                .job
                .and_then(|id| jobs.get(&id))
                .and_then(|job| build_of(job, &record.build));
            let failed = ledger
                .and_then(|told| told.first)
                .or(muted_at)
                .unwrap_or(record.updated_at);
            if failed < since {
                continue;
            }
            rows.push(row(
                record,
                ledger,
                muted_at.is_some(),
                track,
                &groups,
                failed,
            ));
        }
        // Builds Launchpad cannot show (their pushes failed on several registries) and no job
        // made: the ledger alone knows them.
        for (link, seen) in &told {
            let Some(first) = seen.first.filter(|first| *first >= since) else {
                continue;
            };
            if builds.contains_key(link) {
                continue;
            }
            let (command, terminal) = retry_commands(None, link, &groups);
            rows.push(UploadRow {
                build: say::unshown_build(recipes.of_build(link), link),
                link: super::web_link(&crate::messages::jobs::web_link_of(link)),
                failed_at: first.format("%Y-%m-%d %H:%M UTC").to_string(),
                failures: seen.failures.max(1),
                told: say::told(seen.said, muted.contains_key(link)),
                retried: say::retries(
                    seen.failures.saturating_sub(1).max(seen.retries_ended),
                    "unreadable on Launchpad",
                ),
                class: Progress::UploadFailed.name(),
                error: Some(say::unshown_error()),
                command,
                terminal,
                failed: first,
            });
        }
        rows.sort_by(|a, b| (b.failed, &a.build, &a.link).cmp(&(a.failed, &b.build, &b.link)));
        Ok(Uploads { rows, days: DAYS })
    }
}

/// A job's build by its URL.
fn build_of<'a>(job: &'a Job, url: &str) -> Option<&'a BuildTrack> {
    job.targets
        .iter()
        .flat_map(|target| &target.builds)
        .find(|build| &*build.url == url)
}

/// The chat's command that retries the failed upload of `build`, and the terminal's: its job's
/// `retry uploads`, or the `retry alert` of the newest alert that told it; none if neither.
fn retry_commands(
    job: Option<JobId>,
    build: &str,
    groups: &[(u64, crate::store::alerts::GroupRecord)],
) -> (String, String) {
    let chat = match job {
        Some(job) => format!("retry uploads #{}", job.0),
        None => match groups
            .iter()
            .rev()
            .find(|(_, group)| group.builds.iter().any(|b| b == build))
        {
            Some((number, _)) => format!("retry alert {number}"),
            None => return (String::new(), String::new()),
        },
    };
    let terminal = crate::messages::Front::CommandLine.command(&chat);
    (chat, terminal)
}

fn row(
    record: &HistoryRecord,
    ledger: Option<&Told>,
    muted: bool,
    track: Option<&BuildTrack>,
    groups: &[(u64, crate::store::alerts::GroupRecord)],
    failed: DateTime<Utc>,
) -> UploadRow {
    let failures = ledger
        .map_or(0, |told| told.failures)
        .max(track.map_or(0, |build| build.upload_failures))
        .max(1);
    // Each failure after the first followed a retry; the ledger also records retries whose end
    // was told, and the job how often it retried by itself.
    let retried = (failures - 1)
        .max(ledger.map_or(0, |told| told.retries_ended))
        .max(track.map_or(0, |build| build.auto_retries));
    let progress = record.progress();
    let (command, terminal) = retry_commands(record.job, &record.build, groups);
    UploadRow {
        build: format!(
            "{} {} on {} {}",
            record.image, record.track, record.series, record.arch
        ),
        link: super::web_link(&record.web_link),
        failed_at: failed.format("%Y-%m-%d %H:%M UTC").to_string(),
        failures,
        told: say::told(ledger.and_then(|told| told.said), muted),
        retried: say::retries(retried, crate::messages::jobs::progress_word(progress)),
        class: progress.name(),
        error: record.upload_error.clone(),
        command,
        terminal,
        failed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launchpad::models::UploadStatus;
    use crate::store::alerts::{GroupRecord, LedgerOwner, MutedFailure};

    const RECIPE: &str =
        "https://lp/devel/~ubuntu-docker-images/ubuntu-docker-images/+oci/redis/+recipe/redis-5.0-20.04";

    fn failed(number: u32, days_ago: i64) -> HistoryRecord {
        let at = Utc::now() - TimeDelta::days(days_ago);
        let build = format!("{RECIPE}/+build/{number}");
        HistoryRecord {
            web_link: format!("https://web/+build/{number}"),
            track: "5.0".into(),
            requester: Some("~someone".into()),
            upload: UploadStatus::FailedToUpload,
            upload_error: Some("denied".into()),
            ..HistoryRecord::sample(&build, "redis", "20.04", "arm64", at)
        }
    }

    #[test]
    fn a_failed_upload_says_if_it_was_told_retried_or_muted_and_how_to_retry_it() {
        let store = Store::temporary().unwrap();
        let now = Utc::now();
        let (told, muted, old) = (failed(1, 1), failed(2, 2), failed(3, 40));
        store
            .put_history(&[told.clone(), muted.clone(), old.clone()])
            .unwrap();
        for failure in [1, 2] {
            let key = LedgerKey::Failure {
                link: told.build.clone(),
                failure,
            };
            store
                .claim_alert(&key, LedgerOwner::Untracked, now)
                .unwrap();
            store.alert_said(&key).unwrap();
        }
        let group = GroupRecord {
            channel: "c".into(),
            builds: vec![told.build.clone()],
            started_at: now,
        };
        let number = store.add_group(&group).unwrap();
        let quiet = MutedFailure {
            at: now,
            line: "quiet".into(),
        };
        store.add_muted(&muted.build, &quiet).unwrap();
        // Launchpad cannot show this one: the ledger alone knows it.
        let unshown = LedgerKey::Failure {
            link: format!("{RECIPE}/+build/4"),
            failure: 1,
        };
        store
            .claim_alert(&unshown, LedgerOwner::Untracked, now)
            .unwrap();

        let catalogue = crate::config::Config::built_in().unwrap().catalogue;
        let recipes = crate::history::recipes(&catalogue);
        let page = Uploads::read(&store, &recipes, now).unwrap();
        let rows: Vec<(&str, u32, &str, &str, &str)> = page
            .rows
            .iter()
            .map(|row| {
                let build = row.build.as_str();
                (
                    build,
                    row.failures,
                    row.told,
                    row.retried.as_str(),
                    row.command.as_str(),
                )
            })
            .collect();
        let alert = format!("retry alert {number}");
        assert_eq!(
            rows,
            [
                (
                    "redis 5.0 on 20.04 arm64",
                    2,
                    "told",
                    "1 retry; upload failed",
                    alert.as_str()
                ),
                (
                    "redis 5.0 on 20.04 arm64",
                    1,
                    "muted",
                    "not retried; upload failed",
                    ""
                ),
                (
                    "redis 5.0 on 20.04, build 4 (architecture not shown)",
                    1,
                    "being told",
                    "not retried; unreadable on Launchpad",
                    "",
                ),
            ],
            "newest first (then by build); the one of 40 days ago is left out"
        );
        assert_eq!(
            page.rows[0].terminal,
            format!("image-builder retry alert {number}")
        );
    }
}
