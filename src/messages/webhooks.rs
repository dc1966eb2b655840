//! What `image-builder webhooks install|list|ping` prints, one line per recipe.

use crate::launchpad::models::{Webhook, WebhookDelivery, OCI_BUILD_EVENT};

/// `install`: a new webhook was registered.
pub const REGISTERED: &str = "registered";

/// `install`: what was set right on an existing webhook with the bot's URL, and how many of
/// its failed deliveries were sent again.
pub fn repaired(activated: bool, event_added: bool, resent: usize) -> String {
    let mut done = vec!["secret set".to_string()];
    if activated {
        done.push("activated".to_string());
    }
    if event_added {
        done.push("event type oci-recipe:build:0.1 added".to_string());
    }
    if resent > 0 {
        done.push(format!(
            "{} of the last day sent again",
            super::count(resent, "failed delivery", "failed deliveries")
        ));
    }
    format!("already there: {}", done.join(", "))
}

/// A failure on one recipe.
pub fn failed(error: &dyn std::fmt::Display) -> String {
    format!("failed: {error}")
}

/// `list`: the bot's webhooks (those to `url`), how many others there are, and the failed
/// deliveries of the last day.
pub fn listed(hooks: &[Webhook], url: Option<&str>, failed: &[WebhookDelivery]) -> String {
    let mut text = hooks_listed(hooks, url);
    if let Some(last) = failed.first() {
        text.push_str(&format!(
            "; {} in the last day (the last: {}): `image-builder webhooks install` sends them again",
            super::count(failed.len(), "delivery failed", "deliveries failed"),
            last.error_message.as_deref().unwrap_or("no reason given")
        ));
    }
    text
}

fn hooks_listed(hooks: &[Webhook], url: Option<&str>) -> String {
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
            (_, Some(error)) if error == "Webhook deactivated" => format!(
                "not delivered ({error}): the webhook is inactive; run `image-builder webhooks install`"
            ),
            (_, Some(error)) => format!("not delivered: {error}"),
            (_, None) => {
                "not delivered yet (Launchpad has not tried, or is still trying)".to_string()
            }
        },
    }
}
