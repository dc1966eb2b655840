//! `image-builder login`: the OAuth dance against the configured web root, then the credentials
//! file, written with mode 0600.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::{config, credentials_path, ConfigArgs, Failure, Outcome};
use crate::launchpad::login::{login, LoginSettings};
use crate::messages;

/// `image-builder login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Where to write the credentials [default: launchpad.credentials_file, else
    /// $XDG_CONFIG_HOME/image-builder/launchpad-credentials].
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// The Launchpad web root to authorize on [default: launchpad.web_root from the config].
    #[arg(long, value_name = "URL")]
    pub web_root: Option<String>,
    /// The access level to ask for.
    #[arg(long, value_name = "LEVEL", default_value = "WRITE_PUBLIC")]
    pub access_level: String,
    /// How long to wait for the authorization, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 900)]
    pub timeout: u64,
}

/// Runs `login`.
pub async fn run(args: &LoginArgs, out: &mut impl Write) -> Outcome {
    let config = config(&args.config)?;
    let mut web_root = args
        .web_root
        .clone()
        .unwrap_or_else(|| config.launchpad.web_root.clone());
    if !web_root.ends_with('/') {
        web_root.push('/');
    }
    let path = credentials_path(args.credentials.as_ref(), &config);
    let mut settings = LoginSettings::new(web_root);
    settings.access_level = args.access_level.clone();
    settings.timeout = Duration::from_secs(args.timeout);
    let mut shown = Ok(());
    let credentials = login(&settings, |url| {
        shown = writeln!(out, "{}", messages::login_open(url, &settings.access_level))
            .and_then(|()| out.flush());
    })
    .await;
    shown?;
    let credentials =
        credentials.map_err(|error| Failure::failed(messages::login_failed(error)))?;
    credentials.save(&path).map_err(Failure::failed)?;
    writeln!(
        out,
        "{}",
        messages::login_saved(&path.display().to_string())
    )?;
    Ok(ExitCode::SUCCESS)
}
