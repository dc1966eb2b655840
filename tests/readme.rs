//! The README's commands, run as a newcomer would run them, so that they cannot drift from
//! the tool: every line of its `sh` blocks, in order, against `image-builder sim` standing in
//! for Launchpad (a config naming it, the default catalogue and timings), with a home of its
//! own. `login` is authorized by opening the page it shows, as a person would. Each command must
//! work: exit 0, or a job's own outcome (3, 4, 5), never 1 (it could not do it) or 2 (the
//! command is wrong). `cargo test` is the command running this; `cargo run --release --` is
//! the binary.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use support::process::{binary, http_get, output_within, Running, Setup};

/// Every line of the README's `sh` code blocks.
fn readme_commands() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut commands = Vec::new();
    let mut in_sh = false;
    for line in readme.lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            command if in_sh && !command.is_empty() && !command.starts_with('#') => {
                commands.push(command.to_string());
            }
            _ => {}
        }
    }
    commands
}

/// Redis's arm64 upload fails once, so the README's `retry uploads` has something to retry.
const SCENARIO: &str = "[[outcomes]]\nimage = \"redis\"\narch = \"arm64\"\nupload_failures = 1\n";

#[test]
fn every_command_the_readme_shows_works_as_shown() {
    let commands = readme_commands();
    assert!(
        commands.iter().any(|command| command == "cargo test")
            && commands
                .iter()
                .any(|command| command.starts_with("cargo run --release -- sandbox")),
        "the README's first two commands: {commands:?}"
    );
    assert!(
        commands.len() > 5,
        "the README walks through a rebuild: {commands:?}"
    );
    let setup = Setup::start("readme", SCENARIO, "300");
    let home = setup.dir.0.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let config = setup.dir.0.join("launchpad.toml");
    std::fs::write(
        &config,
        image_builder::config::BUILT_IN
            .replace(
                "https://api.launchpad.net/devel/",
                &format!("{}devel/", setup.web_root),
            )
            .replace("https://launchpad.net/", &setup.web_root),
    )
    .unwrap();
    // A newcomer's machine: nothing but the config the step before the README's commands
    // would have written, and a home of its own.
    let environment = |command: &mut Command| {
        command
            .env("HOME", &home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_STATE_HOME")
            .env("IMAGE_BUILDER_CONFIG", &config)
            .stdin(Stdio::null());
    };
    for line in &commands {
        if line == "cargo test" {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let args: &[&str] = match words.as_slice() {
            ["cargo", "run", "--release", "--", args @ ..] => args,
            ["image-builder", args @ ..] => args,
            _ => panic!("the README shows `{line}`, which this check does not know how to run"),
        };
        let mut command = binary();
        command.args(args);
        environment(&mut command);
        if args.first() == Some(&"login") {
            login(command, &setup.web_root);
            continue;
        }
        let output = output_within(command, Duration::from_secs(120));
        let code = output.status.code();
        assert!(
            matches!(code, Some(0 | 3 | 4 | 5)),
            "`{line}` exited {code:?}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// Runs `login` and opens the page it shows (the simulator authorizes whoever opens it).
fn login(mut command: Command, web_root: &str) {
    let mut login = Running(
        command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let lines = BufReader::new(login.0.stdout.take().unwrap()).lines();
    let mut shown = Vec::new();
    for line in lines.map_while(Result::ok) {
        shown.push(line.clone());
        if let Some(url) = line
            .split_whitespace()
            .find(|word| word.starts_with(web_root) && word.contains("+authorize-token"))
        {
            http_get(url);
            break;
        }
    }
    let status = login.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "login: {shown:?}");
}
