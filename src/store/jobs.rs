//! Jobs in the store, each in pieces so that a change is written without the rest: the job's
//! own fields, each target (without its builds), each build, in one tree (`job_records`), and
//! an index of the jobs that may still have something to do. A job's changes are written
//! together (one atomic batch) and flushed, off the async workers.
//!
//! Keys (big-endian numbers, so a job's pieces sort together, in order):
//! - `j` ID `0`: the job (its targets left out)
//! - `j` ID `1` TARGET: a target (its builds left out)
//! - `j` ID `2` TARGET BUILD: a build
//! - `u` ID: the job is open: unfinished, or ended with something left to say

use chrono::{DateTime, Utc};

use super::{awaiting_key, Store, StoreError};
use crate::jobs::model::{BuildTrack, Job, Phase, Target};
use crate::target::JobId;

const JOB: u8 = b'j';
const OPEN: u8 = b'u';
const HEAD: u8 = 0;
const TARGET: u8 = 1;
const BUILD: u8 = 2;

fn prefix(id: JobId) -> Vec<u8> {
    let mut key = vec![JOB];
    key.extend_from_slice(&id.0.to_be_bytes());
    key
}

fn head_key(id: JobId) -> Vec<u8> {
    let mut key = prefix(id);
    key.push(HEAD);
    key
}

fn target_key(id: JobId, target: usize) -> Vec<u8> {
    let mut key = prefix(id);
    key.push(TARGET);
    key.extend_from_slice(&(target as u32).to_be_bytes());
    key
}

fn build_key(id: JobId, target: usize, build: usize) -> Vec<u8> {
    let mut key = prefix(id);
    key.push(BUILD);
    key.extend_from_slice(&(target as u32).to_be_bytes());
    key.extend_from_slice(&(build as u32).to_be_bytes());
    key
}

fn open_key(id: JobId) -> Vec<u8> {
    let mut key = vec![OPEN];
    key.extend_from_slice(&id.0.to_be_bytes());
    key
}

/// The big-endian `u32` at `at` in `key`.
fn number_at(key: &[u8], at: usize) -> Option<usize> {
    let bytes = key.get(at..at + 4)?;
    Some(u32::from_be_bytes(bytes.try_into().ok()?) as usize)
}

/// A target without its builds (what its record holds).
fn bare(target: &Target) -> Target {
    let Target {
        image,
        series,
        track,
        recipe_url,
        arches,
        phase,
        builds: _,
        poll,
        missing,
        asked_again,
        requested_at,
        named_builds,
        list_errors,
    } = target;
    Target {
        image: image.clone(),
        series: *series,
        track: track.clone(),
        recipe_url: recipe_url.clone(),
        arches: arches.clone(),
        phase: phase.clone(),
        builds: Vec::new(),
        poll: *poll,
        missing: missing.clone(),
        asked_again: *asked_again,
        requested_at: *requested_at,
        named_builds: named_builds.clone(),
        list_errors: *list_errors,
    }
}

/// Whether a target's record is the same as the one stored for it (its builds aside), as far
/// as a restart cares: what it is (image, series, track, recipe, architectures) is fixed by the
/// plan and never changes at its place in the job; when to look next is not compared (a
/// restart looks at everything at once), so a look that changed nothing else writes nothing.
fn same_record(a: &Target, b: &Target) -> bool {
    let Target {
        image: _,
        series: _,
        track: _,
        recipe_url: _,
        arches: _,
        phase,
        builds: _,
        poll: _,
        missing,
        asked_again,
        requested_at,
        named_builds,
        list_errors,
    } = a;
    *phase == b.phase
        && *missing == b.missing
        && *asked_again == b.asked_again
        && *requested_at == b.requested_at
        && *named_builds == b.named_builds
        && *list_errors == b.list_errors
}

/// Whether two builds' records are the same as far as a restart cares (the same build: its web
/// link and architecture come with its URL): not when to look next,
/// nor when it was last seen queued or entered its stage, nor the ETag of the last answer (a restart
/// reads every build again, and an older ETag only costs a 200 instead of a 304). So a read
/// that found nothing new writes nothing.
fn same_build(a: &BuildTrack, b: &BuildTrack) -> bool {
    let BuildTrack {
        url,
        web_link: _,
        arch: _,
        wanted,
        state,
        upload,
        upload_error,
        can_be_retried,
        can_be_cancelled,
        etag: _,
        poll: _,
        cancel_sent,
        upload_failures,
        auto_retries,
        upload_by_auto_retry,
        retry_due,
        upload_refusal,
        pending_calls,
        generation,
        read_errors,
        unreadable,
        delivered,
        upload_log_url,
        stage_since: _,
        unstarted_at: _,
        log_url,
        log,
    } = a;
    // What changes most often first.
    *state == b.state
        && *upload == b.upload
        && *pending_calls == b.pending_calls
        && *generation == b.generation
        && *read_errors == b.read_errors
        && *cancel_sent == b.cancel_sent
        && *can_be_retried == b.can_be_retried
        && *can_be_cancelled == b.can_be_cancelled
        && *upload_failures == b.upload_failures
        && *auto_retries == b.auto_retries
        && *upload_by_auto_retry == b.upload_by_auto_retry
        && *retry_due == b.retry_due
        && *upload_error == b.upload_error
        && *upload_refusal == b.upload_refusal
        && *unreadable == b.unreadable
        && *delivered == b.delivered
        && *upload_log_url == b.upload_log_url
        && *wanted == b.wanted
        && *log_url == b.log_url
        && *log == b.log
        // The build's identity: its link and architecture are its URL's, and never change.
        // What was written shares the job's URL, and `Arc`s of an `Eq` type that point to the
        // same allocation are equal without reading it.
        && *url == b.url
}

/// What of a job is in the store, so that the next write can leave out what did not change.
/// Empty: nothing known, everything is written.
#[derive(Debug, Default)]
pub struct Written {
    /// The job's own record (its targets left out).
    head: Option<Job>,
    targets: Vec<Target>,
    /// When the job was last written.
    flushed_at: Option<std::time::Instant>,
    /// Changes to builds wait for the next write.
    deferred: bool,
}

impl Written {
    /// When changes waiting for a write are due to be written, if any wait.
    pub fn due(&self) -> Option<tokio::time::Instant> {
        let at = self.flushed_at?;
        self.deferred
            .then(|| tokio::time::Instant::from_std(at + FLUSH_EVERY))
    }
}

/// Changes that need not be on disk at once (a build's read) wait at most this long for the
/// next write, so the store (and a copy of it read by `status`) is never older; a crash loses
/// no more than the reads of that second, which a restart makes again.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A job's own record: the job without its targets.
fn head_of(job: &Job) -> Job {
    let Job {
        id,
        requester,
        channel,
        command,
        auto_retry_uploads,
        reason,
        created_at,
        deadline,
        finished_at,
        status,
        cancel_requested,
        targets: _,
        outbox,
        unreachable,
        hooks,
        hook_runs,
    } = job;
    Job {
        id: *id,
        requester: requester.clone(),
        channel: channel.clone(),
        command: command.clone(),
        auto_retry_uploads: *auto_retry_uploads,
        reason: reason.clone(),
        created_at: *created_at,
        deadline: *deadline,
        finished_at: *finished_at,
        status: *status,
        cancel_requested: *cancel_requested,
        targets: Vec::new(),
        outbox: outbox.clone(),
        unreachable: unreachable.clone(),
        hooks: hooks.clone(),
        hook_runs: hook_runs.clone(),
    }
}

/// Whether two jobs' own records are the same (their targets aside).
fn same_head(a: &Job, b: &Job) -> bool {
    let Job {
        id,
        requester,
        channel,
        command,
        auto_retry_uploads,
        reason,
        created_at,
        deadline,
        finished_at,
        status,
        cancel_requested,
        targets: _,
        outbox,
        unreachable,
        hooks,
        hook_runs,
    } = a;
    *id == b.id
        && *requester == b.requester
        && *channel == b.channel
        && *command == b.command
        && *auto_retry_uploads == b.auto_retry_uploads
        && *reason == b.reason
        && *created_at == b.created_at
        && *deadline == b.deadline
        && *finished_at == b.finished_at
        && *status == b.status
        && *cancel_requested == b.cancel_requested
        && *outbox == b.outbox
        && *unreachable == b.unreachable
        && *hooks == b.hooks
        && *hook_runs == b.hook_runs
}

/// The writes one save makes.
struct Changes {
    /// Every record that changed; for a whole write, the removal of the job's others too.
    batch: sled::Batch,
    /// Links to index (written before the batch: a link to a job that does not know the
    /// build yet is harmless, a build its job knows that no link leads to is not).
    links: Vec<(Vec<u8>, Option<JobId>)>,
    head: Option<Job>,
    targets: Vec<usize>,
    builds: Vec<(usize, usize)>,
}

/// What of a job differs from what is stored of it.
struct Diff {
    /// The job's own record.
    head: bool,
    /// Targets whose records differ, or are new.
    targets: Vec<usize>,
    /// Builds whose records differ, or are new.
    builds: Vec<(usize, usize)>,
    /// Some target has fewer builds than are stored (its builds were listed again).
    shrunk: bool,
}

/// Compares `job` with what `written` says is stored, record by record.
fn diff(written: &Written, job: &Job) -> Diff {
    let mut diff = Diff {
        head: !written
            .head
            .as_ref()
            .is_some_and(|head| same_head(head, job)),
        targets: Vec::new(),
        builds: Vec::new(),
        shrunk: false,
    };
    for (index, target) in job.targets.iter().enumerate() {
        let before = written.targets.get(index);
        if !before.is_some_and(|before| same_record(before, target)) {
            diff.targets.push(index);
        }
        let kept = before.map_or(&[][..], |before| &before.builds[..]);
        diff.shrunk |= kept.len() > target.builds.len();
        for (build_index, build) in target.builds.iter().enumerate() {
            if !kept
                .get(build_index)
                .is_some_and(|old| same_build(old, build))
            {
                diff.builds.push((index, build_index));
            }
        }
    }
    diff
}

impl Store {
    /// Writes a whole job (its records, links and index entry) and flushes.
    pub fn put_job(&self, job: &Job) -> Result<(), StoreError> {
        let nothing = Written::default();
        let changes = self.changes(&nothing, job, true, diff(&nothing, job))?;
        self.apply(changes)?;
        self.flush()
    }

    /// Writes what changed of `job` since `written` says (everything, the first time) in one
    /// atomic batch, and flushes it to disk, on a blocking thread; `written` then says what is
    /// stored. Returns whether anything changed.
    ///
    /// What must survive a crash is written at once: the job's own record (its status, what it
    /// has still to say), a target's (a request being sent, or its answer), and everything when
    /// `durable` (a call on a build about to go out). A build's new state alone (a read, which
    /// a restart makes again) waits, with any others, for the next write, at most
    /// [`FLUSH_EVERY`]: [`Written::due`] says when, and the job's driver saves then.
    pub async fn save_job(
        &self,
        written: &mut Written,
        job: &Job,
        durable: bool,
    ) -> Result<bool, StoreError> {
        let diff = diff(written, job);
        let now = written.head.is_none()
            || durable
            || written
                .flushed_at
                .is_none_or(|at| at.elapsed() >= FLUSH_EVERY)
            || diff.head
            || !diff.targets.is_empty()
            || written.targets.len() != job.targets.len();
        if !now {
            let builds_changed = !diff.builds.is_empty() || diff.shrunk;
            written.deferred |= builds_changed;
            return Ok(builds_changed);
        }
        let mut changes = self.changes(written, job, written.head.is_none(), diff)?;
        if changes.head.is_none() && changes.targets.is_empty() && changes.builds.is_empty() {
            written.deferred = false;
            return Ok(false);
        }
        let head = changes.head.take();
        let targets = std::mem::take(&mut changes.targets);
        let builds = std::mem::take(&mut changes.builds);
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            store.apply(changes)?;
            store.flush()
        })
        .await
        .map_err(|error| StoreError::Io {
            path: "(the job store's writer)".to_string(),
            cause: std::io::Error::other(error.to_string()),
        })??;
        written.flushed_at = Some(std::time::Instant::now());
        written.deferred = false;
        if let Some(head) = head {
            written.head = Some(head);
        }
        written.targets.truncate(job.targets.len());
        for index in targets {
            let record = bare(&job.targets[index]);
            match written.targets.get_mut(index) {
                Some(old) => {
                    let builds = std::mem::take(&mut old.builds);
                    *old = Target { builds, ..record };
                }
                None => written.targets.push(record),
            }
        }
        for (target, index) in builds {
            let build = job.targets[target].builds[index].clone();
            let kept = &mut written.targets[target].builds;
            if index < kept.len() {
                kept[index] = build;
            } else {
                kept.push(build);
            }
        }
        for (kept, target) in written.targets.iter_mut().zip(&job.targets) {
            kept.builds.truncate(target.builds.len());
        }
        Ok(true)
    }

    /// The batch and links that write `diff`.
    fn changes(
        &self,
        written: &Written,
        job: &Job,
        clear: bool,
        diff: Diff,
    ) -> Result<Changes, StoreError> {
        let id = job.id;
        let mut batch = sled::Batch::default();
        if clear {
            // In the same batch as the new records (each key's last write wins), so a reader
            // never finds the job missing.
            for key in self.records.scan_prefix(prefix(id)).keys() {
                batch.remove(key?);
            }
        }
        let mut changes = Changes {
            batch,
            links: Vec::new(),
            head: None,
            targets: diff.targets,
            builds: diff.builds,
        };
        if diff.head {
            changes.batch.insert(head_key(id), serde_json::to_vec(job)?);
            if !job.is_finished() {
                changes.batch.insert(open_key(id), &[][..]);
            }
            changes.head = Some(head_of(job));
        }
        for &index in &changes.targets {
            let target = &job.targets[index];
            changes
                .batch
                .insert(target_key(id, index), serde_json::to_vec(&bare(target))?);
            if let Phase::Requested { request_url } | Phase::Following { request_url } =
                &target.phase
            {
                changes
                    .links
                    .push((request_url.as_bytes().to_vec(), Some(id)));
            }
        }
        // A target waiting for word of its recipe's builds is found by the recipe.
        let now = Utc::now();
        for (index, target) in job.targets.iter().enumerate() {
            if !diff.head && !changes.targets.contains(&index) {
                continue;
            }
            let key = awaiting_key(&target.recipe_url).into_bytes();
            if !job.is_finished() && target.awaits_delivery(now) {
                changes.links.push((key, Some(id)));
            } else if self.job_awaiting(&target.recipe_url)? == Some(id) {
                changes.links.push((key, None));
            }
        }
        for &(index, build_index) in &changes.builds {
            let build = &job.targets[index].builds[build_index];
            changes.batch.insert(
                build_key(id, index, build_index),
                serde_json::to_vec(build)?,
            );
            let old = written
                .targets
                .get(index)
                .and_then(|before| before.builds.get(build_index));
            if old.is_none_or(|old| old.url != build.url) {
                changes
                    .links
                    .push((build.url.as_bytes().to_vec(), Some(id)));
            }
        }
        for (index, target) in job.targets.iter().enumerate() {
            let kept = written
                .targets
                .get(index)
                .map_or(0, |before| before.builds.len());
            for gone in target.builds.len()..kept {
                changes.batch.remove(build_key(id, index, gone));
            }
        }
        Ok(changes)
    }

    fn apply(&self, changes: Changes) -> Result<(), StoreError> {
        for (key, job) in &changes.links {
            match job {
                Some(job) => self.links.insert(key.as_slice(), &job.0.to_be_bytes())?,
                None => self.links.remove(key.as_slice())?,
            };
        }
        self.records.apply_batch(changes.batch)?;
        Ok(())
    }

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

    /// The stored jobs' ids, newest first.
    fn ids_newest_first(&self) -> impl Iterator<Item = Result<JobId, StoreError>> + '_ {
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

    /// The job ended and said all it had to: it leaves the index of open jobs.
    pub fn close_job(&self, id: JobId) -> Result<(), StoreError> {
        self.records.remove(open_key(id))?;
        self.flush()
    }

    /// How many jobs there are by status (`running`, `finished`, ...), reading only each job's
    /// own record.
    pub fn job_counts(&self) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        let mut counts = std::collections::BTreeMap::new();
        for id in self.ids_newest_first() {
            let Some(head) = self.records.get(head_key(id?))? else {
                continue;
            };
            let job: Job = serde_json::from_slice(&head)?;
            *counts
                .entry(format!("{:?}", job.status).to_lowercase())
                .or_insert(0) += 1;
        }
        Ok(counts)
    }

    /// Deletes jobs that ended before `before`, with their links and messages, and the alerting
    /// records last touched before then ([`Store::compact_alerts`]); returns how many jobs.
    pub fn compact(&self, before: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut removed = 0;
        let ids: Vec<JobId> = self.ids_newest_first().collect::<Result<_, _>>()?;
        for id in ids {
            let Some(job) = self.job(id)? else { continue };
            if job.finished_at.is_none_or(|at| at >= before) {
                continue;
            }
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
    pub(super) fn migrate_v1_jobs(&self, old: &sled::Tree) -> Result<usize, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::model::JobStatus;
    use crate::launchpad::models::BuildState;

    /// A job with two targets of four builds each (written by version 1 of the store).
    fn job_with_builds() -> Job {
        decode_v1(include_bytes!("../../tests/fixtures/store-v1-job-1.json")).unwrap()
    }

    /// Counts the writes to `job`'s records while `during` runs.
    async fn writes_during(store: &Store, id: JobId, during: impl std::future::Future) -> usize {
        let mut events = store.records.watch_prefix(prefix(id));
        during.await;
        let mut count = 0;
        while events
            .next_timeout(std::time::Duration::from_millis(50))
            .is_ok()
        {
            count += 1;
        }
        count
    }

    #[tokio::test]
    async fn a_save_writes_only_what_changed_and_the_job_reads_back_whole() {
        let store = Store::temporary().unwrap();
        let mut job = job_with_builds();
        job.status = JobStatus::Running;
        job.finished_at = None;
        let id = job.id;
        let mut written = Written::default();
        let first = writes_during(&store, id, async {
            assert!(store.save_job(&mut written, &job, false).await.unwrap());
        })
        .await;
        assert_eq!(first, 1 + 2 + 8, "the job, its targets and its builds");
        // Nothing changed: nothing written.
        let none = writes_during(&store, id, async {
            assert!(!store.save_job(&mut written, &job, false).await.unwrap());
        })
        .await;
        assert_eq!(none, 0);
        // One build read: it waits for the next write (at most a second)...
        job.targets[1].builds[2].state = BuildState::CurrentlyBuilding;
        assert!(written.due().is_none());
        let waiting = writes_during(&store, id, async {
            assert!(store.save_job(&mut written, &job, false).await.unwrap());
        })
        .await;
        assert_eq!(waiting, 0);
        let due = written.due().expect("a write is due");
        assert!(due <= tokio::time::Instant::now() + FLUSH_EVERY);
        // ... which writes its record alone.
        tokio::time::sleep_until(due).await;
        let one = writes_during(&store, id, async {
            assert!(store.save_job(&mut written, &job, false).await.unwrap());
        })
        .await;
        assert_eq!(one, 1);
        assert!(written.due().is_none());
        assert_eq!(store.job(id).unwrap().as_ref(), Some(&job));
        // The job ends: its own record, and it stays open until everything is said.
        job.status = JobStatus::Finished;
        let ended = writes_during(&store, id, async {
            assert!(store.save_job(&mut written, &job, false).await.unwrap());
        })
        .await;
        assert_eq!(ended, 1);
        assert_eq!(store.open_jobs().unwrap().len(), 1);
        store.close_job(id).unwrap();
        assert!(store.open_jobs().unwrap().is_empty());
        assert_eq!(store.job(id).unwrap(), Some(job));
    }

    #[tokio::test]
    async fn a_store_reopened_has_every_job_as_saved_and_the_index_of_open_ones() {
        let dir = std::env::temp_dir().join(format!("ib-reopen-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut job = job_with_builds();
        job.status = JobStatus::Running;
        job.finished_at = None;
        {
            let store = Store::open(&dir).unwrap();
            let mut written = Written::default();
            store.save_job(&mut written, &job, false).await.unwrap();
            // A read waiting for the next write is written by one that must be durable.
            job.targets[0].builds[0].state = BuildState::CurrentlyBuilding;
            store.save_job(&mut written, &job, true).await.unwrap();
        }
        let store = Store::open(&dir).unwrap();
        assert_eq!(store.job(job.id).unwrap(), Some(job.clone()));
        assert_eq!(store.unfinished().unwrap(), vec![job]);
        drop(store);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
