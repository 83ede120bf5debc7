//! Probes: one real connection attempt, datagram exchange or echo, from inside a namespace.

use std::io::ErrorKind;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, TcpStream, UdpSocket};
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
pub fn tcp_connect(ns: &NetNs, to: SocketAddrV6, timeout: Duration) -> Outcome {
    ns.run_in(
        move || match TcpStream::connect_timeout(&SocketAddr::V6(to), timeout) {
            Ok(_) => Outcome::Connected,
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => Outcome::Refused,
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                Outcome::TimedOut
            }
            Err(e) => panic!("fw6-testkit: tcp connect to {to} failed unexpectedly: {e}"),
        },
    )
}

/// Sends one datagram from inside `ns` to `to` and waits at most `timeout` for the same bytes
/// back. False when nothing (or an ICMPv6 error) came back.
pub fn udp_exchange(ns: &NetNs, to: SocketAddrV6, timeout: Duration) -> bool {
    ns.run_in(move || {
        let socket = UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 0)).expect("bind a udp socket");
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

/// Sends one ICMPv6 echo request from inside `ns` to `to` over a raw socket and waits at most
/// `timeout` for the matching echo reply (no `ping` binary needed).
pub fn ping(ns: &NetNs, to: Ipv6Addr, timeout: Duration) -> bool {
    ns.run_in(move || {
        let socket =
            rustix::net::socket(AddressFamily::INET6, SocketType::RAW, Some(ipproto::ICMPV6))
                .expect("open a raw ICMPv6 socket");
        let id = u16::try_from(std::process::id() & 0xffff).expect("masked to 16 bits");
        let seq: u16 = 1;
        let mut request = vec![128, 0, 0, 0];
        request.extend_from_slice(&id.to_be_bytes());
        request.extend_from_slice(&seq.to_be_bytes());
        request.extend_from_slice(b"fw6-testkit echo");
        // The kernel fills in the ICMPv6 checksum on raw ICMPv6 sockets.
        rustix::net::sendto(
            &socket,
            &request,
            SendFlags::empty(),
            &SocketAddrV6::new(to, 0, 0, 0),
        )
        .expect("send an echo request");
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
            let from = from.and_then(|a| SocketAddrV6::try_from(a).ok());
            let reply = &buf[..n];
            if n >= 8
                && reply[0] == 129
                && reply[4..6] == id.to_be_bytes()
                && reply[6..8] == seq.to_be_bytes()
                && from.is_some_and(|a| *a.ip() == to)
            {
                return true;
            }
        }
        false
    })
}
