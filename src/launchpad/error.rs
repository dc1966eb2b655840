//! What can go wrong talking to Launchpad, split by who must act: the user (not found, rejected),
//! whoever holds the credentials (unauthorized), Launchpad (server errors), the network (timeout,
//! transport), or the engine (outcome unknown: a `requestBuilds` that may or may not have
//! happened). Launchpad's `text/plain` message is kept wherever it sent one.

use std::time::Duration;

use super::models::{upload_refusal, ALREADY_PENDING};

/// A refusal Launchpad words in a way the bot acts on: an outcome, not a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `scheduleRegistryUpload`: the recipe pushes nowhere.
    UploadNotConfigured,
    /// `scheduleRegistryUpload`: the build has no files (it did not build).
    NothingToUpload,
    /// `scheduleRegistryUpload`: an upload is already waiting or running.
    UploadInProgress,
    /// `scheduleRegistryUpload`: done already.
    AlreadyUploaded,
    /// `retry`: the build is not in a retryable state.
    CannotBeRetried,
    /// `requestBuilds` (as a build request's error): every architecture is already queued.
    AlreadyPending,
}

impl Refusal {
    /// Recognises Launchpad's message for one of the known refusals.
    pub fn from_message(message: &str) -> Option<Refusal> {
        let message = message.trim();
        match message {
            upload_refusal::NOT_CONFIGURED => Some(Refusal::UploadNotConfigured),
            upload_refusal::NO_FILES => Some(Refusal::NothingToUpload),
            upload_refusal::IN_PROGRESS => Some(Refusal::UploadInProgress),
            upload_refusal::ALREADY_UPLOADED => Some(Refusal::AlreadyUploaded),
            ALREADY_PENDING => Some(Refusal::AlreadyPending),
            _ if message.starts_with("Build ") && message.ends_with(" cannot be retried.") => {
                Some(Refusal::CannotBeRetried)
            }
            _ => None,
        }
    }
}

/// A failed Launchpad request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchpadError {
    /// 404: the recipe, build or request does not exist (or is private).
    #[error("Launchpad has nothing at {url}")]
    NotFound {
        /// The URL asked for.
        url: String,
    },
    /// 401: the credentials are missing, wrong, expired, or may not do this.
    #[error("Launchpad refused the request: {message}")]
    Unauthorized {
        /// Launchpad's message, with any token key in it redacted.
        message: String,
    },
    /// 400, 403, 409, ...: Launchpad understood and said no.
    #[error("Launchpad rejected the request ({status}): {message}")]
    Rejected {
        /// The status code.
        status: u16,
        /// Launchpad's message.
        message: String,
        /// The refusal, if it is one the bot acts on.
        refusal: Option<Refusal>,
    },
    /// 5xx, after the retries allowed.
    #[error("Launchpad failed ({status}{}): {message}", oops_id.as_ref().map(|id| format!(", {id}")).unwrap_or_default())]
    Server {
        /// The status code.
        status: u16,
        /// Launchpad's `X-Lazr-OopsId`, to quote to its admins.
        oops_id: Option<String>,
        /// The body (for a 500, only the exception's class name).
        message: String,
    },
    /// No answer within the per-request timeout, after the retries allowed.
    #[error("no answer from Launchpad within {timeout:?} for {url}")]
    Timeout {
        /// The URL asked.
        url: String,
        /// The per-request timeout.
        timeout: Duration,
    },
    /// The connection failed, after the retries allowed.
    #[error("could not talk to Launchpad at {url}: {message}")]
    Transport {
        /// The URL asked.
        url: String,
        /// What the network said.
        message: String,
    },
    /// `requestBuilds` was sent and no clear answer came back: builds may or may not have been
    /// requested. Never retried blindly; the engine reconciles (Launchpad dedupes a second
    /// request with "already pending").
    #[error(
        "requestBuilds was sent to {url} but {cause}; whether builds were requested is unknown"
    )]
    OutcomeUnknown {
        /// The recipe.
        url: String,
        /// What happened instead of an answer.
        cause: String,
    },
    /// The answer was not what Launchpad's API documents.
    #[error("Launchpad's answer from {url} did not decode: {message}")]
    Decode {
        /// The URL asked.
        url: String,
        /// What did not fit, naming the field.
        message: String,
    },
}

impl LaunchpadError {
    /// The refusal behind a rejection, if it is one the bot acts on.
    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            LaunchpadError::Rejected { refusal, .. } => *refusal,
            _ => None,
        }
    }

    /// Whether trying again later may help (network and server trouble), as opposed to an
    /// answer that will not change.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            LaunchpadError::Server { .. }
                | LaunchpadError::Timeout { .. }
                | LaunchpadError::Transport { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launchpads_refusal_messages_are_recognised() {
        for (message, refusal) in [
            (upload_refusal::NOT_CONFIGURED, Refusal::UploadNotConfigured),
            (upload_refusal::NO_FILES, Refusal::NothingToUpload),
            (upload_refusal::IN_PROGRESS, Refusal::UploadInProgress),
            (upload_refusal::ALREADY_UPLOADED, Refusal::AlreadyUploaded),
            ("Build 1234 cannot be retried.", Refusal::CannotBeRetried),
            (ALREADY_PENDING, Refusal::AlreadyPending),
        ] {
            assert_eq!(Refusal::from_message(message), Some(refusal), "{message}");
        }
        assert_eq!(
            Refusal::from_message("score: Required input is missing."),
            None
        );
    }
}
