//! The private `dbus-daemon` and its lifetime.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::config::{self, Policy};
use super::polkit::Polkitd;
use super::process::Owned;
use super::{BUS_POLICY_FILE, START_TIMEOUT};

/// Options for [`PrivateBus`]; start with [`PrivateBus::builder`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Builder {
    policy: Policy,
    polkit: bool,
    quiet_rules: Option<&'static [&'static str]>,
}

impl Builder {
    /// The bus access policy (default [`Policy::Permissive`]).
    #[must_use]
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Also run a real polkitd on the bus (default no).
    #[must_use]
    pub fn polkit(mut self, polkit: bool) -> Self {
        self.polkit = polkit;
        self
    }

    /// Run polkitd as Debian's unit does (`--no-debug`: no debug output for every question, a
    /// cost the host's polkitd does not pay), with `rules` in place before it starts. Such a polkitd says nothing when it reloads, so
    /// [`Polkitd::add_rule`] cannot be used on it: for benchmarks, where the lab's polkitd should
    /// cost what the host's does.
    #[must_use]
    pub fn quiet_polkit(mut self, rules: &'static [&'static str]) -> Self {
        self.polkit = true;
        self.quiet_rules = Some(rules);
        self
    }

    /// Starts the bus (and polkitd) and waits until they answer; panics with the daemon's own
    /// words when they cannot start within [`START_TIMEOUT`].
    pub fn start(self) -> PrivateBus {
        crate::require_root("PrivateBus (dbus-daemon, polkitd, /etc/polkit-1 mounts)");
        let dir = unique_dir();
        let socket = dir.join("bus");
        let config_path = dir.join("bus.conf");
        let conf = config::render(&socket, self.policy, Path::new(BUS_POLICY_FILE));
        std::fs::write(&config_path, conf)
            .unwrap_or_else(|e| panic!("fw6-testkit: cannot write {}: {e}", config_path.display()));
        let log = dir.join("dbus-daemon.log");
        let child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config_path.display()))
            .args(["--nofork", "--nopidfile"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&log))
            .spawn()
            .unwrap_or_else(|e| panic!("fw6-testkit: cannot run dbus-daemon: {e}"));
        let mut bus = PrivateBus {
            address: format!("unix:path={}", socket.display()),
            daemon: Owned::new("dbus-daemon", child),
            polkit: None,
            socket,
            dir: TempDir(dir),
        };
        bus.wait_for_socket(&log);
        if self.polkit {
            bus.polkit = Some(Polkitd::start(&bus, self.quiet_rules));
        }
        bus
    }
}

/// A private system-type bus. Fields drop in declaration order, which is the teardown order:
/// polkitd (its mount namespace dies with it), then the bus daemon, then the directory.
#[derive(Debug)]
pub struct PrivateBus {
    polkit: Option<Polkitd>,
    daemon: Owned,
    address: String,
    socket: PathBuf,
    dir: TempDir,
}

impl PrivateBus {
    /// Options for a bus other than the two shortcuts below.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A permissive private bus with no polkitd.
    pub fn start() -> Self {
        Builder::default().start()
    }

    /// A permissive private bus with the real polkitd on it, our action file installed.
    pub fn start_with_polkit() -> Self {
        Builder::default().polkit(true).start()
    }

    /// The bus address (`unix:path=…`), for `--bus-address`, `FW6_BUS_ADDRESS` or zbus.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The temporary directory holding the socket, config and logs (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }

    /// The polkitd on this bus; panics if the bus was started without one.
    pub fn polkit(&self) -> &Polkitd {
        self.polkit
            .as_ref()
            .expect("fw6-testkit: this PrivateBus was started without polkitd")
    }

    /// `dbus-send --bus=<address>`, for the caller to add arguments to.
    pub fn dbus_send(&self) -> Command {
        let mut cmd = Command::new("dbus-send");
        cmd.arg(format!("--bus={}", self.address));
        cmd
    }

    /// `busctl --address=<address>`, for the caller to add arguments to.
    pub fn busctl(&self) -> Command {
        let mut cmd = Command::new("busctl");
        cmd.arg(format!("--address={}", self.address));
        cmd
    }

    /// Whether `name` has an owner on this bus now.
    pub fn name_has_owner(&self, name: &str) -> bool {
        let mut cmd = self.dbus_send();
        cmd.args([
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
        ])
        .arg(format!("string:{name}"));
        let out = crate::cmd::run(cmd);
        String::from_utf8_lossy(&out.stdout).contains("boolean true")
    }

    /// Waits until `name` has an owner, panicking after `timeout`.
    pub fn wait_for_name(&self, name: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.name_has_owner(name) {
            assert!(
                Instant::now() < deadline,
                "fw6-testkit: nobody owns {name} on {} after {timeout:?}",
                self.address
            );
            sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the socket accepts connections; a daemon that exits first is reported with
    /// its log (a config error, a missing binary).
    fn wait_for_socket(&mut self, log: &Path) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            if let Some(status) = self.daemon.exited() {
                panic!(
                    "fw6-testkit: dbus-daemon exited ({status}) before listening: {}",
                    read_log(log)
                );
            }
            assert!(
                Instant::now() < deadline,
                "fw6-testkit: dbus-daemon (pid {}) not listening on {} after {START_TIMEOUT:?}: {}",
                self.daemon.pid(),
                self.socket.display(),
                read_log(log)
            );
            sleep(Duration::from_millis(10));
        }
    }
}

/// A directory removed with everything in it on drop; the last field of [`PrivateBus`], so it
/// goes only after the daemons that use it are dead.
#[derive(Debug)]
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh directory `$TMPDIR/fw6-bus-<pid>-<n>` ([`crate::temp_path`]): `create_dir` fails if
/// it exists, so two buses never share one. Mode 0755 so unprivileged clients and polkitd can
/// reach the socket and the bind-mounted rules.
fn unique_dir() -> PathBuf {
    loop {
        let dir = crate::temp_path("bus");
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                use std::os::unix::fs::PermissionsExt;
                let perms = std::fs::Permissions::from_mode(0o755);
                std::fs::set_permissions(&dir, perms)
                    .unwrap_or_else(|e| panic!("fw6-testkit: cannot chmod {}: {e}", dir.display()));
                return dir;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => panic!("fw6-testkit: cannot create {}: {e}", dir.display()),
        }
    }
}

/// A log file for a child's output, so a failure message can quote it.
pub(crate) fn log_file(path: &Path) -> std::fs::File {
    std::fs::File::create(path)
        .unwrap_or_else(|e| panic!("fw6-testkit: cannot create {}: {e}", path.display()))
}

/// The log's text, for panic messages.
pub(crate) fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).map_or_else(
        |e| format!("(no log at {}: {e})", path.display()),
        |s| s.trim().to_owned(),
    )
}
