//! `GET /healthz` and `GET /metrics`, on their own address (loopback by default,
//! `metrics.listen`): whether the chat connection is up and the engine takes deliveries; the
//! process's counters ([`crate::metrics`]) and the jobs and builds by state, counted from the
//! store at most every [`GAUGES_FOR`] (a scrape reads the cached figures, so scraping costs the
//! store nothing).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::metrics::{global, labels};
use crate::store::Store;

/// How long the job and build gauges are served from the last count before the store is read
/// again.
pub const GAUGES_FOR: Duration = Duration::from_secs(30);

/// Jobs and builds by state, from the store, in the text format.
fn count_gauges(store: &Store) -> String {
    let mut text = String::new();
    {
        // Every job's own record for the counts by state; only the unfinished jobs' builds.
        if let (Ok(by_state), Ok(jobs)) = (store.job_counts(), store.unfinished()) {
            let mut builds: BTreeMap<String, u64> = BTreeMap::new();
            for job in &jobs {
                for build in job.targets.iter().flat_map(|t| t.wanted()) {
                    *builds
                        .entry(format!("{:?}", build.progress()).to_lowercase())
                        .or_insert(0) += 1;
                }
            }
            let _ = writeln!(text, "# HELP image_builder_jobs Jobs in the store by state.\n# TYPE image_builder_jobs gauge");
            for (state, count) in by_state {
                let _ = writeln!(
                    text,
                    "image_builder_jobs{} {count}",
                    labels(&[("state", &state)])
                );
            }
            let _ = writeln!(text, "# HELP image_builder_builds Builds of unfinished jobs by state.\n# TYPE image_builder_builds gauge");
            for (state, count) in builds {
                let _ = writeln!(
                    text,
                    "image_builder_builds{} {count}",
                    labels(&[("state", &state)])
                );
            }
        }
    }
    text
}

/// What `/healthz` watches and `/metrics` counts.
#[derive(Clone, Default)]
pub struct Watch {
    /// The store, counted for the jobs and builds gauges.
    store: Option<Store>,
    /// Whether the chat connection is up (the chat adapter keeps it); `None`: no chat.
    chat_alive: Option<Arc<AtomicBool>>,
    /// Whether the engine takes webhook deliveries (the listener keeps it); `None`: no
    /// listener.
    deliveries_taken: Option<Arc<AtomicBool>>,
    /// The gauges' text and when it was counted.
    gauges: Arc<Mutex<Option<(Instant, String)>>>,
}

impl Watch {
    /// What `/healthz` watches and `/metrics` counts.
    pub fn new(
        store: Option<Store>,
        chat_alive: Option<Arc<AtomicBool>>,
        deliveries_taken: Option<Arc<AtomicBool>>,
    ) -> Watch {
        Watch {
            store,
            chat_alive,
            deliveries_taken,
            gauges: Arc::default(),
        }
    }

    /// The jobs and builds gauges, counted from the store at most every [`GAUGES_FOR`].
    fn gauges(&self) -> String {
        let Some(store) = &self.store else {
            return String::new();
        };
        let mut gauges = self.gauges.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((counted, text)) = gauges.as_ref() {
            if counted.elapsed() < GAUGES_FOR {
                return text.clone();
            }
        }
        let text = count_gauges(store);
        *gauges = Some((Instant::now(), text.clone()));
        text
    }
}

/// `GET /healthz` and `GET /metrics`.
pub fn router(watch: Watch) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .with_state(Arc::new(watch))
}

/// Serves [`router`] on `listener` (loopback by default: these say how the bot is doing, to
/// whoever may know), within the usual limits.
pub async fn serve(listener: tokio::net::TcpListener, watch: Watch) {
    crate::serve::serve(listener, router(watch), crate::serve::Limits::default()).await
}

/// 200 while the engine takes deliveries and the chat connection is up; 503 otherwise.
async fn health(State(watch): State<Arc<Watch>>) -> Response {
    let down = |flag: &Option<Arc<AtomicBool>>| {
        flag.as_ref()
            .is_some_and(|alive| !alive.load(Ordering::SeqCst))
    };
    if down(&watch.deliveries_taken) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine stopped taking deliveries",
        )
            .into_response()
    } else if down(&watch.chat_alive) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the chat connection is down",
        )
            .into_response()
    } else {
        (StatusCode::OK, "ok").into_response()
    }
}

async fn metrics(State(watch): State<Arc<Watch>>) -> Response {
    let text = global().render() + &watch.gauges();
    ([("content-type", "text/plain; version=0.0.4")], text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn health_is_503_once_the_chat_connection_or_the_engine_is_gone() {
        use tower_service::Service;
        let chat = Arc::new(AtomicBool::new(true));
        let engine = Arc::new(AtomicBool::new(true));
        let watch = Watch::new(None, Some(chat.clone()), Some(engine.clone()));
        let mut app = router(watch);
        let mut status = || {
            let request = axum::http::Request::get("/healthz")
                .body(axum::body::Body::empty())
                .unwrap();
            let future = app.call(request);
            async move { future.await.unwrap().status().as_u16() }
        };
        assert_eq!(status().await, 200);
        chat.store(false, Ordering::SeqCst);
        assert_eq!(status().await, 503);
        chat.store(true, Ordering::SeqCst);
        engine.store(false, Ordering::SeqCst);
        assert_eq!(status().await, 503);
    }

    #[test]
    fn a_scrape_reads_the_gauges_counted_last_until_they_are_stale() {
        use crate::jobs::model::Job;
        use crate::plan::Plan;
        use crate::target::JobId;
        let store = Store::temporary().unwrap();
        let watch = Watch::new(Some(store.clone()), None, None);
        let job = |id| {
            let now = chrono::Utc::now();
            let plan = Plan {
                targets: vec![],
                skipped: 0,
            };
            let root = "http://lp/devel/";
            Job::new(crate::jobs::NewJob {
                id: JobId(id),
                requester: "a",
                channel: "c",
                command: "rebuild",
                plan: &plan,
                api_root: root,
                auto_retry_uploads: false,
                reason: None,
                now,
                deadline: now,
                hooks: Vec::new(),
            })
        };
        store.put_job(&job(1)).unwrap();
        let first = watch.gauges();
        assert!(
            first.contains("image_builder_jobs{state=\"running\"} 1"),
            "{first}"
        );
        store.put_job(&job(2)).unwrap();
        assert_eq!(watch.gauges(), first, "served from the last count");
        *watch.gauges.lock().unwrap() = Some((Instant::now() - GAUGES_FOR, first));
        let recounted = watch.gauges();
        assert!(
            recounted.contains("image_builder_jobs{state=\"running\"} 2"),
            "{recounted}"
        );
    }
}
