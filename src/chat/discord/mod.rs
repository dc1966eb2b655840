//! The Discord adapter, on serenity 0.12: text commands addressed to the bot (a mention, or the
//! configured prefix), slash commands and button clicks become [`Incoming`] messages; the bot's
//! messages and edits go out through Discord's REST API with mentions limited to the requester,
//! so build output can never ping `@everyone`.
//!
//! - Every call (send, edit, interaction answer, follow-up) is tried again on 429 and 5xx.
//! - An edit carries the message's buttons; an edit without buttons removes them (Discord
//!   keeps the components an edit omits). An edit of a message that is gone (404) says so
//!   ([`ChatError::is_gone`]), so the engine posts the board again instead of editing a hole.
//! - An answer longer than one message continues in follow-ups, its buttons under the last.
//! - With `discord.guild_id` set, only that guild is served: messages and interactions from
//!   other guilds, and direct messages, are ignored.
//!
//! `discord.api_base` points it at a Discord-compatible server (the tests' fake Discord): the
//! REST base is rewritten and serenity's rate limiter, which would ignore the rewrite, is off.

use std::sync::Arc;

use serenity::all::{
    ButtonStyle, ChannelId, CreateActionRow, CreateAllowedMentions, CreateButton, CreateMessage,
    EditMessage, GatewayIntents, MessageId as DiscordMessageId, UserId,
};
use serenity::http::{Http, HttpBuilder};

mod handler;

pub use handler::{serve, Handler, ServeError};

use super::{Button, Chat, ChatError, Emphasis, MessageId, Outgoing};
use crate::backoff::Backoff;
use crate::secret::Secret;

/// Discord's limit on a message's content, in characters.
pub const MESSAGE_LIMIT: usize = 2000;

/// How old a board message gets before the board moves to a new one: Discord refuses edits of
/// a bot's messages after an hour, and five minutes leave room for a slow edit.
pub const BOARD_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(55 * 60);

/// The intents the bot asks for: guild messages with their content (the Message Content intent
/// must be enabled for the bot in the Developer Portal).
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS | GatewayIntents::GUILD_MESSAGES | GatewayIntents::MESSAGE_CONTENT
}

/// An HTTP client for Discord, or for the Discord-compatible server at `api_base`.
pub fn http(token: &Secret, api_base: Option<&str>) -> Http {
    match api_base {
        Some(base) => HttpBuilder::new(token.expose())
            .proxy(base)
            .ratelimiter_disabled(true)
            .build(),
        None => Http::new(token.expose()),
    }
}

/// The adapter. Cheap to clone.
#[derive(Clone)]
pub struct Discord {
    http: Arc<Http>,
}

impl Discord {
    /// An adapter sending through `http`.
    pub fn new(http: Arc<Http>) -> Discord {
        Discord { http }
    }
}

fn channel(id: &str) -> Result<ChannelId, ChatError> {
    id.parse::<u64>()
        .ok()
        .filter(|id| *id != 0)
        .map(ChannelId::new)
        .ok_or_else(|| ChatError::new(format!("`{id}` is not a Discord channel id")))
}

/// A message's text with its mention, cut into pieces Discord accepts: at line ends where it
/// can, never rejected for length.
pub fn pieces(message: &Outgoing) -> Vec<String> {
    let text = match &message.mention {
        Some(user) => format!("<@{user}> {}", message.text),
        None => message.text.clone(),
    };
    super::split(&text, MESSAGE_LIMIT)
}

/// Buttons as one action row; `disabled` for a button already used.
fn components(buttons: &[Button], disabled: bool) -> Vec<CreateActionRow> {
    if buttons.is_empty() {
        return Vec::new();
    }
    let row = buttons
        .iter()
        .map(|button| {
            let style = match button.emphasis() {
                Emphasis::Primary => ButtonStyle::Primary,
                Emphasis::Plain => ButtonStyle::Secondary,
                Emphasis::Danger => ButtonStyle::Danger,
            };
            CreateButton::new(button.custom_id())
                .label(button.label())
                .style(style)
                .disabled(disabled)
        })
        .collect();
    vec![CreateActionRow::Buttons(row)]
}

/// Only the requester may be pinged, and only when the message names them.
fn allowed_mentions(message: &Outgoing) -> CreateAllowedMentions {
    let users = message
        .mention
        .iter()
        .filter_map(|user| user.parse::<u64>().ok().filter(|id| *id != 0))
        .map(UserId::new);
    CreateAllowedMentions::new().users(users)
}

/// How many times a call Discord answered 429 or 5xx is tried in all.
const ATTEMPTS: u32 = 5;

/// The waits between those attempts: 0.5, 1, 2, 4 s.
const RETRY: Backoff = Backoff::new(
    std::time::Duration::from_millis(500),
    std::time::Duration::from_secs(60),
);

/// Whether Discord's answer is worth trying again: rate limited, or Discord's own trouble.
fn transient(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// Runs `call` again while Discord answers 429 (Too Many Requests) or 5xx, waiting 0.5, 1, 2,
/// 4 s. serenity's own rate limiter waits out 429s in production; it is off against a test
/// server, and a 429 without `Retry-After` passes it anyway, so the adapter does not rely on it.
/// A 404 is [`ChatError::gone`].
async fn with_retries<T, F, Fut>(what: &str, mut call: F) -> Result<T, ChatError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, serenity::Error>>,
{
    use serenity::http::HttpError;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Ok(value) => return Ok(value),
            Err(serenity::Error::Http(HttpError::UnsuccessfulRequest(response)))
                if transient(response.status_code.as_u16()) && attempt < ATTEMPTS =>
            {
                let wait = RETRY.nth(attempt - 1);
                let status = response.status_code.as_u16();
                tracing::warn!(
                    what,
                    attempt,
                    status,
                    ?wait,
                    "Discord answered an error worth trying again; waiting"
                );
                tokio::time::sleep(wait).await;
            }
            Err(serenity::Error::Http(HttpError::UnsuccessfulRequest(response)))
                if response.status_code.as_u16() == 404 =>
            {
                let message = &response.error.message;
                return Err(ChatError::gone(format!("{what}: {message} (404)")));
            }
            Err(error) => return Err(ChatError::new(format!("{what}: {error}"))),
        }
    }
}

impl Chat for Discord {
    fn message_limit(&self) -> usize {
        MESSAGE_LIMIT
    }

    async fn send(&self, channel_id: &str, message: Outgoing) -> Result<MessageId, ChatError> {
        let channel = channel(channel_id)?;
        let mut first = None;
        let pieces = pieces(&message);
        let last = pieces.len() - 1;
        for (index, piece) in pieces.into_iter().enumerate() {
            // Buttons go under the last piece, where the message ends.
            let buttons = if index == last {
                components(&message.buttons, false)
            } else {
                Vec::new()
            };
            let sent = with_retries("sending a message", || {
                channel.send_message(
                    &self.http,
                    CreateMessage::new()
                        .content(piece.clone())
                        .components(buttons.clone())
                        .allowed_mentions(allowed_mentions(&message)),
                )
            })
            .await?;
            first.get_or_insert(sent.id);
        }
        let id = first.expect("pieces() gives at least one piece");
        Ok(MessageId(id.to_string()))
    }

    async fn edit(
        &self,
        channel_id: &str,
        id: &MessageId,
        message: Outgoing,
    ) -> Result<(), ChatError> {
        let channel = channel(channel_id)?;
        let message_id =
            id.0.parse::<u64>()
                .ok()
                .filter(|id| *id != 0)
                .map(DiscordMessageId::new)
                .ok_or_else(|| ChatError::new(format!("`{}` is not a Discord message id", id.0)))?;
        // An edited message cannot grow into two: a board over the limit is cut, saying so.
        let mut text = pieces(&message).remove(0);
        if text.chars().count() >= MESSAGE_LIMIT {
            text = text.chars().take(MESSAGE_LIMIT - 20).collect::<String>() + "\n… (cut to fit)";
        }
        // The buttons always go with it: Discord keeps the components an edit omits, so an
        // edit without them would leave a finished job's Cancel button under its board.
        let edit = EditMessage::new()
            .content(text)
            .components(components(&message.buttons, false))
            .allowed_mentions(allowed_mentions(&message));
        with_retries("editing a message", || {
            channel.edit_message(&self.http, message_id, edit.clone())
        })
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::Kind;

    #[test]
    fn long_text_is_split_at_line_ends_and_never_rejected() {
        let line = "x".repeat(900) + "\n";
        let message = Outgoing::new(Kind::Reply, line.repeat(5));
        let pieces = pieces(&message);
        assert_eq!(pieces.len(), 3);
        assert!(pieces.iter().all(|p| p.chars().count() <= MESSAGE_LIMIT));
        assert_eq!(pieces.concat(), line.repeat(5));
        let huge = Outgoing::new(Kind::Reply, "y".repeat(4500));
        assert_eq!(pieces_len(&huge), vec![2000, 2000, 500]);
    }

    fn pieces_len(message: &Outgoing) -> Vec<usize> {
        pieces(message).iter().map(|p| p.chars().count()).collect()
    }

    #[test]
    fn the_mention_leads_the_text() {
        let mut message = Outgoing::new(Kind::Summary, "done");
        message.mention = Some("5000".into());
        assert_eq!(pieces(&message), ["<@5000> done"]);
    }
}
