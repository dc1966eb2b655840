//! Jobs leaving the store: closed when all is said, deleted after `engine.keep_finished_jobs_days`,
//! and the jobs of a version 1 store moved to this layout.

use chrono::{DateTime, Utc};

use super::{open_key, prefix};
use crate::jobs::model::{Job, Phase, Target};
use crate::store::{awaiting_key, Store, StoreError};
use crate::target::JobId;

impl Store {
    /// The job ended and said all it had to: it leaves the index of open jobs.
    pub fn close_job(&self, id: JobId) -> Result<(), StoreError> {
        self.records.remove(open_key(id))?;
        self.flush()
    }

    /// Deletes jobs that ended before `before`, with their links and messages, and the alerting
    /// records last touched before then ([`Store::compact_alerts`]); returns how many jobs.
    pub fn compact(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut removed = 0;
        let ids: Vec<JobId> = self.ids_newest_first().collect::<Result<_, _>>()?;
        for id in ids {
            // The job's own record says when it ended: only those to delete are read whole.
            let Some(head) = self.head(id)? else { continue };
            if head.finished_at.is_none_or(|at| at >= before) {
                continue;
            }
            let Some(job) = self.job(id)? else { continue };
            for target in &job.targets {
                if let Phase::Requested { request_url } | Phase::Following { request_url } =
                    &target.phase
                {
                    self.links.remove(request_url.as_bytes())?;
                }
                for build in &target.builds {
                    self.links.remove(build.url.as_bytes())?;
                }
                if self.job_awaiting(&target.recipe_url)? == Some(job.id) {
                    self.links
                        .remove(awaiting_key(&target.recipe_url).as_bytes())?;
                }
            }
            let mut batch = sled::Batch::default();
            for key in self.records.scan_prefix(prefix(id)).keys() {
                batch.remove(key?);
            }
            batch.remove(open_key(id));
            self.records.apply_batch(batch)?;
            self.messages.remove(id.0.to_be_bytes())?;
            removed += 1;
        }
        self.compact_alerts(before)?;
        self.flush()?;
        Ok(removed)
    }

    /// Moves the jobs of a version 1 store (each job one record, its targets and builds
    /// inside) to this layout. A job is open if unfinished or if it ended with notices unsaid
    /// or its summary not sent.
    pub(in crate::store) fn migrate_v1_jobs(&self, old: &sled::Tree) -> Result<usize, StoreError> {
        let mut moved = 0;
        for entry in old.iter() {
            let (_, bytes) = entry?;
            let job = decode_v1(&bytes)?;
            self.put_job(&job)?;
            if self.said_all(&job)? {
                self.records.remove(open_key(job.id))?;
            } else {
                self.records.insert(open_key(job.id), &[][..])?;
            }
            moved += 1;
        }
        Ok(moved)
    }
}

/// A job as version 1 stored it: one JSON object, its targets and their builds inside.
pub fn decode_v1(bytes: &[u8]) -> Result<Job, StoreError> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes)?;
    let targets = value
        .get_mut("targets")
        .map(serde_json::Value::take)
        .unwrap_or_default();
    let mut job: Job = serde_json::from_value(value)?;
    for mut target in targets.as_array().cloned().unwrap_or_default() {
        let builds = target
            .get_mut("builds")
            .map(serde_json::Value::take)
            .unwrap_or_default();
        let mut decoded: Target = serde_json::from_value(target)?;
        for build in builds.as_array().cloned().unwrap_or_default() {
            decoded.builds.push(serde_json::from_value(build)?);
        }
        job.targets.push(decoded);
    }
    Ok(job)
}
