//! The `image-builder` binary as a person runs it: `build --dry-run` prints the plan,
//! `check-config` names the file and key of a problem, and exit codes tell scripts what happened.

use std::process::{Command, Output};

fn image_builder(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_image-builder"))
        .args(args)
        .env_remove("IMAGE_BUILDER_CONFIG")
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn build_dry_run_prints_the_recipe_and_its_arches() {
    let output = image_builder(&[
        "build",
        "--dry-run",
        "--series",
        "20.04",
        "--arch",
        "arm64",
        "--",
        "redis",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "Dry run, nothing is built. 1 recipe, 1 build:\n  \
         ~ubuntu-docker-images/ubuntu-docker-images/+oci/redis/+recipe/redis-5.0-20.04  arm64\n"
    );
}

/// The sandbox at 1000x with `input` piped in, run to its end.
fn piped_sandbox(input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_image-builder"))
        .args(["sandbox", "--speed", "1000"])
        .env_remove("IMAGE_BUILDER_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// What the sandbox's chat answers to `rebuild WORDS`, piped.
fn chat_answer(rebuild: &str) -> String {
    stdout(&piped_sandbox(format!("rebuild {rebuild}\n").as_bytes()))
}

#[test]
fn build_takes_the_words_chat_takes_after_rebuild_and_plans_what_chat_plans() {
    for (build, chat) in [
        (
            &[
                "build",
                "redis",
                "--series",
                "20.04",
                "--arch",
                "arm64",
                "--dry-run",
            ][..],
            "redis --series 20.04 --arch arm64 --dry-run",
        ),
        (
            &["build", "--", "20.04", "redis", "--dry-run"][..],
            "20.04 redis --dry-run",
        ),
        (
            &["build", "20.04", "arm64", "redis", "nginx", "--dry-run"][..],
            "20.04 arm64 redis nginx --dry-run",
        ),
    ] {
        let output = image_builder(build);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{build:?}: {}",
            stderr(&output)
        );
        let planned = stdout(&output);
        assert!(
            planned.starts_with("Dry run, nothing is built."),
            "{planned}"
        );
        let answer = chat_answer(chat);
        for line in planned.lines() {
            assert!(
                answer.contains(line.trim()),
                "{build:?} planned {line:?}; chat's `rebuild {chat}` answered:\n{answer}"
            );
        }
    }
    // `20.04` after `--` is a series, as in chat, not an unknown image.
    let planned = stdout(&image_builder(&[
        "build",
        "--",
        "20.04",
        "redis",
        "--dry-run",
    ]));
    assert!(planned.contains("1 recipe, 4 builds"), "{planned}");
}

#[test]
fn logs_written_to_a_file_or_a_pipe_hold_no_escape_codes() {
    let output = Command::new(env!("CARGO_BIN_EXE_image-builder"))
        .args(["build", "redis", "--dry-run"])
        .env_remove("IMAGE_BUILDER_CONFIG")
        .env_remove("NO_COLOR")
        .env("IMAGE_BUILDER_LOG", "debug")
        .output()
        .unwrap();
    let logs = stderr(&output);
    assert!(logs.contains("planned"), "a debug line was logged: {logs}");
    assert!(!logs.contains('\x1b'), "no escape byte: {logs:?}");
}

#[test]
fn build_dry_run_without_images_plans_every_image_and_says_it_needs_confirmation() {
    let output = image_builder(&["build", "--dry-run", "--series", "jammy"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("8 recipes, 32 builds:"), "{text}");
    assert!(
        text.contains("+oci/squid/+recipe/squid-5.2-22.04  amd64, arm64, ppc64el, s390x"),
        "{text}"
    );
    assert!(text.contains("wait for 'confirm'"), "{text}");
}

#[test]
fn build_with_a_series_the_image_lacks_fails_naming_what_exists() {
    let output = image_builder(&["build", "--dry-run", "--series", "24.04", "--", "postgres"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "postgres is built for 20.04, 21.04, 22.04; not 24.04. See 'image-builder build --help'.\n"
    );
    assert!(stdout(&output).is_empty());
}

#[test]
fn build_with_a_misspelt_arch_or_image_suggests_the_right_one() {
    let output = image_builder(&["build", "--dry-run", "--arch", "arm46", "--", "redis"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("Did you mean 'arm64'?"),
        "{}",
        stderr(&output)
    );
    // After `--` as before it, the words are read as chat reads them (`rebuild rediss`).
    let output = image_builder(&["build", "--dry-run", "--", "rediss"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("I don't know 'rediss'. Did you mean the image 'redis'?"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn build_without_credentials_fails_before_requesting_anything() {
    let home = std::env::temp_dir().join(format!("ib-nohome-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_image-builder"))
        .args(["build", "--series", "20.04", "--", "redis"])
        .env_remove("IMAGE_BUILDER_CONFIG")
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_STATE_HOME", home.join("state"))
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&home);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains("run 'image-builder login' first"), "{text}");
    assert_eq!(text.matches("No such file").count(), 1, "said once: {text}");
}

/// `build --launchpad sim --wait` with a scenario, in a temporary directory.
fn build_on_sim(scenario: &str, images: &[&str]) -> Output {
    build_on_sim_with(scenario, &[], images)
}

/// [`build_on_sim`], with more arguments before the images.
fn build_on_sim_with(scenario: &str, extra: &[&str], images: &[&str]) -> Output {
    // Named for the call too: tests building the same images run at once.
    let dir = std::env::temp_dir().join(format!(
        "ib-build-{}-{}-{}",
        std::process::id(),
        images.join("-"),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scenario.toml");
    std::fs::write(&path, scenario).unwrap();
    let mut args = vec![
        "build",
        "--launchpad",
        "sim",
        "--speed",
        "1000",
        "--wait",
        "--series",
        "22.04",
        "--scenario",
    ];
    let path_text = path.to_str().unwrap().to_string();
    args.push(&path_text);
    args.extend(extra);
    args.push("--");
    args.extend(images);
    let output = image_builder(&args);
    std::fs::remove_dir_all(&dir).unwrap();
    output
}

#[test]
fn build_wait_exit_codes_tell_success_build_failures_and_upload_failures_apart() {
    let ok = build_on_sim("", &["redis"]);
    assert_eq!(ok.status.code(), Some(0), "{}{}", stdout(&ok), stderr(&ok));
    assert!(
        stdout(&ok).contains("Job #1 finished. 4 builds built and uploaded."),
        "{}",
        stdout(&ok)
    );

    let upload = build_on_sim(
        "[[outcomes]]\narch = \"s390x\"\nupload_failures = \"always\"\n",
        &["nginx"],
    );
    assert_eq!(upload.status.code(), Some(4), "{}", stdout(&upload));
    assert!(
        stdout(&upload).contains("Failed uploads (retry with 'image-builder retry uploads 1')"),
        "{}",
        stdout(&upload)
    );

    let build = build_on_sim(
        "[[outcomes]]\narch = \"arm64\"\nbuild_failures = \"always\"\n",
        &["squid"],
    );
    assert_eq!(build.status.code(), Some(3), "{}", stdout(&build));

    // To a pipe, the board and summary are plain text: no Markdown.
    for output in [&ok, &upload, &build] {
        let text = stdout(output);
        assert!(text.contains("arm64"), "{text}");
        for markup in ["**", "```", "`"] {
            assert!(!text.contains(markup), "{markup} in {text}");
        }
    }
}

#[test]
fn check_config_accepts_the_default_and_names_file_and_key_of_a_bad_one() {
    let output = image_builder(&["check-config", "--config", "config/default.toml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).starts_with("config/default.toml: OK. 8 images, 29 recipes"));

    let dir = std::env::temp_dir().join(format!("image-builder-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    let text = std::fs::read_to_string("config/default.toml")
        .unwrap()
        .replace("above_builds = 12", "above_builds = 12\nabove_bulids = 3");
    std::fs::write(&bad, text).unwrap();
    let output = image_builder(&["check-config", "--config", bad.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.starts_with(&format!("{}: ", bad.display())), "{text}");
    assert!(text.contains("unknown field 'above_bulids'"), "{text}");
}

#[test]
fn build_retag_without_a_configured_hook_is_a_usage_error() {
    let output = image_builder(&["build", "--retag", "--series", "20.04", "--", "redis"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "There is no hook 'retag': none is configured ('[hooks.NAME]' in the config). See 'image-builder build --help'.\n"
    );
}

#[test]
fn every_subcommand_has_help() {
    let help = stdout(&image_builder(&["--help"]));
    let subcommands: Vec<&str> = help
        .split("Commands:\n")
        .nth(1)
        .expect("a list of commands")
        .lines()
        .take_while(|line| line.starts_with("  "))
        // A description's second line is indented further.
        .filter(|line| !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .collect();
    assert!(subcommands.len() >= 12, "{subcommands:?}");
    for subcommand in subcommands {
        let output = image_builder(&[subcommand, "--help"]);
        assert_eq!(output.status.code(), Some(0), "{subcommand}");
        assert!(
            stdout(&output).contains(&format!("Usage: image-builder {subcommand}")),
            "{subcommand}: {}",
            stdout(&output)
        );
    }
}

#[test]
fn version_completions_and_manual_pages_come_from_the_command_line_itself() {
    let version = image_builder(&["--version"]);
    assert_eq!(
        stdout(&version),
        format!("image-builder {}\n", env!("CARGO_PKG_VERSION"))
    );

    let bash = image_builder(&["completions", "bash"]);
    assert_eq!(bash.status.code(), Some(0));
    let script = stdout(&bash);
    assert!(script.contains("complete -F _image__builder"), "{script}");
    // Every subcommand and a subcommand's option are completed.
    for word in ["check-config", "webhooks", "--auto-retry-uploads"] {
        assert!(script.contains(word), "{word} in {script}");
    }
    // The catalogue's words complete build's and history's words, and --series and --arch.
    let words = "apache2 bind9 memcached mysql nginx postgres redis squid";
    assert!(
        script.contains(words)
            && script.contains("20.04 21.04 22.04 24.04 amd64 arm64 ppc64el s390x all"),
        "the catalogue's words: {script}"
    );
    // Scripts are written as they are: never rendered as a message.
    let zsh = stdout(&image_builder(&["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef image-builder"), "{zsh}");
    assert_eq!(
        image_builder(&["completions", "tcsh"]).status.code(),
        Some(2)
    );

    let page = stdout(&image_builder(&["man"]));
    assert!(page.contains(".TH image-builder 1"), "{page}");
    assert!(page.contains("image\\-builder\\-build(1)"), "{page}");
    assert!(page.contains(".SH \"EXIT STATUS\""), "{page}");
    assert!(page.contains("\\fB130\\fR"), "{page}");

    let dir = std::env::temp_dir().join(format!("image-builder-man-{}", std::process::id()));
    let written = image_builder(&["man", "--out-dir", dir.to_str().unwrap()]);
    assert_eq!(written.status.code(), Some(0), "{}", stderr(&written));
    let build = std::fs::read_to_string(dir.join("image-builder-build.1")).unwrap();
    assert!(build.contains("\\-\\-auto\\-retry\\-uploads"), "{build}");
    assert!(build.contains(".SH \"EXIT STATUS\""), "{build}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_piped_sandbox_acknowledges_shows_the_board_summarises_and_exits_0() {
    let output = piped_sandbox(b"rebuild 20.04 arm64 redis\nfrobnicate\n");
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    let ack = text
        .find("Job #1 accepted: 1 recipe, 1 build")
        .expect("an acknowledgement");
    let board = text.find("── board (message").expect("a board");
    let summary = text
        .find("── summary ──\n@you Job #1 finished.")
        .expect("a summary");
    assert!(ack < board && board < summary, "{text}");
    assert!(
        text.contains("I don't know the command 'frobnicate'."),
        "{text}"
    );
    // A pipe gets plain text: the chat's Markdown is rendered, not printed.
    for markup in ["**", "```", "`"] {
        assert!(!text.contains(markup), "{markup} in {text}");
    }
    assert!(
        text.contains("Upload failed: redis 5.0 on 20.04 arm64 (job #1)"),
        "the default scenario fails it: {text}"
    );
}

#[test]
fn status_and_jobs_read_the_store_a_build_left() {
    let dir = std::env::temp_dir().join(format!("ib-status-{}", std::process::id()));
    let data = dir.to_str().unwrap().to_string();
    let built = image_builder(&[
        "build",
        "--launchpad",
        "sim",
        "--speed",
        "1000",
        "--wait",
        "--data-dir",
        &data,
        "--series",
        "20.04",
        "--arch",
        "arm64",
        "--",
        "redis",
    ]);
    assert_eq!(
        built.status.code(),
        Some(0),
        "{}{}",
        stdout(&built),
        stderr(&built)
    );
    let status = image_builder(&["status", "1", "--data-dir", &data]);
    assert_eq!(status.status.code(), Some(0));
    assert!(
        stdout(&status)
            .starts_with("Job #1 · 'rebuild 20.04 arm64 redis --wait' · finished · took"),
        "{}",
        stdout(&status)
    );
    let jobs = image_builder(&["jobs", "--data-dir", &data]);
    assert!(
        stdout(&jobs).starts_with("#1 · finished · 'rebuild 20.04 arm64 redis --wait'"),
        "{}",
        stdout(&jobs)
    );
    let history = image_builder(&["history", "redis", "20.04", "--data-dir", &data]);
    assert_eq!(history.status.code(), Some(0), "{}", stderr(&history));
    let text = stdout(&history);
    // Who asked, on a terminal: as `build` names them.
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "terminal".to_string());
    assert!(
        text.starts_with("Redis on 20.04 was last rebuilt ")
            && text
                .lines()
                .next()
                .unwrap()
                .ends_with(&format!(" by {user} (job #1): published.")),
        "{text}"
    );
    assert!(text.contains(" · job #1 · "), "{text}");
    let wrong = image_builder(&["history", "--last", "500", "--data-dir", &data]);
    assert_eq!(wrong.status.code(), Some(2));
    assert_eq!(
        stderr(&wrong),
        "'--last' takes a number from 1 to 100, not '500'. See 'image-builder history --help'.\n"
    );
    let missing = image_builder(&["status", "7", "--data-dir", &data]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(
        stderr(&missing),
        "There is no job #7. Run 'image-builder jobs' to list them.\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_without_a_token_says_where_to_get_one() {
    let output = Command::new(env!("CARGO_BIN_EXE_image-builder"))
        .arg("run")
        .env_remove("IMAGE_BUILDER_CONFIG")
        .env_remove("DISCORD_TOKEN")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("Set DISCORD_TOKEN to the bot's token"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn run_on_mattermost_without_a_token_says_where_to_get_one() {
    let dir = std::env::temp_dir().join(format!("ib-mm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.toml");
    let text = image_builder::config::BUILT_IN
        .replacen("service = \"discord\"", "service = \"mattermost\"", 1)
        .replacen(
            "# url = \"https://chat.example.com\"",
            "url = \"https://chat.example.com\"",
            1,
        );
    std::fs::write(&config, text).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_image-builder"))
        .args(["run", "--config", config.to_str().unwrap()])
        .env_remove("MATTERMOST_TOKEN")
        .env("DISCORD_TOKEN", "not-used")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("Set MATTERMOST_TOKEN to the bot's token"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_sandboxs_default_scenario_alerts_a_foreign_builds_failure_to_two_registries() {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_image-builder"))
        .args(["sandbox", "--speed", "1000"])
        .env_remove("IMAGE_BUILDER_CONFIG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Nobody types anything: the web UI's build of postgres fails on its own. Input stays
    // open until the alert is out (the sandbox ends with its input).
    let stdin = child.stdin.take().unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (found_tx, found_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut after = Vec::new();
        let mut alert = false;
        for line in lines.map_while(Result::ok) {
            if line.contains("(not started by me)") {
                alert = true;
            }
            if alert {
                after.push(line);
                if after.len() == 3 {
                    let _ = found_tx.send(after.join("\n"));
                    return;
                }
            }
        }
    });
    let alert = found_rx.recv_timeout(std::time::Duration::from_secs(60));
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let alert = alert.expect("the foreign build's failure is alerted");
    assert_eq!(output.status.code(), Some(0));
    // Both registries refused it: Launchpad cannot show the build, and the deliveries say its
    // upload failed (`reference/launchpad-truths.md`, "Registry uploads").
    assert!(alert.starts_with("Upload failed: build 7"), "{alert}");
    assert!(
        alert.contains(" of /~ubuntu-docker-images/ubuntu-docker-images/+oci/postgres/+recipe/postgres-14-22.04 (not started by me): it failed on several registries, and Launchpad cannot show the registries' errors (OOPS-sim"),
        "{alert}"
    );
}

#[test]
fn an_architecture_the_recipe_does_not_build_is_named_and_fails_the_build() {
    let scenario =
        "[[recipes]]\nimage = \"redis\"\nseries = \"22.04\"\nprocessors = [\"amd64\", \"arm64\"]\n";
    let output = build_on_sim(scenario, &["redis"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(3), "{text}{}", stderr(&output));
    assert!(
        text.contains("ppc64el: not built by this recipe (its processors: amd64, arm64)"),
        "the board says why: {text}"
    );
    assert!(
        text.contains("Job #1 finished. 2 builds built and uploaded, 2 not built."),
        "{text}"
    );
    assert!(
        text.contains("• redis 6.2 on 22.04 s390x: not built by this recipe (its processors: amd64, arm64): add s390x to the recipe's processors on Launchpad, or drop it from the image's architectures in the config: http://127.0.0.1:"),
        "the summary says what to do: {text}"
    );
}

/// Docker Hub and a cloud registry, both refusing redis's arm64 push `failures` times.
fn refused_by_two_registries(failures: &str) -> String {
    format!(
        "[[registries]]\nurl = \"https://registry-1.docker.io\"\nimage_name = \"ubuntu/{{image}}\"\n\
         [[registries]]\nurl = \"https://public.ecr.aws\"\nimage_name = \"lts/{{image}}\"\n\
         [[outcomes]]\nimage = \"redis\"\narch = \"arm64\"\nupload_failures = {failures}\n"
    )
}

/// `reference/launchpad-truths.md`, "Registry uploads": an upload two registries refuse makes
/// the build unreadable (500). With `--auto-retry-uploads` it is scheduled again (a named POST
/// works) and `build --wait` ends 0.
#[test]
fn an_upload_refused_by_two_registries_is_auto_retried_and_build_wait_exits_0() {
    let output = build_on_sim_with(
        &refused_by_two_registries("1"),
        &["--arch", "arm64", "--auto-retry-uploads"],
        &["redis"],
    );
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert!(text.contains("worked on retry 1"), "{text}");
    assert!(
        text.contains("Job #1 finished. 1 build built and uploaded."),
        "{text}"
    );
}

/// The same without auto-retry: `build --wait` ends 4 (an upload failed), its summary naming
/// the build's page and the command that retries it; never 0, never a wait for the deadline.
#[test]
fn an_upload_refused_by_two_registries_ends_build_wait_with_exit_4_naming_the_build() {
    let started = std::time::Instant::now();
    let output = build_on_sim_with(
        &refused_by_two_registries("1"),
        &["--arch", "arm64"],
        &["redis"],
    );
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(4), "{text}{}", stderr(&output));
    assert!(
        text.contains("Failed uploads (retry with 'image-builder retry uploads 1'):\n• redis 6.2 on 22.04 arm64: most likely it failed on several registries: Launchpad cannot show this build (OOPS-sim"),
        "{text}"
    );
    assert!(
        text.contains("/+oci/redis/+recipe/redis-6.2-22.04/+build/"),
        "the build's page: {text}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(120),
        "bounded: {:?}",
        started.elapsed()
    );
}

/// `lib/lp/oci/model/ocirecipe.py:515-525`: an architecture without a chroot in the current
/// series gets no build; the board and the summary say it cannot be built now, not that
/// another request builds it, and `build --wait` does not succeed.
#[test]
fn an_architecture_without_a_chroot_is_named_not_buildable_and_fails_the_build() {
    let output = build_on_sim("without_chroot = [\"s390x\"]\n", &["redis"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(3), "{text}{}", stderr(&output));
    assert!(
        text.contains(
            "s390x: not buildable on Launchpad now (no chroot or disabled in the current series)"
        ),
        "the board says why: {text}"
    );
    assert!(
        text.contains("Job #1 finished. 3 builds built and uploaded, 1 not built."),
        "{text}"
    );
    assert!(!text.contains("builds it in that request"), "{text}");
}

#[test]
fn check_config_online_without_launchpad_fails_at_once_in_one_line() {
    // A port nothing listens on: connection refused, as with no network.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("ib-nonet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        image_builder::config::BUILT_IN.replace(
            "https://api.launchpad.net/devel/",
            &format!("http://127.0.0.1:{port}/devel/"),
        ),
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_image-builder"))
        .args(["check-config", "--online", "--config"])
        .arg(&config)
        .env("HOME", &dir)
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let lines: Vec<String> = stderr(&output).lines().map(String::from).collect();
    assert_eq!(lines.len(), 1, "one line, not one per recipe: {lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "Launchpad cannot be reached at http://127.0.0.1:{port}/devel/"
        )) && lines[0].ends_with("No recipe was checked."),
        "{lines:?}"
    );
}

#[test]
fn an_outage_of_launchpad_is_one_line_when_it_starts_and_one_when_it_ends() {
    let dir = std::env::temp_dir().join(format!("ib-outage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("scenario.toml");
    // Launchpad answers 503 for its first 30 simulated minutes (1.8 s at this speed: every
    // request of the job's start meets it, however slow the machine is to start).
    std::fs::write(
        &scenario,
        "[faults]\noutage_start_minute = 0\noutage_minutes = 30\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_image-builder"))
        .args([
            "build",
            "redis",
            "nginx",
            "--series",
            "22.04",
            "--launchpad",
            "sim",
            "--speed",
            "1000",
            "--scenario",
        ])
        .arg(&scenario)
        .env_remove("IMAGE_BUILDER_CONFIG")
        .env("IMAGE_BUILDER_LOG", "image_builder=info")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let logs = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{}{logs}", stdout(&output));
    assert_eq!(
        logs.matches("Launchpad is not answering").count(),
        1,
        "once when it starts: {logs}"
    );
    assert_eq!(
        logs.matches("Launchpad answers again").count(),
        1,
        "once when it ends: {logs}"
    );
}
