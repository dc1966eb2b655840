//! Grouped alerts: failed uploads of builds no job follows that arrive within the group window
//! of the first are told in one alert, edited as it grows. Every failure is named; when the
//! alert would outgrow one chat message it continues in the next. The first message carries
//! the group's Retry button, which retries every failed upload in it. A failure the alert
//! cannot take in (its message was deleted by a moderator, or the chat refuses the edit) is
//! told in an alert of its own, which opens the next group: never lost in a message nobody
//! sees.

use tokio::time::Instant;

use super::Alerts;
use crate::chat::{Button, Chat, Kind, MessageId, Outgoing};
use crate::launchpad::models::Build;
use crate::messages::alerts as say;
use crate::store::GroupRecord;

/// The group failures are being told in now.
pub(super) struct OpenGroup {
    number: u64,
    channel: String,
    started: Instant,
    record: GroupRecord,
    /// The text of a group of one: the first failure's own alert.
    single: String,
    /// Its messages, the first carrying the button; each with the lines it shows.
    parts: Vec<(MessageId, Vec<String>)>,
}

impl OpenGroup {
    fn failures(&self) -> usize {
        self.parts.iter().map(|(_, lines)| lines.len()).sum()
    }

    /// The text of part `index` with `lines`.
    fn text(
        &self,
        index: usize,
        lines: &[String],
        failures: usize,
        window: std::time::Duration,
    ) -> String {
        match (index, failures) {
            (0, 1) => self.single.clone(),
            (0, _) => format!(
                "{}\n{}",
                say::grouped_head(failures, window),
                lines.join("\n")
            ),
            (part, _) => format!("{}\n{}", say::grouped_continued(part + 1), lines.join("\n")),
        }
    }

    fn message(&self, index: usize, text: String) -> Outgoing {
        let message = Outgoing::new(Kind::Alert, text);
        if index == 0 {
            message.with_buttons(vec![Button::RetryGroup(self.number)])
        } else {
            message
        }
    }
}

impl<C: Chat> Alerts<C> {
    /// Tells a failed upload in the alerts channel: a new alert, or a line more in the group
    /// whose window is open.
    pub(super) async fn group_alert(&self, build: &Build, failure: u32) {
        let Some(channel) = self.inner.settings.channel.clone() else {
            tracing::warn!(build = %build.self_link, "an upload failed, but no alerts channel is configured");
            return;
        };
        let window = self.inner.settings.group_window;
        let line = say::untracked_line(build, failure);
        let mut group = self.inner.group.lock().await;
        let open = group
            .as_mut()
            .filter(|open| open.started.elapsed() < window && open.channel == channel);
        let told = match open {
            Some(open) => self.grow(open, build, line.clone()).await,
            None => false,
        };
        if !told {
            *group = self.open_group(channel, build, failure, line).await;
        }
    }

    /// Adds a failure to the open group's alert; `false` if the alert could not take it in.
    async fn grow(&self, open: &mut OpenGroup, build: &Build, line: String) -> bool {
        let window = self.inner.settings.group_window;
        let failures = open.failures() + 1;
        let limit = self.inner.chat.message_limit();
        let last = open.parts.len() - 1;
        let mut grown = open.parts[last].1.clone();
        grown.push(line.clone());
        let text = open.text(last, &grown, failures, window);
        if text.chars().count() <= limit {
            let message = open.message(last, text);
            let id = open.parts[last].0.clone();
            if let Err(error) = self.inner.chat.edit(&open.channel, &id, message).await {
                tracing::warn!(%error, "growing a grouped alert failed; telling the failure in an alert of its own");
                return false;
            }
            open.parts[last].1 = grown;
        } else {
            let index = open.parts.len();
            let lines = vec![line];
            let message = open.message(index, open.text(index, &lines, failures, window));
            match self.inner.chat.send(&open.channel, message).await {
                Ok(id) => open.parts.push((id, lines)),
                Err(error) => {
                    tracing::warn!(%error, "continuing a grouped alert failed; telling the failure in an alert of its own");
                    return false;
                }
            }
        }
        if !open.record.builds.contains(&build.self_link) {
            open.record.builds.push(build.self_link.clone());
            if let Err(error) = self.inner.store.put_group(open.number, &open.record) {
                tracing::error!(%error, "storing a grouped alert failed");
            }
        }
        if open.parts.len() > 1 {
            // The first message's count changed (only its text: the lines told are told).
            let first = open.parts[0].1.clone();
            let message = open.message(0, open.text(0, &first, failures, window));
            let id = open.parts[0].0.clone();
            if let Err(error) = self.inner.chat.edit(&open.channel, &id, message).await {
                tracing::warn!(%error, "updating a grouped alert's count failed");
            }
        }
        true
    }

    async fn open_group(
        &self,
        channel: String,
        build: &Build,
        failure: u32,
        line: String,
    ) -> Option<OpenGroup> {
        let record = GroupRecord {
            channel: channel.clone(),
            builds: vec![build.self_link.clone()],
            started_at: chrono::Utc::now(),
        };
        let number = match self.inner.store.add_group(&record) {
            Ok(number) => number,
            Err(error) => {
                tracing::error!(%error, "storing a grouped alert failed");
                0
            }
        };
        let mut open = OpenGroup {
            number,
            channel,
            started: Instant::now(),
            record,
            single: say::untracked_upload_failed(build, failure),
            parts: Vec::new(),
        };
        let message = open.message(0, open.single.clone());
        match self.inner.chat.send(&open.channel, message).await {
            Ok(id) => {
                open.parts.push((id, vec![line]));
                Some(open)
            }
            Err(error) => {
                tracing::warn!(%error, "alerting a failed upload failed");
                None
            }
        }
    }
}
