//! Each [`Rule`] of the plan as the expressions nft generates for its text (the comment on each
//! arm is that text), register for register.

use fw6_model::plan::{ICMPV6_CHAIN, Icmpv6Type, Ipv4Option, LogKind, Rule, SetName};
use netlink_packet_netfilter::nftables::{MetaKey, Operator, Register};

use super::expr::{
    self, ACCEPT, Base, DROP, Expr, cmp, counter, ct_set_labels, ct_state, exthdr_ipv4_present,
    exthdr_ipv6, immediate, jump, limit_per_second, log_group, mask, meta, payload, verdict,
};
use super::sets::set_id;

/// The loopback interface's index. The kernel creates `lo` first in every network namespace,
/// so it is always 1; nft resolves `iif "lo"` to this number when it loads the rule.
const LOOPBACK_IFINDEX: u32 = 1;
/// IPv6 next header / `meta l4proto` of ICMPv6.
const IPPROTO_ICMPV6: u8 = 58;
/// `meta l4proto` of ICMP.
const IPPROTO_ICMP: u8 = 1;
/// `meta l4proto` of IGMP.
const IPPROTO_IGMP: u8 = 2;
/// `meta nfproto` of IPv4 and IPv6 packets (`NFPROTO_IPV4`, `NFPROTO_IPV6`). In an `inet`
/// table nft guards every match on a family's own header with it, and so do we: the kernel
/// would otherwise read an IPv4 header as IPv6 or the other way round.
const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;
/// ICMP echo request.
const ICMP_ECHO_REQUEST: u8 = 8;
/// Routing header (`rt`), IPv6 extension header type 43.
const IPPROTO_ROUTING: u8 = 43;
/// `ct state` bits (`NF_CT_STATE_BIT`): invalid, established, related.
const CT_INVALID: u32 = 1;
const CT_NEW: u32 = 8;
const CT_ESTABLISHED_RELATED: u32 = 2 | 4;

/// The expressions of `rule`.
pub(crate) fn expressions(rule: &Rule) -> Vec<Expr> {
    let mut e = Vec::with_capacity(8);
    match rule {
        // iif "lo" accept
        Rule::AcceptLoopback => {
            e.push(meta(MetaKey::Iif, Register::Reg1));
            e.push(cmp_eq(&LOOPBACK_IFINDEX.to_ne_bytes()));
            e.push(verdict(ACCEPT));
        }
        Rule::AcceptIpv4
        | Rule::AcceptIgmp
        | Rule::DropSourceRoute(_)
        | Rule::AcceptIcmpEchoRequest { .. } => ipv4_rule(&mut e, rule),
        // oif "lo" accept
        Rule::AcceptLoopbackOut => {
            e.push(meta(MetaKey::Oif, Register::Reg1));
            e.push(cmp_eq(&LOOPBACK_IFINDEX.to_ne_bytes()));
            e.push(verdict(ACCEPT));
        }
        // oifname @unfirewalled accept
        Rule::AcceptUnfirewalledOut => {
            e.push(meta(MetaKey::Oifname, Register::Reg1));
            e.push(set_lookup(SetName::Unfirewalled));
            e.push(verdict(ACCEPT));
        }
        // ct state established,related accept
        Rule::AcceptEstablished => ct_state_match(&mut e, CT_ESTABLISHED_RELATED, ACCEPT),
        // meta l4proto ipv6-icmp jump input_icmpv6
        Rule::JumpIcmpv6 => {
            e.push(meta(MetaKey::L4Proto, Register::Reg1));
            e.push(cmp_eq(&[IPPROTO_ICMPV6]));
            e.push(jump(ICMPV6_CHAIN));
        }
        // icmpv6 type T ip6 hoplimit 255 accept
        Rule::AcceptNeighbourDiscovery(t) => {
            nfproto(&mut e, NFPROTO_IPV6);
            icmpv6_type(&mut e, *t);
            e.push(payload(Base::Network, 7, 1, Register::Reg1));
            e.push(cmp_eq(&[255]));
            e.push(verdict(ACCEPT));
        }
        // ip6 saddr fe80::/10 icmpv6 type T accept
        Rule::AcceptMulticastListener(t) => {
            let mut prefix_mask = [0; 16];
            prefix_mask[..2].copy_from_slice(&[0xff, 0xc0]);
            let mut link_local = [0; 16];
            link_local[..2].copy_from_slice(&[0xfe, 0x80]);
            nfproto(&mut e, NFPROTO_IPV6);
            e.push(payload(Base::Network, 8, 16, Register::Reg1));
            e.push(mask(Register::Reg1, &prefix_mask));
            e.push(cmp_eq(&link_local));
            icmpv6_type(&mut e, *t);
            e.push(verdict(ACCEPT));
        }
        // icmpv6 type T accept
        Rule::AcceptIcmpv6Error(t) => {
            nfproto(&mut e, NFPROTO_IPV6);
            icmpv6_type(&mut e, *t);
            e.push(verdict(ACCEPT));
        }
        // iifname @unfirewalled accept
        Rule::AcceptUnfirewalled => {
            e.push(meta(MetaKey::Iifname, Register::Reg1));
            e.push(set_lookup(SetName::Unfirewalled));
            e.push(verdict(ACCEPT));
        }
        // ct state invalid drop
        Rule::DropInvalid => ct_state_match(&mut e, CT_INVALID, DROP),
        // rt type 0 drop
        Rule::DropRoutingHeader0 => {
            routing_header_0(&mut e);
            e.push(verdict(DROP));
        }
        // icmpv6 type echo-request limit rate N/second accept
        Rule::AcceptEchoRequest { per_second } => {
            nfproto(&mut e, NFPROTO_IPV6);
            icmpv6_type(&mut e, Icmpv6Type::EchoRequest);
            e.push(limit_per_second(*per_second));
            e.push(verdict(ACCEPT));
        }
        // MATCH counter limit rate N/second counter log prefix "P" group G snaplen S
        Rule::Log {
            kind,
            group,
            per_second,
            snaplen,
        } => log_rule(&mut e, *kind, *group, *per_second, *snaplen),
        // iifname . meta l4proto . th dport @open accept
        Rule::AcceptOpen => {
            set_match(&mut e, SetName::Open);
            e.push(verdict(ACCEPT));
        }
        // iifname . meta l4proto . th dport @ignored drop
        Rule::DropIgnored => {
            set_match(&mut e, SetName::Ignored);
            e.push(verdict(DROP));
        }
        // meta l4proto . th dport @global_open accept
        Rule::AcceptGlobalOpen => {
            set_match(&mut e, SetName::GlobalOpen);
            e.push(verdict(ACCEPT));
        }
        // drop
        Rule::Drop => e.push(verdict(DROP)),
    }
    e
}

/// `MATCH counter [ct label set BIT] limit rate N/second counter log prefix "P" group G
/// snaplen S`.
fn log_rule(e: &mut Vec<Expr>, kind: LogKind, group: u16, per_second: u32, snaplen: u32) {
    match kind {
        LogKind::DropInvalid => ct_state_test(e, CT_INVALID),
        LogKind::DropRoutingHeader0 => routing_header_0(e),
        LogKind::DropLsrr => source_route(e, Ipv4Option::Lsrr),
        LogKind::DropSsrr => source_route(e, Ipv4Option::Ssrr),
        LogKind::OpenPair => set_match(e, SetName::Open),
        LogKind::DropIgnored => set_match(e, SetName::Ignored),
        LogKind::OpenGlobal => set_match(e, SetName::GlobalOpen),
        LogKind::DropNotOpen => {}
        LogKind::OpenOut => ct_state_test(e, CT_NEW),
    }
    e.push(counter());
    // ct label set BIT: the bit in the labels' 128-bit little-endian word array.
    if let Some(bit) = kind.label() {
        let mut labels = [0; 16];
        labels[usize::from(bit / 8)] = 1 << (bit % 8);
        e.push(immediate(Register::Reg1, &labels));
        e.push(ct_set_labels(Register::Reg1));
    }
    e.push(limit_per_second(per_second));
    e.push(counter());
    e.push(log_group(kind.prefix(), group, snaplen));
}

/// The IPv4-only rules (and the early accept of unfiltered IPv4).
fn ipv4_rule(e: &mut Vec<Expr>, rule: &Rule) {
    match rule {
        // meta nfproto ipv4 accept
        Rule::AcceptIpv4 => {
            nfproto(e, NFPROTO_IPV4);
            e.push(verdict(ACCEPT));
        }
        // meta l4proto igmp ip daddr 224.0.0.0/4 ip ttl 1 accept
        Rule::AcceptIgmp => {
            e.push(meta(MetaKey::L4Proto, Register::Reg1));
            e.push(cmp_eq(&[IPPROTO_IGMP]));
            nfproto(e, NFPROTO_IPV4);
            e.push(payload(Base::Network, 16, 4, Register::Reg1));
            e.push(mask(Register::Reg1, &[0xf0, 0, 0, 0]));
            e.push(cmp_eq(&[0xe0, 0, 0, 0]));
            e.push(payload(Base::Network, 8, 1, Register::Reg1));
            e.push(cmp_eq(&[1]));
            e.push(verdict(ACCEPT));
        }
        // ip option lsrr|ssrr exists drop
        Rule::DropSourceRoute(option) => {
            source_route(e, *option);
            e.push(verdict(DROP));
        }
        // icmp type echo-request limit rate N/second accept
        Rule::AcceptIcmpEchoRequest { per_second } => {
            nfproto(e, NFPROTO_IPV4);
            e.push(meta(MetaKey::L4Proto, Register::Reg1));
            e.push(cmp_eq(&[IPPROTO_ICMP]));
            e.push(payload(Base::Transport, 0, 1, Register::Reg1));
            e.push(cmp_eq(&[ICMP_ECHO_REQUEST]));
            e.push(limit_per_second(*per_second));
            e.push(verdict(ACCEPT));
        }
        _ => unreachable!("not an IPv4 rule: {rule}"),
    }
}

fn cmp_eq(data: &[u8]) -> Expr {
    cmp(Operator::Equal, Register::Reg1, data)
}

/// `ct state BITS VERDICT`.
fn ct_state_match(e: &mut Vec<Expr>, bits: u32, code: u32) {
    ct_state_test(e, bits);
    e.push(verdict(code));
}

/// `ct state BITS`: load, mask, compare with zero.
fn ct_state_test(e: &mut Vec<Expr>, bits: u32) {
    e.push(ct_state(Register::Reg1));
    e.push(mask(Register::Reg1, &bits.to_ne_bytes()));
    e.push(cmp(Operator::NotEqual, Register::Reg1, &[0; 4]));
}

/// `meta nfproto FAMILY`.
fn nfproto(e: &mut Vec<Expr>, family: u8) {
    e.push(meta(MetaKey::Nfproto, Register::Reg1));
    e.push(cmp_eq(&[family]));
}

/// `ip option OPTION exists`: IPv4 only; the kernel walks the options for the type.
fn source_route(e: &mut Vec<Expr>, option: Ipv4Option) {
    nfproto(e, NFPROTO_IPV4);
    e.push(exthdr_ipv4_present(option.number(), Register::Reg1));
    e.push(cmp_eq(&[1]));
}

/// `rt type 0`: the routing type is byte 2 of the routing header (IPv6 only).
fn routing_header_0(e: &mut Vec<Expr>) {
    nfproto(e, NFPROTO_IPV6);
    e.push(exthdr_ipv6(IPPROTO_ROUTING, 2, 1, Register::Reg1));
    e.push(cmp_eq(&[0]));
}

/// `icmpv6 type T`: nft guards the transport-header load with `meta l4proto icmpv6` (and, in
/// an `inet` table, the rule with `meta nfproto ipv6`, which the callers add where nft does).
fn icmpv6_type(e: &mut Vec<Expr>, t: Icmpv6Type) {
    e.push(meta(MetaKey::L4Proto, Register::Reg1));
    e.push(cmp_eq(&[IPPROTO_ICMPV6]));
    e.push(payload(Base::Transport, 0, 1, Register::Reg1));
    e.push(cmp_eq(&[t.number()]));
}

/// The set's key built in consecutive registers, then the lookup. Each concatenated field takes
/// whole 32-bit registers: `iifname` 16 bytes from reg 1 (= reg32 00–03), `l4proto` in reg 2
/// (= reg32 04), `th dport` in reg32 05; without the name, l4proto in reg 1 and dport in reg32 01.
fn set_match(e: &mut Vec<Expr>, set: SetName) {
    let dport = |dreg| payload(Base::Transport, 2, 2, dreg);
    match set {
        SetName::Unfirewalled => e.push(meta(MetaKey::Iifname, Register::Reg1)),
        SetName::Open | SetName::Ignored => {
            e.push(meta(MetaKey::Iifname, Register::Reg1));
            e.push(meta(MetaKey::L4Proto, Register::Reg2));
            e.push(dport(Register::Reg32_05));
        }
        SetName::GlobalOpen => {
            e.push(meta(MetaKey::L4Proto, Register::Reg1));
            e.push(dport(Register::Reg32_01));
        }
    }
    e.push(set_lookup(set));
}

fn set_lookup(set: SetName) -> Expr {
    expr::lookup(set.as_str(), set_id(set), Register::Reg1)
}

#[cfg(test)]
mod tests {
    use fw6_model::State;
    use fw6_model::plan::{self, Options};

    use super::*;
    use crate::nft::expr::lookup;

    #[test]
    fn every_rule_ends_in_a_verdict_or_log() {
        let plan = plan::full(&State::default(), &Options::default());
        for rule in plan
            .rules
            .iter()
            .chain(&plan.icmpv6_rules)
            .chain(&plan.output_rules)
        {
            let e = expressions(rule);
            assert!(!e.is_empty(), "{rule}");
        }
        assert_eq!(expressions(&Rule::Drop), vec![verdict(DROP)]);
    }

    #[test]
    fn lookup_uses_the_same_register_as_the_key() {
        let e = expressions(&Rule::AcceptGlobalOpen);
        assert_eq!(
            e[2],
            lookup("global_open", set_id(SetName::GlobalOpen), Register::Reg1)
        );
    }
}
