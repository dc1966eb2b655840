//! What was built when: `history redis 22.04` after three rebuilds lists them newest first
//! with who asked, why and each build's outcome, its first line saying when the last was and
//! whether it published; the history outlives the jobs (compacted away) and also holds builds
//! the bot only heard of through a webhook.

mod support;

use image_builder::launchpad::sim::scenario::{Failures, Outcome};
use support::bot::{summarised, TestBot};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_lists_three_rebuilds_newest_first_and_outlives_the_jobs() {
    let bot = TestBot::start(vec![]).await;
    bot.say(
        "alice",
        "rebuild 22.04 redis arm64 amd64 reason=\"CVE-2026-1\"",
    )
    .await;
    bot.run_until("job 1 ends", summarised(1)).await;
    bot.sim.set_outcomes(vec![Outcome {
        arch: Some("arm64".parse().unwrap()),
        upload_failures: Failures::Always,
        ..Outcome::default()
    }]);
    bot.say("bob", "rebuild 22.04 redis arm64").await;
    bot.run_until("job 2 ends", summarised(2)).await;
    bot.sim.set_outcomes(vec![]);
    // Another image and series: not in redis 22.04's history.
    bot.say("alice", "rebuild 20.04 postgres arm64").await;
    bot.run_until("job 3 ends", summarised(3)).await;
    bot.say("alice", "rebuild 22.04 redis s390x").await;
    bot.run_until("job 4 ends", summarised(4)).await;

    let answer = bot.say("carol", "history redis 22.04").await;
    let lines: Vec<&str> = answer.lines().collect();
    assert!(
        lines[0].starts_with("**Redis on 22.04** was last rebuilt ")
            && lines[0].ends_with(" by alice (job #4): published."),
        "{answer}"
    );
    assert_eq!(lines.len(), 4, "{answer}");
    assert!(
        lines[1].contains(" · job #4 · alice: redis 6.2 on 22.04: s390x ✓"),
        "{answer}"
    );
    assert!(
        lines[2].contains(" · job #2 · bob: redis 6.2 on 22.04: arm64 ! upload failed"),
        "{answer}"
    );
    assert!(
        lines[3].contains(" · job #1 · alice · “CVE-2026-1”: redis 6.2 on 22.04: amd64 ✓, arm64 ✓"),
        "{answer}"
    );
    assert!(!answer.contains("postgres"), "{answer}");

    // Filters and limits.
    let bobs = bot.say("carol", "history redis --by bob").await;
    assert!(
        bobs.contains("by bob (job #2): not published (redis arm64 upload failed)."),
        "{bobs}"
    );
    assert_eq!(bobs.lines().count(), 2, "{bobs}");
    let last = bot.say("carol", "history --last 2").await;
    assert_eq!(last.lines().count(), 3, "{last}");
    assert!(
        last.contains("job #4") && last.contains("job #3") && !last.contains("job #2"),
        "{last}"
    );
    assert_eq!(
        bot.say("carol", "history redis --last 0").await,
        "`--last` takes a number from 1 to 100, not `0`. Try `help history`."
    );

    // The jobs go; the history stays.
    let store = bot.wired.engine.store();
    let removed = store
        .compact(chrono::Utc::now() + chrono::Duration::days(1))
        .unwrap();
    assert_eq!(removed, 4);
    assert!(store.jobs().unwrap().is_empty());
    assert_eq!(bot.say("carol", "history redis 22.04").await, answer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_heard_of_through_a_webhook_is_in_the_history() {
    let (bot, _url) = support::hooks::alerting_bot(Failures::Times(0), true).await;
    bot.sim
        .with_world_mut(|world| world.foreign_build("squid", "22.04", "amd64"))
        .unwrap();
    bot.run_until("the foreign build is in the history", |bot| {
        bot.wired
            .engine
            .store()
            .history()
            .unwrap()
            .iter()
            .any(|record| record.published())
    })
    .await;
    let answer = bot.say("carol", "history squid").await;
    assert!(
        answer.starts_with("**Squid** was last rebuilt ")
            && answer
                .lines()
                .next()
                .unwrap()
                .ends_with(" by ~someone-else on Launchpad: published."),
        "{answer}"
    );
    assert!(
        answer.contains(" · on Launchpad · ~someone-else: squid 5.2 on 22.04: amd64 ✓"),
        "{answer}"
    );
    assert_eq!(
        bot.say("carol", "history nginx").await,
        "No rebuild of nginx in the history (it keeps the last 365 days)."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_history_word_is_answered_like_rebuilds_and_points_to_help_history() {
    let bot = TestBot::start(vec![]).await;
    assert_eq!(
        bot.say("carol", "history redsi").await,
        "I don't know `redsi`. Did you mean the image `redis`? Try `help history`."
    );
    assert_eq!(
        bot.say("carol", "history --user alice").await,
        "`history` has no option `--user`. It takes `--by USER` and `--last N`. Try `help history`."
    );
    assert_eq!(
        bot.say("carol", "history --by").await,
        "`--by` needs a value after it, as in `--by alice`. Try `help history`."
    );
}
