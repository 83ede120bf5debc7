//! The headers of a logged packet: the IPv6 header and its extension-header chain, or the IPv4
//! header with its options, and the start of the transport header — all that fits in the 128
//! bytes the log rules copy.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The fixed IPv6 header.
const IPV6_HEADER: usize = 40;
/// The IPv4 header without options.
const IPV4_HEADER: usize = 20;
/// More extension headers than this is not a packet worth decoding further.
const MAX_EXTENSION_HEADERS: usize = 8;

const HOP_BY_HOP: u8 = 0;
const TCP: u8 = 6;
const UDP: u8 = 17;
const DCCP: u8 = 33;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const AUTH: u8 = 51;
const DESTINATION_OPTIONS: u8 = 60;
const SCTP: u8 = 132;
const UDPLITE: u8 = 136;

/// What the log shows of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// The upper-layer protocol after the extension headers (`meta l4proto`), or the last
    /// header reached when the copy ends inside the chain.
    pub protocol: u8,
    /// Source port (TCP, UDP, UDP-Lite, SCTP, DCCP), when the transport header was copied and
    /// this is not a later fragment.
    pub src_port: Option<u16>,
    /// Destination port, as [`Packet::src_port`].
    pub dst_port: Option<u16>,
    /// TCP control flags.
    pub tcp_flags: Option<TcpFlags>,
    /// The packet's size on the wire above the link layer: the IPv6 payload length plus the
    /// 40-byte header (a jumbogram, payload length 0, reports 40), or the IPv4 total length.
    pub size: u32,
}

/// The TCP control flags byte (FIN = 0x01 … CWR = 0x80).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// The letters, lowest bit first: FIN, SYN, RST, PSH, ACK, URG, ECE, CWR.
    const LETTERS: [char; 8] = ['F', 'S', 'R', 'P', 'A', 'U', 'E', 'C'];
}

/// The flags as letters in bit order (a SYN-ACK is `SA`), `-` for none.
impl fmt::Display for TcpFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("-");
        }
        for (bit, letter) in Self::LETTERS.iter().enumerate() {
            if self.0 & (1 << bit) != 0 {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

impl Packet {
    /// Decodes the headers at the start of `data` (the copied part of a packet, network header
    /// first). `None` unless `data` starts with a whole IPv6 or IPv4 header.
    pub fn parse(data: &[u8]) -> Option<Self> {
        match data.first()? >> 4 {
            6 => Self::parse_ipv6(data),
            4 => Self::parse_ipv4(data),
            _ => None,
        }
    }

    fn parse_ipv4(data: &[u8]) -> Option<Self> {
        let header_len = usize::from(data[0] & 0x0f) * 4;
        if header_len < IPV4_HEADER {
            return None;
        }
        let header = data.get(..IPV4_HEADER)?;
        let octets = |at: usize| -> [u8; 4] { header[at..at + 4].try_into().expect("4 bytes") };
        let mut packet = Self {
            src: Ipv4Addr::from(octets(12)).into(),
            dst: Ipv4Addr::from(octets(16)).into(),
            protocol: header[9],
            src_port: None,
            dst_port: None,
            tcp_flags: None,
            size: u32::from(u16::from_be_bytes([header[2], header[3]])),
        };
        // A later fragment's payload continues a transport header sent earlier.
        let later = u16::from_be_bytes([header[6], header[7]]) & 0x1fff != 0;
        if let Some(transport) = data.get(header_len..).filter(|_| !later) {
            packet.read_transport(transport);
        }
        Some(packet)
    }

    fn parse_ipv6(data: &[u8]) -> Option<Self> {
        let header = data.get(..IPV6_HEADER)?;
        let payload_length = u16::from_be_bytes([header[4], header[5]]);
        let octets = |at: usize| -> [u8; 16] { header[at..at + 16].try_into().expect("16 bytes") };
        let mut packet = Self {
            src: Ipv6Addr::from(octets(8)).into(),
            dst: Ipv6Addr::from(octets(24)).into(),
            protocol: header[6],
            src_port: None,
            dst_port: None,
            tcp_flags: None,
            size: u32::from(payload_length) + 40,
        };
        if let Some(transport) = skip_extension_headers(data, &mut packet.protocol) {
            packet.read_transport(transport);
        }
        Some(packet)
    }

    /// Ports and TCP flags from the transport header's copied bytes.
    fn read_transport(&mut self, transport: &[u8]) {
        if let Some(ports) = transport.get(..4)
            && matches!(self.protocol, TCP | UDP | UDPLITE | SCTP | DCCP)
        {
            self.src_port = Some(u16::from_be_bytes([ports[0], ports[1]]));
            self.dst_port = Some(u16::from_be_bytes([ports[2], ports[3]]));
        }
        if self.protocol == TCP {
            self.tcp_flags = transport.get(13).map(|b| TcpFlags(*b));
        }
    }
}

/// Walks the extension-header chain after the fixed header, updating `next` to each header's
/// successor. Returns the transport header's bytes, or `None` when there are none to read: the
/// copy ended inside the chain, the chain is implausibly long, or this is a non-first fragment
/// (whose payload continues a transport header sent earlier).
fn skip_extension_headers<'a>(data: &'a [u8], next: &mut u8) -> Option<&'a [u8]> {
    let mut offset = IPV6_HEADER;
    for _ in 0..MAX_EXTENSION_HEADERS {
        let length = match *next {
            HOP_BY_HOP | ROUTING | DESTINATION_OPTIONS => {
                (usize::from(*data.get(offset + 1)?) + 1) * 8
            }
            AUTH => (usize::from(*data.get(offset + 1)?) + 2) * 4,
            FRAGMENT => {
                let field = data.get(offset + 2..offset + 4)?;
                let later = u16::from_be_bytes([field[0], field[1]]) >> 3 != 0;
                *next = data[offset];
                if later {
                    return None;
                }
                offset += 8;
                continue;
            }
            _ => return data.get(offset..),
        };
        *next = *data.get(offset)?;
        offset += length;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv6(next: u8, payload: &[u8], declared: u16) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&declared.to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        p.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(payload);
        p
    }

    fn tcp(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
        let mut t = [sport.to_be_bytes(), dport.to_be_bytes()].concat();
        t.extend_from_slice(&[0; 8]);
        t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        t
    }

    #[test]
    fn tcp_syn_gives_addresses_ports_flags_and_size() {
        let p = Packet::parse(&ipv6(TCP, &tcp(40000, 22, 0x02), 1000)).unwrap();
        assert_eq!(p.src, "2001:db8::2".parse::<IpAddr>().unwrap());
        assert_eq!(p.dst, "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(
            (p.protocol, p.src_port, p.dst_port),
            (TCP, Some(40000), Some(22))
        );
        assert_eq!(p.tcp_flags.unwrap().to_string(), "S");
        assert_eq!(p.size, 1040);
    }

    #[test]
    fn extension_headers_are_skipped_to_the_transport() {
        // Hop-by-hop (8 bytes) → destination options (16 bytes) → UDP.
        let mut chain = vec![DESTINATION_OPTIONS, 0, 1, 4, 0, 0, 0, 0];
        chain.extend_from_slice(&[UDP, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        chain.extend_from_slice(&[0x9c, 0x40, 0, 53, 0, 8, 0, 0]);
        let p = Packet::parse(&ipv6(HOP_BY_HOP, &chain, 32)).unwrap();
        assert_eq!(
            (p.protocol, p.src_port, p.dst_port),
            (UDP, Some(40000), Some(53))
        );
        assert_eq!(p.tcp_flags, None);
    }

    #[test]
    fn a_first_fragment_has_ports_a_later_one_has_none() {
        let mut first = vec![TCP, 0, 0, 1, 0, 0, 0, 7]; // offset 0, more fragments
        first.extend(tcp(1234, 80, 0x12));
        let p = Packet::parse(&ipv6(FRAGMENT, &first, 100)).unwrap();
        assert_eq!((p.protocol, p.dst_port), (TCP, Some(80)));
        assert_eq!(p.tcp_flags.unwrap().to_string(), "SA");
        let later = [TCP, 0, 0, 0xb8, 0, 0, 0, 7, 1, 2, 3, 4]; // offset 23 × 8
        let p = Packet::parse(&ipv6(FRAGMENT, &later, 100)).unwrap();
        assert_eq!((p.protocol, p.src_port, p.dst_port), (TCP, None, None));
    }

    #[test]
    fn truncated_or_foreign_data_decodes_as_far_as_it_goes() {
        assert_eq!(Packet::parse(&[0x60; 39]), None);
        assert_eq!(Packet::parse(&[0x45; 19]), None, "a short IPv4 header");
        assert_eq!(
            Packet::parse(&[0x44; 60]),
            None,
            "an IPv4 header length below 20"
        );
        assert_eq!(Packet::parse(&[0x75; 60]), None, "neither family");
        let p = Packet::parse(&ipv6(TCP, &[0, 22], 20)).unwrap();
        assert_eq!((p.src_port, p.tcp_flags), (None, None));
        let p = Packet::parse(&ipv6(58, &[128, 0, 0, 0], 8)).unwrap();
        assert_eq!((p.protocol, p.src_port, p.size), (58, None, 48));
    }

    #[test]
    fn ipv4_gives_addresses_ports_flags_and_size_after_options() {
        // IHL 6: four bytes of options (NOPs) before the TCP header; total length 1000.
        let mut p = vec![0x46, 0, 0x03, 0xe8, 0, 1, 0x40, 0, 64, TCP, 0, 0];
        p.extend_from_slice(&[10, 66, 1, 2, 10, 66, 1, 1, 1, 1, 1, 1]);
        p.extend(tcp(40000, 22, 0x02));
        let packet = Packet::parse(&p).unwrap();
        assert_eq!(packet.src, "10.66.1.2".parse::<IpAddr>().unwrap());
        assert_eq!(packet.dst, "10.66.1.1".parse::<IpAddr>().unwrap());
        assert_eq!(
            (
                packet.protocol,
                packet.src_port,
                packet.dst_port,
                packet.size
            ),
            (TCP, Some(40000), Some(22), 1000)
        );
        assert_eq!(packet.tcp_flags.unwrap().to_string(), "S");
        // A later fragment (offset 1 unit) has no ports.
        p[6..8].copy_from_slice(&[0, 1]);
        let later = Packet::parse(&p).unwrap();
        assert_eq!((later.src_port, later.tcp_flags), (None, None));
    }

    #[test]
    fn flags_print_in_bit_order() {
        assert_eq!(TcpFlags(0x11).to_string(), "FA");
        assert_eq!(TcpFlags(0x18).to_string(), "PA");
        assert_eq!(TcpFlags(0x04).to_string(), "R");
        assert_eq!(TcpFlags(0).to_string(), "-");
    }
}
