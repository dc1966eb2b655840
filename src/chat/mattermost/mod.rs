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

use reqwest::Method;
use serde_json::json;

use super::{Chat, ChatError, Incoming, MessageId, Outgoing};
use crate::backoff::Backoff;
use crate::permissions::{Service, User};
use crate::secret::{hmac_sha1_hex, hmac_sha1_matches, Secret};

mod api;
mod render;
pub use api::{check, MmChannel, MmUser};
pub use render::render;
use render::target;

/// Mattermost's limit on a post's message, in characters (runes): §2.1.
pub const MESSAGE_LIMIT: usize = 16383;

/// The environment variable with the bot account's token.
pub const TOKEN_ENV: &str = "MATTERMOST_TOKEN";

/// How many times a call Mattermost answered 429 or 5xx is tried in all.
const ATTEMPTS: u32 = 5;

/// The longest wait for a rate limit's reset that the adapter sits out.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// The waits between a call's attempts: 0.5, 1, 2, 4 s (or what `Retry-After` asks, up to
/// [`LONGEST_WAIT`]).
const RETRY: Backoff = Backoff::new(Duration::from_millis(500), LONGEST_WAIT);

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

/// `text` with every `@` made harmless: followed by a zero-width space, which Mattermost does
/// not read as a mention (§2.4), and which people do not see.
pub fn defuse(text: &str) -> String {
    text.replace('@', "@\u{200B}")
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

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The bot account's token.
    pub(crate) fn token(&self) -> &Secret {
        &self.inner.token
    }
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
    use super::api::retry_after;
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
            .with_buttons(vec![Button::Confirm("AB2345".parse().unwrap())]);
        assert_eq!(
            render(&message, None, false),
            "big plan\n(`confirm AB2345`)"
        );
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
