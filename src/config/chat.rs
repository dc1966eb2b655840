//! The chat side of the configuration: which service the bot speaks ([`ChatConfig`]), Discord's
//! and Mattermost's settings and their checks, the webhook listener and the metrics endpoint.

use serde::Deserialize;

use super::{check_http_url, problem, Problem};
use crate::permissions::Service;

/// Where `run` serves `GET /healthz` and `GET /metrics` (`[metrics]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// The address; loopback by default, since these say how the bot is doing to whoever may
    /// know. `run` warns and goes on without them if it cannot listen there.
    #[serde(default = "default_metrics_listen")]
    pub listen: std::net::SocketAddr,
}

fn default_metrics_listen() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 9091))
}

impl Default for MetricsConfig {
    fn default() -> MetricsConfig {
        MetricsConfig {
            listen: default_metrics_listen(),
        }
    }
}

/// The dashboard (`[web]`): a read-only website of the fleet, its jobs, failed uploads and
/// trends. Its token, when it has one, comes from `DASHBOARD_TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// Where `run` (and `build --wait` and `wait`) serve it; loopback by default. Elsewhere,
    /// it needs `DASHBOARD_TOKEN` or `behind_proxy`. The sandbox picks a free loopback port.
    #[serde(default = "default_web_listen")]
    pub listen: std::net::SocketAddr,
    /// A reverse proxy in front checks who may see it (docs/dashboard.md): served on a
    /// non-loopback address without a token.
    #[serde(default)]
    pub behind_proxy: bool,
}

fn default_web_listen() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 9092))
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig {
            listen: default_web_listen(),
            behind_proxy: false,
        }
    }
}

/// The webhook listener (`[webhook]`). Its secret is not here: it comes from `WEBHOOK_SECRET`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where `run` listens for Launchpad's deliveries (`0.0.0.0:8090`); off unless set.
    #[serde(default)]
    pub listen: Option<std::net::SocketAddr>,
    /// The URL Launchpad delivers to, as `webhooks install` registers it
    /// (`https://bot.example.com/launchpad/webhook`).
    #[serde(default)]
    pub public_url: Option<String>,
}

/// The Discord adapter (`[discord]`). The token is not here: it comes from `DISCORD_TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// What a text command starts with, besides a mention of the bot. Empty: mentions only.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// A Discord-compatible server to talk to instead of Discord, such as the tests' fake
    /// (`http://127.0.0.1:PORT`). For testing only: it turns serenity's rate limiter off.
    #[serde(default)]
    pub api_base: Option<String>,
    /// The guild (server) id whose slash commands the bot registers at start. Without it they
    /// are registered globally, which Discord takes up to an hour to show.
    #[serde(default)]
    pub guild_id: Option<u64>,
    /// A channel id that also gets every failed-upload alert and every job summary.
    #[serde(default)]
    pub alerts_channel: Option<u64>,
}

fn default_prefix() -> String {
    "!".to_string()
}

impl Default for DiscordConfig {
    fn default() -> DiscordConfig {
        DiscordConfig {
            prefix: default_prefix(),
            api_base: None,
            guild_id: None,
            alerts_channel: None,
        }
    }
}

/// Which chat `run` serves (`[chat]`): one process per chat.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatConfig {
    /// `"discord"` (the default) or `"mattermost"`.
    #[serde(default = "default_service")]
    pub service: Service,
}

fn default_service() -> Service {
    Service::Discord
}

impl Default for ChatConfig {
    fn default() -> ChatConfig {
        ChatConfig {
            service: default_service(),
        }
    }
}

/// The Mattermost adapter (`[mattermost]`). The bot account's token is not here: it comes from
/// `MATTERMOST_TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MattermostConfig {
    /// The server (`https://chat.example.com`): REST under `/api/v4`, the WebSocket beside it.
    #[serde(default)]
    pub url: Option<String>,
    /// The team's id (26 characters) whose channels the bot serves: messages from other teams
    /// are ignored; direct messages are served.
    #[serde(default)]
    pub team: Option<String>,
    /// Channel ids the bot answers in (besides direct messages). Empty: every channel of the
    /// team it is a member of.
    #[serde(default)]
    pub channels: Vec<String>,
    /// A channel id that also gets every failed-upload alert and every job summary.
    #[serde(default)]
    pub alerts_channel: Option<String>,
    /// What a command starts with, besides an @-mention of the bot. Empty: mentions only.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// The bot's listener (`webhook.listen`) as the Mattermost server reaches it
    /// (`https://bot.example.com`): buttons' clicks go to `/mattermost/action` there. Without
    /// it, messages say the commands their buttons would stand for.
    #[serde(default)]
    pub callback_url: Option<String>,
}

impl Default for MattermostConfig {
    fn default() -> MattermostConfig {
        MattermostConfig {
            url: None,
            team: None,
            channels: Vec::new(),
            alerts_channel: None,
            prefix: default_prefix(),
            callback_url: None,
        }
    }
}

impl MattermostConfig {
    /// The channels named, each with its key: those served, then the alerts channel.
    pub fn channel_ids(&self) -> impl Iterator<Item = (&'static str, &String)> {
        let served = self.channels.iter().map(|id| ("mattermost.channels", id));
        let alerts = self.alerts_channel.iter();
        served.chain(alerts.map(|id| ("mattermost.alerts_channel", id)))
    }
}

/// Whether `id` has the shape of a Mattermost id: 26 lower-case letters and digits.
pub fn is_mattermost_id(id: &str) -> bool {
    id.len() == 26
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

pub(super) fn validate_chat(
    chat: &ChatConfig,
    mattermost: &mut MattermostConfig,
    webhook: &WebhookConfig,
) -> Result<(), Problem> {
    if let Some(url) = &mattermost.callback_url {
        check_http_url("mattermost.callback_url", url)?;
        if webhook.listen.is_none() {
            return Err(problem(
                "mattermost.callback_url",
                "clicks arrive on the bot's listener, so set webhook.listen too",
            ));
        }
    }
    if let Some(url) = &mut mattermost.url {
        check_http_url("mattermost.url", url)?;
        while url.ends_with('/') {
            url.pop();
        }
    } else if chat.service == Service::Mattermost {
        return Err(problem(
            "mattermost.url",
            "chat.service is \"mattermost\", so say where the server is (`https://chat.example.com`)",
        ));
    }
    let team = mattermost.team.iter().map(|id| ("mattermost.team", id));
    for (key, id) in team.chain(mattermost.channel_ids()) {
        if !is_mattermost_id(id) {
            return Err(problem(
                key,
                format!("`{id}` is not a Mattermost id (26 lower-case letters and digits; a channel's is under View Info)"),
            ));
        }
    }
    Ok(())
}
