//! What the dashboard reads and nothing else does: the newest build of every image, series and
//! architecture (from the history's index by image), the history of a span of days (from its
//! index by time), the alert ledger's entries by build, and a counter of the store's writes, so
//! that a page shown live is drawn again only when something was written.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::alerts::LedgerKey;
use super::{Store, StoreError};
use crate::history::HistoryRecord;
use crate::target::{Arch, ImageName, Series};

/// What the ledger says of one alert: when it was claimed, and whether it was said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSummary {
    /// When it was claimed.
    pub at: DateTime<Utc>,
    /// Whether it was said.
    pub said: bool,
}

impl Store {
    /// The newest record of each series and architecture of `image` that `wanted` keeps,
    /// reading the image's part of the index newest first and stopping once `cells` of them
    /// are found (or the part ends).
    pub fn latest_of_image(
        &self,
        image: &ImageName,
        cells: usize,
        wanted: impl Fn(Series, &Arch) -> bool,
    ) -> Result<BTreeMap<(Series, Arch), HistoryRecord>, StoreError> {
        let prefix = super::history::part_prefix(super::history::BY_IMAGE, image.as_str());
        let mut found = BTreeMap::new();
        for entry in self.history_index.scan_prefix(&prefix).keys() {
            if found.len() >= cells {
                break;
            }
            let entry = entry?;
            let Some(record) = self.indexed_record(&entry[prefix.len()..])? else {
                continue;
            };
            if wanted(record.series, &record.arch) {
                found
                    .entry((record.series, record.arch.clone()))
                    .or_insert(record);
            }
        }
        Ok(found)
    }

    /// Every build asked for since `since`, newest first.
    pub fn history_since(&self, since: DateTime<Utc>) -> Result<Vec<HistoryRecord>, StoreError> {
        let mut records = Vec::new();
        for entry in self
            .history_index
            .scan_prefix([super::history::BY_TIME])
            .keys()
        {
            let entry = entry?;
            let Some(record) = self.indexed_record(&entry[1..])? else {
                continue;
            };
            if record.requested_at < since {
                break;
            }
            records.push(record);
        }
        Ok(records)
    }

    /// Every entry of the alert ledger, by build (`self_link`).
    pub fn ledger(&self) -> Result<BTreeMap<String, Vec<(LedgerKey, LedgerSummary)>>, StoreError> {
        let mut by_build: BTreeMap<String, Vec<_>> = BTreeMap::new();
        for entry in self.alerts.iter() {
            let (key, bytes) = entry?;
            let Some(key) = LedgerKey::decode(&String::from_utf8_lossy(&key)) else {
                continue;
            };
            let entry = super::alerts::LedgerEntry::decode(&bytes);
            let summary = LedgerSummary {
                at: entry.at,
                said: entry.said,
            };
            by_build
                .entry(key.link().to_string())
                .or_default()
                .push((key, summary));
        }
        Ok(by_build)
    }

    /// The builds whose failed uploads a mute kept quiet, with when.
    pub fn muted_builds(&self) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        let mut builds = Vec::new();
        for key in self.muted.iter().keys() {
            let key = key?;
            let key = String::from_utf8_lossy(&key);
            if let Some((at, link)) = key.split_once('|') {
                if let Ok(at) = DateTime::parse_from_rfc3339(at) {
                    builds.push((link.to_string(), at.with_timezone(&Utc)));
                }
            }
        }
        Ok(builds)
    }

    /// Every grouped alert, by its number (what `retry alert N` takes).
    pub fn alert_groups(&self) -> Result<Vec<(u64, super::alerts::GroupRecord)>, StoreError> {
        let mut groups = Vec::new();
        for entry in self.groups.iter() {
            let (key, bytes) = entry?;
            let Ok(number) = <[u8; 8]>::try_from(key.as_ref()) else {
                continue;
            };
            groups.push((u64::from_be_bytes(number), serde_json::from_slice(&bytes)?));
        }
        Ok(groups)
    }

    /// A counter of the store's writes, moved on after each is on disk: a page shown live
    /// waits on it.
    pub fn writes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.writes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u32, series: &str, arch: &str, minutes: i64) -> HistoryRecord {
        let at = "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
            + chrono::TimeDelta::minutes(minutes);
        let build = format!("https://lp/redis/+build/{n}");
        HistoryRecord::sample(&build, "redis", series, arch, at)
    }

    #[test]
    fn the_newest_build_of_each_cell_and_the_history_of_a_span() {
        let store = Store::temporary().unwrap();
        store
            .put_history(&[
                record(1, "20.04", "amd64", 0),
                record(2, "20.04", "amd64", 10),
                record(3, "22.04", "amd64", 5),
                record(4, "20.04", "arm64", 1),
            ])
            .unwrap();
        let mut writes = store.writes();
        let before = *writes.borrow_and_update();
        let latest = store
            .latest_of_image(&"redis".parse().unwrap(), 3, |_, _| true)
            .unwrap();
        let builds: Vec<_> = latest.values().map(|r| r.build.as_str()).collect();
        assert_eq!(
            builds,
            // By series and architecture: 20.04 amd64 (the newer of 1 and 2), 20.04 arm64,
            // 22.04 amd64.
            [
                "https://lp/redis/+build/2",
                "https://lp/redis/+build/4",
                "https://lp/redis/+build/3"
            ],
        );
        let only_arm = store
            .latest_of_image(&"redis".parse().unwrap(), 1, |_, arch| {
                arch.as_str() == "arm64"
            })
            .unwrap();
        assert_eq!(only_arm.len(), 1);
        let since = "2026-01-01T00:04:00Z".parse().unwrap();
        let recent: Vec<_> = store
            .history_since(since)
            .unwrap()
            .into_iter()
            .map(|r| r.build)
            .collect();
        assert_eq!(
            recent,
            ["https://lp/redis/+build/2", "https://lp/redis/+build/3"]
        );
        store
            .put_history(&[record(5, "20.04", "amd64", 20)])
            .unwrap();
        assert!(writes.has_changed().unwrap());
        assert!(*writes.borrow() > before);
    }
}
