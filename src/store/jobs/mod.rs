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

use chrono::Utc;

use super::{awaiting_key, Store, StoreError};
use crate::jobs::model::{BuildTrack, Job, Phase, Target};
use crate::target::JobId;

mod compact;
mod read;

pub use compact::decode_v1;

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

/// What of a job is in the store, so that the next write can leave out what did not change.
/// Empty: nothing known, everything is written.
#[derive(Debug, Default)]
pub struct Written {
    /// The job's own record (its targets left out).
    head: Option<Job>,
    targets: Vec<WrittenTarget>,
    /// When the job was last written.
    flushed_at: Option<std::time::Instant>,
    /// Changes to builds wait for the next write.
    deferred: bool,
    /// The next write looks again at which of the job's recipes wait for word of their builds
    /// (time has passed since the job was read).
    relink: bool,
}

/// A target's record as written, and what was written of its builds.
#[derive(Debug)]
struct WrittenTarget {
    /// Without its builds.
    record: Target,
    builds: Vec<WrittenBuild>,
}

/// A build as written: which build (the URL, shared with the job's), and its record's
/// [`BuildTrack::record_fingerprint`].
#[derive(Debug)]
struct WrittenBuild {
    url: std::sync::Arc<str>,
    fingerprint: u64,
}

impl WrittenBuild {
    fn of(build: &BuildTrack) -> WrittenBuild {
        WrittenBuild {
            url: build.url.clone(),
            fingerprint: build.record_fingerprint(),
        }
    }

    /// Whether `build`'s record is the one written: the same build (`Arc`s of an `Eq` type that
    /// point to one allocation are equal without reading it), the same fingerprint.
    fn is(&self, build: &BuildTrack) -> bool {
        self.url == build.url && self.fingerprint == build.record_fingerprint()
    }
}

impl Written {
    /// What is stored of `job`, as it was just read from the store: the next write writes only
    /// what changed since (a restart writes nothing again of the jobs it resumes), and looks
    /// again at which of its recipes wait for word of their builds.
    pub fn stored(job: &Job) -> Written {
        Written {
            head: Some(job.head()),
            targets: job
                .targets
                .iter()
                .map(|target| WrittenTarget {
                    record: target.without_builds(),
                    builds: target.builds.iter().map(WrittenBuild::of).collect(),
                })
                .collect(),
            flushed_at: None,
            deferred: false,
            relink: true,
        }
    }

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
            .is_some_and(|head| head.same_head(job)),
        targets: Vec::new(),
        builds: Vec::new(),
        shrunk: false,
    };
    for (index, target) in job.targets.iter().enumerate() {
        let before = written.targets.get(index);
        if !before.is_some_and(|before| before.record.same_record(target)) {
            diff.targets.push(index);
        }
        let kept = before.map_or(&[][..], |before| &before.builds[..]);
        diff.shrunk |= kept.len() > target.builds.len();
        for (build_index, build) in target.builds.iter().enumerate() {
            if !kept.get(build_index).is_some_and(|old| old.is(build)) {
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
        if changes.head.is_none()
            && changes.targets.is_empty()
            && changes.builds.is_empty()
            && changes.links.is_empty()
        {
            written.deferred = false;
            written.relink = false;
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
        written.relink = false;
        if let Some(head) = head {
            written.head = Some(head);
        }
        written.targets.truncate(job.targets.len());
        for index in targets {
            let record = job.targets[index].without_builds();
            match written.targets.get_mut(index) {
                Some(old) => old.record = record,
                None => written.targets.push(WrittenTarget {
                    record,
                    builds: Vec::new(),
                }),
            }
        }
        for (target, index) in builds {
            let build = WrittenBuild::of(&job.targets[target].builds[index]);
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
            changes.head = Some(job.head());
        }
        for &index in &changes.targets {
            let target = &job.targets[index];
            changes.batch.insert(
                target_key(id, index),
                serde_json::to_vec(&target.without_builds())?,
            );
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
            if !diff.head && !written.relink && !changes.targets.contains(&index) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::model::JobStatus;
    use crate::launchpad::models::BuildState;

    /// A job with two targets of four builds each (written by version 1 of the store).
    fn job_with_builds() -> Job {
        decode_v1(include_bytes!(
            "../../../tests/fixtures/store-v1-job-1.json"
        ))
        .unwrap()
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
