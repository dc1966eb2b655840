//! What of a job a restart needs, decided here beside the fields rather than in the store: a
//! job is stored as its own record (its targets left out, [`Job::head`]), one per target (its
//! builds left out, [`Target::without_builds`]) and one per build, and a record is written only
//! when it differs from the stored one in what a restart needs (the job's and a target's
//! compared, a build's by its fingerprint).
//! What a restart reads again from Launchpad (when to look next, the last answer's ETag, when a
//! build entered its stage) does not count as a difference, so a read that found nothing new
//! writes nothing.
//!
//! Each function destructures its type without `..`: a field added to [`Job`], [`Target`] or
//! [`BuildTrack`] does not compile until it is placed here, compared or deliberately not.

use std::hash::{Hash, Hasher};

use super::{BuildTrack, Job, Target};

impl Job {
    /// A job's own record: the job without its targets.
    pub fn head(&self) -> Job {
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
        } = self;
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
    pub fn same_head(&self, b: &Job) -> bool {
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
        } = self;
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
}

impl Target {
    /// The target without its builds: what its record holds.
    pub fn without_builds(&self) -> Target {
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
        } = self;
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
    pub fn same_record(&self, b: &Target) -> bool {
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
        } = self;
        *phase == b.phase
            && *missing == b.missing
            && *asked_again == b.asked_again
            && *requested_at == b.requested_at
            && *named_builds == b.named_builds
            && *list_errors == b.list_errors
    }
}

impl BuildTrack {
    /// A fingerprint of the build's record as far as a restart cares: two reads that differ only
    /// in what a restart reads again (when to look next, when it was last seen queued or entered
    /// its stage, the ETag of the last answer: a restart reads every build again, and an older
    /// ETag only costs a 200 instead of a 304) have the same one, so a read that found nothing
    /// new writes nothing. The build's identity (its URL, whose web link and architecture come
    /// with it) is not in it: the store keeps the URL beside the fingerprint. A fingerprint, not
    /// a copy: the store keeps one per build it wrote, and a copy of every build doubled the
    /// engine's memory.
    pub fn record_fingerprint(&self) -> u64 {
        let BuildTrack {
            url: _,
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
            dates,
        } = self;
        let mut hasher = Fingerprinter(0);
        (state, upload, pending_calls, generation, read_errors).hash(&mut hasher);
        (cancel_sent, can_be_retried, can_be_cancelled, wanted).hash(&mut hasher);
        (
            upload_failures,
            auto_retries,
            upload_by_auto_retry,
            retry_due,
        )
            .hash(&mut hasher);
        (upload_error, upload_refusal, unreadable, delivered).hash(&mut hasher);
        (upload_log_url, log_url, log, dates).hash(&mut hasher);
        hasher.finish()
    }
}

/// The hasher of [`BuildTrack::record_fingerprint`]: FxHash's step (rotate, exclusive or,
/// multiply by an odd constant) per 8 bytes, about ten times cheaper than std's SipHash, which
/// was a tenth of the engine's CPU (it runs for every build at every save). It resists no
/// attacker, and needs not: for a given word each step is a bijection of the state, and for a
/// given state of the word, so two records that differ in one field of the same length never
/// share a fingerprint; records that differ otherwise do with a chance of about 2⁻⁶⁴.
struct Fingerprinter(u64);

impl Fingerprinter {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for Fingerprinter {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.add(u64::from_le_bytes(word.try_into().expect("8 bytes")));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::model::Poll;
    use crate::launchpad::models::{BuildState, UploadStatus};

    fn build() -> BuildTrack {
        let url = "https://api.launchpad.net/devel/~x/+oci/redis/+recipe/r/+build/1".to_string();
        let poll = Poll {
            due: chrono::Utc::now(),
            interval_ms: 1000,
        };
        BuildTrack::new(url.clone(), url, "arm64".parse().unwrap(), true, poll)
    }

    #[test]
    fn a_fingerprint_changes_with_what_a_restart_needs_and_not_with_what_it_does_not() {
        let first = build();
        let same = first.record_fingerprint();
        let mut volatile = first.clone();
        volatile.etag = Some("\"abc\"".into());
        volatile.poll.interval_ms = 5000;
        volatile.stage_since = Some(chrono::Utc::now());
        assert_eq!(
            volatile.record_fingerprint(),
            same,
            "etag, poll and stage_since are not kept"
        );
        let changes: [fn(&mut BuildTrack); 6] = [
            |b| b.state = BuildState::CurrentlyBuilding,
            |b| b.upload = UploadStatus::FailedToUpload,
            |b| b.upload_failures = 1,
            |b| b.read_errors = 2,
            |b| b.wanted = false,
            |b| b.log_url = Some("https://launchpad.net/log".into()),
        ];
        let mut seen = vec![same];
        for change in changes {
            let mut changed = first.clone();
            change(&mut changed);
            let fingerprint = changed.record_fingerprint();
            assert!(
                !seen.contains(&fingerprint),
                "{changed:?} has a fingerprint seen before"
            );
            seen.push(fingerprint);
        }
    }
}
