//! Running it as a service: the systemd unit in `debian/` (what `cargo deb` installs) verifies
//! with `systemd-analyze`, is hardened, and gives `run` the time it takes to stop cleanly. The
//! package itself is built and listed by CI (`.ci/run`).

use std::path::Path;
use std::process::Command;

fn unit() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("debian/image-builder.service"),
    )
    .expect("debian/image-builder.service")
}

/// The value of `key=` in the unit (the last one, as systemd takes it for most keys).
fn value<'a>(unit: &'a str, key: &str) -> Option<&'a str> {
    unit.lines()
        .rev()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
}

#[test]
fn the_unit_verifies_without_a_warning() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        // CI installs systemd; a machine without it cannot check the unit.
        eprintln!("systemd-analyze is not installed: the unit is not verified here");
        return;
    }
    let dir = std::env::temp_dir().join(format!("ib-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The unit names the installed binary; verify checks that it exists, so it is pointed at
    // the one this test built.
    let path = dir.join("image-builder.service");
    std::fs::write(
        &path,
        unit().replace(
            "/usr/bin/image-builder",
            env!("CARGO_BIN_EXE_image-builder"),
        ),
    )
    .unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    // verify exits 0 on an unknown key or a bad value, saying so: none may be said.
    assert!(said.trim().is_empty(), "{said}");
}

#[test]
fn the_unit_is_hardened_and_waits_for_a_clean_stop() {
    let unit = unit();
    for (key, wanted) in [
        ("DynamicUser", "yes"),
        ("StateDirectory", "image-builder"),
        ("ConfigurationDirectory", "image-builder"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("Restart", "on-failure"),
        ("KillSignal", "SIGTERM"),
        ("CapabilityBoundingSet", ""),
        ("UMask", "0077"),
    ] {
        assert_eq!(value(&unit, key), Some(wanted), "{key}");
    }
    let exec = value(&unit, "ExecStart").unwrap();
    assert!(exec.starts_with("/usr/bin/image-builder run "), "{exec}");
    assert!(
        exec.contains("--credentials %d/"),
        "credentials from systemd: {exec}"
    );
    assert!(
        value(&unit, "EnvironmentFile").is_some(),
        "tokens from a file"
    );
    assert!(
        value(&unit, "ConditionPathExists").is_some(),
        "nothing starts before it is configured"
    );
    // systemd waits TimeoutStopSec before it kills: longer than `run` takes to stop cleanly.
    let timeout: u64 = value(&unit, "TimeoutStopSec")
        .and_then(|v| v.trim_end_matches('s').parse().ok())
        .unwrap();
    assert!(
        timeout > image_builder::cli::STOP_GRACE.as_secs(),
        "{timeout}"
    );
}
