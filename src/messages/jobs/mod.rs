//! What the bot says about jobs: the acknowledgement, the status board, alerts and attempts,
//! the final summary, and the answers to `status`, `jobs`, `cancel` and `retry`. Pure: rendered
//! from the job alone, so the same job always reads the same.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::{count, plain_list, Front};
use crate::jobs::model::Target;
use crate::jobs::notice::Control;
use crate::plan::Plan;
use crate::target::JobId;

mod alerts;
mod board;
mod summary;
pub use alerts::{
    already_pending, build_unreadable, failure_line, failure_reason, reachable, refused,
    request_asked_again, request_failed, store_failed, unreachable, upload_failed, upload_gave_up,
    upload_reason, upload_recovered, upload_retrying, upload_superseded, web_link_of,
};
pub use board::{
    board, board_moved, job_line, job_list, missing_reason, no_jobs, nothing_running,
    progress_word, status_word, symbol,
};
pub use summary::{logs, requested_builds, summary};

/// `redis 6.2 on 22.04`.
pub fn target_name(target: &Target) -> String {
    format!("{} {} on {}", target.image, target.track, target.series)
}

/// `1h 02m`, `4m 10s`, `12s`.
pub fn elapsed(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let seconds = (to - from).num_seconds().max(0);
    match seconds {
        s if s >= 3600 => format!("{}h {:02}m", s / 3600, s / 60 % 60),
        s if s >= 60 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// The answer to an accepted rebuild.
pub fn accepted(id: JobId, plan: &Plan) -> String {
    let mut text = format!(
        "Job {id} accepted: {}, {}",
        count(plan.targets.len(), "recipe", "recipes"),
        count(plan.builds(), "build", "builds")
    );
    if plan.targets.len() == 1 {
        let target = &plan.targets[0];
        let _ = write!(
            text,
            " ({} {} on {}: {})",
            target.image,
            target.track,
            target.series,
            plain_list(&target.arches)
        );
    }
    text.push_str(". The board follows once Launchpad has made the builds.");
    text
}

/// What a `cancel` or `retry` did.
pub fn controlled(id: JobId, control: Control, count_done: usize) -> String {
    match (control, count_done) {
        (Control::Cancel, 0) => format!("Job {id} has nothing left to cancel."),
        (Control::Cancel, n) => format!(
            "Cancelling job {id}: {}.",
            count(n, "build or recipe", "builds or recipes")
        ),
        (Control::RetryUploads, 0) => format!("Job {id} has no failed uploads."),
        (Control::RetryUploads, n) => format!(
            "Retrying {} of job {id}.",
            count(n, "failed upload", "failed uploads")
        ),
        (Control::RetryBuilds, 0) => format!("Job {id} has no builds Launchpad can retry."),
        (Control::RetryBuilds, n) => format!(
            "Retrying {} of job {id}.",
            count(n, "failed build", "failed builds")
        ),
    }
}

/// There is no such job.
pub fn no_such_job(id: JobId, front: Front) -> String {
    format!(
        "There is no job {id}. {} `{}` to list them.",
        front.verb(),
        front.command("jobs")
    )
}

/// An internal error, in a line, with the job if there is one (the details are in the log).
pub fn internal_error(what: &str) -> String {
    format!("Something went wrong on my side ({what}); the details are in my log.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::model::Job;

    #[test]
    fn web_links_drop_the_apis_host_and_version() {
        assert_eq!(
            web_link_of("https://api.launchpad.net/devel/~team/p/+oci/x/+recipe/y"),
            "https://launchpad.net/~team/p/+oci/x/+recipe/y"
        );
        assert_eq!(
            web_link_of("http://127.0.0.1:8080/devel/~team/p"),
            "http://127.0.0.1:8080/~team/p"
        );
    }
    use crate::command::{Images, Rebuild};
    use crate::config::Config;

    #[test]
    fn the_board_grid_lines_up_under_the_architectures() {
        let config = Config::built_in().unwrap();
        let rebuild = Rebuild {
            series: vec!["20.04".parse().unwrap()],
            arches: vec![],
            images: Images::Named(vec!["redis".parse().unwrap(), "squid".parse().unwrap()]),
            auto_retry_uploads: false,
            wait: false,
            dry_run: false,
            reason: None,
            then: Vec::new(),
        };
        let plan = crate::plan::plan(&rebuild, &config.catalogue).unwrap();
        let now = Utc::now();
        let job = Job::new(crate::jobs::NewJob {
            id: JobId(3),
            requester: "alice",
            channel: "team",
            command: &rebuild.to_string(),
            plan: &plan,
            api_root: "http://lp/",
            auto_retry_uploads: false,
            reason: None,
            now,
            deadline: now,
            hooks: Vec::new(),
        });
        let board = board(&job, now);
        let lines: Vec<&str> = board.lines().collect();
        assert_eq!(
            lines[0],
            "**Job #3** · `rebuild 20.04 redis squid` · running for under a minute"
        );
        let header = lines[2];
        for arch in ["amd64", "arm64", "ppc64el", "s390x"] {
            let start = header.find(arch).unwrap();
            let middle = header[..start].chars().count() + arch.len() / 2;
            for row in &lines[3..5] {
                let cells: Vec<usize> = row
                    .char_indices()
                    .filter(|(_, c)| *c == '…')
                    .map(|(i, _)| row[..i].chars().count())
                    .collect();
                assert!(
                    cells.contains(&middle),
                    "{arch} at {middle} in {row:?} ({cells:?})\n{board}"
                );
            }
        }
        assert!(
            lines.last().unwrap().starts_with("… 8 requested"),
            "{board}"
        );
    }
}
