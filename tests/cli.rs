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
    assert!(text.contains("wait for `confirm`"), "{text}");
}

#[test]
fn build_with_a_series_the_image_lacks_fails_naming_what_exists() {
    let output = image_builder(&["build", "--dry-run", "--series", "24.04", "--", "postgres"]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "postgres is built for 20.04, 21.04, 22.04; not 24.04. See `image-builder build --help`.\n"
    );
    assert!(stdout(&output).is_empty());
}

#[test]
fn build_with_a_misspelt_arch_or_image_suggests_the_right_one() {
    let output = image_builder(&["build", "--dry-run", "--arch", "arm46", "--", "redis"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("Did you mean `arm64`?"),
        "{}",
        stderr(&output)
    );
    let output = image_builder(&["build", "--dry-run", "--", "rediss"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("Did you mean `redis`?"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn build_without_dry_run_says_building_is_not_here_yet() {
    let output = image_builder(&["build", "--series", "20.04", "--", "redis"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("arrives with the job engine"),
        "{}",
        stderr(&output)
    );
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
    assert!(text.contains("unknown field `above_bulids`"), "{text}");
}

#[test]
fn every_subcommand_has_help() {
    for args in [
        &["--help"][..],
        &["build", "--help"],
        &["check-config", "--help"],
    ] {
        let output = image_builder(args);
        assert_eq!(output.status.code(), Some(0));
        assert!(stdout(&output).contains("Usage: image-builder"), "{args:?}");
    }
}
