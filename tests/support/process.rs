//! The `image-builder` binary as a child process: against `image-builder sim`, with a config
//! and credentials for it, and a time limit on every run.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::bot::TempDir;

/// Kills the process when the test ends, however it ends.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_image-builder"));
    command.env_remove("IMAGE_BUILDER_CONFIG");
    command
}

/// A blocking GET with a user agent (the simulator, like Launchpad, wants one).
pub fn http_get(url: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        reqwest::Client::builder()
            .user_agent("restart-test")
            .build()
            .unwrap()
            .get(url)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    })
}

/// Runs `command` to its end, or kills it after `limit` and fails the test: a job that hangs
/// must not hang the suite.
pub fn output_within(mut command: Command, limit: Duration) -> std::process::Output {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = child.id();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });
    match done_rx.recv_timeout(limit) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &id.to_string()]).status();
            panic!("{command:?} did not end within {limit:?}");
        }
    }
}

/// Every build the simulator at `web_root` holds: (arch, state, request).
pub fn sim_builds(web_root: &str) -> Vec<(String, String, u64)> {
    let builds: serde_json::Value =
        serde_json::from_str(&http_get(&format!("{web_root}+sim/builds"))).unwrap();
    builds
        .as_array()
        .unwrap()
        .iter()
        .map(|build| {
            (
                build["arch"].as_str().unwrap().to_string(),
                build["state"].as_str().unwrap().to_string(),
                build["request"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// A request count of the simulator at `web_root`.
pub fn sim_count(web_root: &str, operation: &str) -> u64 {
    let counts: serde_json::Value =
        serde_json::from_str(&http_get(&format!("{web_root}+sim/counts"))).unwrap();
    counts[operation].as_u64().unwrap_or(0)
}

/// The simulator (playing `scenario`, at `speed`), a config for it, and the arguments every
/// command needs.
pub struct Setup {
    _sim: Running,
    pub web_root: String,
    pub dir: TempDir,
    pub config: PathBuf,
    pub credentials: PathBuf,
}

/// Starts `image-builder sim --speed SPEED` playing `scenario`, its files in `dir`; returns it,
/// its API root and the credentials file it wrote.
pub fn start_sim(dir: &TempDir, scenario: &str, speed: &str) -> (Running, String, PathBuf) {
    let credentials = dir.0.join("credentials");
    let scenario_path = dir.0.join("scenario.toml");
    std::fs::write(&scenario_path, scenario).unwrap();
    let mut sim = Running(
        binary()
            .args(["sim", "--speed", speed, "--credentials-out"])
            .arg(&credentials)
            .arg("--scenario")
            .arg(&scenario_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Read the banner on a thread that goes on reading: a closed pipe would end the simulator.
    let banner = BufReader::new(sim.0.stdout.take().unwrap());
    let (root_tx, root_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in banner.lines().map_while(Result::ok) {
            if let Some(root) = line.trim().strip_prefix("API root: ") {
                let _ = root_tx.send(root.to_string());
            }
        }
    });
    let api_root = root_rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_default();
    assert!(!api_root.is_empty(), "the simulator printed its API root");
    (sim, api_root, credentials)
}

/// Asserts that the simulator at `web_root` holds `count` builds, those of `arch` built and
/// every other one cancelled.
pub fn assert_only_built(web_root: &str, arch: &str, count: usize) {
    let builds = sim_builds(web_root);
    assert_eq!(builds.len(), count, "{builds:?}");
    for (built, state, _) in &builds {
        assert_eq!(
            state == "Cancelled build",
            built != arch,
            "{built}: {state} (every build not asked for cancelled, the rest built)"
        );
    }
}

impl Setup {
    pub fn start(name: &str, scenario: &str, speed: &str) -> Setup {
        let dir = TempDir::new(name);
        let (sim, api_root, credentials) = start_sim(&dir, scenario, speed);
        let config = dir.0.join("config.toml");
        let text = super::quick_config(&api_root);
        std::fs::write(&config, text).unwrap();
        Setup {
            _sim: sim,
            web_root: api_root.trim_end_matches("devel/").to_string(),
            dir,
            config,
            credentials,
        }
    }

    /// A command that talks to Launchpad: [`Setup::reader`]'s, with the credentials.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = self.reader(args);
        command.arg("--credentials").arg(&self.credentials);
        command
    }

    /// A command that only reads the store (`status`, `jobs`: no credentials).
    pub fn reader(&self, args: &[&str]) -> Command {
        let mut command = binary();
        command
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .arg("--data-dir")
            .arg(self.dir.0.join("data"));
        command
    }

    /// Runs `build` until `kill_when` holds of the simulator, then kills it.
    pub fn kill_build_when(
        &self,
        args: &[&str],
        images: &[&str],
        kill_when: impl Fn(&Setup) -> bool,
    ) {
        let mut command = self.command(args);
        command.arg("--").args(images);
        let mut build = Running(
            command
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let started = Instant::now();
        while !kill_when(self) {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "never got there"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        build.0.kill().unwrap();
        build.0.wait().unwrap();
    }
}
