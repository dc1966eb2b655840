//! Mattermost's calls to the bot's listener (`webhook.listen`, beside Launchpad's deliveries):
//! the custom slash command `/image-builder …` at [`COMMAND_PATH`] and button clicks at
//! [`ACTION_PATH`] (`reference/mattermost.md` §4, §5).
//!
//! - A slash command is checked by its token (`MATTERMOST_COMMAND_TOKEN`, the one Mattermost
//!   shows when the command is made), compared in constant time; a wrong or missing one is
//!   refused with 401 and changes nothing. Errors, denials and help are answered to the one who
//!   typed it alone (ephemeral); any other answer is posted by the bot in the channel (or the
//!   thread), so the acknowledgement and board are the bot's, not the typer's (§5.3).
//! - A click is checked by its context's signature ([`super::Mattermost::with_buttons`]); a
//!   forged one is refused with 403 and changes nothing. It is then the command the button
//!   stands for, typed by the clicker (the user id Mattermost sends), checked as typed text is.
//!   A private answer (a refusal, Show log's excerpt) is said to the clicker alone and the
//!   button stays; otherwise the clicked post is updated to say what the click did, its
//!   buttons gone.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{defuse, Mattermost};
use crate::chat::{Button, Chat, Inbox, Kind, Outgoing};
use crate::secret::{hmac_sha1_hex, hmac_sha1_matches, Secret};
use crate::serve::{read_body, Limits};

/// Where slash commands are posted.
pub const COMMAND_PATH: &str = "/mattermost/command";
/// Where button clicks are posted.
pub const ACTION_PATH: &str = "/mattermost/action";
/// The environment variable with the slash command's token.
pub const COMMAND_TOKEN_ENV: &str = "MATTERMOST_COMMAND_TOKEN";
/// The largest callback accepted (Mattermost's are a few hundred bytes).
const MAX_BODY: usize = 64 * 1024;

struct Callbacks {
    chat: Mattermost,
    inbox: Arc<dyn Inbox>,
    command_token: Option<Secret>,
    limits: Limits,
}

/// The listener's Mattermost routes: clicks, and the slash command when `command_token` is set.
pub fn router(
    chat: Mattermost,
    inbox: Arc<dyn Inbox>,
    command_token: Option<Secret>,
    limits: Limits,
) -> Router {
    let with_command = command_token.is_some();
    let router = Router::new().route(ACTION_PATH, post(action));
    let router = if with_command {
        router.route(COMMAND_PATH, post(command))
    } else {
        router
    };
    router.with_state(Arc::new(Callbacks {
        chat,
        inbox,
        command_token,
        limits,
    }))
}

fn refuse(status: StatusCode, reason: &'static str, why: &'static str) -> Response {
    crate::metrics::rejected(reason, why);
    (status, why).into_response()
}

/// Whether `given` is `expected`, compared in constant time (their HMACs under one key are).
fn same_secret(given: &str, expected: &Secret) -> bool {
    let expected = hmac_sha1_hex(b"compare", expected.expose().as_bytes());
    hmac_sha1_matches(b"compare", given.as_bytes(), &expected)
}

/// Whether a slash command carries the command's token: every token given (the header's, the
/// form's unless empty) must be it, and at least one is given.
fn tokens_match(header: Option<&str>, form: &str, expected: &Secret) -> bool {
    let form = Some(form).filter(|token| !token.is_empty());
    let given: Vec<&str> = header.into_iter().chain(form).collect();
    !given.is_empty() && given.iter().all(|token| same_secret(token, expected))
}

/// The fields of a slash command's form (§5.2) the bot reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CommandForm {
    token: String,
    user_id: String,
    channel_id: String,
    team_id: String,
    root_id: String,
    text: String,
}

/// A slash command's reply (§5.3): said to the typer alone.
fn ephemeral(text: &str) -> Response {
    Json(json!({
        "response_type": "ephemeral",
        "text": defuse(text),
        "skip_slack_parsing": true,
    }))
    .into_response()
}

async fn command(State(callbacks): State<Arc<Callbacks>>, request: Request<Body>) -> Response {
    let (headers, body) = match callbacks.read(request, "bad slash command body").await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let Ok(form) = serde_urlencoded::from_bytes::<CommandForm>(&body) else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "command_form",
            "not a slash command",
        );
    };
    let Some(expected) = &callbacks.command_token else {
        return refuse(
            StatusCode::NOT_FOUND,
            "command_off",
            "no slash command here",
        );
    };
    if !tokens_match(header_token(&headers).as_deref(), &form.token, expected) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "command_token",
            "wrong slash command token",
        );
    }
    let replies = if form.root_id.is_empty() {
        form.channel_id.clone()
    } else {
        format!("{}/{}", form.channel_id, form.root_id)
    };
    let text = form.text.trim().to_string();
    let help = text.is_empty() || text.split_whitespace().next() == Some("help");
    let team = Some(form.team_id.as_str()).filter(|team| !team.is_empty());
    let Some(incoming) = callbacks
        .chat
        .incoming(&form.user_id, &form.channel_id, team, replies, text)
        .await
    else {
        return ephemeral("Mattermost did not say who you are; try again.");
    };
    let answer = callbacks.inbox.answer(&incoming).await;
    if answer.private || help {
        let reply = ephemeral(&answer.text);
        callbacks.inbox.launch(answer);
        return reply;
    }
    let message =
        Outgoing::new(Kind::Reply, answer.text.clone()).with_buttons(answer.buttons.clone());
    let sent = callbacks.chat.send(&incoming.channel, message).await;
    let text = answer.text.clone();
    callbacks.inbox.launch(answer);
    match sent {
        Ok(_) => Json(json!({ "response_type": "ephemeral", "text": "" })).into_response(),
        Err(error) => {
            // Said to the typer at least.
            tracing::warn!(%error, "answering a slash command failed");
            ephemeral(&text)
        }
    }
}

impl Callbacks {
    /// A callback's headers and body, read within the listener's limits; a body too large,
    /// too slow or broken is refused (`why` says what it was for).
    async fn read(
        &self,
        request: Request<Body>,
        why: &'static str,
    ) -> Result<(HeaderMap, axum::body::Bytes), Response> {
        let (parts, body) = request.into_parts();
        match read_body(&parts.headers, body, MAX_BODY, self.limits.body_timeout).await {
            Ok(body) => Ok((parts.headers, body)),
            Err(error) => Err(refuse(error.status(), error.kind(), why)),
        }
    }
}

/// `Authorization: Token …`, as Mattermost sends it with a slash command.
fn header_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("token")
        .then(|| token.trim().to_string())
}

/// A click's body (§4.2), the fields the bot reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Click {
    user_id: String,
    channel_id: String,
    team_id: String,
    post_id: String,
    context: Value,
}

async fn action(State(callbacks): State<Arc<Callbacks>>, request: Request<Body>) -> Response {
    let (_, body) = match callbacks.read(request, "bad click body").await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    let Ok(click) = serde_json::from_slice::<Click>(&body) else {
        return refuse(StatusCode::BAD_REQUEST, "click_json", "not a click");
    };
    let action = click.context["action"].as_str().unwrap_or_default();
    let sig = click.context["sig"].as_str().unwrap_or_default();
    if !callbacks.chat.signed(action, sig) {
        return refuse(
            StatusCode::FORBIDDEN,
            "click_signature",
            "not this bot's button",
        );
    }
    let Some(button) = Button::parse(action) else {
        return Json(json!({ "ephemeral_text": crate::messages::unknown_button() }))
            .into_response();
    };
    // The clicked post says where the job's answers go: its thread, if it is in one.
    let post = match callbacks.chat.post(&click.post_id).await {
        Ok(post) => Some(post),
        Err(error) => {
            tracing::warn!(%error, "reading the clicked post failed; answering the clicker only");
            None
        }
    };
    let root = post
        .as_ref()
        .and_then(|post| post["root_id"].as_str())
        .filter(|root| !root.is_empty());
    let replies = match root {
        Some(root) => format!("{}/{root}", click.channel_id),
        None => click.channel_id.clone(),
    };
    let team = Some(click.team_id.as_str()).filter(|team| !team.is_empty());
    let Some(incoming) = callbacks
        .chat
        .incoming(
            &click.user_id,
            &click.channel_id,
            team,
            replies,
            String::new(),
        )
        .await
    else {
        return Json(json!({ "ephemeral_text": "Mattermost did not say who you are; try again." }))
            .into_response();
    };
    let answer = callbacks.inbox.click(&incoming, &button).await;
    if answer.private {
        // A refusal, or an answer for the clicker alone (Show log): said to them only; the
        // post and its button stay.
        return Json(json!({ "ephemeral_text": defuse(&answer.text), "skip_slack_parsing": true }))
            .into_response();
    }
    // Used: the post says what the click did, and its buttons are gone.
    let clicker = incoming.user.name.clone().unwrap_or_default();
    let outcome = format!(
        "{}: {}",
        defuse(&format!("@{clicker}")),
        defuse(&answer.text)
    );
    let update = match &post {
        Some(post) => {
            let message = post["message"].as_str().unwrap_or_default();
            json!({
                "message": crate::chat::split(&format!("{message}\n\n{outcome}"), super::MESSAGE_LIMIT)
                    .remove(0),
                "props": { "from_bot": "true" },
            })
        }
        None => Value::Null,
    };
    let reply = if update.is_null() {
        json!({ "ephemeral_text": outcome, "skip_slack_parsing": true })
    } else {
        json!({ "update": update, "skip_slack_parsing": true })
    };
    callbacks.inbox.launch(answer);
    Json(reply).into_response()
}
