//! A pseudo-terminal, for the bench of `build --wait` drawn on a terminal and for the test of
//! the sandbox's prompt (`tests/sandbox_shell.rs` includes this file).

use std::os::fd::OwnedFd;

/// A pseudo-terminal of 120 × 40: the controller, and the device for the child.
pub fn pseudo_terminal() -> (OwnedFd, OwnedFd) {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let controller =
        openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC).unwrap();
    grantpt(&controller).unwrap();
    unlockpt(&controller).unwrap();
    let name = ptsname(&controller, Vec::new()).unwrap();
    let device: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap()
        .into();
    rustix::termios::tcsetwinsize(
        &device,
        rustix::termios::Winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )
    .unwrap();
    (controller, device)
}
