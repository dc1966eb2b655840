//! Discord's events to the bot: text commands addressed to it, slash commands, clicks and
//! autocompletion, for the configured guild only; and the answers to interactions, continued
//! in follow-ups when they are longer than one message.

use std::sync::{Arc, OnceLock};

use serenity::all::{
    Command, CommandInteraction, ComponentInteraction, Context, CreateAllowedMentions,
    CreateAutocompleteResponse, CreateInteractionResponse, CreateInteractionResponseMessage,
    EventHandler, GuildId, Interaction, Member, Message, Ready, User as DiscordUser, UserId,
};
use serenity::async_trait;
use serenity::http::Http;

use super::{components, http, intents, pieces, with_retries, MESSAGE_LIMIT};
use crate::chat::{slash, Button, ChatError, Inbox, Incoming, Kind, Outgoing};
use crate::permissions::User;
use crate::secret::Secret;

/// Turns Discord messages addressed to the bot, slash commands and button clicks into commands.
pub struct Handler {
    bot: Arc<dyn Inbox>,
    prefix: String,
    guild: Option<GuildId>,
    me: OnceLock<UserId>,
    alive: Arc<std::sync::atomic::AtomicBool>,
}

/// The user as the bot knows them: the Discord user id, and their roles in the guild.
fn user(user: &DiscordUser, member: Option<&Member>) -> User {
    discord_user(user, member.map(|member| &member.roles[..]))
}

fn discord_user(user: &DiscordUser, roles: Option<&[serenity::all::RoleId]>) -> User {
    User {
        id: user.id.to_string(),
        roles: roles
            .unwrap_or_default()
            .iter()
            .map(|role| role.to_string())
            .collect(),
        service: crate::permissions::Service::Discord,
        ..User::default()
    }
}

impl Handler {
    /// A handler feeding `bot`, for messages starting with `prefix` or mentioning the bot; slash
    /// commands are registered in `guild` (or globally, which Discord takes up to an hour to show).
    pub fn new(bot: Arc<dyn Inbox>, prefix: String, guild: Option<u64>) -> Handler {
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
        // Used: the message says what the click did, and its buttons are disabled. A private
        // answer (a refusal, or Show log's excerpt): said to the clicker alone; the message and
        // its buttons stay.
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
        let mut pieces = pieces(&Outgoing::new(Kind::Reply, self.text));
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
        let incoming = Incoming {
            user: discord_user(
                &message.author,
                message.member.as_ref().map(|member| &member.roles[..]),
            ),
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
