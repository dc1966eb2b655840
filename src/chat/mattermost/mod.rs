//! The Mattermost adapter, on Mattermost's API v4 (`reference/mattermost.md`): posts addressed
//! to the bot arrive on the WebSocket ([`socket`]) and become [`Incoming`](super::Incoming)
//! messages; the bot's messages and edits go out through REST as the bot account.
//!
//! - Where a command came from a thread (or started one), its answers, board and summary go to
//!   that thread: the adapter's channel strings are `CHANNEL_ID` or `CHANNEL_ID/ROOT_POST_ID`.
//! - Mattermost has no `allowed_mentions`: every `@` in the text is followed by a zero-width
//!   space, so build output or a reason saying `@channel` pings nobody (§2.4); the only mention
//!   is the requester's, as `@username`, which the adapter puts in front.
//! - Text over 16,383 characters is split on send (at line ends) and cut on edit: the server
//!   refuses longer posts and never splits them (§2.1).
//! - A 429 is waited out (`Retry-After`, else `X-Ratelimit-Reset`, in seconds: §7), a 5xx
//!   tried again; a 404 on an edit is [`ChatError::gone`].
//! - Buttons are message attachments' actions (§4) whose clicks Mattermost posts to the bot's
//!   listener ([`callbacks`]), when `mattermost.callback_url` says where that is. Mattermost
//!   signs nothing, so each button's context carries an HMAC of its action under a key derived
//!   from the bot's token (per install, kept nowhere); a click without the right one is
//!   refused. An edit always sends the props: they replace the old ones (§2.2), so a board
//!   whose job ended loses its Cancel button. Without a callback URL a message says the
//!   commands its buttons stand for instead.

pub mod callbacks;
pub mod socket;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Button, Chat, ChatError, Emphasis, Incoming, MessageId, Outgoing};
use crate::permissions::{Service, User};
use crate::secret::{hmac_sha1_hex, hmac_sha1_matches, Secret};

/// Mattermost's limit on a post's message, in characters (runes): §2.1.
pub const MESSAGE_LIMIT: usize = 16383;

/// The environment variable with the bot account's token.
pub const TOKEN_ENV: &str = "MATTERMOST_TOKEN";

/// How many times a call Mattermost answered 429 or 5xx is tried in all.
const ATTEMPTS: u32 = 5;

/// The longest wait for a rate limit's reset that the adapter sits out.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// A user as `GET /users/{id}` gives them (the fields the bot reads).
#[derive(Debug, Clone, Deserialize)]
pub struct MmUser {
    /// The 26-character id.
    pub id: String,
    /// The user name, without `@`.
    pub username: String,
    /// System roles, space-separated (`system_user system_admin`).
    #[serde(default)]
    pub roles: String,
    /// Whether it is a bot account.
    #[serde(default)]
    pub is_bot: bool,
}

/// A channel as `GET /channels/{id}` gives it.
#[derive(Debug, Clone, Deserialize)]
pub struct MmChannel {
    /// The id.
    pub id: String,
    /// `O` public, `P` private, `D` direct, `G` group.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The URL name.
    #[serde(default)]
    pub name: String,
    /// The name people see.
    #[serde(default)]
    pub display_name: String,
    /// The team (empty for direct and group messages).
    #[serde(default)]
    pub team_id: String,
}

/// A team or channel membership: its roles, space-separated.
#[derive(Debug, Clone, Deserialize)]
struct Membership {
    #[serde(default)]
    roles: String,
}

/// The adapter. Cheap to clone.
#[derive(Clone)]
pub struct Mattermost {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// The server's URL, without a trailing `/`.
    url: String,
    token: Secret,
    /// User names by id, for mentions.
    names: Mutex<HashMap<String, String>>,
    /// Where clicks go (`…/mattermost/action`), if buttons are shown.
    actions: Option<String>,
    /// The key buttons' contexts are signed with.
    key: Vec<u8>,
}

/// Where a message goes: a channel, and the thread's root post if it is in a thread.
fn target(channel: &str) -> (&str, Option<&str>) {
    match channel.split_once('/') {
        Some((channel, root)) => (channel, Some(root)),
        None => (channel, None),
    }
}

/// `text` with every `@` made harmless: followed by a zero-width space, which Mattermost does
/// not read as a mention (§2.4), and which people do not see.
pub fn defuse(text: &str) -> String {
    text.replace('@', "@\u{200B}")
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
fn action_id(button: &Button, index: usize) -> String {
    let label: String = button
        .label()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{}{index}", label.to_lowercase())
}

impl Mattermost {
    /// An adapter for the server at `url` (`https://chat.example.com`), as the bot account whose
    /// token is `token`.
    pub fn new(url: &str, token: Secret) -> Result<Mattermost, ChatError> {
        Mattermost::build(url, token, None)
    }

    /// The same, showing buttons whose clicks Mattermost posts to `callback_url` (the bot's
    /// listener as Mattermost reaches it, `https://bot.example.com`) at
    /// [`callbacks::ACTION_PATH`].
    pub fn with_buttons(
        url: &str,
        token: Secret,
        callback_url: &str,
    ) -> Result<Mattermost, ChatError> {
        let actions = format!(
            "{}{}",
            callback_url.trim_end_matches('/'),
            callbacks::ACTION_PATH
        );
        Mattermost::build(url, token, Some(actions))
    }

    fn build(url: &str, token: Secret, actions: Option<String>) -> Result<Mattermost, ChatError> {
        // Buttons are signed with a key only this install has: derived from its token.
        let key = hmac_sha1_hex(
            token.expose().as_bytes(),
            b"image-builder: Mattermost buttons",
        )
        .into_bytes();
        let http = reqwest::Client::builder()
            .user_agent(concat!("image-builder/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|error| ChatError::new(format!("an HTTP client: {error}")))?;
        Ok(Mattermost {
            inner: Arc::new(Inner {
                http,
                url: url.trim_end_matches('/').to_string(),
                token,
                names: Mutex::new(HashMap::new()),
                actions,
                key,
            }),
        })
    }

    /// Whether `sig` is the signature of `action` made by this install.
    pub(crate) fn signed(&self, action: &str, sig: &str) -> bool {
        hmac_sha1_matches(&self.inner.key, action.as_bytes(), sig)
    }

    /// A post's `props`: its buttons as one attachment's actions, or none (§4.1). Always the
    /// whole map, since an edit's props replace the old ones.
    fn props(&self, buttons: &[Button]) -> Value {
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
    fn buttons_shown(&self) -> bool {
        self.inner.actions.is_some()
    }

    /// The person who wrote to the bot, as the bot knows them: their id, name and roles where
    /// they wrote (`channel` in `team`), for a command `text` whose answers go to `replies`.
    /// `None` (and logged) if they cannot be read, or are a bot.
    pub async fn incoming(
        &self,
        user_id: &str,
        channel: &str,
        team: Option<&str>,
        replies: String,
        text: String,
    ) -> Option<Incoming> {
        let user = match self.user(user_id).await {
            Ok(user) => user,
            Err(error) => {
                tracing::warn!(%error, "the user who wrote to the bot is not known; ignored");
                return None;
            }
        };
        if user.is_bot {
            return None;
        }
        let roles = self.roles(&user, channel, team).await;
        Some(Incoming {
            user: User {
                id: user.id,
                name: Some(user.username),
                roles,
                service: Service::Mattermost,
            },
            channel: replies,
            text,
        })
    }

    /// A post, by id.
    pub async fn post(&self, id: &str) -> Result<Value, ChatError> {
        self.call("reading a post", Method::GET, &format!("/posts/{id}"), None)
            .await
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The bot account's token.
    pub(crate) fn token(&self) -> &Secret {
        &self.inner.token
    }

    /// Calls `METHOD /api/v4{path}` with `body`, waiting out 429s and trying 5xx again. An
    /// error says what failed, Mattermost's error id and message, never the token.
    async fn call(
        &self,
        what: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ChatError> {
        let url = format!("{}/api/v4{path}", self.inner.url);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .inner
                .http
                .request(method.clone(), &url)
                .bearer_auth(self.inner.token.expose());
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) if attempt < ATTEMPTS => {
                    let wait = Duration::from_millis(500 << (attempt - 1));
                    tracing::warn!(what, attempt, error = %error.without_url(), ?wait, "Mattermost did not answer; trying again");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(error) => {
                    return Err(ChatError::new(format!("{what}: {}", error.without_url())))
                }
            };
            let status = response.status();
            if status.is_success() {
                return response
                    .json::<Value>()
                    .await
                    .map_err(|error| ChatError::new(format!("{what}: {}", error.without_url())));
            }
            let transient = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
            if transient && attempt < ATTEMPTS {
                let wait = retry_after(response.headers())
                    .unwrap_or(Duration::from_millis(500 << (attempt - 1)))
                    .min(LONGEST_WAIT);
                tracing::warn!(
                    what,
                    attempt,
                    status = status.as_u16(),
                    ?wait,
                    "Mattermost answered an error worth trying again; waiting"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            let text = response.text().await.unwrap_or_default();
            let error: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let id = error["id"].as_str().unwrap_or_default();
            let message = error["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| text.chars().take(200).collect());
            let said = format!("{what}: {message} ({} {id})", status.as_u16());
            return Err(match status {
                StatusCode::NOT_FOUND => ChatError::gone(said),
                StatusCode::UNAUTHORIZED => ChatError::refused(said),
                _ => ChatError::new(said),
            });
        }
    }

    /// The bot account (`GET /users/me`): checks the token.
    pub async fn me(&self) -> Result<MmUser, ChatError> {
        let me = self
            .call("reading the bot's account", Method::GET, "/users/me", None)
            .await?;
        serde_json::from_value(me)
            .map_err(|error| ChatError::new(format!("reading the bot's account: {error}")))
    }

    /// A user, by id.
    pub async fn user(&self, id: &str) -> Result<MmUser, ChatError> {
        let user = self
            .call("reading a user", Method::GET, &format!("/users/{id}"), None)
            .await?;
        let user: MmUser = serde_json::from_value(user)
            .map_err(|error| ChatError::new(format!("reading a user: {error}")))?;
        self.remember(&user.id, &user.username);
        Ok(user)
    }

    /// A channel, by id.
    pub async fn channel(&self, id: &str) -> Result<MmChannel, ChatError> {
        let channel = self
            .call(
                "reading a channel",
                Method::GET,
                &format!("/channels/{id}"),
                None,
            )
            .await?;
        serde_json::from_value(channel)
            .map_err(|error| ChatError::new(format!("reading a channel: {error}")))
    }

    /// The roles `user` holds where they asked: on the server, in the channel's team, in the
    /// channel. A membership that cannot be read adds no roles (and is logged).
    pub async fn roles(&self, user: &MmUser, channel: &str, team: Option<&str>) -> Vec<String> {
        let mut roles: Vec<String> = user.roles.split_whitespace().map(String::from).collect();
        let mut paths = vec![format!("/channels/{channel}/members/{}", user.id)];
        if let Some(team) = team.filter(|team| !team.is_empty()) {
            paths.push(format!("/teams/{team}/members/{}", user.id));
        }
        for path in paths {
            match self
                .call("reading a membership", Method::GET, &path, None)
                .await
                .and_then(|value| {
                    serde_json::from_value::<Membership>(value)
                        .map_err(|error| ChatError::new(error.to_string()))
                }) {
                Ok(membership) => {
                    roles.extend(membership.roles.split_whitespace().map(String::from))
                }
                Err(error) => tracing::warn!(%error, "a membership's roles are not known"),
            }
        }
        roles
    }

    fn remember(&self, id: &str, name: &str) {
        self.inner
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), name.to_string());
    }

    /// The user name of the user with `id`, for a mention.
    async fn name_of(&self, id: &str) -> Option<String> {
        let known = self
            .inner
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned();
        if known.is_some() {
            return known;
        }
        match self.user(id).await {
            Ok(user) => Some(user.username),
            Err(error) => {
                tracing::warn!(%error, "the user to mention is not known; not mentioned");
                None
            }
        }
    }

    /// The posts of `channel` made since `since` (ms), oldest first: what a socket that could not
    /// resume missed (§3.4).
    pub async fn posts_since(&self, channel: &str, since: i64) -> Result<Vec<Value>, ChatError> {
        let list = self
            .call(
                "reading a channel's posts",
                Method::GET,
                &format!("/channels/{channel}/posts?since={since}"),
                None,
            )
            .await?;
        let posts = &list["posts"];
        let mut found: Vec<Value> = list["order"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|id| id.as_str())
            .filter_map(|id| posts.get(id).cloned())
            .collect();
        found.sort_by_key(|post| post["create_at"].as_i64().unwrap_or_default());
        Ok(found)
    }
}

/// What `check-config --online` found of the Mattermost settings: a line per check, `true`
/// where it holds.
pub async fn check(
    chat: &Mattermost,
    settings: &crate::config::MattermostConfig,
) -> Vec<(bool, String)> {
    let mut found = Vec::new();
    let me = match chat.me().await {
        Ok(me) => me,
        Err(error) if error.is_refused() => {
            found.push((false, format!("{TOKEN_ENV} is refused by {}: make a new token for the bot account (System Console → Integrations → Bot Accounts).", chat.url())));
            return found;
        }
        Err(error) => {
            found.push((false, format!("{}: {error}", chat.url())));
            return found;
        }
    };
    found.push((
        true,
        format!(
            "{TOKEN_ENV} works: the bot is @{} on {}.",
            me.username,
            chat.url()
        ),
    ));
    if !me.is_bot {
        found.push((true, format!("@{} is not a bot account; a bot account is better (its token does not expire and it cannot log in).", me.username)));
    }
    if let Some(team) = &settings.team {
        let path = format!("/teams/{team}/members/{}", me.id);
        match chat.call("reading the team", Method::GET, &path, None).await {
            Ok(_) => found.push((true, format!("mattermost.team {team}: the bot is a member."))),
            Err(error) => found.push((false, format!("mattermost.team {team}: the bot is not a member, or there is no such team ({error})."))),
        }
    }
    for (key, id) in settings.channel_ids() {
        let channel = match chat.channel(id).await {
            Ok(channel) => channel,
            Err(error) => {
                found.push((
                    false,
                    format!("{key} {id}: no such channel the bot can see ({error})."),
                ));
                continue;
            }
        };
        let path = format!("/channels/{id}/members/{}", me.id);
        match chat.call("reading a membership", Method::GET, &path, None).await {
            Ok(_) => found.push((true, format!("{key} {id} (~{}): the bot is a member.", channel.name))),
            Err(_) => found.push((false, format!("{key} {id} (~{}): the bot is not a member; add it to the channel (it hears and posts only where it is a member).", channel.name))),
        }
    }
    found
}

/// How long a 429 says to wait: `Retry-After`, else `X-Ratelimit-Reset` (seconds until the
/// limit resets: §7), at least a tenth of a second.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    ["retry-after", "x-ratelimit-reset"]
        .iter()
        .find_map(|name| {
            headers
                .get(*name)?
                .to_str()
                .ok()?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        .map(|seconds| Duration::from_secs_f64(seconds.max(0.1)))
}

impl Chat for Mattermost {
    fn message_limit(&self) -> usize {
        MESSAGE_LIMIT
    }

    async fn send(&self, channel: &str, message: Outgoing) -> Result<MessageId, ChatError> {
        let (channel_id, root) = target(channel);
        let mention = match &message.mention {
            Some(id) => self.name_of(id).await,
            None => None,
        };
        let mut first = None;
        let text = render(&message, mention.as_deref(), self.buttons_shown());
        let pieces = super::split(&text, MESSAGE_LIMIT);
        let last = pieces.len() - 1;
        for (index, piece) in pieces.into_iter().enumerate() {
            // Buttons go under the last piece, where the message ends.
            let buttons = if index == last {
                &message.buttons[..]
            } else {
                &[]
            };
            let body = json!({
                "channel_id": channel_id,
                "message": piece,
                "root_id": root.unwrap_or_default(),
                "props": self.props(buttons),
            });
            let post = self
                .call(
                    "sending a message",
                    Method::POST,
                    "/posts?set_online=false",
                    Some(&body),
                )
                .await?;
            let id = post["id"].as_str().unwrap_or_default().to_string();
            first.get_or_insert(id);
        }
        Ok(MessageId(first.unwrap_or_default()))
    }

    async fn edit(
        &self,
        _channel: &str,
        id: &MessageId,
        message: Outgoing,
    ) -> Result<(), ChatError> {
        let mention = match &message.mention {
            Some(user) => self.name_of(user).await,
            None => None,
        };
        // An edited post cannot grow into two: a board over the limit is cut, saying so.
        let mut text = render(&message, mention.as_deref(), self.buttons_shown());
        if text.chars().count() > MESSAGE_LIMIT {
            text = text.chars().take(MESSAGE_LIMIT - 20).collect::<String>() + "\n… (cut to fit)";
        }
        if id.0.is_empty() || !id.0.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ChatError::new(format!(
                "`{}` is not a Mattermost post id",
                id.0
            )));
        }
        self.call(
            "editing a message",
            Method::PUT,
            &format!("/posts/{}/patch", id.0),
            Some(&json!({ "message": text, "props": self.props(&message.buttons) })),
        )
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{Button, Kind};

    #[test]
    fn every_at_sign_is_defused_and_only_the_requester_is_named() {
        let mut message = Outgoing::new(Kind::Summary, "reason: @channel @all ping @here");
        message.mention = Some("id".into());
        let text = render(&message, Some("alice"), false);
        assert!(text.starts_with("@alice "), "{text}");
        for everyone in ["@channel", "@all", "@here"] {
            assert!(!text.contains(everyone), "{text}");
        }
    }

    #[test]
    fn a_thread_is_part_of_the_channel_string() {
        assert_eq!(target("c1/r1"), ("c1", Some("r1")));
        assert_eq!(target("c1"), ("c1", None));
    }

    #[test]
    fn buttons_are_said_as_commands() {
        let message = Outgoing::new(Kind::Reply, "big plan")
            .with_buttons(vec![Button::Confirm("ab12".into())]);
        assert_eq!(render(&message, None, false), "big plan\n(`confirm ab12`)");
        assert_eq!(render(&message, None, true), "big plan");
    }

    #[test]
    fn a_buttons_context_is_signed_by_this_install_only() {
        let chat = Mattermost::with_buttons("http://mm", Secret::new("t1"), "http://bot/").unwrap();
        let other = Mattermost::with_buttons("http://mm", Secret::new("t2"), "http://bot").unwrap();
        let props = chat.props(&[Button::Cancel(crate::target::JobId(7))]);
        let action = &props["attachments"][0]["actions"][0];
        assert_eq!(action["id"], "canceljob0");
        let integration = &action["integration"];
        assert_eq!(integration["url"], "http://bot/mattermost/action");
        let sig = integration["context"]["sig"].as_str().unwrap();
        assert!(chat.signed("ib:cancel:7", sig));
        assert!(!chat.signed("ib:cancel:8", sig));
        assert!(!other.signed("ib:cancel:7", sig));
        assert!(!chat.signed("ib:cancel:7", "zz"));
    }

    #[test]
    fn a_rate_limit_says_how_long_to_wait() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-ratelimit-reset", "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after", "1".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(1)));
        assert_eq!(retry_after(&reqwest::header::HeaderMap::new()), None);
    }
}
