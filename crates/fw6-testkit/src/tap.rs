//! A packet socket (`AF_PACKET`), the way DHCPv4 clients (ISC dhclient, systemd-networkd's
//! client before it has a lease, busybox udhcpc) receive: frames are handed to packet sockets
//! by the device layer (`__netif_receive_skb`), before IP and so before any netfilter hook, so
//! no nftables rule can keep a frame from them. The tap shows that with real packets.

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, Protocol, RecvFlags, SocketType, sockopt};

use crate::NetNs;

/// `ETH_P_IP`: the EtherType of IPv4.
const ETH_P_IP: u16 = 0x0800;

/// A packet socket receiving every IPv4 packet of a namespace, on every interface.
#[derive(Debug)]
pub struct PacketTap {
    socket: OwnedFd,
}

impl NetNs {
    /// Opens a [`PacketTap`] inside the namespace.
    pub fn packet_tap(&self) -> PacketTap {
        let socket = self.run_in(|| {
            let protocol = Protocol::from_raw(
                rustix::net::RawProtocol::new(u32::from(ETH_P_IP.to_be()))
                    .expect("a non-zero protocol"),
            );
            rustix::net::socket(AddressFamily::PACKET, SocketType::DGRAM, Some(protocol))
                .unwrap_or_else(|e| panic!("fw6-testkit: cannot open a packet socket: {e}"))
        });
        PacketTap { socket }
    }
}

impl PacketTap {
    /// Whether a UDP datagram to `port` carrying `payload` arrives within `timeout`.
    pub fn saw_udp(&self, port: u16, payload: &[u8], timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 2048];
        // Bounded by the deadline and a count; other traffic is skipped.
        for _ in 0..10_000 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            sockopt::set_socket_timeout(&self.socket, sockopt::Timeout::Recv, Some(left))
                .expect("set timeout");
            let Ok((n, _)) = rustix::net::recv(&self.socket, &mut buf[..], RecvFlags::empty())
            else {
                return false;
            };
            // SOCK_DGRAM: the IPv4 packet without its link-layer header.
            let p = &buf[..n];
            let header = usize::from(p.first().map_or(0, |b| b & 0x0f)) * 4;
            if n >= header + 8
                && p[9] == 17
                && p[header + 2..header + 4] == port.to_be_bytes()
                && p[header + 8..].starts_with(payload)
            {
                return true;
            }
        }
        false
    }
}
