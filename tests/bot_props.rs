//! No message makes the bot panic or hang: `Bot::answer` driven with a soup of every command
//! word, option, Unicode, quotes and numbers, from users holding each permission. A panic would
//! be caught and answered "Something went wrong": the property is that it never is.
//!
//! The same soup, a million messages, is the fuzz run the README reports:
//! `IB_FUZZ_CASES=1000000 cargo test --release --test bot_props -- --ignored`.

mod support;

use std::time::Duration;

use image_builder::chat::Incoming;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestRunner};
use support::bot::{user, TestBot};

/// Everything a message to the bot is made of.
fn soup() -> impl Strategy<Value = String> {
    let pieces = select(vec![
        // Command words and their arguments.
        "rebuild",
        "status",
        "jobs",
        "cancel",
        "retry",
        "confirm",
        "abort",
        "help",
        "whoami",
        "mute",
        "unmute",
        "uploads",
        "upload",
        "builds",
        "build",
        "alert",
        "mine",
        "all",
        // The catalogue, and near misses.
        "20.04",
        "22.04",
        "24.04",
        "jammy",
        "noble",
        "20.10",
        "99.99",
        "arm64",
        "amd64",
        "ppc64el",
        "s390x",
        "riscv64",
        "redis",
        "rediss",
        "postgres",
        "squid",
        "nginx",
        // Options.
        "--series",
        "--arch",
        "--",
        "--wait",
        "--dry-run",
        "--auto-retry-uploads",
        "--series=",
        "--arch=",
        "reason=",
        "--reason",
        "-",
        "---",
        // Numbers, ids, codes, durations.
        "#",
        "#1",
        "#42",
        "1",
        "0",
        "-1",
        "18446744073709551616",
        "99999999999999999999",
        "K7TQ2M",
        "AAAAAA",
        "45m",
        "2h",
        "7d",
        "8d",
        "0m",
        "1ч",
        "ч",
        "2時",
        "m",
        "h",
        // Quotes, escapes, markup.
        "\"",
        "\u{201c}",
        "\u{201d}",
        "'",
        "\\",
        "`",
        "```",
        ">",
        ">>>",
        "=",
        "@everyone",
        "<@1>",
        "**",
        "\n",
        " ",
        "\t",
        "\r",
        // Unicode: accents, combining marks, zero-width, right-to-left, emoji, NUL.
        "é",
        "e\u{301}",
        "\u{200b}",
        "\u{202e}",
        "עברית",
        "🦀",
        "👩‍👩‍👧",
        "\u{0}",
        "\u{feff}",
    ]);
    prop::collection::vec(pieces, 0..48).prop_map(|pieces| pieces.join(""))
}

fn spaced_soup() -> impl Strategy<Value = String> {
    // The same, mostly as separate words.
    prop::collection::vec(soup(), 0..8).prop_map(|words| words.join(" "))
}

/// A command's first words, then soup: so generated messages get deep into each command.
fn commands() -> impl Strategy<Value = String> {
    let heads = select(vec![
        "rebuild",
        "rebuild 20.04",
        "rebuild arm64 redis",
        "status",
        "jobs",
        "cancel",
        "retry uploads",
        "retry builds",
        "retry alert",
        "confirm",
        "abort",
        "help",
        "whoami",
        "mute uploads",
        "mute uploads all",
        "mute uploads redis",
        "unmute",
        "!rebuild",
    ]);
    (heads, prop::collection::vec(soup(), 0..4))
        .prop_map(|(head, words)| format!("{head} {}", words.join(" ")))
}

/// Answers `cases` messages of soup from alice (every permission), bob (build) and carol
/// (read), none of them a caught panic or longer than `limit`.
fn answer_soup(cases: u32) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bot = runtime.block_on(TestBot::start(vec![]));
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        prop_oneof![soup(), spaced_soup(), commands()],
        select(vec!["alice", "bob", "carol"]),
    );
    runner
        .run(&strategy, |(text, who)| {
            let incoming = Incoming {
                user: user(who),
                channel: "team".into(),
                text: text.clone(),
            };
            let answer = runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), bot.wired.bot.answer(&incoming)).await
            });
            let Ok(answer) = answer else {
                return Err(TestCaseError::fail(format!(
                    "no answer within 10 s to {text:?}"
                )));
            };
            prop_assert!(
                !answer.text.trim().is_empty(),
                "an empty answer to {:?}",
                text
            );
            prop_assert!(
                !answer
                    .text
                    .starts_with("Something went wrong on my side while answering"),
                "{:?} made the handler panic",
                text
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn no_message_makes_the_bot_panic_or_hang() {
    answer_soup(512);
}

/// The fuzz run: a million messages by default (`IB_FUZZ_CASES` to change it). Not in CI.
#[test]
#[ignore]
fn fuzz_a_million_messages() {
    let cases = std::env::var("IB_FUZZ_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(1_000_000);
    let started = std::time::Instant::now();
    answer_soup(cases);
    eprintln!("{cases} messages answered in {:?}", started.elapsed());
}
