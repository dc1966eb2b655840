//! The simulator's OAuth: the tokens it knows, the check every API request goes through, and the
//! three pages of the token dance (`+request-token`, `+authorize-token`, `+access-token`) with
//! Launchpad's answers and messages (`reference/launchpad-api.md` §3).

use std::collections::BTreeMap;

use axum::http::{HeaderMap, StatusCode};

use crate::launchpad::auth::parse_authorization;
use crate::secret::Secret;

/// The access level a token grants, as Launchpad names it.
pub type Permission = String;

/// An access token.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// Its secret.
    pub secret: Secret,
    /// The consumer it was issued to.
    pub consumer: String,
    /// `WRITE_PUBLIC`, `READ_PUBLIC`, ...
    pub permission: Permission,
    /// The person it acts for.
    pub person: String,
}

/// Where a request token is in the dance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Review {
    /// The user has not decided.
    Unreviewed,
    /// The user allowed this level.
    Authorized(Permission),
    /// The user said no.
    Refused,
    /// Exchanged already (request tokens are single use).
    Used,
}

/// A request token.
#[derive(Debug, Clone)]
pub struct RequestToken {
    /// Its secret.
    pub secret: Secret,
    /// The consumer that asked.
    pub consumer: String,
    /// The user's decision.
    pub review: Review,
}

/// Every token the simulator knows, by key.
#[derive(Debug, Default)]
pub struct Tokens {
    /// Access tokens.
    pub access: BTreeMap<String, AccessToken>,
    /// Request tokens.
    pub request: BTreeMap<String, RequestToken>,
}

/// Who is calling the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No token: reads only.
    Anonymous,
    /// A token with this permission, acting for this person.
    Token {
        /// `WRITE_PUBLIC`, ...
        permission: Permission,
        /// Who.
        person: String,
    },
}

impl Caller {
    /// Whether the caller may change things.
    pub fn may_write(&self) -> bool {
        matches!(self, Caller::Token { permission, .. } if permission.starts_with("WRITE_"))
    }

    /// The person calling, if any.
    pub fn person(&self) -> Option<&str> {
        match self {
            Caller::Anonymous => None,
            Caller::Token { person, .. } => Some(person),
        }
    }
}

/// A refusal: status and Launchpad's text.
pub type Refusal = (StatusCode, String);

fn unauthorized(message: impl Into<String>) -> Refusal {
    (StatusCode::UNAUTHORIZED, message.into())
}

impl Tokens {
    /// Checks an API request's OAuth the way Launchpad does: PLAINTEXT only (401 "Invalid
    /// signature." otherwise, after the consumer and token are checked); no token means
    /// anonymous; a token must exist for that consumer, not be unauthorized, and be signed
    /// `&SECRET` (consumer secret empty). Nonce, timestamp and realm are ignored.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, Refusal> {
        let Some(header) = headers.get("authorization") else {
            let agent = headers
                .get("user-agent")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            return if agent.is_empty() {
                Err(unauthorized("No consumer key specified."))
            } else {
                Ok(Caller::Anonymous)
            };
        };
        let params = header
            .to_str()
            .ok()
            .and_then(parse_authorization)
            .ok_or_else(|| unauthorized("Invalid Authorization header."))?;
        let get = |key: &str| {
            params
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value.as_str())
                .unwrap_or_default()
        };
        let consumer = get("oauth_consumer_key");
        if consumer.is_empty() {
            return Err(unauthorized("No consumer key specified."));
        }
        let key = get("oauth_token");
        if key.is_empty() {
            return Ok(Caller::Anonymous);
        }
        let token = self
            .access
            .get(key)
            .filter(|token| token.consumer == consumer)
            .ok_or_else(|| unauthorized(format!("Unknown access token ({key}).")))?;
        if token.permission == "UNAUTHORIZED" {
            return Err(unauthorized(format!("Unauthorized token ({key}).")));
        }
        // Another signature method is refused like a wrong signature, once the consumer and
        // token are known (`lib/lp/services/webapp/servers.py:1497-1507`,
        // `authentication.py:337-341`).
        let plaintext = get("oauth_signature_method") == "PLAINTEXT";
        if !plaintext || get("oauth_signature") != format!("&{}", token.secret.expose()) {
            return Err(unauthorized("Invalid signature."));
        }
        Ok(Caller::Token {
            permission: token.permission.clone(),
            person: token.person.clone(),
        })
    }

    /// Issues an access token acting for `person`.
    pub fn issue(
        &mut self,
        key: String,
        secret: String,
        consumer: &str,
        permission: &str,
        person: &str,
    ) {
        self.access.insert(
            key,
            AccessToken {
                secret: Secret::new(secret),
                consumer: consumer.to_string(),
                permission: permission.to_string(),
                person: person.to_string(),
            },
        );
    }

    /// `+access-token`: exchanges an authorized request token for an access token, whose key
    /// and secret the caller supplies. Returns the response body.
    pub fn exchange(
        &mut self,
        form: &BTreeMap<String, String>,
        new_key: String,
        new_secret: String,
    ) -> Result<String, Refusal> {
        let get = |key: &str| form.get(key).map(String::as_str).unwrap_or_default();
        let key = get("oauth_token");
        if key.is_empty() {
            return Err(unauthorized("No request token specified."));
        }
        let token = self
            .request
            .get_mut(key)
            .filter(|token| token.consumer == get("oauth_consumer_key"))
            .ok_or_else(|| unauthorized("No request token specified."))?;
        if get("oauth_signature") != format!("&{}", token.secret.expose()) {
            return Err(unauthorized("Invalid OAuth signature."));
        }
        let permission = match &token.review {
            Review::Unreviewed => {
                return Err(unauthorized(
                    "Request token has not yet been reviewed. Try again later.",
                ))
            }
            Review::Refused => {
                return Err((
                    StatusCode::FORBIDDEN,
                    "End-user refused to authorize request token.".into(),
                ))
            }
            Review::Used => return Err(unauthorized("No request token specified.")),
            Review::Authorized(permission) => permission.clone(),
        };
        token.review = Review::Used;
        let consumer = token.consumer.clone();
        // The simulator's login pages are "used" by its one user.
        let person = super::world::SIM_USER;
        self.issue(
            new_key.clone(),
            new_secret.clone(),
            &consumer,
            &permission,
            person,
        );
        Ok(format!(
            "oauth_token={new_key}&oauth_token_secret={new_secret}&lp.context=None"
        ))
    }

    /// Records the user's decision on a request token; `false` if there is no such token.
    pub fn review(&mut self, key: &str, review: Review) -> bool {
        match self.request.get_mut(key) {
            Some(token) if token.review == Review::Unreviewed => {
                token.review = review;
                true
            }
            _ => false,
        }
    }
}
