//! The `history` tree: one record per build (key: its API URL), kept much longer than jobs
//! ([`crate::history`]), and its index, `history_index`, which finds them newest first without
//! reading the rest: a year of a busy team's builds is a hundred thousand records, and
//! `history redis` must not read them all.
//!
//! Index keys (times inverted and big-endian, so that ascending keys are newest first):
//! - `t` TIME URL: every build, by when it was asked for;
//! - `i` IMAGE `0` TIME URL, `s` SERIES `0` TIME URL, `a` ARCH `0` TIME URL: an image's, a
//!   series's, an architecture's builds, by when they were asked for.
//!
//! A query of images reads each image's part of the index, merged newest first; one of series
//! and no image each series's part; one of architectures alone each architecture's part; any
//! other the first. What the part read does not decide (the series and architectures of a query
//! of images, the requester) is checked on the records read. An index key is written before its
//! record and removed after the record moved on, so a key may point at a record that no longer
//! matches it (it is skipped), never the reverse. Stores from before an index are indexed once
//! when opened ([`Store::index_history`]); the schema version is unchanged.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};
use crate::command::HistoryQuery;
use crate::history::{HistoryRecord, PastRebuild, Rebuilds};

pub(super) const BY_TIME: u8 = b't';
pub(super) const BY_IMAGE: u8 = b'i';
const BY_SERIES: u8 = b's';
const BY_ARCH: u8 = b'a';
/// The `meta` key saying the index holds every record under every key above (a store whose
/// meta says only `history_indexed` has the time and image keys alone, and is indexed again).
const INDEXED: &str = "history_indexed_by_series_and_arch";

/// How long a time is in an index key.
const TIME: usize = 12;

/// `requested_at` as index bytes, to the nanosecond: later times sort first.
fn inverted(at: DateTime<Utc>) -> [u8; TIME] {
    let mut bytes = [0; TIME];
    bytes[..8].copy_from_slice(&(i64::MAX - at.timestamp()).to_be_bytes());
    bytes[8..].copy_from_slice(&(u32::MAX - at.timestamp_subsec_nanos()).to_be_bytes());
    bytes
}

fn time_key(record: &HistoryRecord) -> Vec<u8> {
    let mut key = vec![BY_TIME];
    key.extend_from_slice(&inverted(record.requested_at));
    key.extend_from_slice(record.build.as_bytes());
    key
}

/// The part of the index of builds whose `kind` (image, series, architecture) is `value`.
pub(super) fn part_prefix(kind: u8, value: &str) -> Vec<u8> {
    let mut key = vec![kind];
    key.extend_from_slice(value.as_bytes());
    key.push(0);
    key
}

fn part_key(kind: u8, value: &str, record: &HistoryRecord) -> Vec<u8> {
    let mut key = part_prefix(kind, value);
    key.extend_from_slice(&inverted(record.requested_at));
    key.extend_from_slice(record.build.as_bytes());
    key
}

/// Every index key of `record`: by time, image, series and architecture.
fn index_keys(record: &HistoryRecord) -> [Vec<u8>; 4] {
    [
        time_key(record),
        part_key(BY_IMAGE, record.image.as_str(), record),
        part_key(BY_SERIES, &record.series.to_string(), record),
        part_key(BY_ARCH, record.arch.as_str(), record),
    ]
}

/// The next entry of a part of the index, past its prefix (`skip` bytes).
fn next_entry(stream: &mut sled::Iter, skip: usize) -> Result<Option<Vec<u8>>, StoreError> {
    match stream.next() {
        Some(entry) => Ok(Some(entry?.0[skip..].to_vec())),
        None => Ok(None),
    }
}

impl Store {
    /// Records builds, each merged with what is already known of it
    /// ([`HistoryRecord::merged`]), indexes them, and flushes.
    pub fn put_history(&self, records: &[HistoryRecord]) -> Result<(), StoreError> {
        for record in records {
            let key = record.build.as_bytes();
            let before = match self.history.get(key)? {
                Some(bytes) => Some(serde_json::from_slice::<HistoryRecord>(&bytes)?),
                None => None,
            };
            let merged = match &before {
                Some(before) => before.clone().merged(record.clone()),
                None => record.clone(),
            };
            let keys = index_keys(&merged);
            for index_key in &keys {
                self.history_index.insert(index_key.as_slice(), &[][..])?;
            }
            self.history.insert(key, serde_json::to_vec(&merged)?)?;
            if let Some(before) = before {
                for old in index_keys(&before) {
                    if !keys.contains(&old) {
                        self.history_index.remove(old)?;
                    }
                }
            }
        }
        self.flush()
    }

    /// Every build in the history, in no order.
    pub fn history(&self) -> Result<Vec<HistoryRecord>, StoreError> {
        let mut records = Vec::new();
        for entry in self.history.iter() {
            let (_, bytes) = entry?;
            records.push(serde_json::from_slice(&bytes)?);
        }
        Ok(records)
    }

    /// The rebuilds `query` asks about, newest first, at most `query.last`
    /// ([`crate::history::Rebuilds`]), reading the index newest first and only as far back as
    /// they need.
    pub fn rebuilds(&self, query: &HistoryQuery) -> Result<Vec<PastRebuild>, StoreError> {
        let mut rebuilds = Rebuilds::new(query);
        // The parts of the index to read, each newest first, merged by time (the entries past
        // the prefix: TIME URL, so the least is the newest).
        let prefixes: Vec<Vec<u8>> = if !query.images.is_empty() {
            let images = query.images.iter();
            images
                .map(|image| part_prefix(BY_IMAGE, image.as_str()))
                .collect()
        } else if !query.series.is_empty() {
            let series = query.series.iter();
            series
                .map(|series| part_prefix(BY_SERIES, &series.to_string()))
                .collect()
        } else if !query.arches.is_empty() {
            let arches = query.arches.iter();
            arches
                .map(|arch| part_prefix(BY_ARCH, arch.as_str()))
                .collect()
        } else {
            vec![vec![BY_TIME]]
        };
        let mut streams: Vec<_> = prefixes
            .iter()
            .map(|prefix| self.history_index.scan_prefix(prefix))
            .collect();
        let mut heads = Vec::with_capacity(streams.len());
        for (stream, prefix) in streams.iter_mut().zip(&prefixes) {
            heads.push(next_entry(stream, prefix.len())?);
        }
        while let Some(index) = (0..heads.len())
            .filter(|&index| heads[index].is_some())
            .min_by(|&a, &b| heads[a].cmp(&heads[b]))
        {
            let entry = heads[index].take().expect("filtered");
            heads[index] = next_entry(&mut streams[index], prefixes[index].len())?;
            if !self.offer(&entry, &mut rebuilds)? {
                break;
            }
        }
        Ok(rebuilds.finish())
    }

    /// Offers the record of index entry `entry` (TIME URL); whether more are wanted.
    fn offer(&self, entry: &[u8], rebuilds: &mut Rebuilds<'_>) -> Result<bool, StoreError> {
        Ok(match self.indexed_record(entry)? {
            Some(record) => rebuilds.offer(record),
            None => true,
        })
    }

    /// The record an index entry (TIME URL) points at, if it is still there and still at
    /// that time (a record that moved on in a later merge has its current entry elsewhere).
    pub(super) fn indexed_record(&self, entry: &[u8]) -> Result<Option<HistoryRecord>, StoreError> {
        let (time, url) = entry.split_at(TIME.min(entry.len()));
        let Some(bytes) = self.history.get(url)? else {
            return Ok(None);
        };
        let record: HistoryRecord = serde_json::from_slice(&bytes)?;
        Ok((inverted(record.requested_at) == time).then_some(record))
    }

    /// Indexes every record, once, for a store written before the index.
    pub(super) fn index_history(&self) -> Result<usize, StoreError> {
        if self.meta.get(INDEXED)?.is_some() {
            return Ok(0);
        }
        let mut indexed = 0;
        for entry in self.history.iter() {
            let (_, bytes) = entry?;
            let record: HistoryRecord = serde_json::from_slice(&bytes)?;
            for key in index_keys(&record) {
                self.history_index.insert(key, &[][..])?;
            }
            indexed += 1;
        }
        self.meta.insert(INDEXED, &[][..])?;
        Ok(indexed)
    }

    /// Forgets builds asked for before `before`; returns how many. Reads the index from its
    /// oldest end, so only what is forgotten is read.
    pub fn compact_history(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let cut = inverted(before);
        let mut old = Vec::new();
        for key in self.history_index.scan_prefix([BY_TIME]).keys().rev() {
            let key = key?;
            let (time, url) = key[1..].split_at(TIME.min(key.len() - 1));
            // Inverted: a time after the cut's bytes is before it.
            if time <= &cut[..] {
                break;
            }
            old.push((key.clone(), url.to_vec()));
        }
        let mut forgotten = 0;
        for (key, url) in &old {
            if let Some(bytes) = self.history.get(url)? {
                let record: HistoryRecord = serde_json::from_slice(&bytes)?;
                if record.requested_at < before {
                    self.history.remove(url)?;
                    for index_key in index_keys(&record) {
                        self.history_index.remove(index_key)?;
                    }
                    forgotten += 1;
                }
            }
            self.history_index.remove(key)?;
        }
        self.flush()?;
        Ok(forgotten)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    use crate::target::JobId;

    /// Records of three images over two series and two architectures: jobs of several builds
    /// at one moment, builds heard of alone or two at one moment, a merge that moves a record
    /// to a later time, and moments shared by different jobs.
    fn records() -> Vec<HistoryRecord> {
        let start = "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let mut records = Vec::new();
        for n in 0..120u64 {
            let image = ["redis", "nginx", "postgres"][(n % 3) as usize];
            let job = (n % 4 != 0).then_some(JobId(n / 2));
            let at = start + TimeDelta::minutes((n / 2) as i64);
            for (series, arch) in [("20.04", "amd64"), ("22.04", "arm64")]
                .into_iter()
                .take(1 + (n % 2) as usize)
            {
                let build = format!("https://lp/{image}/{series}/{arch}/+build/{n}");
                records.push(HistoryRecord {
                    web_link: String::new(),
                    job,
                    requester: Some(["alice", "~bob"][(n % 2) as usize].into()),
                    ..HistoryRecord::sample(&build, image, series, arch, at)
                });
            }
        }
        records
    }

    #[test]
    fn the_index_answers_as_reading_every_record_does() {
        let store = Store::temporary().unwrap();
        let mut records = records();
        store.put_history(&records).unwrap();
        // A job's later word on a build it made, heard of first: the record moves in time.
        let mut moved = records[7].clone();
        moved.job = Some(JobId(999));
        moved.requested_at += TimeDelta::hours(5);
        store.put_history(&[moved.clone()]).unwrap();
        records[7] = records[7].clone().merged(moved);
        let every = store.history().unwrap();
        assert_eq!(every.len(), records.len());
        let image = |name: &str| name.parse().unwrap();
        let mut queries = Vec::new();
        for images in [
            vec![],
            vec![image("redis")],
            vec![image("nginx"), image("postgres")],
        ] {
            for series in [
                vec![],
                vec!["22.04".parse().unwrap()],
                vec!["20.04".parse().unwrap(), "22.04".parse().unwrap()],
            ] {
                for arches in [vec![], vec!["arm64".parse().unwrap()]] {
                    for by in [None, Some("~BOB".to_string())] {
                        for last in [0, 1, 3, 10, 100] {
                            queries.push(HistoryQuery {
                                images: images.clone(),
                                series: series.clone(),
                                arches: arches.clone(),
                                by: by.clone(),
                                last,
                            });
                        }
                    }
                }
            }
        }
        for query in queries {
            let expected = crate::history::rebuilds(every.clone(), &query);
            assert_eq!(store.rebuilds(&query).unwrap(), expected, "{query:?}");
        }
        // Four keys per record (time, image, series, architecture), the moved one's old ones
        // gone.
        assert_eq!(store.history_index.len(), 4 * every.len());
        // Compacted: gone from the index too.
        let cut = "2026-01-01T00:30:00Z".parse::<DateTime<Utc>>().unwrap();
        let removed = store.compact_history(cut).unwrap();
        assert!(removed > 0);
        let everything = HistoryQuery {
            images: Vec::new(),
            series: Vec::new(),
            arches: Vec::new(),
            by: None,
            last: 100,
        };
        let left = store.rebuilds(&everything).unwrap();
        assert!(left.iter().all(|r| r.requested_at >= cut));
        assert_eq!(
            store.history_index.len(),
            4 * store.history().unwrap().len()
        );
        assert_eq!(
            left,
            crate::history::rebuilds(store.history().unwrap(), &everything)
        );
    }
}
