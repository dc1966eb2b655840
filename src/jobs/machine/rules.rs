//! The rules a job is driven by: how often Launchpad is read, how long each stage typically
//! takes, when a request is given up, how uploads are retried.

use std::time::Duration;

/// The timings and budgets the machine works with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The shortest wait between two looks at the same thing.
    pub poll_min: Duration,
    /// The longest.
    pub poll_max: Duration,
    /// How long to wait before asking again after Launchpad could not be reached.
    pub request_retry: Duration,
    /// Auto-retries of one build's upload.
    pub upload_retry_budget: u32,
    /// The wait before the first auto-retry; it doubles with each.
    pub upload_retry_delay: Duration,
    /// After a `requestBuilds` whose answer was lost, how long to wait for a webhook delivery
    /// naming the build request it made before sending it again; `None` when no webhook
    /// deliveries reach this process (then it is sent again at once).
    pub request_grace: Option<Duration>,
    /// How long to wait for a delivery naming the queued build (of another request) that made
    /// Launchpad skip an architecture asked for; `None` without deliveries.
    pub queued_grace: Option<Duration>,
    /// Whether webhook deliveries reach this process: then they decide when a build is read,
    /// and polls are only a safety net for a lost delivery ([`schedule`]).
    pub pushed: bool,
    /// How long each stage of a build typically lasts, which paces the reads without
    /// deliveries: [`Typical`].
    pub typical: Typical,
}

/// How long things typically take on Launchpad. Without deliveries, a build is read when its
/// stage should be over (`queue` after it was seen queued, ...), then every quarter of that
/// (within `poll_min` and `poll_max`) while it overruns: a handful of reads per build instead
/// of one every `poll_min`. With deliveries, a build is read only when a delivery says it
/// ended, and at twice its stage's typical time plus `poll_max` should the delivery be lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Typical {
    /// From `requestBuilds` to its builds existing (Launchpad's build-request job).
    pub request: Duration,
    /// A build waiting for a builder.
    pub queue: Duration,
    /// A builder working on it, and Launchpad taking its files in.
    pub build: Duration,
    /// The registry upload.
    pub upload: Duration,
    /// Less than a build takes from the queue to its end (a builder is dispatched and reset,
    /// the image built, its files gathered): a build seen queued less than this ago whose
    /// cancel is answered is known cancelled without a read. Launchpad cancels a queued build
    /// at once and a building one within moments (`Cancelling build`, then `Cancelled build`);
    /// only a build that already ended ignores a cancel. (One that failed at once could end
    /// sooner: the board then shows it cancelled, which is what was asked.)
    pub shortest_build: Duration,
}

impl Default for Typical {
    /// An OCI build on Launchpad: its builds exist within half a minute, queue a few minutes,
    /// build in ten to thirty, upload in a few.
    fn default() -> Typical {
        Typical {
            request: Duration::from_secs(30),
            queue: Duration::from_secs(5 * 60),
            build: Duration::from_secs(20 * 60),
            upload: Duration::from_secs(5 * 60),
            shortest_build: Duration::from_secs(5 * 60),
        }
    }
}

impl Typical {
    /// Every duration divided by `speed` (a simulator's clock running faster), none below
    /// `floor`.
    pub fn scaled(self, speed: f64, floor: Duration) -> Typical {
        let scale = |duration: Duration| duration.div_f64(speed.max(1.0)).max(floor);
        Typical {
            request: scale(self.request),
            queue: scale(self.queue),
            build: scale(self.build),
            upload: scale(self.upload),
            shortest_build: scale(self.shortest_build),
        }
    }
}

impl Default for Rules {
    /// Launchpad's pace: builds take minutes, so looking every 15 s to 5 min loses nothing; a
    /// failed upload is retried after 1, 2, 4 minutes.
    fn default() -> Rules {
        Rules {
            poll_min: Duration::from_secs(15),
            poll_max: Duration::from_secs(300),
            request_retry: Duration::from_secs(60),
            upload_retry_budget: 3,
            upload_retry_delay: Duration::from_secs(60),
            request_grace: None,
            queued_grace: None,
            pushed: false,
            typical: Typical::default(),
        }
    }
}
