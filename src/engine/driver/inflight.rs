//! A job's Launchpad calls in flight, polled by the job's own task.

use futures_util::{FutureExt, StreamExt};

use crate::engine::calls::{PreparedCall, ReadKey};
use crate::jobs::machine::Observation;

/// A job's Launchpad calls in flight, polled by the job's own task rather than a task each (an
/// answer then reaches the driver without a hop through the scheduler: a sixth of the engine's
/// CPU per request in the mass-rebuild bench). While the driver works on the store or the chat,
/// [`Calls::alongside`] keeps them going, so no call's slot in the client sits idle meanwhile.
/// An action already out (the same read of the same build) is not started twice. The
/// `requestBuilds` calls can be dropped ([`Calls::abort_requests`]): one still waiting for a
/// slot in the client is then never sent.
///
/// Reads beyond as many as the client makes at once wait here as plain [`PreparedCall`]s, not
/// as calls started: a started call is a future of several kilobytes waiting for the client's
/// slot, and a restart reads every build of every job at once (42 jobs of 240 builds were
/// 70 MB of such futures). The calls on builds (cancels first in the client) and `requestBuilds`
/// always start at once.
#[derive(Default)]
pub(super) struct Calls {
    running: futures_util::stream::FuturesUnordered<Running>,
    /// Reads started and not yet answered.
    reads_running: usize,
    /// Reads waiting for one of those to be answered.
    waiting: std::collections::VecDeque<PreparedCall>,
    client: Option<crate::launchpad::Client>,
    out: std::collections::HashSet<ReadKey>,
    /// Answers that came while the driver was busy, for its next pass, in order.
    early: std::collections::VecDeque<Observation>,
    /// The `requestBuilds` calls out, to drop.
    requests: Vec<futures_util::future::AbortHandle>,
}

/// A call out: its answer (and its read's key), or `None` once dropped.
type Running = futures_util::future::BoxFuture<'static, Option<(Option<ReadKey>, Observation)>>;

impl Calls {
    pub(super) fn is_empty(&self) -> bool {
        self.running.is_empty() && self.early.is_empty() && self.waiting.is_empty()
    }

    pub(super) fn start(&mut self, call: PreparedCall, client: &crate::launchpad::Client) {
        let key = call.key();
        if key
            .as_ref()
            .is_some_and(|key| !self.out.insert(key.clone()))
        {
            return;
        }
        if self.client.is_none() {
            self.client = Some(client.clone());
        }
        if key.is_some() {
            if self.reads_running >= client.settings().max_concurrent_requests.max(1) {
                self.waiting.push_back(call);
                return;
            }
            self.reads_running += 1;
        }
        self.launch(key, call, client.clone());
    }

    /// Starts reads that wait, while there is room.
    fn fill(&mut self) {
        let Some(client) = self.client.clone() else {
            return;
        };
        while self.reads_running < client.settings().max_concurrent_requests.max(1) {
            let Some(call) = self.waiting.pop_front() else {
                return;
            };
            self.reads_running += 1;
            self.launch(call.key(), call, client.clone());
        }
    }

    fn launch(
        &mut self,
        key: Option<ReadKey>,
        call: PreparedCall,
        client: crate::launchpad::Client,
    ) {
        let request = call.is_request();
        let run = async move { (key, call.run(&client).await) };
        if request {
            let (run, handle) = futures_util::future::abortable(run);
            self.requests.push(handle);
            self.running.push(Box::pin(async move { run.await.ok() }));
        } else {
            self.running.push(Box::pin(async move { Some(run.await) }));
        }
    }

    /// Drops every `requestBuilds` call not answered yet: one waiting for a slot is never sent.
    pub(super) fn abort_requests(&mut self) {
        for handle in self.requests.drain(..) {
            handle.abort();
        }
    }

    /// The next answer; `None` when nothing is out.
    pub(super) async fn next(&mut self) -> Option<Observation> {
        if let Some(observation) = self.early.pop_front() {
            return Some(observation);
        }
        loop {
            if let Some((key, observation)) = self.running.next().await? {
                return Some(self.answered(key, observation));
            }
        }
    }

    /// An answer already in, if any.
    pub(super) fn ready(&mut self) -> Option<Observation> {
        if let Some(observation) = self.early.pop_front() {
            return Some(observation);
        }
        loop {
            if let Some((key, observation)) = self.running.next().now_or_never()?? {
                return Some(self.answered(key, observation));
            }
        }
    }

    /// Does `work` (storing, saying) while the calls go on; their answers wait for the next
    /// pass.
    pub(super) async fn alongside<T>(&mut self, work: impl std::future::Future<Output = T>) -> T {
        tokio::pin!(work);
        loop {
            tokio::select! {
                biased;
                done = &mut work => return done,
                Some(answer) = self.running.next(), if !self.running.is_empty() => {
                    if let Some((key, observation)) = answer {
                        let observation = self.answered(key, observation);
                        self.early.push_back(observation);
                    }
                }
            }
        }
    }

    fn answered(&mut self, key: Option<ReadKey>, observation: Observation) -> Observation {
        if let Some(key) = key {
            self.out.remove(&key);
            self.reads_running -= 1;
            self.fill();
        }
        observation
    }
}
