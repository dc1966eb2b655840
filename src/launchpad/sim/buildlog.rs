//! Build logs, as Launchpad serves them: the build's `build_log_url` is on the web host,
//! `<build web path>/+files/buildlog_oci_<series>_<arch>_BUILDING.txt.gz`, which answers 303
//! to the librarian (`reference/launchpad-api.md` §1.2, `ProxiedLibraryFileAlias.http_url`);
//! the librarian serves the gzip file as it was stored, `Content-Type: text/plain`
//! (`lp.services.helpers.filenameToContentType` maps `.txt.gz` to `text/plain`).
//!
//! Assumed, where the reference is silent: the text follows launchpad-buildd's `build-oci`
//! with Docker's classic builder (`Step N/M : ...`, then `The command '...' returned a
//! non-zero code: N` when a step fails); the librarian adds no `Content-Encoding` (a client
//! must decode the gzip itself, and does); a missing or expired file answers 404.
//!
//! A scenario's `build_log` makes a log huge (50 MB, stored uncompressed in the gzip so its
//! size is what crosses the wire), corrupt (a gzip header, then garbage), not gzip (plain
//! text), missing (404), or hostile (mentions and escape sequences in its last lines).

use std::io::Write;

use serde::Deserialize;

use super::world::{SimBuild, World};
use crate::launchpad::models::BuildState;

/// What the librarian holds as a build's log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// A realistic log of what the build did.
    #[default]
    Realistic,
    /// 50 MB of gzip (a build that printed too much).
    Huge,
    /// A gzip header, then bytes that do not inflate.
    Corrupt,
    /// The text, not gzipped.
    NotGzip,
    /// No file (404), as for an expired log.
    Missing,
    /// A realistic log whose failing step printed what a chat reads as mentions (`@channel`,
    /// `@here`, `@everyone`, `<@!1>`) and a terminal as escape sequences: a build's output is
    /// anyone's text.
    Hostile,
}

/// How big a huge log is on the wire.
pub const HUGE_BYTES: usize = 50 * 1024 * 1024;

/// The log's file name in `build_log_url`.
pub fn file_name(codename: &str, build: &SimBuild) -> String {
    format!("buildlog_oci_{codename}_{}_BUILDING.txt.gz", build.arch)
}

/// The librarian's answer for a build's log: the bytes, or `None` for 404.
pub fn body(world: &World, build: &SimBuild) -> Option<Vec<u8>> {
    let text = || text(world, build);
    match build.log_kind() {
        LogKind::Missing => None,
        LogKind::NotGzip => Some(text().into_bytes()),
        LogKind::Corrupt => {
            let mut bytes = vec![0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x03];
            bytes.extend(std::iter::repeat_n(0xff_u8, 4096));
            Some(bytes)
        }
        LogKind::Huge => {
            let mut log = text();
            let filler = "Get:1 http://ports.ubuntu.com/ubuntu-ports noble InRelease [256 kB]\n";
            while log.len() < HUGE_BYTES {
                log.push_str(filler);
            }
            Some(gzip(&log, flate2::Compression::none()))
        }
        LogKind::Realistic => Some(gzip(&text(), flate2::Compression::default())),
        LogKind::Hostile => {
            let mut log = text();
            log.push_str(
                "@channel @here @everyone <@!1> <@&2> the build broke, tell @all\n\
                 \x1b[31mERROR\x1b[0m \x1b]8;;http://example.invalid\x07link\x1b]8;;\x07 tests failed\n\
                 E: @channel see above\n",
            );
            Some(gzip(&log, flate2::Compression::default()))
        }
    }
}

fn gzip(text: &str, level: flate2::Compression) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
    encoder
        .write_all(text.as_bytes())
        .expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// The log's text: launchpad-buildd's preparation, then `docker build`, failing at the
/// package install step when the build failed.
pub fn text(world: &World, build: &SimBuild) -> String {
    let recipe = world.recipes.get(&build.recipe);
    let image = recipe.map(|r| r.image.to_string()).unwrap_or_default();
    let codename = recipe.map(|r| r.codename.as_str()).unwrap_or("noble");
    let failed = build.state == BuildState::FailedToBuild;
    let install = format!("apt-get update && apt-get install -y --no-install-recommends {image}");
    let mut log = format!(
        "Building on sim-{arch} (virtual) ({arch})\n\
         RUN: /usr/share/launchpad-buildd/bin/builder-prep\n\
         Kernel version: Linux sim-{arch} 5.15.0-91-generic #101-Ubuntu SMP {arch}\n\
         Buildd toolchain package versions: launchpad-buildd_239 python3-lpbuildd_239\n\
         RUN: /usr/share/launchpad-buildd/bin/in-target build-oci --backend=lxd --series={codename} --arch={arch} OCIBUILD-{id} --git-repository https://git.launchpad.net/~ubuntu-docker-images/ubuntu-docker-images/+git/{image} --build-file Dockerfile --build-path . {image}\n\
         Running build phase...\n\
         Sending build context to Docker daemon  61.44kB\n\
         Step 1/6 : FROM ubuntu:{codename}\n \
         ---> 6b7dfa7e8fdb\n\
         Step 2/6 : ENV DEBIAN_FRONTEND=noninteractive\n \
         ---> Running in 3f6c2b1d9e0a\n\
         Removing intermediate container 3f6c2b1d9e0a\n \
         ---> 8a1f3c0e2b7d\n\
         Step 3/6 : RUN {install}\n \
         ---> Running in 0c9e8d7f6a5b\n\
         Get:1 http://ports.ubuntu.com/ubuntu-ports {codename} InRelease [256 kB]\n\
         Get:2 http://ports.ubuntu.com/ubuntu-ports {codename}-updates InRelease [126 kB]\n\
         Fetched 30.1 MB in 4s (7342 kB/s)\n\
         Reading package lists...\n",
        arch = build.arch,
        id = build.id,
    );
    if failed {
        log.push_str(&format!(
            "Reading package lists...\n\
             Building dependency tree...\n\
             Reading state information...\n\
             E: Unable to locate package {image}\n\
             The command '/bin/sh -c {install}' returned a non-zero code: 100\n\
             Revoking proxy token...\n\
             RUN: /usr/share/launchpad-buildd/bin/in-target scan-for-processes --backend=lxd --series={codename} --arch={arch} OCIBUILD-{id}\n\
             Scanning for processes to kill in build OCIBUILD-{id}\n",
            arch = build.arch,
            id = build.id,
        ));
    } else {
        log.push_str(&format!(
            "Setting up {image} ...\n\
             Removing intermediate container 0c9e8d7f6a5b\n \
             ---> 5e4d3c2b1a09\n\
             Step 4/6 : COPY entrypoint.sh /usr/local/bin/\n \
             ---> 4d3c2b1a0987\n\
             Step 5/6 : EXPOSE 6379\n \
             ---> 3c2b1a098765\n\
             Step 6/6 : ENTRYPOINT [\"entrypoint.sh\"]\n \
             ---> 2b1a09876543\n\
             Successfully built 2b1a09876543\n\
             Successfully tagged {image}:latest\n\
             Revoking proxy token...\n"
        ));
    }
    log
}

/// The upload log's file name in `upload_log_url`, for a build whose files Launchpad could not
/// take in (the build state `Failed to upload`).
pub fn upload_log_name(build: &SimBuild) -> String {
    format!("upload_{}_log.txt", build.id)
}

/// What Launchpad's upload processor logs when it cannot take an OCI build's files in.
/// Assumed, where the reference is silent: plain text (not gzip), the processor's usual
/// `LEVEL message` lines, the reason on an `ERROR` line.
pub fn upload_log(id: u64, recipe_name: &str) -> String {
    format!(
        "INFO Creating lockfile: /var/lock/process-upload-buildd.lock\n\
         DEBUG Beginning processing.\n\
         INFO Processing OCI upload 20260105-090000-OCIBUILD-{id}\n\
         DEBUG Looking for build {id} of {recipe_name}\n\
         ERROR Build {id} of {recipe_name}: digests.json is missing from the upload; the build's files were not stored\n\
         DEBUG Moving upload directory 20260105-090000-OCIBUILD-{id} to failed.\n\
         INFO Rolling back any remaining transactions.\n"
    )
}
