//! Registry uploads in the simulator: a recipe's push rules, and what Launchpad records when
//! pushes fail (`reference/launchpad-truths.md`, "Registry uploads"). Launchpad pushes to
//! every push rule in turn (`ociregistryclient.py` `upload`): one failing push raises its own
//! exception, several raise `MultipleOCIRegistryError`, whose summary joins theirs with " / "
//! and whose `errors` has one item per failed push that was a registry error (each a list of
//! the registry's error objects, or `null`). The upload job stores the summary and `errors`
//! (`ocirecipebuildjob.py`: `None` for an exception that is not a registry error), and the
//! build exports `errors or []` (`ocirecipebuild.py`). The field is declared a list of dicts
//! (`interfaces/ocirecipebuild.py:295-307`) and lazr.restful's dict marshaller calls `.items()`
//! on every item: an item that is itself a list raises, so a build whose several failed pushes
//! left registry errors cannot be rendered at all (500, entry and collections) until a new
//! upload job replaces the errors; `[null, null]` renders.

use serde_json::{json, Value};

use super::scenario::{Outcome, UploadError};

/// A push rule of a simulated recipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRule {
    /// The registry.
    pub registry_url: String,
    /// The image's name there.
    pub image_name: String,
}

/// How a build's failing uploads fail, copied from the scenario's outcome when it is made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailureMode {
    /// The registries whose push fails; all when `None`.
    pub registries: Option<Vec<String>>,
    /// How each failing push fails.
    pub error: UploadError,
    /// `null` instead of `[]` when there are no errors.
    pub null_errors: bool,
}

impl From<&Outcome> for FailureMode {
    fn from(outcome: &Outcome) -> FailureMode {
        FailureMode {
            registries: outcome.failing_registries.clone(),
            error: outcome.upload_error,
            null_errors: outcome.null_errors,
        }
    }
}

/// What Launchpad records of a failed upload.
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    /// `registry_upload_error_summary`.
    pub summary: String,
    /// `registry_upload_errors`, as it is exported.
    pub errors: Value,
    /// Whether the entry cannot be shown (500): an item of the errors is a list.
    pub unreadable: bool,
}

/// The exported `registry_upload_errors` of a build with no errors.
pub fn no_errors(mode: &FailureMode) -> Value {
    if mode.null_errors {
        Value::Null
    } else {
        json!([])
    }
}

/// The failure of an upload of build `id` of recipe `recipe_name` to `rules`, as `mode`
/// says; `None` when none of the failing registries is among the rules (then it works).
pub fn fail(rules: &[PushRule], mode: &FailureMode, recipe_name: &str, id: u64) -> Option<Failed> {
    let failing: Vec<&PushRule> = rules
        .iter()
        .filter(|rule| {
            mode.registries
                .as_ref()
                .is_none_or(|wanted| wanted.contains(&rule.registry_url))
        })
        .collect();
    // Each failing push: its exception's text, and its `errors` if it is a registry error.
    let pushes: Vec<(String, Option<Value>, bool)> = failing
        .iter()
        .map(|rule| match mode.error {
            UploadError::Denied => (
                format!(
                    "Upload of sha256:{:064x} for {} failed",
                    id, rule.image_name
                ),
                Some(json!([{
                    "code": "DENIED",
                    "message": "requested access to the resource is denied",
                    "detail": null,
                }])),
                true,
            ),
            UploadError::Manifest => (
                format!("Failed to upload manifest for {recipe_name} in {id}"),
                None,
                true,
            ),
            UploadError::Unreachable => (
                format!(
                    "HTTPSConnectionPool(host='{}', port=443): Max retries exceeded with url: /v2/ \
                     (Caused by NewConnectionError('<urllib3.connection.HTTPSConnection object>: \
                     Failed to establish a new connection: [Errno 111] Connection refused'))",
                    host(&rule.registry_url)
                ),
                None,
                false,
            ),
        })
        .collect();
    let (summary, errors, unreadable) = match pushes.as_slice() {
        [] => return None,
        [(summary, errors, _)] => (summary.clone(), errors.clone(), false),
        several => {
            let summary = several
                .iter()
                .map(|(summary, _, _)| summary.as_str())
                .collect::<Vec<_>>()
                .join(" / ");
            let per_rule: Vec<Value> = several
                .iter()
                .filter(|(_, _, registry_error)| *registry_error)
                .map(|(_, errors, _)| errors.clone().unwrap_or(Value::Null))
                .collect();
            // lazr's dict marshaller fails on an item that is a list (`null` items render).
            let unreadable = per_rule.iter().any(Value::is_array);
            (summary, Some(Value::Array(per_rule)), unreadable)
        }
    };
    // `(job and job.errors) or []`: `None` and an empty list are exported alike.
    let errors = match errors {
        Some(Value::Array(items)) if items.is_empty() => no_errors(mode),
        Some(errors) => errors,
        None => no_errors(mode),
    };
    Some(Failed {
        summary,
        errors,
        unreadable,
    })
}

fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<PushRule> {
        ["https://registry-1.docker.io", "https://public.ecr.aws"]
            .iter()
            .zip(["ubuntu/redis", "lts/redis"])
            .map(|(url, name)| PushRule {
                registry_url: url.to_string(),
                image_name: name.to_string(),
            })
            .collect()
    }

    #[test]
    fn one_failing_push_records_its_own_errors() {
        let mode = FailureMode {
            registries: Some(vec!["https://public.ecr.aws".into()]),
            ..FailureMode::default()
        };
        let failed = fail(&rules(), &mode, "redis-6.2-22.04", 7).unwrap();
        assert!(
            failed.summary.ends_with("for lts/redis failed"),
            "{}",
            failed.summary
        );
        assert_eq!(failed.errors[0]["code"], "DENIED");
        assert!(!failed.unreadable);
    }

    #[test]
    fn several_failing_pushes_record_errors_per_push_rule_and_join_summaries() {
        let failed = fail(&rules(), &FailureMode::default(), "redis-6.2-22.04", 7).unwrap();
        assert!(
            failed.summary.contains("ubuntu/redis failed / Upload of"),
            "{}",
            failed.summary
        );
        assert_eq!(failed.errors.as_array().unwrap().len(), 2);
        assert_eq!(failed.errors[1][0]["code"], "DENIED");
        assert!(failed.unreadable);
        let manifests = FailureMode {
            error: UploadError::Manifest,
            ..FailureMode::default()
        };
        let failed = fail(&rules(), &manifests, "redis-6.2-22.04", 7).unwrap();
        assert_eq!(failed.errors, json!([null, null]));
        assert!(!failed.unreadable, "[null, null] renders");
    }

    #[test]
    fn a_push_that_is_not_a_registry_error_records_no_errors() {
        let mode = FailureMode {
            error: UploadError::Unreachable,
            registries: Some(vec!["https://public.ecr.aws".into()]),
            ..FailureMode::default()
        };
        let failed = fail(&rules(), &mode, "redis-6.2-22.04", 7).unwrap();
        assert!(
            failed.summary.contains("host='public.ecr.aws'"),
            "{}",
            failed.summary
        );
        assert_eq!(failed.errors, json!([]));
        let null = FailureMode {
            null_errors: true,
            ..mode
        };
        assert_eq!(fail(&rules(), &null, "r", 7).unwrap().errors, Value::Null);
        let nowhere = FailureMode {
            registries: Some(vec!["https://elsewhere".into()]),
            ..FailureMode::default()
        };
        assert_eq!(fail(&rules(), &nowhere, "r", 7), None);
    }
}
