//! The `image-builder` binary: logging, the command line, the exit code. Everything else is in
//! the library.

#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use image_builder::cli::{self, Cli};

/// The environment variable that sets log filters (`debug`, `image_builder=trace`, ...).
const LOG_ENV: &str = "IMAGE_BUILDER_LOG";

fn main() -> ExitCode {
    let filter = EnvFilter::try_from_env(LOG_ENV).unwrap_or_else(|_| EnvFilter::new("warn"));
    // Colour only for a person at a terminal: a file, a pipe or the journal gets plain text.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
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
