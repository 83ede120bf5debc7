//! The D-Bus contract of `docs/dbus-api.md` as constants and pure conversions between the wire
//! tuples and the model's types, kept apart from the I/O so every conversion is unit-tested.

use std::borrow::Cow;

use fw6_model::{
    ConnectionId, Decision, EntryName, IfName, Mutation, PortEntry, PortKey, Protocol, Reason,
};

use crate::Error;

/// The daemon's well-known bus name.
pub const SERVICE: &str = "org.fw6.Firewall1";
/// The manager object's path.
pub const MANAGER_PATH: &str = "/org/fw6/Firewall1";
/// The manager interface.
pub const MANAGER_IFACE: &str = "org.fw6.Firewall1.Manager";
/// The per-connection interface.
pub const CONNECTION_IFACE: &str = "org.fw6.Firewall1.Connection";

/// A port entry as it travels: `(qus)`.
pub type WireEntry = (u16, u32, String);
/// One `Apply` item: `(ssquss)` = (member, connection, port, protocol, name, value), borrowed
/// from the mutation (only a logging value is made): a 10,000-item batch copies no names.
pub type WireItem<'a> = (&'static str, &'a str, u16, u32, &'a str, Cow<'a, str>);
/// One `EnumerateConnections` row: `(sssubbo)`.
pub type WireConnection = (
    String,
    String,
    String,
    u32,
    bool,
    bool,
    zbus::OwnedObjectPath,
);

/// The raw arguments of a pair.
pub fn key_args(key: PortKey) -> (u16, u32) {
    (key.port.get(), u32::from(key.protocol.number()))
}

/// A port entry from the wire, validated as the model validates it.
pub fn entry(raw: WireEntry) -> Result<PortEntry, Error> {
    let (port, protocol, name) = raw;
    let key = PortKey::from_raw(u32::from(port), protocol).map_err(Error::protocol)?;
    let name = EntryName::try_from(name).map_err(Error::protocol)?;
    Ok(PortEntry::new(key, name))
}

/// A list of entries from the wire, in the order the daemon sent (by pair).
pub fn entries(raw: Vec<WireEntry>) -> Result<Vec<PortEntry>, Error> {
    raw.into_iter().map(entry).collect()
}

/// An `Explain` reply `(bss)`: checks that the daemon's verdict agrees with its reason token.
pub fn explanation(raw: (bool, String, String)) -> Result<(Decision, String), Error> {
    let (allowed, token, sentence) = raw;
    let reason = reason(&token)?;
    let decision = Decision::new(reason);
    if decision.allowed != allowed {
        return Err(Error::protocol(format!(
            "Explain said allowed={allowed} with reason {token:?}"
        )));
    }
    Ok((decision, sentence))
}

/// The reason of an `Explain` token such as `globally-open`.
pub fn reason(token: &str) -> Result<Reason, Error> {
    [
        Reason::NotFirewalled,
        Reason::OpenOnConnection,
        Reason::GloballyOpen,
        Reason::GlobalIgnored,
        Reason::NotOpen,
    ]
    .into_iter()
    .find(|r| r.as_str() == token)
    .ok_or_else(|| Error::protocol(format!("unknown Explain reason {token:?}")))
}

/// A connection id as the daemon shows it.
pub fn connection_id(raw: &str) -> Result<ConnectionId, Error> {
    raw.parse().map_err(Error::protocol)
}

/// An interface name from the daemon.
pub fn if_name(raw: String) -> Result<IfName, Error> {
    IfName::try_from(raw).map_err(Error::protocol)
}

/// A mutation as one `Apply` item (docs/dbus-api.md, "`Apply` items"): the connection is the
/// interface name, unused numbers are 0, the logging value is text.
pub fn apply_item(mutation: &Mutation) -> WireItem<'_> {
    let connection = mutation.connection().map_or("", IfName::as_str);
    let (port, protocol) = mutation.key().map_or((0, 0), key_args);
    let (name, value) = match mutation {
        Mutation::OpenGlobalPort { name, .. }
        | Mutation::OpenPort { name, .. }
        | Mutation::IgnoreGlobalPort { name, .. } => (name.as_str(), Cow::Borrowed("")),
        Mutation::SetLogfilePath { path } => ("", Cow::Borrowed(path.as_str())),
        Mutation::SetLogfileMaximumSize { kib } => ("", Cow::Owned(kib.kib().to_string())),
        Mutation::SetLogDroppedPackets { enabled } | Mutation::SetLogConnections { enabled } => {
            ("", Cow::Borrowed(if *enabled { "true" } else { "false" }))
        }
        Mutation::CloseGlobalPort { .. }
        | Mutation::EnableFirewall { .. }
        | Mutation::DisableFirewall { .. }
        | Mutation::ClosePort { .. }
        | Mutation::ObserveGlobalPort { .. } => ("", Cow::Borrowed("")),
    };
    (mutation.member(), connection, port, protocol, name, value)
}

/// The protocol of a raw signal argument, or `None` for the "unused" 0.
pub fn optional_key(port: u16, protocol: u32) -> Option<PortKey> {
    if port == 0 && protocol == 0 {
        return None;
    }
    PortKey::from_raw(u32::from(port), protocol).ok()
}

/// The protocol name for display of a raw number the daemon sent.
pub fn protocol_name(protocol: u32) -> String {
    Protocol::try_from(protocol).map_or_else(|_| protocol.to_string(), |p| p.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use fw6_model::{ErrorKind, LogfileMaximumSize};

    use super::*;

    fn key(s: &str) -> PortKey {
        s.parse().unwrap()
    }

    fn ifname(s: &str) -> IfName {
        IfName::try_from(s).unwrap()
    }

    #[test]
    fn apply_items_follow_the_contract() {
        let web = EntryName::try_from("web").unwrap();
        let cases = [
            (
                Mutation::OpenPort {
                    connection: ifname("lan0"),
                    key: key("8080/tcp"),
                    name: web.clone(),
                },
                ("OpenPort", "lan0", 8080, 6, "web", ""),
            ),
            (
                Mutation::CloseGlobalPort { key: key("53/udp") },
                ("CloseGlobalPort", "", 53, 17, "", ""),
            ),
            (
                Mutation::DisableFirewall {
                    connection: ifname("wan0"),
                },
                ("DisableFirewall", "wan0", 0, 0, "", ""),
            ),
            (
                Mutation::SetLogfilePath {
                    path: "/var/log/x.log".into(),
                },
                ("LogfilePath", "", 0, 0, "", "/var/log/x.log"),
            ),
            (
                Mutation::SetLogfileMaximumSize {
                    kib: LogfileMaximumSize::try_from(4096).unwrap(),
                },
                ("LogfileMaximumSize", "", 0, 0, "", "4096"),
            ),
            (
                Mutation::SetLogDroppedPackets { enabled: true },
                ("LogDroppedPackets", "", 0, 0, "", "true"),
            ),
            (
                Mutation::SetLogConnections { enabled: false },
                ("LogConnections", "", 0, 0, "", "false"),
            ),
        ];
        for (mutation, (m, c, p, proto, n, v)) in cases {
            let item = apply_item(&mutation);
            assert_eq!(item, (m, c, p, proto, n, Cow::Borrowed(v)));
        }
    }

    #[test]
    fn entries_are_validated() {
        let good = entry((22, 6, "ssh".into())).unwrap();
        assert_eq!(good.key(), key("22/tcp"));
        for bad in [
            (0, 6, String::new()),
            (22, 1, String::new()),
            (22, 6, "a\nb".into()),
        ] {
            assert_eq!(entry(bad).unwrap_err().kind(), ErrorKind::Unexpected);
        }
    }

    #[test]
    fn explanations_must_be_consistent() {
        let (d, s) = explanation((true, "globally-open".into(), "open".into())).unwrap();
        assert_eq!(d.reason, Reason::GloballyOpen);
        assert_eq!(s, "open");
        assert!(explanation((false, "globally-open".into(), String::new())).is_err());
        assert!(explanation((true, "maybe".into(), String::new())).is_err());
        for r in [
            Reason::NotFirewalled,
            Reason::OpenOnConnection,
            Reason::GloballyOpen,
            Reason::GlobalIgnored,
            Reason::NotOpen,
        ] {
            assert_eq!(reason(r.as_str()).unwrap(), r);
        }
    }

    #[test]
    fn optional_keys() {
        assert_eq!(optional_key(0, 0), None);
        assert_eq!(optional_key(80, 6), Some(key("80/tcp")));
        assert_eq!(protocol_name(17), "udp");
        assert_eq!(protocol_name(58), "58");
    }
}
