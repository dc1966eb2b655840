//! The end-of-job work, before the summary: the logs of failed builds read, and the hooks
//! run (each stored before it starts, never run twice).

use super::Driver;
use crate::chat::Chat;
use crate::jobs::model::Progress;
use crate::launchpad::models::BuildState;

impl<C: Chat> Driver<C> {
    /// Reads the log of every failed build whose log is not read yet, all at once (each
    /// bounded in size and time, [`crate::launchpad::buildlog`]); returns whether any was. A
    /// build Launchpad could not take in (the state `Failed to upload`) built well: its reason
    /// is in its upload log, which is read instead.
    pub(super) async fn read_failed_logs(&mut self) -> bool {
        let unread: Vec<(usize, usize, String, bool)> = self
            .job
            .targets
            .iter()
            .enumerate()
            .flat_map(|(t, target)| {
                target
                    .builds
                    .iter()
                    .enumerate()
                    .filter_map(move |(b, build)| {
                        let failed = build.wanted && build.progress() == Progress::BuildFailed;
                        let upload = build.state == BuildState::FailedToUpload;
                        let url = if upload {
                            &build.upload_log_url
                        } else {
                            &build.log_url
                        };
                        match (url, &build.log) {
                            (Some(url), None) if failed => Some((t, b, url.clone(), upload)),
                            _ => None,
                        }
                    })
            })
            .collect();
        if unread.is_empty() {
            return false;
        }
        tracing::info!(logs = unread.len(), "reading the logs of failed builds");
        let client = &self.inner.client;
        let excerpts =
            futures_util::future::join_all(unread.iter().map(|(_, _, url, upload)| async move {
                if *upload {
                    client.upload_log(url).await
                } else {
                    client.build_log(url).await
                }
            }))
            .await;
        for ((t, b, _, _), excerpt) in unread.into_iter().zip(excerpts) {
            if let Some(problem) = &excerpt.problem {
                tracing::warn!(build = %self.job.targets[t].builds[b].url, problem, "a failed build's log could not be read");
            }
            self.job.targets[t].builds[b].log = Some(excerpt);
        }
        self.version += 1;
        true
    }

    /// Runs the job's hooks once it ended with every build and upload done
    /// ([`crate::hooks`]): each run stored before it starts and when it ends, never repeated
    /// (one a restart interrupted is reported so). A job that did not wholly succeed skips them
    /// (and runs them if a retry makes it succeed). Returns whether the job changed.
    pub(super) async fn run_hooks(&mut self) -> bool {
        use crate::hooks::HookOutcome;
        use crate::jobs::model::HookRun;
        let mut changed = false;
        for name in self.job.hooks.clone() {
            let at = self.job.hook_runs.iter().position(|run| run.name == name);
            let outcome = at.map(|at| &self.job.hook_runs[at].outcome);
            let (next, run) = match outcome {
                Some(HookOutcome::Started) => (HookOutcome::Interrupted, false),
                None | Some(HookOutcome::Skipped { .. }) => {
                    match self.inner.settings.hooks.get(&name) {
                        _ if !self.job.all_succeeded() => (
                            HookOutcome::Skipped {
                                why: "not every build and upload succeeded".to_string(),
                            },
                            false,
                        ),
                        None => (
                            HookOutcome::Skipped {
                                why: "it is no longer in the config".to_string(),
                            },
                            false,
                        ),
                        Some(_) => (HookOutcome::Started, true),
                    }
                }
                Some(_) => continue,
            };
            if outcome == Some(&next) {
                continue;
            }
            let at = match at {
                Some(at) => {
                    self.job.hook_runs[at].outcome = next;
                    at
                }
                None => {
                    self.job.hook_runs.push(HookRun {
                        name: name.clone(),
                        outcome: next,
                    });
                    self.job.hook_runs.len() - 1
                }
            };
            self.version += 1;
            changed = true;
            if !run {
                continue;
            }
            // On disk before it starts: a crash from here on is reported, not repeated.
            if !self.save(true).await {
                return changed;
            }
            let hook = &self.inner.settings.hooks[&name];
            tracing::info!(hook = %name, command = ?hook.command, "running a hook");
            let ended = crate::hooks::run(hook, &self.job.hook_environment()).await;
            tracing::info!(hook = %name, outcome = ?ended, "hook ended");
            self.job.hook_runs[at].outcome = ended;
            self.version += 1;
        }
        changed
    }
}
