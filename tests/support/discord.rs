//! A fake Discord for the real serenity client: REST under `/api/v10/...` (axum) and the gateway
//! websocket (tokio-tungstenite, the version serenity itself uses), both on `127.0.0.1:0`. It
//! records every REST call, validates every event it dispatches against serenity's own types
//! (a payload serenity cannot read would otherwise be dropped silently), enforces Discord's
//! 2000-character limit, and answers 404 (recorded as unexpected) to any route it does not know.
//! As Discord does, an edit changes only the fields it carries (an edit without `components`
//! keeps the buttons), and an edit of a message that does not exist is a 404 with code 10008
//! (recorded as unexpected, failing the test, unless the test deleted the message).
//! Facts: `reference/discord-fake.md`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message as Frame;

/// The bot's own user id (READY's user, the author of every message it sends).
pub const BOT_USER: &str = "1000";
/// The guild.
pub const GUILD: &str = "2000";
/// The team channel.
pub const CHANNEL: &str = "4000";

/// One REST call the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    /// GET, POST, PATCH, ...
    pub method: String,
    /// The path, `/api/v10/channels/4000/messages`.
    pub path: String,
    /// The JSON body, or null.
    pub body: Value,
    /// Whether the fake knew the route.
    pub expected: bool,
}

#[derive(Default)]
struct Shared {
    /// Statuses to answer the next calls of a method with, instead of serving them; with a
    /// needle, only calls whose content contains it.
    failures: Mutex<Vec<(String, Option<String>, u16)>>,
    /// Messages deleted (by a moderator, as a test says).
    deleted: Mutex<std::collections::HashSet<String>>,
    /// Pulled to drop the current gateway connection without a close frame.
    drop_gateway: tokio::sync::Notify,
    /// Resume (op 6) frames received.
    resumes: AtomicU64,
    calls: Mutex<Vec<Call>>,
    /// Messages the bot sent, as Discord would return them, by id.
    messages: Mutex<std::collections::HashMap<String, Value>>,
    /// The message each click's interaction token belongs to (a type 7 answer updates it).
    clicked: Mutex<std::collections::HashMap<String, String>>,
    dispatch: Mutex<Option<mpsc::UnboundedSender<Value>>>,
    identify: Mutex<Option<Value>>,
    next_id: AtomicU64,
    close_with: Option<u16>,
    gateway: Mutex<String>,
}

/// The fake. Dropping it at the end of a test fails the test if the bot called a route the
/// fake does not know or broke a limit; the test's runtime ends its tasks.
#[derive(Clone)]
pub struct FakeDiscord {
    shared: Arc<Shared>,
    rest: std::net::SocketAddr,
}

impl FakeDiscord {
    /// A fake Discord that accepts the bot.
    pub async fn start() -> FakeDiscord {
        FakeDiscord::start_with(None).await
    }

    /// A fake that closes the gateway with `code` right after Identify (4004: bad token; 4014:
    /// disallowed intents).
    pub async fn closing_with(code: u16) -> FakeDiscord {
        FakeDiscord::start_with(Some(code)).await
    }

    async fn start_with(close_with: Option<u16>) -> FakeDiscord {
        let shared = Arc::new(Shared {
            next_id: AtomicU64::new(9000),
            close_with,
            ..Shared::default()
        });
        let gateway = TcpListener::bind("127.0.0.1:0").await.unwrap();
        *shared.gateway.lock().unwrap() = format!("ws://{}/gw", gateway.local_addr().unwrap());
        tokio::spawn(serve_gateway(gateway, shared.clone()));
        let rest = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = rest.local_addr().unwrap();
        let router = Router::new().fallback(rest_call).with_state(shared.clone());
        tokio::spawn(async move { axum::serve(rest, router).await.unwrap() });
        FakeDiscord {
            shared,
            rest: address,
        }
    }

    /// The base to give the bot as `discord.api_base`.
    pub fn api_base(&self) -> String {
        format!("http://{}", self.rest)
    }

    /// The Identify payload the bot sent, once it did.
    pub fn identify(&self) -> Option<Value> {
        self.shared.identify.lock().unwrap().clone()
    }

    /// The next `times` calls of `method` are answered `status` (429 with Discord's body and a
    /// `Retry-After`).
    pub fn fail_next(&self, method: &str, status: u16, times: usize) {
        let mut failures = self.shared.failures.lock().unwrap();
        for _ in 0..times {
            failures.push((method.to_string(), None, status));
        }
    }

    /// The next `times` calls of `method` whose content contains `needle` are answered
    /// `status`.
    pub fn fail_next_containing(&self, method: &str, needle: &str, status: u16, times: usize) {
        let mut failures = self.shared.failures.lock().unwrap();
        for _ in 0..times {
            failures.push((method.to_string(), Some(needle.to_string()), status));
        }
    }

    /// Deletes one of the bot's messages, as a moderator would.
    pub fn delete_message(&self, id: &str) {
        self.shared.messages.lock().unwrap().remove(id);
        self.shared.deleted.lock().unwrap().insert(id.to_string());
    }

    /// A message of the bot as it stands now (after its edits), if it exists.
    pub fn message(&self, id: &str) -> Option<Value> {
        self.shared.messages.lock().unwrap().get(id).cloned()
    }

    /// Drops the gateway connection as a network failure would.
    pub fn drop_gateway(&self) {
        *self.shared.dispatch.lock().unwrap() = None;
        self.shared.drop_gateway.notify_waiters();
    }

    /// How many times the bot resumed its session.
    pub fn resumes(&self) -> u64 {
        self.shared.resumes.load(Ordering::SeqCst)
    }

    /// Every REST call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until the bot has identified and been sent READY.
    pub async fn ready(&self) {
        let started = Instant::now();
        while self.shared.dispatch.lock().unwrap().is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the bot never identified"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Dispatches an event, after checking that serenity can read it.
    pub fn dispatch(&self, kind: &str, data: Value) {
        let frame = json!({"op": 0, "s": 2, "t": kind, "d": data});
        let parsed: serenity::model::event::GatewayEvent =
            serde_json::from_value(frame.clone()).expect("a gateway frame serenity reads");
        match parsed {
            serenity::model::event::GatewayEvent::Dispatch(_, event) => assert!(
                !matches!(event, serenity::model::event::Event::Unknown(_)),
                "serenity would drop this {kind} silently: {data}"
            ),
            other => panic!("not a dispatch: {other:?}"),
        }
        let sender = self
            .shared
            .dispatch
            .lock()
            .unwrap()
            .clone()
            .expect("the bot is connected");
        sender.send(json!({"t": kind, "d": data})).unwrap();
    }

    /// A user's message in the team channel, as MESSAGE_CREATE.
    pub fn say(&self, user_id: &str, name: &str, roles: &[&str], content: &str) {
        self.say_in(GUILD, user_id, name, roles, content);
    }

    /// A user's message in a channel of `guild`, as MESSAGE_CREATE.
    pub fn say_in(&self, guild: &str, user_id: &str, name: &str, roles: &[&str], content: &str) {
        let id = self.shared.next_id.fetch_add(1, Ordering::SeqCst);
        self.dispatch(
            "MESSAGE_CREATE",
            json!({
                "id": id.to_string(), "channel_id": CHANNEL, "guild_id": guild,
                "author": {"id": user_id, "username": name},
                "member": {"roles": roles},
                "content": content, "timestamp": "2026-01-05T09:00:00Z",
                "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
                "attachments": [], "embeds": [], "pinned": false, "type": 0,
            }),
        );
    }

    /// A slash command from a guild member; `options` as Discord sends them
    /// (`[{"name":"images","type":3,"value":"redis"}]`).
    pub fn slash(&self, user_id: &str, name: &str, command: &str, options: Value) {
        self.slash_in(GUILD, user_id, name, command, options);
    }

    /// [`FakeDiscord::slash`] from a member of `guild`.
    pub fn slash_in(&self, guild: &str, user_id: &str, name: &str, command: &str, options: Value) {
        let id = self.shared.next_id.fetch_add(1, Ordering::SeqCst);
        self.dispatch(
            "INTERACTION_CREATE",
            json!({
                "id": id.to_string(), "application_id": BOT_USER, "type": 2, "token": format!("token{id}"), "version": 1,
                "data": {"id": "7000", "name": command, "type": 1, "options": options},
                "guild_id": guild, "channel_id": CHANNEL, "member": member(user_id, name, &[]),
                "locale": "en-US", "entitlements": [], "attachment_size_limit": 8388608,
            }),
        );
    }

    /// A click on the button `custom_id` of the bot's message `message_id`, as it stands now.
    pub fn click(&self, user_id: &str, name: &str, message_id: &str, custom_id: &str) {
        let id = self.shared.next_id.fetch_add(1, Ordering::SeqCst);
        let message = self
            .shared
            .messages
            .lock()
            .unwrap()
            .get(message_id)
            .cloned()
            .expect("a message the bot sent");
        self.shared
            .clicked
            .lock()
            .unwrap()
            .insert(format!("token{id}"), message_id.to_string());
        self.dispatch(
            "INTERACTION_CREATE",
            json!({
                "id": id.to_string(), "application_id": BOT_USER, "type": 3, "token": format!("token{id}"), "version": 1,
                "data": {"custom_id": custom_id, "component_type": 2},
                "guild_id": GUILD, "channel_id": CHANNEL, "member": member(user_id, name, &[]),
                "message": message,
                "locale": "en-US", "entitlements": [], "attachment_size_limit": 8388608,
            }),
        );
    }

    /// Autocompletion of a slash command's option: `value` typed so far in `option`.
    pub fn autocomplete(&self, user_id: &str, command: &str, option: &str, value: &str) {
        let id = self.shared.next_id.fetch_add(1, Ordering::SeqCst);
        self.dispatch(
            "INTERACTION_CREATE",
            json!({
                "id": id.to_string(), "application_id": BOT_USER, "type": 4, "token": format!("token{id}"), "version": 1,
                "data": {"id": "7000", "name": command, "type": 1,
                         "options": [{"name": option, "type": 3, "value": value, "focused": true}]},
                "guild_id": GUILD, "channel_id": CHANNEL, "member": member(user_id, "someone", &[]),
                "locale": "en-US", "entitlements": [], "attachment_size_limit": 8388608,
            }),
        );
    }

    /// Fails the test if the bot called a route the fake does not know (or broke a limit).
    pub fn assert_only_expected_calls(&self) {
        let unexpected: Vec<Call> = self
            .calls()
            .into_iter()
            .filter(|call| !call.expected)
            .collect();
        assert!(unexpected.is_empty(), "unexpected calls: {unexpected:#?}");
    }

    /// The id of the bot's message a call created (from the fake's own numbering).
    pub fn message_id_of(&self, call: &Call) -> String {
        let messages = self.shared.messages.lock().unwrap();
        messages
            .iter()
            .filter(|(_, message)| message["content"] == call.body["content"])
            .map(|(id, _)| id.clone())
            .min_by_key(|id| id.parse::<u64>().unwrap_or(0))
            .expect("the call created a message")
    }

    /// The id of the bot's message whose text (as edited since) starts with `prefix`.
    pub fn message_id_starting(&self, prefix: &str) -> String {
        let messages = self.shared.messages.lock().unwrap();
        messages
            .iter()
            .filter(|(_, message)| {
                message["content"]
                    .as_str()
                    .is_some_and(|text| text.starts_with(prefix))
            })
            .map(|(id, _)| id.clone())
            .min_by_key(|id| id.parse::<u64>().unwrap_or(0))
            .expect("a message that starts so")
    }

    /// Waits (up to `seconds`) for a REST call that `matches`, and returns it.
    pub async fn wait_for(
        &self,
        what: &str,
        seconds: u64,
        matches: impl Fn(&Call) -> bool,
    ) -> Call {
        let started = Instant::now();
        loop {
            if let Some(call) = self.calls().into_iter().find(|call| matches(call)) {
                return call;
            }
            assert!(
                started.elapsed() < Duration::from_secs(seconds),
                "never saw: {what}\n{:#?}",
                self.calls()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.assert_only_expected_calls();
        }
    }
}

/// A message as Discord returns it: the bot's, in `channel`, with the components it was sent.
fn message(id: &str, channel: &str, content: &str, components: &Value) -> Value {
    json!({
        "id": id, "channel_id": channel,
        "author": {"id": BOT_USER, "username": "image-builder", "bot": true},
        "content": content, "timestamp": "2026-01-05T09:00:00Z",
        "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
        "attachments": [], "embeds": [], "pinned": false, "type": 0,
        "components": if components.is_array() { components.clone() } else { json!([]) },
    })
}

/// A guild member, as interactions carry them.
fn member(user_id: &str, name: &str, roles: &[&str]) -> Value {
    json!({"user": {"id": user_id, "username": name}, "roles": roles, "deaf": false, "mute": false, "flags": 0})
}

async fn rest_call(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let segments: Vec<&str> = path.trim_start_matches("/api/v10/").split('/').collect();
    let content = body["content"]
        .as_str()
        .or_else(|| body["data"]["content"].as_str())
        .unwrap_or_default()
        .to_string();
    let failure = {
        let mut failures = shared.failures.lock().unwrap();
        let index = failures.iter().position(|(m, needle, _)| {
            *m == method.as_str()
                && needle
                    .as_ref()
                    .is_none_or(|needle| content.contains(needle.as_str()))
        });
        index.map(|index| failures.remove(index).2)
    };
    if let Some(status) = failure {
        shared.calls.lock().unwrap().push(Call {
            method: method.to_string(),
            path,
            body,
            expected: true,
        });
        let status = StatusCode::from_u16(status).unwrap();
        let body = json!({"message": "You are being rate limited.", "retry_after": 0.1, "global": false, "code": 0});
        return (status, [("retry-after", "0.1")], axum::Json(body)).into_response();
    }
    let (expected, response) = match (method.as_str(), segments.as_slice()) {
        ("GET", ["gateway"]) => (
            true,
            axum::Json(json!({"url": *shared.gateway.lock().unwrap()})).into_response(),
        ),
        ("POST" | "PATCH", ["channels", _, "messages", ..]) if content.chars().count() > 2000 => (
            false,
            (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({"code": 50035, "message": "Invalid Form Body"})),
            )
                .into_response(),
        ),
        ("POST", ["channels", channel, "messages"]) => {
            let id = shared.next_id.fetch_add(1, Ordering::SeqCst).to_string();
            let sent = message(&id, channel, &content, &body["components"]);
            shared.messages.lock().unwrap().insert(id, sent.clone());
            (true, axum::Json(sent).into_response())
        }
        ("PATCH", ["channels", _, "messages", id]) => {
            let mut messages = shared.messages.lock().unwrap();
            match messages.get_mut(*id) {
                Some(stored) => {
                    // Only what the edit carries changes: Discord keeps omitted fields.
                    for field in ["content", "components"] {
                        if let Some(value) = body.get(field) {
                            stored[field] = value.clone();
                        }
                    }
                    (true, axum::Json(stored.clone()).into_response())
                }
                None => {
                    // An edit of a message a test deleted is the bot's to handle; of one that
                    // never existed, a bug.
                    let deleted = shared.deleted.lock().unwrap().contains(*id);
                    let gone = json!({"code": 10008, "message": "Unknown Message"});
                    (
                        deleted,
                        (StatusCode::NOT_FOUND, axum::Json(gone)).into_response(),
                    )
                }
            }
        }
        ("POST", ["webhooks", _, _]) if content.chars().count() <= 2000 => {
            // A follow-up of an interaction answer: a new message in the channel.
            let id = shared.next_id.fetch_add(1, Ordering::SeqCst).to_string();
            let sent = message(&id, CHANNEL, &content, &body["components"]);
            shared.messages.lock().unwrap().insert(id, sent.clone());
            (true, axum::Json(sent).into_response())
        }
        ("PUT", ["applications", _, "guilds", _, "commands"]) => {
            (true, axum::Json(json!([])).into_response())
        }
        ("POST", ["interactions", _, token, "callback"]) if content.chars().count() <= 2000 => {
            let clicked = shared.clicked.lock().unwrap().get(*token).cloned();
            if let (Some(id), Some(7)) = (clicked, body["type"].as_u64()) {
                let mut messages = shared.messages.lock().unwrap();
                if let Some(stored) = messages.get_mut(&id) {
                    for field in ["content", "components"] {
                        if let Some(value) = body["data"].get(field) {
                            stored[field] = value.clone();
                        }
                    }
                }
            }
            (true, StatusCode::NO_CONTENT.into_response())
        }
        _ => (
            false,
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"code": 0, "message": "Unknown route"})),
            )
                .into_response(),
        ),
    };
    shared.calls.lock().unwrap().push(Call {
        method: method.to_string(),
        path,
        body,
        expected,
    });
    response
}

async fn serve_gateway(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(mut socket) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            let hello = json!({"op": 10, "d": {"heartbeat_interval": 45000}});
            if socket.send(Frame::Text(hello.to_string())).await.is_err() {
                return;
            }
            let (sender, mut events) = mpsc::unbounded_channel::<Value>();
            let mut sequence = 1;
            loop {
                tokio::select! {
                    _ = shared.drop_gateway.notified() => return,
                    frame = socket.next() => {
                        let Some(Ok(Frame::Text(text))) = frame else { return };
                        let payload: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                        match payload["op"].as_u64() {
                            Some(1) => { let _ = socket.send(Frame::Text(json!({"op": 11}).to_string())).await; }
                            Some(6) => {
                                shared.resumes.fetch_add(1, Ordering::SeqCst);
                                sequence += 1;
                                let resumed = json!({"op": 0, "s": sequence, "t": "RESUMED", "d": {}});
                                let _ = socket.send(Frame::Text(resumed.to_string())).await;
                                *shared.dispatch.lock().unwrap() = Some(sender.clone());
                            }
                            Some(2) => {
                                *shared.identify.lock().unwrap() = Some(payload);
                                if let Some(code) = shared.close_with {
                                    let frame = CloseFrame { code: CloseCode::from(code), reason: "fake".into() };
                                    let _ = socket.send(Frame::Close(Some(frame))).await;
                                    return;
                                }
                                let gateway = shared.gateway.lock().unwrap().clone();
                                let ready = json!({"op": 0, "s": 1, "t": "READY", "d": {
                                    "v": 10, "user": {"id": BOT_USER, "username": "image-builder", "bot": true},
                                    "guilds": [{"id": GUILD, "unavailable": true}], "session_id": "fake-session",
                                    "resume_gateway_url": gateway, "application": {"id": BOT_USER, "flags": 0},
                                }});
                                let _ = socket.send(Frame::Text(ready.to_string())).await;
                                *shared.dispatch.lock().unwrap() = Some(sender.clone());
                            }
                            _ => {}
                        }
                    }
                    Some(event) = events.recv() => {
                        sequence += 1;
                        let frame = json!({"op": 0, "s": sequence, "t": event["t"], "d": event["d"]});
                        if socket.send(Frame::Text(frame.to_string())).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}

/// What a call lets Discord ping with its text: its `allowed_mentions` (the message's, or an
/// interaction answer's), `None` when it gives none (then Discord pings whatever the text
/// names, `@everyone` included).
pub fn allowed_mentions(call: &Call) -> Option<&Value> {
    call.body
        .get("allowed_mentions")
        .or_else(|| call.body["data"].get("allowed_mentions"))
        .filter(|allowed| allowed.is_object())
}

/// The text a call sends (a message, an edit, an interaction answer), if any.
pub fn content(call: &Call) -> Option<&str> {
    call.body["content"]
        .as_str()
        .or_else(|| call.body["data"]["content"].as_str())
}
