//! A message as a Mattermost post: Markdown, the mention, and buttons as interactive
//! attachments whose actions are signed.

use serde_json::{json, Value};

use super::{defuse, Mattermost};
use crate::chat::{Button, Emphasis, Outgoing};
use crate::secret::hmac_sha1_hex;

impl Mattermost {
    /// A post's `props`: its buttons as one attachment's actions, or none (§4.1). Always the
    /// whole map, since an edit's props replace the old ones.
    pub(super) fn props(&self, buttons: &[Button]) -> Value {
        let mut props = json!({ "from_bot": "true" });
        let Some(url) = &self.inner.actions else {
            return props;
        };
        if buttons.is_empty() {
            return props;
        }
        let actions: Vec<Value> = buttons
            .iter()
            .enumerate()
            .map(|(index, button)| {
                let action = button.custom_id();
                let style = match button.emphasis() {
                    Emphasis::Primary => "primary",
                    Emphasis::Plain => "default",
                    Emphasis::Danger => "danger",
                };
                json!({
                    "id": action_id(button, index),
                    "type": "button",
                    "name": button.label(),
                    "style": style,
                    "integration": {
                        "url": url,
                        "context": { "action": action, "sig": hmac_sha1_hex(&self.inner.key, action.as_bytes()) },
                    },
                })
            })
            .collect();
        props["attachments"] = json!([{ "fallback": "buttons", "actions": actions }]);
        props
    }

    /// Whether buttons are shown as buttons.
    pub(super) fn buttons_shown(&self) -> bool {
        self.inner.actions.is_some()
    }
}

/// Where a message goes: a channel, and the thread's root post if it is in a thread.
pub(super) fn target(channel: &str) -> (&str, Option<&str>) {
    match channel.split_once('/') {
        Some((channel, root)) => (channel, Some(root)),
        None => (channel, None),
    }
}

/// A message's text as posted: defused, the mention in front, and the buttons' commands after
/// unless `buttons_shown`.
pub fn render(message: &Outgoing, mention: Option<&str>, buttons_shown: bool) -> String {
    let mut text = defuse(&message.text);
    if !message.buttons.is_empty() && !buttons_shown {
        let commands: Vec<String> = message
            .buttons
            .iter()
            .map(|button| format!("`{}`", button.command()))
            .collect();
        text.push_str(&format!("\n({})", commands.join(" · ")));
    }
    match mention {
        Some(name) => format!("@{name} {text}"),
        None => text,
    }
}

/// An action's id: letters and digits only, or Mattermost's click route cannot name it (§4.1).
pub(super) fn action_id(button: &Button, index: usize) -> String {
    let label: String = button
        .label()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{}{index}", label.to_lowercase())
}
