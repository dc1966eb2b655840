//! The client's limit on requests in flight, with two lanes: a call waiting for a free slot in
//! the fast lane goes before every call waiting in the ordinary one, and each lane is first in,
//! first out.
//!
//! Cancels take the fast lane. A cancel is worth less by the second: a build still queued when
//! it is cancelled never takes a builder, and its outcome is then known from the answer alone
//! (`jobs::machine`), while one that started meanwhile must be read to learn how it ended. In a
//! mass rebuild a job lists 60 recipes' builds and cancels 180 of them; in one queue those
//! cancels would wait behind every read the listings led to. Reads lose nothing by waiting a
//! few round trips.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// Which queue a call waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lane {
    /// Before every ordinary call.
    Fast,
    /// In turn.
    Ordinary,
}

/// Slots for requests in flight.
pub(super) struct Lanes {
    state: Mutex<State>,
}

struct State {
    /// Slots nobody holds; only ever above zero while nobody waits.
    free: usize,
    fast: VecDeque<oneshot::Sender<()>>,
    ordinary: VecDeque<oneshot::Sender<()>>,
}

/// A slot, given back when dropped.
pub(super) struct Slot<'a> {
    lanes: &'a Lanes,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.lanes.release();
    }
}

/// A wait for a slot; if it is dropped after the slot was handed to it, the slot goes on.
struct Waiting<'a> {
    lanes: &'a Lanes,
    /// `None` once the slot is taken.
    handed: Option<oneshot::Receiver<()>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Some(mut handed) = self.handed.take() {
            handed.close();
            if handed.try_recv().is_ok() {
                self.lanes.release();
            }
        }
    }
}

impl Lanes {
    /// `slots` requests in flight at once (at least one).
    pub(super) fn new(slots: usize) -> Lanes {
        Lanes {
            state: Mutex::new(State {
                free: slots.max(1),
                fast: VecDeque::new(),
                ordinary: VecDeque::new(),
            }),
        }
    }

    /// Waits for a slot in `lane`.
    pub(super) async fn slot(&self, lane: Lane) -> Slot<'_> {
        let handed = {
            let mut state = self
                .state
                .lock()
                .expect("the lanes' lock is never poisoned");
            if state.free > 0 {
                state.free -= 1;
                return Slot { lanes: self };
            }
            let (hand, handed) = oneshot::channel();
            match lane {
                Lane::Fast => state.fast.push_back(hand),
                Lane::Ordinary => state.ordinary.push_back(hand),
            }
            handed
        };
        let mut waiting = Waiting {
            lanes: self,
            handed: Some(handed),
        };
        // `release` drops a sender unsent only when its receiver is closed, which happens when
        // the wait is dropped: a queued waiter is always handed its slot in the end.
        if let Some(handed) = waiting.handed.as_mut() {
            handed
                .await
                .expect("a queued waiter's sender is kept until it is handed a slot");
        }
        // The slot is now this call's: the guard must not hand it on.
        waiting.handed = None;
        Slot { lanes: self }
    }

    /// Hands a slot to the first waiter, fast lane first, or frees it.
    fn release(&self) {
        let mut state = self
            .state
            .lock()
            .expect("the lanes' lock is never poisoned");
        loop {
            let next = match state.fast.pop_front() {
                Some(hand) => hand,
                None => match state.ordinary.pop_front() {
                    Some(hand) => hand,
                    None => {
                        state.free += 1;
                        return;
                    }
                },
            };
            // A waiter that gave up has closed its receiver: try the next.
            if next.send(()).is_ok() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn the_fast_lane_goes_first_and_each_lane_in_turn() {
        let lanes = Arc::new(Lanes::new(1));
        let held = lanes.slot(Lane::Ordinary).await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        for (name, lane) in [
            ("read 1", Lane::Ordinary),
            ("read 2", Lane::Ordinary),
            ("cancel 1", Lane::Fast),
            ("cancel 2", Lane::Fast),
        ] {
            let (lanes, order) = (lanes.clone(), order.clone());
            waiters.push(tokio::spawn(async move {
                let _slot = lanes.slot(lane).await;
                order.lock().unwrap().push(name);
            }));
            // Let it queue before the next one.
            tokio::task::yield_now().await;
        }
        drop(held);
        for waiter in waiters {
            waiter.await.unwrap();
        }
        assert_eq!(
            *order.lock().unwrap(),
            ["cancel 1", "cancel 2", "read 1", "read 2"]
        );
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_loses_no_slot_before_or_after_it_is_handed_one() {
        for handed in [false, true] {
            let lanes = Lanes::new(1);
            let mut held = Some(lanes.slot(Lane::Ordinary).await);
            {
                let waiting = lanes.slot(Lane::Fast);
                tokio::pin!(waiting);
                assert!(futures_poll_once(waiting.as_mut()).await.is_none());
                if handed {
                    // Handed to the queued waiter, which is then dropped without taking it.
                    held = None;
                }
            }
            drop(held);
            let again = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                lanes.slot(Lane::Ordinary),
            )
            .await;
            assert!(again.is_ok(), "the slot was lost (handed: {handed})");
        }
    }

    /// Polls a future once: `Some` if it finished.
    async fn futures_poll_once<F: std::future::Future + Unpin>(future: F) -> Option<F::Output> {
        let mut future = future;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut future).poll(cx) {
                std::task::Poll::Ready(output) => Some(output),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
