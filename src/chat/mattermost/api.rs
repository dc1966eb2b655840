//! Mattermost's REST API as the bot uses it: users, channels and their roles, posts, with
//! rate limits honoured; and the start-up check of the bot's account.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::{Mattermost, ATTEMPTS, LONGEST_WAIT, RETRY, TOKEN_ENV};
use crate::chat::ChatError;
use crate::messages::MattermostCheck;

impl Mattermost {
    /// A post, by id.
    pub async fn post(&self, id: &str) -> Result<Value, ChatError> {
        self.call("reading a post", Method::GET, &format!("/posts/{id}"), None)
            .await
    }

    /// Calls `METHOD /api/v4{path}` with `body`, waiting out 429s and trying 5xx again. An
    /// error says what failed, Mattermost's error id and message, never the token.
    pub(super) async fn call(
        &self,
        what: &str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ChatError> {
        let url = format!("{}/api/v4{path}", self.inner.url);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self
                .inner
                .http
                .request(method.clone(), &url)
                .bearer_auth(self.inner.token.expose());
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(error) if attempt < ATTEMPTS => {
                    let wait = RETRY.nth(attempt - 1);
                    tracing::warn!(what, attempt, error = %error.without_url(), ?wait, "Mattermost did not answer; trying again");
                    tokio::time::sleep(wait).await;
                    continue;
                }
                Err(error) => {
                    return Err(ChatError::new(format!("{what}: {}", error.without_url())))
                }
            };
            let status = response.status();
            if status.is_success() {
                return response
                    .json::<Value>()
                    .await
                    .map_err(|error| ChatError::new(format!("{what}: {}", error.without_url())));
            }
            let transient = status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error();
            if transient && attempt < ATTEMPTS {
                let wait = retry_after(response.headers())
                    .unwrap_or(RETRY.nth(attempt - 1))
                    .min(LONGEST_WAIT);
                tracing::warn!(
                    what,
                    attempt,
                    status = status.as_u16(),
                    ?wait,
                    "Mattermost answered an error worth trying again; waiting"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            let text = response.text().await.unwrap_or_default();
            let error: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let id = error["id"].as_str().unwrap_or_default();
            let message = error["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| text.chars().take(200).collect());
            let said = format!("{what}: {message} ({} {id})", status.as_u16());
            return Err(match status {
                StatusCode::NOT_FOUND => ChatError::gone(said),
                StatusCode::UNAUTHORIZED => ChatError::refused(said),
                _ => ChatError::new(said),
            });
        }
    }

    /// The bot account (`GET /users/me`): checks the token.
    pub async fn me(&self) -> Result<MmUser, ChatError> {
        let me = self
            .call("reading the bot's account", Method::GET, "/users/me", None)
            .await?;
        serde_json::from_value(me)
            .map_err(|error| ChatError::new(format!("reading the bot's account: {error}")))
    }

    /// A user, by id.
    pub async fn user(&self, id: &str) -> Result<MmUser, ChatError> {
        let user = self
            .call("reading a user", Method::GET, &format!("/users/{id}"), None)
            .await?;
        let user: MmUser = serde_json::from_value(user)
            .map_err(|error| ChatError::new(format!("reading a user: {error}")))?;
        self.remember(&user.id, &user.username);
        Ok(user)
    }

    /// A channel, by id.
    pub async fn channel(&self, id: &str) -> Result<MmChannel, ChatError> {
        let channel = self
            .call(
                "reading a channel",
                Method::GET,
                &format!("/channels/{id}"),
                None,
            )
            .await?;
        serde_json::from_value(channel)
            .map_err(|error| ChatError::new(format!("reading a channel: {error}")))
    }

    /// The roles `user` holds where they asked: on the server, in the channel's team, in the
    /// channel. A membership that cannot be read adds no roles (and is logged).
    pub async fn roles(&self, user: &MmUser, channel: &str, team: Option<&str>) -> Vec<String> {
        let mut roles: Vec<String> = user.roles.split_whitespace().map(String::from).collect();
        let mut paths = vec![format!("/channels/{channel}/members/{}", user.id)];
        if let Some(team) = team.filter(|team| !team.is_empty()) {
            paths.push(format!("/teams/{team}/members/{}", user.id));
        }
        for path in paths {
            match self
                .call("reading a membership", Method::GET, &path, None)
                .await
                .and_then(|value| {
                    serde_json::from_value::<Membership>(value)
                        .map_err(|error| ChatError::new(error.to_string()))
                }) {
                Ok(membership) => {
                    roles.extend(membership.roles.split_whitespace().map(String::from))
                }
                Err(error) => tracing::warn!(%error, "a membership's roles are not known"),
            }
        }
        roles
    }

    pub(super) fn remember(&self, id: &str, name: &str) {
        self.inner
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), name.to_string());
    }

    /// The user name of the user with `id`, for a mention.
    pub(super) async fn name_of(&self, id: &str) -> Option<String> {
        let known = self
            .inner
            .names
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned();
        if known.is_some() {
            return known;
        }
        match self.user(id).await {
            Ok(user) => Some(user.username),
            Err(error) => {
                tracing::warn!(%error, "the user to mention is not known; not mentioned");
                None
            }
        }
    }

    /// The posts of `channel` made since `since` (ms), oldest first: what a socket that could not
    /// resume missed (§3.4).
    pub async fn posts_since(&self, channel: &str, since: i64) -> Result<Vec<Value>, ChatError> {
        let list = self
            .call(
                "reading a channel's posts",
                Method::GET,
                &format!("/channels/{channel}/posts?since={since}"),
                None,
            )
            .await?;
        let posts = &list["posts"];
        let mut found: Vec<Value> = list["order"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|id| id.as_str())
            .filter_map(|id| posts.get(id).cloned())
            .collect();
        found.sort_by_key(|post| post["create_at"].as_i64().unwrap_or_default());
        Ok(found)
    }
}

/// A user as `GET /users/{id}` gives them (the fields the bot reads).
#[derive(Debug, Clone, Deserialize)]
pub struct MmUser {
    /// The 26-character id.
    pub id: String,
    /// The user name, without `@`.
    pub username: String,
    /// System roles, space-separated (`system_user system_admin`).
    #[serde(default)]
    pub roles: String,
    /// Whether it is a bot account.
    #[serde(default)]
    pub is_bot: bool,
}

/// A channel as `GET /channels/{id}` gives it.
#[derive(Debug, Clone, Deserialize)]
pub struct MmChannel {
    /// The id.
    pub id: String,
    /// `O` public, `P` private, `D` direct, `G` group.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The URL name.
    #[serde(default)]
    pub name: String,
    /// The name people see.
    #[serde(default)]
    pub display_name: String,
    /// The team (empty for direct and group messages).
    #[serde(default)]
    pub team_id: String,
}

/// A team or channel membership: its roles, space-separated.
#[derive(Debug, Clone, Deserialize)]
pub(super) struct Membership {
    #[serde(default)]
    pub(super) roles: String,
}

/// What `check-config --online` found of the Mattermost settings: a line per check (worded by
/// [`MattermostCheck::line`]), `true` where it holds.
pub async fn check(
    chat: &Mattermost,
    settings: &crate::config::MattermostConfig,
) -> Vec<(bool, String)> {
    findings(chat, settings)
        .await
        .iter()
        .map(|found| (found.holds(), found.line()))
        .collect()
}

/// What `check-config --online` finds, a finding per check.
async fn findings(
    chat: &Mattermost,
    settings: &crate::config::MattermostConfig,
) -> Vec<MattermostCheck> {
    let mut found = Vec::new();
    let url = chat.url().to_string();
    let me = match chat.me().await {
        Ok(me) => me,
        Err(error) if error.is_refused() => {
            found.push(MattermostCheck::TokenRefused {
                variable: TOKEN_ENV.to_string(),
                url,
            });
            return found;
        }
        Err(error) => {
            found.push(MattermostCheck::Unreachable {
                url,
                error: error.to_string(),
            });
            return found;
        }
    };
    found.push(MattermostCheck::TokenWorks {
        variable: TOKEN_ENV.to_string(),
        username: me.username.clone(),
        url,
    });
    if !me.is_bot {
        found.push(MattermostCheck::NotABot {
            username: me.username.clone(),
        });
    }
    if let Some(team) = &settings.team {
        let path = format!("/teams/{team}/members/{}", me.id);
        let answer = chat
            .call("reading the team", Method::GET, &path, None)
            .await;
        found.push(MattermostCheck::Team {
            team: team.clone(),
            missing: answer.err().map(|error| error.to_string()),
        });
    }
    for (key, id) in settings.channel_ids() {
        let channel = match chat.channel(id).await {
            Ok(channel) => channel,
            Err(error) => {
                found.push(MattermostCheck::NoChannel {
                    key: key.to_string(),
                    id: id.to_string(),
                    error: error.to_string(),
                });
                continue;
            }
        };
        let path = format!("/channels/{id}/members/{}", me.id);
        let answer = chat
            .call("reading a membership", Method::GET, &path, None)
            .await;
        found.push(MattermostCheck::Channel {
            key: key.to_string(),
            id: id.to_string(),
            name: channel.name.clone(),
            member: answer.is_ok(),
        });
    }
    found
}

/// How long a 429 says to wait: `Retry-After`, else `X-Ratelimit-Reset` (seconds until the
/// limit resets: §7), at least a tenth of a second.
pub(super) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    ["retry-after", "x-ratelimit-reset"]
        .iter()
        .find_map(|name| {
            headers
                .get(*name)?
                .to_str()
                .ok()?
                .trim()
                .parse::<f64>()
                .ok()
        })
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        .map(|seconds| Duration::from_secs_f64(seconds.max(0.1)))
}
