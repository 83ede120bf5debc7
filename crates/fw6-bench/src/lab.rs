//! A host namespace with `lan0`/`wan0` (fw6-testkit's `Topology`), a private dbus-daemon and
//! the real `fw6d` inside the host namespace with its own state directory — the approach of
//! `crates/fw6d/tests/common`. The daemon is started straight from a thread that entered the
//! host namespace (no `ip netns exec` in between), so start-up is timed from `fork`/`exec`.
//! Readiness is the daemon's own `READY=1` on a `NOTIFY_SOCKET` we bind, which it sends after
//! the table is in the kernel and the bus name is owned; both are checked afterwards.

use std::error::Error;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fw6::{EntryName, IfName, Mutation, PortKey};
use fw6_testkit::Topology;
use fw6_testkit::bus::PrivateBus;
use rustix::process::{Pid, Signal, kill_process};

use crate::Bins;

pub type Result<T> = std::result::Result<T, Box<dyn Error>>;

pub const BUS_NAME: &str = "org.fw6.Firewall1";

/// How long the daemon may take to become ready before the benchmark fails.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Lab {
    pub topology: Topology,
    pub bus: PrivateBus,
    bins: Bins,
    config: PathBuf,
    state_dir: PathBuf,
    log: PathBuf,
    daemon: Option<Child>,
    starts: u32,
    /// fw6d's log filter; `fw6d=debug` adds its per-commit phase timings to the log.
    pub log_filter: &'static str,
}

impl Lab {
    /// Namespaces and bus; no daemon yet.
    pub fn new(bins: &Bins) -> Result<Self> {
        Self::build(bins, false)
    }

    /// Namespaces and bus with the real polkitd; no daemon yet.
    pub fn with_polkit(bins: &Bins) -> Result<Self> {
        Self::build(bins, true)
    }

    fn build(bins: &Bins, polkit: bool) -> Result<Self> {
        let topology = Topology::new();
        let bus = PrivateBus::builder().polkit(polkit).start();
        let config = bus.dir().join("fw6d.toml");
        std::fs::write(&config, "")?;
        Ok(Self {
            state_dir: bus.dir().join("state"),
            log: bus.dir().join("fw6d.log"),
            topology,
            bus,
            bins: bins.clone(),
            config,
            daemon: None,
            starts: 0,
            log_filter: "info",
        })
    }

    /// Starts fw6d and returns the time from just before `spawn` to its `READY=1`.
    pub fn start_daemon(&mut self) -> Result<Duration> {
        if self.daemon.is_some() {
            return Err("fw6d is already running".into());
        }
        self.starts += 1;
        let notify_path = self.bus.dir().join(format!("notify-{}", self.starts));
        let _ = std::fs::remove_file(&notify_path);
        let notify = UnixDatagram::bind(&notify_path)?;
        notify.set_read_timeout(Some(Duration::from_millis(100)))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut cmd = Command::new(&self.bins.fw6d);
        cmd.args(["--bus-address", self.bus.address()])
            .arg("--config")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .env("NOTIFY_SOCKET", &notify_path)
            .env("FW6_LOG", self.log_filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let (started, child) = {
            // The child inherits this thread's network namespace.
            let _inside = self.topology.host().enter();
            let started = Instant::now();
            (started, cmd.spawn()?)
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
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e.into()),
            }
            if let Some(status) = self
                .daemon
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.daemon = None;
                return Err(format!("fw6d exited with {status}:\n{}", self.log()).into());
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(
                    format!("fw6d not ready after {READY_TIMEOUT:?}:\n{}", self.log()).into(),
                );
            }
        }
        let ready = started.elapsed();
        let _ = std::fs::remove_file(&notify_path);
        if !self.bus.name_has_owner(BUS_NAME) {
            return Err("fw6d said READY=1 but does not own its bus name".into());
        }
        if !self.table_present() {
            return Err("fw6d said READY=1 but table inet fw6 is absent".into());
        }
        Ok(ready)
    }

    /// SIGTERM to our daemon (by pid) and wait for it.
    pub fn stop_daemon(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            if let Some(pid) = Pid::from_raw(child.id().cast_signed()) {
                let _ = kill_process(pid, Signal::TERM);
            }
            let _ = child.wait();
        }
    }

    /// The daemon's pid.
    pub fn pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(Child::id)
    }

    /// `VmRSS` and `VmHWM` of the daemon, in KiB.
    pub fn memory(&self) -> Result<(u64, u64)> {
        let pid = self.pid().ok_or("fw6d is not running")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let field = |name: &str| -> Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .ok_or_else(|| format!("no {name} in /proc/{pid}/status"))?;
            Ok(line
                .split_whitespace()
                .nth(1)
                .ok_or("malformed status line")?
                .parse()?)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
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

    /// A blocking client on the lab's bus, as root.
    pub fn manager(&self) -> Result<fw6::blocking::Manager> {
        Ok(fw6::blocking::Manager::connect_to(self.bus.address())?)
    }

    /// Path of the `fw6` CLI.
    pub fn fw6_bin(&self) -> &std::path::Path {
        &self.bins.fw6
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop_daemon();
    }
}

/// `VmRSS` of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .ok_or("malformed status line")?
        .parse()?)
}

/// The `i`-th preloaded pair: ports 1, 1, 2, 2, … alternating TCP and UDP, so `n` pairs use
/// ports 1..=n/2 (100,000 pairs: every port up to 50,000, both protocols).
pub fn preload_key(i: usize) -> Result<PortKey> {
    let port = u32::try_from(i / 2 + 1)?;
    let protocol = if i.is_multiple_of(2) { 6 } else { 17 };
    Ok(PortKey::from_raw(port, protocol)?)
}

/// `OpenPort` mutations for pairs `range` on `connection`, all named `name`.
pub fn opens(
    connection: &str,
    range: std::ops::Range<usize>,
    key: impl Fn(usize) -> Result<PortKey>,
    name: &str,
) -> Result<Vec<Mutation>> {
    let connection = IfName::try_from(connection)?;
    let name = EntryName::try_from(name)?;
    range
        .map(|i| {
            Ok(Mutation::OpenPort {
                connection: connection.clone(),
                key: key(i)?,
                name: name.clone(),
            })
        })
        .collect()
}

/// Stores `n` pairs on `lan0` with one `Apply`; returns how long it took.
pub fn preload(manager: &fw6::blocking::Manager, n: usize) -> Result<Duration> {
    if n == 0 {
        return Ok(Duration::ZERO);
    }
    let batch = opens("lan0", 0..n, preload_key, "preload")?;
    let started = Instant::now();
    let changes = manager.apply(&batch)?;
    let took = started.elapsed();
    if changes as usize != n {
        return Err(format!("preload: {changes} changes for {n} pairs").into());
    }
    Ok(took)
}
