//! The command grammar and the planner against the team's real catalogue: what a person types,
//! what the bot understands, and what it answers when it does not.

mod support;

use image_builder::command::{
    Command, CommandName, Images, JobsScope, ParseError, Rebuild, RetryWhat, Suggestion, WordKind,
};
use image_builder::messages::{self, Front};
use image_builder::plan::{plan, Approval, Plan, PlanError};
use image_builder::target::JobId;
use support::{config, parse_real};

fn rebuild(text: &str) -> Rebuild {
    match parse_real(text) {
        Ok(Command::Rebuild(rebuild)) => rebuild,
        other => panic!("{text:?} parsed to {other:?}"),
    }
}

fn planned(text: &str) -> Result<Plan, PlanError> {
    plan(&rebuild(text), &config().catalogue)
}

fn error(text: &str) -> ParseError {
    parse_real(text).expect_err(text)
}

#[test]
fn rebuild_one_series_arch_and_image_is_one_recipe_one_build() {
    let plan = planned("rebuild 20.04 arm64 redis").unwrap();
    assert_eq!(plan.targets.len(), 1);
    let target = &plan.targets[0];
    assert_eq!(
        target.recipe.to_string(),
        "~ubuntu-docker-images/ubuntu-docker-images/+oci/redis/+recipe/redis-5.0-20.04"
    );
    assert_eq!(target.arches, ["arm64".parse().unwrap()]);
    assert_eq!(plan.builds(), 1);
    assert_eq!(
        plan.approval(&config().confirmation, false),
        Approval::Proceed
    );
}

#[test]
fn rebuild_words_go_in_any_order() {
    assert_eq!(
        rebuild("rebuild redis arm64 20.04"),
        rebuild("rebuild 20.04 arm64 redis")
    );
    assert_eq!(
        rebuild("REBUILD Redis ARM64 focal"),
        rebuild("rebuild 20.04 arm64 redis")
    );
}

#[test]
fn the_seeds_spelling_means_the_same() {
    assert_eq!(
        rebuild("rebuild --series 20.04 --arch arm64 -- redis postgres"),
        rebuild("rebuild 20.04 arm64 redis postgres")
    );
    assert_eq!(
        rebuild("rebuild --series=focal --arch=arm64 redis"),
        rebuild("rebuild 20.04 arm64 redis")
    );
}

#[test]
fn jammy_all_is_every_image_with_a_2204_track_on_every_arch_and_needs_confirmation() {
    let plan = planned("rebuild jammy all").unwrap();
    let images: Vec<String> = plan.targets.iter().map(|t| t.image.to_string()).collect();
    assert_eq!(
        images,
        [
            "apache2",
            "bind9",
            "memcached",
            "mysql",
            "nginx",
            "postgres",
            "redis",
            "squid"
        ]
    );
    assert!(plan.targets.iter().all(|t| t.series.to_string() == "22.04"));
    assert!(plan.targets.iter().all(|t| t.arches.len() == 4));
    assert_eq!(plan.builds(), 32);
    assert_eq!(
        plan.approval(&config().confirmation, false),
        Approval::Confirm
    );
    assert_eq!(
        plan.approval(&config().confirmation, true),
        Approval::Proceed
    );
}

#[test]
fn all_skips_and_counts_what_the_catalogue_lacks() {
    let plan = planned("rebuild 24.04 all").unwrap();
    assert_eq!(plan.targets.len(), 5);
    assert_eq!(plan.skipped, 3, "redis, postgres and mysql have no 24.04");
}

#[test]
fn rebuild_all_of_everything_is_a_mass_rebuild() {
    let plan = planned("rebuild all").unwrap();
    assert_eq!(plan.builds(), 116);
    assert_eq!(
        plan.approval(&config().confirmation, false),
        Approval::ConfirmMassRebuild
    );
}

#[test]
fn rebuild_a_series_an_image_lacks_names_the_series_it_has() {
    let error = planned("rebuild 24.04 postgres").unwrap_err();
    assert_eq!(
        messages::plan_error(&error, Front::Chat),
        "postgres is built for 20.04, 21.04, 22.04; not 24.04. Try `help rebuild`."
    );
}

#[test]
fn rebuild_unknown_arch_suggests_the_close_one() {
    let error = error("rebuild 20.04 arm46 redis");
    assert_eq!(
        error,
        ParseError::UnknownWord {
            given: "arm46".into(),
            did_you_mean: Some(Suggestion {
                kind: WordKind::Arch,
                word: "arm64".into()
            }),
        }
    );
    assert_eq!(
        messages::parse_error(&error, Front::Chat),
        "I don't know `arm46`. Did you mean the architecture `arm64`? Try `help rebuild`."
    );
}

#[test]
fn rebuild_misspelt_image_suggests_the_image() {
    let text = messages::parse_error(&error("rebuild rediss"), Front::Chat);
    assert!(text.contains("Did you mean the image `redis`?"), "{text}");
}

#[test]
fn rebuild_with_nothing_says_what_to_add() {
    assert_eq!(error("rebuild"), ParseError::NothingToBuild);
    assert_eq!(error("rebuild 20.04 arm64"), ParseError::NothingToBuild);
    let text = messages::parse_error(&ParseError::NothingToBuild, Front::Chat);
    assert!(text.contains("Add image names, or `all`"), "{text}");
}

#[test]
fn retry_accepts_job_numbers_with_or_without_hash() {
    let expected = Command::Retry {
        what: RetryWhat::Uploads,
        job: JobId(42),
    };
    assert_eq!(parse_real("retry uploads 42"), Ok(expected.clone()));
    assert_eq!(parse_real("retry uploads #42"), Ok(expected));
}

#[test]
fn unknown_command_lists_the_commands() {
    let text = messages::parse_error(&error("frobnicate"), Front::Chat);
    for name in CommandName::ALL {
        assert!(
            text.contains(&format!("`{name}`")),
            "{name} missing from {text}"
        );
    }
    assert!(text.starts_with("I don't know the command `frobnicate`."));
}

#[test]
fn the_small_commands_parse() {
    assert_eq!(parse_real("status"), Ok(Command::Status { job: None }));
    assert_eq!(
        parse_real("status #7"),
        Ok(Command::Status {
            job: Some(JobId(7))
        })
    );
    assert_eq!(
        parse_real("jobs"),
        Ok(Command::Jobs {
            scope: JobsScope::All
        })
    );
    assert_eq!(
        parse_real("jobs mine"),
        Ok(Command::Jobs {
            scope: JobsScope::Mine
        })
    );
    assert_eq!(
        parse_real("cancel #3"),
        Ok(Command::Cancel { job: JobId(3) })
    );
    assert_eq!(
        parse_real("retry builds 3"),
        Ok(Command::Retry {
            what: RetryWhat::Builds,
            job: JobId(3)
        })
    );
    assert_eq!(
        parse_real("confirm k7tq2m"),
        Ok(Command::Confirm {
            code: "K7TQ2M".parse().unwrap()
        })
    );
    assert_eq!(
        parse_real("help rebuild"),
        Ok(Command::Help {
            topic: Some(CommandName::Rebuild)
        })
    );
    assert_eq!(parse_real("whoami"), Ok(Command::Whoami));
}

#[test]
fn rebuild_flags_and_reason_are_kept() {
    let parsed =
        rebuild(r#"rebuild redis --wait --auto-retry-uploads --dry-run reason="CVE-2024-1 fix""#);
    assert!(parsed.wait && parsed.auto_retry_uploads && parsed.dry_run);
    assert_eq!(parsed.reason.as_deref(), Some("CVE-2024-1 fix"));
    assert_eq!(parsed.images, Images::Named(vec!["redis".parse().unwrap()]));
}

#[test]
fn bad_rebuilds_are_errors_with_data() {
    let cases: &[(&str, ParseError)] = &[
        (
            "rebuild redis --wait --wait",
            ParseError::DuplicateOption { option: "--wait" },
        ),
        (
            "rebuild all redis",
            ParseError::AllWithImages {
                image: "redis".parse().unwrap(),
            },
        ),
        (r#"rebuild redis reason="oops"#, ParseError::UnclosedQuote),
        ("rebuild redis reason=", ParseError::EmptyReason),
        (
            "rebuild redis --series",
            ParseError::MissingValue { option: "--series" },
        ),
        (
            "rebuild redis --wiat",
            ParseError::UnknownOption {
                given: "--wiat".into(),
                did_you_mean: Some("--wait"),
            },
        ),
        (
            "cancel",
            ParseError::MissingJobId {
                command: CommandName::Cancel,
            },
        ),
        (
            "cancel #x",
            ParseError::BadJobId {
                command: CommandName::Cancel,
                given: "#x".into(),
            },
        ),
        (
            "retry #4",
            ParseError::BadRetryWhat {
                given: Some("#4".into()),
            },
        ),
        (
            "confirm",
            ParseError::BadConfirmCode {
                command: CommandName::Confirm,
                given: None,
            },
        ),
        (
            "abort K7TQ2",
            ParseError::BadConfirmCode {
                command: CommandName::Abort,
                given: Some("K7TQ2".into()),
            },
        ),
        ("retry alert", ParseError::BadAlertNumber { given: None }),
        (
            "retry alert x1",
            ParseError::BadAlertNumber {
                given: Some("x1".into()),
            },
        ),
        (
            "retry alert 3 4",
            ParseError::UnexpectedWord {
                command: CommandName::Retry,
                given: "4".into(),
            },
        ),
        (
            "whoami now",
            ParseError::UnexpectedWord {
                command: CommandName::Whoami,
                given: "now".into(),
            },
        ),
        ("", ParseError::Empty),
        ("```rebuild all```", ParseError::Empty),
    ];
    for (text, expected) in cases {
        assert_eq!(&error(text), expected, "for {text:?}");
    }
}

#[test]
fn an_unknown_series_number_lists_the_series() {
    let text = messages::parse_error(&error("rebuild 20.10 redis"), Front::Chat);
    assert_eq!(
        text,
        "I don't build for the series `20.10`. Series: `20.04`, `21.04`, `22.04`, `24.04`. Try `help rebuild`."
    );
}

#[test]
fn every_error_message_ends_with_a_pointer_to_help() {
    let inputs = [
        "",
        "frobnicate",
        "rebuild",
        "rebuild arm46 redis",
        "rebuild xyzzy",
        "rebuild 20.10 redis",
        "rebuild --arch sparc redis",
        "rebuild -- rediss",
        "rebuild --frob redis",
        "rebuild redis --series",
        "rebuild redis --wait --wait",
        "rebuild all redis",
        "rebuild redis reason=",
        r#"rebuild reason="x"#,
        "cancel",
        "cancel x",
        "retry",
        "retry later #4",
        "confirm",
        "confirm nope",
        "help frob",
        "jobs yours",
        "whoami x",
    ];
    for input in inputs {
        let error = error(input);
        let text = messages::parse_error(&error, Front::Chat);
        assert!(
            text.ends_with("Try `help`.") || (text.contains("Try `help ") && text.ends_with("`.")),
            "{input:?} gave {text:?}"
        );
        let cli = messages::parse_error(&error, Front::CommandLine);
        assert!(cli.ends_with("See `image-builder build --help`."), "{cli}");
    }
}

#[test]
fn a_pasted_log_in_a_code_block_is_not_read_as_images() {
    assert_eq!(
        rebuild("rebuild redis\n```\nnginx squid\n```"),
        rebuild("rebuild redis")
    );
    assert_eq!(
        rebuild("> rebuild all\nrebuild redis"),
        rebuild("rebuild redis")
    );
}

#[test]
fn every_help_example_parses_to_its_own_command() {
    for name in CommandName::ALL {
        for example in messages::help_entry(name).examples {
            let command = parse_real(example).unwrap_or_else(|e| panic!("{example}: {e:?}"));
            assert_eq!(command.name(), name, "{example}");
        }
        let help = messages::help(Some(name), &support::vocabulary());
        assert!(help.starts_with(&format!("`{}", name)), "{help}");
    }
    let overview = messages::help(None, &support::vocabulary());
    for name in CommandName::ALL {
        assert!(overview.contains(&format!("`{name}")), "{name} missing");
    }
}

#[test]
fn help_rebuild_lists_the_catalogue() {
    let help = messages::help(Some(CommandName::Rebuild), &support::vocabulary());
    assert!(help.contains("`22.04 (jammy)`"), "{help}");
    assert!(help.contains("`ppc64el`"), "{help}");
    assert!(help.contains("`postgres`"), "{help}");
}

#[test]
fn mute_takes_an_image_or_all_and_a_duration() {
    use image_builder::command::MuteDuration;
    let mute = |image: Option<&str>, minutes| Command::Mute {
        image: image.map(|i| i.parse().unwrap()),
        duration: MuteDuration::minutes(minutes).unwrap(),
    };
    assert_eq!(
        parse_real("mute uploads redis 2h"),
        Ok(mute(Some("redis"), 120))
    );
    assert_eq!(parse_real("mute uploads all 30m"), Ok(mute(None, 30)));
    assert_eq!(parse_real("mute uploads 1d"), Ok(mute(None, 1440)));
    assert_eq!(parse_real("unmute"), Ok(Command::Unmute));
    assert_eq!(
        error("mute uploads redis"),
        ParseError::BadDuration { given: None }
    );
    assert_eq!(
        error("mute uploads redis 8d"),
        ParseError::BadDuration {
            given: Some("8d".into())
        }
    );
    assert_eq!(
        error("mute redis 1h"),
        ParseError::BadMuteWhat {
            given: Some("redis".into())
        }
    );
    assert_eq!(
        error("mute uploads rediss 1h"),
        ParseError::BadMuteWhat {
            given: Some("rediss".into())
        }
    );
    assert_eq!(
        mute(Some("redis"), 90).to_string(),
        "mute uploads redis 90m"
    );
    assert_eq!(mute(None, 2880).to_string(), "mute uploads all 2d");
}

#[test]
fn a_duration_in_another_script_is_refused_not_a_panic() {
    for given in ["1ч", "ч", "2時", "1h\u{301}", "é", "1é"] {
        // Taken for the duration, or for what to mute: an answer either way, never a panic.
        for text in [
            format!("mute uploads {given}"),
            format!("mute uploads redis {given}"),
        ] {
            assert!(
                matches!(
                    error(&text),
                    ParseError::BadDuration { .. } | ParseError::BadMuteWhat { .. }
                ),
                "{text}: {:?}",
                error(&text)
            );
        }
    }
}

#[test]
fn then_names_a_configured_hook_and_round_trips() {
    let vocabulary = image_builder::command::Vocabulary::of(&config().catalogue)
        .with_hooks(vec!["retag".to_string(), "notify-team".to_string()]);
    let parsed = image_builder::command::parse(
        "rebuild 20.04 redis --then retag --then=notify-team --then retag",
        &vocabulary,
    )
    .unwrap();
    let Command::Rebuild(rebuild) = &parsed else {
        panic!("{parsed:?}")
    };
    assert_eq!(rebuild.then, ["retag", "notify-team"]);
    assert_eq!(
        rebuild.to_string(),
        "rebuild 20.04 redis --then retag --then notify-team"
    );
    assert_eq!(
        image_builder::command::parse(&rebuild.to_string(), &vocabulary).unwrap(),
        parsed
    );
    // Only configured hooks: the real config has none.
    assert_eq!(
        error("rebuild 20.04 redis --then retag"),
        ParseError::UnknownHook {
            given: "retag".into(),
            known: vec![]
        }
    );
    assert_eq!(
        error("rebuild 20.04 redis --then"),
        ParseError::MissingValue { option: "--then" }
    );
}

#[test]
fn a_mute_too_long_or_without_what_to_mute_is_answered_with_what_would_be_right() {
    let said = |text: &str| messages::parse_error(&error(text), Front::Chat);
    assert_eq!(
        error("mute uploads 8d"),
        ParseError::BadDuration {
            given: Some("8d".into())
        },
        "a duration too long, not an image"
    );
    assert!(
        said("mute uploads 8d").starts_with("A mute lasts a week at most (`7d`), not `8d`."),
        "{}",
        said("mute uploads 8d")
    );
    assert!(
        said("mute 1h").starts_with(
            "Mute what for 1h? Say `mute uploads all 1h`, or `mute uploads IMAGE 1h`."
        ),
        "{}",
        said("mute 1h")
    );
    assert!(
        said("mute uploads redis 2x").starts_with("`2x` is not a duration"),
        "{}",
        said("mute uploads redis 2x")
    );
}
