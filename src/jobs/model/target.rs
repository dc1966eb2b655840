//! One recipe of a job ([`Target`]): its request's phase, the architectures it could not build and
//! why, and why a request failed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::build::{BuildTrack, Poll};
use crate::jobs::notice::RequestFailure;
use crate::target::{Arch, ImageName, Series};

/// One recipe of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The image.
    pub image: ImageName,
    /// The series.
    pub series: Series,
    /// The app version.
    pub track: String,
    /// The recipe's API URL.
    pub recipe_url: String,
    /// The architectures asked for; builds of others are cancelled.
    pub arches: Vec<Arch>,
    /// Where the build request is.
    pub phase: Phase,
    /// The request's builds, once known. Stored apart from the target, each on its own.
    #[serde(skip)]
    pub builds: Vec<BuildTrack>,
    /// When to look at the build request next (or to ask again after a transient failure).
    pub poll: Poll,
    /// Architectures asked for that the request made no build of, and why.
    #[serde(default)]
    pub missing: Vec<Missing>,
    /// `requestBuilds` was sent again after an answer that never came: a later "already
    /// pending" is most likely the first request's own builds.
    #[serde(default)]
    pub asked_again: bool,
    /// When the `requestBuilds` whose builds are followed was sent (handed to the client):
    /// none of its builds can have started before. `None` for a request taken up after its
    /// answer was lost.
    #[serde(default)]
    pub requested_at: Option<DateTime<Utc>>,
    /// Builds of its request that webhook deliveries named before the request's builds were
    /// listed: what the job knows of them should Launchpad fail to list them.
    #[serde(default)]
    pub named_builds: Vec<String>,
    /// Reads of the request's builds answered 500 in a row.
    #[serde(default)]
    pub list_errors: u32,
}

/// An architecture asked for that a request made no build of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    /// The architecture.
    pub arch: Arch,
    /// Why.
    pub why: MissingWhy,
}

/// Why a request made no build of an architecture asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MissingWhy {
    /// Not known yet: the recipe's processors are to be read.
    Unknown,
    /// The recipe does not build it: it is not among its processors.
    NotInProcessors {
        /// The recipe's processors.
        processors: Vec<String>,
    },
    /// The recipe builds it, and Launchpad skipped it: another request's build of it is
    /// queued, or the series cannot build it now (which the architecture's
    /// `distro_arch_series` tells: `checked`). A delivery naming that build until `until`
    /// makes the job follow it.
    Skipped {
        /// Until when a delivery is waited for; `None` without webhooks.
        until: Option<DateTime<Utc>>,
        /// Launchpad said the series can build it: then the only reason left is a queued
        /// build of another request (not seen here).
        #[serde(default)]
        checked: bool,
    },
    /// Launchpad could not list the request's builds (500: one of them cannot be shown,
    /// most likely a failed upload on several registries), and no delivery or read showed a
    /// build of this architecture.
    Unlisted {
        /// Launchpad's OOPS id.
        oops_id: Option<String>,
    },
    /// Launchpad cannot build it now: its `distro_arch_series` in the series OCI builds are
    /// made on is disabled or has no chroot (`launchpad-truths.md`, "Which architectures a
    /// request builds"). Nothing builds it, and no retry helps until Launchpad can.
    NotBuildable,
}

/// Where a target's build request is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Not asked for yet.
    ToRequest,
    /// `requestBuilds` is being sent (attempt 1 or 2). Found at start, it means the last run
    /// stopped mid-request: whether Launchpad got it is unknown.
    Requesting {
        /// Which attempt.
        attempt: u8,
        /// When it was sent (a build request made then may be this one's).
        #[serde(default)]
        sent_at: Option<DateTime<Utc>>,
    },
    /// The answer to `requestBuilds` never came: until `until`, a webhook delivery naming a
    /// build request of this recipe made when it was sent is taken for this one's; after, it
    /// is sent again.
    InDoubt {
        /// Which attempt was lost.
        attempt: u8,
        /// When it was sent.
        sent_at: Option<DateTime<Utc>>,
        /// How long a delivery is waited for.
        until: DateTime<Utc>,
    },
    /// Launchpad took the request; its builds are not made yet.
    Requested {
        /// The build request.
        request_url: String,
    },
    /// The builds are known and followed.
    Following {
        /// The build request.
        request_url: String,
    },
    /// Launchpad answered that identical builds are already queued: nothing was requested.
    AlreadyPending,
    /// The request failed.
    Failed {
        /// Why.
        reason: RequestFailure,
    },
    /// Cancelled before it was requested.
    Cancelled,
}

impl Target {
    /// The target's builds that were asked for.
    pub fn wanted(&self) -> impl Iterator<Item = &BuildTrack> {
        self.builds.iter().filter(|build| build.wanted)
    }

    /// Whether the target will not change without someone asking (a wait for a delivery that
    /// has passed its time counts as over: `now`).
    pub fn is_settled(&self, auto_retry: bool, budget: u32, now: DateTime<Utc>) -> bool {
        match self.phase {
            Phase::ToRequest
            | Phase::Requesting { .. }
            | Phase::InDoubt { .. }
            | Phase::Requested { .. } => false,
            Phase::AlreadyPending | Phase::Failed { .. } | Phase::Cancelled => true,
            Phase::Following { .. } => {
                self.builds
                    .iter()
                    .all(|build| build.is_settled(auto_retry, budget))
                    && self.missing.iter().all(|missing| match missing.why {
                        MissingWhy::Unknown => false,
                        MissingWhy::NotInProcessors { .. }
                        | MissingWhy::NotBuildable
                        | MissingWhy::Unlisted { .. } => true,
                        MissingWhy::Skipped { until, .. } => until.is_none_or(|until| until <= now),
                    })
            }
        }
    }

    /// Whether the target waits for a webhook delivery: one naming its lost build request, or
    /// the queued build of an architecture Launchpad skipped.
    pub fn awaits_delivery(&self, now: DateTime<Utc>) -> bool {
        matches!(self.phase, Phase::Requesting { .. } | Phase::InDoubt { .. })
            || self.missing.iter().any(|missing| match missing.why {
                MissingWhy::Skipped { until, .. } => until.is_some_and(|until| until > now),
                _ => false,
            })
    }

    /// Whether Launchpad could not list its request's builds, so that the job follows those
    /// deliveries name instead ([`crate::jobs::machine`]).
    pub fn unlisted(&self) -> bool {
        matches!(self.phase, Phase::Following { .. }) && self.list_errors >= super::UNREADABLE_AFTER
    }

    /// Whether its builds are known and the unwanted ones cancelled (or ended): what
    /// `build` without `--wait` waits for before it says where the builds are.
    pub fn builds_known(&self) -> bool {
        match self.phase {
            Phase::ToRequest
            | Phase::Requesting { .. }
            | Phase::InDoubt { .. }
            | Phase::Requested { .. } => false,
            Phase::AlreadyPending | Phase::Failed { .. } | Phase::Cancelled => true,
            Phase::Following { .. } => {
                self.missing
                    .iter()
                    .all(|missing| missing.why != MissingWhy::Unknown)
                    && self
                        .builds
                        .iter()
                        .filter(|build| !build.wanted)
                        .all(|build| {
                            build.pending_calls.is_empty()
                                && (build.cancel_sent || !build.can_be_cancelled)
                        })
            }
        }
    }
}
