//! An idle bus connection owned by an unprivileged user: the "caller" whose system-bus name a
//! test hands to polkit, as fw6d does with the sender of a method call.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use super::START_TIMEOUT;
use super::daemon::PrivateBus;
use super::process::Owned;
use super::user::Unprivileged;

/// A connection to a [`PrivateBus`] held open by a process running as `who`; killed on drop.
///
/// It is a `dbus-monitor` with a match rule that matches nothing: the bus vouches for its uid
/// (EXTERNAL authentication on the socket), it prints its own unique name (the `NameAcquired`
/// signal) and then stays quiet, and it ships with `dbus-daemon` (package `dbus-bin`).
#[derive(Debug)]
pub struct BusClient {
    process: Owned,
    unique_name: String,
}

impl BusClient {
    /// Connects as `who` and waits until the bus has assigned the unique name.
    pub fn connect(bus: &PrivateBus, who: Unprivileged) -> Self {
        let mut cmd = Command::new("dbus-monitor");
        cmd.args([
            "--address",
            bus.address(),
            "type='signal',interface='org.fw6.Test.None'",
        ]);
        let child = who
            .command(cmd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("fw6-testkit: cannot run dbus-monitor as {who:?}: {e}"));
        let mut process = Owned::new("dbus-monitor", child);
        let stdout = process.take_stdout();
        let (tx, rx) = mpsc::channel();
        // After `NameAcquired`, dbus-monitor prints `   string ":1.N"`; keep draining so the
        // process never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(name) = line.trim().strip_prefix("string \"") {
                    let _ = tx.send(name.trim_end_matches('"').to_owned());
                }
            }
        });
        let deadline = Instant::now() + START_TIMEOUT;
        let unique_name = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|e| {
                panic!(
                    "fw6-testkit: dbus-monitor as {} did not get a bus name on {} ({e}; exited: \
                     {:?})",
                    who.user,
                    bus.address(),
                    process.exited()
                )
            });
        Self {
            process,
            unique_name,
        }
    }

    /// The connection's unique name (`:1.N`), the system-bus-name subject for polkit.
    pub fn unique_name(&self) -> &str {
        &self.unique_name
    }

    /// The pid of the process holding the connection.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}
