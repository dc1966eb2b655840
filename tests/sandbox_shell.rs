//! The sandbox on a terminal (a pseudo-terminal here) is a shell: a prompt, line editing and
//! history. The Up arrow brings back the last command instead of being sent as an escape
//! sequence, and Ctrl-D ends it as end of input does.

#[path = "../benches/common/pty.rs"]
mod pty;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Waits until what the terminal showed holds `text`; fails naming what it showed.
fn wait_for(shown: &Mutex<String>, text: &str) {
    let started = Instant::now();
    while !shown.lock().unwrap().contains(text) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never showed {text:?}; it showed:\n{}",
            shown.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_up_arrow_brings_back_the_last_command_and_ctrl_d_ends_the_sandbox() {
    let (controller, device) = pty::pseudo_terminal();
    let mut child = Command::new(env!("CARGO_BIN_EXE_image-builder"))
        .args(["sandbox", "--speed", "1000"])
        .env_remove("IMAGE_BUILDER_CONFIG")
        .env("TERM", "xterm-256color")
        .env("NO_COLOR", "1")
        .stdin(Stdio::from(device.try_clone().unwrap()))
        .stdout(Stdio::from(device))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let shown = Arc::new(Mutex::new(String::new()));
    let mut keyboard = std::fs::File::from(controller);
    let mut screen = keyboard.try_clone().unwrap();
    let reader = {
        let shown = shown.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 8192];
            // Ends with EIO once the child, the last holder of the device, exits.
            while let Ok(n) = screen.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                shown
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        })
    };
    wait_for(&shown, "you> ");
    // At once, as a paste, while the greeting is still being printed above the prompt.
    keyboard.write_all(b"rebuild 20.04 arm64 redis\r").unwrap();
    wait_for(&shown, "Job #1 accepted");
    // The board is printed whole once; its edits in one line each, above the prompt.
    wait_for(
        &shown,
        "updated) ── Job #1 · 'rebuild 20.04 arm64 redis' · ",
    );
    // Up, then Enter: the same command again, not "\x1b[A" as a command.
    keyboard.write_all(b"\x1b[A").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    keyboard.write_all(b"\r").unwrap();
    wait_for(&shown, "Job #2 accepted");
    assert!(
        !shown.lock().unwrap().contains("I don't know the command"),
        "{}",
        shown.lock().unwrap()
    );
    // Ctrl-D: input ends; the sandbox finishes its jobs and exits 0.
    keyboard.write_all(b"\x04").unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!(
                "the sandbox did not end; it showed:\n{}",
                shown.lock().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(keyboard);
    let _ = reader.join();
    assert_eq!(status.code(), Some(0), "{}", shown.lock().unwrap());
    let shown = shown.lock().unwrap();
    assert!(shown.contains("Job #2 finished"), "{shown}");
}
