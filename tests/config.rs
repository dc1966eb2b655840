//! The config: every file in `config/` is valid, the built-in copy is `config/default.toml`, and a
//! bad file is refused naming the file and the key.

mod support;

use std::path::Path;

use image_builder::config::{Config, BUILT_IN};

#[test]
fn every_file_in_config_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "toml") {
            Config::load(&path).unwrap_or_else(|error| panic!("{error}"));
            seen += 1;
        }
    }
    assert!(seen >= 1, "no config files found in {}", dir.display());
}

#[test]
fn the_built_in_config_is_config_default_toml() {
    let on_disk =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/default.toml"))
            .unwrap();
    assert_eq!(BUILT_IN, on_disk);
}

#[test]
fn the_default_catalogue_is_the_teams() {
    let config = support::config();
    assert_eq!(
        config.launchpad.api_root,
        "https://api.launchpad.net/devel/"
    );
    assert_eq!(config.launchpad.web_root, "https://launchpad.net/");
    let catalogue = &config.catalogue;
    let series: Vec<String> = catalogue
        .all_series()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(series, ["20.04", "21.04", "22.04", "24.04"]);
    let tracks = |image: &str| -> Vec<String> {
        let image = catalogue.image(&image.parse().unwrap()).unwrap();
        image
            .tracks
            .iter()
            .map(|track| format!("{}-{}", track.track, track.series))
            .collect()
    };
    assert_eq!(
        tracks("bind9"),
        ["9.16-20.04", "9.16-21.04", "9.18-22.04", "9.18-24.04"]
    );
    assert_eq!(
        tracks("squid"),
        ["4.10-20.04", "4.13-21.04", "5.2-22.04", "6.6-24.04"]
    );
    assert_eq!(tracks("postgres"), ["12-20.04", "13-21.04", "14-22.04"]);
    assert_eq!(catalogue.images.len(), 8);
    assert_eq!(config.confirmation.above_builds, 12);
    assert_eq!(config.confirmation.mass_rebuild_above_builds, 100);
}

/// The default config with `from` replaced by `to`, which must change something.
fn edited(from: &str, to: &str) -> String {
    assert!(
        BUILT_IN.contains(from),
        "{from:?} is not in the default config"
    );
    BUILT_IN.replacen(from, to, 1)
}

fn problem(text: &str) -> String {
    Config::parse(text, "test.toml").unwrap_err().to_string()
}

#[test]
fn an_unknown_key_is_refused_with_its_name() {
    let text = problem(&edited(
        "[images.redis]\n",
        "[images.redis]\ntrack = \"x\"\n",
    ));
    assert!(text.starts_with("test.toml: "), "{text}");
    assert!(text.contains("unknown field `track`"), "{text}");
}

#[test]
fn a_series_outside_the_catalogue_is_refused() {
    let text = problem(&edited("\"22.04\" = \"6.2\"", "\"22.10\" = \"6.2\""));
    assert_eq!(
        text,
        "test.toml: `images.redis.tracks.\"22.10\"`: this series is not in catalogue.series"
    );
}

#[test]
fn a_malformed_series_is_refused_where_it_stands() {
    let text = problem(&edited("\"24.04\" = \"noble\"", "\"24.4\" = \"noble\""));
    assert!(
        text.contains("`24.4` is not a series number like 22.04"),
        "{text}"
    );
    assert!(text.contains("line"), "{text}");
}

#[test]
fn an_image_arch_outside_the_catalogue_is_refused() {
    let text = problem(&edited(
        "[images.mysql]\n",
        "[images.mysql]\narchitectures = [\"amd64\", \"riscv64\"]\n",
    ));
    assert!(
        text.contains("`images.mysql.architectures`: `riscv64` is not in catalogue.architectures"),
        "{text}"
    );
}

#[test]
fn a_word_with_two_meanings_is_refused() {
    let text = problem(&edited("\"24.04\" = \"noble\"", "\"24.04\" = \"redis\""));
    assert!(text.contains("`redis` is already used by"), "{text}");
    let text = problem(&edited("[images.mysql]", "[images.all]"));
    assert!(text.contains("`all` is already used"), "{text}");
}

#[test]
fn a_bad_recipe_template_is_refused() {
    let text = problem(&edited(
        "recipe_name_template = \"{image}-{track}-{series}\"",
        "recipe_name_template = \"{image}-{version}\"",
    ));
    assert!(text.contains("unknown placeholder `{version}`"), "{text}");
}

#[test]
fn recipe_names_can_be_overridden_per_image_and_per_series() {
    let text = edited(
        "[images.redis]\n",
        "[images.redis]\nrecipe_name_template = \"{track}-{series}\"\nrecipe_names = { \"20.04\" = \"redis-focal\" }\n",
    );
    let config = Config::parse(&text, "test.toml").unwrap();
    let redis = config.catalogue.image(&"redis".parse().unwrap()).unwrap();
    let names: Vec<&str> = redis
        .tracks
        .iter()
        .map(|t| t.recipe.name.as_str())
        .collect();
    assert_eq!(names, ["redis-focal", "6.0-21.04", "6.2-22.04"]);
}

#[test]
fn a_recipe_name_for_a_series_without_a_track_is_refused() {
    let text = problem(&edited(
        "[images.redis]\n",
        "[images.redis]\nrecipe_names = { \"24.04\" = \"redis-noble\" }\n",
    ));
    assert!(text.contains("redis has no track for 24.04"), "{text}");
}

#[test]
fn thresholds_must_be_ordered() {
    let text = problem(&edited(
        "mass_rebuild_above_builds = 100",
        "mass_rebuild_above_builds = 5",
    ));
    assert!(
        text.contains("`confirmation.mass_rebuild_above_builds`"),
        "{text}"
    );
}

#[test]
fn a_missing_file_is_named() {
    let error = Config::load(Path::new("no/such/file.toml")).unwrap_err();
    assert!(error
        .to_string()
        .starts_with("no/such/file.toml: cannot read it"));
}

#[test]
fn the_simulator_chapters_scenario_example_is_a_valid_scenario() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/simulator.md"))
            .unwrap();
    let start = readme
        .find("```toml\nseed = ")
        .expect("the scenario example")
        + "```toml\n".len();
    let example = &readme[start..start + readme[start..].find("```").unwrap()];
    let scenario: image_builder::launchpad::sim::scenario::Scenario =
        toml::from_str(example).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(scenario.outcomes.len(), 2);
    assert_eq!(scenario.faults.outage_minutes, 5);
}

#[test]
fn a_plain_http_root_is_refused_unless_it_is_this_machine() {
    let text = problem(&edited(
        "api_root = \"https://api.launchpad.net/devel/\"",
        "api_root = \"http://api.launchpad.net/devel/\"",
    ));
    assert!(
        text.starts_with(
            "test.toml: `launchpad.api_root`: `http://api.launchpad.net/devel/` is plain http"
        ),
        "{text}"
    );
    for local in [
        "http://127.0.0.1:8080/devel/",
        "http://localhost/devel/",
        "http://[::1]:8080/devel/",
    ] {
        let text = edited(
            "api_root = \"https://api.launchpad.net/devel/\"",
            &format!("api_root = \"{local}\""),
        );
        assert!(Config::parse(&text, "t").is_ok(), "{local}");
    }
    let sneaky = problem(&edited(
        "api_root = \"https://api.launchpad.net/devel/\"",
        "api_root = \"http://127.0.0.1.evil.example/devel/\"",
    ));
    assert!(sneaky.contains("plain http"), "{sneaky}");
}

#[test]
fn durations_beyond_their_bounds_are_refused_naming_the_bound() {
    let text = problem(&edited(
        "give_up_after_hours = 12",
        "give_up_after_hours = 99999999999",
    ));
    assert_eq!(
        text,
        "test.toml: `engine.give_up_after_hours`: 99999999999 is more than 720, the most it may be"
    );
    let text = problem(&edited(
        "keep_finished_jobs_days = 30",
        "keep_finished_jobs_days = 9223372036854775807",
    ));
    assert!(text.contains("`engine.keep_finished_jobs_days`"), "{text}");
}

#[test]
fn the_chat_is_chosen_by_config_and_mattermost_settings_are_checked() {
    let config = support::config();
    assert_eq!(
        config.chat.service,
        image_builder::permissions::Service::Discord,
        "Discord stays the default"
    );
    let mattermost = |extra: &str| {
        edited(
            "[chat]\nservice = \"discord\"",
            &format!("[chat]\nservice = \"mattermost\"\n{extra}"),
        )
    };
    assert!(problem(&mattermost("")).contains("mattermost.url"));
    let with_url = |more: &str| {
        mattermost("").replace(
            "# url = \"https://chat.example.com\"",
            &format!("url = \"https://chat.example.com/\"\n{more}"),
        )
    };
    let config = Config::parse(&with_url(""), "t").unwrap();
    assert_eq!(
        config.mattermost.url.as_deref(),
        Some("https://chat.example.com")
    );
    assert!(problem(&with_url("team = \"Builders\"")).contains("mattermost.team"));
    let text = with_url("").replace("channels = []", "channels = [\"nope\"]");
    assert!(problem(&text).contains("mattermost.channels"));
    let text = with_url("callback_url = \"https://bot.example.com\"");
    assert!(
        problem(&text).contains("webhook.listen"),
        "clicks need the listener"
    );
    let slack = problem(&edited(
        "[chat]\nservice = \"discord\"",
        "[chat]\nservice = \"slack\"",
    ));
    assert!(slack.contains("unknown variant `slack`"), "{slack}");
    assert!(!slack.contains("console"), "{slack}");
    // Mattermost's permissions are their own.
    let text = with_url("").replace(
        "[permissions.build]\nusers = []",
        "[permissions.build]\nusers = [\"1234\"]",
    );
    let config = Config::parse(&text, "t").unwrap();
    assert!(config.permissions.build.mattermost.users.is_empty());
}

#[test]
fn hooks_are_read_and_a_bad_one_is_refused_naming_its_key() {
    let base = std::fs::read_to_string("config/default.toml").unwrap();
    let with = |hook: &str| format!("{base}\n{hook}\n");
    let config = Config::parse(
        &with("[hooks.retag]\ncommand = [\"/usr/local/bin/tag-images.sh\", \"--push\"]\nenvironment = { REGISTRY = \"docker.io\" }"),
        "test.toml",
    )
    .unwrap();
    let retag = &config.hooks["retag"];
    assert_eq!(retag.command, ["/usr/local/bin/tag-images.sh", "--push"]);
    assert_eq!(retag.timeout_seconds, 600);
    assert!(!retag.always);
    assert_eq!(config.vocabulary().hooks(), ["retag"]);

    for (hook, key) in [
        ("[hooks.Retag]\ncommand = [\"x\"]", "hooks.Retag"),
        ("[hooks.retag]\ncommand = []", "hooks.retag.command"),
        (
            "[hooks.retag]\ncommand = [\"x\"]\ntimeout_seconds = 0",
            "hooks.retag.timeout_seconds",
        ),
        (
            "[hooks.retag]\ncommand = [\"x\"]\nenvironment = { IB_JOB = \"7\" }",
            "hooks.retag.environment",
        ),
    ] {
        let text = Config::parse(&with(hook), "test.toml")
            .unwrap_err()
            .to_string();
        assert!(
            text.starts_with(&format!("test.toml: `{key}`:")),
            "{hook}: {text}"
        );
    }
    let text = Config::parse(
        &with("[hooks.retag]\ncommand = [\"x\"]\nshell = true"),
        "test.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(text.contains("unknown field `shell`"), "{text}");
}
