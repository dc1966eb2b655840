//! The jobs page (running jobs with their boards, the last finished ones) and one job's page
//! (its board, summary, failed builds' logs and hooks' outcomes). The board, summary and logs
//! are the chat's own words ([`crate::messages::jobs`]), shown as plain text.

use askama::Template;
use chrono::{DateTime, Utc};

use crate::chat::terminal::{render, Style};
use crate::jobs::model::{Job, JobStatus};
use crate::messages::dashboard as say;
use crate::messages::Front;
use crate::store::{Store, StoreError};
use crate::target::JobId;

/// How many finished jobs the jobs page lists.
const FINISHED: usize = 50;
/// The most a job page shows of its failed builds' logs.
const LOG_LIMIT: usize = 20_000;

/// A job in a list.
pub struct JobLine {
    pub id: u64,
    pub command: String,
    pub requester: String,
    pub reason: Option<String>,
    pub started: String,
    pub duration: String,
    pub outcome: String,
    /// The markup's name for how it went: `running`, `ok`, `failed`, `ended`.
    pub class: &'static str,
    /// Its board, as plain text (running jobs only).
    pub board: Option<String>,
}

impl JobLine {
    fn of(job: &Job, now: DateTime<Utc>, with_board: bool) -> JobLine {
        let tally = job.tally();
        let class = match job.status {
            JobStatus::Running => "running",
            _ if tally.build_failed + tally.upload_failed > 0 => "failed",
            JobStatus::Finished => "ok",
            _ => "ended",
        };
        JobLine {
            id: job.id.0,
            command: job.command.clone(),
            requester: job.requester.clone(),
            reason: job.reason.clone(),
            started: job.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            duration: say::job_duration(job, now),
            outcome: say::job_outcome(job),
            class,
            board: with_board.then(|| plain(&crate::messages::jobs::board(job, now))),
        }
    }
}

/// Markdown as plain text.
fn plain(markdown: &str) -> String {
    render(markdown, Style::Plain)
}

/// The jobs page's main part.
#[derive(Template)]
#[template(path = "jobs.html")]
pub struct Jobs {
    pub running: Vec<JobLine>,
    pub finished: Vec<JobLine>,
}

impl Jobs {
    /// The jobs as the store has them now.
    pub fn read(store: &Store, now: DateTime<Utc>) -> Result<Jobs, StoreError> {
        let mut running: Vec<JobLine> = store
            .open_jobs()?
            .iter()
            .filter(|job| job.status == JobStatus::Running)
            .map(|job| JobLine::of(job, now, true))
            .collect();
        running.sort_by_key(|line| std::cmp::Reverse(line.id));
        let finished = store
            .recent_jobs(FINISHED + running.len())?
            .iter()
            .filter(|job| job.status != JobStatus::Running)
            .take(FINISHED)
            .map(|job| JobLine::of(job, now, false))
            .collect();
        Ok(Jobs { running, finished })
    }
}

/// One job's page.
#[derive(Template)]
#[template(path = "job.html")]
pub struct JobPage {
    pub line: JobLine,
    pub board: String,
    pub summary: Option<String>,
    pub logs: Option<String>,
}

impl JobPage {
    /// Job `id` as the store has it now; `None` if it has no such job.
    pub fn read(store: &Store, id: u64, now: DateTime<Utc>) -> Result<Option<JobPage>, StoreError> {
        let Some(job) = store.job(JobId(id))? else {
            return Ok(None);
        };
        let finished = job.status != JobStatus::Running;
        let failed = job.tally().build_failed > 0;
        Ok(Some(JobPage {
            line: JobLine::of(&job, now, false),
            board: plain(&crate::messages::jobs::board(&job, now)),
            // The summary's commands are the terminal's: a page is read beside one.
            summary: finished
                .then(|| plain(&crate::messages::jobs::summary(&job, Front::CommandLine))),
            logs: failed.then(|| plain(&crate::messages::jobs::logs(&job, LOG_LIMIT))),
        }))
    }
}
