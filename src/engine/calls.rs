//! A job's Launchpad calls, made outside the job: each [`Action`] of the state machine is
//! copied out with what it needs (URL, ETag), run against the client, and its answer comes back
//! as the [`Observation`] the machine takes in.

use crate::jobs::machine::{Action, BuildCall, Observation};
use crate::jobs::model::{Job, Phase};
use crate::launchpad::{Client, Conditional, LaunchpadError};

/// A Launchpad call with everything it needs copied out of the job, so it can run on its own.
pub(super) struct PreparedCall {
    action: Action,
    url: String,
    etag: Option<String>,
    generation: u32,
}

/// A read's kind and URL: [`PreparedCall::key`].
pub(super) type ReadKey = (std::mem::Discriminant<Action>, String);

impl PreparedCall {
    /// The call for `action`, with what it needs copied out of `job`.
    pub(super) fn new(job: &Job, action: Action) -> PreparedCall {
        let generation = match &action {
            Action::ReadBuild { target, build } => job.targets[*target].builds[*build].generation,
            _ => 0,
        };
        let (url, etag) = match &action {
            Action::RequestBuilds { target } => (job.targets[*target].recipe_url.clone(), None),
            Action::ReadRequest { target } => match &job.targets[*target].phase {
                Phase::Requested { request_url } | Phase::Following { request_url } => {
                    (request_url.clone(), None)
                }
                _ => (String::new(), None),
            },
            Action::ListBuilds { url, .. } => (url.clone(), None),
            Action::ReadBuild { target, build } => {
                let track = &job.targets[*target].builds[*build];
                (track.url.to_string(), track.etag.clone())
            }
            Action::Call { target, build, .. } => {
                (job.targets[*target].builds[*build].url.to_string(), None)
            }
            Action::ReadProcessors { target } => (job.targets[*target].recipe_url.clone(), None),
            Action::ReadArchSeries { arch, .. } => (arch.to_string(), None),
            Action::ReadCandidateRequest { build: url, .. }
            | Action::ReadCandidateBuild { url, .. } => (url.clone(), None),
        };
        PreparedCall {
            action,
            url,
            etag,
            generation,
        }
    }

    /// What a read is, for telling two of the same apart (the same kind of read of the same
    /// URL: a listing of a request's builds is one, whatever the machine knew when it asked);
    /// `None` for `requestBuilds` and the calls on builds, each of which the machine counts and
    /// must see answered.
    pub(super) fn key(&self) -> Option<ReadKey> {
        match self.action {
            Action::RequestBuilds { .. } | Action::Call { .. } => None,
            _ => Some((std::mem::discriminant(&self.action), self.url.clone())),
        }
    }

    /// Whether it is a `requestBuilds`.
    pub(super) fn is_request(&self) -> bool {
        matches!(self.action, Action::RequestBuilds { .. })
    }

    /// Makes the call; its answer, as the machine takes it.
    pub(super) async fn run(self, client: &Client) -> Observation {
        let url = self.url.as_str();
        match self.action {
            Action::RequestBuilds { target } => Observation::Requested {
                target,
                result: client.request_builds(url).await,
            },
            Action::ReadRequest { target } => Observation::RequestRead {
                target,
                result: client.build_request(url).await.map(|request| {
                    (
                        request.status,
                        request.error_message,
                        request.builds_collection_link,
                    )
                }),
            },
            Action::ListBuilds { target, ran, .. } => Observation::BuildsListed {
                target,
                ran,
                result: client
                    .builds(url)
                    .await
                    .map(|builds| builds.into_iter().map(Into::into).collect()),
            },
            Action::ReadBuild { target, build } => Observation::BuildRead {
                target,
                build,
                generation: self.generation,
                result: client
                    .build(url, self.etag.as_deref())
                    .await
                    .map(|answer| match answer {
                        Conditional::Modified(build) => Some(build.into()),
                        Conditional::NotModified => None,
                    }),
            },
            Action::Call {
                target,
                build,
                call,
            } => Observation::BuildCall {
                target,
                build,
                call,
                result: match call {
                    BuildCall::Cancel => client.cancel(url).await,
                    BuildCall::Retry => client.retry(url).await,
                    BuildCall::ScheduleUpload { .. } => client.schedule_registry_upload(url).await,
                },
            },
            Action::ReadProcessors { target } => Observation::ProcessorsRead {
                target,
                result: client.processors(url).await,
            },
            Action::ReadArchSeries { target, arch } => Observation::ArchSeriesRead {
                target,
                result: client.arch_buildable(arch.as_str()).await,
                arch,
            },
            Action::ReadCandidateRequest { target, url, .. } => {
                let ours = async {
                    let me = client.me().await?;
                    match client.build(self.url.as_str(), None).await? {
                        Conditional::Modified(build) => {
                            Ok(build.requester_link.as_deref() == Some(me.as_str()))
                        }
                        Conditional::NotModified => Ok(false),
                    }
                };
                Observation::CandidateRequestRead {
                    target,
                    result: ours.await,
                    url,
                }
            }
            Action::ReadCandidateBuild { target, own, .. } => Observation::CandidateBuildRead {
                target,
                own,
                result: client
                    .build(url, None)
                    .await
                    .and_then(|answer| match answer {
                        Conditional::Modified(build) => Ok(build.into()),
                        Conditional::NotModified => Err(LaunchpadError::Decode {
                            url: url.to_string(),
                            message: "304 to a read without an ETag".to_string(),
                        }),
                    }),
            },
        }
    }
}
