//! What stands before every page: the security headers on every answer (a Content-Security-
//! Policy that lets in nothing but the dashboard's own script, style and pictures, no framing,
//! no sniffing, no referrer, no caching), and, when the dashboard has a token, the token.
//!
//! The token (`DASHBOARD_TOKEN`) comes as `Authorization: Bearer TOKEN`, or as the cookie that
//! `/login?token=TOKEN` sets (HttpOnly, SameSite=Strict) before it sends the browser to the
//! fleet. It is compared in constant time. A request without it, or with another, is answered
//! 401 and reads nothing.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::Dashboard;
use crate::secret::Secret;

/// The environment variable holding the dashboard's token.
pub const TOKEN_ENV: &str = "DASHBOARD_TOKEN";

/// The cookie `/login` sets.
const COOKIE: &str = "image_builder_dashboard";

/// Everything from here, nothing from elsewhere; no inline script or style.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Checks the token (when there is one) and puts the security headers on the answer.
pub(super) async fn guard(
    State(token): State<Option<Secret>>,
    request: Request,
    next: Next,
) -> Response {
    let open = request.uri().path() == "/login";
    let mut response = match &token {
        Some(token) if !open && !carries(request.headers(), token) => refused(),
        _ => next.run(request).await,
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Whether the request carries `token`, as a bearer header or the cookie.
fn carries(headers: &HeaderMap, token: &Secret) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='));
    bearer
        .into_iter()
        .chain(cookies)
        .any(|given| token.matches_in_constant_time(given.trim()))
}

fn refused() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "This dashboard asks for its token: open the login link you were given, or send \
         `Authorization: Bearer TOKEN`.",
    )
        .into_response()
}

/// `/login?token=TOKEN`.
#[derive(Deserialize)]
pub(super) struct Login {
    token: String,
}

/// Sets the cookie and sends the browser to the fleet, if the token is right.
pub(super) async fn login(
    State(dashboard): State<Dashboard>,
    login: Result<Query<Login>, QueryRejection>,
) -> Response {
    let Some(token) = &dashboard.token else {
        return Redirect::to("/").into_response();
    };
    match login {
        Ok(Query(login)) if token.matches_in_constant_time(&login.token) => {
            let cookie = format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000",
                login.token
            );
            let mut response = Redirect::to("/").into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        _ => refused(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower_service::Service;

    async fn status(app: &mut axum::Router, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = axum::http::Request::get(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        app.call(request.body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_token_is_asked_of_every_page_and_the_headers_are_on_every_answer() {
        let store = crate::store::Store::temporary().unwrap();
        let catalogue = crate::config::Config::built_in().unwrap().catalogue;
        let token = Some(Secret::new("s3cret-token".to_string()));
        let mut app = super::super::router(Dashboard::new(store, catalogue, token));
        for path in [
            "/",
            "/jobs",
            "/uploads",
            "/trends",
            "/jobs/1",
            "/static/live.js",
        ] {
            let none = status(&mut app, path, &[]).await;
            assert_eq!(none.status(), 401, "{path}");
            assert!(none.headers()[header::CONTENT_SECURITY_POLICY]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'"));
            let wrong = status(&mut app, path, &[("authorization", "Bearer s3cret-tokem")]).await;
            assert_eq!(wrong.status(), 401, "{path}");
            let longer = [("cookie", "image_builder_dashboard=s3cret-token2")];
            assert_eq!(status(&mut app, path, &longer).await.status(), 401);
        }
        let right = status(&mut app, "/", &[("authorization", "Bearer s3cret-token")]).await;
        assert_eq!(right.status(), 200);
        assert_eq!(right.headers()[header::X_FRAME_OPTIONS], "DENY");
        let cookie = [("cookie", "theme=dark; image_builder_dashboard=s3cret-token")];
        assert_eq!(status(&mut app, "/jobs", &cookie).await.status(), 200);
        // The login link sets the cookie only for the right token.
        let login = status(&mut app, "/login?token=s3cret-token", &[]).await;
        assert_eq!(login.status(), 303);
        let set = login.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(
            set.starts_with("image_builder_dashboard=s3cret-token;"),
            "{set}"
        );
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        let bad = status(&mut app, "/login?token=nope", &[]).await;
        assert_eq!(bad.status(), 401);
        assert!(bad.headers().get(header::SET_COOKIE).is_none());
    }
}
