//! The `history` tree: one record per build (key: its API URL), kept much longer than jobs
//! ([`crate::history`]). Added alongside the other trees: a store from before it simply has
//! none yet, so the schema version is unchanged.

use chrono::{DateTime, Utc};

use super::{Store, StoreError};
use crate::history::HistoryRecord;

impl Store {
    /// Records builds, each merged with what is already known of it
    /// ([`HistoryRecord::merged`]), and flushes.
    pub fn put_history(&self, records: &[HistoryRecord]) -> Result<(), StoreError> {
        for record in records {
            let key = record.build.as_bytes();
            let merged = match self.history.get(key)? {
                Some(bytes) => {
                    serde_json::from_slice::<HistoryRecord>(&bytes)?.merged(record.clone())
                }
                None => record.clone(),
            };
            self.history.insert(key, serde_json::to_vec(&merged)?)?;
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

    /// Forgets builds asked for before `before`; returns how many.
    pub fn compact_history(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut old = Vec::new();
        for entry in self.history.iter() {
            let (key, bytes) = entry?;
            let record: HistoryRecord = serde_json::from_slice(&bytes)?;
            if record.requested_at < before {
                old.push(key);
            }
        }
        for key in &old {
            self.history.remove(key)?;
        }
        self.flush()?;
        Ok(old.len())
    }
}
