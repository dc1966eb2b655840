//! `image-builder check-config`: the config offline, and with `--online` every recipe it names
//! fetched from Launchpad, since the recipe names can only be verified there, and its
//! processors compared with the architectures the config asks of the image.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{credentials_path, load_config, ConfigArgs, Failure, Outcome};
use crate::launchpad::auth::Credentials;
use crate::launchpad::{Client, LaunchpadError};
use crate::messages;

/// `image-builder check-config`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Also fetch every recipe from Launchpad (anonymously unless credentials exist).
    #[arg(long)]
    pub online: bool,
    /// The credentials file for --online [default: as for login].
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
}

/// How long `check-config --online` waits for Launchpad's first answer.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `check-config`.
pub async fn run(args: &CheckArgs, out: &mut impl Write, err: &mut impl Write) -> Outcome {
    let (name, loaded) = load_config(&args.config);
    let config = loaded.map_err(Failure::failed)?;
    writeln!(out, "{}", messages::config_ok(&name, &config))?;
    if !args.online {
        return Ok(ExitCode::SUCCESS);
    }
    let chat_problems = if config.chat.service == crate::permissions::Service::Mattermost {
        check_mattermost(&config, out, err).await?
    } else {
        0
    };
    // Credentials are optional here: public recipes read anonymously.
    let path = credentials_path(args.credentials.as_ref(), &config);
    let credentials = Credentials::load(&path).ok();
    // No network, or a wrong api_root: said at once in one line, rather than after every
    // recipe's retries. One attempt at the service root, within a few seconds.
    let mut probe = config.launchpad.client_settings(None);
    probe.retry = crate::launchpad::retry::RetryPolicy {
        max_attempts: 1,
        ..probe.retry
    };
    probe.request_timeout = probe.request_timeout.min(PROBE_TIMEOUT);
    if let Err(error) = Client::new(probe)?.speed().await {
        if matches!(
            error,
            LaunchpadError::Transport { .. } | LaunchpadError::Timeout { .. }
        ) {
            writeln!(
                err,
                "{}",
                messages::launchpad_unreachable(&config.launchpad.api_root, &error)
            )?;
            return Ok(ExitCode::FAILURE);
        }
    }
    let client = Client::new(config.launchpad.client_settings(credentials))?;
    let mut checks = tokio::task::JoinSet::new();
    for image in &config.catalogue.images {
        let arches: Vec<String> = image.arches.iter().map(ToString::to_string).collect();
        for track in &image.tracks {
            let client = client.clone();
            let url = client.recipe_url(&track.recipe);
            let label = format!("{} {}", image.name, track.series);
            let arches = arches.clone();
            checks.spawn(async move {
                let checked = match client.recipe(&url).await {
                    Ok(_) => client
                        .processors(&url)
                        .await
                        .map(|processors| differences(&arches, &processors)),
                    Err(error) => Err(error),
                };
                (label, url.clone(), checked)
            });
        }
    }
    let mut results = Vec::new();
    while let Some(joined) = checks.join_next().await {
        results.push(joined?);
    }
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let mut problems = 0;
    for (label, url, result) in &results {
        match result {
            Ok((lacking, extra)) if lacking.is_empty() && extra.is_empty() => {}
            Ok((lacking, extra)) => {
                // A recipe that lacks an architecture the config asks for fails every rebuild
                // of it; one that builds more only costs a cancel.
                if !lacking.is_empty() {
                    problems += 1;
                }
                writeln!(
                    err,
                    "{}",
                    messages::processors_differ(label, lacking, extra)
                )?;
            }
            Err(LaunchpadError::NotFound { .. }) => {
                problems += 1;
                writeln!(err, "{}", messages::recipe_missing(label, url))?;
            }
            Err(error) => {
                problems += 1;
                writeln!(err, "{label}: {error}")?;
            }
        }
    }
    writeln!(
        out,
        "{}",
        messages::recipes_checked(results.len(), problems)
    )?;
    Ok(if problems + chat_problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Checks the Mattermost token, team and channels; returns how many problems it found.
async fn check_mattermost(
    config: &crate::config::Config,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<usize> {
    use crate::chat::mattermost::{self, Mattermost};
    let Some(token) = super::env_secret(mattermost::TOKEN_ENV) else {
        writeln!(
            err,
            "{}",
            messages::mattermost_check_needs_token(mattermost::TOKEN_ENV)
        )?;
        return Ok(1);
    };
    let url = config.mattermost.url.as_deref().unwrap_or_default();
    let chat = Mattermost::new(url, token)?;
    let mut problems = 0;
    for (holds, line) in mattermost::check(&chat, &config.mattermost).await {
        if holds {
            writeln!(out, "{line}")?;
        } else {
            problems += 1;
            writeln!(err, "{line}")?;
        }
    }
    Ok(problems)
}

/// The architectures the config asks for that the recipe's processors lack, and those it
/// builds besides.
fn differences(wanted: &[String], processors: &[String]) -> (Vec<String>, Vec<String>) {
    let lacking = wanted
        .iter()
        .filter(|arch| !processors.contains(arch))
        .cloned()
        .collect();
    let extra = processors
        .iter()
        .filter(|name| !wanted.contains(name))
        .cloned()
        .collect();
    (lacking, extra)
}
