//! The accept loop of the bot's own HTTP listeners (Launchpad's deliveries, health and metrics),
//! hardened for a port the internet can reach: a cap on connections (one over it is closed at
//! once, so idle connections cannot starve the process of file descriptors) and a lower one per
//! address (so one peer cannot take every place), a time limit for
//! a request's headers (slowloris), and a time limit on a connection as a whole. A handler
//! limits and times its body itself ([`read_body`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_service::Service;

/// How much a listener lets its clients take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
    /// Connections open at once from one address; one more from it is closed as soon as it is
    /// accepted, so one peer holding connections open cannot take every place.
    pub max_per_address: usize,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body.
    pub body_timeout: Duration,
    /// How long a connection may stay open, however busy.
    pub connection_timeout: Duration,
}

impl Default for Limits {
    /// Launchpad sends one small delivery per connection, at once: 64 connections (16 from any
    /// one address: Launchpad's deliveries all come through its webhooks proxy, which never
    /// holds that many at once), headers in 10 s, a body in 10 s, a minute in all leave it
    /// every room and an attacker little.
    fn default() -> Limits {
        Limits {
            max_connections: 64,
            max_per_address: 16,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            connection_timeout: Duration::from_secs(60),
        }
    }
}

/// The connections open from each address.
#[derive(Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

/// A connection's place among its address's; given back when dropped.
struct AddressPlace {
    counts: Arc<PerAddress>,
    address: IpAddr,
}

impl PerAddress {
    /// A place for one more connection from `address`, if it has fewer than `max` open.
    fn take(counts: &Arc<PerAddress>, address: IpAddr, max: usize) -> Option<AddressPlace> {
        let mut open = counts.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(address).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(AddressPlace {
            counts: counts.clone(),
            address,
        })
    }
}

impl Drop for AddressPlace {
    fn drop(&mut self) {
        let mut open = self.counts.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.address);
            }
        }
    }
}

/// Serves `router` on `listener` within `limits`, until the task is aborted.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let per_address = Arc::new(PerAddress::default());
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait a moment rather than spin.
                crate::metrics::rejected("accept", &error.to_string());
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // One peer first: its connections over its own cap are closed without taking a place.
        let Some(place) = PerAddress::take(&per_address, peer.ip(), limits.max_per_address.max(1))
        else {
            crate::metrics::rejected(
                "connections_per_address",
                "too many connections at once from one address",
            );
            continue;
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            // Full: closed at once (dropping it), counted, logged at most once a minute.
            crate::metrics::rejected("connections", "too many connections at once");
            continue;
        };
        let router = router.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _place = place;
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let mut router = router.clone();
                async move { router.call(request.map(Body::new)).await }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(limits.connection_timeout, connection).await;
        });
    }
}

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than allowed (declared, or found reading): 413.
    TooLarge,
    /// Not sent within the time allowed: 408.
    TooSlow,
    /// Broken on the wire (a bad chunk, a connection closed early): 400.
    Malformed,
}

impl BodyError {
    /// The status to answer with.
    pub fn status(self) -> StatusCode {
        match self {
            BodyError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::TooSlow => StatusCode::REQUEST_TIMEOUT,
            BodyError::Malformed => StatusCode::BAD_REQUEST,
        }
    }

    /// The metrics' and logs' name for it.
    pub fn kind(self) -> &'static str {
        match self {
            BodyError::TooLarge => "too_large",
            BodyError::TooSlow => "too_slow",
            BodyError::Malformed => "malformed",
        }
    }
}

/// Reads a request's body, at most `max` bytes within `timeout`: a declared length over the
/// limit is refused before anything is read.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    max: usize,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return Err(BodyError::TooLarge);
    }
    match tokio::time::timeout(timeout, axum::body::to_bytes(body, max)).await {
        Err(_) => Err(BodyError::TooSlow),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(error)) => {
            let too_large = std::iter::successors(
                Some(&error as &(dyn std::error::Error + 'static)),
                |error| error.source(),
            )
            .any(|cause| cause.is::<http_body_util::LengthLimitError>());
            Err(if too_large {
                BodyError::TooLarge
            } else {
                BodyError::Malformed
            })
        }
    }
}
