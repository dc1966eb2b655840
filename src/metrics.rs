//! The process's counters, in Prometheus's text format: Launchpad requests by operation and
//! outcome, alerts sent, webhook deliveries accepted and rejected (by reason), connections
//! refused. One set per process: every client, engine and listener adds to it; a leaf that
//! uses nothing of the crate. [`crate::health`] serves them, with the gauges it counts from
//! the store.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

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
pub fn labels(pairs: &[(&str, &str)]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
