//! Launchpad's OCI objects as its web service spells them. This is the one place Launchpad's
//! strings (`"Failed to upload"`) appear: everything else matches on the enums. A value Launchpad
//! adds later decodes as `Unknown(text)` instead of failing, and fields this client does not use
//! are ignored, so a change on Launchpad's side degrades one answer rather than every one.
//!
//! Field names and enum titles: `reference/launchpad-oci-devel.wadl`, `oci_recipe-full`,
//! `oci_recipe_build_request-full`, `oci_recipe_build-full`, `webhook-full`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod status;

pub use status::{BuildState, RequestStatus, UploadStatus};

impl From<BuildState> for String {
    fn from(state: BuildState) -> String {
        state.as_str().to_string()
    }
}

impl From<UploadStatus> for String {
    fn from(status: UploadStatus) -> String {
        status.as_str().to_string()
    }
}

impl From<RequestStatus> for String {
    fn from(status: RequestStatus) -> String {
        status.as_str().to_string()
    }
}

/// The `resource_type_link` fragments of the OCI types, as in `<api root>#oci_recipe`.
pub mod resource_type {
    /// An OCI recipe.
    pub const RECIPE: &str = "oci_recipe";
    /// A build request.
    pub const BUILD_REQUEST: &str = "oci_recipe_build_request";
    /// A build.
    pub const BUILD: &str = "oci_recipe_build";
    /// A webhook.
    pub const WEBHOOK: &str = "webhook";
}

/// The webhook event type for OCI recipe builds (the manual's spellings are wrong).
pub const OCI_BUILD_EVENT: &str = "oci-recipe:build:0.1";

/// The body of an `oci-recipe:build:0.1` delivery (`reference/launchpad-api.md` §1.8), or of a
/// ping (`{"ping": true}`), read leniently: a delivery is only a hint, so a field that is missing
/// or not a string is `None`, and a body that is not an object has no fields at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildPayload {
    /// `"ping": true`: a ping, not a delivery.
    pub ping: bool,
    /// The build's path, `/~OWNER/PILLAR/+oci/PROJECT/+recipe/NAME/+build/N`.
    pub recipe_build: Option<String>,
    /// Its build request's path, when Launchpad knows it.
    pub build_request: Option<String>,
    /// `created` or `status-changed`.
    pub action: Option<String>,
    /// The build's state, as Launchpad spells it.
    pub status: Option<String>,
    /// Its registry upload's status, as Launchpad spells it.
    pub registry_upload_status: Option<String>,
}

impl BuildPayload {
    /// The payload's fields from a body already read as JSON.
    pub fn from_json(body: &serde_json::Value) -> BuildPayload {
        let text = |field: &str| body.get(field).and_then(|v| v.as_str()).map(str::to_string);
        BuildPayload {
            ping: body.get("ping") == Some(&serde_json::Value::Bool(true)),
            recipe_build: text("recipe_build"),
            build_request: text("build_request"),
            action: text("action"),
            status: text("status"),
            registry_upload_status: text("registry_upload_status"),
        }
    }
}

/// The 400 messages `scheduleRegistryUpload` answers with, in the order Launchpad checks them.
pub mod upload_refusal {
    /// The recipe has no push rules and no distribution credentials.
    pub const NOT_CONFIGURED: &str =
        "Cannot upload this build to registries because the recipe is not properly configured.";
    /// The build produced no files (it did not build).
    pub const NO_FILES: &str = "Cannot upload this build because it has no files.";
    /// An upload is waiting or running.
    pub const IN_PROGRESS: &str = "An upload of this build is already in progress.";
    /// Done already.
    pub const ALREADY_UPLOADED: &str =
        "Cannot upload this build because it has already been uploaded.";
}

/// `requestBuilds`' failure when every architecture already has a queued build.
pub const ALREADY_PENDING: &str = "An identical build of this OCI recipe is already pending.";

/// `retry`'s 400 message for a build that cannot be retried.
pub fn cannot_be_retried(build_id: u64) -> String {
    format!("Build {build_id} cannot be retried.")
}

/// An OCI recipe (`oci_recipe`); the fields the bot uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Recipe {
    /// Its API URL.
    pub self_link: String,
    /// Its web page.
    pub web_link: String,
    /// Its name.
    pub name: String,
    /// The image name pushed to registries.
    pub image_name: Option<String>,
    /// Its architectures, as a collection of processors.
    pub processors_collection_link: String,
    /// Its webhooks.
    pub webhooks_collection_link: String,
    /// Stored by Launchpad, and unused: OCI recipes are never built daily.
    #[serde(default)]
    pub build_daily: bool,
    /// The entry's ETag.
    pub http_etag: Option<String>,
}

/// A build request (`oci_recipe_build_request`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BuildRequest {
    /// Its API URL.
    pub self_link: String,
    /// Its web page.
    pub web_link: String,
    /// Pending, Completed or Failed.
    pub status: RequestStatus,
    /// Why it failed, when it did.
    pub error_message: Option<String>,
    /// The builds it made, once Completed.
    pub builds_collection_link: String,
    /// The recipe.
    pub recipe_link: String,
    /// When it was asked for.
    pub date_requested: Option<DateTime<Utc>>,
    /// When it completed or failed.
    pub date_finished: Option<DateTime<Utc>>,
    /// The entry's ETag.
    pub http_etag: Option<String>,
}

/// One error from the registry, in the Docker registry's format.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct RegistryError {
    /// `MANIFEST_INVALID`, `DENIED`, ...
    #[serde(default)]
    pub code: Option<String>,
    /// What the registry said.
    #[serde(default)]
    pub message: Option<String>,
    /// More, in any shape.
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

/// A build (`oci_recipe_build`); the fields the bot uses.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Build {
    /// Its API URL.
    pub self_link: String,
    /// Its web page.
    pub web_link: String,
    /// The architecture (`arm64`).
    pub arch_tag: String,
    /// Where the build is.
    pub buildstate: BuildState,
    /// Where its registry upload is.
    pub registry_upload_status: UploadStatus,
    /// One line on why the upload failed.
    pub registry_upload_error_summary: Option<String>,
    /// The registries' errors, in whatever shape Launchpad sent them ([`UploadErrors`]).
    #[serde(default)]
    pub registry_upload_errors: UploadErrors,
    /// Whether `retry` would be accepted.
    pub can_be_retried: bool,
    /// Whether `cancel` would do anything.
    pub can_be_cancelled: bool,
    /// The recipe.
    pub recipe_link: String,
    /// Who requested it.
    #[serde(default)]
    pub requester_link: Option<String>,
    /// `"<arch> build of <recipe path>"`.
    #[serde(default)]
    pub title: String,
    /// The build log, once there is one.
    pub build_log_url: Option<String>,
    /// What Launchpad logged taking the build's files in, when that failed (the build state
    /// `Failed to upload`: not a registry upload, and not in the build log).
    #[serde(default)]
    pub upload_log_url: Option<String>,
    /// When it was created.
    pub datecreated: Option<DateTime<Utc>>,
    /// When a builder started it.
    pub date_started: Option<DateTime<Utc>>,
    /// When it finished.
    pub datebuilt: Option<DateTime<Utc>>,
    /// The entry's ETag.
    pub http_etag: Option<String>,
}

/// A build's `registry_upload_errors`. Launchpad stores whatever its upload job's exception
/// carried (`reference/launchpad-truths.md`, "Registry uploads"): `[]` (or `null`) without
/// registry errors; a list of the Docker registry's error objects when one push rule failed;
/// one item per failed push rule, each a list of them or `null`, when several did
/// (`MultipleOCIRegistryError`). Every shape decodes, by push rule; anything else in it is kept
/// as text rather than failing the whole build. People are shown the summary
/// (`registry_upload_error_summary`); these are for logs and counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadErrors {
    /// Per failed push rule, its registry's errors (`None`: the registry sent none).
    pub per_rule: Vec<Option<Vec<RegistryError>>>,
}

impl UploadErrors {
    /// Every error of every push rule.
    pub fn all(&self) -> impl Iterator<Item = &RegistryError> {
        self.per_rule.iter().flatten().flatten()
    }

    fn from_value(value: serde_json::Value) -> UploadErrors {
        use serde_json::Value;
        let error = |value: Value| match value {
            Value::Object(_) => serde_json::from_value(value).unwrap_or(RegistryError {
                code: None,
                message: None,
                detail: None,
            }),
            other => RegistryError {
                code: None,
                message: Some(match other {
                    Value::String(text) => text,
                    other => other.to_string(),
                }),
                detail: None,
            },
        };
        let items = match value {
            Value::Null => return UploadErrors::default(),
            Value::Array(items) => items,
            other => vec![other],
        };
        // One push rule's list of error objects, or one item per push rule?
        if items
            .iter()
            .any(|item| matches!(item, Value::Array(_) | Value::Null))
        {
            let per_rule = items
                .into_iter()
                .map(|item| match item {
                    Value::Null => None,
                    Value::Array(errors) => Some(errors.into_iter().map(error).collect()),
                    other => Some(vec![error(other)]),
                })
                .collect();
            UploadErrors { per_rule }
        } else if items.is_empty() {
            UploadErrors::default()
        } else {
            UploadErrors {
                per_rule: vec![Some(items.into_iter().map(error).collect())],
            }
        }
    }
}

impl<'de> Deserialize<'de> for UploadErrors {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<UploadErrors, D::Error> {
        serde_json::Value::deserialize(deserializer).map(UploadErrors::from_value)
    }
}

/// An architecture of a distribution series (`distro_arch_series`): whether Launchpad can
/// build on it now.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DistroArchSeries {
    /// Its API URL.
    pub self_link: String,
    /// `amd64`, ...
    pub architecture_tag: String,
    /// Whether builds may be dispatched to it.
    #[serde(default)]
    pub enabled: bool,
    /// Its chroot; without one nothing can be built on it.
    #[serde(default)]
    pub chroot_url: Option<String>,
}

impl DistroArchSeries {
    /// Whether Launchpad builds on it (`getAllowedArchitectures`: enabled, with a chroot).
    pub fn is_buildable(&self) -> bool {
        self.enabled && self.chroot_url.is_some()
    }
}

/// A webhook on a recipe.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Webhook {
    /// Its API URL.
    pub self_link: String,
    /// Its deliveries, newest first.
    #[serde(default)]
    pub deliveries_collection_link: Option<String>,
    /// Where deliveries go.
    pub delivery_url: String,
    /// The event types it delivers.
    pub event_types: Vec<String>,
    /// Whether it delivers at all.
    pub active: bool,
}

/// One delivery of a webhook (`webhook_delivery`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct WebhookDelivery {
    /// Its API URL.
    pub self_link: String,
    /// `oci-recipe:build:0.1`, `ping`.
    pub event_type: String,
    /// Whether another attempt is to come.
    pub pending: bool,
    /// Whether the last attempt worked; `None` before the first.
    pub successful: Option<bool>,
    /// What went wrong with the last attempt (`Bad HTTP response: 401`).
    pub error_message: Option<String>,
    /// When it was made.
    #[serde(default)]
    pub date_created: Option<DateTime<Utc>>,
}

/// One page of a collection.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Page<T> {
    /// The index of the first entry.
    #[serde(default)]
    pub start: usize,
    /// How many entries the whole collection has, when Launchpad says.
    pub total_size: Option<usize>,
    /// This page's entries.
    pub entries: Vec<T>,
    /// The next page; absent on the last.
    pub next_collection_link: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_round_trips_through_its_launchpad_title() {
        for state in BuildState::ALL {
            assert_eq!(BuildState::from(String::from(state.clone())), state);
        }
        for status in UploadStatus::ALL {
            assert_eq!(UploadStatus::from(String::from(status.clone())), status);
        }
        for status in RequestStatus::ALL {
            assert_eq!(RequestStatus::from(String::from(status.clone())), status);
        }
    }

    #[test]
    fn every_shape_of_registry_upload_errors_decodes_by_push_rule() {
        let decode = |text: &str| serde_json::from_str::<UploadErrors>(text).unwrap();
        assert_eq!(decode("null"), UploadErrors::default());
        assert_eq!(decode("[]"), UploadErrors::default());
        let denied = r#"{"code": "DENIED", "message": "denied", "detail": {"x": 1}}"#;
        let one = decode(&format!("[{denied}]"));
        assert_eq!(one.per_rule.len(), 1);
        assert_eq!(one.all().next().unwrap().code.as_deref(), Some("DENIED"));
        let several = decode(&format!("[[{denied}], null, [{denied}, {denied}]]"));
        assert_eq!(several.per_rule.len(), 3);
        assert!(several.per_rule[1].is_none());
        assert_eq!(several.all().count(), 3);
        let odd = decode(r#"["a string", 7]"#);
        assert_eq!(odd.all().count(), 2, "kept as text, not a failure");
    }

    #[test]
    fn unknown_titles_decode_instead_of_failing() {
        let state: BuildState = serde_json::from_str("\"Exploded\"").unwrap();
        assert_eq!(state, BuildState::Unknown("Exploded".into()));
        assert!(
            !state.is_final(),
            "an unknown state is watched, not given up on"
        );
    }
}
