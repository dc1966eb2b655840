//! Mattermost's WebSocket to the bot (`reference/mattermost.md` §3): `posted` events whose post
//! is addressed to the bot (an @-mention of it or the prefix at the start, or anything in a
//! direct message) become commands for the [`Inbox`]. The bot's own posts, system posts and
//! slash-command replies are ignored.
//!
//! A dropped socket is opened again with back-off (1 s doubling to a minute), resuming with
//! `connection_id` and `sequence_number`, so the server replays what the bot missed (§3.4).
//! Where it cannot (a `hello` with another `connection_id`: the server restarted or let the
//! old connection go), the posts made since the last one seen are read from each channel the
//! bot serves. A post handled once is never handled again (replayed or read twice).

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Frame;

use super::{Mattermost, MmUser};
use crate::backoff::Backoff;
use crate::chat::Inbox;

/// What the bot serves on Mattermost.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// What a command starts with besides an @-mention of the bot; empty: mentions only.
    pub prefix: String,
    /// The team served; posts from other teams are ignored (direct messages are served).
    pub team: Option<String>,
    /// The channels served besides direct messages; empty: every channel the bot hears.
    pub channels: Vec<String>,
}

/// Why the bot stopped talking to Mattermost.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// `GET /users/me` answered 401.
    #[error("Mattermost refused the token (401 on /users/me). Make a new token for the bot account (System Console → Integrations → Bot Accounts → Create New Token) and put it in MATTERMOST_TOKEN.")]
    BadToken,
    /// Anything else that ends the bot.
    #[error("Mattermost: {0}")]
    Other(String),
}

/// How many handled post ids are remembered, so that a replayed post is not handled twice.
const REMEMBERED: usize = 1024;

/// With no frame at all for this long, the connection is taken for dead (the server pings
/// every 60 s, and the bot pings every [`PING_EVERY`]).
const SILENCE: Duration = Duration::from_secs(90);

/// How often the bot asks the server for a pong (§3.3), so a dead connection shows.
const PING_EVERY: Duration = Duration::from_secs(30);

/// The longest wait between two attempts to connect.
const LONGEST_BACKOFF: Duration = Duration::from_secs(60);

/// The waits between attempts to connect: from 1 s, doubling, up to [`LONGEST_BACKOFF`].
const RECONNECT: Backoff = Backoff::new(Duration::from_secs(1), LONGEST_BACKOFF);

/// Turns Mattermost posts addressed to the bot into commands.
pub struct Listener {
    chat: Mattermost,
    inbox: Arc<dyn Inbox>,
    settings: Settings,
    alive: Arc<AtomicBool>,
}

/// Where a socket left off, to resume from.
#[derive(Debug, Default)]
struct Position {
    /// `hello`'s `connection_id`.
    connection: Option<String>,
    /// The next event's `seq`.
    next: i64,
    /// The newest post seen (`create_at`, ms).
    last_post_at: i64,
    /// Channels posts were heard from (besides the configured ones), to read again after a
    /// connection that could not resume.
    channels: BTreeSet<String>,
    /// Posts handled, newest last.
    handled: VecDeque<String>,
}

impl Listener {
    /// A listener feeding `inbox` what is said to the bot on `chat`.
    pub fn new(chat: Mattermost, inbox: Arc<dyn Inbox>, settings: Settings) -> Listener {
        Listener {
            chat,
            inbox,
            settings,
            alive: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Whether the WebSocket is up, for `/healthz`.
    pub fn alive(&self) -> Arc<AtomicBool> {
        self.alive.clone()
    }

    /// Checks the token (waiting for a server that cannot be reached), then listens until the
    /// task is dropped, opening the socket again whenever it drops.
    pub async fn serve(self) -> Result<(), ServeError> {
        // A server that is down (or restarting) is waited for; a token it refuses ends `run`.
        let mut backoff = RECONNECT;
        let me = loop {
            match self.chat.me().await {
                Ok(me) => break me,
                Err(error) if error.is_refused() => return Err(ServeError::BadToken),
                Err(error) => {
                    let wait = backoff.next_wait().unwrap_or(LONGEST_BACKOFF);
                    tracing::warn!(%error, ?wait, "Mattermost cannot be reached; trying again");
                    tokio::time::sleep(wait).await;
                }
            }
        };
        tracing::info!(user = %me.username, "connected to Mattermost");
        let mut position = Position {
            channels: self.settings.channels.iter().cloned().collect(),
            last_post_at: chrono::Utc::now().timestamp_millis(),
            ..Position::default()
        };
        let mut backoff = RECONNECT;
        loop {
            match self.session(&me, &mut position).await {
                Ok(()) => backoff.reset(),
                Err(error) => tracing::warn!(%error, "the Mattermost socket failed"),
            }
            self.alive.store(false, Ordering::SeqCst);
            tokio::time::sleep(backoff.next_wait().unwrap_or(LONGEST_BACKOFF)).await;
        }
    }

    /// One socket, from connecting to its end. Returns `Ok` when it ended after working.
    async fn session(&self, me: &MmUser, position: &mut Position) -> Result<(), String> {
        let base = self.chat.url().replacen("http", "ws", 1);
        let mut url = format!("{base}/api/v4/websocket");
        if let Some(connection) = &position.connection {
            url.push_str(&format!(
                "?connection_id={connection}&sequence_number={}",
                position.next
            ));
        }
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|error| format!("the socket's address: {error}"))?;
        let bearer = format!("Bearer {}", self.chat.token().expose())
            .parse()
            .map_err(|_| "the token is not a valid header value".to_string())?;
        request.headers_mut().insert("Authorization", bearer);
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|error| format!("connecting: {error}"))?;
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.reset();
        let mut my_seq = 0;
        // A resumed connection gets no `hello` (§3.4): it is up once the upgrade is done.
        let mut worked = position.connection.is_some();
        self.alive.store(worked, Ordering::SeqCst);
        loop {
            let frame = tokio::select! {
                frame = tokio::time::timeout(SILENCE, socket.next()) => frame,
                _ = ping.tick() => {
                    my_seq += 1;
                    let asked = json!({"seq": my_seq, "action": "ping"}).to_string();
                    socket.send(Frame::text(asked)).await.map_err(|error| format!("pinging: {error}"))?;
                    continue;
                }
            };
            let frame = match frame {
                Err(_) => return Err(format!("no frame for {SILENCE:?}")),
                Ok(None) => return if worked { Ok(()) } else { Err("closed".into()) },
                Ok(Some(Err(error))) => return Err(format!("reading: {error}")),
                Ok(Some(Ok(frame))) => frame,
            };
            let Frame::Text(text) = frame else { continue };
            let Ok(event) = serde_json::from_str::<Value>(&text) else {
                tracing::warn!("a socket frame that is not JSON; ignored");
                continue;
            };
            // Replies to the bot's pings have no `event`.
            let Some(kind) = event["event"].as_str() else {
                continue;
            };
            let seq = event["seq"].as_i64().unwrap_or(-1);
            if kind == "hello" {
                let connection = event["data"]["connection_id"].as_str().map(String::from);
                if position.connection.is_some() && connection != position.connection {
                    // A new connection: the old one's events are lost (§3.4). Read what was
                    // posted since.
                    tracing::info!(
                        "the Mattermost socket could not resume; reading what was missed"
                    );
                    self.catch_up(me, position).await;
                }
                position.connection = connection;
                position.next = seq + 1;
                worked = true;
                self.alive.store(true, Ordering::SeqCst);
                continue;
            }
            if position.connection.is_none() {
                continue;
            }
            if seq < position.next {
                // Replayed, and taken in already.
                continue;
            }
            if seq > position.next {
                // A gap: reconnect from the first event missed, as the webapp does (§3.4).
                let _ = socket.close(None).await;
                return Err(format!("expected event {} but got {seq}", position.next));
            }
            position.next = seq + 1;
            worked = true;
            self.alive.store(true, Ordering::SeqCst);
            if kind == "posted" {
                self.posted(me, &event["data"], position);
            }
        }
    }

    /// Reads the posts made since the last one seen in every channel the bot serves, and
    /// handles those addressed to it.
    async fn catch_up(&self, me: &MmUser, position: &mut Position) {
        let channels: Vec<String> = position.channels.iter().cloned().collect();
        for channel in channels {
            // A direct message needs no mention: the channel's type says which it is.
            let kind = match self.chat.channel(&channel).await {
                Ok(found) => found.kind,
                Err(error) => {
                    tracing::warn!(%error, %channel, "reading a channel to catch up failed");
                    continue;
                }
            };
            // A second back, in case two posts share a millisecond: what was handled is known.
            let since = position.last_post_at - 1000;
            match self.chat.posts_since(&channel, since).await {
                Ok(posts) => {
                    for post in posts {
                        let data = json!({
                            "post": post.to_string(),
                            "channel_type": kind,
                            "team_id": Value::Null,
                        });
                        self.posted(me, &data, position);
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, %channel, "reading the posts missed failed")
                }
            }
        }
    }

    /// A `posted` event's `data` (§3.2): handles the post if it is addressed to the bot.
    fn posted(&self, me: &MmUser, data: &Value, position: &mut Position) {
        let Some(post) = data["post"]
            .as_str()
            .and_then(|post| serde_json::from_str::<Value>(post).ok())
        else {
            tracing::warn!("a posted event without a readable post; ignored");
            return;
        };
        let field = |name: &str| post[name].as_str().unwrap_or_default().to_string();
        let (id, user_id, channel, root) = (
            field("id"),
            field("user_id"),
            field("channel_id"),
            field("root_id"),
        );
        let from_webhook = post["props"]["from_webhook"].as_str() == Some("true");
        if id.is_empty()
            || user_id.is_empty()
            || user_id == me.id
            || !field("type").is_empty()
            || from_webhook
        {
            return;
        }
        position.last_post_at = position
            .last_post_at
            .max(post["create_at"].as_i64().unwrap_or_default());
        if position.handled.contains(&id) {
            return;
        }
        let direct = data["channel_type"].as_str() == Some("D");
        let team = data["team_id"].as_str().filter(|team| !team.is_empty());
        if !direct {
            let other_team =
                matches!((&self.settings.team, team), (Some(mine), Some(theirs)) if mine != theirs);
            let other_channel =
                !self.settings.channels.is_empty() && !self.settings.channels.contains(&channel);
            if other_team || other_channel {
                return;
            }
        }
        let message = field("message");
        let Some(text) = addressed(&message, &self.settings.prefix, &me.username)
            .or(direct.then_some(message.as_str()))
        else {
            return;
        };
        let text = text.trim().to_string();
        position.handled.push_back(id.clone());
        if position.handled.len() > REMEMBERED {
            position.handled.pop_front();
        }
        position.channels.insert(channel.clone());
        let replies = if root.is_empty() {
            channel.clone()
        } else {
            format!("{channel}/{root}")
        };
        let chat = self.chat.clone();
        let inbox = self.inbox.clone();
        let team = team.map(String::from).or(self.settings.team.clone());
        tokio::spawn(async move {
            if let Some(incoming) = chat
                .incoming(&user_id, &channel, team.as_deref(), replies, text)
                .await
            {
                inbox.handle(incoming).await;
            }
        });
    }
}

/// The command in `message`, if it is addressed to the bot: after the prefix, or after a
/// leading `@name` of the bot (and a `:` or `,` after it).
pub fn addressed<'a>(message: &'a str, prefix: &str, me: &str) -> Option<&'a str> {
    let message = message.trim_start();
    if !prefix.is_empty() {
        if let Some(rest) = message.strip_prefix(prefix) {
            return Some(rest);
        }
    }
    let rest = message.strip_prefix('@')?.strip_prefix(me)?;
    // `@image-builder2` is another user.
    if rest
        .chars()
        .next()
        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return None;
    }
    Some(rest.trim_start_matches([':', ',']))
}

#[cfg(test)]
mod tests {
    use super::addressed;

    #[test]
    fn a_command_is_addressed_by_prefix_or_mention() {
        assert_eq!(addressed("!status", "!", "ib"), Some("status"));
        assert_eq!(addressed("@ib status", "!", "ib"), Some(" status"));
        assert_eq!(addressed("@ib: status", "", "ib"), Some(" status"));
        assert_eq!(addressed("@ib2 status", "!", "ib"), None);
        assert_eq!(addressed("hello @ib", "!", "ib"), None);
        assert_eq!(addressed("status", "", "ib"), None);
    }
}
