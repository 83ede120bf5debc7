//! The D-Bus contract of `docs/dbus-api.md`, owned once: the bus name, object paths and
//! interface names, the tuple types that travel, and the pure mappings between them and the
//! model's types. fw6d (the service) and the fw6 client both speak through this module, so a
//! change to the contract is made here and both sides follow; the introspection test (fw6d's
//! `docs/org.fw6.Firewall1.xml` against the live daemon) checks the result.
//!
//! Sans-IO like the rest of the crate: no D-Bus library. The one D-Bus type in a reply, the
//! object path of a connection row, is a type parameter the side that speaks D-Bus fills in.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Serialize;

use crate::{
    Change, Decision, EntryName, Error, IfName, Lease, LogfileMaximumSize, Member, MemberArgs,
    Mutation, OpenOptions, OtherChain, Owner, PortEntry, PortKey, Reason,
};

/// The daemon's well-known bus name.
pub const BUS_NAME: &str = "org.fw6.Firewall1";
/// The manager object's path.
pub const MANAGER_PATH: &str = "/org/fw6/Firewall1";
/// Where connection objects live: this prefix and the escaped interface name.
pub const CONNECTION_PATH_PREFIX: &str = "/org/fw6/Firewall1/connection/";
/// The manager interface.
pub const MANAGER_IFACE: &str = "org.fw6.Firewall1.Manager";
/// The per-connection interface.
pub const CONNECTION_IFACE: &str = "org.fw6.Firewall1.Connection";

/// A port entry as it travels: `(qus)` = (port, protocol, name).
pub type WireEntry = (u16, u32, String);

/// One `Apply` item: `(ssquss)` = (member, connection, port, protocol, name, value). Borrowed:
/// a 10,000-item batch would otherwise allocate and free 40,000 strings. The value is `&str`
/// as fw6d decodes it from the message, `Cow` as [`apply_item`] makes it (a size is formatted).
pub type WireItem<'a, V = &'a str> = (&'a str, &'a str, u16, u32, &'a str, V);

/// One `Leases` row: `(squstsus)` = (connection or "" for a global pair, port, protocol, name,
/// expiry in ms since the Unix epoch or 0, owner's unique bus name or "", owner's pid or 0,
/// owner's program name or "").
pub type WireLease = (String, u16, u32, String, u64, String, u32, String);

/// One `EnumerateConnections` row: `(sssubbo)` = (Id, Name, Interface, Index, IsFirewalled,
/// Present, object path); `P` is the D-Bus library's object path type.
pub type WireConnection<P> = (String, String, String, u32, bool, bool, P);

/// One `ReadAudit` row: (time in ms since the Unix epoch, uid, pid or 0, executable or "",
/// bus name or "", member, what, connection or "", port or 0, protocol or 0, old, new),
/// `old`/`new` holding zero elements when the value was absent (a pair that did not exist).
pub type WireAudit = (
    u64,
    u32,
    u32,
    String,
    String,
    String,
    String,
    String,
    u16,
    u32,
    Vec<String>,
    Vec<String>,
);

/// The arguments of one `Changed` signal: `(ssqus)` = (change, interface or "", port or 0,
/// protocol or 0, name or ""). The daemon sends the kind as a static token.
pub type WireChanged<K = String> = (K, String, u16, u32, String);

/// An `Explain` reply: `(bss)` = (allowed, reason token, the reason as a sentence).
pub type WireExplanation = (bool, String, String);

/// The `Status` key listing the base chains of other tables on the inbound hooks.
pub const STATUS_OTHER_CHAINS: &str = "other_chains";

/// The `Status` key of the pending confirmable change (`ApplyConfirmable`), present only while
/// one is pending; its value is a [`WirePending`].
pub const STATUS_PENDING: &str = "pending";

/// A pending confirmable change as `Status` shows it: `(stuu)` = (token, deadline in ms since
/// the Unix epoch, uid of the caller who made it, effective changes it made).
pub type WirePending = (String, u64, u32, u32);

/// One [`OtherChain`] in `Status`'s `other_chains` (`a(sssssisus)`): (family, table, chain,
/// type, hook, priority, policy, rules, device or "").
pub type WireOtherChain = (
    String,
    String,
    String,
    String,
    String,
    i32,
    String,
    u32,
    String,
);

/// An [`OtherChain`] as it travels.
pub fn other_chain_args(c: &OtherChain) -> WireOtherChain {
    (
        c.family.clone(),
        c.table.clone(),
        c.chain.clone(),
        c.kind.clone(),
        c.hook.clone(),
        c.priority,
        c.policy.clone(),
        c.rules,
        c.device.clone(),
    )
}

/// An [`OtherChain`] from the wire.
pub fn other_chain(raw: WireOtherChain) -> OtherChain {
    let (family, table, chain, kind, hook, priority, policy, rules, device) = raw;
    OtherChain {
        family,
        table,
        chain,
        kind,
        hook,
        priority,
        policy,
        rules,
        device,
    }
}

/// The object path of a connection: [`CONNECTION_PATH_PREFIX`] and the interface name with
/// `[A-Za-z0-9]` kept and any other byte written `_xx` (object paths allow nothing else).
pub fn connection_path(name: &IfName) -> String {
    let mut path = String::from(CONNECTION_PATH_PREFIX);
    for byte in name.as_str().bytes() {
        if byte.is_ascii_alphanumeric() {
            path.push(char::from(byte));
        } else {
            let _ = write!(path, "_{byte:02x}");
        }
    }
    path
}

/// A pair from `(q port, u protocol)`, validated.
pub fn key(port: u16, protocol: u32) -> Result<PortKey, Error> {
    PortKey::from_raw(u32::from(port), protocol)
}

/// A pair as `(q port, u protocol)`.
pub fn key_args(key: PortKey) -> (u16, u32) {
    (key.port.get(), u32::from(key.protocol.number()))
}

/// A pair from signal arguments, or `None` for the "unused" `(0, 0)` (or a pair this side does
/// not know).
pub fn optional_key(port: u16, protocol: u32) -> Option<PortKey> {
    if port == 0 && protocol == 0 {
        return None;
    }
    key(port, protocol).ok()
}

/// An entry as it travels.
pub fn entry_args(entry: &PortEntry) -> WireEntry {
    let (port, protocol) = key_args(entry.key());
    (port, protocol, entry.name.to_string())
}

/// A pair and its name as they travel, borrowed from the state ([`WireEntry`]'s layout).
pub fn entry_ref(key: PortKey, name: &EntryName) -> (u16, u32, &str) {
    let (port, protocol) = key_args(key);
    (port, protocol, name.as_str())
}

/// An entry from the wire, validated as the model validates it.
pub fn entry(raw: WireEntry) -> Result<PortEntry, Error> {
    let (port, protocol, name) = raw;
    let key = key(port, protocol)?;
    let name = EntryName::try_from(name)?;
    Ok(PortEntry::new(key, name))
}

/// A leased entry as a `Leases` row; `connection` `None` for a global pair. An entry without a
/// lease travels with zeros (it is not listed by the daemon).
pub fn lease_args(connection: Option<&IfName>, entry: &PortEntry) -> WireLease {
    let (port, protocol, name) = entry_args(entry);
    let lease = entry.lease.as_ref();
    let owner = lease.and_then(|l| l.owner.as_ref());
    (
        connection.map(ToString::to_string).unwrap_or_default(),
        port,
        protocol,
        name,
        lease.and_then(|l| l.expires).unwrap_or(0),
        owner.map(|o| o.name.clone()).unwrap_or_default(),
        owner.map_or(0, |o| o.pid),
        owner.map(|o| o.command.clone()).unwrap_or_default(),
    )
}

/// A `Leases` row as (connection or `None`, entry with its lease), validated. The owner's bus id
/// does not travel; it is left empty.
pub fn lease_row(raw: WireLease) -> Result<(Option<IfName>, PortEntry), Error> {
    let (connection, port, protocol, name, expires, owner, pid, command) = raw;
    let connection = if connection.is_empty() {
        None
    } else {
        Some(IfName::try_from(connection)?)
    };
    let mut entry = entry((port, protocol, name))?;
    let owner = (!owner.is_empty()).then(|| Owner {
        bus: String::new(),
        name: owner,
        pid,
        command,
    });
    let expires = (expires != 0).then_some(expires);
    entry.lease = (expires.is_some() || owner.is_some()).then_some(Lease { expires, owner });
    Ok((connection, entry))
}

/// The options an `Apply` item carries: for `OpenPort` and `OpenGlobalPort`, its `value` as
/// [`OpenOptions`] text (`lifetime=7200,bind_to_caller=true`; "" is a plain opening, so items
/// written before leases stay valid); no other member takes options.
pub fn item_options<V: AsRef<str>>(item: &WireItem<'_, V>) -> Result<OpenOptions, Error> {
    match Member::parse(item.0) {
        Some(Member::OpenPort | Member::OpenGlobalPort) => item.5.as_ref().parse(),
        _ => Ok(OpenOptions::default()),
    }
}

/// [`apply_item`] for an opening with `options` (carried as text in the item's `value`).
pub fn apply_item_with_options<'m>(
    mutation: &'m Mutation,
    options: &OpenOptions,
) -> WireItem<'m, Cow<'m, str>> {
    let mut item = apply_item(mutation);
    if !options.is_plain() {
        item.5 = Cow::Owned(options.to_string());
    }
    item
}

/// A decision as `Explain` replies it.
pub fn explanation_args(decision: Decision) -> WireExplanation {
    (
        decision.allowed,
        decision.reason.as_str().to_owned(),
        decision.reason.to_string(),
    )
}

/// [`explanation_args`] for an opening with a lease: the sentence says when it ends (`the port
/// is open on this connection; open until 2026-12-04 14:05:00 UTC (lease)`).
pub fn explanation_leased(decision: Decision, lease: Option<&Lease>) -> WireExplanation {
    let mut args = explanation_args(decision);
    if let Some(lease) = lease {
        args.2 = format!("{}; {lease}", args.2);
    }
    args
}

/// The reason of an `Explain` token such as `globally-open`.
pub fn reason(token: &str) -> Option<Reason> {
    [
        Reason::NotFirewalled,
        Reason::OpenOnConnection,
        Reason::GloballyOpen,
        Reason::GlobalIgnored,
        Reason::NotOpen,
    ]
    .into_iter()
    .find(|r| r.as_str() == token)
}

/// The text of a logging switch in an `Apply` item.
const fn switch_text(enabled: bool) -> &'static str {
    if enabled { "true" } else { "false" }
}

/// A logging switch's text value as a bool (`true`/`on`/`1`, `false`/`off`/`0`).
pub fn switch(value: &str) -> Result<bool, Error> {
    match value {
        "true" | "on" | "1" => Ok(true),
        "false" | "off" | "0" => Ok(false),
        other => Err(Error::invalid_arg(format!(
            "{other:?} is not a switch value: use true or false"
        ))),
    }
}

/// A `LogfileMaximumSize` text value (KiB).
pub fn size(value: &str) -> Result<LogfileMaximumSize, Error> {
    let kib: u32 = value.parse().map_err(|_| {
        Error::invalid_arg(format!(
            "{value:?} is not a size in KiB: use a number 1-32767"
        ))
    })?;
    LogfileMaximumSize::try_from(kib)
}

/// A mutation as one `Apply` item (docs/dbus-api.md, "`Apply` items"): the connection is the
/// interface name, unused numbers are 0 and unused texts empty, the logging value is text.
pub fn apply_item(mutation: &Mutation) -> WireItem<'_, Cow<'_, str>> {
    let connection = mutation.connection().map_or("", IfName::as_str);
    let (port, protocol) = mutation.key().map_or((0, 0), key_args);
    let name = mutation.name().map_or("", EntryName::as_str);
    let value = match mutation {
        Mutation::SetLogfilePath { path } => Cow::Borrowed(path.as_str()),
        Mutation::SetLogfileMaximumSize { kib } => Cow::Owned(kib.kib().to_string()),
        Mutation::SetLogDroppedPackets { enabled } | Mutation::SetLogConnections { enabled } => {
            Cow::Borrowed(switch_text(*enabled))
        }
        _ => Cow::Borrowed(""),
    };
    (mutation.member(), connection, port, protocol, name, value)
}

/// One `Apply` item as a mutation; `connection` resolves the item's id or interface name (the
/// daemon knows which connections exist). Arguments the member does not take are ignored.
pub fn mutation<V: AsRef<str>>(
    item: &WireItem<'_, V>,
    connection: impl Fn(&str) -> Result<IfName, Error>,
) -> Result<Mutation, Error> {
    let member = Member::parse(item.0).ok_or_else(|| {
        Error::invalid_arg(format!(
            "{:?} is not a state-changing member: use one of {}",
            item.0,
            Member::list()
        ))
    })?;
    member.mutation(&ItemArgs { item, connection })
}

/// An `Apply` item's arguments, validated as the member asks for them.
struct ItemArgs<'i, 'a, V, F> {
    item: &'i WireItem<'a, V>,
    connection: F,
}

impl<V: AsRef<str>, F: Fn(&str) -> Result<IfName, Error>> MemberArgs for ItemArgs<'_, '_, V, F> {
    type Error = Error;

    fn connection(&self) -> Result<IfName, Error> {
        (self.connection)(self.item.1)
    }

    fn key(&self) -> Result<PortKey, Error> {
        key(self.item.2, self.item.3)
    }

    fn name(&self) -> Result<EntryName, Error> {
        EntryName::try_from(self.item.4)
    }

    fn path(&self) -> Result<String, Error> {
        Ok(self.item.5.as_ref().to_owned())
    }

    fn size(&self) -> Result<LogfileMaximumSize, Error> {
        size(self.item.5.as_ref())
    }

    fn enabled(&self) -> Result<bool, Error> {
        switch(self.item.5.as_ref())
    }
}

/// What an effective change did: the `change` argument of `Changed`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum ChangeKind {
    /// A pair entered the global open set.
    GlobalOpened,
    /// A pair left the global open set.
    GlobalClosed,
    /// A connection's firewall was switched on.
    FirewallEnabled,
    /// A connection's firewall was switched off.
    FirewallDisabled,
    /// A pair was opened on a connection.
    PortOpened,
    /// A pair was closed on a connection.
    PortClosed,
    /// A connection started ignoring a global pair.
    GlobalIgnored,
    /// A connection stopped ignoring a global pair.
    GlobalObserved,
    /// A logging setting changed.
    Logging,
    /// A change a client does not know yet (a newer daemon).
    #[serde(untagged)]
    Other(String),
}

impl ChangeKind {
    /// The nine kinds this version sends.
    const KNOWN: [Self; 9] = [
        Self::GlobalOpened,
        Self::GlobalClosed,
        Self::FirewallEnabled,
        Self::FirewallDisabled,
        Self::PortOpened,
        Self::PortClosed,
        Self::GlobalIgnored,
        Self::GlobalObserved,
        Self::Logging,
    ];

    /// The token on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Other(token) => token,
            known => known.token().unwrap_or_default(),
        }
    }

    /// The token of a kind this version knows; `None` for [`ChangeKind::Other`].
    const fn token(&self) -> Option<&'static str> {
        Some(match self {
            Self::GlobalOpened => "GlobalOpened",
            Self::GlobalClosed => "GlobalClosed",
            Self::FirewallEnabled => "FirewallEnabled",
            Self::FirewallDisabled => "FirewallDisabled",
            Self::PortOpened => "PortOpened",
            Self::PortClosed => "PortClosed",
            Self::GlobalIgnored => "GlobalIgnored",
            Self::GlobalObserved => "GlobalObserved",
            Self::Logging => "Logging",
            Self::Other(_) => return None,
        })
    }

    /// From the signal's token; an unknown token is kept as [`ChangeKind::Other`].
    pub fn parse(token: &str) -> Self {
        Self::KNOWN
            .into_iter()
            .find(|k| k.as_str() == token)
            .unwrap_or_else(|| Self::Other(token.to_owned()))
    }

    /// The kind of `change`.
    pub const fn of(change: &Change) -> Self {
        match change {
            Change::GlobalOpened { .. } => Self::GlobalOpened,
            Change::GlobalClosed { .. } => Self::GlobalClosed,
            Change::FirewallEnabled { .. } => Self::FirewallEnabled,
            Change::FirewallDisabled { .. } => Self::FirewallDisabled,
            Change::PortOpened { .. } => Self::PortOpened,
            Change::PortClosed { .. } => Self::PortClosed,
            Change::GlobalIgnored { .. } => Self::GlobalIgnored,
            Change::GlobalObserved { .. } => Self::GlobalObserved,
            Change::Logging { .. } => Self::Logging,
        }
    }
}

/// The `Changed` signal's arguments for one change: the kind's token, the connection, and the
/// entry's pair and name; fields the change has not are empty or 0.
pub fn changed(change: &Change) -> WireChanged<&'static str> {
    let kind = ChangeKind::of(change).token().unwrap_or_default();
    let (connection, entry) = match change {
        Change::GlobalOpened { entry } | Change::GlobalClosed { entry } => (None, Some(entry)),
        Change::FirewallEnabled { connection } | Change::FirewallDisabled { connection } => {
            (Some(connection), None)
        }
        Change::PortOpened { connection, entry }
        | Change::PortClosed { connection, entry }
        | Change::GlobalIgnored { connection, entry }
        | Change::GlobalObserved { connection, entry } => (Some(connection), Some(entry)),
        Change::Logging { .. } => (None, None),
    };
    let connection = connection.map(ToString::to_string).unwrap_or_default();
    let (port, protocol, name) = entry.map_or((0, 0, String::new()), entry_args);
    (kind, connection, port, protocol, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, LogSettings};

    /// Resolves an item's connection as fw6d does for an absent interface: by name.
    fn by_name(c: &str) -> Result<IfName, Error> {
        IfName::try_from(c)
    }

    fn key(s: &str) -> PortKey {
        s.parse().unwrap()
    }

    fn ifname(s: &str) -> IfName {
        IfName::try_from(s).unwrap()
    }

    fn every_member() -> Vec<Mutation> {
        let web = EntryName::try_from("web").unwrap();
        vec![
            Mutation::OpenGlobalPort {
                key: key("53/udp"),
                name: web.clone(),
                lease: None,
            },
            Mutation::CloseGlobalPort { key: key("53/udp") },
            Mutation::EnableFirewall {
                connection: ifname("wan0"),
            },
            Mutation::DisableFirewall {
                connection: ifname("wan0"),
            },
            Mutation::OpenPort {
                connection: ifname("lan0"),
                key: key("8080/tcp"),
                name: web.clone(),
                lease: None,
            },
            Mutation::ClosePort {
                connection: ifname("lan0"),
                key: key("8080/tcp"),
            },
            Mutation::IgnoreGlobalPort {
                connection: ifname("wan0"),
                key: key("22/tcp"),
                name: web,
            },
            Mutation::ObserveGlobalPort {
                connection: ifname("wan0"),
                key: key("22/tcp"),
            },
            Mutation::SetLogfilePath {
                path: "/var/log/x.log".into(),
            },
            Mutation::SetLogfileMaximumSize {
                kib: LogfileMaximumSize::try_from(4096).unwrap(),
            },
            Mutation::SetLogDroppedPackets { enabled: true },
            Mutation::SetLogConnections { enabled: false },
        ]
    }

    #[test]
    fn apply_items_follow_the_contract() {
        let m = every_member();
        let want = [
            ("OpenGlobalPort", "", 53, 17, "web", ""),
            ("CloseGlobalPort", "", 53, 17, "", ""),
            ("EnableFirewall", "wan0", 0, 0, "", ""),
            ("DisableFirewall", "wan0", 0, 0, "", ""),
            ("OpenPort", "lan0", 8080, 6, "web", ""),
            ("ClosePort", "lan0", 8080, 6, "", ""),
            ("IgnoreGlobalPort", "wan0", 22, 6, "web", ""),
            ("ObserveGlobalPort", "wan0", 22, 6, "", ""),
            ("LogfilePath", "", 0, 0, "", "/var/log/x.log"),
            ("LogfileMaximumSize", "", 0, 0, "", "4096"),
            ("LogDroppedPackets", "", 0, 0, "", "true"),
            ("LogConnections", "", 0, 0, "", "false"),
        ];
        assert_eq!(m.len(), Member::ALL.len());
        for (mutation, (member, c, p, proto, n, v)) in m.iter().zip(want) {
            let item = apply_item(mutation);
            assert_eq!(item, (member, c, p, proto, n, Cow::Borrowed(v)));
            assert_eq!(mutation.kind().takes(crate::Argument::Value), !v.is_empty());
        }
    }

    #[test]
    fn every_member_round_trips_through_an_item() {
        for m in every_member() {
            let item = apply_item(&m);
            assert_eq!(mutation(&item, by_name).unwrap(), m, "{item:?}");
            assert_eq!(Member::parse(m.member()), Some(m.kind()));
        }
    }

    #[test]
    fn bad_items_say_what_was_wrong() {
        let item: WireItem<'_> = ("OpenPorts", "", 0, 0, "", "");
        let e = mutation(&item, by_name).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArg);
        assert_eq!(
            e.message(),
            "\"OpenPorts\" is not a state-changing member: use one of OpenGlobalPort, \
             CloseGlobalPort, EnableFirewall, DisableFirewall, OpenPort, ClosePort, \
             IgnoreGlobalPort, ObserveGlobalPort, LogfilePath, LogfileMaximumSize, \
             LogDroppedPackets, LogConnections"
        );
        let item: WireItem<'_> = ("LogConnections", "", 0, 0, "", "yes");
        assert!(
            mutation(&item, by_name)
                .unwrap_err()
                .message()
                .contains("switch")
        );
        let item: WireItem<'_> = ("LogfileMaximumSize", "", 0, 0, "", "x");
        assert!(
            mutation(&item, by_name)
                .unwrap_err()
                .message()
                .contains("1-32767")
        );
        // The connection is read first.
        let item: WireItem<'_> = ("OpenPort", "a/b", 0, 0, "", "");
        assert!(
            mutation(&item, by_name)
                .unwrap_err()
                .message()
                .contains("a/b")
        );
        assert!(switch("on").unwrap() && !switch("0").unwrap());
    }

    #[test]
    fn entries_are_validated() {
        let good = entry((22, 6, "ssh".into())).unwrap();
        assert_eq!(good.key(), key("22/tcp"));
        assert_eq!(entry_args(&good), (22, 6, "ssh".into()));
        for bad in [
            (0, 6, String::new()),
            (22, 1, String::new()),
            (22, 6, "a\nb".into()),
        ] {
            assert_eq!(entry(bad).unwrap_err().kind(), ErrorKind::InvalidArg);
        }
        assert_eq!(optional_key(0, 0), None);
        let explained = explanation_args(Decision::new(Reason::GlobalIgnored));
        assert!(!explained.0);
        assert_eq!(reason(&explained.1), Some(Reason::GlobalIgnored));
        assert_eq!(reason("maybe"), None);
        assert_eq!(optional_key(80, 6), Some(key("80/tcp")));
    }

    #[test]
    fn options_travel_in_the_items_value() {
        let m = every_member();
        let options: OpenOptions = "lifetime=60,bind_to_caller=true".parse().unwrap();
        let item = apply_item_with_options(&m[4], &options);
        assert_eq!(item.5, "lifetime=60,bind_to_caller=true");
        assert_eq!(item_options(&item).unwrap(), options);
        // The mutation itself reads as before: the lease is the daemon's to make.
        assert_eq!(mutation(&item, by_name).unwrap(), m[4]);
        // Old items (value "") are plain openings; other members' values are not options.
        assert!(item_options(&apply_item(&m[0])).unwrap().is_plain());
        assert!(item_options(&apply_item(&m[10])).unwrap().is_plain());
        let bad: WireItem<'_> = ("OpenGlobalPort", "", 53, 17, "", "lifetime=0");
        let e = item_options(&bad).unwrap_err();
        assert!(e.message().contains("lifetime 0 is zero"), "{e}");
    }

    #[test]
    fn lease_rows_round_trip() {
        let lease = Lease {
            expires: Some(5_000),
            owner: Some(Owner {
                bus: String::new(),
                name: ":1.9".into(),
                pid: 42,
                command: "game".into(),
            }),
        };
        let entry = PortEntry {
            lease: Some(lease),
            ..PortEntry::new(key("27015/udp"), EntryName::try_from("g").unwrap())
        };
        let lan0 = ifname("lan0");
        let row = lease_args(Some(&lan0), &entry);
        assert_eq!(
            row,
            (
                "lan0".into(),
                27015,
                17,
                "g".into(),
                5_000,
                ":1.9".into(),
                42,
                "game".into()
            )
        );
        assert_eq!(lease_row(row).unwrap(), (Some(lan0), entry.clone()));
        let global = lease_args(None, &entry);
        assert_eq!(lease_row(global).unwrap().0, None);
    }

    #[test]
    fn paths_escape_everything_but_alphanumerics() {
        assert_eq!(
            connection_path(&ifname("veth-a.b_c")),
            "/org/fw6/Firewall1/connection/veth_2da_2eb_5fc"
        );
        assert_eq!(
            connection_path(&ifname("eth0")),
            "/org/fw6/Firewall1/connection/eth0"
        );
        assert!(CONNECTION_PATH_PREFIX.starts_with(MANAGER_PATH));
    }

    #[test]
    fn changes_become_signal_fields_and_back() {
        let web = PortEntry::new(key("80/tcp"), EntryName::try_from("web").unwrap());
        let lan0 = ifname("lan0");
        let cases = [
            (
                Change::PortOpened {
                    connection: lan0.clone(),
                    entry: web.clone(),
                },
                ("PortOpened", "lan0", 80, 6, "web"),
            ),
            (
                Change::GlobalClosed { entry: web.clone() },
                ("GlobalClosed", "", 80, 6, "web"),
            ),
            (
                Change::FirewallDisabled { connection: lan0 },
                ("FirewallDisabled", "lan0", 0, 0, ""),
            ),
            (
                Change::Logging {
                    from: LogSettings::default(),
                    to: LogSettings::default(),
                },
                ("Logging", "", 0, 0, ""),
            ),
        ];
        for (change, (kind, c, p, proto, n)) in cases {
            assert_eq!(changed(&change), (kind, c.into(), p, proto, n.into()));
            assert_eq!(ChangeKind::parse(kind), ChangeKind::of(&change));
            assert_eq!(ChangeKind::of(&change).as_str(), kind);
        }
        assert_eq!(
            ChangeKind::parse("Future"),
            ChangeKind::Other("Future".into())
        );
        assert_eq!(ChangeKind::Other("Future".into()).as_str(), "Future");
    }
}
