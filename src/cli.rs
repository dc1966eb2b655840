//! The command line: clap's definitions and what each subcommand does. `build` hands its
//! arguments to the chat grammar's [`parse_rebuild`], so the terminal and the chat accept and
//! refuse exactly the same rebuilds, with the same words.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::command::parse_rebuild;
use crate::config::{Config, ConfigError, BUILT_IN_NAME};
use crate::messages::{self, Front};
use crate::plan::plan;

/// Rebuild the Ubuntu OCI images on Launchpad, follow the builds, and report failed uploads.
#[derive(Debug, Parser)]
#[command(name = "image-builder", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Subcommands,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Subcommands {
    /// Rebuild images: every image, series and architecture unless narrowed down.
    Build(BuildArgs),
    /// Check the config file offline; exits non-zero naming the file and key of any problem.
    CheckConfig(ConfigArgs),
}

/// Which config file to use.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The config file [default: the compiled-in copy of config/default.toml].
    #[arg(long, value_name = "FILE", env = "IMAGE_BUILDER_CONFIG")]
    pub config: Option<PathBuf>,
}

/// `image-builder build`: the seed's usage.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  image-builder build --dry-run --series 20.04 --arch arm64 -- redis\n  image-builder build --series jammy --dry-run"
)]
pub struct BuildArgs {
    /// A series to build, by number or code name; repeat for more [default: all].
    #[arg(long, value_name = "MM.YY")]
    pub series: Vec<String>,
    /// An architecture to build; repeat for more [default: all the image has].
    #[arg(long, value_name = "ARCH")]
    pub arch: Vec<String>,
    /// Wait until every build and upload has finished, and report the outcome.
    #[arg(long)]
    pub wait: bool,
    /// Retry failed registry uploads automatically, with backoff.
    #[arg(long)]
    pub auto_retry_uploads: bool,
    /// Print the plan (each recipe with its architectures) and build nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Why, for the record.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The images to build [default: all].
    #[arg(last = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

impl BuildArgs {
    /// The arguments in the chat grammar's words: `--series S --arch A ... -- IMAGE...`.
    pub fn grammar_words(&self) -> Vec<String> {
        let mut words = Vec::new();
        for series in &self.series {
            words.extend(["--series".to_string(), series.clone()]);
        }
        for arch in &self.arch {
            words.extend(["--arch".to_string(), arch.clone()]);
        }
        for (set, flag) in [
            (self.wait, "--wait"),
            (self.auto_retry_uploads, "--auto-retry-uploads"),
            (self.dry_run, "--dry-run"),
        ] {
            if set {
                words.push(flag.to_string());
            }
        }
        if let Some(reason) = &self.reason {
            words.push(format!("reason={reason}"));
        }
        words.push("--".to_string());
        if self.images.is_empty() {
            words.push("all".to_string());
        } else {
            words.extend(self.images.iter().cloned());
        }
        words
    }
}

/// The exit code for a command the user got wrong (clap's own choice for usage errors).
const USAGE_ERROR: u8 = 2;

/// Runs a parsed command line, writing results to `out` and problems to `err`.
pub fn run(cli: Cli, out: &mut impl Write, err: &mut impl Write) -> anyhow::Result<ExitCode> {
    match cli.command {
        Subcommands::CheckConfig(args) => {
            let (name, loaded) = load_config(&args);
            match loaded {
                Ok(config) => writeln!(out, "{}", messages::config_ok(&name, &config))?,
                Err(error) => {
                    writeln!(err, "{error}")?;
                    return Ok(ExitCode::FAILURE);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Subcommands::Build(args) => build(&args, out, err),
    }
}

fn build(args: &BuildArgs, out: &mut impl Write, err: &mut impl Write) -> anyhow::Result<ExitCode> {
    let config = match load_config(&args.config).1 {
        Ok(config) => config,
        Err(error) => {
            writeln!(err, "{error}")?;
            return Ok(ExitCode::FAILURE);
        }
    };
    let vocabulary = config.catalogue.vocabulary();
    let words = args.grammar_words();
    let rebuild = match parse_rebuild(words.iter().map(String::as_str), &vocabulary) {
        Ok(rebuild) => rebuild,
        Err(error) => {
            writeln!(err, "{}", messages::parse_error(&error, Front::CommandLine))?;
            return Ok(ExitCode::from(USAGE_ERROR));
        }
    };
    let plan = match plan(&rebuild, &config.catalogue) {
        Ok(plan) => plan,
        Err(error) => {
            writeln!(err, "{}", messages::plan_error(&error, Front::CommandLine))?;
            return Ok(ExitCode::from(USAGE_ERROR));
        }
    };
    tracing::debug!(%rebuild, builds = plan.builds(), "planned");
    if rebuild.dry_run {
        let approval = plan.approval(&config.confirmation, false);
        writeln!(
            out,
            "{}",
            messages::dry_run(&plan, approval, &config.confirmation)
        )
        .context("writing the plan")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(err, "{}", messages::building_not_available())?;
    Ok(ExitCode::FAILURE)
}

/// The config named by `--config`, or the built-in one; with the name errors use.
fn load_config(args: &ConfigArgs) -> (String, Result<Config, ConfigError>) {
    match &args.config {
        Some(path) => (path.display().to_string(), Config::load(path)),
        None => (BUILT_IN_NAME.to_string(), Config::built_in()),
    }
}
