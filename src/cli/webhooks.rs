//! `image-builder webhooks install|list`: the bot's webhook on every recipe of the catalogue.
//! `install` is idempotent: a recipe that already has a webhook to the same URL is left alone.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::follow::configured_client;
use super::{config_or_exit, ConfigArgs};
use crate::launchpad::models::OCI_BUILD_EVENT;
use crate::secret::Secret;

/// The environment variable with the webhook secret.
pub const SECRET_ENV: &str = "WEBHOOK_SECRET";

/// `image-builder webhooks`.
#[derive(Debug, Args)]
pub struct WebhooksArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: WebhooksAction,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The Launchpad credentials file [default: as for login].
    #[arg(long, value_name = "FILE", global = true)]
    pub credentials: Option<PathBuf>,
}

/// `install` or `list`.
#[derive(Debug, Subcommand)]
pub enum WebhooksAction {
    /// Register the bot's webhook (secret from WEBHOOK_SECRET) on every recipe.
    Install {
        /// Where Launchpad delivers [default: webhook.public_url].
        #[arg(long, value_name = "URL")]
        delivery_url: Option<String>,
    },
    /// Show the webhooks registered on every recipe.
    List,
}

/// Runs `webhooks`.
pub async fn run(
    args: &WebhooksArgs,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let config = match config_or_exit(&args.config, err) {
        Ok(config) => config,
        Err(code) => return Ok(code),
    };
    let client = configured_client(&config, args.credentials.as_ref())?;
    let recipes: Vec<_> = config
        .catalogue
        .images
        .iter()
        .flat_map(|image| image.tracks.iter().map(move |track| (image, track)))
        .collect();
    match &args.action {
        WebhooksAction::List => {
            for (image, track) in recipes {
                let url = client.recipe_url(&track.recipe);
                let hooks = client.webhooks(&url).await?;
                let shown: Vec<String> = hooks
                    .iter()
                    .map(|hook| {
                        format!(
                            "{} ({}{})",
                            hook.delivery_url,
                            hook.event_types.join(", "),
                            if hook.active { "" } else { ", inactive" }
                        )
                    })
                    .collect();
                let shown = if shown.is_empty() {
                    "none".to_string()
                } else {
                    shown.join("; ")
                };
                writeln!(out, "{} {}: {shown}", image.name, track.series)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        WebhooksAction::Install { delivery_url } => {
            let Some(delivery_url) = delivery_url
                .clone()
                .or_else(|| config.webhook.public_url.clone())
            else {
                writeln!(err, "Say where Launchpad should deliver: --delivery-url URL, or webhook.public_url in the config.")?;
                return Ok(ExitCode::from(super::USAGE_ERROR));
            };
            let Some(secret) = std::env::var(SECRET_ENV)
                .ok()
                .filter(|s| !s.trim().is_empty())
            else {
                writeln!(err, "Set {SECRET_ENV} to the secret the listener checks deliveries with (the same one `run` is given).")?;
                return Ok(ExitCode::FAILURE);
            };
            let secret = Secret::new(secret.trim());
            let mut failed = 0;
            for (image, track) in recipes {
                let url = client.recipe_url(&track.recipe);
                let existing = client.webhooks(&url).await?;
                let line = if existing
                    .iter()
                    .any(|hook| hook.delivery_url == delivery_url)
                {
                    "already registered".to_string()
                } else {
                    match client
                        .new_webhook(&url, &delivery_url, &[OCI_BUILD_EVENT], Some(&secret))
                        .await
                    {
                        Ok(_) => "registered".to_string(),
                        Err(error) => {
                            failed += 1;
                            format!("failed: {error}")
                        }
                    }
                };
                writeln!(out, "{} {}: {line}", image.name, track.series)?;
            }
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}
