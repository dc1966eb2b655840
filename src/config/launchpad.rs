//! The `[launchpad]` section: where Launchpad is, who owns the recipes, how the client paces and
//! retries, and its checks.

use serde::Deserialize;

use super::{at_most, check_http_url, check_name, problem, Problem};

/// Where Launchpad is, and whose recipes the bot drives.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Launchpad {
    /// The web service root, with its version: `https://api.launchpad.net/devel/`. OCI recipes
    /// exist only in the `devel` version of the API.
    pub api_root: String,
    /// The web site root, for links people click and for the OAuth pages `login` opens:
    /// `https://launchpad.net/`.
    pub web_root: String,
    /// The team that owns the recipes (`~OWNER` in a recipe path).
    pub owner: String,
    /// The project or distribution the images are OCI projects of.
    pub pillar: String,
    /// The recipe name of an image × series, from `{image}`, `{track}` and `{series}`. An image
    /// may override it (`images.NAME.recipe_name_template`), an image × series may name its
    /// recipe outright (`images.NAME.recipe_names`).
    #[serde(default = "default_recipe_name_template")]
    pub recipe_name_template: String,
    /// The credentials file `image-builder login` writes and the bot reads (launchpadlib's
    /// format, mode 0600). Default: `$XDG_CONFIG_HOME/image-builder/launchpad-credentials`, or
    /// `~/.config/image-builder/launchpad-credentials`. Without the file the bot reads
    /// anonymously and cannot build.
    #[serde(default)]
    pub credentials_file: Option<std::path::PathBuf>,
    /// Launchpad requests in flight at once, across every job. Launchpad is shared by everyone;
    /// eight keeps a mass rebuild quick without hammering it.
    #[serde(default = "default_max_concurrent_requests")]
    pub max_concurrent_requests: usize,
    /// How long one request may take, in seconds, before it counts as failed.
    #[serde(default = "default_request_timeout_seconds")]
    pub request_timeout_seconds: u64,
    /// Attempts per request for what may be retried (5xx, timeouts), the first included.
    #[serde(default = "default_retry_attempts")]
    pub retry_attempts: u32,
    /// How long one request may go on retrying, in seconds, before its error is reported.
    #[serde(default = "default_retry_total_seconds")]
    pub retry_total_seconds: u64,
}

fn default_recipe_name_template() -> String {
    "{image}-{track}-{series}".to_string()
}

fn default_max_concurrent_requests() -> usize {
    8
}

fn default_request_timeout_seconds() -> u64 {
    30
}

fn default_retry_attempts() -> u32 {
    5
}

fn default_retry_total_seconds() -> u64 {
    120
}

impl Launchpad {
    /// The client settings these keys describe, with `credentials` (`None`: anonymous).
    pub fn client_settings(
        &self,
        credentials: Option<crate::launchpad::auth::Credentials>,
    ) -> crate::launchpad::ClientSettings {
        let mut settings = crate::launchpad::ClientSettings::new(self.api_root.clone());
        settings.credentials = credentials;
        settings.max_concurrent_requests = self.max_concurrent_requests;
        settings.request_timeout = std::time::Duration::from_secs(self.request_timeout_seconds);
        settings.retry.max_attempts = self.retry_attempts;
        settings.retry.total = std::time::Duration::from_secs(self.retry_total_seconds);
        settings
    }
}

pub(super) fn validate_launchpad(mut launchpad: Launchpad) -> Result<Launchpad, Problem> {
    for (key, url) in [
        ("launchpad.api_root", &mut launchpad.api_root),
        ("launchpad.web_root", &mut launchpad.web_root),
    ] {
        check_http_url(key, url)?;
        // OAuth PLAINTEXT sends the token secret in every request: only over TLS, or to
        // this machine (the simulator, a local proxy).
        if url.starts_with("http://") && !is_loopback_url(url) {
            return Err(problem(
                key,
                format!("`{url}` is plain http: credentials would cross the network in clear; use https (http only for 127.0.0.1, ::1 or localhost)"),
            ));
        }
        // Recipe paths are joined onto the roots, so each root ends in exactly one slash.
        if !url.ends_with('/') {
            url.push('/');
        }
    }
    for (key, value) in [
        (
            "launchpad.max_concurrent_requests",
            launchpad.max_concurrent_requests as u64,
        ),
        (
            "launchpad.request_timeout_seconds",
            launchpad.request_timeout_seconds,
        ),
        (
            "launchpad.retry_attempts",
            u64::from(launchpad.retry_attempts),
        ),
        (
            "launchpad.retry_total_seconds",
            launchpad.retry_total_seconds,
        ),
    ] {
        if value == 0 {
            return Err(problem(key, "must be at least 1"));
        }
    }
    for (key, value, most) in [
        (
            "launchpad.max_concurrent_requests",
            launchpad.max_concurrent_requests as u64,
            256,
        ),
        (
            "launchpad.request_timeout_seconds",
            launchpad.request_timeout_seconds,
            600,
        ),
        (
            "launchpad.retry_attempts",
            u64::from(launchpad.retry_attempts),
            100,
        ),
        (
            "launchpad.retry_total_seconds",
            launchpad.retry_total_seconds,
            3600,
        ),
    ] {
        at_most(key, value, most)?;
    }
    check_name("launchpad.owner", &launchpad.owner)?;
    check_name("launchpad.pillar", &launchpad.pillar)?;
    Ok(launchpad)
}

/// Whether an http(s) URL's host is this machine.
pub(super) fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
