//! The lab the foreign-language clients are tested in: the real `fw6d` in the host namespace
//! of a `Topology` (connections `lan0`, `wan0`), on a private bus (with the real polkitd when
//! asked), the paths of this checkout and its target directory, and the installing and
//! compiling of C programs. Shared by the C, README and Python suites; the daemon is the debug
//! binary `cargo build -p fw6d` (or `cargo test --workspace`) leaves next to this test, or
//! `$FW6D_BIN`.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the lab"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use fw6_testkit::Topology;
use fw6_testkit::bus::PrivateBus;

/// fw6d running in the topology's host namespace. Dropping it stops fw6d (by pid), then the
/// bus and the namespaces go.
pub struct Lab {
    pub topology: Topology,
    pub bus: PrivateBus,
    daemon: Child,
}

impl Lab {
    /// Starts the lab; `polkit` runs the real polkitd, so unprivileged callers are refused.
    pub fn start(polkit: bool) -> Self {
        fw6_testkit::require_root("the client lab (namespaces, nftables, a private bus)");
        let topology = Topology::new();
        let bus = PrivateBus::builder().polkit(polkit).start();
        let config = bus.dir().join("fw6d.toml");
        std::fs::write(&config, "").expect("write fw6d.toml");
        let log = std::fs::File::create(bus.dir().join("fw6d.log")).expect("fw6d.log");
        let daemon = topology
            .host()
            .command(fw6d_bin().to_str().expect("utf-8 path"))
            .args(["--bus-address", bus.address()])
            .arg("--config")
            .arg(&config)
            .arg("--state-dir")
            .arg(bus.dir().join("state"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn fw6d");
        let mut lab = Self {
            topology,
            bus,
            daemon,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !lab.bus.name_has_owner("org.fw6.Firewall1") {
            if let Ok(Some(status)) = lab.daemon.try_wait() {
                panic!("fw6d exited with {status} during start-up:\n{}", lab.log());
            }
            assert!(
                Instant::now() < deadline,
                "fw6d did not start:\n{}",
                lab.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        lab
    }

    /// The daemon's log so far, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.bus.dir().join("fw6d.log")).unwrap_or_default()
    }

    /// `cmd` pointed at this lab's bus.
    pub fn client(&self, mut cmd: Command) -> Command {
        cmd.env("FW6_BUS_ADDRESS", self.bus.address());
        cmd
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.daemon.id().to_string()])
            .status();
        let _ = self.daemon.wait();
    }
}

/// The target profile directory this test runs from (`target/debug`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// The checkout's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fw6d_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("FW6D_BIN") {
        return path.into();
    }
    let bin = profile_dir().join("fw6d");
    assert!(
        bin.exists(),
        "{} is missing: build the daemon first (`cargo build -p fw6d`) or set FW6D_BIN",
        bin.display()
    );
    bin
}

/// Runs `cmd`; its output, with a message naming `what` and the daemon's log on failure.
pub fn run(lab: &Lab, what: &str, cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}\n--- fw6d log\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        lab.log()
    );
    out
}

/// A temporary install prefix, removed on drop.
pub struct Prefix(pub PathBuf);

impl Drop for Prefix {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Installs the library built with this test under a fresh prefix, `.a` too if `statically`.
/// `cargo test`
/// builds the library's C artefacts in `deps/` (only `cargo build` copies them one level up),
/// so that is where the fresh ones are.
pub fn install(lab: &Lab, statically: bool) -> Prefix {
    let prefix = Prefix(fw6_testkit::temp_path("capi"));
    run(
        lab,
        "scripts/capi-install.sh",
        Command::new("bash")
            .arg(repo().join("scripts/capi-install.sh"))
            .arg(&prefix.0)
            .arg(profile_dir().join("deps"))
            .args(statically.then_some("--static")),
    );
    prefix
}

/// `cc SOURCE $(pkg-config --cflags --libs [--static] fw6)` into the prefix; the binary.
pub fn compile(lab: &Lab, prefix: &Path, source: &Path, statically: bool) -> PathBuf {
    let stem = source.file_stem().expect("source name").to_string_lossy();
    let out = prefix.join(format!("{stem}{}", if statically { "-static" } else { "" }));
    let (pc_flags, link) = if statically {
        (
            "--static --cflags --libs",
            "-Wl,-Bstatic -lfw6 -Wl,-Bdynamic",
        )
    } else {
        ("--cflags --libs", "")
    };
    let script = format!(
        "cc -std=c11 -Wall -Wextra -Werror -pthread \"$1\" -o \"$2\" $(pkg-config {pc_flags} fw6) {link}"
    );
    run(
        lab,
        &format!("compiling {}", source.display()),
        Command::new("sh")
            .args(["-c", &script, "cc"])
            .arg(source)
            .arg(&out)
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig")),
    );
    out
}
