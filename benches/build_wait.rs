//! The whole `image-builder build --wait` process's CPU per Launchpad request on the
//! 60-recipe job (issue 26's fifth figure), and where it goes: `cargo bench --bench
//! build_wait` (about two minutes); docs/benchmarks.md has the figures.
//!
//! The shipped binary runs `build --wait --launchpad sim --speed 100 --arch arm64` (every
//! image of every series: 60 recipes, 60 builds followed, 180 cancelled) with 100 ms of
//! latency on every Launchpad answer and the client's default 8 requests in flight: the
//! engine's job of `mass_rebuild`'s 8-in-flight row without webhooks, from a terminal. Its
//! simulator serves from threads of its own (named `sim`, [`Apart`]), so the process's CPU
//! is split into the simulator's and the rest by thread, from `/proc/PID/task/*/sched`
//! (nanoseconds, read every 10 ms while it runs); the process's whole CPU is its `cutime`
//! and `cstime` in this process's `/proc/self/stat` once it has been waited for. The requests are the
//! simulator's count, which the process logs at its end.
//!
//! Each run is made twice: with its output on a pseudo-terminal (the progress bars drawn, as
//! a person sees them) and piped (nothing drawn). Then the process's start-up alone: the same
//! command with `--dry-run` (reading the config, planning, printing the plan), which every
//! run pays once.
//!
//! [`Apart`]: image_builder::launchpad::sim::Apart

mod common;
#[path = "common/pty.rs"]
mod pty;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary `cargo bench` built beside this bench.
const BINARY: &str = env!("CARGO_BIN_EXE_image-builder");

/// Where the child's output goes.
#[derive(Clone, Copy, PartialEq)]
enum Output {
    /// A pseudo-terminal of 120 columns: progress bars drawn.
    Terminal,
    /// Pipes: nothing drawn.
    Piped,
}

/// What one run of the binary cost.
struct Run {
    /// The whole process's CPU (user and system), in seconds.
    cpu: f64,
    /// Each thread name's CPU, in seconds, as last read while the process ran.
    by_thread: BTreeMap<String, f64>,
    /// Launchpad requests the simulator answered (0 for a dry run).
    requests: u64,
    wall: Duration,
}

impl Run {
    fn sim(&self) -> f64 {
        self.by_thread
            .iter()
            .filter(|(name, _)| name.starts_with("sim"))
            .map(|(_, cpu)| cpu)
            .sum()
    }
}

/// The CPU time (user and system) of this process's children that have been waited for, in
/// seconds: `cutime` and `cstime` of `/proc/self/stat`, in clock ticks (10 ms: a hundredth of
/// a run's CPU at most).
fn children_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The fields after the command's name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    // cutime and cstime are the 16th and 17th fields; the state, the 3rd, is fields[0].
    let ticks: u64 = fields[13].parse::<u64>().unwrap() + fields[14].parse::<u64>().unwrap();
    ticks as f64 / rustix::param::clock_ticks_per_second() as f64
}

/// Each live thread of `pid`: its name and its CPU so far, in seconds.
fn threads(pid: u32) -> Vec<(u32, String, f64)> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            let tid = task.file_name().to_str()?.parse().ok()?;
            let name = std::fs::read_to_string(task.path().join("comm")).ok()?;
            let sched = std::fs::read_to_string(task.path().join("sched")).ok()?;
            let ms: f64 = sched
                .lines()
                .find(|line| line.starts_with("se.sum_exec_runtime"))?
                .split(':')
                .nth(1)?
                .trim()
                .parse()
                .ok()?;
            Some((tid, name.trim().to_string(), ms / 1000.0))
        })
        .collect()
}

/// Runs the binary with `arguments` and the files in `dir`, its output to `output`; what it
/// cost.
fn run(dir: &Path, arguments: &[&str], output: Output) -> Run {
    let mut command = Command::new(BINARY);
    command
        .args(arguments)
        .arg("--config")
        .arg(dir.join("config.toml"))
        .env("IMAGE_BUILDER_LOG", "image_builder::cli=info")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm-256color")
        .stdin(Stdio::null());
    // The log (and so the request count) is read from a pipe of its own.
    let mut reader: Option<std::thread::JoinHandle<()>> = None;
    match output {
        Output::Terminal => {
            let (controller, device) = pty::pseudo_terminal();
            command.stdout(Stdio::from(device));
            reader = Some(std::thread::spawn(move || {
                let mut controller = std::fs::File::from(controller);
                let mut buffer = [0u8; 8192];
                // Ends with EIO once the child, the last holder of the device, exits.
                while controller.read(&mut buffer).is_ok_and(|n| n > 0) {}
            }));
        }
        Output::Piped => {
            command.stdout(Stdio::piped());
        }
    }
    command.stderr(Stdio::piped());
    let before = children_cpu();
    let started = Instant::now();
    let mut child = command.spawn().unwrap();
    drop(command);
    let pid = child.id();
    let stdout = child.stdout.take();
    let drain = std::thread::spawn(move || {
        if let Some(mut stdout) = stdout {
            let _ = std::io::copy(&mut stdout, &mut std::io::sink());
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    // Each thread's CPU, by thread id, as last read.
    let seen: Arc<Mutex<BTreeMap<u32, (String, f64)>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (seen, done) = (seen.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                let now = threads(pid);
                let mut seen = seen.lock().unwrap();
                for (tid, name, cpu) in now {
                    seen.insert(tid, (name, cpu));
                }
                drop(seen);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let status = child.wait().unwrap();
    let wall = started.elapsed();
    done.store(true, Ordering::SeqCst);
    watcher.join().unwrap();
    drain.join().unwrap();
    if let Some(reader) = reader {
        reader.join().unwrap();
    }
    let log = log.join().unwrap();
    assert!(status.success(), "{arguments:?} failed ({status}):\n{log}");
    let cpu = children_cpu() - before;
    let requests = log
        .lines()
        .filter_map(|line| line.split("the simulator answered ").nth(1))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .next_back()
        .unwrap_or(0);
    let mut by_thread = BTreeMap::new();
    for (name, thread_cpu) in seen.lock().unwrap().values() {
        *by_thread.entry(name.clone()).or_insert(0.0) += thread_cpu;
    }
    Run {
        cpu,
        by_thread,
        requests,
        wall,
    }
}

fn temporary_dir() -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("image-builder-bench-build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ms(seconds: f64) -> f64 {
    seconds * 1000.0
}

fn main() {
    let dir = temporary_dir();
    std::fs::write(dir.join("config.toml"), common::catalogue_text("")).unwrap();
    std::fs::write(dir.join("scenario.toml"), "[faults]\nlatency_ms = 100\n").unwrap();
    let scenario = dir.join("scenario.toml");
    let scenario = scenario.to_str().unwrap();
    println!("`build --wait` of 60 recipes (arm64 of each), 100 ms per Launchpad answer, simulator at 100x, 8 in flight:");
    println!("| output | requests | process CPU | simulator | rest | rest/request | wall |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let mut rows = Vec::new();
    for output in [
        Output::Terminal,
        Output::Piped,
        Output::Terminal,
        Output::Piped,
    ] {
        let run = run(
            &dir,
            &[
                "build",
                "--wait",
                "--launchpad",
                "sim",
                "--speed",
                "100",
                "--scenario",
                scenario,
                "--arch",
                "arm64",
            ],
            output,
        );
        assert!(run.requests > 0, "the process did not log its requests");
        let rest = run.cpu - run.sim();
        println!(
            "| {} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {:.2} ms | {:.1} s |",
            if output == Output::Terminal {
                "terminal"
            } else {
                "piped"
            },
            run.requests,
            ms(run.cpu),
            ms(run.sim()),
            ms(rest),
            ms(rest / run.requests as f64),
            run.wall.as_secs_f64()
        );
        rows.push((output, run));
    }
    // A dry run's CPU is a few ticks of 10 ms: 20 of them, summed to the nanosecond.
    let dry_runs = 20;
    let startup = (0..dry_runs)
        .map(|_| {
            run(
                &dir,
                &["build", "--dry-run", "--arch", "arm64"],
                Output::Piped,
            )
            .cpu
        })
        .sum::<f64>()
        / dry_runs as f64;
    println!();
    println!(
        "start-up alone (`build --dry-run`, the mean of {dry_runs}): {:.1} ms of CPU",
        ms(startup)
    );
    for (output, run) in &rows {
        let rest = run.cpu - run.sim();
        println!(
            "{}: beyond start-up {:.2} ms per request   (goal: 0.3 ms)",
            if *output == Output::Terminal {
                "terminal"
            } else {
                "piped"
            },
            ms((rest - startup) / run.requests as f64)
        );
    }
    println!();
    println!("by thread (the first run on a terminal), CPU per request:");
    let (_, first) = &rows[0];
    for (name, cpu) in &first.by_thread {
        println!("   {name:<18} {:.3} ms", ms(cpu / first.requests as f64));
    }
    let counted: f64 = first.by_thread.values().sum();
    println!(
        "   {:<18} {:.3} ms",
        "(threads ended unread)",
        ms((first.cpu - counted).max(0.0) / first.requests as f64)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
