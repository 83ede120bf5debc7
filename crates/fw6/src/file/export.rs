//! The export file of `fw6 export` / `fw6 import`: the whole configuration as TOML.
//!
//! ```toml
//! [logging]
//! log_dropped_packets = false
//! log_connections = false
//! logfile_path = "/var/log/fw6/firewall.log"
//! logfile_maximum_size = 4096
//!
//! [[global]]
//! port = "22/tcp"
//! name = "ssh"
//!
//! [connection.lan0]
//! firewalled = true
//!
//! [[connection.lan0.open]]
//! port = "8080/tcp"
//! name = "web"
//!
//! [[connection.lan0.ignored]]
//! port = "22/tcp"
//! name = "ssh"
//! ```
//!
//! Meaning on import: the file is the whole intended state. The global open set becomes exactly
//! `[[global]]`; every connection the daemon knows becomes exactly its `[connection.X]` table,
//! and a known connection the file does not mention goes back to the default (firewalled, no
//! open pairs, nothing ignored). `[logging]` keys that are present are set; absent ones are left
//! as they are.

use std::collections::BTreeMap;
use std::ops::Range;

use fw6_model::{EntryName, IfName, LogSettings, LogfileMaximumSize, PortEntry, PortKey};
use serde::Deserialize;
use toml::Spanned;

use super::FileError;

/// A port set: pair → name, ordered by (port, protocol) as enumerations are.
pub type PortSet = BTreeMap<PortKey, EntryName>;

/// The logging settings of an export; `None` means "leave as it is" on import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Logging {
    /// `LogDroppedPackets`.
    pub log_dropped_packets: Option<bool>,
    /// `LogConnections`.
    pub log_connections: Option<bool>,
    /// `LogfilePath`.
    pub logfile_path: Option<String>,
    /// `LogfileMaximumSize` in KiB.
    pub logfile_maximum_size: Option<LogfileMaximumSize>,
}

impl From<LogSettings> for Logging {
    fn from(s: LogSettings) -> Self {
        Self {
            log_dropped_packets: Some(s.log_dropped_packets),
            log_connections: Some(s.log_connections),
            logfile_path: Some(s.logfile_path),
            logfile_maximum_size: Some(s.logfile_maximum_size),
        }
    }
}

/// One connection's configuration in an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionExport {
    /// Whether inbound filtering applies.
    pub firewalled: bool,
    /// Pairs open on this connection.
    pub open: PortSet,
    /// Global pairs this connection ignores.
    pub ignored: PortSet,
}

impl Default for ConnectionExport {
    /// The configuration of a connection nobody configured: firewalled, nothing open or ignored.
    fn default() -> Self {
        Self {
            firewalled: true,
            open: PortSet::new(),
            ignored: PortSet::new(),
        }
    }
}

/// A whole configuration, as exported or as read from an import file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Export {
    /// The logging settings.
    pub logging: Logging,
    /// The global open set.
    pub global: PortSet,
    /// Connections by interface name.
    pub connections: BTreeMap<IfName, ConnectionExport>,
}

/// A port set from a list of entries (in any order).
pub fn port_set(entries: impl IntoIterator<Item = PortEntry>) -> PortSet {
    entries.into_iter().map(|e| (e.key(), e.name)).collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExport {
    logging: Option<RawLogging>,
    #[serde(default)]
    global: Vec<RawEntry>,
    #[serde(default)]
    connection: BTreeMap<Spanned<String>, RawConnection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogging {
    log_dropped_packets: Option<bool>,
    log_connections: Option<bool>,
    logfile_path: Option<String>,
    logfile_maximum_size: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnection {
    firewalled: Option<bool>,
    #[serde(default)]
    open: Vec<RawEntry>,
    #[serde(default)]
    ignored: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    port: Spanned<String>,
    name: Option<Spanned<String>>,
}

/// Parses an export file. Pairs are validated as the API validates them, a pair listed twice in
/// one set is an error, and every error names its line.
pub fn parse_export(source: &str) -> Result<Export, FileError> {
    let raw: RawExport = toml::from_str(source).map_err(|e| FileError::toml(source, &e))?;
    let at = |span: Range<usize>, msg: String| FileError::at(source, Some(span), msg);

    let mut logging = Logging::default();
    if let Some(l) = raw.logging {
        logging.log_dropped_packets = l.log_dropped_packets;
        logging.log_connections = l.log_connections;
        logging.logfile_path = l.logfile_path;
        if let Some(size) = l.logfile_maximum_size {
            let kib = u32::try_from(*size.get_ref()).unwrap_or(0);
            logging.logfile_maximum_size = Some(
                LogfileMaximumSize::try_from(kib)
                    .map_err(|e| at(size.span(), e.message().to_owned()))?,
            );
        }
    }

    let global = entries(source, "[[global]]", raw.global)?;
    let mut connections = BTreeMap::new();
    for (name, c) in raw.connection {
        let interface = IfName::try_from(name.get_ref().as_str())
            .map_err(|e| at(name.span(), e.message().to_owned()))?;
        let table = format!("connection {interface}");
        connections.insert(
            interface,
            ConnectionExport {
                firewalled: c.firewalled.unwrap_or(true),
                open: entries(source, &format!("{table} open"), c.open)?,
                ignored: entries(source, &format!("{table} ignored"), c.ignored)?,
            },
        );
    }
    Ok(Export {
        logging,
        global,
        connections,
    })
}

/// A port set from raw entries; a duplicate pair is an error on its second line.
fn entries(source: &str, what: &str, raw: Vec<RawEntry>) -> Result<PortSet, FileError> {
    let mut set = PortSet::new();
    for entry in raw {
        let span = entry.port.span();
        let key: PortKey = entry
            .port
            .get_ref()
            .parse()
            .map_err(|e: fw6_model::Error| {
                FileError::at(source, Some(span.clone()), e.message())
            })?;
        let name = match entry.name {
            Some(n) => EntryName::try_from(n.get_ref().as_str())
                .map_err(|e| FileError::at(source, Some(n.span()), e.message()))?,
            None => EntryName::default(),
        };
        if set.insert(key, name).is_some() {
            return Err(FileError::at(
                source,
                Some(span),
                format!("{key} is listed twice in {what}: keep one entry"),
            ));
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[logging]
log_dropped_packets = true
logfile_maximum_size = 1024

[[global]]
port = "22/tcp"
name = "ssh"

[[global]]
port = "546/udp"

[connection.lan0]

[[connection.lan0.open]]
port = "8080/tcp"
name = "web"

[connection."eth0.100"]
firewalled = false

[[connection."eth0.100".ignored]]
port = "22/tcp"
"#;

    #[test]
    fn parses_the_sample() {
        let e = parse_export(SAMPLE).unwrap();
        assert_eq!(e.logging.log_dropped_packets, Some(true));
        assert_eq!(e.logging.log_connections, None);
        assert_eq!(e.logging.logfile_maximum_size.unwrap().kib(), 1024);
        let global: Vec<String> = e.global.keys().map(ToString::to_string).collect();
        assert_eq!(global, ["22/tcp", "546/udp"]);
        let lan = &e.connections[&IfName::try_from("lan0").unwrap()];
        assert!(lan.firewalled, "firewalled defaults to true");
        assert_eq!(lan.open.len(), 1);
        let vlan = &e.connections[&IfName::try_from("eth0.100").unwrap()];
        assert!(!vlan.firewalled);
        assert_eq!(vlan.ignored.len(), 1);
        assert_eq!(parse_export("").unwrap(), Export::default());
    }

    #[test]
    fn errors_name_their_line() {
        let cases = [
            ("[[global]]\nport = \"0/tcp\"\n", 2, "out of range"),
            ("[[global]]\nport = \"70000/udp\"\n", 2, "out of range"),
            ("[[global]]\nport = \"80/icmp\"\n", 2, "not supported"),
            ("[[global]]\nport = \"80/\"\n", 2, "not supported"),
            (
                "[[global]]\nport = \"22/tcp\"\nname = \"a\\tb\"\n",
                3,
                "control character",
            ),
            (
                "[[global]]\nport = \"22/tcp\"\n[[global]]\nport = \"22/tcp\"\n",
                4,
                "listed twice",
            ),
            ("[logging]\nlogfile_maximum_size = 0\n", 2, "1-32767"),
            ("[logging]\nlogfile_maximum_size = -5\n", 2, "1-32767"),
            ("[logging]\nlog_connections = \"yes\"\n", 2, ""),
            ("\n[logging]\nverbose = true\n", 3, "verbose"),
            (
                "[connection.lan0]\nfirewalled = true\n[[connection.lan0.open]]\nport = \"x/tcp\"\n",
                4,
                "not a number",
            ),
            ("[connection.lan0]\nfirewaled = true\n", 2, "firewaled"),
            ("[global]\nport = 1\n", 1, ""),
            ("[[global]\n", 1, ""),
        ];
        for (src, line, want) in cases {
            let e = parse_export(src).unwrap_err();
            assert_eq!(e.line(), Some(line), "{src:?}: {e}");
            assert!(e.message().contains(want), "{src:?}: {e}");
        }
    }

    #[test]
    fn bad_interface_names_name_their_line() {
        let e = parse_export("\n[connection.\"a/b\"]\nfirewalled = true\n").unwrap_err();
        assert_eq!(e.line(), Some(2), "{e}");
        assert!(e.message().contains("interface name"), "{e}");
    }
}
