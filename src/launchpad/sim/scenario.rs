//! What the simulator should make happen: which builds fail, which uploads fail and how often,
//! and what trouble the network has. Tests build a [`Scenario`] in code; `image-builder sim
//! --scenario FILE` reads one from TOML, for example:
//!
//! ```toml
//! seed = 7
//!
//! [[outcomes]]          # the first rule that matches a new build decides its fate
//! image = "redis"       # any of image, series, arch may be left out: then it matches all
//! arch = "arm64"
//! upload_failures = 2   # the first two uploads fail, the third works; "always" never works
//!
//! [[outcomes]]
//! image = "squid"
//! series = "24.04"
//! build_failures = "always"
//!
//! [faults]
//! error_rate = 0.02     # share of API requests answered with error_status, before acting
//! error_status = 503
//! latency_ms = 150      # added to every API answer
//! drop_rate = 0.01      # share of API requests whose connection is dropped after acting
//! outage_start_minute = 30   # 503 with Retry-After for every API request ...
//! outage_minutes = 5         # ... from 30 to 35 simulated minutes after start
//! slow_operations = { "POST scheduleRegistryUpload" = 2000 }   # acts, answers 2 s later
//!
//! [[registries]]        # every recipe's push rules, in order (default: Docker Hub alone)
//! url = "https://registry-1.docker.io"
//! image_name = "ubuntu/{image}"
//! [[registries]]
//! url = "https://public.ecr.aws"
//! image_name = "lts/{image}"
//!
//! [[outcomes]]
//! image = "nginx"
//! upload_failures = 1
//! failing_registries = ["https://public.ecr.aws"]   # which pushes fail (default: all)
//! upload_error = "unreachable"   # "denied" (default), "manifest" or "unreachable"
//! # Pushes to several registries failing with registry errors make the build's entry answer
//! # 500 until its next upload, as on Launchpad: that is not a choice of the scenario.
//!
//! [[outcomes]]
//! image = "mysql"
//! processing_failures = 1   # Launchpad cannot take the files in: the build state
//!                           # `Failed to upload`, with an upload log
//!
//! [[outcomes]]
//! image = "squid"
//! build_failures = 1
//! build_log = "huge"    # "realistic" (default), "huge" (50 MB), "corrupt", "not_gzip", "missing"
//!
//! [[recipes]]           # a recipe whose processors are not the catalogue's architectures
//! image = "redis"
//! series = "20.04"      # every series of the image when left out
//! processors = ["amd64", "arm64"]
//!
//! without_chroot = ["riscv64"]   # architectures the current series cannot build
//!
//! [timing]              # seconds of simulated time, where not Launchpad's usual
//! queue_seconds = [1800, 2400]   # a busy build farm
//! build_seconds = [60, 120]
//! upload_seconds = [30, 60]
//!
//! [[foreign_builds]]    # a build nobody asked the bot for: a request from Launchpad's web UI
//! image = "postgres"
//! series = "22.04"
//! arch = "amd64"
//! after_minutes = 2
//! ```

use std::time::Duration;

use serde::Deserialize;

use crate::target::{Arch, ImageName, Series};

/// A scenario: outcomes, faults, and the seed that makes durations reproducible.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Seeds the simulator's durations and tokens.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Rules for new builds; the first match wins, no match means success.
    #[serde(default)]
    pub outcomes: Vec<Outcome>,
    /// Images whose recipes have no push rules (so `scheduleRegistryUpload` is refused).
    #[serde(default)]
    pub without_push_rules: Vec<ImageName>,
    /// Network and server trouble.
    #[serde(default)]
    pub faults: FaultRates,
    /// Builds nobody asked the bot for, made at a simulated time by a build request of someone
    /// else (Launchpad's web UI, another script). OCI recipes have no daily builds
    /// (`reference/launchpad-truths.md`, "Builds nobody asked the bot for"); `daily_builds`, the
    /// old name, is still read.
    #[serde(default, alias = "daily_builds")]
    pub foreign_builds: Vec<ForeignBuild>,
    /// The push rules every recipe has (but those of `without_push_rules`), in order. Several
    /// registries are the normal case for the team's images.
    #[serde(default = "default_registries")]
    pub registries: Vec<Registry>,
    /// Recipes whose processors differ from the catalogue's architectures for the image.
    #[serde(default)]
    pub recipes: Vec<RecipeRule>,
    /// Architectures the distribution's current series cannot build (no chroot): a request
    /// skips them even where a recipe's processors name them.
    #[serde(default)]
    pub without_chroot: Vec<Arch>,
    /// How long things take, where not Launchpad's usual.
    #[serde(default)]
    pub timing: TimingRule,
}

/// Durations other than the defaults (`world::Timing`), each `[shortest, longest]` seconds of
/// simulated time: a busy build farm queues longer, an idle one hardly at all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimingRule {
    /// How long a build waits for a builder.
    #[serde(default)]
    pub queue_seconds: Option<[u64; 2]>,
    /// How long a builder works on it.
    #[serde(default)]
    pub build_seconds: Option<[u64; 2]>,
    /// One registry upload.
    #[serde(default)]
    pub upload_seconds: Option<[u64; 2]>,
}

/// A recipe's processors, set on Launchpad apart from the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeRule {
    /// The image.
    pub image: ImageName,
    /// The series; every series of the image when absent.
    #[serde(default)]
    pub series: Option<Series>,
    /// Its processors.
    pub processors: Vec<Arch>,
}

/// A push rule: where a recipe's image is pushed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// The registry (`https://registry-1.docker.io`).
    pub url: String,
    /// The image's name there; `{image}` is the image (`ubuntu/{image}`).
    pub image_name: String,
}

fn default_registries() -> Vec<Registry> {
    vec![Registry {
        url: "https://registry-1.docker.io".to_string(),
        image_name: "ubuntu/{image}".to_string(),
    }]
}

/// How a failing push to one registry fails, which decides what Launchpad records
/// (`lib/lp/oci/model/ocirecipebuildjob.py`, `ociregistryclient.py`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadError {
    /// The registry refuses a blob and says why: an `OCIRegistryError` with the registry's
    /// error objects.
    #[default]
    Denied,
    /// The manifest upload fails: an `OCIRegistryError` without error objects.
    Manifest,
    /// No connection: not a registry error, so nothing but the summary is recorded.
    Unreachable,
}

/// A build made by someone else's build request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignBuild {
    /// The image.
    pub image: ImageName,
    /// The series.
    pub series: Series,
    /// The architecture.
    pub arch: Arch,
    /// Simulated minutes after start.
    #[serde(default)]
    pub after_minutes: u64,
}

fn default_seed() -> u64 {
    1
}

impl Default for Scenario {
    /// Everything works, every recipe pushes to Docker Hub, nothing else happens.
    fn default() -> Scenario {
        Scenario {
            seed: default_seed(),
            outcomes: Vec::new(),
            without_push_rules: Vec::new(),
            faults: FaultRates::default(),
            foreign_builds: Vec::new(),
            registries: default_registries(),
            recipes: Vec::new(),
            without_chroot: Vec::new(),
            timing: TimingRule::default(),
        }
    }
}

impl Scenario {
    /// Reads a scenario file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Scenario> {
        use anyhow::Context;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the scenario {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{}: not a valid scenario", path.display()))
    }
}

/// How often something fails before it works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(try_from = "FailuresSpec")]
pub enum Failures {
    /// This many times, then it works.
    Times(u32),
    /// Every time.
    Always,
    /// Never (the same as `Times(0)`).
    #[default]
    Never,
}

impl Failures {
    /// Uses up one failure: whether this attempt fails.
    pub fn take(&mut self) -> bool {
        match self {
            Failures::Always => true,
            Failures::Times(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum FailuresSpec {
    Count(u32),
    Word(String),
}

impl TryFrom<FailuresSpec> for Failures {
    type Error = String;

    fn try_from(spec: FailuresSpec) -> Result<Failures, String> {
        match spec {
            FailuresSpec::Count(0) => Ok(Failures::Never),
            FailuresSpec::Count(n) => Ok(Failures::Times(n)),
            FailuresSpec::Word(word) if word == "always" => Ok(Failures::Always),
            FailuresSpec::Word(word) => Err(format!(
                "`{word}`: expected a number of failures or \"always\""
            )),
        }
    }
}

/// The fate of the builds a rule matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outcome {
    /// Only this image's builds; all when absent.
    #[serde(default)]
    pub image: Option<ImageName>,
    /// Only this series'; all when absent.
    #[serde(default)]
    pub series: Option<Series>,
    /// Only this architecture's; all when absent.
    #[serde(default)]
    pub arch: Option<Arch>,
    /// How often the build fails (each `retry` is a new attempt).
    #[serde(default)]
    pub build_failures: Failures,
    /// How often its registry upload fails (each `scheduleRegistryUpload` is a new attempt).
    #[serde(default)]
    pub upload_failures: Failures,
    /// When an upload fails, the registries (`registries.url`) whose push fails; all when
    /// absent.
    #[serde(default)]
    pub failing_registries: Option<Vec<String>>,
    /// How each failing push fails.
    #[serde(default)]
    pub upload_error: UploadError,
    /// How often Launchpad fails to take the build's files in from the builder: the build
    /// *state* `Failed to upload` (not a registry upload), explained by its `upload_log_url`
    /// (`reference/launchpad-truths.md`, "Registry uploads"). Each `retry` is a new attempt.
    #[serde(default)]
    pub processing_failures: Failures,
    /// `registry_upload_errors` is `null` rather than `[]` when there are none. Launchpad's
    /// model says `[]` today (`(job and job.errors) or []`); the reference says a client must
    /// take `null` too, and this makes the simulator send it.
    #[serde(default)]
    pub null_errors: bool,
    /// What the librarian holds as the build's log: `"realistic"` (default), `"huge"` (50
    /// MB), `"corrupt"`, `"not_gzip"`, `"missing"` or `"hostile"` ([`super::buildlog`]).
    #[serde(default)]
    pub build_log: super::buildlog::LogKind,
}

impl Outcome {
    /// Whether the rule applies to a build of `image` for `series` on `arch`.
    pub fn matches(&self, image: Option<&ImageName>, series: Option<Series>, arch: &Arch) -> bool {
        self.image.as_ref().is_none_or(|want| Some(want) == image)
            && self.series.is_none_or(|want| Some(want) == series)
            && self.arch.as_ref().is_none_or(|want| want == arch)
    }
}

/// Random trouble on the API, for the sandbox and benchmarks. Tests that need a fault at an
/// exact request use [`super::Fault`]s injected on the simulator instead.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRates {
    /// The share (0 to 1) of API requests answered with `error_status`, without acting.
    #[serde(default)]
    pub error_rate: f64,
    /// The status of those answers (default 503).
    #[serde(default)]
    pub error_status: Option<u16>,
    /// Added to every API answer, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    /// The share (0 to 1) of API requests whose connection is dropped after they acted.
    #[serde(default)]
    pub drop_rate: f64,
    /// An outage: from this many simulated minutes after start, every API request is answered
    /// 503 with `Retry-After`, for `outage_minutes`.
    #[serde(default)]
    pub outage_start_minute: Option<u64>,
    /// How long the outage lasts, in simulated minutes.
    #[serde(default)]
    pub outage_minutes: u64,
    /// Operations (`"POST scheduleRegistryUpload"`, as counted) that act at once, then take
    /// this many real milliseconds to answer: for killing a client while its call is out.
    #[serde(default)]
    pub slow_operations: std::collections::BTreeMap<String, u64>,
}

impl FaultRates {
    /// The latency to add to every answer.
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_parses() {
        let text = r#"
            seed = 7
            [[outcomes]]
            image = "redis"
            arch = "arm64"
            upload_failures = 2
            [[outcomes]]
            image = "squid"
            series = "24.04"
            build_failures = "always"
            [faults]
            error_rate = 0.02
            error_status = 503
            latency_ms = 150
            drop_rate = 0.01
        "#;
        let scenario: Scenario = toml::from_str(text).unwrap();
        assert_eq!(scenario.outcomes[0].upload_failures, Failures::Times(2));
        assert_eq!(scenario.outcomes[1].build_failures, Failures::Always);
        assert_eq!(scenario.faults.latency(), Duration::from_millis(150));
        let bad = toml::from_str::<Scenario>("[[outcomes]]\nupload_failures = \"often\"");
        assert!(bad.is_err());
    }

    #[test]
    fn failures_are_used_up() {
        let mut twice = Failures::Times(2);
        assert!(twice.take() && twice.take() && !twice.take());
        let mut always = Failures::Always;
        assert!(always.take() && always.take());
        assert!(!Failures::Never.take());
    }
}
