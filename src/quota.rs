//! What one user already has going, for the bot's limits: the builds of their unfinished jobs
//! (a plan's confirmation threshold counts them, so `rebuild all` split into commands of twelve
//! asks for `confirm` like the whole would), and the builds they started in the last hour
//! (`confirmation.builds_per_user_per_hour`). Counted from the stored jobs, so a restart
//! forgets nothing.

use chrono::{DateTime, Duration, Utc};

use crate::jobs::model::{Job, Progress};

/// The window of the hourly limit.
pub const WINDOW: Duration = Duration::hours(1);

/// The builds of `user`'s unfinished jobs that have not ended (those not made yet count too).
pub fn running_builds(jobs: &[Job], user: &str) -> usize {
    jobs.iter()
        .filter(|job| job.requester == user && !job.is_finished())
        .flat_map(|job| &job.targets)
        .map(|target| {
            let ended = target
                .wanted()
                .filter(|build| {
                    !matches!(
                        build.progress(),
                        Progress::Queued | Progress::Building | Progress::Uploading
                    )
                })
                .count();
            target.arches.len().saturating_sub(ended)
        })
        .sum()
}

/// Why a plan may not start now: the hourly limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    /// The limit.
    pub limit: usize,
    /// Builds the user started in the last hour.
    pub started: usize,
    /// When enough of them leave the window for this plan, if it ever fits.
    pub from: Option<DateTime<Utc>>,
}

/// Whether `user` may start `builds` more at `now`, having started `jobs`' builds: at most
/// `limit` in any hour.
pub fn hourly(
    jobs: &[Job],
    user: &str,
    builds: usize,
    limit: usize,
    now: DateTime<Utc>,
) -> Result<(), OverLimit> {
    let mut recent: Vec<(DateTime<Utc>, usize)> = jobs
        .iter()
        .filter(|job| job.requester == user && job.created_at > now - WINDOW)
        .map(|job| {
            let planned = job.targets.iter().map(|target| target.arches.len()).sum();
            (job.created_at, planned)
        })
        .collect();
    let started: usize = recent.iter().map(|(_, planned)| planned).sum();
    if started + builds <= limit {
        return Ok(());
    }
    // The oldest leave the window first: the plan fits once enough have.
    recent.sort();
    let mut over = started + builds - limit;
    let from = (builds <= limit)
        .then(|| {
            recent.iter().find_map(|(at, planned)| {
                over = over.saturating_sub(*planned);
                (over == 0).then(|| *at + WINDOW)
            })
        })
        .flatten();
    Err(OverLimit {
        limit,
        started,
        from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::RecipePath;
    use crate::jobs::model::JobStatus;
    use crate::plan::{Plan, RecipePlan};
    use crate::target::JobId;

    fn job(id: u64, user: &str, builds: usize, minutes_ago: i64, now: DateTime<Utc>) -> Job {
        let arches: Vec<crate::target::Arch> = ["amd64", "arm64", "ppc64el", "s390x"]
            .iter()
            .map(|arch| arch.parse().unwrap())
            .collect();
        let targets = (0..builds.div_ceil(4))
            .map(|index| RecipePlan {
                image: "redis".parse().unwrap(),
                series: "22.04".parse().unwrap(),
                track: format!("{index}"),
                recipe: RecipePath {
                    owner: "team".into(),
                    pillar: "team".into(),
                    project: "redis".parse().unwrap(),
                    name: format!("redis-{index}"),
                },
                arches: arches[..(builds - index * 4).min(4)].to_vec(),
            })
            .collect();
        let plan = Plan {
            targets,
            skipped: 0,
        };
        let at = now - Duration::minutes(minutes_ago);
        let root = "http://lp/devel/";
        Job::new(crate::jobs::NewJob {
            id: JobId(id),
            requester: user,
            channel: "c",
            command: "rebuild",
            plan: &plan,
            api_root: root,
            auto_retry_uploads: false,
            reason: None,
            now: at,
            deadline: at,
            hooks: Vec::new(),
        })
    }

    #[test]
    fn unfinished_builds_of_the_user_count_and_others_do_not() {
        let now = Utc::now();
        let mut ended = job(3, "alice", 4, 5, now);
        ended.status = JobStatus::Finished;
        let jobs = vec![job(1, "alice", 12, 5, now), job(2, "bob", 7, 5, now), ended];
        assert_eq!(running_builds(&jobs, "alice"), 12);
        assert_eq!(running_builds(&jobs, "bob"), 7);
        assert_eq!(running_builds(&jobs, "carol"), 0);
    }

    #[test]
    fn the_hourly_limit_says_when_the_plan_fits() {
        let now = Utc::now();
        let jobs = vec![
            job(1, "alice", 8, 50, now),
            job(2, "alice", 8, 20, now),
            job(3, "alice", 8, 90, now),
            job(4, "bob", 40, 1, now),
        ];
        assert_eq!(hourly(&jobs, "alice", 4, 20, now), Ok(()));
        let refused = hourly(&jobs, "alice", 12, 20, now).unwrap_err();
        assert_eq!(refused.started, 16);
        // 16 + 12 is 8 over: the job of 50 minutes ago leaves the window in 10 minutes.
        assert_eq!(refused.from, Some(now - Duration::minutes(50) + WINDOW));
        let never = hourly(&jobs, "alice", 21, 20, now).unwrap_err();
        assert_eq!(never.from, None, "more than the limit never fits");
    }
}
