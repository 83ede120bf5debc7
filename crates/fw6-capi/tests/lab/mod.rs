//! The lab the foreign-language clients are tested in: fw6-testkit's `Lab` (the real `fw6d` in
//! the host namespace of a `Topology` with `lan0` and `wan0`, on a private bus, with the real
//! polkitd when asked), the paths of this checkout and its target directory, and the installing
//! and compiling of C programs. Shared by the C, README and Python suites; the daemon is the
//! debug binary `cargo build -p fw6d` (or `cargo test --workspace`) leaves next to this test, or
//! `$FW6D_BIN`.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the lab"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fw6_testkit::capi::{CLibrary, Compile};
pub use fw6_testkit::profile_dir;

/// fw6d in fw6-testkit's lab, with what the foreign-language suites add.
pub struct Lab(fw6_testkit::Lab);

impl std::ops::Deref for Lab {
    type Target = fw6_testkit::Lab;

    fn deref(&self) -> &fw6_testkit::Lab {
        &self.0
    }
}

impl Lab {
    /// Starts the lab; `polkit` runs the real polkitd, so unprivileged callers are refused.
    pub fn start(polkit: bool) -> Self {
        fw6_testkit::require_root("the client lab (namespaces, nftables, a private bus)");
        Self(fw6_testkit::Lab::builder().polkit(polkit).start())
    }

    /// `cmd` pointed at this lab's bus.
    pub fn client(&self, mut cmd: Command) -> Command {
        cmd.env("FW6_BUS_ADDRESS", self.bus.address());
        cmd
    }
}

/// The checkout's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `cmd`; its output, with a message naming `what` and the daemon's log on failure.
pub fn run(lab: &Lab, what: &str, cmd: &mut Command) -> Output {
    lab.run_checked(what, cmd).unwrap_or_else(|e| panic!("{e}"))
}

/// A temporary install prefix, removed on drop.
pub struct Prefix(pub PathBuf);

impl Drop for Prefix {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Installs the library built with this test under a fresh prefix, `.a` too if `statically`.
/// `cargo test` builds the library's C artefacts in `deps/` (only `cargo build` copies them one
/// level up), so that is where the fresh ones are.
pub fn install(lab: &Lab, statically: bool) -> CLibrary {
    CLibrary::install(lab, &profile_dir().join("deps"), statically)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `cc SOURCE $(pkg-config --cflags --libs [--static] fw6)` into the prefix; the binary.
pub fn compile(lab: &Lab, library: &CLibrary, source: &Path, statically: bool) -> PathBuf {
    let how = Compile {
        optimize: false,
        statically,
    };
    library
        .compile(lab, source, how)
        .unwrap_or_else(|e| panic!("{e}"))
}
