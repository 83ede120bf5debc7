//! The lab every end-to-end suite runs fw6d in: a [`Topology`] (the host namespace with `lan0`
//! and `wan0` to two peers), a [`PrivateBus`] (with the real polkitd when asked), and the real
//! `fw6d` binary in the host namespace with a private configuration, state directory and log.
//! Used by fw6d's, fw6's and fw6-capi's tests and by fw6-bench; each adds only its own way of
//! calling the daemon (busctl, the `fw6` CLI, C and Python clients, the typed library).
//!
//! The daemon is started straight from a thread that entered the host namespace (no `ip netns
//! exec` in between, so start-up is timed from `fork`/`exec`), with `NOTIFY_SOCKET` pointing
//! at a socket of the lab's: it is ready when it says `READY=1`, as systemd would see it, which
//! it does once its table is in the kernel and its bus name is owned (both checked). It is
//! stopped by its pid.

use std::fmt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use fw6_model::wire::BUS_NAME;
use rustix::process::{Pid, Signal, kill_process};

use crate::Topology;
use crate::bus::PrivateBus;

/// How long the daemon may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How to build a [`Lab`].
#[derive(Debug, Clone)]
pub struct LabBuilder {
    config: String,
    polkit: bool,
    quiet_polkit: Option<&'static [&'static str]>,
    fw6d: Option<PathBuf>,
    log_filter: String,
}

/// Why fw6d did not become ready.
#[derive(Debug)]
pub struct LabError(String);

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LabError {}

impl LabBuilder {
    /// The text of `fw6d.toml`; `@DIR@` in it stands for the lab's own directory (e.g. for
    /// `log_directories`). Empty by default.
    #[must_use]
    pub fn config(mut self, text: &str) -> Self {
        text.clone_into(&mut self.config);
        self
    }

    /// Runs the real polkitd on the lab's bus, so unprivileged callers are really refused.
    #[must_use]
    pub fn polkit(mut self, polkit: bool) -> Self {
        self.polkit = polkit;
        self
    }

    /// Runs polkitd as the host does, with `rules` from the start
    /// ([`crate::bus::Builder::quiet_polkit`]).
    #[must_use]
    pub fn quiet_polkit(mut self, rules: &'static [&'static str]) -> Self {
        self.quiet_polkit = Some(rules);
        self
    }

    /// The `fw6d` binary; by default [`fw6d_bin`].
    #[must_use]
    pub fn fw6d(mut self, path: impl Into<PathBuf>) -> Self {
        self.fw6d = Some(path.into());
        self
    }

    /// fw6d's `--log` filter (default `info`).
    #[must_use]
    pub fn log_filter(mut self, filter: &str) -> Self {
        filter.clone_into(&mut self.log_filter);
        self
    }

    /// Namespaces, bus and configuration; no daemon yet ([`Lab::start_daemon`]).
    pub fn build(self) -> Lab {
        let topology = Topology::new();
        let mut bus = PrivateBus::builder().polkit(self.polkit);
        if let Some(rules) = self.quiet_polkit {
            bus = bus.quiet_polkit(rules);
        }
        let bus = bus.start();
        let dir = bus.dir().to_owned();
        let config = dir.join("fw6d.toml");
        let text = self
            .config
            .replace("@DIR@", dir.to_str().expect("a UTF-8 lab directory"));
        std::fs::write(&config, text).expect("fw6-testkit: write fw6d.toml");
        Lab {
            topology,
            bus,
            fw6d: self.fw6d.unwrap_or_else(fw6d_bin),
            config,
            state_dir: dir.join("state"),
            log: dir.join("fw6d.log"),
            daemon: None,
            starts: 0,
            log_filter: self.log_filter,
        }
    }

    /// [`LabBuilder::build`], then the daemon started; panics with its log if it does not
    /// become ready.
    pub fn start(self) -> Lab {
        let mut lab = self.build();
        lab.start_daemon();
        lab
    }
}

/// A running lab. Dropping it stops fw6d (SIGTERM, by pid), then the bus and the namespaces go.
#[derive(Debug)]
pub struct Lab {
    /// The namespaces; fw6d runs in `topology.host()`.
    pub topology: Topology,
    /// The private bus fw6d serves on.
    pub bus: PrivateBus,
    /// fw6d's state directory (the store) for the next start.
    pub state_dir: PathBuf,
    fw6d: PathBuf,
    config: PathBuf,
    log: PathBuf,
    daemon: Option<Child>,
    starts: u32,
    /// fw6d's `--log` filter for the next start; `fw6d=debug` adds its per-commit phase timings.
    pub log_filter: String,
}

impl Lab {
    /// How to build one.
    pub fn builder() -> LabBuilder {
        LabBuilder {
            config: String::new(),
            polkit: false,
            quiet_polkit: None,
            fw6d: None,
            log_filter: "info".to_owned(),
        }
    }

    /// Starts fw6d and returns the time from just before `spawn` to its `READY=1`; panics with
    /// the daemon's log if it exits or is not ready in time.
    pub fn start_daemon(&mut self) -> Duration {
        self.try_start_daemon().unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Lab::start_daemon`], failing with an error instead (for a program, not a test).
    pub fn try_start_daemon(&mut self) -> Result<Duration, LabError> {
        let fail = |what: String| LabError(what);
        if self.daemon.is_some() {
            return Err(fail("fw6d is already running".to_owned()));
        }
        self.starts += 1;
        let notify_path = self.bus.dir().join(format!("notify-{}", self.starts));
        let _ = std::fs::remove_file(&notify_path);
        let io = |what: &'static str| move |e: std::io::Error| LabError(format!("{what}: {e}"));
        let notify = UnixDatagram::bind(&notify_path).map_err(io("bind NOTIFY_SOCKET"))?;
        notify
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(io("NOTIFY_SOCKET timeout"))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(io("open the fw6d log"))?;
        let mut cmd = Command::new(&self.fw6d);
        cmd.args(["--bus-address", self.bus.address()])
            .arg("--config")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .args(["--log", &self.log_filter])
            .env("NOTIFY_SOCKET", &notify_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let (started, child) = {
            // The child inherits this thread's network namespace.
            let _inside = self.topology.host().enter();
            let started = Instant::now();
            let child = cmd
                .spawn()
                .map_err(|e| fail(format!("cannot run {}: {e}", self.fw6d.display())))?;
            (started, child)
        };
        self.daemon = Some(child);
        let mut buf = [0u8; 512];
        loop {
            match notify.recv(&mut buf) {
                Ok(n) if String::from_utf8_lossy(&buf[..n]).contains("READY=1") => break,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            // A signal to the test process (a child exiting) interrupts the read.
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(io("read NOTIFY_SOCKET")(e)),
            }
            if let Some(status) = self
                .daemon
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.daemon = None;
                return Err(fail(format!(
                    "fw6d exited with {status} during start-up:\n{}",
                    self.log()
                )));
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(fail(format!(
                    "fw6d not ready after {READY_TIMEOUT:?}:\n{}",
                    self.log()
                )));
            }
        }
        let ready = started.elapsed();
        let _ = std::fs::remove_file(&notify_path);
        if !self.bus.name_has_owner(BUS_NAME) {
            return Err(fail(
                "fw6d said READY=1 but does not own its bus name".to_owned(),
            ));
        }
        if !self.table_present() {
            return Err(fail(
                "fw6d said READY=1 but table inet fw6 is absent".to_owned(),
            ));
        }
        Ok(ready)
    }

    /// Stops fw6d with `signal` (by pid) and waits for it and for its bus name to go.
    pub fn stop_daemon_with(&mut self, signal: Signal) {
        if let Some(mut child) = self.daemon.take() {
            if let Some(pid) = Pid::from_raw(child.id().cast_signed()) {
                let _ = kill_process(pid, signal);
            }
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.bus.name_has_owner(BUS_NAME) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops fw6d with SIGTERM.
    pub fn stop_daemon(&mut self) {
        self.stop_daemon_with(Signal::TERM);
    }

    /// The daemon's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(Child::id)
    }

    /// The daemon's stderr log file (kept across restarts).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The daemon's log so far, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs `cmd`, a step of a test named `what`: its output, or on failure a message with its
    /// status, output and the daemon's log.
    pub fn run_checked(&self, what: &str, cmd: &mut Command) -> Result<Output, String> {
        let out = cmd
            .output()
            .map_err(|e| format!("cannot run {what}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}\n--- fw6d log\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.log()
            ));
        }
        Ok(out)
    }

    /// `fw6d.toml`.
    pub fn config_path(&self) -> &Path {
        &self.config
    }

    /// Whether `table inet fw6` exists in the host namespace.
    pub fn table_present(&self) -> bool {
        self.topology
            .host()
            .command("nft")
            .args(["list", "tables", "inet"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("table inet fw6"))
    }

    /// Waits (bounded) until `cond` holds; panics naming `what`, with the daemon's log.
    pub fn wait_until(&self, what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + timeout;
        while !cond() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop_daemon();
    }
}

/// The target profile directory the calling test runs from (`target/debug`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>")
        .to_path_buf()
}

/// `$FW6D_BIN`, or the `fw6d` binary in the calling test's target directory; panics with what
/// to do when it is missing.
pub fn fw6d_bin() -> PathBuf {
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
