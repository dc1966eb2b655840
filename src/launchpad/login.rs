//! `image-builder login`: Launchpad's OAuth token dance, on the web host. Ask for a request
//! token, send the user to authorize it, poll for the access token until the user decides or
//! time runs out. launchpadlib polls every second for fifteen minutes; so does this.

use std::time::{Duration, Instant};

use super::auth::Credentials;
use super::client::user_agent;
use crate::secret::Secret;

/// How to log in.
#[derive(Debug, Clone)]
pub struct LoginSettings {
    /// The web root, `https://launchpad.net/`.
    pub web_root: String,
    /// The application name the user sees on the authorization page.
    pub consumer_key: String,
    /// The access level asked for; `WRITE_PUBLIC` lets the bot request and retry builds of
    /// public recipes, and no more.
    pub access_level: String,
    /// How often to ask whether the user has decided.
    pub poll_interval: Duration,
    /// How long to wait for the user.
    pub timeout: Duration,
}

impl LoginSettings {
    /// The defaults for `web_root`.
    pub fn new(web_root: impl Into<String>) -> LoginSettings {
        LoginSettings {
            web_root: web_root.into(),
            consumer_key: super::auth::CONSUMER_KEY.to_string(),
            access_level: "WRITE_PUBLIC".to_string(),
            poll_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(15 * 60),
        }
    }
}

/// Why no credentials came of it.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The user clicked "No Access" (or the equivalent).
    #[error("the authorization was refused on Launchpad; run `image-builder login` again and choose \"{0}\" to allow it")]
    Refused(String),
    /// Nobody decided in time.
    #[error("nobody authorized the request within {0:?}; run `image-builder login` again and open the page it shows")]
    TimedOut(Duration),
    /// Launchpad answered something the dance does not expect.
    #[error("Launchpad answered {status} to {step}: {body}")]
    Unexpected {
        /// `+request-token` or `+access-token`.
        step: &'static str,
        /// The status.
        status: u16,
        /// What it said.
        body: String,
    },
    /// Launchpad could not be reached.
    #[error("could not reach {url}: {message}")]
    Transport {
        /// Where.
        url: String,
        /// What the network said.
        message: String,
    },
}

/// Runs the dance. `show` is called once with the page the user must open.
pub async fn login(
    settings: &LoginSettings,
    show: impl FnOnce(&str),
) -> Result<Credentials, LoginError> {
    let http = reqwest::Client::builder()
        .user_agent(user_agent())
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|error| LoginError::Transport {
            url: settings.web_root.clone(),
            message: error.to_string(),
        })?;
    let request_url = format!("{}+request-token", settings.web_root);
    let (status, body) = post(
        &http,
        &request_url,
        &[
            ("oauth_consumer_key", settings.consumer_key.as_str()),
            ("oauth_signature_method", "PLAINTEXT"),
            ("oauth_signature", "&"),
        ],
    )
    .await?;
    if status != 200 {
        return Err(LoginError::Unexpected {
            step: "+request-token",
            status,
            body,
        });
    }
    let fields = parse_fields(&body);
    let (Some(token), Some(secret)) = (fields.get("oauth_token"), fields.get("oauth_token_secret"))
    else {
        return Err(LoginError::Unexpected {
            step: "+request-token",
            status,
            body: "no oauth_token in the answer".into(),
        });
    };
    let secret = Secret::new(secret.clone());
    show(&format!(
        "{}+authorize-token?oauth_token={token}&allow_permission={}",
        settings.web_root, settings.access_level
    ));
    let access_url = format!("{}+access-token", settings.web_root);
    let signature = format!("&{}", secret.expose());
    let started = Instant::now();
    loop {
        let (status, body) = post(
            &http,
            &access_url,
            &[
                ("oauth_consumer_key", settings.consumer_key.as_str()),
                ("oauth_token", token.as_str()),
                ("oauth_signature_method", "PLAINTEXT"),
                ("oauth_signature", signature.as_str()),
            ],
        )
        .await?;
        match status {
            200 => {
                let fields = parse_fields(&body);
                let (Some(key), Some(secret)) =
                    (fields.get("oauth_token"), fields.get("oauth_token_secret"))
                else {
                    return Err(LoginError::Unexpected {
                        step: "+access-token",
                        status,
                        body: "no oauth_token in the answer".into(),
                    });
                };
                return Ok(Credentials {
                    consumer_key: settings.consumer_key.clone(),
                    consumer_secret: Secret::default(),
                    access_token: Secret::new(key.clone()),
                    access_secret: Secret::new(secret.clone()),
                });
            }
            401 if body.contains("not yet been reviewed") => {}
            403 => return Err(LoginError::Refused(settings.access_level.clone())),
            _ => {
                return Err(LoginError::Unexpected {
                    step: "+access-token",
                    status,
                    body,
                })
            }
        }
        if started.elapsed() + settings.poll_interval > settings.timeout {
            return Err(LoginError::TimedOut(settings.timeout));
        }
        tokio::time::sleep(settings.poll_interval).await;
    }
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> Result<(u16, String), LoginError> {
    let transport = |error: reqwest::Error| LoginError::Transport {
        url: url.to_string(),
        message: error.to_string(),
    };
    let response = http.post(url).form(form).send().await.map_err(transport)?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(transport)?;
    Ok((status, body.trim().to_string()))
}

fn parse_fields(body: &str) -> std::collections::BTreeMap<String, String> {
    serde_urlencoded::from_str(body).unwrap_or_default()
}
