//! Counters for `GET /metrics`, in Prometheus's text format: Launchpad requests by operation and
//! outcome, alerts sent, webhook deliveries accepted and rejected (by reason), connections
//! refused; and jobs and builds by state, counted from the store at most every
//! [`GAUGES_FOR`] (a scrape reads the cached figures, so scraping costs the store nothing).
//! One set per process: every client and engine adds to it; [`router`] serves it with
//! `GET /healthz`, on its own address (loopback by default, `metrics.listen`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::store::Store;

/// How long the job and build gauges are served from the last count before the store is read
/// again.
pub const GAUGES_FOR: Duration = Duration::from_secs(30);

/// How often a kind of rejected request is logged at most: unauthenticated traffic must not
/// flood the log.
const LOG_REJECTED_EVERY: Duration = Duration::from_secs(60);

/// A counter's name, help and type line.
struct Family {
    help: &'static str,
    values: BTreeMap<String, u64>,
}

/// The process's counters.
#[derive(Default)]
pub struct Metrics {
    families: Mutex<BTreeMap<&'static str, Family>>,
    /// When each kind of rejection was last logged.
    logged: Mutex<BTreeMap<String, Instant>>,
}

/// The counters of this process.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

/// Writes a label value into `out`, escaped as the text format requires.
fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// The labels `{k="v",...}` (empty for none).
fn labels(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    labels_into(&mut out, pairs);
    out
}

/// Writes the labels `{k="v",...}` into `out` (nothing for none).
fn labels_into(out: &mut String, pairs: &[(&str, &str)]) {
    out.clear();
    if pairs.is_empty() {
        return;
    }
    out.push('{');
    for (index, (key, value)) in pairs.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push_str("=\"");
        escape_into(out, value);
        out.push('"');
    }
    out.push('}');
}

impl Metrics {
    /// Adds one to the counter `name` with these labels.
    pub fn inc(&self, name: &'static str, help: &'static str, pairs: &[(&str, &str)]) {
        let mut families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        let family = families.entry(name).or_insert_with(|| Family {
            help,
            values: BTreeMap::new(),
        });
        // Counted once per Launchpad request: the key is written into a reused buffer, and
        // copied only the first time it is seen.
        thread_local! {
            static KEY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        KEY.with_borrow_mut(|key| {
            labels_into(key, pairs);
            match family.values.get_mut(key.as_str()) {
                Some(value) => *value += 1,
                None => {
                    family.values.insert(key.clone(), 1);
                }
            }
        });
    }

    /// The counters in the text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        let families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        for (name, family) in families.iter() {
            let _ = writeln!(text, "# HELP {name} {}\n# TYPE {name} counter", family.help);
            for (labels, value) in &family.values {
                let _ = writeln!(text, "{name}{labels} {value}");
            }
        }
        text
    }

    /// Whether a rejection of `kind` may be logged now (at most once a minute per kind).
    fn may_log(&self, kind: &str) -> bool {
        let mut logged = self.logged.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match logged.get(kind) {
            Some(last) if now.duration_since(*last) < LOG_REJECTED_EVERY => false,
            _ => {
                logged.insert(kind.to_string(), now);
                true
            }
        }
    }
}

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

/// Counts a Launchpad request's outcome.
pub fn launchpad_request(operation: &str, outcome: &str) {
    global().inc(
        "image_builder_launchpad_requests_total",
        "Launchpad requests by operation and outcome.",
        &[("operation", operation), ("outcome", outcome)],
    );
}

/// Counts an alert said.
pub fn alert_sent(kind: &str) {
    global().inc(
        "image_builder_alerts_total",
        "Alerts sent, by kind.",
        &[("kind", kind)],
    );
}

/// Counts a webhook delivery: `accepted`, `ping`, or `rejected` for a `reason`.
pub fn webhook_delivery(result: &str, reason: &str) {
    global().inc(
        "image_builder_webhook_deliveries_total",
        "Webhook deliveries by result (and, rejected, why).",
        &[("result", result), ("reason", reason)],
    );
}

/// Counts a request or connection refused by a listener, of `kind`, and logs it at most once
/// a minute per kind (with `detail`).
pub fn rejected(kind: &str, detail: &str) {
    global().inc(
        "image_builder_listener_rejected_total",
        "Requests and connections the listeners refused, by kind.",
        &[("kind", kind)],
    );
    if global().may_log(kind) {
        tracing::warn!(
            kind,
            detail,
            "refused a request (logged at most once a minute per kind)"
        );
    }
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

    #[test]
    fn a_kind_of_rejection_is_logged_at_most_once_a_minute() {
        let metrics = Metrics::default();
        assert!(metrics.may_log("signature"));
        assert!(!metrics.may_log("signature"));
        assert!(metrics.may_log("too_large"));
    }

    #[test]
    fn counters_render_in_the_text_format() {
        let metrics = Metrics::default();
        metrics.inc("x_total", "Some x.", &[("a", "b\"c")]);
        metrics.inc("x_total", "Some x.", &[("a", "b\"c")]);
        metrics.inc("x_total", "Some x.", &[("a", "\\\n"), ("k", "v")]);
        metrics.inc("y_total", "Some y.", &[]);
        let text = metrics.render();
        assert_eq!(
            text,
            "# HELP x_total Some x.\n# TYPE x_total counter\nx_total{a=\"\\\\\\n\",k=\"v\"} 1\nx_total{a=\"b\\\"c\"} 2\n\
             # HELP y_total Some y.\n# TYPE y_total counter\ny_total 1\n"
        );
    }
}
