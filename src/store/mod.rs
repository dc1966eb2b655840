//! The bot's memory, in sled: jobs, an index from Launchpad links to jobs, the chat messages
//! each job owns, what alerting remembers ([`alerts`]: the ledger, each build's uploads, mutes,
//! grouped alerts), and a schema version checked at start. Every write is flushed before it
//! returns, so a state change is on disk before anything it causes is sent or said.
//!
//! Trees: `meta` (schema version, last job and group ids), `job_records` (each job in pieces,
//! and the index of open jobs: [`jobs`]), `links` (build and build request URL → job id),
//! `messages` (job id → its board message and whether its summary went out), `history` (build
//! URL → what was built when: [`crate::history`]), and those of [`alerts`].
//!
//! This module stores; it never decides. The records are plain data whose meaning belongs to
//! the modules that write them.

use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::target::JobId;

pub mod alerts;
pub mod dashboard;
mod history;
mod jobs;

pub use alerts::{
    Claimed, GroupRecord, LedgerKey, LedgerOwner, MuteRecord, MutedFailure, UnreadDelivery,
    UploadRecord,
};
pub use jobs::{decode_v1, Written};

/// The layout this code reads and writes. Bump it with a migration when the layout changes.
/// Version 1 kept each job whole in one record (rewritten on every change); version 2 keeps
/// it in pieces ([`jobs`]). A version 1 store is migrated when opened.
pub const SCHEMA_VERSION: u32 = 2;

/// A store that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled failed (disk full, permissions, corruption).
    #[error("the job store failed: {0}")]
    Sled(#[from] sled::Error),
    /// A record did not decode.
    #[error("the job store holds a record this version cannot read ({0})")]
    Decode(#[from] serde_json::Error),
    /// Another process holds the store (sled locks it).
    #[error("the job store at {path} is in use by {holder}: wait for it to end (`image-builder status` and `jobs` can still look)")]
    Busy {
        /// Where the store is.
        path: String,
        /// Who holds it, as it wrote itself down (`process 1234: image-builder build ...`).
        holder: String,
    },
    /// The store's directory could not be made or copied.
    #[error("the job store at {path}: {cause}")]
    Io {
        /// Where the store is.
        path: String,
        /// What went wrong.
        cause: std::io::Error,
    },
    /// The store was written by another layout.
    #[error("the job store at {path} has schema version {found}; this image-builder reads version {SCHEMA_VERSION}")]
    Schema {
        /// Where the store is.
        path: String,
        /// What it says.
        found: String,
    },
}

/// The messages a job owns in chat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessages {
    /// The channel they are in.
    pub channel: String,
    /// The status board's message id, once sent.
    pub board: Option<String>,
    /// Whether the final summary went out.
    pub summary_sent: bool,
    /// When the board's message was sent (it moves to a new one before chats refuse edits).
    #[serde(default)]
    pub board_sent_at: Option<DateTime<Utc>>,
}

/// The file in the store's directory naming the process that holds it.
const HOLDER: &str = "holder";

/// Copies a directory's files (sled's `conf`, `db`, snapshots, blobs) into a new one, made
/// private like the store.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    crate::launchpad::auth::create_private_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if entry.file_name() != HOLDER {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// The `links` key under which a job waiting for word of a recipe's builds is found.
fn awaiting_key(recipe_url: &str) -> String {
    format!("awaiting:{recipe_url}")
}

/// The store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    meta: sled::Tree,
    records: sled::Tree,
    links: sled::Tree,
    alerts: sled::Tree,
    messages: sled::Tree,
    uploads: sled::Tree,
    mutes: sled::Tree,
    muted: sled::Tree,
    groups: sled::Tree,
    history: sled::Tree,
    history_index: sled::Tree,
    unread: sled::Tree,
    /// Moved on after every flush ([`Store::writes`]).
    writes: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
}

impl Store {
    /// Opens (or creates) the store in `dir`, which is made readable by its owner only. Only
    /// one process at a time can hold it: another gets [`StoreError::Busy`], naming the holder.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.display().to_string();
        let io = |cause| StoreError::Io {
            path: path.clone(),
            cause,
        };
        if dir.exists() && !dir.is_dir() {
            return Err(io(std::io::Error::other(
                "it is a file, not a directory: give a directory (or one to be made)",
            )));
        }
        crate::launchpad::auth::create_private_dir(dir).map_err(io)?;
        // Every write is flushed before it returns, so sled's background flusher is redundant;
        // without it the store's lock is released as soon as the last handle is dropped, and a
        // restarted engine (or the next process) can open it at once. sled's page cache
        // defaults to 1 GiB; the store's working set (open jobs, the newest history) is a few
        // megabytes, so a 1 MiB cache bounds the bot's memory without costing reads.
        let db = match sled::Config::new()
            .path(dir)
            .flush_every_ms(None)
            .cache_capacity(1 << 20)
            .open()
        {
            Ok(db) => db,
            Err(sled::Error::Io(error)) if error.to_string().contains("could not acquire lock") => {
                let holder = std::fs::read_to_string(dir.join(HOLDER))
                    .map(|text| text.trim().to_string())
                    .unwrap_or_else(|_| "another process".to_string());
                return Err(StoreError::Busy { path, holder });
            }
            Err(error) => return Err(error.into()),
        };
        let holder = format!(
            "process {}: {}",
            std::process::id(),
            std::env::args().take(3).collect::<Vec<_>>().join(" ")
        );
        std::fs::write(dir.join(HOLDER), holder).map_err(io)?;
        Store::with_db(db, &path)
    }

    /// A copy of the store in `dir` as it is now, for reading while another process holds
    /// it: every write is flushed, so the copy is what a crash at this instant would leave,
    /// which sled recovers. The copy disappears when dropped.
    pub fn open_snapshot(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.display().to_string();
        let copy = std::env::temp_dir().join(format!(
            "image-builder-snapshot-{}-{}",
            std::process::id(),
            Utc::now().timestamp_nanos_opt().unwrap_or_default()
        ));
        copy_dir(dir, &copy).map_err(|cause| StoreError::Io {
            path: path.clone(),
            cause,
        })?;
        let db = sled::Config::new()
            .path(&copy)
            .temporary(true)
            .flush_every_ms(None)
            .open()?;
        Store::with_db(db, &path)
    }

    /// A store that disappears when dropped (the sandbox's default).
    pub fn temporary() -> Result<Store, StoreError> {
        let db = sled::Config::new().temporary(true).open()?;
        Store::with_db(db, "(temporary)")
    }

    fn with_db(db: sled::Db, path: &str) -> Result<Store, StoreError> {
        let meta = db.open_tree("meta")?;
        let found = meta.get("schema")?;
        let found = found.map(|found| String::from_utf8_lossy(&found).into_owned());
        let current = SCHEMA_VERSION.to_string();
        let migrate = match found.as_deref() {
            None => false,
            Some("1") => true,
            Some(version) if version == current => false,
            Some(version) => {
                return Err(StoreError::Schema {
                    path: path.to_string(),
                    found: version.to_string(),
                })
            }
        };
        let store = Store {
            records: db.open_tree("job_records")?,
            links: db.open_tree("links")?,
            alerts: db.open_tree("alerts")?,
            messages: db.open_tree("messages")?,
            uploads: db.open_tree("uploads")?,
            mutes: db.open_tree("mutes")?,
            muted: db.open_tree("muted")?,
            groups: db.open_tree("groups")?,
            history: db.open_tree("history")?,
            history_index: db.open_tree("history_index")?,
            unread: db.open_tree("unread")?,
            writes: std::sync::Arc::new(tokio::sync::watch::channel(0).0),
            meta,
            db,
        };
        if migrate {
            // Crash-safe: the version says 1 until every job is moved, and moving one again
            // writes it whole again.
            let old = store.db.open_tree("jobs")?;
            let moved = store.migrate_v1_jobs(&old)?;
            store.meta.insert("schema", current.as_bytes())?;
            store.db.flush()?;
            store.db.drop_tree("jobs")?;
            tracing::info!(path, moved, "migrated the job store from version 1");
        } else if found.is_none() {
            store.meta.insert("schema", current.as_bytes())?;
        }
        let indexed = store.index_history()?;
        if indexed > 0 {
            tracing::info!(path, indexed, "indexed the build history");
        }
        store.db.flush()?;
        Ok(store)
    }

    /// The last job number given, 0 if none.
    pub fn last_job_id(&self) -> Result<u64, StoreError> {
        Ok(self
            .meta
            .get("last_job")?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0))
    }

    /// Runs `work` on the store on a blocking thread, off tokio's workers: sled's reads may wait
    /// for the disk and its flushes always do, and one slow disk must not stall every chat
    /// answer. Every call on the store from async code goes through here (or
    /// [`Store::save_job`], which does the same).
    pub async fn blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|error| StoreError::Io {
                path: "(the store's blocking thread)".to_string(),
                cause: std::io::Error::other(error.to_string()),
            })?
    }

    /// Waits until every write is on disk: the one call of the store that always waits for
    /// the disk. Never on a tokio worker: on a blocking thread when called through
    /// [`Store::blocking`] or [`Store::save_job`], and otherwise (an alert's claim, a job's
    /// messages, written from async code that must not go on before they are on disk) in
    /// [`tokio::task::block_in_place`], which hands the worker's other tasks to another thread
    /// for as long as the disk takes. Outside a multi-threaded runtime it simply waits.
    pub(crate) fn flush(&self) -> Result<(), StoreError> {
        let on_worker = tokio::runtime::Handle::try_current().is_ok_and(|runtime| {
            runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        });
        if on_worker {
            tokio::task::block_in_place(|| self.db.flush())?;
        } else {
            self.db.flush()?;
        }
        self.writes.send_modify(|count| *count += 1);
        Ok(())
    }

    /// A new job number, never given before.
    pub fn next_job_id(&self) -> Result<JobId, StoreError> {
        self.next_number("last_job").map(JobId)
    }

    /// The next number of the counter `key` in `meta`, from 1; flushed, so never given twice.
    pub(crate) fn next_number(&self, key: &str) -> Result<u64, StoreError> {
        let next = self.meta.update_and_fetch(key, |old| {
            let last = old
                .and_then(|bytes| <[u8; 8]>::try_from(bytes).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            Some((last + 1).to_be_bytes().to_vec())
        })?;
        self.flush()?;
        let bytes = next.and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok());
        Ok(bytes.map(u64::from_be_bytes).unwrap_or(1))
    }

    /// The job waiting for word of a build request or build of `recipe_url`, if one is.
    pub fn job_awaiting(&self, recipe_url: &str) -> Result<Option<JobId>, StoreError> {
        self.job_for_link(&awaiting_key(recipe_url))
    }

    /// The job that owns a build or build request link.
    pub fn job_for_link(&self, url: &str) -> Result<Option<JobId>, StoreError> {
        Ok(self
            .links
            .get(url.as_bytes())?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
            .map(|bytes| JobId(u64::from_be_bytes(bytes))))
    }

    /// The messages a job owns.
    pub fn messages(&self, id: JobId) -> Result<JobMessages, StoreError> {
        match self.messages.get(id.0.to_be_bytes())? {
            Some(bytes) => Ok(serde_json::from_slice(&bytes)?),
            None => Ok(JobMessages::default()),
        }
    }

    /// Records the messages a job owns; flushed.
    pub fn put_messages(&self, id: JobId, messages: &JobMessages) -> Result<(), StoreError> {
        self.messages
            .insert(id.0.to_be_bytes(), serde_json::to_vec(messages)?)?;
        self.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::model::{Job, JobStatus};
    use crate::plan::Plan;

    fn job(id: u64, finished_at: Option<DateTime<Utc>>) -> Job {
        let now = Utc::now();
        let mut job = Job::new(crate::jobs::NewJob {
            id: JobId(id),
            requester: "alice",
            channel: "team",
            command: "rebuild redis",
            plan: &Plan {
                targets: vec![],
                skipped: 0,
            },
            api_root: "http://lp/devel/",
            auto_retry_uploads: false,
            reason: None,
            now,
            deadline: now,
            hooks: Vec::new(),
        });
        if finished_at.is_some() {
            job.status = JobStatus::Finished;
            job.finished_at = finished_at;
        }
        job
    }

    #[test]
    fn job_ids_are_never_reused_and_jobs_round_trip() {
        let store = Store::temporary().unwrap();
        assert_eq!(store.next_job_id().unwrap(), JobId(1));
        assert_eq!(store.next_job_id().unwrap(), JobId(2));
        let stored = job(2, None);
        store.put_job(&stored).unwrap();
        assert_eq!(store.job(JobId(2)).unwrap(), Some(stored));
        assert_eq!(store.unfinished().unwrap().len(), 1);
    }

    #[test]
    fn compaction_removes_only_jobs_that_ended_before_the_cutoff() {
        let store = Store::temporary().unwrap();
        let long_ago = Utc::now() - chrono::Duration::days(40);
        store.put_job(&job(1, Some(long_ago))).unwrap();
        store.put_job(&job(2, Some(Utc::now()))).unwrap();
        store.put_job(&job(3, None)).unwrap();
        let removed = store
            .compact(Utc::now() - chrono::Duration::days(30))
            .unwrap();
        assert_eq!(removed, 1);
        let left: Vec<u64> = store.jobs().unwrap().iter().map(|job| job.id.0).collect();
        assert_eq!(left, [3, 2]);
    }

    #[test]
    fn a_store_is_private_and_can_be_read_from_a_copy_while_held() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("ib-held-{}", std::process::id()));
        let held = Store::open(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the store is its owner's only");
        held.put_job(&job(7, None)).unwrap();
        // (Refusing a second holder is sled's lock, across processes: tests/cli.rs.)
        let copy = Store::open_snapshot(&dir).unwrap();
        assert_eq!(
            copy.job(JobId(7)).unwrap().map(|job| job.id),
            Some(JobId(7))
        );
        drop(copy);
        drop(held);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_store_of_another_schema_is_refused() {
        let dir = std::env::temp_dir().join(format!("ib-schema-{}", std::process::id()));
        {
            let db = sled::open(&dir).unwrap();
            db.open_tree("meta")
                .unwrap()
                .insert("schema", "99")
                .unwrap();
            db.flush().unwrap();
        }
        let error = Store::open(&dir).err().expect("refused");
        assert!(error.to_string().contains("schema version 99"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
