//! `image-builder run`: the bot on Discord, with the engine and store, against the configured
//! Launchpad. `DISCORD_TOKEN` holds the bot's token.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Args;

use super::follow::{configured_client, data_dir, open_store};
use super::{config_or_exit, ConfigArgs};
use crate::bot::Bot;
use crate::chat::discord::{self, Discord, Handler};
use crate::jobs::Engine;
use crate::metrics::Watch;
use crate::secret::Secret;
use crate::serve::Limits;

/// The environment variable with the bot's token.
pub const TOKEN_ENV: &str = "DISCORD_TOKEN";

/// `image-builder run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The Launchpad credentials file [default: as for login].
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// The job store [default: engine.data_dir, else $XDG_STATE_HOME/image-builder].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Runs the bot until Discord ends the connection for good.
pub async fn run(args: &RunArgs, err: &mut impl Write) -> anyhow::Result<ExitCode> {
    let config = match config_or_exit(&args.config, err) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let Some(token) = std::env::var(TOKEN_ENV)
        .ok()
        .filter(|t| !t.trim().is_empty())
    else {
        writeln!(err, "Set {TOKEN_ENV} to the bot's token (Developer Portal → Applications → your bot → Bot → Token).")?;
        return Ok(ExitCode::FAILURE);
    };
    let token = Secret::new(token.trim());
    let client = configured_client(&config, args.credentials.as_ref())?;
    let store = open_store(&data_dir(args.data_dir.as_ref(), &config))?;
    let api_base = config.discord.api_base.clone();
    let chat = Discord::new(Arc::new(discord::http(&token, api_base.as_deref())));
    // Deliveries reach this process where it listens for them.
    let mut settings = if config.webhook.listen.is_some() {
        config.engine_settings_with_webhooks(1.0)
    } else {
        config.engine_settings(1.0)
    };
    settings.alerts_channel = config.discord.alerts_channel.map(|id| id.to_string());
    settings.board_max_age = Some(discord::BOARD_MAX_AGE);
    let engine = Engine::new(client, store, chat.clone(), settings);
    let config_listen = config.webhook.listen;
    let metrics_listen = config.metrics.listen;
    let webhook_api_root = config.launchpad.api_root.clone();
    let prefix = config.discord.prefix.clone();
    let guild = config.discord.guild_id;
    let api_root = config.launchpad.api_root.clone();
    let bot = Arc::new(Bot::new(config, api_root, engine.clone(), chat));
    let handler = Handler::new(bot, prefix, guild);
    let deliveries_taken = config_listen.map(|_| Arc::new(AtomicBool::new(true)));
    let watch = Watch::new(
        Some(engine.store().clone()),
        Some(handler.alive()),
        deliveries_taken.clone(),
    );
    match tokio::net::TcpListener::bind(metrics_listen).await {
        Ok(listener) => {
            tracing::info!(address = %metrics_listen, "serving /healthz and /metrics");
            tokio::spawn(crate::metrics::serve(listener, watch));
        }
        Err(error) => {
            tracing::warn!(address = %metrics_listen, %error, "cannot serve /healthz and /metrics (metrics.listen); going on without them");
        }
    }
    if let (Some(address), Some(taken)) = (config_listen, deliveries_taken) {
        let Some(secret) = std::env::var(super::webhooks::SECRET_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty())
        else {
            writeln!(err, "webhook.listen is set, so set {} to the secret Launchpad signs deliveries with (the one `webhooks install` registered).", super::webhooks::SECRET_ENV)?;
            return Ok(ExitCode::FAILURE);
        };
        let listener = tokio::net::TcpListener::bind(address).await?;
        tracing::info!(%address, "listening for Launchpad's webhooks");
        tokio::spawn(crate::webhook::serve(
            listener,
            Secret::new(secret.trim()),
            engine.clone(),
            webhook_api_root,
            Limits::default(),
            taken,
        ));
    }
    let resumed = engine.resume().await?;
    tracing::info!(resumed, "engine started");
    match discord::serve(&token, api_base.as_deref(), handler).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(error) => {
            writeln!(err, "{error}")?;
            Ok(ExitCode::FAILURE)
        }
    }
}
