//! The built-in Launchpad simulator: a stateful, protocol-faithful Launchpad on a local port, so
//! the sandbox runs without an account and the tests use real HTTP against the real client.
//!
//! It serves `/devel/...` as Launchpad does (entries, collections, named operations, ETags,
//! `text/plain` errors, OAuth PLAINTEXT) and the OAuth pages on its web root. Time is simulated:
//! tests step the clock by hand ([`Simulator::advance`]); the sandbox runs it in scaled real time.
//! Outcomes and faults are scriptable, and it counts requests by operation.

mod apart;
pub mod buildlog;
pub mod deliver;
mod oauth;
mod render;
mod routes;
pub mod scenario;
mod server;
pub mod upload;
pub mod webhooks;
pub mod world;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::catalogue::Catalogue;
use crate::launchpad::auth::{Credentials, CONSUMER_KEY};
use crate::secret::Secret;
pub use apart::Apart;
pub use render::Roots;
use scenario::{FaultRates, Outcome, Scenario};
use world::World;

/// How the simulator is started.
#[derive(Debug, Clone)]
pub struct SimSettings {
    /// Where to listen; `127.0.0.1:0` for any free port.
    pub listen: SocketAddr,
    /// The recipes to serve.
    pub catalogue: Catalogue,
    /// `None`: time moves only by [`Simulator::advance`]. `Some(x)`: x times real time.
    pub speed: Option<f64>,
    /// Outcomes, faults and seed.
    pub scenario: Scenario,
    /// Whether opening `+authorize-token` grants the token at once, as if the user clicked
    /// the button (for `image-builder sim`); otherwise a test decides.
    pub auto_authorize: bool,
}

impl SimSettings {
    /// A simulator of `catalogue` on a free loopback port, with a hand-stepped clock.
    pub fn new(catalogue: Catalogue) -> SimSettings {
        SimSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            catalogue,
            speed: None,
            scenario: Scenario::default(),
            auto_authorize: false,
        }
    }
}

/// A fault to inject into the next requests of an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status (text/plain, with `X-Lazr-OopsId` for a 500) without acting.
    Status(u16),
    /// Act, then wait this long before answering.
    Delay(Duration),
    /// Act, then close the connection without answering.
    Drop,
}

#[derive(Debug)]
struct Injected {
    operation: Option<String>,
    fault: Fault,
    remaining: usize,
}

/// The simulator's clock.
#[derive(Debug, Clone, Copy)]
enum Clock {
    Manual,
    Scaled {
        speed: f64,
        origin_real: Instant,
        origin_sim: DateTime<Utc>,
    },
}

/// Everything behind the lock.
struct State {
    world: World,
    clock: Clock,
    tokens: oauth::Tokens,
    rates: FaultRates,
    injected: VecDeque<Injected>,
    counts: BTreeMap<String, u64>,
    auto_authorize: bool,
    /// While the world's time is in this window, the API answers 503.
    outage: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl State {
    /// How much of an outage is left, if one is on now.
    fn outage_left(&self) -> Option<chrono::Duration> {
        let now = self.world.now;
        self.outage
            .filter(|(from, until)| *from <= now && now < *until)
            .map(|(_, until)| until - now)
    }

    /// How many real seconds `simulated` seconds take at the clock's speed (at least one); a
    /// hand-stepped clock has no real pace, so its seconds are taken as they are.
    fn real_seconds(&self, simulated: f64) -> u64 {
        let real = match self.clock {
            Clock::Manual => simulated,
            Clock::Scaled { speed, .. } => simulated / speed,
        };
        real.ceil().max(1.0) as u64
    }

    /// Brings the world up to the clock's time.
    fn catch_up(&mut self) {
        if let Clock::Scaled {
            speed,
            origin_real,
            origin_sim,
        } = self.clock
        {
            let elapsed = origin_real.elapsed().mul_f64(speed);
            let now = origin_sim + chrono::Duration::from_std(elapsed).unwrap_or_default();
            self.world.advance_to(now);
        }
    }

    /// The fault for a request of `operation`: an injected one first, else one drawn from the
    /// rates.
    fn fault_for(&mut self, operation: &str) -> Option<Fault> {
        if let Some(index) = self.injected.iter().position(|injected| {
            injected
                .operation
                .as_deref()
                .is_none_or(|wanted| wanted == operation)
        }) {
            let injected = &mut self.injected[index];
            injected.remaining -= 1;
            let fault = injected.fault;
            if injected.remaining == 0 {
                self.injected.remove(index);
            }
            return Some(fault);
        }
        let roll = |world: &mut World| (world.random() >> 11) as f64 / (1u64 << 53) as f64;
        if self.rates.error_rate > 0.0 && roll(&mut self.world) < self.rates.error_rate {
            return Some(Fault::Status(self.rates.error_status.unwrap_or(503)));
        }
        if self.rates.drop_rate > 0.0 && roll(&mut self.world) < self.rates.drop_rate {
            return Some(Fault::Drop);
        }
        None
    }
}

/// What the handlers share.
struct Shared {
    state: Mutex<State>,
    delivered: Mutex<Vec<deliver::Delivered>>,
    roots: Roots,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// When the last answer of each operation left (after its latency), for benchmarks.
    last_answered: Mutex<BTreeMap<String, Instant>>,
    /// How much faster than Launchpad its clock runs, said on every answer of the API in
    /// [`SIMULATOR_SPEED_HEADER`]: `None` for a hand-stepped clock, which has no pace to say.
    ///
    /// [`SIMULATOR_SPEED_HEADER`]: crate::launchpad::SIMULATOR_SPEED_HEADER
    speed: Option<f64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A handler that panicked leaves the world as consistent as any single step leaves
        // it; carry on rather than poison every later request.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running simulator. Dropping it stops the server.
pub struct Simulator {
    shared: Arc<Shared>,
    address: SocketAddr,
    credentials: Credentials,
    tasks: Vec<JoinHandle<()>>,
}

/// The simulated time at which a hand-stepped simulator starts: fixed, so tests are repeatable.
pub fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .expect("a valid date")
}

impl Simulator {
    /// Binds and starts serving.
    pub async fn start(settings: SimSettings) -> std::io::Result<Simulator> {
        let listener = TcpListener::bind(settings.listen).await?;
        let address = listener.local_addr()?;
        let roots = Roots {
            api: format!("http://{address}/devel/"),
            web: format!("http://{address}/"),
        };
        let (clock, start) = match settings.speed {
            None => (Clock::Manual, epoch()),
            Some(speed) => {
                let now = Utc::now();
                let clock = Clock::Scaled {
                    speed,
                    origin_real: Instant::now(),
                    origin_sim: now,
                };
                (clock, now)
            }
        };
        let rates = settings.scenario.faults.clone();
        let outage = rates.outage_start_minute.map(|minute| {
            let from = start + chrono::Duration::minutes(minute as i64);
            (
                from,
                from + chrono::Duration::minutes(rates.outage_minutes as i64),
            )
        });
        let mut world = World::new(&settings.catalogue, settings.scenario, start);
        let mut tokens = oauth::Tokens::default();
        let credentials = Credentials {
            consumer_key: CONSUMER_KEY.to_string(),
            consumer_secret: Secret::default(),
            access_token: Secret::new(random_token(&mut world, 20)),
            access_secret: Secret::new(random_token(&mut world, 80)),
        };
        tokens.issue(
            credentials.access_token.expose().to_string(),
            credentials.access_secret.expose().to_string(),
            CONSUMER_KEY,
            "WRITE_PUBLIC",
            world::SIM_USER,
        );
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                world,
                clock,
                tokens,
                rates,
                injected: VecDeque::new(),
                counts: BTreeMap::new(),
                auto_authorize: settings.auto_authorize,
                outage,
            }),
            roots,
            delivered: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
            last_answered: Mutex::new(BTreeMap::new()),
            speed: settings.speed,
        });
        let router = routes::router(shared.clone());
        let mut tasks = vec![
            tokio::spawn(server::serve(listener, router)),
            tokio::spawn(deliver::run(shared.clone())),
        ];
        if settings.speed.is_some() {
            // In scaled time the world also moves between requests, so that what it does by
            // itself (later: webhook deliveries) happens on time.
            let ticking = shared.clone();
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(200));
                loop {
                    tick.tick().await;
                    ticking.lock().catch_up();
                }
            }));
        }
        Ok(Simulator {
            shared,
            address,
            credentials,
            tasks,
        })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The API root, `http://127.0.0.1:PORT/devel/`.
    pub fn api_root(&self) -> String {
        self.shared.roots.api.clone()
    }

    /// The web root, `http://127.0.0.1:PORT/`.
    pub fn web_root(&self) -> String {
        self.shared.roots.web.clone()
    }

    /// Credentials of a `WRITE_PUBLIC` token the simulator issued at start, for
    /// [`world::SIM_USER`], a member of every recipe's owning team.
    pub fn credentials(&self) -> Credentials {
        self.credentials.clone()
    }

    /// Credentials of a new `WRITE_PUBLIC` token acting for `person` (who is in no team unless
    /// a test adds them to [`World::teams`]).
    pub fn credentials_for(&self, person: &str) -> Credentials {
        let mut state = self.shared.lock();
        let key = random_token(&mut state.world, 20);
        let secret = random_token(&mut state.world, 80);
        state.tokens.issue(
            key.clone(),
            secret.clone(),
            CONSUMER_KEY,
            "WRITE_PUBLIC",
            person,
        );
        Credentials {
            consumer_key: CONSUMER_KEY.to_string(),
            consumer_secret: Secret::default(),
            access_token: Secret::new(key),
            access_secret: Secret::new(secret),
        }
    }

    /// Moves a hand-stepped clock forward, running everything that falls due.
    pub fn advance(&self, by: Duration) {
        let mut state = self.shared.lock();
        let until = state.world.now + chrono::Duration::from_std(by).unwrap_or_default();
        state.world.advance_to(until);
    }

    /// The next `times` requests of `operation` (`"GET build"`, `"POST requestBuilds"`; `None`
    /// for any) meet `fault`.
    pub fn inject(&self, operation: Option<&str>, fault: Fault, times: usize) {
        if times == 0 {
            return;
        }
        self.shared.lock().injected.push_back(Injected {
            operation: operation.map(str::to_string),
            fault,
            remaining: times,
        });
    }

    /// Starts an outage now: every API request is answered 503 with `Retry-After` until
    /// `length` of simulated time has passed.
    pub fn outage(&self, length: Duration) {
        let mut state = self.shared.lock();
        let now = state.world.now;
        state.outage = Some((
            now,
            now + chrono::Duration::from_std(length).unwrap_or_default(),
        ));
    }

    /// Replaces the random fault rates.
    pub fn set_fault_rates(&self, rates: FaultRates) {
        self.shared.lock().rates = rates;
    }

    /// Replaces the outcome rules for builds made from now on.
    pub fn set_outcomes(&self, outcomes: Vec<Outcome>) {
        self.shared.lock().world.set_outcomes(outcomes);
    }

    /// How many requests of `operation` arrived (`"POST requestBuilds"`, `"GET build"`, ...).
    pub fn requests(&self, operation: &str) -> u64 {
        self.shared
            .lock()
            .counts
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Every operation's request count.
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.shared.lock().counts.clone()
    }

    /// When the last answer to `operation` left the simulator (after its latency), if any.
    pub fn last_answered(&self, operation: &str) -> Option<Instant> {
        let answered = self
            .shared
            .last_answered
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        answered.get(operation).copied()
    }

    /// The most API requests that were being handled at once.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// Reads the world (after bringing it up to the clock).
    pub fn with_world<R>(&self, read: impl FnOnce(&World) -> R) -> R {
        let mut state = self.shared.lock();
        state.catch_up();
        read(&state.world)
    }

    /// Changes the world (for scenarios a test sets up by hand, like a build from the web UI).
    pub fn with_world_mut<R>(&self, change: impl FnOnce(&mut World) -> R) -> R {
        let mut state = self.shared.lock();
        state.catch_up();
        change(&mut state.world)
    }

    /// Every webhook delivery made so far, in order.
    pub fn deliveries(&self) -> Vec<deliver::Delivered> {
        self.shared
            .delivered
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A random alphanumeric string for token keys and secrets, from the world's seeded generator.
fn random_token(world: &mut World, length: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..length)
        .map(|_| ALPHABET[(world.random() % ALPHABET.len() as u64) as usize] as char)
        .collect()
}
