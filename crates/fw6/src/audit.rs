//! The audit trail as read with `ReadAudit`: who changed what, through which member, and when.
//! Reading it needs root or the polkit action `org.fw6.firewall1.audit`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::wire::WireAudit;

/// One effective change and who asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// When it was committed.
    #[serde(serialize_with = "rfc3339")]
    pub time: SystemTime,
    /// The caller's user id (0 also for changes fw6d made itself, such as first-start seeds).
    pub uid: u32,
    /// The caller's process id, when the bus could tell.
    pub pid: Option<u32>,
    /// The caller's executable, when it could be read.
    pub program: Option<String>,
    /// The caller's unique bus name; `None` for changes fw6d made itself.
    pub bus_name: Option<String>,
    /// The member called, e.g. `OpenPort`.
    pub member: String,
    /// What changed: `global_open`, `open_ports`, `ignored_ports`, `firewalled`, or a logging
    /// setting (`logfile_path`, …).
    pub what: String,
    /// The connection concerned, if any.
    pub connection: Option<String>,
    /// The port concerned, if any.
    pub port: Option<u16>,
    /// The protocol number concerned (6 TCP, 17 UDP), if any.
    pub protocol: Option<u32>,
    /// The value before (`None`: the pair did not exist).
    pub old: Option<String>,
    /// The value after (`None`: the pair is gone).
    pub new: Option<String>,
}

fn rfc3339<S: serde::Serializer>(time: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_rfc3339_millis(*time))
}

impl AuditEntry {
    pub(crate) fn from_wire(raw: WireAudit) -> Self {
        let (ms, uid, pid, program, bus_name, member, what, connection, port, protocol, old, new) =
            raw;
        let some = |s: String| (!s.is_empty()).then_some(s);
        Self {
            time: UNIX_EPOCH + Duration::from_millis(ms),
            uid,
            pid: (pid != 0).then_some(pid),
            program: some(program),
            bus_name: some(bus_name),
            member,
            what,
            connection: some(connection),
            port: (port != 0).then_some(port),
            protocol: (protocol != 0).then_some(protocol),
            old: old.into_iter().next(),
            new: new.into_iter().next(),
        }
    }
}
