//! `image-builder build`: the seed's command line. Its arguments go through the chat grammar.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::{config_or_exit, ConfigArgs, USAGE_ERROR};
use crate::command::parse_rebuild;
use crate::messages::{self, Front};
use crate::plan::plan;

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

/// Runs `build`.
pub fn run(
    args: &BuildArgs,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let config = match config_or_exit(&args.config, err) {
        Ok(config) => config,
        Err(code) => return Ok(code),
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
