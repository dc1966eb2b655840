//! The final summary of a job, its failed builds' logs, and its hooks' outcomes.

use std::fmt::Write;

use super::alerts::{
    asked_again_risk, failure_reason, superseded_reason, upload_reason, web_link_of,
};
use super::board::{build_name, missing_reason};
use super::target_name;
use crate::jobs::model::{BuildTrack, Job, JobStatus, MissingWhy, Phase, Progress, Target};
use crate::launchpad::buildlog::LogExcerpt;
use crate::launchpad::models::BuildState;
use crate::messages::{count, Front};

/// How many failed builds the summary shows the log of; `log #JOB` shows every one.
pub(super) const LOGS_IN_SUMMARY: usize = 5;

/// How long a log line may be in the summary, in characters.
pub(super) const LOG_LINE_CHARS: usize = 200;

/// Under a failed build: the Dockerfile step it failed at and the log's error lines, in a code
/// block, and the full log's link (`what`: "full log", or "upload log" for a build Launchpad
/// could not take in); or why the log could not be read.
pub(super) fn log_excerpt(log: &LogExcerpt, what: &str) -> String {
    if let Some(problem) = &log.problem {
        return format!("\n  ({problem}; {what}: {})", log.url);
    }
    let lines: Vec<&String> = log.step.iter().chain(&log.errors).collect();
    format!(
        "\n{}\n  {what}: {}",
        code_block(&lines, LOG_LINE_CHARS),
        log.url
    )
}

/// A failed build's line: its state (for `Failed to upload`, that Launchpad could not take
/// its files in: not a registry upload) and page.
pub(super) fn failed_build_line(target: &Target, build: &BuildTrack) -> String {
    if build.state == BuildState::FailedToUpload {
        format!(
            "• {}: built, but Launchpad could not take its files in (Failed to upload; its build log shows a good build) {}",
            build_name(target, build),
            build.web_link
        )
    } else {
        format!(
            "• {}: {} {}",
            build_name(target, build),
            build.state,
            build.web_link
        )
    }
}

/// Which log a failed build's excerpt comes from.
pub(super) fn log_kind(build: &BuildTrack) -> &'static str {
    if build.state == BuildState::FailedToUpload {
        "upload log"
    } else {
        "full log"
    }
}

/// Lines of a log in a code block: each cut at `chars`, and a fence inside one made harmless.
pub(super) fn code_block(lines: &[&String], chars: usize) -> String {
    let mut text = String::from("```text\n");
    for line in lines {
        let line: String = line.chars().take(chars).collect();
        text.push_str(&line.replace("```", "'''"));
        text.push('\n');
    }
    text.push_str("```");
    text
}

/// The job's builds asked for that are at `progress`, each with its target.
pub(super) fn builds_at(
    job: &Job,
    progress: Progress,
) -> impl Iterator<Item = (&Target, &BuildTrack)> {
    job.targets.iter().flat_map(move |t| {
        t.wanted()
            .filter(move |b| b.progress() == progress)
            .map(move |b| (t, b))
    })
}

/// The longer excerpt (`log #JOB`, the Show log button): each failed build's step and the
/// log's last lines, within `limit` characters.
pub fn logs(job: &Job, limit: usize) -> String {
    let failed: Vec<(&Target, &BuildTrack)> = builds_at(job, Progress::BuildFailed).collect();
    if failed.is_empty() {
        return format!(
            "No build of job {} failed: there is no failure log to show.",
            job.id
        );
    }
    let mut text = String::new();
    for (t, b) in failed {
        let mut part = format!("**{}**: {} {}\n", build_name(t, b), b.state, b.web_link);
        let what = log_kind(b);
        match &b.log {
            None => part.push_str("Its log is read when the job ends.\n"),
            Some(log) => match &log.problem {
                Some(problem) => {
                    let _ = writeln!(part, "{problem}; {what}: {}", log.url);
                }
                None => {
                    if let Some(step) = &log.step {
                        let _ = writeln!(part, "Failed at `{}`", step.replace('`', "'"));
                    }
                    let tail: Vec<&String> = log.tail.iter().collect();
                    let _ = writeln!(
                        part,
                        "{}\n{what}: {}",
                        code_block(&tail, LOG_LINE_CHARS),
                        log.url
                    );
                }
            },
        }
        if text.len() + part.len() > limit {
            text.push_str("(more: see the failed builds' pages)");
            break;
        }
        text.push_str(&part);
    }
    text
}

/// The final summary: counts, then failed builds and failed uploads apart, each with the command
/// that retries it.
pub fn summary(job: &Job, front: Front) -> String {
    let mut text = headline(job);
    let command = |words: &str| front.command(&format!("{words} {}", job.id));
    let sections = [
        (
            format!("Failed builds (retry with `{}`):", command("retry builds")),
            failed_builds(job, front),
        ),
        (
            format!("Failed uploads (retry with `{}`):", command("retry uploads")),
            failed_uploads(job),
        ),
        (
            "Superseded (the registries hold the newer build's image, not this job's):".to_string(),
            superseded(job),
        ),
        (
            "Not built (nothing here retries them):".to_string(),
            not_built(job),
        ),
        (
            "Not asked for, and not cancelled in time (Launchpad built them; they may have pushed):"
                .to_string(),
            unwanted(job),
        ),
    ];
    for (heading, lines) in sections {
        if !lines.is_empty() {
            let _ = write!(text, "\n{heading}\n{}", lines.join("\n"));
        }
    }
    text.push_str(&unfollowed_lines(job));
    text.push_str(&hook_lines(job));
    text
}

/// The summary's first sentence: how the job ended, and how many builds came to what.
fn headline(job: &Job) -> String {
    let tally = job.tally();
    let mut text = match job.status {
        JobStatus::Cancelled => format!("Job {} was cancelled.", job.id),
        JobStatus::GaveUp => format!(
            "Job {} gave up: {} still unfinished at the deadline.",
            job.id,
            count(tally.unfinished, "build was", "builds were")
        ),
        _ => format!("Job {} finished.", job.id),
    };
    let mut parts = Vec::new();
    if tally.succeeded > 0 {
        parts.push(format!(
            "{} built and uploaded",
            count(tally.succeeded, "build", "builds")
        ));
    }
    for (n, what) in [
        (tally.build_failed, "failed to build"),
        (tally.upload_failed, "failed to upload"),
        (tally.cancelled, "cancelled"),
        (tally.superseded, "superseded (nothing pushed)"),
        (tally.not_built, "not built"),
        (
            tally.unwanted_ran,
            "not asked for but built (cancel failed)",
        ),
        (tally.already_pending, "already pending"),
        (tally.request_failed, "not requested (error)"),
        (tally.asked_twice, "requested twice (answer lost)"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    if !parts.is_empty() {
        let _ = write!(text, " {}.", parts.join(", "));
    }
    text
}

/// A line per failed build, the first [`LOGS_IN_SUMMARY`] with the end of their logs.
fn failed_builds(job: &Job, front: Front) -> Vec<String> {
    builds_at(job, Progress::BuildFailed)
        .enumerate()
        .map(|(n, (t, b))| {
            let mut line = failed_build_line(t, b);
            match &b.log {
                Some(log) if n < LOGS_IN_SUMMARY => line.push_str(&log_excerpt(log, log_kind(b))),
                Some(_) if n == LOGS_IN_SUMMARY => {
                    let more = front.command(&format!("log {}", job.id));
                    let _ = write!(line, "\n  (more logs: `{more}`)");
                }
                _ => {}
            }
            line
        })
        .collect()
}

/// A line per failed upload, with Launchpad's reason when it gave one.
fn failed_uploads(job: &Job) -> Vec<String> {
    builds_at(job, Progress::UploadFailed)
        .map(|(t, b)| {
            format!(
                "• {}: {} {}",
                build_name(t, b),
                upload_reason(b),
                b.web_link
            )
        })
        .collect()
}

/// A line per build a newer one superseded at upload time.
fn superseded(job: &Job) -> Vec<String> {
    builds_at(job, Progress::Superseded)
        .map(|(t, b)| {
            format!(
                "• {}: {} {}",
                build_name(t, b),
                superseded_reason(t),
                b.web_link
            )
        })
        .collect()
}

/// A line per architecture nothing built, with what to do about it.
fn not_built(job: &Job) -> Vec<String> {
    job
    .targets
    .iter()
    .flat_map(|t| t.missing.iter().map(move |missing| (t, missing)))
    .map(|(t, missing)| {
        let what_to_do = match missing.why {
            MissingWhy::NotInProcessors { .. } => format!(
                "add {} to the recipe's processors on Launchpad, or drop it from the image's architectures in the config",
                missing.arch
            ),
            MissingWhy::NotBuildable => {
                "nothing builds it until Launchpad can; see the recipe's page".to_string()
            }
            MissingWhy::Unlisted { .. } => {
                "look at the request's builds on the recipe's page".to_string()
            }
            _ => "look at the recipe's page".to_string(),
        };
        format!(
            "• {} {}: {}: {what_to_do}: {}",
            target_name(t),
            missing.arch,
            missing_reason(missing),
            web_link_of(&t.recipe_url)
        )
    })
    .collect()
}

/// A line per build the job did not want and could not cancel before it ran.
fn unwanted(job: &Job) -> Vec<String> {
    job.targets
        .iter()
        .flat_map(|t| {
            t.builds
                .iter()
                .filter(|b| {
                    !b.wanted && b.state.is_final() && b.state != BuildState::CancelledBuild
                })
                .map(move |b| format!("• {}: {} {}", build_name(t, b), b.state, b.web_link))
        })
        .collect()
}

/// A line per recipe the job did not follow: already pending, not requested, or asked twice.
fn unfollowed_lines(job: &Job) -> String {
    let mut text = String::new();
    for target in job
        .targets
        .iter()
        .filter(|t| t.phase == Phase::AlreadyPending)
    {
        let whose = if target.asked_again {
            "most likely this job's own first request, whose answer was lost"
        } else {
            "another request's"
        };
        let _ = write!(
            text,
            "\n• {}: already pending ({whose}), not followed here: {}",
            target_name(target),
            web_link_of(&target.recipe_url)
        );
    }
    for target in &job.targets {
        if let Phase::Failed { reason } = &target.phase {
            let _ = write!(
                text,
                "\n• {}: not requested: {}",
                target_name(target),
                failure_reason(target, reason)
            );
        }
    }
    for target in job
        .targets
        .iter()
        .filter(|t| t.asked_again && matches!(t.phase, Phase::Following { .. }))
    {
        let _ = write!(
            text,
            "\n• {}: asked for twice (the first answer was lost). {}",
            target_name(target),
            asked_again_risk(target)
        );
    }
    text
}

/// What each hook of a job did, for its summary: a line each, with the end of its output.
pub(super) fn hook_lines(job: &Job) -> String {
    use crate::hooks::HookOutcome;
    let mut text = String::new();
    for run in &job.hook_runs {
        let name = &run.name;
        let (line, output) = match &run.outcome {
            HookOutcome::Started => (format!("Hook `{name}` is running."), None),
            HookOutcome::Skipped { why } => (format!("Hook `{name}` not run: {why}."), None),
            HookOutcome::Exited {
                code: Some(0),
                output,
            } => (format!("Hook `{name}` done (exit 0)."), Some(output)),
            HookOutcome::Exited { code, output } => (
                match code {
                    Some(code) => format!("Hook `{name}` failed (exit {code}); not retried."),
                    None => format!("Hook `{name}` was killed by a signal; not retried."),
                },
                Some(output),
            ),
            HookOutcome::TimedOut { seconds, output } => (
                format!("Hook `{name}` timed out after {seconds} s and was killed; not retried."),
                Some(output),
            ),
            HookOutcome::NotStarted { error } => {
                (format!("Hook `{name}` could not start: {error}"), None)
            }
            HookOutcome::Interrupted => (
                format!(
                    "Hook `{name}` was running when the bot stopped; it is not run again (check whether it did its work)."
                ),
                None,
            ),
        };
        let _ = write!(text, "\n{line}");
        if let Some(output) = output.filter(|output| !output.is_empty()) {
            let lines: Vec<&String> = output.iter().collect();
            let _ = write!(text, "\n{}", code_block(&lines, LOG_LINE_CHARS));
        }
    }
    text
}

/// What `build` without `--wait` prints once the builds are known: each build asked for with
/// its page, and what became of each recipe that has none.
pub fn requested_builds(job: &Job) -> String {
    let mut lines = Vec::new();
    for target in &job.targets {
        match &target.phase {
            Phase::Following { .. } => {
                for build in target.wanted() {
                    lines.push(format!("{}: {}", build_name(target, build), build.web_link));
                }
                for missing in &target.missing {
                    lines.push(format!(
                        "{} {}: {}",
                        target_name(target),
                        missing.arch,
                        missing_reason(missing)
                    ));
                }
            }
            Phase::AlreadyPending => lines.push(format!(
                "{}: already pending: {}",
                target_name(target),
                web_link_of(&target.recipe_url)
            )),
            Phase::Failed { reason } => lines.push(format!(
                "{}: not requested: {}",
                target_name(target),
                failure_reason(target, reason)
            )),
            _ => lines.push(format!("{}: not requested", target_name(target))),
        }
    }
    lines.join("\n")
}
