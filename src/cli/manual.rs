//! `image-builder completions` and `image-builder man`: shell completions and manual pages,
//! generated from the same clap definitions as `--help`, so they never disagree with it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, Outcome};

/// `image-builder completions`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  image-builder completions bash > /usr/share/bash-completion/completions/image-builder\n  image-builder completions zsh > ~/.zfunc/_image-builder"
)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// `image-builder man`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  image-builder man | man -l -\n  image-builder man --out-dir /usr/local/share/man/man1"
)]
pub struct ManArgs {
    /// Write one page per command here (image-builder.1, image-builder-build.1, ...) instead
    /// of printing image-builder(1).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Prints the completion script for a shell.
pub fn completions(args: &CompletionsArgs, out: &mut impl Write) -> Outcome {
    let mut command = Cli::command();
    // Into memory first: clap_complete panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "image-builder", &mut script);
    out.write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints image-builder(1), or writes every page to a directory.
pub fn man(args: &ManArgs, out: &mut impl Write) -> Outcome {
    let command = Cli::command();
    let Some(dir) = &args.out_dir else {
        clap_mangen::Man::new(command).render(out)?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(command, dir)?;
    writeln!(out, "Manual pages written to {}.", dir.display())?;
    Ok(ExitCode::SUCCESS)
}
