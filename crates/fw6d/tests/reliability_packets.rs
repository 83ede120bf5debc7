//! Hostile packets (issue 8 §5), crafted in Rust (`fw6_testkit::hostile`) and sent from the
//! peer on `lan0` to the real fw6d's ruleset: extension-header chains, atomic, overlapping and
//! tiny fragments, a type 0 routing header, SYNs from source ports 53/80/123, stray ACK/FIN/RST,
//! UDP. Every shape goes to a closed port (a listener is there, but the port is not open) and
//! must reach nothing; and to an open port, where it must get what the kernel itself answers
//! on an unfirewalled connection (`wan0`, DisableFirewall) — except the shapes the ruleset drops
//! by design, each named below. Needs root.

mod common;
mod reliability;

use std::fmt::Write as _;
use std::net::Ipv6Addr;
use std::time::Duration;

use common::Lab;
use fw6_testkit::hostile::{
    self, DEST_OPTS, HOP_BY_HOP, UDP, atomic_fragment, flags, many_options, options_header,
    overlapping_fragments, tcp_segment, udp_datagram,
};
use fw6_testkit::packet::{self, TCP, ipv6, routing_type0, tcp_syn};
use fw6_testkit::{SynReply, send_raw, send_syn_and_wait};
use reliability::figure;

const CLOSED: u16 = 9000;
const OPEN: u16 = 9001;
const WAIT: Duration = Duration::from_millis(300);

type Build = fn(Ipv6Addr, Ipv6Addr, u16, u16, u32) -> Vec<Vec<u8>>;

/// What the ruleset does differently from an unfirewalled connection for a shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    /// The same as the kernel without a firewall.
    AsKernel,
    /// Dropped by rule 6 (`rt type 0 drop`).
    DroppedRh0,
    /// Dropped by rule 5 (`ct state invalid drop`): conntrack's TCP state table calls this
    /// packet invalid as the first of a flow (the unfirewalled connection accepts it before that
    /// rule, and the host's TCP answers it).
    DroppedInvalid,
}

fn syn(s: Ipv6Addr, d: Ipv6Addr, sp: u16, dp: u16) -> Vec<u8> {
    tcp_syn(s, d, sp, dp, 1, b"")
}

/// The TCP shapes: name, builder, open-port expectation, fixed source port.
#[expect(clippy::too_many_lines, reason = "a table of shapes, one entry each")]
fn tcp_shapes() -> Vec<(&'static str, Build, Open, Option<u16>)> {
    vec![
        (
            "plain SYN (control)",
            |s, d, sp, dp, _| vec![ipv6(s, d, TCP, &syn(s, d, sp, dp))],
            Open::AsKernel,
            None,
        ),
        (
            "SYN behind hop-by-hop options",
            |s, d, sp, dp, _| {
                vec![ipv6(
                    s,
                    d,
                    HOP_BY_HOP,
                    &options_header(TCP, &syn(s, d, sp, dp)),
                )]
            },
            Open::AsKernel,
            None,
        ),
        (
            "SYN behind destination options",
            |s, d, sp, dp, _| {
                vec![ipv6(
                    s,
                    d,
                    DEST_OPTS,
                    &options_header(TCP, &syn(s, d, sp, dp)),
                )]
            },
            Open::AsKernel,
            None,
        ),
        (
            "SYN behind hop-by-hop + 8 destination options",
            |s, d, sp, dp, _| {
                let (first, chain) = many_options(8, TCP, &syn(s, d, sp, dp));
                vec![ipv6(s, d, HOP_BY_HOP, &options_header(first, &chain))]
            },
            Open::AsKernel,
            None,
        ),
        (
            "SYN as an atomic fragment",
            |s, d, sp, dp, id| vec![atomic_fragment(s, d, TCP, &syn(s, d, sp, dp), id)],
            Open::AsKernel,
            None,
        ),
        (
            "SYN in two fragments (whole TCP header in the first)",
            |s, d, sp, dp, id| {
                packet::two_fragments(s, d, TCP, &tcp_syn(s, d, sp, dp, 1, b"fragment"), 24, id)
                    .to_vec()
            },
            Open::AsKernel,
            None,
        ),
        (
            "tiny first fragment (8 bytes: ports only, RFC 7112)",
            |s, d, sp, dp, id| packet::two_fragments(s, d, TCP, &syn(s, d, sp, dp), 8, id).to_vec(),
            Open::AsKernel,
            None,
        ),
        (
            "overlapping fragments rewriting the port (RFC 5722)",
            |s, d, sp, dp, id| {
                // The first fragment says the other port; the overlap rewrites it to `dp`.
                let other = if dp == OPEN { CLOSED } else { OPEN };
                let decoy = syn(s, d, sp, other);
                let real = syn(s, d, sp, dp);
                overlapping_fragments(s, d, TCP, &decoy, &real[8..], id).to_vec()
            },
            Open::AsKernel,
            None,
        ),
        (
            "SYN with a type 0 routing header",
            |s, d, sp, dp, _| {
                vec![ipv6(
                    s,
                    d,
                    packet::ROUTING,
                    &routing_type0(TCP, d, &syn(s, d, sp, dp)),
                )]
            },
            Open::DroppedRh0,
            None,
        ),
        (
            "SYN from source port 53",
            |s, d, sp, dp, _| vec![ipv6(s, d, TCP, &syn(s, d, sp, dp))],
            Open::AsKernel,
            Some(53),
        ),
        (
            "SYN from source port 80",
            |s, d, sp, dp, _| vec![ipv6(s, d, TCP, &syn(s, d, sp, dp))],
            Open::AsKernel,
            Some(80),
        ),
        (
            "SYN from source port 123",
            |s, d, sp, dp, _| vec![ipv6(s, d, TCP, &syn(s, d, sp, dp))],
            Open::AsKernel,
            Some(123),
        ),
        (
            "stray ACK",
            |s, d, sp, dp, _| vec![ipv6(s, d, TCP, &tcp_segment(s, d, sp, dp, flags::ACK, b""))],
            Open::AsKernel,
            None,
        ),
        (
            "stray FIN",
            |s, d, sp, dp, _| vec![ipv6(s, d, TCP, &tcp_segment(s, d, sp, dp, flags::FIN, b""))],
            Open::AsKernel,
            None,
        ),
        (
            "stray FIN+ACK",
            |s, d, sp, dp, _| {
                vec![ipv6(
                    s,
                    d,
                    TCP,
                    &tcp_segment(s, d, sp, dp, flags::FIN | flags::ACK, b""),
                )]
            },
            Open::DroppedInvalid,
            None,
        ),
        (
            "stray RST",
            |s, d, sp, dp, _| vec![ipv6(s, d, TCP, &tcp_segment(s, d, sp, dp, flags::RST, b""))],
            Open::AsKernel,
            None,
        ),
        (
            "stray ACK with data",
            |s, d, sp, dp, _| {
                vec![ipv6(
                    s,
                    d,
                    TCP,
                    &tcp_segment(s, d, sp, dp, flags::ACK, b"GET / HTTP/1.0\r\n\r\n"),
                )]
            },
            Open::AsKernel,
            None,
        ),
    ]
}

/// The UDP shapes: name, builder, open-port expectation.
fn udp_shapes() -> Vec<(&'static str, Build, Open, Option<u16>)> {
    fn dgram(s: Ipv6Addr, d: Ipv6Addr, sp: u16, dp: u16) -> Vec<u8> {
        udp_datagram(s, d, sp, dp, b"hostile")
    }
    vec![
        (
            "UDP (control)",
            |s, d, sp, dp, _| vec![ipv6(s, d, UDP, &dgram(s, d, sp, dp))],
            Open::AsKernel,
            None,
        ),
        (
            "UDP from source port 53",
            |s, d, sp, dp, _| vec![ipv6(s, d, UDP, &dgram(s, d, sp, dp))],
            Open::AsKernel,
            Some(53),
        ),
        (
            "UDP from source port 123",
            |s, d, sp, dp, _| vec![ipv6(s, d, UDP, &dgram(s, d, sp, dp))],
            Open::AsKernel,
            Some(123),
        ),
        (
            "UDP behind hop-by-hop + destination options",
            |s, d, sp, dp, _| {
                vec![ipv6(
                    s,
                    d,
                    HOP_BY_HOP,
                    &options_header(DEST_OPTS, &options_header(UDP, &dgram(s, d, sp, dp))),
                )]
            },
            Open::AsKernel,
            None,
        ),
        (
            "UDP as an atomic fragment",
            |s, d, sp, dp, id| vec![atomic_fragment(s, d, UDP, &dgram(s, d, sp, dp), id)],
            Open::AsKernel,
            None,
        ),
        (
            "UDP tiny first fragment (8 bytes)",
            |s, d, sp, dp, id| {
                packet::two_fragments(
                    s,
                    d,
                    UDP,
                    &udp_datagram(s, d, sp, dp, b"hostile payload!"),
                    8,
                    id,
                )
                .to_vec()
            },
            Open::AsKernel,
            None,
        ),
        (
            "UDP overlapping fragments rewriting the port",
            |s, d, sp, dp, id| {
                let other = if dp == OPEN { CLOSED } else { OPEN };
                let decoy = udp_datagram(s, d, sp, other, b"hostile payload!");
                let real = udp_datagram(s, d, sp, dp, b"hostile payload!");
                overlapping_fragments(s, d, UDP, &decoy, &real[8..], id).to_vec()
            },
            Open::AsKernel,
            None,
        ),
        (
            "UDP with a type 0 routing header",
            |s, d, sp, dp, _| {
                vec![ipv6(
                    s,
                    d,
                    packet::ROUTING,
                    &routing_type0(UDP, d, &dgram(s, d, sp, dp)),
                )]
            },
            Open::DroppedRh0,
            None,
        ),
    ]
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one table of shapes against three targets"
)]
fn hostile_packets_never_reach_a_closed_port() {
    fw6_testkit::require_root("reliability_packets");
    let lab = Lab::start();
    lab.connection("lan0", "OpenPort", &["qus", &OPEN.to_string(), "6", "open"])
        .unwrap();
    lab.connection(
        "lan0",
        "OpenPort",
        &["qus", &OPEN.to_string(), "17", "open"],
    )
    .unwrap();
    lab.connection("wan0", "DisableFirewall", &[]).unwrap();
    let closed = lab.topology.host().counter(CLOSED);
    let open = lab.topology.host().counter(OPEN);
    let (lan, wan) = (lab.topology.lan(), lab.topology.wan());
    let (mut tried, mut blocked, mut id) = (0u32, 0u32, 0x0f60_0000_u32);
    let mut sport = 42_000u16;
    let mut table = String::new();

    for (name, build, expect, fixed) in tcp_shapes() {
        let mut reply = |conn: &fw6_testkit::Connection, port: u16| {
            sport += 1;
            id += 1;
            let from = fixed.unwrap_or(sport);
            let packets = build(conn.peer_addr(), conn.host_addr(), from, port, id);
            send_syn_and_wait(conn.peer(), &packets, conn.host_sock(port), from, WAIT)
        };
        let to_closed = reply(lan, CLOSED);
        let to_open = reply(lan, OPEN);
        let kernel = reply(wan, OPEN);
        tried += 2;
        assert_eq!(
            to_closed,
            SynReply::Nothing,
            "{name} to a closed port: {to_closed:?}"
        );
        blocked += 1;
        let want = match expect {
            Open::AsKernel => kernel,
            Open::DroppedRh0 | Open::DroppedInvalid => SynReply::Nothing,
        };
        assert_eq!(
            to_open, want,
            "{name} to an open port: {to_open:?}; unfirewalled kernel: {kernel:?}"
        );
        if to_open == SynReply::Nothing {
            blocked += 1;
        }
        let _ = writeln!(
            table,
            "| {name} | {to_closed:?} | {to_open:?} | {kernel:?} |"
        );
    }
    assert_eq!(closed.accepted(), 0, "a connection reached the closed port");

    for (name, build, expect, fixed) in udp_shapes() {
        let mut deliver =
            |conn: &fw6_testkit::Connection, port: u16, counter: &hostile::Counter| {
                sport += 1;
                id += 1;
                let before = counter.datagrams();
                let from = fixed.unwrap_or(sport);
                send_raw(
                    conn.peer(),
                    conn.host_addr(),
                    &build(conn.peer_addr(), conn.host_addr(), from, port, id),
                );
                std::thread::sleep(WAIT);
                counter.datagrams() - before
            };
        let to_closed = deliver(lan, CLOSED, &closed);
        let to_open = deliver(lan, OPEN, &open);
        let kernel = deliver(wan, OPEN, &open);
        tried += 2;
        assert_eq!(to_closed, 0, "{name} reached the closed port");
        blocked += 1;
        let want = match expect {
            Open::AsKernel => kernel,
            Open::DroppedRh0 | Open::DroppedInvalid => 0,
        };
        assert_eq!(
            to_open, want,
            "{name} to an open port: {to_open} datagram(s); unfirewalled kernel: {kernel}"
        );
        if to_open == 0 {
            blocked += 1;
        }
        let _ = writeln!(
            table,
            "| {name} | {to_closed} datagrams | {to_open} datagrams | {kernel} datagrams |"
        );
    }
    assert_eq!(closed.datagrams(), 0);
    assert_eq!(closed.accepted(), 0);
    println!(
        "| shape | closed port | open port | unfirewalled kernel |\n|---|---|---|---|\n{table}"
    );
    figure("packets.shapes", tcp_shapes().len() + udp_shapes().len());
    figure("packets.sent_to_closed_or_open", tried);
    figure("packets.blocked", blocked);
    figure(
        "packets.reached_closed_port",
        closed.accepted() + closed.datagrams(),
    );
}
