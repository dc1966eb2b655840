//! Operating faults (issue 11): a Launchpad nobody answers at, a store another process holds,
//! credentials Launchpad refuses, a disk that fills up. Each ends with a clear word, and
//! nothing is lost or done twice.

mod support;

use std::time::Duration;

use image_builder::chat::Kind;
use image_builder::launchpad::sim::scenario::Scenario;
use image_builder::launchpad::sim::{SimSettings, Simulator};
use support::bot::{quick_engine, TestBot};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_launchpad_is_said_once_and_the_job_goes_on_when_it_answers() {
    // An address where nothing listens yet.
    let address = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let bot = TestBot::start_client(Scenario::default(), quick_engine(), |_, client| {
        client.api_root = format!("http://{address}/devel/");
    })
    .await;
    bot.say("alice", "rebuild 20.04 arm64 redis").await;
    let started = std::time::Instant::now();
    while bot
        .printed_containing(Kind::Alert, "Launchpad cannot be reached")
        .is_empty()
    {
        assert!(started.elapsed() < Duration::from_secs(30), "never said");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // It keeps trying, without saying it again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let said = bot.printed_containing(Kind::Alert, "Launchpad cannot be reached");
    assert_eq!(said.len(), 1, "{said:#?}");
    assert!(
        said[0].contains("could not talk to Launchpad at http://127.0.0.1:"),
        "{}",
        said[0]
    );
    // Launchpad comes up there (it does not know the job's token: the answer is a refusal,
    // but an answer).
    let mut settings = SimSettings::new(support::config().catalogue);
    settings.listen = address;
    let _sim = Simulator::start(settings).await.unwrap();
    let started = std::time::Instant::now();
    while bot
        .printed_containing(Kind::Alert, "Launchpad answers again")
        .is_empty()
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never carried on"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
