//! Probes: one real connection attempt, datagram exchange or echo, from inside a namespace.

use std::io::ErrorKind;
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpStream, UdpSocket,
};
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketType, ipproto, sockopt};

use crate::NetNs;

/// What a TCP connect attempt ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The handshake completed: the SYN reached a listening socket.
    Connected,
    /// A reset came back: the SYN reached the host and no socket listens.
    Refused,
    /// Nothing came back in time: the SYN (or its answer) was dropped.
    TimedOut,
}

/// Connects from inside `ns` to `to`, waiting at most `timeout`. Any error other than a refusal
/// or a timeout (unreachable, no route, ...) panics: it means the topology is broken, not that
/// the firewall decided.
pub fn tcp_connect(ns: &NetNs, to: impl Into<SocketAddr>, timeout: Duration) -> Outcome {
    let to = to.into();
    ns.run_in(move || match TcpStream::connect_timeout(&to, timeout) {
        Ok(_) => Outcome::Connected,
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => Outcome::Refused,
        Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            Outcome::TimedOut
        }
        Err(e) => panic!("fw6-testkit: tcp connect to {to} failed unexpectedly: {e}"),
    })
}

/// Sends one datagram from inside `ns` to `to` and waits at most `timeout` for the same bytes
/// back. False when nothing (or an ICMPv6 error) came back.
pub fn udp_exchange(ns: &NetNs, to: impl Into<SocketAddr>, timeout: Duration) -> bool {
    let to = to.into();
    ns.run_in(move || {
        let any: IpAddr = match to {
            SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        };
        let socket = UdpSocket::bind((any, 0)).expect("bind a udp socket");
        socket.connect(to).expect("connect the udp socket");
        socket.set_read_timeout(Some(timeout)).expect("set timeout");
        let payload = format!("fw6-testkit probe to {to}");
        socket.send(payload.as_bytes()).expect("send a datagram");
        let mut buf = [0u8; 512];
        match socket.recv(&mut buf) {
            Ok(n) => &buf[..n] == payload.as_bytes(),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::ConnectionRefused
                ) =>
            {
                false
            }
            Err(e) => panic!("fw6-testkit: udp exchange with {to} failed unexpectedly: {e}"),
        }
    })
}

/// Sends one echo request (ICMPv6, or ICMP to an IPv4 address) from inside `ns` to `to` over a
/// raw socket and waits at most `timeout` for the matching echo reply (no `ping` binary
/// needed).
pub fn ping(ns: &NetNs, to: impl Into<IpAddr>, timeout: Duration) -> bool {
    let to = to.into();
    ns.run_in(move || {
        let (family, protocol, echo_request, echo_reply) = match to {
            IpAddr::V6(_) => (AddressFamily::INET6, ipproto::ICMPV6, 128, 129),
            IpAddr::V4(_) => (AddressFamily::INET, ipproto::ICMP, 8, 0),
        };
        let socket = rustix::net::socket(family, SocketType::RAW, Some(protocol))
            .expect("open a raw ICMP socket");
        let id = u16::try_from(std::process::id() & 0xffff).expect("masked to 16 bits");
        let seq: u16 = 1;
        let mut request = vec![echo_request, 0, 0, 0];
        request.extend_from_slice(&id.to_be_bytes());
        request.extend_from_slice(&seq.to_be_bytes());
        request.extend_from_slice(b"fw6-testkit echo");
        let sent = match to {
            // The kernel fills in the ICMPv6 checksum on raw ICMPv6 sockets, not ICMP's.
            IpAddr::V6(to) => rustix::net::sendto(
                &socket,
                &request,
                SendFlags::empty(),
                &SocketAddrV6::new(to, 0, 0, 0),
            ),
            IpAddr::V4(to) => {
                let sum = crate::packet::internet_checksum(&request);
                request[2..4].copy_from_slice(&sum.to_be_bytes());
                rustix::net::sendto(
                    &socket,
                    &request,
                    SendFlags::empty(),
                    &SocketAddrV4::new(to, 0),
                )
            }
        };
        sent.expect("send an echo request");
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 1500];
        // Bounded: every iteration waits at most until the deadline; stray ICMPv6 (ND, MLD)
        // is skipped.
        for _ in 0..1000 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            sockopt::set_socket_timeout(&socket, sockopt::Timeout::Recv, Some(left))
                .expect("set timeout");
            let Ok((n, _, from)) = rustix::net::recvfrom(&socket, &mut buf[..], RecvFlags::empty())
            else {
                return false;
            };
            let from: Option<IpAddr> = from.and_then(|a| match to {
                IpAddr::V6(_) => SocketAddrV6::try_from(a).ok().map(|a| (*a.ip()).into()),
                IpAddr::V4(_) => SocketAddrV4::try_from(a).ok().map(|a| (*a.ip()).into()),
            });
            // Raw ICMP (IPv4) sockets deliver the IP header too; ICMPv6 ones do not.
            let header = match to {
                IpAddr::V6(_) => 0,
                IpAddr::V4(_) => usize::from(buf[0] & 0x0f) * 4,
            };
            let reply = &buf[header.min(n)..n];
            if reply.len() >= 8
                && reply[0] == echo_reply
                && reply[4..6] == id.to_be_bytes()
                && reply[6..8] == seq.to_be_bytes()
                && from == Some(to)
            {
                return true;
            }
        }
        false
    })
}
