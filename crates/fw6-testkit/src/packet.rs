//! A tiny IPv6 packet builder for crafted probes (routing headers, fragments, ICMPv6 errors).
//!
//! Only what the tests send is here: the fixed header, a type 0 routing header, a fragment
//! header, a TCP SYN with a correct checksum, and an echo request. Packets go out through an
//! `IPPROTO_RAW` socket ([`crate::send_raw`]), which sends the bytes as they are.

use std::net::Ipv6Addr;

use crate::segment::{self, Tcp};

/// Next-header value of TCP.
pub const TCP: u8 = 6;
/// Next-header value of the routing header.
pub const ROUTING: u8 = 43;
/// Next-header value of the fragment header.
pub const FRAGMENT: u8 = 44;
/// Next-header value of ICMPv6.
pub const ICMPV6: u8 = 58;

/// An IPv6 packet from `src` to `dst`, hop limit 64, whose payload starts with a header of type
/// `next`.
pub fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).expect("payload fits a non-jumbo packet");
    let mut p = Vec::with_capacity(40 + payload.len());
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&len.to_be_bytes());
    p.push(next);
    p.push(64);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// A type 0 routing header (deprecated by RFC 5095) listing `via`, with segments left 0 so a
/// stack that does not drop type 0 delivers the payload locally; then `payload` of type `next`.
pub fn routing_type0(next: u8, via: Ipv6Addr, payload: &[u8]) -> Vec<u8> {
    // Hdr Ext Len counts 8-octet units after the first 8: one address is 2.
    let mut h = vec![next, 2, 0, 0, 0, 0, 0, 0];
    h.extend_from_slice(&via.octets());
    h.extend_from_slice(payload);
    h
}

/// A fragment header (offset in bytes, a multiple of 8) followed by `data`.
pub fn fragment(next: u8, offset: usize, more: bool, id: u32, data: &[u8]) -> Vec<u8> {
    assert!(
        offset.is_multiple_of(8),
        "fragment offsets are in 8-octet units"
    );
    let units = u16::try_from(offset / 8).expect("offset below 64 KiB");
    let field = (units << 3) | u16::from(more);
    let mut h = vec![next, 0];
    h.extend_from_slice(&field.to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(data);
    h
}

/// Splits `upper` (a whole upper-layer segment of type `next`) into two IPv6 fragments from
/// `src` to `dst`; the first carries `first_len` bytes (a multiple of 8).
pub fn two_fragments(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    next: u8,
    upper: &[u8],
    first_len: usize,
    id: u32,
) -> [Vec<u8>; 2] {
    let (a, b) = upper.split_at(first_len);
    [
        ipv6(src, dst, FRAGMENT, &fragment(next, 0, true, id, a)),
        ipv6(src, dst, FRAGMENT, &fragment(next, first_len, false, id, b)),
    ]
}

/// A TCP SYN from `src`:`sport` to `dst`:`dport` with an MSS option (a 24-byte header) and
/// `data` after it; the checksum covers the pseudo-header with `dst` as final destination.
pub fn tcp_syn(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    data: &[u8],
) -> Vec<u8> {
    let syn = Tcp {
        seq,
        ..Tcp::with_flags(crate::hostile::flags::SYN)
    };
    segment::tcp(sport, dport, syn, data, |next, t| {
        checksum(src, dst, next, t)
    })
}

/// An ICMPv6 echo request with a zero checksum (raw ICMPv6 sockets fill it in; inside a quoted
/// packet nobody checks it).
pub fn echo_request(id: u16, seq: u16) -> Vec<u8> {
    let mut e = vec![128, 0, 0, 0];
    e.extend_from_slice(&id.to_be_bytes());
    e.extend_from_slice(&seq.to_be_bytes());
    e
}

/// The Internet checksum of `data` under the IPv6 pseudo-header (RFC 8200 §8.1).
pub fn checksum(src: Ipv6Addr, dst: Ipv6Addr, next: u8, data: &[u8]) -> u16 {
    let len = u32::try_from(data.len()).expect("length fits 32 bits");
    let mut pseudo = Vec::with_capacity(40);
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&len.to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, next]);
    fold(pseudo.chunks(2).chain(data.chunks(2)))
}

/// The Internet checksum of `data` alone (RFC 1071): ICMP, the IPv4 header.
pub fn internet_checksum(data: &[u8]) -> u16 {
    fold(data.chunks(2))
}

/// The ones' complement of the ones' complement sum of 16-bit words (an odd last byte padded).
fn fold<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> u16 {
    // Packets are below 64 KiB: 32,768 words of at most 0xffff cannot overflow 32 bits.
    let mut sum: u32 = 0;
    for chunk in chunks {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !u16::try_from(sum).expect("folded to 16 bits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_segment_including_its_checksum_is_zero() {
        let (a, b) = ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
        let syn = tcp_syn(a, b, 40000, 80, 1, b"odd");
        assert_eq!(checksum(a, b, TCP, &syn), 0);
    }

    #[test]
    fn fragments_carry_offsets_and_the_more_flag() {
        let (a, b) = ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
        let [first, second] = two_fragments(a, b, TCP, &[7u8; 32], 24, 9);
        assert_eq!(first[6], FRAGMENT);
        assert_eq!(&first[42..44], &[0, 1], "offset 0, more fragments");
        assert_eq!(&second[42..44], &[0, 3 << 3], "offset 3 units, last");
        assert_eq!(first.len(), 40 + 8 + 24);
        assert_eq!(second.len(), 40 + 8 + 8);
    }
}
