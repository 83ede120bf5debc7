//! The mutations that turn one configuration into another, for `fw6 import`: sent as one atomic
//! `Apply`, so the host never sees a half-imported state.
//!
//! Names are ownership markers and the first name wins on re-open (docs/icf-api.md §1.5), so a pair
//! whose name differs is closed and opened again with the new name, in the same batch.

use fw6_model::{IfName, Mutation, PortKey};

use super::export::{ConnectionExport, Export, PortSet};

/// The mutations that make `current` into `target`, in a stable order: logging, global closes,
/// global opens, then per connection (by interface name) firewall, closes, opens, observes,
/// ignores. Empty when the two are the same (so export → import is a no-op).
///
/// Every connection of `current` or `target` is compared; one missing from `target` is brought
/// to [`ConnectionExport::default`]. `target.logging` fields that are `None` are left alone.
pub fn diff(current: &Export, target: &Export) -> Vec<Mutation> {
    let mut out = Vec::new();
    logging(current, target, &mut out);
    sets(
        &current.global,
        &target.global,
        &mut out,
        |key| Mutation::CloseGlobalPort { key },
        |key, name| Mutation::OpenGlobalPort {
            key,
            name,
            lease: None,
        },
    );
    let default = ConnectionExport::default();
    let mut names: Vec<&IfName> = current
        .connections
        .keys()
        .chain(target.connections.keys())
        .collect();
    names.sort();
    names.dedup();
    for interface in names {
        let now = current.connections.get(interface).unwrap_or(&default);
        let want = target.connections.get(interface).unwrap_or(&default);
        connection(interface, now, want, &mut out);
    }
    out
}

fn logging(current: &Export, target: &Export, out: &mut Vec<Mutation>) {
    let (now, want) = (&current.logging, &target.logging);
    if let Some(v) = want
        .log_dropped_packets
        .filter(|v| now.log_dropped_packets != Some(*v))
    {
        out.push(Mutation::SetLogDroppedPackets { enabled: v });
    }
    if let Some(v) = want
        .log_connections
        .filter(|v| now.log_connections != Some(*v))
    {
        out.push(Mutation::SetLogConnections { enabled: v });
    }
    if let Some(v) = want
        .logfile_path
        .as_ref()
        .filter(|v| now.logfile_path.as_ref() != Some(*v))
    {
        out.push(Mutation::SetLogfilePath { path: v.clone() });
    }
    if let Some(v) = want
        .logfile_maximum_size
        .filter(|v| now.logfile_maximum_size != Some(*v))
    {
        out.push(Mutation::SetLogfileMaximumSize { kib: v });
    }
}

fn connection(
    interface: &IfName,
    now: &ConnectionExport,
    want: &ConnectionExport,
    out: &mut Vec<Mutation>,
) {
    let connection = || interface.clone();
    if now.firewalled != want.firewalled {
        out.push(if want.firewalled {
            Mutation::EnableFirewall {
                connection: connection(),
            }
        } else {
            Mutation::DisableFirewall {
                connection: connection(),
            }
        });
    }
    sets(
        &now.open,
        &want.open,
        out,
        |key| Mutation::ClosePort {
            connection: connection(),
            key,
        },
        |key, name| Mutation::OpenPort {
            connection: connection(),
            key,
            name,
            lease: None,
        },
    );
    sets(
        &now.ignored,
        &want.ignored,
        out,
        |key| Mutation::ObserveGlobalPort {
            connection: connection(),
            key,
        },
        |key, name| Mutation::IgnoreGlobalPort {
            connection: connection(),
            key,
            name,
        },
    );
}

/// Removals first (including renamed pairs), then additions, each by (port, protocol).
fn sets(
    now: &PortSet,
    want: &PortSet,
    out: &mut Vec<Mutation>,
    remove: impl Fn(PortKey) -> Mutation,
    add: impl Fn(PortKey, fw6_model::EntryName) -> Mutation,
) {
    for (key, name) in now {
        if want.get(key) != Some(name) {
            out.push(remove(*key));
        }
    }
    for (key, name) in want {
        if now.get(key) != Some(name) {
            out.push(add(*key, name.clone()));
        }
    }
}

/// One line for a human reviewing an import: `+` adds or enables, `-` removes or disables,
/// `~` sets a value.
pub fn describe(mutation: &Mutation) -> String {
    match mutation {
        Mutation::OpenGlobalPort { key, name, .. } => {
            format!("+ global open {key} {:?}", name.as_str())
        }
        Mutation::CloseGlobalPort { key } => format!("- global open {key}"),
        Mutation::EnableFirewall { connection } => format!("+ firewall on {connection}"),
        Mutation::DisableFirewall { connection } => format!("- firewall on {connection}"),
        Mutation::OpenPort {
            connection,
            key,
            name,
            ..
        } => format!("+ {connection}: open {key} {:?}", name.as_str()),
        Mutation::ClosePort { connection, key } => format!("- {connection}: open {key}"),
        Mutation::IgnoreGlobalPort {
            connection,
            key,
            name,
        } => format!("+ {connection}: ignore global {key} {:?}", name.as_str()),
        Mutation::ObserveGlobalPort { connection, key } => {
            format!("- {connection}: ignore global {key}")
        }
        Mutation::SetLogfilePath { path } => format!("~ logging: logfile_path = {path:?}"),
        Mutation::SetLogfileMaximumSize { kib } => {
            format!("~ logging: logfile_maximum_size = {} KiB", kib.kib())
        }
        Mutation::SetLogDroppedPackets { enabled } => {
            format!("~ logging: log_dropped_packets = {enabled}")
        }
        Mutation::SetLogConnections { enabled } => {
            format!("~ logging: log_connections = {enabled}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse_export;
    use super::*;

    fn parse(s: &str) -> Export {
        parse_export(s).unwrap()
    }

    fn shown(ms: &[Mutation]) -> Vec<String> {
        ms.iter().map(describe).collect()
    }

    const CURRENT: &str = r#"
[logging]
log_dropped_packets = false
log_connections = false
logfile_path = "/var/log/fw6/firewall.log"
logfile_maximum_size = 4096

[[global]]
port = "22/tcp"
name = "ssh"

[[global]]
port = "23/tcp"
name = "telnet"

[connection.lan0]
firewalled = true

[[connection.lan0.open]]
port = "8080/tcp"
name = "web"

[connection.wan0]
firewalled = false
"#;

    #[test]
    fn same_state_is_a_no_op() {
        let c = parse(CURRENT);
        assert!(diff(&c, &c).is_empty());
        // A target that leaves logging out changes nothing either.
        let mut t = c.clone();
        t.logging = super::super::Logging::default();
        assert!(diff(&c, &t).is_empty());
    }

    #[test]
    fn changes_come_in_a_stable_order() {
        let target = parse(
            r#"
[logging]
log_dropped_packets = true

[[global]]
port = "22/tcp"
name = "SSH"

[[global]]
port = "53/udp"
name = "dns"

[connection.lan0]
firewalled = true

[[connection.lan0.ignored]]
port = "22/tcp"

[connection.dmz0]
firewalled = false
"#,
        );
        let ms = diff(&parse(CURRENT), &target);
        assert_eq!(
            shown(&ms),
            [
                "~ logging: log_dropped_packets = true",
                "- global open 22/tcp",
                "- global open 23/tcp",
                "+ global open 22/tcp \"SSH\"",
                "+ global open 53/udp \"dns\"",
                "- firewall on dmz0",
                "- lan0: open 8080/tcp",
                "+ lan0: ignore global 22/tcp \"\"",
                "+ firewall on wan0",
            ]
        );
    }

    #[test]
    fn applying_the_diff_reaches_the_target() {
        // Check against the model's own semantics: apply the diff to a State built from
        // `current` and compare the enumerations with `target`.
        use fw6_model::State;
        let current = parse(CURRENT);
        let target = parse(
            "[[global]]\nport = \"22/tcp\"\nname = \"ssh2\"\n[connection.x0]\nfirewalled = false\n",
        );
        let mut state = State::default();
        for m in diff(&Export::default(), &current)
            .iter()
            .chain(diff(&current, &target).iter())
        {
            state.apply(m).unwrap();
        }
        let global: Vec<_> = state
            .global_open()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        assert_eq!(global, ["22/tcp ssh2"]);
        let x0 = IfName::try_from("x0").unwrap();
        let lan0 = IfName::try_from("lan0").unwrap();
        let wan0 = IfName::try_from("wan0").unwrap();
        assert!(!state.is_firewalled(&x0));
        assert!(state.is_firewalled(&lan0) && state.is_firewalled(&wan0));
        assert_eq!(state.open_ports(&lan0).count(), 0);
    }
}
