//! What `image-builder webhooks install|list|ping` prints, one line per recipe.

use crate::launchpad::models::{Webhook, WebhookDelivery, OCI_BUILD_EVENT};

/// `install`: a new webhook was registered.
pub const REGISTERED: &str = "registered";

/// `install`: what was set right on an existing webhook with the bot's URL.
pub fn repaired(activated: bool, event_added: bool) -> String {
    let mut done = vec!["secret set"];
    if activated {
        done.push("activated");
    }
    if event_added {
        done.push("event type oci-recipe:build:0.1 added");
    }
    format!("already there: {}", done.join(", "))
}

/// A failure on one recipe.
pub fn failed(error: &dyn std::fmt::Display) -> String {
    format!("failed: {error}")
}

/// `list`: the bot's webhooks (those to `url`) and how many others there are.
pub fn listed(hooks: &[Webhook], url: Option<&str>) -> String {
    let describe = |hook: &Webhook| {
        let mut problems = Vec::new();
        if !hook.active {
            problems.push("INACTIVE".to_string());
        }
        if !hook.event_types.iter().any(|t| t == OCI_BUILD_EVENT) {
            problems.push(format!("lacks {OCI_BUILD_EVENT}"));
        }
        let state = if problems.is_empty() {
            format!("active, {OCI_BUILD_EVENT}")
        } else {
            problems.join(", ")
        };
        format!("{} ({state})", hook.delivery_url)
    };
    let Some(url) = url else {
        return match hooks {
            [] => "no webhooks".to_string(),
            hooks => hooks.iter().map(describe).collect::<Vec<_>>().join("; "),
        };
    };
    let (mine, others): (Vec<&Webhook>, Vec<&Webhook>) =
        hooks.iter().partition(|hook| hook.delivery_url == url);
    let mut text = match mine.as_slice() {
        [] => "the bot's webhook is MISSING (run `image-builder webhooks install`)".to_string(),
        mine => format!(
            "the bot's webhook: {}",
            mine.iter()
                .map(|hook| describe(hook))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    };
    if mine
        .iter()
        .any(|hook| !hook.active || !hook.event_types.iter().any(|t| t == OCI_BUILD_EVENT))
    {
        text.push_str(" (run `image-builder webhooks install` to set it right)");
    }
    if !others.is_empty() {
        text.push_str(&format!("; {} other", others.len()));
    }
    text
}

/// `ping`: how the ping's delivery went.
pub fn pinged(delivery: Option<&WebhookDelivery>) -> String {
    match delivery {
        None => "no webhook to the bot's URL: run `image-builder webhooks install`".to_string(),
        Some(delivery) => match (delivery.successful, delivery.error_message.as_deref()) {
            (Some(true), _) => "delivered and verified".to_string(),
            (_, Some(error)) if error.ends_with(" 401") => format!(
                "refused by the listener ({error}): Launchpad signs with another secret; run \
                 `image-builder webhooks install` with the listener's WEBHOOK_SECRET"
            ),
            (_, Some(error)) => format!("not delivered: {error}"),
            (_, None) => {
                "not delivered yet (Launchpad has not tried, or is still trying)".to_string()
            }
        },
    }
}
