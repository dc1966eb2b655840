//! A simulator on threads of its own ([`Apart`]), as the sandbox and `build --launchpad sim`
//! run one beside the bot.

use std::ops::Deref;

use super::{SimSettings, Simulator};

/// A [`Simulator`] serving from a runtime of its own, its threads named `sim`: the simulated
/// Launchpad does not take the bot's workers, and its CPU is told apart from the bot's (by
/// thread name, in `/proc`). Dropping it stops the simulator and its threads.
pub struct Apart {
    simulator: Option<Simulator>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Apart {
    /// Starts a simulator with `settings` on a runtime of its own.
    pub async fn start(settings: SimSettings) -> std::io::Result<Apart> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sim")
            .enable_all()
            .build()?;
        let simulator = runtime
            .spawn(Simulator::start(settings))
            .await
            .map_err(std::io::Error::other)??;
        Ok(Apart {
            simulator: Some(simulator),
            runtime: Some(runtime),
        })
    }
}

impl Deref for Apart {
    type Target = Simulator;

    fn deref(&self) -> &Simulator {
        self.simulator
            .as_ref()
            .expect("the simulator lives until Apart is dropped")
    }
}

impl Drop for Apart {
    fn drop(&mut self) {
        drop(self.simulator.take());
        // Not waiting for its threads: a runtime dropped from async code would panic.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[tokio::test]
    async fn a_simulator_apart_serves_from_threads_named_sim_until_dropped() {
        let config = Config::parse(crate::config::BUILT_IN, crate::config::BUILT_IN_NAME).unwrap();
        let apart = Apart::start(SimSettings::new(config.catalogue.clone()))
            .await
            .unwrap();
        let address = apart.address();
        // Anonymous, as Launchpad takes a request with a user agent and no OAuth.
        let answer = reqwest::Client::builder()
            .user_agent("image-builder tests")
            .build()
            .unwrap()
            .get(apart.api_root())
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{}", answer.status());
        let threads = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .flatten()
            .filter(|task| {
                std::fs::read_to_string(task.path().join("comm"))
                    .is_ok_and(|name| name.starts_with("sim"))
            })
            .count();
        assert!(threads >= 1, "no thread named sim");
        drop(apart);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        assert!(
            tokio::net::TcpStream::connect(address).await.is_err(),
            "the simulator still listens after it was dropped"
        );
    }
}
