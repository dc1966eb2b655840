//! The `image-builder` binary: logging, the command line, the exit code. Everything else is in
//! the library.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use image_builder::cli::{self, Cli};

/// The environment variable that sets log filters (`debug`, `image_builder=trace`, ...).
const LOG_ENV: &str = "IMAGE_BUILDER_LOG";

fn main() -> ExitCode {
    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match cli.runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!("cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Unlocked handles: other threads (the engine's, printing to the console) write too.
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    runtime.block_on(cli::run(cli, &mut out, &mut err, cli::Styles::of_std()))
}
