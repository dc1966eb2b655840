//! `image-builder completions` and `image-builder man`: shell completions and manual pages,
//! generated from the same clap definitions as `--help`, so they never disagree with it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::PossibleValuesParser;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

use super::{Cli, ConfigArgs, Outcome};

/// The EXIT STATUS section of every manual page, in roff.
const EXIT_STATUS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Done: for a job (build \-\-wait, wait, cancel, retry), every build and upload succeeded.
.TP
\fB1\fR
It could not be done, and nothing was requested: a bad config, missing credentials, the job store in use or unwritable, Launchpad unreachable.
.TP
\fB2\fR
The command was wrong (an unknown image, a series an image lacks, a bad option); the message says what would be right.
.TP
\fB3\fR
A build failed, a recipe could not be requested (including "already pending"), an architecture asked for got no build, or one not asked for could not be cancelled.
.TP
\fB4\fR
Everything built, but an upload failed or a build was superseded before its upload.
.TP
\fB5\fR
The job was cancelled, or given up at its deadline.
.TP
\fB6\fR
Everything built and uploaded, but a hook failed.
.TP
\fB130\fR
Interrupted (Ctrl\-C): the job goes on on Launchpad; image\-builder wait JOB follows it.
"#;

/// `image-builder completions`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  image-builder completions bash > /usr/share/bash-completion/completions/image-builder\n  image-builder completions zsh > ~/.zfunc/_image-builder"
)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: Shell,
    #[command(flatten)]
    pub config: ConfigArgs,
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

/// Prints the completion script for a shell. The words of `build`, `history` and `mute`, and
/// `--series` and `--arch`, complete to the catalogue's images, series and architectures (of
/// the config given, else the compiled-in one): a list written into the script, so it is as
/// current as the config it was made from.
pub fn completions(args: &CompletionsArgs, out: &mut impl Write) -> Outcome {
    let config = super::config(&args.config)?;
    let vocabulary = catalogue_words(&config);
    let words = || PossibleValuesParser::new(vocabulary.all.clone());
    let series = || PossibleValuesParser::new(vocabulary.series.clone());
    let arches = || PossibleValuesParser::new(vocabulary.arches.clone());
    let command = Cli::command()
        .mut_subcommand("build", |build| {
            build
                .mut_arg("images", |arg| arg.value_parser(words()))
                .mut_arg("series", |arg| arg.value_parser(series()))
                .mut_arg("arch", |arg| arg.value_parser(arches()))
        })
        .mut_subcommand("history", |history| {
            history.mut_arg("filters", |arg| arg.value_parser(words()))
        });
    let mut command = command;
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
        out.write_all(EXIT_STATUS.as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(command, dir)?;
    // Each page ends with the exit codes (roff reads a section appended at the end as any).
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|extension| extension == "1") {
            let mut page = std::fs::OpenOptions::new().append(true).open(&path)?;
            page.write_all(EXIT_STATUS.as_bytes())?;
        }
    }
    writeln!(out, "Manual pages written to {}.", dir.display())?;
    Ok(ExitCode::SUCCESS)
}

/// The catalogue's words for completion.
struct CatalogueWords {
    /// Images, series (numbers and code names), architectures and `all`.
    all: Vec<String>,
    series: Vec<String>,
    arches: Vec<String>,
}

fn catalogue_words(config: &crate::config::Config) -> CatalogueWords {
    let mut series = std::collections::BTreeSet::new();
    let mut arches = std::collections::BTreeSet::new();
    let mut images = std::collections::BTreeSet::new();
    for image in &config.catalogue.images {
        images.insert(image.name.to_string());
        for arch in &image.arches {
            arches.insert(arch.to_string());
        }
        for track in &image.tracks {
            series.insert(track.series.to_string());
        }
    }
    let series: Vec<String> = series.into_iter().collect();
    let arches: Vec<String> = arches.into_iter().collect();
    let mut all: Vec<String> = images.into_iter().collect();
    all.extend(series.iter().cloned());
    all.extend(arches.iter().cloned());
    all.push("all".to_string());
    CatalogueWords {
        all,
        series,
        arches,
    }
}
