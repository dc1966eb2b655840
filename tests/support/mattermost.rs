//! A fake Mattermost for the bot's adapter: REST under `/api/v4` (axum) and the WebSocket
//! (tokio-tungstenite) on one address on `127.0.0.1:0`, as a real server serves both. It
//! follows `reference/mattermost.md`, not the adapter:
//!
//! - Auth by `Authorization: Bearer` (or `Token`); anything else is 401
//!   `api.context.session_expired.app_error` (§1). The socket upgrade succeeds without auth and
//!   then takes the header or an `authentication_challenge` (§3.1).
//! - `POST /posts`: the channel must exist (400) and the author be a member (403); at most
//!   16,383 characters (400, never cut); a `root_id` must be a root post of the same channel
//!   (400); `from_bot` added for bots; 201 with the post (§2.1). `PUT /posts/{id}/patch`: only
//!   the author's own posts; `props`, when given, replace the whole map (§2.2).
//! - Every post is a `posted` event to every socket of a channel member, the author included,
//!   with `data.post` a JSON string and `mentions` a JSON string naming that recipient when the
//!   post mentions them (§3.2). Mentions are read as the server does (§2.4): `@name` in the text
//!   outside code, and `@channel`, `@all`, `@here` for everyone; each post's are recorded.
//! - Each socket numbers its events from 0 (`hello`); a reconnect with `connection_id` and
//!   `sequence_number` within the last 128 events of a held connection replays from there
//!   without a `hello`, else gets a new connection and a `hello` (§3.4). Assumed (the
//!   reference does not say): events for a connection dropped but held are numbered and kept
//!   for its resume, as its send queue would keep them.
//! - 429s with a plain-text body and `X-Ratelimit-*` and `Retry-After` headers (§7).
//! - A route the fake does not know is a 404 recorded as unexpected, which fails the test.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as Frame;

/// The bot account's token.
pub const TOKEN: &str = "bottoken";
/// The bot account.
pub const BOT: &str = "b0000000000000000000000001";
/// The bot's user name.
pub const BOT_NAME: &str = "image-builder";
/// The team.
pub const TEAM: &str = "t0000000000000000000000001";
/// The team channel.
pub const CHANNEL: &str = "c0000000000000000000000001";
/// The alerts channel.
pub const ALERTS: &str = "c0000000000000000000000002";
/// A channel of another team, where the bot is also a member.
pub const ELSEWHERE: &str = "c0000000000000000000000003";
/// Alice's direct messages with the bot.
pub const DIRECT: &str = "d0000000000000000000000001";
/// Alice: may build.
pub const ALICE: &str = "u0000000000000000000000001";
/// Bob: may only read.
pub const BOB: &str = "u0000000000000000000000002";
/// How many events a connection keeps for a resume (§3.4).
const DEAD_QUEUE: usize = 128;

/// One REST call the fake received.
#[derive(Debug, Clone)]
pub struct Call {
    /// GET, POST, PUT, ...
    pub method: String,
    /// The path and query.
    pub path: String,
    /// The JSON body, or null.
    pub body: Value,
    /// The status answered.
    pub status: u16,
    /// When.
    pub at: Instant,
    /// Whether the fake knew the route.
    pub expected: bool,
}

/// Who a post pinged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mentions {
    /// The post.
    pub post: String,
    /// Its author.
    pub author: String,
    /// Users it named (`@name`) who exist.
    pub users: BTreeSet<String>,
    /// Whether it said `@channel`, `@all` or `@here`.
    pub everyone: bool,
}

struct Connection {
    user: String,
    /// The next event's seq.
    next: i64,
    /// The last events sent or queued, for a resume.
    kept: VecDeque<(i64, String)>,
    /// The live socket, if connected.
    sender: Option<mpsc::UnboundedSender<String>>,
}

#[derive(Default)]
struct Shared {
    /// user id → (username, system roles, is_bot)
    users: BTreeMap<String, (String, String, bool)>,
    /// channel id → (type, team, name)
    channels: BTreeMap<String, (String, String, String)>,
    /// (channel, user) → channel roles
    members: Mutex<BTreeMap<(String, String), String>>,
    /// (team, user) → team roles
    team_members: BTreeMap<(String, String), String>,
    posts: Mutex<BTreeMap<String, Value>>,
    calls: Mutex<Vec<Call>>,
    mentions: Mutex<Vec<Mentions>>,
    /// Statuses to answer the next calls of a method with.
    failures: Mutex<Vec<(String, u16)>>,
    connections: Mutex<HashMap<String, Connection>>,
    /// Pulled to drop every socket without a close frame.
    drop_sockets: tokio::sync::Notify,
    resumes: AtomicU64,
    hellos: AtomicU64,
    next_id: AtomicU64,
    /// Pulled to number the next event one further, as if one was lost on the way.
    skip: std::sync::atomic::AtomicBool,
    /// What the server would only log, but a test should not allow: actions that cannot be
    /// clicked or are malformed.
    problems: Mutex<Vec<String>>,
    /// Ephemeral messages: (user, channel, text).
    ephemeral: Mutex<Vec<(String, String, String)>>,
    /// The slash command: its URL and token.
    command: Mutex<Option<(String, String)>>,
}

/// A post as clients and the bot see it: every action's `integration` stripped (§2.1).
fn stripped(post: &Value) -> Value {
    let mut post = post.clone();
    if let Some(attachments) = post["props"]["attachments"].as_array_mut() {
        for attachment in attachments {
            if let Some(actions) = attachment["actions"].as_array_mut() {
                for action in actions {
                    if let Some(action) = action.as_object_mut() {
                        action.remove("integration");
                    }
                }
            }
        }
    }
    post
}

/// Checks a post's props as the server would (§4.1), recording what a real server would let
/// through but a test should not; fills in missing action ids.
fn check_props(shared: &Shared, props: &mut Value) {
    let Some(attachments) = props["attachments"].as_array_mut() else {
        return;
    };
    let mut ids = BTreeSet::new();
    for attachment in attachments {
        let Some(actions) = attachment["actions"].as_array_mut() else {
            continue;
        };
        for action in actions {
            let mut problems = Vec::new();
            match action["id"].as_str() {
                None | Some("") => action["id"] = json!(id(shared, 'a')),
                Some(id) if !id.bytes().all(|b| b.is_ascii_alphanumeric()) => problems.push(
                    format!("action id {id:?} cannot be clicked (letters and digits only)"),
                ),
                Some(_) => {}
            }
            if !ids.insert(action["id"].as_str().unwrap_or_default().to_string()) {
                problems.push(format!(
                    "two actions of one post have the id {}",
                    action["id"]
                ));
            }
            if !matches!(action["type"].as_str(), Some("button" | "select")) {
                problems.push(format!("action type {}", action["type"]));
            }
            let style = action["style"].as_str().unwrap_or("default");
            if !["default", "primary", "success", "good", "warning", "danger"].contains(&style) {
                problems.push(format!("action style {style}"));
            }
            let url = action["integration"]["url"].as_str().unwrap_or_default();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(format!("action integration url {url:?}"));
            }
            shared.problems.lock().unwrap().extend(problems);
        }
    }
}

/// The fake. Dropping it fails the test if the bot called a route the fake does not know.
#[derive(Clone)]
pub struct FakeMattermost {
    shared: Arc<Shared>,
    address: std::net::SocketAddr,
}

fn id(shared: &Shared, prefix: char) -> String {
    let n = shared.next_id.fetch_add(1, Ordering::SeqCst) + 1000;
    format!("{prefix}{n:025}")
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn app_error(status: StatusCode, id: &str, message: &str) -> Response {
    let request = "r0000000000000000000000000";
    (
        status,
        [("X-Request-Id", request), ("X-Version-Id", "10.0.0")],
        axum::Json(json!({"id": id, "message": message, "detailed_error": "", "request_id": request, "status_code": status.as_u16()})),
    )
        .into_response()
}

impl FakeMattermost {
    /// A fake server with the bot, alice, bob and carol (a team admin), the team channel, the
    /// alerts channel and a channel of another team.
    pub async fn start() -> FakeMattermost {
        let mut shared = Shared::default();
        for (user, name, roles, bot) in [
            (BOT, BOT_NAME, "system_user", true),
            (ALICE, "alice", "system_user", false),
            (BOB, "bob", "system_user", false),
        ] {
            shared
                .users
                .insert(user.into(), (name.into(), roles.into(), bot));
        }
        for (channel, team, name) in [
            (CHANNEL, TEAM, "builds"),
            (ALERTS, TEAM, "alerts"),
            (ELSEWHERE, "t0000000000000000000000009", "elsewhere"),
        ] {
            shared
                .channels
                .insert(channel.into(), ("O".into(), team.into(), name.into()));
            let mut members = shared.members.lock().unwrap();
            for user in [BOT, ALICE, BOB] {
                members.insert((channel.into(), user.into()), "channel_user".into());
            }
        }
        shared.channels.insert(
            DIRECT.into(),
            ("D".into(), String::new(), format!("{BOT}__{ALICE}")),
        );
        {
            let mut members = shared.members.lock().unwrap();
            for user in [BOT, ALICE] {
                members.insert((DIRECT.into(), user.into()), "channel_user".into());
            }
        }
        for user in [BOT, ALICE, BOB] {
            shared
                .team_members
                .insert((TEAM.into(), user.into()), "team_user".into());
        }
        let shared = Arc::new(shared);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let router = Router::new().fallback(rest_call).with_state(shared.clone());
        let accepting = shared.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let shared = accepting.clone();
                let router = router.clone();
                tokio::spawn(async move { connection(stream, shared, router).await });
            }
        });
        FakeMattermost { shared, address }
    }

    /// The server's URL, for `mattermost.url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every REST call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().unwrap().clone()
    }

    /// Every post so far, oldest first.
    pub fn posts(&self) -> Vec<Value> {
        let mut posts: Vec<Value> = self
            .shared
            .posts
            .lock()
            .unwrap()
            .values()
            .map(stripped)
            .collect();
        posts.sort_by_key(|post| post["create_at"].as_i64().unwrap_or_default());
        posts
    }

    /// The post with `id`, as it stands (as clients see it).
    pub fn post(&self, id: &str) -> Option<Value> {
        self.shared.posts.lock().unwrap().get(id).map(stripped)
    }

    /// Who each post pinged.
    pub fn mentions(&self) -> Vec<Mentions> {
        self.shared.mentions.lock().unwrap().clone()
    }

    /// The next `times` calls of `method` are answered `status` (429: plain text and
    /// Mattermost's rate-limit headers, to wait a second).
    pub fn fail_next(&self, method: &str, status: u16, times: usize) {
        let mut failures = self.shared.failures.lock().unwrap();
        for _ in 0..times {
            failures.push((method.to_string(), status));
        }
    }

    /// Drops every socket as a network failure would; the connections are held for a resume.
    pub fn drop_sockets(&self) {
        for connection in self.shared.connections.lock().unwrap().values_mut() {
            connection.sender = None;
        }
        self.shared.drop_sockets.notify_waiters();
    }

    /// Restarts the server: every socket drops and no connection is held, so the bot's next
    /// socket is a new connection (a `hello` with another id) and what was said meanwhile is
    /// only in the channels' posts.
    pub fn restart(&self) {
        self.drop_sockets();
        self.shared.connections.lock().unwrap().clear();
    }

    /// Gives `user` these roles in `channel` (`channel_user channel_admin`), as a channel admin
    /// would.
    pub fn set_channel_roles(&self, user: &str, channel: &str, roles: &str) {
        self.shared
            .members
            .lock()
            .unwrap()
            .insert((channel.to_string(), user.to_string()), roles.to_string());
    }

    /// Numbers the bot's next event one further than it should, as a lost event would.
    pub fn skip_a_seq(&self) {
        self.shared.skip.store(true, Ordering::SeqCst);
    }

    /// How many sockets resumed a held connection.
    pub fn resumes(&self) -> u64 {
        self.shared.resumes.load(Ordering::SeqCst)
    }

    /// How many `hello`s were sent (new connections).
    pub fn hellos(&self) -> u64 {
        self.shared.hellos.load(Ordering::SeqCst)
    }

    /// Whether the bot has a live socket.
    pub fn connected(&self) -> bool {
        self.shared
            .connections
            .lock()
            .unwrap()
            .values()
            .any(|connection| connection.user == BOT && connection.sender.is_some())
    }

    /// Waits (up to 10 s) until the bot has a live socket.
    pub async fn wait_connected(&self) {
        let started = Instant::now();
        while !self.connected() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the bot never opened its socket"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A person's post in `channel` (in the thread of `root`, if given), as the web app makes
    /// it. Returns its id.
    pub fn say(&self, user: &str, channel: &str, message: &str, root: Option<&str>) -> String {
        let post = create_post(
            &self.shared,
            user,
            channel,
            message,
            root.unwrap_or(""),
            json!({}),
        )
        .expect("the fake's own post is valid");
        post["id"].as_str().unwrap().to_string()
    }

    /// Registers the slash command `/image-builder`, posting to `url` with `token`.
    pub fn register_command(&self, url: &str, token: &str) {
        *self.shared.command.lock().unwrap() = Some((url.to_string(), token.to_string()));
    }

    /// Ephemeral messages so far: (user, channel, text).
    pub fn ephemeral(&self) -> Vec<(String, String, String)> {
        self.shared.ephemeral.lock().unwrap().clone()
    }

    /// `user` types `/image-builder TEXT` in `channel`: the server posts the form to the
    /// command's URL (§5.2) and takes in its reply (§5.3). Returns the status the command's URL
    /// answered.
    pub async fn slash(&self, user: &str, channel: &str, text: &str) -> u16 {
        let (url, token) = self
            .shared
            .command
            .lock()
            .unwrap()
            .clone()
            .expect("the command is registered");
        let (name, _, _) = self.shared.users.get(user).cloned().unwrap();
        let form = [
            ("token", token.as_str()),
            ("team_id", TEAM),
            ("team_domain", "team"),
            ("channel_id", channel),
            ("channel_name", "builds"),
            ("user_id", user),
            ("user_name", name.as_str()),
            ("command", "/image-builder"),
            ("text", text),
            ("trigger_id", "trigger"),
            ("root_id", ""),
            ("response_url", "http://127.0.0.1:1/hooks/commands/x"),
        ];
        let response = reqwest::Client::new()
            .post(&url)
            .header("Authorization", format!("Token {token}"))
            .header("Accept", "application/json")
            .header("User-Agent", "Mattermost-Bot/1.1")
            .form(&form)
            .send()
            .await
            .expect("the bot's listener answers");
        let status = response.status().as_u16();
        let json = response.headers().get("content-type").is_some_and(|t| {
            t.to_str()
                .unwrap_or_default()
                .starts_with("application/json")
        });
        let body = response.text().await.unwrap_or_default();
        if status != 200 {
            return status;
        }
        let reply: Value = if json {
            serde_json::from_str(&body).expect("a CommandResponse")
        } else {
            json!({ "text": body })
        };
        let text = reply["text"].as_str().unwrap_or_default();
        if reply["response_type"] == "in_channel" {
            let mut props = json!({ "from_webhook": "true" });
            if let Some(attachments) = reply.get("attachments") {
                props["attachments"] = attachments.clone();
            }
            create_post(&self.shared, user, channel, text, "", props).unwrap();
        } else if !text.is_empty() {
            self.shared.ephemeral.lock().unwrap().push((
                user.to_string(),
                channel.to_string(),
                text.to_string(),
            ));
        }
        status
    }

    /// `user` clicks the action `action` (its id) of post `post`: the server posts the click
    /// to the action's URL, without auth, with the context it stored (§4.2), and takes in the
    /// reply (§4.3). Returns the status the clicker's call gets.
    pub async fn click(&self, user: &str, post: &str, action: &str) -> u16 {
        let stored = self.post_stored(post).expect("the clicked post exists");
        let found = stored["props"]["attachments"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|a| a["actions"].as_array().cloned().unwrap_or_default())
            .find(|a| a["id"] == action);
        let Some(found) = found else {
            return 404;
        };
        let integration = &found["integration"];
        let Some(url) = integration["url"].as_str() else {
            return 404;
        };
        let (name, _, _) = self.shared.users.get(user).cloned().unwrap();
        let channel = stored["channel_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut body = json!({
            "user_id": user, "user_name": name, "channel_id": channel, "channel_name": "builds",
            "team_id": TEAM, "team_domain": "team", "post_id": post, "trigger_id": "trigger",
            "type": "", "data_source": "",
        });
        if integration["context"]
            .as_object()
            .is_some_and(|c| !c.is_empty())
        {
            body["context"] = integration["context"].clone();
        }
        self.send_click(url, &body, user, post, &channel).await
    }

    /// Posts `body` to `url` as a click on `post` by `user` would, and takes in the reply.
    pub async fn send_click(
        &self,
        url: &str,
        body: &Value,
        user: &str,
        post: &str,
        channel: &str,
    ) -> u16 {
        let response = reqwest::Client::new()
            .post(url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .header("User-Agent", "Mattermost-Bot/1.1")
            .json(body)
            .send()
            .await
            .expect("the bot's listener answers");
        if response.status() != 200 {
            return 400;
        }
        let text = response.text().await.unwrap_or_default();
        if text.trim().is_empty() {
            return 200;
        }
        let Ok(reply) = serde_json::from_str::<Value>(&text) else {
            return 400;
        };
        if let Some(update) = reply.get("update").filter(|u| u.is_object()) {
            let mut posts = self.shared.posts.lock().unwrap();
            let stored = posts.get_mut(post).unwrap();
            stored["message"] = update.get("message").cloned().unwrap_or(json!(""));
            if let Some(props) = update.get("props") {
                let mut props = props.clone();
                check_props(&self.shared, &mut props);
                stored["props"] = props;
            }
            stored["edit_at"] = json!(now_ms());
        }
        if let Some(text) = reply["ephemeral_text"].as_str().filter(|t| !t.is_empty()) {
            self.shared.ephemeral.lock().unwrap().push((
                user.to_string(),
                channel.to_string(),
                text.to_string(),
            ));
        }
        200
    }

    /// A post as stored, with its actions' integrations.
    fn post_stored(&self, id: &str) -> Option<Value> {
        self.shared.posts.lock().unwrap().get(id).cloned()
    }

    /// The action ids of a post's buttons, by label.
    pub fn actions(&self, post: &str) -> Vec<(String, String)> {
        self.post(post)
            .map(|post| {
                post["props"]["attachments"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|a| a["actions"].as_array().cloned().unwrap_or_default())
                    .map(|a| {
                        (
                            a["name"].as_str().unwrap_or_default().to_string(),
                            a["id"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits up to `seconds` for a post matching `found`.
    pub async fn wait_for_post(
        &self,
        what: &str,
        seconds: u64,
        found: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            if let Some(post) = self.posts().into_iter().find(&found) {
                return post;
            }
            assert!(
                started.elapsed() < Duration::from_secs(seconds),
                "never posted: {what}: {:#?}",
                self.posts()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for FakeMattermost {
    fn drop(&mut self) {
        if Arc::strong_count(&self.shared) > 3 || std::thread::panicking() {
            return;
        }
        let unexpected: Vec<Call> = self
            .calls()
            .into_iter()
            .filter(|call| !call.expected)
            .collect();
        assert!(
            unexpected.is_empty(),
            "the bot called routes Mattermost does not have: {unexpected:#?}"
        );
        let problems = self.shared.problems.lock().unwrap().clone();
        assert!(problems.is_empty(), "bad posts: {problems:#?}");
    }
}

/// One TCP connection: a WebSocket upgrade on `/api/v4/websocket`, REST otherwise.
async fn connection(stream: TcpStream, shared: Arc<Shared>, router: Router) {
    let mut head = [0u8; 64];
    let Ok(read) = stream.peek(&mut head).await else {
        return;
    };
    if head[..read].starts_with(b"GET /api/v4/websocket") {
        socket(stream, shared).await;
        return;
    }
    let service = hyper_util::service::TowerToHyperService::new(router);
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .await;
}

/// The user a request's token is, if any.
fn authenticated(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let scheme = scheme.to_ascii_lowercase();
    ((scheme == "bearer" || scheme == "token") && token.trim() == TOKEN).then(|| BOT.to_string())
}

fn user_json(shared: &Shared, id: &str) -> Option<Value> {
    let (name, roles, bot) = shared.users.get(id)?;
    Some(
        json!({"id": id, "username": name, "roles": roles, "is_bot": bot, "delete_at": 0, "locale": "en"}),
    )
}

/// The users a post's text mentions, and whether it mentions everyone, read as the server
/// does: `@word` outside inline and fenced code.
fn mentioned(shared: &Shared, text: &str) -> (BTreeSet<String>, bool) {
    let mut users = BTreeSet::new();
    let mut everyone = false;
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        for (index, part) in line.split('`').enumerate() {
            if index % 2 == 1 {
                continue;
            }
            for word in part.split('@').skip(1) {
                let name: String = word
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                    .collect::<String>()
                    .trim_end_matches('.')
                    .to_lowercase();
                if ["channel", "all", "here"].contains(&name.as_str()) {
                    everyone = true;
                }
                if let Some((id, _)) = shared.users.iter().find(|(_, user)| user.0 == name) {
                    users.insert(id.clone());
                }
            }
        }
    }
    (users, everyone)
}

/// Makes a post as `user`, checking it as the server does, and sends it to the channel's
/// members' sockets.
fn create_post(
    shared: &Shared,
    user: &str,
    channel: &str,
    message: &str,
    root: &str,
    props: Value,
) -> Result<Value, Box<Response>> {
    let Some((kind, team, name)) = shared.channels.get(channel).cloned() else {
        return Err(Box::new(app_error(
            StatusCode::BAD_REQUEST,
            "api.context.invalid_param.app_error",
            "Invalid channel_id parameter.",
        )));
    };
    let members: Vec<String> = shared
        .members
        .lock()
        .unwrap()
        .keys()
        .filter(|(c, _)| c == channel)
        .map(|(_, u)| u.clone())
        .collect();
    if !members.iter().any(|member| member == user) {
        return Err(Box::new(app_error(
            StatusCode::FORBIDDEN,
            "api.context.permissions.app_error",
            "You do not have the appropriate permissions.",
        )));
    }
    if message.chars().count() > 16383 {
        return Err(Box::new(app_error(
            StatusCode::BAD_REQUEST,
            "model.post.is_valid.message_length.app_error",
            "Invalid Message property",
        )));
    }
    if !root.is_empty() {
        let posts = shared.posts.lock().unwrap();
        let valid = posts.get(root).is_some_and(|post| {
            post["channel_id"] == channel && post["root_id"].as_str() == Some("")
        });
        if !valid {
            return Err(Box::new(app_error(
                StatusCode::BAD_REQUEST,
                "api.post.create_post.root_id.app_error",
                "Invalid RootId parameter.",
            )));
        }
    }
    let bot = shared.users.get(user).is_some_and(|user| user.2);
    let now = now_ms();
    let id = id(shared, 'p');
    let mut props = if props.is_object() { props } else { json!({}) };
    check_props(shared, &mut props);
    if bot {
        props["from_bot"] = json!("true");
    }
    let post = json!({
        "id": id, "create_at": now, "update_at": now, "edit_at": 0, "delete_at": 0,
        "is_pinned": false, "user_id": user, "channel_id": channel, "root_id": root,
        "original_id": "", "message": message, "type": "", "props": props, "hashtags": "",
        "file_ids": [], "pending_post_id": "", "reply_count": 0, "last_reply_at": 0,
        "participants": null, "metadata": {},
    });
    shared
        .posts
        .lock()
        .unwrap()
        .insert(id.clone(), post.clone());
    let (users, everyone) = mentioned(shared, message);
    shared.mentions.lock().unwrap().push(Mentions {
        post: id.clone(),
        author: user.to_string(),
        users: users.clone(),
        everyone,
    });
    let sender_name = shared
        .users
        .get(user)
        .map(|u| u.0.clone())
        .unwrap_or_default();
    for member in members {
        let mut data = json!({
            "channel_display_name": name, "channel_name": name, "channel_type": kind,
            "post": stripped(&post).to_string(), "sender_name": format!("@{sender_name}"),
            "set_online": true, "team_id": team,
        });
        if users.contains(&member) || (everyone && member != user) {
            data["mentions"] = json!(json!([member]).to_string());
        }
        let broadcast = json!({"omit_users": null, "user_id": "", "channel_id": channel, "team_id": "", "connection_id": "", "omit_connection_id": ""});
        send_event(shared, &member, "posted", data, broadcast);
    }
    Ok(post)
}

/// Numbers an event for each of `user`'s connections and sends it where one is live.
fn send_event(shared: &Shared, user: &str, event: &str, data: Value, broadcast: Value) {
    let mut connections = shared.connections.lock().unwrap();
    for connection in connections.values_mut().filter(|c| c.user == user) {
        if user == BOT && shared.skip.swap(false, Ordering::SeqCst) {
            connection.next += 1;
        }
        let frame =
            json!({"event": event, "data": data, "broadcast": broadcast, "seq": connection.next})
                .to_string();
        connection.kept.push_back((connection.next, frame.clone()));
        if connection.kept.len() > DEAD_QUEUE {
            connection.kept.pop_front();
        }
        connection.next += 1;
        if let Some(sender) = &connection.sender {
            let _ = sender.send(frame);
        }
    }
}

async fn rest_call(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = uri.path().to_string();
    let record = |status: u16, expected: bool| {
        shared.calls.lock().unwrap().push(Call {
            method: method.to_string(),
            path: uri.to_string(),
            body: body.clone(),
            status,
            at: Instant::now(),
            expected,
        });
    };
    let failure = {
        let mut failures = shared.failures.lock().unwrap();
        failures
            .iter()
            .position(|(m, _)| *m == method.as_str())
            .map(|index| failures.remove(index).1)
    };
    if let Some(status) = failure {
        record(status, true);
        if status == 429 {
            return Response::builder()
                .status(429)
                .header("Content-Type", "text/plain; charset=utf-8")
                .header("X-Ratelimit-Limit", "101")
                .header("X-Ratelimit-Remaining", "0")
                .header("X-Ratelimit-Reset", "1")
                .header("Retry-After", "1")
                .body(Body::from("limit exceeded\n"))
                .unwrap();
        }
        return app_error(
            StatusCode::from_u16(status).unwrap(),
            "",
            "Internal Server Error",
        );
    }
    let Some(me) = authenticated(&headers) else {
        record(401, true);
        return app_error(
            StatusCode::UNAUTHORIZED,
            "api.context.session_expired.app_error",
            "Invalid or expired session, please login again.",
        );
    };
    let segments: Vec<&str> = path.trim_start_matches("/api/v4/").split('/').collect();
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| serde_urlencoded::from_str(q).unwrap_or_default())
        .unwrap_or_default();
    let not_found = |what: &str| app_error(StatusCode::NOT_FOUND, what, "Not found.");
    let (response, expected) = match (method.as_str(), segments.as_slice()) {
        ("GET", ["users", "me"]) => (
            axum::Json(user_json(&shared, &me).unwrap()).into_response(),
            true,
        ),
        ("GET", ["users", id]) => match user_json(&shared, id) {
            Some(user) => (axum::Json(user).into_response(), true),
            None => (not_found("app.user.missing_account.const"), true),
        },
        ("GET", ["posts", id]) => match shared.posts.lock().unwrap().get(*id) {
            Some(post) => (axum::Json(stripped(post)).into_response(), true),
            None => (not_found("app.post.get.app_error"), true),
        },
        ("GET", ["channels", id]) => match shared.channels.get(*id) {
            Some((kind, team, name)) => (
                axum::Json(json!({"id": id, "type": kind, "team_id": team, "name": name, "display_name": name})).into_response(),
                true,
            ),
            None => (not_found("app.channel.get.existing.app_error"), true),
        },
        ("GET", ["channels", channel, "members", user]) => {
            match shared
                .members
                .lock()
                .unwrap()
                .get(&(channel.to_string(), user.to_string()))
            {
                Some(roles) => (
                    axum::Json(json!({"channel_id": channel, "user_id": user, "roles": roles, "scheme_user": true, "scheme_admin": false, "explicit_roles": ""})).into_response(),
                    true,
                ),
                None => (not_found("app.channel.get_member.missing.app_error"), true),
            }
        }
        ("GET", ["teams", team, "members", user]) => {
            match shared
                .team_members
                .get(&(team.to_string(), user.to_string()))
            {
                Some(roles) => (
                    axum::Json(json!({"team_id": team, "user_id": user, "roles": roles, "delete_at": 0, "scheme_user": true, "scheme_admin": false, "explicit_roles": ""})).into_response(),
                    true,
                ),
                None => (not_found("app.team.get_member.missing.app_error"), true),
            }
        }
        ("GET", ["channels", channel, "posts"]) => {
            let since: i64 = query
                .get("since")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let posts: Vec<Value> = shared
                .posts
                .lock()
                .unwrap()
                .values()
                .filter(|p| p["channel_id"] == *channel && p["create_at"].as_i64() > Some(since))
                .map(stripped)
                .collect();
            let order: Vec<Value> = posts.iter().rev().map(|p| p["id"].clone()).collect();
            let map: serde_json::Map<String, Value> = posts
                .into_iter()
                .map(|p| (p["id"].as_str().unwrap().to_string(), p))
                .collect();
            (
                axum::Json(json!({"order": order, "posts": map, "next_post_id": "", "prev_post_id": "", "has_next": false})).into_response(),
                true,
            )
        }
        ("POST", ["posts"]) => {
            let channel = body["channel_id"].as_str().unwrap_or_default();
            let message = body["message"].as_str().unwrap_or_default();
            let root = body["root_id"].as_str().unwrap_or_default();
            match create_post(&shared, &me, channel, message, root, body["props"].clone()) {
                Ok(post) => (
                    (StatusCode::CREATED, axum::Json(stripped(&post))).into_response(),
                    true,
                ),
                Err(response) => (*response, true),
            }
        }
        ("PUT", ["posts", id, "patch"]) => {
            let mut posts = shared.posts.lock().unwrap();
            match posts.get_mut(*id) {
                None => (not_found("app.post.get.app_error"), true),
                Some(post) if post["user_id"] != me.as_str() => (
                    app_error(
                        StatusCode::FORBIDDEN,
                        "api.context.permissions.app_error",
                        "You do not have the appropriate permissions.",
                    ),
                    true,
                ),
                Some(post) => {
                    if let Some(message) = body.get("message") {
                        if message.as_str().unwrap_or_default().chars().count() > 16383 {
                            drop(posts);
                            record(400, true);
                            return app_error(
                                StatusCode::BAD_REQUEST,
                                "model.post.is_valid.message_length.app_error",
                                "Invalid Message property",
                            );
                        }
                        post["message"] = message.clone();
                    }
                    if let Some(props) = body.get("props") {
                        let mut props = props.clone();
                        check_props(&shared, &mut props);
                        post["props"] = props;
                    }
                    let now = now_ms();
                    post["edit_at"] = json!(now);
                    post["update_at"] = json!(now);
                    (axum::Json(stripped(post)).into_response(), true)
                }
            }
        }
        _ => (
            app_error(
                StatusCode::NOT_FOUND,
                "api.context.404.app_error",
                "Sorry, we could not find the page.",
            ),
            false,
        ),
    };
    record(response.status().as_u16(), expected);
    response
}

/// A WebSocket: authenticated by header or challenge, resumed or new, then events out and
/// requests in until it drops.
async fn socket(stream: TcpStream, shared: Arc<Shared>) {
    let mut header_user = None;
    let mut query = String::new();
    #[allow(clippy::result_large_err)]
    let callback = |request: &tokio_tungstenite::tungstenite::handshake::server::Request,
                    response| {
        header_user = authenticated(request.headers());
        query = request.uri().query().unwrap_or_default().to_string();
        Ok(response)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let user = match header_user {
        Some(user) => user,
        None => {
            // The challenge (§3.1), within 5 s.
            let challenge = tokio::time::timeout(Duration::from_secs(5), ws.next()).await;
            let Ok(Some(Ok(Frame::Text(text)))) = challenge else {
                return;
            };
            let frame: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let token = frame["data"]["token"].as_str().unwrap_or_default();
            if frame["action"] != "authentication_challenge" || token != TOKEN {
                return;
            }
            BOT.to_string()
        }
    };
    let params: HashMap<String, String> = serde_urlencoded::from_str(&query).unwrap_or_default();
    let (sender, mut outgoing) = mpsc::unbounded_channel::<String>();
    let connection_id = {
        let mut connections = shared.connections.lock().unwrap();
        let asked = params.get("connection_id").cloned();
        let from: Option<i64> = params.get("sequence_number").and_then(|s| s.parse().ok());
        if asked.is_some() && from.is_none() {
            return;
        }
        let held = asked
            .as_ref()
            .and_then(|id| connections.get_mut(id).map(|c| (id.clone(), c)))
            .filter(|(_, c)| c.user == user);
        match (held, from) {
            (Some((id, connection)), Some(from))
                if from == connection.next
                    || connection.kept.iter().any(|(seq, _)| *seq == from) =>
            {
                for (seq, frame) in &connection.kept {
                    if *seq >= from {
                        let _ = sender.send(frame.clone());
                    }
                }
                connection.sender = Some(sender.clone());
                shared.resumes.fetch_add(1, Ordering::SeqCst);
                id
            }
            _ => {
                let id = id(&shared, 'w');
                connections.insert(
                    id.clone(),
                    Connection {
                        user: user.clone(),
                        next: 0,
                        kept: VecDeque::new(),
                        sender: Some(sender.clone()),
                    },
                );
                drop(connections);
                shared.hellos.fetch_add(1, Ordering::SeqCst);
                let broadcast = json!({"omit_users": null, "user_id": user, "channel_id": "", "team_id": "", "connection_id": "", "omit_connection_id": ""});
                let mut connections = shared.connections.lock().unwrap();
                let connection = connections.get_mut(&id).unwrap();
                let hello = json!({"event": "hello", "data": {"server_version": "10.0.0.0.abc.false", "connection_id": id}, "broadcast": broadcast, "seq": 0}).to_string();
                connection.kept.push_back((0, hello.clone()));
                connection.next = 1;
                let _ = sender.send(hello);
                id
            }
        }
    };
    let dropped = shared.drop_sockets.notified();
    tokio::pin!(dropped);
    loop {
        tokio::select! {
            () = &mut dropped => return,
            frame = outgoing.recv() => {
                let Some(frame) = frame else { return };
                if ws.send(Frame::text(frame)).await.is_err() {
                    break;
                }
            }
            frame = ws.next() => {
                let Some(Ok(frame)) = frame else { break };
                let Frame::Text(text) = frame else { continue };
                let request: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let seq = request["seq"].as_i64().unwrap_or(0);
                let reply = if seq <= 0 {
                    json!({"status": "FAIL", "seq_reply": seq, "error": {"id": "api.web_socket_router.bad_seq.app_error", "message": "Invalid sequence."}})
                } else if request["action"] == "ping" {
                    json!({"status": "OK", "seq_reply": seq, "data": {"text": "pong", "version": "10.0.0", "server_time": now_ms(), "node_id": ""}})
                } else {
                    json!({"status": "FAIL", "seq_reply": seq, "error": {"id": "api.web_socket_router.bad_action.app_error", "message": "Invalid action."}})
                };
                if ws.send(Frame::text(reply.to_string())).await.is_err() {
                    break;
                }
            }
        }
    }
    if let Some(connection) = shared.connections.lock().unwrap().get_mut(&connection_id) {
        // Unless a resume took the connection over meanwhile.
        if connection
            .sender
            .as_ref()
            .is_some_and(|live| live.same_channel(&sender))
        {
            connection.sender = None;
        }
    }
}
