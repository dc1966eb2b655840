//! Launchpad's webhooks, delivered by the simulator over real HTTP with real signatures, into
//! the bot's listener: builds nobody asked the bot for are alerted once; a tracked job moves
//! with the deliveries, not the polls; bad deliveries are refused and change nothing.

mod support;

use std::time::Duration;

use image_builder::chat::Kind;
use image_builder::engine::Engine;
use image_builder::health::{self, Watch};
use image_builder::launchpad::sim::scenario::Failures;
use image_builder::metrics;
use image_builder::webhook;
use support::bot::{quick_engine, TestBot};
use support::hooks::{
    alerting_bot, alerts, click, first_alert, install, listen, listen_watched, post, SECRET,
};

/// The bot started again: a new engine on the same store and console, alerting in `alerts`.
fn restarted(bot: &TestBot) -> Engine<image_builder::chat::console::Console> {
    Engine::new(
        image_builder::launchpad::Client::new(support::client_settings(&bot.sim)).unwrap(),
        bot.wired.engine.store().clone(),
        bot.wired.console.clone(),
        {
            let mut settings = quick_engine();
            settings.alerts_channel = Some("alerts".into());
            settings
        },
    )
}

/// A delivery's body saying build `id` of redis 22.04 changed (unsigned).
fn status_changed(id: u64) -> String {
    format!(
        "{{\"recipe_build\": \"/~ubuntu-docker-images/ubuntu-docker-images/+oci/redis/+recipe/redis-6.2-22.04/+build/{id}\", \"action\": \"status-changed\"}}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_build_whose_upload_fails_is_alerted_exactly_once() {
    let (bot, _url) = alerting_bot(Failures::Always, true).await;
    bot.sim
        .with_world_mut(|world| world.foreign_build("redis", "22.04", "amd64"))
        .unwrap();
    bot.run_until("the alert", |bot| !alerts(bot).is_empty())
        .await;
    let alert = &alerts(&bot)[0];
    assert!(alert.starts_with("Upload failed: amd64 build of /~ubuntu-docker-images/ubuntu-docker-images/+oci/redis/+recipe/redis-6.2-22.04 (not started by me)"), "{alert}");
    assert!(alert.contains("/+build/"), "{alert}");

    // Launchpad redelivers: every delivery again, byte for byte.
    for delivery in bot.sim.deliveries() {
        let status = post(
            &delivery.url,
            &delivery.body,
            delivery.signature.as_deref(),
            "oci-recipe:build:0.1",
        )
        .await;
        assert_eq!(status, 200);
    }
    // And the bot restarts: a new engine on the same store, with its own listener.
    let restarted = restarted(&bot);
    let again = listen(&bot.sim, restarted).await;
    for delivery in bot.sim.deliveries() {
        post(
            &again,
            &delivery.body,
            delivery.signature.as_deref(),
            "oci-recipe:build:0.1",
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(alerts(&bot).len(), 1, "{:#?}", alerts(&bot));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tracked_job_moves_with_the_deliveries_and_not_the_polls() {
    let mut settings = quick_engine();
    // So slow that only webhooks can move the job along within the test's time.
    settings.rules.poll_min = Duration::from_secs(3600);
    settings.rules.poll_max = Duration::from_secs(3600);
    let bot = TestBot::start_with(vec![], settings).await;
    let url = listen(&bot.sim, bot.wired.engine.clone()).await;
    install(&bot.sim, &url).await;
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    bot.run_until("job 1 ends on webhooks alone", |bot| {
        bot.job(1).is_finished()
    })
    .await;
    assert_eq!(bot.job(1).tally().succeeded, 1);
    assert!(bot.sim.deliveries().iter().all(|d| d.status == Some(200)));
}

/// A real build of redis 22.04 amd64 that failed (as the bot's scenario has it), but that
/// Launchpad does not announce: only the forged delivery returned names it, with its body and
/// the signature [`SECRET`] gives it.
fn forged_failure(bot: &TestBot) -> (String, String) {
    let id = bot
        .sim
        .with_world_mut(|world| world.foreign_build("redis", "22.04", "amd64"))
        .unwrap();
    bot.sim.advance(Duration::from_secs(3 * 3600));
    let body = status_changed(id);
    let signature = image_builder::launchpad::sim::deliver::signature(SECRET, body.as_bytes());
    (body, signature)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_deliveries_are_refused_with_the_right_status_and_change_nothing() {
    let (bot, url) = alerting_bot(Failures::Always, false).await;
    let (body, good) = forged_failure(&bot);
    let wrong = image_builder::launchpad::sim::deliver::signature("guess", body.as_bytes());
    let event = "oci-recipe:build:0.1";
    assert_eq!(
        post(&url, &body, None, event).await,
        401,
        "missing signature"
    );
    assert_eq!(
        post(&url, &body, Some(&wrong), event).await,
        401,
        "wrong signature"
    );
    let bad_json = "{not json";
    let signed_bad = image_builder::launchpad::sim::deliver::signature(SECRET, bad_json.as_bytes());
    assert_eq!(
        post(&url, bad_json, Some(&signed_bad), event).await,
        400,
        "bad JSON"
    );
    assert_eq!(
        post(&url, &body, Some(&good), "git:push:0.1").await,
        400,
        "another event type"
    );
    let huge = "x".repeat(webhook::MAX_BODY + 1);
    assert_eq!(
        post(&url, &huge, Some(&good), event).await,
        413,
        "too large"
    );
    let ping = r#"{"ping": true}"#;
    let signed_ping = image_builder::launchpad::sim::deliver::signature(SECRET, ping.as_bytes());
    assert_eq!(
        post(&url, ping, Some(&signed_ping), event).await,
        200,
        "ping"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        alerts(&bot).is_empty(),
        "nothing was alerted: {:#?}",
        alerts(&bot)
    );
    assert_eq!(bot.sim.requests("GET build"), 0, "nothing was read");

    // The same delivery, signed, is acted on: proof the refusals were about the delivery.
    assert_eq!(post(&url, &body, Some(&good), event).await, 200);
    bot.run_until("the alert", |bot| alerts(bot).len() == 1)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_while_the_bot_stops_is_refused_and_taken_by_the_next_start() {
    let (bot, _) = alerting_bot(Failures::Always, false).await;
    // The listener as `run` serves it, `/healthz` watching it.
    let taken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let url = listen_watched(
        &bot.sim,
        bot.wired.engine.clone(),
        "127.0.0.1:0",
        taken.clone(),
    )
    .await;
    let watching = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let health_url = format!("http://{}/healthz", watching.local_addr().unwrap());
    tokio::spawn(health::serve(watching, Watch::new(None, None, Some(taken))));
    let health = || async { reqwest::get(&health_url).await.unwrap().status().as_u16() };
    let (body, signature) = forged_failure(&bot);
    let event = "oci-recipe:build:0.1";
    assert_eq!(health().await, 200);
    // SIGTERM: the engine stops, its listener still answers.
    bot.wired.engine.stop(Duration::from_secs(5)).await;
    assert_eq!(
        post(&url, &body, Some(&signature), event).await,
        503,
        "refused, for Launchpad to send again"
    );
    assert_eq!(health().await, 503, "/healthz says deliveries are refused");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(alerts(&bot).is_empty(), "{:#?}", alerts(&bot));
    assert_eq!(bot.sim.requests("GET build"), 0, "nothing was read");

    // Launchpad's next attempt reaches the next start.
    let restarted = restarted(&bot);
    let again = listen(&bot.sim, restarted).await;
    assert_eq!(post(&again, &body, Some(&signature), event).await, 200);
    bot.run_until("the alert", |bot| alerts(bot).len() == 1)
        .await;
}

/// The value of the sample `name{labels}` in a metrics text, 0 if absent.
fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|line| {
            line.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_as_prometheus_text_and_their_counters_move() {
    let bot = TestBot::start(vec![]).await;
    let url = listen(&bot.sim, bot.wired.engine.clone()).await;
    // Health and metrics on their own address, as `run` serves them on `metrics.listen`.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let store = bot.wired.engine.store().clone();
    tokio::spawn(health::serve(listener, Watch::new(Some(store), None, None)));
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let on_webhook_port = reqwest::get(url.replace(webhook::PATH, "/metrics"))
        .await
        .unwrap();
    assert_eq!(on_webhook_port.status(), 404, "not on the public port");
    let scrape = || async {
        reqwest::get(format!("{base}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let accepted = "image_builder_webhook_deliveries_total{result=\"accepted\",reason=\"\"}";
    // The counters before, without a scrape (which would count the gauges now, for 30 s).
    let before = sample(&metrics::global().render(), accepted);

    install(&bot.sim, &url).await;
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    bot.run_until("job 1 ends", |bot| bot.job(1).is_finished())
        .await;
    let text = scrape().await;
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let name = series.split('{').next().unwrap();
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        assert!(!series.contains('{') || series.ends_with('}'), "{line}");
    }
    for family in text.lines().filter_map(|line| line.strip_prefix("# TYPE ")) {
        let kind = family.rsplit(' ').next().unwrap();
        assert!(kind == "counter" || kind == "gauge", "{family}");
    }
    assert!(
        sample(&text, accepted) > before,
        "deliveries were counted: {text}"
    );
    assert!(
        sample(
            &text,
            "image_builder_launchpad_requests_total{operation=\"requestBuilds\",outcome=\"ok\"}"
        ) >= 1,
        "{text}"
    );
    assert!(
        sample(&text, "image_builder_jobs{state=\"finished\"}") >= 1,
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_failures_inside_the_window_are_one_alert_that_grows() {
    let (bot, _url) = alerting_bot(Failures::Always, true).await;
    bot.sim.with_world_mut(|world| {
        for image in ["apache2", "bind9", "memcached", "nginx", "squid"] {
            world.foreign_build(image, "24.04", "arm64").unwrap();
        }
    });
    bot.run_until("five failures in one alert", |bot| {
        alerts(bot)
            .last()
            .is_some_and(|text| text.starts_with("5 uploads failed in the last 10 minutes:"))
    })
    .await;
    let printed: Vec<_> = bot
        .printed()
        .into_iter()
        .filter(|p| p.kind == Kind::Alert && p.channel == "alerts")
        .collect();
    assert_eq!(
        printed.iter().filter(|p| !p.edit).count(),
        1,
        "one alert message: {printed:#?}"
    );
    assert!(
        printed.iter().all(|p| p.id == printed[0].id),
        "the rest are edits of it"
    );
    let last = &printed.last().unwrap().text;
    for image in ["apache2", "bind9", "memcached", "nginx", "squid"] {
        assert!(
            last.contains(&format!("+oci/{image}/")),
            "{image} missing from {last}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mute_stops_alerts_until_it_expires_and_says_when_it_ends() {
    let (bot, _url) = alerting_bot(Failures::Always, true).await;
    let answer = bot.say("alice", "mute uploads redis 2h").await;
    assert!(
        answer.starts_with("Failed-upload alerts of redis are muted for 2h"),
        "{answer}"
    );
    assert_eq!(
        bot.say("alice", "unmute").await,
        "Failed-upload alerts are back on (1 mute ended)."
    );
    assert!(bot
        .say("carol", "mute uploads all 1h")
        .await
        .starts_with("You may not `mute`"));

    // A short mute through the engine (commands take whole minutes).
    bot.wired
        .engine
        .mute(None, Duration::from_millis(400), "team")
        .unwrap();
    bot.sim
        .with_world_mut(|world| world.foreign_build("redis", "22.04", "amd64"))
        .unwrap();
    bot.run_until("the muted failure is recorded", |bot| {
        !bot.wired
            .engine
            .alerts()
            .muted_failures()
            .unwrap()
            .is_empty()
    })
    .await;
    assert!(alerts(&bot).is_empty(), "muted: {:#?}", alerts(&bot));
    let status = bot.say("carol", "status").await;
    assert!(
        status.contains("Muted failed uploads:\n• amd64 build of"),
        "{status}"
    );
    let started = std::time::Instant::now();
    while !bot
        .printed()
        .iter()
        .any(|p| p.text.starts_with("The mute ended"))
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the end of the mute was never said"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bot.sim
        .with_world_mut(|world| world.foreign_build("squid", "22.04", "amd64"))
        .unwrap();
    bot.run_until("the next failure is alerted", |bot| alerts(bot).len() == 1)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untracked_failures_retry_button_works_for_builders_only_and_its_retry_is_followed() {
    let (bot, _url) = alerting_bot(Failures::Times(1), true).await;
    bot.sim
        .with_world_mut(|world| world.foreign_build("redis", "22.04", "amd64"))
        .unwrap();
    bot.run_until("the alert", |bot| !alerts(bot).is_empty())
        .await;
    let alert = first_alert(&bot);
    assert!(
        matches!(
            alert.buttons[..],
            [image_builder::chat::Button::RetryGroup(_)]
        ),
        "{:?}",
        alert.buttons
    );
    let refused = bot
        .wired
        .bot
        .click(&click("carol"), &alert.buttons[0])
        .await;
    assert!(
        refused.private && refused.text.starts_with("You may not `retry`"),
        "{}",
        refused.text
    );
    // The button is the command it says, checked the same way when typed.
    let typed = alert.buttons[0].command();
    assert!(typed.starts_with("retry alert "), "{typed}");
    let refused_typed = bot.say("carol", &typed).await;
    assert_eq!(refused_typed, refused.text);
    assert_eq!(bot.sim.requests("POST scheduleRegistryUpload"), 0);
    let answer = support::hooks::click_first_alert(&bot, "alice").await;
    assert_eq!(
        answer.text,
        "Retrying 1 upload; I will say here how it ends."
    );
    assert_eq!(bot.sim.requests("POST scheduleRegistryUpload"), 1);
    bot.run_until("the retry's outcome is said", |bot| {
        alerts(bot)
            .iter()
            .any(|text| text.contains("worked: uploaded"))
    })
    .await;
    let said = alerts(&bot);
    assert_eq!(said.len(), 2, "the alert and the outcome: {said:#?}");
    assert!(said[1].starts_with("The retried upload of amd64 build of /~ubuntu-docker-images/ubuntu-docker-images/+oci/redis/+recipe/redis-6.2-22.04 worked"), "{}", said[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_upload_that_fails_again_is_told_again_once() {
    let (bot, _url) = alerting_bot(Failures::Times(2), true).await;
    bot.sim
        .with_world_mut(|world| world.foreign_build("redis", "22.04", "amd64"))
        .unwrap();
    bot.run_until("the alert", |bot| !alerts(bot).is_empty())
        .await;
    let alert = first_alert(&bot);
    bot.wired
        .bot
        .click(&click("alice"), &alert.buttons[0])
        .await;
    bot.run_until("the second failure is told", |bot| alerts(bot).len() >= 2)
        .await;
    // Deliveries of the second failure, and polls of the followed retry, keep coming: none
    // is told again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let said = alerts(&bot);
    assert_eq!(said.len(), 2, "{said:#?}");
    assert!(
        said[1].starts_with("The retried upload of amd64 build of"),
        "{}",
        said[1]
    );
    assert!(
        said[1].contains("failed again: Upload of sha256:"),
        "{}",
        said[1]
    );

    // Retried on Launchpad's page this time (by someone else): the third failure is told too.
    let link = bot.sim.with_world(|world| {
        let build = world.builds.values().next().unwrap();
        format!("{}{}/+build/{}", bot.sim.api_root(), build.recipe, build.id)
    });
    bot.sim.set_outcomes(vec![]);
    bot.sim.with_world_mut(|world| {
        let id = world.builds.keys().next().copied().unwrap();
        world.builds.get_mut(&id).unwrap().fail_next_upload();
    });
    support::client(&bot.sim)
        .schedule_registry_upload(&link)
        .await
        .unwrap();
    bot.run_until("the third failure is told", |bot| alerts(bot).len() >= 3)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let said = alerts(&bot);
    assert_eq!(said.len(), 3, "{said:#?}");
    // Within the window of the first alert, it grows that alert's group.
    assert!(
        said[2].starts_with("2 uploads failed in the last 10 minutes:"),
        "{}",
        said[2]
    );
    assert!(
        said[2].contains("redis-6.2-22.04 (failed again): Upload of"),
        "{}",
        said[2]
    );
}
