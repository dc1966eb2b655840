//! The webhook listener as the internet meets it, over raw TCP: slow clients are cut off, a
//! connection over the cap is closed at once, a body declared too large is refused before it is
//! read, a malformed body is a 400. Its limits are shortened here so that the tests take
//! moments, not the production minute.

use std::time::Duration;

use image_builder::secret::Secret;
use image_builder::serve::{self, Limits};
use image_builder::webhook;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// The longest a test waits for the listener to act on a limit of a few hundred milliseconds.
const PATIENCE: Duration = Duration::from_secs(10);

/// Serves the webhook listener within `limits`; returns its address and the deliveries it took.
async fn listener(limits: Limits) -> (String, mpsc::UnboundedReceiver<webhook::Delivery>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (sender, deliveries) = mpsc::unbounded_channel();
    let router = webhook::router(Secret::new("s"), sender, limits);
    tokio::spawn(serve::serve(listener, router, limits));
    (address, deliveries)
}

fn short_limits() -> Limits {
    Limits {
        max_connections: 4,
        max_per_address: 4,
        header_timeout: Duration::from_millis(300),
        body_timeout: Duration::from_millis(300),
        connection_timeout: Duration::from_secs(3),
    }
}

/// Reads until the server closes the connection (or resets it); what it said.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the listener kept the connection open: {}",
        String::from_utf8_lossy(&answer)
    );
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status code of the first answer in `text`, if any.
fn status(text: &str) -> Option<u16> {
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// Sends `raw` on a new connection and reads until the listener closes it.
async fn exchange(address: &str, raw: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(raw).await.unwrap();
    until_closed(&mut stream).await
}

/// A well-formed ping: what a listener that is not starved answers 200 (after checking its
/// signature, so it must be signed).
fn ping() -> Vec<u8> {
    let body = br#"{"ping": true}"#;
    let signature = image_builder::launchpad::sim::deliver::signature("s", body);
    let mut raw = format!(
        "POST {} HTTP/1.1\r\nHost: bot\r\nConnection: close\r\nX-Launchpad-Event-Type: ping\r\nX-Hub-Signature: {signature}\r\nContent-Length: {}\r\n\r\n",
        webhook::PATH,
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    raw
}

#[tokio::test]
async fn slow_headers_are_cut_off_and_free_their_place() {
    let limits = short_limits();
    let (address, _deliveries) = listener(limits).await;
    // Slowloris: every place taken by a connection that sends half its headers, then stalls.
    let mut slow = Vec::new();
    for _ in 0..limits.max_connections {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(format!("POST {} HTTP/1.1\r\nHost: bot\r\n", webhook::PATH).as_bytes())
            .await
            .unwrap();
        slow.push(stream);
    }
    // Each is cut off once its headers are late.
    for stream in &mut slow {
        let said = until_closed(stream).await;
        assert!(
            said.is_empty() || status(&said) == Some(408),
            "a late request is not served: {said}"
        );
    }
    // And the places are free again: a real delivery is answered.
    let answer = exchange(&address, &ping()).await;
    assert_eq!(status(&answer), Some(200), "{answer}");
}

#[tokio::test]
async fn a_connection_over_the_cap_is_closed_at_once_and_others_are_served_after() {
    let limits = Limits {
        header_timeout: Duration::from_secs(60),
        connection_timeout: Duration::from_secs(60),
        ..short_limits()
    };
    let (address, _deliveries) = listener(limits).await;
    let mut idle = Vec::new();
    for _ in 0..limits.max_connections {
        idle.push(TcpStream::connect(&address).await.unwrap());
    }
    // The listener has accepted them all once one more is refused; wait for that.
    let refused = exchange(&address, &ping()).await;
    assert_eq!(status(&refused), None, "over the cap: closed unanswered");
    // One idle connection goes away; its place serves the next delivery.
    drop(idle.pop());
    let mut answered = None;
    for _ in 0..50 {
        let answer = exchange(&address, &ping()).await;
        if status(&answer).is_some() {
            answered = status(&answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answered, Some(200));
}

#[tokio::test]
async fn a_body_declared_over_the_limit_is_refused_before_it_is_read() {
    let (address, mut deliveries) = listener(Limits::default()).await;
    // A million bytes declared, a handful sent: answered 413 at once, not waited for.
    let raw = format!(
        "POST {} HTTP/1.1\r\nHost: bot\r\nX-Hub-Signature: sha1=00\r\nContent-Length: 1000000\r\n\r\n{{\"ping\"",
        webhook::PATH
    );
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut buffer = [0u8; 1024];
    let read = tokio::time::timeout(PATIENCE, stream.read(&mut buffer))
        .await
        .expect("answered without waiting for the body")
        .unwrap();
    let said = String::from_utf8_lossy(&buffer[..read]);
    assert_eq!(status(&said), Some(413), "{said}");
    assert!(deliveries.try_recv().is_err(), "nothing was taken");
}

#[tokio::test]
async fn a_body_slower_than_its_limit_is_answered_408() {
    let (address, _deliveries) = listener(short_limits()).await;
    let raw = format!(
        "POST {} HTTP/1.1\r\nHost: bot\r\nX-Hub-Signature: sha1=00\r\nContent-Length: 100\r\n\r\n{{",
        webhook::PATH
    );
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    let said = until_closed(&mut stream).await;
    assert_eq!(status(&said), Some(408), "{said}");
}

#[tokio::test]
async fn a_malformed_chunked_body_is_a_400_and_changes_nothing() {
    let (address, mut deliveries) = listener(Limits::default()).await;
    for broken in [
        "zz\r\nnot a chunk\r\n",
        "5\r\nabc\r\n0\r\n\r\n",
        "ffffffffffffffffff\r\n",
    ] {
        let raw = format!(
            "POST {} HTTP/1.1\r\nHost: bot\r\nConnection: close\r\nX-Hub-Signature: sha1=00\r\nTransfer-Encoding: chunked\r\n\r\n{broken}",
            webhook::PATH
        );
        let said = exchange(&address, raw.as_bytes()).await;
        assert_eq!(status(&said), Some(400), "{broken:?}: {said}");
    }
    assert!(deliveries.try_recv().is_err(), "nothing was taken");
    // The listener is still there.
    assert_eq!(status(&exchange(&address, &ping()).await), Some(200));
}

#[tokio::test]
async fn a_malformed_request_is_answered_400_before_the_connection_closes() {
    let (address, mut deliveries) = listener(Limits::default()).await;
    for raw in [
        "GARBAGE\r\n\r\n",
        "POST /launchpad/webhook HTTP/1.1\r\nHost bot\r\n\r\n",
        "POST /launchpad/webhook HTTP/1.1\r\nHost: bot\r\nContent-Length: twelve\r\n\r\n",
        // A TLS client hello on the plain port.
        "\x16\x03\x01\x02\x00\x01\x00\x01",
    ] {
        let said = exchange(&address, raw.as_bytes()).await;
        assert_eq!(status(&said), Some(400), "{raw:?}: {said:?}");
    }
    assert!(deliveries.try_recv().is_err(), "nothing was taken");
    assert_eq!(status(&exchange(&address, &ping()).await), Some(200));
}

/// A connection from `from` (a loopback address of its own) to `address`.
async fn connect_from(from: &str, address: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{from}:0").parse().unwrap()).unwrap();
    socket.connect(address.parse().unwrap()).await.unwrap()
}

/// One peer holding 64 slow connections (the whole global cap) does not block another's
/// delivery: each address has a cap of its own, below the global one.
#[tokio::test]
async fn slow_connections_from_one_address_leave_room_for_another() {
    let limits = Limits::default();
    let (address, _deliveries) = listener(limits).await;
    let mut slow = Vec::new();
    for _ in 0..limits.max_connections {
        let mut stream = connect_from("127.0.0.1", &address).await;
        // Half a request, then nothing: each would hold its place for the header timeout.
        let _ = stream
            .write_all(format!("POST {} HTTP/1.1\r\nHost: bot\r\n", webhook::PATH).as_bytes())
            .await;
        slow.push(stream);
    }
    let started = std::time::Instant::now();
    let mut stream = connect_from("127.0.0.2", &address).await;
    stream.write_all(&ping()).await.unwrap();
    let said = until_closed(&mut stream).await;
    assert_eq!(status(&said), Some(200), "{said}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "taken within a second: {:?}",
        started.elapsed()
    );
    drop(slow);
}
