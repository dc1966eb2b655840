//! The dashboard: a read-only website of the fleet, served by the process that owns the store
//! (`run`, the sandbox, `build --wait`). Four pages, each read from the store through the types
//! the chat uses: the fleet (`fleet.rs`: the newest build of every image, series and
//! architecture), the jobs (`jobs.rs`: running ones with their boards, finished ones, one job's
//! board, summary, logs and hooks), the failed uploads of the last 30 days (`uploads.rs`), and
//! the trends of the last 90 days drawn as SVG (`trends.rs`).
//!
//! A page is HTML from a template (`templates/`, askama: every value is escaped unless a
//! template says otherwise, which only the SVG drawn here does). It is live without a reload: a
//! script of our own (`live.js`, the only one) listens on `/events`, which sends the page's main
//! part again whenever the store was written and the part changed; with scripts off, the page
//! reloads itself every 10 seconds. No page or asset comes from another host, and no request
//! changes anything. `guard.rs` puts the security headers on every answer and, when the
//! dashboard has a token, refuses a request without it.

mod fleet;
mod guard;
mod gzip;
mod jobs;
mod live;
mod trends;
mod uploads;

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::catalogue::Catalogue;
use crate::secret::Secret;
use crate::store::Store;

pub use fleet::{Fleet, FleetFilters};
pub use guard::TOKEN_ENV;

/// What the dashboard reads and how it is reached.
#[derive(Clone)]
pub struct Dashboard {
    store: Store,
    catalogue: Arc<Catalogue>,
    /// What each recipe builds: how a build known by its URL alone is named.
    recipes: Arc<crate::history::Recipes>,
    /// Requests must carry it, when set ([`guard`]).
    token: Option<Secret>,
}

impl Dashboard {
    /// A dashboard of `store`'s jobs and history, over `catalogue`'s images; `token`, when
    /// set, is asked of every request.
    pub fn new(store: Store, catalogue: Catalogue, token: Option<Secret>) -> Dashboard {
        Dashboard {
            store,
            recipes: Arc::new(crate::history::recipes(&catalogue)),
            catalogue: Arc::new(catalogue),
            token,
        }
    }
}

/// A link from Launchpad (or whatever answers in its place) as a page may show it: an
/// `http(s)` URL, or nothing (`#`): a `javascript:` link would run where it is clicked (the
/// Content-Security-Policy refuses it too).
fn web_link(url: &str) -> String {
    let lower = url.trim_start().to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        url.trim_start().to_string()
    } else {
        "#".to_string()
    }
}

/// The token the dashboard on `listen` asks for: `DASHBOARD_TOKEN` when set (and not empty).
/// Without one, only a loopback address, or one behind a reverse proxy that checks who asks
/// (`behind_proxy`), is served; anything else is refused, saying what to do.
pub fn token_for(
    listen: std::net::SocketAddr,
    behind_proxy: bool,
) -> Result<Option<Secret>, String> {
    token_of(std::env::var(TOKEN_ENV).ok(), listen, behind_proxy)
}

/// [`token_for`], with the environment's value given.
fn token_of(
    value: Option<String>,
    listen: std::net::SocketAddr,
    behind_proxy: bool,
) -> Result<Option<Secret>, String> {
    let token = value
        .map(|token| token.trim().to_string())
        .filter(|token| !token.is_empty())
        .map(Secret::new);
    if token.is_none() && !listen.ip().is_loopback() && !behind_proxy {
        let why = crate::messages::dashboard::exposed_without_token(&listen.to_string(), TOKEN_ENV);
        return Err(why);
    }
    Ok(token)
}

/// Why the dashboard is not served.
#[derive(Debug, thiserror::Error)]
pub enum NotServed {
    /// On a non-loopback address with neither a token nor a proxy: what to do.
    #[error("{0}")]
    Exposed(String),
    /// Its address cannot be listened on.
    #[error("cannot listen on {address}: {cause}")]
    Listen {
        address: std::net::SocketAddr,
        cause: std::io::Error,
    },
}

/// Serves the dashboard of `store`, over `catalogue`'s images, on `web.listen` (its token from
/// [`token_for`]) in a task of its own; its URL. Whoever starts it decides what a refusal
/// means to them.
pub async fn start(
    web: &crate::config::WebConfig,
    store: Store,
    catalogue: Catalogue,
) -> Result<String, NotServed> {
    let token = token_for(web.listen, web.behind_proxy).map_err(NotServed::Exposed)?;
    let listen = |cause| NotServed::Listen {
        address: web.listen,
        cause,
    };
    let listener = tokio::net::TcpListener::bind(web.listen)
        .await
        .map_err(listen)?;
    let address = listener.local_addr().map_err(listen)?;
    tokio::spawn(serve(listener, Dashboard::new(store, catalogue, token)));
    Ok(format!("http://{address}/"))
}

/// The dashboard's routes, behind the guard.
pub fn router(dashboard: Dashboard) -> Router {
    let token = dashboard.token.clone();
    Router::new()
        .route("/", get(fleet_page))
        .route("/jobs", get(jobs_page))
        .route("/jobs/{id}", get(job_page))
        .route("/uploads", get(uploads_page))
        .route("/trends", get(trends_page))
        .route("/events", get(live::events))
        .route("/static/live.js", get(script))
        .route("/static/style.css", get(style))
        .route("/login", get(guard::login))
        .fallback(not_found)
        .with_state(dashboard)
        .layer(axum::middleware::from_fn(gzip::squeeze))
        .layer(axum::middleware::from_fn_with_state(token, guard::guard))
}

/// How long a connection to the dashboard may stay open: a live page's events come on one
/// (the browser opens it again when it closes).
const CONNECTION_TIME: Duration = Duration::from_secs(600);

/// Serves [`router`] on `listener` until the task is aborted.
pub async fn serve(listener: tokio::net::TcpListener, dashboard: Dashboard) {
    // Behind a reverse proxy every browser comes from the proxy's address, each live page
    // holding a connection: one address may take every place.
    let limits = crate::serve::Limits {
        connection_timeout: CONNECTION_TIME,
        max_per_address: crate::serve::Limits::default().max_connections,
        ..crate::serve::Limits::default()
    };
    crate::serve::serve(listener, router(dashboard), limits).await
}

/// Which page: what its address says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Page {
    Fleet(FleetFilters),
    Jobs,
    Job(u64),
    Uploads,
    Trends,
}

impl Page {
    /// The page at a path and query (`/jobs/3`, `/?series=20.04`); `None` for no page.
    fn at(path_and_query: &str) -> Option<Page> {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Some(match path {
            "/" => Page::Fleet(serde_urlencoded::from_str(query).ok()?),
            "/jobs" => Page::Jobs,
            "/uploads" => Page::Uploads,
            "/trends" => Page::Trends,
            _ => Page::Job(path.strip_prefix("/jobs/")?.parse().ok()?),
        })
    }

    /// The page's main part, read from the store now; `None` for a job that is not there.
    fn main(&self, dashboard: &Dashboard) -> Result<Option<String>, String> {
        let store = &dashboard.store;
        let now = chrono::Utc::now();
        let rendered = match self {
            Page::Fleet(filters) => {
                Fleet::read(store, &dashboard.catalogue, filters, now).map(|f| f.render())
            }
            Page::Jobs => jobs::Jobs::read(store, now).map(|page| page.render()),
            Page::Job(id) => match jobs::JobPage::read(store, *id, now) {
                Ok(None) => return Ok(None),
                Ok(Some(page)) => Ok(page.render()),
                Err(error) => Err(error),
            },
            Page::Uploads => {
                uploads::Uploads::read(store, &dashboard.recipes, now).map(|page| page.render())
            }
            Page::Trends => trends::Trends::read(store, now).map(|page| page.render()),
        };
        match rendered {
            Ok(Ok(html)) => Ok(Some(html)),
            Ok(Err(error)) => Err(error.to_string()),
            Err(error) => Err(error.to_string()),
        }
    }

    /// The page's title and which tab it is under.
    fn title(&self) -> (String, &'static str) {
        match self {
            Page::Fleet(_) => ("Fleet".to_string(), "fleet"),
            Page::Jobs => ("Jobs".to_string(), "jobs"),
            Page::Job(id) => (format!("Job #{id}"), "jobs"),
            Page::Uploads => ("Failed uploads".to_string(), "uploads"),
            Page::Trends => ("Trends".to_string(), "trends"),
        }
    }
}

/// A whole page around its main part.
#[derive(Template)]
#[template(path = "page.html")]
struct Whole<'a> {
    title: &'a str,
    tab: &'a str,
    /// Where the page's events are.
    events: &'a str,
    /// The main part, HTML made by a template.
    main: &'a str,
}

/// A page's main part, read on a blocking thread (the store's reads wait for the disk);
/// `None` for a job that is not there.
async fn draw(dashboard: &Dashboard, page: &Page) -> Result<Option<String>, String> {
    let (reader, page) = (dashboard.clone(), page.clone());
    let drawn = dashboard
        .store
        .blocking(move |_| Ok(page.main(&reader)))
        .await
        .map_err(|error| error.to_string())
        .and_then(|main| main);
    if let Err(error) = &drawn {
        tracing::error!(%error, "reading a dashboard page failed");
    }
    drawn
}

/// A whole page.
async fn page(dashboard: Dashboard, page: Page, address: String) -> Response {
    let main = match draw(&dashboard, &page).await {
        Ok(Some(main)) => main,
        Ok(None) => return not_found().await,
        Err(_) => {
            let text = "The store could not be read; the log says why.";
            return (StatusCode::INTERNAL_SERVER_ERROR, text).into_response();
        }
    };
    let (title, tab) = page.title();
    let events = format!(
        "/events?{}",
        serde_urlencoded::to_string([("page", address.as_str())]).unwrap_or_default()
    );
    let whole = Whole {
        title: &title,
        tab,
        events: &events,
        main: &main,
    };
    match whole.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "drawing a dashboard page failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

async fn fleet_page(
    State(dashboard): State<Dashboard>,
    uri: axum::http::Uri,
    filters: Result<Query<FleetFilters>, QueryRejection>,
) -> Response {
    let Ok(Query(filters)) = filters else {
        return (
            StatusCode::BAD_REQUEST,
            "Unknown filter: use series, arch and state.",
        )
            .into_response();
    };
    page(dashboard, Page::Fleet(filters), address(&uri)).await
}

async fn jobs_page(State(dashboard): State<Dashboard>, uri: axum::http::Uri) -> Response {
    page(dashboard, Page::Jobs, address(&uri)).await
}

async fn job_page(
    State(dashboard): State<Dashboard>,
    uri: axum::http::Uri,
    Path(id): Path<String>,
) -> Response {
    match id.trim_start_matches('#').parse() {
        Ok(id) => page(dashboard, Page::Job(id), address(&uri)).await,
        Err(_) => not_found().await,
    }
}

async fn uploads_page(State(dashboard): State<Dashboard>, uri: axum::http::Uri) -> Response {
    page(dashboard, Page::Uploads, address(&uri)).await
}

async fn trends_page(State(dashboard): State<Dashboard>, uri: axum::http::Uri) -> Response {
    page(dashboard, Page::Trends, address(&uri)).await
}

fn address(uri: &axum::http::Uri) -> String {
    uri.path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string())
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        "No such page: the dashboard has /, /jobs, /uploads and /trends.",
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("live.js"),
    )
        .into_response()
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("style.css"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_web_links_are_links() {
        assert_eq!(
            web_link("https://launchpad.net/x"),
            "https://launchpad.net/x"
        );
        assert_eq!(web_link(" HTTP://lp/x"), "HTTP://lp/x");
        assert_eq!(web_link("javascript:alert(1)"), "#");
        assert_eq!(web_link("data:text/html,x"), "#");
        assert_eq!(web_link(""), "#");
    }

    #[test]
    fn beyond_loopback_the_dashboard_needs_a_token_or_a_proxy() {
        let loopback = "127.0.0.1:9092".parse().unwrap();
        let everywhere = "0.0.0.0:9092".parse().unwrap();
        assert_eq!(token_of(None, loopback, false), Ok(None));
        assert_eq!(token_of(Some("  ".into()), loopback, false), Ok(None));
        let refused = token_of(None, everywhere, false).unwrap_err();
        assert!(
            refused.starts_with(
                "web.listen 0.0.0.0:9092 is not a loopback address: set DASHBOARD_TOKEN"
            ),
            "{refused}"
        );
        assert_eq!(
            token_of(Some(String::new()), everywhere, false),
            Err(refused)
        );
        assert_eq!(token_of(None, everywhere, true), Ok(None));
        let token = token_of(Some(" t0ken ".into()), everywhere, false)
            .unwrap()
            .unwrap();
        assert!(token.matches_in_constant_time("t0ken"));
    }

    #[test]
    fn a_page_is_known_by_its_address() {
        assert_eq!(Page::at("/jobs"), Some(Page::Jobs));
        assert_eq!(Page::at("/jobs/12"), Some(Page::Job(12)));
        assert_eq!(Page::at("/jobs/x"), None);
        assert_eq!(Page::at("/elsewhere"), None);
        let Some(Page::Fleet(filters)) = Page::at("/?series=20.04&state=failed") else {
            panic!("the fleet");
        };
        assert_eq!(filters.series.as_deref(), Some("20.04"));
        let catalogue = crate::config::Config::built_in().unwrap().catalogue;
        let problem = filters.problem(&catalogue).unwrap();
        assert!(
            problem.starts_with("No state \"failed\": use one of needs-a-hand,"),
            "{problem}"
        );
        let fine = FleetFilters {
            series: Some("22.04".into()),
            arch: Some(String::new()),
            state: Some("needs-a-hand".into()),
        };
        assert_eq!(fine.problem(&catalogue), None);
        let Some(Page::Fleet(filters)) = Page::at("/?arch=mips") else {
            panic!("the fleet");
        };
        assert_eq!(
            filters.problem(&catalogue).as_deref(),
            Some("No architecture \"mips\" in the catalogue.")
        );
    }
}
