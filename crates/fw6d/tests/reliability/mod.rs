//! Shared parts of the reliability suite (`tests/reliability_*.rs`): a direct zbus client (many
//! calls in flight, exact error names), the three views of the configuration (the daemon's
//! answers, the store on disk, the kernel's sets) reduced to comparable facts, and a tmpfs guard
//! (the seeded random generator and percentiles are fw6-testkit's `stats`). See RELIABILITY.md.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the suite"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fw6_model::State;
use serde::Serialize;
use zbus::OwnedObjectPath;
use zbus::zvariant::DynamicType;

use crate::common::{BUS_NAME, CONN_IFACE, Lab, MANAGER, MANAGER_IFACE};

/// How long one D-Bus call may take before the suite calls it a hang.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// True when the long variants were asked for (`FW6_RELIABILITY_LONG=1`).
pub fn long() -> bool {
    std::env::var("FW6_RELIABILITY_LONG").is_ok_and(|v| v == "1")
}

/// A single-threaded runtime for one client thread.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// A client connection to the lab's bus.
pub async fn connect(address: &str) -> zbus::Connection {
    zbus::connection::Builder::address(address)
        .method_timeout(CALL_TIMEOUT)
        .build()
        .await
        .expect("connect to the lab bus")
}

/// How a call ended, as far as a caller can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A method return.
    Ok,
    /// An error reply from fw6d (`org.fw6.Firewall1.Error.<kind>`): (kind, message).
    Fw(String, String),
    /// A standard D-Bus error from fw6d's bus library (wrong types, unknown member...).
    Bus(String, String),
    /// No answer from fw6d: the bus says it went away, or the call could not be sent.
    Gone(String),
}

impl Reply {
    /// Classifies a zbus result.
    pub fn of<T>(r: &Result<T, zbus::Error>) -> Self {
        use zbus::DBusError as _;
        match r {
            Ok(_) => Self::Ok,
            Err(zbus::Error::MethodError(name, desc, _)) => {
                Self::named(name.as_str(), desc.as_deref().unwrap_or_default())
            }
            // zbus turns standard errors (InvalidArgs, UnknownMethod...) into this variant.
            Err(zbus::Error::FDO(e)) => {
                Self::named(e.name().as_str(), e.description().unwrap_or_default())
            }
            Err(e) => Self::Gone(e.to_string()),
        }
    }

    fn named(name: &str, desc: &str) -> Self {
        if let Some(kind) = name.strip_prefix("org.fw6.Firewall1.Error.") {
            Self::Fw(kind.to_owned(), desc.to_owned())
        } else if matches!(
            name,
            "org.freedesktop.DBus.Error.NoReply"
                | "org.freedesktop.DBus.Error.ServiceUnknown"
                | "org.freedesktop.DBus.Error.NameHasNoOwner"
                | "org.freedesktop.DBus.Error.Disconnected"
                | "org.freedesktop.DBus.Error.Timeout"
        ) {
            Self::Gone(format!("{name}: {desc}"))
        } else {
            Self::Bus(name.to_owned(), desc.to_owned())
        }
    }
}

/// Calls `member` of `iface` at `path` on fw6d.
pub async fn call<B>(
    conn: &zbus::Connection,
    path: &str,
    iface: &str,
    member: &str,
    body: &B,
) -> Result<zbus::Message, zbus::Error>
where
    B: Serialize + DynamicType,
{
    conn.call_method(Some(BUS_NAME), path, Some(iface), member, body)
        .await
}

/// A client of `lab`'s fw6d, as most tests here start: its runtime, its connection, and the
/// object path of `lan0`.
pub fn client(lab: &Lab) -> (tokio::runtime::Runtime, zbus::Connection, String) {
    let rt = runtime();
    let conn = rt.block_on(connect(lab.bus.address()));
    let lan0 = rt.block_on(connection_path(&conn, "lan0"));
    (rt, conn, lan0)
}

/// The object path of a connection, by interface name.
pub async fn connection_path(conn: &zbus::Connection, ifname: &str) -> String {
    try_connection_path(conn, ifname)
        .await
        .expect("GetConnection")
}

/// The object path of a connection, or the error of a daemon that is gone.
pub async fn try_connection_path(conn: &zbus::Connection, ifname: &str) -> zbus::Result<String> {
    let reply = call(conn, MANAGER, MANAGER_IFACE, "GetConnection", &(ifname,)).await?;
    let path: OwnedObjectPath = reply.body().deserialize().expect("an object path");
    Ok(path.as_str().to_owned())
}

/// The configuration reduced to comparable facts. `keys` are what the kernel can hold
/// (`G tcp/80`, `O lan0 tcp/80`, `I lan0 tcp/80`, `U wan0`); `names` add the entry names the
/// store and the daemon keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Facts the kernel also holds.
    pub keys: BTreeSet<String>,
    /// Fact → entry name (port facts only).
    pub names: BTreeMap<String, String>,
}

fn proto(number: u32) -> &'static str {
    match number {
        6 => "tcp",
        17 => "udp",
        _ => "?",
    }
}

impl Facts {
    fn port(&mut self, prefix: &str, port: u16, protocol: u32, name: &str) {
        let fact = format!("{prefix} {}/{port}", proto(protocol));
        self.names.insert(fact.clone(), name.to_owned());
        self.keys.insert(fact);
    }

    /// The facts of a model state.
    pub fn of_state(state: &State) -> Self {
        let mut f = Self::default();
        for e in state.globally_open_ports() {
            f.port(
                "G",
                e.port.get(),
                u32::from(e.protocol.number()),
                e.name.as_str(),
            );
        }
        for (ifname, config) in state.connections() {
            if !config.firewalled {
                f.keys.insert(format!("U {ifname}"));
            }
            for e in state.open_ports(ifname) {
                f.port(
                    &format!("O {ifname}"),
                    e.port.get(),
                    u32::from(e.protocol.number()),
                    e.name.as_str(),
                );
            }
            for e in state.ignored_global_ports(ifname) {
                f.port(
                    &format!("I {ifname}"),
                    e.port.get(),
                    u32::from(e.protocol.number()),
                    e.name.as_str(),
                );
            }
        }
        f
    }

    /// Whether `fact` holds.
    pub fn has(&self, fact: &str) -> bool {
        self.keys.contains(fact)
    }

    /// The model's verdict for a new inbound connection to (ifname, proto/port).
    pub fn admits(&self, ifname: &str, key: &str) -> bool {
        self.has(&format!("U {ifname}"))
            || self.has(&format!("O {ifname} {key}"))
            || (self.has(&format!("G {key}")) && !self.has(&format!("I {ifname} {key}")))
    }

    /// A readable difference, empty when equal on keys and names.
    pub fn diff(&self, other: &Self, names: bool) -> String {
        let mut out = String::new();
        for k in self.keys.difference(&other.keys) {
            let _ = writeln!(out, "  only left:  {k}");
        }
        for k in other.keys.difference(&self.keys) {
            let _ = writeln!(out, "  only right: {k}");
        }
        if names {
            for (k, v) in &self.names {
                if let Some(w) = other.names.get(k)
                    && v != w
                {
                    let _ = writeln!(out, "  name of {k}: {v:?} vs {w:?}");
                }
            }
        }
        out
    }
}

/// An `EnumerateConnections` row.
type ConnectionRow = (String, String, String, u32, bool, bool, OwnedObjectPath);

/// The daemon's answers: global pairs, and for every connection it lists its firewall switch,
/// open and ignored pairs.
pub async fn dbus_facts(conn: &zbus::Connection) -> Result<Facts, zbus::Error> {
    let mut f = Facts::default();
    let reply = call(
        conn,
        MANAGER,
        MANAGER_IFACE,
        "EnumerateGloballyOpenPorts",
        &(),
    )
    .await?;
    let global: Vec<(u16, u32, String)> = reply.body().deserialize()?;
    for (port, protocol, name) in global {
        f.port("G", port, protocol, &name);
    }
    let reply = call(conn, MANAGER, MANAGER_IFACE, "EnumerateConnections", &()).await?;
    let rows: Vec<ConnectionRow> = reply.body().deserialize()?;
    for (_, _, ifname, _, firewalled, _, path) in rows {
        if !firewalled {
            f.keys.insert(format!("U {ifname}"));
        }
        for (member, prefix) in [
            ("EnumerateOpenPorts", "O"),
            ("EnumerateIgnoredGlobalPorts", "I"),
        ] {
            let reply = call(conn, path.as_str(), CONN_IFACE, member, &()).await?;
            let entries: Vec<(u16, u32, String)> = reply.body().deserialize()?;
            for (port, protocol, name) in entries {
                f.port(&format!("{prefix} {ifname}"), port, protocol, &name);
            }
        }
    }
    Ok(f)
}

/// The store on disk, loaded by fw6d's own loader (also with the daemon running: WAL readers do
/// not block the writer). Returns the facts and the result of `PRAGMA integrity_check`.
pub fn store_facts(state_dir: &Path) -> (Facts, Result<(), String>) {
    let path = state_dir.join("fw6.sqlite");
    let (store, state, opened) = fw6d::store::Store::open(&path)
        .unwrap_or_else(|e| panic!("the store {} cannot be opened: {e}", path.display()));
    assert_eq!(
        opened,
        fw6d::store::Opened::Existing,
        "the store was not loadable"
    );
    let integrity = store.integrity_check().map_err(|e| e.to_string());
    (Facts::of_state(&state), integrity)
}

/// The kernel's sets (`nft -j list table inet fw6` in the lab's host namespace).
pub fn kernel_facts(lab: &Lab) -> Facts {
    let out = lab
        .topology
        .host()
        .command("nft")
        .args(["-j", "list", "table", "inet", "fw6"])
        .output()
        .expect("run nft");
    assert!(
        out.status.success(),
        "nft -j list table inet fw6: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("nft JSON");
    let mut f = Facts::default();
    for obj in v["nftables"].as_array().into_iter().flatten() {
        let Some(set) = obj.get("set") else { continue };
        let prefix = match set["name"].as_str() {
            Some("global_open") => "G",
            Some("open") => "O",
            Some("ignored") => "I",
            Some("unfirewalled") => "U",
            _ => continue,
        };
        for elem in set["elem"].as_array().into_iter().flatten() {
            // An element with a comment or counter comes wrapped as {"elem": {"val": ...}}.
            let val = elem.get("elem").map_or(elem, |e| &e["val"]);
            let parts: Vec<String> = match val.get("concat") {
                Some(c) => c
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| match p {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect(),
                None => vec![val.as_str().unwrap_or_default().to_owned()],
            };
            let fact = match (prefix, parts.as_slice()) {
                ("U", [ifname]) => format!("U {ifname}"),
                ("G", [p, port]) => format!("G {p}/{port}"),
                (_, [ifname, p, port]) => format!("{prefix} {ifname} {p}/{port}"),
                _ => panic!("unexpected element {val} in set {prefix}"),
            };
            f.keys.insert(fact);
        }
    }
    f
}

/// A small tmpfs mounted on a fresh directory; unmounted (lazily if busy) and removed on drop.
pub struct Tmpfs {
    /// The mount point.
    pub dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. "2m") on `dir`, which is created.
    pub fn mount(dir: PathBuf, size: &str) -> Self {
        std::fs::create_dir_all(&dir).expect("create the mount point");
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "fw6-rel",
            ])
            .arg(&dir)
            .status()
            .expect("run mount")
            .success();
        assert!(
            ok,
            "mount -t tmpfs on {} failed (needs root)",
            dir.display()
        );
        Self { dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// Prints a figure in the one format RELIABILITY.md quotes: `FIGURE name = value`.
pub fn figure(name: &str, value: impl std::fmt::Display) {
    println!("FIGURE {name} = {value}");
}
