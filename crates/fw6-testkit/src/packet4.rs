//! The IPv4 counterpart of [`crate::packet`] and [`crate::hostile`]: a header with options and
//! fragment fields, TCP and UDP checksummed under the IPv4 pseudo-header, fragments, source-route
//! options. Packets go out through an `IPPROTO_RAW` socket ([`crate::send_raw`] with an IPv4
//! address), which sends the header as it is (the kernel fills in only the total length and
//! the header checksum, and refuses a header length below 20 bytes or beyond the packet).

use std::net::Ipv4Addr;

pub use crate::hostile::UDP;
use crate::hostile::flags;
use crate::packet::internet_checksum;
use crate::segment::{self, Tcp};

/// Option type of loose source and record route.
pub const LSRR: u8 = 131;
/// Option type of strict source and record route.
pub const SSRR: u8 = 137;
/// The no-operation option, one byte, which also pads.
pub const NOP: u8 = 1;

/// Where a packet sits in its datagram: identification, byte offset (a multiple of 8) and
/// whether more fragments follow.
#[derive(Debug, Clone, Copy)]
pub struct Fragment {
    /// Identification.
    pub id: u16,
    /// Offset of this fragment's data in bytes.
    pub offset: usize,
    /// More fragments follow.
    pub more: bool,
}

/// An IPv4 packet from `src` to `dst`, TTL 64, carrying `options` (padded with NOPs to a
/// multiple of 4 bytes) and `payload` of protocol `proto`; a fragment if `fragment` says so.
pub fn ipv4(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    options: &[u8],
    fragment: Option<Fragment>,
    payload: &[u8],
) -> Vec<u8> {
    let mut options = options.to_vec();
    while !options.len().is_multiple_of(4) {
        options.push(NOP);
    }
    let header_len = 20 + options.len();
    assert!(header_len <= 60, "at most 40 bytes of options");
    let total = u16::try_from(header_len + payload.len()).expect("a small packet");
    let (id, field) = fragment.map_or((0x4646, 0x4000), |f| {
        assert!(
            f.offset.is_multiple_of(8),
            "fragment offsets are in 8-octet units"
        );
        let units = u16::try_from(f.offset / 8).expect("offset below 64 KiB");
        (f.id, units | if f.more { 0x2000 } else { 0 })
    });
    let ihl = u8::try_from(header_len / 4).expect("at most 15 words");
    let mut p = vec![0x40 | ihl, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&field.to_be_bytes());
    p.extend_from_slice(&[64, proto, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&options);
    let sum = internet_checksum(&p);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// `packet` with its header length field set to `words` (4-byte units) and the header
/// checksum redone over that many bytes: the rest of the packet is read as options.
pub fn with_ihl(mut packet: Vec<u8>, words: u8) -> Vec<u8> {
    packet[0] = 0x40 | (words & 0x0f);
    packet[10..12].copy_from_slice(&[0, 0]);
    let len = usize::from(words & 0x0f) * 4;
    let sum = internet_checksum(&packet[..len.min(packet.len())]);
    packet[10..12].copy_from_slice(&sum.to_be_bytes());
    packet
}

/// The Internet checksum of `data` under the IPv4 pseudo-header (RFC 793 §3.1, RFC 768).
pub fn checksum(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, data: &[u8]) -> u16 {
    let len = u16::try_from(data.len()).expect("a small segment");
    let mut all = Vec::with_capacity(12 + data.len());
    all.extend_from_slice(&src.octets());
    all.extend_from_slice(&dst.octets());
    all.extend_from_slice(&[0, proto]);
    all.extend_from_slice(&len.to_be_bytes());
    all.extend_from_slice(data);
    internet_checksum(&all)
}

/// A TCP segment with `flags` (a SYN also carries an MSS option) and `data`, checksummed for
/// `src` → `dst`.
pub fn tcp(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    flags: u8,
    data: &[u8],
) -> Vec<u8> {
    segment::tcp(sport, dport, Tcp::with_flags(flags), data, |proto, t| {
        checksum(src, dst, proto, t)
    })
}

/// A TCP SYN, checksummed for `src` → `dst`.
pub fn syn(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> Vec<u8> {
    tcp(src, dst, sport, dport, flags::SYN, b"")
}

/// A UDP datagram, checksummed for `src` → `dst`.
pub fn udp(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    segment::udp(sport, dport, data, |proto, u| checksum(src, dst, proto, u))
}

/// `upper` (a whole segment of protocol `proto`) in two fragments; the first carries
/// `first_len` bytes (a multiple of 8).
pub fn two_fragments(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    upper: &[u8],
    first_len: usize,
    id: u16,
) -> [Vec<u8>; 2] {
    let (a, b) = upper.split_at(first_len);
    let at = |offset, more| Some(Fragment { id, offset, more });
    [
        ipv4(src, dst, proto, &[], at(0, true), a),
        ipv4(src, dst, proto, &[], at(first_len, false), b),
    ]
}

/// Two overlapping fragments: the first carries `upper[..16]`, the second restarts at offset 8
/// with `second` (Linux drops the whole datagram on an overlap, as RFC 5722 asks of IPv6).
pub fn overlapping_fragments(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    upper: &[u8],
    second: &[u8],
    id: u16,
) -> [Vec<u8>; 2] {
    let at = |offset, more| Some(Fragment { id, offset, more });
    [
        ipv4(src, dst, proto, &[], at(0, true), &upper[..16]),
        ipv4(src, dst, proto, &[], at(8, false), second),
    ]
}

/// A source-route option (`kind` [`LSRR`] or [`SSRR`]) listing `via`, its pointer at that
/// address (4) or past it (8, a route used up). A host that accepts source routes
/// (`accept_source_route`) and owns `via` takes either packet as its own, and its replies would
/// follow the route back.
pub fn source_route(kind: u8, via: Ipv4Addr, pointer: u8) -> Vec<u8> {
    let mut o = vec![kind, 7, pointer];
    o.extend_from_slice(&via.octets());
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::TCP;

    #[test]
    fn headers_and_segments_checksum_to_zero() {
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let segment = tcp(a, b, 1, 2, flags::SYN, b"odd");
        assert_eq!(checksum(a, b, TCP, &segment), 0);
        let packet = ipv4(a, b, TCP, &source_route(LSRR, b, 4), None, &segment);
        assert_eq!(packet[0], 0x47, "20 + 8 bytes of options");
        assert_eq!(internet_checksum(&packet[..28]), 0);
        let [first, second] = two_fragments(a, b, TCP, &segment, 8, 7);
        assert_eq!(&first[6..8], &[0x20, 0], "offset 0, more");
        assert_eq!(&second[6..8], &[0, 1], "offset 1 unit, last");
    }
}
