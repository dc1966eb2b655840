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

use std::sync::{Arc, OnceLock};

use serenity::all::{
    ButtonStyle, ChannelId, Command, CommandInteraction, ComponentInteraction, Context,
    CreateActionRow, CreateAllowedMentions, CreateAutocompleteResponse, CreateButton,
    CreateInteractionResponse, CreateInteractionResponseMessage, CreateMessage, EditMessage,
    EventHandler, GatewayIntents, GuildId, Interaction, Member, Message,
    MessageId as DiscordMessageId, Ready, User as DiscordUser, UserId,
};
use serenity::async_trait;
use serenity::http::{Http, HttpBuilder};

use super::{slash, Button, Chat, ChatError, Incoming, MessageId, Outgoing};
use crate::bot::Bot;
use crate::permissions::User;
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
    let mut pieces = Vec::new();
    let mut current = String::new();
    for line in text.split_inclusive('\n') {
        if current.chars().count() + line.chars().count() > MESSAGE_LIMIT && !current.is_empty() {
            pieces.push(std::mem::take(&mut current));
        }
        if line.chars().count() > MESSAGE_LIMIT {
            let chars: Vec<char> = line.chars().collect();
            for chunk in chars.chunks(MESSAGE_LIMIT) {
                pieces.push(chunk.iter().collect());
            }
            continue;
        }
        current.push_str(line);
    }
    if !current.is_empty() || pieces.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// Buttons as one action row; `disabled` for a button already used.
fn components(buttons: &[Button], disabled: bool) -> Vec<CreateActionRow> {
    if buttons.is_empty() {
        return Vec::new();
    }
    let row = buttons
        .iter()
        .map(|button| {
            let style = match button {
                Button::Confirm(_) | Button::RetryUploads(_) | Button::RetryGroup(_) => {
                    ButtonStyle::Primary
                }
                Button::Abort(_) => ButtonStyle::Secondary,
                Button::Cancel(_) => ButtonStyle::Danger,
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
                let wait = std::time::Duration::from_millis(500 << (attempt - 1));
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

/// Turns Discord messages addressed to the bot, slash commands and button clicks into commands.
pub struct Handler {
    bot: Arc<Bot<Discord>>,
    prefix: String,
    guild: Option<GuildId>,
    me: OnceLock<UserId>,
    alive: Arc<std::sync::atomic::AtomicBool>,
}

/// The user as the bot knows them: the Discord user id, and their roles in the guild.
fn user(user: &DiscordUser, member: Option<&Member>) -> User {
    User {
        id: user.id.to_string(),
        roles: member
            .map(|member| member.roles.iter().map(|role| role.to_string()).collect())
            .unwrap_or_default(),
    }
}

impl Handler {
    /// A handler feeding `bot`, for messages starting with `prefix` or mentioning the bot; slash
    /// commands are registered in `guild` (or globally, which Discord takes up to an hour to show).
    pub fn new(bot: Arc<Bot<Discord>>, prefix: String, guild: Option<u64>) -> Handler {
        Handler {
            bot,
            prefix,
            guild: guild.filter(|id| *id != 0).map(GuildId::new),
            me: OnceLock::new(),
            alive: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// Whether the gateway connection is up, for `/healthz`.
    pub fn alive(&self) -> Arc<std::sync::atomic::AtomicBool> {
        self.alive.clone()
    }

    /// Whether an event from `guild` (`None`: a direct message) is for this bot: with a
    /// configured guild, only that guild's are.
    fn serves(&self, guild: Option<GuildId>) -> bool {
        self.guild.is_none_or(|mine| guild == Some(mine))
    }

    async fn command(&self, context: &Context, command: CommandInteraction) {
        let incoming = Incoming {
            user: user(&command.user, command.member.as_deref()),
            channel: command.channel_id.to_string(),
            text: slash::as_text(&command.data.name, &command.data.options),
        };
        let answer = self.bot.answer(&incoming).await;
        let reply = Reply {
            text: answer.text.clone(),
            buttons: answer.buttons.clone(),
            private: answer.private,
        };
        let answered = reply
            .send(&context.http, command.id, &command.token, None)
            .await;
        if let Err(error) = answered {
            tracing::warn!(%error, "answering a slash command failed");
        }
        self.bot.launch(answer);
    }

    async fn click(&self, context: &Context, click: ComponentInteraction) {
        let Some(button) = Button::parse(&click.data.custom_id) else {
            tracing::warn!(id = %click.data.custom_id, "a button this bot does not know");
            let reply = Reply {
                text: crate::messages::unknown_button(),
                buttons: Vec::new(),
                private: true,
            };
            if let Err(error) = reply
                .send(&context.http, click.id, &click.token, None)
                .await
            {
                tracing::warn!(%error, "answering a click failed");
            }
            return;
        };
        let incoming = Incoming {
            user: user(&click.user, click.member.as_ref()),
            channel: click.channel_id.to_string(),
            text: String::new(),
        };
        let answer = self.bot.click(&incoming, &button).await;
        let reply = Reply {
            text: answer.text.clone(),
            buttons: Vec::new(),
            private: answer.private,
        };
        // Used: the message says what the click did, and its buttons are disabled. Refused
        // (private): said to the clicker alone; the button stays for someone who may.
        let update = (!answer.private).then(|| {
            let original = &click.message;
            let buttons: Vec<Button> = original
                .components
                .iter()
                .flat_map(|row| &row.components)
                .filter_map(|component| match component {
                    serenity::all::ActionRowComponent::Button(button) => match &button.data {
                        serenity::all::ButtonKind::NonLink { custom_id, .. } => {
                            Button::parse(custom_id)
                        }
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            (original.content.clone(), click.user.id, buttons)
        });
        if let Err(error) = reply
            .send(&context.http, click.id, &click.token, update)
            .await
        {
            tracing::warn!(%error, "answering a click failed");
        }
        self.bot.launch(answer);
    }

    /// The command in `content`, if it is addressed to the bot: after the prefix, or after a
    /// leading mention of the bot (`<@ID>` or `<@!ID>`).
    pub fn addressed<'a>(&self, content: &'a str) -> Option<&'a str> {
        let content = content.trim_start();
        if !self.prefix.is_empty() {
            if let Some(rest) = content.strip_prefix(self.prefix.as_str()) {
                return Some(rest);
            }
        }
        let me = self.me.get()?;
        [format!("<@{me}>"), format!("<@!{me}>")]
            .iter()
            .find_map(|mention| content.strip_prefix(mention.as_str()))
    }
}

/// An answer to an interaction: in its response, continued in follow-ups when it is longer
/// than one message, its buttons under the last piece.
struct Reply {
    text: String,
    buttons: Vec<Button>,
    private: bool,
}

impl Reply {
    /// Answers interaction `id`. With `update` (the clicked message's text, the clicker and
    /// its buttons), the clicked message is updated in place to say what the click did, with
    /// its buttons disabled; if the answer does not fit there, it follows it.
    async fn send(
        self,
        http: &Http,
        id: serenity::all::InteractionId,
        token: &str,
        update: Option<(String, UserId, Vec<Button>)>,
    ) -> Result<(), ChatError> {
        let mut pieces = pieces(&Outgoing::new(super::Kind::Reply, self.text));
        let message = |content: String, buttons: &[Button], disabled: bool| {
            CreateInteractionResponseMessage::new()
                .content(content)
                .components(components(buttons, disabled))
                .allowed_mentions(CreateAllowedMentions::new())
        };
        let last = pieces.len() - 1;
        let first = match update {
            Some((original, clicker, buttons)) => {
                let said = format!("{original}\n\n<@{clicker}>: {}", pieces[0]);
                let content = if pieces.len() == 1 && said.chars().count() <= MESSAGE_LIMIT {
                    pieces.clear();
                    said
                } else {
                    original
                };
                CreateInteractionResponse::UpdateMessage(message(content, &buttons, true))
            }
            None => {
                let buttons = if last == 0 { &self.buttons[..] } else { &[] };
                let first = message(pieces.remove(0), buttons, false).ephemeral(self.private);
                CreateInteractionResponse::Message(first)
            }
        };
        with_retries("answering an interaction", || {
            http.create_interaction_response(id, token, &first, Vec::new())
        })
        .await?;
        let count = pieces.len();
        for (index, piece) in pieces.into_iter().enumerate() {
            let buttons = if index + 1 == count {
                components(&self.buttons, false)
            } else {
                Vec::new()
            };
            let followup = serenity::all::CreateInteractionResponseFollowup::new()
                .content(piece)
                .components(buttons)
                .ephemeral(self.private)
                .allowed_mentions(CreateAllowedMentions::new());
            with_retries("continuing an answer", || {
                http.create_followup_message(token, &followup, Vec::new())
            })
            .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl EventHandler for Handler {
    async fn shard_stage_update(
        &self,
        _context: Context,
        event: serenity::all::ShardStageUpdateEvent,
    ) {
        let up = matches!(event.new, serenity::gateway::ConnectionStage::Connected);
        self.alive.store(up, std::sync::atomic::Ordering::SeqCst);
        if !up {
            tracing::warn!(stage = ?event.new, "the Discord connection is not up");
        }
    }

    async fn resume(&self, _context: Context, _event: serenity::all::ResumedEvent) {
        self.alive.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    async fn ready(&self, context: Context, ready: Ready) {
        self.alive.store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = self.me.set(ready.user.id);
        tracing::info!(user = %ready.user.name, guilds = ready.guilds.len(), "connected to Discord");
        let registered = match self.guild {
            Some(guild) => guild
                .set_commands(&context.http, slash::definitions())
                .await
                .map(drop),
            None => Command::set_global_commands(&context.http, slash::definitions())
                .await
                .map(drop),
        };
        if let Err(error) = registered {
            tracing::error!(%error, "registering the slash commands failed; text commands still work");
        }
    }

    async fn interaction_create(&self, context: Context, interaction: Interaction) {
        let guild = match &interaction {
            Interaction::Command(command) | Interaction::Autocomplete(command) => command.guild_id,
            Interaction::Component(click) => click.guild_id,
            _ => None,
        };
        if !self.serves(guild) {
            tracing::debug!(?guild, "an interaction from another guild; ignored");
            return;
        }
        match interaction {
            Interaction::Command(command) => self.command(&context, command).await,
            Interaction::Component(click) => self.click(&context, click).await,
            Interaction::Autocomplete(autocomplete) => {
                let typed = autocomplete
                    .data
                    .autocomplete()
                    .map(|option| option.value.to_string())
                    .unwrap_or_default();
                let mut choices = CreateAutocompleteResponse::new();
                for name in slash::complete_images(&typed, self.bot.images()) {
                    choices = choices.add_string_choice(name.clone(), name);
                }
                let response = CreateInteractionResponse::Autocomplete(choices);
                if let Err(error) = autocomplete.create_response(&context.http, response).await {
                    tracing::warn!(%error, "answering autocomplete failed");
                }
            }
            _ => {}
        }
    }

    async fn message(&self, _context: Context, message: Message) {
        if message.author.bot || !self.serves(message.guild_id) {
            return;
        }
        let Some(text) = self.addressed(&message.content) else {
            return;
        };
        let roles = message
            .member
            .as_ref()
            .map(|member| member.roles.iter().map(|role| role.to_string()).collect())
            .unwrap_or_default();
        let incoming = Incoming {
            user: User {
                id: message.author.id.to_string(),
                roles,
            },
            channel: message.channel_id.to_string(),
            text: text.to_string(),
        };
        self.bot.handle(incoming).await;
    }
}

/// Why the bot stopped talking to Discord.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Gateway close 4004.
    #[error("Discord refused the token (gateway close 4004). Copy the bot's token again from the Developer Portal (Applications → your bot → Bot → Reset Token) into DISCORD_TOKEN.")]
    BadToken,
    /// Gateway close 4014.
    #[error("Discord refused the intents (gateway close 4014): enable \"Message Content Intent\" under Privileged Gateway Intents on the bot's page in the Developer Portal (Applications → your bot → Bot), then start again.")]
    DisallowedIntents,
    /// Anything else.
    #[error("Discord: {0}")]
    Other(String),
}

/// Connects to Discord (or the server at `api_base`) and handles messages until the
/// connection ends for good. serenity resumes dropped connections by itself.
pub async fn serve(
    token: &Secret,
    api_base: Option<&str>,
    handler: Handler,
) -> Result<(), ServeError> {
    use serenity::gateway::GatewayError;
    let mut client = serenity::Client::builder(token.expose(), intents());
    if api_base.is_some() {
        client = serenity::all::ClientBuilder::new_with_http(http(token, api_base), intents());
    }
    let mut client = client
        .event_handler(handler)
        .await
        .map_err(|error| ServeError::Other(error.to_string()))?;
    match client.start().await {
        Ok(()) => Ok(()),
        Err(serenity::Error::Gateway(GatewayError::InvalidAuthentication)) => {
            Err(ServeError::BadToken)
        }
        Err(serenity::Error::Gateway(GatewayError::DisallowedGatewayIntents)) => {
            Err(ServeError::DisallowedIntents)
        }
        Err(error) => Err(ServeError::Other(error.to_string())),
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
