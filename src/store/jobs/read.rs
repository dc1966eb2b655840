//! Reading jobs back: one whole, the newest few, those since a time, the open ones a restart
//! picks up, and counts by status.

use chrono::{DateTime, Utc};

use super::{head_key, number_at, prefix, BUILD, JOB, OPEN, TARGET};
use crate::jobs::model::Job;
use crate::store::{Store, StoreError};
use crate::target::JobId;

impl Store {
    /// A job.
    pub fn job(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        let Some(head) = self.records.get(head_key(id))? else {
            return Ok(None);
        };
        let mut job: Job = serde_json::from_slice(&head)?;
        let corrupt = || {
            StoreError::Decode(serde::de::Error::custom(format!(
                "job {id} has a record out of place"
            )))
        };
        let mut targets = prefix(id);
        targets.push(TARGET);
        for entry in self.records.scan_prefix(&targets) {
            let (key, bytes) = entry?;
            if number_at(&key, 10) != Some(job.targets.len()) {
                return Err(corrupt());
            }
            job.targets.push(serde_json::from_slice(&bytes)?);
        }
        let mut builds = prefix(id);
        builds.push(BUILD);
        for entry in self.records.scan_prefix(&builds) {
            let (key, bytes) = entry?;
            let target = number_at(&key, 10)
                .and_then(|index| job.targets.get_mut(index))
                .ok_or_else(corrupt)?;
            if number_at(&key, 14) != Some(target.builds.len()) {
                return Err(corrupt());
            }
            target.builds.push(serde_json::from_slice(&bytes)?);
        }
        Ok(Some(job))
    }

    /// A job's own record: the job without its targets.
    pub(in crate::store) fn head(&self, id: JobId) -> Result<Option<Job>, StoreError> {
        match self.records.get(head_key(id))? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    /// The stored jobs' ids, newest first.
    pub(super) fn ids_newest_first(&self) -> impl Iterator<Item = Result<JobId, StoreError>> + '_ {
        let mut upper = Some(vec![
            JOB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        std::iter::from_fn(move || {
            let below = upper.take()?;
            match self.records.get_lt(below) {
                Ok(Some((key, _))) if key.first() == Some(&JOB) && key.len() >= 9 => {
                    let id = JobId(u64::from_be_bytes(key[1..9].try_into().ok()?));
                    // The next one down is below this job's first record.
                    upper = Some(head_key(id));
                    Some(Ok(id))
                }
                Ok(_) => None,
                Err(error) => Some(Err(error.into())),
            }
        })
    }

    /// Jobs newest first, as long as `keep` says (reading one job at a time: a listing of the
    /// last few reads only those).
    pub fn jobs_while(&self, mut keep: impl FnMut(&Job) -> bool) -> Result<Vec<Job>, StoreError> {
        let mut jobs = Vec::new();
        for id in self.ids_newest_first() {
            let Some(job) = self.job(id?)? else { continue };
            if !keep(&job) {
                break;
            }
            jobs.push(job);
        }
        Ok(jobs)
    }

    /// The last `count` jobs, newest first.
    pub fn recent_jobs(&self, count: usize) -> Result<Vec<Job>, StoreError> {
        let mut left = count;
        self.jobs_while(|_| {
            let keep = left > 0;
            left = left.saturating_sub(1);
            keep
        })
    }

    /// Jobs created at or after `since`, newest first.
    pub fn jobs_since(&self, since: DateTime<Utc>) -> Result<Vec<Job>, StoreError> {
        self.jobs_while(|job| job.created_at >= since)
    }

    /// Every job, newest first.
    pub fn jobs(&self) -> Result<Vec<Job>, StoreError> {
        self.jobs_while(|_| true)
    }

    /// The open jobs (unfinished, or ended with something left to say), oldest first, from
    /// the index: what a restart picks up.
    pub fn open_jobs(&self) -> Result<Vec<Job>, StoreError> {
        let mut jobs = Vec::new();
        for key in self.records.scan_prefix([OPEN]).keys() {
            let key = key?;
            let Some(id) = key.get(1..9).and_then(|bytes| bytes.try_into().ok()) else {
                continue;
            };
            if let Some(job) = self.job(JobId(u64::from_be_bytes(id)))? {
                jobs.push(job);
            }
        }
        Ok(jobs)
    }

    /// Every job not yet ended, oldest first.
    pub fn unfinished(&self) -> Result<Vec<Job>, StoreError> {
        let mut jobs = self.open_jobs()?;
        jobs.retain(|job| !job.is_finished());
        Ok(jobs)
    }

    /// Whether `job` ended and said all it had to (its notices and its summary): then it is
    /// no longer open.
    pub fn said_all(&self, job: &Job) -> Result<bool, StoreError> {
        Ok(job.is_finished() && job.outbox.is_empty() && self.messages(job.id)?.summary_sent)
    }

    /// How many jobs there are by status (`running`, `finished`, ...), reading only each job's
    /// own record.
    pub fn job_counts(&self) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        let mut counts = std::collections::BTreeMap::new();
        for id in self.ids_newest_first() {
            let Some(job) = self.head(id?)? else {
                continue;
            };
            *counts
                .entry(format!("{:?}", job.status).to_lowercase())
                .or_insert(0) += 1;
        }
        Ok(counts)
    }
}
