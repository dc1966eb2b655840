//! The Launchpad web service client: the few calls the bot makes on OCI recipes and builds, over
//! reqwest, signed with OAuth PLAINTEXT, limited in concurrency (cancels first), and retried where a repeat is
//! safe. Every answer is typed: a model, "not modified", or a [`LaunchpadError`] that says who
//! must act.
//!
//! What is retried (5xx, timeouts, dropped connections, with backoff and `Retry-After`):
//! - GETs and `cancel`, which are idempotent;
//! - `retry` and `scheduleRegistryUpload`, whose repeats Launchpad refuses with a known 400
//!   ("cannot be retried"; "already in progress" or "already been uploaded"): after an attempt
//!   with no clear answer, that refusal means the first attempt worked, and the call succeeds;
//! - `requestBuilds` only when nothing can have happened: the connection was never made, or
//!   Launchpad answered 500 or 503 (its appserver rolls the transaction back on errors). After a
//!   timeout, a dropped connection, or a 502/504 from the front end, it returns
//!   [`LaunchpadError::OutcomeUnknown`] instead, for the engine to reconcile.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};

use super::auth::Credentials;
use super::error::{LaunchpadError, Refusal};
use super::lanes::{Lane, Lanes};
use super::models::{Build, BuildRequest, DistroArchSeries, Recipe};
use super::retry::RetryPolicy;
use crate::catalogue::RecipePath;

mod transport;
mod webhooks;
use transport::{decode, location, Call, Repeat};

/// How the client reaches Launchpad.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// The API root with its version, ending in `/` (`https://api.launchpad.net/devel/`).
    pub api_root: String,
    /// The credentials; `None` is anonymous, read-only access.
    pub credentials: Option<Credentials>,
    /// Requests in flight at once, across every job.
    pub max_concurrent_requests: usize,
    /// How long one attempt may take, answer body included.
    pub request_timeout: Duration,
    /// When to try again.
    pub retry: RetryPolicy,
}

impl ClientSettings {
    /// Anonymous settings with the defaults, for `api_root`.
    pub fn new(api_root: impl Into<String>) -> ClientSettings {
        ClientSettings {
            api_root: api_root.into(),
            credentials: None,
            max_concurrent_requests: 8,
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// An entry fetched with `If-None-Match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conditional<T> {
    /// It changed (or no ETag was given): here it is.
    Modified(T),
    /// 304: it is as it was.
    NotModified,
}

/// A Launchpad client; cheap to clone, and clones share the connection pool and the limit on
/// requests in flight.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    settings: ClientSettings,
    slots: Lanes,
    /// Who the credentials act for (`people/+me`), once asked.
    me: tokio::sync::OnceCell<String>,
    /// Ubuntu's current series (its API URL), asked once: where OCI builds are made.
    current_series: tokio::sync::OnceCell<String>,
    /// The pace the last answer declared: its [`SIMULATOR_SPEED_HEADER`], or 1 for an answer
    /// without it (Launchpad's). An `f64`'s bits; 0 before any answer.
    declared_speed: std::sync::atomic::AtomicU64,
    /// Launchpad failing to answer, from the first failed attempt to the next answer: logged
    /// once when it starts and once when it ends, not at every attempt of every request.
    outage: transport::OutageLog,
}

/// The header in which the built-in simulator says, on every answer of its API, how much
/// faster than Launchpad it runs (`100`). Launchpad never sends it; a client that sees it
/// paces itself at that speed ([`Client::speed`]), so a simulator started on its own
/// (`image-builder sim --speed 100`) needs no setting changed in the clients that use it.
pub const SIMULATOR_SPEED_HEADER: &str = "x-image-builder-simulator-speed";

/// The `User-Agent` every request carries.
pub fn user_agent() -> String {
    format!("image-builder/{}", env!("CARGO_PKG_VERSION"))
}

impl Client {
    /// A client with these settings.
    pub fn new(settings: ClientSettings) -> Result<Client, LaunchpadError> {
        let http = reqwest::Client::builder()
            .user_agent(user_agent())
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|error| LaunchpadError::Transport {
                url: settings.api_root.clone(),
                message: error.to_string(),
            })?;
        let slots = Lanes::new(settings.max_concurrent_requests);
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                settings,
                slots,
                me: tokio::sync::OnceCell::new(),
                current_series: tokio::sync::OnceCell::new(),
                declared_speed: std::sync::atomic::AtomicU64::new(0),
                outage: transport::OutageLog::default(),
            }),
        })
    }

    /// A build's log at `url` (its `build_log_url`), boiled down to why it failed
    /// ([`super::buildlog`]): fetched without credentials, within bounds of size and time.
    pub async fn build_log(&self, url: &str) -> super::buildlog::LogExcerpt {
        super::buildlog::fetch(&self.inner.http, url, super::buildlog::LogLimits::default()).await
    }

    /// A build's upload log at `url` (its `upload_log_url`), boiled down like a build log.
    pub async fn upload_log(&self, url: &str) -> super::buildlog::LogExcerpt {
        super::buildlog::fetch_upload_log(
            &self.inner.http,
            url,
            super::buildlog::LogLimits::default(),
        )
        .await
    }

    /// The settings in use.
    pub fn settings(&self) -> &ClientSettings {
        &self.inner.settings
    }

    /// The API URL of a recipe.
    pub fn recipe_url(&self, recipe: &RecipePath) -> String {
        format!("{}{recipe}", self.inner.settings.api_root)
    }

    /// How much faster than Launchpad the service answering runs: 1 for Launchpad, a
    /// simulator's speed for a simulator ([`SIMULATOR_SPEED_HEADER`]). Asks the service root
    /// only if nothing has answered yet.
    pub async fn speed(&self) -> Result<f64, LaunchpadError> {
        if let Some(speed) = self.declared_speed() {
            return Ok(speed);
        }
        let root = self.inner.settings.api_root.clone();
        self.get_entry::<serde_json::Value>(&root).await?;
        Ok(self.declared_speed().unwrap_or(1.0))
    }

    /// The pace the last answer declared (1 for Launchpad's), or `None` before any answer.
    fn declared_speed(&self) -> Option<f64> {
        let bits = self
            .inner
            .declared_speed
            .load(std::sync::atomic::Ordering::Relaxed);
        (bits != 0).then(|| f64::from_bits(bits))
    }

    /// The API URL of the person the credentials act for (`people/+me`), asked once.
    pub async fn me(&self) -> Result<String, LaunchpadError> {
        #[derive(serde::Deserialize)]
        struct Person {
            self_link: String,
        }
        let url = format!("{}people/+me", self.inner.settings.api_root);
        self.inner
            .me
            .get_or_try_init(|| async {
                self.get_entry::<Person>(&url)
                    .await
                    .map(|person| person.self_link)
            })
            .await
            .cloned()
    }

    /// A recipe.
    pub async fn recipe(&self, url: &str) -> Result<Recipe, LaunchpadError> {
        self.get_entry(url).await
    }

    /// Asks for builds of every architecture the recipe has; returns the build request's URL.
    pub async fn request_builds(&self, recipe_url: &str) -> Result<String, LaunchpadError> {
        let answer = self
            .execute(Call {
                method: Method::POST,
                url: recipe_url,
                form: Some(vec![("ws.op", "requestBuilds".into())]),
                etag: None,
                repeat: Repeat::OnlyIfUnsent,
                body: None,
                lane: Lane::Fast,
            })
            .await?;
        location(&answer, recipe_url)
    }

    /// The names of a recipe's processors: the architectures `requestBuilds` may build.
    pub async fn processors(&self, recipe_url: &str) -> Result<Vec<String>, LaunchpadError> {
        #[derive(serde::Deserialize)]
        struct Processor {
            name: String,
        }
        let processors: Vec<Processor> = self.list(&format!("{recipe_url}/processors")).await?;
        Ok(processors.into_iter().map(|p| p.name).collect())
    }

    /// A build request.
    pub async fn build_request(&self, url: &str) -> Result<BuildRequest, LaunchpadError> {
        self.get_entry_in(url, Lane::Fast).await
    }

    /// Every build of a build request's collection, all pages.
    pub async fn builds(&self, collection_url: &str) -> Result<Vec<Build>, LaunchpadError> {
        self.list_in(collection_url, Lane::Fast).await
    }

    /// A build; with `etag`, "not modified" if it has not changed since.
    pub async fn build(
        &self,
        url: &str,
        etag: Option<&str>,
    ) -> Result<Conditional<Build>, LaunchpadError> {
        let answer = self
            .execute(Call {
                method: Method::GET,
                url,
                form: None,
                etag,
                repeat: Repeat::Safe,
                body: None,
                lane: Lane::Ordinary,
            })
            .await?;
        if answer.status == StatusCode::NOT_MODIFIED {
            return Ok(Conditional::NotModified);
        }
        decode(&answer, url).map(Conditional::Modified)
    }

    /// Cancels a build (Launchpad does nothing, and says 200, if it cannot be cancelled).
    pub async fn cancel(&self, build_url: &str) -> Result<(), LaunchpadError> {
        self.operation(build_url, "cancel", Repeat::Safe, Lane::Fast)
            .await
    }

    /// Retries a failed build.
    pub async fn retry(&self, build_url: &str) -> Result<(), LaunchpadError> {
        let repeat = Repeat::RefusedAs(&[Refusal::CannotBeRetried]);
        self.operation(build_url, "retry", repeat, Lane::Ordinary)
            .await
    }

    /// Schedules a build's registry upload again. After an attempt without a clear answer,
    /// "already in progress" and "already been uploaded" both mean the first one worked
    /// (`reference/launchpad-truths.md`, "Registry uploads").
    pub async fn schedule_registry_upload(&self, build_url: &str) -> Result<(), LaunchpadError> {
        let repeat = Repeat::RefusedAs(&[Refusal::UploadInProgress, Refusal::AlreadyUploaded]);
        self.operation(build_url, "scheduleRegistryUpload", repeat, Lane::Ordinary)
            .await
    }

    /// Whether Launchpad can build `arch` now: its `distro_arch_series` in the series OCI
    /// builds are made on is enabled and has a chroot (`launchpad-truths.md`, "Which
    /// architectures a request builds"). That series is Ubuntu's current one: the recipes'
    /// OCI projects belong to a project, whose builds go to Launchpad's default build
    /// distribution, Ubuntu (`launchpad-api.md` §1.5). An architecture the series does not
    /// have at all (404) cannot be built either.
    pub async fn arch_buildable(&self, arch: &str) -> Result<bool, LaunchpadError> {
        #[derive(serde::Deserialize)]
        struct Distribution {
            current_series_link: String,
        }
        let url = format!("{}ubuntu", self.inner.settings.api_root);
        let series = self
            .inner
            .current_series
            .get_or_try_init(|| async {
                self.get_entry::<Distribution>(&url)
                    .await
                    .map(|ubuntu| ubuntu.current_series_link)
            })
            .await?;
        match self
            .get_entry::<DistroArchSeries>(&format!("{series}/{arch}"))
            .await
        {
            Ok(arch_series) => Ok(arch_series.is_buildable()),
            Err(LaunchpadError::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("strings and lists of strings encode")
}
