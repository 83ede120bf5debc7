//! Hostile packets (issue 8 §5), crafted in Rust (`fw6_testkit::hostile`) and sent from the
//! peer on `lan0` to the real fw6d's ruleset: extension-header chains, atomic, overlapping and
//! tiny fragments, a type 0 routing header, SYNs from source ports 53/80/123, stray ACK/FIN/RST,
//! UDP; and their IPv4 counterparts (tiny, overlapping and plain fragments, source routes, bad
//! header lengths, TCP flag mixes). Every shape goes to a closed port (a listener is there, but the port is not open) and
//! must reach nothing; and to an open port, where it must get what the kernel itself answers
//! on an unfirewalled connection (`wan0`, DisableFirewall) — except the shapes the ruleset drops
//! by design, each named below. Needs root.

mod common;
mod reliability;

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use common::Lab;
use fw6_testkit::hostile::{
    self, DEST_OPTS, HOP_BY_HOP, UDP, atomic_fragment, flags, many_options, options_header,
    overlapping_fragments, tcp_segment, udp_datagram,
};
use fw6_testkit::packet::{self, TCP, ipv6, routing_type0, tcp_syn};
use fw6_testkit::packet4::{self, LSRR, SSRR, ipv4, with_ihl};
use fw6_testkit::{Connection, Family, SynReply, send_raw, send_syn_and_wait};
use reliability::figure;

const CLOSED: u16 = 9000;
const OPEN: u16 = 9001;
const WAIT: Duration = Duration::from_millis(300);

type Build = fn(Ipv6Addr, Ipv6Addr, u16, u16, u32) -> Vec<Vec<u8>>;
/// The IPv4 counterpart of [`Build`] (an IPv4 fragment id has 16 bits).
type Build4 = fn(Ipv4Addr, Ipv4Addr, u16, u16, u16) -> Vec<Vec<u8>>;

/// A shape's packets in its own family.
#[derive(Clone, Copy)]
enum Builder {
    V6(Build),
    V4(Build4),
}

/// Name, builder, open-port expectation, fixed source port.
type Shape = (&'static str, Builder, Open, Option<u16>);

impl Builder {
    /// The packets from `conn`'s peer to `port` on the host, and the host's address in the
    /// shape's family.
    fn packets(self, conn: &Connection, from: u16, port: u16, id: u32) -> (Vec<Vec<u8>>, IpAddr) {
        match self {
            Self::V6(build) => (
                build(conn.peer_addr(), conn.host_addr(), from, port, id),
                conn.host_addr().into(),
            ),
            Self::V4(build) => {
                let (IpAddr::V4(s), IpAddr::V4(d)) =
                    (conn.peer_ip(Family::V4), conn.host_ip(Family::V4))
                else {
                    unreachable!("IPv4 addresses")
                };
                let id = u16::try_from(id & 0xffff).expect("masked to 16 bits");
                (build(s, d, from, port, id), d.into())
            }
        }
    }
}

/// Every shape of both families.
fn shapes(
    v6: Vec<(&'static str, Build, Open, Option<u16>)>,
    v4: Vec<(&'static str, Build4, Open, Option<u16>)>,
) -> Vec<Shape> {
    v6.into_iter()
        .map(|(n, b, o, f)| (n, Builder::V6(b), o, f))
        .chain(v4.into_iter().map(|(n, b, o, f)| (n, Builder::V4(b), o, f)))
        .collect()
}

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

fn syn4(s: Ipv4Addr, d: Ipv4Addr, sp: u16, dp: u16) -> Vec<u8> {
    packet4::syn(s, d, sp, dp)
}

/// A plain IPv4 TCP segment with `flags`.
fn seg4(s: Ipv4Addr, d: Ipv4Addr, sp: u16, dp: u16, f: u8) -> Vec<Vec<u8>> {
    vec![ipv4(
        s,
        d,
        TCP,
        &[],
        None,
        &packet4::tcp(s, d, sp, dp, f, b""),
    )]
}

/// The IPv4 TCP shapes. Source routes and garbage options are dropped by Linux itself before
/// the input hook (`accept_source_route` is 0 on a host; unparsable options fail
/// `ip_options_compile`), so the unfirewalled kernel answers nothing either.
#[expect(clippy::too_many_lines, reason = "a table of shapes, one entry each")]
fn tcp_shapes4() -> Vec<(&'static str, Build4, Open, Option<u16>)> {
    vec![
        (
            "IPv4 plain SYN (control)",
            |s, d, sp, dp, _| vec![ipv4(s, d, TCP, &[], None, &syn4(s, d, sp, dp))],
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 SYN in two fragments (whole TCP header in the first)",
            |s, d, sp, dp, id| {
                let syn = packet4::tcp(s, d, sp, dp, flags::SYN, b"fragment");
                packet4::two_fragments(s, d, TCP, &syn, 24, id).to_vec()
            },
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 tiny first fragment (8 bytes: ports only, flags in the second, RFC 1858)",
            |s, d, sp, dp, id| {
                packet4::two_fragments(s, d, TCP, &syn4(s, d, sp, dp), 8, id).to_vec()
            },
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 SYN only in a non-first fragment (first piece a decoy ACK to no port)",
            |s, d, sp, dp, id| {
                // The first fragment's 8 bytes say port 0 and no SYN; the second overwrites
                // nothing and carries the rest of a SYN to `dp`: reassembled, a malformed
                // segment whose checksum fails, as the kernel sees it too.
                let decoy = packet4::tcp(s, d, sp, 0, flags::ACK, b"");
                let real = syn4(s, d, sp, dp);
                let at = |offset, more| Some(packet4::Fragment { id, offset, more });
                vec![
                    ipv4(s, d, TCP, &[], at(0, true), &decoy[..8]),
                    ipv4(s, d, TCP, &[], at(8, false), &real[8..]),
                ]
            },
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 overlapping fragments rewriting the segment",
            |s, d, sp, dp, id| {
                let other = if dp == OPEN { CLOSED } else { OPEN };
                let decoy = syn4(s, d, sp, other);
                let real = syn4(s, d, sp, dp);
                packet4::overlapping_fragments(s, d, TCP, &decoy, &real[8..], id).to_vec()
            },
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 SYN with LSRR (via the host)",
            |s, d, sp, dp, _| {
                let route = packet4::source_route(LSRR, d, 4);
                vec![ipv4(s, d, TCP, &route, None, &syn4(s, d, sp, dp))]
            },
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 SYN with SSRR used up (pointer past the list)",
            |s, d, sp, dp, _| {
                let route = packet4::source_route(SSRR, s, 8);
                vec![ipv4(s, d, TCP, &route, None, &syn4(s, d, sp, dp))]
            },
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 header length 6 reading the ports as NOP options",
            |s, d, _, dp, _| {
                // Source port 0x0101 = two NOPs; the header says 24 bytes, so the segment
                // starts at the destination port for everyone, firewall and stack alike.
                let packet = ipv4(s, d, TCP, &[], None, &syn4(s, d, 0x0101, dp));
                vec![with_ihl(packet, 6)]
            },
            Open::AsKernel,
            Some(0x0101),
        ),
        (
            "IPv4 header length 15 over garbage options",
            |s, d, sp, dp, _| {
                let mut syn = vec![0xee; 40];
                syn.extend_from_slice(&syn4(s, d, sp, dp));
                vec![with_ihl(ipv4(s, d, TCP, &[], None, &syn), 15)]
            },
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 SYN+FIN",
            |s, d, sp, dp, _| seg4(s, d, sp, dp, flags::SYN | flags::FIN),
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 SYN+RST",
            |s, d, sp, dp, _| seg4(s, d, sp, dp, flags::SYN | flags::RST),
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 SYN+ACK",
            |s, d, sp, dp, _| seg4(s, d, sp, dp, flags::SYN | flags::ACK),
            Open::DroppedInvalid,
            None,
        ),
        (
            "IPv4 no flags (null scan)",
            |s, d, sp, dp, _| seg4(s, d, sp, dp, 0),
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 FIN+PSH+URG (Xmas scan)",
            |s, d, sp, dp, _| seg4(s, d, sp, dp, flags::FIN | 0x08 | 0x20),
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 stray ACK",
            |s, d, sp, dp, _| seg4(s, d, sp, dp, flags::ACK),
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 stray FIN+ACK",
            |s, d, sp, dp, _| seg4(s, d, sp, dp, flags::FIN | flags::ACK),
            Open::DroppedInvalid,
            None,
        ),
        (
            "IPv4 SYN from source port 53",
            |s, d, sp, dp, _| vec![ipv4(s, d, TCP, &[], None, &syn4(s, d, sp, dp))],
            Open::AsKernel,
            Some(53),
        ),
    ]
}

/// The IPv4 UDP shapes.
fn udp_shapes4() -> Vec<(&'static str, Build4, Open, Option<u16>)> {
    fn dgram(s: Ipv4Addr, d: Ipv4Addr, sp: u16, dp: u16) -> Vec<u8> {
        packet4::udp(s, d, sp, dp, b"hostile payload!")
    }
    vec![
        (
            "IPv4 UDP (control)",
            |s, d, sp, dp, _| vec![ipv4(s, d, UDP, &[], None, &dgram(s, d, sp, dp))],
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 UDP tiny first fragment (8 bytes)",
            |s, d, sp, dp, id| {
                packet4::two_fragments(s, d, UDP, &dgram(s, d, sp, dp), 8, id).to_vec()
            },
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 UDP overlapping fragments rewriting the datagram",
            |s, d, sp, dp, id| {
                let other = if dp == OPEN { CLOSED } else { OPEN };
                let decoy = dgram(s, d, sp, other);
                let real = dgram(s, d, sp, dp);
                packet4::overlapping_fragments(s, d, UDP, &decoy, &real[8..], id).to_vec()
            },
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 UDP with LSRR (via the host)",
            |s, d, sp, dp, _| {
                let route = packet4::source_route(LSRR, d, 4);
                vec![ipv4(s, d, UDP, &route, None, &dgram(s, d, sp, dp))]
            },
            Open::AsKernel,
            None,
        ),
        (
            "IPv4 UDP from source port 53",
            |s, d, sp, dp, _| vec![ipv4(s, d, UDP, &[], None, &dgram(s, d, sp, dp))],
            Open::AsKernel,
            Some(53),
        ),
    ]
}

#[test]
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

    for (name, build, expect, fixed) in shapes(tcp_shapes(), tcp_shapes4()) {
        let mut reply = |conn: &Connection, port: u16| {
            sport += 1;
            id += 1;
            let from = fixed.unwrap_or(sport);
            let (packets, host) = build.packets(conn, from, port, id);
            send_syn_and_wait(conn.peer(), &packets, (host, port), from, WAIT)
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

    for (name, build, expect, fixed) in shapes(udp_shapes(), udp_shapes4()) {
        let mut deliver = |conn: &Connection, port: u16, counter: &hostile::Counter| {
            sport += 1;
            id += 1;
            let before = counter.datagrams();
            let from = fixed.unwrap_or(sport);
            let (packets, host) = build.packets(conn, from, port, id);
            send_raw(conn.peer(), host, &packets);
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
    figure(
        "packets.shapes",
        tcp_shapes().len() + udp_shapes().len() + tcp_shapes4().len() + udp_shapes4().len(),
    );
    figure("packets.sent_to_closed_or_open", tried);
    figure("packets.blocked", blocked);
    figure(
        "packets.reached_closed_port",
        closed.accepted() + closed.datagrams(),
    );
}
