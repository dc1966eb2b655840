//! Hooks: commands the config names (`[hooks.retag]`), run after a job whose every build and
//! upload succeeded, when the rebuild asked for them (`rebuild … --then retag`, `build
//! --retag`) or the hook says `always`. The original spec's `--retag`, running
//! `tag-images.sh`.
//!
//! Only configured hooks can run, and only as their configured argv: never through a shell,
//! and no text from chat reaches them (not even the rebuild's reason). What they learn of the
//! job comes in the environment ([`environment`]): `IB_JOB`, `IB_IMAGES`, `IB_SERIES`,
//! `IB_ARCHES`, `IB_TRACKS` (`image:track:series` per recipe), `IB_BUILDS` (each build's
//! page, one per line) and `IB_REQUESTER`. The bot's own environment is not passed on (it
//! holds the chat token and the webhook secret): only `PATH`, `HOME`, `LANG`, `TZ` and the
//! hook's `environment`.
//!
//! A hook's run is stored before it starts and when it ends, and never repeated: a failure or
//! a time-out is reported in the summary, and one the bot's restart interrupted is reported
//! as such (it may or may not have done its work; a person decides).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

/// How many of a hook's last output lines are kept.
pub const OUTPUT_LINES: usize = 15;
/// How long a kept output line may be, in characters.
const LINE_CHARS: usize = 300;

/// One hook, as the config gives it (`[hooks.NAME]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookConfig {
    /// The program and its arguments, run as they are (no shell).
    pub command: Vec<String>,
    /// Where it runs [default: the bot's working directory].
    #[serde(default)]
    pub working_directory: Option<PathBuf>,
    /// How long it may run before it is killed.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
    /// Variables set for it, besides the job's.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    /// Run after every job whose builds and uploads all succeeded, asked for or not.
    #[serde(default)]
    pub always: bool,
}

fn default_timeout_seconds() -> u64 {
    600
}

/// The configured hooks, by name.
pub type Hooks = BTreeMap<String, HookConfig>;

/// Checks the configured hooks: `Err((key, what))` names the first problem.
pub fn validate(hooks: &Hooks) -> Result<(), (String, String)> {
    for (name, hook) in hooks {
        let key = |field: &str| format!("hooks.{name}.{field}");
        if !is_name(name) {
            return Err((
                format!("hooks.{name}"),
                "a hook's name is lower-case letters, digits, - and _ (it is typed after --then)"
                    .to_string(),
            ));
        }
        if hook
            .command
            .first()
            .is_none_or(|program| program.trim().is_empty())
        {
            return Err((key("command"), "must name a program to run".to_string()));
        }
        if !(1..=24 * 3600).contains(&hook.timeout_seconds) {
            return Err((
                key("timeout_seconds"),
                "must be from 1 to 86400 (a day)".to_string(),
            ));
        }
        if let Some(bad) = hook.environment.keys().find(|variable| {
            variable.is_empty() || variable.contains(['=', '\0']) || variable.starts_with("IB_")
        }) {
            return Err((
                key("environment"),
                format!(
                    "`{bad}` cannot be set: a name without `=`, not starting IB_ (the job's own)"
                ),
            ));
        }
    }
    Ok(())
}

/// Whether `word` can name a hook.
pub fn is_name(word: &str) -> bool {
    !word.is_empty()
        && word.len() <= 40
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// The hooks a new job runs: those asked for, then those configured `always`, each once.
pub fn for_job(hooks: &Hooks, asked: &[String]) -> Vec<String> {
    let mut names: Vec<String> = asked.to_vec();
    for (name, hook) in hooks {
        if hook.always && !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// How a hook's run went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HookOutcome {
    /// Started, and not known to have ended (stored before it starts).
    Started,
    /// Not run, for this reason.
    Skipped {
        /// Why.
        why: String,
    },
    /// It ran to its end.
    Exited {
        /// Its exit code; `None` if a signal ended it.
        code: Option<i32>,
        /// The last lines of its output (stdout and stderr, in order of arrival).
        output: Vec<String>,
    },
    /// Killed at its timeout.
    TimedOut {
        /// The timeout, in seconds.
        seconds: u64,
        /// The last lines of its output.
        output: Vec<String>,
    },
    /// It could not be started.
    NotStarted {
        /// Why.
        error: String,
    },
    /// The bot stopped while it ran: it may or may not have done its work.
    Interrupted,
}

impl HookOutcome {
    /// Whether it ran and succeeded.
    pub fn succeeded(&self) -> bool {
        matches!(self, HookOutcome::Exited { code: Some(0), .. })
    }

    /// Whether it ran (or tried to) and did not succeed.
    pub fn failed(&self) -> bool {
        matches!(
            self,
            HookOutcome::Exited { .. }
                | HookOutcome::TimedOut { .. }
                | HookOutcome::NotStarted { .. }
                | HookOutcome::Interrupted
        ) && !self.succeeded()
    }
}

/// The bot's own variables a hook keeps; everything else (tokens, secrets) stays with the bot.
const PASSED_ON: [&str; 4] = ["PATH", "HOME", "LANG", "TZ"];

/// Runs `hook` to its end or its timeout, with `variables` (the job's: `IB_JOB`, ...) besides
/// its own environment.
pub async fn run(hook: &HookConfig, variables: &[(String, String)]) -> HookOutcome {
    let (program, args) = hook
        .command
        .split_first()
        .expect("a configured hook has a program (validate)");
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(
            PASSED_ON
                .iter()
                .filter_map(|name| std::env::var_os(name).map(|value| (name.to_string(), value))),
        )
        .envs(&hook.environment)
        .envs(variables.iter().cloned())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a time-out ends what it started too.
        .process_group(0)
        .kill_on_drop(true);
    if let Some(dir) = &hook.working_directory {
        command.current_dir(dir);
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            return HookOutcome::NotStarted {
                error: format!("{program}: {error}"),
            }
        }
    };
    let output = std::sync::Arc::new(std::sync::Mutex::new(Output::default()));
    let readers = [
        child
            .stdout
            .take()
            .map(|out| tokio::spawn(collect(out, output.clone()))),
        child
            .stderr
            .take()
            .map(|err| tokio::spawn(collect(err, output.clone()))),
    ];
    let limit = Duration::from_secs(hook.timeout_seconds);
    let waited = tokio::time::timeout(limit, child.wait()).await;
    if waited.is_err() {
        if let Some(group) = child
            .id()
            .and_then(|id| rustix::process::Pid::from_raw(id as i32))
        {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = child.kill().await;
    }
    for reader in readers.into_iter().flatten() {
        // A grandchild may hold the pipes open: the output read so far is enough.
        let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
    }
    let lines = output.lock().unwrap_or_else(|p| p.into_inner()).lines();
    match waited {
        Ok(Ok(status)) => HookOutcome::Exited {
            code: status.code(),
            output: lines,
        },
        Ok(Err(error)) => HookOutcome::NotStarted {
            error: format!("waiting for {program}: {error}"),
        },
        Err(_) => HookOutcome::TimedOut {
            seconds: hook.timeout_seconds,
            output: lines,
        },
    }
}

/// A hook's output as it arrives: its last lines, and a line not ended yet.
#[derive(Debug, Default)]
struct Output {
    lines: std::collections::VecDeque<String>,
    partial: Vec<u8>,
}

impl Output {
    fn push(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if byte == b'\n' {
                let line = std::mem::take(&mut self.partial);
                self.end_line(&line);
            } else if self.partial.len() < LINE_CHARS * 4 {
                self.partial.push(byte);
            }
        }
    }

    fn end_line(&mut self, bytes: &[u8]) {
        let text = String::from_utf8_lossy(bytes);
        let line: String = crate::launchpad::buildlog::printable(&text)
            .chars()
            .take(LINE_CHARS)
            .collect();
        if self.lines.len() == OUTPUT_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    fn lines(&mut self) -> Vec<String> {
        if !self.partial.is_empty() {
            let partial = std::mem::take(&mut self.partial);
            self.end_line(&partial);
        }
        self.lines.iter().cloned().collect()
    }
}

async fn collect(
    mut pipe: impl tokio::io::AsyncRead + Unpin,
    output: std::sync::Arc<std::sync::Mutex<Output>>,
) {
    let mut buffer = [0_u8; 8192];
    while let Ok(read) = pipe.read(&mut buffer).await {
        if read == 0 {
            return;
        }
        output
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(&buffer[..read]);
    }
}
