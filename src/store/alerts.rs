//! What alerting remembers, so that every failed upload is told exactly once across restarts:
//!
//! - `alerts`, the ledger: a [`LedgerKey`] (a build's `self_link` as Launchpad returns it, and
//!   what of it is told: `LINK#N` its `N`th failed upload, `LINK#unreadable`, `LINK#retried#N`
//!   how the retry after failure `N` ended) → who claimed it ([`LedgerOwner`]), when, and
//!   whether it was said. Claimed before the alert is sent.
//! - `uploads`: a build's `self_link` → [`UploadRecord`], how many of its uploads were seen
//!   failing and what was last seen, for builds no running job follows; and whether a retry the
//!   bot made for it is being followed.
//! - `mutes` (number → [`MuteRecord`]) and `muted` (time and link → [`MutedFailure`]): mutes in
//!   effect and the failures they kept quiet.
//! - `groups`: number → [`GroupRecord`], the builds of a grouped alert, for its Retry button.
//! - `unread`: number → [`UnreadDelivery`], a webhook delivery taken (answered 200) whose read
//!   of its build has not been answered yet: written before the delivery is answered, removed
//!   once Launchpad answered the read, so a restart makes it again.
//!
//! Old records are compacted with the jobs ([`Store::compact_alerts`]).

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use super::{Store, StoreError};
use crate::target::JobId;

/// What the alert ledger records as told once, for the build at `link`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerKey {
    /// Its `failure`th failed upload (`LINK#N`).
    Failure { link: String, failure: u32 },
    /// Launchpad cannot show it: its entry answers 500 (`LINK#unreadable`).
    Unreadable { link: String },
    /// How the retry the bot made after its `failure`th failed upload ended
    /// (`LINK#retried#N`).
    RetryEnded { link: String, failure: u32 },
}

impl LedgerKey {
    /// The build's `self_link`.
    pub fn link(&self) -> &str {
        match self {
            LedgerKey::Failure { link, .. }
            | LedgerKey::Unreadable { link }
            | LedgerKey::RetryEnded { link, .. } => link,
        }
    }

    /// The key as the ledger stores it.
    fn encode(&self) -> String {
        match self {
            LedgerKey::Failure { link, failure } => format!("{link}#{failure}"),
            LedgerKey::Unreadable { link } => format!("{link}#unreadable"),
            LedgerKey::RetryEnded { link, failure } => format!("{link}#retried#{failure}"),
        }
    }

    /// A stored key read back; `None` for one no version of the bot wrote.
    pub(super) fn decode(key: &str) -> Option<LedgerKey> {
        let (rest, last) = key.rsplit_once('#')?;
        if last == "unreadable" {
            return Some(LedgerKey::Unreadable {
                link: rest.to_string(),
            });
        }
        let failure = last.parse().ok()?;
        Some(match rest.strip_suffix("#retried") {
            Some(link) => LedgerKey::RetryEnded {
                link: link.to_string(),
                failure,
            },
            None => LedgerKey::Failure {
                link: rest.to_string(),
                failure,
            },
        })
    }
}

impl std::fmt::Display for LedgerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.encode())
    }
}

/// Who claimed an alert in the ledger: the job that follows the build, or alerting itself for
/// builds no job follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerOwner {
    /// A job (stored as `job N`).
    Job(JobId),
    /// Alerting, for builds no job follows (stored as `untracked`).
    Untracked,
}

impl LedgerOwner {
    fn encode(self) -> String {
        match self {
            LedgerOwner::Job(id) => format!("job {}", id.0),
            LedgerOwner::Untracked => "untracked".to_string(),
        }
    }
}

/// What is known of one build's registry uploads, by its `self_link`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// How many of its uploads were seen failing: the ledger's `N` for the last one.
    pub failures: u32,
    /// The `registry_upload_status` last seen, as Launchpad spells it.
    pub last_status: Option<String>,
    /// A retry the bot made is being followed; its outcome is said in this channel.
    #[serde(default)]
    pub retrying_in: Option<String>,
    /// The last webhook deliveries about it (`X-Launchpad-Delivery`), to tell a new one from
    /// an attempt of one already taken in.
    #[serde(default)]
    pub deliveries: Vec<String>,
    /// Until then, a delivery saying its upload began is the one of the retry the bot made.
    #[serde(default)]
    pub own_attempt_until: Option<DateTime<Utc>>,
    /// When it last changed.
    pub updated_at: Option<DateTime<Utc>>,
}

/// How a claim on the alert ledger went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// Nobody had claimed it: say it.
    New,
    /// The same owner claimed it before and never said it (a crash in between): say it.
    Unsaid,
    /// Said already, or someone else's.
    Said,
}

/// One entry of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct LedgerEntry {
    /// When it was claimed.
    pub(super) at: DateTime<Utc>,
    owner: String,
    /// Whether it was said.
    pub(super) said: bool,
}

impl LedgerEntry {
    /// An entry; one written before owners were recorded (a bare timestamp) counts as said.
    pub(super) fn decode(bytes: &[u8]) -> LedgerEntry {
        serde_json::from_slice(bytes).unwrap_or_else(|_| LedgerEntry {
            at: DateTime::parse_from_rfc3339(&String::from_utf8_lossy(bytes))
                .map(|at| at.with_timezone(&Utc))
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            owner: String::new(),
            said: true,
        })
    }
}

/// A mute of failed-upload alerts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuteRecord {
    /// Its number.
    pub number: u64,
    /// The image it silences; all if `None`.
    pub image: Option<String>,
    /// When it ends.
    pub until: DateTime<Utc>,
    /// Where its end is announced.
    pub channel: String,
}

/// A failed upload a mute kept quiet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MutedFailure {
    /// When it was seen.
    pub at: DateTime<Utc>,
    /// The line `status` shows.
    pub line: String,
}

/// The builds of one grouped alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// Where the alert is.
    pub channel: String,
    /// The builds' `self_link`s, in the order they failed.
    pub builds: Vec<String>,
    /// When the group started.
    pub started_at: DateTime<Utc>,
}

/// A webhook delivery taken whose read of its build has not been answered yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnreadDelivery {
    /// The build's API URL.
    pub build: String,
    /// `X-Launchpad-Delivery`, if it came with one.
    pub delivery: Option<String>,
    /// The payload's `registry_upload_status`, if it had one.
    pub upload_status: Option<String>,
    /// When it was taken.
    pub at: DateTime<Utc>,
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    Ok(serde_json::from_slice(bytes)?)
}

impl Store {
    /// Claims the right to announce an alert for `owner` (a job, or alerting itself): the first
    /// time for `key`, or again for the same owner while the alert is not marked said (a crash
    /// came between the claim and the saying). The claim is on disk before this returns.
    pub fn claim_alert(
        &self,
        key: &LedgerKey,
        owner: LedgerOwner,
        now: DateTime<Utc>,
    ) -> Result<Claimed, StoreError> {
        let owner = owner.encode();
        let claim = LedgerEntry {
            at: now,
            owner: owner.clone(),
            said: false,
        };
        let swapped = self.alerts.compare_and_swap(
            key.encode().as_bytes(),
            None as Option<&[u8]>,
            Some(serde_json::to_vec(&claim)?),
        )?;
        self.flush()?;
        Ok(match swapped {
            Ok(()) => Claimed::New,
            Err(existing) => match existing.current.as_deref().map(LedgerEntry::decode) {
                Some(entry) if !entry.said && entry.owner == owner => Claimed::Unsaid,
                _ => Claimed::Said,
            },
        })
    }

    /// Marks a claimed alert as said.
    pub fn alert_said(&self, key: &LedgerKey) -> Result<(), StoreError> {
        let key = key.encode();
        if let Some(bytes) = self.alerts.get(key.as_bytes())? {
            let mut entry = LedgerEntry::decode(&bytes);
            entry.said = true;
            self.alerts
                .insert(key.as_bytes(), serde_json::to_vec(&entry)?)?;
            self.flush()?;
        }
        Ok(())
    }

    /// The keys claimed by `owner` and never marked said (a key no version of the bot wrote
    /// is left out).
    pub fn unsaid_alerts(&self, owner: LedgerOwner) -> Result<Vec<LedgerKey>, StoreError> {
        let owner = owner.encode();
        let mut keys = Vec::new();
        for entry in self.alerts.iter() {
            let (key, bytes) = entry?;
            let entry = LedgerEntry::decode(&bytes);
            if !entry.said && entry.owner == owner {
                keys.extend(LedgerKey::decode(&String::from_utf8_lossy(&key)));
            }
        }
        Ok(keys)
    }

    /// Whether `key` was claimed.
    pub fn alert_claimed(&self, key: &LedgerKey) -> Result<bool, StoreError> {
        Ok(self.alerts.contains_key(key.encode().as_bytes())?)
    }

    /// What is known of a build's uploads, if anything.
    pub fn upload_record(&self, link: &str) -> Result<Option<UploadRecord>, StoreError> {
        self.uploads
            .get(link.as_bytes())?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// Records what is known of a build's uploads; flushed.
    pub fn put_upload_record(&self, link: &str, record: &UploadRecord) -> Result<(), StoreError> {
        self.uploads
            .insert(link.as_bytes(), serde_json::to_vec(record)?)?;
        self.flush()
    }

    /// Every build whose retry the bot is following.
    pub fn retries_followed(&self) -> Result<Vec<String>, StoreError> {
        let mut links = Vec::new();
        for entry in self.uploads.iter() {
            let (key, bytes) = entry?;
            if decode::<UploadRecord>(&bytes)?.retrying_in.is_some() {
                links.push(String::from_utf8_lossy(&key).into_owned());
            }
        }
        Ok(links)
    }

    /// Records a delivery whose read is still to be answered; flushed. Returns its number.
    pub fn add_unread(&self, unread: &UnreadDelivery) -> Result<u64, StoreError> {
        let number = self.db.generate_id()?;
        self.unread
            .insert(number.to_be_bytes(), serde_json::to_vec(unread)?)?;
        self.flush()?;
        Ok(number)
    }

    /// The read of delivery `number` was answered: forgotten.
    pub fn remove_unread(&self, number: u64) -> Result<(), StoreError> {
        self.unread.remove(number.to_be_bytes())?;
        Ok(())
    }

    /// Every delivery whose read is still to be answered, in the order they were taken.
    pub fn unread(&self) -> Result<Vec<(u64, UnreadDelivery)>, StoreError> {
        let mut unread = Vec::new();
        for entry in self.unread.iter() {
            let (key, bytes) = entry?;
            let number = u64::from_be_bytes(key.as_ref().try_into().unwrap_or_default());
            unread.push((number, decode(&bytes)?));
        }
        Ok(unread)
    }

    /// A new mute, numbered; flushed.
    pub fn add_mute(
        &self,
        image: Option<String>,
        until: DateTime<Utc>,
        channel: &str,
    ) -> Result<MuteRecord, StoreError> {
        let mute = MuteRecord {
            number: self.next_number("last_mute")?,
            image,
            until,
            channel: channel.to_string(),
        };
        self.mutes
            .insert(mute.number.to_be_bytes(), serde_json::to_vec(&mute)?)?;
        self.flush()?;
        Ok(mute)
    }

    /// Every mute not yet ended, by number.
    pub fn mutes(&self) -> Result<Vec<MuteRecord>, StoreError> {
        self.mutes.iter().map(|entry| decode(&entry?.1)).collect()
    }

    /// Ends a mute; `false` if it had ended already.
    pub fn end_mute(&self, number: u64) -> Result<bool, StoreError> {
        let ended = self.mutes.remove(number.to_be_bytes())?.is_some();
        self.flush()?;
        Ok(ended)
    }

    /// Ends every mute; returns how many there were.
    pub fn end_all_mutes(&self) -> Result<usize, StoreError> {
        let count = self.mutes.len();
        self.mutes.clear()?;
        self.flush()?;
        Ok(count)
    }

    /// Records a failure a mute kept quiet.
    pub fn add_muted(&self, link: &str, failure: &MutedFailure) -> Result<(), StoreError> {
        let key = format!("{}|{link}", failure.at.to_rfc3339());
        self.muted
            .insert(key.as_bytes(), serde_json::to_vec(failure)?)?;
        self.flush()
    }

    /// The failures mutes kept quiet, oldest first.
    pub fn muted(&self) -> Result<Vec<MutedFailure>, StoreError> {
        self.muted.iter().map(|entry| decode(&entry?.1)).collect()
    }

    /// Forgets the failures mutes kept quiet.
    pub fn clear_muted(&self) -> Result<(), StoreError> {
        self.muted.clear()?;
        self.flush()
    }

    /// Stores a grouped alert's builds under a new number; returns it.
    pub fn add_group(&self, group: &GroupRecord) -> Result<u64, StoreError> {
        let number = self.next_number("last_group")?;
        self.put_group(number, group)?;
        Ok(number)
    }

    /// Replaces a grouped alert's builds.
    pub fn put_group(&self, number: u64, group: &GroupRecord) -> Result<(), StoreError> {
        self.groups
            .insert(number.to_be_bytes(), serde_json::to_vec(group)?)?;
        self.flush()
    }

    /// A grouped alert's builds.
    pub fn group(&self, number: u64) -> Result<Option<GroupRecord>, StoreError> {
        self.groups
            .get(number.to_be_bytes())?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// Deletes alerting records last touched before `before`: ledger entries, upload records
    /// (but not one whose retry is being followed), failures mutes kept quiet, grouped alerts.
    /// Mutes end by themselves.
    pub(super) fn compact_alerts(&self, before: DateTime<Utc>) -> Result<(), StoreError> {
        for entry in self.alerts.iter() {
            let (key, bytes) = entry?;
            if LedgerEntry::decode(&bytes).at < before {
                self.alerts.remove(key)?;
            }
        }
        for entry in self.uploads.iter() {
            let (key, bytes) = entry?;
            let record: UploadRecord = decode(&bytes)?;
            if record.retrying_in.is_none() && record.updated_at.is_none_or(|at| at < before) {
                self.uploads.remove(key)?;
            }
        }
        for entry in self.muted.iter() {
            let (key, bytes) = entry?;
            if decode::<MutedFailure>(&bytes)?.at < before {
                self.muted.remove(key)?;
            }
        }
        for entry in self.groups.iter() {
            let (key, bytes) = entry?;
            if decode::<GroupRecord>(&bytes)?.started_at < before {
                self.groups.remove(key)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ledger key as stored.
    fn key(stored: &str) -> LedgerKey {
        LedgerKey::decode(stored).unwrap()
    }

    const JOB_1: LedgerOwner = LedgerOwner::Job(JobId(1));
    const JOB_2: LedgerOwner = LedgerOwner::Job(JobId(2));

    #[test]
    fn ledger_keys_read_back_as_written_and_a_retrys_end_is_not_a_failure() {
        let link = "https://api.launchpad.net/devel/~x/+oci/redis/+recipe/r/+build/1";
        for key in [
            LedgerKey::Failure {
                link: link.into(),
                failure: 3,
            },
            LedgerKey::Unreadable { link: link.into() },
            LedgerKey::RetryEnded {
                link: link.into(),
                failure: 2,
            },
        ] {
            assert_eq!(LedgerKey::decode(&key.encode()), Some(key.clone()));
            assert_eq!(key.link(), link);
        }
        assert_eq!(
            key(&format!("{link}#retried#2")),
            LedgerKey::RetryEnded {
                link: link.into(),
                failure: 2
            }
        );
        assert_eq!(LedgerKey::decode(&format!("{link}#later")), None);
    }

    #[test]
    fn an_alert_is_claimed_once_and_again_by_its_owner_only_until_said() {
        let store = Store::temporary().unwrap();
        let now = Utc::now();
        assert_eq!(
            store.claim_alert(&key("build#1"), JOB_1, now).unwrap(),
            Claimed::New
        );
        assert_eq!(
            store.claim_alert(&key("build#1"), JOB_2, now).unwrap(),
            Claimed::Said
        );
        assert_eq!(
            store.claim_alert(&key("build#1"), JOB_1, now).unwrap(),
            Claimed::Unsaid
        );
        assert_eq!(store.unsaid_alerts(JOB_1).unwrap(), [key("build#1")]);
        store.alert_said(&key("build#1")).unwrap();
        assert_eq!(
            store.claim_alert(&key("build#1"), JOB_1, now).unwrap(),
            Claimed::Said
        );
        assert!(store.unsaid_alerts(JOB_1).unwrap().is_empty());
        assert_eq!(
            store.claim_alert(&key("build#2"), JOB_1, now).unwrap(),
            Claimed::New
        );
        assert!(store.alert_claimed(&key("build#1")).unwrap());
    }

    #[test]
    fn a_ledger_entry_of_the_first_format_counts_as_said() {
        let store = Store::temporary().unwrap();
        store
            .alerts
            .insert("old#1", Utc::now().to_rfc3339().as_bytes())
            .unwrap();
        assert_eq!(
            store
                .claim_alert(&key("old#1"), LedgerOwner::Untracked, Utc::now())
                .unwrap(),
            Claimed::Said
        );
    }

    #[test]
    fn old_alerting_records_are_compacted_and_followed_retries_kept() {
        let store = Store::temporary().unwrap();
        let old = Utc::now() - chrono::Duration::days(40);
        let cutoff = Utc::now() - chrono::Duration::days(30);
        store
            .claim_alert(&key("old#1"), LedgerOwner::Untracked, old)
            .unwrap();
        store
            .claim_alert(&key("new#1"), LedgerOwner::Untracked, Utc::now())
            .unwrap();
        let record = |retrying: bool| UploadRecord {
            failures: 1,
            last_status: Some("Failed to upload".into()),
            retrying_in: retrying.then(|| "alerts".to_string()),
            deliveries: Vec::new(),
            own_attempt_until: None,
            updated_at: Some(old),
        };
        store.put_upload_record("old", &record(false)).unwrap();
        store.put_upload_record("retrying", &record(true)).unwrap();
        let failure = |at| MutedFailure {
            at,
            line: "x".into(),
        };
        store.add_muted("old", &failure(old)).unwrap();
        store.add_muted("new", &failure(Utc::now())).unwrap();
        let group = GroupRecord {
            channel: "alerts".into(),
            builds: vec!["old".into()],
            started_at: old,
        };
        let number = store.add_group(&group).unwrap();
        store.compact(cutoff).unwrap();
        assert!(!store.alert_claimed(&key("old#1")).unwrap());
        assert!(store.alert_claimed(&key("new#1")).unwrap());
        assert_eq!(store.upload_record("old").unwrap(), None);
        assert!(store.upload_record("retrying").unwrap().is_some());
        assert_eq!(store.muted().unwrap().len(), 1);
        assert_eq!(store.group(number).unwrap(), None);
    }

    #[test]
    fn mutes_are_numbered_and_end_once() {
        let store = Store::temporary().unwrap();
        let until = Utc::now();
        let first = store.add_mute(None, until, "team").unwrap();
        let second = store.add_mute(Some("redis".into()), until, "team").unwrap();
        assert_eq!((first.number, second.number), (1, 2));
        assert!(store.end_mute(1).unwrap());
        assert!(!store.end_mute(1).unwrap());
        assert_eq!(store.mutes().unwrap(), [second]);
        assert_eq!(store.end_all_mutes().unwrap(), 1);
    }
}
