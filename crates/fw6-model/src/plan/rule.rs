//! The chains' rules, as meaning rather than expressions; the kernel crate turns each into
//! the netlink expressions nft itself would generate.

use super::{EchoRequest, Options};
use crate::LogSettings;

/// ICMPv6 types the chain names (RFC 4890 §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Icmpv6Type {
    /// 1.
    DestinationUnreachable = 1,
    /// 2: must pass or path MTU discovery breaks.
    PacketTooBig = 2,
    /// 3.
    TimeExceeded = 3,
    /// 4.
    ParameterProblem = 4,
    /// 128.
    EchoRequest = 128,
    /// 130.
    MldListenerQuery = 130,
    /// 131.
    MldListenerReport = 131,
    /// 132.
    MldListenerDone = 132,
    /// 133.
    NdRouterSolicit = 133,
    /// 134.
    NdRouterAdvert = 134,
    /// 135.
    NdNeighborSolicit = 135,
    /// 136.
    NdNeighborAdvert = 136,
    /// 137.
    NdRedirect = 137,
    /// 143.
    Mld2ListenerReport = 143,
}

impl Icmpv6Type {
    /// Neighbour discovery: accepted only with hop limit 255 (never forwarded).
    pub const NEIGHBOUR_DISCOVERY: [Self; 5] = [
        Self::NdRouterSolicit,
        Self::NdRouterAdvert,
        Self::NdNeighborSolicit,
        Self::NdNeighborAdvert,
        Self::NdRedirect,
    ];
    /// Multicast listener discovery: accepted only from link-local sources.
    pub const MULTICAST_LISTENER: [Self; 4] = [
        Self::MldListenerQuery,
        Self::MldListenerReport,
        Self::MldListenerDone,
        Self::Mld2ListenerReport,
    ];
    /// Error messages: always accepted.
    pub const ERRORS: [Self; 4] = [
        Self::DestinationUnreachable,
        Self::PacketTooBig,
        Self::TimeExceeded,
        Self::ParameterProblem,
    ];

    /// The type number.
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// nft's name for the type.
    pub const fn nft_name(self) -> &'static str {
        match self {
            Self::DestinationUnreachable => "destination-unreachable",
            Self::PacketTooBig => "packet-too-big",
            Self::TimeExceeded => "time-exceeded",
            Self::ParameterProblem => "parameter-problem",
            Self::EchoRequest => "echo-request",
            Self::MldListenerQuery => "mld-listener-query",
            Self::MldListenerReport => "mld-listener-report",
            Self::MldListenerDone => "mld-listener-done",
            Self::NdRouterSolicit => "nd-router-solicit",
            Self::NdRouterAdvert => "nd-router-advert",
            Self::NdNeighborSolicit => "nd-neighbor-solicit",
            Self::NdNeighborAdvert => "nd-neighbor-advert",
            Self::NdRedirect => "nd-redirect",
            Self::Mld2ListenerReport => "mld2-listener-report",
        }
    }
}

/// IPv4 options the input chain drops packets for (RFC 7126 §4.3, §4.4): source routes, with
/// which a sender dictates the path of the packet and of the replies that follow it back (the
/// IPv4 counterpart of the routing header type 0 of RFC 5095).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Ipv4Option {
    /// Loose source and record route, option type 131.
    Lsrr = 131,
    /// Strict source and record route, option type 137.
    Ssrr = 137,
}

impl Ipv4Option {
    /// Both, in chain order.
    pub const SOURCE_ROUTES: [Self; 2] = [Self::Lsrr, Self::Ssrr];

    /// The option type number (copied flag, class and number in one byte).
    pub const fn number(self) -> u8 {
        self as u8
    }

    /// nft's name for the option.
    pub const fn nft_name(self) -> &'static str {
        match self {
            Self::Lsrr => "lsrr",
            Self::Ssrr => "ssrr",
        }
    }
}

/// What a log rule records: which verdict it announces and why. Each kind has a rule of its own,
/// right before the rule that gives the verdict and with the same match, so every packet that
/// verdict takes is offered to the log, and the NFLOG prefix tells the reader which one it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogKind {
    /// A new inbound connection accepted by a per-connection open pair (`LogConnections`).
    OpenPair,
    /// A new inbound connection accepted by a global open pair (`LogConnections`).
    OpenGlobal,
    /// A new outbound connection of the host's own, out of a firewalled connection
    /// (`LogConnections`; in the output chain).
    OpenOut,
    /// Dropped by `ct state invalid drop` (`LogDroppedPackets`).
    DropInvalid,
    /// Dropped by `rt type 0 drop` (`LogDroppedPackets`).
    DropRoutingHeader0,
    /// Dropped by `ip option lsrr exists drop` (`LogDroppedPackets`).
    DropLsrr,
    /// Dropped by `ip option ssrr exists drop` (`LogDroppedPackets`).
    DropSsrr,
    /// Dropped because the global pair is ignored on this connection (`LogDroppedPackets`).
    DropIgnored,
    /// Dropped by the final `drop`: nothing opened the port (`LogDroppedPackets`).
    DropNotOpen,
}

impl LogKind {
    /// Every kind, in chain order.
    pub const ALL: [Self; 9] = [
        Self::DropInvalid,
        Self::DropRoutingHeader0,
        Self::DropLsrr,
        Self::DropSsrr,
        Self::OpenPair,
        Self::DropIgnored,
        Self::OpenGlobal,
        Self::DropNotOpen,
        Self::OpenOut,
    ];

    /// The log line's action: `OPEN` or `DROP`.
    pub const fn action(self) -> &'static str {
        match self {
            Self::OpenPair | Self::OpenGlobal | Self::OpenOut => "OPEN",
            _ => "DROP",
        }
    }

    /// The log line's reason (its `info` field): why the packet got its verdict.
    pub const fn reason(self) -> &'static str {
        match self {
            Self::OpenPair => "open",
            Self::OpenGlobal => "global",
            Self::OpenOut => "out",
            Self::DropInvalid => "invalid",
            Self::DropRoutingHeader0 => "rh0",
            Self::DropLsrr => "lsrr",
            Self::DropSsrr => "ssrr",
            Self::DropIgnored => "ignored",
            Self::DropNotOpen => "not-open",
        }
    }

    /// The NFLOG prefix, `fw6 ACTION reason`, which the log reader maps back to the kind.
    pub const fn prefix(self) -> &'static str {
        match self {
            Self::OpenPair => "fw6 OPEN open",
            Self::OpenGlobal => "fw6 OPEN global",
            Self::OpenOut => "fw6 OPEN out",
            Self::DropInvalid => "fw6 DROP invalid",
            Self::DropRoutingHeader0 => "fw6 DROP rh0",
            Self::DropLsrr => "fw6 DROP lsrr",
            Self::DropSsrr => "fw6 DROP ssrr",
            Self::DropIgnored => "fw6 DROP ignored",
            Self::DropNotOpen => "fw6 DROP not-open",
        }
    }

    /// The kind whose rule uses `prefix`; `None` for anyone else's.
    pub fn from_prefix(prefix: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.prefix() == prefix)
    }

    /// Whether `LogDroppedPackets` (else `LogConnections`) switches it on.
    pub const fn is_drop(self) -> bool {
        !matches!(self, Self::OpenPair | Self::OpenGlobal | Self::OpenOut)
    }

    /// The conntrack label bit the rule sets on every connection it sees (before the rate
    /// limit), so fw6d can tell the connections it logged OPEN when conntrack reports their
    /// end; `None` for the drop logs.
    pub const fn label(self) -> Option<u8> {
        match self {
            Self::OpenPair | Self::OpenGlobal => Some(CONNECTION_LABEL_IN),
            Self::OpenOut => Some(CONNECTION_LABEL_OUT),
            _ => None,
        }
    }
}

/// The conntrack label bit (`ct label set 127`) of inbound connections fw6 opened. Labels, not
/// `ct mark`: the mark is one 32-bit value that other tools (wg-quick, Kubernetes networking,
/// policy routing setups) save and overwrite, while setting a label bit leaves every other bit
/// alone; fw6 takes the two highest of the 128.
pub const CONNECTION_LABEL_IN: u8 = 127;
/// The conntrack label bit (`ct label set 126`) of the host's own connections out of a
/// firewalled connection.
pub const CONNECTION_LABEL_OUT: u8 = 126;

impl LogKind {}

/// Bytes of a logged packet the kernel copies to the reader: the IPv6 header (40), a few
/// extension headers and the TCP header fit; the payload, which the log never shows, stays in
/// the kernel, so a flood of large packets costs no more netlink bandwidth than one of small ones.
pub const LOG_SNAPLEN: u32 = 128;

/// One rule of the input chain or of the `input_icmpv6` chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Rule {
    /// `iif "lo" accept`.
    AcceptLoopback,
    /// `meta nfproto ipv4 accept` (input and output chains, only while IPv4 is not filtered:
    /// `families = ["ipv6"]`): IPv4 leaves fw6's chains at their first rule.
    AcceptIpv4,
    /// `oif "lo" accept` (output chain).
    AcceptLoopbackOut,
    /// `oifname @unfirewalled accept` (output chain).
    AcceptUnfirewalledOut,
    /// `ct state established,related accept`: replies to traffic the host started.
    AcceptEstablished,
    /// `meta l4proto ipv6-icmp jump input_icmpv6`: ICMPv6 packets go through the must-pass
    /// rules (in the regular chain [`super::ICMPV6_CHAIN`]); one that none accepts comes back
    /// and goes on with the next rule. Other packets pay one comparison for all of them.
    JumpIcmpv6,
    /// `icmpv6 type T ip6 hoplimit 255 accept`.
    AcceptNeighbourDiscovery(Icmpv6Type),
    /// `ip6 saddr fe80::/10 icmpv6 type T accept`.
    AcceptMulticastListener(Icmpv6Type),
    /// `icmpv6 type T accept`.
    AcceptIcmpv6Error(Icmpv6Type),
    /// `meta l4proto igmp ip daddr 224.0.0.0/4 ip ttl 1 accept`: IGMP from the local link (the
    /// IPv4 counterpart of MLD): sent with TTL 1 to a multicast group, so never routed here.
    AcceptIgmp,
    /// `iifname @unfirewalled accept`.
    AcceptUnfirewalled,
    /// `ct state invalid drop`.
    DropInvalid,
    /// `rt type 0 drop`: RFC 5095 deprecated type 0 routing headers.
    DropRoutingHeader0,
    /// `ip option lsrr exists drop` / `ip option ssrr exists drop`: IPv4 source routes.
    DropSourceRoute(Ipv4Option),
    /// `icmpv6 type echo-request limit rate N/second accept`.
    AcceptEchoRequest {
        /// Packets per second.
        per_second: u32,
    },
    /// `icmp type echo-request limit rate N/second accept`: the IPv4 echo request, with the
    /// same setting and rate (a limit of its own).
    AcceptIcmpEchoRequest {
        /// Packets per second.
        per_second: u32,
    },
    /// `MATCH counter limit rate N/second counter log prefix "fw6 …" group G snaplen S`: logs,
    /// up to a rate, the packets the next rule will give its verdict (`MATCH` is that rule's).
    /// The counter before the limit counts every such packet, the one after it those logged:
    /// the difference is what the rate limit suppressed, which fw6d reads and reports.
    Log {
        /// Which verdict it announces, and so its match and prefix.
        kind: LogKind,
        /// NFLOG group.
        group: u16,
        /// Packets per second.
        per_second: u32,
        /// Bytes of each packet copied to the log reader ([`LOG_SNAPLEN`]).
        snaplen: u32,
    },
    /// `iifname . meta l4proto . th dport @open accept`.
    AcceptOpen,
    /// `iifname . meta l4proto . th dport @ignored drop`.
    DropIgnored,
    /// `meta l4proto . th dport @global_open accept`.
    AcceptGlobalOpen,
    /// `drop`.
    Drop,
}

/// The input chain of docs/ruleset.md, in order: docs/design.md §3's, with the echo-request rule
/// after the set rules.
pub(super) fn chain(logging: &LogSettings, options: &Options) -> Vec<Rule> {
    let log = |kind| Rule::Log {
        kind,
        group: options.log_group,
        per_second: options.log_per_second,
        snaplen: LOG_SNAPLEN,
    };
    let on = |kind: LogKind| {
        if kind.is_drop() {
            logging.log_dropped_packets
        } else {
            logging.log_connections
        }
    };
    // IPv4 that is not filtered leaves at the first rule; the IPv4-only rules are then left
    // out, since no packet they could match reaches them.
    let mut rules = if options.ipv4 {
        vec![Rule::AcceptLoopback]
    } else {
        vec![Rule::AcceptIpv4, Rule::AcceptLoopback]
    };
    rules.extend([
        Rule::AcceptEstablished,
        Rule::JumpIcmpv6,
        Rule::AcceptUnfirewalled,
    ]);
    // Each verdict rule after its own log rule, when that log is on.
    let source_routes = [
        (LogKind::DropLsrr, Rule::DropSourceRoute(Ipv4Option::Lsrr)),
        (LogKind::DropSsrr, Rule::DropSourceRoute(Ipv4Option::Ssrr)),
    ];
    let verdicts = [
        (LogKind::DropInvalid, Rule::DropInvalid),
        (LogKind::DropRoutingHeader0, Rule::DropRoutingHeader0),
    ]
    .into_iter()
    .chain(source_routes.into_iter().filter(|_| options.ipv4))
    .chain([
        (LogKind::OpenPair, Rule::AcceptOpen),
        (LogKind::DropIgnored, Rule::DropIgnored),
        (LogKind::OpenGlobal, Rule::AcceptGlobalOpen),
    ]);
    for (kind, verdict) in verdicts {
        if on(kind) {
            rules.push(log(kind));
        }
        rules.push(verdict);
    }
    // After the set rules, not before them as at first (docs/design.md §3, §7): the sets hold
    // only TCP and UDP pairs, so no rule between can match an echo request and its verdict is
    // the same, while a new TCP or UDP packet to an open port evaluates one rule less. (The
    // saving is below `fw6-bench ablation`'s noise: BENCHMARKS.md, "Latest results", the
    // echo-request row; the rule fails at its first comparison.)
    if let EchoRequest::Accept { per_second } = options.echo_request {
        rules.push(Rule::AcceptEchoRequest { per_second });
        if options.ipv4 {
            rules.push(Rule::AcceptIcmpEchoRequest { per_second });
        }
    }
    // IGMP (the IPv4 counterpart of MLD, which stands in the ICMPv6 chain) here for the same
    // reason: no set rule can match it, and TCP and UDP to open ports do not evaluate it.
    if options.ipv4 {
        rules.push(Rule::AcceptIgmp);
    }
    if on(LogKind::DropNotOpen) {
        rules.push(log(LogKind::DropNotOpen));
    }
    rules.push(Rule::Drop);
    rules
}

/// The output chain: empty unless `LogConnections` is on; then loopback and unfirewalled
/// connections leave it at once and a new connection out of a firewalled one is labelled and
/// logged. Every packet leaves it accepted: fw6 filters only what comes in.
pub(super) fn output_chain(logging: &LogSettings, options: &Options) -> Vec<Rule> {
    if !logging.log_connections {
        return Vec::new();
    }
    let unfiltered = (!options.ipv4).then_some(Rule::AcceptIpv4);
    unfiltered
        .into_iter()
        .chain([
            Rule::AcceptLoopbackOut,
            Rule::AcceptUnfirewalledOut,
            Rule::Log {
                kind: LogKind::OpenOut,
                group: options.log_group,
                per_second: options.log_per_second,
                snaplen: LOG_SNAPLEN,
            },
        ])
        .collect()
}

/// The `input_icmpv6` chain: RFC 4890 must-pass ICMPv6, in order.
pub(super) fn icmpv6_chain() -> Vec<Rule> {
    Icmpv6Type::NEIGHBOUR_DISCOVERY
        .into_iter()
        .map(Rule::AcceptNeighbourDiscovery)
        .chain(
            Icmpv6Type::MULTICAST_LISTENER
                .into_iter()
                .map(Rule::AcceptMulticastListener),
        )
        .chain(Icmpv6Type::ERRORS.into_iter().map(Rule::AcceptIcmpv6Error))
        .collect()
}
