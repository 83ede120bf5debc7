//! TCP and UDP headers, built once for both IP versions: they differ only in the pseudo-header
//! their checksum covers, which the caller supplies ([`crate::packet::checksum`] for IPv6,
//! [`crate::packet4::checksum`] for IPv4) as a function of the protocol and the segment.

use crate::hostile::{UDP, flags};
use crate::packet::TCP;

/// What goes into a TCP header besides the ports.
#[derive(Debug, Clone, Copy)]
pub struct Tcp {
    /// The flag bits ([`flags`]).
    pub flags: u8,
    /// The sequence number.
    pub seq: u32,
    /// Carry an MSS option (a 24-byte header), as a real SYN does.
    pub mss: bool,
}

impl Tcp {
    /// A segment with `flags`; a SYN carries an MSS option.
    pub fn with_flags(flags: u8) -> Self {
        Self {
            flags,
            seq: 0x1000_0000,
            mss: flags & flags::SYN != 0,
        }
    }
}

/// A TCP segment from `sport` to `dport` carrying `data`; `checksum(TCP, segment)` fills in the
/// checksum. An ACK acknowledges a fixed number.
pub fn tcp(
    sport: u16,
    dport: u16,
    tcp: Tcp,
    data: &[u8],
    checksum: impl FnOnce(u8, &[u8]) -> u16,
) -> Vec<u8> {
    let mut t = Vec::with_capacity(24 + data.len());
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&tcp.seq.to_be_bytes());
    let ack = if tcp.flags & flags::ACK != 0 {
        0x2000_0000u32
    } else {
        0
    };
    t.extend_from_slice(&ack.to_be_bytes());
    t.push(if tcp.mss { 6 << 4 } else { 5 << 4 }); // data offset in words
    t.push(tcp.flags);
    t.extend_from_slice(&0xffffu16.to_be_bytes()); // window
    t.extend_from_slice(&[0, 0, 0, 0]); // checksum (below), urgent pointer
    if tcp.mss {
        t.extend_from_slice(&[2, 4, 0x05, 0xa0]); // MSS 1440
    }
    t.extend_from_slice(data);
    let sum = checksum(TCP, &t);
    t[16..18].copy_from_slice(&sum.to_be_bytes());
    t
}

/// A UDP datagram from `sport` to `dport` carrying `data`; `checksum(UDP, datagram)` fills in
/// the checksum (0 is sent as 0xffff, RFC 768).
pub fn udp(
    sport: u16,
    dport: u16,
    data: &[u8],
    checksum: impl FnOnce(u8, &[u8]) -> u16,
) -> Vec<u8> {
    let len = u16::try_from(8 + data.len()).expect("a small datagram");
    let mut u = Vec::with_capacity(8 + data.len());
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&len.to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    let sum = match checksum(UDP, &u) {
        0 => 0xffff,
        s => s,
    };
    u[6..8].copy_from_slice(&sum.to_be_bytes());
    u
}
