//! A live page's events: `/events?page=ADDRESS` sends the page's main part (server-sent event
//! `page`) again whenever the store was written and the part changed, and at least every
//! [`REDRAW`]; `live.js` puts it in place. One gzip stream when the browser takes it.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{draw, gzip, Dashboard, Page};

/// `/events?page=ADDRESS`.
#[derive(Deserialize)]
pub(super) struct EventsQuery {
    page: String,
}

/// How long a burst of writes is let settle before the page is drawn again.
const SETTLE: Duration = Duration::from_millis(300);
/// A page is drawn again at least this often, writes or not: its ages move on.
const REDRAW: Duration = Duration::from_secs(30);

/// Server-sent events: the page's main part (event `page`) each time it changed, checked
/// after every write of the store and at least every [`REDRAW`] (a comment when nothing
/// changed, which keeps proxies from closing the connection). Gzipped when taken.
pub(super) async fn events(
    State(dashboard): State<Dashboard>,
    headers: axum::http::HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Response {
    let Some(page) = query.ok().and_then(|Query(q)| Page::at(&q.page)) else {
        return (StatusCode::BAD_REQUEST, "Which page? /events?page=/jobs").into_response();
    };
    let gzip = gzip::accepted(&headers);
    let writes = dashboard.store.writes();
    let state = (
        dashboard,
        page,
        writes,
        None::<String>,
        gzip::Stream::new(gzip),
    );
    let stream = futures_util::stream::unfold(
        state,
        |(dashboard, page, mut writes, mut last, mut out)| async move {
            loop {
                let mut quiet = false;
                if last.is_some() {
                    tokio::select! {
                        changed = writes.changed() => {
                            changed.ok()?;
                            tokio::time::sleep(SETTLE).await;
                            writes.borrow_and_update();
                        }
                        () = tokio::time::sleep(REDRAW) => quiet = true,
                    }
                }
                let chunk = match draw(&dashboard, &page).await {
                    Ok(Some(main)) if last.as_ref() != Some(&main) => {
                        let chunk = out.chunk(event("page", &main).as_bytes());
                        last = Some(main);
                        chunk
                    }
                    // Nothing new, or a read failed (logged): wait for the next write.
                    _ if quiet => out.chunk(b":\n\n"),
                    _ => {
                        last = last.or(Some(String::new()));
                        continue;
                    }
                };
                let next = (dashboard, page, writes, last, out);
                return Some((Ok::<_, Infallible>(chunk), next));
            }
        },
    );
    let mut response = Response::new(axum::body::Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    if gzip {
        gzip::mark(headers);
    }
    response
}

/// One server-sent event: its name, and `data` a line at a time.
fn event(name: &str, data: &str) -> String {
    let mut text = format!("event: {name}\n");
    for line in data.lines() {
        text.push_str("data: ");
        text.push_str(line.trim_end_matches('\r'));
        text.push('\n');
    }
    text.push('\n');
    text
}
