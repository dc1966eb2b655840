//! The commands `docs/` shows cannot drift from the tool: every `image-builder` (or `cargo run
//! --release --`) line of a code block in `docs/*.md` is given to the binary with `--help`
//! after its words, so clap checks each subcommand and option it names (and prints the help
//! instead of running it: a server such as `sim` would never return). The synopsis of
//! `docs/command-line.md` is checked option by option against each subcommand's `--help`.
//! The README's commands are run for real (`tests/readme.rs`).

use std::path::Path;
use std::process::Command;

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_image-builder"));
    command.env_remove("IMAGE_BUILDER_CONFIG");
    command
}

/// Each code-block line of the docs that runs the tool: (file, the arguments after its name).
fn shown_commands() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut shown = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "md"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut in_block = false;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with("```") {
                in_block = !in_block;
                continue;
            }
            let rest = line
                .strip_prefix("image-builder ")
                .or_else(|| line.strip_prefix("cargo run --release -- "));
            if let (true, Some(rest)) = (in_block, rest) {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                shown.push((name, rest.to_string()));
            }
        }
    }
    shown
}

/// A synopsis line: its words up to the first option or placeholder are the subcommand(s);
/// `a|b` gives each.
fn subcommands_and_options(synopsis: &str) -> (Vec<Vec<String>>, Vec<String>) {
    let words: Vec<&str> = synopsis.split_whitespace().collect();
    let mut paths = vec![Vec::new()];
    for word in &words {
        let plain = word.split('|').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        });
        if !plain || word.starts_with('-') {
            break;
        }
        paths = paths
            .iter()
            .flat_map(|path| {
                word.split('|').map(move |part| {
                    let mut longer = path.clone();
                    longer.push(part.to_string());
                    longer
                })
            })
            .collect();
    }
    let options = words
        .iter()
        .flat_map(|word| word.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')))
        .filter(|word| word.starts_with("--") && word.len() > 2)
        .map(String::from)
        .collect();
    (paths, options)
}

#[test]
fn every_command_the_docs_show_is_one_the_tool_takes() {
    let shown = shown_commands();
    assert!(
        shown.iter().any(|(file, _)| file != "command-line.md"),
        "the docs show commands: {shown:?}"
    );
    for (file, command) in &shown {
        if file == "command-line.md" {
            // The synopsis (`a|b`, `[--option X]`): checked below, option by option.
            continue;
        }
        let output = binary()
            .args(command.split_whitespace())
            .arg("--help")
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "docs/{file} shows `image-builder {command}`, which the tool refuses:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn the_synopsis_names_only_subcommands_and_options_that_exist() {
    let synopses: Vec<String> = shown_commands()
        .into_iter()
        .filter(|(file, command)| file == "command-line.md" && !command.starts_with("--"))
        .map(|(_, command)| command)
        .collect();
    assert!(synopses.len() > 15, "{synopses:?}");
    for synopsis in &synopses {
        let (paths, options) = subcommands_and_options(synopsis);
        // Every subcommand path that exists; its help, for the options.
        let mut helps = String::new();
        for path in &paths {
            let output = binary().args(path).arg("--help").output().unwrap();
            if output.status.code() == Some(0) {
                helps.push_str(&String::from_utf8_lossy(&output.stdout));
            } else if path.len() == 1 {
                panic!("`image-builder {}` is not a subcommand", path.join(" "));
            }
        }
        for option in &options {
            assert!(
                helps.contains(option.as_str()),
                "the synopsis `image-builder {synopsis}` names {option}, which no help of {paths:?} has"
            );
        }
    }
}
