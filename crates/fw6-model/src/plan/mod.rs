//! The nftables plan as plain data (docs/design.md §3): what the kernel must hold for a state, and
//! which set elements change for a list of [`Change`]s. The kernel crate encodes it into netlink;
//! [`render`] prints it as `nft -f` text, the oracle the kernel encoding is tested against.

mod render;
mod rule;
mod update;

pub use render::render;
pub use rule::{
    CONNECTION_LABEL_IN, CONNECTION_LABEL_OUT, Icmpv6Type, Ipv4Option, LOG_SNAPLEN, LogKind, Rule,
};
pub use update::{ElementOp, Update, update};

use crate::{IfName, PortKey, State};

/// The name of the one table fw6 owns; its family is [`TABLE_FAMILY`].
pub const TABLE: &str = "fw6";
/// The family of fw6's table: `inet`, one table for IPv4 and IPv6 (docs/ruleset.md). Code that
/// names or recognises fw6's table (the kernel encoding, the drift monitor, tools that list
/// other programs' tables) compares against this and [`TABLE`], never a literal.
pub const TABLE_FAMILY: TableFamily = TableFamily::Inet;
/// The family of the table releases before dual stack owned (`ip6 fw6`): fw6d replaces it with
/// `inet fw6` in the transaction that builds the new table (docs/ruleset.md, "Upgrade").
pub const LEGACY_TABLE_FAMILY: TableFamily = TableFamily::Ip6;

/// An nftables table family fw6 has owned a table in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TableFamily {
    /// `inet`: IPv4 and IPv6 in one table (`NFPROTO_INET`).
    Inet,
    /// `ip6`: IPv6 only (`NFPROTO_IPV6`).
    Ip6,
}

impl TableFamily {
    /// The family as nft names it.
    pub const fn nft_name(self) -> &'static str {
        match self {
            Self::Inet => "inet",
            Self::Ip6 => "ip6",
        }
    }

    /// The `NFPROTO_*` number netlink messages carry in their `nfgenmsg`.
    pub const fn nfproto(self) -> u8 {
        match self {
            Self::Inet => 1,
            Self::Ip6 => 10,
        }
    }

    /// The table of this family named [`TABLE`], as nft commands take it (`inet fw6`).
    pub fn table(self) -> String {
        format!("{} {TABLE}", self.nft_name())
    }
}

impl std::fmt::Display for TableFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.nft_name())
    }
}

/// `inet fw6`: fw6's table as nft commands name it.
pub fn table_spec() -> String {
    TABLE_FAMILY.table()
}
/// The input base chain.
pub const CHAIN: &str = "input";
/// The output base chain, present only while `LogConnections` is on: it logs and marks the
/// host's own new connections out of firewalled connections, and never drops.
pub const OUTPUT_CHAIN: &str = "output";
/// The regular chain holding the must-pass ICMPv6 rules, reached from [`CHAIN`] only by
/// [`Rule::JumpIcmpv6`]. (`icmpv6` itself is an nft keyword that nft 1.0.6 refuses as a chain
/// name, quoted or not.)
pub const ICMPV6_CHAIN: &str = "input_icmpv6";

/// The table's chains, in creation order (which is the order `nft list` prints them in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChainName {
    /// [`CHAIN`]: the base chain on the input hook.
    Input,
    /// [`ICMPV6_CHAIN`]: a regular chain, entered only by the jump for ICMPv6 packets.
    Icmpv6,
    /// [`OUTPUT_CHAIN`]: the base chain on the output hook (`LogConnections` only).
    Output,
}

impl ChainName {
    /// All chains, in creation order.
    pub const ALL: [Self; 3] = [Self::Input, Self::Icmpv6, Self::Output];

    /// The chain's name in the table.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Input => CHAIN,
            Self::Icmpv6 => ICMPV6_CHAIN,
            Self::Output => OUTPUT_CHAIN,
        }
    }
}

/// The four sets of docs/design.md §3. Everything that changes at run time is a set element, never
/// a rule, so a packet's verdict costs a few hash lookups whatever the configuration size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SetName {
    /// `type ifname`: connections whose firewall is off. Unknown names are firewalled.
    Unfirewalled,
    /// `type ifname . inet_proto . inet_service`: per-connection open pairs.
    Open,
    /// `type ifname . inet_proto . inet_service`: per-connection ignored global pairs.
    Ignored,
    /// `type inet_proto . inet_service`: the global open pairs.
    GlobalOpen,
}

impl SetName {
    /// All sets, in declaration order.
    pub const ALL: [Self; 4] = [
        Self::Unfirewalled,
        Self::Open,
        Self::Ignored,
        Self::GlobalOpen,
    ];

    /// The set's name in the table.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unfirewalled => "unfirewalled",
            Self::Open => "open",
            Self::Ignored => "ignored",
            Self::GlobalOpen => "global_open",
        }
    }

    /// Whether the set's elements may carry a timeout (`flags timeout`): the two sets of
    /// openings, which leases put elements in that the kernel removes at their expiry.
    pub const fn has_timeouts(self) -> bool {
        matches!(self, Self::Open | Self::GlobalOpen)
    }

    /// The set's key in the kernel.
    pub const fn key(self) -> SetKey {
        match self {
            Self::Unfirewalled => SetKey::Ifname,
            Self::Open | Self::Ignored => SetKey::IfnameProtoPort,
            Self::GlobalOpen => SetKey::ProtoPort,
        }
    }
}

/// The shape of a set's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetKey {
    /// `ifname`: 16 bytes, NUL-padded.
    Ifname,
    /// `ifname . inet_proto . inet_service`: 16 + 4 + 4 bytes (each field padded to 32 bits).
    IfnameProtoPort,
    /// `inet_proto . inet_service`: 4 + 4 bytes.
    ProtoPort,
}

impl SetKey {
    /// The nft type expression.
    pub const fn nft_type(self) -> &'static str {
        match self {
            Self::Ifname => "ifname",
            Self::IfnameProtoPort => "ifname . inet_proto . inet_service",
            Self::ProtoPort => "inet_proto . inet_service",
        }
    }
}

/// One set element.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Element {
    /// A connection, for [`SetName::Unfirewalled`].
    Connection(IfName),
    /// A connection and pair, for [`SetName::Open`] and [`SetName::Ignored`].
    ConnectionPair(IfName, PortKey),
    /// A pair, for [`SetName::GlobalOpen`].
    Pair(PortKey),
}

/// A set with its elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetPlan {
    /// Which set.
    pub name: SetName,
    /// Its elements without an expiry, ordered.
    pub elements: Vec<Element>,
    /// Its elements that expire (leases), each with its wall-clock expiry in ms since the Unix
    /// epoch, ordered.
    pub expiring: Vec<(Element, u64)>,
}

/// How unsolicited echo requests are treated on firewalled connections (daemon config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoRequest {
    /// Accepted up to a rate; the excess falls through to the final drop.
    Accept {
        /// Packets per second.
        per_second: u32,
    },
    /// Dropped like any other unsolicited packet.
    Drop,
}

/// Settings of the ruleset that are not part of the ICF state (they come from the daemon's
/// config file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Echo request policy.
    pub echo_request: EchoRequest,
    /// The NFLOG group the log rules send to.
    pub log_group: u16,
    /// The kernel-side rate limit of each log rule, packets per second.
    pub log_per_second: u32,
    /// Whether IPv4 is filtered too (`families` in fw6d.toml). When it is not, the first rule
    /// of each base chain accepts IPv4 and the IPv4-only rules are left out: IPv4 passes as if
    /// fw6 were not there. IPv6 is always filtered.
    pub ipv4: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            echo_request: EchoRequest::Accept { per_second: 10 },
            log_group: 6,
            log_per_second: 100,
            ipv4: true,
        }
    }
}

/// The complete table: the four sets and the two chains' rules, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePlan {
    /// The sets in declaration order.
    pub sets: Vec<SetPlan>,
    /// The input chain's rules in evaluation order.
    pub rules: Vec<Rule>,
    /// The `input_icmpv6` chain's rules in evaluation order. A packet none of them accepts
    /// returns to the input chain after the jump.
    pub icmpv6_rules: Vec<Rule>,
    /// The output chain's rules; empty (and the chain absent) unless `LogConnections` is on.
    pub output_rules: Vec<Rule>,
}

impl TablePlan {
    /// Each chain with its rules, in creation order; the output chain only when it has rules.
    pub fn chains(&self) -> Vec<(ChainName, &[Rule])> {
        let mut chains = vec![
            (ChainName::Input, self.rules.as_slice()),
            (ChainName::Icmpv6, self.icmpv6_rules.as_slice()),
        ];
        if !self.output_rules.is_empty() {
            chains.push((ChainName::Output, self.output_rules.as_slice()));
        }
        chains
    }

    /// Whether IPv4 is filtered: the input chain does not accept it first.
    pub fn filters_ipv4(&self) -> bool {
        !self.rules.contains(&Rule::AcceptIpv4)
    }

    /// The total number of set elements.
    pub fn element_count(&self) -> usize {
        self.sets
            .iter()
            .map(|s| s.elements.len() + s.expiring.len())
            .sum()
    }
}

/// The complete table for `state`.
pub fn full(state: &State, options: &Options) -> TablePlan {
    let mut sets: Vec<SetPlan> = SetName::ALL
        .into_iter()
        .map(|name| SetPlan {
            name,
            elements: Vec::new(),
            expiring: Vec::new(),
        })
        .collect();
    let leased = state.lease_count() > 0;
    for (name, conn) in state.connections() {
        if !conn.firewalled {
            sets[0].elements.push(Element::Connection(name.clone()));
        }
        for key in conn.open.keys() {
            let element = Element::ConnectionPair(name.clone(), *key);
            match leased
                .then(|| state.lease(Some(name), *key).and_then(|l| l.expires))
                .flatten()
            {
                Some(at) => sets[1].expiring.push((element, at)),
                None => sets[1].elements.push(element),
            }
        }
        for key in conn.ignored.keys() {
            sets[2]
                .elements
                .push(Element::ConnectionPair(name.clone(), *key));
        }
    }
    for (key, _) in state.global_open() {
        let element = Element::Pair(*key);
        match leased
            .then(|| state.lease(None, *key).and_then(|l| l.expires))
            .flatten()
        {
            Some(at) => sets[3].expiring.push((element, at)),
            None => sets[3].elements.push(element),
        }
    }
    TablePlan {
        sets,
        rules: rule::chain(state.logging(), options),
        icmpv6_rules: rule::icmpv6_chain(),
        output_rules: rule::output_chain(state.logging(), options),
    }
}
