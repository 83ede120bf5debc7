//! The D-Bus contract of `docs/dbus-api.md` as the client uses it: `fw6_model::wire` owns the
//! names, the tuples and the mappings (fw6d speaks the same module); here they are re-exported
//! and the daemon's replies are checked, a bad reply becoming a protocol error.

use std::borrow::Cow;
use std::collections::HashMap;

use fw6_model::{
    ConnectionId, Decision, IfName, OpenOptions, OptionValue, PortEntry, Protocol, Reason,
};

use crate::Error;

pub use fw6_model::wire::{
    BUS_NAME as SERVICE, CONNECTION_IFACE, MANAGER_IFACE, MANAGER_PATH, STATUS_OTHER_CHAINS,
    WireAudit, WireChanged, WireEntry, WireExplanation, WireLease, WireOtherChain, apply_item,
    apply_item_with_options, key_args, optional_key, other_chain,
};
pub use fw6_model::wire::{STATUS_PENDING, WirePending};

/// Options as the `a{sv}` of `OpenPortWithOptions`: `lifetime` as `u`, `bind_to_caller` as `b`.
pub fn options_dict(options: OpenOptions) -> HashMap<&'static str, zbus::Variant<'static>> {
    options
        .pairs()
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                OptionValue::Int(n) => zbus::Variant::from(u32::try_from(n).unwrap_or(u32::MAX)),
                OptionValue::Bool(b) => zbus::Variant::from(b),
                OptionValue::Other(text) => zbus::Variant::from(text),
            };
            (key, value)
        })
        .collect()
}

/// A `Leases` row, validated.
pub fn lease(raw: WireLease) -> Result<(Option<IfName>, PortEntry), Error> {
    fw6_model::wire::lease_row(raw).map_err(Error::protocol)
}

/// One `Apply` item as the client makes it: `(ssquss)`, the logging value formatted.
pub type WireItem<'a> = fw6_model::wire::WireItem<'a, Cow<'a, str>>;
/// One `EnumerateConnections` row: `(sssubbo)`.
pub type WireConnection = fw6_model::wire::WireConnection<zbus::OwnedObjectPath>;

/// A port entry from the wire, validated as the model validates it.
pub fn entry(raw: WireEntry) -> Result<PortEntry, Error> {
    fw6_model::wire::entry(raw).map_err(Error::protocol)
}

/// A list of entries from the wire, in the order the daemon sent (by pair).
pub fn entries(raw: Vec<WireEntry>) -> Result<Vec<PortEntry>, Error> {
    raw.into_iter().map(entry).collect()
}

/// An `Explain` reply `(bss)`: checks that the daemon's verdict agrees with its reason token.
pub fn explanation(raw: WireExplanation) -> Result<(Decision, String), Error> {
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
    fw6_model::wire::reason(token)
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

/// The protocol name for display of a raw number the daemon sent.
pub fn protocol_name(protocol: u32) -> String {
    Protocol::try_from(protocol).map_or_else(|_| protocol.to_string(), |p| p.as_str().to_owned())
}

#[cfg(test)]
mod tests {
    use fw6_model::{ErrorKind, PortKey};

    use super::*;

    fn key(s: &str) -> PortKey {
        s.parse().unwrap()
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
