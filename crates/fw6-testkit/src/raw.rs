//! Raw-socket senders for crafted packets, and a listener for the TCP answer to a crafted SYN.
//!
//! Crafted packets test what ordinary sockets cannot produce: routing headers, fragmented
//! SYNs, router advertisements, packet-too-big errors. They are sent from a peer namespace.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType, ipproto, sockopt};

use crate::NetNs;
use crate::packet::{self, ICMPV6};

/// What answered a crafted TCP SYN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynReply {
    /// SYN-ACK: the SYN reached a listening socket.
    SynAck,
    /// RST: the SYN reached the host's TCP, which has no socket for it.
    Rst,
    /// Nothing in time: the SYN was dropped.
    Nothing,
}

fn raw_socket(protocol: rustix::net::Protocol) -> OwnedFd {
    raw_socket_in(AddressFamily::INET6, protocol)
}

fn raw_socket_in(family: AddressFamily, protocol: rustix::net::Protocol) -> OwnedFd {
    rustix::net::socket(family, SocketType::RAW, Some(protocol))
        .unwrap_or_else(|e| panic!("fw6-testkit: cannot open a raw socket: {e}"))
}

/// The address family of `to`.
fn family_of(to: IpAddr) -> AddressFamily {
    match to {
        IpAddr::V6(_) => AddressFamily::INET6,
        IpAddr::V4(_) => AddressFamily::INET,
    }
}

fn send_all(socket: &OwnedFd, packets: &[Vec<u8>], to: IpAddr) {
    for p in packets {
        let sent = match to {
            IpAddr::V6(to) => rustix::net::sendto(
                socket,
                p,
                SendFlags::empty(),
                &SocketAddrV6::new(to, 0, 0, 0),
            ),
            IpAddr::V4(to) => {
                rustix::net::sendto(socket, p, SendFlags::empty(), &SocketAddrV4::new(to, 0))
            }
        };
        sent.unwrap_or_else(|e| panic!("fw6-testkit: cannot send a raw packet to {to}: {e}"));
    }
}

/// Sends whole IP packets (header included: IPv6, or IPv4 to an IPv4 address) from inside
/// `ns`, routed towards `to`.
pub fn send_raw(ns: &NetNs, to: impl Into<IpAddr>, packets: &[Vec<u8>]) {
    let to = to.into();
    ns.run_in(|| send_all(&raw_socket_in(family_of(to), ipproto::RAW), packets, to));
}

/// Sends `packets` (a crafted SYN from `sport`, whole or in fragments) from inside `ns` to
/// `to` and reports what the host's TCP answered within `timeout`. The answer is read on a raw
/// TCP socket opened before sending; the peer's own stack resets it afterwards, which is
/// harmless.
pub fn send_syn_and_wait(
    ns: &NetNs,
    packets: &[Vec<u8>],
    to: impl Into<SocketAddr>,
    sport: u16,
    timeout: Duration,
) -> SynReply {
    let to = to.into();
    let family = family_of(to.ip());
    ns.run_in(|| {
        let rx = raw_socket_in(family, ipproto::TCP);
        send_all(&raw_socket_in(family, ipproto::RAW), packets, to.ip());
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 1500];
        // Bounded by the deadline and a count; unrelated TCP is skipped.
        for _ in 0..1000 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            sockopt::set_socket_timeout(&rx, sockopt::Timeout::Recv, Some(left))
                .expect("set timeout");
            let Ok((n, _, from)) = rustix::net::recvfrom(&rx, &mut buf[..], RecvFlags::empty())
            else {
                break;
            };
            // IPv6 raw sockets deliver the payload without the IPv6 header, IPv4 ones with it.
            let (seg, from): (&[u8], Option<IpAddr>) = match to {
                SocketAddr::V6(_) => (
                    &buf[..n],
                    from.and_then(|a| SocketAddrV6::try_from(a).ok())
                        .map(|a| (*a.ip()).into()),
                ),
                SocketAddr::V4(_) => (
                    &buf[(usize::from(buf[0] & 0x0f) * 4).min(n)..n],
                    from.and_then(|a| SocketAddrV4::try_from(a).ok())
                        .map(|a| (*a.ip()).into()),
                ),
            };
            let n = seg.len();
            let from_host = from == Some(to.ip());
            if n < 20
                || !from_host
                || seg[0..2] != to.port().to_be_bytes()
                || seg[2..4] != sport.to_be_bytes()
            {
                continue;
            }
            let flags = seg[13];
            if flags & 0x12 == 0x12 {
                return SynReply::SynAck;
            }
            if flags & 0x04 != 0 {
                return SynReply::Rst;
            }
        }
        SynReply::Nothing
    })
}

/// Sends a router advertisement from inside `ns` out of `dev` to all nodes (ff02::1), from
/// the link-local address with hop limit 255 as RFC 4861 requires: router lifetime 1800 s and
/// one prefix `prefix`/64 with the on-link and autonomous flags.
pub fn send_router_advert(ns: &NetNs, dev: &str, prefix: Ipv6Addr) {
    ns.run_in(|| {
        let socket = raw_socket(ipproto::ICMPV6);
        let index = rustix::net::netdevice::name_to_index(&socket, dev)
            .unwrap_or_else(|e| panic!("fw6-testkit: no interface {dev}: {e}"));
        sockopt::set_ipv6_multicast_hops(&socket, 255).expect("set hop limit");
        let mut ra = vec![134, 0, 0, 0, 64, 0];
        ra.extend_from_slice(&1800u16.to_be_bytes()); // router lifetime
        ra.extend_from_slice(&0u32.to_be_bytes()); // reachable time
        ra.extend_from_slice(&0u32.to_be_bytes()); // retrans timer
        // Prefix information option: type 3, 4 units, /64, L|A.
        ra.extend_from_slice(&[3, 4, 64, 0xc0]);
        ra.extend_from_slice(&86_400u32.to_be_bytes()); // valid lifetime
        ra.extend_from_slice(&14_400u32.to_be_bytes()); // preferred lifetime
        ra.extend_from_slice(&0u32.to_be_bytes());
        ra.extend_from_slice(&prefix.octets());
        let all_nodes = SocketAddrV6::new(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1), 0, 0, index);
        rustix::net::sendto(&socket, &ra, SendFlags::empty(), &all_nodes)
            .unwrap_or_else(|e| panic!("fw6-testkit: cannot send a router advertisement: {e}"));
    });
}

/// Sends an ICMPv6 packet-too-big from inside `ns` to `host`, announcing `mtu` for packets
/// from `host` to `peer`. The quoted packet is an echo request, whose ICMPv6 error handler
/// updates the path MTU without needing a socket.
pub fn send_packet_too_big(ns: &NetNs, host: Ipv6Addr, peer: Ipv6Addr, mtu: u32) {
    ns.run_in(|| {
        let socket = raw_socket(ipproto::ICMPV6);
        let mut ptb = vec![2, 0, 0, 0];
        ptb.extend_from_slice(&mtu.to_be_bytes());
        ptb.extend_from_slice(&packet::ipv6(
            host,
            peer,
            ICMPV6,
            &packet::echo_request(1, 1),
        ));
        rustix::net::sendto(
            &socket,
            &ptb,
            SendFlags::empty(),
            &SocketAddrV6::new(host, 0, 0, 0),
        )
        .unwrap_or_else(|e| panic!("fw6-testkit: cannot send a packet-too-big: {e}"));
    });
}

/// Sends an ICMP destination-unreachable "fragmentation needed" from inside `ns` to `host`,
/// announcing `mtu` for the packet it quotes: an echo reply from `host` to `peer` with
/// identifier `id` and sequence 1, as the host's kernel answers what [`crate::ping`] sends
/// from this process (`id` the low 16 bits of the process id). Linux lowers the path MTU for
/// an error quoting its own echo reply (an echo request would go to a ping socket); the host's
/// conntrack finds the error `related` only if it saw that echo.
pub fn send_frag_needed(ns: &NetNs, host: Ipv4Addr, peer: Ipv4Addr, id: u16, mtu: u16) {
    ns.run_in(|| {
        let socket = raw_socket_in(AddressFamily::INET, ipproto::ICMP);
        let mut echo = vec![0, 0, 0, 0];
        echo.extend_from_slice(&id.to_be_bytes());
        echo.extend_from_slice(&1u16.to_be_bytes());
        echo.extend_from_slice(b"fw6-testkit echo");
        let sum = packet::internet_checksum(&echo);
        echo[2..4].copy_from_slice(&sum.to_be_bytes());
        let quoted = crate::packet4::ipv4(host, peer, 1, &[], None, &echo);
        let mut error = vec![3, 4, 0, 0, 0, 0];
        error.extend_from_slice(&mtu.to_be_bytes());
        error.extend_from_slice(&quoted[..28]);
        let sum = packet::internet_checksum(&error);
        error[2..4].copy_from_slice(&sum.to_be_bytes());
        rustix::net::sendto(
            &socket,
            &error,
            SendFlags::empty(),
            &SocketAddrV4::new(host, 0),
        )
        .unwrap_or_else(|e| panic!("fw6-testkit: cannot send a fragmentation-needed: {e}"));
    });
}
