//! When to try a Launchpad request again, and how long to wait first. Pure: the client asks,
//! passing the attempt number, the time spent so far and any `Retry-After`.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use crate::backoff::Backoff;

/// How hard the client tries before it gives up on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles with each attempt after.
    pub first_delay: Duration,
    /// No single wait is longer.
    pub max_delay: Duration,
    /// No request goes on (waits and attempts) for longer than this.
    pub total: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts over at most two minutes: long enough to ride out a Launchpad appserver
    /// restart, short enough that a job notices a real outage while someone is watching.
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            first_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            total: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`, after `attempt` attempts that took `elapsed` in
    /// all; `None` when the policy says stop. The wait is exponential with jitter (between half
    /// and all of the step, so clients that failed together do not return together), or what
    /// `Retry-After` asked for if that is longer. A wait that would end past the total budget is
    /// not taken: better to fail now than to sleep and fail anyway.
    pub fn delay(
        &self,
        attempt: u32,
        elapsed: Duration,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let step = Backoff::new(self.first_delay, self.max_delay).nth(attempt.saturating_sub(1));
        let jittered = step / 2 + step.mul_f64(jitter() / 2.0);
        let delay = retry_after.map_or(jittered, |asked| asked.max(jittered));
        (elapsed + delay <= self.total).then_some(delay)
    }
}

/// A number in [0, 1) that differs from call to call. Jitter needs no quality, only spread;
/// std's randomly keyed hasher gives that without another dependency.
fn jitter() -> f64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// Reads `Retry-After` in seconds (Launchpad sends seconds; an HTTP date is not worth honouring
/// to the second, so it counts as absent).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            total: Duration::from_secs(2),
        }
    }

    #[test]
    fn delays_grow_with_jitter_up_to_the_cap() {
        let policy = policy();
        for _ in 0..50 {
            let first = policy.delay(1, Duration::ZERO, None).unwrap();
            assert!((50..=100).contains(&first.as_millis()), "{first:?}");
            let third = policy.delay(3, Duration::ZERO, None).unwrap();
            assert!((150..=300).contains(&third.as_millis()), "{third:?}");
        }
    }

    #[test]
    fn attempts_and_total_time_are_bounded() {
        let policy = policy();
        assert_eq!(policy.delay(4, Duration::ZERO, None), None);
        assert_eq!(policy.delay(1, Duration::from_millis(1990), None), None);
    }

    #[test]
    fn retry_after_is_honoured_unless_it_breaks_the_budget() {
        let policy = policy();
        let asked = Duration::from_secs(1);
        assert_eq!(policy.delay(1, Duration::ZERO, Some(asked)), Some(asked));
        assert_eq!(
            policy.delay(1, Duration::ZERO, Some(Duration::from_secs(900))),
            None
        );
        assert_eq!(parse_retry_after(" 900 "), Some(Duration::from_secs(900)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
    }
}
