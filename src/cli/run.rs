//! `image-builder run`: the bot on the configured chat (`[chat] service`: Discord or
//! Mattermost), with the engine and store, against the configured Launchpad. `DISCORD_TOKEN` or
//! `MATTERMOST_TOKEN` holds the bot's token. `SIGTERM` or Ctrl-C stops it cleanly ([`stop`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Args;

use super::follow::{configured_client, data_dir, open_store, pace_of};
use super::{config, env_secret, ConfigArgs, Failure, Outcome, SECRET_ENV};
use crate::bot::Bot;
use crate::chat::discord::{self, Discord, Handler};
use crate::chat::mattermost::{self, Mattermost};
use crate::engine::Engine;
use crate::health::Watch;
use crate::permissions::Service;
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

/// Runs the bot on the configured chat until the chat ends the connection for good.
pub async fn run(args: &RunArgs) -> Outcome {
    let config = config(&args.config)?;
    match config.chat.service {
        Service::Mattermost => run_mattermost(args, config).await,
        Service::Discord | Service::Console => run_discord(args, config).await,
    }
}

/// The token in `variable`, or a failure saying where to get one.
fn token_from(variable: &str, how: &str) -> Result<Secret, Failure> {
    env_secret(variable)
        .ok_or_else(|| Failure::failed(crate::messages::token_missing(variable, how)))
}

/// The engine's settings for `run`: deliveries reach this process where it listens for them.
/// Paced at the speed of the Launchpad `client` talks to ([`pace_of`]).
async fn engine_settings(
    config: &crate::config::Config,
    client: &crate::launchpad::Client,
) -> crate::engine::EngineSettings {
    let speed = pace_of(client).await;
    if config.webhook.listen.is_some() {
        crate::engine::EngineSettings::with_webhooks(config, speed)
    } else {
        crate::engine::EngineSettings::from_config(config, speed)
    }
}

async fn run_discord(args: &RunArgs, config: crate::config::Config) -> Outcome {
    let token = token_from(
        TOKEN_ENV,
        "Developer Portal → Applications → your bot → Bot → Token",
    )?;
    let client = configured_client(&config, args.credentials.as_ref())?;
    let store = open_store(&data_dir(args.data_dir.as_ref(), &config))?;
    let api_base = config.discord.api_base.clone();
    let chat = Discord::new(Arc::new(discord::http(&token, api_base.as_deref())));
    let mut settings = engine_settings(&config, &client).await;
    settings.alerts_channel = config.discord.alerts_channel.map(|id| id.to_string());
    settings.board_max_age = Some(discord::BOARD_MAX_AGE);
    let engine = Engine::new(client, store, chat.clone(), settings);
    let prefix = config.discord.prefix.clone();
    let guild = config.discord.guild_id;
    let api_root = config.launchpad.api_root.clone();
    let listeners = Listeners::of(&config);
    let bot = Arc::new(Bot::new(config, api_root, engine.clone(), chat));
    let handler = Handler::new(bot, prefix, guild);
    listeners
        .start(&engine, handler.alive(), axum::Router::new())
        .await?;
    let served = tokio::select! {
        served = discord::serve(&token, api_base.as_deref(), handler) => served,
        signal = stop_signal() => return Ok(stop(&engine, signal).await),
    };
    served.map_err(Failure::failed)?;
    Ok(ExitCode::SUCCESS)
}

/// How long `run` gives its jobs to store what waits to be stored once asked to stop: well
/// within systemd's default of 90 s before it kills.
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// Waits for `SIGTERM` (systemd's stop) or `SIGINT` (Ctrl-C); says which.
async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut terminate) = signal(SignalKind::terminate()) else {
        tracing::warn!("cannot listen for SIGTERM; only Ctrl-C stops run cleanly");
        let _ = tokio::signal::ctrl_c().await;
        return "SIGINT";
    };
    tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    }
}

/// Stops `run` cleanly on `signal`: no new job starts, running jobs store what waits to be
/// stored and stop where they are (the next start resumes them; what they have said is
/// recorded, so nothing is said twice), then the process ends, closing the chat connection
/// and the listeners with it.
async fn stop<C: crate::chat::Chat + Clone>(engine: &Engine<C>, signal: &str) -> ExitCode {
    tracing::info!(
        signal,
        "stopping: running jobs are stored and resume at the next start"
    );
    let left = engine.stop(STOP_GRACE).await;
    if left > 0 {
        tracing::warn!(left, grace = ?STOP_GRACE, "jobs still storing when the grace period ended; they resume from what is stored");
    }
    if let Err(error) = engine.store().flush() {
        tracing::error!(%error, "flushing the store failed");
    }
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

async fn run_mattermost(args: &RunArgs, config: crate::config::Config) -> Outcome {
    let token = token_from(
        mattermost::TOKEN_ENV,
        "System Console → Integrations → Bot Accounts → your bot → Create New Token",
    )?;
    let url = config
        .mattermost
        .url
        .clone()
        .expect("a mattermost config has its url (Config::parse checks)");
    let chat = match &config.mattermost.callback_url {
        Some(callback) => Mattermost::with_buttons(&url, token, callback),
        None => Mattermost::new(&url, token),
    };
    let chat = chat.map_err(Failure::failed)?;
    let client = configured_client(&config, args.credentials.as_ref())?;
    let store = open_store(&data_dir(args.data_dir.as_ref(), &config))?;
    let mut settings = engine_settings(&config, &client).await;
    settings.alerts_channel = config.mattermost.alerts_channel.clone();
    // Mattermost has no edit-age limit by default (`PostEditTimeLimit` -1).
    settings.board_max_age = None;
    let engine = Engine::new(client, store, chat.clone(), settings);
    let socket_settings = mattermost::socket::Settings {
        prefix: config.mattermost.prefix.clone(),
        team: config.mattermost.team.clone(),
        channels: config.mattermost.channels.clone(),
    };
    let api_root = config.launchpad.api_root.clone();
    let listeners = Listeners::of(&config);
    let bot = Arc::new(Bot::new(config, api_root, engine.clone(), chat.clone()));
    let command_token = env_secret(mattermost::callbacks::COMMAND_TOKEN_ENV);
    if command_token.is_some() && listeners.webhook.is_none() {
        return Err(Failure::failed(
            crate::messages::command_token_without_listener(
                mattermost::callbacks::COMMAND_TOKEN_ENV,
            ),
        ));
    }
    let callbacks =
        mattermost::callbacks::router(chat.clone(), bot.clone(), command_token, Limits::default());
    let listener = mattermost::socket::Listener::new(chat, bot, socket_settings);
    listeners
        .start(&engine, listener.alive(), callbacks)
        .await?;
    let served = tokio::select! {
        served = listener.serve() => served,
        signal = stop_signal() => return Ok(stop(&engine, signal).await),
    };
    served.map_err(Failure::failed)?;
    Ok(ExitCode::SUCCESS)
}

/// What `run` serves besides the chat: health and metrics, and Launchpad's webhooks.
struct Listeners {
    metrics: std::net::SocketAddr,
    web: crate::config::WebConfig,
    catalogue: crate::catalogue::Catalogue,
    webhook: Option<std::net::SocketAddr>,
    api_root: String,
}

impl Listeners {
    fn of(config: &crate::config::Config) -> Listeners {
        Listeners {
            metrics: config.metrics.listen,
            web: config.web.clone(),
            catalogue: config.catalogue.clone(),
            webhook: config.webhook.listen,
            api_root: config.launchpad.api_root.clone(),
        }
    }

    /// Serves health and metrics (`chat_alive` says whether the chat is connected) and the
    /// webhook listener, with the chat's own `callbacks` on it, then resumes the engine's jobs.
    /// Fails if `run` cannot go on (the webhook secret is missing, its address taken).
    async fn start<C: crate::chat::Chat + Clone>(
        self,
        engine: &Engine<C>,
        chat_alive: Arc<AtomicBool>,
        callbacks: axum::Router,
    ) -> Result<(), Failure> {
        let deliveries_taken = self.webhook.map(|_| Arc::new(AtomicBool::new(true)));
        let watch = Watch::new(
            Some(engine.store().clone()),
            Some(chat_alive),
            deliveries_taken.clone(),
        );
        match tokio::net::TcpListener::bind(self.metrics).await {
            Ok(listener) => {
                tracing::info!(address = %self.metrics, "serving /healthz and /metrics");
                tokio::spawn(crate::health::serve(listener, watch));
            }
            Err(error) => {
                tracing::warn!(address = %self.metrics, %error, "cannot serve /healthz and /metrics (metrics.listen); going on without them");
            }
        }
        // The dashboard: refused outright when exposed without a token or a proxy; like
        // health and metrics, `run` goes on without it when it cannot listen.
        match crate::web::start(&self.web, engine.store().clone(), self.catalogue).await {
            Ok(url) => tracing::info!(%url, "serving the dashboard"),
            Err(crate::web::NotServed::Exposed(why)) => return Err(Failure::usage(why)),
            Err(error) => {
                tracing::warn!(%error, "cannot serve the dashboard (web.listen); going on without it");
            }
        }
        if let (Some(address), Some(taken)) = (self.webhook, deliveries_taken) {
            let secret = env_secret(SECRET_ENV).ok_or_else(|| {
                Failure::failed(crate::messages::listener_without_secret(SECRET_ENV))
            })?;
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|error| {
                    Failure::failed(crate::messages::cannot_listen(&address.to_string(), &error))
                })?;
            tracing::info!(%address, "listening for Launchpad's webhooks");
            tokio::spawn(crate::webhook::serve(
                listener,
                secret,
                engine.clone(),
                self.api_root,
                Limits::default(),
                taken,
                callbacks,
            ));
        }
        let resumed = engine.resume().await?;
        tracing::info!(resumed, "engine started");
        Ok(())
    }
}
