//! One back-off for every loop that tries again: waits that double from a first one up to a
//! longest, for a number of waits or without end. Launchpad's client (with jitter and a total
//! budget on top: [`crate::launchpad::retry::RetryPolicy`]), the chat adapters' calls, the
//! Mattermost socket and the end of a job (its last board edit, its summary) all wait by it.

use std::time::Duration;

/// Doubling waits: `first`, `2 × first`, `4 × first` ... each at most `longest`; after `waits`
/// of them (if limited), none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    longest: Duration,
    /// How many waits in all; `None`: without end.
    waits: Option<u32>,
    /// How many were taken since the start (or the last [`Backoff::reset`]).
    taken: u32,
}

impl Backoff {
    /// Waits from `first`, doubling, each at most `longest`, without end.
    pub const fn new(first: Duration, longest: Duration) -> Backoff {
        Backoff {
            first,
            longest,
            waits: None,
            taken: 0,
        }
    }

    /// The same, but only `waits` of them: then the caller gives up.
    pub const fn at_most(self, waits: u32) -> Backoff {
        Backoff {
            waits: Some(waits),
            ..self
        }
    }

    /// The `n`th wait (0 the first), regardless of how many were taken.
    pub fn nth(&self, n: u32) -> Duration {
        self.first
            .saturating_mul(1u32 << n.min(16))
            .min(self.longest)
    }

    /// The next wait, or `None` when every wait allowed was taken.
    pub fn next_wait(&mut self) -> Option<Duration> {
        if self.waits.is_some_and(|waits| self.taken >= waits) {
            return None;
        }
        let wait = self.nth(self.taken);
        self.taken = self.taken.saturating_add(1);
        Some(wait)
    }

    /// From the first wait again (what was tried worked).
    pub fn reset(&mut self) {
        self.taken = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(seconds: u64) -> Duration {
        Duration::from_secs(seconds)
    }

    #[test]
    fn waits_double_up_to_the_longest_and_stop_after_the_last_allowed() {
        let mut backoff = Backoff::new(s(1), s(64)).at_most(8);
        let waits: Vec<Duration> = std::iter::from_fn(|| backoff.next_wait()).collect();
        assert_eq!(
            waits,
            [1, 2, 4, 8, 16, 32, 64, 64].map(s).to_vec(),
            "doubling, capped, eight in all"
        );
    }

    #[test]
    fn an_endless_backoff_stays_at_the_longest_and_a_reset_starts_again() {
        let mut backoff = Backoff::new(Duration::from_millis(500), s(60));
        for _ in 0..40 {
            backoff.next_wait();
        }
        assert_eq!(backoff.next_wait(), Some(s(60)));
        backoff.reset();
        assert_eq!(backoff.next_wait(), Some(Duration::from_millis(500)));
        assert_eq!(backoff.next_wait(), Some(s(1)));
    }
}
