//! The lab of fw6d's end-to-end tests: fw6-testkit's `Lab` (a host namespace with `lan0`/`wan0`
//! to two peers, a private bus, optionally with the real polkitd, and the real `fw6d` binary
//! running inside the host namespace with a private state directory) and the calls made on it.
//! Calls go through `busctl`, as an administrator's script would, as root or as an
//! unprivileged user.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the lab"
)]

use std::ops::{Deref, DerefMut};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use fw6_testkit::bus::Unprivileged;
use rustix::process::Signal;

pub use fw6_model::wire::{
    BUS_NAME, CONNECTION_IFACE as CONN_IFACE, MANAGER_IFACE, MANAGER_PATH as MANAGER,
};

/// A polkit authentication agent (`pkttyagent`) on a terminal of its own.
pub struct Agent {
    /// `script`, running pkttyagent; its stdin is the terminal's keyboard.
    pub child: Child,
    /// A message each time the agent shows a password prompt.
    pub prompted: std::sync::mpsc::Receiver<()>,
}

impl Agent {
    /// Whether the agent shows a password prompt within `timeout`.
    pub fn prompts_within(&self, timeout: Duration) -> bool {
        self.prompted.recv_timeout(timeout).is_ok()
    }

    /// Presses Ctrl-C at the terminal (its "Cancel"), which reaches pkttyagent as SIGINT.
    pub fn cancel(&mut self) {
        use std::io::Write as _;
        let stdin = self.child.stdin.as_mut().expect("piped");
        let _ = stdin.write_all(b"\x03");
        let _ = stdin.flush();
    }

    /// Stops the agent and returns what it wrote to stderr.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let out = self.child.wait_with_output().expect("wait for the agent");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// fw6-testkit's lab running this crate's `fw6d`, with the calls an administrator's script
/// makes. Dropping it stops fw6d (by pid), the bus, and removes the namespaces.
pub struct Lab(fw6_testkit::Lab);

impl Deref for Lab {
    type Target = fw6_testkit::Lab;

    fn deref(&self) -> &fw6_testkit::Lab {
        &self.0
    }
}

impl DerefMut for Lab {
    fn deref_mut(&mut self) -> &mut fw6_testkit::Lab {
        &mut self.0
    }
}

impl Lab {
    /// A lab with the default configuration and no polkitd.
    pub fn start() -> Self {
        Self::with("", false)
    }

    /// A lab whose fw6d.toml has `extra` lines (`@DIR@` in them stands for the lab's own
    /// directory, e.g. for `log_directories`), with a real polkitd if `polkit`.
    pub fn with(extra: &str, polkit: bool) -> Self {
        // Tests change and delete the table from outside to exercise drift repair, which an
        // owned table (the default, table_owner) would refuse.
        Self(
            fw6_testkit::Lab::builder()
                .config(&format!("table_owner = false\n{extra}"))
                .polkit(polkit)
                .fw6d(env!("CARGO_BIN_EXE_fw6d"))
                .log_filter("info,fw6d::service=debug")
                .start(),
        )
    }

    /// Stops fw6d with `signal` ("TERM" or "KILL") and waits for it.
    pub fn stop_daemon(&mut self, signal: &str) {
        let signal = match signal {
            "TERM" => Signal::TERM,
            "KILL" => Signal::KILL,
            other => panic!("no such signal in the lab: {other}"),
        };
        self.0.stop_daemon_with(signal);
    }

    /// Root opens 8080/tcp on lan0, makes lan0 ignore the global 546/udp and turns wan0's
    /// firewall off, so that an unprivileged `ClosePort lan0 8080/tcp`, `ObserveGlobalPort lan0
    /// 546/udp` and `EnableFirewall wan0` would each change something: a call that changes
    /// nothing needs no authentication (tests/authorization.rs). Returns wan0's object path.
    pub fn set_up_changes_to_refuse(&self) -> String {
        let lan0 = self.connection_path("lan0");
        let wan0 = self.connection_path("wan0");
        for (path, member, args) in [
            (
                lan0.as_str(),
                "OpenPort",
                vec!["uint16:8080", "uint32:6", "string:web"],
            ),
            (
                lan0.as_str(),
                "IgnoreGlobalPort",
                vec!["uint16:546", "uint32:17", "string:x"],
            ),
            (wan0.as_str(), "DisableFirewall", vec![]),
        ] {
            self.send_as(None, path, member, &args).unwrap();
        }
        wan0
    }

    /// Runs `method` (`interface.Member`) of `path` as nobody under an authentication agent:
    /// the caller waits until the agent has registered for its pid, then becomes dbus-send (exec
    /// keeps the pid and start time polkit identifies the process by); `pkttyagent`, which needs
    /// a controlling terminal, runs under `script`, whose stdin is the terminal's keyboard and
    /// whose stdout is the screen, watched for the password prompt.
    pub fn call_under_agent(&self, path: &str, method: &str, args: &str) -> (Child, Agent) {
        let script = format!(
            "sleep 1; exec dbus-send --bus={} --print-reply --dest={BUS_NAME} {path} \
             {method} {args}",
            self.bus.address(),
        );
        let mut sh = Command::new("sh");
        sh.args(["-c", &script]);
        let caller = fw6_testkit::bus::NOBODY
            .command(sh)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut child = Command::new("script")
            .args(["-q", "-e", "-c"])
            // SIGINT back to its default: a test started in the background by a shell inherits
            // it ignored, and then the terminal's Ctrl-C would not reach pkttyagent.
            .arg(format!(
                "env --default-signal=INT pkttyagent --process {}",
                caller.id()
            ))
            .arg("/dev/null")
            .env("DBUS_SYSTEM_BUS_ADDRESS", self.bus.address())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run pkttyagent");
        let mut screen = child.stdout.take().expect("piped");
        let (tx, prompted) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::Read as _;
            let mut seen = Vec::new();
            let mut buf = [0_u8; 512];
            while let Ok(n) = screen.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                if String::from_utf8_lossy(&seen).contains("Password") {
                    let _ = tx.send(());
                    seen.clear();
                }
            }
        });
        (caller, Agent { child, prompted })
    }

    /// `busctl call` as root; JSON reply data or the error text.
    pub fn call(
        &self,
        path: &str,
        iface: &str,
        member: &str,
        args: &[&str],
    ) -> Result<String, String> {
        self.call_as(None, path, iface, member, args)
    }

    /// `busctl call`, as `who` if given.
    pub fn call_as(
        &self,
        who: Option<Unprivileged>,
        path: &str,
        iface: &str,
        member: &str,
        args: &[&str],
    ) -> Result<String, String> {
        let mut cmd = Command::new("busctl");
        cmd.args([
            "--json=short",
            "--address",
            self.bus.address(),
            "call",
            BUS_NAME,
            path,
            iface,
            member,
        ]);
        cmd.args(args);
        if let Some(who) = who {
            cmd = who.command(cmd);
        }
        result(&cmd.output().expect("run busctl"))
    }

    /// `dbus-send` (whose errors carry the D-Bus error name, unlike busctl's), as `who` if given.
    /// Arguments use dbus-send's syntax: `uint16:80`, `uint32:6`, `string:web`.
    pub fn send_as(
        &self,
        who: Option<Unprivileged>,
        path: &str,
        member: &str,
        args: &[&str],
    ) -> Result<String, String> {
        let iface = if path == MANAGER {
            MANAGER_IFACE
        } else {
            CONN_IFACE
        };
        let mut cmd = Command::new("dbus-send");
        cmd.arg(format!("--bus={}", self.bus.address()))
            .args(["--print-reply", &format!("--dest={BUS_NAME}"), path])
            .arg(format!("{iface}.{member}"))
            .args(args);
        if let Some(who) = who {
            cmd = who.command(cmd);
        }
        result(&cmd.output().expect("run dbus-send"))
    }

    /// Sets a manager property with `dbus-send` (so the error name shows), as `who` if given.
    /// `value` in dbus-send syntax, e.g. `variant:boolean:true`.
    pub fn send_props_as(
        &self,
        who: Option<Unprivileged>,
        property: &str,
        value: &str,
    ) -> Result<String, String> {
        let mut cmd = Command::new("dbus-send");
        cmd.arg(format!("--bus={}", self.bus.address()))
            .args(["--print-reply", &format!("--dest={BUS_NAME}"), MANAGER])
            .arg("org.freedesktop.DBus.Properties.Set")
            .arg(format!("string:{MANAGER_IFACE}"))
            .arg(format!("string:{property}"))
            .arg(value);
        if let Some(who) = who {
            cmd = who.command(cmd);
        }
        result(&cmd.output().expect("run dbus-send"))
    }

    /// The manager's member.
    pub fn manager(&self, member: &str, args: &[&str]) -> Result<String, String> {
        self.call(MANAGER, MANAGER_IFACE, member, args)
    }

    /// A connection's member, by interface name.
    pub fn connection(&self, ifname: &str, member: &str, args: &[&str]) -> Result<String, String> {
        let path = self.connection_path(ifname);
        self.call(&path, CONN_IFACE, member, args)
    }

    /// The object path of `ifname` via `GetConnection`.
    pub fn connection_path(&self, ifname: &str) -> String {
        let reply = self
            .manager("GetConnection", &["s", ifname])
            .expect("GetConnection");
        let v: serde_json::Value = serde_json::from_str(&reply).unwrap();
        v["data"][0].as_str().unwrap().to_owned()
    }

    /// `busctl get-property`/`set-property` as root.
    pub fn property(&self, name: &str, set: Option<&[&str]>) -> Result<String, String> {
        let mut cmd = Command::new("busctl");
        cmd.args(["--json=short", "--address", self.bus.address()]);
        match set {
            None => cmd.args(["get-property", BUS_NAME, MANAGER, MANAGER_IFACE, name]),
            Some(value) => cmd
                .args(["set-property", BUS_NAME, MANAGER, MANAGER_IFACE, name])
                .args(value),
        };
        result(&cmd.output().expect("run busctl"))
    }

    /// `busctl get-property` of a connection object, by interface name.
    pub fn connection_property(&self, ifname: &str, name: &str) -> Result<String, String> {
        let path = self.connection_path(ifname);
        let mut cmd = Command::new("busctl");
        cmd.args([
            "--json=short",
            "--address",
            self.bus.address(),
            "get-property",
            BUS_NAME,
        ])
        .args([path.as_str(), CONN_IFACE, name]);
        result(&cmd.output().expect("run busctl"))
    }

    /// `nft list table inet fw6` in the host namespace ("" when absent).
    pub fn table(&self) -> String {
        let out = self
            .topology
            .host()
            .command("nft")
            .args(["list", "table", "inet", "fw6"])
            .output()
            .expect("run nft");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `nft <args>` in the host namespace; panics on failure.
    pub fn nft(&self, args: &[&str]) -> String {
        self.topology.host().exec("nft", args)
    }
}

fn result(out: &Output) -> Result<String, String> {
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The `data` array of a busctl JSON reply.
pub fn data(reply: &str) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(reply).unwrap_or_else(|e| panic!("{e}: {reply}"));
    v["data"].clone()
}
