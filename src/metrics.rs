//! Counters for `GET /metrics`, in Prometheus's text format: Launchpad requests by operation and
//! outcome, alerts sent, webhook deliveries accepted and rejected; and, counted from the store at
//! each scrape, jobs and builds by state. One set per process: every client and engine adds to
//! it, the listener renders it.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};

use crate::store::Store;

/// A counter's name, help and type line.
struct Family {
    help: &'static str,
    values: BTreeMap<String, u64>,
}

/// The process's counters.
#[derive(Default)]
pub struct Metrics {
    families: Mutex<BTreeMap<&'static str, Family>>,
}

/// The counters of this process.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

/// Escapes a label value as the text format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if inner.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", inner.join(","))
    }
}

impl Metrics {
    /// Adds one to the counter `name` with these labels.
    pub fn inc(&self, name: &'static str, help: &'static str, pairs: &[(&str, &str)]) {
        let mut families = self.families.lock().unwrap_or_else(|p| p.into_inner());
        let family = families.entry(name).or_insert_with(|| Family {
            help,
            values: BTreeMap::new(),
        });
        *family.values.entry(labels(pairs)).or_insert(0) += 1;
    }

    /// The counters, and the gauges counted from `store`, in the text format.
    pub fn render(&self, store: Option<&Store>) -> String {
        let mut text = String::new();
        {
            let families = self.families.lock().unwrap_or_else(|p| p.into_inner());
            for (name, family) in families.iter() {
                let _ = writeln!(text, "# HELP {name} {}\n# TYPE {name} counter", family.help);
                for (labels, value) in &family.values {
                    let _ = writeln!(text, "{name}{labels} {value}");
                }
            }
        }
        if let Some(jobs) = store.and_then(|store| store.jobs().ok()) {
            let mut by_state: BTreeMap<String, u64> = BTreeMap::new();
            let mut builds: BTreeMap<String, u64> = BTreeMap::new();
            for job in &jobs {
                *by_state
                    .entry(format!("{:?}", job.status).to_lowercase())
                    .or_insert(0) += 1;
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
            let _ = writeln!(text, "# HELP image_builder_builds Builds of stored jobs by state.\n# TYPE image_builder_builds gauge");
            for (state, count) in builds {
                let _ = writeln!(
                    text,
                    "image_builder_builds{} {count}",
                    labels(&[("state", &state)])
                );
            }
        }
        text
    }
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

/// Counts a webhook delivery, `accepted` or `rejected`.
pub fn webhook_delivery(result: &str) {
    global().inc(
        "image_builder_webhook_deliveries_total",
        "Webhook deliveries by result.",
        &[("result", result)],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_in_the_text_format() {
        let metrics = Metrics::default();
        metrics.inc("x_total", "Some x.", &[("a", "b\"c")]);
        metrics.inc("x_total", "Some x.", &[("a", "b\"c")]);
        let text = metrics.render(None);
        assert_eq!(
            text,
            "# HELP x_total Some x.\n# TYPE x_total counter\nx_total{a=\"b\\\"c\"} 2\n"
        );
    }
}
