//! Hostile packet shapes for the reliability suite: any TCP flags, UDP, hop-by-hop and
//! destination-options headers, atomic and overlapping fragments, and a host-side counter that
//! says whether anything reached a socket. Built on [`crate::packet`].

use std::net::{Ipv6Addr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::packet::{FRAGMENT, checksum, fragment, ipv6};
use crate::segment::{self, Tcp};
use crate::{NetNs, Service};

/// Next-header value of UDP.
pub const UDP: u8 = 17;
/// Next-header value of the hop-by-hop options header.
pub const HOP_BY_HOP: u8 = 0;
/// Next-header value of the destination options header.
pub const DEST_OPTS: u8 = 60;

/// TCP flag bits.
pub mod flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// A 20-byte TCP header with `flags` and `data`, checksummed for `src` → `dst`.
pub fn tcp_segment(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    sport: u16,
    dport: u16,
    flags: u8,
    data: &[u8],
) -> Vec<u8> {
    let tcp = Tcp {
        mss: false,
        ..Tcp::with_flags(flags)
    };
    segment::tcp(sport, dport, tcp, data, |next, t| {
        checksum(src, dst, next, t)
    })
}

/// A UDP datagram, checksummed for `src` → `dst`.
pub fn udp_datagram(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    segment::udp(sport, dport, data, |next, u| checksum(src, dst, next, u))
}

/// An options header (hop-by-hop or destination options) of 8 bytes holding one PadN option,
/// followed by `payload` of type `next`.
pub fn options_header(next: u8, payload: &[u8]) -> Vec<u8> {
    // Hdr Ext Len 0 (8 bytes); PadN (type 1) of length 4 fills the 6 bytes after the first two.
    let mut h = vec![next, 0, 1, 4, 0, 0, 0, 0];
    h.extend_from_slice(payload);
    h
}

/// `count` destination options headers in a row in front of `payload` of type `next`; returns
/// the chain and the next-header value of its first header.
pub fn many_options(count: usize, next: u8, payload: &[u8]) -> (u8, Vec<u8>) {
    let mut chain = payload.to_vec();
    let mut first = next;
    for _ in 0..count {
        chain = options_header(first, &chain);
        first = DEST_OPTS;
    }
    (first, chain)
}

/// An atomic fragment (RFC 6946): a fragment header with offset 0 and no more fragments.
pub fn atomic_fragment(src: Ipv6Addr, dst: Ipv6Addr, next: u8, upper: &[u8], id: u32) -> Vec<u8> {
    ipv6(src, dst, FRAGMENT, &fragment(next, 0, false, id, upper))
}

/// Two overlapping fragments of `upper`: the first carries bytes 0..16, the second restarts at
/// offset 8 and carries `second` (RFC 5722 says the whole datagram must be dropped).
pub fn overlapping_fragments(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    upper: &[u8],
    second: &[u8],
    id: u32,
) -> [Vec<u8>; 2] {
    [
        ipv6(
            src,
            dst,
            FRAGMENT,
            &fragment(next, 0, true, id, &upper[..16]),
        ),
        ipv6(src, dst, FRAGMENT, &fragment(next, 8, false, id, second)),
    ]
}

/// A TCP listener and a UDP socket on `port` in a namespace, counting what reaches them.
#[derive(Debug)]
pub struct Counter {
    accepted: Arc<AtomicU64>,
    datagrams: Arc<AtomicU64>,
    _tcp: Service,
    _udp: Service,
}

impl Counter {
    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Datagrams received so far.
    pub fn datagrams(&self) -> u64 {
        self.datagrams.load(Ordering::SeqCst)
    }
}

impl NetNs {
    /// Listens on TCP and UDP `port` inside the namespace and counts connections and datagrams.
    pub fn counter(&self, port: u16) -> Counter {
        let (tcp, udp) = self.run_in(move || {
            (
                TcpListener::bind((Ipv6Addr::UNSPECIFIED, port))
                    .unwrap_or_else(|e| panic!("fw6-testkit: cannot listen on tcp {port}: {e}")),
                UdpSocket::bind((Ipv6Addr::UNSPECIFIED, port))
                    .unwrap_or_else(|e| panic!("fw6-testkit: cannot bind udp {port}: {e}")),
            )
        });
        tcp.set_nonblocking(true).expect("non-blocking listener");
        udp.set_read_timeout(Some(std::time::Duration::from_millis(10)))
            .expect("udp timeout");
        let accepted = Arc::new(AtomicU64::new(0));
        let datagrams = Arc::new(AtomicU64::new(0));
        let (a, d) = (Arc::clone(&accepted), Arc::clone(&datagrams));
        let tcp = Service::spawn(port, move || match tcp.accept() {
            Ok(_) => {
                a.fetch_add(1, Ordering::SeqCst);
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
        });
        let mut buf = [0u8; 2048];
        let udp = Service::spawn(port, move || {
            if udp.recv_from(&mut buf).is_ok() {
                d.fetch_add(1, Ordering::SeqCst);
            }
        });
        Counter {
            accepted,
            datagrams,
            _tcp: tcp,
            _udp: udp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::TCP;

    #[test]
    fn segments_and_datagrams_checksum_to_zero() {
        let (a, b) = ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
        let t = tcp_segment(a, b, 1, 2, flags::ACK | flags::FIN, b"x");
        assert_eq!(checksum(a, b, TCP, &t), 0);
        let u = udp_datagram(a, b, 1, 2, b"odd");
        assert_eq!(checksum(a, b, UDP, &u), 0);
    }

    #[test]
    fn option_chains_link_their_next_headers() {
        let (first, chain) = many_options(3, TCP, &[9; 4]);
        assert_eq!(first, DEST_OPTS);
        assert_eq!(chain.len(), 3 * 8 + 4);
        assert_eq!((chain[0], chain[8], chain[16]), (DEST_OPTS, DEST_OPTS, TCP));
    }
}
