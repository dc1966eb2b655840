//! `image-builder webhooks install|list|ping`: the bot's webhook on every recipe of the
//! catalogue. `install` is idempotent and repairs: a webhook that already has the bot's URL
//! gets the secret set again (Launchpad never shows it, and one left with another secret is
//! answered 401, which Launchpad gives up on after an hour), and is made active and delivering
//! `oci-recipe:build:0.1` (`reference/launchpad-truths.md`, "Webhooks on recipes"); then the
//! deliveries of the last day that failed (refused under a stale secret, sent to an inactive
//! webhook, given up on) are sent again with `reset`, so the alerts they carry are not lost.
//! `list` says per recipe whether the bot's webhook is there and right, and how many of its
//! deliveries failed in the last day; `ping` asks Launchpad to ping each and says which
//! deliveries arrived and were verified by the listener.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::follow::configured_client;
use super::{config, env_secret, ConfigArgs, Failure, Outcome, SECRET_ENV};
use crate::launchpad::models::{Webhook, WebhookDelivery, OCI_BUILD_EVENT};
use crate::launchpad::{Client, LaunchpadError};
use crate::messages::webhooks as say;
use crate::secret::Secret;

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
    /// Where Launchpad delivers to the bot [default: webhook.public_url].
    #[arg(long, value_name = "URL", global = true)]
    pub delivery_url: Option<String>,
}

/// `install`, `list` or `ping`.
#[derive(Debug, Subcommand)]
pub enum WebhooksAction {
    /// Register the bot's webhook (secret from WEBHOOK_SECRET) on every recipe, or set an
    /// existing one right (secret, active, event type) and send again the deliveries of the
    /// last day that failed.
    Install,
    /// Show, per recipe, whether the bot's webhook is there, active, with its event type, and
    /// how many of its deliveries failed in the last day.
    List,
    /// Ask Launchpad to ping the bot's webhook on every recipe, and say which pings arrived
    /// and were verified by the listener.
    Ping {
        /// How long to wait for the deliveries, in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        timeout: u64,
    },
}

/// Runs `webhooks`.
pub async fn run(args: &WebhooksArgs, out: &mut impl Write) -> Outcome {
    let config = config(&args.config)?;
    let client = configured_client(&config, args.credentials.as_ref())?;
    let recipes: Vec<(String, String)> = config
        .catalogue
        .images
        .iter()
        .flat_map(|image| {
            let client = &client;
            image.tracks.iter().map(move |track| {
                (
                    format!("{} {}", image.name, track.series),
                    client.recipe_url(&track.recipe),
                )
            })
        })
        .collect();
    let delivery_url = args
        .delivery_url
        .clone()
        .or_else(|| config.webhook.public_url.clone());
    let needs_url = || Failure::usage(crate::messages::delivery_url_missing());
    match &args.action {
        WebhooksAction::List => {
            for (label, url) in &recipes {
                let line = match listed(&client, url, delivery_url.as_deref()).await {
                    Ok(line) => line,
                    Err(error) => say::failed(&error),
                };
                writeln!(out, "{label}: {line}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
        WebhooksAction::Install => {
            let delivery_url = delivery_url.ok_or_else(needs_url)?;
            let secret = env_secret(SECRET_ENV).ok_or_else(|| {
                Failure::failed(crate::messages::install_without_secret(SECRET_ENV))
            })?;
            let mut failed = 0;
            for (label, url) in &recipes {
                let line = match install(&client, url, &delivery_url, &secret).await {
                    Ok(line) => line,
                    Err(error) => {
                        failed += 1;
                        say::failed(&error)
                    }
                };
                writeln!(out, "{label}: {line}")?;
            }
            Ok(if failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        WebhooksAction::Ping { timeout } => {
            let delivery_url = delivery_url.ok_or_else(needs_url)?;
            let mut pings = Vec::new();
            for (label, url) in &recipes {
                let mut sent = Vec::new();
                let hooks = client.webhooks(url).await;
                match hooks {
                    Ok(hooks) => {
                        for hook in hooks
                            .iter()
                            .filter(|hook| hook.delivery_url == delivery_url)
                        {
                            match client.ping_webhook(&hook.self_link).await {
                                Ok(delivery) => sent.push(Ok(delivery)),
                                Err(error) => sent.push(Err(error.to_string())),
                            }
                        }
                    }
                    Err(error) => sent.push(Err(error.to_string())),
                }
                pings.push((label.clone(), sent));
            }
            let deadline = tokio::time::Instant::now() + Duration::from_secs(*timeout);
            let mut all_verified = true;
            for (label, sent) in pings {
                if sent.is_empty() {
                    all_verified = false;
                    writeln!(out, "{label}: {}", say::pinged(None))?;
                }
                for ping in sent {
                    let line = match ping {
                        Ok(delivery) => {
                            let delivery = settled(&client, &delivery, deadline).await;
                            all_verified &=
                                delivery.as_ref().is_ok_and(|d| d.successful == Some(true));
                            match delivery {
                                Ok(delivery) => say::pinged(Some(&delivery)),
                                Err(error) => say::failed(&error),
                            }
                        }
                        Err(error) => {
                            all_verified = false;
                            say::failed(&error)
                        }
                    };
                    writeln!(out, "{label}: {line}")?;
                }
            }
            Ok(if all_verified {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// Registers the bot's webhook on one recipe, or sets right those already there.
async fn install(
    client: &Client,
    recipe: &str,
    delivery_url: &str,
    secret: &Secret,
) -> Result<String, LaunchpadError> {
    let hooks = client.webhooks(recipe).await?;
    let mine: Vec<&Webhook> = hooks
        .iter()
        .filter(|hook| hook.delivery_url == delivery_url)
        .collect();
    if mine.is_empty() {
        client
            .new_webhook(recipe, delivery_url, &[OCI_BUILD_EVENT], Some(secret))
            .await?;
        return Ok(say::REGISTERED.to_string());
    }
    let mut activated = false;
    let mut event_added = false;
    let mut resent = 0;
    for hook in mine {
        client.set_webhook_secret(&hook.self_link, secret).await?;
        let has_event = hook.event_types.iter().any(|t| t == OCI_BUILD_EVENT);
        if !hook.active || !has_event {
            let mut events: Vec<&str> = hook.event_types.iter().map(String::as_str).collect();
            if !has_event {
                events.push(OCI_BUILD_EVENT);
            }
            client.activate_webhook(&hook.self_link, &events).await?;
            activated |= !hook.active;
            event_added |= !has_event;
        }
        // Set right: what it failed to deliver meanwhile is sent again, its retry clock reset
        // (a delivery Launchpad gave up on is still there to be retried), and signed with the
        // secret just set (`launchpad-truths.md`, "Webhooks on recipes").
        for delivery in failed_deliveries(client, hook).await? {
            client.retry_delivery(&delivery.self_link, true).await?;
            resent += 1;
        }
    }
    Ok(say::repaired(activated, event_added, resent))
}

/// How far back failed deliveries are looked for (and sent again by `install`): Launchpad
/// retries a delivery refused for a day at most, so older ones are of builds long told
/// another way, or not worth telling now.
const RESEND_WITHIN: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// A webhook's build deliveries of the last day whose last attempt failed.
async fn failed_deliveries(
    client: &Client,
    hook: &Webhook,
) -> Result<Vec<WebhookDelivery>, LaunchpadError> {
    Ok(client
        .webhook_deliveries(hook, RESEND_WITHIN)
        .await?
        .into_iter()
        .filter(|delivery| delivery.event_type == OCI_BUILD_EVENT)
        .filter(|delivery| delivery.successful == Some(false))
        .collect())
}

/// `list`'s line for a recipe: its webhooks, and the failed deliveries of the bot's.
async fn listed(
    client: &Client,
    recipe: &str,
    delivery_url: Option<&str>,
) -> Result<String, LaunchpadError> {
    let hooks = client.webhooks(recipe).await?;
    let mut failed = Vec::new();
    for hook in hooks
        .iter()
        .filter(|hook| delivery_url.is_none_or(|url| hook.delivery_url == url))
    {
        failed.extend(failed_deliveries(client, hook).await?);
    }
    Ok(say::listed(&hooks, delivery_url, &failed))
}

/// A delivery once Launchpad has tried it, or as it is at `deadline`.
async fn settled(
    client: &Client,
    url: &str,
    deadline: tokio::time::Instant,
) -> Result<WebhookDelivery, LaunchpadError> {
    loop {
        let delivery = client.webhook_delivery(url).await?;
        // One attempt tells: Launchpad's later retries of a refused ping change nothing.
        let tried = delivery.successful.is_some() || !delivery.pending;
        if tried || tokio::time::Instant::now() >= deadline {
            return Ok(delivery);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
