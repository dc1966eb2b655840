//! `image-builder sim`: the Launchpad simulator on its own, so anyone can point launchpadlib or
//! their own scripts at it. It prints its API root and a credentials file that works against
//! it, then serves until interrupted.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{config, ConfigArgs, Failure, Outcome};
use crate::launchpad::sim::scenario::Scenario;
use crate::launchpad::sim::{SimSettings, Simulator};
use crate::messages;

/// `image-builder sim`.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Where to listen; port 0 picks a free one.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// How much faster than Launchpad time runs (1 is Launchpad's pace: builds take 5 to 30
    /// minutes).
    #[arg(long, value_name = "X", default_value_t = 100.0)]
    pub speed: f64,
    /// Outcomes and faults to play (a TOML file; see docs/simulator.md).
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Also write the credentials to this file (mode 0600).
    #[arg(long, value_name = "FILE")]
    pub credentials_out: Option<PathBuf>,
}

/// Runs `sim` until Ctrl-C.
pub async fn run(args: &SimArgs, out: &mut impl Write) -> Outcome {
    let config = config(&args.config)?;
    if !(args.speed.is_finite() && args.speed > 0.0) {
        return Err(Failure::usage(messages::speed_not_positive(args.speed)));
    }
    let scenario = match &args.scenario {
        Some(path) => {
            Scenario::load(path).map_err(|error| Failure::failed(format!("{error:#}")))?
        }
        None => Scenario::default(),
    };
    let mut settings = SimSettings::new(config.catalogue);
    settings.listen = args.listen;
    settings.speed = Some(args.speed);
    settings.scenario = scenario;
    settings.auto_authorize = true;
    let sim = Simulator::start(settings).await?;
    let credentials = sim.credentials();
    if let Some(path) = &args.credentials_out {
        credentials.save(path)?;
    }
    writeln!(
        out,
        "{}",
        messages::sim_banner(
            &sim.api_root(),
            &sim.web_root(),
            args.speed,
            &credentials.to_file_text()
        )
    )?;
    out.flush()?;
    tokio::signal::ctrl_c().await?;
    Ok(ExitCode::SUCCESS)
}
