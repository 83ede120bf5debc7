//! The plan as `nft -f` text. It is the independent oracle for the kernel encoding: tests load
//! this text with `nft -f` in one namespace, apply the same plan over netlink in another, and
//! require `nft -j list table inet fw6` to agree. It is written as `nft list` prints, so the text
//! itself can be compared with a listing too.

use std::fmt::{self, Write as _};

use super::rule::{Icmpv6Type, LogKind};
use super::{ChainName, Element, ICMPV6_CHAIN, Rule, SetName, SetPlan, TablePlan, table_spec};

/// The whole table as nft text, starting with the create–delete–create idiom so that loading it
/// replaces any previous table atomically (docs/design.md §3).
pub fn render(plan: &TablePlan) -> String {
    let table = table_spec();
    let mut out = format!("table {table}\ndelete table {table}\ntable {table} {{\n");
    for set in &plan.sets {
        render_set(&mut out, set);
    }
    // Chains in creation order, as `nft list` prints them; only the base chain has a hook.
    for (index, (chain, rules)) in plan.chains().into_iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "\tchain {} {{", chain.as_str());
        match chain {
            ChainName::Input => {
                out.push_str("\t\ttype filter hook input priority filter; policy accept;\n");
            }
            ChainName::Output => {
                out.push_str("\t\ttype filter hook output priority filter; policy accept;\n");
            }
            ChainName::Icmpv6 => {}
        }
        for rule in rules {
            let _ = writeln!(out, "\t\t{}", rule_text(rule));
        }
        out.push_str("\t}\n");
    }
    out.push_str("}\n");
    out
}

fn render_set(out: &mut String, set: &SetPlan) {
    let _ = writeln!(out, "\tset {} {{", set.name.as_str());
    let _ = writeln!(out, "\t\ttype {}", set.name.key().nft_type());
    if set.name.has_timeouts() {
        out.push_str("\t\tflags timeout\n");
    }
    // Expiring elements are written without their timeout: it is relative to the moment the
    // batch is sent, which this sans-IO text cannot know (the kernel tests check timeouts).
    if !set.elements.is_empty() || !set.expiring.is_empty() {
        let elements: Vec<String> = set
            .elements
            .iter()
            .chain(set.expiring.iter().map(|(e, _)| e))
            .map(element_text)
            .collect();
        let _ = writeln!(
            out,
            "\t\telements = {{ {} }}",
            elements.join(",\n\t\t\t     ")
        );
    }
    out.push_str("\t}\n\n");
}

/// An element as nft writes it, e.g. `"lan0" . tcp . 80`.
pub(crate) fn element_text(element: &Element) -> String {
    match element {
        Element::Connection(name) => format!("\"{name}\""),
        Element::ConnectionPair(name, key) => {
            format!("\"{name}\" . {} . {}", key.protocol, key.port)
        }
        Element::Pair(key) => format!("{} . {}", key.protocol, key.port),
    }
}

/// One rule as nft writes it.
pub(crate) fn rule_text(rule: &Rule) -> String {
    const OPEN_KEY: &str = "iifname . meta l4proto . th dport";
    const GLOBAL_KEY: &str = "meta l4proto . th dport";
    const COUNTER: &str = "counter packets 0 bytes 0";
    const IGMP: &str = "meta l4proto igmp ip daddr 224.0.0.0/4 ip ttl 1 accept";
    let icmp = Icmpv6Type::nft_name;
    match rule {
        Rule::AcceptLoopback => "iif \"lo\" accept".to_owned(),
        Rule::AcceptIpv4 => "meta nfproto ipv4 accept".to_owned(),
        Rule::AcceptIgmp => IGMP.to_owned(),
        Rule::DropSourceRoute(option) => format!("ip option {} exists drop", option.nft_name()),
        Rule::AcceptIcmpEchoRequest { per_second } => {
            format!("icmp type echo-request limit rate {per_second}/second accept")
        }
        Rule::AcceptLoopbackOut => "oif \"lo\" accept".to_owned(),
        Rule::AcceptUnfirewalledOut => {
            format!("oifname @{} accept", SetName::Unfirewalled.as_str())
        }
        Rule::AcceptEstablished => "ct state established,related accept".to_owned(),
        Rule::JumpIcmpv6 => format!("meta l4proto ipv6-icmp jump {ICMPV6_CHAIN}"),
        Rule::AcceptNeighbourDiscovery(t) => {
            format!("icmpv6 type {} ip6 hoplimit 255 accept", icmp(*t))
        }
        Rule::AcceptMulticastListener(t) => {
            format!("ip6 saddr fe80::/10 icmpv6 type {} accept", icmp(*t))
        }
        Rule::AcceptIcmpv6Error(t) => format!("icmpv6 type {} accept", icmp(*t)),
        Rule::AcceptUnfirewalled => format!("iifname @{} accept", SetName::Unfirewalled.as_str()),
        Rule::DropInvalid => "ct state invalid drop".to_owned(),
        Rule::DropRoutingHeader0 => "rt type 0 drop".to_owned(),
        Rule::AcceptEchoRequest { per_second } => {
            format!("icmpv6 type echo-request limit rate {per_second}/second accept")
        }
        Rule::Log {
            kind,
            group,
            per_second,
            snaplen,
        } => {
            let matcher = match kind {
                LogKind::DropInvalid => "ct state invalid ".to_owned(),
                LogKind::DropRoutingHeader0 => "rt type 0 ".to_owned(),
                LogKind::DropLsrr => "ip option lsrr exists ".to_owned(),
                LogKind::DropSsrr => "ip option ssrr exists ".to_owned(),
                LogKind::OpenPair => format!("{OPEN_KEY} @{} ", SetName::Open.as_str()),
                LogKind::DropIgnored => format!("{OPEN_KEY} @{} ", SetName::Ignored.as_str()),
                LogKind::OpenGlobal => format!("{GLOBAL_KEY} @{} ", SetName::GlobalOpen.as_str()),
                LogKind::DropNotOpen => String::new(),
                LogKind::OpenOut => "ct state new ".to_owned(),
            };
            let label = kind
                .label()
                .map_or_else(String::new, |bit| format!("ct label set {bit} "));
            // The counters as a fresh table lists them (`nft -f` accepts the same text).
            format!(
                "{matcher}{COUNTER} {label}limit rate {per_second}/second {COUNTER} log prefix \
                 \"{}\" group {group} snaplen {snaplen}",
                kind.prefix()
            )
        }
        Rule::AcceptOpen => format!("{OPEN_KEY} @{} accept", SetName::Open.as_str()),
        Rule::DropIgnored => format!("{OPEN_KEY} @{} drop", SetName::Ignored.as_str()),
        Rule::AcceptGlobalOpen => format!("{GLOBAL_KEY} @{} accept", SetName::GlobalOpen.as_str()),
        Rule::Drop => "drop".to_owned(),
    }
}

/// Elements print as nft writes them, so kernel errors can name the element that failed.
impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&element_text(self))
    }
}

/// Rules print as nft writes them, so kernel errors can name the rule that failed.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&rule_text(self))
    }
}
