//! Plans waiting for `confirm CODE`. A large rebuild is announced with a code; only the user who
//! asked may confirm it, and only while the code is valid. Pure: the caller passes the time and
//! the randomness in.
//!
//! Pending confirmations live in memory: after a restart a large plan must be asked for again,
//! which costs one message and never builds anything unasked.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use crate::command::{ConfirmCode, Rebuild};

/// A plan waiting for its user's word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Who asked (the only one who may confirm).
    pub user: String,
    /// What they asked for.
    pub rebuild: Rebuild,
    /// When the code stops working.
    pub expires_at: SystemTime,
}

/// Why a `confirm` did not start anything. Worded in `messages.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmError {
    /// No plan waits under that code (never offered, already used, or long gone).
    Unknown,
    /// The code was valid once; the plan must be asked for again.
    Expired,
    /// Someone else's plan.
    NotYours,
}

/// The plans waiting for confirmation, by code.
#[derive(Debug, Default)]
pub struct Confirmations {
    pending: BTreeMap<ConfirmCode, Pending>,
}

impl Confirmations {
    /// Holds `rebuild` for `user` until `now + valid_for`, under a fresh code drawn from
    /// `random` (drawn again while it collides with a waiting one).
    pub fn offer(
        &mut self,
        user: &str,
        rebuild: Rebuild,
        now: SystemTime,
        valid_for: Duration,
        mut random: impl FnMut() -> u64,
    ) -> ConfirmCode {
        self.pending.retain(|_, pending| pending.expires_at > now);
        let code = loop {
            let code = ConfirmCode::from_bits(random());
            if !self.pending.contains_key(&code) {
                break code;
            }
        };
        self.pending.insert(
            code.clone(),
            Pending {
                user: user.to_string(),
                rebuild,
                expires_at: now + valid_for,
            },
        );
        code
    }

    /// Takes the plan waiting under `code` if `user` may confirm it now.
    pub fn take(
        &mut self,
        user: &str,
        code: &ConfirmCode,
        now: SystemTime,
    ) -> Result<Rebuild, ConfirmError> {
        let pending = self.pending.get(code).ok_or(ConfirmError::Unknown)?;
        if pending.expires_at <= now {
            self.pending.remove(code);
            return Err(ConfirmError::Expired);
        }
        if pending.user != user {
            return Err(ConfirmError::NotYours);
        }
        let pending = self.pending.remove(code).ok_or(ConfirmError::Unknown)?;
        Ok(pending.rebuild)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Images;

    fn rebuild() -> Rebuild {
        Rebuild {
            series: vec![],
            arches: vec![],
            images: Images::All,
            auto_retry_uploads: false,
            wait: false,
            dry_run: false,
            reason: None,
            then: Vec::new(),
        }
    }

    const TEN_MINUTES: Duration = Duration::from_secs(600);

    #[test]
    fn only_the_asker_confirms_and_only_once() {
        let mut confirmations = Confirmations::default();
        let now = SystemTime::UNIX_EPOCH;
        let code = confirmations.offer("alice", rebuild(), now, TEN_MINUTES, || 7);
        assert_eq!(
            confirmations.take("bob", &code, now),
            Err(ConfirmError::NotYours)
        );
        assert_eq!(confirmations.take("alice", &code, now), Ok(rebuild()));
        assert_eq!(
            confirmations.take("alice", &code, now),
            Err(ConfirmError::Unknown)
        );
    }

    #[test]
    fn a_code_expires_after_its_validity() {
        let mut confirmations = Confirmations::default();
        let now = SystemTime::UNIX_EPOCH;
        let code = confirmations.offer("alice", rebuild(), now, TEN_MINUTES, || 7);
        let later = now + TEN_MINUTES;
        assert_eq!(
            confirmations.take("alice", &code, later),
            Err(ConfirmError::Expired)
        );
    }

    #[test]
    fn colliding_codes_are_drawn_again() {
        let mut confirmations = Confirmations::default();
        let now = SystemTime::UNIX_EPOCH;
        let mut draws = [7, 7, 8].into_iter();
        let first = confirmations.offer("alice", rebuild(), now, TEN_MINUTES, || 7);
        let second = confirmations.offer("alice", rebuild(), now, TEN_MINUTES, || {
            draws.next().unwrap()
        });
        assert_ne!(first, second);
    }
}
