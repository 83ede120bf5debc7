//! Writes an [`Export`] as TOML in a stable order (logging, global pairs by (port, protocol),
//! connections by interface name, their pairs by (port, protocol)), so two exports of the same
//! state are byte-identical and `diff` between exports shows only real changes.

use std::fmt::Write as _;

use fw6_model::{ConnectionId, EntryName, PortKey};

use super::export::{Export, PortSet};

/// Renders `export` as an import-ready TOML file.
pub fn render_export(export: &Export) -> String {
    let mut out = String::from(
        "# fw6 configuration, written by `fw6 export`; apply it with `fw6 import FILE`.\n\
         # Pairs are PORT/PROTOCOL (tcp or udp); names are informational.\n\
         # Connections not listed here are reset to firewalled with nothing open on import.\n",
    );
    let l = &export.logging;
    let mut logging = String::new();
    if let Some(v) = l.log_dropped_packets {
        let _ = writeln!(logging, "log_dropped_packets = {v}");
    }
    if let Some(v) = l.log_connections {
        let _ = writeln!(logging, "log_connections = {v}");
    }
    if let Some(v) = &l.logfile_path {
        let _ = writeln!(logging, "logfile_path = {}", string(v));
    }
    if let Some(v) = l.logfile_maximum_size {
        let _ = writeln!(logging, "logfile_maximum_size = {}", v.kib());
    }
    if !logging.is_empty() {
        out.push_str("\n[logging]\n");
        out.push_str(&logging);
    }
    entries(&mut out, "global", &export.global);
    for (interface, c) in &export.connections {
        let table = format!("connection.{}", key(interface.as_str()));
        let _ = write!(
            out,
            "\n[{table}]\n# id {}\nfirewalled = {}\n",
            ConnectionId::for_interface(interface),
            c.firewalled
        );
        entries(&mut out, &format!("{table}.open"), &c.open);
        entries(&mut out, &format!("{table}.ignored"), &c.ignored);
    }
    out
}

fn entries(out: &mut String, table: &str, set: &PortSet) {
    for (pair, name) in set {
        entry(out, table, *pair, name);
    }
}

fn entry(out: &mut String, table: &str, pair: PortKey, name: &EntryName) {
    let _ = write!(
        out,
        "\n[[{table}]]\nport = \"{pair}\"\nname = {}\n",
        string(name.as_str())
    );
}

/// A TOML basic string, escaped by the `toml` crate itself so any name round-trips.
fn string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A TOML key: bare when it may be, quoted otherwise (interface names may hold `.`).
fn key(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        s.to_owned()
    } else {
        string(s)
    }
}

#[cfg(test)]
mod tests {
    use fw6_model::{IfName, LogSettings};
    use proptest::prelude::*;

    use super::super::{ConnectionExport, parse_export};
    use super::*;

    fn pair(s: &str) -> PortKey {
        s.parse().unwrap()
    }

    fn name(s: &str) -> EntryName {
        EntryName::try_from(s).unwrap()
    }

    fn sample() -> Export {
        let mut e = Export {
            logging: LogSettings::default().into(),
            ..Export::default()
        };
        e.global.insert(pair("546/udp"), name("dhcpv6-client"));
        e.global.insert(pair("22/tcp"), name("ssh"));
        let mut lan = ConnectionExport::default();
        lan.open
            .insert(pair("8080/tcp"), name("web \"quoted\" \\ 🎮"));
        e.connections.insert(IfName::try_from("lan0").unwrap(), lan);
        let mut vlan = ConnectionExport {
            firewalled: false,
            ..ConnectionExport::default()
        };
        vlan.ignored.insert(pair("22/tcp"), name(""));
        e.connections
            .insert(IfName::try_from("eth0.100").unwrap(), vlan);
        e
    }

    #[test]
    fn golden_text() {
        let text = render_export(&sample());
        let want = format!(
            r#"# fw6 configuration, written by `fw6 export`; apply it with `fw6 import FILE`.
# Pairs are PORT/PROTOCOL (tcp or udp); names are informational.
# Connections not listed here are reset to firewalled with nothing open on import.

[logging]
log_dropped_packets = false
log_connections = false
logfile_path = "/var/log/fw6/firewall.log"
logfile_maximum_size = 4096

[[global]]
port = "22/tcp"
name = "ssh"

[[global]]
port = "546/udp"
name = "dhcpv6-client"

[connection."eth0.100"]
# id {}
firewalled = false

[[connection."eth0.100".ignored]]
port = "22/tcp"
name = ""

[connection.lan0]
# id {}
firewalled = true

[[connection.lan0.open]]
port = "8080/tcp"
name = 'web "quoted" \ 🎮'
"#,
            ConnectionId::for_interface(&IfName::try_from("eth0.100").unwrap()),
            ConnectionId::for_interface(&IfName::try_from("lan0").unwrap()),
        );
        assert_eq!(text, want);
    }

    #[test]
    fn round_trips() {
        let e = sample();
        assert_eq!(parse_export(&render_export(&e)).unwrap(), e);
        assert_eq!(
            parse_export(&render_export(&Export::default())).unwrap(),
            Export::default()
        );
    }

    fn arb_pair() -> impl Strategy<Value = PortKey> {
        (1_u32..=65535, prop_oneof![Just(6_u32), Just(17_u32)])
            .prop_map(|(p, proto)| PortKey::from_raw(p, proto).unwrap())
    }

    fn arb_name() -> impl Strategy<Value = EntryName> {
        // Any printable text, quotes, backslashes and non-ASCII included.
        "[^\\p{Cc}]{0,20}".prop_filter_map("valid name", |s| EntryName::try_from(s).ok())
    }

    fn arb_set() -> impl Strategy<Value = PortSet> {
        proptest::collection::btree_map(arb_pair(), arb_name(), 0..4)
    }

    fn arb_ifname() -> impl Strategy<Value = IfName> {
        "[a-z0-9._-]{1,15}".prop_filter_map("valid ifname", |s| IfName::try_from(s).ok())
    }

    proptest! {
        #[test]
        fn any_export_round_trips(
            global in arb_set(),
            conns in proptest::collection::btree_map(
                arb_ifname(),
                (any::<bool>(), arb_set(), arb_set()),
                0..4,
            ),
            dropped in proptest::option::of(any::<bool>()),
            path in proptest::option::of("/[^\\p{Cc}]{1,30}"),
        ) {
            let e = Export {
                logging: super::super::Logging {
                    log_dropped_packets: dropped,
                    logfile_path: path,
                    ..Default::default()
                },
                global,
                connections: conns
                    .into_iter()
                    .map(|(k, (firewalled, open, ignored))| {
                        (k, ConnectionExport { firewalled, open, ignored })
                    })
                    .collect(),
            };
            let text = render_export(&e);
            prop_assert_eq!(parse_export(&text).unwrap(), e, "{}", text);
        }
    }
}
