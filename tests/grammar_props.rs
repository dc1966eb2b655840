//! Properties of the grammar over generated input: it never panics, and every command it can
//! produce displays as text that parses back to the same command.

mod support;

use image_builder::command::{
    parse, Command, CommandName, ConfirmCode, Images, JobsScope, Rebuild, RetryWhat,
};
use image_builder::target::JobId;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

/// Text up to 4 KiB: arbitrary characters.
fn arbitrary_text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..1024)
        .prop_map(|chars| chars.into_iter().collect::<String>())
        .prop_filter("at most 4 KiB", |text| text.len() <= 4096)
}

/// Text made of pieces the grammar cares about, so generated input gets past the first word.
fn grammar_soup() -> impl Strategy<Value = String> {
    let pieces = select(vec![
        "rebuild",
        "status",
        "jobs",
        "cancel",
        "retry",
        "confirm",
        "help",
        "whoami",
        "uploads",
        "builds",
        "mine",
        "all",
        "20.04",
        "jammy",
        "20.10",
        "arm64",
        "arm46",
        "redis",
        "rediss",
        "--series",
        "--arch",
        "--",
        "--wait",
        "--dry-run",
        "--auto-retry-uploads",
        "--series=",
        "reason=",
        "\"",
        "\u{201c}",
        "\u{201d}",
        "\\",
        "```",
        ">",
        ">>>",
        "\n",
        " ",
        "#",
        "#42",
        "42",
        "K7TQ2M",
        "é",
        "\u{0}",
        "=",
    ]);
    prop::collection::vec(pieces, 0..64).prop_map(|pieces| pieces.concat())
}

/// Text dense in the characters quoting and line rules care about.
fn awkward_text() -> impl Strategy<Value = String> {
    let pieces = select(vec![
        "a", "B", " ", "\n", "\t", "\"", "\u{201c}", "\u{201d}", "\\", "`", "```", ">", ">>>", "=",
        "reason=", "--", "#",
    ]);
    prop::collection::vec(pieces, 1..24).prop_map(|pieces| pieces.concat())
}

fn job_id() -> impl Strategy<Value = JobId> {
    (1u64..=u64::MAX).prop_map(JobId)
}

fn rebuild() -> impl Strategy<Value = Rebuild> {
    let vocabulary = support::vocabulary();
    let series = vocabulary.all_series();
    let arches = vocabulary.arches().to_vec();
    let images = vocabulary.images().to_vec();
    let image_count = images.len();
    let reason = prop::option::of(
        prop_oneof![any::<String>(), awkward_text()]
            .prop_filter("a reason has words", |text| !text.trim().is_empty()),
    );
    (
        subsequence(series.clone(), 0..=series.len()),
        subsequence(arches.clone(), 0..=arches.len()),
        prop_oneof![
            Just(Images::All),
            subsequence(images, 1..=image_count).prop_map(Images::Named),
        ],
        any::<(bool, bool, bool)>(),
        reason,
    )
        .prop_map(
            |(series, arches, images, (auto_retry_uploads, wait, dry_run), reason)| Rebuild {
                series,
                arches,
                images,
                auto_retry_uploads,
                wait,
                dry_run,
                reason,
                then: Vec::new(),
            },
        )
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        rebuild().prop_map(Command::Rebuild),
        prop::option::of(job_id()).prop_map(|job| Command::Status { job }),
        select(vec![JobsScope::Mine, JobsScope::All]).prop_map(|scope| Command::Jobs { scope }),
        job_id().prop_map(|job| Command::Cancel { job }),
        (
            select(vec![RetryWhat::Uploads, RetryWhat::Builds]),
            job_id()
        )
            .prop_map(|(what, job)| Command::Retry { what, job }),
        any::<u64>().prop_map(|bits| Command::Confirm {
            code: ConfirmCode::from_bits(bits)
        }),
        any::<u64>().prop_map(|bits| Command::Abort {
            code: ConfirmCode::from_bits(bits)
        }),
        any::<u64>().prop_map(|alert| Command::RetryAlert { alert }),
        prop::option::of(select(CommandName::ALL.to_vec()))
            .prop_map(|topic| Command::Help { topic }),
        Just(Command::Whoami),
        Just(Command::Unmute),
        (
            prop::option::of(select(support::vocabulary().images().to_vec())),
            1u64..=image_builder::command::MuteDuration::MAX_MINUTES,
        )
            .prop_map(|(image, minutes)| Command::Mute {
                image,
                duration: image_builder::command::MuteDuration::minutes(minutes).unwrap(),
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_parser_never_panics_on_arbitrary_text(text in arbitrary_text()) {
        let _ = parse(&text, &support::vocabulary());
    }

    #[test]
    fn the_parser_never_panics_on_near_commands(text in grammar_soup()) {
        let _ = parse(&text, &support::vocabulary());
    }

    #[test]
    fn every_command_displays_to_text_that_parses_back(command in command()) {
        let text = command.to_string();
        prop_assert_eq!(parse(&text, &support::vocabulary()), Ok(command), "text: {:?}", text);
    }
}
